//! Command-line interface.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "opscockpit",
    version,
    about = "A terminal cockpit for your own servers, with a human gate for your AI agent's actions."
)]
#[command(
    after_help = "HOST is resolved like `ssh HOST` (~/.ssh/config, ssh-agent, known_hosts). No HOST, or `local`, watches this machine without SSH."
)]
pub struct Cli {
    /// The host to watch; `local` (the default) is this machine, no SSH.
    pub host: Option<String>,

    /// Config file (default: $OPSCOCKPIT_CONFIG, else the platform config dir).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Theme name (dark, light, high-contrast, or one in the config dir's themes/).
    #[arg(long, value_name = "NAME", global = true)]
    pub theme: Option<String>,

    /// Keymap name (default, vim, or one in the config dir's keymaps/).
    #[arg(long, value_name = "NAME", global = true)]
    pub keymap: Option<String>,

    /// Write diagnostics to this file (nothing is ever printed over the TUI).
    #[arg(long, value_name = "FILE", global = true)]
    pub log_file: Option<PathBuf>,

    /// Another ssh config file, as with `ssh -F`.
    #[arg(short = 'F', value_name = "FILE", global = true)]
    pub ssh_config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Propose a command to the cockpit of HOST; a human approves it there.
    #[command(after_help = crate::gate::commands::EXIT_CODES_HELP)]
    Propose {
        /// The host whose cockpit decides (`opscockpit HOST` must be running).
        host: String,
        /// A short title for the Actions pane.
        #[arg(long)]
        title: Option<String>,
        /// Why the action is needed (shown to the operator).
        #[arg(long)]
        reason: Option<String>,
        /// Your estimate of the risk; it can only raise the policy's tier.
        #[arg(long, value_parser = ["low", "medium", "high"])]
        risk: Option<String>,
        /// Who proposes (default: $OPSCOCKPIT_AGENT, else `cli`).
        #[arg(long)]
        agent: Option<String>,
        /// Working directory on the host (absolute).
        #[arg(long, value_name = "DIR")]
        cwd: Option<String>,
        /// Kill the command after this long (default: the config's action_timeout).
        #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
        timeout: Option<std::time::Duration>,
        /// Block until the action ends; print its output and exit with its code
        /// (the action id then goes to stderr).
        #[arg(long)]
        wait: bool,
        /// With --wait: if nobody decided within this long, cancel the
        /// proposal (nothing runs) and exit 93. An action already running
        /// is waited for to its end.
        #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration, requires = "wait")]
        wait_timeout: Option<std::time::Duration>,
        /// The runbook step this command comes from, `PATH#step-N` (PATH
        /// relative to the runbook repo): the cockpit checks the command
        /// against the step's text and records it with the action.
        #[arg(long, value_name = "PATH#step-N")]
        runbook: Option<String>,
        /// With --wait: after the output, wait for the action's measured
        /// outcome (the after-window, `gate.outcome_window`) and print its
        /// verdict.
        #[arg(long, requires = "wait")]
        outcome: bool,
        /// The command: one argument is a shell command line; several are quoted and joined.
        #[arg(last = true, required = true, num_args = 1..)]
        command: Vec<String>,
    },
    /// List pending proposals (read-only).
    Actions {
        /// Only this host's.
        host: Option<String>,
    },
    /// Every action recorded, newest first.
    History {
        #[arg(long)]
        host: Option<String>,
        /// Only actions proposed within this long (e.g. `2h`, `7d`).
        #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
        since: Option<std::time::Duration>,
        /// Only actions in this state (pending, succeeded, failed, uncertain, …).
        #[arg(long)]
        state: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Only actions proposed from this runbook (path in the repo).
        #[arg(long, value_name = "PATH")]
        runbook: Option<String>,
    },
    /// Check or export the tamper-evident action history.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Store or remove a Better Stack password (or, as `notify.NAME`, a
    /// notification channel's token) in the OS keyring.
    Secret {
        #[command(subcommand)]
        command: SecretCommand,
    },
    /// Notification channels: `notify list` shows them and the rules,
    /// `notify test [CHANNEL]` sends a test message.
    Notify {
        #[command(subcommand)]
        command: NotifyCommand,
    },
    /// Hooks for agents: `hook claude` is a Claude Code PreToolUse hook
    /// (Bash): ssh to a managed host becomes a gated proposal.
    Hook {
        #[command(subcommand)]
        agent: HookAgent,
    },
    /// Serve the action gate to an MCP client on stdin/stdout (Claude Code:
    /// `claude mcp add opscockpit -- opscockpit mcp`). It talks only to the
    /// running cockpits; diagnostics go to stderr or --log-file.
    Mcp {
        /// Who proposes (default: the MCP client's name).
        #[arg(long)]
        agent: Option<String>,
    },
    /// Run an AI agent confined so that the gate is its only way to the host:
    /// Landlock file and TCP rules, seccomp filters, only the cockpits'
    /// sockets among unix sockets, a scrubbed environment (Linux only).
    #[command(
        after_help = "Profiles: claude, codex, generic (default: the one named like CMD, else generic), and agent-profiles/NAME.toml in the config dir laid over them. It refuses to start on a kernel that cannot enforce the profile; --check shows what this one enforces."
    )]
    Agent {
        /// The sandbox profile.
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
        /// Also allow TCP connections to this port (repeatable).
        #[arg(long = "allow-port", value_name = "N")]
        allow_port: Vec<u16>,
        /// Also allow this path, read-only or with `:rw` read-write (repeatable).
        #[arg(long = "allow-path", value_name = "P[:rw]")]
        allow_path: Vec<String>,
        /// Run CMD without confinement (said on stderr; not marked confined).
        #[arg(long)]
        unconfined: bool,
        /// Print what this kernel can enforce, and exit.
        #[arg(long)]
        check: bool,
        /// Print the resolved rules of profile NAME, and exit.
        #[arg(long, value_name = "NAME")]
        print_profile: Option<String>,
        /// The agent's command and its arguments.
        #[arg(last = true, num_args = 0..)]
        command: Vec<String>,
    },
    /// Serve HOST's gate without the TUI: auto-tier actions run, others wait
    /// for a cockpit. For tests and headless hosts.
    #[command(hide = true)]
    GateServe { host: String },
    /// Print traffic, its projection and its cost on each plan, then exit.
    Cost {
        /// The host (`local` is this machine; optional with --plans).
        #[arg(required_unless_present = "plans")]
        host: Option<String>,
        /// month, last-month, 7d, today or YYYY-MM-DD..YYYY-MM-DD (UTC days).
        #[arg(long, default_value = "month", value_parser = parse_period)]
        period: crate::cost::traffic::Period,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// List every known plan with its source, the date its price was
        /// read, its confidence and a stale mark (no traffic is read).
        #[arg(long)]
        plans: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum HookAgent {
    /// Reads the hook input on stdin; answers allow (rewritten), deny (exit
    /// 2) or nothing (not ours).
    Claude {
        /// Print the settings.json and MCP snippets instead.
        #[arg(long)]
        print_settings: bool,
    },
}

/// `opscockpit secret …`: the Better Stack password in the OS keyring.
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store HOST's Better Stack password (read from the terminal without
    /// echo, or one line from stdin) for `keyring = true`; `notify.NAME`
    /// stores that notification channel's token.
    Set { host: String },
    /// Remove HOST's Better Stack password from the OS keyring.
    Delete { host: String },
}

/// `opscockpit notify …`.
#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Show the channels (never their secrets) and the rules.
    List,
    /// Send a test message to CHANNEL (default: every channel) and print
    /// the endpoint's answer; exits 1 when one was not delivered.
    Test { channel: Option<String> },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain, check every actions/outputs row against
    /// it and the chain against its anchors; report what is wrong.
    Verify {
        /// Verify an NDJSON export instead of the database.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Also compare with a copy of a host's anchor file
        /// (`ssh HOST cat .opscockpit/anchors/ID.log`; `-` reads stdin).
        #[arg(long, value_name = "FILE", conflicts_with = "file")]
        anchor: Vec<PathBuf>,
    },
    /// Write the chain as NDJSON (verifiable with `audit verify --file`).
    Export {
        /// Write here instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

impl Cli {
    pub fn host_name(&self) -> &str {
        self.host.as_deref().unwrap_or("local")
    }
}

fn parse_period(text: &str) -> Result<crate::cost::traffic::Period, String> {
    crate::cost::traffic::Period::parse(text)
}
