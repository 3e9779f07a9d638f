//! The cockpit's part of notifications: which events happened, decided
//! from the state (a new proposal, one that waited or is about to expire by
//! a rule's timer, an expiry, a failed action, an alert turning critical or
//! clearing, a link down too long), and what delivery reported (the
//! `:notifylog` and the header's "notify: … failing"). Nothing here does
//! I/O: events leave as `Effect::Notification`, and the loop's
//! `notify::Notifier` routes and sends them.

use std::collections::{BTreeMap, BTreeSet};

use crate::app::state::State;
use crate::app::update::{Effect, Outcome};
use crate::config::NotifyConfig;
use crate::config::notify::RuleConfig;
use crate::gate::{ActionState, ActionView};
use crate::metrics::Alert;
use crate::notify::{
    AlertFacts, EventKind, NotifyEvent, NotifyStatus, Outcome as Delivery, ProposalFacts,
};

/// Lines the `:notifylog` keeps.
const LOG_KEEP: usize = 200;

/// A rule's timers, in seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleTimers {
    pub waiting_after: Option<i64>,
    pub escalate_after: Option<i64>,
    pub expiring_before: Option<i64>,
    pub link_down_after: Option<i64>,
}

impl RuleTimers {
    fn from_rule(rule: &RuleConfig) -> RuleTimers {
        let secs = |d: Option<std::time::Duration>| d.map(|d| d.as_secs() as i64);
        let listed = |kind| rule.events.contains(&kind);
        RuleTimers {
            waiting_after: secs(rule.waiting_after).filter(|_| listed(EventKind::ProposalWaiting)),
            escalate_after: secs(rule.escalate_after),
            expiring_before: secs(rule.expiring_before)
                .filter(|_| listed(EventKind::ProposalExpiring)),
            link_down_after: secs(rule.link_down_after).filter(|_| listed(EventKind::LinkDown)),
        }
    }
}

/// Which timer of which rule already fired for a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Waiting,
    Escalation,
    Expiring,
}

#[derive(Debug, Clone, Default)]
pub struct NotifyState {
    /// Whether any channel is configured (nothing is decided otherwise).
    pub enabled: bool,
    pub timers: Vec<RuleTimers>,
    /// Delivery reports, oldest first, bounded.
    pub log: Vec<NotifyStatus>,
    /// Channels whose last message failed, and since when (unix seconds).
    pub failing: BTreeMap<String, i64>,
    /// Messages dropped per channel because its queue was full.
    pub dropped: BTreeMap<String, u64>,
    fired: BTreeSet<(String, usize, Timer)>,
    /// Alerts critical in the last list (`None` before the first).
    critical: Option<BTreeMap<String, AlertFacts>>,
    /// Since when the link is down (unix seconds), while it is.
    link_down_since: Option<i64>,
    link_down_sent: BTreeSet<usize>,
}

impl NotifyState {
    pub fn from_config(config: &NotifyConfig) -> NotifyState {
        NotifyState {
            enabled: !config.channels.is_empty() && !config.rules.is_empty(),
            timers: config.rules.iter().map(RuleTimers::from_rule).collect(),
            ..NotifyState::default()
        }
    }
}

fn event(state: &State, kind: EventKind, subject: &str) -> NotifyEvent {
    NotifyEvent {
        kind,
        rule: None,
        escalation: false,
        host: state.host.clone(),
        subject: subject.to_string(),
        at: state.now,
        proposal: None,
        alert: None,
        detail: String::new(),
    }
}

fn proposal_event(state: &State, kind: EventKind, a: &ActionView) -> NotifyEvent {
    NotifyEvent {
        proposal: Some(ProposalFacts::from_view(a)),
        ..event(state, kind, &a.id)
    }
}

fn effect(event: NotifyEvent) -> Effect {
    Effect::Notification(Box::new(event))
}

/// A gate change of this host's action `a` (its state before: `before`).
pub fn action_changed(state: &State, before: Option<ActionState>, a: &ActionView) -> Vec<Effect> {
    if !state.notify.enabled || a.host != state.host || before == Some(a.state) {
        return Vec::new();
    }
    let kind = match a.state {
        ActionState::Pending if before.is_none() || before == Some(ActionState::Proposed) => {
            EventKind::Proposal
        }
        ActionState::Expired if before == Some(ActionState::Pending) => EventKind::ProposalExpired,
        ActionState::Failed => EventKind::ActionFailed,
        ActionState::Uncertain => EventKind::ActionUncertain,
        _ => return Vec::new(),
    };
    let mut e = proposal_event(state, kind, a);
    if matches!(kind, EventKind::ActionFailed | EventKind::ActionUncertain) {
        e.detail = a.error.clone().unwrap_or_else(|| match a.exit_code {
            Some(code) => format!("exit code {code}"),
            None => String::new(),
        });
    }
    vec![effect(e)]
}

