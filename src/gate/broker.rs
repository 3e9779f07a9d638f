//! The broker: the unix socket each running cockpit serves for its host.
//!
//! Protocol (version 1): one JSON object per line each way. A request is
//! `{"v":1,"op":OP,…}` with OP one of
//! - `propose` `{"proposal":{"command":…,"cwd":…,"timeout_secs":…,"title":…,"reason":…,"risk":"low|medium|high","agent":…},"wait":true?}`;
//!   an identical pending proposal of the same agent is merged (its `repeats` counts them)
//! - `status` `{"id":…}`, `cancel` `{"id":…}`
//! - `wait` `{"id":…,"timeout_secs":N?}`: replies when the action ends (or N passes)
//!
//! A proposer that waits (`"wait":true` on propose, or a `wait` in
//! progress) and closes its connection before the decision has its proposal
//! cancelled ("proposer gone"): nothing runs for an agent that is no longer
//! there to see the result.
//! - `list_pending` `{}`; `history` `{"host":…?,"since_secs":N?,"state":…?,"limit":N?}` (read-only)
//! - `register_session` `{"token":64 hex,"profile":…}`: `opscockpit agent` says proposals carrying this
//!   token (`"session"` in a proposal) come from an agent it confined; a known token is refused
//! - `snapshot` `{"query":{"lines":N?,"source":…?,"level":…?,"search":…?}}`: read-only, what the cockpit
//!   shows now (link, metrics summary, alerts, containers, newest log lines), inert and masked as on screen
//!
//! The reply is `{"v":1,"ok":true,"action":…,"output":…?}` (or `"actions":[…]`)
//! or `{"v":1,"ok":false,"error":{"code":…,"message":…}}`. There is no
//! approve verb: humans decide in the cockpit only. Lines over 64 KiB,
//! malformed JSON, unknown ops and other versions get an error reply; the
//! broker never crashes on them. Only the cockpit's own user may connect.

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use super::core::{Gate, WaiterGuard};
use super::{ActionView, GateError, OutputRecord, Proposal};
use crate::text::inert;

pub const PROTOCOL_VERSION: u32 = 1;
/// Longest request line.
pub const MAX_LINE: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    #[serde(rename = "propose")]
    Propose {
        proposal: Proposal,
        /// The proposer will wait for the result on this connection: if the
        /// connection closes before a decision, the proposal is cancelled.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        wait: bool,
    },
    #[serde(rename = "status")]
    Status { id: String },
    #[serde(rename = "wait")]
    Wait {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_secs: Option<u64>,
    },
    #[serde(rename = "cancel")]
    Cancel { id: String },
    #[serde(rename = "list_pending")]
    ListPending {},
    /// Read-only: what the cockpit sees now (link, metrics, alerts,
    /// containers, the newest log lines).
    /// Read-only: recorded actions, newest first (all hosts unless `host`).
    #[serde(rename = "history")]
    History {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// Only actions proposed in the last N seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since_secs: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<usize>,
    },
    #[serde(rename = "snapshot")]
    Snapshot {
        #[serde(default)]
        query: super::snapshot::SnapshotQuery,
    },
    /// `opscockpit agent`: proposals carrying this token come from an agent
    /// confined under `profile`.
    #[serde(rename = "register_session")]
    RegisterSession { token: String, profile: String },
}

