//! The SQL query API: the HTTP client, the SQL it sends, the rows it parses.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, TimeZone, Utc};

use super::*;
use crate::logs::{Level, LogLine};
use crate::secrets::Secret;
use crate::text::inert;

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

pub(super) fn request_error(e: reqwest::Error) -> QueryError {
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
pub(super) fn first_line(body: &str) -> String {
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
    pub(super) fn key(&self) -> (i64, u64) {
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
