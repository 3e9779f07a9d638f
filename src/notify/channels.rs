//! How each kind of channel carries a [`Message`]: the request is built by
//! a pure function ([`request`]) so tests can read it, then [`send`] makes
//! one attempt and says whether a retry can help. The channel's secret goes
//! only where the endpoint reads it (ntfy's Authorization header, the
//! webhook's signature key, the Slack URL); errors never contain it.

use std::time::Duration;

use serde_json::json;

use super::message::Message;
use crate::config::notify::{ChannelConfig, ChannelKind};
use crate::secrets::{Purpose, Secret, SecretRef};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_QUEUE: usize = 64;
const DEFAULT_SIGNATURE_HEADER: &str = "X-Opscockpit-Signature";
/// How much of an endpoint's answer is kept (for `notify test`, the log).
const ANSWER_LIMIT: usize = 500;

/// A configured channel with its secret resolved.
#[derive(Debug, Clone)]
pub struct Channel {
    pub name: String,
    pub config: ChannelConfig,
    pub secret: Option<Secret>,
}

impl Channel {
    pub fn kind(&self) -> ChannelKind {
        self.config.kind
    }

    pub fn timeout(&self) -> Duration {
        self.config.timeout.unwrap_or(DEFAULT_TIMEOUT)
    }

    /// Where it goes, for `notify list` (never the secret: a Slack URL is
    /// shown as "by reference").
    pub fn describe(config: &ChannelConfig) -> String {
        let secret = secret_ref(config, "")
            .map(|r| match r {
                SecretRef::Env(v) => format!(", secret from ${v}"),
                SecretRef::Cmd(_) => ", secret from token_cmd".into(),
                SecretRef::Keyring(u) => format!(", secret from the keyring ({u})"),
            })
            .unwrap_or_default();
        let target = match config.kind {
            ChannelKind::Ntfy => format!(
                "{}/{}",
                config
                    .server
                    .as_deref()
                    .unwrap_or_default()
                    .trim_end_matches('/'),
                config.topic.as_deref().unwrap_or_default()
            ),
            // A query string may hold a key: not shown.
            ChannelKind::Webhook => match config.url.as_deref().unwrap_or_default().split_once('?')
            {
                Some((base, _)) => format!("{base}?…"),
                None => config.url.clone().unwrap_or_default(),
            },
            ChannelKind::Slack => "Slack incoming webhook".into(),
            ChannelKind::Desktop => "notify-send".into(),
            ChannelKind::Command => config
                .command
                .as_ref()
                .map(|c| c.join(" "))
                .unwrap_or_default(),
        };
        let command = if config.include_command {
            ", includes commands (masked)"
        } else {
            ""
        };
        format!(
            "{} → {}{secret}{command}",
            config.kind.name(),
            crate::text::inert(&target)
        )
    }
}

/// Where the channel's secret comes from, if it has one.
pub fn secret_ref(config: &ChannelConfig, name: &str) -> Option<SecretRef> {
    if let Some(var) = &config.token_env {
        return Some(SecretRef::Env(var.clone()));
    }
    if let Some(cmd) = &config.token_cmd {
        return Some(SecretRef::Cmd(cmd.clone()));
    }
    config.keyring.then(|| {
        SecretRef::Keyring(
            config
                .keyring_entry
                .clone()
                .unwrap_or_else(|| format!("notify.{name}")),
        )
    })
}

const PURPOSE: Purpose = Purpose {
    what: "the notification channel's token",
    env_key: "token_env",
    cmd_key: "token_cmd",
};

/// Resolves the channel's secret (once, at start).
pub async fn resolve(name: &str, config: &ChannelConfig) -> Result<Channel, String> {
    let secret = match secret_ref(config, name) {
        Some(reference) => Some(
            crate::secrets::resolve(&reference, &PURPOSE)
                .await
                .map_err(|e| format!("notify.{name}: {e}"))?,
        ),
        None => None,
    };
    Ok(Channel {
        name: name.to_string(),
        config: config.clone(),
        secret,
    })
}

