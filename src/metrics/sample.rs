//! What a metrics source sends: one second's readings, history in batches,
//! which source is live and why. Netdata and the /proc sampler send the same
//! event type, so nothing above them cares which one is running.

use super::Unit;
use super::alerts::AlertsEvent;

/// A named value a source read: series name, its unit, the value.
pub type Reading = (String, Unit, f64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsSource {
    Proc,
    Netdata,
}

impl MetricsSource {
    pub fn label(self) -> &'static str {
        match self {
            MetricsSource::Proc => "/proc",
            MetricsSource::Netdata => "netdata",
        }
    }
}

/// One second's values from a metrics source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsUpdate {
    /// Unix seconds the values belong to.
    pub t: i64,
    pub readings: Vec<Reading>,
    pub uptime_secs: Option<u64>,
    pub hostname: Option<String>,
    pub cpu_count: Option<usize>,
}

/// The events of the metrics sources (Netdata, the /proc sampler and the
/// supervisor that switches between them).
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsEvent {
    Sample(MetricsSource, MetricsUpdate),
    /// Many seconds at once, oldest first: history back-filled on connect
    /// or caught up after a gap.
    Batch(MetricsSource, Vec<MetricsUpdate>),
    /// The supervisor switched the live source (or says again why this one
    /// is live). Old points are dropped when the source changes.
    Live {
        source: MetricsSource,
        reason: String,
    },
    /// A source says what it is doing (or why it is not).
    Status {
        source: MetricsSource,
        message: String,
    },
    /// Netdata's health checks.
    Alerts(AlertsEvent),
}
