//! The comparison and the verdict rules on made-up windows: better, worse,
//! no change, partial and no data.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

const BEFORE: Window = Window { from: 0, to: 300 };
const AFTER: Window = Window { from: 310, to: 610 };

fn stat(mean: f64) -> Stat {
    Stat {
        mean,
        peak: mean * 1.5,
        samples: 300,
        spark: vec![Some(mean); SPARK_BUCKETS],
    }
}

fn container(state: &str, health: Option<&str>) -> ContainerSeen {
    ContainerSeen {
        state: state.into(),
        health: health.map(String::from),
        restart_count: Some(0),
    }
}

/// A window with every source observed: CPU, memory, alerts, the `web`
/// and `db` containers, and `errors` error lines from `container:web`.
fn window(
    window: Window,
    cpu: f64,
    memory: f64,
    alerts: &[&str],
    web: ContainerSeen,
    errors: u64,
) -> WindowData {
    let mut host = BTreeMap::new();
    host.insert(HostMetric::Cpu, stat(cpu));
    host.insert(HostMetric::Memory, stat(memory));
    host.insert(HostMetric::Load, stat(1.0));
    host.insert(HostMetric::Network, stat(1000.0));
    host.insert(HostMetric::Disk, stat(500.0));
    let mut containers = BTreeMap::new();
    containers.insert("web".to_string(), web);
    containers.insert("db".to_string(), container("running", None));
    let mut logs = BTreeMap::new();
    logs.insert(
        "container:web".to_string(),
        LogCounts {
            errors,
            warns: 0,
            lines: errors + 10,
        },
    );
    let mut shapes = BTreeMap::new();
    shapes.insert("listening on <n>".to_string(), 1);
    WindowData {
        window,
        host,
        alerts_active: Some(
            alerts
                .iter()
                .map(|a| a.to_string())
                .collect::<BTreeSet<_>>(),
        ),
        containers: Some(containers),
        container_events: Vec::new(),
        logs: Some(logs),
        error_spark: vec![Some(0.0); SPARK_BUCKETS],
        shapes,
        ..Default::default()
    }
}

#[test]
fn a_restart_that_fixed_things_is_better() {
    let before = window(
        BEFORE,
        40.0,
        1e9,
        &["web_5xx"],
        container("running", Some("unhealthy")),
        700,
    );
    let mut after = window(
        AFTER,
        38.0,
        1e9,
        &[],
        container("running", Some("healthy")),
        10,
    );
    after.container_events = vec![("web".into(), "restart".into())];
    after.shapes.insert("ready in <n> ms".into(), 1);
    let outcome = compare(&before, &after, "docker restart web", 300, None);
    let v = &outcome.verdict;
    assert_eq!(v.kind, VerdictKind::Better, "{v:?}");
    assert_eq!(
        v.line,
        "alerts cleared: web_5xx; error lines/min 140 → 2; web restarted once, healthy"
    );
    let web = &outcome.containers.as_ref().expect("engine")[0];
    assert!(
        web.targeted && web.name == "web" && web.restarts == 1,
        "{web:?}"
    );
    assert_eq!(outcome.error_rate, Some((140.0, 2.0)));
    assert_eq!(outcome.new_shapes[0].shape, "ready in <n> ms");
    assert!(v.no_data.is_empty(), "{:?}", v.no_data);
}