/// One delivery, ready to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Http {
        url: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    Program {
        argv: Vec<String>,
        stdin: Vec<u8>,
    },
    Desktop {
        summary: String,
        body: String,
    },
}

pub fn request(channel: &Channel, message: &Message) -> Result<Request, String> {
    let c = &channel.config;
    let secret = channel.secret.as_ref().map(Secret::expose);
    Ok(match c.kind {
        ChannelKind::Ntfy => {
            let url = format!(
                "{}/{}",
                c.server
                    .as_deref()
                    .unwrap_or_default()
                    .trim_end_matches('/'),
                c.topic.as_deref().unwrap_or_default()
            );
            let mut tags = message.tags.clone();
            tags.extend(c.tags.iter().cloned());
            let mut headers = vec![
                ("Title".to_string(), header_text(&message.title)),
                ("Priority".to_string(), message.priority.to_string()),
                ("Tags".to_string(), header_text(&tags.join(","))),
            ];
            if let Some(click) = &c.click {
                headers.push(("Click".into(), header_text(click)));
            }
            if let Some(token) = secret {
                headers.push(("Authorization".into(), format!("Bearer {token}")));
            }
            Request::Http {
                url,
                headers,
                body: message.body.clone().into_bytes(),
            }
        }
        ChannelKind::Webhook => {
            let body = serde_json::to_vec(&message.json).map_err(|e| e.to_string())?;
            let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
            if let Some(key) = secret {
                let name = c
                    .signature_header
                    .clone()
                    .unwrap_or_else(|| DEFAULT_SIGNATURE_HEADER.into());
                headers.push((name, super::hmac::signature(key.as_bytes(), &body)));
            }
            Request::Http {
                url: c.url.clone().unwrap_or_default(),
                headers,
                body,
            }
        }
        ChannelKind::Slack => {
            let url = secret
                .ok_or("the Slack webhook URL did not resolve")?
                .to_string();
            Request::Http {
                url,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: serde_json::to_vec(&slack_payload(message)).map_err(|e| e.to_string())?,
            }
        }
        ChannelKind::Command => {
            let mut stdin = serde_json::to_vec(&message.json).map_err(|e| e.to_string())?;
            stdin.push(b'\n');
            Request::Program {
                argv: c.command.clone().unwrap_or_default(),
                stdin,
            }
        }
        ChannelKind::Desktop => Request::Desktop {
            summary: message.title.clone(),
            body: message.body.clone(),
        },
    })
}

/// Slack's `text` (the fallback and notification text) and `blocks`.
fn slack_payload(message: &Message) -> serde_json::Value {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut lines: Vec<&str> = message.body.lines().collect();
    let hint = lines
        .pop()
        .filter(|l| l.starts_with("Approval happens"))
        .map(escape);
    if hint.is_none() {
        lines = message.body.lines().collect();
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": message.title.chars().take(150).collect::<String>()}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": escape(&lines.join("\n"))}}),
    ];
    if let Some(hint) = hint {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": hint}]}));
    }
    json!({
        "text": escape(&format!("{}\n{}", message.title, message.body)),
        "blocks": blocks,
    })
}

/// A header value: ASCII as it is, anything else as an RFC 2047 encoded
/// word (ntfy ≥ 2.4 decodes `=?UTF-8?B?…?=` in Title and Tags).
pub fn header_text(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.is_ascii() {
        return one_line;
    }
    format!(
        "=?UTF-8?B?{}?=",
        data_encoding::BASE64.encode(one_line.as_bytes())
    )
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Taken: the status and the start of the answer.
    Delivered { status: u16, answer: String },
    /// Worth another try (429, 5xx, network, timeout), after at least
    /// `after` when the endpoint said so.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// Retrying will not help (4xx, bad config).
    Refused { error: String },
}

pub async fn send(http: &reqwest::Client, request: Request, timeout: Duration) -> Attempt {
    match request {
        Request::Http { url, headers, body } => send_http(http, &url, headers, body, timeout).await,
        Request::Program { argv, stdin } => run_program(argv, stdin, timeout).await,
        Request::Desktop { summary, body } => desktop(&summary, &body, timeout).await,
    }
}