const OPS: [&str; 8] = [
    "propose",
    "status",
    "wait",
    "cancel",
    "list_pending",
    "history",
    "snapshot",
    "register_session",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Response {
    pub v: u32,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<ActionView>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReply>,
}

impl Response {
    fn action(action: ActionView, output: Option<OutputRecord>) -> Self {
        Self {
            v: PROTOCOL_VERSION,
            ok: true,
            action: Some(action),
            output,
            ..Self::default()
        }
    }

    fn error(code: &str, message: impl Into<String>) -> Self {
        Self {
            v: PROTOCOL_VERSION,
            ok: false,
            error: Some(ErrorReply {
                code: code.to_string(),
                message: message.into(),
            }),
            ..Self::default()
        }
    }
}

impl From<GateError> for Response {
    fn from(e: GateError) -> Self {
        Response::error(e.code, e.message)
    }
}

/// The bound socket; removes its file when dropped.
pub struct Listener {
    pub path: PathBuf,
    listener: Option<std::os::unix::net::UnixListener>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        if self.listener.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Binds the socket at `path` (its directory created 0700, the socket
/// 0600). A live socket means another cockpit already serves this host; a
/// dead one (left by a crash) is replaced.
pub fn bind(path: &Path, host: &str) -> Result<Listener, GateError> {
    let err = |what: &str, e: io::Error| {
        GateError::new("socket", format!("{what} {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| err("creating the directory of", e))?;
        let meta = std::fs::metadata(dir).map_err(|e| err("checking the directory of", e))?;
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me || meta.mode() & 0o077 != 0 {
            return Err(GateError::new(
                "socket",
                format!(
                    "{} must be a directory owned by you with mode 0700 (fix it or set XDG_RUNTIME_DIR)",
                    dir.display()
                ),
            ));
        }
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(GateError::new(
            "already_running",
            format!(
                "a cockpit for `{}` is already running (socket {}); use that one",
                crate::text::inert(host),
                path.display()
            ),
        ));
    }
    if path.exists() {
        std::fs::remove_file(path).map_err(|e| err("removing the stale socket", e))?;
    }
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(|e| err("binding", e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| err("restricting", e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| err("configuring", e))?;
    Ok(Listener {
        path: path.to_path_buf(),
        listener: Some(listener),
    })
}

/// Serves clients until `cancel` fires. Each connection is its own task.
pub async fn serve(gate: Gate, mut listener: Listener, cancel: CancellationToken) {
    let Some(std_listener) = listener.listener.as_ref().and_then(|l| l.try_clone().ok()) else {
        return;
    };
    let tokio_listener = match UnixListener::from_std(std_listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "broker socket unusable");
            return;
        }
    };
    // A flood of connections gets `busy`, not a task and a buffer each.
    let slots = Arc::new(tokio::sync::Semaphore::new(
        gate.config().max_clients.max(1),
    ));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = tokio_listener.accept() => match accepted {
                Ok((stream, _)) => match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        let gate = gate.clone();
                        let cancel = cancel.clone();
                        tokio::spawn(async move {
                            connection(gate, stream, cancel).await;
                            drop(slot);
                        });
                    }
                    Err(_) => {
                        tokio::spawn(refuse_busy(stream));
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a broker connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    // Drop removes the socket file.
    drop(tokio_listener);
    listener.listener.take();
    let _ = std::fs::remove_file(&listener.path);
}

/// Where a connection comes from: this machine's socket, or the host's
/// (forwarded over the cockpit's SSH session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Local,
    Host,
}

/// Serves connections forwarded from the socket on the host (see
/// `gate::onhost`) until the stream of them ends or `cancel` fires.
pub async fn serve_forwarded(
    gate: Gate,
    mut streams: tokio::sync::mpsc::Receiver<crate::transport::BoxStream>,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            stream = streams.recv() => match stream {
                Some(stream) => {
                    let (read, write) = tokio::io::split(stream);
                    tokio::spawn(serve_connection(gate.clone(), read, write, cancel.clone(), Origin::Host));
                }
                None => return,
            },
        }
    }
}

async fn refuse_busy(stream: UnixStream) {
    let (_, mut write) = stream.into_split();
    let reply = Response::error(
        "busy",
        "the broker serves as many clients as it may at once; try again",
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), send(&mut write, &reply)).await;
}

async fn connection(gate: Gate, stream: UnixStream, cancel: CancellationToken) {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let peer_ok = stream.peer_cred().map(|c| c.uid() == me).unwrap_or(false);
    let (read, mut write) = stream.into_split();
    if peer_ok {
        serve_connection(gate, read, write, cancel, Origin::Local).await;
    } else {
        let _ = send(
            &mut write,
            &Response::error(
                "forbidden",
                "only the user running the cockpit may use its socket",
            ),
        )
        .await;
    }
}

/// One client: requests in, replies out, until it closes.
async fn serve_connection<R, W>(
    gate: Gate,
    read: R,
    mut write: W,
    cancel: CancellationToken,
    origin: Origin,
) where
    R: tokio::io::AsyncRead + Unpin + Send,
    W: tokio::io::AsyncWrite + Unpin + Send,
{
    let mut reader = BufReader::new(read);
    // Proposals made on this connection by a proposer that said it waits:
    // when the connection ends before their decision, nobody will see the
    // result, so they are cancelled.
    let mut waited_for: Vec<WaiterGuard> = Vec::new();
    let proposer_gone = |waited_for: &mut Vec<WaiterGuard>| {
        for waiter in waited_for.drain(..) {
            waiter.gone();
        }
    };
    let idle = gate.config().client_idle.max(Duration::from_millis(100));
    loop {
        let line = tokio::select! {
            _ = cancel.cancelled() => return,
            line = tokio::time::timeout(idle, read_line_limited(&mut reader, MAX_LINE)) => line,
        };
        let Ok(line) = line else {
            // Connected and silent (or trickling): it holds a slot for
            // nothing. What it proposed and waits for is cancelled, as for
            // any proposer that goes away.
            let _ = send(
                &mut write,
                &Response::error(
                    "idle",
                    format!(
                        "no complete request within {} s: closed",
                        idle.as_secs_f64()
                    ),
                ),
            )
            .await;
            proposer_gone(&mut waited_for);
            return;
        };
        let reply = match line {
            Ok(Line::Eof) | Err(_) => {
                proposer_gone(&mut waited_for);
                return;
            }
            Ok(Line::TooLong) => {
                let _ = send(
                    &mut write,
                    &Response::error(
                        "too_large",
                        format!("request line longer than {MAX_LINE} bytes"),
                    ),
                )
                .await;
                return;
            }
            Ok(Line::Text(bytes)) => {
                let waiter = waiting_on(&bytes).map(|id| gate.register_waiter(&id));
                let will_wait = proposes_and_waits(&bytes);
                let reply = tokio::select! {
                    _ = cancel.cancelled() => Response::error("shutting_down", "the cockpit is stopping"),
                    reply = handle_line_from(&gate, &bytes, origin) => reply,
                    // A proposer that disconnects while it waits (killed,
                    // Ctrl-C, its tool timed out) will never see the result.
                    () = peer_gone(&mut reader), if waiter.is_some() => {
                        if let Some(waiter) = waiter {
                            waiter.gone();
                        }
                        proposer_gone(&mut waited_for);
                        return;
                    }
                };
                if will_wait
                    && let Some(action) = &reply.action
                    && action.state == crate::gate::ActionState::Pending
                {
                    waited_for.push(gate.register_waiter(&action.id));
                }
                reply
            }
        };
        if send(&mut write, &reply).await.is_err() {
            // Gone before it heard the answer (killed right after proposing).
            proposer_gone(&mut waited_for);
            return;
        }
    }
}

/// Recorded actions for the `history` verb (at most 500 a request).
fn history(
    gate: &Gate,
    host: Option<String>,
    since_secs: Option<u64>,
    state: Option<String>,
    limit: Option<usize>,
) -> Result<Response, GateError> {
    let state = match state.as_deref() {
        None => None,
        Some(name) => Some(super::ActionState::from_name(name).ok_or_else(|| {
            GateError::new("bad_request", format!("unknown state `{}`", inert(name)))
        })?),
    };
    let filter = super::store::HistoryFilter {
        host,
        since_ms: since_secs.map(|s| super::now_ms() - (s.min(10 * 365 * 86_400) as i64) * 1000),
        state,
        limit: Some(limit.unwrap_or(50).min(500)),
    };
    gate.history_matching(&filter).map(|actions| Response {
        v: PROTOCOL_VERSION,
        ok: true,
        actions: Some(actions),
        ..Response::default()
    })
}

/// A `propose` whose proposer says it will wait for the result.
fn proposes_and_waits(bytes: &[u8]) -> bool {
    matches!(
        parse_request(bytes),
        Ok(Request::Propose { wait: true, .. })
    )
}

/// The id a `wait` request waits on (`None` for any other request).
fn waiting_on(bytes: &[u8]) -> Option<String> {
    match parse_request(bytes) {
        Ok(Request::Wait { id, .. }) => Some(id),
        _ => None,
    }
}

/// Resolves when the peer closed its side (or the read failed). A peer that
/// sends more while it waits is not gone: then this never resolves.
async fn peer_gone<R: AsyncBufRead + Unpin>(reader: &mut R) {
    match reader.fill_buf().await {
        Ok([]) | Err(_) => {}
        Ok(_) => std::future::pending::<()>().await,
    }
}

async fn send<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, reply: &Response) -> io::Result<()> {
    let mut text = serde_json::to_string(reply).map_err(io::Error::other)?;
    text.push('\n');
    w.write_all(text.as_bytes()).await?;
    w.flush().await
}

enum Line {
    Text(Vec<u8>),
    TooLong,
    Eof,
}

async fn read_line_limited<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> io::Result<Line> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(if line.is_empty() {
                Line::Eof
            } else {
                Line::Text(line)
            });
        }
        if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            line.extend_from_slice(&buf[..pos]);
            r.consume(pos + 1);
            return Ok(if line.len() > max {
                Line::TooLong
            } else {
                Line::Text(line)
            });
        }
        let n = buf.len();
        line.extend_from_slice(buf);
        r.consume(n);
        if line.len() > max {
            return Ok(Line::TooLong);
        }
    }
}

