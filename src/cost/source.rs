//! The Cost pane's source task: a month-to-date report now and every few
//! minutes (the numbers move slowly and a month of per-minute rows is not
//! free to fetch).

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::CostEvent;
use super::netdata::TrafficQuery;
use super::netdata_fetch::for_settings;
use super::report::{CostSettings, gather};
use super::traffic::Period;
use crate::channel::Emit;
use crate::transport::SharedTransport;

pub const REFRESH: Duration = Duration::from_secs(5 * 60);
/// The first report waits this long after the cockpit starts.
const START_DELAY: Duration = Duration::from_secs(4);

pub async fn run<E: From<CostEvent> + Send + 'static>(
    transport: SharedTransport,
    host: String,
    settings: CostSettings,
    events: mpsc::Sender<E>,
    cancel: CancellationToken,
) {
    let netdata = for_settings(&transport, &settings);
    // Month-to-date totals are not urgent: let the metrics back-fill (the
    // other burst at start) finish first, so the two never add up.
    tokio::select! {
        _ = tokio::time::sleep(START_DELAY) => {}
        _ = cancel.cancelled() => return,
    }
    loop {
        let now = chrono::Utc::now().timestamp();
        let query = match &netdata {
            Ok(n) => Ok(n as &dyn TrafficQuery),
            Err(e) => Err(e.clone()),
        };
        let report = tokio::select! {
            r = gather(&host, query, &transport, &settings, Period::Month, now) => r,
            _ = cancel.cancelled() => return,
        };
        let event = if report.source == "none" {
            CostEvent::Error(
                report
                    .source_note
                    .unwrap_or_else(|| "no traffic source".into()),
            )
        } else {
            CostEvent::Report(Box::new(report))
        };
        if events.emit(event).await.is_err() {
            return;
        }
        crate::settle::trim_heap();
        tokio::select! {
            _ = tokio::time::sleep(REFRESH) => {}
            _ = cancel.cancelled() => return,
        }
    }
}
