//! The tamper-evident history: every lifecycle event is a row with `seq`,
//! `prev_hash` and `hash = sha256(canonical JSON of the event, which
//! includes prev_hash)`. Changing, deleting or reordering rows breaks the
//! chain at the first affected `seq`; [`verify`] finds it.
//!
//! What the chain does not prove: that nobody truncated the newest rows (a
//! shortened chain is still a valid chain). Keep exports to compare heads.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One row of the event table, and one line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    pub seq: i64,
    /// Unix milliseconds.
    pub ts_ms: i64,
    pub action_id: String,
    pub host: String,
    /// The state the action entered (`proposed`, `pending`, …).
    pub kind: String,
    /// Who caused it: the proposing agent, `operator:USER`, `policy`, `cockpit`.
    pub actor: String,
    /// Details as a JSON object, stored as text so it hashes byte for byte.
    pub data: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The hashed part of an event, in a fixed field order.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: i64,
    ts_ms: i64,
    action_id: &'a str,
    host: &'a str,
    kind: &'a str,
    actor: &'a str,
    data: &'a str,
    prev_hash: &'a str,
}

impl AuditEvent {
    /// The hash this event must carry, given its fields and `prev_hash`.
    pub fn compute_hash(&self) -> String {
        let canonical = Canonical {
            seq: self.seq,
            ts_ms: self.ts_ms,
            action_id: &self.action_id,
            host: &self.host,
            kind: &self.kind,
            actor: &self.actor,
            data: &self.data,
            prev_hash: &self.prev_hash,
        };
        // Serialising a struct of strings and integers cannot fail.
        let text = serde_json::to_string(&canonical).unwrap_or_default();
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

/// Where and why the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The first sequence number that does not verify.
    pub seq: i64,
    pub reason: String,
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "chain broken at seq {}: {}", self.seq, self.reason)
    }
}

/// A chain that verified: how many events and the newest hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub count: u64,
    pub last_seq: i64,
    pub hash: String,
}

/// Checks events in the order given (by `seq` for the database, line order
/// for an export): consecutive `seq` from 1, each `prev_hash` the hash
/// before it, each `hash` recomputed.
pub fn verify<I: IntoIterator<Item = AuditEvent>>(events: I) -> Result<ChainHead, ChainBreak> {
    let mut expected_seq = 1i64;
    let mut prev_hash = GENESIS.to_string();
    let mut count = 0u64;
    for event in events {
        if event.seq != expected_seq {
            let reason = if event.seq > expected_seq {
                format!(
                    "expected seq {expected_seq}, found {} (rows deleted?)",
                    event.seq
                )
            } else {
                format!(
                    "expected seq {expected_seq}, found {} (rows reordered or duplicated?)",
                    event.seq
                )
            };
            return Err(ChainBreak {
                seq: expected_seq,
                reason,
            });
        }
        if event.prev_hash != prev_hash {
            return Err(ChainBreak {
                seq: event.seq,
                reason: "prev_hash does not match the previous event's hash (row removed or replaced before it?)".into(),
            });
        }
        if event.compute_hash() != event.hash {
            return Err(ChainBreak {
                seq: event.seq,
                reason: "hash does not match the event's contents (row edited)".into(),
            });
        }
        prev_hash = event.hash;
        expected_seq += 1;
        count += 1;
    }
    Ok(ChainHead {
        count,
        last_seq: expected_seq - 1,
        hash: prev_hash,
    })
}

/// Verifies an NDJSON export on its own. A line that does not parse is a
/// break at the seq it should have had.
pub fn verify_ndjson(text: &str) -> Result<ChainHead, ChainBreak> {
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<AuditEvent>(line) {
            Ok(event) => events.push(event),
            Err(e) => {
                return Err(ChainBreak {
                    seq: events.len() as i64 + 1,
                    reason: format!("line {} is not an event: {e}", i + 1),
                });
            }
        }
    }
    verify(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEvent> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let mut e = AuditEvent {
                    seq,
                    ts_ms: 1_700_000_000_000 + seq,
                    action_id: format!("a{}", seq / 3),
                    host: "web".into(),
                    kind: "pending".into(),
                    actor: "agent".into(),
                    data: format!("{{\"n\":{seq}}}"),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = e.compute_hash();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    #[test]
    fn intact_chain_verifies() {
        let head = verify(chain(10)).expect("intact");
        assert_eq!(head.count, 10);
        assert_eq!(head.last_seq, 10);
        assert_eq!(verify(Vec::new()).expect("empty").count, 0);
    }

    #[test]
    fn edited_event_is_caught_at_its_seq() {
        for field in 0..4 {
            let mut events = chain(10);
            match field {
                0 => events[4].data = "{\"n\":99}".into(),
                1 => events[4].actor = "operator:mallory".into(),
                2 => events[4].kind = "approved".into(),
                _ => events[4].ts_ms += 1,
            }
            assert_eq!(verify(events).expect_err("edited").seq, 5);
        }
    }

    #[test]
    fn rehashed_edit_is_caught_at_the_next_seq() {
        let mut events = chain(10);
        events[4].data = "{\"n\":99}".into();
        events[4].hash = events[4].compute_hash();
        assert_eq!(verify(events).expect_err("rehashed").seq, 6);
    }

    #[test]
    fn deleted_event_is_caught() {
        let mut events = chain(10);
        events.remove(6);
        let err = verify(events).expect_err("deleted");
        assert_eq!(err.seq, 7);
        assert!(err.reason.contains("deleted"), "{}", err.reason);
    }

    #[test]
    fn reordered_events_are_caught() {
        let mut events = chain(10);
        events.swap(2, 3);
        assert_eq!(verify(events).expect_err("reordered").seq, 3);
    }

    #[test]
    fn ndjson_round_trip_and_garbage() {
        let text: String = chain(5)
            .iter()
            .map(|e| serde_json::to_string(e).expect("json") + "\n")
            .collect();
        assert_eq!(verify_ndjson(&text).expect("verifies").count, 5);
        let broken = text.replacen("{\"seq\":3", "{\"seq\":3,", 1);
        assert_eq!(verify_ndjson(&broken).expect_err("garbage").seq, 3);
        let extra = text.replacen("\"ts_ms\"", "\"extra\":1,\"ts_ms\"", 1);
        assert_eq!(verify_ndjson(&extra).expect_err("unknown field").seq, 1);
    }
}
