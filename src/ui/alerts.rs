//! The Alerts pane: raised alerts of the host's health checks, critical
//! first, with chart, value, how long ago they were raised and the agent's
//! explanation. Filterable with `/`, scrollable; narrow panes show the
//! explanation of the selected alert on the last line instead of a column.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

use crate::action::PaneId;
use crate::app::alerts::{level_label, visible};
use crate::app::state::State;
use crate::metrics::Alert;
use crate::metrics::AlertLevel;
use crate::metrics::units::human_duration;
use crate::text::inert;

/// From this width on, chart and info get their own columns.
const WIDE: u16 = 100;

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    if area.height == 0 || area.width < 10 {
        return;
    }
    let theme = &state.theme;
    let a = &state.alerts;
    let list = state.list(PaneId::Alerts);
    if !a.available && a.alerts.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(format!(" {}", inert(&a.note)), theme.muted))
                .wrap(Wrap { trim: false }),
            area,
        );
        return;
    }
    let shown = visible(&a.alerts, &list.filter);
    let [status, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(Paragraph::new(status_line(state, shown.len())), status);
    if a.alerts.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(" ✓ no raised alerts", theme.ok)),
            body,
        );
        return;
    }
    if shown.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                format!(" no alert matches /{}", inert(&list.filter)),
                theme.muted,
            )),
            body,
        );
        return;
    }
    let wide = area.width >= WIDE;
    // Narrow: the last line explains the selected alert.
    let (table, detail) = if !wide && body.height >= 4 {
        let [t, d] = Layout::vertical([Constraint::Min(0), Constraint::Length(2)]).areas(body);
        (t, Some(d))
    } else {
        (body, None)
    };
    let selected = list.selected.min(shown.len() - 1);
    let rows = usize::from(table.height.saturating_sub(1)).max(1);
    // Keep the selection in view.
    let first = selected.saturating_sub(rows - 1);
    let widths = Columns::for_width(usize::from(table.width), wide);
    let mut lines = vec![widths.header(theme.muted)];
    for (i, alert) in shown.iter().enumerate().skip(first).take(rows) {
        lines.push(widths.row(state, alert, i == selected));
    }
    frame.render_widget(Paragraph::new(lines), table);
    if let Some(area) = detail {
        let alert = shown[selected];
        let text = format!(
            " {} › {}: {}",
            inert(&alert.chart),
            inert(&alert.name),
            inert(&alert.info)
        );
        frame.render_widget(
            Paragraph::new(Line::styled(text, theme.text)).wrap(Wrap { trim: false }),
            area,
        );
    }
}

/// The rows of the alert opened with Enter (drawn by `ui::detail` over the
/// body): every field on its own row, long values and the info text whole
/// and wrapped, so nothing is cut at 80 columns.
pub fn open_rows(state: &State, key: &str, width: usize) -> Vec<Line<'static>> {
    use super::detail::{field_rows, wrap};
    let theme = &state.theme;
    let Some(alert) = state.alerts.alerts.iter().find(|a| a.key == key) else {
        return vec![Line::styled(" this alert is no longer raised", theme.muted)];
    };
    let level_style = match alert.level {
        AlertLevel::Critical => theme.critical,
        AlertLevel::Warning => theme.warning,
    };
    let age = human_duration(state.now.saturating_sub(alert.since).max(0) as u64);
    let since = format!(
        "{} ({age} ago)",
        crate::ui::metrics::time_of_day(state, alert.since)
    );
    let mut name = vec![(inert(&alert.name), theme.title_focused)];
    if alert.silenced {
        name.push((" (silenced)".to_string(), theme.muted));
    }
    let value = if alert.value.is_empty() {
        ("none reported".to_string(), theme.muted)
    } else {
        (inert(&alert.value), theme.text)
    };
    let fields = [
        ("alert", name),
        (
            "level",
            vec![(level_label(alert.level).to_string(), level_style)],
        ),
        ("since", vec![(since, theme.text)]),
        ("value", vec![value]),
        ("chart", vec![(inert(&alert.chart), theme.text)]),
    ];
    let mut rows = Vec::new();
    for (label, value) in fields {
        rows.extend(field_rows(
            &format!(" {label}"),
            8,
            theme.muted,
            &value,
            width,
        ));
    }
    // The chart right under the facts: at 80×24 it is on the first screen.
    let chart = super::alert_chart::rows(state, alert, width);
    if !chart.is_empty() {
        rows.push(Line::default());
        rows.extend(chart);
    }
    rows.push(Line::default());
    rows.push(Line::styled(" info", theme.muted));
    let info = if alert.info.is_empty() {
        (" the agent gave no explanation".to_string(), theme.muted)
    } else {
        (format!(" {}", inert(&alert.info)), theme.text)
    };
    rows.extend(wrap(&[info], width));
    rows.extend(rule_rows(state, alert, width));
    rows
}

