//! `opscockpit hook claude`: a Claude Code `PreToolUse` hook for the Bash
//! tool. A command that reaches a managed host (`ssh HOST CMD`, `docker -H
//! ssh://HOST …`, `DOCKER_HOST=ssh://HOST docker …`) is rewritten into the
//! gated equivalent (`opscockpit propose HOST --wait … -- 'CMD'`) and
//! allowed; what cannot be rewritten faithfully is denied with a reason
//! that points to the MCP tool; anything else passes untouched.
//!
//! Claude Code hooks fail open (a crash, a timeout or an exit code other
//! than 2 lets the call through), so every error here is a deny: exit 2
//! with the reason on stderr, well before the hook's own deadline.

pub mod claude;
pub mod reach;

use std::path::PathBuf;
use std::time::Duration;

/// The hook decides within this; past it the process exits 2 by itself.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// The `timeout` (ms) given to the rewritten Bash call: Claude Code's
/// maximum, so the operator has ten minutes to decide.
pub const TOOL_TIMEOUT_MS: u64 = 600_000;
/// The rewritten `propose --wait` gives up (and cancels the proposal) this
/// long before the tool's timeout would kill it.
pub const WAIT_MARGIN: Duration = Duration::from_secs(30);

/// What the hook answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Not ours: exit 0, no output; Claude Code's own permission flow applies.
    Passthrough,
    /// Rewritten into the gated command.
    Allow {
        updated_input: serde_json::Value,
        reason: String,
    },
    /// Blocked, with what to do instead.
    Deny(String),
}

/// What the hook knows of this machine.
#[derive(Debug, Clone)]
pub struct Context {
    /// The hosts the gate manages: configured ones and those with a running
    /// cockpit.
    pub managed: Vec<String>,
    /// Hosts with a running cockpit (a managed host without one is denied:
    /// nothing could be proposed).
    pub running: Vec<String>,
    pub config: crate::config::Config,
    /// This binary, for the rewritten command.
    pub binary: PathBuf,
}

/// Why an agent should use the gate's own tools instead.
pub const USE_THE_GATE: &str = "use the opscockpit MCP tool propose_action, or run `opscockpit propose HOST --wait -- 'COMMAND'`";
