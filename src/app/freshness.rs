//! Per-source staleness, independent of the link. Every source that
//! delivers on a cadence (Netdata and the /proc sampler every second, the
//! container engine's stats every second for Docker and every 5 s for
//! podman) is expected again within that cadence; after
//! [`MISSED_CADENCES`] without data its panes say "stale since HH:MM:SS",
//! whatever the link claims — a link can look up while a source (or a
//! frozen host behind it) has gone quiet. While the link is lost every
//! pane is stale since the target was last heard from, and when it is back
//! the gap is said in the Logs pane.

use std::collections::BTreeMap;

use crate::action::PaneId;
use crate::app::state::State;
use crate::transport::ConnectionState;

/// Cadences that may pass without data before a source is stale.
pub const MISSED_CADENCES: i64 = 3;

/// A source whose silence is noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// Netdata or the /proc sampler (both one sample a second); the
    /// Alerts pane reads the same source.
    Metrics,
    /// The engine's stats stream of running containers.
    ContainerStats,
}

impl Source {
    pub const ALL: [Source; 2] = [Source::Metrics, Source::ContainerStats];

    pub fn label(self) -> &'static str {
        match self {
            Source::Metrics => "metrics",
            Source::ContainerStats => "containers",
        }
    }

    /// The source a pane shows, if it has a cadence.
    pub fn of_pane(pane: PaneId) -> Option<Source> {
        match pane {
            PaneId::Metrics | PaneId::Alerts => Some(Source::Metrics),
            PaneId::Containers => Some(Source::ContainerStats),
            _ => None,
        }
    }
}

/// The second a source last delivered (the cockpit's clock, unix seconds)
/// and how often it should.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heard {
    pub at: i64,
    pub cadence_secs: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Freshness {
    heard: BTreeMap<Source, Heard>,
}

impl Freshness {
    /// `source` delivered at `now`; it should again within `cadence_secs`.
    pub fn heard(&mut self, source: Source, now: i64, cadence_secs: i64) {
        self.heard.insert(
            source,
            Heard {
                at: now,
                cadence_secs: cadence_secs.max(1),
            },
        );
    }

    /// Nothing is expected from `source` any more (no running container,
    /// the engine gone): its silence is not staleness.
    pub fn forget(&mut self, source: Source) {
        self.heard.remove(&source);
    }

    /// When `source`'s data went stale: its last delivery, once
    /// [`MISSED_CADENCES`] passed without another.
    pub fn stale_since(&self, source: Source, now: i64) -> Option<i64> {
        let heard = self.heard.get(&source)?;
        (now - heard.at >= MISSED_CADENCES * heard.cadence_secs).then_some(heard.at)
    }
}

/// The container engine's stats cadence: podman sends every 5 s, Docker
/// about every second.
pub fn stats_cadence_secs(engine: &str) -> i64 {
    if engine.to_ascii_lowercase().contains("podman") {
        5
    } else {
        1
    }
}

