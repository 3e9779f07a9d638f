//! The chart in the Alerts detail: the alert's chart over the last ten
//! minutes, at the alert's own dimensions, with its warn/crit levels where
//! they are in the chart's units. The detail scrolls by rows, so the chart
//! is drawn (a ratatui `Chart`, braille) into a buffer of its own and
//! handed over as rows like the text around it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Widget};

use crate::app::alerts::{CHART_SECONDS, ChartView};
use crate::app::state::State;
use crate::metrics::units::human_duration;
use crate::metrics::{Alert, AlertChart, Threshold};
use crate::text::inert;

/// Rows of the plot itself (axes and labels included).
pub const PLOT_ROWS: u16 = 10;

/// The chart section's rows: a heading, then the chart, or what stands in
/// for it (loading, why there is none).
pub fn rows(state: &State, alert: &Alert, width: usize) -> Vec<Line<'static>> {
    let theme = &state.theme;
    let window = span_label(u64::from(CHART_SECONDS));
    let mut heading = vec![Span::styled(format!(" chart, last {window}"), theme.muted)];
    let mut rows = Vec::new();
    match &state.alerts.chart {
        ChartView::Closed => return rows,
        ChartView::Loading => {
            rows.push(Line::from(heading));
            rows.push(Line::styled(" loading chart…", theme.muted));
        }
        ChartView::Failed(why) => {
            rows.push(Line::from(heading));
            rows.extend(super::detail::wrap(
                &[(format!(" {}", inert(why)), theme.warning)],
                width,
            ));
        }
        ChartView::Shown(chart) => {
            let plotted = plotted(state, alert, chart);
            if !chart.title.is_empty() {
                heading.push(Span::styled(
                    format!(" · {}", inert(&chart.title)),
                    theme.text,
                ));
            }
            rows.push(Line::from(heading));
            if plotted.lines.iter().all(|(_, points, _)| points.is_empty()) {
                rows.push(Line::styled(
                    format!(
                        " the agent has no points of {} in that time",
                        inert(&chart.chart)
                    ),
                    theme.muted,
                ));
                return rows;
            }
            rows.push(legend(state, chart, &plotted, width));
            rows.extend(plot(state, chart, &plotted, width));
        }
    }
    rows
}

/// A line's label, points and style.
type PlotLine = (String, Vec<(f64, f64)>, Style);

/// What is drawn: lines (label, points as (seconds before the window's
/// end, value), style) and the thresholds that fit the scale.
struct Plotted {
    lines: Vec<PlotLine>,
    /// (label, level, style, whether it is inside the drawn scale).
    thresholds: Vec<(String, f64, Style, bool)>,
    low: f64,
    high: f64,
}

