//! One window's summary, from the data the cockpit already holds: the
//! per-second series, the raised alerts, the containers and their event
//! timeline, and the log ring. Pure: the app passes its state in.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::containers::{Container, TimelineEntry};
use crate::logs::{Level, LogBuffer};
use crate::metrics::{Alert, AlertTransition, SeriesStore, names};

use super::{ContainerSeen, HostMetric, LogCounts, SPARK_BUCKETS, Stat, Window, WindowData};

/// What a window is measured from. `None`: that source is not live (no
/// alert source, no container engine), so nothing of it is observed.
pub struct Sources<'a> {
    pub series: &'a SeriesStore,
    pub alerts: Option<&'a [Alert]>,
    /// The alarm log's status changes, oldest first.
    pub alert_transitions: &'a VecDeque<AlertTransition>,
    pub containers: Option<&'a BTreeMap<String, Container>>,
    pub timeline: &'a VecDeque<TimelineEntry>,
    pub logs: &'a LogBuffer,
}

/// The series each host figure is made of (summed per second).
fn series_of(metric: HostMetric) -> &'static [&'static str] {
    match metric {
        HostMetric::Cpu => &[names::CPU_TOTAL],
        HostMetric::Memory => &[names::MEM_USED],
        HostMetric::Load => &[names::LOAD1],
        HostMetric::Network => &[names::NET_RX, names::NET_TX],
        HostMetric::Disk => &[names::DISK_READ, names::DISK_WRITE],
    }
}

/// Summarises `window`; container events are taken over `events_span`
/// (for the after-window: from the action's start, so the restart the
/// action itself caused is counted).
pub fn measure(sources: &Sources<'_>, window: Window, events_span: Window) -> WindowData {
    let host = HostMetric::ALL
        .into_iter()
        .filter_map(|m| host_stat(sources.series, m, window).map(|s| (m, s)))
        .collect();
    let (logs, error_spark, shapes) = log_summary(sources.logs, window);
    let (alerts_raised, alerts_cleared) = match sources.alerts {
        Some(_) => alert_changes(sources.alert_transitions, events_span),
        None => Default::default(),
    };
    WindowData {
        alerts_raised,
        alerts_cleared,
        window,
        host,
        alerts_active: sources.alerts.map(|alerts| {
            alerts
                .iter()
                .map(|a| a.name.clone())
                .collect::<BTreeSet<_>>()
        }),
        containers: sources.containers.map(|all| {
            all.values()
                .map(|c| {
                    (
                        c.name.clone(),
                        ContainerSeen {
                            state: c.state.clone(),
                            health: c.health.clone(),
                            restart_count: c.restart_count,
                        },
                    )
                })
                .collect()
        }),
        container_events: sources
            .timeline
            .iter()
            .filter(|e| events_span.contains(e.time))
            .map(|e| (e.name.clone(), e.action.clone()))
            .collect(),
        logs,
        error_spark,
        shapes,
    }
}

/// Names of the alerts raised, and of those cleared, in `span`.
fn alert_changes(
    transitions: &VecDeque<AlertTransition>,
    span: Window,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut raised = BTreeSet::new();
    let mut cleared = BTreeSet::new();
    for t in transitions.iter().filter(|t| span.contains(t.time)) {
        match t.raised {
            Some(_) => raised.insert(t.name.clone()),
            None => cleared.insert(t.name.clone()),
        };
    }
    (raised, cleared)
}

/// Mean, peak and sparkline of a host figure, or `None` without points.
pub fn host_stat(series: &SeriesStore, metric: HostMetric, window: Window) -> Option<Stat> {
    let mut per_second: BTreeMap<i64, f64> = BTreeMap::new();
    for name in series_of(metric) {
        let Some(s) = series.get(name) else { continue };
        for p in s.window(window.to, window.secs()) {
            if p.t <= window.to {
                *per_second.entry(p.t).or_default() += p.v;
            }
        }
    }
    stat(window, per_second.into_iter())
}

fn stat(window: Window, points: impl Iterator<Item = (i64, f64)>) -> Option<Stat> {
    let mut sum = 0.0;
    let mut peak = f64::MIN;
    let mut samples = 0usize;
    let mut buckets = vec![(0.0, 0usize); SPARK_BUCKETS];
    for (t, v) in points {
        sum += v;
        peak = peak.max(v);
        samples += 1;
        let b = &mut buckets[bucket(window, t)];
        b.0 += v;
        b.1 += 1;
    }
    (samples > 0).then(|| Stat {
        mean: sum / samples as f64,
        peak,
        samples,
        spark: buckets
            .into_iter()
            .map(|(s, n)| (n > 0).then(|| s / n as f64))
            .collect(),
    })
}

