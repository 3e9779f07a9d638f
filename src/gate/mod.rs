//! The action gate: AI agents (or shells) propose commands over a unix
//! socket, the cockpit's policy gives each a tier, a human approves or
//! rejects them in the TUI, the cockpit runs approved ones once over its
//! transport, and every step is an event in a hash-chained history.
//!
//! - [`lifecycle`]: states, allowed moves, the fingerprint.
//! - [`store`]: the SQLite database shared by every cockpit process.
//! - [`audit`]: the hash chain and its verification.
//! - [`policy`]: `policy.toml` → tier.
//! - [`core`]: [`core::Gate`], the one API the broker, the TUI and tests use.
//! - [`broker`]: the socket protocol; [`client`] its client side.
//! - [`executor`]: running an approved action.
//! - [`commands`]: the `propose`/`actions`/`history`/`audit` subcommands.
//!
//! What is stored: the proposal as the operator saw it (command, cwd,
//! timeout, title, reason, agent name, stated risk), decisions, and the
//! bounded output. The proposer's environment is never sent or stored;
//! secrets belong on the host (e.g. `$(cat /run/secrets/x)`), not inline
//! in a command, because the command text is kept for the audit.

pub mod anchor;
pub mod audit;
pub mod broker;
pub mod client;
pub mod commands;
pub mod core;
pub mod executor;
pub mod integrity;
pub mod lifecycle;
pub mod onhost;
pub mod policy;
pub mod replay;
pub mod snapshot;
pub mod store;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use core::Gate;
pub use lifecycle::{ActionState, fingerprint};

/// How much human attention an action needs, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Runs without a human (still recorded).
    Auto,
    /// One key after viewing the detail.
    Approve,
    /// The operator types the host name.
    Confirm,
    /// Never runs.
    Deny,
}

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Tier::Auto => "auto",
            Tier::Approve => "approve",
            Tier::Confirm => "confirm",
            Tier::Deny => "deny",
        }
    }

    pub fn from_name(name: &str) -> Option<Tier> {
        [Tier::Auto, Tier::Approve, Tier::Confirm, Tier::Deny]
            .into_iter()
            .find(|t| t.name() == name)
    }
}

/// The risk an agent states. It can only raise the policy's tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Low,
    Medium,
    High,
}

impl Risk {
    pub fn name(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }

    pub fn from_name(name: &str) -> Option<Risk> {
        [Risk::Low, Risk::Medium, Risk::High]
            .into_iter()
            .find(|r| r.name() == name)
    }

    /// The lowest tier an action of this stated risk may get.
    pub fn floor(self) -> Tier {
        match self {
            Risk::Low => Tier::Auto,
            Risk::Medium => Tier::Approve,
            Risk::High => Tier::Confirm,
        }
    }
}

/// What a client submits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    /// The exact shell command (run with the target's `sh -c`).
    pub command: String,
    #[serde(default)]
    pub cwd: Option<String>,
    /// Per-action timeout; `None`: the configured default.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub risk: Option<Risk>,
    /// Who proposes (the agent's name).
    #[serde(default)]
    pub agent: String,
    /// The session token `opscockpit agent` handed the proposer
    /// (`OPSCOCKPIT_SESSION`): a token a cockpit knows marks the action
    /// confined. Never stored or shown; only its profile name is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The runbook step this command comes from (the Runbooks pane, or an
    /// agent's `propose --runbook`): recorded with the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<Box<crate::runbooks::RunbookRef>>,
    /// The action's id, chosen by the cockpit's own panes (the Runbooks
    /// pane follows the action it proposed by it). Never read from or
    /// written to the socket: a client cannot name an id.
    #[serde(skip)]
    pub id: Option<String>,
}