#[test]
fn an_alert_raised_and_cleared_between_two_polls_is_counted() {
    use crate::metrics::{AlertLevel, AlertTransition};
    use crate::outcome::measure::{Sources, measure};
    use std::collections::VecDeque;
    // The active list was empty at both ends of the after-window; the
    // alarm log saw `disk_io` raised at 400 and cleared at 405, and
    // `web_5xx` (active before) cleared at 320.
    let log = |time, name: &str, raised| AlertTransition {
        time,
        name: name.into(),
        chart: "c".into(),
        raised,
    };
    let transitions: VecDeque<AlertTransition> = [
        log(200, "old_flap", Some(AlertLevel::Warning)),
        log(320, "web_5xx", None),
        log(400, "disk_io", Some(AlertLevel::Critical)),
        log(405, "disk_io", None),
    ]
    .into_iter()
    .collect();
    let series = crate::metrics::SeriesStore::new(600);
    let logs = crate::logs::LogBuffer::new(10);
    let sources = Sources {
        series: &series,
        alerts: Some(&[]),
        alert_transitions: &transitions,
        containers: None,
        timeline: &VecDeque::new(),
        logs: &logs,
    };
    let measured = measure(
        &sources,
        AFTER,
        Window {
            from: 305,
            to: AFTER.to,
        },
    );
    assert_eq!(
        measured.alerts_active,
        Some(BTreeSet::new()),
        "none active at the end"
    );
    assert!(measured.alerts_raised.contains("disk_io"), "{measured:?}");
    assert!(
        !measured.alerts_raised.contains("old_flap"),
        "before the span"
    );
    let before = window(
        BEFORE,
        40.0,
        1e9,
        &["web_5xx"],
        container("running", None),
        0,
    );
    let after = WindowData {
        host: before.host.clone(),
        containers: before.containers.clone(),
        logs: before.logs.clone(),
        ..measured
    };
    let outcome = compare(&before, &after, "systemctl restart web", 300, None);
    let alerts = outcome.alerts.as_ref().expect("observed");
    assert_eq!(alerts.raised, vec!["disk_io"], "the flap is a new alert");
    assert_eq!(alerts.cleared, vec!["web_5xx"]);
    assert_eq!(alerts.still_active, 0);
    assert_eq!(
        outcome.verdict.kind,
        VerdictKind::Mixed,
        "{:?}",
        outcome.verdict
    );
    assert!(
        outcome.verdict.line.contains("1 new alert: disk_io"),
        "{}",
        outcome.verdict.line
    );
    // Without an alert source the log is not read as alerts either.
    let blind = Sources {
        alerts: None,
        ..sources
    };
    let measured = measure(&blind, AFTER, AFTER);
    assert!(measured.alerts_active.is_none() && measured.alerts_raised.is_empty());
}

#[test]
fn more_memory_and_new_alerts_are_worse() {
    let before = window(BEFORE, 20.0, 1e9, &[], container("running", None), 0);
    let after = window(
        AFTER,
        22.0,
        1.35e9,
        &["mem_high", "swap", "oom"],
        container("running", None),
        0,
    );
    let outcome = compare(&before, &after, "apt-get upgrade -y", 300, None);
    let v = &outcome.verdict;
    assert_eq!(v.kind, VerdictKind::Worse, "{v:?}");
    assert_eq!(
        v.line,
        "worse: 3 new alerts: mem_high, oom, swap; memory +35%"
    );
    assert_eq!(outcome.alerts.as_ref().map(|a| a.still_active), Some(3));
}

#[test]
fn a_container_the_action_left_down_is_worse_unless_it_was_stopped() {
    let before = window(BEFORE, 20.0, 1e9, &[], container("running", None), 0);
    let after = window(AFTER, 20.0, 1e9, &[], container("exited", None), 0);
    let restarted = compare(&before, &after, "docker restart web", 300, None);
    assert_eq!(restarted.verdict.kind, VerdictKind::Worse);
    assert_eq!(restarted.verdict.line, "worse: web not running (exited)");
    let stopped = compare(&before, &after, "docker stop web", 300, None);
    assert_eq!(
        stopped.verdict.kind,
        VerdictKind::NoChange,
        "{:?}",
        stopped.verdict
    );
}

