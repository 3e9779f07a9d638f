//! One SSH connection, possibly through ProxyJump hops: TCP connect (or a
//! direct-tcpip channel of the previous hop), key exchange with our own
//! host key verification, then user authentication.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::PublicKeyOrCertificate;
use russh::keys::ssh_key::{Algorithm, PublicKey};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::auth::{self, KeyCache};
use super::known_hosts::{self, HostKeyStatus, KnownHosts};
use super::prompt::Prompter;
use super::resolve::{SshTarget, StrictHostKeyChecking};
use super::severable::Severable;

/// TCP connect limit when the ssh config sets no ConnectTimeout.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Whole-handshake limit when nobody is asked anything (reconnects).
const UNATTENDED_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectErrorKind {
    /// The host name does not resolve.
    Resolve,
    /// Nothing listens (connection refused).
    Refused,
    Timeout,
    /// Other network trouble (unreachable, reset, lost mid-handshake).
    Network,
    /// Host key changed, revoked, unknown under strict checking, or
    /// refused by the user. Never retried.
    HostKey,
    Auth,
    Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    pub kind: ConnectErrorKind,
    /// One line for the user, saying what to do where possible.
    pub message: String,
}

impl ConnectError {
    fn new(kind: ConnectErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Errors that retrying cannot fix without the user.
    pub fn is_permanent(&self) -> bool {
        self.kind == ConnectErrorKind::HostKey
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnectError {}

/// Where connections to a socket forwarded from the target go (set while
/// the cockpit listens there; shared by every reconnect).
pub type ForwardedStreams =
    Arc<Mutex<Option<tokio::sync::mpsc::Sender<crate::transport::BoxStream>>>>;

/// What the session needs beyond the target: who to ask, decrypted keys.
#[derive(Clone)]
pub struct ConnectContext {
    /// `None`: never ask (reconnects, tests of refusal); unknown host keys
    /// are then refused and encrypted keys skipped unless cached.
    pub prompter: Option<Arc<dyn Prompter>>,
    pub keys: Arc<KeyCache>,
    pub forwarded: ForwardedStreams,
}

/// A live connection. Dropping it closes the connection and its hops.
pub struct Session {
    pub handle: Handle<ClientHandler>,
    /// Cancelled when the connection ends, for whatever reason.
    pub closed: CancellationToken,
    /// Cuts the byte stream under this connection (see `severable`).
    cut: CancellationToken,
    /// Jump hosts carrying this connection, kept alive with it.
    _jumps: Vec<Session>,
}

impl Session {
    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled() || self.handle.is_closed()
    }

    /// Ends the connection and its hops at once, without a goodbye the
    /// peer would have to read: for a link declared dead, where a polite
    /// disconnect would wait behind writes that cannot be delivered.
    pub fn sever(&self) {
        self.cut.cancel();
        for jump in &self._jumps {
            jump.sever();
        }
    }
}

/// Why a host key was not accepted, filled in by the handler.
#[derive(Debug, Clone)]
enum HostKeyProblem {
    Changed {
        file: PathBuf,
        line: usize,
        key: String,
    },
    Revoked {
        file: PathBuf,
        line: usize,
        key: String,
    },
    StrictUnknown {
        key: String,
    },
    UserRefused,
    NotAsked {
        key: String,
    },
    Save(String),
}

struct HostKeyPolicy {
    /// The name looked up in known_hosts (`[host]:port` form).
    lookup: String,
    /// The name shown to the user.
    shown: String,
    /// The host name certificates must name (HostKeyAlias if set).
    hostname: String,
    files: Vec<PathBuf>,
    user_file: Option<PathBuf>,
    strict: StrictHostKeyChecking,
    hash: bool,
    prompter: Option<Arc<dyn Prompter>>,
}

pub struct ClientHandler {
    policy: Arc<HostKeyPolicy>,
    problem: Arc<Mutex<Option<HostKeyProblem>>>,
    closed: CancellationToken,
    _closed_on_drop: DropGuard,
    forwarded: ForwardedStreams,
}

impl ClientHandler {
    fn record(&self, problem: HostKeyProblem) {
        if let Ok(mut slot) = self.problem.lock() {
            *slot = Some(problem);
        }
    }

    async fn verify(&self, key: &PublicKeyOrCertificate) -> bool {
        let policy = &self.policy;
        let known = KnownHosts::load(&policy.files);
        let names = vec![policy.lookup.clone()];
        let (status, public) = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                (known.check(&names, key), key.clone())
            }
            PublicKeyOrCertificate::Certificate(cert) => (
                known.check_certificate(&names, &policy.hostname, cert),
                PublicKey::from(cert.public_key().clone()),
            ),
        };
        let described = format!(
            "{} {}",
            public.algorithm().as_str(),
            known_hosts::fingerprint(&public)
        );
        match status {
            HostKeyStatus::Known => true,
            HostKeyStatus::Changed { file, line } => {
                self.record(HostKeyProblem::Changed {
                    file,
                    line,
                    key: described,
                });
                false
            }
            HostKeyStatus::Revoked { file, line } => {
                self.record(HostKeyProblem::Revoked {
                    file,
                    line,
                    key: described,
                });
                false
            }
            HostKeyStatus::Unknown => self.unknown(&public, described).await,
        }
    }