fn plotted(state: &State, alert: &Alert, chart: &AlertChart) -> Plotted {
    let theme = &state.theme;
    let styles = [theme.chart_1, theme.chart_2, theme.chart_3, theme.chart_4];
    let x = |t: i64| (t - chart.before) as f64;
    let has_thresholds = alert.rule.warn_at.is_some() || alert.rule.crit_at.is_some();
    let lines: Vec<PlotLine> = if has_thresholds && chart.series.len() > 1 {
        // The check compares the sum of its dimensions: draw that, so the
        // line and the levels speak of the same value.
        let names: Vec<&str> = chart.series.iter().map(|(n, _)| n.as_str()).collect();
        let summed = sum_series(&chart.series)
            .into_iter()
            .map(|(t, v)| (x(t), v))
            .collect();
        vec![(
            format!("{} (summed, as the check does)", inert(&names.join("+"))),
            summed,
            styles[0],
        )]
    } else {
        chart
            .series
            .iter()
            .enumerate()
            .map(|(i, (name, points))| {
                (
                    inert(name),
                    points.iter().map(|(t, v)| (x(*t), *v)).collect(),
                    styles[i % styles.len()],
                )
            })
            .collect()
    };
    let values = lines.iter().flat_map(|(_, p, _)| p.iter().map(|(_, v)| *v));
    let (low, mut high) = values.fold((0.0_f64, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if high == f64::MIN {
        high = 1.0;
    }
    // A level far above the data would flatten it to the floor: it is
    // drawn when it is at most twice the data's top, else only named.
    let mut thresholds = Vec::new();
    for (name, threshold, style) in [
        ("warn", alert.rule.warn_at, theme.warning),
        ("crit", alert.rule.crit_at, theme.critical),
    ] {
        let Some(Threshold { value, above }) = threshold else {
            continue;
        };
        let fits = value <= high.max(f64::EPSILON) * 2.0 && value >= low;
        if fits {
            high = high.max(value);
        }
        let op = if above { ">" } else { "<" };
        thresholds.push((format!("{name} {op} {}", number(value)), value, style, fits));
    }
    if (high - low).abs() < f64::EPSILON {
        high = low + 1.0;
    }
    Plotted {
        lines,
        thresholds,
        low,
        high: high * 1.05,
    }
}

/// Points of all series added up where every series has a value.
fn sum_series(series: &[(String, Vec<(i64, f64)>)]) -> Vec<(i64, f64)> {
    let mut sums: std::collections::BTreeMap<i64, (usize, f64)> = Default::default();
    for (_, points) in series {
        for (t, v) in points {
            let entry = sums.entry(*t).or_default();
            entry.0 += 1;
            entry.1 += v;
        }
    }
    sums.into_iter()
        .filter(|(_, (n, _))| *n == series.len())
        .map(|(t, (_, v))| (t, v))
        .collect()
}

/// Units at most this long go on every y label (`12 %`, `3 KiB/s`);
/// longer ones (`milliseconds`) are said once in the legend.
const AXIS_UNITS_MAX: usize = 6;

fn axis_units(chart: &AlertChart) -> Option<String> {
    let units = inert(&chart.units);
    (!units.is_empty() && units.chars().count() <= AXIS_UNITS_MAX).then_some(units)
}

fn legend(state: &State, chart: &AlertChart, plotted: &Plotted, width: usize) -> Line<'static> {
    let theme = &state.theme;
    let mut fields = Vec::new();
    for (i, (label, _, style)) in plotted.lines.iter().enumerate() {
        fields.push((
            i,
            vec![
                Span::styled(" ━ ", *style),
                Span::styled(label.clone(), theme.text),
            ],
        ));
    }
    for (label, _, style, fits) in &plotted.thresholds {
        let note = if *fits { "" } else { " (off the scale)" };
        fields.push((
            0,
            vec![
                Span::styled(" ┄ ", *style),
                Span::styled(format!("{label}{note}"), *style),
            ],
        ));
    }
    if axis_units(chart).is_none() && !chart.units.is_empty() {
        fields.push((
            0,
            vec![Span::styled(
                format!("  (in {})", inert(&chart.units)),
                theme.muted,
            )],
        ));
    }
    Line::from(super::fit_fields(fields, width))
}

fn plot(state: &State, chart: &AlertChart, plotted: &Plotted, width: usize) -> Vec<Line<'static>> {
    let theme = &state.theme;
    let span = (chart.before - chart.after) as f64;
    let units = axis_units(chart);
    let label = |v: f64| match &units {
        Some(units) => format!("{} {units}", number(v)),
        None => number(v),
    };
    let threshold_lines: Vec<(Vec<(f64, f64)>, Style)> = plotted
        .thresholds
        .iter()
        .filter(|(_, _, _, fits)| *fits)
        .map(|(_, value, style, _)| (vec![(-span, *value), (0.0, *value)], *style))
        .collect();
    let mut datasets: Vec<Dataset> = threshold_lines
        .iter()
        .map(|(points, style)| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(*style)
                .data(points)
        })
        .collect();
    datasets.extend(plotted.lines.iter().map(|(_, points, style)| {
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(*style)
            .data(points)
    }));
    let middle = (plotted.low + plotted.high) / 2.0;
    let half = span_label((span / 2.0) as u64);
    let whole = span_label(span as u64);
    let widget = Chart::new(datasets)
        .legend_position(None)
        .x_axis(
            Axis::default()
                .style(theme.chart_axis)
                .bounds([-span, 0.0])
                .labels([
                    Span::raw(format!("-{whole}")),
                    Span::raw(format!("-{half}")),
                    Span::raw("now"),
                ]),
        )
        .y_axis(
            Axis::default()
                .style(theme.chart_axis)
                .bounds([plotted.low, plotted.high])
                .labels([
                    Span::raw(label(plotted.low)),
                    Span::raw(label(middle)),
                    Span::raw(label(plotted.high)),
                ]),
        );
    let area = Rect::new(0, 0, u16::try_from(width).unwrap_or(u16::MAX), PLOT_ROWS);
    let mut buffer = Buffer::empty(area);
    widget.render(area, &mut buffer);
    buffer_rows(&buffer)
}

