//! The SSH transport: every pane's traffic over ONE SSH connection (plus
//! its ProxyJump hops), resolved and verified like OpenSSH, kept alive by a
//! supervisor that reconnects with backoff and reports the link state.
//!
//! - `resolve`: `ssh -G` (or a minimal reader) + `[hosts.NAME]` overrides.
//! - `known_hosts`: our own host key verification (see its docs).
//! - `auth`: agent, identity files, passphrases, certificates.
//! - `session`: one connection (TCP or through a jump), handshake, auth.
//! - this file: [`SshTransport`] (the `Transport` operations) and the
//!   supervisor.

pub mod auth;
pub mod known_hosts;
pub mod pattern;
pub mod prompt;
pub mod resolve;
pub mod session;
pub mod severable;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use russh::{ChannelMsg, Sig};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::HostConfig;
use crate::transport::ConnectionState;

use super::{
    BoxStream, ExecEvent, ExecHandle, ExecOptions, ExitStatus, Transport, TransportError,
    TransportErrorKind, shell_quote,
};
pub use prompt::{FixedPrompter, Prompter, TerminalPrompter};
pub use resolve::{Resolved, SshTarget};
use session::{ConnectContext, Session};
pub use session::{ConnectError, ConnectErrorKind};

/// How long an operation waits for a reconnect before failing with
/// `Disconnected` (sources then retry on their own schedule).
const OUTAGE_WAIT: Duration = Duration::from_secs(10);
/// Reconnect backoff: first pause, and the cap.
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// How long a cancelled command gets between TERM and KILL.
const KILL_GRACE_TENTHS: u32 = 20;

/// How to connect: the ssh config file, per-host overrides, who asks.
#[derive(Clone, Default)]
pub struct SshOptions {
    /// `-F FILE`.
    pub config_file: Option<PathBuf>,
    /// `[hosts.NAME]` of opscockpit's config.
    pub overrides: Option<HostConfig>,
    /// Who answers questions at connect time; `None` refuses what needs
    /// asking (unknown host key under `ask`, encrypted keys).
    pub prompter: Option<Arc<dyn Prompter>>,
    /// Use the built-in ssh config reader even if `ssh` is installed.
    pub without_ssh_binary: bool,
}

/// The transport over one SSH connection. Cheap to share; dropping the
/// last reference closes the connection and stops the supervisor.
pub struct SshTransport {
    inner: Arc<Inner>,
    stop: CancellationToken,
}

struct Inner {
    /// Jump hosts first, the target last.
    chain: Vec<SshTarget>,
    /// For reconnects: no prompter (never ask while the TUI runs).
    reconnect_ctx: ConnectContext,
    session: watch::Sender<Option<Arc<Session>>>,
    state: watch::Sender<ConnectionState>,
    describe: String,
    outage_wait: Duration,
}

impl Drop for SshTransport {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl SshTransport {
    /// Resolves `destination` like `ssh DESTINATION` and connects. Prompts
    /// (host key, passphrase) happen here, so call this before the TUI.
    /// Returns the warnings from resolution too (e.g. an ignored `Match`).
    pub async fn connect(
        destination: &str,
        options: SshOptions,
    ) -> Result<(Self, Vec<String>), ConnectError> {
        let resolve_options = resolve::ResolveOptions {
            config_file: options.config_file.as_deref(),
            overrides: options.overrides.as_ref(),
            without_ssh_binary: options.without_ssh_binary,
        };
        let resolved =
            resolve::resolve(destination, &resolve_options).map_err(|message| ConnectError {
                kind: ConnectErrorKind::Resolve,
                message,
            })?;
        let warnings = resolved.warnings.clone();
        let transport = Self::connect_resolved(resolved, options.prompter).await?;
        Ok((transport, warnings))
    }

    /// Connects to an already resolved target (tests build these directly).
    pub async fn connect_resolved(
        resolved: Resolved,
        prompter: Option<Arc<dyn Prompter>>,
    ) -> Result<Self, ConnectError> {
        let mut chain = resolved.jumps;
        let describe = resolved.target.describe();
        chain.push(resolved.target);
        let keys = Arc::new(auth::KeyCache::default());
        let forwarded: session::ForwardedStreams = Arc::default();
        let first_ctx = ConnectContext {
            prompter,
            keys: keys.clone(),
            forwarded: forwarded.clone(),
        };
        let started = Instant::now();
        let session = session::connect_chain(&chain, &first_ctx).await?;
        tracing::info!(
            host = %describe,
            ms = started.elapsed().as_millis() as u64,
            "ssh connected"
        );
        let inner = Arc::new(Inner {
            chain,
            reconnect_ctx: ConnectContext {
                prompter: None,
                keys,
                forwarded,
            },
            session: watch::Sender::new(Some(Arc::new(session))),
            state: watch::Sender::new(ConnectionState::Connected {
                rtt_ms: None,
                unanswered: 0,
            }),
            describe,
            outage_wait: OUTAGE_WAIT,
        });
        let stop = CancellationToken::new();
        tokio::spawn(supervise(inner.clone(), stop.clone()));
        Ok(Self { inner, stop })
    }