    async fn unknown(&self, key: &PublicKey, described: String) -> bool {
        let policy = &self.policy;
        let accept = match policy.strict {
            StrictHostKeyChecking::Yes => {
                self.record(HostKeyProblem::StrictUnknown { key: described });
                return false;
            }
            StrictHostKeyChecking::AcceptNew => true,
            StrictHostKeyChecking::Ask => {
                let Some(prompter) = policy.prompter.clone() else {
                    self.record(HostKeyProblem::NotAsked { key: described });
                    return false;
                };
                let shown = policy.shown.clone();
                let kind = key.algorithm().as_str().to_string();
                let fp = known_hosts::fingerprint(key);
                tokio::task::spawn_blocking(move || prompter.trust_host(&shown, &kind, &fp))
                    .await
                    .unwrap_or(false)
            }
        };
        if !accept {
            self.record(HostKeyProblem::UserRefused);
            return false;
        }
        let Some(file) = &policy.user_file else {
            // Nowhere to remember it; trust for this session only.
            return true;
        };
        let saved = known_hosts::entry_line(&policy.lookup, key, policy.hash)
            .and_then(|line| known_hosts::append_entry(file, &line).map_err(|e| e.to_string()));
        if let Err(e) = saved {
            self.record(HostKeyProblem::Save(format!(
                "could not add the host key to {}: {e}",
                file.display()
            )));
            return false;
        }
        true
    }
}

impl client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(self.verify(server_public_key).await)
    }

    /// A connection to the socket the cockpit listens on, on the target.
    async fn server_channel_open_forwarded_streamlocal(
        &mut self,
        channel: russh::Channel<client::Msg>,
        socket_path: &str,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        let sender = self.forwarded.lock().ok().and_then(|s| s.clone());
        let Some(sender) = sender else {
            tracing::warn!(path = %socket_path, "forwarded connection nobody listens for: refused");
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        reply.accept().await;
        if sender.try_send(Box::pin(channel.into_stream())).is_err() {
            tracing::warn!(path = %socket_path, "too many forwarded connections at once: dropped one");
        }
        Ok(())
    }

    async fn disconnected(
        &mut self,
        reason: client::DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        self.closed.cancel();
        match reason {
            client::DisconnectReason::ReceivedDisconnect(_) => Ok(()),
            client::DisconnectReason::Error(e) => Err(e),
        }
    }
}

fn policy_for(target: &SshTarget, prompter: Option<Arc<dyn Prompter>>) -> HostKeyPolicy {
    let mut files = target.user_known_hosts.clone();
    files.extend(target.global_known_hosts.iter().cloned());
    HostKeyPolicy {
        lookup: target.known_hosts_name(),
        shown: if target.port == 22 {
            target.hostname.clone()
        } else {
            format!("{} (port {})", target.hostname, target.port)
        },
        hostname: target
            .host_key_alias
            .clone()
            .unwrap_or_else(|| target.hostname.clone()),
        files,
        user_file: target.user_known_hosts.first().cloned(),
        strict: target.strict_host_key_checking,
        hash: target.hash_known_hosts,
        prompter: prompter.filter(|_| !target.batch_mode),
    }
}