/// One action as stored and shown (without its output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionView {
    pub id: String,
    pub host: String,
    pub state: ActionState,
    pub tier: Tier,
    /// The policy rule that gave the tier (`default` when none matched).
    pub rule: String,
    pub command: String,
    pub cwd: Option<String>,
    pub timeout_secs: u64,
    pub title: String,
    pub reason: String,
    pub agent: String,
    pub risk: Option<Risk>,
    pub fingerprint: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    /// The rejection reason, or why policy blocked it.
    pub decision_reason: Option<String>,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    /// Why it failed or became uncertain (timeout, connection, crash).
    pub error: Option<String>,
    pub stdout_total: u64,
    pub stderr_total: u64,
    /// The sandbox profile the proposer ran under (`opscockpit agent`), when
    /// its session token was registered with this cockpit; `None`: nothing
    /// says the proposer was confined.
    #[serde(default)]
    pub confined: Option<String>,
    /// The runbook step it was proposed from: `PATH@COMMIT#step-N`, the
    /// step text's hash, whether the file was modified, and for an agent's
    /// claim whether the command matches the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<crate::runbooks::RunbookRef>,
    /// What was measured before and after it ran, with the verdict (see
    /// [`crate::outcome`]); `None`: not measured (yet). Stored, chained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Box<crate::outcome::Outcome>>,
    /// Identical proposals from the same agent merged into this one while
    /// it waited (retries): counted, not queued twice. Not stored.
    #[serde(default)]
    pub repeats: u32,
    /// Why this row is not what the history chain vouches for (edited,
    /// forged or unverifiable): shown as *tampered*, never silently. Not
    /// stored; set when the history is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tampered: Option<String>,
}

impl ActionView {
    /// A pending `approve`-tier action of `host` running `command`, every
    /// other field empty: the start of a test's action.
    #[cfg(test)]
    pub fn blank(id: &str, host: &str, command: &str) -> ActionView {
        ActionView {
            id: id.into(),
            host: host.into(),
            state: ActionState::Pending,
            tier: Tier::Approve,
            rule: "default".into(),
            command: command.into(),
            cwd: None,
            timeout_secs: 600,
            title: String::new(),
            reason: String::new(),
            agent: String::new(),
            risk: None,
            fingerprint: fingerprint(host, command, None, 600),
            created_at: 0,
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
            confined: None,
            runbook: None,
            outcome: None,
            repeats: 0,
            tampered: None,
        }
    }

    /// Seconds until a pending action expires (negative: overdue).
    pub fn secs_left(&self, now_ms: i64) -> Option<i64> {
        self.expires_at.map(|e| (e - now_ms).div_euclid(1000))
    }

    pub fn duration_ms(&self) -> Option<i64> {
        Some(self.ended_at? - self.started_at?)
    }
}

/// The kept output of an action: the first `limit` bytes of each stream,
/// with the full size and the sha256 of everything the command wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    pub stdout: String,
    pub stderr: String,
    pub stdout_total: u64,
    pub stderr_total: u64,
    pub stdout_sha256: String,
    pub stderr_sha256: String,
}

/// What the gate tells the cockpit's event loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateEvent {
    /// An action was created or moved (this host's, or any on refresh).
    Changed(Box<ActionView>),
    /// A chunk of a running action's output.
    Output {
        id: String,
        stderr: bool,
        data: Vec<u8>,
    },
    /// Every recent action, newest first (at start and on refresh).
    History(Vec<ActionView>),
    /// The event timeline and output of one action, for a detail view.
    Detail {
        id: String,
        events: Vec<audit::AuditEvent>,
        output: Option<OutputRecord>,
    },
    /// Something the operator asked for failed (shown in the key bar).
    Error(String),
    /// A message for the key bar.
    Notice(String),
    /// The values masked in a finished action's stored output, in the order
    /// of its `***`s (stdout, then stderr): for the operator to reveal on
    /// screen, one at a time. Only the cockpit's own event loop gets this.
    Revealable {
        id: String,
        values: crate::secrets::mask::SecretValues,
    },
    /// The history's check at start (`audit verify`): `None` when intact,
    /// else what is wrong, for the header.
    Integrity(Option<String>),
}

