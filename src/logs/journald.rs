//! The host's journal: `journalctl -f -o json` on the target, through the
//! transport. One JSON object per line; `MESSAGE` is a string, an array of
//! bytes (when it is not valid UTF-8 or holds control characters) or null;
//! `PRIORITY` is the syslog level; `__REALTIME_TIMESTAMP` microseconds.
//!
//! Before following, a probe tells apart "journalctl missing" and "no
//! journal files" (journalctl -f then waits silently forever), so the pane can
//! say why it is empty. If journalctl ends, it is started again after the
//! last entry seen (`--after-cursor`), so nothing is shown twice.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Level, LogEvent, LogLine, SourceHealth, send_status};
use crate::channel::Emit;
use crate::text::inert;
use crate::transport::{ExecEvent, ExecOptions, SharedTransport, shell_quote};

pub const SOURCE: &str = "journal";
const NOT_INSTALLED: i32 = 127;
const RESTART_AFTER: Duration = Duration::from_secs(10);
/// A JSON line longer than this is cut (journald allows up to 48 KiB + fields).
const MAX_LINE: usize = 1 << 20;

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Ready,
    NotInstalled,
    NoJournal,
    /// journalctl answered with something else on stderr (permissions hint…).
    Note(String),
}

/// Checks for journalctl and a journal with one tiny read. In the default
/// (short) output: with `-o cat` or `-o json`, journalctl 252 says nothing
/// at all when there are no journal files, and the source showed green.
pub fn probe_command() -> String {
    format!(
        "command -v journalctl >/dev/null 2>&1 || exit {NOT_INSTALLED}; journalctl --no-pager -n 1 2>&1 >/dev/null"
    )
}

pub fn classify_probe(code: Option<i32>, output: &[u8]) -> Probe {
    if code == Some(NOT_INSTALLED) {
        return Probe::NotInstalled;
    }
    let text = String::from_utf8_lossy(output);
    if text.contains("No journal files were found") {
        return Probe::NoJournal;
    }
    match text.lines().find(|l| !l.trim().is_empty()) {
        Some(line) => Probe::Note(inert(line.trim())),
        None => Probe::Ready,
    }
}

/// The follow command: `initial` lines of history (or everything after
/// `after_cursor`), then new entries as they come.
pub fn follow_command(units: &[String], initial: usize, after_cursor: Option<&str>) -> String {
    let mut cmd = String::from("exec journalctl --no-pager -f -o json");
    match after_cursor {
        Some(cursor) => {
            cmd.push_str(" --after-cursor=");
            cmd.push_str(&shell_quote(cursor));
        }
        None => cmd.push_str(&format!(" -n {initial}")),
    }
    for unit in units {
        cmd.push_str(" -u ");
        cmd.push_str(&shell_quote(unit));
    }
    cmd
}

/// One parsed entry and its cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub line: LogLine,
    pub cursor: Option<String>,
}

/// Parses one line of `journalctl -o json`.
pub fn parse_entry(json: &[u8], source: &Arc<str>) -> Result<Entry, String> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("not a journal entry: {e}"))?;
    let obj = value
        .as_object()
        .ok_or_else(|| "not a journal entry: not a JSON object".to_string())?;
    let field = |k: &str| obj.get(k).and_then(|v| v.as_str());
    let micros: i64 = field("__REALTIME_TIMESTAMP")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| "journal entry without __REALTIME_TIMESTAMP".to_string())?;
    let message: Vec<u8> = match obj.get("MESSAGE") {
        Some(serde_json::Value::String(s)) => s.as_bytes().to_vec(),
        Some(serde_json::Value::Array(bytes)) => bytes
            .iter()
            .map(|b| {
                b.as_u64()
                    .and_then(|b| u8::try_from(b).ok())
                    .unwrap_or(b'?')
            })
            .collect(),
        _ => Vec::new(),
    };
    let level = field("PRIORITY")
        .and_then(|p| p.parse::<u8>().ok())
        .and_then(Level::from_syslog);
    // Like journalctl's short format: `ident[pid]: message`.
    let ident = field("SYSLOG_IDENTIFIER")
        .or_else(|| field("_COMM"))
        .or_else(|| field("_SYSTEMD_UNIT"));
    let mut raw = Vec::with_capacity(message.len() + 32);
    if let Some(ident) = ident {
        raw.extend_from_slice(ident.as_bytes());
        if let Some(pid) = field("_PID") {
            raw.extend_from_slice(format!("[{pid}]").as_bytes());
        }
        raw.extend_from_slice(b": ");
    }
    raw.extend_from_slice(&message);
    let line = LogLine::from_raw(micros.saturating_mul(1000), source.clone(), level, &raw);
    Ok(Entry {
        line,
        cursor: field("__CURSOR").map(str::to_string),
    })
}

