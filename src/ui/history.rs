//! The History pane: every recorded action (all hosts), newest first, with
//! state, host, proposer, times, duration, exit code and the outcome's
//! mark (see `ui::outcome`); `/` filters
//! (`state:failed host:web agent:claude words…`); Enter opens the detail
//! with the event timeline and output; `e` exports what the filter shows
//! (the whole chain when there is no filter).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::actions::truncate;
use super::gate_common::{
    confinement_cell, date_time_of, draw_open_detail, duration_text, exit_text, state_style,
    tier_style,
};
use crate::action::PaneId;
use crate::app::gate::history_rows;
use crate::app::state::State;
use crate::gate::ActionView;
use crate::text::inert;

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    if area.height == 0 || draw_open_detail(frame, area, state, PaneId::History) {
        return;
    }
    let t = &state.theme;
    let rows = history_rows(state);
    if rows.is_empty() {
        let note = if state.list(PaneId::History).filter.is_empty() {
            state
                .pane_notes
                .get(&PaneId::History)
                .cloned()
                .unwrap_or_default()
        } else {
            "No action matches the filter.".into()
        };
        super::placeholder::draw_note(frame, area, state, &note);
        return;
    }
    let wide = area.width >= 110;
    // Room for the confinement column too (the detail always says it).
    let with_confinement = area.width >= 140;
    let header = if wide {
        format!(
            " {:<19} {:<10} {:<13} {:<7} {:<10} {:<12} {}{:>7} {:>5}  OUT COMMAND",
            "PROPOSED",
            "HOST",
            "STATE",
            "TIER",
            "DECIDED",
            "PROPOSER",
            if with_confinement { "CONF   " } else { "" },
            "TOOK",
            "EXIT"
        )
    } else {
        format!(
            " {:<8} {:<13} {:<7} {:<8} {:<6} {:>4}   COMMAND",
            "TIME", "STATE", "TIER", "DECIDED", "HOST", "EXIT"
        )
    };
    let mut lines = Vec::new();
    if let Some(problem) = &state.gate.integrity {
        lines.push(Line::styled(
            format!(" ⚠ {} — run `opscockpit audit verify`", inert(problem)),
            t.critical,
        ));
    }
    lines.push(Line::styled(header, t.muted));
    let focused = state.layout.focus == PaneId::History;
    let selected = state.list(PaneId::History).selected;
    let height = usize::from(area.height).saturating_sub(lines.len());
    let offset = selected.saturating_sub(height.saturating_sub(1));
    for (i, a) in rows.iter().enumerate().skip(offset).take(height) {
        let what = if a.title.is_empty() {
            inert(&a.command)
        } else {
            format!("{} — {}", inert(&a.title), inert(&a.command))
        };
        // Never shown as if the chain vouched for it.
        let (state_text, state_look, what) = match a.tampered.as_deref() {
            Some(p) if crate::gate::replay::is_tampering(p) => {
                ("TAMPERED", t.critical, format!("⚠ {what}"))
            }
            Some(_) => ("unverified", t.warning, what),
            None => (a.state.name(), state_style(state, a.state), what),
        };
        let spans = if wide {
            vec![
                Span::styled(
                    format!(" {:<19} ", date_time_of(state, a.created_at)),
                    t.muted,
                ),
                Span::styled(format!("{:<10} ", truncate(&inert(&a.host), 10)), t.text),
                Span::styled(format!("{state_text:<13} "), state_look),
                Span::styled(format!("{:<7} ", a.tier.name()), tier_style(state, a.tier)),
                Span::styled(format!("{:<10} ", truncate(&decider(a), 10)), t.text),
                Span::styled(format!("{:<12} ", truncate(&inert(&a.agent), 12)), t.muted),
                if with_confinement {
                    confinement_cell(state, a)
                } else {
                    Span::raw("")
                },
                Span::raw(if with_confinement { " " } else { "" }),
                Span::styled(format!("{:>7} ", duration_text(a.duration_ms())), t.text),
                Span::styled(
                    format!("{:>5}  ", exit_text(a)),
                    state_style(state, a.state),
                ),
                super::outcome::mark(state, a, 4),
                Span::styled(what, t.text),
            ]
        } else {
            let time = date_time_of(state, a.created_at);
            vec![
                Span::styled(format!(" {:<8} ", time.get(11..).unwrap_or("")), t.muted),
                Span::styled(format!("{state_text:<13} "), state_look),
                Span::styled(format!("{:<7} ", a.tier.name()), tier_style(state, a.tier)),
                Span::styled(format!("{:<8} ", truncate(&decider(a), 8)), t.text),
                Span::styled(format!("{:<6} ", truncate(&inert(&a.host), 6)), t.text),
                // Narrow: the mark takes the gap before the command.
                Span::styled(format!("{:>4} ", exit_text(a)), state_style(state, a.state)),
                super::outcome::mark(state, a, 2),
                Span::styled(what, t.text),
            ]
        };
        let mut spans = spans;
        if state.runbooks.draft_marks.contains(&a.id)
            && let Some(first) = spans.first_mut()
        {
            // The leading blank becomes the mark: columns stay aligned.
            let text = first.content.to_string();
            first.content = format!("●{}", text.get(1..).unwrap_or("")).into();
        }
        let mut line = Line::from(spans);
        if focused && i == selected {
            line = line.style(t.selected);
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// Who decided, so an auto-run read never looks like a human approval:
/// `policy`, `operator` (or the operator's name), `expiry`, `proposer`,
/// `shutdown`, `—` while nobody has.
pub fn decider(a: &ActionView) -> String {
    use crate::gate::ActionState;
    match a.decided_by.as_deref() {
        None if a.state == ActionState::Expired => "expiry".into(),
        None => "—".into(),
        Some("cockpit") if a.state == ActionState::Cancelled => match &a.decision_reason {
            Some(r) if r.starts_with("cancelled by shutdown") => "shutdown".into(),
            _ => "cockpit".into(),
        },
        Some(by) if by.starts_with("operator") => "operator".into(),
        Some(by) => inert(by),
    }
}
