//! Follows one container's log into the Logs pane, as `container:NAME`, for
//! as long as the cockpit runs: across restarts, stop/start, re-creation
//! under the same name and reconnects to the engine.
//!
//! A follow stream of `/containers/ID/logs` ends with the run it follows, and
//! the engine's events about that moment arrive in an order that differs by
//! engine (podman sends `restart` before `die`; Docker after `start`). So the
//! follower does not trust the order: whenever its stream ends it asks the
//! engine whether the container runs again, and the source sends it an
//! [`Attach`] on every `start` event and after every (re)list. It re-attaches
//! with `since=` the second of the newest line it showed and drops the lines
//! of that second it already showed ([`Overlap`]), so nothing is lost or
//! doubled across the gap, whatever the engine's timestamp precision
//! (podman 4 writes whole seconds, Docker nanoseconds).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::api::{Inspect, LogDemux};
use super::client::DockerClient;
use crate::channel::Emit;
use crate::containers::LogStream;
use crate::logs::{LogEvent, LogLine, SourceHealth};

/// Lines of a container's log the Logs pane starts with.
pub const PANE_LOG_TAIL: usize = 50;
/// First wait before re-attaching to a running container whose stream
/// ended; doubles up to [`RETRY_MAX`] while attaching brings nothing.
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Follow this container (by id) under the follower's name, through this
/// client (the source's current engine session).
pub struct Attach {
    pub id: String,
    pub client: DockerClient,
}

/// The source's handle on one follower; dropping it ends the follower.
pub struct Follower {
    attaches: mpsc::UnboundedSender<Attach>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Follower {
    pub fn spawn<E: From<LogEvent> + Send + 'static>(name: &str, tx: mpsc::Sender<E>) -> Self {
        let (attaches, rx) = mpsc::unbounded_channel();
        let source: Arc<str> = Arc::from(format!("container:{name}"));
        Self {
            attaches,
            task: tokio::spawn(follow(source, tx, rx)),
        }
    }

    /// Tells the follower a run of `id` may have started.
    pub fn attach(&self, id: &str, client: &DockerClient) {
        let _ = self.attaches.send(Attach {
            id: id.to_string(),
            client: client.clone(),
        });
    }
}

/// Which lines of a re-attached stream were shown already. The engine's
/// `since=` has whole-second precision on podman (and the stamps too), so
/// the follower keeps, for the second of the newest line shown, how many
/// times each line (stream + text) was shown in it; a replay of that second
/// consumes those counts, everything after it is new.
///
/// The counts belong to one container (by id): a container re-created under
/// the same name has a log of its own, all of it new, and its first lines
/// may repeat the old one's texts within the same second.
#[derive(Debug, Default)]
pub struct Overlap {
    /// The container whose lines were shown, once attached.
    id: Option<String>,
    /// The second of the newest line shown, if any.
    second: Option<i64>,
    /// Lines shown in `second`: hash → how many times.
    shown: HashMap<u64, usize>,
    /// While replaying after a re-attach: what is left to skip of `second`.
    replay: HashMap<u64, usize>,
}

impl Overlap {
    /// Where a re-attach starts (`since=`): the newest second shown.
    pub fn since(&self) -> Option<i64> {
        self.second
    }

    /// Where a stream of container `id` starts (`tail=`/`since=`):
    /// re-attached to the same container, at [`Overlap::since`]; another
    /// container under the name (re-created) from its beginning.
    pub fn start_at(&self, id: &str) -> String {
        match (&self.id, self.second) {
            (None, _) => format!("tail={PANE_LOG_TAIL}"),
            (Some(shown), Some(second)) if shown == id => format!("since={second}"),
            // Attached before but never saw a line of this run, or a
            // re-created container: all of its log is new.
            _ => "since=0".to_string(),
        }
    }

    /// The stream [`Overlap::start_at`] named is open: its first lines
    /// repeat what was shown of that second, if it is the same container.
    pub fn start_replay(&mut self, id: &str) {
        if self.id.as_deref() != Some(id) {
            *self = Self {
                id: Some(id.to_string()),
                ..Self::default()
            };
        }
        self.replay = self.shown.clone();
    }

    /// Whether a line (its second, a hash of stream and text) is new;
    /// records it when it is.
    pub fn admit(&mut self, second: Option<i64>, hash: u64) -> bool {
        let Some(second) = second else {
            // No timestamp: nothing to compare with; show it.
            return true;
        };
        match self.second {
            Some(newest) if second < newest => {
                // Late on the other stream of the run being followed (a
                // `since=` stream never repeats an older second): new, and
                // never replayed, so not recorded.
                return true;
            }
            Some(newest) if second == newest => {
                if let Some(left) = self.replay.get_mut(&hash)
                    && *left > 0
                {
                    *left -= 1;
                    return false;
                }
            }
            _ => {
                self.second = Some(second);
                self.shown.clear();
                // Past the replayed second: the rest of the stream is new.
                self.replay.clear();
            }
        }
        *self.shown.entry(hash).or_default() += 1;
        true
    }
}