/// Parses and answers one request line.
pub async fn handle_line(gate: &Gate, bytes: &[u8]) -> Response {
    handle_line_from(gate, bytes, Origin::Local).await
}

/// Proposals from the host's socket are marked as such (`host:AGENT`).
async fn handle_line_from(gate: &Gate, bytes: &[u8], origin: Origin) -> Response {
    let mut request = match parse_request(bytes) {
        Ok(r) => r,
        Err(reply) => return *reply,
    };
    if origin == Origin::Host
        && let Request::Propose { proposal, .. } = &mut request
    {
        let agent = if proposal.agent.is_empty() {
            "unknown"
        } else {
            proposal.agent.as_str()
        };
        proposal.agent = format!("host:{agent}");
    }
    answer(gate, request).await
}

fn boxed_error(code: &str, message: impl Into<String>) -> Box<Response> {
    Box::new(Response::error(code, message))
}

/// Checks the envelope (JSON object, `v`, known `op`) and decodes it.
pub fn parse_request(bytes: &[u8]) -> Result<Request, Box<Response>> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| boxed_error("bad_json", format!("request is not JSON: {e}")))?;
    let Some(map) = value.as_object_mut() else {
        return Err(boxed_error("bad_request", "request must be a JSON object"));
    };
    match map.remove("v").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
        Some(v) => {
            return Err(boxed_error(
                "unsupported_version",
                format!(
                    "protocol version {v} is not supported; this cockpit speaks {PROTOCOL_VERSION}"
                ),
            ));
        }
        None => {
            return Err(boxed_error("bad_request", "missing protocol version `v`"));
        }
    }
    let op = map
        .get("op")
        .and_then(|o| o.as_str())
        .unwrap_or("")
        .to_string();
    let op = op.as_str();
    if !OPS.contains(&op) {
        return Err(boxed_error(
            "unknown_op",
            format!(
                "unknown op `{}`; known: {}",
                op.chars().take(40).collect::<String>(),
                OPS.join(", ")
            ),
        ));
    }
    check_no_extra_fields(map, op)?;
    serde_json::from_value(value)
        .map_err(|e| boxed_error("bad_request", format!("invalid `{op}` request: {e}")))
}

