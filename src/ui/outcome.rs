//! An action's measured outcome (see [`crate::outcome`]): the mark in the
//! History list (✓ better, = no change, ✗ worse, ± mixed, ? no data,
//! … measuring) and the before/after table with sparklines in the detail.
//! Names from the host (containers, alerts, log sources, messages) are
//! drawn inert.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::gate_common::time_of;
use crate::app::state::State;
use crate::gate::ActionView;
use crate::outcome::{ContainerChange, ContainerSeen, HostMetric, Outcome, Stat, VerdictKind};
use crate::text::inert;

/// The History list's mark for `a`, padded to `width` columns.
pub fn mark(state: &State, a: &ActionView, width: usize) -> Span<'static> {
    let t = &state.theme;
    match &a.outcome {
        Some(o) => Span::styled(
            format!("{:<width$}", o.verdict.kind.mark()),
            kind_style(state, o.verdict.kind),
        ),
        None if state.outcomes.is_measuring(&a.id) => {
            Span::styled(format!("{:<width$}", "…"), t.muted)
        }
        None => Span::raw(" ".repeat(width)),
    }
}

fn kind_style(state: &State, kind: VerdictKind) -> Style {
    let t = &state.theme;
    match kind {
        VerdictKind::Better => t.ok,
        VerdictKind::Worse => t.critical,
        VerdictKind::Mixed | VerdictKind::NoData => t.warning,
        VerdictKind::NoChange => t.text,
    }
}

/// The verdict at the top of the detail (with the windows it compared),
/// or that it is being measured; nothing otherwise.
pub fn verdict_lines(state: &State, a: &ActionView) -> Vec<Line<'static>> {
    let t = &state.theme;
    let Some(o) = &a.outcome else {
        if state.outcomes.is_measuring(&a.id) {
            return vec![Line::styled(
                " outcome: … measuring the windows before and after",
                t.muted,
            )];
        }
        return Vec::new();
    };
    vec![
        Line::from(vec![
            Span::styled(" outcome ", t.muted),
            Span::styled(
                format!("{} {}: ", o.verdict.kind.mark(), o.verdict.kind.name()),
                kind_style(state, o.verdict.kind),
            ),
            Span::styled(inert(&o.verdict.line), t.text),
        ]),
        Line::styled(windows_line(state, o), t.muted),
    ]
}

/// The before/after table (after the output in the detail), or why there
/// is none for an action that ran.
pub fn table_lines(state: &State, a: &ActionView, width: u16) -> Vec<Line<'static>> {
    let t = &state.theme;
    if a.started_at.is_none() || state.outcomes.is_measuring(&a.id) {
        return Vec::new();
    }
    let Some(o) = &a.outcome else {
        return vec![Line::styled(
            " outcome: not measured (no cockpit watched this host before and after it)",
            t.muted,
        )];
    };
    let wide = width >= 110;
    let mut lines = vec![Line::styled(
        format!(
            " outcome:{:<9} {:<cell$} {}",
            "",
            "before",
            "after",
            cell = cell_width(wide)
        ),
        t.muted,
    )];
    for row in &o.host {
        lines.push(host_line(
            state,
            row.metric,
            row.before.as_ref(),
            row.after.as_ref(),
            wide,
        ));
    }
    lines.push(error_line(state, o, wide));
    lines.extend(alerts_line(state, o));
    lines.extend(container_lines(state, o));
    for s in &o.new_shapes {
        lines.push(Line::from(vec![
            Span::styled(format!("   {:<14} ", "new message"), t.muted),
            Span::styled(format!("{}× {}", s.count, inert(&s.shape)), t.text),
        ]));
    }
    if !o.verdict.no_data.is_empty() {
        lines.push(Line::styled(
            format!("   no data: {}", o.verdict.no_data.join(", ")),
            t.warning,
        ));
    }
    lines
}

fn windows_line(state: &State, o: &Outcome) -> String {
    let mut text = format!(
        "   windows of {}: before {} → {}, after {} → {}",
        crate::metrics::units::human_duration(o.window_secs),
        time_of(state, o.before.from * 1000),
        time_of(state, o.before.to * 1000),
        time_of(state, o.after.from * 1000),
        time_of(state, o.after.to * 1000),
    );
    if let Some(why) = &o.partial {
        text.push_str(&format!(" (partial: {})", inert(why)));
    }
    text
}

fn cell_width(wide: bool) -> usize {
    if wide { 36 } else { 24 }
}

/// "mean  spark" (narrow) or "mean / peak  spark" (wide), or "no data".
fn stat_cell(metric: HostMetric, stat: Option<&Stat>, top: f64, wide: bool) -> String {
    let width = cell_width(wide);
    let Some(s) = stat else {
        return format!("{:<width$}", "no data");
    };
    let figure = if wide {
        format!("{} / {}", metric.format(s.mean), metric.format(s.peak))
    } else {
        metric.format(s.mean)
    };
    let spark = sparkline(&s.spark, top);
    let figure_width = width.saturating_sub(spark.chars().count() + 1);
    format!("{figure:<figure_width$} {spark}")
}

