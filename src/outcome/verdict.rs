//! The verdict: rules written down, not guessed. Each rule looks at one
//! thing the outcome measured in both windows and says *better*, *worse*
//! or only notes it. Anything not observed in both windows is listed as
//! "no data" and judged by no rule.
//!
//! | what | better when | worse when |
//! |---|---|---|
//! | alerts | one was active before and is not after | one is active after that was not before |
//! | error lines/min (all sources) | after ≤ before ÷ 2 and at least 1/min lower | after ≥ before × 2 and at least 1/min higher |
//! | CPU mean | falls by ≥ 10 points | rises by ≥ 10 points |
//! | memory mean | falls by ≥ 25 % | rises by ≥ 25 % |
//! | load mean | falls by ≥ 50 % and ≥ 0.5 | rises by ≥ 50 % and ≥ 0.5 |
//! | the named container | was down or unhealthy, is running and not unhealthy | is not running (unless the command stops it) or is unhealthy |
//! | another container | — | was running, is not |
//!
//! Network and disk I/O are shown but not judged: more or less traffic is
//! not good or bad by itself. Restarts are noted ("web restarted once,
//! healthy"). The kind: *better* if some rule says better and none worse,
//! *worse* if some says worse and none better, *mixed* if both, *no change*
//! if none did but something was measured, *no data* if nothing was.

use serde::{Deserialize, Serialize};

use super::{ContainerChange, HostMetric, Outcome, compare};

pub const ERROR_RATE_FACTOR: f64 = 2.0;
pub const ERROR_RATE_MIN_DELTA: f64 = 1.0;
pub const CPU_POINTS: f64 = 10.0;
pub const MEMORY_RELATIVE: f64 = 0.25;
pub const LOAD_RELATIVE: f64 = 0.5;
pub const LOAD_MIN_DELTA: f64 = 0.5;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    Better,
    Worse,
    Mixed,
    #[default]
    NoChange,
    NoData,
}

