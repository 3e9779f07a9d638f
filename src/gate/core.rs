//! [`Gate`]: the one API over the store, the policy and the executor. The
//! broker calls it for socket clients, the TUI for the operator's decisions
//! (through an `Effect`), and tests call it directly. Every write goes to
//! the store first; only then are watchers told.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::policy::Policy;
use super::store::{HistoryFilter, Move, Store};
use super::{
    ActionState, ActionView, GateError, GateEvent, OutputRecord, Proposal, Tier, fingerprint,
    now_ms,
};
use crate::config::GateConfig;
use crate::transport::SharedTransport;

/// Longest command accepted (the whole request is at most 64 KiB anyway).
pub const MAX_COMMAND_BYTES: usize = 32 * 1024;
/// Longest per-action timeout a proposal may ask for.
/// Longest title and reason a proposal may carry.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_REASON_BYTES: usize = 4 * 1024;
pub const MAX_TIMEOUT_SECS: u64 = 24 * 3600;
/// How many recent actions the History pane loads.
pub const HISTORY_LIMIT: usize = 2000;

#[derive(Clone)]
pub struct Gate {
    inner: Arc<Inner>,
}

struct Inner {
    host: String,
    store: Mutex<Store>,
    policy: Policy,
    config: GateConfig,
    transport: SharedTransport,
    data_dir: PathBuf,
    /// Everything that changed, for the TUI (and tests).
    events: broadcast::Sender<GateEvent>,
    /// Bumped on every change, for `wait`.
    changed: watch::Sender<u64>,
    operator: String,
    /// Per pending action: how many proposers wait on it right now. When the
    /// last one goes away before a decision, nobody would receive the
    /// result, so the proposal is cancelled.
    waiters: Mutex<HashMap<String, usize>>,
    /// Identical proposals merged into a pending one (id → count).
    repeats: Mutex<HashMap<String, u32>>,
    /// Where `snapshot` questions go (the cockpit's event loop).
    snapshots: super::snapshot::SnapshotDesk,
    /// Session tokens of confined agents (`register_session`) → profile.
    sessions: Mutex<HashMap<String, String>>,
}

/// Why a pending proposal was cancelled by the cockpit rather than by its
/// proposer: recorded in the event's data and shown in History.
pub const CANCELLED_BY_SHUTDOWN: &str =
    "cancelled by shutdown: the cockpit quit before anyone decided";
pub const CANCELLED_PROPOSER_GONE: &str =
    "proposer gone: the waiting client disconnected before a decision";
/// What a rejection without a typed reason records.
pub const NO_REASON: &str = "no reason given";

/// A proposer waiting on an action (see [`Gate::register_waiter`]). Dropped
/// when the wait ends normally; [`WaiterGuard::gone`] when the proposer
/// disconnected first.
pub struct WaiterGuard {
    gate: Gate,
    id: String,
    counted: bool,
}

impl WaiterGuard {
    /// The proposer went away without the result. If nobody else waits and
    /// the action is still pending, it is cancelled: it must never run later
    /// for an agent that is no longer waiting.
    pub fn gone(mut self) {
        self.counted = false;
        if self.gate.waiter_left(&self.id) > 0 {
            return;
        }
        match self
            .gate
            .cancel_as(&self.id, "proposer", CANCELLED_PROPOSER_GONE)
        {
            Ok(view) => {
                tracing::info!(id = %view.id, "proposer gone before a decision: cancelled");
                self.gate.changed(&view);
            }
            // Decided meanwhile (approved, rejected, expired): nothing to do.
            Err(e) => {
                tracing::debug!(id = %self.id, code = e.code, "proposer gone after a decision")
            }
        }
    }
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        if self.counted {
            self.gate.waiter_left(&self.id);
        }
    }
}

pub const CANCELLED_RESTART: &str =
    "the cockpit restarted: whoever proposed this was no longer waiting";

