//! One session with a live Netdata agent: back-fill the chart window, then
//! one `allmetrics` request a second (and `alarms` every few seconds) on the
//! same kept-alive connection, one request at a time.
//!
//! Trouble is reported, never fatal: a bad answer (HTTP error, garbled or
//! truncated JSON, timeout) gives a status line and the next second tries
//! again; a gap in the data is caught up from `/api/v1/data`. The session
//! ends (and the supervisor falls back to /proc) only when Netdata is gone:
//! the connection is refused, or too many answers in a row failed.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::client::{ClientError, NetdataClient};
use super::parse::{self, AgentInfo, AllMetrics, ChartSample};
use crate::channel::Emit;
use crate::metrics::AlertLevel;
use crate::metrics::series::HISTORY_SECONDS;
use crate::metrics::{Alert, AlertChartRequest, AlertTransition, AlertsEvent};
use crate::metrics::{MetricsEvent, MetricsSource, MetricsUpdate};

/// Failed answers in a row after which Netdata counts as gone.
pub const MAX_FAILURES: u32 = 5;
/// A jump of more than this many seconds between two answers is a gap.
const GAP_SECONDS: i64 = 2;
/// Charts back-filled at most (the rest start empty).
const MAX_BACKFILL_CHARTS: usize = 48;

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    Cancelled,
    /// Netdata is gone; the text says why (for the status line).
    Lost(String),
}

struct Session<'a, E> {
    client: &'a mut NetdataClient,
    events: &'a mpsc::Sender<E>,
    label: String,
    hostname: Option<String>,
    cpu_count: Option<usize>,
    last_t: Option<i64>,
    failures: u32,
    degraded: bool,
    /// The alarm log's last entry read (`None`: not read yet).
    alarm_log_after: Option<u64>,
}

/// Runs until `cancel` fires or Netdata is gone. `info` is the answer of
/// the probe that found the agent.
pub async fn run<E: From<MetricsEvent> + Send + 'static>(
    client: &mut NetdataClient,
    info: AgentInfo,
    events: &mpsc::Sender<E>,
    cancel: &CancellationToken,
    alerts_every: Duration,
    charts: &mut mpsc::UnboundedReceiver<AlertChartRequest>,
) -> SessionEnd {
    let label = format!("Netdata {} at {}", info.version, client.target);
    let hostname = client
        .target
        .child_name()
        .map(str::to_string)
        .or(info.hostname.clone());
    let mut session = Session {
        client,
        events,
        label,
        hostname,
        cpu_count: info.cores,
        last_t: None,
        failures: 0,
        degraded: false,
        alarm_log_after: None,
    };
    if !session
        .send(MetricsEvent::Live {
            source: MetricsSource::Netdata,
            reason: session.label.clone(),
        })
        .await
    {
        return SessionEnd::Cancelled;
    }
    let mut metrics_tick = tokio::time::interval(Duration::from_secs(1));
    metrics_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut alerts_tick = tokio::time::interval(alerts_every.max(Duration::from_secs(1)));
    alerts_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        // Requests run inside the arms, one at a time: never stacked.
        let step = tokio::select! {
            _ = cancel.cancelled() => return SessionEnd::Cancelled,
            _ = metrics_tick.tick() => session.metrics_step().await,
            _ = alerts_tick.tick() => session.alerts_step().await,
            Some(request) = charts.recv() => session.chart_step(request).await,
        };
        match step {
            Ok(true) => {}
            Ok(false) => return SessionEnd::Cancelled,
            Err(end) => return end,
        }
    }
}

impl<E: From<MetricsEvent> + Send + 'static> Session<'_, E> {
    /// Sends an event; false when the cockpit is gone.
    async fn send(&self, event: MetricsEvent) -> bool {
        self.events.emit(event).await.is_ok()
    }

    async fn status(&self, message: String) -> bool {
        self.send(MetricsEvent::Status {
            source: MetricsSource::Netdata,
            message,
        })
        .await
    }

