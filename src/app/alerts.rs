//! The Alerts pane's state and how an alerts event changes it (header counts,
//! the list, the bell for new critical alerts). The alert types themselves
//! are the metrics model's (`metrics::alerts`).

use std::collections::{BTreeSet, VecDeque};

use crate::action::PaneId;
use crate::app::state::State;
use crate::app::update::{Effect, Outcome};
use crate::metrics::{
    Alert, AlertChart, AlertChartRequest, AlertLevel, AlertTransition, AlertsEvent, MetricsSource,
};

/// Alarm-log transitions kept (outcome windows look back minutes, not days).
const MAX_TRANSITIONS: usize = 1000;
/// The detail's chart covers this many seconds before now…
pub const CHART_SECONDS: u32 = 600;
/// …in about this many points (a braille chart at 200 columns has ~400
/// dots across; more would only cost bytes over the link).
pub const CHART_POINTS: u32 = 300;
/// An open chart is fetched again after this many seconds.
pub const CHART_REFRESH_SECS: i64 = 10;

/// The open alert's chart, as the detail draws it.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ChartView {
    /// No alert is open.
    #[default]
    Closed,
    /// Asked for; no answer yet.
    Loading,
    Shown(AlertChart),
    /// Why there is no chart (HTTP error, chart gone, no Netdata).
    Failed(String),
}

#[derive(Debug, Clone, Default)]
pub struct AlertsState {
    /// Raised alerts, critical first, newest first within a level.
    pub alerts: Vec<Alert>,
    /// False while no alert source is live (the list is then last known).
    pub available: bool,
    /// Why alerts are not available, or where they come from.
    pub note: String,
    /// Ring the bell (and notify) on a new critical alert.
    pub bell: bool,
    /// The alert opened with Enter (its key), shown whole until Esc/Enter.
    pub open: Option<String>,
    /// First row of the open alert's detail that is shown (`ui::detail`
    /// stops it at the last row).
    pub detail_scroll: u16,
    /// The open alert's chart (fetched from Netdata when it opens).
    pub chart: ChartView,
    /// When the open chart was last asked for (unix seconds): it is asked
    /// again every [`CHART_REFRESH_SECS`] while the detail stays open.
    pub chart_asked_at: i64,
    /// Status changes from the alarm log, oldest first (bounded): what
    /// outcomes count as raised and cleared inside a window.
    pub transitions: VecDeque<AlertTransition>,
    /// Keys that were critical in the last update.
    critical_keys: BTreeSet<String>,
    /// Whether a first list arrived: alerts already raised when the cockpit
    /// connects are not "new".
    primed: bool,
}

impl AlertsState {
    pub fn new(bell: bool) -> Self {
        Self {
            bell,
            note: "Waiting for the host's Netdata agent: alerts come from its health checks."
                .into(),
            ..Default::default()
        }
    }
}

/// Enter on the Alerts pane: opens the selected alert and asks for its
/// chart, or closes the open one (Esc closes too).
pub fn toggle_open(state: &mut State, action: crate::action::Action) -> Outcome {
    state.alerts.detail_scroll = 0;
    if state.alerts.open.take().is_some() {
        state.alerts.chart = ChartView::Closed;
        return Outcome {
            dirty: true,
            effects: Vec::new(),
        };
    }
    if action != crate::action::Action::Open {
        return Outcome::default();
    }
    let list = state.list(crate::action::PaneId::Alerts);
    let shown = visible(&state.alerts.alerts, &list.filter);
    let Some(alert) = shown
        .get(list.selected.min(shown.len().saturating_sub(1)))
        .map(|a| (*a).clone())
    else {
        return Outcome::default();
    };
    state.alerts.open = Some(alert.key.clone());
    state.alerts.chart = ChartView::Loading;
    Outcome {
        dirty: true,
        effects: ask_chart(state, &alert).into_iter().collect(),
    }
}

/// The request for `alert`'s chart; `None` (and the reason in the view)
/// while the /proc sampler is live: it has no history of Netdata's charts.
fn ask_chart(state: &mut State, alert: &Alert) -> Option<Effect> {
    if state.metrics.source == Some(MetricsSource::Proc) {
        state.alerts.chart = ChartView::Failed(format!(
            "no chart available: metrics come from the /proc sampler, which keeps no history of Netdata's charts ({})",
            state.metrics.source_note
        ));
        return None;
    }
    state.alerts.chart_asked_at = state.now;
    Some(Effect::AlertChart(AlertChartRequest {
        key: alert.key.clone(),
        chart: alert.chart.clone(),
        dimensions: alert.rule.dimensions.clone(),
        seconds: CHART_SECONDS,
        points: CHART_POINTS,
    }))
}

