//! Per-source staleness, independent of the link. Every source that
//! delivers on a cadence (Netdata and the /proc sampler every second, the
//! container engine's stats every second for Docker and every 5 s for
//! podman) is expected again within that cadence; after
//! [`MISSED_CADENCES`] without data its panes say "stale since HH:MM:SS",
//! whatever the link claims — a link can look up while a source (or a
//! frozen host behind it) has gone quiet. While the link is lost every
//! pane is stale since the target was last heard from.

use std::collections::BTreeMap;

use crate::action::PaneId;
use crate::app::state::State;

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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn podman_stats_come_every_five_seconds() {
        assert_eq!(stats_cadence_secs("Podman Engine 4.3.1"), 5);
        assert_eq!(stats_cadence_secs("Docker Engine 27.1.0"), 1);
    }
}
