//! A real HTTP/1.1 server on an ephemeral loopback port that records every
//! request and answers from a script: for webhook, Slack and ntfy
//! receivers in tests. The ntfy stand-in answers as ntfy's publish API does
//! (`POST /TOPIC` → the message as JSON; 401 for a wrong token; 429 with
//! `Retry-After` when the script says so).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Everything that was sent, for "this never appears" checks.
    pub fn everything(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        format!(
            "{} {}\n{}\n{}",
            self.method,
            self.path,
            headers.join("\n"),
            self.text()
        )
    }
}

/// What the server does with the next request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// 429 with `Retry-After: secs`.
    TooMany {
        retry_after: u64,
    },
    /// Read the request, then never answer (until the client gives up).
    Hang,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Plain,
    /// ntfy's publish API; `Some(token)` requires `Authorization: Bearer`.
    Ntfy,
}

struct Shared {
    requests: Vec<Recorded>,
    script: VecDeque<Reply>,
    token: Option<String>,
}

pub struct Receiver {
    pub port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl Receiver {
    /// A webhook/Slack receiver: answers the script, then 200.
    pub fn start(script: Vec<Reply>) -> Receiver {
        Self::spawn(Flavour::Plain, script, None)
    }

    /// An ntfy stand-in; with `token`, requests without `Bearer token` get
    /// ntfy's 401.
    pub fn ntfy(script: Vec<Reply>, token: Option<&str>) -> Receiver {
        Self::spawn(Flavour::Ntfy, script, token.map(str::to_string))
    }

    fn spawn(flavour: Flavour, script: Vec<Reply>, token: Option<String>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Mutex::new(Shared {
            requests: Vec::new(),
            script: script.into(),
            token,
        }));
        let for_thread = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = for_thread.clone();
                std::thread::spawn(move || serve(stream, flavour, &shared));
            }
        });
        Receiver { port, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .lock()
            .map(|s| s.requests.clone())
            .unwrap_or_default()
    }

    /// Waits until `pred` holds for the recorded requests, or fails.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&[Recorded]) -> bool,
    ) -> Vec<Recorded> {
        let start = Instant::now();
        loop {
            let requests = self.requests();
            if pred(&requests) {
                return requests;
            }
            if start.elapsed() > timeout {
                let seen: Vec<String> = requests.iter().map(Recorded::everything).collect();
                panic!(
                    "timed out waiting for {what}; requests so far:\n{}",
                    seen.join("\n---\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve(stream: TcpStream, flavour: Flavour, shared: &Mutex<Shared>) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    // One request per connection: every answer says `Connection: close`.
    let Some(request) = read_request(&mut reader) else {
        return;
    };
    let (reply, token) = {
        let Ok(mut s) = shared.lock() else { return };
        s.requests.push(request.clone());
        (
            s.script.pop_front().unwrap_or(Reply::Status(200)),
            s.token.clone(),
        )
    };
    let (status, extra, body) = match reply {
        Reply::Hang => {
            std::thread::sleep(Duration::from_secs(120));
            return;
        }
        Reply::TooMany { retry_after } => (
            429,
            format!("Retry-After: {retry_after}\r\n"),
            r#"{"code":42901,"http":429,"error":"limit reached: too many requests, please be nice","link":"https://ntfy.sh/docs/publish/#limitations"}"#.to_string(),
        ),
        Reply::Status(code) if flavour == Flavour::Ntfy && code == 200 => {
            match &token {
                Some(t) if request.header("authorization") != Some(&format!("Bearer {t}")) => (
                    401,
                    String::new(),
                    r#"{"code":40101,"http":401,"error":"unauthorized","link":"https://ntfy.sh/docs/publish/#authentication"}"#.to_string(),
                ),
                _ => (200, String::new(), ntfy_message(&request)),
            }
        }
        Reply::Status(code) => (code, String::new(), format!("{{\"status\":{code}}}")),
    };
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    let _ = writer.write_all(head.as_bytes());
    let _ = writer.write_all(body.as_bytes());
    let _ = writer.flush();
}

/// ntfy's answer to a publish: the message as stored.
fn ntfy_message(request: &Recorded) -> String {
    let topic = request.path.trim_start_matches('/');
    let tags: Vec<&str> = request
        .header("tags")
        .map(|t| t.split(',').collect())
        .unwrap_or_default();
    let priority: u8 = request
        .header("priority")
        .and_then(|p| p.parse().ok())
        .unwrap_or(3);
    serde_json::json!({
        "id": format!("m{}", request.at.elapsed().as_nanos() % 1_000_000),
        "time": 1_795_442_400,
        "expires": 1_795_485_600,
        "event": "message",
        "topic": topic,
        "title": request.header("title"),
        "message": request.text(),
        "priority": priority,
        "tags": tags,
        "click": request.header("click"),
    })
    .to_string()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Recorded> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded {
        method,
        path,
        headers,
        body,
        at: Instant::now(),
    })
}