/// A buffer's cells as rows of spans, one span per run of one style.
fn buffer_rows(buffer: &Buffer) -> Vec<Line<'static>> {
    let area = buffer.area;
    (area.top()..area.bottom())
        .map(|y| {
            let mut spans: Vec<Span<'static>> = Vec::new();
            let mut run = String::new();
            let mut run_style = Style::default();
            for x in area.left()..area.right() {
                let cell = &buffer[(x, y)];
                let style = cell.style();
                if style != run_style && !run.is_empty() {
                    spans.push(Span::styled(std::mem::take(&mut run), run_style));
                }
                run_style = style;
                run.push_str(cell.symbol());
            }
            if !run.is_empty() {
                spans.push(Span::styled(run, run_style));
            }
            Line::from(spans)
        })
        .collect()
}

/// `10m` rather than `10m00s` for whole minutes.
fn span_label(seconds: u64) -> String {
    if seconds >= 60 && seconds.is_multiple_of(60) && seconds < 3600 {
        format!("{}m", seconds / 60)
    } else {
        human_duration(seconds)
    }
}

/// A value for an axis label: three significant digits at most, no
/// trailing zeros (`0.5`, `12.3`, `1250`).
pub fn number(v: f64) -> String {
    let magnitude = v.abs();
    let text = if magnitude >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else if magnitude >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(1.386), "1.39");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(1250.4), "1250");
        assert_eq!(number(-2.5), "-2.5");
    }

    #[test]
    fn the_sum_counts_only_seconds_every_dimension_has() {
        let series = vec![
            ("user".to_string(), vec![(1, 1.0), (2, 2.0)]),
            ("system".to_string(), vec![(2, 0.5), (3, 9.0)]),
        ];
        assert_eq!(sum_series(&series), vec![(2, 2.5)]);
    }
}