impl Gate {
    /// Opens the history for the cockpit of `host`. Any action of this host
    /// still `executing` was running when a previous cockpit died: it
    /// becomes `uncertain` and is never re-run.
    pub fn open(
        host: &str,
        data_dir: &Path,
        policy: Policy,
        config: GateConfig,
        transport: SharedTransport,
    ) -> Result<Gate, GateError> {
        let store = Store::open(&super::db_path(data_dir))?;
        // A reader that falls behind reloads the history (see `run`), so
        // the queue need not hold a burst of thousands.
        let (events, _) = broadcast::channel(256);
        let (changed, _) = watch::channel(0);
        let operator = format!(
            "operator:{}",
            std::env::var("USER")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "local".into())
        );
        let gate = Gate {
            inner: Arc::new(Inner {
                host: host.to_string(),
                store: Mutex::new(store),
                policy,
                config,
                transport,
                data_dir: data_dir.to_path_buf(),
                events,
                changed,
                operator,
                waiters: Mutex::new(HashMap::new()),
                repeats: Mutex::new(HashMap::new()),
                snapshots: super::snapshot::SnapshotDesk::default(),
                sessions: Mutex::new(HashMap::new()),
            }),
        };
        gate.recover()?;
        gate.expire_due()?;
        Ok(gate)
    }

    pub fn host(&self) -> &str {
        &self.inner.host
    }

    pub fn config(&self) -> &GateConfig {
        &self.inner.config
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    pub fn operator(&self) -> &str {
        &self.inner.operator
    }

    pub(crate) fn transport(&self) -> SharedTransport {
        self.inner.transport.clone()
    }

    /// The cockpit answers `snapshot` requests from now on.
    pub fn serve_snapshots(&self) -> tokio::sync::mpsc::Receiver<super::snapshot::SnapshotRequest> {
        self.inner.snapshots.listen()
    }

    /// What the cockpit sees now (read-only; see [`super::snapshot`]).
    pub async fn snapshot(
        &self,
        query: super::snapshot::SnapshotQuery,
    ) -> Result<serde_json::Value, GateError> {
        self.inner.snapshots.ask(query).await
    }

    pub fn subscribe(&self) -> broadcast::Receiver<GateEvent> {
        self.inner.events.subscribe()
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave SQLite half-written
        // (transactions roll back), so a poisoned lock is still usable.
        self.inner
            .store
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub(crate) fn publish(&self, event: GateEvent) {
        let _ = self.inner.events.send(event);
    }

    fn changed(&self, view: &ActionView) {
        self.inner.changed.send_modify(|n| *n += 1);
        // What the TUI shows is checked against the chain like History.
        let view = self
            .store()
            .checked(view.clone())
            .unwrap_or_else(|_| view.clone());
        self.publish(GateEvent::Changed(Box::new(view)));
    }

    /// Bumped after every change (the anchor follows it).
    pub fn watch_changes(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// The chain's head as an anchor and the first event's hash, or `None`
    /// for an empty history.
    pub fn head_and_first(&self) -> Result<Option<(super::anchor::Anchor, String)>, GateError> {
        let store = self.store();
        let Some((seq, hash)) = store.head()? else {
            return Ok(None);
        };
        let first = store.first_hash()?.unwrap_or_default();
        Ok(Some((
            super::anchor::Anchor {
                seq,
                hash,
                ts_ms: now_ms(),
            },
            first,
        )))
    }

    /// The history checked against itself, its local anchor and the host's
    /// (read over the cockpit's session).
    pub async fn check_integrity(&self) -> Result<super::integrity::Report, GateError> {
        let first = self.head_and_first()?.map(|(_, first)| first);
        let remote = match &first {
            Some(first) => match super::anchor::read_remote(&self.transport(), first).await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("{e}");
                    None
                }
            },
            None => None,
        };
        let source = format!(
            "{}:~/{}",
            self.inner.host,
            super::anchor::remote_path(first.as_deref().unwrap_or(""))
        );
        super::integrity::check(&self.store(), &self.inner.data_dir, &[(source, remote)])
    }

    fn recover(&self) -> Result<(), GateError> {
        let running = self
            .store()
            .in_state(Some(&self.inner.host), ActionState::Executing)?;
        for action in running {
            let reason = "the cockpit stopped while this action ran: it may or may not have completed; check the host before proposing it again";
            let view = self.store().apply(
                &action.id,
                &[Move::new(
                    ActionState::Uncertain,
                    "cockpit",
                    json!({"reason": reason}),
                )],
                |_| Ok(()),
                |v| {
                    v.error = Some(reason.into());
                    v.ended_at = Some(now_ms());
                },
                None,
            )?;
            tracing::warn!(id = %view.id, "action left executing by a previous cockpit is now uncertain");
        }
        // A proposal left pending by a cockpit that died has no proposer
        // waiting any more: it must not become approvable again.
        self.cancel_all_pending("cockpit", CANCELLED_RESTART)?;
        Ok(())
    }

    /// Cancels every pending proposal of this host, recording `reason`; the
    /// cockpit does this when it quits. Returns how many.
    pub fn cancel_all_pending(&self, by: &str, reason: &str) -> Result<usize, GateError> {
        let pending = self
            .store()
            .in_state(Some(&self.inner.host), ActionState::Pending)?;
        let mut count = 0;
        for action in pending {
            if let Ok(view) = self.cancel_as(&action.id, by, reason) {
                count += 1;
                self.changed(&view);
            }
        }
        Ok(count)
    }

    /// A proposer starts waiting on `id`; the guard says when it stops.
    pub fn register_waiter(&self, id: &str) -> WaiterGuard {
        *self
            .inner
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.to_string())
            .or_default() += 1;
        WaiterGuard {
            gate: self.clone(),
            id: id.to_string(),
            counted: true,
        }
    }

    fn waiter_left(&self, id: &str) -> usize {
        let mut waiters = self.inner.waiters.lock().unwrap_or_else(|p| p.into_inner());
        let left = waiters.get(id).copied().unwrap_or(1).saturating_sub(1);
        if left == 0 {
            waiters.remove(id);
        } else {
            waiters.insert(id.to_string(), left);
        }
        left
    }

    /// A pending proposal identical to `view` (same fingerprint, same agent):
    /// a retry, merged instead of queued twice.
    fn identical_pending(&self, view: &ActionView) -> Result<Option<ActionView>, GateError> {
        let pending = self
            .store()
            .pending_with_fingerprint(&self.inner.host, &view.fingerprint)?;
        Ok(pending
            .into_iter()
            .find(|p| p.agent == view.agent && p.title == view.title && p.reason == view.reason))
    }

    fn with_repeats(&self, mut view: ActionView) -> ActionView {
        view.repeats = self
            .inner
            .repeats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&view.id)
            .copied()
            .unwrap_or(0);
        view
    }

    /// `opscockpit agent` registers the session token it hands a confined
    /// agent. A token must be 64 hex digits (32 random bytes) and new: a
    /// second registration of a known token is refused, so nobody can
    /// re-label a session that exists.
    pub fn register_session(&self, token: &str, profile: &str) -> Result<(), GateError> {
        let well_formed = token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit());
        if !well_formed {
            return Err(GateError::new(
                "bad_request",
                "a session token is 64 hex digits (32 random bytes)",
            ));
        }
        let profile: String = profile.chars().take(64).collect();
        if profile.trim().is_empty() {
            return Err(GateError::new("bad_request", "the profile name is empty"));
        }
        let mut sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if sessions.contains_key(&token.to_ascii_lowercase()) {
            return Err(GateError::new(
                "session_exists",
                "this session token is already registered",
            ));
        }
        sessions.insert(token.to_ascii_lowercase(), profile);
        Ok(())
    }

    /// The profile of a registered session token (`None`: unknown or absent).
    fn confined_profile(&self, session: Option<&str>) -> Option<String> {
        let token = session?.to_ascii_lowercase();
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&token)
            .cloned()
    }

    /// The cockpit's own check of a claimed runbook step, against the repo
    /// on the host (over the transport) or on this machine.
    fn check_runbook(
        &self,
        claim: crate::runbooks::RunbookRef,
        command: &str,
    ) -> crate::runbooks::RunbookRef {
        let cfg = &self.inner.config;
        if let Some(repo) = &cfg.runbooks_remote {
            let remote = crate::runbooks::remote::RemoteRepo {
                transport: self.inner.transport.clone(),
                repo: repo.clone(),
            };
            return crate::runbooks::check_in(Some(&remote), claim, command);
        }
        crate::runbooks::check(cfg.runbooks_dir.as_deref(), claim, command)
    }

    /// Submits a proposal: the policy gives its tier, it is recorded, and an
    /// `auto` action starts at once.
    pub fn propose(&self, proposal: Proposal) -> Result<ActionView, GateError> {
        let mut p = validate(proposal)?;
        // Whether a command matches its runbook is the cockpit's finding,
        // never the proposer's say-so: checked against the repo here.
        if let Some(claim) = p.runbook.take() {
            p.runbook = Some(Box::new(self.check_runbook(*claim, &p.command)));
        }
        let confined = self.confined_profile(p.session.as_deref());
        let cfg = &self.inner.config;
        let timeout_secs = p
            .timeout_secs
            .unwrap_or(cfg.action_timeout.as_secs().max(1));
        let decision = self
            .inner
            .policy
            .evaluate(&self.inner.host, &p.command, p.risk);
        let now = now_ms();
        let ttl = match decision.tier {
            Tier::Confirm => cfg.confirm_ttl,
            _ => cfg.approve_ttl,
        };
        let mut view = ActionView {
            id: p
                .id
                .take()
                .filter(|id| is_action_id(id))
                .unwrap_or_else(new_id),
            host: self.inner.host.clone(),
            state: ActionState::Proposed,
            tier: decision.tier,
            rule: decision.rule.clone(),
            fingerprint: fingerprint(&self.inner.host, &p.command, p.cwd.as_deref(), timeout_secs),
            command: p.command,
            cwd: p.cwd,
            timeout_secs,
            title: p.title,
            reason: p.reason,
            agent: if p.agent.is_empty() {
                "unknown".into()
            } else {
                p.agent
            },
            risk: p.risk,
            created_at: now,
            expires_at: None,
            decided_at: None,
            decided_by: None,
            decision_reason: None,
            started_at: None,
            ended_at: None,
            exit_code: None,
            signal: None,
            error: None,
            stdout_total: 0,
            stderr_total: 0,
            confined,
            runbook: p.runbook.map(|r| *r),
            outcome: None,
            repeats: 0,
            tampered: None,
        };
        let policy_data = json!({"tier": decision.tier.name(), "rule": decision.rule});
        let moves = match decision.tier {
            Tier::Deny => {
                view.decided_at = Some(now);
                view.decided_by = Some("policy".into());
                view.decision_reason = decision.reason.clone();
                vec![Move::new(
                    ActionState::Blocked,
                    "policy",
                    json!({"tier": "deny", "rule": decision.rule, "reason": decision.reason}),
                )]
            }
            Tier::Auto => {
                view.decided_at = Some(now);
                view.decided_by = Some("policy".into());
                view.started_at = Some(now);
                vec![
                    Move::new(ActionState::AutoApproved, "policy", policy_data),
                    Move::new(
                        ActionState::Executing,
                        "cockpit",
                        json!({"fingerprint": view.fingerprint}),
                    ),
                ]
            }
            Tier::Approve | Tier::Confirm => {
                view.expires_at = Some(now + ttl.as_millis() as i64);
                vec![Move::new(ActionState::Pending, "policy", policy_data)]
            }
        };
        let proposed = json!({
            "command": view.command,
            "cwd": view.cwd,
            "timeout_secs": view.timeout_secs,
            "title": view.title,
            "reason": view.reason,
            "risk": view.risk.map(|r| r.name()),
            "fingerprint": view.fingerprint,
            "confined": view.confined,
            "runbook": view.runbook,
        });
        if matches!(decision.tier, Tier::Approve | Tier::Confirm)
            && let Some(existing) = self.identical_pending(&view)?
        {
            let merged = {
                let mut repeats = self.inner.repeats.lock().unwrap_or_else(|p| p.into_inner());
                let count = repeats.entry(existing.id.clone()).or_default();
                *count += 1;
                *count
            };
            tracing::info!(id = %existing.id, merged, "identical proposal merged into a pending one");
            let view = self.with_repeats(existing);
            self.changed(&view);
            return Ok(view);
        }
        let agent = format!("agent:{}", view.agent);
        let stored = self.store().insert(&view, &agent, proposed, &moves)?;
        self.changed(&stored);
        if stored.state == ActionState::Executing {
            let fp = stored.fingerprint.clone();
            tokio::spawn(super::executor::run(self.clone(), stored.clone(), fp));
        }
        Ok(stored)
    }

    /// The operator approves exactly `approved_fingerprint`: the action must
    /// still be pending, unexpired, on this cockpit's host, and its stored
    /// fields must still hash to that fingerprint. It is marked `executing`
    /// in the same write, before anything starts, then run once.
    pub fn approve(&self, id: &str, approved_fingerprint: &str) -> Result<ActionView, GateError> {
        let host = self.inner.host.clone();
        let now = now_ms();
        let operator = self.inner.operator.clone();
        // A row edited outside the gate is never run, whatever it says now.
        let tampered = {
            let store = self.store();
            match store.get(id)? {
                Some(view) => store.checked(view)?.tampered,
                None => None,
            }
        };
        if let Some(problem) = tampered {
            return Err(GateError::new(
                "tampered",
                format!(
                    "this action's stored row is not what the history chain recorded ({problem}): nothing was approved"
                ),
            ));
        }
        let result = self.store().apply(
            id,
            &[
                Move::new(
                    ActionState::Approved,
                    &operator,
                    json!({"fingerprint": approved_fingerprint}),
                ),
                Move::new(
                    ActionState::Executing,
                    "cockpit",
                    json!({"fingerprint": approved_fingerprint}),
                ),
            ],
            |v| {
                check_decidable(v, &host, now)?;
                let current = fingerprint(&v.host, &v.command, v.cwd.as_deref(), v.timeout_secs);
                if v.fingerprint != approved_fingerprint || current != approved_fingerprint {
                    return Err(GateError::new(
                        "fingerprint_mismatch",
                        "the action changed since it was shown: nothing was approved; review it again",
                    ));
                }
                Ok(())
            },
            |v| {
                v.decided_at = Some(now);
                v.decided_by = Some(operator.clone());
                v.started_at = Some(now);
            },
            None,
        );
        let view = match result {
            Ok(view) => view,
            Err(e) => {
                if e.code == "expired" {
                    let _ = self.expire_due();
                }
                return Err(e);
            }
        };
        self.changed(&view);
        tokio::spawn(super::executor::run(
            self.clone(),
            view.clone(),
            approved_fingerprint.to_string(),
        ));
        Ok(view)
    }

    /// The operator rejects; the reason goes back to the proposer (an empty
    /// one is recorded as "no reason given").
    pub fn reject(&self, id: &str, reason: &str) -> Result<ActionView, GateError> {
        let reason = match reason.trim() {
            "" => NO_REASON,
            given => given,
        };
        let host = self.inner.host.clone();
        let now = now_ms();
        let operator = self.inner.operator.clone();
        let view = self.store().apply(
            id,
            &[Move::new(
                ActionState::Rejected,
                &operator,
                json!({"reason": reason}),
            )],
            |v| check_decidable(v, &host, now),
            |v| {
                v.decided_at = Some(now);
                v.decided_by = Some(operator.clone());
                v.decision_reason = Some(reason.to_string());
            },
            None,
        )?;
        self.changed(&view);
        Ok(view)
    }

    /// Appends the measured outcome of a finished action (the cockpit
    /// measures it: the gate only records it, once, in the chain).
    pub fn record_outcome(
        &self,
        id: &str,
        outcome: &crate::outcome::Outcome,
    ) -> Result<ActionView, GateError> {
        let view = self.store().record_outcome(id, outcome, "cockpit")?;
        self.changed(&view);
        Ok(view)
    }

    /// The proposer withdraws a pending proposal.
    pub fn cancel(&self, id: &str) -> Result<ActionView, GateError> {
        let view = self.cancel_as(id, "proposer", "")?;
        self.changed(&view);
        Ok(view)
    }

    /// Cancels a pending proposal on behalf of `by` (the proposer, or the
    /// cockpit when nobody waits any more), recording why.
    fn cancel_as(&self, id: &str, by: &str, reason: &str) -> Result<ActionView, GateError> {
        let host = self.inner.host.clone();
        let now = now_ms();
        let data = if reason.is_empty() {
            json!({})
        } else {
            json!({ "reason": reason })
        };
        self.store().apply(
            id,
            &[Move::new(ActionState::Cancelled, by, data)],
            |v| {
                if v.host != host {
                    return Err(not_here(v, &host));
                }
                if v.state != ActionState::Pending {
                    return Err(GateError::new(
                        "invalid_transition",
                        format!(
                            "action {} is {}; only a pending action can be cancelled",
                            v.id, v.state
                        ),
                    ));
                }
                Ok(())
            },
            |v| {
                v.decided_at = Some(now);
                v.decided_by = Some(by.to_string());
                if !reason.is_empty() {
                    v.decision_reason = Some(reason.to_string());
                }
            },
            None,
        )
    }

    /// When the first pending action runs out of time (UTC ms), if any.
    pub fn next_expiry(&self) -> Result<Option<i64>, GateError> {
        self.store().next_expiry(&self.inner.host)
    }

    /// Pending actions whose time is up become `expired`.
    pub fn expire_due(&self) -> Result<usize, GateError> {
        let now = now_ms();
        let due = self.store().pending_due(&self.inner.host, now)?;
        let mut count = 0;
        for action in due {
            let result = self.store().apply(
                &action.id,
                &[Move::new(
                    ActionState::Expired,
                    "cockpit",
                    json!({"expires_at": action.expires_at}),
                )],
                |v| {
                    if v.state == ActionState::Pending {
                        Ok(())
                    } else {
                        Err(GateError::new("raced", "decided meanwhile"))
                    }
                },
                |v| {
                    v.decided_at = Some(now);
                    v.decided_by = Some("expiry".into());
                    v.decision_reason = Some("expired: nobody decided".into());
                },
                None,
            );
            if let Ok(view) = result {
                count += 1;
                self.changed(&view);
            }
        }
        Ok(count)
    }

    /// Records how an executing action ended.
    pub(crate) fn finish(
        &self,
        id: &str,
        to: ActionState,
        data: serde_json::Value,
        edit: impl FnOnce(&mut ActionView),
        output: &OutputRecord,
    ) -> Result<ActionView, GateError> {
        let view = self.store().apply(
            id,
            &[Move::new(to, "cockpit", data)],
            |v| {
                if v.state == ActionState::Executing {
                    Ok(())
                } else {
                    Err(GateError::new(
                        "invalid_transition",
                        format!("action {} is {}, not executing", v.id, v.state),
                    ))
                }
            },
            edit,
            Some(output),
        )?;
        self.changed(&view);
        Ok(view)
    }

    pub fn status(&self, id: &str) -> Result<ActionView, GateError> {
        self.store()
            .get(id)?
            .map(|v| self.with_repeats(v))
            .ok_or_else(|| GateError::new("not_found", format!("no action with id `{id}`")))
    }

    pub fn output(&self, id: &str) -> Result<Option<OutputRecord>, GateError> {
        self.store().output(id)
    }

    /// Blocks until the action is in a terminal state, or `timeout` passes
    /// (then returns its current view).
    pub async fn wait(&self, id: &str, timeout: Option<Duration>) -> Result<ActionView, GateError> {
        let mut changes = self.inner.changed.subscribe();
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            let view = self.status(id)?;
            if view.state.is_terminal() {
                return Ok(view);
            }
            let changed = changes.changed();
            match deadline {
                Some(d) => {
                    if tokio::time::timeout_at(d, changed).await.is_err() {
                        return self.status(id);
                    }
                }
                None => {
                    if changed.await.is_err() {
                        return self.status(id);
                    }
                }
            }
        }
    }

    /// This host's pending proposals, oldest first.
    pub fn list_pending(&self) -> Result<Vec<ActionView>, GateError> {
        self.store()
            .in_state(Some(&self.inner.host), ActionState::Pending)
    }

    /// Recent actions of every host, newest first.
    pub fn history(&self) -> Result<Vec<ActionView>, GateError> {
        self.store().history(&HistoryFilter {
            limit: Some(HISTORY_LIMIT),
            ..HistoryFilter::default()
        })
    }

    pub fn history_matching(&self, filter: &HistoryFilter) -> Result<Vec<ActionView>, GateError> {
        self.store().history(filter)
    }

    pub fn detail(&self, id: &str) -> Result<GateEvent, GateError> {
        let store = self.store();
        Ok(GateEvent::Detail {
            id: id.to_string(),
            events: store.events(Some(id))?,
            output: store.output(id)?,
        })
    }

    /// Writes the whole chain as NDJSON into the data dir; returns the path.
    pub fn export(&self) -> Result<PathBuf, GateError> {
        let events = self.store().events(None)?;
        self.write_export("audit", &events)
    }

    /// Writes the events of `ids` only (what a History filter shows), oldest
    /// first. Not a complete chain: `audit verify --file` checks a whole one.
    pub fn export_actions(&self, ids: &[String]) -> Result<(PathBuf, usize), GateError> {
        let mut events = Vec::new();
        for id in ids {
            events.extend(self.store().events(Some(id))?);
        }
        events.sort_by_key(|e| e.seq);
        let count = events.len();
        Ok((self.write_export("history", &events)?, count))
    }

    fn write_export(
        &self,
        prefix: &str,
        events: &[super::audit::AuditEvent],
    ) -> Result<PathBuf, GateError> {
        let path = self.inner.data_dir.join(format!(
            "{prefix}-{}.ndjson",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
        ));
        let mut text = String::new();
        for e in events {
            text.push_str(&serde_json::to_string(&e).unwrap_or_default());
            text.push('\n');
        }
        std::fs::write(&path, text)
            .map_err(|e| GateError::new("export", format!("writing {}: {e}", path.display())))?;
        Ok(path)
    }

    /// Carries out a request from the TUI; results come back as events.
    pub fn handle(&self, request: super::GateRequest) {
        use super::GateRequest;
        let result = match request {
            GateRequest::Approve { id, fingerprint } => self.approve(&id, &fingerprint).map(|_| ()),
            GateRequest::Reject { id, reason } => self.reject(&id, &reason).map(|_| ()),
            GateRequest::LoadDetail { id } => self.detail(&id).map(|d| self.publish(d)),
            GateRequest::Propose(proposal) => self.propose(proposal).map(|view| {
                self.publish(GateEvent::Notice(format!(
                    "proposed `{}` ({}): approve it in the Actions pane",
                    crate::text::inert(&view.command),
                    view.state.name()
                )))
            }),
            GateRequest::RecordOutcome { id, outcome } => {
                self.record_outcome(&id, &outcome).map(|_| ())
            }
            GateRequest::Export { ids: None, .. } => self.export().map(|p| {
                self.publish(GateEvent::Notice(format!(
                    "whole history exported to {} (verify with audit verify --file)",
                    p.display()
                )))
            }),
            GateRequest::Export {
                ids: Some(ids),
                filter,
            } => self.export_actions(&ids).map(|(p, events)| {
                self.publish(GateEvent::Notice(format!(
                    "exported the {} actions the filter `{}` shows ({events} events) to {}",
                    ids.len(),
                    crate::text::inert(&filter),
                    p.display()
                )))
            }),
        };
        if let Err(e) = result {
            self.publish(GateEvent::Error(e.message));
        }
    }
}

