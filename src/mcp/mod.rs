//! `opscockpit mcp`: a stdio MCP server (the official Rust SDK, `rmcp`) that
//! gives an agent the gate as tools. It talks only to the running cockpits'
//! broker sockets, never to a host: the agent needs no SSH credentials, and
//! with no cockpit running nothing happens. There is no approve tool.
//!
//! stdout carries the protocol only; diagnostics go to stderr or
//! `--log-file` (see `main`).

pub mod client;

use std::path::PathBuf;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ProgressNotificationParam, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{
    ErrorData, RoleServer, ServerHandler, ServiceExt, schemars, tool, tool_handler, tool_router,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::gate::broker::{Request, Response};
use crate::gate::snapshot::SnapshotQuery;
use crate::gate::{ActionState, ActionView, OutputRecord, Proposal, Risk};
use crate::text::inert;
use client::{BrokerClient, refusal};

/// How often a waiting `propose_action` tells the client it is still alive
/// (clients with idle timeouts keep waiting; the issue asks for ≤ 20 s).
pub const PROGRESS_EVERY: Duration = Duration::from_secs(15);
/// Output returned to the agent at most per stream; the rest is counted.
const OUTPUT_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub struct GateTools {
    data_dir: PathBuf,
    /// Hosts named in the config (listed even without a running cockpit).
    configured: Vec<String>,
    /// `--agent NAME`; else the client's `clientInfo.name`.
    agent: Option<String>,
    progress_every: Duration,
    /// Runbook repos: per configured host, and the `[runbooks] path` default.
    runbook_repos: std::collections::BTreeMap<String, PathBuf>,
    default_runbooks: Option<PathBuf>,
    tool_router: ToolRouter<GateTools>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RunbookArgs {
    pub host: String,
    /// The runbook's path in the repo (as `host_status` lists it).
    pub path: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct HostArgs {
    /// The host alias the cockpit was started with (`opscockpit HOST`).
    pub host: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct StatusArgs {
    pub host: String,
    /// Newest log lines to include (default 50, at most 500).
    #[serde(default)]
    pub lines: Option<usize>,
    /// Only log lines of this source (`journal`, `container:web`, …).
    #[serde(default)]
    pub source: Option<String>,
    /// Only this level and more severe: error, warn, info, debug. Lines
    /// without a level (plain output of many programs) still pass, as in
    /// the cockpit's Logs pane, unless `hide_unlevelled` is true.
    #[serde(default)]
    pub level: Option<String>,
    /// Leave out log lines that carry no level.
    #[serde(default)]
    pub hide_unlevelled: Option<bool>,
    /// Only log lines containing this text.
    #[serde(default)]
    pub search: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ProposeArgs {
    pub host: String,
    /// The exact shell command to run on the host (`sh -c`).
    pub command: String,
    /// A short title for the operator's queue.
    #[serde(default)]
    pub title: Option<String>,
    /// Why: the operator reads it before deciding.
    #[serde(default)]
    pub reason: Option<String>,
    /// low, medium or high: can only raise the tier the policy gives.
    #[serde(default)]
    pub risk: Option<String>,
    /// Working directory on the host.
    #[serde(default)]
    pub cwd: Option<String>,
    /// Kill the command after this many seconds.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// The runbook step this command is, `PATH#step-N`: the cockpit checks
    /// the command against the step and records it with the action.
    #[serde(default)]
    pub runbook: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct IdArgs {
    /// The action id `propose_action` or `list_pending` returned.
    pub id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct HistoryArgs {
    /// Only this host (default: every host).
    #[serde(default)]
    pub host: Option<String>,
    /// Only actions proposed in the last N seconds.
    #[serde(default)]
    pub since_secs: Option<u64>,
    /// Only actions in this state (succeeded, failed, rejected, expired, …).
    #[serde(default)]
    pub state: Option<String>,
    /// At most this many (default 50, at most 500).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// A runbook as the agent sees it in lists.
fn runbook_json(rb: &crate::runbooks::Runbook) -> Value {
    json!({
        "path": rb.path,
        "title": rb.title,
        "tags": rb.front.tags,
        "severity": rb.front.severity,
        "commit": rb.last_commit.as_ref().map(|c| c.short.clone()),
        "modified": rb.modified,
        "steps": rb.steps.iter().map(|s| json!({"number": s.number, "text": s.text})).collect::<Vec<_>>(),
    })
}

fn runbooks_json(runbooks: &[crate::runbooks::Runbook]) -> Value {
    Value::Array(runbooks.iter().map(runbook_json).collect())
}

fn runbooks_text(runbooks: &[crate::runbooks::Runbook]) -> String {
    if runbooks.is_empty() {
        return String::new();
    }
    let mut text = String::from("\nrunbooks for this host (read one with the `runbook` tool):\n");
    for rb in runbooks {
        text.push_str(&format!(
            "  {} — {} ({} steps{})\n",
            inert(&rb.path),
            inert(&rb.title),
            rb.steps.len(),
            if rb.modified { ", modified" } else { "" }
        ));
    }
    text
}

fn text_result(text: String, structured: Value, is_error: bool) -> CallToolResult {
    let mut result = if is_error {
        CallToolResult::error(vec![ContentBlock::text(text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(text)])
    };
    result.structured_content = Some(structured);
    result
}

fn tool_error(message: impl Into<String>) -> CallToolResult {
    let message = message.into();
    text_result(message.clone(), json!({ "error": message }), true)
}

/// A compact, inert, one-line-per-field summary of an action for the agent.
fn action_text(a: &ActionView, output: Option<&OutputRecord>) -> String {
    let mut text = format!(
        "action {} on {}: {} (tier {}, rule {})",
        a.id,
        inert(&a.host),
        a.state.name(),
        a.tier.name(),
        inert(&a.rule)
    );
    if let Some(code) = a.exit_code {
        text.push_str(&format!("\nexit code {code}"));
    }
    if let Some(sig) = &a.signal {
        text.push_str(&format!("\nkilled by signal {}", inert(sig)));
    }
    if let Some(by) = &a.decided_by {
        text.push_str(&format!("\ndecided by {}", inert(by)));
    }
    if let Some(why) = &a.decision_reason {
        text.push_str(&format!("\nreason: {}", inert(why)));
    }
    if let Some(err) = &a.error {
        text.push_str(&format!("\nerror: {}", inert(err)));
    }
    if a.state == ActionState::Expired {
        text.push_str("\nexpired: nobody decided in time; nothing ran");
    }
    match &a.outcome {
        Some(o) => text.push_str(&format!(
            "\noutcome: {}: {}",
            o.verdict.kind.name(),
            inert(&o.verdict.line)
        )),
        None if a.ended_at.is_some() => {
            text.push_str("\noutcome: not measured yet (ask again after the window)")
        }
        None => {}
    }
    if let Some(out) = output {
        let (stdout, stdout_cut) = bounded(&out.stdout, out.stdout_total);
        let (stderr, stderr_cut) = bounded(&out.stderr, out.stderr_total);
        text.push_str(&format!(
            "\n--- stdout ({} bytes) ---\n{stdout}",
            out.stdout_total
        ));
        if stdout_cut > 0 {
            text.push_str(&format!("\n[{stdout_cut} bytes of stdout left out]"));
        }
        if !stderr.is_empty() || stderr_cut > 0 {
            text.push_str(&format!(
                "\n--- stderr ({} bytes) ---\n{stderr}",
                out.stderr_total
            ));
        }
        if stderr_cut > 0 {
            text.push_str(&format!("\n[{stderr_cut} bytes of stderr left out]"));
        }
    }
    text
}

/// At most [`OUTPUT_LIMIT`] bytes of `text` (at a char boundary), and how
/// many of `total` bytes were left out.
fn bounded(text: &str, total: u64) -> (String, u64) {
    let mut end = text.len().min(OUTPUT_LIMIT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let kept = &text[..end];
    (
        crate::text::inert_multiline(kept).join("\n"),
        total.saturating_sub(kept.len() as u64),
    )
}

/// Every string in `value` made inert (an outcome carries names and log
/// message shapes from the host).
fn inert_strings(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(inert(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(inert_strings).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (inert(&k), inert_strings(v)))
                .collect(),
        ),
        other => other,
    }
}

fn action_json(a: &ActionView, output: Option<&OutputRecord>) -> Value {
    let mut value = json!({
        "id": a.id,
        "host": inert(&a.host),
        "state": a.state.name(),
        "tier": a.tier.name(),
        "rule": inert(&a.rule),
        "command": inert(&a.command),
        "title": inert(&a.title),
        "agent": inert(&a.agent),
        "exit_code": a.exit_code,
        "signal": a.signal.as_deref().map(inert),
        "decided_by": a.decided_by.as_deref().map(inert),
        "decision_reason": a.decision_reason.as_deref().map(inert),
        "error": a.error.as_deref().map(inert),
        "created_at_ms": a.created_at,
        "expires_at_ms": a.expires_at,
        "ended_at_ms": a.ended_at,
        "repeats": a.repeats,
    });
    if let Some(o) = &a.outcome {
        value["outcome"] = inert_strings(serde_json::to_value(o).unwrap_or(Value::Null));
    }
    if let Some(out) = output {
        let (stdout, stdout_cut) = bounded(&out.stdout, out.stdout_total);
        let (stderr, stderr_cut) = bounded(&out.stderr, out.stderr_total);
        value["output"] = json!({
            "stdout": stdout,
            "stderr": stderr,
            "stdout_total_bytes": out.stdout_total,
            "stderr_total_bytes": out.stderr_total,
            "stdout_left_out_bytes": stdout_cut,
            "stderr_left_out_bytes": stderr_cut,
        });
    }
    value
}

impl GateTools {
    pub fn new(data_dir: PathBuf, configured: Vec<String>, agent: Option<String>) -> Self {
        Self {
            data_dir,
            configured,
            agent,
            progress_every: PROGRESS_EVERY,
            runbook_repos: Default::default(),
            default_runbooks: None,
            tool_router: Self::tool_router(),
        }
    }

    /// Where each host's runbooks are (`runbooks` per host, else `default`).
    pub fn with_runbooks(
        mut self,
        per_host: std::collections::BTreeMap<String, PathBuf>,
        default: Option<PathBuf>,
    ) -> Self {
        self.runbook_repos = per_host;
        self.default_runbooks = default;
        self
    }

    /// The runbooks that apply to `host` (read in a blocking task: git).
    async fn runbooks_for(&self, host: &str) -> Vec<crate::runbooks::Runbook> {
        let Some(dir) = self
            .runbook_repos
            .get(host)
            .cloned()
            .or_else(|| self.default_runbooks.clone())
        else {
            return Vec::new();
        };
        let host = host.to_string();
        tokio::task::spawn_blocking(move || {
            crate::runbooks::load(&dir)
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r.applies_to(&host))
                .collect()
        })
        .await
        .unwrap_or_default()
    }

    /// For tests: progress more often than every 15 s.
    pub fn with_progress_every(mut self, every: Duration) -> Self {
        self.progress_every = every;
        self
    }

    /// Hosts whose cockpit answers on its socket.
    async fn running_hosts(&self) -> Vec<String> {
        let dir = crate::gate::socket_dir(&self.data_dir);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut hosts = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("sock") {
                continue;
            }
            let Some(host) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            if let Ok(mut client) = BrokerClient::connect(&self.data_dir, host).await
                && client
                    .request(&Request::ListPending {})
                    .await
                    .is_ok_and(|r| r.ok)
            {
                hosts.push(host.to_string());
            }
        }
        hosts.sort();
        hosts
    }

    /// One request to the cockpit of `host`.
    async fn ask(&self, host: &str, request: &Request) -> Result<Response, String> {
        let mut client = BrokerClient::connect(&self.data_dir, host).await?;
        let response = client.request(request).await?;
        if response.ok {
            Ok(response)
        } else {
            Err(refusal(&response))
        }
    }

    /// Asks every running cockpit until one answers `request` (ids are
    /// global, but only the cockpit of the action's host may cancel it).
    async fn ask_any(&self, request: &Request) -> Result<Response, String> {
        let hosts = self.running_hosts().await;
        if hosts.is_empty() {
            return Err("no cockpit is running: start one with `opscockpit HOST`".into());
        }
        let mut last = String::new();
        for host in hosts {
            match self.ask(&host, request).await {
                Ok(response) => return Ok(response),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn proposer(&self, context: &RequestContext<RoleServer>) -> String {
        if let Some(agent) = &self.agent {
            return agent.clone();
        }
        context
            .peer
            .peer_info()
            .map(|info| info.client_info.name.clone())
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| "mcp".into())
    }
}

#[tool_router]
impl GateTools {
    #[tool(
        description = "The hosts with a running opscockpit (actions can be proposed there) and the configured ones that have none.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_hosts(&self) -> Result<CallToolResult, ErrorData> {
        let running = self.running_hosts().await;
        let idle: Vec<String> = self
            .configured
            .iter()
            .filter(|h| !running.contains(h))
            .cloned()
            .collect();
        let mut text = format!(
            "running cockpits: {}",
            if running.is_empty() {
                "none".to_string()
            } else {
                running.join(", ")
            }
        );
        if !idle.is_empty() {
            text.push_str(&format!(
                "\nconfigured, no cockpit running (a human starts `opscockpit HOST`): {}",
                idle.join(", ")
            ));
        }
        Ok(text_result(
            text,
            json!({ "running": running, "configured_not_running": idle }),
            false,
        ))
    }

    #[tool(
        description = "What the cockpit of HOST sees now: link state, metrics summary (CPU, memory, load, disk, network), active alerts, containers, and the newest log lines (filter by source, level and text). Read-only; no SSH needed.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn host_status(
        &self,
        Parameters(args): Parameters<StatusArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let query = SnapshotQuery {
            lines: args.lines,
            source: args.source,
            level: args.level,
            hide_unlevelled: args.hide_unlevelled.unwrap_or(false),
            search: args.search,
        };
        Ok(
            match self.ask(&args.host, &Request::Snapshot { query }).await {
                Ok(Response {
                    snapshot: Some(snapshot),
                    ..
                }) => {
                    let runbooks = self.runbooks_for(&args.host).await;
                    let mut text = status_text(&snapshot);
                    text.push_str(&runbooks_text(&runbooks));
                    let mut structured = serde_json::to_value(&snapshot).unwrap_or(Value::Null);
                    if let Value::Object(map) = &mut structured {
                        map.insert("runbooks".into(), runbooks_json(&runbooks));
                    }
                    text_result(text, structured, false)
                }
                Ok(_) => tool_error("the cockpit sent no snapshot"),
                Err(e) => tool_error(e),
            },
        )
    }

    #[tool(
        description = "Propose a shell command for HOST. A human approves or rejects it in the cockpit; this call waits until the action ends and returns its state, exit code and output (bounded), or the rejection reason, or why it expired. Read-only commands may run at once (policy tier auto). Cancelling the call cancels the pending proposal.",
        annotations(
            destructive_hint = true,
            read_only_hint = false,
            open_world_hint = true
        )
    )]
    async fn propose_action(
        &self,
        Parameters(args): Parameters<ProposeArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let risk = match args.risk.as_deref() {
            None => None,
            Some(name) => match Risk::from_name(name) {
                Some(risk) => Some(risk),
                None => {
                    return Ok(tool_error(format!(
                        "risk must be low, medium or high, not `{}`",
                        inert(name)
                    )));
                }
            },
        };
        let proposal = Proposal {
            command: args.command,
            cwd: args.cwd,
            timeout_secs: args.timeout_secs,
            title: args.title.unwrap_or_default(),
            reason: args.reason.unwrap_or_default(),
            risk,
            agent: self.proposer(&context),
            // Set by `opscockpit agent` when it started this MCP server's client.
            session: std::env::var("OPSCOCKPIT_SESSION")
                .ok()
                .filter(|s| !s.is_empty()),
            id: None,
            runbook: match args.runbook.as_deref().map(crate::runbooks::parse_claim) {
                None => None,
                Some(Ok(claim)) => Some(Box::new(claim)),
                Some(Err(e)) => return Ok(tool_error(e)),
            },
        };
        Ok(self.propose_and_wait(&args.host, proposal, &context).await)
    }

    #[tool(
        description = "The state of an action by id (and its output once it ended).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn action_status(
        &self,
        Parameters(args): Parameters<IdArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let status = self
            .ask_any(&Request::Status {
                id: args.id.clone(),
            })
            .await;
        Ok(match status {
            Ok(Response {
                action: Some(a), ..
            }) if a.state.is_terminal() => {
                // A zero-timeout wait returns the stored output with the view.
                let wait = Request::Wait {
                    id: a.id.clone(),
                    timeout_secs: Some(0),
                };
                let output = self.ask(&a.host, &wait).await.ok().and_then(|r| r.output);
                text_result(
                    action_text(&a, output.as_ref()),
                    action_json(&a, output.as_ref()),
                    false,
                )
            }
            Ok(Response {
                action: Some(a), ..
            }) => text_result(action_text(&a, None), action_json(&a, None), false),
            Ok(_) => tool_error("the cockpit sent no action"),
            Err(e) => tool_error(e),
        })
    }

    #[tool(
        description = "Withdraw a pending proposal (nothing runs).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn cancel_action(
        &self,
        Parameters(args): Parameters<IdArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(match self.ask_any(&Request::Cancel { id: args.id }).await {
            Ok(Response {
                action: Some(a), ..
            }) => text_result(action_text(&a, None), action_json(&a, None), false),
            Ok(_) => tool_error("the cockpit sent no action"),
            Err(e) => tool_error(e),
        })
    }

    #[tool(
        description = "The proposals waiting for the operator's decision on HOST, oldest first.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_pending(
        &self,
        Parameters(args): Parameters<HostArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(match self.ask(&args.host, &Request::ListPending {}).await {
            Ok(r) => actions_result(r.actions.unwrap_or_default(), "pending"),
            Err(e) => tool_error(e),
        })
    }

    #[tool(
        description = "One runbook of HOST's runbook repo as markdown (front matter included), with its steps, last commit and whether its working tree is modified. `host_status` lists the runbooks that apply to the host. Propose a step with propose_action's `runbook` = PATH#step-N.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn runbook(
        &self,
        Parameters(args): Parameters<RunbookArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let runbooks = self.runbooks_for(&args.host).await;
        let Some(rb) = runbooks.iter().find(|r| r.path == args.path) else {
            return Ok(tool_error(format!(
                "no runbook `{}` for {} (host_status lists them)",
                inert(&args.path),
                inert(&args.host)
            )));
        };
        let mut structured = runbook_json(rb);
        if let Value::Object(map) = &mut structured {
            map.insert("markdown".into(), rb.body.clone().into());
        }
        Ok(text_result(rb.body.clone(), structured, false))
    }

    #[tool(
        description = "Recorded actions, newest first: filter by host, age (since_secs), state and limit.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn history(
        &self,
        Parameters(args): Parameters<HistoryArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let request = Request::History {
            host: args.host.clone(),
            since_secs: args.since_secs,
            state: args.state,
            limit: args.limit,
        };
        let answer = match &args.host {
            Some(host) if self.running_hosts().await.contains(host) => {
                self.ask(host, &request).await
            }
            _ => self.ask_any(&request).await,
        };
        Ok(match answer {
            Ok(r) => actions_result(r.actions.unwrap_or_default(), "recorded"),
            Err(e) => tool_error(e),
        })
    }
}