fn client_config(target: &SshTarget) -> client::Config {
    let mut config = client::Config {
        // The supervisor sends the keepalives itself, measures their round
        // trip and decides when the link is dead (see `watch_session`).
        keepalive_interval: None,
        inactivity_timeout: None,
        nodelay: true,
        ..Default::default()
    };
    // Offer the key types known_hosts already has first, as OpenSSH does,
    // so a known host is not asked about a second key type.
    let mut files = target.user_known_hosts.clone();
    files.extend(target.global_known_hosts.iter().cloned());
    let known_hosts = KnownHosts::load(&files);
    let names = [target.known_hosts_name()];
    if known_hosts.has_cert_authority(&names) {
        // A CA is trusted for this host: ask for host certificates too.
        config.preferred.host_key_certificates = config.preferred.key.clone();
    }
    let known = known_hosts.known_algorithms(&names);
    if !known.is_empty() {
        let family = |a: &Algorithm| {
            if a.clone().is_rsa() {
                "rsa".to_string()
            } else {
                a.as_str().to_string()
            }
        };
        let known: Vec<String> = known.iter().map(family).collect();
        let mut keys: Vec<Algorithm> = config.preferred.key.to_vec();
        keys.sort_by_key(|a| !known.contains(&family(a)));
        config.preferred.key = keys.into();
    }
    config
}

/// Connects to the last target through the ones before it (jump hosts).
pub async fn connect_chain(
    chain: &[SshTarget],
    ctx: &ConnectContext,
) -> Result<Session, ConnectError> {
    let mut previous: Option<Session> = None;
    for target in chain {
        let session = match previous.take() {
            None => connect_direct(target, ctx).await?,
            Some(jump) => connect_via(jump, target, ctx).await?,
        };
        previous = Some(session);
    }
    previous.ok_or_else(|| ConnectError::new(ConnectErrorKind::Protocol, "no host to connect to"))
}

async fn connect_direct(target: &SshTarget, ctx: &ConnectContext) -> Result<Session, ConnectError> {
    let limit = target.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    let host = target.hostname.clone();
    let addrs: Vec<std::net::SocketAddr> = match tokio::time::timeout(
        limit,
        tokio::net::lookup_host((host.as_str(), target.port)),
    )
    .await
    {
        Err(_) => {
            return Err(ConnectError::new(
                ConnectErrorKind::Timeout,
                format!("resolving `{host}` timed out after {}s", limit.as_secs()),
            ));
        }
        Ok(Err(e)) => {
            return Err(ConnectError::new(
                ConnectErrorKind::Resolve,
                format!(
                    "cannot resolve host `{host}` ({e}); check the name or HostName in your ssh config"
                ),
            ));
        }
        Ok(Ok(a)) => a.collect(),
    };
    let mut last: Option<ConnectError> = None;
    for addr in addrs {
        match tokio::time::timeout(limit, tokio::net::TcpStream::connect(addr)).await {
            Err(_) => {
                last = Some(ConnectError::new(
                    ConnectErrorKind::Timeout,
                    format!(
                        "connecting to {} ({addr}) timed out after {}s; is the host up and the port open?",
                        target.describe(),
                        limit.as_secs()
                    ),
                ))
            }
            Ok(Err(e)) => {
                let kind = if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    ConnectErrorKind::Refused
                } else {
                    ConnectErrorKind::Network
                };
                last = Some(ConnectError::new(
                    kind,
                    format!(
                        "connecting to {} ({addr}): {e}; is sshd running on port {}?",
                        target.describe(),
                        target.port
                    ),
                ))
            }
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return handshake(target, ctx, stream, Vec::new()).await;
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        ConnectError::new(
            ConnectErrorKind::Resolve,
            format!("host `{host}` resolved to no address"),
        )
    }))
}