fn line_hash(stream: LogStream, text: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (stream == LogStream::Stderr).hash(&mut hasher);
    text.hash(&mut hasher);
    hasher.finish()
}

/// How one attached stretch ended.
enum RunEnd {
    /// The loop is gone.
    Closed,
    /// A different container took the name (re-created): follow it now.
    Switch(Attach),
    /// The stream ended; `restarted`: a start was announced while it ran.
    Ended {
        why: String,
        restarted: bool,
        showed_lines: bool,
    },
}

async fn follow<E: From<LogEvent> + Send + 'static>(
    source: Arc<str>,
    tx: mpsc::Sender<E>,
    mut attaches: mpsc::UnboundedReceiver<Attach>,
) {
    let mut overlap = Overlap::default();
    while let Some(mut attach) = attaches.recv().await {
        let mut retry = RETRY_MIN;
        loop {
            // Several announcements queued: the newest one counts.
            while let Ok(newer) = attaches.try_recv() {
                attach = newer;
            }
            let end = run_once(&attach, &source, &mut overlap, &tx, &mut attaches).await;
            let (why, restarted, showed_lines) = match end {
                RunEnd::Closed => return,
                RunEnd::Switch(newer) => {
                    attach = newer;
                    continue;
                }
                RunEnd::Ended {
                    why,
                    restarted,
                    showed_lines,
                } => (why, restarted, showed_lines),
            };
            if showed_lines {
                retry = RETRY_MIN;
            }
            if restarted {
                continue;
            }
            match run_state(&attach).await {
                RunState::Running => {
                    let message = format!("reconnecting: {why}");
                    if !status(&tx, &source, SourceHealth::Degraded, message).await {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(retry) => {}
                        newer = attaches.recv() => match newer {
                            Some(newer) => attach = newer,
                            None => return,
                        },
                    }
                    retry = (retry * 2).min(RETRY_MAX);
                }
                RunState::Stopped(why) => {
                    // Waits for the next start.
                    if !status(&tx, &source, SourceHealth::Unavailable, why).await {
                        return;
                    }
                    break;
                }
                RunState::Unknown(why) => {
                    // The source re-attaches after it reconnects.
                    if !status(&tx, &source, SourceHealth::Degraded, why).await {
                        return;
                    }
                    break;
                }
            }
        }
    }
}

enum RunState {
    Running,
    /// Not running, and why (exit code, removed).
    Stopped(String),
    /// The engine could not say (it is away); the source re-attaches after
    /// it reconnects.
    Unknown(String),
}

async fn run_state(attach: &Attach) -> RunState {
    match attach
        .client
        .get_json::<Inspect>(&format!("/containers/{}/json", attach.id))
        .await
    {
        Ok(i) if i.state.running || i.state.status == "running" => RunState::Running,
        Ok(i) => {
            let oom = if i.state.oom_killed {
                ", OOM killed"
            } else {
                ""
            };
            let status = if i.state.status.is_empty() {
                "stopped"
            } else {
                i.state.status.as_str()
            };
            RunState::Stopped(format!(
                "ended: {status} (exit code {}{oom})",
                i.state.exit_code
            ))
        }
        Err(e) if e.is_not_found() => RunState::Stopped("ended: container removed".into()),
        Err(e) => RunState::Unknown(format!("reconnecting: engine away ({e})")),
    }
}

/// Attaches once and forwards lines until the stream ends.
async fn run_once<E: From<LogEvent> + Send + 'static>(
    attach: &Attach,
    source: &Arc<str>,
    overlap: &mut Overlap,
    tx: &mpsc::Sender<E>,
    attaches: &mut mpsc::UnboundedReceiver<Attach>,
) -> RunEnd {
    let ended = |why: String| RunEnd::Ended {
        why,
        restarted: false,
        showed_lines: false,
    };
    let tty = match attach
        .client
        .get_json::<Inspect>(&format!("/containers/{}/json", attach.id))
        .await
    {
        Ok(inspect) => inspect.config.tty,
        Err(e) => return ended(format!("inspect: {e}")),
    };
    let start = overlap.start_at(&attach.id);
    let path = format!(
        "/containers/{}/logs?follow=1&stdout=1&stderr=1&timestamps=1&{start}",
        attach.id
    );
    let mut stream = match attach.client.get_stream(&path).await {
        Ok(s) => s,
        Err(e) => return ended(format!("logs: {e}")),
    };
    overlap.start_replay(&attach.id);
    if !status(tx, source, SourceHealth::Live, "following".to_string()).await {
        return RunEnd::Closed;
    }
    let mut demux = LogDemux::new(tty);
    let mut restarted = false;
    let mut showed_lines = false;
    loop {
        let chunk = tokio::select! {
            chunk = stream.next_chunk() => chunk,
            newer = attaches.recv() => match newer {
                None => return RunEnd::Closed,
                Some(newer) if newer.id != attach.id => return RunEnd::Switch(newer),
                // The same container started again: this stream may still
                // be the old run's, so attach again when it ends.
                Some(_) => {
                    restarted = true;
                    continue;
                }
            },
        };
        let (raw, why) = match chunk {
            Some(Ok(bytes)) => (demux.push(&bytes), None),
            Some(Err(e)) => (demux.finish(), Some(e.to_string())),
            None => (demux.finish(), Some("the run ended".to_string())),
        };
        let now_nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        let lines: Vec<LogLine> = raw
            .into_iter()
            .filter(|l| overlap.admit(l.time, line_hash(l.stream, &l.text)))
            .map(|l| {
                LogLine::from_raw(
                    l.time_nanos.unwrap_or(now_nanos),
                    source.clone(),
                    None,
                    &l.text,
                )
            })
            .collect();
        if !lines.is_empty() {
            showed_lines = true;
            if tx.emit(LogEvent::Lines(lines)).await.is_err() {
                return RunEnd::Closed;
            }
        }
        if let Some(why) = why {
            return RunEnd::Ended {
                why,
                restarted,
                showed_lines,
            };
        }
    }
}

