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
use crate::app::state::{DetailExtent, State};

/// The focused pane's open detail: its title, rows at `inner_width` and
/// scroll.
fn open_detail(
    state: &State,
    inner_width: usize,
) -> Option<(&'static str, Vec<Line<'static>>, u16)> {
    match state.layout.focus {
        PaneId::Logs => state.logs.open.as_ref().map(|line| {
            (
                " log line ",
                super::logs::open_rows(state, line, inner_width),
                state.logs.detail_scroll,
            )
        }),
        PaneId::Alerts => state.alerts.open.as_ref().map(|key| {
            (
                " alert ",
                super::alerts::open_rows(state, key, inner_width),
                state.alerts.detail_scroll,
            )
        }),
        _ => None,
    }
}

/// Draws the focused pane's open detail, if it has one.
pub fn draw(frame: &mut Frame, body: Rect, state: &State) {
    let inner_width = usize::from(body.width.saturating_sub(2));
    if let Some((title, rows, scroll)) = open_detail(state, inner_width) {
        draw_rows(frame, body, state, title, rows, scroll);
    }
}

/// How the open detail measures on a `screen` this size (the same rows as
/// [`draw`] makes), for `update::measured` to clamp the scroll keys.
pub fn extent(state: &State, screen: Rect) -> Option<DetailExtent> {
    if crate::app::layout::is_too_small(screen) {
        return None;
    }
    if state.layout.focus == PaneId::Containers {
        return super::containers::detail_extent(state, screen);
    }
    let body = crate::app::layout::frame(screen).body;
    let (_, rows, _) = open_detail(state, usize::from(body.width.saturating_sub(2)))?;
    let page = body.height.saturating_sub(2);
    Some(DetailExtent {
        pane: state.layout.focus,
        last_first: u16::try_from(rows.len().saturating_sub(usize::from(page))).unwrap_or(u16::MAX),
        page,
    })
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

    /// The loop's order: draw, hand the measure back, handle a key. A log
    /// line with many fields is longer than the 80×24 view: End shows its
    /// last rows, Down past the end stores nothing (one Up moves at once).
    #[test]
    fn a_scrolled_detail_ends_at_its_last_row_80x24() {
        use ratatui::Terminal;
        use ratatui::backend::TestBackend;
        use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

        use crate::app::update;

        let mut state = crate::testing::populated_state("dark");
        update::resize(&mut state, 80, 24);
        update::apply_action(&mut state, crate::action::Action::FocusLogs);
        let fields: Vec<String> = (0..30)
            .map(|i| format!("\"field_{i:02}\":\"value {i}\""))
            .collect();
        let text = format!("{{\"msg\":\"checkout failed\",{}}}", fields.join(","));
        state.logs.open = Some(crate::logs::LogLine::from_raw(
            state.now * 1_000_000_000,
            std::sync::Arc::from("container:web"),
            None,
            text.as_bytes(),
        ));
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("backend");
        let mut frame = |state: &mut State| {
            let area = terminal
                .draw(|f| crate::ui::draw(f, state))
                .expect("draw")
                .area;
            update::measured(state, extent(state, area));
            terminal.backend().clone()
        };
        let press = |state: &mut State, code| {
            update::handle_key(state, KeyEvent::new(code, KeyModifiers::NONE));
        };
        let top = format!("{:?}", frame(&mut state));
        assert!(top.contains("rows 1–20 of"), "{top}");
        let extent = state.layout.detail_extent.expect("measured");
        assert_eq!(extent.page, 20);
        assert!(extent.last_first > 0, "{extent:?}");
        press(&mut state, KeyCode::End);
        let end = format!("{:?}", frame(&mut state));
        assert_eq!(state.logs.detail_scroll, extent.last_first);
        assert!(end.contains("field_29"), "{end}");
        assert!(!end.contains(" ↓ "), "nothing below: {end}");
        for _ in 0..5 {
            press(&mut state, KeyCode::Down);
            frame(&mut state);
        }
        press(&mut state, KeyCode::Up);
        frame(&mut state);
        assert_eq!(state.logs.detail_scroll, extent.last_first - 1);
        press(&mut state, KeyCode::End);
        let at_end = frame(&mut state);
        insta::assert_snapshot!("detail_scrolled_to_the_end_80x24", at_end);
        press(&mut state, KeyCode::Home);
        let back = format!("{:?}", frame(&mut state));
        assert!(back.contains("rows 1–20 of"), "{back}");
    }

    /// A container's log tail scrolls the same way: Home shows a full
    /// screen of the oldest lines (not one line and blank rows), PageUp
    /// stops there, and the wheel over the detail scrolls the tail, not the
    /// list hidden under it.
    #[test]
    fn a_container_detail_scrolls_to_a_full_screen_of_its_oldest_lines() {
        use ratatui::Terminal;
        use ratatui::backend::TestBackend;
        use ratatui::crossterm::event::{
            KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind,
        };

        use crate::action::Action;
        use crate::app::update;
        use crate::containers::{DockerEvent, LogEntry, LogStream};

        let mut state = crate::testing::populated_state("dark");
        update::resize(&mut state, 80, 24);
        update::apply_action(&mut state, Action::FocusContainers);
        let at = state
            .containers
            .visible("")
            .iter()
            .position(|c| c.name == "web")
            .expect("web");
        state.lists.entry(PaneId::Containers).or_default().selected = at;
        crate::app::containers::note_selection(&mut state);
        update::apply_action(&mut state, Action::Open);
        let id = state.containers.detail.as_ref().expect("open").id.clone();
        let lines = (0..60)
            .map(|i| LogEntry {
                time: Some(state.now - 60 + i),
                stream: LogStream::Stdout,
                text: format!("tail line {i:02}"),
            })
            .collect();
        update::apply_event(
            &mut state,
            crate::app::event::AppEvent::Docker(DockerEvent::Logs { id, lines }),
        );
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("backend");
        let mut frame = |state: &mut State| {
            let area = terminal
                .draw(|f| crate::ui::draw(f, state))
                .expect("draw")
                .area;
            update::measured(state, extent(state, area));
            format!("{:?}", terminal.backend())
        };
        let press = |state: &mut State, code| {
            update::handle_key(state, KeyEvent::new(code, KeyModifiers::NONE));
        };
        frame(&mut state);
        let extent = state.layout.detail_extent.expect("measured");
        assert_eq!(extent.pane, PaneId::Containers);
        let rows = usize::from(extent.page);
        assert!(rows > 2 && rows < 60, "{extent:?}");
        press(&mut state, KeyCode::Home);
        let oldest = frame(&mut state);
        let scroll = state.containers.detail.as_ref().expect("open").scroll;
        assert_eq!(scroll, 60 - rows);
        assert!(oldest.contains("tail line 00"), "{oldest}");
        let last_shown = format!("tail line {:02}", rows - 1);
        assert!(oldest.contains(&last_shown), "a full screen: {oldest}");
        press(&mut state, KeyCode::PageUp);
        assert_eq!(
            state.containers.detail.as_ref().expect("open").scroll,
            scroll
        );
        let selected = state.list(PaneId::Containers).selected;
        let screen = Rect::new(0, 0, 80, 24);
        let (_, pane) = crate::app::layout::pane_areas(screen, &state.layout)
            .into_iter()
            .find(|(p, _)| *p == PaneId::Containers)
            .expect("the containers pane is shown");
        update::handle_mouse(
            &mut state,
            MouseEvent {
                kind: MouseEventKind::ScrollDown,
                column: pane.x + pane.width / 2,
                row: pane.y + pane.height / 2,
                modifiers: KeyModifiers::NONE,
            },
        );
        assert_eq!(
            state.containers.detail.as_ref().expect("open").scroll,
            scroll - 3,
            "the wheel scrolls the tail toward the newest"
        );
        assert_eq!(state.list(PaneId::Containers).selected, selected);
    }
}