#[test]
fn small_moves_are_no_change() {
    // CPU +9 points, memory +20 %, error rate 1 → 1.8/min: all under the
    // rules' thresholds.
    let before = window(
        BEFORE,
        20.0,
        1e9,
        &["disk_low"],
        container("running", None),
        5,
    );
    let after = window(
        AFTER,
        29.0,
        1.2e9,
        &["disk_low"],
        container("running", None),
        9,
    );
    let outcome = compare(&before, &after, "echo hi", 300, None);
    assert_eq!(
        outcome.verdict.kind,
        VerdictKind::NoChange,
        "{:?}",
        outcome.verdict
    );
    assert_eq!(outcome.verdict.line, "no change measured");
    assert_eq!(
        outcome.containers.as_ref().map(Vec::len),
        Some(0),
        "nothing changed"
    );
}

#[test]
fn better_and_worse_at_once_is_mixed() {
    let before = window(BEFORE, 90.0, 1e9, &[], container("running", None), 0);
    let after = window(
        AFTER,
        20.0,
        1e9,
        &["web_5xx"],
        container("running", None),
        0,
    );
    let v = compare(&before, &after, "kill -9 4242", 300, None).verdict;
    assert_eq!(v.kind, VerdictKind::Mixed);
    assert_eq!(
        v.line,
        "mixed: CPU 90.0% → 20.0%; but worse: 1 new alert: web_5xx"
    );
}

#[test]
fn a_cut_window_is_marked_partial_and_rates_use_its_real_length() {
    let before = window(BEFORE, 20.0, 1e9, &[], container("running", None), 300);
    // 40 s of after-window, 2 error lines: 3/min, down from 60/min.
    let after = window(
        Window { from: 310, to: 350 },
        20.0,
        1e9,
        &[],
        container("running", None),
        2,
    );
    let outcome = compare(
        &before,
        &after,
        "echo",
        300,
        Some("the cockpit quit after 40 s".into()),
    );
    assert_eq!(outcome.error_rate, Some((60.0, 3.0)));
    assert_eq!(outcome.verdict.kind, VerdictKind::Better);
    assert_eq!(
        outcome.verdict.line,
        "partial (the cockpit quit after 40 s): error lines/min 60 → 3"
    );
}

#[test]
fn nothing_observed_is_said_never_filled_in() {
    let empty = |w| WindowData {
        window: w,
        error_spark: vec![None; SPARK_BUCKETS],
        ..WindowData::default()
    };
    let outcome = compare(
        &empty(BEFORE),
        &empty(AFTER),
        "docker restart web",
        300,
        None,
    );
    let v = &outcome.verdict;
    assert_eq!(v.kind, VerdictKind::NoData);
    assert_eq!(
        v.no_data,
        [
            "alerts",
            "logs",
            "CPU",
            "memory",
            "load",
            "network",
            "disk I/O",
            "containers"
        ]
    );
    assert!(
        outcome
            .host
            .iter()
            .all(|r| r.before.is_none() && r.after.is_none())
    );
    assert_eq!(
        (outcome.alerts, outcome.containers, outcome.logs),
        (None, None, None)
    );
}

#[test]
fn cpu_missing_in_one_window_is_no_data_not_a_fall() {
    let before = window(BEFORE, 90.0, 1e9, &[], container("running", None), 0);
    let mut after = window(AFTER, 0.0, 1e9, &[], container("running", None), 0);
    after.host.remove(&HostMetric::Cpu);
    let v = compare(&before, &after, "echo", 300, None).verdict;
    assert_eq!(v.kind, VerdictKind::NoChange, "{v:?}");
    assert_eq!(v.no_data, ["CPU"]);
}

#[test]
fn the_record_round_trips_through_json() {
    let before = window(BEFORE, 40.0, 1e9, &["a"], container("running", None), 7);
    let after = window(AFTER, 40.0, 1e9, &[], container("running", None), 0);
    let outcome = compare(&before, &after, "docker restart web", 300, None);
    let json = serde_json::to_string(&outcome).expect("json");
    let back: Outcome = serde_json::from_str(&json).expect("parse");
    assert_eq!(back, outcome);
}