/// Which sparkline bucket second `t` of `window` falls in.
fn bucket(window: Window, t: i64) -> usize {
    let secs = window.secs().max(1);
    let offset = (t - window.from - 1).clamp(0, secs - 1);
    ((offset * SPARK_BUCKETS as i64) / secs) as usize
}

type LogSummary = (
    Option<BTreeMap<String, LogCounts>>,
    Vec<Option<f64>>,
    BTreeMap<String, u64>,
);

fn log_summary(logs: &LogBuffer, window: Window) -> LogSummary {
    let mut per_source: BTreeMap<String, LogCounts> = BTreeMap::new();
    let mut spark = vec![0.0; SPARK_BUCKETS];
    let mut shapes: BTreeMap<String, u64> = BTreeMap::new();
    for line in logs.iter() {
        let t = line.t.div_euclid(1_000_000_000);
        if !window.contains(t) {
            continue;
        }
        let counts = per_source.entry(line.source.to_string()).or_default();
        counts.lines += 1;
        match line.level {
            Some(Level::Error) => {
                counts.errors += 1;
                spark[bucket(window, t)] += 1.0;
            }
            Some(Level::Warn) => counts.warns += 1,
            _ => {}
        }
        *shapes.entry(super::shape::shape(&line.text)).or_default() += 1;
    }
    if per_source.is_empty() {
        return (None, vec![None; SPARK_BUCKETS], shapes);
    }
    (
        Some(per_source),
        spark.into_iter().map(Some).collect(),
        shapes,
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::logs::LogLine;
    use crate::metrics::Unit;

    fn line(t: i64, level: Option<Level>, text: &str) -> LogLine {
        LogLine {
            t: t * 1_000_000_000,
            source: Arc::from("container:web"),
            level,
            text: text.into(),
        }
    }

    #[test]
    fn a_window_takes_only_its_own_points_and_lines() {
        let mut series = SeriesStore::new(600);
        for t in 0..=20 {
            series.push(
                names::CPU_TOTAL,
                Unit::Percent,
                t,
                if t <= 10 { 90.0 } else { 10.0 },
            );
            series.push(names::NET_RX, Unit::BytesPerSec, t, 100.0);
            series.push(names::NET_TX, Unit::BytesPerSec, t, 50.0);
        }
        let mut logs = LogBuffer::new(100);
        logs.push(line(5, Some(Level::Error), "boom 1"));
        logs.push(line(15, Some(Level::Info), "fine"));
        let sources = Sources {
            series: &series,
            alerts: None,
            alert_transitions: &VecDeque::new(),
            containers: None,
            timeline: &VecDeque::new(),
            logs: &logs,
        };
        let before = Window { from: 0, to: 10 };
        let data = measure(&sources, before, before);
        let cpu = &data.host[&HostMetric::Cpu];
        assert_eq!((cpu.mean, cpu.peak, cpu.samples), (90.0, 90.0, 10));
        assert_eq!(cpu.spark.len(), SPARK_BUCKETS);
        assert_eq!(data.host[&HostMetric::Network].mean, 150.0, "rx + tx");
        assert!(
            !data.host.contains_key(&HostMetric::Memory),
            "no data, not zero"
        );
        assert_eq!(data.alerts_active, None);
        let logs_seen = data.logs.expect("lines");
        assert_eq!(logs_seen["container:web"].errors, 1);
        assert_eq!(data.shapes.get("boom <n>"), Some(&1));
        let after = measure(&sources, Window { from: 10, to: 20 }, before);
        assert_eq!(after.host[&HostMetric::Cpu].mean, 10.0);
        assert_eq!(after.logs.expect("lines")["container:web"].errors, 0);
    }

    #[test]
    fn buckets_cover_the_window() {
        let w = Window { from: 100, to: 160 };
        assert_eq!(bucket(w, 101), 0);
        assert_eq!(bucket(w, 160), SPARK_BUCKETS - 1);
        assert_eq!(bucket(w, 5), 0, "clamped");
    }
}
