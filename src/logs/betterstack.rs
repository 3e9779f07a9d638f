//! Better Stack logs through its SQL query API ("Connect remotely").
//!
//! `POST ENDPOINT?output_format_pretty_row_numbers=0` with HTTP Basic auth,
//! `Content-type: plain/text` and SQL in the body; rows come back as
//! `JSONEachRow` with `dt` as `YYYY-MM-DD hh:mm:ss.ffffff` (UTC) and `raw` as
//! the JSON the app sent. There is no streaming API, so the source polls:
//!
//! * on start, the newest `initial_lines` rows (shown oldest first);
//! * then every `poll` (2 s), every row with `dt >= cursor - 30 s`, where the
//!   cursor is the newest `dt` seen. The 30 s overlap catches rows that
//!   arrive late; a set of (dt, hash of raw) of the rows inside the overlap
//!   drops the ones already shown. So rows with equal timestamps and late rows
//!   are neither lost nor doubled (a row later than 30 s is missed; two rows
//!   with identical dt *and* raw show once).
//!
//! The password is read by reference (environment variable or command, see
//! [`PasswordRef`]) and lives in a [`Secret`] whose `Debug` prints nothing.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, TimeZone, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Level, LogEvent, LogLine, SourceHealth, send_status};
use crate::app::event::AppEvent;
use crate::config::BetterStackConfig;
use crate::text::inert;

pub const SOURCE: &str = "betterstack";
/// Rows per query; a full page is followed by the next one at once.
pub const PAGE: usize = 1000;
const MAX_PAGES_PER_POLL: usize = 20;
const NANOS: i64 = 1_000_000_000;
/// Longest wait between attempts while backing off.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// (dt, hash) pairs kept at most, whatever the overlap holds.
const MAX_SEEN: usize = 200_000;

/// Where the password comes from. The password itself is never in config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordRef {
    /// Name of an environment variable of the cockpit's process.
    Env(String),
    /// A command run locally through `sh -c`; its stdout (trailing newline
    /// trimmed) is the password.
    Cmd(String),
    /// The OS keyring.
    Keyring,
}

/// A password in memory. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that sends it (the auth header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Fetches the password. Errors say what to fix and never contain output of
/// the command (it might be the password).
pub async fn resolve_password(reference: &PasswordRef) -> Result<Secret, String> {
    match reference {
        PasswordRef::Env(name) => match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok(Secret(v)),
            Ok(_) => Err(format!(
                "environment variable {} is empty; export the Better Stack password there",
                inert(name)
            )),
            Err(_) => Err(format!(
                "environment variable {} is not set; export the Better Stack password there (password_env)",
                inert(name)
            )),
        },
        PasswordRef::Cmd(cmd) => {
            let output = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .output()
                .await
                .map_err(|e| format!("could not run password_cmd: {e}"))?;
            if !output.status.success() {
                return Err(format!(
                    "password_cmd failed ({}); run it in a shell to see why",
                    output.status
                ));
            }
            let text = String::from_utf8(output.stdout)
                .map_err(|_| "password_cmd printed something that is not UTF-8".to_string())?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            if text.is_empty() {
                return Err("password_cmd printed nothing".into());
            }
            Ok(Secret(text.to_string()))
        }
        PasswordRef::Keyring => {
            Err("no OS keyring available on this machine; use password_env or password_cmd".into())
        }
    }
}

/// Everything the source needs; built from `[hosts.NAME.betterstack]`.
#[derive(Debug, Clone)]
pub struct Options {
    pub endpoint: String,
    /// `tTEAM_SOURCE`: queries `remote(tTEAM_SOURCE_logs)`.
    pub table: String,
    pub username: String,
    pub password: PasswordRef,
    pub poll: Duration,
    pub overlap: Duration,
    pub timeout: Duration,
    pub initial_lines: usize,
    /// Name shown on each line.
    pub source_name: String,
}

