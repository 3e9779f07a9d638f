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
    /// What the health check looks at and compares (for the detail's
    /// chart): empty when the agent did not say.
    pub rule: AlertRule,
}

/// An alert's health check as far as the detail can show and draw it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertRule {
    /// Units of the alert's value (`%`, `load`).
    pub units: String,
    /// The chart dimensions the check looks up (`load1`, `user,system`),
    /// as the agent wrote them; `None`: the check looks up none or all.
    pub dimensions: Option<String>,
    /// The check's expressions, as plain text (`$this > 80`).
    pub calc: Option<String>,
    pub warn: Option<String>,
    pub crit: Option<String>,
    /// Where the check raises, in the chart's own units: set only when the
    /// compared value is the looked-up dimensions themselves (no `calc`,
    /// no percentage), so a line drawn there means what it says.
    pub warn_at: Option<Threshold>,
    pub crit_at: Option<Threshold>,
}

/// A level the value is compared with: raised above it (`$this > 80`) or
/// below it (`$this < 10`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub value: f64,
    pub above: bool,
}

/// What the Alerts detail asks Netdata for: an alert's chart over the last
/// `seconds`, in about `points` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertChartRequest {
    /// The alert the answer belongs to (an answer for an alert no longer
    /// open is dropped).
    pub key: String,
    pub chart: String,
    /// The alert's own dimensions (Netdata's `dimensions=` pattern).
    pub dimensions: Option<String>,
    pub seconds: u32,
    pub points: u32,
}

/// An alert's chart as fetched: one series per dimension, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertChart {
    pub chart: String,
    /// The chart's title and units as the agent names them.
    pub title: String,
    pub units: String,
    /// (dimension, points of (unix seconds, value)); gaps left out.
    pub series: Vec<(String, Vec<(i64, f64)>)>,
    /// The window asked for, unix seconds (the x axis).
    pub after: i64,
    pub before: i64,
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
    /// The answer to an [`AlertChartRequest`]: the chart, or why there is
    /// none (HTTP error, chart gone, no Netdata).
    Chart {
        key: String,
        chart: Result<AlertChart, String>,
    },
}
