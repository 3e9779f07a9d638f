//! The gate's subcommands: `propose`, `actions`, `history`, `audit`.
//! Each returns the process exit code. Clients never write the database:
//! `propose` talks to the cockpit's socket, the others read only.
//!
//! Exit codes of `propose --wait` (documented in `--help` too):
//! the command's own exit code when it ran to an exit; 128+N when it was
//! killed by signal N; otherwise one of the `EXIT_*` codes below.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{Local, TimeZone};

use super::audit;
use super::broker::{Request, Response};
use super::client::{Client, ClientError};
use super::store::{HistoryFilter, Store};
use super::{ActionState, ActionView, Proposal, Risk, db_path, socket_path};
use crate::text::inert;

/// The operator rejected it (the reason is printed).
pub const EXIT_REJECTED: i32 = 90;
/// The policy denies it (the reason is printed).
pub const EXIT_BLOCKED: i32 = 91;
/// Nobody decided before it expired.
pub const EXIT_EXPIRED: i32 = 92;
/// Cancelled by its proposer.
pub const EXIT_CANCELLED: i32 = 93;
/// It started but whether it completed is unknown (cockpit or connection died).
pub const EXIT_UNCERTAIN: i32 = 94;
/// No cockpit is running for the host: nothing was proposed.
pub const EXIT_NO_COCKPIT: i32 = 95;
/// It was approved but could not run to an exit (timeout, never started).
pub const EXIT_NOT_COMPLETED: i32 = 96;
/// The request was refused or the protocol failed.
pub const EXIT_ERROR: i32 = 97;

pub const EXIT_CODES_HELP: &str = "Exit codes with --wait: the command's own exit code; 128+N if killed by signal N; 90 rejected; 91 denied by policy; 92 expired; 93 cancelled; 94 uncertain (started, outcome unknown); 95 no cockpit running for HOST; 96 approved but did not complete (timeout, could not start); 97 request refused or protocol error. Without --wait: 0 once proposed, 91 if the policy denies it, 95 and 97 as above.";

#[derive(Debug, Clone, Default)]
pub struct ProposeArgs {
    pub host: String,
    pub title: Option<String>,
    pub reason: Option<String>,
    pub risk: Option<Risk>,
    pub agent: Option<String>,
    pub cwd: Option<String>,
    pub timeout: Option<Duration>,
    pub wait: bool,
    /// With `wait`: cancel if nobody decided within this long.
    pub wait_timeout: Option<Duration>,
    /// With `wait`: then wait for the measured outcome and print its verdict.
    pub outcome: bool,
    pub command: Vec<String>,
    /// `PATH#step-N`: the runbook step this command is (checked by the cockpit).
    pub runbook: Option<String>,
}

pub fn propose(data_dir: &Path, args: &ProposeArgs) -> i32 {
    let socket = socket_path(data_dir, &args.host);
    let mut client = match Client::connect(&socket, &args.host) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("opscockpit propose: {e}");
            return EXIT_NO_COCKPIT;
        }
    };
    let runbook = match args.runbook.as_deref().map(crate::runbooks::parse_claim) {
        None => None,
        Some(Ok(claim)) => Some(Box::new(claim)),
        Some(Err(e)) => {
            eprintln!("opscockpit propose: {}", inert(&e));
            return 2;
        }
    };
    let proposal = Proposal {
        runbook,
        command: super::command_from_args(&args.command),
        cwd: args.cwd.clone(),
        timeout_secs: args.timeout.map(|t| t.as_secs().max(1)),
        title: args.title.clone().unwrap_or_default(),
        reason: args.reason.clone().unwrap_or_default(),
        risk: args.risk,
        agent: args
            .agent
            .clone()
            .or_else(|| std::env::var("OPSCOCKPIT_AGENT").ok())
            .unwrap_or_else(|| "cli".into()),
        // Set by `opscockpit agent` for the agent it confines.
        session: std::env::var("OPSCOCKPIT_SESSION")
            .ok()
            .filter(|s| !s.is_empty()),
        id: None,
    };
    let request = Request::Propose {
        proposal,
        wait: args.wait,
    };
    let action = match call(&mut client, &request) {
        Ok(Response {
            action: Some(a), ..
        }) => a,
        Ok(r) => return refused(&r),
        Err(e) => return broken(&e),
    };
    if args.wait {
        eprintln!(
            "opscockpit: proposed {} (tier {}, rule {}); waiting for it to end",
            action.id,
            action.tier.name(),
            inert(&action.rule)
        );
    } else {
        println!("{}", action.id);
        if action.state != ActionState::Blocked {
            eprintln!(
                "opscockpit: tier {} (rule {}), state {}",
                action.tier.name(),
                inert(&action.rule),
                action.state
            );
        }
    }
    if action.state == ActionState::Blocked {
        return report_end(&action, None);
    }
    if !args.wait {
        return 0;
    }
    if let Some(limit) = args.wait_timeout
        && let Some(code) = wait_for_decision(&mut client, &action, limit)
    {
        return code;
    }
    match call(
        &mut client,
        &Request::Wait {
            id: action.id.clone(),
            timeout_secs: None,
        },
    ) {
        Ok(Response {
            action: Some(a),
            output,
            ..
        }) => {
            let code = report_end(&a, output.as_ref());
            if args.outcome && a.started_at.is_some() {
                wait_for_outcome(&mut client, &a.id);
            }
            code
        }
        Ok(r) => refused(&r),
        Err(e) => {
            eprintln!(
                "opscockpit propose: lost the cockpit while waiting ({e}); see `opscockpit history` for what became of {}",
                action.id
            );
            EXIT_UNCERTAIN
        }
    }
}