fn host_line(
    state: &State,
    metric: HostMetric,
    before: Option<&Stat>,
    after: Option<&Stat>,
    wide: bool,
) -> Line<'static> {
    let t = &state.theme;
    let top = [before, after]
        .into_iter()
        .flatten()
        .map(|s| s.peak)
        .fold(0.0, f64::max);
    Line::from(vec![
        Span::styled(format!("   {:<14} ", metric.label()), t.muted),
        Span::styled(stat_cell(metric, before, top, wide), t.text),
        Span::raw(" "),
        Span::styled(stat_cell(metric, after, top, wide), t.text),
    ])
}

fn error_line(state: &State, o: &Outcome, wide: bool) -> Line<'static> {
    let t = &state.theme;
    let label = Span::styled(format!("   {:<14} ", "errors/min"), t.muted);
    let Some((before, after)) = o.error_rate else {
        return Line::from(vec![
            label,
            Span::styled("no log lines in either window", t.warning),
        ]);
    };
    let top = o
        .error_spark
        .0
        .iter()
        .chain(&o.error_spark.1)
        .flatten()
        .fold(0.0, |a: f64, b| a.max(*b));
    let width = cell_width(wide);
    let cell = |rate: f64, spark: &[Option<f64>]| {
        let spark = sparkline(spark, top);
        let figure_width = width.saturating_sub(spark.chars().count() + 1);
        format!(
            "{:<figure_width$} {spark}",
            crate::outcome::verdict::fmt_rate(rate)
        )
    };
    let mut spans = vec![
        label,
        Span::styled(cell(before, &o.error_spark.0), t.text),
        Span::raw(" "),
        Span::styled(cell(after, &o.error_spark.1), t.text),
    ];
    if wide && let Some(rows) = &o.logs {
        let per_source: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{} {}→{} (warn {}→{})",
                    inert(&r.source),
                    crate::outcome::verdict::fmt_rate(r.errors_per_min.0),
                    crate::outcome::verdict::fmt_rate(r.errors_per_min.1),
                    crate::outcome::verdict::fmt_rate(r.warns_per_min.0),
                    crate::outcome::verdict::fmt_rate(r.warns_per_min.1),
                )
            })
            .collect();
        spans.push(Span::styled(
            format!("  {}", per_source.join(" · ")),
            t.muted,
        ));
    }
    Line::from(spans)
}

fn alerts_line(state: &State, o: &Outcome) -> Option<Line<'static>> {
    let t = &state.theme;
    let a = o.alerts.as_ref()?;
    let names = |v: &[String]| {
        if v.is_empty() {
            "—".to_string()
        } else {
            v.iter().map(|n| inert(n)).collect::<Vec<_>>().join(", ")
        }
    };
    Some(Line::from(vec![
        Span::styled(format!("   {:<14} ", "alerts"), t.muted),
        Span::styled(
            format!(
                "cleared {} · raised {} · active now {}",
                names(&a.cleared),
                names(&a.raised),
                a.still_active
            ),
            t.text,
        ),
    ]))
}

fn seen(s: Option<&ContainerSeen>) -> String {
    match s {
        None => "absent".into(),
        Some(s) => match &s.health {
            Some(h) => format!("{} {}", inert(&s.state), inert(h)),
            None => inert(&s.state),
        },
    }
}

fn container_lines(state: &State, o: &Outcome) -> Vec<Line<'static>> {
    let t = &state.theme;
    let Some(changes) = &o.containers else {
        return Vec::new();
    };
    changes
        .iter()
        .take(5)
        .map(|c: &ContainerChange| {
            let label = if c.targeted {
                format!("{} (named)", inert(&c.name))
            } else {
                inert(&c.name)
            };
            let restarts = match c.restarts {
                0 => String::new(),
                1 => ", restarted once".into(),
                n => format!(", restarted {n} times"),
            };
            Line::from(vec![
                Span::styled(
                    format!("   {:<14} ", super::actions::truncate(&label, 14)),
                    t.muted,
                ),
                Span::styled(
                    format!(
                        "{} → {}{restarts}",
                        seen(c.before.as_ref()),
                        seen(c.after.as_ref())
                    ),
                    t.text,
                ),
            ])
        })
        .collect()
}

/// Block characters scaled to `top` (0 at the bottom); a bucket without
/// points is a space, never a zero.
pub fn sparkline(values: &[Option<f64>], top: f64) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if top <= 0.0 => BARS[0],
            Some(v) => {
                let level = ((v / top) * (BARS.len() - 1) as f64).round();
                BARS[(level.max(0.0) as usize).min(BARS.len() - 1)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_and_say_gaps() {
        assert_eq!(
            sparkline(&[Some(0.0), Some(5.0), Some(10.0), None], 10.0),
            "▁▅█ "
        );
        assert_eq!(sparkline(&[Some(0.0)], 0.0), "▁");
    }
}
