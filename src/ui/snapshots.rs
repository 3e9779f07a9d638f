//! Snapshots of the whole frame and of each block, at 80×24 and 200×60, for
//! every shipped theme. The theme changes styles, not characters, so each
//! theme's snapshot also records the styles (TestBackend's debug output).

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::action::Action;
use crate::app::state::State;
use crate::app::update;
use crate::testing::fixture_state;

const SIZES: [(u16, u16); 2] = [(80, 24), (200, 60)];
const THEMES: [&str; 3] = ["dark", "light", "high-contrast"];

pub fn render(state: &State, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|frame| super::draw(frame, state))
        .expect("draw");
    terminal
}

fn sized(mut state: State, width: u16, height: u16) -> State {
    update::resize(&mut state, width, height);
    state
}

#[test]
fn frame_for_every_theme_and_size() {
    for theme in THEMES {
        for (w, h) in SIZES {
            let state = sized(fixture_state(theme), w, h);
            let terminal = render(&state, w, h);
            insta::assert_snapshot!(format!("frame_{theme}_{w}x{h}"), terminal.backend());
            // Styles differ per theme; record them too (compactly, as a hash
            // would hide what changed).
            if (w, h) == (80, 24) {
                insta::assert_debug_snapshot!(
                    format!("frame_{theme}_{w}x{h}_styles"),
                    style_runs(&terminal)
                );
            }
        }
    }
}

/// The whole cockpit on a busy host: every pane has data.
#[test]
fn populated_frame() {
    for (w, h) in SIZES {
        let mut state = crate::testing::populated_state("dark");
        update::resize(&mut state, w, h);
        insta::assert_snapshot!(format!("populated_{w}x{h}"), render(&state, w, h).backend());
    }
}

/// The pane titles of each layout (the rows that carry them): numbered in
/// reading order, columns left to right, each top to bottom, from the
/// narrowest narrow layout to a wide one.
#[test]
fn numbered_titles_in_reading_order_per_layout() {
    for (w, h) in [(80, 24), (119, 40), (120, 30), (200, 60)] {
        let state = sized(fixture_state("dark"), w, h);
        let terminal = render(&state, w, h);
        let buffer = terminal.backend().buffer();
        let rows: Vec<String> = (0..h)
            .map(|y| (0..w).map(|x| buffer[(x, y)].symbol()).collect::<String>())
            .filter(|row| {
                crate::action::PaneId::ALL
                    .iter()
                    .any(|p| row.contains(&format!("{} {}", p.number(), p.title())))
            })
            .map(|row| row.trim_end().to_string())
            .collect();
        insta::assert_snapshot!(format!("titles_{w}x{h}"), rows.join("\n"));
    }
}

#[test]
fn metrics_pane_maximised() {
    for (w, h) in SIZES {
        let mut state = sized(fixture_state("dark"), w, h);
        update::apply_action(&mut state, Action::Maximise);
        insta::assert_snapshot!(
            format!("metrics_maximised_{w}x{h}"),
            render(&state, w, h).backend()
        );
    }
}

#[test]
fn metrics_window_one_minute() {
    let mut state = sized(fixture_state("dark"), 200, 60);
    update::apply_action(&mut state, Action::ChartWindow); // 5m -> 10m
    update::apply_action(&mut state, Action::ChartWindow); // 10m -> 1m
    assert_eq!(state.metrics.window_secs, 60);
    insta::assert_snapshot!(
        "metrics_window_1m_200x60",
        render(&state, 200, 60).backend()
    );
}

#[test]
fn help_popup() {
    for (w, h) in SIZES {
        let mut state = sized(fixture_state("dark"), w, h);
        update::apply_action(&mut state, Action::Help);
        insta::assert_snapshot!(format!("help_{w}x{h}"), render(&state, w, h).backend());
    }
}

#[test]
fn palette_with_completions() {
    let mut state = sized(fixture_state("dark"), 80, 24);
    update::apply_action(&mut state, Action::Palette);
    for c in "th".chars() {
        update::handle_key(
            &mut state,
            crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(c)),
        );
    }
    insta::assert_snapshot!("palette_80x24", render(&state, 80, 24).backend());
}

#[test]
fn too_small() {
    let state = sized(fixture_state("dark"), 60, 20);
    insta::assert_snapshot!("too_small_60x20", render(&state, 60, 20).backend());
}

#[test]
fn stale_metrics_are_marked() {
    let mut state = sized(fixture_state("dark"), 80, 24);
    update::apply_event(
        &mut state,
        crate::app::event::AppEvent::Connection(crate::transport::ConnectionState::Reconnecting {
            attempt: 2,
            since: crate::testing::FIXTURE_NOW,
            reason: "3 keepalives unanswered".into(),
        }),
    );
    let terminal = render(&state, 80, 24);
    let text = format!("{}", terminal.backend());
    assert!(text.contains("stale since 14:00:00"), "{text}");
    assert!(text.contains("reconnecting (try 2)"), "{text}");
    // Every other visible pane says so in its title too.
    // The Metrics status line, and the bottom border of each of the three
    // visible panes.
    assert_eq!(text.matches("stale since 14:00:00").count(), 4, "{text}");
}

fn connection(state: &mut State, connection: crate::transport::ConnectionState) {
    update::apply_event(state, crate::app::event::AppEvent::Connection(connection));
}

fn connected(rtt_ms: Option<u64>, unanswered: u32) -> crate::transport::ConnectionState {
    crate::transport::ConnectionState::Connected { rtt_ms, unanswered }
}

/// Runs the clock on to `now` as the loop does, second by second.
fn clock_to(state: &mut State, now: i64) {
    while state.now < now {
        let next = state.now + 1;
        update::tick(state, next);
    }
}