impl Options {
    pub fn from_config(config: &BetterStackConfig, initial_lines: usize) -> Options {
        let password = if let Some(env) = &config.password_env {
            PasswordRef::Env(env.clone())
        } else if let Some(cmd) = &config.password_cmd {
            PasswordRef::Cmd(cmd.clone())
        } else {
            PasswordRef::Keyring
        };
        Options {
            endpoint: config.endpoint.clone(),
            table: config.table.clone(),
            username: config.username.clone(),
            password,
            poll: config.poll.unwrap_or(Duration::from_secs(2)),
            overlap: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            initial_lines,
            source_name: SOURCE.into(),
        }
    }
}

/// Why a query failed, in words for the pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// 401/403: credentials wrong or not allowed.
    Auth {
        status: u16,
    },
    /// 429: too many requests.
    RateLimited,
    /// 5xx.
    Server {
        status: u16,
        detail: String,
    },
    /// Other 4xx: the query was refused (e.g. unknown table or column).
    Rejected {
        status: u16,
        detail: String,
    },
    Timeout,
    Network(String),
    /// The answer was not JSONEachRow as expected.
    BadAnswer(String),
}

impl QueryError {
    /// Worth retrying soon with back-off (vs. waiting for the user to fix).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            QueryError::RateLimited
                | QueryError::Server { .. }
                | QueryError::Timeout
                | QueryError::Network(_)
        )
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Auth { status } => write!(
                f,
                "Better Stack refused the credentials ({status}): check username and password (Better Stack → Integrations → Connect remotely)"
            ),
            QueryError::RateLimited => f.write_str("Better Stack is rate limiting (429)"),
            QueryError::Server { status, detail } => {
                write!(f, "Better Stack server error ({status}): {detail}")
            }
            QueryError::Rejected { status, detail } => {
                write!(f, "Better Stack rejected the query ({status}): {detail}")
            }
            QueryError::Timeout => f.write_str("Better Stack did not answer in time"),
            QueryError::Network(e) => write!(f, "cannot reach Better Stack: {e}"),
            QueryError::BadAnswer(e) => write!(f, "unexpected answer from Better Stack: {e}"),
        }
    }
}

/// An HTTP client for one endpoint and user.
pub struct Client {
    http: reqwest::Client,
    url: String,
    username: String,
    password: Secret,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

impl Client {
    pub fn new(
        endpoint: &str,
        username: &str,
        password: Secret,
        timeout: Duration,
    ) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        let endpoint = endpoint.trim_end_matches('/');
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        Ok(Client {
            http,
            url: format!("{endpoint}{sep}output_format_pretty_row_numbers=0"),
            username: username.to_string(),
            password,
        })
    }

    /// Runs one SQL statement and returns the body.
    pub async fn query(&self, sql: &str) -> Result<String, QueryError> {
        let response = self
            .http
            .post(&self.url)
            .basic_auth(&self.username, Some(self.password.expose()))
            .header(reqwest::header::CONTENT_TYPE, "plain/text")
            .body(sql.to_string())
            .send()
            .await
            .map_err(request_error)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(request_error)?;
        match status {
            200..=299 => Ok(body),
            401 | 403 => Err(QueryError::Auth { status }),
            429 => Err(QueryError::RateLimited),
            500..=599 => Err(QueryError::Server {
                status,
                detail: first_line(&body),
            }),
            _ => Err(QueryError::Rejected {
                status,
                detail: first_line(&body),
            }),
        }
    }
}

fn request_error(e: reqwest::Error) -> QueryError {
    if e.is_timeout() {
        return QueryError::Timeout;
    }
    // Without the URL: it could carry user info if someone put it there.
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    QueryError::Network(inert(&text))
}

/// The first line of an error body, inert and at most 300 characters.
fn first_line(body: &str) -> String {
    let line = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let short: String = line.chars().take(300).collect();
    inert(short.trim())
}

