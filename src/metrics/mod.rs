//! The source-neutral metrics model: named series of (time, value) points in
//! bounded ring buffers, plus humanized units. The /proc sampler and the
//! Netdata client both fill the same series names, so panes never care which
//! source is live.

pub mod alerts;
pub mod names;
pub mod sample;
pub mod series;
pub mod units;

pub use alerts::{
    Alert, AlertChart, AlertChartRequest, AlertLevel, AlertRule, AlertTransition, AlertsEvent,
    Threshold,
};
pub use sample::{MetricsEvent, MetricsSource, MetricsUpdate, Reading};
pub use series::{Point, Series, SeriesStore};
pub use units::Unit;
