//! A small Netdata HTTP client over the transport's TCP stream.
//!
//! HTTP/1.1 is spoken by hyper's client connection over whatever stream
//! [`Transport::connect_tcp`](crate::transport::Transport::connect_tcp) gives
//! (a local socket or an SSH direct-tcpip channel). One keep-alive
//! connection is reused for every request; requests take `&mut self`, so
//! they can never stack up; each has a time limit. Responses are asked for
//! gzip-compressed (Netdata's JSON shrinks about 7×), which matters over SSH.

use std::fmt;
use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{ACCEPT_ENCODING, CONNECTION, CONTENT_ENCODING, HOST};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::parse::{self, AgentInfo, AlarmsResponse, AllMetrics, DataTable, ParseError};
use crate::transport::{BoxStream, SharedTransport, TransportError, TransportErrorKind};

/// Time limit of one request (answer included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Time limit of opening the stream and the HTTP handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest response body accepted (compressed and uncompressed).
const MAX_BODY: usize = 16 << 20;

/// Where Netdata is, as the target sees it: `http://HOST:PORT[/host/NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetdataTarget {
    pub host: String,
    pub port: u16,
    /// Path prefix without trailing slash: `""` or `/host/child-1`.
    pub prefix: String,
}

pub const DEFAULT_URL: &str = "http://127.0.0.1:19999";

impl NetdataTarget {
    /// Parses a `netdata_url`. Only plain `http` is possible over the
    /// transport's stream (Netdata stays on the target's loopback).
    pub fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|e| format!("`{url}` is not a URL like http://127.0.0.1:19999 ({e})"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(format!(
                    "`{url}`: scheme `{other}` is not supported; use http:// (the connection is tunnelled)"
                ));
            }
            None => return Err(format!("`{url}` needs a scheme: http://HOST:PORT")),
        }
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("`{url}` has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if uri.query().is_some() {
            return Err(format!("`{url}` must not have a query string"));
        }
        let prefix = uri.path().trim_end_matches('/').to_string();
        Ok(Self {
            host,
            port: uri.port_u16().unwrap_or(80),
            prefix,
        })
    }

    /// The name of a child on a Netdata parent, if the URL addresses one.
    pub fn child_name(&self) -> Option<&str> {
        self.prefix
            .strip_prefix("/host/")
            .filter(|n| !n.is_empty() && !n.contains('/'))
    }
}

impl fmt::Display for NetdataTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}{}", self.host, self.port, self.prefix)
        } else {
            write!(f, "{}:{}{}", self.host, self.port, self.prefix)
        }
    }
}

/// Why a request gave no usable answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientError {
    /// The stream could not be opened (Netdata not listening, SSH down).
    Connect(TransportError),
    /// No complete answer within the time limit.
    Timeout(Duration),
    /// The connection broke or HTTP itself failed.
    Protocol(String),
    /// Netdata answered with an error status.
    Status { status: u16, body: String },
    /// The answer was not what the v1 API returns.
    Parse(ParseError),
}

impl ClientError {
    /// True when Netdata is not there at all (rather than answering badly):
    /// the supervisor falls back to /proc at once.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClientError::Connect(_))
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect(e) => f.write_str(&short_transport_reason(e)),
            ClientError::Timeout(d) => write!(f, "no answer within {} s", d.as_secs()),
            ClientError::Protocol(m) => write!(f, "connection failed: {m}"),
            ClientError::Status { status, body } if body.is_empty() => write!(f, "HTTP {status}"),
            ClientError::Status { status, body } => write!(f, "HTTP {status}: {body}"),
            ClientError::Parse(e) => write!(f, "unexpected answer: {e}"),
        }
    }
}

impl From<ParseError> for ClientError {
    fn from(e: ParseError) -> Self {
        ClientError::Parse(e)
    }
}

/// `connecting to 127.0.0.1:19999: Connection refused (os error 111)` →
/// `connection refused`: the address is said once, by the caller.
pub fn short_transport_reason(e: &TransportError) -> String {
    let text = e.message.rsplit(": ").next().unwrap_or(&e.message);
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => text,
    };
    match e.kind {
        TransportErrorKind::Disconnected => format!("connection to the host is down ({text})"),
        _ => text.to_lowercase(),
    }
}

/// Bytes read and written on the wire, over every connection of a client.
#[derive(Debug, Default)]
pub struct WireCounters {
    pub read: AtomicU64,
    pub written: AtomicU64,
}

