//! The answer to the broker's `snapshot` verb, built from the state the
//! screen shows: the link, a metrics summary, active alerts, containers and
//! the newest log lines. Every string is already inert in the state or made
//! inert here; nothing the screen masks (environment values) is included.

use serde_json::{Value, json};

use crate::app::alerts::level_label;
use crate::app::state::State;
use crate::gate::snapshot::SnapshotQuery;
use crate::logs::{Level, LogLine};
use crate::metrics::names;
use crate::text::inert;
use crate::transport::ConnectionState;

pub fn build(state: &State, query: &SnapshotQuery) -> Value {
    json!({
        "host": inert(&state.host),
        "hostname": state.metrics.hostname.as_deref().map(inert),
        "now": state.now,
        "link": link(&state.connection),
        "metrics": metrics(state),
        "alerts": alerts(state),
        "containers": containers(state),
        "pending_actions": state.pending_actions,
        "logs": logs(state, query),
    })
}

fn link(connection: &ConnectionState) -> Value {
    match connection {
        ConnectionState::Local => json!({"state": "local"}),
        ConnectionState::Connected { rtt_ms, unanswered } => {
            json!({"state": "connected", "rtt_ms": rtt_ms, "keepalives_unanswered": unanswered})
        }
        ConnectionState::Reconnecting {
            attempt,
            since,
            reason,
        } => {
            json!({"state": "reconnecting", "attempt": attempt, "since": since, "reason": inert(reason)})
        }
        ConnectionState::Down { reason, since } => {
            json!({"state": "down", "reason": inert(reason), "since": since})
        }
    }
}

fn metrics(state: &State) -> Value {
    let store = &state.metrics.store;
    let latest = |name: &str| store.latest(name);
    json!({
        "source": state.metrics.source.map(|s| s.label()),
        // What the screen says: since the link was lost or the source
        // went quiet, whichever came first.
        "stale_since": crate::app::freshness::pane_stale_since(state, crate::action::PaneId::Metrics),
        "cpu_percent": latest(names::CPU_TOTAL),
        "cpu_count": state.metrics.cpu_count,
        "mem_used_bytes": latest(names::MEM_USED),
        "mem_available_bytes": latest(names::MEM_AVAILABLE),
        "mem_total_bytes": latest(names::MEM_TOTAL),
        "load": [latest(names::LOAD1), latest(names::LOAD5), latest(names::LOAD15)],
        "net_rx_bytes_per_sec": latest(names::NET_RX),
        "net_tx_bytes_per_sec": latest(names::NET_TX),
        "disk_read_bytes_per_sec": latest(names::DISK_READ),
        "disk_write_bytes_per_sec": latest(names::DISK_WRITE),
        "uptime_secs": state.metrics.uptime_secs,
    })
}

fn alerts(state: &State) -> Value {
    let list: Vec<Value> = state
        .alerts
        .alerts
        .iter()
        .map(|a| {
            json!({
                "level": level_label(a.level),
                "name": inert(&a.name),
                "chart": inert(&a.chart),
                "value": inert(&a.value),
                "info": inert(&a.info),
                "since": a.since,
            })
        })
        .collect();
    json!({"available": state.alerts.available, "active": list})
}

fn containers(state: &State) -> Value {
    let c = &state.containers;
    let list: Vec<Value> = c
        .containers
        .values()
        .map(|k| {
            let stats = c.stats.get(&k.id);
            json!({
                "name": inert(&k.name),
                "image": inert(&k.image),
                "state": inert(&k.state),
                "health": k.health.as_deref().map(inert),
                "status": inert(&k.status),
                "restarts": k.restart_count,
                "exit_code": k.exit_code,
                "cpu_percent": stats.and_then(|s| s.cpu_percent),
                "mem_used_bytes": stats.map(|s| s.mem_used),
            })
        })
        .collect();
    json!(list)
}

/// The Logs pane's rule (`LogsPane::in_view`): a line without a level
/// passes every level filter unless the asker hides unlevelled lines, since
/// plain program output is often the very line that explains an error.
fn level_passes(line: Option<Level>, max: Option<Level>, hide_unlevelled: bool) -> bool {
    match (line, max) {
        (None, _) => !hide_unlevelled,
        (Some(_), None) => true,
        (Some(level), Some(max)) => level <= max,
    }
}

fn logs(state: &State, query: &SnapshotQuery) -> Value {
    let level = query.level.as_deref().and_then(Level::from_name);
    let search = query.search.as_deref().map(str::to_lowercase);
    let wanted = |line: &&LogLine| {
        query
            .source
            .as_deref()
            .is_none_or(|s| line.source.starts_with(s))
            && level_passes(line.level, level, query.hide_unlevelled)
            && search
                .as_deref()
                .is_none_or(|needle| line.text.to_lowercase().contains(needle))
    };
    let mut newest: Vec<Value> = state
        .logs
        .buffer
        .iter()
        .rev()
        .filter(wanted)
        .take(query.line_limit())
        .map(|line| {
            json!({
                "t_ns": line.t,
                "source": inert(&line.source),
                "level": line.level.map(|l| l.label()),
                "text": line.text,
            })
        })
        .collect();
    newest.reverse();
    json!(newest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::event::AppEvent;
    use crate::logs::{LogEvent, LogLine};

    fn state_with(lines: &[(Option<Level>, &str)]) -> State {
        let themes = crate::config::ThemeSet::load(None, false).expect("themes");
        let theme = themes.get("dark").expect("dark");
        let keymap = crate::config::Keymap::load("default", None).expect("keymap");
        let mut state = State::new("local", "local", themes, theme, keymap);
        let lines = lines
            .iter()
            .enumerate()
            .map(|(i, (level, text))| {
                LogLine::from_raw(
                    (i as i64 + 1) * 1_000_000_000,
                    std::sync::Arc::from("container:web"),
                    *level,
                    text.as_bytes(),
                )
            })
            .collect();
        crate::app::update::apply_event(&mut state, AppEvent::Log(LogEvent::Lines(lines)));
        state
    }

    fn texts(snapshot: &Value) -> Vec<String> {
        snapshot["logs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["text"].as_str().map(str::to_string))
            .collect()
    }

    #[test]
    fn unlevelled_lines_pass_the_level_filter_unless_hidden() {
        let state = state_with(&[
            (Some(Level::Info), "served /health"),
            (None, "panic: runtime error: index out of range"),
            (Some(Level::Error), "request failed"),
            (Some(Level::Warn), "slow upstream"),
        ]);
        let errors = SnapshotQuery {
            level: Some("error".into()),
            ..SnapshotQuery::default()
        };
        assert_eq!(
            texts(&build(&state, &errors)),
            ["panic: runtime error: index out of range", "request failed"]
        );
        let errors_only = SnapshotQuery {
            hide_unlevelled: true,
            ..errors
        };
        assert_eq!(texts(&build(&state, &errors_only)), ["request failed"]);
        let no_level_filter = SnapshotQuery {
            hide_unlevelled: true,
            ..SnapshotQuery::default()
        };
        assert_eq!(texts(&build(&state, &no_level_filter)).len(), 3);
    }

    #[test]
    fn a_query_without_hide_unlevelled_is_sent_as_before() {
        let wire = serde_json::to_string(&SnapshotQuery::default()).expect("json");
        assert!(!wire.contains("hide_unlevelled"), "{wire}");
        let parsed: SnapshotQuery =
            serde_json::from_str(r#"{"level":"warn","hide_unlevelled":true}"#).expect("parse");
        assert!(parsed.hide_unlevelled);
    }
}