/// When `pane`'s data went stale, if it did: since the link was lost, or
/// since its source went quiet, whichever came first.
pub fn pane_stale_since(state: &State, pane: PaneId) -> Option<i64> {
    let link = state.metrics.stale_since;
    let source = Source::of_pane(pane).and_then(|s| state.freshness.stale_since(s, state.now));
    match (link, source) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The sources that went quiet on their own (the header lists them; a lost
/// link is shown by the link state itself).
pub fn quiet_sources(state: &State) -> Vec<Source> {
    Source::ALL
        .into_iter()
        .filter(|s| state.freshness.stale_since(*s, state.now).is_some())
        .collect()
}

/// Netdata and the /proc sampler both send a sample a second.
pub const METRICS_CADENCE_SECS: i64 = 1;

/// What a container event means for the stats' freshness.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StatsTouch {
    /// A stats sample of a container in the list (checked after applying).
    Sample,
    /// The list changed: maybe nothing runs any more.
    List,
    Other,
}

impl StatsTouch {
    pub fn of(event: &crate::containers::DockerEvent) -> Self {
        use crate::containers::DockerEvent;
        match event {
            DockerEvent::Stats { .. } => StatsTouch::Sample,
            DockerEvent::Snapshot(_) | DockerEvent::Upsert(_) | DockerEvent::Removed { .. } => {
                StatsTouch::List
            }
            _ => StatsTouch::Other,
        }
    }
}

/// Keeps the container stats' freshness: heard on every sample; nothing
/// expected while no container runs or the engine is not live.
pub fn note_container_stats(state: &mut State, touched: StatsTouch) {
    use crate::containers::EngineStatus;
    let c = &state.containers;
    let EngineStatus::Live { engine, .. } = &c.engine else {
        state.freshness.forget(Source::ContainerStats);
        return;
    };
    let running = c.containers.values().any(|x| x.is_running());
    match touched {
        StatsTouch::Sample if running => {
            let cadence = stats_cadence_secs(engine);
            state
                .freshness
                .heard(Source::ContainerStats, state.now, cadence);
        }
        StatsTouch::List if !running => state.freshness.forget(Source::ContainerStats),
        _ => {}
    }
}

/// The link was lost (every pane stale since the target was last heard
/// from) or is back (the gap is said in the Logs pane).
pub fn link_changed(state: &mut State, connection: &ConnectionState) {
    match connection {
        ConnectionState::Reconnecting { since, reason, .. }
        | ConnectionState::Down { since, reason }
            if state.metrics.stale_since.is_none() =>
        {
            state.metrics.stale_since = Some((*since).min(state.now));
            state.link_lost_reason = Some(reason.clone());
        }
        up if up.is_up() => {
            if let Some(lost) = state.metrics.stale_since.take() {
                let reason = state.link_lost_reason.take().unwrap_or_default();
                mark_gap_in_logs(state, lost, &reason);
            }
        }
        // Keepalives overdue: not lost yet, not healthy either.
        _ => {}
    }
}

/// After an outage the Logs pane says so, in place: lines read after the
/// link came back may be older (a catching-up source), but nothing from
/// the gap itself was seen.
fn mark_gap_in_logs(state: &mut State, lost: i64, reason: &str) {
    let hms = |t: i64| clock_text(state.utc, t);
    let mut text = format!("link lost {} – {}", hms(lost), hms(state.now));
    if !reason.is_empty() {
        text.push_str(&format!(" ({})", crate::text::inert(reason)));
    }
    let line = crate::logs::LogLine {
        t: state.now.saturating_mul(1_000_000_000),
        source: std::sync::Arc::from(GAP_SOURCE),
        level: Some(crate::logs::Level::Warn),
        text,
    };
    crate::app::logs::apply_event(&mut state.logs, crate::logs::LogEvent::Lines(vec![line]));
}

/// The source name of the cockpit's own lines in the Logs pane.
pub const GAP_SOURCE: &str = "cockpit";

/// HH:MM:SS of unix second `t`, in UTC or local time as the screen shows.
fn clock_text(utc: bool, t: i64) -> String {
    use chrono::{Local, TimeZone, Utc};
    let fmt = "%H:%M:%S";
    if utc {
        Utc.timestamp_opt(t, 0)
            .single()
            .map(|x| x.format(fmt).to_string())
    } else {
        Local
            .timestamp_opt(t, 0)
            .single()
            .map(|x| x.format(fmt).to_string())
    }
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 14:00:00 UTC.
    const NOW: i64 = 1_795_442_400;

    /// A state with nothing received yet, clock in UTC at [`NOW`].
    fn plain_state() -> State {
        let themes = crate::config::ThemeSet::load(None, false).expect("themes");
        let theme = themes.get("dark").expect("dark");
        let keymap = crate::config::Keymap::load("default", None).expect("keymap");
        let mut state = State::new("web", "web", themes, theme, keymap);
        state.utc = true;
        state.now = NOW;
        state
    }

    #[test]
    fn a_source_is_stale_after_three_cadences_since_its_last_data() {
        let mut f = Freshness::default();
        f.heard(Source::Metrics, 100, 1);
        assert_eq!(f.stale_since(Source::Metrics, 102), None);
        assert_eq!(f.stale_since(Source::Metrics, 103), Some(100));
        f.heard(Source::ContainerStats, 100, 5);
        assert_eq!(f.stale_since(Source::ContainerStats, 114), None);
        assert_eq!(f.stale_since(Source::ContainerStats, 115), Some(100));
    }

    #[test]
    fn new_data_clears_it_and_a_forgotten_source_is_never_stale() {
        let mut f = Freshness::default();
        f.heard(Source::Metrics, 100, 1);
        f.heard(Source::Metrics, 110, 1);
        assert_eq!(f.stale_since(Source::Metrics, 111), None);
        f.forget(Source::Metrics);
        assert_eq!(f.stale_since(Source::Metrics, 1000), None);
        assert_eq!(f.stale_since(Source::ContainerStats, 1000), None);
    }

    #[test]
    fn container_stats_are_expected_only_while_a_container_runs() {
        use crate::app::event::AppEvent;
        use crate::app::update;
        use crate::containers::{Container, DockerEvent, EngineStatus};
        let mut state = plain_state();
        let now = state.now;
        let docker = |state: &mut State, event| update::apply_event(state, AppEvent::Docker(event));
        docker(
            &mut state,
            DockerEvent::Status(EngineStatus::Live {
                engine: "Podman Engine 4.3.1".into(),
                api_version: "1.41".into(),
            }),
        );
        let web = |state: &str| Container {
            id: "c1".into(),
            name: "web".into(),
            state: state.into(),
            ..Default::default()
        };
        docker(&mut state, DockerEvent::Snapshot(vec![web("running")]));
        docker(
            &mut state,
            DockerEvent::Stats {
                id: "c1".into(),
                stats: Default::default(),
            },
        );
        // podman: every 5 s, so stale after 15 s without a sample.
        state.now = now + 14;
        assert_eq!(pane_stale_since(&state, PaneId::Containers), None);
        state.now = now + 15;
        assert_eq!(pane_stale_since(&state, PaneId::Containers), Some(now));
        assert!(quiet_sources(&state).contains(&Source::ContainerStats));
        // Stopped: no stats are due, so their absence is not staleness.
        let out = docker(&mut state, DockerEvent::Upsert(web("exited")));
        assert!(out.dirty);
        assert_eq!(pane_stale_since(&state, PaneId::Containers), None);
    }

    #[test]
    fn a_lost_link_makes_every_pane_stale_since_the_host_was_last_heard_from() {
        let mut state = plain_state();
        let heard = state.now - 5;
        link_changed(
            &mut state,
            &ConnectionState::Connected {
                rtt_ms: None,
                unanswered: 2,
            },
        );
        assert_eq!(pane_stale_since(&state, PaneId::Logs), None);
        link_changed(
            &mut state,
            &ConnectionState::Reconnecting {
                attempt: 1,
                since: heard,
                reason: "3 keepalives unanswered".into(),
            },
        );
        for pane in PaneId::ALL {
            assert_eq!(pane_stale_since(&state, pane), Some(heard), "{pane:?}");
        }
        // Later attempts do not move the start of the outage.
        link_changed(
            &mut state,
            &ConnectionState::Reconnecting {
                attempt: 2,
                since: heard + 3,
                reason: "3 keepalives unanswered".into(),
            },
        );
        assert_eq!(pane_stale_since(&state, PaneId::Logs), Some(heard));
        let lines_before = state.logs.buffer.len();
        link_changed(
            &mut state,
            &ConnectionState::Connected {
                rtt_ms: None,
                unanswered: 0,
            },
        );
        assert_eq!(pane_stale_since(&state, PaneId::Logs), None);
        assert_eq!(state.logs.buffer.len(), lines_before + 1);
        let marker = state.logs.buffer.iter().next_back().expect("marker");
        assert_eq!(&*marker.source, GAP_SOURCE);
        assert_eq!(
            marker.text,
            "link lost 13:59:55 – 14:00:00 (3 keepalives unanswered)"
        );
    }

    #[test]
    fn podman_stats_come_every_five_seconds() {
        assert_eq!(stats_cadence_secs("Podman Engine 4.3.1"), 5);
        assert_eq!(stats_cadence_secs("Docker Engine 27.1.0"), 1);
    }
}