impl GateTools {
    /// Proposes on one connection that says it waits (so the proposal is
    /// cancelled if this server dies), then waits in slices, sending a
    /// progress notification after each, until the action ends or the
    /// client cancels the call.
    async fn propose_and_wait(
        &self,
        host: &str,
        proposal: Proposal,
        context: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        let mut client = match BrokerClient::connect(&self.data_dir, host).await {
            Ok(c) => c,
            Err(e) => return tool_error(e),
        };
        let proposed = client
            .request(&Request::Propose {
                proposal,
                wait: true,
            })
            .await;
        let action = match proposed {
            Ok(Response {
                ok: true,
                action: Some(a),
                ..
            }) => a,
            Ok(r) => return tool_error(refusal(&r)),
            Err(e) => return tool_error(e),
        };
        let token = context.meta.get_progress_token();
        let slice = self.progress_every.as_secs().max(1);
        let mut step = 0u32;
        let mut view = action;
        let mut output = None;
        while !view.state.is_terminal() {
            let wait = Request::Wait {
                id: view.id.clone(),
                timeout_secs: Some(slice),
            };
            let reply = tokio::select! {
                () = context.ct.cancelled() => {
                    return self.cancelled_by_client(host, &view.id).await;
                }
                reply = client.request(&wait) => reply,
            };
            match reply {
                Ok(Response {
                    ok: true,
                    action: Some(a),
                    output: o,
                    ..
                }) => {
                    view = a;
                    output = o;
                }
                Ok(r) => return tool_error(refusal(&r)),
                Err(e) => {
                    return tool_error(format!(
                        "lost the cockpit while waiting ({e}); action {} was not run by this call's wait. Check action_status",
                        view.id
                    ));
                }
            }
            if !view.state.is_terminal()
                && let Some(token) = &token
            {
                step += 1;
                let note = format!(
                    "waiting for the operator's decision on {} ({}), {} s so far",
                    inert(host),
                    view.state.name(),
                    u64::from(step) * slice
                );
                let _ = context
                    .peer
                    .notify_progress(
                        ProgressNotificationParam::new(token.clone(), f64::from(step))
                            .with_message(note),
                    )
                    .await;
            }
        }
        let failed = !matches!(view.state, ActionState::Succeeded);
        text_result(
            action_text(&view, output.as_ref()),
            action_json(&view, output.as_ref()),
            failed,
        )
    }