/// The check's expressions (what raises it), when the agent gave them.
fn rule_rows(state: &State, alert: &Alert, width: usize) -> Vec<Line<'static>> {
    use super::detail::field_rows;
    let theme = &state.theme;
    let rule = &alert.rule;
    let expressions = [
        ("looks up", rule.dimensions.as_ref()),
        ("calc", rule.calc.as_ref()),
        ("warn when", rule.warn.as_ref()),
        ("crit when", rule.crit.as_ref()),
    ];
    let mut rows = Vec::new();
    for (label, expression) in expressions {
        let Some(expression) = expression else {
            continue;
        };
        if rows.is_empty() {
            rows.push(Line::default());
        }
        rows.extend(field_rows(
            &format!(" {label}"),
            10,
            theme.muted,
            &[(inert(expression), theme.text)],
            width,
        ));
    }
    rows
}

fn status_line(state: &State, shown: usize) -> Line<'static> {
    let theme = &state.theme;
    let a = &state.alerts;
    let crit = a
        .alerts
        .iter()
        .filter(|x| x.level == AlertLevel::Critical)
        .count();
    let warn = a.alerts.len() - crit;
    let mut spans = vec![
        Span::styled(" raised ", theme.muted),
        Span::styled(
            format!("{crit} critical"),
            if crit > 0 { theme.critical } else { theme.text },
        ),
        Span::styled(", ", theme.muted),
        Span::styled(
            format!("{warn} warning"),
            if warn > 0 { theme.warning } else { theme.text },
        ),
    ];
    if shown != a.alerts.len() {
        spans.push(Span::styled(format!("  ({shown} shown)"), theme.muted));
    }
    if !a.available && !a.alerts.is_empty() {
        spans.push(Span::styled("  source unavailable", theme.stale));
    }
    Line::from(spans)
}

/// Column widths for one pane width.
struct Columns {
    since: usize,
    name: usize,
    chart: usize,
    value: usize,
    info: usize,
}

const LEVEL_W: usize = 5;
/// `1h02m` narrow; `14:03:10 1h02m` wide.
const SINCE_W: usize = 8;
const SINCE_WIDE_W: usize = 17;

impl Columns {
    fn for_width(width: usize, wide: bool) -> Self {
        let since = if wide { SINCE_WIDE_W } else { SINCE_W };
        let fixed = 1 + LEVEL_W + since + 1;
        let rest = width.saturating_sub(fixed);
        if wide {
            let value = 12;
            let chart = 24;
            let name = 28;
            let info = rest.saturating_sub(value + chart + name + 3);
            Self {
                since,
                name,
                chart,
                value,
                info,
            }
        } else {
            let value = 10.min(rest * 2 / 5);
            Self {
                since,
                name: rest.saturating_sub(value + 1),
                chart: 0,
                value,
                info: 0,
            }
        }
    }