    /// The link state as it changes (connected with RTT, reconnecting, down).
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.inner.state.subscribe()
    }

    /// Waits for a live session, up to the outage limit.
    async fn session(&self) -> Result<Arc<Session>, TransportError> {
        let mut rx = self.inner.session.subscribe();
        let wait = async {
            loop {
                if let Some(s) = rx.borrow_and_update().clone()
                    && !s.is_closed()
                {
                    return Some(s);
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        };
        match tokio::time::timeout(self.inner.outage_wait, wait).await {
            Ok(Some(s)) => Ok(s),
            _ => Err(self.disconnected()),
        }
    }

    fn disconnected(&self) -> TransportError {
        TransportError::new(
            TransportErrorKind::Disconnected,
            format!(
                "the SSH connection to {} is down; reconnecting",
                self.inner.describe
            ),
        )
    }

    fn channel_error(&self, session: &Session, what: &str, e: russh::Error) -> TransportError {
        if session.is_closed() {
            return self.disconnected();
        }
        let kind = match &e {
            russh::Error::ChannelOpenFailure(
                russh::ChannelOpenFailure::AdministrativelyProhibited,
            ) => TransportErrorKind::PermissionDenied,
            russh::Error::ChannelOpenFailure(_) => TransportErrorKind::Unreachable,
            russh::Error::SendError | russh::Error::Disconnect => TransportErrorKind::Disconnected,
            _ => TransportErrorKind::Other,
        };
        TransportError::new(kind, format!("{what} on {}: {e}", self.inner.describe))
    }
}

/// The command as sent: the login shell reports its pid (= the process
/// group sshd made for the session) on stderr's first line, so cancel can
/// kill the whole group, then becomes `sh -c COMMAND`.
fn wrap_command(command: &str, cwd: Option<&str>) -> String {
    let cd = match cwd {
        Some(dir) => format!("cd {} || exit 1; ", shell_quote(dir)),
        None => String::new(),
    };
    format!(
        "printf '%s\\n' \"$$\" >&2; {cd}exec sh -c {}",
        shell_quote(command)
    )
}

fn kill_group_command(pid: u32) -> String {
    format!(
        "kill -TERM -{pid} 2>/dev/null; i=0; while [ $i -lt {KILL_GRACE_TENTHS} ] && kill -0 -{pid} 2>/dev/null; do sleep 0.1; i=$((i+1)); done; kill -KILL -{pid} 2>/dev/null; exit 0"
    )
}

fn sig_name(sig: &Sig) -> String {
    match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(name) => return name.clone(),
    }
    .to_string()
}

#[async_trait]
impl Transport for SshTransport {
    async fn exec(
        &self,
        command: &str,
        options: ExecOptions,
    ) -> Result<ExecHandle, TransportError> {
        let session = self.session().await?;
        let channel = session
            .handle
            .channel_open_session()
            .await
            .map_err(|e| self.channel_error(&session, "opening a session channel", e))?;
        channel
            .exec(true, wrap_command(command, options.cwd.as_deref()))
            .await
            .map_err(|e| self.channel_error(&session, "starting a command", e))?;
        let (mut reader, writer) = channel.split();
        let writer = Arc::new(writer);
        let (event_tx, event_rx) = mpsc::channel(64);
        let cancel = CancellationToken::new();

        let stdin_tx = if options.stdin {
            let (tx, mut rx) = mpsc::channel::<Bytes>(16);
            let w = writer.clone();
            tokio::spawn(async move {
                while let Some(chunk) = rx.recv().await {
                    if w.data_bytes(chunk).await.is_err() {
                        return;
                    }
                }
                let _ = w.eof().await;
            });
            Some(tx)
        } else {
            let _ = writer.eof().await;
            None
        };

        let token = cancel.clone();
        tokio::spawn(async move {
            let mut status = ExitStatus::Unknown;
            let mut pid: Option<u32> = None;
            // Stderr bytes before the pid line is complete.
            let mut head: Option<Vec<u8>> = Some(Vec::new());
            let mut cancelled = false;
            loop {
                let msg = tokio::select! {
                    msg = reader.wait() => msg,
                    _ = token.cancelled(), if !cancelled => {
                        cancelled = true;
                        tokio::spawn(kill_remote(session.clone(), writer.clone(), pid));
                        continue;
                    }
                };
                let Some(msg) = msg else { break };
                match msg {
                    ChannelMsg::Data { data } => {
                        let _ = event_tx.send(ExecEvent::Stdout(data)).await;
                    }
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        let rest = match head.as_mut() {
                            None => Some(data),
                            Some(buf) => {
                                buf.extend_from_slice(&data);
                                match buf.iter().position(|&b| b == b'\n') {
                                    None if buf.len() < 64 => None,
                                    None => head.take().map(Bytes::from),
                                    Some(nl) => {
                                        let line = String::from_utf8_lossy(&buf[..nl]).to_string();
                                        let rest = Bytes::copy_from_slice(&buf[nl + 1..]);
                                        match line.trim().parse::<u32>() {
                                            Ok(p) if p > 1 => {
                                                pid = Some(p);
                                                head = None;
                                                Some(rest)
                                            }
                                            _ => head.take().map(Bytes::from),
                                        }
                                    }
                                }
                            }
                        };
                        if let Some(rest) = rest.filter(|r| !r.is_empty()) {
                            let _ = event_tx.send(ExecEvent::Stderr(rest)).await;
                        }
                    }
                    ChannelMsg::ExitStatus { exit_status } => {
                        status = ExitStatus::Code(exit_status as i32);
                    }
                    ChannelMsg::ExitSignal { signal_name, .. } => {
                        status = ExitStatus::Signal(sig_name(&signal_name));
                    }
                    ChannelMsg::Failure => {
                        let _ = event_tx
                            .send(ExecEvent::Stderr(Bytes::from_static(
                                b"the server refused to run the command\n",
                            )))
                            .await;
                    }
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            if let Some(buf) = head.filter(|b| !b.is_empty()) {
                let _ = event_tx.send(ExecEvent::Stderr(Bytes::from(buf))).await;
            }
            let _ = event_tx.send(ExecEvent::Exit(status)).await;
        });
        Ok(ExecHandle::new(event_rx, stdin_tx, cancel))
    }

    async fn connect_tcp(&self, host: &str, port: u16) -> Result<BoxStream, TransportError> {
        let session = self.session().await?;
        let channel = session
            .handle
            .channel_open_direct_tcpip(host, u32::from(port), "127.0.0.1", 0)
            .await
            .map_err(|e| {
                self.channel_error(&session, &format!("connecting to {host}:{port}"), e)
            })?;
        Ok(Box::pin(channel.into_stream()))
    }

    async fn connect_unix(&self, path: &str) -> Result<BoxStream, TransportError> {
        let session = self.session().await?;
        let channel = session
            .handle
            .channel_open_direct_streamlocal(path)
            .await
            .map_err(|e| self.channel_error(&session, &format!("connecting to {path}"), e))?;
        Ok(Box::pin(channel.into_stream()))
    }

    async fn listen_unix_on_target(
        &self,
        path: &str,
    ) -> Result<tokio::sync::mpsc::Receiver<BoxStream>, TransportError> {
        let session = self.session().await?;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        if let Ok(mut slot) = self.inner.reconnect_ctx.forwarded.lock() {
            *slot = Some(tx);
        }
        session
            .handle
            .streamlocal_forward(path)
            .await
            .map_err(|e| self.channel_error(&session, &format!("listening on {path}"), e))?;
        Ok(rx)
    }

    fn describe(&self) -> String {
        self.inner.describe.clone()
    }

    fn connection_state(&self) -> Option<watch::Receiver<ConnectionState>> {
        Some(self.state())
    }

    async fn link_alive(&self) -> bool {
        let current = self.inner.session.borrow().clone();
        let Some(session) = current else {
            return false;
        };
        let Some(target) = self.inner.chain.last() else {
            return false;
        };
        if session.is_closed() || !self.inner.state.borrow().is_up() {
            return false;
        }
        let limit = KeepalivePolicy::for_target(target).detection_limit();
        let answered = tokio::time::timeout(limit, session.handle.send_ping()).await;
        // A ping "returns" when the session ends, too.
        matches!(answered, Ok(Ok(()))) && !session.is_closed()
    }
}

/// Stops a remote command: TERM to its process group, KILL after a grace
/// period, then closes the channel. Without the pid (not reported yet)
/// it asks sshd to signal the command and closes the channel.
async fn kill_remote(
    session: Arc<Session>,
    writer: Arc<russh::ChannelWriteHalf<russh::client::Msg>>,
    pid: Option<u32>,
) {
    let _ = writer.signal(Sig::TERM).await;
    if let Some(pid) = pid
        && let Ok(channel) = session.handle.channel_open_session().await
        && channel.exec(false, kill_group_command(pid)).await.is_ok()
    {
        let mut channel = channel;
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(msg) = channel.wait().await {
                if matches!(msg, ChannelMsg::Close) {
                    break;
                }
            }
        })
        .await;
    }
    // Give the exit status a moment to arrive, then close regardless.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = writer.close().await;
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Watches the live session (keepalives, round trip, misses) and replaces
/// it when it dies: backoff from 0.5 s doubling to 10 s, reported as
/// `Reconnecting` with the reason; a host key problem stops it (`Down`).
async fn supervise(inner: Arc<Inner>, stop: CancellationToken) {
    loop {
        let current = inner.session.borrow().clone();
        let (reason, since) = match current {
            Some(session) => {
                let lost = watch_session(&inner, &session, &stop).await;
                // Cut it even if it looks closed: with a silent peer
                // russh may still wait on a write that never completes.
                session.sever();
                if stop.is_cancelled() {
                    return;
                }
                inner.session.send_replace(None);
                tracing::warn!(host = %inner.describe, reason = %lost.reason, "ssh connection lost");
                (lost.reason, lost.last_heard)
            }
            None => ("not connected".to_string(), now_unix()),
        };
        if !reconnect(&inner, &stop, reason, since).await {
            return;
        }
    }
}

/// Connects again until it works (true) or cannot (false: stopped, or a
/// permanent error reported as `Down`).
async fn reconnect(inner: &Inner, stop: &CancellationToken, reason: String, since: i64) -> bool {
    let mut delay = BACKOFF_START;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        inner.state.send_replace(ConnectionState::Reconnecting {
            attempt,
            since,
            reason: reason.clone(),
        });
        let result = tokio::select! {
            _ = stop.cancelled() => return false,
            r = session::connect_chain(&inner.chain, &inner.reconnect_ctx) => r,
        };
        match result {
            Ok(session) => {
                tracing::info!(host = %inner.describe, attempt, "ssh reconnected");
                inner.session.send_replace(Some(Arc::new(session)));
                inner.state.send_replace(ConnectionState::Connected {
                    rtt_ms: None,
                    unanswered: 0,
                });
                return true;
            }
            Err(e) if e.is_permanent() => {
                tracing::error!(host = %inner.describe, error = %e, "ssh reconnect refused");
                inner.state.send_replace(ConnectionState::Down {
                    reason: e.message,
                    since,
                });
                return false;
            }
            Err(e) => {
                tracing::warn!(host = %inner.describe, attempt, error = %e, "ssh reconnect failed");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return false,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(BACKOFF_CAP);
    }
}

/// How often a keepalive goes out and how many may go unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepalivePolicy {
    pub interval: Duration,
    pub count_max: u32,
}

impl KeepalivePolicy {
    /// From the target's ServerAliveInterval/CountMax, with floors: the
    /// cockpit always keeps the link alive (OpenSSH's 0 means "never",
    /// which would hide a dead host forever).
    pub fn for_target(target: &SshTarget) -> Self {
        Self {
            interval: target.server_alive_interval.max(MIN_ALIVE_INTERVAL),
            count_max: target.server_alive_count_max.max(1),
        }
    }

