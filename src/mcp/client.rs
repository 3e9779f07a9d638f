//! An async client of the cockpits' broker sockets, for the MCP server: the
//! same NDJSON protocol `opscockpit propose` speaks, on tokio so a waiting
//! call can be cancelled and send progress meanwhile.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use crate::gate::broker::{PROTOCOL_VERSION, Request, Response};
use crate::text::inert;

/// Longest reply line read (a snapshot with 500 log lines fits easily).
const MAX_REPLY: usize = 8 << 20;

pub struct BrokerClient {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

/// A cockpit's socket: `$XDG_RUNTIME_DIR/opscockpit/HOST.sock`.
pub fn socket_of(data_dir: &Path, host: &str) -> PathBuf {
    crate::gate::socket_path(data_dir, host)
}

impl BrokerClient {
    /// Connects to the cockpit of `host`; the error names the fix.
    pub async fn connect(data_dir: &Path, host: &str) -> Result<BrokerClient, String> {
        let socket = socket_of(data_dir, host);
        let stream = UnixStream::connect(&socket).await.map_err(|_| {
            format!(
                "no cockpit is running for `{0}`: nothing was done. Start it with `opscockpit {0}` (a human runs it and decides there), then try again",
                inert(host)
            )
        })?;
        let (read, writer) = stream.into_split();
        Ok(BrokerClient {
            reader: BufReader::new(read),
            writer,
        })
    }

    pub async fn request(&mut self, request: &Request) -> Result<Response, String> {
        let mut value = serde_json::to_value(request).map_err(|e| format!("encoding: {e}"))?;
        if let Some(map) = value.as_object_mut() {
            map.insert("v".into(), PROTOCOL_VERSION.into());
        }
        let mut line = value.to_string();
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("sending to the cockpit: {e}"))?;
        let mut reply = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_REPLY as u64)
            .read_until(b'\n', &mut reply)
            .await
            .map_err(|e| format!("reading the cockpit's reply: {e}"))?;
        if n == 0 {
            return Err("the cockpit closed the connection (did it stop?)".into());
        }
        serde_json::from_slice(&reply)
            .map_err(|e| format!("the cockpit's reply is not understood: {e}"))
    }
}

/// Turns a refused reply into its message (code and text, inert).
pub fn refusal(response: &Response) -> String {
    match &response.error {
        Some(e) => format!("refused ({}): {}", inert(&e.code), inert(&e.message)),
        None => "refused without a reason".into(),
    }
}