/// The newest `n` rows, oldest first.
pub fn initial_sql(table: &str, n: usize) -> String {
    format!(
        "SELECT dt, raw FROM (SELECT dt, raw FROM remote({table}_logs) ORDER BY dt DESC LIMIT {n}) ORDER BY dt ASC FORMAT JSONEachRow"
    )
}

/// Rows at or after `since` (UTC nanoseconds), one page.
pub fn poll_sql(table: &str, since: i64, limit: usize, offset: usize) -> String {
    range_sql(table, since, None, limit, offset)
}

/// Rows at or after `since` and before `before`, one page.
pub fn range_sql(
    table: &str,
    since: i64,
    before: Option<i64>,
    limit: usize,
    offset: usize,
) -> String {
    let upper = before
        .map(|b| format!(" AND dt < toDateTime64('{}', 6, 'UTC')", format_dt(b)))
        .unwrap_or_default();
    format!(
        "SELECT dt, raw FROM remote({table}_logs) WHERE dt >= toDateTime64('{}', 6, 'UTC'){upper} ORDER BY dt ASC LIMIT {limit} OFFSET {offset} FORMAT JSONEachRow",
        format_dt(since)
    )
}

/// ClickHouse's DateTime64(6) text: `YYYY-MM-DD hh:mm:ss.ffffff`.
pub fn format_dt(nanos: i64) -> String {
    let secs = nanos.div_euclid(NANOS);
    let sub = nanos.rem_euclid(NANOS) as u32;
    match Utc.timestamp_opt(secs, sub).single() {
        Some(dt) => dt.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        None => "1970-01-01 00:00:00.000000".into(),
    }
}

/// Parses `YYYY-MM-DD hh:mm:ss[.fff…]` (UTC) into nanoseconds.
pub fn parse_dt(text: &str) -> Option<i64> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f").ok()?;
    naive.and_utc().timestamp_nanos_opt()
}

/// One row of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub dt: i64,
    pub raw: String,
}

impl Row {
    fn key(&self) -> (i64, u64) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.raw.hash(&mut h);
        (self.dt, h.finish())
    }
}

/// Parses a JSONEachRow body of `dt`, `raw` rows. A malformed row fails the
/// whole answer (the service never sends one; a proxy page might).
pub fn parse_rows(body: &str) -> Result<Vec<Row>, String> {
    #[derive(serde::Deserialize)]
    struct Wire {
        dt: String,
        raw: String,
    }
    let mut rows = Vec::new();
    for (i, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let wire: Wire = serde_json::from_str(line)
            .map_err(|e| format!("row {}: {e}: {}", i + 1, first_line(line)))?;
        let dt = parse_dt(&wire.dt)
            .ok_or_else(|| format!("row {}: `{}` is not a time", i + 1, inert(&wire.dt)))?;
        rows.push(Row { dt, raw: wire.raw });
    }
    Ok(rows)
}

/// Turns a row into a pane line: the `message` of the JSON in `raw` (or the
/// whole of `raw` when it is not JSON or has no message), level from `level`.
pub fn row_to_line(row: &Row, source: &Arc<str>) -> LogLine {
    let parsed: Option<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&row.raw).ok();
    let (message, level) = match &parsed {
        Some(obj) => {
            let message = ["message", "msg", "log"]
                .iter()
                .find_map(|k| obj.get(*k).and_then(|v| v.as_str()));
            let level = ["level", "severity", "levelname", "log.level"]
                .iter()
                .find_map(|k| obj.get(*k).and_then(|v| v.as_str()))
                .and_then(Level::from_name);
            (message, level)
        }
        None => (None, None),
    };
    let text = message.unwrap_or(&row.raw);
    LogLine::from_raw(row.dt, source.clone(), level, text.as_bytes())
}

