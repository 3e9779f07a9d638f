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
