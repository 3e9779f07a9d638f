//! How the cockpit reaches the machine it watches.
//!
//! Every data source is written against [`Transport`], whose three operations
//! are seen *from the target machine*: run a command there, open a TCP stream
//! to an address as the target sees it (e.g. its own `127.0.0.1:19999`), and
//! open a stream to a unix socket on the target. [`local::LocalTransport`]
//! does this on the machine the cockpit runs on; the SSH transport does it
//! over one SSH connection. No source knows which one it has.

pub mod local;
pub mod ssh;

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

/// State of the link to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// No network link: `opscockpit local`.
    Local,
    Connected {
        /// Round trip of the last answered keepalive; `None` until one is
        /// answered, and while one is overdue (an old figure would lie).
        rtt_ms: Option<u64>,
        /// Keepalive intervals that passed without the reply (0: healthy).
        unanswered: u32,
    },
    Reconnecting {
        attempt: u32,
        /// When the target was last heard from (unix seconds): the data
        /// shown is stale since then.
        since: i64,
        /// Why the link was given up, e.g. "3 keepalives unanswered".
        reason: String,
    },
    Down {
        reason: String,
        since: i64,
    },
}

impl ConnectionState {
    /// The link carries data now: local, or connected with no keepalive
    /// overdue. Decisions that would be wrong over a dead link (falling
    /// back to another source, approving an action) wait for this.
    pub fn is_up(&self) -> bool {
        matches!(
            self,
            ConnectionState::Local | ConnectionState::Connected { unanswered: 0, .. }
        )
    }

    /// The link is known to be gone (reconnecting or given up).
    pub fn is_lost(&self) -> bool {
        matches!(
            self,
            ConnectionState::Reconnecting { .. } | ConnectionState::Down { .. }
        )
    }
}

/// "1 keepalive unanswered", "3 keepalives unanswered": the words the
/// header, the connection log and the supervisor's reason share.
pub fn keepalives_unanswered(count: u32) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} keepalive{plural} unanswered")
}

/// A measured round trip for the screen: "12 ms"; "<1 ms" on a fast
/// path, so an answered keepalive never reads like the "0" of no answer.
pub fn round_trip_text(ms: u64) -> String {
    if ms == 0 {
        "<1 ms".into()
    } else {
        format!("{ms} ms")
    }
}

/// A bidirectional byte stream (TCP, unix socket, or an SSH channel).
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

pub type BoxStream = Pin<Box<dyn ByteStream>>;

pub type SharedTransport = Arc<dyn Transport>;

/// Something that went wrong reaching the target. The text is meant for the
/// user: it says what failed and, where it can, what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// The connection to the target is down (try again after reconnect).
    Disconnected,
    /// The target refused or could not reach the address or socket.
    Unreachable,
    /// Permission denied on the target (e.g. the docker socket).
    PermissionDenied,
    /// The command could not be started.
    SpawnFailed,
    Other,
}

impl TransportError {
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn from_io(context: &str, err: &std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::PermissionDenied => TransportErrorKind::PermissionDenied,
            std::io::ErrorKind::NotFound
            | std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::AddrNotAvailable => TransportErrorKind::Unreachable,
            _ => TransportErrorKind::Other,
        };
        Self::new(kind, format!("{context}: {err}"))
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TransportError {}

/// How a remote command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    /// Killed by a signal (name as the target reports it, e.g. `TERM`).
    Signal(String),
    /// The channel closed without telling (connection lost mid-command).
    Unknown,
}

impl ExitStatus {
    pub fn success(&self) -> bool {
        matches!(self, ExitStatus::Code(0))
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(code) => write!(f, "exit {code}"),
            ExitStatus::Signal(sig) => write!(f, "signal {sig}"),
            ExitStatus::Unknown => f.write_str("unknown (connection lost)"),
        }
    }
}

/// What a running command produces, in order. `Exit` is always the last item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    Stdout(Bytes),
    Stderr(Bytes),
    Exit(ExitStatus),
}

/// A command running on the target. Dropping it (or calling [`cancel`])
/// stops the command: nothing keeps running that nobody listens to.
///
/// [`cancel`]: ExecHandle::cancel
pub struct ExecHandle {
    pub events: mpsc::Receiver<ExecEvent>,
    stdin: Option<mpsc::Sender<Bytes>>,
    cancel: tokio_util::sync::CancellationToken,
}