#[test]
fn overdue_keepalives_are_shown_instead_of_an_old_round_trip() {
    let mut state = sized(fixture_state("dark"), 80, 24);
    connection(&mut state, connected(Some(3), 0));
    let text = format!("{}", render(&state, 80, 24).backend());
    assert!(text.contains("● connected 3 ms"), "{text}");
    connection(&mut state, connected(None, 2));
    let text = format!("{}", render(&state, 80, 24).backend());
    assert!(text.contains("◌ 2 keepalives unanswered"), "{text}");
    assert!(
        !text.contains(" ms"),
        "a round trip shown while replies miss: {text}"
    );
    // Not lost yet: nothing is marked stale by the link.
    assert!(!text.contains("stale since"), "{text}");
}

#[test]
fn a_quiet_source_is_marked_stale_while_the_link_says_connected() {
    for (w, h) in SIZES {
        let mut state = sized(fixture_state("dark"), w, h);
        connection(&mut state, connected(Some(3), 0));
        // The fixture's last sample came at FIXTURE_NOW: 2 s later it is
        // still fresh, at 3 s (three missed cadences) it is stale.
        clock_to(&mut state, crate::testing::FIXTURE_NOW + 2);
        let text = format!("{}", render(&state, w, h).backend());
        assert!(!text.contains("stale"), "{text}");
        clock_to(&mut state, crate::testing::FIXTURE_NOW + 3);
        let terminal = render(&state, w, h);
        let text = format!("{}", terminal.backend());
        assert!(text.contains("● connected 3 ms"), "{text}");
        assert!(text.contains("⚠ stale: metrics"), "{text}");
        insta::assert_snapshot!(format!("quiet_metrics_{w}x{h}"), terminal.backend());
        // The Metrics status line and its bottom border, and the Alerts
        // pane (same source); not the Logs pane, which has no cadence.
        let marks = text.matches("stale since 14:00:00").count();
        assert!(marks >= 2, "{text}");
        assert!(
            !text
                .lines()
                .any(|l| l.contains("Logs") && l.contains("stale")),
            "{text}"
        );
        // The next sample clears it.
        let t = state.now;
        update::apply_event(
            &mut state,
            crate::app::event::AppEvent::Metrics(
                crate::metrics::MetricsSource::Proc,
                crate::metrics::MetricsUpdate {
                    t,
                    ..Default::default()
                },
            ),
        );
        let text = format!("{}", render(&state, w, h).backend());
        assert!(!text.contains("stale"), "{text}");
    }
}

#[test]
fn after_an_outage_the_gap_is_said_in_the_logs_and_not_drawn_over_in_the_charts() {
    use crate::testing::FIXTURE_NOW;
    for (w, h) in SIZES {
        let mut state = sized(fixture_state("dark"), w, h);
        connection(&mut state, connected(Some(3), 0));
        connection(&mut state, connected(None, 1));
        clock_to(&mut state, FIXTURE_NOW + 6);
        // Last heard at FIXTURE_NOW: every pane is stale since then.
        connection(
            &mut state,
            crate::transport::ConnectionState::Reconnecting {
                attempt: 1,
                since: FIXTURE_NOW,
                reason: "3 keepalives unanswered".into(),
            },
        );
        let text = format!("{}", render(&state, w, h).backend());
        assert!(text.contains("reconnecting (try 1)"), "{text}");
        assert!(text.contains("Logs") && text.matches("stale since 14:00:00").count() >= 4);
        clock_to(&mut state, FIXTURE_NOW + 67);
        connection(&mut state, connected(None, 0));
        // Samples again, a minute after the last one.
        for t in FIXTURE_NOW + 67..=FIXTURE_NOW + 70 {
            clock_to(&mut state, t);
            update::apply_event(
                &mut state,
                crate::app::event::AppEvent::Metrics(
                    crate::metrics::MetricsSource::Proc,
                    crate::metrics::MetricsUpdate {
                        t,
                        readings: vec![(
                            crate::metrics::names::CPU_TOTAL.to_string(),
                            crate::metrics::Unit::Percent,
                            50.0,
                        )],
                        ..Default::default()
                    },
                ),
            );
        }
        let terminal = render(&state, w, h);
        let text = format!("{}", terminal.backend());
        let marker = state.logs.buffer.iter().next_back().map(|l| l.text.clone());
        assert_eq!(
            marker.as_deref(),
            Some("link lost 14:00:00 – 14:01:07 (3 keepalives unanswered)")
        );
        assert!(text.contains("cockpit WRN link lost 14:00:0"), "{text}");
        assert!(!text.contains("stale"), "{text}");
        insta::assert_snapshot!(format!("gap_after_outage_{w}x{h}"), terminal.backend());
        let log: Vec<String> = state
            .connection_log
            .iter()
            .map(|(_, c)| format!("{c:?}"))
            .collect();
        assert!(
            log.iter().any(|c| c.contains("3 keepalives unanswered")),
            "{log:?}"
        );
    }
}

/// Style changes along each row: (row, column, fg, bg, modifiers) whenever
/// the style differs from the previous cell.
fn style_runs(terminal: &Terminal<TestBackend>) -> Vec<String> {
    let buffer = terminal.backend().buffer();
    let mut runs = Vec::new();
    for y in 0..buffer.area.height {
        let mut last = None;
        for x in 0..buffer.area.width {
            let cell = &buffer[(x, y)];
            let style = (cell.fg, cell.bg, cell.modifier);
            if last != Some(style) {
                runs.push(format!(
                    "{y:>2},{x:>3}: {:?} {:?} {:?}",
                    style.0, style.1, style.2
                ));
                last = Some(style);
            }
        }
    }
    runs
}
