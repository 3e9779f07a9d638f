//! The client side of the broker socket (used by `opscockpit propose`).
//! Blocking std I/O: the CLI does one thing at a time.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use super::broker::{PROTOCOL_VERSION, Request, Response};

#[derive(Debug)]
pub enum ClientError {
    /// Nobody serves the socket: no cockpit runs for the host.
    NoCockpit(String),
    /// The connection broke or the reply was not understood.
    Broken(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::NoCockpit(m) | ClientError::Broken(m) => f.write_str(m),
        }
    }
}

pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    pub fn connect(socket: &Path, host: &str) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(socket).map_err(|e| {
            ClientError::NoCockpit(format!(
                "no cockpit is running for `{}` ({}: {e}); nothing was proposed. Start it with `opscockpit {}` and try again",
                crate::text::inert(host),
                socket.display(),
                crate::text::inert(host),
            ))
        })?;
        let writer = stream
            .try_clone()
            .map_err(|e| ClientError::Broken(format!("socket: {e}")))?;
        Ok(Client {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Sends one request and reads its reply.
    pub fn request(&mut self, request: &Request) -> Result<Response, ClientError> {
        let mut value = serde_json::to_value(request)
            .map_err(|e| ClientError::Broken(format!("encoding request: {e}")))?;
        if let Some(map) = value.as_object_mut() {
            map.insert("v".into(), PROTOCOL_VERSION.into());
        }
        let mut line = value.to_string();
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .and_then(|_| self.writer.flush())
            .map_err(|e| ClientError::Broken(format!("sending to the cockpit: {e}")))?;
        let mut reply = String::new();
        let n = self
            .reader
            .read_line(&mut reply)
            .map_err(|e| ClientError::Broken(format!("reading the cockpit's reply: {e}")))?;
        if n == 0 {
            return Err(ClientError::Broken(
                "the cockpit closed the connection without replying (did it stop?)".into(),
            ));
        }
        serde_json::from_str(&reply)
            .map_err(|e| ClientError::Broken(format!("the cockpit's reply is not understood: {e}")))
    }
}
