//! [`TrafficQuery`] over the shared Netdata client
//! ([`crate::sources::netdata::client`]): the same HTTP/1.1 over the
//! transport's TCP stream (a direct-tcpip channel on SSH), one kept-alive
//! connection, gzip, and `netdata_url`'s `/host/NAME` prefix for a parent's
//! child — with a longer time limit, since a month of per-minute rows is a
//! bigger answer than the per-second ones.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::netdata::{self, NetdataSum, TrafficQuery};
use crate::sources::netdata::client::{ClientError, NetdataClient, NetdataTarget};
use crate::transport::SharedTransport;

const TIMEOUT: Duration = Duration::from_secs(20);
const DEFAULT_URL: &str = "http://127.0.0.1:19999";

pub struct NetdataHttp {
    client: Mutex<NetdataClient>,
    url: String,
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
        let url = url.unwrap_or(DEFAULT_URL);
        let target = NetdataTarget::parse(url).map_err(|e| format!("netdata_url {e}"))?;
        let mut client = NetdataClient::new(transport, target);
        client.request_timeout = TIMEOUT;
        Ok(Self {
            client: Mutex::new(client),
            url: url.trim_end_matches('/').to_string(),
        })
    }

    pub fn describe(&self) -> String {
        format!("netdata {}", self.url.trim_start_matches("http://"))
    }

    async fn get(&self, path: &str) -> Result<bytes::Bytes, ClientError> {
        self.client.lock().await.get(path).await
    }

    /// The error as the cost report shows it.
    fn explain(&self, e: &ClientError) -> String {
        match e {
            ClientError::Connect(_) => format!(
                "cannot reach Netdata at {} ({e}); is it running? (`netdata_url` in [hosts.NAME] sets where)",
                self.url
            ),
            other => format!("Netdata at {}: {other}", self.url),
        }
    }
}

#[async_trait]
impl TrafficQuery for NetdataHttp {
    async fn interfaces(&self) -> Result<Vec<String>, String> {
        let body = self
            .get(netdata::INTERFACES_PATH)
            .await
            .map_err(|e| self.explain(&e))?;
        netdata::parse_interfaces(&body)
    }

    async fn net_sum(
        &self,
        iface: &str,
        after: i64,
        before: i64,
        tier: u8,
    ) -> Result<NetdataSum, String> {
        match self
            .get(&netdata::data_path(iface, after, before, tier))
            .await
        {
            Ok(body) => netdata::parse_sum(&body).map_err(|e| format!("net.{iface}: {e}")),
            // Netdata 1.37 answers 404 "No metrics where matched to query."
            // both for an unknown chart and for a window wholly outside its
            // retention; the chart is known here, so it means "no data in
            // this window".
            Err(ClientError::Status { status: 404, .. }) => {
                Ok(NetdataSum::empty(tier, after, before))
            }
            Err(e) => Err(format!("net.{iface}: {}", self.explain(&e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::local::LocalTransport;
    use std::sync::Arc;

    #[test]
    fn urls_are_checked_and_described() {
        let t: SharedTransport = Arc::new(LocalTransport);
        assert_eq!(
            NetdataHttp::new(t.clone(), None)
                .expect("default")
                .describe(),
            "netdata 127.0.0.1:19999"
        );
        assert!(NetdataHttp::new(t.clone(), Some("http://127.0.0.1:19999/host/child")).is_ok());
        for bad in ["https://x:1", "127.0.0.1:19999", "http://x:1/api?x=1"] {
            let err = NetdataHttp::new(t.clone(), Some(bad)).err().expect(bad);
            assert!(err.starts_with("netdata_url"), "{err}");
        }
    }

    #[tokio::test]
    async fn nothing_listening_says_where_and_what_to_set() {
        let t: SharedTransport = Arc::new(LocalTransport);
        let netdata = NetdataHttp::new(t, Some("http://127.0.0.1:9")).expect("url");
        let err = netdata.interfaces().await.expect_err("nothing on port 9");
        assert!(
            err.contains("cannot reach Netdata at http://127.0.0.1:9"),
            "{err}"
        );
        assert!(err.contains("netdata_url"), "{err}");
    }
}
