//! The events the loop applies: each source sends its own event type
//! (`MetricsEvent`, `DockerEvent`, `LogEvent`, `GateEvent`, `CostEvent`, the
//! transport's `ConnectionState`), and the `From` impls here wrap them. This is
//! the only way data enters the state.

use crate::containers::DockerEvent;
use crate::cost::CostEvent;
use crate::gate::GateEvent;
use crate::logs::LogEvent;
use crate::metrics::{AlertsEvent, MetricsEvent, MetricsSource, MetricsUpdate};
use crate::notify::NotifyStatus;
use crate::transport::ConnectionState;

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
    Alerts(AlertsEvent),
    /// A source says what it is doing (or why it is not).
    MetricsStatus {
        source: MetricsSource,
        message: String,
    },
    Connection(ConnectionState),
    /// The action gate: proposals, decisions, execution, history.
    Gate(GateEvent),
    /// From the container source.
    Docker(DockerEvent),
    Cost(CostEvent),
    /// Lines and status from the log sources (journald, Better Stack, containers).
    Log(LogEvent),
    /// What became of a notification (delivered, retrying, dropped, …).
    Notify(NotifyStatus),
    /// The runbook repo read again (at start, on a change, on request).
    Runbooks(crate::runbooks::watch::RunbooksEvent),
}

impl From<crate::runbooks::watch::RunbooksEvent> for AppEvent {
    fn from(event: crate::runbooks::watch::RunbooksEvent) -> Self {
        AppEvent::Runbooks(event)
    }
}

impl From<MetricsEvent> for AppEvent {
    fn from(event: MetricsEvent) -> Self {
        match event {
            MetricsEvent::Sample(source, update) => AppEvent::Metrics(source, update),
            MetricsEvent::Batch(source, updates) => AppEvent::MetricsBatch(source, updates),
            MetricsEvent::Live { source, reason } => AppEvent::MetricsLive { source, reason },
            MetricsEvent::Status { source, message } => AppEvent::MetricsStatus { source, message },
            MetricsEvent::Alerts(alerts) => AppEvent::Alerts(alerts),
        }
    }
}

impl From<ConnectionState> for AppEvent {
    fn from(state: ConnectionState) -> Self {
        AppEvent::Connection(state)
    }
}

impl From<GateEvent> for AppEvent {
    fn from(event: GateEvent) -> Self {
        AppEvent::Gate(event)
    }
}

impl From<DockerEvent> for AppEvent {
    fn from(event: DockerEvent) -> Self {
        AppEvent::Docker(event)
    }
}

impl From<CostEvent> for AppEvent {
    fn from(event: CostEvent) -> Self {
        AppEvent::Cost(event)
    }
}

impl From<LogEvent> for AppEvent {
    fn from(event: LogEvent) -> Self {
        AppEvent::Log(event)
    }
}

impl From<NotifyStatus> for AppEvent {
    fn from(status: NotifyStatus) -> Self {
        AppEvent::Notify(status)
    }
}