struct Counting {
    inner: BoxStream,
    counters: Arc<WireCounters>,
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = self.inner.as_mut().poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.counters.read.fetch_add(n as u64, Ordering::Relaxed);
        poll
    }
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = self.inner.as_mut().poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &poll {
            self.counters
                .written
                .fetch_add(*n as u64, Ordering::Relaxed);
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.inner.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.inner.as_mut().poll_shutdown(cx)
    }
}

pub struct NetdataClient {
    transport: SharedTransport,
    pub target: NetdataTarget,
    sender: Option<SendRequest<Empty<Bytes>>>,
    connection_task: Option<tokio::task::JoinHandle<()>>,
    pub counters: Arc<WireCounters>,
    pub request_timeout: Duration,
}

impl NetdataClient {
    pub fn new(transport: SharedTransport, target: NetdataTarget) -> Self {
        Self {
            transport,
            target,
            sender: None,
            connection_task: None,
            counters: Arc::new(WireCounters::default()),
            request_timeout: REQUEST_TIMEOUT,
        }
    }

    /// Drops the connection (the next request opens a new one).
    pub fn disconnect(&mut self) {
        self.sender = None;
        if let Some(task) = self.connection_task.take() {
            task.abort();
        }
    }

    async fn connect(&mut self) -> Result<(), ClientError> {
        self.disconnect();
        let stream = tokio::time::timeout(
            CONNECT_TIMEOUT,
            self.transport
                .connect_tcp(&self.target.host, self.target.port),
        )
        .await
        .map_err(|_| ClientError::Timeout(CONNECT_TIMEOUT))?
        .map_err(ClientError::Connect)?;
        let io = TokioIo::new(Counting {
            inner: stream,
            counters: self.counters.clone(),
        });
        let (sender, connection) =
            tokio::time::timeout(CONNECT_TIMEOUT, hyper::client::conn::http1::handshake(io))
                .await
                .map_err(|_| ClientError::Timeout(CONNECT_TIMEOUT))?
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.connection_task = Some(tokio::spawn(async move {
            // Ends when the server closes or the sender is dropped.
            let _ = connection.await;
        }));
        self.sender = Some(sender);
        Ok(())
    }

    /// GETs `path_and_query` (under the target's prefix) and returns the
    /// decoded body of a 2xx answer. A kept-alive connection the server
    /// closed in the meantime is reopened once.
    pub async fn get(&mut self, path_and_query: &str) -> Result<Bytes, ClientError> {
        let limit = self.request_timeout;
        let result = tokio::time::timeout(limit, self.get_inner(path_and_query)).await;
        match result {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(e)) => {
                if !matches!(e, ClientError::Status { .. }) {
                    self.disconnect();
                }
                Err(e)
            }
            Err(_) => {
                // The answer may still come: this connection is out of step.
                self.disconnect();
                Err(ClientError::Timeout(limit))
            }
        }
    }

    async fn get_inner(&mut self, path_and_query: &str) -> Result<Bytes, ClientError> {
        let reused = self.sender.as_ref().is_some_and(|s| !s.is_closed());
        if !reused {
            self.connect().await?;
        }
        match self.send(path_and_query).await {
            Err(ClientError::Protocol(_)) if reused => {
                // Idle keep-alive connections get closed by the server.
                self.connect().await?;
                self.send(path_and_query).await
            }
            other => other,
        }
    }

    async fn send(&mut self, path_and_query: &str) -> Result<Bytes, ClientError> {
        let sender = self
            .sender
            .as_mut()
            .ok_or_else(|| ClientError::Protocol("not connected".into()))?;
        sender
            .ready()
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let host_header = if self.target.host.contains(':') {
            format!("[{}]:{}", self.target.host, self.target.port)
        } else {
            format!("{}:{}", self.target.host, self.target.port)
        };
        let request = Request::get(format!("{}{}", self.target.prefix, path_and_query))
            .header(HOST, host_header)
            .header(CONNECTION, "keep-alive")
            .header(ACCEPT_ENCODING, "gzip")
            .body(Empty::<Bytes>::new())
            .map_err(|e| ClientError::Protocol(format!("bad request: {e}")))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let status = response.status();
        let gzip = response
            .headers()
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| ClientError::Protocol(format!("reading the answer: {e}")))?
            .to_bytes();
        let body = if gzip { gunzip(&body)? } else { body };
        if !status.is_success() {
            return Err(status_error(status, &body));
        }
        Ok(body)
    }

    pub async fn info(&mut self) -> Result<AgentInfo, ClientError> {
        let body = self.get("/api/v1/info").await?;
        Ok(parse::info(&body)?)
    }

    pub async fn allmetrics(&mut self, filter: &str) -> Result<AllMetrics, ClientError> {
        let body = self
            .get(&format!(
                "/api/v1/allmetrics?format=json&filter={}",
                encode_query(filter)
            ))
            .await?;
        Ok(parse::allmetrics(&body)?)
    }

    /// Per-second rows of `chart` after `after` (negative: relative to now).
    pub async fn data(&mut self, chart: &str, after: i64) -> Result<DataTable, ClientError> {
        let body = self
            .get(&format!(
                "/api/v1/data?chart={}&after={after}&format=json&options=seconds,unaligned",
                encode_query(chart)
            ))
            .await?;
        Ok(parse::data(&body)?)
    }

    /// The alarm log's entries after `after` (0: all it keeps).
    pub async fn alarm_log(
        &mut self,
        after: u64,
    ) -> Result<Vec<parse::RawAlarmLogEntry>, ClientError> {
        let body = self
            .get(&format!("/api/v1/alarm_log?after={after}"))
            .await?;
        Ok(parse::alarm_log(&body)?)
    }

    pub async fn alarms(&mut self) -> Result<AlarmsResponse, ClientError> {
        let body = self.get("/api/v1/alarms").await?;
        Ok(parse::alarms(&body)?)
    }
}