    /// The longest a dead link can look alive: a reply just before the
    /// silence, the next keepalive one interval later, then `count_max`
    /// intervals without its reply.
    pub fn detection_limit(&self) -> Duration {
        self.interval * (self.count_max + 1)
    }
}

/// Shortest keepalive interval (a 0 or tiny value from a config).
const MIN_ALIVE_INTERVAL: Duration = Duration::from_secs(1);

/// How a watched session ended.
struct Lost {
    reason: String,
    /// When the target last answered (unix seconds).
    last_heard: i64,
}

/// Sends a `keepalive@openssh.com` (want-reply) every interval, one at a
/// time, and publishes the measured round trip of each reply. A keepalive
/// still unanswered at a tick counts one miss (published, so the header
/// never shows an old RTT for a silent link); `count_max` misses in a row
/// declare the link dead. Returns when that happens, when the session
/// closed, or when `stop` fired.
async fn watch_session(inner: &Inner, session: &Session, stop: &CancellationToken) -> Lost {
    let mut last_heard = now_unix();
    // A close is noticed at once: the data stopped now, not at the last
    // keepalive reply.
    let closed = || Lost {
        reason: "the connection closed".into(),
        last_heard: now_unix(),
    };
    let Some(target) = inner.chain.last() else {
        return closed();
    };
    let policy = KeepalivePolicy::for_target(target);
    let mut unanswered = 0u32;
    let mut in_flight: Option<(Instant, PingFuture<'_>)> = None;
    let mut ticker = tokio::time::interval(policy.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return closed(),
            _ = session.closed.cancelled() => return closed(),
            reply = wait_reply(&mut in_flight), if in_flight.is_some() => {
                let sent = in_flight.take().map(|(sent, _)| sent);
                // russh also "answers" a ping when the session ends.
                if reply.is_err() || session.is_closed() {
                    return closed();
                }
                last_heard = now_unix();
                unanswered = 0;
                let rtt_ms = sent.map(|s| s.elapsed().as_millis() as u64);
                publish_connected(inner, rtt_ms, 0);
            }
            _ = ticker.tick() => {
                if session.is_closed() {
                    return closed();
                }
                if in_flight.is_none() {
                    in_flight = Some((Instant::now(), Box::pin(session.handle.send_ping())));
                    continue;
                }
                unanswered += 1;
                tracing::debug!(host = %inner.describe, unanswered, "keepalive unanswered");
                if unanswered >= policy.count_max {
                    return Lost {
                        reason: super::keepalives_unanswered(unanswered),
                        last_heard,
                    };
                }
                publish_connected(inner, None, unanswered);
            }
        }
    }
}

type PingFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), russh::Error>> + Send + 'a>>;