fn check_no_extra_fields(
    map: &serde_json::Map<String, serde_json::Value>,
    op: &str,
) -> Result<(), Box<Response>> {
    let allowed: &[&str] = match op {
        "propose" => &["op", "proposal", "wait"],
        "wait" => &["op", "id", "timeout_secs"],
        "list_pending" => &["op"],
        "snapshot" => &["op", "query"],
        "history" => &["op", "host", "since_secs", "state", "limit"],
        "register_session" => &["op", "token", "profile"],
        _ => &["op", "id"],
    };
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(boxed_error(
            "bad_request",
            format!(
                "unknown field `{}` in `{op}`",
                extra.chars().take(40).collect::<String>()
            ),
        )),
        None => Ok(()),
    }
}

async fn answer(gate: &Gate, request: Request) -> Response {
    let result = match request {
        Request::Propose { proposal, .. } => {
            gate.propose(proposal).map(|a| Response::action(a, None))
        }
        Request::RegisterSession { token, profile } => {
            gate.register_session(&token, &profile).map(|()| Response {
                v: PROTOCOL_VERSION,
                ok: true,
                ..Response::default()
            })
        }
        Request::Status { id } => gate.status(&id).map(|a| Response::action(a, None)),
        Request::Cancel { id } => gate.cancel(&id).map(|a| Response::action(a, None)),
        Request::History {
            host,
            since_secs,
            state,
            limit,
        } => history(gate, host, since_secs, state, limit),
        Request::Snapshot { query } => gate.snapshot(query).await.map(|snapshot| Response {
            v: PROTOCOL_VERSION,
            ok: true,
            snapshot: Some(snapshot),
            ..Response::default()
        }),
        Request::ListPending {} => gate.list_pending().map(|actions| Response {
            v: PROTOCOL_VERSION,
            ok: true,
            actions: Some(actions),
            ..Response::default()
        }),
        Request::Wait { id, timeout_secs } => {
            let timeout = timeout_secs.map(Duration::from_secs);
            match gate.wait(&id, timeout).await {
                Ok(a) => {
                    let output = if a.state.is_terminal() {
                        gate.output(&a.id).ok().flatten()
                    } else {
                        None
                    };
                    Ok(Response::action(a, output))
                }
                Err(e) => Err(e),
            }
        }
    };
    result.unwrap_or_else(Response::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    proptest::proptest! {
        /// Whatever arrives on the socket, the parser answers: a request or
        /// an error with a code, never a panic.
        #[test]
        fn any_bytes_parse_or_get_an_error_code(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            if let Err(reply) = parse_request(&bytes) {
                proptest::prop_assert!(!reply.ok);
                proptest::prop_assert!(reply.error.is_some());
            }
        }

        /// JSON of the right shape with values of any type in any field.
        #[test]
        fn any_json_values_in_a_request_are_handled(
            op in proptest::sample::select(vec!["propose", "status", "wait", "cancel", "list_pending", "history", "snapshot", "register_session", "approve", ""]),
            field in "[a-z_]{1,12}",
            value in proptest::prop_oneof![
                proptest::strategy::Just(serde_json::Value::Null),
                proptest::num::i64::ANY.prop_map(serde_json::Value::from),
                proptest::num::f64::ANY.prop_map(serde_json::Value::from),
                ".{0,40}".prop_map(serde_json::Value::from),
                proptest::bool::ANY.prop_map(serde_json::Value::from),
                proptest::strategy::Just(serde_json::json!([1, "x", {}])),
                proptest::strategy::Just(serde_json::json!({"command": 1, "agent": []})),
            ],
        ) {
            let mut request = serde_json::json!({"v": 1, "op": op});
            request[field.as_str()] = value.clone();
            request["proposal"] = serde_json::json!({"command": value});
            let bytes = serde_json::to_vec(&request).unwrap_or_default();
            if let Err(reply) = parse_request(&bytes) {
                proptest::prop_assert!(reply.error.is_some());
            }
        }
    }

    #[test]
    fn requests_parse_and_bad_ones_get_codes() {
        let ok = parse_request(br#"{"v":1,"op":"status","id":"x"}"#).expect("status");
        assert_eq!(ok, Request::Status { id: "x".into() });
        let ok =
            parse_request(br#"{"v":1,"op":"propose","proposal":{"command":"ls","risk":"high"}}"#)
                .expect("propose");
        assert!(matches!(ok, Request::Propose { .. }));
        let code = |b: &[u8]| {
            parse_request(b)
                .expect_err("must fail")
                .error
                .expect("error")
                .code
        };
        assert_eq!(code(b"not json"), "bad_json");
        assert_eq!(code(b"[1,2]"), "bad_request");
        assert_eq!(code(br#"{"op":"status","id":"x"}"#), "bad_request");
        assert_eq!(
            code(br#"{"v":2,"op":"status","id":"x"}"#),
            "unsupported_version"
        );
        assert_eq!(code(br#"{"v":1,"op":"approve","id":"x"}"#), "unknown_op");
        assert_eq!(code(br#"{"v":1,"op":"status"}"#), "bad_request");
        assert_eq!(
            code(br#"{"v":1,"op":"status","id":"x","tier":"auto"}"#),
            "bad_request"
        );
        assert_eq!(
            code(br#"{"v":1,"op":"propose","proposal":{"command":"ls","tier":"auto"}}"#),
            "bad_request"
        );
        assert_eq!(
            code(br#"{"v":1,"op":"propose","proposal":{"command":"ls","risk":"none"}}"#),
            "bad_request"
        );
    }

    #[tokio::test]
    async fn long_lines_are_cut_off() {
        let data = vec![b'x'; MAX_LINE + 10];
        let mut r = BufReader::new(&data[..]);
        assert!(matches!(
            read_line_limited(&mut r, MAX_LINE).await,
            Ok(Line::TooLong)
        ));
        let mut r = BufReader::new(&b"a\nb"[..]);
        assert!(
            matches!(read_line_limited(&mut r, MAX_LINE).await, Ok(Line::Text(l)) if l == b"a")
        );
        assert!(
            matches!(read_line_limited(&mut r, MAX_LINE).await, Ok(Line::Text(l)) if l == b"b")
        );
        assert!(matches!(
            read_line_limited(&mut r, MAX_LINE).await,
            Ok(Line::Eof)
        ));
    }
}