    fn header(&self, style: Style) -> Line<'static> {
        let mut text = format!(
            " {:<lw$}{:<sw$} ",
            "LVL",
            "SINCE",
            lw = LEVEL_W,
            sw = self.since
        );
        if self.chart > 0 {
            text.push_str(&fit("CHART", self.chart));
            text.push(' ');
        }
        text.push_str(&fit("ALERT", self.name));
        text.push(' ');
        text.push_str(&fit_right("VALUE", self.value));
        if self.info > 0 {
            text.push(' ');
            text.push_str(&fit("INFO", self.info));
        }
        Line::styled(text, style)
    }

    fn row(&self, state: &State, alert: &Alert, selected: bool) -> Line<'static> {
        let theme = &state.theme;
        let level_style = match alert.level {
            AlertLevel::Critical => theme.critical,
            AlertLevel::Warning => theme.warning,
        };
        let base = if selected { theme.selected } else { theme.text };
        let age = human_duration(state.now.saturating_sub(alert.since).max(0) as u64);
        let since = if self.since >= SINCE_WIDE_W {
            format!(
                "{} {age}",
                crate::ui::metrics::time_of_day(state, alert.since)
            )
        } else {
            age
        };
        let mut spans = vec![
            Span::styled(" ", base),
            Span::styled(
                format!("{:<w$}", level_label(alert.level), w = LEVEL_W),
                if selected { base } else { level_style },
            ),
            Span::styled(format!("{} ", fit(&since, self.since)), base),
        ];
        if self.chart > 0 {
            spans.push(Span::styled(
                format!("{} ", fit(&inert(&alert.chart), self.chart)),
                base,
            ));
        }
        let mut name = inert(&alert.name);
        if alert.silenced {
            name.push_str(" (silenced)");
        }
        if self.chart == 0 && !alert.chart.is_empty() {
            // The name says most; the chart follows where room is left.
            name = format!("{name} · {}", inert(&alert.chart));
        }
        spans.push(Span::styled(format!("{} ", fit(&name, self.name)), base));
        spans.push(Span::styled(
            fit_right(&inert(&alert.value), self.value),
            base,
        ));
        if self.info > 0 {
            spans.push(Span::styled(
                format!(" {}", fit(&inert(&alert.info), self.info)),
                if selected { base } else { theme.muted },
            ));
        }
        Line::from(spans)
    }
}

