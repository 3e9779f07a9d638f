//! Alerts from the host's health checks (Netdata's `/api/v1/alarms`) as the
//! source sends them. The Alerts pane's state lives in `app::alerts`.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertLevel {
    Warning,
    Critical,
}

/// One raised alert. Texts are as the agent sent them (HTML removed); the
/// pane passes them through `text::inert`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Stable key (`CHART.NAME`): tells new alerts from known ones.
    pub key: String,
    pub name: String,
    pub chart: String,
    pub level: AlertLevel,
    /// Value as the agent formats it (`92.1%`), or empty.
    pub value: String,
    pub info: String,
    /// When the alert entered its current status (unix seconds).
    pub since: i64,
    pub silenced: bool,
}

/// One change of an alert's status, from Netdata's alarm log: what the
/// active list misses when an alert is raised and cleared between two
/// polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertTransition {
    /// When the status changed (unix seconds).
    pub time: i64,
    pub name: String,
    pub chart: String,
    /// `Some`: raised to that level; `None`: cleared (CLEAR or REMOVED).
    pub raised: Option<AlertLevel>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AlertsEvent {
    /// The full list of raised alerts, replacing the previous one.
    Update(Vec<Alert>),
    /// Status changes logged since the last report, oldest first.
    Transitions(Vec<AlertTransition>),
    /// No alert source right now (Netdata not live); the reason is shown.
    Unavailable(String),
}
