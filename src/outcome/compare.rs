//! Two window summaries side by side: the [`Outcome`] of one action.

use std::collections::BTreeSet;

use super::{
    AlertsChange, ContainerChange, HostMetric, HostRow, LogCounts, LogRow, Outcome, ShapeCount,
    WindowData, verdict,
};

/// How many new message shapes an outcome keeps.
pub const NEW_SHAPES: usize = 3;

/// Compares `before` with `after` for the action that ran `command`.
/// `partial` says why the after-window was cut short, if it was.
pub fn compare(
    before: &WindowData,
    after: &WindowData,
    command: &str,
    window_secs: u64,
    partial: Option<String>,
) -> Outcome {
    let logs = log_rows(before, after);
    let mut outcome = Outcome {
        window_secs,
        before: before.window,
        after: after.window,
        partial,
        host: HostMetric::ALL
            .into_iter()
            .map(|metric| HostRow {
                metric,
                before: before.host.get(&metric).cloned(),
                after: after.host.get(&metric).cloned(),
            })
            .collect(),
        alerts: alerts_change(before, after),
        containers: container_changes(before, after, target_container(command).as_deref()),
        error_rate: logs.as_ref().map(|rows| {
            rows.iter().fold((0.0, 0.0), |(b, a), r| {
                (b + r.errors_per_min.0, a + r.errors_per_min.1)
            })
        }),
        logs,
        error_spark: (before.error_spark.clone(), after.error_spark.clone()),
        new_shapes: new_shapes(before, after),
        verdict: verdict::Verdict::default(),
    };
    outcome.verdict = verdict::judge(&outcome, command);
    outcome
}

/// The container a command acts on: `docker restart web`, `podman
/// container stop -t 5 api`, `sudo docker start db` → its last argument.
pub fn target_container(command: &str) -> Option<String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let engine = words
        .iter()
        .position(|w| matches!(w.rsplit('/').next(), Some("docker" | "podman")))?;
    let mut rest = words[engine + 1..].iter().copied().peekable();
    if rest.peek() == Some(&"container") {
        rest.next();
    }
    let verb = rest.next()?;
    if !container_verbs().contains(verb) {
        return None;
    }
    rest.rfind(|w| !w.starts_with('-'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '"').to_string())
        .filter(|w| !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit()))
}

fn container_verbs() -> BTreeSet<&'static str> {
    [
        "restart", "start", "stop", "kill", "rm", "pause", "unpause", "update",
    ]
    .into_iter()
    .collect()
}

/// Whether the command means to stop its container (then "not running"
/// afterwards is what was asked, not a failure).
pub fn stops_container(command: &str) -> bool {
    command
        .split_whitespace()
        .any(|w| matches!(w, "stop" | "kill" | "rm" | "pause"))
}

fn alerts_change(before: &WindowData, after: &WindowData) -> Option<AlertsChange> {
    let (was, is) = (
        before.alerts_active.as_ref()?,
        after.alerts_active.as_ref()?,
    );
    // Raised: not active before, and active now or raised at any point
    // after the action started (the alarm log) — an alert raised and
    // cleared again between two polls is a new alert too. Cleared: active
    // before and not now, or cleared after the action without having been
    // raised anew.
    let raised: BTreeSet<String> = is
        .iter()
        .chain(after.alerts_raised.iter())
        .filter(|name| !was.contains(*name))
        .cloned()
        .collect();
    let cleared: BTreeSet<String> = was
        .difference(is)
        .chain(after.alerts_cleared.iter())
        .filter(|name| !raised.contains(*name))
        .cloned()
        .collect();
    Some(AlertsChange {
        raised: raised.into_iter().collect(),
        cleared: cleared.into_iter().collect(),
        still_active: is.len(),
    })
}

fn container_changes(
    before: &WindowData,
    after: &WindowData,
    target: Option<&str>,
) -> Option<Vec<ContainerChange>> {
    let (was, is) = (before.containers.as_ref()?, after.containers.as_ref()?);
    let names: BTreeSet<&String> = was.keys().chain(is.keys()).collect();
    let mut changes: Vec<ContainerChange> = names
        .into_iter()
        .map(|name| {
            let events: Vec<String> = after
                .container_events
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, action)| action.clone())
                .collect();
            ContainerChange {
                name: name.clone(),
                targeted: target == Some(name.as_str()),
                before: was.get(name).cloned(),
                after: is.get(name).cloned(),
                restarts: restarts(&events),
                events,
            }
        })
        .filter(|c| c.targeted || c.before != c.after || c.restarts > 0)
        .collect();
    // The targeted container first: it is what the action was about.
    changes.sort_by_key(|c| !c.targeted);
    Some(changes)
}

/// Restarts in an event list: `restart` events, or else `start`s.
fn restarts(events: &[String]) -> u64 {
    let count = |what: &str| events.iter().filter(|e| e.as_str() == what).count() as u64;
    match count("restart") {
        0 => count("start"),
        n => n,
    }
}

fn log_rows(before: &WindowData, after: &WindowData) -> Option<Vec<LogRow>> {
    if before.logs.is_none() && after.logs.is_none() {
        return None;
    }
    let none = Default::default();
    let was = before.logs.as_ref().unwrap_or(&none);
    let is = after.logs.as_ref().unwrap_or(&none);
    let per_min = |n: u64, secs: i64| n as f64 * 60.0 / secs.max(1) as f64;
    let names: BTreeSet<&String> = was.keys().chain(is.keys()).collect();
    Some(
        names
            .into_iter()
            .map(|source| {
                let b = was.get(source).copied().unwrap_or(LogCounts::default());
                let a = is.get(source).copied().unwrap_or(LogCounts::default());
                let (bs, as_) = (before.window.secs(), after.window.secs());
                LogRow {
                    source: source.clone(),
                    errors_per_min: (per_min(b.errors, bs), per_min(a.errors, as_)),
                    warns_per_min: (per_min(b.warns, bs), per_min(a.warns, as_)),
                }
            })
            .collect(),
    )
}

fn new_shapes(before: &WindowData, after: &WindowData) -> Vec<ShapeCount> {
    let mut new: Vec<ShapeCount> = after
        .shapes
        .iter()
        .filter(|(shape, _)| !before.shapes.contains_key(*shape))
        .map(|(shape, count)| ShapeCount {
            shape: shape.clone(),
            count: *count,
        })
        .collect();
    new.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.shape.cmp(&b.shape)));
    new.truncate(NEW_SHAPES);
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_container_is_picked_out() {
        assert_eq!(
            target_container("docker restart web").as_deref(),
            Some("web")
        );
        assert_eq!(
            target_container("sudo /usr/bin/podman container stop -t 5 api").as_deref(),
            Some("api")
        );
        assert_eq!(target_container("docker ps"), None);
        assert_eq!(target_container("systemctl restart nginx"), None);
        assert_eq!(target_container("docker restart"), None);
        assert!(stops_container("docker stop web"));
        assert!(!stops_container("docker restart web"));
    }
}