/// Alerts that turned critical or stopped being critical since the last
/// list (silenced ones say nothing, as for the bell). What was critical is
/// kept across an outage of the alert source, so an alert that tripped or
/// cleared meanwhile is still told; the first list only sets the baseline
/// (what was raised before the cockpit looked is not news).
pub fn alerts_changed(state: &mut State, alerts: &[Alert]) -> Vec<Effect> {
    if !state.notify.enabled {
        return Vec::new();
    }
    let critical = |a: &&Alert| a.level == crate::metrics::AlertLevel::Critical && !a.silenced;
    let facts = |a: &Alert| AlertFacts {
        name: a.name.clone(),
        chart: a.chart.clone(),
        value: a.value.clone(),
        info: a.info.clone(),
    };
    let now_critical: BTreeMap<String, AlertFacts> = alerts
        .iter()
        .filter(critical)
        .map(|a| (a.key.clone(), facts(a)))
        .collect();
    let Some(was_critical) = state.notify.critical.replace(now_critical.clone()) else {
        return Vec::new();
    };
    let mut effects: Vec<Effect> = now_critical
        .iter()
        .filter(|(key, _)| !was_critical.contains_key(*key))
        .map(|(key, alert)| {
            effect(NotifyEvent {
                alert: Some(alert.clone()),
                ..event(state, EventKind::AlertCritical, key)
            })
        })
        .collect();
    for (key, before) in was_critical
        .iter()
        .filter(|(k, _)| !now_critical.contains_key(*k))
    {
        // What it says now (a warning), or as it was when it is gone.
        let alert = alerts
            .iter()
            .find(|a| a.key == *key)
            .map(facts)
            .unwrap_or_else(|| before.clone());
        effects.push(effect(NotifyEvent {
            alert: Some(alert),
            ..event(state, EventKind::AlertCleared, key)
        }));
    }
    effects
}

/// The link went down or came back.
pub fn link_changed(state: &mut State, down: bool) {
    let n = &mut state.notify;
    match (down, n.link_down_since) {
        (true, None) => n.link_down_since = Some(state.now),
        (false, _) => {
            n.link_down_since = None;
            n.link_down_sent.clear();
        }
        (true, Some(_)) => {}
    }
}

/// The clock moved: the rules' timers for waiting proposals and for the
/// link.
pub fn tick(state: &mut State) -> Vec<Effect> {
    if !state.notify.enabled {
        return Vec::new();
    }
    let mut effects = proposal_timers(state);
    effects.extend(link_timers(state));
    effects
}

fn proposal_timers(state: &mut State) -> Vec<Effect> {
    let pending: Vec<ActionView> = state
        .gate
        .actions
        .values()
        .filter(|a| a.state == ActionState::Pending && a.host == state.host)
        .filter(|a| !state.gate.decided_locally.contains(&a.id))
        .cloned()
        .collect();
    let live: BTreeSet<&str> = pending.iter().map(|a| a.id.as_str()).collect();
    let fired = std::mem::take(&mut state.notify.fired);
    let mut fired: BTreeSet<(String, usize, Timer)> = fired
        .into_iter()
        .filter(|(id, _, _)| live.contains(id.as_str()))
        .collect();
    let mut effects = Vec::new();
    for a in &pending {
        let created = a.created_at.div_euclid(1000);
        let waited = state.now - created;
        let expires = a.expires_at.map(|ms| ms.div_euclid(1000));
        for (i, t) in state.notify.timers.iter().enumerate() {
            let due = [
                (
                    Timer::Waiting,
                    t.waiting_after.is_some_and(|after| waited >= after),
                ),
                (
                    Timer::Escalation,
                    t.escalate_after.is_some_and(|after| waited >= after),
                ),
                (
                    Timer::Expiring,
                    t.expiring_before
                        .zip(expires)
                        .is_some_and(|(before, at)| state.now >= at - before && state.now < at),
                ),
            ];
            for (timer, is_due) in due {
                if !is_due || !fired.insert((a.id.clone(), i, timer)) {
                    continue;
                }
                let kind = match timer {
                    Timer::Expiring => EventKind::ProposalExpiring,
                    Timer::Waiting | Timer::Escalation => EventKind::ProposalWaiting,
                };
                let mut e = proposal_event(state, kind, a);
                e.rule = Some(i);
                e.escalation = timer == Timer::Escalation;
                effects.push(effect(e));
            }
        }
    }
    state.notify.fired = fired;
    effects
}

