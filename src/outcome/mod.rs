//! Did an action help? An outcome compares what the cockpit observed in a
//! window before an action started with a window after it ended: host
//! metrics, alerts, containers and logs, side by side, and a verdict made
//! by the written rules in [`verdict`].
//!
//! - [`measure`]: one window's summary from the cockpit's data (series,
//!   alerts, containers, log ring), pure.
//! - [`compare`]: two summaries → an [`Outcome`] (with its verdict).
//! - [`verdict`]: the rules.
//! - [`shape`]: a log message's shape (numbers, ids and hex masked).
//!
//! What was not observed stays `None` and is said ("CPU: no data"), never
//! filled in. The record is stored with the action in the gate's hash
//! chain; this module knows no gate and no screen.

pub mod compare;
pub mod measure;
pub mod shape;
pub mod verdict;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use compare::compare;
pub use verdict::{Verdict, VerdictKind};

/// The default length of each window.
pub const DEFAULT_WINDOW_SECS: u64 = 300;

/// Points per sparkline (per window).
pub const SPARK_BUCKETS: usize = 12;

/// A time span, unix seconds, `from` exclusive and `to` inclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: i64,
    pub to: i64,
}

impl Window {
    pub fn secs(self) -> i64 {
        (self.to - self.from).max(0)
    }

    pub fn contains(self, t: i64) -> bool {
        t > self.from && t <= self.to
    }
}

/// Mean and peak of a series over a window, and its sparkline (bucket
/// means, `None` for a bucket without points).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub mean: f64,
    pub peak: f64,
    pub samples: usize,
    pub spark: Vec<Option<f64>>,
}

/// The host figures an outcome compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostMetric {
    Cpu,
    Memory,
    Load,
    Network,
    Disk,
}

impl HostMetric {
    pub const ALL: [HostMetric; 5] = [
        HostMetric::Cpu,
        HostMetric::Memory,
        HostMetric::Load,
        HostMetric::Network,
        HostMetric::Disk,
    ];

    pub fn label(self) -> &'static str {
        match self {
            HostMetric::Cpu => "CPU",
            HostMetric::Memory => "memory",
            HostMetric::Load => "load",
            HostMetric::Network => "network",
            HostMetric::Disk => "disk I/O",
        }
    }

    /// Formats a value of this metric.
    pub fn format(self, value: f64) -> String {
        use crate::metrics::Unit;
        match self {
            HostMetric::Cpu => Unit::Percent.format(value),
            HostMetric::Memory => Unit::Bytes.format(value),
            HostMetric::Load => Unit::Load.format(value),
            HostMetric::Network | HostMetric::Disk => Unit::BytesPerSec.format(value),
        }
    }
}

/// A container as seen at the end of a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSeen {
    pub state: String,
    pub health: Option<String>,
    pub restart_count: Option<u64>,
}

/// Error and warning lines of one log source in a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogCounts {
    pub errors: u64,
    pub warns: u64,
    pub lines: u64,
}

/// What one window held. `None`: that source gave nothing in the window
/// (not observed, which is not the same as zero).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WindowData {
    pub window: Window,
    pub host: BTreeMap<HostMetric, Stat>,
    /// Alert names active at the window's end; `None`: no alert source.
    pub alerts_active: Option<BTreeSet<String>>,
    /// Alert names raised / cleared in the window's event span, from the
    /// alarm log: an alert raised and cleared between two polls of the
    /// active list is in both, though never in `alerts_active`.
    pub alerts_raised: BTreeSet<String>,
    pub alerts_cleared: BTreeSet<String>,
    /// Containers by name at the window's end; `None`: no container engine.
    pub containers: Option<BTreeMap<String, ContainerSeen>>,
    /// Container events in the window: (name, action), oldest first.
    pub container_events: Vec<(String, String)>,
    /// Per log source; `None`: no log line at all in the window.
    pub logs: Option<BTreeMap<String, LogCounts>>,
    /// Error lines per spark bucket.
    pub error_spark: Vec<Option<f64>>,
    /// Message shapes of the window's lines with their counts.
    pub shapes: BTreeMap<String, u64>,
}

/// One host figure before → after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRow {
    pub metric: HostMetric,
    pub before: Option<Stat>,
    pub after: Option<Stat>,
}

/// Alerts by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertsChange {
    pub raised: Vec<String>,
    pub cleared: Vec<String>,
    pub still_active: usize,
}

/// One container's change over the windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerChange {
    pub name: String,
    /// The container the command names (`docker restart web`).
    pub targeted: bool,
    pub before: Option<ContainerSeen>,
    pub after: Option<ContainerSeen>,
    /// Restarts seen from the action's start to the after-window's end.
    pub restarts: u64,
    /// The engine's events for it in that span (`die`, `start`, …).
    pub events: Vec<String>,
}

/// One log source's error and warning rates, lines per minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRow {
    pub source: String,
    pub errors_per_min: (f64, f64),
    pub warns_per_min: (f64, f64),
}

/// A message shape new after the action, with how often it appeared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShapeCount {
    pub shape: String,
    pub count: u64,
}

/// The measured before/after of one finished action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The configured length of each window.
    pub window_secs: u64,
    pub before: Window,
    pub after: Window,
    /// Why the after-window is shorter than configured (the cockpit quit,
    /// the link was lost); `None`: complete.
    #[serde(default)]
    pub partial: Option<String>,
    pub host: Vec<HostRow>,
    /// `None`: no alert source in one of the windows.
    pub alerts: Option<AlertsChange>,
    /// `None`: no container engine in one of the windows.
    pub containers: Option<Vec<ContainerChange>>,
    /// `None`: no log line in either window.
    pub logs: Option<Vec<LogRow>>,
    /// All sources' error lines per minute, before → after.
    pub error_rate: Option<(f64, f64)>,
    pub error_spark: (Vec<Option<f64>>, Vec<Option<f64>>),
    /// The top three message shapes seen after and not before.
    pub new_shapes: Vec<ShapeCount>,
    pub verdict: Verdict,
}

// Values are finite by construction (series refuse NaN and infinities), so
// equality is an equivalence: needed by the gate's events, which compare.
impl Eq for Outcome {}

impl Outcome {
    pub fn host_row(&self, metric: HostMetric) -> Option<&HostRow> {
        self.host.iter().find(|r| r.metric == metric)
    }
}

#[cfg(test)]
mod tests;