    /// A request failed: say so, and end the session if Netdata is gone.
    async fn failed(&mut self, what: &str, e: ClientError) -> Result<bool, SessionEnd> {
        if e.is_unreachable() {
            return Err(SessionEnd::Lost(e.to_string()));
        }
        self.failures += 1;
        if self.failures >= MAX_FAILURES {
            return Err(SessionEnd::Lost(format!(
                "{e} ({} failed answers in a row)",
                self.failures
            )));
        }
        self.degraded = true;
        Ok(self
            .status(format!(
                "{} — {what}: {e}; retrying ({}/{MAX_FAILURES})",
                self.label, self.failures
            ))
            .await)
    }

    async fn recovered(&mut self) -> bool {
        self.failures = 0;
        if self.degraded {
            self.degraded = false;
            return self.status(self.label.clone()).await;
        }
        true
    }

    async fn metrics_step(&mut self) -> Result<bool, SessionEnd> {
        let all = match self.client.allmetrics(parse::ALLMETRICS_FILTER).await {
            Ok(all) => all,
            Err(e) => return self.failed("latest values", e).await,
        };
        if !self.recovered().await {
            return Ok(false);
        }
        let Some(t) = all.t().filter(|t| *t > 0) else {
            return Ok(self
                .status(format!("{} — no chart matched the filter", self.label))
                .await);
        };
        match self.last_t {
            None => {
                if !self.fill(&all, -(HISTORY_SECONDS as i64), t, false).await? {
                    return Ok(false);
                }
            }
            Some(last) if t == last => return Ok(true),
            Some(last) if t < last => {
                // Netdata restarted with an older clock, or the host's clock
                // was set back: series start again from here.
                if !self
                    .status(format!(
                        "{} — its clock went back {} s (restarted?); history restarts",
                        self.label,
                        last - t
                    ))
                    .await
                {
                    return Ok(false);
                }
                self.degraded = true;
            }
            Some(last) if t - last > GAP_SECONDS => {
                let after = last.max(t - HISTORY_SECONDS as i64);
                if !self.fill(&all, after, t, true).await? {
                    return Ok(false);
                }
            }
            Some(_) => {}
        }
        self.last_t = Some(t);
        let update = MetricsUpdate {
            t,
            readings: parse::readings(&all.charts),
            uptime_secs: parse::uptime(&all),
            hostname: self.hostname.clone(),
            cpu_count: self.cpu_count.or(parse::core_count(&all)),
        };
        Ok(self
            .send(MetricsEvent::Sample(MetricsSource::Netdata, update))
            .await)
    }

    /// Back-fills (or catches up) the seconds after `after` and before
    /// `until` from `/api/v1/data`, headline charts first so the first frame
    /// has them even if the rest takes a while. A chart that fails is left
    /// out; Netdata being gone ends the session.
    async fn fill(
        &mut self,
        all: &AllMetrics,
        after: i64,
        until: i64,
        headline_only: bool,
    ) -> Result<bool, SessionEnd> {
        let mut headline: Vec<&ChartSample> = Vec::new();
        let mut rest: Vec<&ChartSample> = Vec::new();
        for chart in &all.charts {
            if parse::HEADLINE_CHARTS.contains(&chart.id.as_str()) {
                headline.push(chart);
            } else if !headline_only && parse::wants_history(&chart.id) {
                rest.push(chart);
            }
        }
        rest.truncate(MAX_BACKFILL_CHARTS.saturating_sub(headline.len()));
        // Relative `after` (back-fill) drops nothing by time; absolute
        // (catch-up) drops the row at `after`, which was already seen.
        let drop_until = if after < 0 { i64::MIN } else { after };
        // One chart at a time, headline charts first: ten minutes of forty
        // charts are never all in memory at once, and the first frame has
        // CPU, memory, network and disk a few milliseconds later at most.
        let batches = headline.into_iter().chain(rest).map(|c| vec![c]);
        for group in batches {
            let mut samples = Vec::new();
            for chart in group {
                match self.client.data(&chart.id, after).await {
                    Ok(table) => samples.extend(
                        table
                            .samples(&chart.id, &chart.family, drop_until)
                            .into_iter()
                            .filter(|s| s.last_updated < until),
                    ),
                    Err(e) if e.is_unreachable() => {
                        return Err(SessionEnd::Lost(e.to_string()));
                    }
                    // A chart that vanished (404) or answered badly.
                    Err(_) => continue,
                }
            }
            let updates: Vec<MetricsUpdate> = parse::by_second(samples)
                .into_iter()
                .map(|(t, charts)| MetricsUpdate {
                    t,
                    readings: parse::readings(&charts),
                    ..Default::default()
                })
                .collect();
            if !updates.is_empty()
                && !self
                    .send(MetricsEvent::Batch(MetricsSource::Netdata, updates))
                    .await
            {
                return Ok(false);
            }
        }
        // The burst of a finished back-fill goes back to the system.
        crate::settle::trim_heap();
        Ok(true)
    }

