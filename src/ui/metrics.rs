//! The Metrics pane. Small areas get one row per metric with a block
//! sparkline; large ones get braille charts with axes. Either way CPU,
//! memory, network, disk I/O and load come first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::app::state::State;
use crate::metrics::units::human_bytes;
use crate::metrics::{SeriesStore, Unit, names};
use unicode_width::UnicodeWidthStr;

/// Charts need this much room each; below it the compact rows are used.
const CHART_MIN_HEIGHT: u16 = 18;
const CHART_MIN_WIDTH: u16 = 90;

/// Draws the pane; the charts come from `cache` when nothing they are
/// drawn from changed since it kept them.
pub fn draw(frame: &mut Frame, area: Rect, state: &State, cache: &mut super::cache::FrameCache) {
    if area.height == 0 {
        return;
    }
    let [status, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(Paragraph::new(status_line(state)), status);
    if state.metrics.store.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                " waiting for the first sample…",
                state.theme.muted,
            )),
            body,
        );
        return;
    }
    if body.height >= CHART_MIN_HEIGHT && body.width >= CHART_MIN_WIDTH {
        let key = super::cache::ChartsKey::of(state, body);
        cache.charts(frame, key, |frame| draw_charts(frame, body, state));
    } else {
        draw_rows(frame, body, state);
    }
}

fn status_line(state: &State) -> Line<'static> {
    let theme = &state.theme;
    let m = &state.metrics;
    let mut spans = vec![
        Span::styled(" source ", theme.muted),
        Span::styled(crate::text::inert(&m.source_note), theme.text),
        Span::styled(
            format!("  window {}", window_label(m.window_secs)),
            theme.muted,
        ),
    ];
    if let Some(cpus) = m.cpu_count {
        spans.push(Span::styled(format!("  {cpus} CPUs"), theme.muted));
    }
    if let Some(since) =
        crate::app::freshness::pane_stale_since(state, crate::action::PaneId::Metrics)
    {
        spans.push(Span::styled(
            format!("  stale since {}", time_of_day(state, since)),
            theme.stale,
        ));
    }
    Line::from(spans)
}

pub fn window_label(secs: i64) -> String {
    format!("{}m", secs / 60)
}

/// `HH:MM:SS` of unix seconds.
pub fn time_of_day(state: &State, t: i64) -> String {
    super::format_time(state, t * 1000, "%H:%M:%S")
}

/// One compact row: label, current value, sparkline, peak.
struct Row {
    label: &'static str,
    series: &'static str,
    value: String,
    /// Top of the sparkline scale (None: the window's maximum).
    scale: Option<f64>,
    style: Style,
}

fn rows(state: &State) -> Vec<Row> {
    let store = &state.metrics.store;
    let theme = &state.theme;
    let latest = |name: &str| store.latest(name);
    let mut rows = Vec::new();
    if let Some(cpu) = latest(names::CPU_TOTAL) {
        rows.push(Row {
            label: "CPU",
            series: names::CPU_TOTAL,
            value: format!("{cpu:5.1}%"),
            scale: Some(100.0),
            style: theme.chart_1,
        });
    }
    if let (Some(used), Some(total)) = (latest(names::MEM_USED), latest(names::MEM_TOTAL)) {
        rows.push(Row {
            label: "Mem",
            series: names::MEM_USED,
            value: format!("{} / {}", human_bytes(used), human_bytes(total)),
            // Against what is used, not total RAM: 540 MiB of 23.5 GiB
            // would be a flat line.
            scale: Some(used_scale(
                store,
                names::MEM_USED,
                state.now,
                state.metrics.window_secs,
            )),
            style: theme.chart_2,
        });
    }
    if let (Some(used), Some(total)) = (latest(names::SWAP_USED), latest(names::SWAP_TOTAL))
        && total > 0.0
    {
        rows.push(Row {
            label: "Swap",
            series: names::SWAP_USED,
            value: format!("{} / {}", human_bytes(used), human_bytes(total)),
            scale: Some(total),
            style: theme.chart_2,
        });
    }
    for (label, series, style) in [
        ("Net ↓", names::NET_RX, theme.chart_4),
        ("Net ↑", names::NET_TX, theme.chart_3),
        ("Disk R", names::DISK_READ, theme.chart_1),
        ("Disk W", names::DISK_WRITE, theme.chart_3),
    ] {
        if let Some(v) = latest(series) {
            let value = if series.starts_with("net") {
                Unit::BitsPerSec.format(v)
            } else {
                Unit::BytesPerSec.format(v)
            };
            rows.push(Row {
                label,
                series,
                value,
                scale: None,
                style,
            });
        }
    }
    if let Some(l1) = latest(names::LOAD1) {
        let l5 = latest(names::LOAD5).unwrap_or(0.0);
        let l15 = latest(names::LOAD15).unwrap_or(0.0);
        let cpus = state.metrics.cpu_count.unwrap_or(1) as f64;
        rows.push(Row {
            label: "Load",
            series: names::LOAD1,
            value: format!("{l1:.2} {l5:.2} {l15:.2}"),
            scale: Some(cpus),
            style: theme.chart_3,
        });
    }
    // Below the five a user expects first: shown where rows are left.
    if let Some(tcp) = latest(names::TCP_ESTABLISHED) {
        rows.push(Row {
            label: "TCP",
            series: names::TCP_ESTABLISHED,
            value: format!("{tcp:.0} established"),
            scale: None,
            style: theme.chart_4,
        });
    }
    rows
}