impl Drop for NetdataClient {
    fn drop(&mut self) {
        self.disconnect();
    }
}

fn gunzip(body: &[u8]) -> Result<Bytes, ClientError> {
    let mut out = Vec::with_capacity(body.len() * 8);
    flate2::read::GzDecoder::new(body)
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ClientError::Protocol(format!("bad gzip answer: {e}")))?;
    if out.len() > MAX_BODY {
        return Err(ClientError::Protocol("answer too large".into()));
    }
    Ok(Bytes::from(out))
}

fn status_error(status: StatusCode, body: &[u8]) -> ClientError {
    let text = String::from_utf8_lossy(body);
    let first_line = text.lines().next().unwrap_or("").trim();
    ClientError::Status {
        status: status.as_u16(),
        body: first_line.chars().take(120).collect(),
    }
}

/// Percent-encodes a query value (Netdata patterns hold spaces, `*`, `!`).
pub fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~*!".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_from_url() {
        let t = NetdataTarget::parse("http://127.0.0.1:19999").expect("parse");
        assert_eq!(
            t,
            NetdataTarget {
                host: "127.0.0.1".into(),
                port: 19999,
                prefix: String::new()
            }
        );
        assert_eq!(t.to_string(), "127.0.0.1:19999");
        assert_eq!(t.child_name(), None);
        let child = NetdataTarget::parse("http://localhost:19999/host/web-2/").expect("parse");
        assert_eq!(child.prefix, "/host/web-2");
        assert_eq!(child.child_name(), Some("web-2"));
        assert_eq!(child.to_string(), "localhost:19999/host/web-2");
        let v6 = NetdataTarget::parse("http://[::1]:19999").expect("parse");
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_string(), "[::1]:19999");
        assert_eq!(
            NetdataTarget::parse("http://nd.internal").map(|t| t.port),
            Ok(80)
        );
    }

    #[test]
    fn bad_urls_say_what_to_write() {
        for url in [
            "https://127.0.0.1:19999",
            "127.0.0.1:19999",
            "http://",
            "not a url",
            "http://h:1/?x=1",
        ] {
            let err = NetdataTarget::parse(url).expect_err(url);
            assert!(err.contains('`'), "{url}: {err}");
        }
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            encode_query("!cpu.cpu*_* system.cpu net.*"),
            "!cpu.cpu*_*%20system.cpu%20net.*"
        );
        assert_eq!(encode_query("a&b=c"), "a%26b%3Dc");
    }

    #[test]
    fn transport_errors_are_shortened() {
        let e = TransportError::new(
            TransportErrorKind::Unreachable,
            "connecting to 127.0.0.1:19999: Connection refused (os error 111)",
        );
        assert_eq!(short_transport_reason(&e), "connection refused");
    }

    #[test]
    fn gzip_bodies_are_decoded_and_garbage_is_an_error() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"{\"a\":1}").expect("write");
        let packed = enc.finish().expect("finish");
        assert_eq!(
            gunzip(&packed).expect("gunzip"),
            Bytes::from_static(b"{\"a\":1}")
        );
        assert!(gunzip(b"not gzip").is_err());
        assert!(gunzip(&packed[..packed.len() / 2]).is_err());
    }
}