#[cfg(test)]
mod snapshot_tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use crate::action::Action;
    use crate::app::event::AppEvent;
    use crate::app::state::State;
    use crate::app::update::{self, Effect};
    use crate::metrics::{
        Alert, AlertChart, AlertLevel, AlertRule, AlertsEvent, MetricsSource, Threshold,
    };
    use crate::sources::netdata::parse;

    const KEY: &str = "system.load.load_average_1";

    /// The populated state with Netdata live and a load alert whose check
    /// looks up `load1` against plain levels; Enter opened it.
    fn opened(w: u16, h: u16) -> (State, Vec<Effect>) {
        let mut state = crate::testing::populated_state("dark");
        state.metrics.source = Some(MetricsSource::Netdata);
        update::resize(&mut state, w, h);
        let alert = Alert {
            key: KEY.into(),
            name: "load_average_1".into(),
            chart: "system.load".into(),
            level: AlertLevel::Warning,
            value: "1.80 load".into(),
            info: "system fifteen-minute load average".into(),
            since: state.now - 300,
            silenced: false,
            rule: AlertRule {
                units: "load".into(),
                dimensions: Some("load1".into()),
                calc: None,
                warn: Some("$this > (($status >= $WARNING) ? (1.2) : (1.5))".into()),
                crit: Some("$this > 3".into()),
                warn_at: Some(Threshold {
                    value: 1.5,
                    above: true,
                }),
                crit_at: Some(Threshold {
                    value: 3.0,
                    above: true,
                }),
            },
        };
        update::apply_event(
            &mut state,
            AppEvent::Alerts(AlertsEvent::Update(vec![alert])),
        );
        update::apply_action(&mut state, Action::FocusAlerts);
        let outcome = update::handle_key(
            &mut state,
            KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
        );
        (state, outcome.effects)
    }

    /// The recorded load chart of Netdata 1.37 (`load1` only, as asked).
    fn load_chart() -> AlertChart {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/netdata/data-system.load-1.37.json"
        ))
        .expect("fixture");
        let table = parse::data(&body).expect("data");
        let load1 = table
            .rows
            .iter()
            .filter_map(|(t, v)| Some((*t, v.first().copied().flatten()?)))
            .collect();
        AlertChart {
            chart: "system.load".into(),
            title: "System Load Average (system.load)".into(),
            units: "load".into(),
            series: vec![("load1".into(), load1)],
            after: 1_795_446_830 - 600,
            before: 1_795_446_830,
        }
    }

    fn screen(state: &State, w: u16, h: u16) -> (Terminal<TestBackend>, String) {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("backend");
        terminal.draw(|f| crate::ui::draw(f, state)).expect("draw");
        let text = format!("{:?}", terminal.backend());
        (terminal, text)
    }

    #[test]
    fn the_open_alert_draws_its_chart_with_its_levels() {
        for (w, h) in [(80u16, 24u16), (200, 60)] {
            let (mut state, effects) = opened(w, h);
            let Some(Effect::AlertChart(request)) = effects.first() else {
                panic!("Enter asks for the chart: {effects:?}");
            };
            assert_eq!(
                (request.chart.as_str(), request.dimensions.as_deref()),
                ("system.load", Some("load1"))
            );
            let (_, loading) = screen(&state, w, h);
            assert!(loading.contains("loading chart…"), "{loading}");
            update::apply_event(
                &mut state,
                AppEvent::Alerts(AlertsEvent::Chart {
                    key: KEY.into(),
                    chart: Ok(load_chart()),
                }),
            );
            let (terminal, shown) = screen(&state, w, h);
            assert!(!shown.contains("loading chart…"), "{shown}");
            assert!(
                shown.contains("warn > 1.5") && shown.contains("crit > 3"),
                "{shown}"
            );
            assert!(
                shown.contains(" load") && shown.contains("now"),
                "axis labels: {shown}"
            );
            assert!(
                shown
                    .chars()
                    .any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
                "braille points: {shown}"
            );
            insta::assert_snapshot!(format!("alert_chart_{w}x{h}"), terminal.backend());
        }
    }

    #[test]
    fn a_failed_chart_says_why_and_keeps_the_rest_of_the_detail() {
        let (mut state, _) = opened(80, 24);
        update::apply_event(
            &mut state,
            AppEvent::Alerts(AlertsEvent::Chart {
                key: KEY.into(),
                chart: Err("chart gone: system.load is not on the agent now (HTTP 400: Chart is not found: system.load)".into()),
            }),
        );
        let (terminal, shown) = screen(&state, 80, 24);
        assert!(shown.contains("chart gone: system.load"), "{shown}");
        assert!(
            shown.contains("load_average_1") && shown.contains("fifteen-minute"),
            "{shown}"
        );
        insta::assert_snapshot!("alert_chart_failed_80x24", terminal.backend());
    }

    #[test]
    fn with_the_proc_sampler_no_chart_is_asked_for_and_the_detail_says_why() {
        let mut state = crate::testing::populated_state("dark");
        update::resize(&mut state, 80, 24);
        update::apply_action(&mut state, Action::FocusAlerts);
        let outcome = update::handle_key(
            &mut state,
            KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
        );
        assert!(state.alerts.open.is_some());
        assert!(outcome.effects.is_empty(), "{:?}", outcome.effects);
        let (_, shown) = screen(&state, 80, 24);
        assert!(shown.contains("no chart available"), "{shown}");
        assert!(shown.contains("/proc sampler"), "{shown}");
    }

    /// A long unit is said once in the legend, so the y labels do not eat
    /// a quarter of an 80-column chart.
    #[test]
    fn long_units_are_named_once() {
        let (mut state, _) = opened(80, 24);
        let mut chart = load_chart();
        chart.units = "milliseconds".into();
        update::apply_event(
            &mut state,
            AppEvent::Alerts(AlertsEvent::Chart {
                key: KEY.into(),
                chart: Ok(chart),
            }),
        );
        let (_, shown) = screen(&state, 80, 24);
        assert_eq!(shown.matches("milliseconds").count(), 1, "{shown}");
        assert!(shown.contains("(in milliseconds)"), "{shown}");
    }
}