/// The source task.
pub async fn run<E: From<LogEvent> + Send + 'static>(
    transport: SharedTransport,
    units: Vec<String>,
    initial: usize,
    tx: mpsc::Sender<E>,
    cancel: CancellationToken,
) {
    let source: Arc<str> = Arc::from(SOURCE);
    let mut cursor: Option<String> = None;
    loop {
        let message = match follow_once(
            &transport,
            &units,
            initial,
            &mut cursor,
            &source,
            &tx,
            &cancel,
        )
        .await
        {
            Ok(()) => return,
            Err((health, message)) => {
                tracing::warn!(source = SOURCE, "{message}");
                send_status(&tx, SOURCE, health, message.clone()).await;
                message
            }
        };
        let _ = message;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(RESTART_AFTER) => {}
        }
    }
}

/// Probes, then follows until journalctl ends (Err with why) or the cockpit
/// stops (Ok).
async fn follow_once<E: From<LogEvent> + Send + 'static>(
    transport: &SharedTransport,
    units: &[String],
    initial: usize,
    cursor: &mut Option<String>,
    source: &Arc<str>,
    tx: &mpsc::Sender<E>,
    cancel: &CancellationToken,
) -> Result<(), (SourceHealth, String)> {
    let unavailable = |m: String| (SourceHealth::Unavailable, m);
    let probe = transport
        .exec(&probe_command(), ExecOptions::default())
        .await
        .map_err(|e| unavailable(format!("cannot run journalctl on the target: {e}")))?;
    let (out, _, status) = probe.collect(64 * 1024).await;
    let code = match status {
        crate::transport::ExitStatus::Code(c) => Some(c),
        _ => None,
    };
    let mut note = None;
    match classify_probe(code, &out) {
        Probe::NotInstalled => {
            return Err(unavailable(
                "journalctl is not installed on the target: no journal to show".into(),
            ));
        }
        Probe::NoJournal => {
            return Err(unavailable(
                "No journal files were found on the target (journald is not running or keeps no journal); retrying".into(),
            ));
        }
        Probe::Note(n) => note = Some(n),
        Probe::Ready => {}
    }
    let command = follow_command(units, initial, cursor.as_deref());
    let mut handle = transport
        .exec(&command, ExecOptions::default())
        .await
        .map_err(|e| unavailable(format!("cannot start journalctl: {e}")))?;
    let what = if units.is_empty() {
        "following the journal".to_string()
    } else {
        format!("following {}", inert(&units.join(", ")))
    };
    let live = match &note {
        Some(n) => format!("{what} ({n})"),
        None => what,
    };
    send_status(tx, SOURCE, SourceHealth::Live, live).await;
    let mut pending: Vec<u8> = Vec::new();
    let mut stderr: Vec<u8> = Vec::new();
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            event = handle.next() => event,
        };
        match event {
            Some(ExecEvent::Stdout(chunk)) => {
                pending.extend_from_slice(&chunk);
                let mut lines = Vec::new();
                while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
                    let rest = pending.split_off(nl + 1);
                    let json = std::mem::replace(&mut pending, rest);
                    match parse_entry(&json[..nl], source) {
                        Ok(entry) => {
                            if entry.cursor.is_some() {
                                *cursor = entry.cursor;
                            }
                            lines.push(entry.line);
                        }
                        Err(e) => tracing::debug!(source = SOURCE, "skipped: {e}"),
                    }
                }
                if pending.len() > MAX_LINE {
                    // One absurd entry: show what we have, cut.
                    let raw = std::mem::take(&mut pending);
                    lines.push(LogLine::from_raw(
                        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
                        source.clone(),
                        None,
                        &raw,
                    ));
                }
                if !lines.is_empty() && tx.emit(LogEvent::Lines(lines)).await.is_err() {
                    return Ok(());
                }
            }
            Some(ExecEvent::Stderr(chunk)) => {
                let room = 4096usize.saturating_sub(stderr.len());
                stderr.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Some(ExecEvent::Exit(status)) => {
                let why = String::from_utf8_lossy(&stderr);
                let why = why.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                return Err((
                    SourceHealth::Degraded,
                    format!(
                        "journalctl ended ({status}){}{}; restarting in {}s",
                        if why.is_empty() { "" } else { ": " },
                        inert(why.trim()),
                        RESTART_AFTER.as_secs()
                    ),
                ));
            }
            None => {
                return Err((
                    SourceHealth::Degraded,
                    "journalctl output ended; restarting".into(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> Arc<str> {
        Arc::from(SOURCE)
    }

    #[test]
    fn string_message_with_priority_and_ident() {
        let json = br#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1795442400123456","PRIORITY":"3","SYSLOG_IDENTIFIER":"sshd","_PID":"42","MESSAGE":"Failed password\u001b[2J"}"#;
        let entry = parse_entry(json, &src()).expect("entry");
        assert_eq!(entry.line.t, 1_795_442_400_123_456_000);
        assert_eq!(entry.line.level, Some(Level::Error));
        assert_eq!(entry.line.text, "sshd[42]: Failed password␛[2J");
        assert_eq!(entry.cursor.as_deref(), Some("s=1;i=2"));
    }

    #[test]
    fn byte_array_and_null_messages() {
        let json = br#"{"__REALTIME_TIMESTAMP":"1","PRIORITY":"6","MESSAGE":[104,105,27,255]}"#;
        let entry = parse_entry(json, &src()).expect("entry");
        assert_eq!(entry.line.text, "hi␛\u{FFFD}");
        assert_eq!(entry.line.level, Some(Level::Info));
        let json = br#"{"__REALTIME_TIMESTAMP":"1","MESSAGE":null,"_COMM":"cron"}"#;
        let entry = parse_entry(json, &src()).expect("entry");
        assert_eq!(entry.line.text, "cron: ");
        assert_eq!(entry.line.level, None);
    }

    #[test]
    fn malformed_entries_are_errors() {
        assert!(parse_entry(b"not json", &src()).is_err());
        assert!(parse_entry(b"[1,2]", &src()).is_err());
        assert!(parse_entry(br#"{"MESSAGE":"no time"}"#, &src()).is_err());
        assert!(parse_entry(br#"{"__REALTIME_TIMESTAMP":"soon"}"#, &src()).is_err());
    }

    #[test]
    fn probe_outcomes() {
        assert_eq!(classify_probe(Some(127), b""), Probe::NotInstalled);
        assert_eq!(
            classify_probe(Some(0), b"No journal files were found.\n"),
            Probe::NoJournal
        );
        assert_eq!(classify_probe(Some(0), b""), Probe::Ready);
        assert_eq!(
            classify_probe(
                Some(0),
                b"Hint: You are currently not seeing messages\x1b\n"
            ),
            Probe::Note("Hint: You are currently not seeing messages␛".into())
        );
    }

    #[test]
    fn follow_command_quotes_units_and_resumes_after_cursor() {
        assert_eq!(
            follow_command(&["nginx.service".into(), "a b".into()], 200, None),
            "exec journalctl --no-pager -f -o json -n 200 -u nginx.service -u 'a b'"
        );
        assert_eq!(
            follow_command(&[], 200, Some("s=1;i=2")),
            "exec journalctl --no-pager -f -o json --after-cursor='s=1;i=2'"
        );
    }
}