/// The clock: an open chart that was shown is asked for again every
/// [`CHART_REFRESH_SECS`] (the old one stays until the answer).
pub fn tick(state: &mut State) -> Option<Effect> {
    let key = state.alerts.open.as_ref()?;
    if !matches!(state.alerts.chart, ChartView::Shown(_))
        || state.now - state.alerts.chart_asked_at < CHART_REFRESH_SECS
    {
        return None;
    }
    let alert = state.alerts.alerts.iter().find(|a| &a.key == key)?.clone();
    ask_chart(state, &alert)
}

/// Alerts matching the pane's filter (case-insensitive, any of chart, name,
/// level and info), in display order.
pub fn visible<'a>(alerts: &'a [Alert], filter: &str) -> Vec<&'a Alert> {
    let needle = filter.trim().to_lowercase();
    alerts
        .iter()
        .filter(|a| {
            needle.is_empty()
                || a.chart.to_lowercase().contains(&needle)
                || a.name.to_lowercase().contains(&needle)
                || a.info.to_lowercase().contains(&needle)
                || level_label(a.level).to_lowercase().contains(&needle)
        })
        .collect()
}

pub fn level_label(level: AlertLevel) -> &'static str {
    match level {
        AlertLevel::Warning => "WARN",
        AlertLevel::Critical => "CRIT",
    }
}