/// The tailing cursor and the de-duplication window.
#[derive(Debug, Clone)]
pub struct Tail {
    /// Newest `dt` seen.
    pub cursor: Option<i64>,
    overlap: i64,
    seen: BTreeSet<(i64, u64)>,
}

impl Tail {
    pub fn new(overlap: Duration) -> Tail {
        Tail {
            cursor: None,
            overlap: i64::try_from(overlap.as_nanos()).unwrap_or(i64::MAX / 2),
            seen: BTreeSet::new(),
        }
    }

    /// Lower bound of the next poll.
    pub fn since(&self) -> Option<i64> {
        self.cursor.map(|c| c.saturating_sub(self.overlap))
    }

    /// Keeps the rows not seen before (in the order given) and moves the
    /// cursor. Forgets keys that fell out of the overlap window.
    pub fn accept(&mut self, rows: Vec<Row>) -> Vec<Row> {
        let mut fresh = Vec::new();
        for row in rows {
            let key = row.key();
            if self.since().is_some_and(|since| row.dt < since) {
                // Outside the window: shown before, or later than the overlap.
                continue;
            }
            if self.seen.insert(key) {
                self.cursor = Some(self.cursor.map_or(row.dt, |c| c.max(row.dt)));
                fresh.push(row);
            }
        }
        if let Some(since) = self.since() {
            self.seen = self.seen.split_off(&(since, 0));
        }
        while self.seen.len() > MAX_SEEN {
            self.seen.pop_first();
        }
        fresh
    }

    /// Remembers rows without showing them: the rows of the overlap window
    /// older than the first load, which exist but were not asked for.
    pub fn mark_seen(&mut self, rows: &[Row]) {
        for row in rows {
            self.seen.insert(row.key());
        }
    }

    pub fn remembered(&self) -> usize {
        self.seen.len()
    }
}

/// Reads new rows once: the initial lines when nothing was seen yet, else
/// every page since the cursor minus the overlap.
pub async fn poll_once(
    client: &Client,
    options: &Options,
    tail: &mut Tail,
) -> Result<Vec<Row>, QueryError> {
    let Some(since) = tail.since() else {
        return first_load(client, options, tail).await;
    };
    let mut fresh = Vec::new();
    for page in 0..MAX_PAGES_PER_POLL {
        let sql = poll_sql(&options.table, since, PAGE, page * PAGE);
        let rows = match fetch(client, &sql).await {
            Ok(rows) => rows,
            // Rows of earlier pages are kept (and shown); the next poll
            // re-reads from the overlap, so the rest is not lost.
            Err(e) if page > 0 => {
                tracing::warn!(source = %options.source_name, "page {page} failed: {e}");
                break;
            }
            Err(e) => return Err(e),
        };
        let full = rows.len() >= PAGE;
        fresh.extend(tail.accept(rows));
        if !full {
            break;
        }
    }
    Ok(fresh)
}

/// The newest `initial_lines` rows. Older rows inside the overlap exist too:
/// they are remembered (not shown) so the next poll does not show them as
/// new, while rows that arrive there later are. Nothing changes in `tail`
/// unless every query succeeded.
async fn first_load(
    client: &Client,
    options: &Options,
    tail: &mut Tail,
) -> Result<Vec<Row>, QueryError> {
    let wanted = options.initial_lines.max(1);
    let rows = fetch(client, &initial_sql(&options.table, wanted)).await?;
    let mut older = Vec::new();
    if let (true, Some(oldest), Some(newest)) = (
        rows.len() >= wanted,
        rows.first().map(|r| r.dt),
        rows.last().map(|r| r.dt),
    ) {
        let since = newest.saturating_sub(tail.overlap);
        if since < oldest {
            for page in 0..MAX_PAGES_PER_POLL {
                let sql = range_sql(&options.table, since, Some(oldest), PAGE, page * PAGE);
                let batch = fetch(client, &sql).await?;
                let full = batch.len() >= PAGE;
                older.extend(batch);
                if !full {
                    break;
                }
            }
        }
    }
    let fresh = tail.accept(rows);
    tail.mark_seen(&older);
    Ok(fresh)
}

