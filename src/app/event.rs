//! Typed events that source tasks send to the event loop. This is the only
//! way data enters the state.

use crate::sources::docker::DockerEvent;
use crate::sources::procfs::Reading;

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

/// State of the link to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// No network link: `opscockpit local`.
    Local,
    Connected {
        rtt_ms: Option<u64>,
    },
    Reconnecting {
        attempt: u32,
        since: i64,
    },
    Down {
        reason: String,
        since: i64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum AppEvent {
    Metrics(MetricsSource, MetricsUpdate),
    /// Many seconds at once, oldest first: history back-filled on connect
    /// or caught up after a gap.
    MetricsBatch(MetricsSource, Vec<MetricsUpdate>),
    /// The metrics supervisor switched the live source (or says again why
    /// this one is live). Old points are dropped when the source changes.
    MetricsLive {
        source: MetricsSource,
        reason: String,
    },
    Alerts(crate::app::alerts::AlertsEvent),
    /// A source says what it is doing (or why it is not).
    MetricsStatus {
        source: MetricsSource,
        message: String,
    },
    Connection(ConnectionState),
    /// The action gate: proposals, decisions, execution, history.
    Gate(crate::gate::GateEvent),
    /// From the container source.
    Docker(DockerEvent),
    Cost(crate::cost::CostEvent),
    /// Lines and status from the log sources (journald, Better Stack, containers).
    Log(crate::logs::LogEvent),
}
