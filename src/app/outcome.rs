//! Measuring each finished action's outcome (see [`crate::outcome`]): the
//! before-window is summarised when this host's action is first seen
//! running (the per-second ring holds ten minutes, so it must be taken
//! then), the after-window once it has elapsed after the action ended, or
//! early (marked partial) when the cockpit quits. The record leaves as a
//! `GateRequest::RecordOutcome`: the gate appends it to the chain.

use std::collections::BTreeMap;

use crate::app::state::State;
use crate::app::update::Effect;
use crate::containers::EngineStatus;
use crate::gate::{ActionState, ActionView, GateRequest};
use crate::outcome::measure::{Sources, measure};
use crate::outcome::{Window, WindowData, compare};

/// Actions being measured, by id.
#[derive(Debug, Clone)]
pub struct OutcomeTracker {
    /// The length of each window (`gate.outcome_window`).
    pub window_secs: u64,
    pub measuring: BTreeMap<String, Measuring>,
}

impl Default for OutcomeTracker {
    fn default() -> Self {
        Self {
            window_secs: crate::outcome::DEFAULT_WINDOW_SECS,
            measuring: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Measuring {
    pub command: String,
    /// Unix seconds.
    pub started: i64,
    pub ended: Option<i64>,
    pub before: WindowData,
    /// Why the link was lost during the after-window, if it was.
    pub link_lost: Option<String>,
}

impl OutcomeTracker {
    /// Whether action `id`'s after-window is still being measured.
    pub fn is_measuring(&self, id: &str) -> bool {
        self.measuring.contains_key(id)
    }
}

fn sources(state: &State) -> Sources<'_> {
    let engine_live = matches!(
        state.containers.engine,
        EngineStatus::Live { .. } | EngineStatus::Fallback { .. }
    );
    Sources {
        series: &state.metrics.store,
        alerts: state
            .alerts
            .available
            .then_some(state.alerts.alerts.as_slice()),
        alert_transitions: &state.alerts.transitions,
        containers: engine_live.then_some(&state.containers.containers),
        timeline: &state.containers.timeline,
        logs: &state.logs.buffer,
    }
}

/// An action of this host changed: start measuring it when it runs, and
/// note when it ended.
pub fn action_changed(state: &mut State, action: &ActionView) {
    if action.host != state.host || action.outcome.is_some() {
        return;
    }
    let (Some(started_ms), ran) = (action.started_at, action.state.is_terminal()) else {
        return;
    };
    let window = state.outcomes.window_secs as i64;
    let started = started_ms.div_euclid(1000);
    let ended = action.ended_at.map(|ms| ms.div_euclid(1000));
    // An action first seen long after it ended (an old history row) is not
    // measured: its windows are no longer in the rings.
    if ran
        && ended.is_none_or(|e| state.now - e > window)
        && !state.outcomes.is_measuring(&action.id)
    {
        return;
    }
    if !(action.state == ActionState::Executing || ran) {
        return;
    }
    if !state.outcomes.is_measuring(&action.id) {
        let before_window = Window {
            from: started - window,
            to: started,
        };
        let before = measure(&sources(state), before_window, before_window);
        state.outcomes.measuring.insert(
            action.id.clone(),
            Measuring {
                command: action.command.clone(),
                started,
                ended: None,
                before,
                link_lost: None,
            },
        );
    }
    if let Some(m) = state.outcomes.measuring.get_mut(&action.id)
        && ran
    {
        m.ended = ended;
    }
}

/// Each second: after-windows that have elapsed are measured and sent to
/// the gate; a link lost meanwhile is remembered.
pub fn tick(state: &mut State) -> Vec<Effect> {
    let now = state.now;
    let window = state.outcomes.window_secs as i64;
    let lost = state.link_lost_reason.clone();
    let mut due = Vec::new();
    for (id, m) in &mut state.outcomes.measuring {
        let Some(ended) = m.ended else { continue };
        if let Some(reason) = &lost
            && now > ended
            && m.link_lost.is_none()
        {
            m.link_lost = Some(reason.clone());
        }
        if now >= ended + window {
            due.push(id.clone());
        }
    }
    due.into_iter()
        .filter_map(|id| finish(state, &id, now, None))
        .collect()
}

/// The cockpit quits: what has ended is recorded with the after-window
/// it had, marked partial.
pub fn quitting(state: &mut State, now: i64) -> Vec<Effect> {
    let ended: Vec<String> = state
        .outcomes
        .measuring
        .iter()
        .filter(|(_, m)| m.ended.is_some())
        .map(|(id, _)| id.clone())
        .collect();
    ended
        .into_iter()
        .filter_map(|id| {
            let seconds = state
                .outcomes
                .measuring
                .get(&id)?
                .ended
                .map(|e| (now - e).max(0))?;
            finish(
                state,
                &id,
                now,
                Some(format!(
                    "the cockpit quit {seconds} s into the after-window"
                )),
            )
        })
        .collect()
}

fn finish(state: &mut State, id: &str, now: i64, quit: Option<String>) -> Option<Effect> {
    let m = state.outcomes.measuring.remove(id)?;
    let ended = m.ended?;
    let window = state.outcomes.window_secs;
    let after_window = Window {
        from: ended,
        to: now.min(ended + window as i64),
    };
    let events_span = Window {
        from: m.started - 1,
        to: after_window.to,
    };
    let after = measure(&sources(state), after_window, events_span);
    let partial = match (quit, m.link_lost) {
        (Some(q), Some(l)) => Some(format!("{q}; link lost: {l}")),
        (Some(q), None) => Some(q),
        (None, Some(l)) => Some(format!("window cut by a lost link: {l}")),
        (None, None) => None,
    };
    let outcome = compare(&m.before, &after, &m.command, window, partial);
    Some(Effect::Gate(GateRequest::RecordOutcome {
        id: id.to_string(),
        outcome: Box::new(outcome),
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::{Keymap, ThemeSet};
    use crate::logs::{Level, LogLine};
    use crate::metrics::{Unit, names};
    use crate::outcome::VerdictKind;

    const START: i64 = 1_795_442_400;

    fn state() -> State {
        let themes = ThemeSet::load(None, false).expect("themes");
        let theme = themes
            .get(crate::config::theme::DEFAULT_THEME)
            .expect("theme");
        let keymap = Keymap::load("default", None).expect("keymap");
        let mut s = State::new("web-1", "web-1", themes, theme, keymap);
        s.outcomes.window_secs = 20;
        s.now = START;
        s
    }

    fn action(state: ActionState, ended: Option<i64>) -> ActionView {
        ActionView {
            state,
            timeout_secs: 60,
            agent: "claude".into(),
            fingerprint: "f".into(),
            started_at: Some(START * 1000),
            ended_at: ended.map(|s| s * 1000),
            ..ActionView::blank("a1", "web-1", "docker restart web")
        }
    }

    fn error_line(t: i64) -> LogLine {
        LogLine {
            t: t * 1_000_000_000,
            source: Arc::from("container:web"),
            level: Some(Level::Error),
            text: format!("upstream timeout req {t}"),
        }
    }

    fn recorded(effects: &[Effect]) -> Option<&crate::outcome::Outcome> {
        effects.iter().find_map(|e| match e {
            Effect::Gate(GateRequest::RecordOutcome { outcome, .. }) => Some(&**outcome),
            _ => None,
        })
    }

    /// 20 s of errors every second and CPU at 90 % before; quiet after.
    fn seeded() -> State {
        let mut s = state();
        for t in START - 20..=START {
            s.metrics
                .store
                .push(names::CPU_TOTAL, Unit::Percent, t, 90.0);
            s.logs.buffer.push(error_line(t));
        }
        action_changed(&mut s, &action(ActionState::Executing, None));
        action_changed(&mut s, &action(ActionState::Succeeded, Some(START + 2)));
        s
    }

    #[test]
    fn the_after_window_is_measured_once_it_has_elapsed() {
        let mut s = seeded();
        for t in START + 3..=START + 22 {
            s.metrics
                .store
                .push(names::CPU_TOTAL, Unit::Percent, t, 20.0);
        }
        s.now = START + 21;
        assert!(tick(&mut s).is_empty(), "window not over yet");
        s.now = START + 22;
        let effects = tick(&mut s);
        let outcome = recorded(&effects).expect("recorded");
        assert_eq!(
            outcome.before,
            Window {
                from: START - 20,
                to: START
            }
        );
        assert_eq!(
            outcome.after,
            Window {
                from: START + 2,
                to: START + 22
            }
        );
        assert_eq!(outcome.partial, None);
        assert_eq!(outcome.error_rate, Some((60.0, 0.0)));
        assert_eq!(
            outcome.verdict.kind,
            VerdictKind::Better,
            "{:?}",
            outcome.verdict
        );
        assert!(
            outcome.verdict.line.contains("CPU 90.0% → 20.0%"),
            "{}",
            outcome.verdict.line
        );
        assert!(!s.outcomes.is_measuring("a1"), "measured once");
        assert!(tick(&mut s).is_empty());
    }

    #[test]
    fn quitting_records_what_was_measured_as_partial() {
        let mut s = seeded();
        let effects = quitting(&mut s, START + 10);
        let outcome = recorded(&effects).expect("recorded");
        assert_eq!(
            outcome.after,
            Window {
                from: START + 2,
                to: START + 10
            }
        );
        assert_eq!(
            outcome.partial.as_deref(),
            Some("the cockpit quit 8 s into the after-window")
        );
        assert!(
            outcome.verdict.line.starts_with("partial ("),
            "{}",
            outcome.verdict.line
        );
        assert!(
            outcome.verdict.no_data.contains(&"alerts".to_string()),
            "no alert source is said: {:?}",
            outcome.verdict.no_data
        );
    }

    #[test]
    fn a_link_lost_during_the_after_window_marks_it() {
        let mut s = seeded();
        s.now = START + 5;
        s.link_lost_reason = Some("3 keepalives unanswered".into());
        assert!(tick(&mut s).is_empty());
        s.link_lost_reason = None;
        s.now = START + 22;
        let effects = tick(&mut s);
        let outcome = recorded(&effects).expect("recorded");
        assert_eq!(
            outcome.partial.as_deref(),
            Some("window cut by a lost link: 3 keepalives unanswered")
        );
    }

    #[test]
    fn other_hosts_and_old_rows_are_not_measured() {
        let mut s = state();
        let mut other = action(ActionState::Executing, None);
        other.host = "db-1".into();
        action_changed(&mut s, &other);
        s.now = START + 3600;
        action_changed(&mut s, &action(ActionState::Succeeded, Some(START + 2)));
        assert!(s.outcomes.measuring.is_empty());
    }
}