async fn status<E: From<LogEvent> + Send + 'static>(
    tx: &mpsc::Sender<E>,
    source: &str,
    health: SourceHealth,
    message: String,
) -> bool {
    crate::logs::send_status(tx, source, health, message).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_second_is_skipped_and_the_rest_shown() {
        let mut overlap = Overlap::default();
        assert_eq!(overlap.start_at("a"), "tail=50");
        overlap.start_replay("a");
        // First run: two lines in second 10, "a" twice in second 11.
        assert!(overlap.admit(Some(10), 1));
        assert!(overlap.admit(Some(10), 2));
        assert!(overlap.admit(Some(11), 3));
        assert!(overlap.admit(Some(11), 3));
        assert_eq!(overlap.since(), Some(11));
        // Re-attached with since=11: the engine repeats second 11.
        assert_eq!(overlap.start_at("a"), "since=11");
        overlap.start_replay("a");
        assert!(!overlap.admit(Some(11), 3));
        assert!(!overlap.admit(Some(11), 3));
        // The same text a third time in that second is a new line.
        assert!(overlap.admit(Some(11), 3));
        // A line of the same second that was not shown is new.
        assert!(overlap.admit(Some(11), 4));
        assert!(overlap.admit(Some(12), 3));
        // Once past the replayed second, a repeat of it is new again.
        assert!(overlap.admit(Some(12), 3));
    }

    #[test]
    fn a_recreated_container_is_new_from_its_first_line() {
        let mut overlap = Overlap::default();
        overlap.start_replay("old");
        // The old container wrote seq-1 and seq-2 in second 30 ...
        assert!(overlap.admit(Some(30), 1));
        assert!(overlap.admit(Some(30), 2));
        // ... and was removed; the new one under the name writes the same
        // texts in that same second: they are its own lines.
        assert_eq!(overlap.start_at("new"), "since=0");
        overlap.start_replay("new");
        assert!(overlap.admit(Some(30), 1));
        assert!(overlap.admit(Some(30), 2));
        // Re-attached to the new one, its own lines are the replay.
        assert_eq!(overlap.start_at("new"), "since=30");
        overlap.start_replay("new");
        assert!(!overlap.admit(Some(30), 1));
        assert!(!overlap.admit(Some(30), 2));
    }

    #[test]
    fn a_run_that_showed_nothing_is_read_from_its_start() {
        let mut overlap = Overlap::default();
        overlap.start_replay("a");
        assert_eq!(overlap.start_at("a"), "since=0");
    }

    #[test]
    fn late_lines_of_an_older_second_are_shown() {
        let mut overlap = Overlap::default();
        assert_eq!(overlap.start_at("a"), "tail=50");
        overlap.start_replay("a");
        assert!(overlap.admit(Some(20), 1));
        // A stderr line stamped a second earlier arrives late.
        assert!(overlap.admit(Some(19), 2));
        assert_eq!(overlap.since(), Some(20));
        overlap.start_replay("a");
        assert!(!overlap.admit(Some(20), 1));
        assert!(overlap.admit(Some(21), 5));
    }

    #[test]
    fn lines_without_a_time_are_always_shown() {
        let mut overlap = Overlap::default();
        assert_eq!(overlap.start_at("a"), "tail=50");
        overlap.start_replay("a");
        assert!(overlap.admit(None, 1));
        overlap.start_replay("a");
        assert!(overlap.admit(None, 1));
        assert_eq!(overlap.since(), None);
    }

    #[test]
    fn the_hash_tells_streams_and_texts_apart() {
        let out = line_hash(LogStream::Stdout, b"x");
        assert_eq!(out, line_hash(LogStream::Tty, b"x"));
        assert_ne!(out, line_hash(LogStream::Stderr, b"x"));
        assert_ne!(out, line_hash(LogStream::Stdout, b"y"));
    }
}
