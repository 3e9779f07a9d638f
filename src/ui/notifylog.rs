//! The `:notifylog` popup: what became of each notification — delivered,
//! retrying, failed, dropped because the queue was full, or held back by a
//! rule (quiet hours, minimum interval) — newest first.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::app::state::State;
use crate::notify::{NotifyStatus, Outcome};
use crate::text::inert;

pub fn draw(frame: &mut Frame, area: Rect, state: &State, scroll: u16) {
    let theme = &state.theme;
    let mut lines: Vec<Line> = Vec::new();
    for (channel, dropped) in &state.notify.dropped {
        lines.push(Line::styled(
            format!(" {}: {dropped} dropped (queue full)", inert(channel)),
            theme.critical,
        ));
    }
    // Two lines an entry: what happened, then what it was about, so a long
    // reason never pushes the subject onto a ragged wrapped line.
    for status in state.notify.log.iter().rev() {
        let (text, style) = describe(state, status);
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {} ", super::metrics::time_of_day(state, status.at)),
                theme.muted,
            ),
            Span::styled(format!("{:<10} ", inert(&status.channel)), theme.text),
            Span::styled(text, style),
        ]));
        lines.push(Line::styled(
            format!("{:10}{}", "", inert(&status.about)),
            theme.muted,
        ));
    }
    if lines.is_empty() {
        let text = if state.notify.enabled {
            " nothing sent so far"
        } else {
            " no notification channels: see [notify.NAME] in the README"
        };
        lines.push(Line::styled(text, theme.muted));
    }
    let popup = super::centered(area, 100, (lines.len() as u16).saturating_add(2).max(5));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.popup_border)
        .title(Span::styled(
            " Notification log (newest first) ",
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

fn describe(state: &State, status: &NotifyStatus) -> (String, Style) {
    let theme = &state.theme;
    match &status.outcome {
        Outcome::Delivered {
            attempts: 1,
            status: 0,
        } => ("delivered".into(), theme.ok),
        Outcome::Delivered {
            attempts: 1,
            status,
        } => (format!("delivered (HTTP {status})"), theme.ok),
        Outcome::Delivered { attempts, status } => (
            format!("delivered after {attempts} attempts (HTTP {status})"),
            theme.ok,
        ),
        Outcome::Retrying {
            attempt,
            error,
            retry_in_secs,
        } => (
            format!(
                "attempt {attempt} failed: {}; retry in {retry_in_secs}s",
                inert(error)
            ),
            theme.warning,
        ),
        Outcome::Failed { attempts, error } => (
            format!("FAILED after {attempts} attempts: {}", inert(error)),
            theme.critical,
        ),
        Outcome::Dropped { total } => (
            format!("dropped: queue full ({total} so far)"),
            theme.critical,
        ),
        Outcome::Suppressed { why } => (format!("not sent: {}", inert(why)), theme.muted),
    }
}

#[cfg(test)]
mod tests {
    use crate::app::event::AppEvent;
    use crate::app::state::Overlay;
    use crate::app::update;
    use crate::notify::{NotifyStatus, Outcome};
    use crate::testing::{FIXTURE_NOW, fixture_state};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn logged_state() -> crate::app::state::State {
        let mut state = fixture_state("dark");
        state.notify.enabled = true;
        let reports = [
            (
                "phone",
                300,
                Outcome::Delivered {
                    attempts: 1,
                    status: 200,
                },
                "proposal 3f9a1c",
            ),
            (
                "phone",
                240,
                Outcome::Retrying {
                    attempt: 1,
                    error: "HTTP 429 rate limited".into(),
                    retry_in_secs: 30,
                },
                "proposal_waiting 3f9a1c",
            ),
            (
                "team",
                200,
                Outcome::Failed {
                    attempts: 8,
                    error: "HTTP 500".into(),
                },
                "escalation 3f9a1c",
            ),
            (
                "phone",
                120,
                Outcome::Suppressed {
                    why: "minimum interval: one per 10m (8m left)".into(),
                },
                "alert_critical system.ram.ram",
            ),
            (
                "phone",
                60,
                Outcome::Delivered {
                    attempts: 3,
                    status: 200,
                },
                "alert_critical system.ram.ram",
            ),
            (
                "slow",
                30,
                Outcome::Dropped { total: 2 },
                "alert_cleared system.ram.ram",
            ),
        ];
        for (channel, ago, outcome, about) in reports {
            update::apply_event(
                &mut state,
                AppEvent::Notify(NotifyStatus {
                    channel: channel.into(),
                    at: FIXTURE_NOW - ago,
                    outcome,
                    about: about.into(),
                }),
            );
        }
        update::run_command(&mut state, "notifylog");
        state
    }

    fn draw(state: &mut crate::app::state::State, w: u16, h: u16) -> Terminal<TestBackend> {
        update::resize(state, w, h);
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        terminal.draw(|f| crate::ui::draw(f, state)).expect("draw");
        terminal
    }

    #[test]
    fn notifylog_80x24() {
        let mut state = logged_state();
        assert_eq!(state.overlay, Overlay::NotifyLog { scroll: 0 });
        insta::assert_snapshot!(draw(&mut state, 80, 24).backend());
    }

    #[test]
    fn notifylog_wide() {
        let mut state = logged_state();
        let screen = format!("{}", draw(&mut state, 160, 40).backend());
        assert!(
            screen.contains("FAILED after 8 attempts: HTTP 500"),
            "{screen}"
        );
        assert!(screen.contains("slow: 2 dropped (queue full)"), "{screen}");
        insta::assert_snapshot!(screen);
    }

    #[test]
    fn the_header_says_which_channel_fails_since_when() {
        let mut state = logged_state();
        update::run_command(&mut state, "metrics");
        state.overlay = Overlay::None;
        let screen = format!("{}", draw(&mut state, 160, 40).backend());
        // `team` failed at 13:56:40 and was never delivered since.
        assert!(
            screen.contains("✉ notify: team failing since 13:56"),
            "{screen}"
        );
        assert!(
            !screen.contains("phone failing"),
            "phone recovered: {screen}"
        );
        insta::assert_snapshot!(screen);
    }

    #[test]
    fn an_empty_log_says_why() {
        let mut state = fixture_state("dark");
        update::run_command(&mut state, "notifylog");
        let screen = format!("{}", draw(&mut state, 80, 24).backend());
        assert!(screen.contains("no notification channels"), "{screen}");
    }
}