    async fn cancelled_by_client(&self, host: &str, id: &str) -> CallToolResult {
        let cancel = self
            .ask(host, &Request::Cancel { id: id.to_string() })
            .await;
        let text = match cancel {
            Ok(_) => format!("the call was cancelled: proposal {id} is cancelled, nothing ran"),
            Err(e) => format!("the call was cancelled; cancelling proposal {id} failed: {e}"),
        };
        tool_error(text)
    }
}

fn actions_result(actions: Vec<ActionView>, what: &str) -> CallToolResult {
    let mut text = format!("{} {what} action(s)", actions.len());
    for a in &actions {
        text.push_str(&format!(
            "\n{} {} {} [{}] {}",
            a.id,
            inert(&a.host),
            a.state.name(),
            a.tier.name(),
            inert(if a.title.is_empty() {
                &a.command
            } else {
                &a.title
            })
        ));
    }
    let list: Vec<Value> = actions.iter().map(|a| action_json(a, None)).collect();
    text_result(text, json!({ "actions": list }), false)
}

/// The compact text of a snapshot: a few lines a model reads quickly.
fn status_text(s: &Value) -> String {
    let m = &s["metrics"];
    let num = |v: &Value| {
        v.as_f64()
            .map(|x| format!("{x:.1}"))
            .unwrap_or_else(|| "-".into())
    };
    let mut text = format!(
        "host {} ({}), link {}\ncpu {}% load {} {} {} mem used {} / {} bytes, net rx {} tx {} B/s, disk r {} w {} B/s",
        s["host"].as_str().unwrap_or("?"),
        s["hostname"].as_str().unwrap_or("?"),
        s["link"]["state"].as_str().unwrap_or("?"),
        num(&m["cpu_percent"]),
        num(&m["load"][0]),
        num(&m["load"][1]),
        num(&m["load"][2]),
        num(&m["mem_used_bytes"]),
        num(&m["mem_total_bytes"]),
        num(&m["net_rx_bytes_per_sec"]),
        num(&m["net_tx_bytes_per_sec"]),
        num(&m["disk_read_bytes_per_sec"]),
        num(&m["disk_write_bytes_per_sec"]),
    );
    let alerts = s["alerts"]["active"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    text.push_str(&format!("\nalerts: {}", alerts.len()));
    for a in &alerts {
        text.push_str(&format!(
            "\n  {} {} {} {}",
            a["level"].as_str().unwrap_or(""),
            a["name"].as_str().unwrap_or(""),
            a["value"].as_str().unwrap_or(""),
            a["info"].as_str().unwrap_or("")
        ));
    }
    let containers = s["containers"].as_array().cloned().unwrap_or_default();
    text.push_str(&format!("\ncontainers: {}", containers.len()));
    for c in &containers {
        text.push_str(&format!(
            "\n  {} ({}) {} health {} restarts {}",
            c["name"].as_str().unwrap_or(""),
            c["image"].as_str().unwrap_or(""),
            c["state"].as_str().unwrap_or(""),
            c["health"].as_str().unwrap_or("-"),
            c["restarts"]
                .as_u64()
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into())
        ));
    }
    let logs = s["logs"].as_array().cloned().unwrap_or_default();
    text.push_str(&format!("\nlogs (newest {}):", logs.len()));
    for l in &logs {
        text.push_str(&format!(
            "\n  [{}] {} {}",
            l["source"].as_str().unwrap_or(""),
            l["level"].as_str().unwrap_or("-"),
            l["text"].as_str().unwrap_or("")
        ));
    }
    text
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for GateTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("opscockpit", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "opscockpit's action gate. Look at a host with host_status; act with propose_action: a human \
                 approves or rejects it in the cockpit and the call returns the result. There is no way to \
                 approve from here. A host needs a running cockpit (`opscockpit HOST`).",
            )
    }
}