async fn wait_reply(in_flight: &mut Option<(Instant, PingFuture<'_>)>) -> Result<(), russh::Error> {
    match in_flight {
        Some((_, ping)) => ping.await,
        None => std::future::pending().await,
    }
}

fn publish_connected(inner: &Inner, rtt_ms: Option<u64>, unanswered: u32) {
    inner.state.send_if_modified(|state| {
        let new = ConnectionState::Connected { rtt_ms, unanswered };
        let changed = *state != new;
        *state = new;
        changed
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalives_never_stop_and_one_miss_is_the_least_allowed() {
        let target = |interval, count_max| SshTarget {
            alias: "h".into(),
            hostname: "h".into(),
            user: "u".into(),
            port: 22,
            identity_files: Vec::new(),
            identities_only: false,
            identity_agent: None,
            certificate_files: Vec::new(),
            proxy_jump: Vec::new(),
            user_known_hosts: Vec::new(),
            global_known_hosts: Vec::new(),
            strict_host_key_checking: resolve::StrictHostKeyChecking::Yes,
            hash_known_hosts: false,
            host_key_alias: None,
            server_alive_interval: interval,
            server_alive_count_max: count_max,
            connect_timeout: None,
            batch_mode: false,
        };
        let zero = KeepalivePolicy::for_target(&target(Duration::ZERO, 0));
        assert_eq!(zero.interval, MIN_ALIVE_INTERVAL);
        assert_eq!(zero.count_max, 1);
        let test_config = KeepalivePolicy::for_target(&target(Duration::from_secs(2), 3));
        assert_eq!(test_config.detection_limit(), Duration::from_secs(8));
    }

    #[test]
    fn wrapped_command_reports_pid_then_execs() {
        let w = wrap_command("echo 'hi'", Some("/tmp/a b"));
        assert_eq!(
            w,
            r#"printf '%s\n' "$$" >&2; cd '/tmp/a b' || exit 1; exec sh -c 'echo '\''hi'\'''"#
        );
    }

    #[tokio::test]
    async fn wrapped_command_runs_in_a_real_shell() {
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(wrap_command("echo out; echo err >&2; exit 4", None))
            .output()
            .await
            .expect("sh");
        assert_eq!(out.stdout, b"out\n");
        let err = String::from_utf8_lossy(&out.stderr);
        let mut lines = err.lines();
        assert!(
            lines.next().expect("pid line").parse::<u32>().is_ok(),
            "{err}"
        );
        assert_eq!(lines.next(), Some("err"));
        assert_eq!(out.status.code(), Some(4));
    }
}
