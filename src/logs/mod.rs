//! Log lines from every source (Better Stack, journald, containers), merged
//! in time order into one bounded ring buffer.
//!
//! Sources turn what they read into [`LogLine`]s — text already made inert
//! with [`crate::text::inert_bytes`], level detected, time in UTC nanoseconds
//! — and send them as `LogEvent::Lines(..))`. Any source can do
//! that (the container source included); the pane never sees raw bytes.

pub mod betterstack;
pub mod buffer;
pub mod fields;
pub mod journald;
pub mod pace;

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::channel::Emit;
use crate::transport::SharedTransport;

pub use buffer::LogBuffer;
pub use pace::{Flow, Pace};

/// Severity of a line, most severe first (the level filter shows a level
/// and everything more severe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    /// Three-letter tag drawn on each line.
    pub fn tag(self) -> &'static str {
        match self {
            Level::Error => "ERR",
            Level::Warn => "WRN",
            Level::Info => "INF",
            Level::Debug => "DBG",
        }
    }

    /// A level name as apps write it (`error`, `WARNING`, `fatal`, `trace`…).
    pub fn from_name(name: &str) -> Option<Level> {
        let name = name.trim().to_ascii_lowercase();
        Some(match name.as_str() {
            "emerg" | "emergency" | "alert" | "crit" | "critical" | "fatal" | "panic" | "err"
            | "error" | "severe" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" | "notice" | "information" | "informational" => Level::Info,
            "debug" | "trace" | "verbose" => Level::Debug,
            _ => return None,
        })
    }

    /// Syslog priority (journald `PRIORITY`): 0-3 error, 4 warn, 5-6 info,
    /// 7 debug.
    pub fn from_syslog(priority: u8) -> Option<Level> {
        Some(match priority {
            0..=3 => Level::Error,
            4 => Level::Warn,
            5 | 6 => Level::Info,
            7 => Level::Debug,
            _ => return None,
        })
    }

    /// Guesses from common text patterns: `ERROR`, `[warn]`, `level=info`,
    /// `E1123 …` is not guessed (too ambiguous). Looks at the first 200 bytes.
    pub fn from_text(text: &str) -> Option<Level> {
        // Every line of a storm passes here: a short line (most) is its own
        // head without walking its chars.
        let head = if text.len() <= 200 {
            text
        } else {
            match text.char_indices().nth(200) {
                Some((i, _)) => &text[..i],
                None => text,
            }
        };
        // Only lines with colour codes pay for a copy without them ('␛'
        // starts with 0xE2, which no ASCII line holds).
        let plain = if memchr::memchr(0xE2, head.as_bytes()).is_some() && head.contains('␛') {
            std::borrow::Cow::Owned(strip_csi(head))
        } else {
            std::borrow::Cow::Borrowed(head)
        };
        let head = plain.as_ref();
        let mut best: Option<Level> = None;
        // Split on bytes: every byte of a non-ASCII char is a separator too,
        // so the words are those of a split on chars, found without
        // decoding.
        for word in head.as_bytes().split(|b| !b.is_ascii_alphanumeric()) {
            if word.len() < 3 || word.len() > 11 {
                continue;
            }
            // Only words written as a level: all caps, or after `level=`.
            let caps = word.iter().all(|c| c.is_ascii_uppercase());
            if !caps {
                continue;
            }
            if let Ok(word) = std::str::from_utf8(word)
                && let Some(level) = Level::from_name(word)
            {
                best = Some(best.map_or(level, |b| b.min(level)));
            }
        }
        if best.is_some() {
            return best;
        }
        // Every pattern below holds `level` or `[`: most lines have neither
        // and are not lowercased at all.
        let bytes = head.as_bytes();
        let maybe =
            bytes.contains(&b'[') || bytes.windows(5).any(|w| w.eq_ignore_ascii_case(b"level"));
        if !maybe {
            return None;
        }
        let lower = head.to_ascii_lowercase();
        for (key, level) in [
            ("level=error", Level::Error),
            ("level=err", Level::Error),
            ("level=fatal", Level::Error),
            ("level=warn", Level::Warn),
            ("level=info", Level::Info),
            ("level=debug", Level::Debug),
            ("level=trace", Level::Debug),
            ("\"level\":\"error\"", Level::Error),
            ("\"level\":\"fatal\"", Level::Error),
            ("\"level\":\"warn", Level::Warn),
            ("\"level\":\"info\"", Level::Info),
            ("\"level\":\"debug\"", Level::Debug),
            ("\"level\":\"trace\"", Level::Debug),
            ("[error]", Level::Error),
            ("[warn]", Level::Warn),
            ("[info]", Level::Info),
            ("[debug]", Level::Debug),
        ] {
            if lower.contains(key) {
                return Some(level);
            }
        }
        None
    }
}

