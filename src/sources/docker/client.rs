//! A small Docker Engine API client: HTTP/1.1 (hyper's client connection)
//! over a unix-socket stream the [`Transport`](crate::transport::Transport)
//! opens on the target, so it works the same locally and over SSH.
//!
//! Every request gets its own connection: long-lived streams (events,
//! stats, logs) need one each anyway, and a short request costs one
//! socket connect (one SSH channel) — cheap next to the round trip.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use super::api::{self, ApiVersion};
use crate::transport::{SharedTransport, TransportError, TransportErrorKind};

/// Short requests (ping, list, inspect) give up after this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest JSON body read whole (a list of many containers, an inspect).
const MAX_BODY: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerError {
    /// The socket could not be opened (missing, permission, link down).
    Socket(TransportError),
    /// The engine answered with an error status.
    Http {
        status: u16,
        message: String,
    },
    /// The answer was not HTTP or not the JSON expected.
    Protocol(String),
    Timeout(String),
}

impl DockerError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, DockerError::Http { status: 404, .. })
    }
}

impl std::fmt::Display for DockerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DockerError::Socket(e) => write!(f, "{e}"),
            DockerError::Http { status, message } => write!(f, "engine said {status}: {message}"),
            DockerError::Protocol(m) => write!(f, "unexpected answer from the engine: {m}"),
            DockerError::Timeout(what) => write!(f, "the engine did not answer {what} in time"),
        }
    }
}

impl std::error::Error for DockerError {}

/// Aborts the connection task when the body it serves is dropped, so a
/// stream nobody reads does not keep its socket (or SSH channel) open.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A streaming response body (events, stats, logs).
pub struct BodyStream {
    body: Incoming,
    _connection: AbortOnDrop,
}

impl BodyStream {
    /// The next chunk of data; `None` at the end of the stream.
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, DockerError>> {
        loop {
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        return Some(Ok(data));
                    }
                    // Trailers: nothing for us.
                }
                Err(e) => {
                    return Some(Err(DockerError::Protocol(format!("stream broke off: {e}"))));
                }
            }
        }
    }
}

#[derive(Clone)]
pub struct DockerClient {
    transport: SharedTransport,
    socket: String,
    /// The negotiated version; `None` until [`DockerClient::negotiate`].
    version: Option<ApiVersion>,
}

impl DockerClient {
    pub fn new(transport: SharedTransport, socket: &str) -> Self {
        Self {
            transport,
            socket: socket.to_string(),
            version: None,
        }
    }

    pub fn socket(&self) -> &str {
        &self.socket
    }

    pub fn version(&self) -> Option<ApiVersion> {
        self.version
    }

    /// Asks the engine for its API version (`/_ping` header, else
    /// `/version`) and settles on min(server's, ours). Returns the engine's
    /// name for the pane.
    pub async fn negotiate(&mut self) -> Result<String, DockerError> {
        let ping = self.send_raw("/_ping").await?;
        let header_version = ping
            .get("api-version")
            .and_then(|v| v.to_str().ok())
            .and_then(ApiVersion::parse);
        let version: api::Version = self.get_json_unversioned("/version").await?;
        let server = header_version
            .or_else(|| ApiVersion::parse(&version.api_version))
            .ok_or_else(|| {
                DockerError::Protocol("the engine reported no API version".to_string())
            })?;
        self.version = Some(api::negotiate(server));
        Ok(version.engine_name())
    }

    /// GET a versioned path and parse its JSON body.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, DockerError> {
        let full = self.versioned(path);
        self.get_json_unversioned(&full).await
    }

    /// GET a versioned path whose body is a stream.
    pub async fn get_stream(&self, path: &str) -> Result<BodyStream, DockerError> {
        let full = self.versioned(path);
        let (response, connection) = tokio::time::timeout(REQUEST_TIMEOUT, self.send(&full))
            .await
            .map_err(|_| DockerError::Timeout(format!("GET {path}")))??;
        let status = response.status();
        let body = response.into_body();
        let stream = BodyStream {
            body,
            _connection: connection,
        };
        if !status.is_success() {
            return Err(error_from_stream(status, stream).await);
        }
        Ok(stream)
    }

    fn versioned(&self, path: &str) -> String {
        match self.version {
            Some(v) => format!("/v{v}{path}"),
            None => path.to_string(),
        }
    }

    async fn get_json_unversioned<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, DockerError> {
        let work = async {
            let (response, _connection) = self.send(path).await?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| DockerError::Protocol(format!("reading {path}: {e}")))?
                .to_bytes();
            if !status.is_success() {
                return Err(http_error(status, &body));
            }
            serde_json::from_slice(&body).map_err(|e| {
                DockerError::Protocol(format!("{path}: {e} (body starts {:?})", preview(&body)))
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, work)
            .await
            .map_err(|_| DockerError::Timeout(format!("GET {path}")))?
    }

    /// A request whose body is ignored (returns the headers only).
    async fn send_raw(&self, path: &str) -> Result<hyper::HeaderMap, DockerError> {
        let work = async {
            let (response, _connection) = self.send(path).await?;
            let status = response.status();
            let (head, body) = response.into_parts();
            let bytes = Limited::new(body, 64 * 1024)
                .collect()
                .await
                .map_err(|e| DockerError::Protocol(format!("reading {path}: {e}")))?
                .to_bytes();
            if !status.is_success() {
                return Err(http_error(status, &bytes));
            }
            Ok(head.headers)
        };
        tokio::time::timeout(REQUEST_TIMEOUT, work)
            .await
            .map_err(|_| DockerError::Timeout(format!("GET {path}")))?
    }

    async fn send(&self, path: &str) -> Result<(Response<Incoming>, AbortOnDrop), DockerError> {
        let stream = self
            .transport
            .connect_unix(&self.socket)
            .await
            .map_err(DockerError::Socket)?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| DockerError::Protocol(format!("HTTP handshake: {e}")))?;
        let connection = AbortOnDrop(tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("docker connection ended: {e}");
            }
        }));
        let request = Request::get(path)
            .header(hyper::header::HOST, "docker")
            .body(Empty::<Bytes>::new())
            .map_err(|e| DockerError::Protocol(format!("building request for {path}: {e}")))?;
        let response = sender.send_request(request).await.map_err(|e| {
            if e.is_incomplete_message() || e.is_closed() {
                DockerError::Socket(TransportError::new(
                    TransportErrorKind::Disconnected,
                    format!("the engine closed the connection during GET {path}: {e}"),
                ))
            } else {
                DockerError::Protocol(format!("GET {path}: {e}"))
            }
        })?;
        Ok((response, connection))
    }
}

fn preview(body: &[u8]) -> String {
    crate::text::inert_bytes(&body[..body.len().min(80)])
}

fn http_error(status: StatusCode, body: &[u8]) -> DockerError {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: String,
    }
    let message = serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.message)
        .unwrap_or_else(|_| preview(body));
    DockerError::Http {
        status: status.as_u16(),
        message: crate::text::inert(&message),
    }
}

async fn error_from_stream(status: StatusCode, mut stream: BodyStream) -> DockerError {
    let mut body = Vec::new();
    let read = async {
        while let Some(Ok(chunk)) = stream.next_chunk().await {
            body.extend_from_slice(&chunk);
            if body.len() > 64 * 1024 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), read).await;
    http_error(status, &body)
}
