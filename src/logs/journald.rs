//! The host's journal: `journalctl -f -o json` on the target, through the
//! transport. One JSON object per line; `MESSAGE` is a string, an array of
//! bytes (when it is not valid UTF-8 or holds control characters) or null;
//! `PRIORITY` is the syslog level; `__REALTIME_TIMESTAMP` microseconds.
//!
//! Before following, a probe tells apart "journalctl missing" and "no
//! journal files" (journalctl -f then waits silently forever), so the pane can
//! say why it is empty. If journalctl ends, it is started again after the
//! last entry seen (`--after-cursor`), so nothing is shown twice.
//!
//! A flooding journal is paced like a container's log ([`Pace`]): entries
//! more than `[logs] max_lag` behind are skipped and counted, and when
//! reading stays behind, journalctl is started again at the present (`-n 0`,
//! no cursor) and the gap counted from the rate. The flow (rate, skipped,
//! lag) goes to the status row once a second.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::pace::{Pace, Verdict};
use super::{Flow, Level, LogEvent, LogLine, SourceHealth, send_status};
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
    max_lag: Duration,
    tx: mpsc::Sender<E>,
    cancel: CancellationToken,
) {
    let source: Arc<str> = Arc::from(SOURCE);
    let mut reader = Reader {
        cursor: None,
        pace: Pace::new(max_lag),
        reported: None,
    };
    let mut history = initial;
    loop {
        let ended = follow_once(
            &transport,
            &units,
            history,
            &mut reader,
            &source,
            &tx,
            &cancel,
        )
        .await;
        match ended {
            Ok(Ended::Stopped) => return,
            Ok(Ended::AtPresent) => {
                // The backlog is skipped: start again with no history and
                // no cursor; the gap is counted from the rate.
                reader.pace.mark_gap();
                reader.cursor = None;
                history = 0;
                continue;
            }
            Err((health, message)) => {
                tracing::warn!(source = SOURCE, "{message}");
                send_status(&tx, SOURCE, health, message).await;
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(RESTART_AFTER) => {}
        }
    }
}

/// What the reader keeps across restarts of journalctl.
struct Reader {
    /// The newest entry's cursor: a restart resumes after it.
    cursor: Option<String>,
    pace: Pace,
    /// The flow last sent, so an unchanged one is not sent again.
    reported: Option<Flow>,
}

/// Why one run of journalctl ended.
enum Ended {
    /// The cockpit stops (or the loop is gone).
    Stopped,
    /// Reading stays behind a flood: start again at the present.
    AtPresent,
}

/// Takes the complete lines out of `pending` (a partial last line stays),
/// parsed and paced: entries over the lag bound of a flooding journal are
/// counted as skipped, not returned. `now` is UTC nanoseconds.
fn take_entries(
    pending: &mut Vec<u8>,
    reader: &mut Reader,
    source: &Arc<str>,
    now: i64,
) -> Vec<LogLine> {
    let mut lines = Vec::new();
    let mut start = 0;
    while let Some(nl) = pending[start..].iter().position(|b| *b == b'\n') {
        let json = &pending[start..start + nl];
        start += nl + 1;
        match parse_entry(json, source) {
            Ok(entry) => {
                if entry.cursor.is_some() {
                    reader.cursor = entry.cursor;
                }
                if reader.pace.admit(entry.line.t, now) == Verdict::Keep {
                    lines.push(entry.line);
                }
            }
            Err(e) => tracing::debug!(source = SOURCE, "skipped: {e}"),
        }
    }
    // One copy of the partial rest per chunk, not one per line.
    pending.drain(..start);
    lines
}

/// Probes, then follows until journalctl ends (Err with why), the reader
/// must start again at the present, or the cockpit stops.
async fn follow_once<E: From<LogEvent> + Send + 'static>(
    transport: &SharedTransport,
    units: &[String],
    initial: usize,
    reader: &mut Reader,
    source: &Arc<str>,
    tx: &mpsc::Sender<E>,
    cancel: &CancellationToken,
) -> Result<Ended, (SourceHealth, String)> {
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
    let command = follow_command(units, initial, reader.cursor.as_deref());
    reader.pace.stream_started();
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
    let mut flow_tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => return Ok(Ended::Stopped),
            _ = flow_tick.tick() => {
                if !super::send_flow(tx, source, &mut reader.pace, &mut reader.reported).await {
                    return Ok(Ended::Stopped);
                }
                continue;
            }
            event = handle.next() => event,
        };
        match event {
            Some(ExecEvent::Stdout(chunk)) => {
                pending.extend_from_slice(&chunk);
                let now = now_nanos();
                let mut lines = take_entries(&mut pending, reader, source, now);
                if pending.len() > MAX_LINE {
                    // One absurd entry: show what we have, cut.
                    let raw = std::mem::take(&mut pending);
                    lines.push(LogLine::from_raw(now, source.clone(), None, &raw));
                }
                if !lines.is_empty() && tx.emit(LogEvent::Lines(lines)).await.is_err() {
                    return Ok(Ended::Stopped);
                }
                if reader.pace.should_reopen(now_nanos()) {
                    return Ok(Ended::AtPresent);
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

fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> Arc<str> {
        Arc::from(SOURCE)
    }

    fn fresh_reader() -> Reader {
        Reader {
            cursor: None,
            pace: Pace::new(Duration::from_secs(2)),
            reported: None,
        }
    }

    /// A journal line stamped `micros`, with cursor `c<n>`.
    fn entry(n: usize, micros: i64) -> String {
        format!(r#"{{"__CURSOR":"c{n}","__REALTIME_TIMESTAMP":"{micros}","MESSAGE":"line {n}"}}"#)
            + "\n"
    }

    const NOW: i64 = 1_795_442_400_000_000_000;

    #[test]
    fn complete_lines_are_taken_and_a_partial_one_waits() {
        let mut reader = fresh_reader();
        let mut pending = (entry(1, NOW / 1000) + &entry(2, NOW / 1000)).into_bytes();
        pending.extend_from_slice(br#"{"__CURSOR":"c3","#);
        let lines = take_entries(&mut pending, &mut reader, &src(), NOW);
        let texts: Vec<&str> = lines.iter().map(|l| &*l.text).collect();
        assert_eq!(texts, ["line 1", "line 2"]);
        assert_eq!(pending, br#"{"__CURSOR":"c3","#, "the partial line is kept");
        assert_eq!(reader.cursor.as_deref(), Some("c2"));
    }

    #[test]
    fn an_old_flood_is_skipped_and_counted_but_quiet_history_is_kept() {
        // Quiet history an hour old: shown, as the tail the pane starts with.
        let mut reader = fresh_reader();
        let hour_ago = NOW / 1000 - 3_600_000_000;
        let mut pending: Vec<u8> = (0..5)
            .flat_map(|n| entry(n, hour_ago).into_bytes())
            .collect();
        let kept = take_entries(&mut pending, &mut reader, &src(), NOW);
        assert_eq!(kept.len(), 5);
        assert_eq!(reader.pace.skipped(), 0);
        // 3000 entries of one second ten seconds ago: a flood, behind the
        // 2 s bound. Once its rate shows as a flood the rest is skipped.
        let mut reader = fresh_reader();
        let ten_s_ago = NOW / 1000 - 10_000_000;
        let mut pending: Vec<u8> = (0..3000)
            .flat_map(|n| entry(n, ten_s_ago + n as i64).into_bytes())
            .collect();
        let kept = take_entries(&mut pending, &mut reader, &src(), NOW);
        let skipped = reader.pace.skipped();
        assert!(skipped >= 1000, "skipped {skipped}");
        assert_eq!(
            kept.len() as u64 + skipped,
            3000,
            "every entry kept or counted"
        );
        assert!(
            kept.windows(2).all(|w| w[0].t <= w[1].t),
            "kept in time order"
        );
        assert_eq!(
            reader.cursor.as_deref(),
            Some("c2999"),
            "skipped entries still move the cursor"
        );
        assert!(
            reader.pace.should_reopen(NOW + 3_000_000_000),
            "reading stays behind: re-open at the present"
        );
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
