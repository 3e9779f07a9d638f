//! The history people read, checked against the chain.
//!
//! The `actions` and `outputs` tables are what History and `opscockpit
//! history` show; the `events` chain is what is tamper-evident. Each event
//! carries what it did to the row: the `proposed` event the whole row
//! (`"row"`), every later write the fields it changed (`"set"`), and the
//! write that stored an action's output the hashes of what was stored
//! (`"output"`). Folding those gives the row the chain vouches for; a table
//! row that differs from it was edited outside the gate.
//!
//! Actions recorded before rows were chained (no `"row"` in their
//! `proposed` event) cannot be checked this way and are reported as such,
//! never as intact.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::audit::AuditEvent;
use super::{ActionView, OutputRecord};

/// What [`row_problem`] says of an action recorded before rows were
/// chained: not known to be edited, not known to be intact.
pub const UNCHECKABLE: &str = "recorded before rows were chained: cannot be checked";

/// Whether `problem` is real tampering (not just an old, uncheckable row).
pub fn is_tampering(problem: &str) -> bool {
    problem != UNCHECKABLE
}

/// Fields of the view that are not stored columns.
const NOT_STORED: &[&str] = &["repeats", "tampered"];

/// An action's row as JSON fields, the form the chain records.
pub fn row_fields(view: &ActionView) -> Map<String, Value> {
    let mut fields = match serde_json::to_value(view) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    for name in NOT_STORED {
        fields.remove(*name);
    }
    fields
}

/// The fields of `after` that differ from `before`.
pub fn changed_fields(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Map<String, Value> {
    after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Hex sha256 of stored text.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// What the chain records about a stored output: the hashes of the command's
/// whole streams and of the (masked, bounded) text that was stored.
pub fn output_fields(out: &OutputRecord) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("stdout_total".into(), out.stdout_total.into());
    m.insert("stderr_total".into(), out.stderr_total.into());
    m.insert("stdout_sha256".into(), out.stdout_sha256.clone().into());
    m.insert("stderr_sha256".into(), out.stderr_sha256.clone().into());
    m.insert(
        "stdout_stored_sha256".into(),
        sha256_hex(&out.stdout).into(),
    );
    m.insert(
        "stderr_stored_sha256".into(),
        sha256_hex(&out.stderr).into(),
    );
    m
}

/// One action as the chain describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChainedAction {
    /// `None`: recorded before rows were chained.
    pub row: Option<Map<String, Value>>,
    pub output: Option<Map<String, Value>>,
}

/// Folds the events (in `seq` order) into each action's chained row.
pub fn replay(events: &[AuditEvent]) -> BTreeMap<String, ChainedAction> {
    let mut actions: BTreeMap<String, ChainedAction> = BTreeMap::new();
    for event in events {
        let entry = actions.entry(event.action_id.clone()).or_default();
        let Ok(Value::Object(data)) = serde_json::from_str::<Value>(&event.data) else {
            continue;
        };
        if let Some(Value::Object(row)) = data.get("row") {
            entry.row = Some(row.clone());
        }
        if let (Some(Value::Object(set)), Some(row)) = (data.get("set"), entry.row.as_mut()) {
            for (k, v) in set {
                row.insert(k.clone(), v.clone());
            }
        }
        if let Some(Value::Object(out)) = data.get("output") {
            entry.output = Some(out.clone());
        }
    }
    actions
}

/// Why one action's rows are not what the chain says, or `None`.
pub fn row_problem(chained: Option<&ChainedAction>, view: &ActionView) -> Option<String> {
    let Some(chained) = chained else {
        return Some(
            "not in the chain: no event records this action (row added outside the gate)".into(),
        );
    };
    let Some(row) = &chained.row else {
        return Some(UNCHECKABLE.into());
    };
    let actual = row_fields(view);
    let mut differing: Vec<&str> = actual
        .iter()
        .filter(|(k, v)| row.get(*k).unwrap_or(&Value::Null) != *v)
        .map(|(k, _)| k.as_str())
        .collect();
    differing.extend(
        row.keys()
            .filter(|k| !actual.contains_key(*k))
            .map(String::as_str),
    );
    if differing.is_empty() {
        return None;
    }
    Some(format!(
        "actions row differs from the chain in {}",
        differing.join(", ")
    ))
}

/// Why a stored output is not what the chain says, or `None`.
pub fn output_problem(chained: Option<&ChainedAction>, out: &OutputRecord) -> Option<String> {
    let Some(recorded) = chained.and_then(|c| c.output.as_ref()) else {
        return Some("output row not in the chain (added outside the gate)".into());
    };
    let actual = output_fields(out);
    let differing: Vec<&str> = actual
        .iter()
        .filter(|(k, v)| recorded.get(*k) != Some(*v))
        .map(|(k, _)| k.as_str())
        .collect();
    if differing.is_empty() {
        return None;
    }
    Some(format!(
        "outputs row differs from the chain in {}",
        differing.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::store::tests::sample;

    fn event(action_id: &str, data: Value) -> AuditEvent {
        AuditEvent {
            seq: 1,
            ts_ms: 0,
            action_id: action_id.into(),
            host: "h".into(),
            kind: "proposed".into(),
            actor: "a".into(),
            data: data.to_string(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn a_row_and_its_sets_fold_into_the_current_row() {
        let mut view = sample("a1", "h");
        let proposed = row_fields(&view);
        let before = proposed.clone();
        view.exit_code = Some(3);
        view.error = Some("boom".into());
        let set = changed_fields(&before, &row_fields(&view));
        assert_eq!(set.len(), 2, "{set:?}");
        let chained = replay(&[
            event("a1", serde_json::json!({"row": proposed})),
            event("a1", serde_json::json!({"set": set})),
        ]);
        assert_eq!(row_problem(chained.get("a1"), &view), None);
    }

    #[test]
    fn an_edited_field_is_named() {
        let view = sample("a1", "h");
        let chained = replay(&[event("a1", serde_json::json!({"row": row_fields(&view)}))]);
        let mut edited = view.clone();
        edited.command = "echo harmless".into();
        edited.title = "nothing to see".into();
        let problem = row_problem(chained.get("a1"), &edited).expect("caught");
        assert!(
            problem.contains("command") && problem.contains("title"),
            "{problem}"
        );
        assert!(!problem.contains("host"), "{problem}");
    }

    #[test]
    fn a_row_without_events_and_a_legacy_row_are_not_intact() {
        let view = sample("a1", "h");
        assert!(
            row_problem(None, &view)
                .expect("forged")
                .contains("not in the chain")
        );
        let legacy = replay(&[event("a1", serde_json::json!({"kind": "old"}))]);
        assert!(
            row_problem(legacy.get("a1"), &view)
                .expect("legacy")
                .contains("cannot be checked")
        );
    }

    #[test]
    fn outputs_are_checked_by_their_stored_text_and_hashes() {
        let out = OutputRecord {
            stdout: "ok\n".into(),
            stderr: String::new(),
            stdout_total: 3,
            stderr_total: 0,
            stdout_sha256: "x".into(),
            stderr_sha256: "y".into(),
        };
        let chained = replay(&[event(
            "a1",
            serde_json::json!({"output": output_fields(&out)}),
        )]);
        assert_eq!(output_problem(chained.get("a1"), &out), None);
        let mut edited = out.clone();
        edited.stdout = "all fine\n".into();
        let problem = output_problem(chained.get("a1"), &edited).expect("caught");
        assert!(problem.contains("stdout_stored_sha256"), "{problem}");
        assert!(output_problem(None, &out).is_some());
    }
}
