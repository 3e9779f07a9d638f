//! The broker's read-only `snapshot` verb: what the cockpit sees now, for an
//! agent that must not hold SSH credentials. The gate only relays: the
//! cockpit's event loop answers from its state (`app::snapshot`), so the
//! answer is exactly what the screen shows, made inert and masked the same
//! way. A gate without a cockpit (headless `gate-serve`) has none to give.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::GateError;

/// Log lines returned at most, whatever is asked.
pub const MAX_LOG_LINES: usize = 500;
/// How long the broker waits for the loop to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

/// What to include of the log buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotQuery {
    /// Newest lines to return (default 50, at most [`MAX_LOG_LINES`]).
    #[serde(default)]
    pub lines: Option<usize>,
    /// Only this source (`journal`, `container:web`, …), by prefix.
    #[serde(default)]
    pub source: Option<String>,
    /// This level and more severe (`error`, `warn`, `info`, `debug`). Lines
    /// without a level pass, as in the Logs pane, unless `hide_unlevelled`.
    #[serde(default)]
    pub level: Option<String>,
    /// Leave out lines without a level (the Logs pane's `:unlevelled`). Not
    /// sent when false, so an older cockpit still understands the query.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hide_unlevelled: bool,
    /// Only lines containing this text (case-insensitive).
    #[serde(default)]
    pub search: Option<String>,
}

impl SnapshotQuery {
    pub fn line_limit(&self) -> usize {
        self.lines.unwrap_or(50).min(MAX_LOG_LINES)
    }
}

/// One question to the event loop, with where to answer.
#[derive(Debug)]
pub struct SnapshotRequest {
    pub query: SnapshotQuery,
    pub reply: oneshot::Sender<serde_json::Value>,
}

/// The gate's side: where snapshot questions go, once a cockpit listens.
#[derive(Debug, Default)]
pub struct SnapshotDesk {
    to_cockpit: Mutex<Option<mpsc::Sender<SnapshotRequest>>>,
}

impl SnapshotDesk {
    /// The cockpit's event loop takes the questions from now on.
    pub fn listen(&self) -> mpsc::Receiver<SnapshotRequest> {
        let (tx, rx) = mpsc::channel(8);
        *self.to_cockpit.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        rx
    }

    pub async fn ask(&self, query: SnapshotQuery) -> Result<serde_json::Value, GateError> {
        let sender = self
            .to_cockpit
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                GateError::new(
                    "no_snapshot",
                    "this gate runs without a cockpit screen (gate-serve): no snapshot to give",
                )
            })?;
        let (reply, answer) = oneshot::channel();
        let busy = || GateError::new("busy", "the cockpit did not answer in time; try again");
        sender
            .try_send(SnapshotRequest { query, reply })
            .map_err(|_| busy())?;
        match tokio::time::timeout(ANSWER_TIMEOUT, answer).await {
            Ok(Ok(value)) => Ok(value),
            _ => Err(busy()),
        }
    }
}