async fn send_http(
    http: &reqwest::Client,
    url: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
) -> Attempt {
    let mut builder = http.post(url).timeout(timeout).body(body);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let response = match builder.send().await {
        Ok(r) => r,
        // Without the URL: a Slack URL is a credential.
        Err(e) => {
            let e = e.without_url();
            let what = if e.is_timeout() {
                "no answer in time".to_string()
            } else {
                format!("{e}")
            };
            return Attempt::Retry {
                error: what,
                after: None,
            };
        }
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let answer = match tokio::time::timeout(timeout, response.bytes()).await {
        Ok(Ok(bytes)) => crate::text::inert_bytes(&bytes[..bytes.len().min(ANSWER_LIMIT)]),
        _ => String::new(),
    };
    let code = status.as_u16();
    if status.is_success() {
        return Attempt::Delivered {
            status: code,
            answer,
        };
    }
    let error = format!(
        "HTTP {code} {}",
        answer.chars().take(120).collect::<String>()
    )
    .trim()
    .to_string();
    if code == 429 || code == 408 || status.is_server_error() {
        Attempt::Retry {
            error,
            after: retry_after,
        }
    } else {
        Attempt::Refused { error }
    }
}

async fn run_program(argv: Vec<String>, stdin: Vec<u8>, timeout: Duration) -> Attempt {
    use tokio::io::AsyncWriteExt;
    let Some((program, args)) = argv.split_first() else {
        return Attempt::Refused {
            error: "no program".into(),
        };
    };
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return Attempt::Refused {
                error: format!("cannot run {}: {e}", crate::text::inert(program)),
            };
        }
    };
    if let Some(mut input) = child.stdin.take() {
        // A program that does not read its stdin is its own business.
        let _ = input.write_all(&stdin).await;
    }
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) if out.status.success() => Attempt::Delivered {
            status: 0,
            answer: crate::text::inert_bytes(&out.stdout[..out.stdout.len().min(ANSWER_LIMIT)]),
        },
        Ok(Ok(out)) => Attempt::Retry {
            error: format!("exited with {}", out.status),
            after: None,
        },
        Ok(Err(e)) => Attempt::Retry {
            error: format!("{e}"),
            after: None,
        },
        Err(_) => Attempt::Retry {
            error: "did not finish in time (killed)".into(),
            after: None,
        },
    }
}

