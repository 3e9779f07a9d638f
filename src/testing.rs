//! Deterministic, populated states for snapshot tests and benchmarks. Not
//! used by the program itself.

use crate::app::event::{AppEvent, MetricsSource, MetricsUpdate};
use crate::app::state::State;
use crate::app::update;
use crate::config::{Keymap, ThemeSet};
use crate::metrics::{Unit, names};

/// 2026-11-23 14:00:00 UTC: the fixed "now" of every fixture.
pub const FIXTURE_NOW: i64 = 1_795_442_400;

/// A state with ten minutes of plausible metrics for a 4-core host,
/// drawn with `theme` and the default keymap, clock in UTC.
pub fn fixture_state(theme: &str) -> State {
    let themes = ThemeSet::load(None, false).expect("shipped themes load");
    let theme = themes.get(theme).expect("shipped theme exists");
    let keymap = Keymap::load("default", None).expect("shipped keymap loads");
    let mut state = State::new("web-1", "ops@203.0.113.10:22", themes, theme, keymap);
    state.utc = true;
    state.now = FIXTURE_NOW;
    for t in (FIXTURE_NOW - 600)..=FIXTURE_NOW {
        update::apply_event(
            &mut state,
            AppEvent::Metrics(MetricsSource::Proc, sample(t)),
        );
    }
    state
}

/// One second of synthetic readings: smooth waves with a spike, so charts
/// have shape and min/max differ.
fn sample(t: i64) -> MetricsUpdate {
    let x = (t - FIXTURE_NOW) as f64;
    let wave = |period: f64, lo: f64, hi: f64| lo + (hi - lo) * (0.5 + 0.5 * (x / period).sin());
    let spike = if (t - FIXTURE_NOW) % 97 == 0 {
        1.0
    } else {
        0.0
    };
    let gib = 1024.0 * 1024.0 * 1024.0;
    let mut readings = vec![
        (
            names::CPU_TOTAL.to_string(),
            Unit::Percent,
            wave(40.0, 8.0, 55.0) + 40.0 * spike,
        ),
        (
            names::CPU_USER.to_string(),
            Unit::Percent,
            wave(40.0, 5.0, 35.0),
        ),
        (
            names::CPU_SYSTEM.to_string(),
            Unit::Percent,
            wave(55.0, 2.0, 12.0),
        ),
        (
            names::CPU_IOWAIT.to_string(),
            Unit::Percent,
            wave(70.0, 0.0, 6.0),
        ),
        (names::CPU_STEAL.to_string(), Unit::Percent, 0.0),
        (names::MEM_TOTAL.to_string(), Unit::Bytes, 16.0 * gib),
        (
            names::MEM_USED.to_string(),
            Unit::Bytes,
            wave(300.0, 5.5 * gib, 7.0 * gib),
        ),
        (
            names::MEM_AVAILABLE.to_string(),
            Unit::Bytes,
            wave(300.0, 9.0 * gib, 10.5 * gib),
        ),
        (names::SWAP_TOTAL.to_string(), Unit::Bytes, 2.0 * gib),
        (names::SWAP_USED.to_string(), Unit::Bytes, 0.25 * gib),
        (
            names::NET_RX.to_string(),
            Unit::BytesPerSec,
            wave(25.0, 200_000.0, 2_400_000.0),
        ),
        (
            names::NET_TX.to_string(),
            Unit::BytesPerSec,
            wave(33.0, 900_000.0, 6_100_000.0),
        ),
        (
            names::DISK_READ.to_string(),
            Unit::BytesPerSec,
            wave(45.0, 0.0, 3_000_000.0),
        ),
        (
            names::DISK_WRITE.to_string(),
            Unit::BytesPerSec,
            wave(20.0, 100_000.0, 9_000_000.0),
        ),
        (names::LOAD1.to_string(), Unit::Load, wave(120.0, 0.4, 2.8)),
        (names::LOAD5.to_string(), Unit::Load, wave(300.0, 0.8, 1.9)),
        (names::LOAD15.to_string(), Unit::Load, 1.2),
    ];
    for core in 0..4 {
        readings.push((
            names::cpu_core(core),
            Unit::Percent,
            wave(20.0 + core as f64 * 7.0, 3.0, 40.0 + core as f64 * 15.0),
        ));
    }
    MetricsUpdate {
        t,
        readings,
        uptime_secs: Some(3 * 86_400 + 4 * 3600 + 12 * 60),
        hostname: Some("web-1".into()),
        cpu_count: Some(4),
    }
}