/// Serves MCP on stdin/stdout until the client goes away.
pub async fn serve_stdio(tools: GateTools) -> Result<(), String> {
    let service = tools
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("MCP handshake failed: {e}"))?;
    service
        .waiting()
        .await
        .map_err(|e| format!("MCP session ended with an error: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod outcome_tests {
    use super::*;

    #[test]
    fn an_outcome_sent_to_the_agent_carries_no_terminal_control() {
        use crate::outcome::{ShapeCount, Window, WindowData};
        let window = |from, to| WindowData {
            window: Window { from, to },
            ..WindowData::default()
        };
        let mut o = crate::outcome::compare(&window(0, 20), &window(21, 41), "echo", 20, None);
        o.new_shapes.push(ShapeCount {
            shape: "boom \u{1b}]52;c;cm0gLXJmIH4=\u{7}".into(),
            count: 3,
        });
        let value = inert_strings(serde_json::to_value(&o).expect("json"));
        // The string itself, not its JSON text (which escapes controls anyway).
        let shape = value["new_shapes"][0]["shape"].as_str().expect("shape");
        assert!(shape.starts_with("boom"), "{shape}");
        assert!(
            !shape.contains('\u{1b}') && !shape.contains('\u{7}'),
            "{shape:?}"
        );
        assert_eq!(value["verdict"]["kind"], "no_data");
        assert_eq!(value["new_shapes"][0]["count"], 3);
    }
}