async fn desktop(summary: &str, body: &str, timeout: Duration) -> Attempt {
    let spawned = tokio::process::Command::new("notify-send")
        .args([
            "--app-name=opscockpit",
            "--urgency=critical",
            "--",
            summary,
            body,
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .status();
    match tokio::time::timeout(timeout, spawned).await {
        Ok(Ok(status)) if status.success() => Attempt::Delivered {
            status: 0,
            answer: String::new(),
        },
        Ok(Ok(status)) => Attempt::Refused {
            error: format!("notify-send exited with {status}"),
        },
        Ok(Err(e)) => Attempt::Refused {
            error: format!("no desktop notifications here ({e})"),
        },
        Err(_) => Attempt::Refused {
            error: "notify-send did not finish in time".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::message::build;
    use crate::notify::{EventKind, NotifyEvent, ProposalFacts};

    fn channel(toml: &str, secret: Option<&str>) -> Channel {
        let config: ChannelConfig = toml::from_str(toml).expect("channel toml");
        Channel {
            name: "c".into(),
            config,
            secret: secret.map(Secret::new),
        }
    }

    fn message() -> Message {
        let event = NotifyEvent {
            kind: EventKind::Proposal,
            rule: None,
            escalation: false,
            host: "web1".into(),
            subject: "id1".into(),
            at: 100,
            proposal: Some(ProposalFacts {
                id: "id1".into(),
                tier: "approve".into(),
                title: "Ünïcode <b>&".into(),
                proposer: "agent".into(),
                confined: None,
                created_at: 100,
                expires_at: None,
                command: "ls".into(),
            }),
            alert: None,
            detail: String::new(),
        };
        build(&event, false)
    }

    #[test]
    fn ntfy_gets_its_headers_and_the_token_only_in_authorization() {
        let c = channel(
            "kind = \"ntfy\"\nserver = \"http://127.0.0.1:8/\"\ntopic = \"ops\"\ntags = [\"prod\"]\nclick = \"https://runbook\"\ntoken_env = \"T\"\n",
            Some("tk_secret"),
        );
        let Ok(Request::Http { url, headers, body }) = request(&c, &message()) else {
            panic!("http request");
        };
        assert_eq!(url, "http://127.0.0.1:8/ops");
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("Priority"), Some("4"));
        assert_eq!(header("Tags"), Some("raised_hand,proposal,prod"));
        assert_eq!(header("Click"), Some("https://runbook"));
        assert_eq!(header("Authorization"), Some("Bearer tk_secret"));
        let title = header("Title").unwrap_or_default();
        assert!(
            title.starts_with("=?UTF-8?B?") && title.is_ascii(),
            "{title}"
        );
        let decoded = data_encoding::BASE64
            .decode(
                title
                    .trim_start_matches("=?UTF-8?B?")
                    .trim_end_matches("?=")
                    .as_bytes(),
            )
            .expect("base64");
        assert_eq!(
            String::from_utf8_lossy(&decoded),
            "web1: proposal waits for a decision: Ünïcode <b>&"
        );
        let body = String::from_utf8(body).expect("utf8");
        assert!(
            body.ends_with("open `opscockpit web1` to decide."),
            "{body}"
        );
        assert!(
            headers
                .iter()
                .filter(|(k, _)| k != "Authorization")
                .all(|(_, v)| !v.contains("tk_secret"))
        );
    }

    #[test]
    fn a_webhook_is_signed_over_the_exact_body() {
        let c = channel(
            "kind = \"webhook\"\nurl = \"http://127.0.0.1:8/hook\"\ntoken_env = \"K\"\n",
            Some("key"),
        );
        let Ok(Request::Http { headers, body, .. }) = request(&c, &message()) else {
            panic!("http request");
        };
        let sig = headers
            .iter()
            .find(|(k, _)| k == "X-Opscockpit-Signature")
            .map(|(_, v)| v.clone());
        assert_eq!(sig, Some(crate::notify::hmac::signature(b"key", &body)));
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["event"], "proposal");
        assert!(!String::from_utf8_lossy(&body).contains("\"key\""));
        let unsigned = channel("kind = \"webhook\"\nurl = \"http://x\"\n", None);
        let Ok(Request::Http { headers, .. }) = request(&unsigned, &message()) else {
            panic!("http request");
        };
        assert_eq!(headers.len(), 1, "no signature without a key: {headers:?}");
    }

    #[test]
    fn slack_gets_text_and_blocks_escaped_and_the_hint_as_context() {
        let c = channel(
            "kind = \"slack\"\ntoken_env = \"S\"\n",
            Some("http://127.0.0.1:8/services/T/B/X"),
        );
        let Ok(Request::Http { url, body, .. }) = request(&c, &message()) else {
            panic!("http request");
        };
        assert_eq!(url, "http://127.0.0.1:8/services/T/B/X");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert!(
            json["text"]
                .as_str()
                .is_some_and(|t| t.contains("Ünïcode &lt;b&gt;&amp;")),
            "{json}"
        );
        let blocks = json["blocks"].as_array().expect("blocks");
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[2]["type"], "context");
        assert!(
            blocks[2]["elements"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("to decide"))
        );
        assert!(
            !json.to_string().contains("\"button\""),
            "no buttons: {json}"
        );
    }

    #[test]
    fn header_values_stay_on_one_line() {
        assert_eq!(header_text("a\r\nb"), "a  b");
        assert_eq!(header_text("plain"), "plain");
    }
}
