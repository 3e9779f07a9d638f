//! The Metrics pane's line charts: ratatui's `Chart` draws the block, the
//! axes and their labels, and the lines are painted over its graph area on
//! one braille canvas layer.
//!
//! Why not `Chart`'s own datasets: it paints every dataset on a canvas layer
//! of its own, and each layer is saved and copied over the whole graph area.
//! With a dataset per gapless run of every series, that was most of an idle
//! cockpit's CPU (`perf`: `Canvas::render`, `Buffer::index_of`). One layer is
//! one copy. Where two series meet in a cell their dots are merged, in the
//! later series' colour (with a layer each, the later hid the earlier's).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::canvas::{Canvas, Line as CanvasLine, Points};
use ratatui::widgets::{Axis, Block, Chart, Widget};

/// One line to draw: its points (x, y), oldest first, and its colour.
pub type Stroke<'a> = (&'a [(f64, f64)], Color);

pub struct LineChart<'a> {
    pub block: Block<'a>,
    pub axis_style: Style,
    pub x_bounds: [f64; 2],
    pub x_labels: [Span<'a>; 2],
    pub y_bounds: [f64; 2],
    pub y_labels: [Span<'a>; 2],
    pub strokes: Vec<Stroke<'a>>,
}

impl Widget for LineChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let graph = graph_area(
            self.block.inner(area),
            self.y_labels.iter().map(Span::width).max().unwrap_or(0),
            self.x_labels[0].width(),
        );
        let axes = Chart::new(Vec::new())
            .block(self.block)
            .x_axis(
                Axis::default()
                    .style(self.axis_style)
                    .bounds(self.x_bounds)
                    .labels(self.x_labels),
            )
            .y_axis(
                Axis::default()
                    .style(self.axis_style)
                    .bounds(self.y_bounds)
                    .labels(self.y_labels),
            );
        axes.render(area, buf);
        let Some(graph) = graph else { return };
        let strokes = self.strokes;
        Canvas::default()
            .marker(Marker::Braille)
            .background_color(Color::Reset)
            .x_bounds(self.x_bounds)
            .y_bounds(self.y_bounds)
            .paint(|ctx| {
                for &(points, color) in &strokes {
                    ctx.draw(&Points {
                        coords: points,
                        color,
                    });
                    for pair in points.windows(2) {
                        ctx.draw(&CanvasLine::new(
                            pair[0].0, pair[0].1, pair[1].0, pair[1].1, color,
                        ));
                    }
                }
            })
            .render(graph, buf);
    }
}