/// The longest an outcome can take: the longest window, and slack.
const OUTCOME_WAIT: Duration = Duration::from_secs(11 * 60);

/// Asks for action `id` each second until its outcome is recorded, then
/// prints the verdict (stdout, after the output). The exit code stays the
/// command's: the verdict is information, not a result.
fn wait_for_outcome(client: &mut Client, id: &str) {
    eprintln!("opscockpit: waiting for the outcome (the window after the action)");
    let started = std::time::Instant::now();
    while started.elapsed() < OUTCOME_WAIT {
        match call(client, &Request::Status { id: id.to_string() }) {
            Ok(Response {
                action: Some(a), ..
            }) => {
                if let Some(o) = &a.outcome {
                    println!(
                        "outcome: {} {}: {}",
                        o.verdict.kind.mark(),
                        o.verdict.kind.name(),
                        inert(&o.verdict.line)
                    );
                    return;
                }
            }
            Ok(_) => break,
            Err(e) => {
                eprintln!(
                    "opscockpit propose: lost the cockpit while waiting for the outcome ({e}); see `opscockpit history --json`"
                );
                return;
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    println!("outcome: not recorded (no cockpit measured it in time)");
}

/// Waits up to `limit` for a decision. Still pending then: cancelled, and
/// the exit code says so (`Some`). Decided (or running): `None`, and the
/// caller waits for the end.
fn wait_for_decision(client: &mut Client, action: &ActionView, limit: Duration) -> Option<i32> {
    let wait = Request::Wait {
        id: action.id.clone(),
        timeout_secs: Some(limit.as_secs().max(1)),
    };
    match call(client, &wait) {
        Ok(Response {
            action: Some(a), ..
        }) if a.state == ActionState::Pending => {
            let cancelled = call(client, &Request::Cancel { id: a.id.clone() });
            match cancelled {
                Ok(Response { ok: true, .. }) => {
                    eprintln!(
                        "opscockpit: nobody decided within {}: proposal {} cancelled; nothing ran",
                        humantime::format_duration(limit),
                        a.id
                    );
                    Some(EXIT_CANCELLED)
                }
                // Decided in the meantime: wait for the end as usual.
                _ => None,
            }
        }
        Ok(_) => None,
        Err(e) => {
            eprintln!(
                "opscockpit propose: lost the cockpit while waiting ({e}); see `opscockpit history` for what became of {}",
                action.id
            );
            Some(EXIT_UNCERTAIN)
        }
    }
}

fn call(client: &mut Client, request: &Request) -> Result<Response, ClientError> {
    client.request(request)
}

fn refused(r: &Response) -> i32 {
    let (code, message) = r
        .error
        .as_ref()
        .map(|e| (e.code.as_str(), e.message.as_str()))
        .unwrap_or(("unknown", "no reply"));
    eprintln!("opscockpit propose: refused ({code}): {}", inert(message));
    EXIT_ERROR
}

fn broken(e: &ClientError) -> i32 {
    eprintln!("opscockpit propose: {e}");
    match e {
        ClientError::NoCockpit(_) => EXIT_NO_COCKPIT,
        ClientError::Broken(_) => EXIT_ERROR,
    }
}

/// Prints the output and the ending; returns the exit code.
fn report_end(a: &ActionView, output: Option<&super::OutputRecord>) -> i32 {
    if let Some(out) = output {
        let _ = std::io::stdout().write_all(out.stdout.as_bytes());
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().write_all(out.stderr.as_bytes());
        for (name, kept, total) in [
            ("stdout", out.stdout.len() as u64, out.stdout_total),
            ("stderr", out.stderr.len() as u64, out.stderr_total),
        ] {
            if total > kept {
                eprintln!("opscockpit: {name} cut: {kept} of {total} bytes kept");
            }
        }
    }
    let by = a.decided_by.as_deref().unwrap_or("?");
    let why = a.decision_reason.as_deref().unwrap_or("");
    match a.state {
        ActionState::Succeeded | ActionState::Failed if a.exit_code.is_some() => {
            a.exit_code.unwrap_or(EXIT_NOT_COMPLETED)
        }
        ActionState::Failed if a.signal.is_some() => {
            let sig = a.signal.as_deref().unwrap_or("");
            eprintln!("opscockpit: killed by signal {sig}");
            signal_number(sig)
                .map(|n| 128 + n)
                .unwrap_or(EXIT_NOT_COMPLETED)
        }
        ActionState::Failed => {
            eprintln!(
                "opscockpit: did not complete: {}",
                inert(a.error.as_deref().unwrap_or("unknown reason"))
            );
            EXIT_NOT_COMPLETED
        }
        ActionState::Rejected => {
            eprintln!("opscockpit: rejected by {}: {}", inert(by), inert(why));
            EXIT_REJECTED
        }
        ActionState::Blocked => {
            eprintln!("opscockpit: denied by policy: {}", inert(why));
            EXIT_BLOCKED
        }
        ActionState::Expired => {
            eprintln!("opscockpit: expired: nobody decided in time; nothing ran");
            EXIT_EXPIRED
        }
        ActionState::Cancelled => {
            match &a.decision_reason {
                Some(why) => eprintln!("opscockpit: cancelled ({}); nothing ran", inert(why)),
                None => eprintln!("opscockpit: cancelled by the proposer; nothing ran"),
            }
            EXIT_CANCELLED
        }
        ActionState::Uncertain => {
            eprintln!(
                "opscockpit: uncertain: {}",
                inert(a.error.as_deref().unwrap_or("outcome unknown"))
            );
            EXIT_UNCERTAIN
        }
        other => {
            eprintln!("opscockpit: still {other}");
            EXIT_ERROR
        }
    }
}

fn signal_number(name: &str) -> Option<i32> {
    Some(match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ABRT" => 6,
        "KILL" => 9,
        "SEGV" => 11,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        other => return other.parse().ok(),
    })
}

fn open_ro(data_dir: &Path) -> Result<Store, i32> {
    Store::open_read_only(&db_path(data_dir)).map_err(|e| {
        eprintln!("opscockpit: {e}");
        if e.code == "no_history" { 0 } else { 1 }
    })
}

/// `opscockpit actions [HOST]`: pending proposals, read-only.
pub fn actions(data_dir: &Path, host: Option<&str>) -> i32 {
    let store = match open_ro(data_dir) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let pending = match store.in_state(host, ActionState::Pending) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("opscockpit: {e}");
            return 1;
        }
    };
    if pending.is_empty() {
        println!("no pending actions");
        return 0;
    }
    let now = super::now_ms();
    println!(
        "{:<24} {:<12} {:<8} {:>8} {:<12} COMMAND",
        "ID", "HOST", "TIER", "EXPIRES", "AGENT"
    );
    for a in pending {
        let left = a.secs_left(now).unwrap_or(0).max(0);
        println!(
            "{:<24} {:<12} {:<8} {:>7}s {:<12} {}",
            a.id,
            inert(&a.host),
            a.tier.name(),
            left,
            inert(&a.agent),
            inert(&a.command)
        );
    }
    0
}