    async fn alerts_step(&mut self) -> Result<bool, SessionEnd> {
        match self.client.alarms().await {
            Ok(answer) => {
                let latest = answer.latest_log_id;
                let alerts = answer.alarms.into_iter().filter_map(to_alert).collect();
                if !self
                    .send(MetricsEvent::Alerts(AlertsEvent::Update(alerts)))
                    .await
                {
                    return Ok(false);
                }
                match (latest, self.alarm_log_after) {
                    // The first answer: the log so far is history (it can
                    // be megabytes); changes are read from here on.
                    (Some(latest), None) => {
                        self.alarm_log_after = Some(latest);
                        Ok(true)
                    }
                    (Some(latest), Some(after)) if latest > after => {
                        self.alarm_log_step(after).await
                    }
                    _ => Ok(true),
                }
            }
            Err(e) if e.is_unreachable() => Err(SessionEnd::Lost(e.to_string())),
            // Metrics may still be fine: the Alerts pane says what is wrong,
            // and the next round tries again.
            Err(e) => Ok(self
                .send(MetricsEvent::Alerts(AlertsEvent::Unavailable(format!(
                    "Alerts from {} failed: {e}; trying again in a few seconds.",
                    self.label
                ))))
                .await),
        }
    }
}

impl<E: From<MetricsEvent> + Send + 'static> Session<'_, E> {
    /// The Alerts detail asked for an alert's chart: fetched between two
    /// seconds' requests, never beside them. A failure is the detail's to
    /// show; only Netdata being gone ends the session.
    async fn chart_step(&mut self, request: AlertChartRequest) -> Result<bool, SessionEnd> {
        let answer = super::alert_chart::fetch(self.client, &request).await;
        let lost = match &answer {
            Err(e) if e.is_unreachable() => Some(e.to_string()),
            _ => None,
        };
        let chart = answer.map_err(|e| super::alert_chart::failure_text(&request, &e));
        let sent = self
            .send(MetricsEvent::Alerts(AlertsEvent::Chart {
                key: request.key,
                chart,
            }))
            .await;
        match lost {
            Some(why) => Err(SessionEnd::Lost(why)),
            None => Ok(sent),
        }
    }

    /// The alarm log after `after` (asked only when the alarms answer says
    /// it has newer entries): transitions between two polls of the active
    /// list (an alert raised and cleared in between) are kept. A bad answer
    /// costs nothing: the active list was sent, the next poll asks again.
    async fn alarm_log_step(&mut self, after: u64) -> Result<bool, SessionEnd> {
        let entries = match self.client.alarm_log(after).await {
            Ok(entries) => entries,
            Err(e) if e.is_unreachable() => return Err(SessionEnd::Lost(e.to_string())),
            Err(_) => return Ok(true),
        };
        let (cursor, transitions) = transitions_since(after, entries);
        self.alarm_log_after = Some(cursor);
        if transitions.is_empty() {
            return Ok(true);
        }
        Ok(self
            .send(MetricsEvent::Alerts(AlertsEvent::Transitions(transitions)))
            .await)
    }
}