/// What the TUI asks of the gate (carried by an `Effect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateRequest {
    /// Approve exactly this fingerprint; a changed action is refused.
    Approve {
        id: String,
        fingerprint: String,
    },
    Reject {
        id: String,
        reason: String,
    },
    LoadDetail {
        id: String,
    },
    /// Export the History: `ids` are the rows its filter shows (`None`:
    /// everything, as a verifiable chain).
    Export {
        ids: Option<Vec<String>>,
        filter: String,
    },
    /// The operator's own action from another pane (e.g. restart a
    /// container): gated and recorded like an agent's.
    Propose(Proposal),
    /// Append the measured outcome of a finished action to its history.
    RecordOutcome {
        id: String,
        outcome: Box<crate::outcome::Outcome>,
    },
}

/// Errors of gate operations, with a message meant for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateError {
    pub code: &'static str,
    pub message: String,
}

impl GateError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for GateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GateError {}

/// The history database.
pub fn db_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("gate.sqlite3")
}

/// Directory of the broker sockets: `$XDG_RUNTIME_DIR/opscockpit`, else
/// `run/` under the data dir (created 0700 by the cockpit).
pub fn socket_dir(data_dir: &std::path::Path) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("opscockpit"),
        None => data_dir.join("run"),
    }
}

/// The socket of the cockpit watching `host`. Characters that do not
/// belong in a file name are replaced.
pub fn socket_path(data_dir: &std::path::Path, host: &str) -> PathBuf {
    let safe: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = if safe.starts_with('.') {
        format!("_{safe}")
    } else {
        safe
    };
    socket_dir(data_dir).join(format!("{safe}.sock"))
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Builds the command string from `propose -- ARGS…`: one argument is
/// taken verbatim as a shell command; several are shell-quoted and joined.
pub fn command_from_args(args: &[String]) -> String {
    match args {
        [one] => one.clone(),
        many => many
            .iter()
            .map(|a| crate::transport::shell_quote(a))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// A cockpit's gate, ready to serve: opened history (crash recovery done),
/// loaded policy, bound socket.
pub struct Running {
    pub gate: Gate,
    pub listener: broker::Listener,
}

/// Everything a cockpit for `host` needs before its TUI starts. Any error
/// (malformed policy with file and line, database, socket in use) stops
/// the cockpit: it never runs without a policy.
pub fn start(
    host: &str,
    data_dir: &std::path::Path,
    config_dir: &std::path::Path,
    config: crate::config::GateConfig,
    transport: crate::transport::SharedTransport,
) -> Result<Running, String> {
    let policy = policy::Policy::load(config_dir).map_err(|e| format!("policy error: {e}"))?;
    let listener = broker::bind(&socket_path(data_dir, host), host)
        .map_err(|e| format!("action gate: {e}"))?;
    let gate = Gate::open(host, data_dir, policy, config, transport)
        .map_err(|e| format!("action gate: {e}"))?;
    Ok(Running { gate, listener })
}

impl Running {
    /// Starts the broker; returns the gate for the TUI.
    pub fn spawn(self, cancel: &tokio_util::sync::CancellationToken) -> Gate {
        tokio::spawn(broker::serve(
            self.gate.clone(),
            self.listener,
            cancel.clone(),
        ));
        self.gate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_only_raises() {
        assert_eq!(Tier::Auto.max(Risk::High.floor()), Tier::Confirm);
        assert_eq!(Tier::Deny.max(Risk::Low.floor()), Tier::Deny);
        assert_eq!(Tier::Confirm.max(Risk::Low.floor()), Tier::Confirm);
    }

    #[test]
    fn socket_names_are_safe() {
        let data = std::path::Path::new("/d");
        let p = socket_path(data, "../etc/x y");
        assert!(
            p.file_name().is_some_and(|n| n == "_.._etc_x_y.sock"),
            "{p:?}"
        );
    }

    #[test]
    fn command_args() {
        assert_eq!(command_from_args(&["df -h".into()]), "df -h");
        assert_eq!(
            command_from_args(&["ls".into(), "my file".into()]),
            "ls 'my file'"
        );
    }
}