#[derive(Debug, Clone, Default)]
pub struct HistoryArgs {
    pub host: Option<String>,
    pub since: Option<Duration>,
    pub state: Option<String>,
    pub json: bool,
    /// Only actions proposed from this runbook (its repo-relative path).
    pub runbook: Option<String>,
}

/// `opscockpit history`: every action, newest first.
pub fn history(data_dir: &Path, args: &HistoryArgs) -> i32 {
    let state = match args.state.as_deref() {
        None => None,
        Some(s) => match ActionState::from_name(s) {
            Some(s) => Some(s),
            None => {
                let names: Vec<_> = ActionState::ALL.iter().map(|s| s.name()).collect();
                eprintln!(
                    "opscockpit history: unknown state `{}`; one of {}",
                    inert(s),
                    names.join(", ")
                );
                return 2;
            }
        },
    };
    let store = match open_ro(data_dir) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let filter = HistoryFilter {
        host: args.host.clone(),
        since_ms: args.since.map(|d| super::now_ms() - d.as_millis() as i64),
        state,
        limit: None,
    };
    let mut rows = match store.history(&filter) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("opscockpit: {e}");
            return 1;
        }
    };
    if let Some(path) = &args.runbook {
        rows.retain(|a| a.runbook.as_ref().is_some_and(|r| &r.path == path));
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        for a in rows {
            let _ = writeln!(out, "{}", serde_json::to_string(&a).unwrap_or_default());
        }
        return 0;
    }
    let _ = writeln!(
        out,
        "{:<24} {:<19} {:<12} {:<13} {:<12} {:>8} {:>5} COMMAND",
        "ID", "CREATED", "HOST", "STATE", "AGENT", "DURATION", "EXIT"
    );
    for a in rows {
        let created = Local
            .timestamp_millis_opt(a.created_at)
            .single()
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let duration = a
            .duration_ms()
            .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
            .unwrap_or_else(|| "-".into());
        let exit = a
            .exit_code
            .map(|c| c.to_string())
            .or(a.signal.clone())
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{:<24} {:<19} {:<12} {:<13} {:<12} {:>8} {:>5} {}",
            a.id,
            created,
            inert(&a.host),
            match a.tampered.as_deref() {
                Some(p) if super::replay::is_tampering(p) => "TAMPERED",
                Some(_) => "unverified",
                None => a.state.name(),
            },
            inert(&a.agent),
            duration,
            exit,
            match &a.runbook {
                Some(r) => format!("{}  [runbook: {}]", inert(&a.command), inert(&r.label())),
                None => inert(&a.command),
            }
        );
    }
    0
}