impl VerdictKind {
    /// The History column's mark.
    pub fn mark(self) -> &'static str {
        match self {
            VerdictKind::Better => "✓",
            VerdictKind::Worse => "✗",
            VerdictKind::Mixed => "±",
            VerdictKind::NoChange => "=",
            VerdictKind::NoData => "?",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            VerdictKind::Better => "better",
            VerdictKind::Worse => "worse",
            VerdictKind::Mixed => "mixed",
            VerdictKind::NoChange => "no change",
            VerdictKind::NoData => "no data",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub kind: VerdictKind,
    /// The plain line ("alerts cleared: web_5xx; error lines/min 140 → 2").
    pub line: String,
    pub better: Vec<String>,
    pub worse: Vec<String>,
    pub notes: Vec<String>,
    /// What was not observed in both windows ("CPU", "alerts").
    pub no_data: Vec<String>,
}

#[derive(Default)]
struct Findings {
    better: Vec<String>,
    worse: Vec<String>,
    notes: Vec<String>,
    no_data: Vec<String>,
    measured: bool,
}

/// Applies the rules to what `outcome` measured.
pub fn judge(outcome: &Outcome, command: &str) -> Verdict {
    let mut f = Findings::default();
    alerts_rule(outcome, &mut f);
    error_rate_rule(outcome, &mut f);
    host_rules(outcome, &mut f);
    container_rules(outcome, command, &mut f);
    let kind = match (f.better.is_empty(), f.worse.is_empty()) {
        (false, true) => VerdictKind::Better,
        (true, false) => VerdictKind::Worse,
        (false, false) => VerdictKind::Mixed,
        (true, true) if f.measured => VerdictKind::NoChange,
        (true, true) => VerdictKind::NoData,
    };
    let mut line = match kind {
        VerdictKind::Better => join(&[&f.better[..], &f.notes[..]].concat()),
        VerdictKind::Worse => format!("worse: {}", join(&[&f.worse[..], &f.notes[..]].concat())),
        VerdictKind::Mixed => format!(
            "mixed: {}; but worse: {}",
            join(&[&f.better[..], &f.notes[..]].concat()),
            join(&f.worse)
        ),
        VerdictKind::NoChange if f.notes.is_empty() => "no change measured".to_string(),
        VerdictKind::NoChange => format!("no change measured; {}", join(&f.notes)),
        VerdictKind::NoData => "nothing was observed in both windows".to_string(),
    };
    if let Some(why) = &outcome.partial {
        line = format!("partial ({why}): {line}");
    }
    Verdict {
        kind,
        line,
        better: f.better,
        worse: f.worse,
        notes: f.notes,
        no_data: f.no_data,
    }
}

fn join(parts: &[String]) -> String {
    parts.join("; ")
}

fn alerts_rule(outcome: &Outcome, f: &mut Findings) {
    let Some(alerts) = &outcome.alerts else {
        f.no_data.push("alerts".into());
        return;
    };
    f.measured = true;
    if !alerts.cleared.is_empty() {
        f.better
            .push(format!("alerts cleared: {}", alerts.cleared.join(", ")));
    }
    match alerts.raised.len() {
        0 => {}
        1 => f.worse.push(format!("1 new alert: {}", alerts.raised[0])),
        n => f
            .worse
            .push(format!("{n} new alerts: {}", alerts.raised.join(", "))),
    }
}

/// A rate as people read it: whole numbers from 10 up.
pub fn fmt_rate(v: f64) -> String {
    if v >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn error_rate_rule(outcome: &Outcome, f: &mut Findings) {
    let Some((before, after)) = outcome.error_rate else {
        f.no_data.push("logs".into());
        return;
    };
    f.measured = true;
    let text = format!("error lines/min {} → {}", fmt_rate(before), fmt_rate(after));
    if after * ERROR_RATE_FACTOR <= before && before - after >= ERROR_RATE_MIN_DELTA {
        f.better.push(text);
    } else if after >= before * ERROR_RATE_FACTOR && after - before >= ERROR_RATE_MIN_DELTA {
        f.worse.push(text);
    }
}

fn host_rules(outcome: &Outcome, f: &mut Findings) {
    for row in &outcome.host {
        let (Some(before), Some(after)) = (&row.before, &row.after) else {
            f.no_data.push(row.metric.label().into());
            continue;
        };
        f.measured = true;
        let (b, a) = (before.mean, after.mean);
        let relative = if b.abs() > f64::EPSILON {
            (a - b) / b
        } else {
            0.0
        };
        let (moved, text) = match row.metric {
            HostMetric::Cpu => (
                (a - b).abs() >= CPU_POINTS,
                format!("CPU {} → {}", row.metric.format(b), row.metric.format(a)),
            ),
            HostMetric::Memory => (
                relative.abs() >= MEMORY_RELATIVE,
                format!("memory {:+.0}%", relative * 100.0),
            ),
            HostMetric::Load => (
                relative.abs() >= LOAD_RELATIVE && (a - b).abs() >= LOAD_MIN_DELTA,
                format!("load {b:.2} → {a:.2}"),
            ),
            HostMetric::Network | HostMetric::Disk => (false, String::new()),
        };
        match (moved, a > b) {
            (true, true) => f.worse.push(text),
            (true, false) => f.better.push(text),
            (false, _) => {}
        }
    }
}

fn is_running(state: Option<&super::ContainerSeen>) -> bool {
    state.is_some_and(|s| s.state == "running")
}

fn is_unhealthy(state: Option<&super::ContainerSeen>) -> bool {
    state.is_some_and(|s| s.health.as_deref() == Some("unhealthy"))
}

fn container_rules(outcome: &Outcome, command: &str, f: &mut Findings) {
    let Some(changes) = &outcome.containers else {
        f.no_data.push("containers".into());
        return;
    };
    f.measured = true;
    for c in changes {
        if c.targeted {
            targeted_rule(c, command, f);
        } else if is_running(c.before.as_ref()) && !is_running(c.after.as_ref()) {
            f.worse.push(format!("{} {}", c.name, state_word(c)));
        } else if c.restarts > 0 {
            f.notes
                .push(format!("{} {}", c.name, restarted(c.restarts)));
        }
    }
}

fn targeted_rule(c: &ContainerChange, command: &str, f: &mut Findings) {
    let (before, after) = (c.before.as_ref(), c.after.as_ref());
    let mut text = c.name.clone();
    if c.restarts > 0 {
        text = format!("{text} {}", restarted(c.restarts));
    }
    let health = after.and_then(|s| s.health.as_deref());
    let now = match (is_running(after), health) {
        (true, Some(h)) => h.to_string(),
        (true, None) => "running".to_string(),
        (false, _) => format!("not running ({})", state_word(c)),
    };
    text = if c.restarts > 0 {
        format!("{text}, {now}")
    } else {
        format!("{text} {now}")
    };
    let was_bad = !is_running(before) || is_unhealthy(before);
    let is_bad = (!is_running(after) && !compare::stops_container(command)) || is_unhealthy(after);
    if is_bad {
        f.worse.push(text);
    } else if was_bad && is_running(after) {
        f.better.push(text);
    } else {
        f.notes.push(text);
    }
}

fn state_word(c: &ContainerChange) -> String {
    c.after
        .as_ref()
        .map_or("gone".to_string(), |s| s.state.clone())
}

fn restarted(n: u64) -> String {
    match n {
        1 => "restarted once".to_string(),
        2 => "restarted twice".to_string(),
        n => format!("restarted {n} times"),
    }
}