/// Where `Chart` puts its graph inside `inner` with two labels on each axis
/// (its own layout: a row for the x labels and one for the x axis at the
/// bottom, the y labels and the y axis on the left, the labels left of the
/// y axis at most a third of the width).
fn graph_area(inner: Rect, y_label_width: usize, first_x_label_width: usize) -> Option<Rect> {
    if inner.is_empty() {
        return None;
    }
    let mut y = inner.bottom() - 1;
    if y > inner.top() {
        y -= 1; // the x labels
    }
    // The first x label ends under the y axis, one column of it there.
    let left = y_label_width.max(first_x_label_width.saturating_sub(1));
    let left = u16::try_from(left).unwrap_or(u16::MAX).min(inner.width / 3);
    let mut x = inner.left() + left;
    if y > inner.top() {
        y -= 1; // the x axis
    }
    if x + 1 < inner.right() {
        x += 1; // the y axis
    }
    let width = inner.right().saturating_sub(x);
    let height = y.saturating_sub(inner.top()).saturating_add(1);
    (width > 0 && height > 0).then(|| Rect::new(x, inner.top(), width, height))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::widgets::{Borders, Dataset, GraphType};

    /// The columns and rows where braille was drawn, as a rectangle.
    fn braille_bounds(buf: &Buffer) -> Option<Rect> {
        let mut cells = Vec::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                let symbol = buf[(x, y)].symbol();
                if symbol
                    .chars()
                    .any(|c| ('\u{2801}'..='\u{28ff}').contains(&c))
                {
                    cells.push((x, y));
                }
            }
        }
        let (x0, y0) = cells
            .iter()
            .fold((u16::MAX, u16::MAX), |(a, b), &(x, y)| (a.min(x), b.min(y)));
        let (x1, y1) = cells
            .iter()
            .fold((0, 0), |(a, b), &(x, y)| (a.max(x), b.max(y)));
        (!cells.is_empty()).then(|| Rect::new(x0, y0, x1 - x0 + 1, y1 - y0 + 1))
    }

    const X_BOUNDS: [f64; 2] = [-300.0, 0.0];
    const Y_BOUNDS: [f64; 2] = [0.0, 100.0];
    /// Points at the four corners of the bounds: their cells span the graph.
    const CORNERS: [(f64, f64); 4] = [(-300.0, 0.0), (-300.0, 100.0), (0.0, 0.0), (0.0, 100.0)];

    fn labels(y_top: &str) -> ([Span<'static>; 2], [Span<'static>; 2]) {
        (
            [Span::raw("-5m"), Span::raw("now")],
            [Span::raw("0"), Span::raw(y_top.to_string())],
        )
    }

    /// ratatui's own Chart with the corners as a scatter dataset.
    fn ratatui_chart(area: Rect, y_top: &str) -> Buffer {
        let (x_labels, y_labels) = labels(y_top);
        let mut buf = Buffer::empty(area);
        Chart::new(vec![
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Scatter)
                .data(&CORNERS),
        ])
        .block(Block::default().borders(Borders::TOP))
        .x_axis(Axis::default().bounds(X_BOUNDS).labels(x_labels))
        .y_axis(Axis::default().bounds(Y_BOUNDS).labels(y_labels))
        .render(area, &mut buf);
        buf
    }

    fn ours(area: Rect, y_top: &str, strokes: Vec<Stroke<'_>>) -> Buffer {
        let (x_labels, y_labels) = labels(y_top);
        let mut buf = Buffer::empty(area);
        LineChart {
            block: Block::default().borders(Borders::TOP),
            axis_style: Style::default(),
            x_bounds: X_BOUNDS,
            x_labels,
            y_bounds: Y_BOUNDS,
            y_labels,
            strokes,
        }
        .render(area, &mut buf);
        buf
    }

    #[test]
    fn the_graph_is_where_ratatuis_chart_puts_it() {
        for (w, h) in [(100, 20), (40, 8), (12, 5), (7, 4), (3, 3), (30, 2)] {
            for y_top in ["100.0%", "48.8 Mbit/s", "1"] {
                let area = Rect::new(0, 0, w, h);
                let theirs = ratatui_chart(area, y_top);
                let mine = ours(area, y_top, vec![(&CORNERS, Color::Reset)]);
                assert_eq!(
                    braille_bounds(&mine),
                    braille_bounds(&theirs),
                    "{w}x{h} with a y label {y_top:?}"
                );
            }
        }
    }

    #[test]
    fn a_lone_line_draws_as_ratatuis_chart_draws_it() {
        let points = [(-300.0, 10.0), (-200.0, 90.0), (-100.0, 40.0), (0.0, 60.0)];
        let area = Rect::new(0, 0, 60, 14);
        let (x_labels, y_labels) = labels("100%");
        let mut theirs = Buffer::empty(area);
        Chart::new(vec![
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(Color::Green))
                .data(&points),
        ])
        .block(Block::default().borders(Borders::TOP))
        .x_axis(Axis::default().bounds(X_BOUNDS).labels(x_labels))
        .y_axis(Axis::default().bounds(Y_BOUNDS).labels(y_labels))
        .render(area, &mut theirs);
        assert_eq!(ours(area, "100%", vec![(&points, Color::Green)]), theirs);
    }

    #[test]
    fn two_lines_in_one_cell_keep_both_lines_dots() {
        // 0 and 10 of 100 over 7 rows of 4 dots: dot rows 27 and 24, the
        // same (lowest) row of cells.
        let low = [(-300.0, 0.0), (0.0, 0.0)];
        let high = [(-300.0, 10.0), (0.0, 10.0)];
        let area = Rect::new(0, 0, 40, 10);
        let dots = |strokes: Vec<Stroke<'_>>| {
            let buf = ours(area, "100%", strokes);
            let graph = braille_bounds(&buf).expect("drawn");
            let cell = buf[(graph.x + 5, graph.bottom() - 1)].clone();
            let dots = cell
                .symbol()
                .chars()
                .next()
                .map_or(0, |c| c as u32 - 0x2800);
            (dots, cell.fg)
        };
        let (alone_low, _) = dots(vec![(&low, Color::Green)]);
        let (alone_high, _) = dots(vec![(&high, Color::Red)]);
        let (both, fg) = dots(vec![(&low, Color::Green), (&high, Color::Red)]);
        assert!(alone_low != 0 && alone_high != 0 && alone_low != alone_high);
        assert_eq!(both, alone_low | alone_high, "both lines' dots in the cell");
        assert_eq!(fg, Color::Red, "the later line's colour");
    }
}
