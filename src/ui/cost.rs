//! The Cost pane: month-to-date traffic and its coverage, both projections,
//! daily bars, and the plan comparison (cheapest highlighted, difference to
//! the current plan).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Paragraph, Row, Table};

use crate::app::state::State;
use crate::cost::CostReport;
use crate::cost::report::{money, signed_cents};
use crate::cost::traffic::Quality;
use crate::metrics::units::human_bytes_decimal as gb;
use crate::text::inert;

/// Below this width the bars sit above the table instead of beside it.
const SIDE_BY_SIDE_WIDTH: u16 = 120;

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    if area.height == 0 {
        return;
    }
    let theme = &state.theme;
    let Some(report) = &state.cost.report else {
        let text = match &state.cost.error {
            Some(e) => Line::styled(format!(" {}", inert(e)), theme.warning),
            None => Line::styled(
                " waiting for traffic totals (month to date from the host's Netdata)…",
                theme.muted,
            ),
        };
        frame.render_widget(Paragraph::new(text), area);
        return;
    };
    let summary = summary_lines(state, report);
    let [top, body] =
        Layout::vertical([Constraint::Length(summary.len() as u16), Constraint::Min(0)])
            .areas(area);
    frame.render_widget(Paragraph::new(summary), top);
    if body.height < 3 {
        return;
    }
    let (bars, table) = if body.width >= SIDE_BY_SIDE_WIDTH {
        // Very wide: the table takes more, for its region and price columns.
        let bars = if body.width >= 180 { 40 } else { 45 };
        let [b, t] = Layout::horizontal([
            Constraint::Percentage(bars),
            Constraint::Percentage(100 - bars),
        ])
        .areas(body);
        (b, t)
    } else {
        let bar_height = (body.height / 3).clamp(3, 8);
        let [b, t] =
            Layout::vertical([Constraint::Length(bar_height), Constraint::Min(0)]).areas(body);
        (b, t)
    };
    draw_bars(frame, bars, state, report);
    draw_table(frame, table, state, report);
}

fn summary_lines(state: &State, r: &CostReport) -> Vec<Line<'static>> {
    let theme = &state.theme;
    // The source asks for the billing period so far; the /proc fallback
    // can only give counters since boot, and says so.
    let so_far = &r.traffic;
    let label = if r.source == "/proc/net/dev" {
        format!(" {} ", r.period.label)
    } else {
        " month to date ".to_string()
    };
    let coverage_style = if so_far.coverage.complete() {
        theme.ok
    } else {
        theme.warning
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(label, theme.muted),
        Span::styled("in ", theme.muted),
        Span::styled(gb(so_far.received), theme.text),
        Span::styled("  out ", theme.muted),
        Span::styled(gb(so_far.sent), theme.text),
        Span::styled("  coverage ", theme.muted),
        Span::styled(so_far.coverage.describe(), coverage_style),
    ])];
    if r.projections.is_empty() {
        lines.push(Line::from(vec![
            Span::styled(" projected     ", theme.muted),
            Span::styled("no data to project from", theme.muted),
        ]));
    }
    for (i, p) in r.projections.iter().enumerate() {
        let label = if i == 0 {
            " projected     "
        } else {
            "               "
        };
        let mut spans = vec![Span::styled(label, theme.muted)];
        match (p.received, p.sent) {
            (Some(rx), Some(tx)) => {
                let (mark, style) = match p.quality {
                    Quality::Rough => ("~", theme.warning),
                    _ => ("", theme.text),
                };
                // Outbound is what plans bill: it goes first, with its spread.
                spans.extend([
                    Span::styled("out ", theme.muted),
                    Span::styled(format!("{mark}{}", gb(tx)), style),
                ]);
                if let (Some(lo), Some(hi)) = (p.sent_low, p.sent_high) {
                    spans.push(Span::styled(format!(" ({})", spread(lo, hi)), theme.muted));
                }
                spans.push(Span::styled(format!("  {}, ", p.basis), theme.muted));
                spans.push(Span::styled(
                    p.describe(),
                    if p.quality == Quality::Rough {
                        theme.warning
                    } else {
                        theme.muted
                    },
                ));
                spans.extend([
                    Span::styled("  in ", theme.muted),
                    Span::styled(format!("{mark}{}", gb(rx)), style),
                ]);
            }
            _ => {
                spans.push(Span::styled(p.describe(), theme.warning));
                spans.push(Span::styled(format!("  {}", p.basis), theme.muted));
            }
        }
        lines.push(Line::from(spans));
    }
    let mut source = vec![
        Span::styled(" billing ", theme.muted),
        Span::styled(format!("{} UTC", r.billing_period.label), theme.text),
        Span::styled("  source ", theme.muted),
        Span::styled(inert(&r.source).to_string(), theme.text),
        Span::styled(
            format!(
                "  updated {}",
                crate::ui::metrics::time_of_day(state, r.generated_at)
            ),
            theme.muted,
        ),
    ];
    if let Some(note) = &r.source_note {
        source.push(Span::styled(format!("  {}", inert(note)), theme.warning));
    }
    lines.push(Line::from(source));
    for note in &r.price_notes {
        lines.push(Line::styled(
            format!(" prices        {}", inert(note)),
            theme.warning,
        ));
    }
    if let Some(error) = &state.cost.error {
        lines.push(Line::styled(
            format!(" last refresh failed: {}", inert(error)),
            theme.warning,
        ));
    }
    let ifaces: Vec<String> = r
        .traffic
        .interfaces
        .iter()
        .map(|i| {
            format!(
                "{} ↓{} ↑{}{}",
                inert(&i.name),
                gb(i.received),
                gb(i.sent),
                if i.counted { "" } else { " (not counted)" }
            )
        })
        .collect();
    if !ifaces.is_empty() {
        lines.push(Line::from(vec![
            Span::styled(" interfaces    ", theme.muted),
            Span::styled(ifaces.join("  "), theme.text),
        ]));
    }
    lines
}

