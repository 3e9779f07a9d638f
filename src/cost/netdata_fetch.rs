//! A minimal HTTP GET to the target's Netdata over [`Transport::connect_tcp`]
//! (one connection per request), implementing [`TrafficQuery`]. Stand-in
//! until the shared Netdata client replaces it.

use std::time::Duration;

use async_trait::async_trait;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;

use super::netdata::{self, NetdataSum, TrafficQuery};
use crate::transport::SharedTransport;

/// A month of per-minute rows for one interface is about 1.2 MB.
const BODY_LIMIT: usize = 32 << 20;
const TIMEOUT: Duration = Duration::from_secs(20);

pub struct NetdataHttp {
    pub transport: SharedTransport,
    pub host: String,
    pub port: u16,
}

/// The host's Netdata per its settings, or why there is none.
pub fn for_settings(
    transport: &SharedTransport,
    settings: &super::CostSettings,
) -> Result<NetdataHttp, String> {
    if !settings.netdata {
        return Err("Netdata is turned off for this host (`netdata = false`)".into());
    }
    NetdataHttp::new(transport.clone(), settings.netdata_url.as_deref())
}

impl NetdataHttp {
    /// From a URL like `http://127.0.0.1:19999` (the default when `None`).
    pub fn new(transport: SharedTransport, url: Option<&str>) -> Result<Self, String> {
        let (host, port) = parse_url(url.unwrap_or("http://127.0.0.1:19999"))?;
        Ok(Self {
            transport,
            host,
            port,
        })
    }

    pub fn describe(&self) -> String {
        format!("netdata {}:{}", self.host, self.port)
    }

    /// GETs `path` and returns the body of a 200 answer.
    pub async fn get(&self, path: &str) -> Result<Vec<u8>, String> {
        let (status, body) = self.get_any(path).await?;
        if !status.is_success() {
            return Err(status_error(status, &body));
        }
        Ok(body)
    }

    /// GETs `path` and returns the status and body, whatever the status.
    pub async fn get_any(&self, path: &str) -> Result<(hyper::StatusCode, Vec<u8>), String> {
        tokio::time::timeout(TIMEOUT, self.get_inner(path))
            .await
            .map_err(|_| {
                format!(
                    "Netdata at {}:{} did not answer within {}s",
                    self.host,
                    self.port,
                    TIMEOUT.as_secs()
                )
            })?
    }

    async fn get_inner(&self, path: &str) -> Result<(hyper::StatusCode, Vec<u8>), String> {
        let stream = self
            .transport
            .connect_tcp(&self.host, self.port)
            .await
            .map_err(|e| {
                format!(
                    "cannot reach Netdata at {}:{} ({e}); is it running? (`netdata_url` in [hosts.NAME] sets where)",
                    self.host, self.port
                )
            })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with Netdata failed: {e}"))?;
        let conn_task = tokio::spawn(conn);
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, format!("{}:{}", self.host, self.port))
            .header(hyper::header::CONNECTION, "close")
            .body(Empty::<bytes::Bytes>::new())
            .map_err(|e| format!("bad Netdata request {path}: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("Netdata request failed: {e}"))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), BODY_LIMIT)
            .collect()
            .await
            .map_err(|e| format!("reading Netdata's answer failed: {e}"))?
            .to_bytes();
        conn_task.abort();
        Ok((status, body.to_vec()))
    }
}

#[async_trait]
impl TrafficQuery for NetdataHttp {
    async fn interfaces(&self) -> Result<Vec<String>, String> {
        netdata::parse_interfaces(&self.get(netdata::INTERFACES_PATH).await?)
    }

    async fn net_sum(
        &self,
        iface: &str,
        after: i64,
        before: i64,
        tier: u8,
    ) -> Result<NetdataSum, String> {
        let (status, body) = self
            .get_any(&netdata::data_path(iface, after, before, tier))
            .await?;
        // Netdata 1.37 answers 404 "No metrics where matched to query." both
        // for an unknown chart and for a window wholly outside its retention;
        // the chart is known here, so it means "no data in this window".
        if status == hyper::StatusCode::NOT_FOUND {
            return Ok(NetdataSum::empty(tier, after, before));
        }
        if !status.is_success() {
            return Err(format!("net.{iface}: {}", status_error(status, &body)));
        }
        netdata::parse_sum(&body).map_err(|e| format!("net.{iface}: {e}"))
    }
}

fn status_error(status: hyper::StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]).to_string();
    format!(
        "Netdata answered {status}: {}",
        crate::text::inert(text.trim())
    )
}

/// `http://HOST:PORT[/]` → (host, port). Only plain HTTP: Netdata listens on
/// the target's loopback and the transport carries it.
pub fn parse_url(url: &str) -> Result<(String, u16), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("netdata_url `{url}` must start with http:// (e.g. http://127.0.0.1:19999)")
    })?;
    let authority = rest.trim_end_matches('/');
    if authority.contains('/') {
        return Err(format!(
            "netdata_url `{url}` must be just http://HOST:PORT, without a path"
        ));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            let port = p
                .parse::<u16>()
                .map_err(|_| format!("netdata_url `{url}`: `{p}` is not a port"))?;
            (h, port)
        }
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("netdata_url `{url}` has no host"));
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:19999").expect("ok"),
            ("127.0.0.1".into(), 19999)
        );
        assert_eq!(
            parse_url("http://localhost/").expect("ok"),
            ("localhost".into(), 80)
        );
        assert_eq!(
            parse_url("http://[::1]:19999").expect("ok"),
            ("::1".into(), 19999)
        );
        assert!(parse_url("https://x:1").is_err());
        assert!(parse_url("http://x:port").is_err());
        assert!(parse_url("http://x:1/api").is_err());
        assert!(parse_url("http://").is_err());
    }
}
