//! Panes whose source is not available (yet, or on this host): a note that
//! says what feeds the pane.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use crate::action::PaneId;
use crate::app::state::State;

pub fn draw(frame: &mut Frame, area: Rect, state: &State, pane: PaneId) {
    let note = state
        .pane_notes
        .get(&pane)
        .map(String::as_str)
        .unwrap_or("");
    draw_note(frame, area, state, note);
}

/// A muted, wrapped one-paragraph note (empty lists, missing sources).
pub fn draw_note(frame: &mut Frame, area: Rect, state: &State, note: &str) {
    frame.render_widget(
        Paragraph::new(Line::styled(format!(" {note}"), state.theme.muted))
            .wrap(Wrap { trim: false }),
        area,
    );
}