/// `text` cut or padded to exactly `width` columns (cut with `…`).
fn fit(text: &str, width: usize) -> String {
    if width == 0 {
        return String::new();
    }
    if text.width() <= width {
        return format!("{text}{}", " ".repeat(width - text.width()));
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    used += 1;
    format!("{out}{}", " ".repeat(width.saturating_sub(used)))
}

fn fit_right(text: &str, width: usize) -> String {
    let cut = fit(text, width);
    let trimmed = cut.trim_end();
    format!(
        "{}{trimmed}",
        " ".repeat(width.saturating_sub(trimmed.width()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::alerts::{AlertsState, apply_event};
    use crate::app::state::Overlay;
    use crate::config::theme::DEFAULT_THEME;
    use crate::config::{Keymap, ThemeSet};
    use crate::metrics::AlertsEvent;
    use crate::sources::netdata::{parse, source};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    const NOW: i64 = 1_795_447_105;

    fn state() -> State {
        let themes = ThemeSet::load(None, false).expect("themes");
        let theme = themes.get(DEFAULT_THEME).expect("theme");
        let keymap = Keymap::load("default", None).expect("keymap");
        let mut s = State::new("testbed", "testbed", themes, theme, keymap);
        s.utc = true;
        s.now = NOW;
        s.alerts = AlertsState::new(true);
        s
    }

    /// The recorded alerts of Netdata 1.37, plus made-up ones that test
    /// long texts and hostile characters.
    fn fixture_alerts() -> Vec<Alert> {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/netdata/alarms-active-1.37.json"
        ))
        .expect("fixture");
        let mut alerts: Vec<Alert> = parse::alarms(&body)
            .expect("alarms")
            .alarms
            .into_iter()
            .filter_map(source::to_alert)
            .collect();
        alerts.push(Alert {
            key: "disk_space._.disk_space_usage".into(),
            name: "disk_space_usage".into(),
            chart: "disk_space._".into(),
            level: AlertLevel::Critical,
            value: "97.2%".into(),
            info:
                "disk / space utilization: free up space or the services on it will fail to write"
                    .into(),
            since: NOW - 3725,
            silenced: false,
            rule: Default::default(),
        });
        alerts.push(Alert {
            key: "cgroup_evil.cpu.x".into(),
            name: "cpu\x1b[31m_evil\u{202e}".into(),
            chart: "cgroup_evil.cpu".into(),
            level: AlertLevel::Warning,
            value: "85%".into(),
            info: "control\x07chars\tin info".into(),
            since: NOW - 42,
            silenced: true,
            rule: Default::default(),
        });
        alerts
    }

    fn render(state: &State, w: u16, h: u16) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        terminal.draw(|f| crate::ui::draw(f, state)).expect("draw");
        terminal
    }

    fn focused_state() -> State {
        let mut s = state();
        apply_event(&mut s, AlertsEvent::Update(fixture_alerts()));
        s.layout.focus_on(PaneId::Alerts);
        s
    }

    #[test]
    fn alerts_pane_80x24() {
        let mut s = focused_state();
        s.layout.width = 80;
        s.layout.height = 24;
        insta::assert_snapshot!(render(&s, 80, 24).backend());
    }

    #[test]
    fn alerts_pane_200x60() {
        let mut s = focused_state();
        s.layout.width = 200;
        s.layout.height = 60;
        insta::assert_snapshot!(render(&s, 200, 60).backend());
    }

    #[test]
    fn alerts_pane_maximised_200x60() {
        let mut s = focused_state();
        s.layout.maximised = true;
        // The second row is selected (scrolled to by the keys).
        s.lists.entry(PaneId::Alerts).or_default().selected = 1;
        insta::assert_snapshot!(render(&s, 200, 60).backend());
    }

    #[test]
    fn alerts_pane_scrolls_to_the_selection() {
        let mut s = state();
        let many: Vec<Alert> = (0..40)
            .map(|i| Alert {
                key: format!("c.a{i:02}"),
                name: format!("a{i:02}"),
                chart: "c".into(),
                level: AlertLevel::Warning,
                value: String::new(),
                info: String::new(),
                since: NOW - i,
                silenced: false,
                rule: Default::default(),
            })
            .collect();
        apply_event(&mut s, AlertsEvent::Update(many));
        s.layout.focus_on(PaneId::Alerts);
        s.layout.maximised = true;
        s.lists.entry(PaneId::Alerts).or_default().selected = 39;
        let text = format!("{:?}", render(&s, 80, 24).backend());
        assert!(text.contains("a39"), "{text}");
        assert!(!text.contains("a00 "), "{text}");
    }

    #[test]
    fn alerts_pane_maximised_filtered_80x24() {
        let mut s = focused_state();
        s.layout.maximised = true;
        s.lists.entry(PaneId::Alerts).or_default().filter = "disk".into();
        s.overlay = Overlay::None;
        let text = format!("{:?}", render(&s, 80, 24).backend());
        assert!(text.contains("disk_space_usage"), "{text}");
        assert!(!text.contains("opscockpit_test_warning"), "{text}");
        insta::assert_snapshot!(render(&s, 80, 24).backend());
    }

    #[test]
    fn alerts_pane_without_source_says_why() {
        let mut s = state();
        apply_event(
            &mut s,
            AlertsEvent::Unavailable(
                "No alerts: netdata unreachable: connection refused at 127.0.0.1:19999".into(),
            ),
        );
        s.layout.focus_on(PaneId::Alerts);
        s.layout.maximised = true;
        let text = format!("{:?}", render(&s, 80, 24).backend());
        assert!(text.contains("connection refused"), "{text}");
    }

    #[test]
    fn hostile_text_is_made_inert() {
        let mut s = focused_state();
        s.layout.maximised = true;
        let text = format!("{:?}", render(&s, 200, 60).backend());
        assert!(!text.contains('\x1b') && !text.contains('\u{202e}') && !text.contains('\x07'));
    }

    #[test]
    fn fit_cuts_and_pads() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit_right("7", 3), "  7");
        assert_eq!(fit("x", 0), "");
    }
}

