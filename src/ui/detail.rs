//! The detail opened with Enter in Alerts and Logs: a popup over the whole
//! body (a side pane at 80×24 is 9 rows: too small for a whole alert or a
//! long line), whose rows scroll. Rows are cut to the width here, by
//! character, so their count is exact: the scroll stops at the last row and
//! the bottom border says where the view is.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use unicode_width::UnicodeWidthStr;

use crate::action::PaneId;
use crate::app::state::State;

/// Draws the focused pane's open detail, if it has one.
pub fn draw(frame: &mut Frame, body: Rect, state: &State) {
    let inner_width = usize::from(body.width.saturating_sub(2));
    let (title, rows, scroll) = match state.layout.focus {
        PaneId::Logs => match &state.logs.open {
            Some(line) => (
                " log line ",
                super::logs::open_rows(state, line, inner_width),
                state.logs.detail_scroll,
            ),
            None => return,
        },
        PaneId::Alerts => match &state.alerts.open {
            Some(key) => (
                " alert ",
                super::alerts::open_rows(state, key, inner_width),
                state.alerts.detail_scroll,
            ),
            None => return,
        },
        _ => return,
    };
    draw_rows(frame, body, state, title, rows, scroll);
}

fn draw_rows(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    title: &'static str,
    rows: Vec<Line<'static>>,
    scroll: u16,
) {
    let theme = &state.theme;
    let height = usize::from(area.height.saturating_sub(2));
    let last_first = rows.len().saturating_sub(height);
    let first = usize::from(scroll).min(last_first);
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.popup_border)
        .title(Span::styled(title, theme.title_focused))
        .style(theme.popup);
    if rows.len() > height {
        let shown_to = (first + height).min(rows.len());
        let more = if shown_to < rows.len() { " ↓" } else { "" };
        block = block.title_bottom(Span::styled(
            format!(" rows {}–{shown_to} of {}{more} ", first + 1, rows.len()),
            theme.muted,
        ));
    }
    let shown: Vec<Line<'static>> = rows.into_iter().skip(first).take(height).collect();
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(shown).block(block), area);
}

/// Styled text cut into rows of `width` columns.
pub fn wrap(segments: &[(String, Style)], width: usize) -> Vec<Line<'static>> {
    super::logs::wrap_segments(segments, width, usize::MAX)
}

/// A labelled field: the label in its column on the first row, the value
/// wrapped in the rest of the width, continuation rows indented under it. A
/// label wider than its column gets a row of its own.
pub fn field_rows(
    label: &str,
    label_width: usize,
    label_style: Style,
    value: &[(String, Style)],
    width: usize,
) -> Vec<Line<'static>> {
    let label_width = label_width.min(width / 2);
    let value_width = width.saturating_sub(label_width + 1).max(1);
    let mut rows = Vec::new();
    let mut first_label = Some(format!("{label:<label_width$} "));
    if label.width() > label_width {
        rows.push(Line::from(Span::styled(label.to_string(), label_style)));
        first_label = None;
    }
    for (i, row) in wrap(value, value_width).into_iter().enumerate() {
        let lead = match (i, &first_label) {
            (0, Some(label)) => Span::styled(label.clone(), label_style),
            _ => Span::raw(" ".repeat(label_width + 1)),
        };
        let mut spans = vec![lead];
        spans.extend(row.spans);
        rows.push(Line::from(spans));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(rows: &[Line]) -> Vec<String> {
        rows.iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn field_values_wrap_under_their_column_and_long_labels_get_a_row() {
        let value = [("abcdefghij".to_string(), Style::default())];
        let rows = field_rows("key", 4, Style::default(), &value, 10);
        assert_eq!(text(&rows), ["key  abcde", "     fghij"]);
        let rows = field_rows("a.very.long.key", 4, Style::default(), &value, 20);
        assert_eq!(text(&rows), ["a.very.long.key", "     abcdefghij"]);
    }
}