/// The new cursor and the transitions (oldest first) of log entries after
/// `after`: raised to WARNING/CRITICAL, or cleared (CLEAR/REMOVED from a
/// raised status); other changes (UNINITIALIZED → CLEAR at start) say
/// nothing about the host.
pub fn transitions_since(
    after: u64,
    mut entries: Vec<parse::RawAlarmLogEntry>,
) -> (u64, Vec<AlertTransition>) {
    entries.retain(|e| e.unique_id > after);
    entries.sort_by_key(|e| e.unique_id);
    let cursor = entries.last().map_or(after, |e| e.unique_id);
    let raised_status = |s: &str| match s {
        "WARNING" => Some(AlertLevel::Warning),
        "CRITICAL" => Some(AlertLevel::Critical),
        _ => None,
    };
    let transitions = entries
        .into_iter()
        .filter_map(|e| {
            let raised = match raised_status(&e.status) {
                Some(level) => Some(level),
                None if raised_status(&e.old_status).is_some()
                    && matches!(e.status.as_str(), "CLEAR" | "REMOVED") =>
                {
                    None
                }
                None => return None,
            };
            Some(AlertTransition {
                time: e.when,
                name: e.name,
                chart: e.chart,
                raised,
            })
        })
        .collect();
    (cursor, transitions)
}

/// Raised alerts only (the v1 list also carries CLEAR/UNDEFINED ones with
/// `?all`, and some agents include them anyway).
pub fn to_alert(raw: parse::RawAlarm) -> Option<Alert> {
    let rule = super::alert_chart::rule(&raw);
    let level = match raw.status.as_str() {
        "WARNING" => AlertLevel::Warning,
        "CRITICAL" => AlertLevel::Critical,
        _ => return None,
    };
    let value = if raw.value_string.is_empty() {
        raw.value
            .map(|v| format!("{v:.2} {}", raw.units).trim().to_string())
            .unwrap_or_default()
    } else {
        raw.value_string
    };
    Some(Alert {
        key: raw.key,
        name: raw.name,
        chart: raw.chart,
        level,
        value,
        info: raw.info,
        since: raw.last_status_change,
        silenced: raw.silenced,
        rule,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alarm_log_gives_raises_and_clears_after_the_cursor() {
        let entry = |id: u64, status: &str, old: &str, when: i64| parse::RawAlarmLogEntry {
            unique_id: id,
            name: "web_5xx".into(),
            chart: "web_log.codes".into(),
            status: status.into(),
            old_status: old.into(),
            when,
        };
        // Newest first, as Netdata sends them; 9 was read before.
        let (cursor, t) = transitions_since(
            9,
            vec![
                entry(13, "CLEAR", "UNINITIALIZED", 130),
                entry(12, "CLEAR", "CRITICAL", 120),
                entry(11, "CRITICAL", "WARNING", 110),
                entry(10, "WARNING", "CLEAR", 100),
                entry(9, "WARNING", "CLEAR", 90),
            ],
        );
        assert_eq!(cursor, 13);
        let seen: Vec<(i64, Option<AlertLevel>)> = t.iter().map(|t| (t.time, t.raised)).collect();
        assert_eq!(
            seen,
            vec![
                (100, Some(AlertLevel::Warning)),
                (110, Some(AlertLevel::Critical)),
                (120, None)
            ]
        );
        assert_eq!(transitions_since(13, Vec::new()), (13, Vec::new()));
    }

    #[test]
    fn only_raised_alarms_become_alerts() {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/netdata/alarms-active-1.37.json"
        ))
        .expect("fixture");
        let mut answer = parse::alarms(&body).expect("alarms");
        let mut clear = answer.alarms[0].clone();
        clear.status = "CLEAR".into();
        answer.alarms.push(clear);
        let alerts: Vec<Alert> = answer.alarms.into_iter().filter_map(to_alert).collect();
        assert_eq!(alerts.len(), 2);
        let crit = alerts
            .iter()
            .find(|a| a.level == AlertLevel::Critical)
            .expect("critical");
        assert_eq!(crit.value, "1.39 load", "the agent's own formatting");
        assert_eq!(crit.key, "system.load.opscockpit_test_critical");
    }
}