#[cfg(test)]
mod open_tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use crate::action::Action;
    use crate::app::update;

    /// Enter opens the selected alert whole (name, level, since, chart,
    /// value, the full info text); the key bar offers closing it; Esc closes.
    #[test]
    fn enter_opens_the_selected_alert() {
        for (w, h) in [(80u16, 24u16), (200, 60)] {
            let mut state = crate::testing::populated_state("dark");
            update::resize(&mut state, w, h);
            update::apply_action(&mut state, Action::FocusAlerts);
            let first = state.alerts.alerts[0].clone();
            update::handle_key(
                &mut state,
                KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
            );
            assert_eq!(state.alerts.open.as_deref(), Some(first.key.as_str()));
            let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("backend");
            terminal.draw(|f| crate::ui::draw(f, &state)).expect("draw");
            let screen = format!("{:?}", terminal.backend());
            assert!(screen.contains(" alert "), "{screen}");
            assert!(screen.contains("ago)"), "{screen}");
            assert!(screen.contains("Esc  close"), "{screen}");
            // The whole detail fits at 80×24 too: name, chart, info.
            assert!(screen.contains("cgroup_worker.mem_usage"), "{screen}");
            assert!(screen.contains("cgroup memory utilization"), "{screen}");
            insta::assert_snapshot!(format!("alert_open_{w}x{h}"), terminal.backend());
            update::handle_key(&mut state, KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
            assert_eq!(state.alerts.open, None);
        }
    }

    fn press(state: &mut crate::app::state::State, code: KeyCode) {
        update::handle_key(state, KeyEvent::new(code, KeyModifiers::NONE));
    }

    fn screen_of(
        state: &crate::app::state::State,
        w: u16,
        h: u16,
    ) -> (Terminal<TestBackend>, String) {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("backend");
        terminal.draw(|f| crate::ui::draw(f, state)).expect("draw");
        let screen = format!("{:?}", terminal.backend());
        (terminal, screen)
    }

    /// An alert whose explanation is longer than the screen: the detail
    /// says which rows it shows, the moving keys scroll it (the key bar says
    /// so) and stop at its last row; Home goes back to the top.
    #[test]
    fn a_long_alert_scrolls_and_stops_at_its_end() {
        use crate::metrics::{Alert, AlertLevel, AlertsEvent};
        for (w, h) in [(80u16, 24u16), (200, 60)] {
            let mut state = crate::testing::populated_state("dark");
            update::resize(&mut state, w, h);
            let since = state.now - 90;
            let info = format!(
                "{} END-OF-INFO",
                "the agent explains at length why this matters; ".repeat(300)
            );
            update::apply_event(
                &mut state,
                crate::app::event::AppEvent::Alerts(AlertsEvent::Update(vec![Alert {
                    key: "net.eth0.inbound_packets_dropped_ratio".into(),
                    name: "inbound_packets_dropped_ratio".into(),
                    chart: "net_packets.eth0_with_a_long_chart_name_that_wraps_at_80".into(),
                    level: AlertLevel::Warning,
                    value: "2.4%".into(),
                    info,
                    since,
                    silenced: false,
                    rule: Default::default(),
                }])),
            );
            update::apply_action(&mut state, Action::FocusAlerts);
            press(&mut state, KeyCode::Enter);
            let (terminal, top) = screen_of(&state, w, h);
            assert!(top.contains("inbound_packets_dropped_ratio"), "{top}");
            assert!(top.contains("rows 1–"), "{top}");
            assert!(
                top.contains("scroll") && top.contains("page"),
                "key bar: {top}"
            );
            assert!(!top.contains("END-OF-INFO"), "{top}");
            insta::assert_snapshot!(format!("alert_open_long_{w}x{h}"), terminal.backend());
            for _ in 0..100 {
                press(&mut state, KeyCode::PageDown);
            }
            let (_, end) = screen_of(&state, w, h);
            assert!(end.contains("END-OF-INFO"), "{end}");
            assert!(!end.contains(" ↓ "), "at the end: {end}");
            press(&mut state, KeyCode::Home);
            assert_eq!(state.alerts.detail_scroll, 0);
            press(&mut state, KeyCode::Esc);
            assert_eq!(state.alerts.open, None);
        }
    }
}