async fn fetch(client: &Client, sql: &str) -> Result<Vec<Row>, QueryError> {
    let body = client.query(sql).await?;
    parse_rows(&body).map_err(QueryError::BadAnswer)
}

/// The source task: resolves the password, then tails until cancelled.
pub async fn run(options: Options, tx: mpsc::Sender<AppEvent>, cancel: CancellationToken) {
    let name = options.source_name.clone();
    send_status(&tx, &name, SourceHealth::Starting, "connecting").await;
    let password = match resolve_password(&options.password).await {
        Ok(p) => p,
        Err(message) => {
            tracing::warn!(source = %name, "{message}");
            send_status(&tx, &name, SourceHealth::Unavailable, message).await;
            return;
        }
    };
    let client = match Client::new(
        &options.endpoint,
        &options.username,
        password,
        options.timeout,
    ) {
        Ok(c) => c,
        Err(message) => {
            send_status(&tx, &name, SourceHealth::Unavailable, message).await;
            return;
        }
    };
    let source: Arc<str> = Arc::from(name.as_str());
    let mut tail = Tail::new(options.overlap);
    let mut failures: u32 = 0;
    let mut last_ok_message = String::new();
    loop {
        let wait = match poll_once(&client, &options, &mut tail).await {
            Ok(rows) => {
                failures = 0;
                if !rows.is_empty() {
                    let lines = rows.iter().map(|r| row_to_line(r, &source)).collect();
                    if tx
                        .send(AppEvent::Log(LogEvent::Lines(lines)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                let message = format!(
                    "tailing {}_logs every {}",
                    inert(&options.table),
                    humantime::format_duration(options.poll)
                );
                if message != last_ok_message {
                    tracing::info!(source = %name, "{message}");
                    send_status(&tx, &name, SourceHealth::Live, message.clone()).await;
                    last_ok_message = message;
                }
                options.poll
            }
            Err(e) => {
                last_ok_message.clear();
                failures = failures.saturating_add(1);
                let (health, wait) = if e.is_transient() {
                    (SourceHealth::Degraded, backoff(options.poll, failures))
                } else {
                    (SourceHealth::Unavailable, MAX_BACKOFF)
                };
                let message = format!(
                    "{e}; retrying in {}",
                    humantime::format_duration(Duration::from_secs(wait.as_secs().max(1)))
                );
                tracing::warn!(source = %name, "{message}");
                send_status(&tx, &name, health, message).await;
                wait
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// poll × 2^failures, at most a minute.
pub fn backoff(poll: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.min(6);
    poll.saturating_mul(factor).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(dt: i64, raw: &str) -> Row {
        Row {
            dt,
            raw: raw.into(),
        }
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        let client =
            Client::new("http://127.0.0.1:1", "u", s, Duration::from_secs(1)).expect("client");
        assert!(!format!("{client:?}").contains("hunter2"));
    }

    #[test]
    fn dt_round_trips_in_clickhouse_format() {
        let t = parse_dt("2026-11-23 14:00:00.123456").expect("dt");
        assert_eq!(t, 1_795_442_400_123_456_000);
        assert_eq!(format_dt(t), "2026-11-23 14:00:00.123456");
        assert_eq!(parse_dt("2026-11-23 14:00:00"), Some(1_795_442_400 * NANOS));
        assert_eq!(parse_dt("yesterday"), None);
    }

    #[test]
    fn rows_parse_and_malformed_rows_fail() {
        let body = "{\"dt\":\"2026-11-23 14:00:00.000001\",\"raw\":\"{\\\"message\\\":\\\"hi\\\",\\\"level\\\":\\\"warn\\\"}\"}\n\n";
        let rows = parse_rows(body).expect("rows");
        assert_eq!(rows.len(), 1);
        let line = row_to_line(&rows[0], &Arc::from("betterstack"));
        assert_eq!(line.text, "hi");
        assert_eq!(line.level, Some(Level::Warn));
        assert!(parse_rows("{\"dt\":\"x\",\"raw\":\"y\"}").is_err());
        assert!(parse_rows("<html>bad gateway</html>").is_err());
        assert!(parse_rows("{\"dt\":\"2026-11-23 14:00:00\"}").is_err());
    }

    #[test]
    fn non_json_raw_is_shown_whole_and_inert() {
        let line = row_to_line(&row(1, "ERROR \x1b]52;c;eA==\x07"), &Arc::from("b"));
        assert_eq!(line.text, "ERROR ␛]52;c;eA==␇");
        assert_eq!(line.level, Some(Level::Error));
    }

    #[test]
    fn tail_drops_doubles_but_keeps_equal_times_and_late_rows() {
        let mut tail = Tail::new(Duration::from_secs(30));
        let s = NANOS;
        let first = tail.accept(vec![
            row(100 * s, "a"),
            row(100 * s, "b"),
            row(101 * s, "c"),
        ]);
        assert_eq!(first.len(), 3);
        assert_eq!(tail.cursor, Some(101 * s));
        assert_eq!(tail.since(), Some(71 * s));
        // Re-read of the overlap with a late row and an equal-time row.
        let again = tail.accept(vec![
            row(95 * s, "late"),
            row(100 * s, "a"),
            row(100 * s, "b"),
            row(101 * s, "c"),
            row(101 * s, "c2"),
        ]);
        let raws: Vec<&str> = again.iter().map(|r| r.raw.as_str()).collect();
        assert_eq!(raws, ["late", "c2"]);
        // Moving on forgets keys outside the window.
        tail.accept(vec![row(200 * s, "z")]);
        assert_eq!(tail.remembered(), 1);
        // Rows marked seen (older than a first load) do not show later.
        tail.mark_seen(&[row(185 * s, "older")]);
        assert!(tail.accept(vec![row(185 * s, "older")]).is_empty());
        assert_eq!(tail.accept(vec![row(185 * s, "arrived later")]).len(), 1);
    }

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let poll = Duration::from_secs(2);
        assert_eq!(backoff(poll, 1), Duration::from_secs(4));
        assert_eq!(backoff(poll, 3), Duration::from_secs(16));
        assert_eq!(backoff(poll, 30), MAX_BACKOFF);
    }

    #[test]
    fn sql_is_what_the_api_documents() {
        assert_eq!(
            poll_sql("t1_app", 1_795_442_400 * NANOS, 1000, 0),
            "SELECT dt, raw FROM remote(t1_app_logs) WHERE dt >= toDateTime64('2026-11-23 14:00:00.000000', 6, 'UTC') ORDER BY dt ASC LIMIT 1000 OFFSET 0 FORMAT JSONEachRow"
        );
        assert!(initial_sql("t1_app", 200).contains("ORDER BY dt DESC LIMIT 200"));
    }

    #[tokio::test]
    async fn passwords_by_reference() {
        let err = resolve_password(&PasswordRef::Keyring)
            .await
            .expect_err("no keyring");
        assert!(err.contains("no OS keyring available"));
        let err = resolve_password(&PasswordRef::Env("OPSCOCKPIT_TEST_SURELY_UNSET".into()))
            .await
            .expect_err("unset");
        assert!(err.contains("OPSCOCKPIT_TEST_SURELY_UNSET is not set"));
        let ok = resolve_password(&PasswordRef::Cmd("printf 's3cret\\n'".into()))
            .await
            .expect("cmd");
        assert_eq!(ok.expose(), "s3cret");
        let err = resolve_password(&PasswordRef::Cmd("echo s3cret; exit 3".into()))
            .await
            .expect_err("fails");
        assert!(!err.contains("s3cret"), "{err}");
    }
}
