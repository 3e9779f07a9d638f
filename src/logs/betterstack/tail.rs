//! The poller: first load, then every poll the rows since the cursor
//! minus the overlap, de-duplicated.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::lookup::find_table;
use super::*;
use crate::channel::Emit;
use crate::logs::{LogEvent, SourceHealth, send_status};
use crate::text::inert;

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
pub async fn run<E: From<LogEvent> + Send + 'static>(
    mut options: Options,
    tx: mpsc::Sender<E>,
    cancel: CancellationToken,
) {
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
    if let Some(lookup) = options.lookup.clone() {
        match find_table(&options, &lookup, &tx, &cancel).await {
            Some(table) => options.table = table,
            None => return,
        }
    }
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
                    if tx.emit(LogEvent::Lines(lines)).await.is_err() {
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
                let (health, wait, message) =
                    retry_after(&e, e.is_transient(), options.poll, failures);
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
/// After a failed request: how the source's health reads, how long to
/// wait, and what the status line says (a transient error backs off, a
/// permanent one waits the longest).
pub(super) fn retry_after(
    error: &impl std::fmt::Display,
    transient: bool,
    poll: Duration,
    failures: u32,
) -> (SourceHealth, Duration, String) {
    let (health, wait) = if transient {
        (SourceHealth::Degraded, backoff(poll, failures))
    } else {
        (SourceHealth::Unavailable, MAX_BACKOFF)
    };
    let message = format!(
        "{error}; retrying in {}",
        humantime::format_duration(Duration::from_secs(wait.as_secs().max(1)))
    );
    (health, wait, message)
}

pub fn backoff(poll: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.min(6);
    poll.saturating_mul(factor).min(MAX_BACKOFF)
}
