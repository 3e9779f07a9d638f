//! Asked when the operator quits while proposals wait: quitting cancels
//! them (recorded as cancelled by shutdown), so it names how many and what
//! each key does.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::app::state::State;

/// The question, in words shared by this popup and the "too small" screen.
pub fn question(pending: usize) -> String {
    let what = if pending == 1 {
        "1 proposal waits".to_string()
    } else {
        format!("{pending} proposals wait")
    };
    format!("{what} for a decision. Quitting cancels it (recorded as cancelled by shutdown).")
}

pub fn draw(frame: &mut Frame, body: Rect, state: &State, pending: usize) {
    let t = &state.theme;
    let area = super::centered(body, body.width.saturating_sub(8).clamp(20, 72), 7);
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.popup_border)
        .title(" Quit? ")
        .style(t.popup);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let lines = vec![
        Line::styled(format!(" {}", question(pending)), t.text),
        Line::raw(""),
        Line::from(vec![
            Span::styled(" y", t.keybar_key),
            Span::styled(" quits and cancels · ", t.muted),
            Span::styled("any other key", t.keybar_key),
            Span::styled(" stays", t.muted),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