/// `opscockpit audit verify [--file F | --anchor F…]`: exit 0 only when
/// the chain, every row and every anchor hold.
pub fn audit_verify(data_dir: &Path, file: Option<&Path>, anchors: &[PathBuf]) -> i32 {
    if let Some(path) = file {
        return verify_export(path);
    }
    let store = match open_ro(data_dir) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut extra = Vec::new();
    for path in anchors {
        let text = if path.as_os_str() == "-" {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text);
            text
        } else {
            match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("opscockpit audit verify: reading {}: {e}", path.display());
                    return 1;
                }
            }
        };
        let (newest, _) = super::anchor::newest(&text);
        if newest.is_none() {
            eprintln!(
                "opscockpit audit verify: {} holds no anchor line (`SEQ HASH TS_MS`)",
                path.display()
            );
            return 1;
        }
        extra.push((path.display().to_string(), newest));
    }
    let report = match super::integrity::check(&store, data_dir, &extra) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("opscockpit audit verify: {e}");
            return 1;
        }
    };
    for line in report.lines() {
        println!("{line}");
    }
    if let Some(first) = &report.first_hash {
        println!(
            "host anchors: ~/{} on each host (compare with --anchor)",
            super::anchor::remote_path(first)
        );
    }
    if report.intact() { 0 } else { 1 }
}

fn verify_export(path: &Path) -> i32 {
    let result = match std::fs::read_to_string(path) {
        Ok(text) => audit::verify_ndjson(&text),
        Err(e) => {
            eprintln!("opscockpit audit verify: reading {}: {e}", path.display());
            return 1;
        }
    };
    match result {
        Ok(head) => {
            println!(
                "ok: {} events, chain intact up to seq {} (head {})",
                head.count, head.last_seq, head.hash
            );
            0
        }
        Err(brk) => {
            println!("BROKEN at seq {}: {}", brk.seq, brk.reason);
            1
        }
    }
}

/// `opscockpit audit export [--output F]`: the chain as NDJSON.
pub fn audit_export(data_dir: &Path, output: Option<&Path>) -> i32 {
    let store = match open_ro(data_dir) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let events = match store.events(None) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("opscockpit audit export: {e}");
            return 1;
        }
    };
    let mut text = String::new();
    for e in &events {
        text.push_str(&serde_json::to_string(e).unwrap_or_default());
        text.push('\n');
    }
    let written = match output {
        Some(path) => std::fs::write(path, text.as_bytes()),
        None => std::io::stdout().lock().write_all(text.as_bytes()),
    };
    if let Err(e) = written {
        eprintln!("opscockpit audit export: {e}");
        return 1;
    }
    if let Some(path) = output {
        eprintln!("exported {} events to {}", events.len(), path.display());
    }
    0
}
