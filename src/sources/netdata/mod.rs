//! Per-second metrics and alerts from the host's Netdata agent (v1 API),
//! reached through the transport's TCP stream, with the /proc sampler as
//! fallback.
//!
//! - [`client`]: HTTP/1.1 (hyper) over one kept-alive transport stream.
//! - [`parse`]: typed answers and the mapping of charts onto series names.
//! - [`source`]: one session with a live agent (back-fill, per-second
//!   values, catch-up after gaps, alerts).
//! - [`alert_chart`]: an alert's rule and its chart for the Alerts detail.
//! - [`supervisor`]: decides which source is live and switches by itself.

pub mod alert_chart;
pub mod client;
pub mod parse;
pub mod source;
pub mod supervisor;

use std::time::Duration;

use crate::config::HostConfig;

/// How the metrics supervisor treats one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `false`: Netdata is off for this host; the /proc sampler runs.
    pub enabled: bool,
    /// `netdata_url` as the target sees it.
    pub url: String,
    /// How often an unreachable Netdata is tried again.
    pub probe_every: Duration,
    /// How often the alert list is read.
    pub alerts_every: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            enabled: true,
            url: client::DEFAULT_URL.into(),
            probe_every: Duration::from_secs(5),
            alerts_every: Duration::from_secs(5),
        }
    }
}

impl Settings {
    pub fn from_host(host: &HostConfig) -> Self {
        Self {
            enabled: host.netdata.unwrap_or(true),
            url: host
                .netdata_url
                .clone()
                .unwrap_or_else(|| client::DEFAULT_URL.into()),
            ..Self::default()
        }
    }
}
