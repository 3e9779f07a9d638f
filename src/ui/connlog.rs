//! The `:connlog` popup: every change of the link to the target, with its
//! time and, for failures, the reason — so an outage at 3 a.m. can be read
//! back after the header has turned green again.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::app::state::State;
use crate::text::inert;
use crate::transport::ConnectionState;

pub fn draw(frame: &mut Frame, area: Rect, state: &State, scroll: u16) {
    let theme = &state.theme;
    let mut lines: Vec<Line> = state
        .connection_log
        .iter()
        .rev()
        .map(|(t, connection)| {
            let (text, style) = describe(connection);
            Line::from(vec![
                Span::styled(
                    format!(" {} ", super::metrics::time_of_day(state, *t)),
                    theme.muted,
                ),
                Span::styled(text, style(state)),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled(
            " no change of the connection so far",
            theme.muted,
        ));
    }
    let popup = super::centered(area, 90, (lines.len() as u16).saturating_add(2).max(5));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.popup_border)
        .title(Span::styled(
            format!(" Connection log — {} (newest first) ", inert(&state.target)),
            theme.popup_border,
        ));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .style(theme.popup)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        popup,
    );
}

type StylePick = fn(&State) -> ratatui::style::Style;

fn describe(connection: &ConnectionState) -> (String, StylePick) {
    match connection {
        ConnectionState::Local => ("local (no network link)".into(), |s| s.theme.text),
        ConnectionState::Connected { unanswered, .. } if *unanswered > 0 => (
            format!(
                "no reply: {}",
                crate::transport::keepalives_unanswered(*unanswered)
            ),
            |s| s.theme.warning,
        ),
        ConnectionState::Connected {
            rtt_ms: Some(ms), ..
        } => (
            format!(
                "connected, round trip {}",
                crate::transport::round_trip_text(*ms)
            ),
            |s| s.theme.ok,
        ),
        ConnectionState::Connected { rtt_ms: None, .. } => ("connected".into(), |s| s.theme.ok),
        ConnectionState::Reconnecting {
            attempt, reason, ..
        } => (
            format!("reconnecting (try {attempt}): {}", inert(reason)),
            |s| s.theme.warning,
        ),
        ConnectionState::Down { reason, .. } => {
            (format!("down: {}", inert(reason)), |s| s.theme.critical)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::app::event::AppEvent;
    use crate::app::update;
    use crate::testing::{FIXTURE_NOW, fixture_state};
    use crate::transport::ConnectionState;
    use crate::ui::snapshots::render;

    #[test]
    fn connection_log_lists_changes_newest_first() {
        let mut state = fixture_state("dark");
        update::resize(&mut state, 80, 24);
        let events = [
            ConnectionState::Connected {
                rtt_ms: Some(2),
                unanswered: 0,
            },
            ConnectionState::Connected {
                rtt_ms: None,
                unanswered: 1,
            },
            ConnectionState::Reconnecting {
                attempt: 1,
                since: FIXTURE_NOW,
                reason: "3 keepalives unanswered".into(),
            },
            ConnectionState::Reconnecting {
                attempt: 1,
                since: FIXTURE_NOW,
                reason: "3 keepalives unanswered".into(),
            },
            ConnectionState::Down {
                reason: "host key changed\x1b[2J".into(),
                since: FIXTURE_NOW,
            },
            ConnectionState::Connected {
                rtt_ms: Some(3),
                unanswered: 0,
            },
            // A new round trip is not a change of the link.
            ConnectionState::Connected {
                rtt_ms: Some(4),
                unanswered: 0,
            },
        ];
        for (i, event) in events.into_iter().enumerate() {
            state.now = FIXTURE_NOW + i as i64;
            update::apply_event(&mut state, AppEvent::Connection(event));
        }
        assert_eq!(
            state.connection_log.len(),
            5,
            "a repeated state is logged once"
        );
        update::run_command(&mut state, "connlog");
        for (w, h) in [(80, 24), (200, 60)] {
            update::resize(&mut state, w, h);
            insta::assert_snapshot!(format!("connlog_{w}x{h}"), render(&state, w, h).backend());
        }
        let text = format!("{}", render(&state, 80, 24).backend());
        assert!(text.contains("down: host key changed␛[2J"), "{text}");
        assert!(text.contains("no reply: 1 keepalive unanswered"), "{text}");
        assert!(
            text.contains("reconnecting (try 1): 3 keepalives unanswered"),
            "{text}"
        );
        // Any key but scrolling closes it.
        update::handle_key(
            &mut state,
            crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Esc),
        );
        assert_eq!(state.overlay, crate::app::state::Overlay::None);
    }
}