impl ExecHandle {
    pub fn new(
        events: mpsc::Receiver<ExecEvent>,
        stdin: Option<mpsc::Sender<Bytes>>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Self {
        Self {
            events,
            stdin,
            cancel,
        }
    }

    /// Next output chunk or the exit status; `None` once everything was read.
    pub async fn next(&mut self) -> Option<ExecEvent> {
        self.events.recv().await
    }

    /// Writes to the command's stdin. Fails if the command has ended.
    pub async fn write_stdin(&self, data: Bytes) -> Result<(), TransportError> {
        match &self.stdin {
            Some(tx) => tx.send(data).await.map_err(|_| {
                TransportError::new(TransportErrorKind::Other, "command has ended; stdin closed")
            }),
            None => Err(TransportError::new(
                TransportErrorKind::Other,
                "stdin was not requested for this command",
            )),
        }
    }

    /// Closes stdin (the command sees end of file).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Stops the command on the target (kills it). The handle still yields
    /// the final `Exit` event.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Reads everything to the end: (stdout, stderr, status). For short
    /// commands only; output is capped at `limit` bytes per stream.
    pub async fn collect(mut self, limit: usize) -> (Vec<u8>, Vec<u8>, ExitStatus) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut status = ExitStatus::Unknown;
        while let Some(event) = self.next().await {
            match event {
                ExecEvent::Stdout(b) => append_capped(&mut out, &b, limit),
                ExecEvent::Stderr(b) => append_capped(&mut err, &b, limit),
                ExecEvent::Exit(s) => status = s,
            }
        }
        (out, err, status)
    }
}

impl Drop for ExecHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn append_capped(buf: &mut Vec<u8>, data: &[u8], limit: usize) {
    let room = limit.saturating_sub(buf.len());
    buf.extend_from_slice(&data[..data.len().min(room)]);
}

/// Options for [`Transport::exec`].
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Keep stdin open so the caller can write to it.
    pub stdin: bool,
    /// Working directory on the target (`None`: the login default).
    pub cwd: Option<String>,
}

/// Reaching the target machine. Implementations must be cheap to share
/// (`Arc<dyn Transport>`) and safe to use from many tasks at once.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Runs `command` through the target's `sh -c`, streaming its output.
    async fn exec(&self, command: &str, options: ExecOptions)
    -> Result<ExecHandle, TransportError>;

    /// Opens a TCP stream to `host:port` as seen from the target.
    async fn connect_tcp(&self, host: &str, port: u16) -> Result<BoxStream, TransportError>;

    /// Opens a stream to the unix socket at `path` on the target.
    async fn connect_unix(&self, path: &str) -> Result<BoxStream, TransportError>;

    /// Listens on the unix socket `path` on the target (an absolute path);
    /// every connection to it arrives on the receiver as a stream. It ends
    /// with the connection: call again after a reconnect. Only SSH does
    /// this (`streamlocal-forward@openssh.com`).
    async fn listen_unix_on_target(
        &self,
        path: &str,
    ) -> Result<tokio::sync::mpsc::Receiver<BoxStream>, TransportError> {
        Err(TransportError::new(
            TransportErrorKind::Other,
            format!("{path}: listening on the target needs an SSH connection"),
        ))
    }

    /// A short name for the header: `local` or `user@host:port`.
    fn describe(&self) -> String;

    /// Whether the target answers now: SSH sends a keepalive and waits for
    /// its reply (bounded by the keepalive limits). A source that lost its
    /// own connection asks this before concluding that the service, not
    /// the link, is at fault.
    async fn link_alive(&self) -> bool {
        true
    }

    /// The link state as it changes, for transports that have a link
    /// (SSH); `None` for the local transport.
    fn connection_state(&self) -> Option<tokio::sync::watch::Receiver<ConnectionState>> {
        None
    }
}

/// Quotes `word` for a POSIX shell (single quotes, with embedded quotes
/// closed and escaped).
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answered_keepalive_never_reads_as_zero() {
        assert_eq!(round_trip_text(0), "<1 ms");
        assert_eq!(round_trip_text(42), "42 ms");
        assert_eq!(keepalives_unanswered(1), "1 keepalive unanswered");
        assert_eq!(keepalives_unanswered(3), "3 keepalives unanswered");
    }

    #[test]
    fn only_a_link_with_no_keepalive_overdue_is_up() {
        let connected = |unanswered| ConnectionState::Connected {
            rtt_ms: None,
            unanswered,
        };
        assert!(connected(0).is_up() && ConnectionState::Local.is_up());
        assert!(!connected(1).is_up() && !connected(1).is_lost());
        let lost = ConnectionState::Reconnecting {
            attempt: 1,
            since: 0,
            reason: String::new(),
        };
        assert!(!lost.is_up() && lost.is_lost());
    }

    #[test]
    fn shell_quote_leaves_plain_words() {
        assert_eq!(shell_quote("/var/run/docker.sock"), "/var/run/docker.sock");
    }

    #[test]
    fn shell_quote_quotes_everything_else() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }
}
