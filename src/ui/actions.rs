//! The Actions pane: this host's pending proposals, oldest first, tier
//! coloured, with proposer, title and expiry countdown; or the detail of
//! one (Enter).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::gate_common::{confinement_cell, countdown_short, draw_open_detail, tier_style};
use crate::action::PaneId;
use crate::app::gate::pending_rows;
use crate::app::state::State;
use crate::text::inert;

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    if area.height == 0 || draw_open_detail(frame, area, state, PaneId::Actions) {
        return;
    }
    let t = &state.theme;
    let rows = pending_rows(state);
    if rows.is_empty() {
        super::placeholder::draw(frame, area, state, PaneId::Actions);
        return;
    }
    let focused = state.layout.focus == PaneId::Actions;
    let selected = state.list(PaneId::Actions).selected;
    let height = usize::from(area.height);
    let offset = selected.saturating_sub(height.saturating_sub(1));
    let now_ms = state.now * 1000;
    let lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, a)| {
            let mut what = if a.title.is_empty() {
                inert(&a.command)
            } else {
                format!("{} — {}", inert(&a.title), inert(&a.command))
            };
            if a.repeats > 0 {
                what = format!("(×{}) {what}", a.repeats + 1);
            }
            let left = a.secs_left(now_ms).map(countdown_short).unwrap_or_default();
            let mut line = Line::from(vec![
                Span::styled(
                    format!(" {:<8}", a.tier.name().to_uppercase()),
                    tier_style(state, a.tier),
                ),
                Span::styled(format!("{left:>7} "), t.warning),
                confinement_cell(state, a),
                Span::raw(" "),
                Span::styled(format!("{:<12} ", truncate(&inert(&a.agent), 12)), t.muted),
                Span::styled(what, t.text),
            ]);
            if focused && i == selected {
                line = line.style(t.selected);
            }
            line
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

pub fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}
