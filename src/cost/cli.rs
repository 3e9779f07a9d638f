//! `opscockpit cost HOST [--period P] [--json]`: one report, printed.

use super::netdata::TrafficQuery;
use super::netdata_fetch::for_settings;
use super::report::{self, CostSettings};
use super::traffic::Period;
use crate::transport::SharedTransport;

/// Gathers the report for `period` and returns what to print.
pub async fn run(
    host: &str,
    transport: SharedTransport,
    settings: &CostSettings,
    period: Period,
    json: bool,
) -> Result<String, String> {
    let netdata = for_settings(&transport, settings);
    let now = chrono::Utc::now().timestamp();
    let query = match &netdata {
        Ok(n) => Ok(n as &dyn TrafficQuery),
        Err(e) => Err(e.clone()),
    };
    let report = report::gather(host, query, &transport, settings, period, now).await;
    if report.source == "none" {
        return Err(format!(
            "no traffic data for {}: {}",
            crate::text::inert(host),
            report.source_note.unwrap_or_default()
        ));
    }
    if json {
        serde_json::to_string_pretty(&report)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .map_err(|e| format!("cannot encode the report as JSON: {e}"))
    } else {
        Ok(report::render_text(&report))
    }
}