/// Removes inert CSI sequences (`␛[31m`) so colour codes do not glue to
/// the words next to them.
fn strip_csi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '␛' && chars.peek() == Some(&'[') {
            chars.next();
            for p in chars.by_ref() {
                if ('@'..='~').contains(&p) {
                    break;
                }
            }
            out.push(' ');
            continue;
        }
        out.push(c);
    }
    out
}

/// One line as the pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When it was logged: UTC nanoseconds since the epoch.
    pub t: i64,
    /// Where it came from: `betterstack`, `journal`, `container:NAME`.
    pub source: Arc<str>,
    pub level: Option<Level>,
    /// Display text, already inert (see [`crate::text::inert_bytes`]).
    pub text: String,
}

impl LogLine {
    /// Builds a line from raw bytes: makes them inert and detects the level
    /// from the text when the source did not say.
    pub fn from_raw(t: i64, source: Arc<str>, level: Option<Level>, raw: &[u8]) -> LogLine {
        let text = crate::text::inert_bytes(raw);
        let level = level.or_else(|| Level::from_text(&text));
        LogLine {
            t,
            source,
            level,
            text,
        }
    }
}

/// What a log source is doing, for the pane's status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceHealth {
    Starting,
    Live,
    /// Working, but something is off (retrying, backing off).
    Degraded,
    /// Not available (not configured right, missing on the host).
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    /// New lines from one or more sources, in any order.
    Lines(Vec<LogLine>),
    /// A source's state changed; `message` is for the user (already inert).
    Status {
        source: String,
        health: SourceHealth,
        message: String,
    },
    /// How fast a source writes, what its reader skipped to stay current,
    /// and how far behind it is (see [`pace`]); about once a second.
    Flow { source: String, flow: Flow },
}

/// Which log sources to start for a host, from its config.
#[derive(Debug, Clone, Default)]
pub struct LogsSetup {
    pub betterstack: Option<crate::config::BetterStackConfig>,
    pub journald: Option<crate::config::JournaldConfig>,
    /// Lines each source shows when it starts.
    pub initial_lines: usize,
    /// How far a flooding source may fall behind the present (`[logs] max_lag`).
    pub max_lag: std::time::Duration,
}

impl LogsSetup {
    pub fn from_config(config: &crate::config::Config, host: &str) -> LogsSetup {
        let host = config.host(host);
        LogsSetup {
            betterstack: host.betterstack,
            journald: host.journald,
            initial_lines: config.logs.initial_lines,
            max_lag: config.logs.max_lag,
        }
    }
}