fn draw_rows(frame: &mut Frame, area: Rect, state: &State) {
    let theme = &state.theme;
    let value_width = 22usize;
    let label_width = 7usize;
    let spark_width = usize::from(area.width).saturating_sub(label_width + value_width + 2);
    let lines: Vec<Line> = rows(state)
        .into_iter()
        .take(usize::from(area.height))
        .map(|row| {
            let spark = sparkline(
                &state.metrics.store,
                row.series,
                state.now,
                state.metrics.window_secs,
                spark_width,
                row.scale,
            );
            Line::from(vec![
                Span::styled(
                    format!(" {:<w$}", row.label, w = label_width - 1),
                    theme.muted,
                ),
                Span::styled(
                    format!("{:>w$} ", row.value, w = value_width - 1),
                    theme.text,
                ),
                Span::styled(spark, row.style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

const BLOCKS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A block-character sparkline of `width` columns over the window; each
/// column shows the highest value of its time slice, so short spikes stay
/// visible at any width.
pub fn sparkline(
    store: &SeriesStore,
    series: &str,
    now: i64,
    window: i64,
    width: usize,
    scale: Option<f64>,
) -> String {
    let Some(s) = store.get(series) else {
        return " ".repeat(width);
    };
    if width == 0 {
        return String::new();
    }
    let mut columns = vec![None::<f64>; width];
    for p in s.window(now, window) {
        let age = now - p.t; // 0 ..= window-1
        let col =
            width - 1 - ((age.max(0) as usize * width) / window.max(1) as usize).min(width - 1);
        columns[col] = Some(columns[col].map_or(p.v, |c: f64| c.max(p.v)));
    }
    let top = scale
        .unwrap_or_else(|| columns.iter().flatten().copied().fold(0.0, f64::max))
        .max(f64::EPSILON);
    columns
        .into_iter()
        .map(|c| match c {
            None => ' ',
            Some(v) => {
                let level = ((v / top).clamp(0.0, 1.0) * 8.0).round() as usize;
                // A non-zero value always shows at least the lowest block.
                BLOCKS[if v > 0.0 { level.max(1) } else { 0 }]
            }
        })
        .collect()
}

/// The top of a memory scale: the window's highest use with a quarter of
/// headroom, so what is used fills the chart instead of hugging its floor.
fn used_scale(store: &SeriesStore, series: &str, now: i64, window: i64) -> f64 {
    store
        .get(series)
        .and_then(|s| s.min_max(now, window))
        .map_or(1024.0, |(_, hi)| (hi * 1.25).max(1024.0))
}

/// A chart: title, series to plot (name, label, style), unit and fixed top.
struct ChartSpec {
    title: &'static str,
    lines: Vec<(&'static str, &'static str, Style)>,
    unit: Unit,
    top: Option<f64>,
    /// Values named in the title but not plotted (name, label).
    legend_only: Vec<(&'static str, &'static str)>,
}

fn chart_specs(state: &State) -> Vec<ChartSpec> {
    let t = &state.theme;
    let store = &state.metrics.store;
    let mem_scale = used_scale(store, names::MEM_USED, state.now, state.metrics.window_secs);
    let cpus = state.metrics.cpu_count.unwrap_or(1) as f64;
    vec![
        ChartSpec {
            title: "CPU",
            lines: vec![
                (names::CPU_TOTAL, "total", t.chart_1),
                (names::CPU_USER, "user", t.chart_4),
                (names::CPU_SYSTEM, "system", t.chart_2),
                (names::CPU_IOWAIT, "iowait", t.chart_3),
            ],
            unit: Unit::Percent,
            top: Some(100.0),
            legend_only: Vec::new(),
        },
        ChartSpec {
            title: "Memory",
            lines: vec![
                (names::MEM_USED, "used", t.chart_2),
                (names::SWAP_USED, "swap", t.chart_3),
            ],
            unit: Unit::Bytes,
            top: Some(mem_scale),
            legend_only: vec![(names::MEM_AVAILABLE, "avail"), (names::MEM_TOTAL, "of")],
        },
        ChartSpec {
            title: "Network",
            lines: vec![
                (names::NET_RX, "↓", t.chart_4),
                (names::NET_TX, "↑", t.chart_3),
            ],
            unit: Unit::BitsPerSec,
            top: None,
            legend_only: Vec::new(),
        },
        ChartSpec {
            title: "Disk I/O",
            lines: vec![
                (names::DISK_READ, "read", t.chart_1),
                (names::DISK_WRITE, "write", t.chart_3),
            ],
            unit: Unit::BytesPerSec,
            top: None,
            legend_only: Vec::new(),
        },
        ChartSpec {
            title: "Load",
            lines: vec![
                (names::LOAD1, "1m", t.chart_3),
                (names::LOAD5, "5m", t.chart_2),
                (names::LOAD15, "15m", t.chart_1),
            ],
            unit: Unit::Load,
            top: Some(cpus),
            legend_only: Vec::new(),
        },
    ]
}

/// The maximised pane has room for a fourth row: disk space per mount and
/// TCP connections, when the source gives them (Netdata does).
const EXTRA_ROW_MIN_HEIGHT: u16 = 32;

fn draw_charts(frame: &mut Frame, area: Rect, state: &State) {
    let specs = chart_specs(state);
    let store = &state.metrics.store;
    let has_disk_space = store.names_with_prefix("disk_space.").next().is_some();
    let has_tcp = store.get(names::TCP_ESTABLISHED).is_some();
    let extra_row = state.layout.maximised
        && area.height >= EXTRA_ROW_MIN_HEIGHT
        && (has_disk_space || has_tcp);
    let row_count: u32 = if extra_row { 4 } else { 3 };
    let row_areas =
        Layout::vertical(vec![Constraint::Ratio(1, row_count); row_count as usize]).split(area);
    let mut cells = Vec::new();
    for row in row_areas.iter() {
        let [l, r] = Layout::horizontal([Constraint::Ratio(1, 2); 2]).areas(*row);
        cells.push(l);
        cells.push(r);
    }
    for (spec, cell) in specs.iter().zip(&cells) {
        draw_chart(frame, *cell, state, spec);
    }
    if let Some(cell) = cells.get(specs.len()) {
        draw_cores(frame, *cell, state);
    }
    if extra_row {
        if let Some(cell) = cells.get(specs.len() + 1) {
            draw_disk_space(frame, *cell, state);
        }
        if has_tcp && let Some(cell) = cells.get(specs.len() + 2) {
            let spec = ChartSpec {
                title: "TCP connections",
                lines: vec![(names::TCP_ESTABLISHED, "established", state.theme.chart_4)],
                unit: Unit::Count,
                top: None,
                legend_only: Vec::new(),
            };
            draw_chart(frame, *cell, state, &spec);
        }
    }
}

/// Used space per mount as bars (used / (used + available), as `df` shows).
fn draw_disk_space(frame: &mut Frame, area: Rect, state: &State) {
    let theme = &state.theme;
    let store = &state.metrics.store;
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.border)
        .title(Span::styled(" Disk space ", theme.title_focused));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut mounts: Vec<(String, f64, f64)> = store
        .names_with_prefix("disk_space.")
        .filter_map(|name| {
            let mount = name.strip_prefix("disk_space.")?.strip_suffix(".used")?;
            let used = store.latest(name)?;
            let avail = store.latest(&names::disk_space_avail(mount))?;
            (used + avail > 0.0).then(|| (crate::text::inert(mount), used, avail))
        })
        .collect();
    mounts.sort_by(|a, b| a.0.cmp(&b.0));
    let label_width = mounts
        .iter()
        .map(|m| m.0.width())
        .max()
        .unwrap_or(1)
        .min(20);
    let value_width = 24;
    let bar_width = usize::from(inner.width).saturating_sub(label_width + value_width + 12);
    let lines: Vec<Line> = mounts
        .iter()
        .take(usize::from(inner.height))
        .map(|(mount, used, avail)| {
            let pct = used * 100.0 / (used + avail);
            let filled = ((pct / 100.0) * bar_width as f64).round() as usize;
            let filled = filled.min(bar_width);
            let style = if pct >= 90.0 {
                theme.critical
            } else if pct >= 80.0 {
                theme.warning
            } else {
                theme.chart_2
            };
            let label: String = mount.chars().take(label_width).collect();
            Line::from(vec![
                Span::styled(
                    format!(" {label}{} ", " ".repeat(label_width - label.width())),
                    theme.muted,
                ),
                Span::styled("█".repeat(filled), style),
                Span::styled("·".repeat(bar_width - filled), theme.chart_axis),
                Span::styled(format!(" {pct:5.1}% "), theme.text),
                Span::styled(
                    format!(
                        "{:>w$}",
                        format!("{} / {}", human_bytes(*used), human_bytes(used + avail)),
                        w = value_width
                    ),
                    theme.muted,
                ),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_chart(frame: &mut Frame, area: Rect, state: &State, spec: &ChartSpec) {
    let theme = &state.theme;
    let store = &state.metrics.store;
    let (now, window) = (state.now, state.metrics.window_secs);
    // Each series as runs of points without a gap: a line is drawn only
    // between neighbours, never across a time nothing arrived.
    let mut data: Vec<(Vec<Run>, Style)> = Vec::new();
    // Title fields in the order drawn, each with its priority (0 first).
    let mut fields: Vec<(usize, Vec<Span<'static>>)> = Vec::new();
    let mut peak: f64 = 0.0;
    for (i, (series, label, style)) in spec.lines.iter().enumerate() {
        let Some(s) = store.get(series) else { continue };
        let runs = gapless_runs(s.window(now, window), now);
        peak = runs.iter().flatten().map(|p| p.1).fold(peak, f64::max);
        if let Some(latest) = s.latest() {
            fields.push((
                i,
                vec![
                    Span::styled(format!(" {label} "), *style),
                    Span::styled(spec.unit.format(latest.v), theme.text),
                ],
            ));
            // Min and max of the main line only, and dropped first.
            if i == 0 {
                let (lo, hi) = s.min_max(now, window).unwrap_or((latest.v, latest.v));
                fields.push((
                    usize::MAX,
                    vec![Span::styled(
                        format!(" ({}–{})", spec.unit.format(lo), spec.unit.format(hi)),
                        theme.muted,
                    )],
                ));
            }
        }
        data.push((runs, *style));
    }
    for (j, (series, label)) in spec.legend_only.iter().enumerate() {
        if let Some(v) = store.latest(series) {
            fields.push((
                spec.lines.len() + j,
                vec![Span::styled(
                    format!(" {label} {}", spec.unit.format(v)),
                    theme.muted,
                )],
            ));
        }
    }
    let top = spec.top.unwrap_or(peak).max(peak).max(match spec.unit {
        Unit::Percent => 1.0,
        Unit::Load | Unit::Count => 1.0,
        _ => 1024.0,
    });
    let runs = data
        .iter()
        .flat_map(|(runs, style)| runs.iter().map(move |run| (run, style)))
        .map(|(points, style)| (points.as_slice(), style.fg.unwrap_or(Color::Reset)))
        .collect();
    let name = Span::styled(format!(" {} ", spec.title), theme.title_focused);
    let title = fit_title(name, fields, usize::from(area.width));
    let chart = super::line_chart::LineChart {
        block: Block::default()
            .borders(Borders::TOP)
            .border_style(theme.border)
            .title(title),
        axis_style: theme.chart_axis,
        x_bounds: [-(window as f64), 0.0],
        x_labels: [
            Span::raw(format!("-{}", window_label(window))),
            Span::raw("now"),
        ],
        y_bounds: [0.0, top],
        y_labels: [Span::raw("0"), Span::raw(spec.unit.format(top))],
        strokes: runs,
    };
    frame.render_widget(chart, area);
}

/// Chart points without a gap: (seconds before now, value).
type Run = Vec<(f64, f64)>;

/// Seconds between two points beyond which they are not joined: the
/// per-second sources' stale limit (3 missed samples).
const GAP_SECS: i64 = crate::app::freshness::MISSED_CADENCES;

/// Splits points (oldest first) into runs wherever more than [`GAP_SECS`]
/// passed between neighbours; x is seconds before `now`.
fn gapless_runs(points: impl Iterator<Item = crate::metrics::series::Point>, now: i64) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    let mut previous: Option<i64> = None;
    for p in points {
        if previous.is_none_or(|t| p.t - t > GAP_SECS) {
            runs.push(Vec::new());
        }
        if let Some(run) = runs.last_mut() {
            run.push(((p.t - now) as f64, p.v));
        }
        previous = Some(p.t);
    }
    runs
}

/// The chart's name and as many whole fields as fit in `width` columns
/// (see [`super::fit_fields`]): a value is dropped, never cut mid-value
/// (`iowait 0.` then the next chart's title).
fn fit_title(
    name: Span<'static>,
    fields: Vec<(usize, Vec<Span<'static>>)>,
    width: usize,
) -> Line<'static> {
    let room = width.saturating_sub(name.content.width() + 1);
    let mut spans = vec![name];
    spans.extend(super::fit_fields(fields, room));
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// Per-core CPU as horizontal bars.
fn draw_cores(frame: &mut Frame, area: Rect, state: &State) {
    let theme = &state.theme;
    let store = &state.metrics.store;
    let mut cores: Vec<(usize, f64)> = store
        .names_with_prefix("cpu.core.")
        .filter_map(|name| {
            Some((
                name.strip_prefix("cpu.core.")?.parse().ok()?,
                store.latest(name)?,
            ))
        })
        .collect();
    cores.sort_by_key(|(n, _)| *n);
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.border)
        .title(Span::styled(" CPU per core ", theme.title_focused));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let per_column = usize::from(inner.height).max(1);
    let columns = cores.len().div_ceil(per_column).max(1);
    let col_width = usize::from(inner.width) / columns;
    let bar_width = col_width.saturating_sub(12);
    let mut lines: Vec<Line> = vec![Line::default(); per_column.min(cores.len())];
    for (i, (core, pct)) in cores.iter().enumerate() {
        let filled = ((pct / 100.0) * bar_width as f64).round() as usize;
        let style = if *pct >= 90.0 {
            theme.critical
        } else if *pct >= 70.0 {
            theme.warning
        } else {
            theme.chart_1
        };
        let line = &mut lines[i % per_column];
        line.spans
            .push(Span::styled(format!("{core:>3} "), theme.muted));
        line.spans
            .push(Span::styled("█".repeat(filled.min(bar_width)), style));
        line.spans.push(Span::styled(
            "·".repeat(bar_width - filled.min(bar_width)),
            theme.chart_axis,
        ));
        line.spans
            .push(Span::styled(format!(" {pct:5.1}% "), theme.text));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_keeps_spikes_and_scales() {
        let mut store = SeriesStore::new(600);
        for t in 0..60 {
            store.push("x", Unit::Percent, t, if t == 30 { 100.0 } else { 0.0 });
        }
        let line = sparkline(&store, "x", 59, 60, 10, Some(100.0));
        assert_eq!(line.chars().count(), 10);
        assert_eq!(line.chars().filter(|c| *c == '█').count(), 1, "{line:?}");
        // Auto scale: the max is a full block.
        let mut store = SeriesStore::new(600);
        store.push("y", Unit::BytesPerSec, 59, 5.0);
        assert!(sparkline(&store, "y", 59, 60, 4, None).ends_with('█'));
    }

    /// What only Netdata gives: disk space per mount and TCP connections,
    /// in the maximised view (fourth chart row) and the compact rows.
    #[test]
    fn netdata_extras_when_maximised() {
        use crate::action::Action;
        use crate::app::update;
        use crate::testing::{FIXTURE_NOW, fixture_state};
        let gib = 1024.0 * 1024.0 * 1024.0;
        for (w, h) in [(80u16, 24u16), (200, 60)] {
            let mut state = fixture_state("dark");
            update::resize(&mut state, w, h);
            let store = &mut state.metrics.store;
            for t in (FIXTURE_NOW - 600)..=FIXTURE_NOW {
                let x = (t - FIXTURE_NOW) as f64;
                store.push(
                    names::TCP_ESTABLISHED,
                    Unit::Count,
                    t,
                    40.0 + (x / 30.0).sin() * 10.0,
                );
                for (mount, used, avail) in [
                    ("/", 21.0, 70.0),
                    ("/var/lib/docker", 88.0, 4.0),
                    ("/boot", 0.2, 0.8),
                ] {
                    store.push(&names::disk_space_used(mount), Unit::Bytes, t, used * gib);
                    store.push(&names::disk_space_avail(mount), Unit::Bytes, t, avail * gib);
                }
            }
            update::apply_action(&mut state, Action::Maximise);
            let mut terminal =
                ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).expect("terminal");
            terminal.draw(|f| crate::ui::draw(f, &state)).expect("draw");
            let text = format!("{:?}", terminal.backend());
            if w == 200 {
                assert!(
                    text.contains("Disk space") && text.contains("/var/lib/docker"),
                    "{text}"
                );
                assert!(text.contains("TCP connections"), "{text}");
            } else {
                assert!(text.contains("TCP"), "{text}");
            }
            insta::assert_snapshot!(
                format!("netdata_extras_maximised_{w}x{h}"),
                terminal.backend()
            );
        }
    }

    #[test]
    fn chart_lines_are_not_joined_across_a_gap() {
        use crate::metrics::Point;
        let at = |t: i64| Point { t, v: t as f64 };
        // Per second, a 2 s hole (still joined), then a minute without data.
        let points = [at(100), at(101), at(103), at(104), at(170), at(171)];
        let runs = gapless_runs(points.into_iter(), 171);
        assert_eq!(
            runs,
            vec![
                vec![
                    (-71.0, 100.0),
                    (-70.0, 101.0),
                    (-68.0, 103.0),
                    (-67.0, 104.0)
                ],
                vec![(-1.0, 170.0), (0.0, 171.0)],
            ]
        );
        assert!(gapless_runs(std::iter::empty(), 0).is_empty());
    }

    #[test]
    fn sparkline_of_missing_series_is_blank() {
        assert_eq!(
            sparkline(&SeriesStore::new(10), "nope", 0, 60, 3, None),
            "   "
        );
    }
}

#[cfg(test)]
mod title_tests {
    use super::*;

    fn fields() -> Vec<(usize, Vec<Span<'static>>)> {
        vec![
            (0, vec![Span::raw(" total "), Span::raw("12.5%")]),
            (usize::MAX, vec![Span::raw(" (1.0%–80.0%)")]),
            (1, vec![Span::raw(" user "), Span::raw("8.0%")]),
            (2, vec![Span::raw(" iowait "), Span::raw("0.5%")]),
        ]
    }

    #[test]
    fn a_title_drops_whole_fields_never_part_of_one() {
        let name = || Span::raw(" CPU ");
        let wide = fit_title(name(), fields(), 200).to_string();
        assert_eq!(
            wide,
            " CPU  total 12.5% (1.0%–80.0%) user 8.0% iowait 0.5% "
        );
        // The range goes first, then the last series.
        let narrower = fit_title(name(), fields(), 42).to_string();
        assert_eq!(narrower, " CPU  total 12.5% user 8.0% iowait 0.5% ");
        let narrow = fit_title(name(), fields(), 30).to_string();
        assert_eq!(narrow, " CPU  total 12.5% user 8.0% ");
        for width in 0..60 {
            let title = fit_title(name(), fields(), width).to_string();
            assert!(
                !title.contains("0.") || title.contains('%'),
                "cut mid-value at {width}: {title:?}"
            );
            assert!(title.width() <= width.max(6), "{width}: {title:?}");
        }
    }
}