/// The cockpit side of the gate: forwards its events to the event loop,
/// loads the history, and expires proposals when their time is up (a timer
/// on the earliest expiry, set again after every gate event).
pub async fn run<E: From<GateEvent> + Send + 'static>(
    gate: Gate,
    tx: tokio::sync::mpsc::Sender<E>,
    cancel: CancellationToken,
) {
    use crate::channel::Emit;
    let mut events = gate.subscribe();
    if let Ok(history) = gate.history() {
        let _ = tx.emit(GateEvent::History(history)).await;
    }
    // Verified before anything new is anchored, so that a cut tail is
    // compared with the head anchored before it was cut.
    match gate.check_integrity().await {
        Ok(report) => {
            if let Some(summary) = report.summary() {
                tracing::error!("{summary}");
            }
            let _ = tx.emit(GateEvent::Integrity(report.summary())).await;
        }
        Err(e) => {
            let _ = tx
                .emit(GateEvent::Integrity(Some(format!(
                    "history unverifiable: {}",
                    e.message
                ))))
                .await;
        }
    }
    tokio::spawn(super::anchor::run(gate.clone(), cancel.clone()));
    let mut due = next_expiry_check(&gate);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep_until(due) => {
                if let Err(e) = gate.expire_due() {
                    let _ = tx.emit(GateEvent::Error(e.message)).await;
                }
                due = next_expiry_check(&gate);
            }
            event = events.recv() => match event {
                Ok(event) => {
                    // A proposal may have brought the earliest expiry nearer.
                    // Never later: a flood of events must not keep pushing
                    // the timer (or its retry) ahead of a due expiry.
                    due = due.min(next_expiry_check(&gate));
                    if tx.emit(event).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    due = due.min(next_expiry_check(&gate));
                    // Missed some: reload everything instead.
                    if let Ok(history) = gate.history() {
                        let _ = tx.emit(GateEvent::History(history)).await;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// Longest the expiry timer waits without looking again: another cockpit
/// sharing the store proposes without telling this one's timer.
const EXPIRY_RECHECK: Duration = Duration::from_secs(30);

/// When to look for expired proposals next: just past the earliest pending
/// expiry, or [`EXPIRY_RECHECK`] from now. An unreadable store is looked at
/// again after the recheck too (`expire_due` then reports its error).
fn next_expiry_check(gate: &Gate) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    let recheck = now + EXPIRY_RECHECK;
    match gate.next_expiry() {
        // Already due and still pending: expiring it failed (the store
        // refused the write). Try again in a second, as the old poll did,
        // rather than at once in a loop.
        Ok(Some(at)) if at <= now_ms() => now + Duration::from_secs(1),
        Ok(Some(at)) => {
            // A millisecond past it: `expire_due` compares with the wall
            // clock, and the timer must not wake to find nothing due yet.
            let wait = u64::try_from(at - now_ms() + 1).unwrap_or(0);
            recheck.min(now + Duration::from_millis(wait))
        }
        Ok(None) | Err(_) => recheck,
    }
}

fn not_here(v: &ActionView, host: &str) -> GateError {
    GateError::new(
        "wrong_host",
        format!(
            "action {} is for host `{}`; only the cockpit of that host decides it (this is `{host}`)",
            v.id, v.host
        ),
    )
}

fn check_decidable(v: &ActionView, host: &str, now: i64) -> Result<(), GateError> {
    if v.host != host {
        return Err(not_here(v, host));
    }
    if v.state != ActionState::Pending {
        return Err(GateError::new(
            "invalid_transition",
            format!(
                "action {} is {}; it is no longer waiting for a decision",
                v.id, v.state
            ),
        ));
    }
    if v.expires_at.is_some_and(|e| e <= now) {
        return Err(GateError::new(
            "expired",
            format!("action {} expired before it was decided", v.id),
        ));
    }
    Ok(())
}

fn validate(mut p: Proposal) -> Result<Proposal, GateError> {
    let bad = |m: &str| Err(GateError::new("bad_request", m.to_string()));
    if p.command.trim().is_empty() {
        return bad("the command is empty");
    }
    if p.command.len() > MAX_COMMAND_BYTES {
        return bad("the command is longer than 32 KiB");
    }
    if p.command.contains('\0') {
        return bad("the command contains a NUL byte");
    }
    if let Some(cwd) = &p.cwd
        && (!cwd.starts_with('/') || cwd.contains('\0'))
    {
        return bad("cwd must be an absolute path");
    }
    if let Some(t) = p.timeout_secs
        && (t == 0 || t > MAX_TIMEOUT_SECS)
    {
        return bad("timeout must be between 1 second and 24 hours");
    }
    // Refused rather than cut: what the operator reads is what was sent.
    if p.title.chars().count() > MAX_TITLE_CHARS {
        return bad("the title is longer than 200 characters");
    }
    if p.reason.len() > MAX_REASON_BYTES {
        return bad("the reason is longer than 4 KiB");
    }
    p.agent = p.agent.chars().take(64).collect();
    Ok(p)
}

/// 96 random bits as hex (from the kernel); time and pid if that fails.
/// An id as [`new_id`] makes them: 24 lowercase hex digits.
fn is_action_id(id: &str) -> bool {
    id.len() == 24 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn new_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 12];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok()
    {
        return hex::encode(bytes);
    }
    use sha2::{Digest, Sha256};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let seed = format!(
        "{}-{}-{n}",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
        std::process::id()
    );
    hex::encode(&Sha256::digest(seed.as_bytes())[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(dir: &Path) -> Gate {
        let policy = super::super::policy::Policy::load(dir).expect("policy");
        Gate::open(
            "web",
            dir,
            policy,
            GateConfig::default(),
            std::sync::Arc::new(crate::transport::local::LocalTransport),
        )
        .expect("gate")
    }

    fn proposal(id: Option<&str>) -> Proposal {
        Proposal {
            command: "uptime".into(),
            agent: "operator".into(),
            id: id.map(String::from),
            ..Default::default()
        }
    }

    /// The cockpit's panes may name the id of what they propose (to follow
    /// it); a socket client cannot, and a bad or taken id is never used.
    #[tokio::test]
    async fn only_the_cockpit_names_an_action_id_and_never_one_taken() {
        let dir = tempfile::tempdir().expect("tmp");
        let gate = gate(dir.path());
        let named = "0123456789abcdef01234567";
        let view = gate.propose(proposal(Some(named))).expect("proposed");
        assert_eq!(view.id, named);
        assert!(
            gate.propose(proposal(Some(named))).is_err(),
            "a taken id is refused, not merged"
        );
        let bad = gate
            .propose(proposal(Some("../../x")))
            .expect("proposed with an id of its own");
        assert!(is_action_id(&bad.id) && bad.id != "../../x");
        let from_socket = serde_json::from_str::<Proposal>(
            r#"{"command":"uptime","id":"0123456789abcdef01234568"}"#,
        );
        assert!(from_socket.is_err(), "a client cannot name an id");
        assert!(
            !serde_json::to_string(&proposal(Some(named)))
                .expect("json")
                .contains(named),
            "the id is never sent"
        );
    }
}