/// Starts the log sources `setup` names (journald unless turned off, Better
/// Stack when configured). Container logs are started by the container source.
pub fn spawn<E: From<LogEvent> + Send + 'static>(
    transport: SharedTransport,
    setup: &LogsSetup,
    tx: mpsc::Sender<E>,
    cancel: &CancellationToken,
) {
    let journald_on = setup
        .journald
        .as_ref()
        .and_then(|j| j.enabled)
        .unwrap_or(true);
    if journald_on {
        let units = setup
            .journald
            .as_ref()
            .map(|j| j.units.clone())
            .unwrap_or_default();
        tokio::spawn(journald::run(
            transport,
            units,
            setup.initial_lines,
            setup.max_lag,
            tx.clone(),
            cancel.clone(),
        ));
    }
    if let Some(bs) = &setup.betterstack {
        let options = betterstack::Options::from_config(bs, setup.initial_lines);
        tokio::spawn(betterstack::run(options, tx, cancel.clone()));
    }
}

/// Sends a source's flow when it changed since `reported`; `false` when the
/// loop is gone. Shared by the paced readers (container logs, the journal).
pub async fn send_flow<E: From<LogEvent> + Send + 'static>(
    tx: &mpsc::Sender<E>,
    source: &Arc<str>,
    pace: &mut Pace,
    reported: &mut Option<Flow>,
) -> bool {
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    pace.sample(now);
    let flow = pace.flow(now);
    if *reported == Some(flow) {
        return true;
    }
    *reported = Some(flow);
    // For bench/log-storm (`OPSCOCKPIT_LOG=opscockpit::log_flow=debug`).
    tracing::debug!(
        target: "opscockpit::log_flow",
        "{source} lines_per_s={} at_least={} kept={} skipped={} lag_ms={} behind={}",
        flow.lines_per_s,
        flow.at_least,
        flow.kept,
        flow.skipped,
        flow.lag_ms,
        flow.behind
    );
    tx.emit(LogEvent::Flow {
        source: source.to_string(),
        flow,
    })
    .await
    .is_ok()
}

/// Sends one status event; a closed channel means the loop is gone.
pub(crate) async fn send_status<E: From<LogEvent> + Send + 'static>(
    tx: &mpsc::Sender<E>,
    source: &str,
    health: SourceHealth,
    message: impl Into<String>,
) -> bool {
    tx.emit(LogEvent::Status {
        source: source.to_string(),
        health,
        message: message.into(),
    })
    .await
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_names_and_syslog_priorities() {
        assert_eq!(Level::from_name("WARNING"), Some(Level::Warn));
        assert_eq!(Level::from_name("fatal"), Some(Level::Error));
        assert_eq!(Level::from_name("trace"), Some(Level::Debug));
        assert_eq!(Level::from_name("loud"), None);
        assert_eq!(Level::from_syslog(3), Some(Level::Error));
        assert_eq!(Level::from_syslog(4), Some(Level::Warn));
        assert_eq!(Level::from_syslog(6), Some(Level::Info));
        assert_eq!(Level::from_syslog(7), Some(Level::Debug));
        assert_eq!(Level::from_syslog(9), None);
    }

    #[test]
    fn levels_from_text_patterns() {
        assert_eq!(
            Level::from_text("2026-11-23 ERROR db: timeout"),
            Some(Level::Error)
        );
        assert_eq!(Level::from_text("[warn] disk 91%"), Some(Level::Warn));
        assert_eq!(
            Level::from_text("ts=1 level=debug msg=x"),
            Some(Level::Debug)
        );
        assert_eq!(
            Level::from_text("INFO started; WARN slow"),
            Some(Level::Warn)
        );
        assert_eq!(
            Level::from_text(r#"{"ts":1,"level":"warning","msg":"x"}"#),
            Some(Level::Warn)
        );
        // Ordinary words are not levels.
        assert_eq!(Level::from_text("no error here, all info"), None);
        assert_eq!(Level::from_text(""), None);
    }

    #[test]
    fn lines_from_raw_bytes_are_inert() {
        let line = LogLine::from_raw(1, "journal".into(), None, b"\x1b[31mERROR\x1b[0m \xff");
        assert_eq!(line.text, "␛[31mERROR␛[0m \u{FFFD}");
        assert_eq!(line.level, Some(Level::Error));
    }
}