/// `1.32–1.51 TB` (one unit when both share it).
fn spread(lo: f64, hi: f64) -> String {
    let (lo, hi) = (gb(lo), gb(hi));
    match (lo.rsplit_once(' '), hi.rsplit_once(' ')) {
        (Some((l, lu)), Some((h, hu))) if lu == hu => format!("{l}–{h} {hu}"),
        _ => format!("{lo}–{hi}"),
    }
}

fn draw_bars(frame: &mut Frame, area: Rect, state: &State, r: &CostReport) {
    let theme = &state.theme;
    let days = &r.traffic.daily;
    let [title, chart] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let max = days.iter().map(|d| d.sent).fold(0.0, f64::max);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" outbound per day (UTC)", theme.muted),
            Span::styled(format!("  max {}", gb(max)), theme.muted),
        ])),
        title,
    );
    if days.is_empty() || chart.height == 0 {
        return;
    }
    let n = days.len() as u16;
    let bar_width = ((chart.width.saturating_sub(1)) / n.max(1))
        .saturating_sub(1)
        .clamp(1, 5);
    let bars: Vec<Bar> = days
        .iter()
        .map(|d| {
            let label = if bar_width >= 2 {
                d.date.format("%d").to_string()
            } else {
                String::new()
            };
            Bar::default()
                .value((d.sent / 1e3).round().max(0.0) as u64)
                .text_value(String::new())
                .label(Line::from(label))
                .style(theme.chart_1)
        })
        .collect();
    frame.render_widget(
        BarChart::default()
            .data(BarGroup::default().bars(&bars))
            .bar_width(bar_width)
            .bar_gap(1)
            .label_style(theme.muted),
        chart,
    );
}

/// From this width the table also shows each plan's region and price date.
const WIDE_TABLE: u16 = 115;

