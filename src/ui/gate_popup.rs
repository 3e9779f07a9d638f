//! The approve and reject popups. The approve popup shows exactly what will
//! run — host, cwd, timeout, fingerprint and the full command, wrapped and
//! inert — and what key runs it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::gate_common::tier_style;
use crate::app::gate::{GatePopup, short_id};
use crate::app::state::State;
use crate::gate::Tier;
use crate::text::{inert, inert_multiline};

pub fn draw(frame: &mut Frame, body: Rect, state: &State) {
    let Some(popup) = &state.gate.popup else {
        return;
    };
    let t = &state.theme;
    let area = super::centered(
        body,
        body.width.saturating_sub(4).max(20),
        body.height.saturating_sub(2).max(8),
    );
    frame.render_widget(Clear, area);
    match popup {
        GatePopup::Approve {
            id,
            fingerprint,
            typed,
            scroll,
        } => {
            let Some(a) = state.gate.actions.get(id) else {
                return;
            };
            let confirm = a.tier == Tier::Confirm;
            let title = if confirm {
                format!(
                    " Confirm {} — type {} to run it ",
                    short_id(id),
                    inert(&state.host)
                )
            } else {
                format!(" Approve {} ", short_id(id))
            };
            let mut block = Block::default()
                .borders(Borders::ALL)
                .border_style(tier_style(state, a.tier))
                .title(Span::styled(title, tier_style(state, a.tier)))
                .style(t.popup);
            let needed = crate::app::gate::approve_scroll_needed(state, a);
            if *scroll < needed {
                // On the border, so it shows however far the text scrolled.
                block = block.title_bottom(Line::styled(
                    format!(
                        " ▼ {} more rows: scroll to the end (↓, PgDn) before deciding ",
                        needed - *scroll
                    ),
                    t.warning,
                ));
            }
            let inner = block.inner(area);
            frame.render_widget(block, area);
            let mut lines = vec![
                Line::from(vec![
                    Span::styled(" title  ", t.muted),
                    Span::styled(
                        if a.title.is_empty() {
                            "(none)".to_string()
                        } else {
                            inert(&a.title)
                        },
                        t.text.add_modifier(Modifier::BOLD),
                    ),
                ]),
                Line::from(vec![
                    Span::styled(" reason ", t.muted),
                    Span::styled(
                        if a.reason.is_empty() {
                            "(none given)".to_string()
                        } else {
                            inert(&a.reason)
                        },
                        t.text,
                    ),
                ]),
                Line::from(vec![
                    Span::styled(" This will run on ", t.muted),
                    Span::styled(inert(&a.host), t.text.add_modifier(Modifier::BOLD)),
                    Span::styled(" in ", t.muted),
                    Span::styled(
                        a.cwd
                            .as_deref()
                            .map(inert)
                            .unwrap_or_else(|| "(login default)".into()),
                        t.text,
                    ),
                    Span::styled(format!(", killed after {}s:", a.timeout_secs), t.muted),
                ]),
                Line::raw(""),
            ];
            let line_count = crate::app::gate::command_line_count(&a.command);
            if line_count > 1 {
                lines.push(Line::styled(
                    format!(" the command ({line_count} lines):"),
                    t.muted,
                ));
            }
            for line in inert_multiline(&a.command) {
                lines.push(Line::styled(
                    format!("   {line}"),
                    t.text.add_modifier(Modifier::BOLD),
                ));
            }
            lines.push(Line::raw(""));
            let provenance = super::gate_common::runbook_lines(state, a);
            if !provenance.is_empty() {
                lines.extend(provenance);
                lines.push(Line::raw(""));
            }
            // The whole word list is in the detail view; here only the
            // warning, so the decision keys stay on a small screen.
            if let Some(why) = crate::gate::policy::shell::parse(&a.command).error {
                lines.push(Line::styled(
                    format!(
                        " ⚠ the policy could not parse this command ({}): it is never auto",
                        inert(&why)
                    ),
                    t.warning,
                ));
            }
            lines.push(Line::styled(format!(" fingerprint {fingerprint}"), t.muted));
            lines.push(Line::styled(
                format!(
                    " proposed by {}, {}; tier {} (rule {})",
                    inert(&a.agent),
                    super::gate_common::confinement_short(a),
                    a.tier.name(),
                    inert(&a.rule)
                ),
                t.muted,
            ));
            lines.push(Line::raw(""));
            if confirm {
                lines.push(Line::from(vec![
                    Span::styled(" type ", t.muted),
                    Span::styled(inert(&state.host), t.keybar_key),
                    Span::styled(": ", t.muted),
                    Span::styled(format!("{}▏", inert(typed)), t.input),
                ]));
                lines.push(Line::styled(
                    format!(
                        " Enter runs it once you typed {} · Esc backs out · ↑↓ scroll",
                        inert(&state.host)
                    ),
                    t.muted,
                ));
            } else {
                lines.push(Line::from(vec![
                    Span::styled(" y", t.keybar_key),
                    Span::styled(" runs it · ", t.muted),
                    Span::styled("Esc", t.keybar_key),
                    Span::styled(" backs out · ↑↓ scroll", t.muted),
                ]));
            }
            frame.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .scroll((*scroll, 0)),
                inner,
            );
        }
        GatePopup::Reject { id, input } => {
            let area = super::centered(body, body.width.saturating_sub(8).clamp(20, 90), 7);
            frame.render_widget(Clear, area);
            let block = Block::default()
                .borders(Borders::ALL)
                .border_style(t.popup_border)
                .title(format!(" Reject {} ", short_id(id)))
                .style(t.popup);
            let inner = block.inner(area);
            frame.render_widget(block, area);
            let lines = vec![
                Line::styled(
                    " Why? The proposer receives this reason (empty: \"no reason given\").",
                    t.muted,
                ),
                Line::from(vec![
                    Span::styled(" reason: ", t.muted),
                    Span::styled(format!("{}▏", inert(input)), t.input),
                ]),
                Line::raw(""),
                Line::styled(" Enter sends · Esc backs out", t.muted),
            ];
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
        }
    }
}