pub fn apply_event(state: &mut State, event: AlertsEvent) -> Outcome {
    match event {
        AlertsEvent::Chart { key, chart } => {
            // An answer for an alert closed (or another opened) since.
            if state.alerts.open.as_ref() != Some(&key) {
                return Outcome::default();
            }
            let view = match chart {
                Ok(chart) => ChartView::Shown(chart),
                Err(why) => ChartView::Failed(why),
            };
            let changed = state.alerts.chart != view;
            state.alerts.chart = view;
            Outcome {
                dirty: changed,
                effects: Vec::new(),
            }
        }
        AlertsEvent::Transitions(transitions) => {
            let kept = &mut state.alerts.transitions;
            kept.extend(transitions);
            let excess = kept.len().saturating_sub(MAX_TRANSITIONS);
            kept.drain(..excess);
            // Nothing drawn shows them.
            Outcome::default()
        }
        AlertsEvent::Unavailable(reason) => {
            let a = &mut state.alerts;
            if !a.available && a.note == reason {
                return Outcome::default();
            }
            a.available = false;
            a.note = reason;
            a.primed = false;
            // Counts from a source that is gone would be a guess.
            a.alerts.clear();
            a.critical_keys.clear();
            state.alert_count = 0;
            state.alert_worst = None;
            Outcome {
                dirty: true,
                effects: Vec::new(),
            }
        }
        AlertsEvent::Update(mut alerts) => {
            alerts.sort_by(|x, y| {
                y.level
                    .cmp(&x.level)
                    .then(y.since.cmp(&x.since))
                    .then(x.key.cmp(&y.key))
            });
            let critical: BTreeSet<String> = alerts
                .iter()
                .filter(|a| a.level == AlertLevel::Critical)
                .map(|a| a.key.clone())
                .collect();
            let new_critical: Vec<&Alert> = alerts
                .iter()
                .filter(|a| {
                    a.level == AlertLevel::Critical
                        && !a.silenced
                        && !state.alerts.critical_keys.contains(&a.key)
                })
                .collect();
            let mut effects = Vec::new();
            if state.alerts.primed && state.alerts.bell && !new_critical.is_empty() {
                effects.push(Effect::Bell);
                let first = new_critical[0];
                let more = match new_critical.len() {
                    1 => String::new(),
                    n => format!(" (+{} more)", n - 1),
                };
                effects.push(Effect::Notify {
                    summary: format!(
                        "{}: critical {}{more}",
                        crate::text::inert(&state.host),
                        crate::text::inert(&first.name)
                    ),
                    body: crate::text::inert(&format!(
                        "{} {} {}",
                        first.chart, first.value, first.info
                    )),
                });
            }
            effects.extend(crate::app::notify::alerts_changed(state, &alerts));
            let changed = !state.alerts.available || state.alerts.alerts != alerts;
            let a = &mut state.alerts;
            a.critical_keys = critical;
            a.primed = true;
            a.available = true;
            a.alerts = alerts;
            state.alert_count = a.alerts.len();
            state.alert_worst = a.alerts.iter().map(|x| x.level).max();
            // Keep the selection on the list.
            let len = visible(&state.alerts.alerts, &state.list(PaneId::Alerts).filter).len();
            let list = state.lists.entry(PaneId::Alerts).or_default();
            list.selected = list.selected.min(len.saturating_sub(1));
            Outcome {
                dirty: changed || !effects.is_empty(),
                effects,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Keymap, ThemeSet};

    fn state() -> State {
        let themes = ThemeSet::load(None, false).expect("themes");
        let theme = themes
            .get(crate::config::theme::DEFAULT_THEME)
            .expect("theme");
        let keymap = Keymap::load("default", None).expect("keymap");
        let mut s = State::new("web-1", "web-1", themes, theme, keymap);
        s.alerts = AlertsState::new(true);
        s
    }

    pub fn alert(key: &str, level: AlertLevel, since: i64) -> Alert {
        Alert {
            key: key.into(),
            name: key.rsplit('.').next().unwrap_or(key).into(),
            chart: key.rsplit_once('.').map(|(c, _)| c).unwrap_or("").into(),
            level,
            value: "1".into(),
            info: format!("info of {key}"),
            since,
            silenced: false,
            rule: Default::default(),
        }
    }

    #[test]
    fn counts_and_worst_level_follow_the_list() {
        let mut s = state();
        apply_event(
            &mut s,
            AlertsEvent::Update(vec![alert("system.ram.x", AlertLevel::Warning, 5)]),
        );
        assert_eq!(
            (s.alert_count, s.alert_worst),
            (1, Some(AlertLevel::Warning))
        );
        apply_event(
            &mut s,
            AlertsEvent::Update(vec![
                alert("system.ram.x", AlertLevel::Warning, 5),
                alert("system.load.y", AlertLevel::Critical, 3),
            ]),
        );
        assert_eq!(
            (s.alert_count, s.alert_worst),
            (2, Some(AlertLevel::Critical))
        );
        assert_eq!(s.alerts.alerts[0].key, "system.load.y", "critical first");
        apply_event(&mut s, AlertsEvent::Update(vec![]));
        assert_eq!((s.alert_count, s.alert_worst), (0, None));
    }

    #[test]
    fn only_a_new_critical_alert_rings() {
        let mut s = state();
        let crit = || alert("system.load.y", AlertLevel::Critical, 3);
        // Already critical when the cockpit connects: not new.
        let o = apply_event(&mut s, AlertsEvent::Update(vec![crit()]));
        assert!(o.effects.is_empty());
        // Still critical: no second ring.
        let o = apply_event(&mut s, AlertsEvent::Update(vec![crit()]));
        assert!(o.effects.is_empty());
        assert!(!o.dirty, "nothing changed");
        // A warning becoming critical is new.
        let o = apply_event(
            &mut s,
            AlertsEvent::Update(vec![
                crit(),
                alert("disk_space._.z", AlertLevel::Critical, 9),
            ]),
        );
        assert_eq!(o.effects[0], Effect::Bell);
        assert!(matches!(&o.effects[1], Effect::Notify { summary, .. } if summary.contains("z")));
        // Cleared and raised again: new again.
        apply_event(&mut s, AlertsEvent::Update(vec![crit()]));
        let o = apply_event(
            &mut s,
            AlertsEvent::Update(vec![
                crit(),
                alert("disk_space._.z", AlertLevel::Critical, 20),
            ]),
        );
        assert!(o.effects.contains(&Effect::Bell));
        // With the bell off: nothing.
        s.alerts.bell = false;
        apply_event(&mut s, AlertsEvent::Update(vec![]));
        let o = apply_event(&mut s, AlertsEvent::Update(vec![crit()]));
        assert!(o.effects.is_empty());
    }

    #[test]
    fn unavailable_clears_counts_and_is_not_new_after() {
        let mut s = state();
        apply_event(
            &mut s,
            AlertsEvent::Update(vec![alert("a.b", AlertLevel::Critical, 1)]),
        );
        apply_event(
            &mut s,
            AlertsEvent::Unavailable("netdata unreachable".into()),
        );
        assert_eq!((s.alert_count, s.alert_worst), (0, None));
        assert!(!s.alerts.available);
        // Coming back with the same critical alert does not ring.
        let o = apply_event(
            &mut s,
            AlertsEvent::Update(vec![alert("a.b", AlertLevel::Critical, 1)]),
        );
        assert!(o.effects.is_empty());
        assert!(o.dirty);
    }

    #[test]
    fn filter_matches_chart_name_info_and_level() {
        let alerts = vec![
            alert("system.load.load_high", AlertLevel::Critical, 1),
            alert("disk_space._.disk_full", AlertLevel::Warning, 2),
        ];
        assert_eq!(visible(&alerts, "").len(), 2);
        assert_eq!(visible(&alerts, "DISK")[0].name, "disk_full");
        assert_eq!(visible(&alerts, "crit")[0].name, "load_high");
        assert_eq!(visible(&alerts, "info of system").len(), 1);
        assert!(visible(&alerts, "nothing").is_empty());
    }

    fn chart_of(key: &str) -> AlertsEvent {
        AlertsEvent::Chart {
            key: key.into(),
            chart: Ok(AlertChart {
                chart: "system.load".into(),
                series: vec![("load1".into(), vec![(1, 0.5)])],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn an_open_alert_asks_for_its_chart_and_takes_only_its_own_answer() {
        let mut s = state();
        s.metrics.source = Some(MetricsSource::Netdata);
        let mut load = alert("system.load.load_average_1", AlertLevel::Warning, 5);
        load.rule.dimensions = Some("load1".into());
        apply_event(&mut s, AlertsEvent::Update(vec![load]));
        let opened = toggle_open(&mut s, crate::action::Action::Open);
        assert_eq!(
            opened.effects,
            vec![Effect::AlertChart(AlertChartRequest {
                key: "system.load.load_average_1".into(),
                chart: "system.load".into(),
                dimensions: Some("load1".into()),
                seconds: CHART_SECONDS,
                points: CHART_POINTS,
            })]
        );
        assert_eq!(s.alerts.chart, ChartView::Loading);
        // A late answer for another alert changes nothing.
        let late = apply_event(&mut s, chart_of("system.ram.other"));
        assert!(!late.dirty);
        assert_eq!(s.alerts.chart, ChartView::Loading);
        assert!(apply_event(&mut s, chart_of("system.load.load_average_1")).dirty);
        assert!(matches!(s.alerts.chart, ChartView::Shown(_)));
        // Closed: the view is gone, and an answer arriving now is dropped.
        toggle_open(&mut s, crate::action::Action::Back);
        assert_eq!(s.alerts.chart, ChartView::Closed);
        assert!(!apply_event(&mut s, chart_of("system.load.load_average_1")).dirty);
        assert_eq!(s.alerts.chart, ChartView::Closed);
    }

    #[test]
    fn a_shown_chart_is_asked_again_every_refresh_interval() {
        let mut s = state();
        s.metrics.source = Some(MetricsSource::Netdata);
        s.now = 1000;
        apply_event(
            &mut s,
            AlertsEvent::Update(vec![alert("system.load.x", AlertLevel::Warning, 5)]),
        );
        toggle_open(&mut s, crate::action::Action::Open);
        s.now = 1000 + CHART_REFRESH_SECS;
        assert_eq!(tick(&mut s), None, "still loading: not asked twice");
        apply_event(&mut s, chart_of("system.load.x"));
        s.now = 1000 + CHART_REFRESH_SECS - 1;
        assert_eq!(tick(&mut s), None);
        s.now = 1000 + CHART_REFRESH_SECS;
        assert!(matches!(tick(&mut s), Some(Effect::AlertChart(_))));
        assert!(
            matches!(s.alerts.chart, ChartView::Shown(_)),
            "kept until the answer"
        );
        assert_eq!(tick(&mut s), None, "asked once per interval");
    }

    #[test]
    fn with_the_proc_sampler_the_chart_says_why_and_nothing_is_asked() {
        let mut s = state();
        s.metrics.source = Some(MetricsSource::Proc);
        apply_event(
            &mut s,
            AlertsEvent::Update(vec![alert("system.load.x", AlertLevel::Warning, 5)]),
        );
        let opened = toggle_open(&mut s, crate::action::Action::Open);
        assert!(opened.effects.is_empty());
        assert!(
            matches!(&s.alerts.chart, ChartView::Failed(why) if why.contains("/proc sampler")),
            "{:?}",
            s.alerts.chart
        );
    }
}