fn draw_table(frame: &mut Frame, area: Rect, state: &State, r: &CostReport) {
    let theme = &state.theme;
    let wide = area.width >= WIDE_TABLE;
    let mut header = vec!["plan", "to date", "projected", "vs current"];
    if wide {
        header.extend(["region", "price read"]);
    }
    let header = Row::new(header).style(theme.muted);
    let rows: Vec<Row> = r
        .plans
        .iter()
        .map(|p| {
            let mark = match (p.cheapest, p.current) {
                (true, true) => "★●",
                (true, false) => "★ ",
                (false, true) => " ●",
                _ => "  ",
            };
            let stale = if p.stale { "!" } else { " " };
            let style = if p.cheapest {
                theme.ok
            } else if p.current {
                theme.highlight
            } else {
                theme.text
            };
            let mut cells = vec![
                format!("{mark}{stale}{}", inert(&p.period.name)),
                money(p.period.total, &p.period.currency),
                match (&p.projected, p.projected_quality) {
                    (Some(c), Some(Quality::Rough)) => format!("~{}", money(c.total, &c.currency)),
                    (Some(c), _) => money(c.total, &c.currency),
                    (None, Some(Quality::NotEnoughData)) => "no data yet".into(),
                    (None, _) => "-".into(),
                },
                match (p.current, p.vs_current) {
                    (true, _) => "current".into(),
                    (false, Some(d)) => signed_cents(d),
                    (false, None) if r.current_plan.is_some() => "other currency".into(),
                    (false, None) => "-".into(),
                },
            ];
            if wide {
                cells.push(
                    p.region
                        .as_deref()
                        .map(inert)
                        .unwrap_or_default()
                        .to_string(),
                );
                cells.push(match (&p.live, p.stale_mark()) {
                    (Some(_), _) => "live (API)".into(),
                    (None, Some(_)) => format!("{} ! check source", p.date_read),
                    (None, None) => format!("{} {}", p.date_read, p.confidence.label()),
                });
            }
            Row::new(cells).style(style)
        })
        .collect();
    let title = Line::styled(
        " plans this month  ★ cheapest per currency  ● current  ~ rough  ! stale price",
        theme.muted,
    );
    let stale: Vec<String> = r
        .plans
        .iter()
        .filter(|p| p.stale && p.live.is_none())
        .map(|p| format!("{} (read {})", inert(&p.period.plan), p.date_read))
        .collect();
    let footer = if stale.is_empty() { 0 } else { 1 };
    let [t, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(footer),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(title), t);
    let mut widths = vec![
        Constraint::Min(24),
        Constraint::Length(14),
        Constraint::Length(15),
        Constraint::Length(14),
    ];
    if wide {
        widths.extend([Constraint::Length(13), Constraint::Length(25)]);
    }
    frame.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        body,
    );
    if footer > 0 {
        frame.render_widget(
            Paragraph::new(Line::styled(
                format!(" ! check source: {}", stale.join(", ")),
                theme.warning,
            )),
            foot,
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::action::Action;
    use crate::app::update;
    use crate::cost::CostEvent;
    use crate::cost::report::fixture_report;
    use crate::testing::{FIXTURE_NOW, fixture_state};
    use crate::ui::snapshots::render;

    fn cost_state(w: u16, h: u16) -> crate::app::state::State {
        let mut state = fixture_state("dark");
        update::resize(&mut state, w, h);
        update::apply_action(&mut state, Action::FocusCost);
        update::apply_action(&mut state, Action::Maximise);
        state
    }

    #[test]
    fn cost_pane_snapshots() {
        for (w, h) in [(80, 24), (200, 60)] {
            let mut state = cost_state(w, h);
            update::apply_event(
                &mut state,
                crate::app::event::AppEvent::Cost(CostEvent::Report(Box::new(fixture_report(
                    FIXTURE_NOW,
                )))),
            );
            let terminal = render(&state, w, h);
            let text = format!("{}", terminal.backend());
            assert!(text.contains("6.0 hours missing"), "{text}");
            insta::assert_snapshot!(format!("cost_{w}x{h}"), terminal.backend());
        }
    }

    #[test]
    fn cost_pane_before_data_and_on_error() {
        let mut state = cost_state(80, 24);
        let text = format!("{}", render(&state, 80, 24).backend());
        assert!(text.contains("waiting for traffic totals"), "{text}");
        update::apply_event(
            &mut state,
            crate::app::event::AppEvent::Cost(CostEvent::Error("Netdata: refused".into())),
        );
        let text = format!("{}", render(&state, 80, 24).backend());
        assert!(text.contains("Netdata: refused"), "{text}");
        // A report keeps showing when a later refresh fails, with a note.
        update::apply_event(
            &mut state,
            crate::app::event::AppEvent::Cost(CostEvent::Report(Box::new(fixture_report(
                FIXTURE_NOW,
            )))),
        );
        update::apply_event(
            &mut state,
            crate::app::event::AppEvent::Cost(CostEvent::Error("timed out".into())),
        );
        let text = format!("{}", render(&state, 80, 24).backend());
        assert!(text.contains("1.07 TB"), "{text}");
        assert!(text.contains("last refresh failed: timed out"), "{text}");
    }

    #[test]
    fn thin_data_and_price_fallbacks_are_said_not_hidden() {
        let mut state = cost_state(120, 40);
        let mut report = fixture_report(FIXTURE_NOW);
        // As if the agent had only 10 minutes of data.
        let week = report.projections[1].clone();
        report.projections[1] = crate::cost::traffic::Projection {
            quality: crate::cost::traffic::Quality::NotEnoughData,
            received: None,
            sent: None,
            sent_low: None,
            sent_high: None,
            covered_secs: 600,
            stands_on: "from 10 min of data".into(),
            reason: Some("10 min of data, needs 6.0 days of the last 7".into()),
            ..week
        };
        report.price_notes = vec!["the Hetzner Cloud API refused the token in $HCLOUD_TOKEN (401 Unauthorized); hetzner-cx23 priced from the shipped file (read 2026-09-14)".into()];
        update::apply_event(
            &mut state,
            crate::app::event::AppEvent::Cost(CostEvent::Report(Box::new(report))),
        );
        let text = format!("{}", render(&state, 120, 40).backend());
        assert!(
            text.contains(
                "not enough data to project (10 min of data, needs 6.0 days of the last 7)"
            ),
            "{text}"
        );
        assert!(
            text.contains("refused the token in $HCLOUD_TOKEN (401"),
            "{text}"
        );
        assert!(text.contains("2025-05-07 ! check source"), "{text}");
    }
}