fn link_timers(state: &mut State) -> Vec<Effect> {
    let Some(since) = state.notify.link_down_since else {
        return Vec::new();
    };
    let reason = match &state.connection {
        crate::transport::ConnectionState::Down { reason, .. } => reason.clone(),
        crate::transport::ConnectionState::Reconnecting {
            attempt, reason, ..
        } if !reason.is_empty() => format!("{reason}; reconnecting (try {attempt})"),
        crate::transport::ConnectionState::Reconnecting { attempt, .. } => {
            format!("reconnecting (try {attempt})")
        }
        _ => String::new(),
    };
    let mut effects = Vec::new();
    for i in 0..state.notify.timers.len() {
        let Some(after) = state.notify.timers[i].link_down_after else {
            continue;
        };
        if state.now - since < after || !state.notify.link_down_sent.insert(i) {
            continue;
        }
        let mut e = event(state, EventKind::LinkDown, "link");
        e.rule = Some(i);
        e.detail = format!(
            "down for {}{}",
            crate::notify::message::human_secs(state.now - since),
            if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            }
        );
        effects.push(effect(e));
    }
    effects
}

/// A delivery report.
pub fn apply_status(state: &mut State, status: NotifyStatus) -> Outcome {
    let n = &mut state.notify;
    match &status.outcome {
        Delivery::Delivered { .. } => {
            n.failing.remove(&status.channel);
        }
        Delivery::Retrying { .. } | Delivery::Failed { .. } => {
            n.failing.entry(status.channel.clone()).or_insert(status.at);
        }
        Delivery::Dropped { total } => {
            n.dropped.insert(status.channel.clone(), *total);
        }
        Delivery::Suppressed { .. } => {}
    }
    if n.log.len() == LOG_KEEP {
        n.log.remove(0);
    }
    n.log.push(status);
    Outcome {
        dirty: true,
        effects: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::event::AppEvent;
    use crate::app::update;
    use crate::config::{Config, toml_file};
    use crate::gate::GateEvent;

    fn fixture_state(_theme: &str) -> State {
        let themes = crate::config::ThemeSet::load(None, false).expect("themes");
        let theme = themes
            .get(crate::config::theme::DEFAULT_THEME)
            .expect("theme");
        let keymap = crate::config::Keymap::load("default", None).expect("keymap");
        let mut state = State::new("web-1", "web-1", themes, theme, keymap);
        state.now = 1_795_442_400;
        state
    }

    fn configured(rules: &str) -> State {
        let text = format!(
            "[notify.phone]\nkind = \"desktop\"\n[notify.mate]\nkind = \"desktop\"\n{rules}"
        );
        let config: Config = toml_file::parse_str("c.toml", &text).expect("config");
        config.notify.validate("c.toml").expect("valid");
        let mut state = fixture_state("dark");
        state.gate.actions.clear();
        state.notify = NotifyState::from_config(&config.notify);
        state
    }

    fn action_view(id: &str, host: &str, st: ActionState) -> ActionView {
        ActionView {
            state: st,
            title: "restart nginx".into(),
            agent: "claude".into(),
            fingerprint: "f".into(),
            ..ActionView::blank(id, host, "systemctl restart nginx")
        }
    }

    fn pending(state: &State, id: &str, created: i64, ttl: i64) -> ActionView {
        let mut a = action_view(id, &state.host, ActionState::Pending);
        a.created_at = created * 1000;
        a.expires_at = Some((created + ttl) * 1000);
        a
    }

    fn kinds(effects: &[Effect]) -> Vec<(EventKind, bool)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Notification(n) => Some((n.kind, n.escalation)),
                _ => None,
            })
            .collect()
    }

    fn tick_to(state: &mut State, now: i64) -> Vec<(EventKind, bool)> {
        kinds(&update::tick(state, now).effects)
    }

    #[test]
    fn a_waiting_proposal_is_told_then_escalated_then_about_to_expire_then_expired() {
        let mut state = configured(concat!(
            "[[notify.rules]]\nevents = [\"proposal\", \"proposal_waiting\", \"proposal_expiring\", \"proposal_expired\"]\n",
            "channels = [\"phone\"]\nwaiting_after = \"60s\"\nexpiring_before = \"30s\"\nescalate_after = \"120s\"\nescalate_to = [\"mate\"]\n",
        ));
        let t0 = state.now;
        let a = pending(&state, "p1", t0, 300);
        let out = update::apply_event(
            &mut state,
            AppEvent::Gate(GateEvent::Changed(Box::new(a.clone()))),
        );
        assert_eq!(kinds(&out.effects), [(EventKind::Proposal, false)]);
        assert_eq!(tick_to(&mut state, t0 + 59), []);
        assert_eq!(
            tick_to(&mut state, t0 + 60),
            [(EventKind::ProposalWaiting, false)]
        );
        assert_eq!(tick_to(&mut state, t0 + 61), [], "once");
        assert_eq!(
            tick_to(&mut state, t0 + 120),
            [(EventKind::ProposalWaiting, true)]
        );
        assert_eq!(tick_to(&mut state, t0 + 269), []);
        assert_eq!(
            tick_to(&mut state, t0 + 270),
            [(EventKind::ProposalExpiring, false)]
        );
        assert_eq!(tick_to(&mut state, t0 + 299), []);
        let mut expired = a;
        expired.state = ActionState::Expired;
        let out = update::apply_event(
            &mut state,
            AppEvent::Gate(GateEvent::Changed(Box::new(expired))),
        );
        assert_eq!(kinds(&out.effects), [(EventKind::ProposalExpired, false)]);
        assert_eq!(
            tick_to(&mut state, t0 + 400),
            [],
            "nothing for what no longer waits"
        );
    }

    #[test]
    fn a_decided_proposal_stops_its_timers_and_another_hosts_says_nothing() {
        let mut state = configured(
            "[[notify.rules]]\nevents = [\"proposal\", \"proposal_waiting\"]\nchannels = [\"phone\"]\nwaiting_after = \"60s\"\n",
        );
        let t0 = state.now;
        let mut a = pending(&state, "p1", t0, 300);
        update::apply_event(
            &mut state,
            AppEvent::Gate(GateEvent::Changed(Box::new(a.clone()))),
        );
        a.state = ActionState::Approved;
        let out = update::apply_event(&mut state, AppEvent::Gate(GateEvent::Changed(Box::new(a))));
        assert_eq!(kinds(&out.effects), []);
        assert_eq!(tick_to(&mut state, t0 + 100), []);
        let mut other = pending(&state, "p2", t0, 300);
        other.host = "elsewhere".into();
        let out = update::apply_event(
            &mut state,
            AppEvent::Gate(GateEvent::Changed(Box::new(other))),
        );
        assert_eq!(kinds(&out.effects), []);
    }

    #[test]
    fn without_channels_nothing_is_decided() {
        let mut state = fixture_state("dark");
        let a = pending(&state, "p9", state.now, 300);
        let out = update::apply_event(&mut state, AppEvent::Gate(GateEvent::Changed(Box::new(a))));
        assert_eq!(kinds(&out.effects), []);
    }

    #[test]
    fn failed_and_uncertain_actions_say_why() {
        let mut state = configured(
            "[[notify.rules]]\nevents = [\"action_failed\", \"action_uncertain\"]\nchannels = [\"phone\"]\n",
        );
        let mut a = action_view("p3", &state.host, ActionState::Executing);
        update::apply_event(
            &mut state,
            AppEvent::Gate(GateEvent::Changed(Box::new(a.clone()))),
        );
        a.state = ActionState::Uncertain;
        a.error = Some("connection lost while running".into());
        let out = update::apply_event(&mut state, AppEvent::Gate(GateEvent::Changed(Box::new(a))));
        let Some(Effect::Notification(n)) = out
            .effects
            .iter()
            .find(|e| matches!(e, Effect::Notification(_)))
        else {
            panic!("a notification: {:?}", out.effects);
        };
        assert_eq!(
            (n.kind, n.detail.as_str()),
            (EventKind::ActionUncertain, "connection lost while running")
        );
    }

    #[test]
    fn a_link_down_longer_than_the_rule_allows_is_told_once_per_outage() {
        let mut state = configured(
            "[[notify.rules]]\nevents = [\"link_down\"]\nchannels = [\"phone\"]\nlink_down_after = \"30s\"\n",
        );
        let t0 = state.now;
        let down = crate::transport::ConnectionState::Down {
            reason: "connection refused".into(),
            since: t0,
        };
        update::apply_event(&mut state, AppEvent::Connection(down.clone()));
        assert_eq!(tick_to(&mut state, t0 + 29), []);
        let out = update::tick(&mut state, t0 + 30);
        let Some(Effect::Notification(n)) = out.effects.first() else {
            panic!("link_down: {:?}", out.effects);
        };
        assert_eq!(n.detail, "down for 30s: connection refused");
        assert_eq!(tick_to(&mut state, t0 + 90), []);
        update::apply_event(
            &mut state,
            AppEvent::Connection(crate::transport::ConnectionState::Connected {
                rtt_ms: None,
                unanswered: 0,
            }),
        );
        update::apply_event(&mut state, AppEvent::Connection(down));
        assert_eq!(
            tick_to(&mut state, t0 + 200),
            [(EventKind::LinkDown, false)],
            "a new outage"
        );
    }

    fn alert(key: &str, level: crate::metrics::AlertLevel) -> Alert {
        Alert {
            key: key.into(),
            name: key.rsplit('.').next().unwrap_or(key).into(),
            chart: key.rsplit_once('.').map(|(c, _)| c).unwrap_or("").into(),
            level,
            value: "97%".into(),
            info: "memory nearly full".into(),
            since: 0,
            silenced: false,
            rule: Default::default(),
        }
    }

    #[test]
    fn alerts_turning_critical_and_clearing_are_told_after_the_first_list() {
        use crate::metrics::{AlertLevel, AlertsEvent};
        let mut state = configured(
            "[[notify.rules]]\nevents = [\"alert_critical\", \"alert_cleared\"]\nchannels = [\"phone\"]\n",
        );
        let update = |state: &mut State, alerts: Vec<Alert>| {
            kinds(
                &update::apply_event(state, AppEvent::Alerts(AlertsEvent::Update(alerts))).effects,
            )
        };
        // Raised before the cockpit looked: not news.
        assert_eq!(
            update(
                &mut state,
                vec![alert("system.ram.ram_in_use", AlertLevel::Critical)]
            ),
            []
        );
        assert_eq!(
            update(
                &mut state,
                vec![alert("system.ram.ram_in_use", AlertLevel::Warning)]
            ),
            [(EventKind::AlertCleared, false)]
        );
        let mut silenced = alert("disk.space.full", AlertLevel::Critical);
        silenced.silenced = true;
        assert_eq!(
            update(
                &mut state,
                vec![
                    alert("system.ram.ram_in_use", AlertLevel::Critical),
                    silenced.clone()
                ]
            ),
            [(EventKind::AlertCritical, false)],
            "a silenced alert says nothing"
        );
        let out = update::apply_event(
            &mut state,
            AppEvent::Alerts(AlertsEvent::Update(vec![silenced])),
        );
        let Some(Effect::Notification(n)) = out
            .effects
            .iter()
            .find(|e| matches!(e, Effect::Notification(_)))
        else {
            panic!("cleared: {:?}", out.effects);
        };
        assert_eq!(
            (n.kind, n.subject.as_str()),
            (EventKind::AlertCleared, "system.ram.ram_in_use")
        );
        assert_eq!(
            n.alert.as_ref().map(|a| a.name.as_str()),
            Some("ram_in_use"),
            "named as it was"
        );
        // Netdata away and back with the alert critical again: still news.
        update::apply_event(
            &mut state,
            AppEvent::Alerts(AlertsEvent::Unavailable("Netdata down".into())),
        );
        let back = update(
            &mut state,
            vec![alert("system.ram.ram_in_use", AlertLevel::Critical)],
        );
        assert_eq!(
            back,
            [(EventKind::AlertCritical, false)],
            "tripped during the outage"
        );
    }

    #[test]
    fn delivery_reports_fill_the_log_and_the_failing_channels() {
        let mut state =
            configured("[[notify.rules]]\nevents = [\"proposal\"]\nchannels = [\"phone\"]\n");
        let status = |outcome| NotifyStatus {
            channel: "phone".into(),
            at: 100,
            outcome,
            about: "proposal p1".into(),
        };
        apply_status(
            &mut state,
            status(Delivery::Retrying {
                attempt: 1,
                error: "HTTP 500".into(),
                retry_in_secs: 1,
            }),
        );
        apply_status(
            &mut state,
            status(Delivery::Failed {
                attempts: 8,
                error: "HTTP 500".into(),
            }),
        );
        assert_eq!(state.notify.failing.get("phone"), Some(&100));
        apply_status(
            &mut state,
            status(Delivery::Delivered {
                attempts: 1,
                status: 200,
            }),
        );
        assert!(state.notify.failing.is_empty());
        assert_eq!(state.notify.log.len(), 3);
    }
}