async fn connect_via(
    jump: Session,
    target: &SshTarget,
    ctx: &ConnectContext,
) -> Result<Session, ConnectError> {
    let channel = jump
        .handle
        .channel_open_direct_tcpip(
            target.hostname.clone(),
            u32::from(target.port),
            "127.0.0.1",
            0,
        )
        .await
        .map_err(|e| {
            ConnectError::new(
                ConnectErrorKind::Network,
                format!("the jump host could not reach {}: {e}", target.describe()),
            )
        })?;
    handshake(target, ctx, channel.into_stream(), vec![jump]).await
}

async fn handshake<S>(
    target: &SshTarget,
    ctx: &ConnectContext,
    stream: S,
    jumps: Vec<Session>,
) -> Result<Session, ConnectError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let work = handshake_inner(target, ctx, stream, jumps);
    if ctx.prompter.is_some() && !target.batch_mode {
        // A person may be reading a prompt: no overall limit.
        work.await
    } else {
        tokio::time::timeout(UNATTENDED_HANDSHAKE_TIMEOUT, work)
            .await
            .unwrap_or_else(|_| {
                Err(ConnectError::new(
                    ConnectErrorKind::Timeout,
                    format!(
                        "SSH handshake with {} timed out after {}s",
                        target.describe(),
                        UNATTENDED_HANDSHAKE_TIMEOUT.as_secs()
                    ),
                ))
            })
    }
}

async fn handshake_inner<S>(
    target: &SshTarget,
    ctx: &ConnectContext,
    stream: S,
    jumps: Vec<Session>,
) -> Result<Session, ConnectError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let problem = Arc::new(Mutex::new(None));
    let closed = CancellationToken::new();
    let handler = ClientHandler {
        policy: Arc::new(policy_for(target, ctx.prompter.clone())),
        problem: problem.clone(),
        closed: closed.clone(),
        _closed_on_drop: closed.clone().drop_guard(),
        forwarded: ctx.forwarded.clone(),
    };
    let config = Arc::new(client_config(target));
    let cut = CancellationToken::new();
    let stream = Severable::new(stream, cut.clone());
    let mut handle = match client::connect_stream(config, stream, handler).await {
        Ok(h) => h,
        Err(e) => {
            let recorded = problem.lock().ok().and_then(|mut p| p.take());
            return Err(match recorded {
                Some(p) => host_key_error(target, p),
                None => ConnectError::new(
                    ConnectErrorKind::Network,
                    format!("SSH handshake with {} failed: {e}", target.describe()),
                ),
            });
        }
    };
    auth::authenticate(&mut handle, target, ctx.prompter.as_ref(), &ctx.keys)
        .await
        .map_err(|e| ConnectError::new(ConnectErrorKind::Auth, e.message))?;
    Ok(Session {
        handle,
        closed,
        cut,
        _jumps: jumps,
    })
}

fn host_key_error(target: &SshTarget, problem: HostKeyProblem) -> ConnectError {
    let host = target.known_hosts_name();
    let message = match problem {
        HostKeyProblem::Changed { file, line, key } => format!(
            "HOST KEY CHANGED for {host}: the server sent {key}, but {}:{line} holds another key. Someone may be intercepting the connection; if the host was reinstalled, remove that line and connect again",
            file.display()
        ),
        HostKeyProblem::Revoked { file, line, key } => format!(
            "the host key of {host} ({key}) is marked @revoked in {}:{line}; refusing to connect",
            file.display()
        ),
        HostKeyProblem::StrictUnknown { key } => format!(
            "host key of {host} ({key}) is not in known_hosts and StrictHostKeyChecking is yes; add it (e.g. `ssh-keyscan`) after checking the fingerprint"
        ),
        HostKeyProblem::NotAsked { key } => format!(
            "host key of {host} ({key}) is not in known_hosts and there is no terminal to ask; connect once with `ssh` to add it"
        ),
        HostKeyProblem::UserRefused => {
            format!("host key of {host} not trusted; not connecting")
        }
        HostKeyProblem::Save(e) => e,
    };
    ConnectError::new(ConnectErrorKind::HostKey, message)
}
