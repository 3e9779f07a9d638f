//! The action lifecycle: the states an action goes through, which moves
//! between them are allowed, and the fingerprint an approval is bound to.
//!
//! ```text
//! proposed → blocked | auto_approved | pending
//! pending  → approved | rejected | expired | cancelled
//! approved | auto_approved → executing → succeeded | failed | uncertain
//! ```
//! Terminal states never change. The store refuses every other move.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionState {
    Proposed,
    Blocked,
    AutoApproved,
    Pending,
    Approved,
    Rejected,
    Expired,
    Cancelled,
    Executing,
    Succeeded,
    Failed,
    Uncertain,
}

impl ActionState {
    pub const ALL: [ActionState; 12] = [
        ActionState::Proposed,
        ActionState::Blocked,
        ActionState::AutoApproved,
        ActionState::Pending,
        ActionState::Approved,
        ActionState::Rejected,
        ActionState::Expired,
        ActionState::Cancelled,
        ActionState::Executing,
        ActionState::Succeeded,
        ActionState::Failed,
        ActionState::Uncertain,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ActionState::Proposed => "proposed",
            ActionState::Blocked => "blocked",
            ActionState::AutoApproved => "auto_approved",
            ActionState::Pending => "pending",
            ActionState::Approved => "approved",
            ActionState::Rejected => "rejected",
            ActionState::Expired => "expired",
            ActionState::Cancelled => "cancelled",
            ActionState::Executing => "executing",
            ActionState::Succeeded => "succeeded",
            ActionState::Failed => "failed",
            ActionState::Uncertain => "uncertain",
        }
    }

    pub fn from_name(name: &str) -> Option<ActionState> {
        ActionState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// No move leaves a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ActionState::Blocked
                | ActionState::Rejected
                | ActionState::Expired
                | ActionState::Cancelled
                | ActionState::Succeeded
                | ActionState::Failed
                | ActionState::Uncertain
        )
    }

    /// Whether `self → to` is a move of the lifecycle.
    pub fn can_move_to(self, to: ActionState) -> bool {
        use ActionState::*;
        matches!(
            (self, to),
            (Proposed, Blocked | AutoApproved | Pending)
                | (Pending, Approved | Rejected | Expired | Cancelled)
                | (Approved | AutoApproved, Executing)
                | (Executing, Succeeded | Failed | Uncertain)
        )
    }
}

impl std::fmt::Display for ActionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The approval is bound to this: sha256 over a canonical JSON array of the
/// host, the exact command, the working directory and the timeout in
/// seconds. Any change to one of them is a different action.
pub fn fingerprint(host: &str, command: &str, cwd: Option<&str>, timeout_secs: u64) -> String {
    let canonical = serde_json::json!(["opscockpit-action-v1", host, command, cwd, timeout_secs]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::ActionState::*;
    use super::*;

    const ALLOWED: [(ActionState, ActionState); 12] = [
        (Proposed, Blocked),
        (Proposed, AutoApproved),
        (Proposed, Pending),
        (Pending, Approved),
        (Pending, Rejected),
        (Pending, Expired),
        (Pending, Cancelled),
        (Approved, Executing),
        (AutoApproved, Executing),
        (Executing, Succeeded),
        (Executing, Failed),
        (Executing, Uncertain),
    ];

    #[test]
    fn every_listed_transition_is_allowed() {
        for (from, to) in ALLOWED {
            assert!(from.can_move_to(to), "{from} → {to} must be allowed");
        }
    }

    #[test]
    fn every_other_transition_is_forbidden() {
        let mut forbidden = 0;
        for from in ActionState::ALL {
            for to in ActionState::ALL {
                if ALLOWED.contains(&(from, to)) {
                    continue;
                }
                assert!(!from.can_move_to(to), "{from} → {to} must be forbidden");
                forbidden += 1;
            }
        }
        assert_eq!(forbidden, 12 * 12 - ALLOWED.len());
    }

    #[test]
    fn terminal_states_never_change() {
        let terminal: Vec<_> = ActionState::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            vec![
                Blocked, Rejected, Expired, Cancelled, Succeeded, Failed, Uncertain
            ]
        );
        for from in terminal {
            for to in ActionState::ALL {
                assert!(!from.can_move_to(to), "terminal {from} → {to}");
            }
        }
    }

    #[test]
    fn approval_cannot_skip_pending_or_run_twice() {
        assert!(!Proposed.can_move_to(Approved));
        assert!(!Proposed.can_move_to(Executing));
        assert!(!Pending.can_move_to(Executing));
        assert!(!Executing.can_move_to(Executing));
        assert!(!Uncertain.can_move_to(Executing));
        assert!(!Executing.can_move_to(Pending));
    }

    #[test]
    fn names_round_trip() {
        for s in ActionState::ALL {
            assert_eq!(ActionState::from_name(s.name()), Some(s));
            let json = serde_json::to_string(&s).expect("json");
            assert_eq!(json, format!("\"{}\"", s.name()));
        }
        assert_eq!(ActionState::from_name("approve"), None);
    }

    #[test]
    fn fingerprint_binds_every_field() {
        let base = fingerprint("web", "systemctl restart nginx", Some("/srv"), 600);
        assert_eq!(base.len(), 64);
        assert_eq!(
            base,
            fingerprint("web", "systemctl restart nginx", Some("/srv"), 600)
        );
        let variants = [
            fingerprint("db", "systemctl restart nginx", Some("/srv"), 600),
            fingerprint("web", "systemctl restart nginx ", Some("/srv"), 600),
            fingerprint("web", "systemctl restart nginx", Some("/srv/"), 600),
            fingerprint("web", "systemctl restart nginx", None, 600),
            fingerprint("web", "systemctl restart nginx", Some(""), 600),
            fingerprint("web", "systemctl restart nginx", Some("/srv"), 601),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
        // Field boundaries cannot be shifted to forge a collision.
        assert_ne!(
            fingerprint("a", "b c", None, 1),
            fingerprint("a b", "c", None, 1)
        );
    }
}
