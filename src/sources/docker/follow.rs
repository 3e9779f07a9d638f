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
//!
//! A flooding container is kept current by [`Pace`]: lines older than
//! `max_lag` are skipped before they are made inert or sent (and counted),
//! and a stream that stays behind anyway is re-opened at the present
//! (`tail=`), its gap counted from the container's rate. The follower
//! reports that [`crate::logs::Flow`] once a second.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::api::{Inspect, LogDemux, Stamps};
use super::client::DockerClient;
use crate::channel::Emit;
use crate::containers::LogStream;
use crate::logs::{Flow, LogEvent, LogLine, Pace, SourceHealth};

/// Lines of a container's log the Logs pane starts with.
pub const PANE_LOG_TAIL: usize = 50;
/// First wait before re-attaching to a running container whose stream
/// ended; doubles up to [`RETRY_MAX`] while attaching brings nothing.
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// How often the follower reports its flow (rate, skipped, lag).
const FLOW_EVERY: Duration = Duration::from_secs(1);

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
    /// `max_lag`: how far behind the present the follower may fall before
    /// it skips lines (`[logs] max_lag`).
    pub fn spawn<E: From<LogEvent> + Send + 'static>(
        name: &str,
        max_lag: Duration,
        tx: mpsc::Sender<E>,
    ) -> Self {
        let (attaches, rx) = mpsc::unbounded_channel();
        let source: Arc<str> = Arc::from(format!("container:{name}"));
        Self {
            attaches,
            task: tokio::spawn(follow(source, Memory::new(Pace::new(max_lag)), tx, rx)),
        }
    }

    /// Like [`Follower::spawn`], but the first stream reads the container's
    /// whole log (`since=0`) instead of its tail: for bench/log-ingest, which
    /// measures how fast a long log comes in.
    pub fn spawn_from_start<E: From<LogEvent> + Send + 'static>(
        name: &str,
        max_lag: Duration,
        tx: mpsc::Sender<E>,
    ) -> Self {
        let (attaches, rx) = mpsc::unbounded_channel();
        let source: Arc<str> = Arc::from(format!("container:{name}"));
        let mut memory = Memory::new(Pace::new(max_lag));
        memory.from_start = true;
        Self {
            attaches,
            task: tokio::spawn(follow(source, memory, tx, rx)),
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
    /// Lines shown in the newest two seconds: (second, hash) → how many
    /// times.
    shown: HashMap<(i64, u64), usize>,
    /// While a re-attached stream replays: what is left to skip of the
    /// lines shown ...
    replay: HashMap<(i64, u64), usize>,
    /// ... the oldest second it may bring (an older line is one shown long
    /// ago: podman now and then sends a run's whole log despite `since=`) ...
    replay_from: Option<i64>,
    /// ... and the second after which the replay is over.
    replay_until: Option<i64>,
    /// Lines recorded in the newest second, and the newest second that had
    /// more than [`OVERLAP_PER_SECOND`] (recording stopped there).
    recorded_in_second: usize,
    full_second: Option<i64>,
}

/// Lines of one second the overlap records, at most: a flood's seconds
/// (100 000 lines) would cost a hash entry per line and a `retain` over two
/// seconds of them every second. A second past the bound cannot be
/// replayed, so a re-attach then starts at the present instead (which needs
/// no replay: [`Overlap::needs_present`]).
pub const OVERLAP_PER_SECOND: usize = crate::logs::pace::FLOOD_RATE as usize;

impl Overlap {
    /// The newest second shown.
    pub fn since(&self) -> Option<i64> {
        self.second
    }

    /// Where a stream of container `id` starts (`tail=`/`since=`):
    /// re-attached to the same container, a second before the newest line
    /// shown (podman's stream of a run that ends can miss that run's last
    /// lines; the re-attach brings them); another container under the name
    /// (re-created) from its beginning.
    pub fn start_at(&self, id: &str) -> String {
        match (&self.id, self.second) {
            (None, _) => format!("tail={PANE_LOG_TAIL}"),
            (Some(shown), Some(second)) if shown == id => format!("since={}", second - 1),
            // Attached before but never saw a line of this run, or a
            // re-created container: all of its log is new.
            _ => "since=0".to_string(),
        }
    }

    /// The stream [`Overlap::start_at`] named is open: its first lines
    /// repeat what was shown of those two seconds, if it is the same
    /// container.
    pub fn start_replay(&mut self, id: &str) {
        if self.id.as_deref() != Some(id) {
            *self = Self {
                id: Some(id.to_string()),
                ..Self::default()
            };
        }
        self.replay = self.shown.clone();
        self.replay_from = self.second.map(|s| s - 1);
        self.replay_until = self.second;
    }

    /// The stream just started is a tail re-opened at the present: what it
    /// brings from before the newest second was shown or counted as the gap
    /// (and of the newest second too, when it was not recorded whole).
    pub fn only_newer(&mut self) {
        self.replay_from = match self.second {
            Some(second) if self.full_second == Some(second) => Some(second + 1),
            newest => newest,
        };
    }

    /// Whether a re-attach to container `id` must start at the present:
    /// one of the seconds a replay covers was not recorded whole (a flood).
    pub fn needs_present(&self, id: &str) -> bool {
        self.id.as_deref() == Some(id)
            && self
                .full_second
                .zip(self.second)
                .is_some_and(|(full, newest)| full >= newest - 1)
    }

    /// Whether a line (its second, a hash of stream and text) is new;
    /// records it when it is.
    pub fn admit(&mut self, second: Option<i64>, hash: u64) -> bool {
        let Some(second) = second else {
            // No timestamp: nothing to compare with; show it.
            return true;
        };
        if let Some(until) = self.replay_until {
            if second > until {
                // Past the replayed seconds: the rest of the stream is new.
                self.replay.clear();
                self.replay_from = None;
                self.replay_until = None;
            } else if self.replay_from.is_some_and(|from| second < from) {
                return false;
            } else if let Some(left) = self.replay.get_mut(&(second, hash))
                && *left > 0
            {
                *left -= 1;
                return false;
            }
        }
        match self.second {
            // Late on the other stream (stderr behind stdout), older than
            // any replay reaches: new, and not recorded.
            Some(newest) if second < newest - 1 => return true,
            Some(newest) if second <= newest => {}
            _ => {
                self.second = Some(second);
                self.recorded_in_second = 0;
                self.shown.retain(|(s, _), _| *s >= second - 1);
            }
        }
        if self.second == Some(second) {
            if self.recorded_in_second >= OVERLAP_PER_SECOND {
                self.full_second = Some(second);
                return true;
            }
            self.recorded_in_second += 1;
        }
        *self.shown.entry((second, hash)).or_default() += 1;
        true
    }
}

/// A hash of stream and text for [`Overlap`]: FNV-1a over 8-byte words, as
/// it runs for every line of a storm (SipHash cost more than the rest of
/// the line's way); only compared within this process.
fn line_hash(stream: LogStream, text: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(stream == LogStream::Stderr);
    let mut words = text.chunks_exact(8);
    for word in words.by_ref() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        hash = (hash ^ u64::from_le_bytes(bytes)).wrapping_mul(PRIME);
    }
    for b in words.remainder() {
        hash = (hash ^ u64::from(*b)).wrapping_mul(PRIME);
    }
    (hash ^ text.len() as u64).wrapping_mul(PRIME)
}

/// How one attached stretch ended.
enum RunEnd {
    /// The loop is gone.
    Closed,
    /// A different container took the name (re-created): follow it now.
    Switch(Attach),
    /// The stream fell behind for good: re-open it at the present.
    Reopen,
    /// The stream ended; `restarted`: a start was announced while it ran.
    Ended {
        why: String,
        restarted: bool,
        showed_lines: bool,
    },
}

/// What a follower keeps across the streams it attaches.
struct Memory {
    overlap: Overlap,
    pace: Pace,
    /// The next stream starts at the present, not where the last one ended.
    at_present: bool,
    /// The flow last reported, so an unchanged one is not sent again.
    reported: Option<Flow>,
    /// The first stream reads the whole log (the bench's way in).
    from_start: bool,
}

impl Memory {
    fn new(pace: Pace) -> Self {
        Self {
            overlap: Overlap::default(),
            pace,
            at_present: false,
            reported: None,
            from_start: false,
        }
    }
}

async fn follow<E: From<LogEvent> + Send + 'static>(
    source: Arc<str>,
    mut memory: Memory,
    tx: mpsc::Sender<E>,
    mut attaches: mpsc::UnboundedReceiver<Attach>,
) {
    while let Some(mut attach) = attaches.recv().await {
        let mut retry = RETRY_MIN;
        loop {
            // Several announcements queued: the newest one counts.
            while let Ok(newer) = attaches.try_recv() {
                attach = newer;
            }
            let end = run_once(&attach, &source, &mut memory, &tx, &mut attaches).await;
            let (why, restarted, showed_lines) = match end {
                RunEnd::Closed => return,
                RunEnd::Switch(newer) => {
                    attach = newer;
                    continue;
                }
                RunEnd::Reopen => {
                    memory.pace.mark_gap();
                    memory.at_present = true;
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

/// Attaches once and forwards lines until the stream ends (or falls behind
/// for good).
async fn run_once<E: From<LogEvent> + Send + 'static>(
    attach: &Attach,
    source: &Arc<str>,
    memory: &mut Memory,
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
    if !memory.at_present && memory.overlap.needs_present(&attach.id) {
        // A flood's seconds were not all recorded: a replay could not tell
        // shown lines from new ones. Start at the present, the gap counted.
        memory.pace.mark_gap();
        memory.at_present = true;
    }
    let start = if memory.at_present {
        // Behind for good: the newest lines, the gap is counted by `Pace`.
        format!("tail={PANE_LOG_TAIL}")
    } else if memory.from_start {
        "since=0".to_string()
    } else {
        memory.overlap.start_at(&attach.id)
    };
    let path = format!(
        "/containers/{}/logs?follow=1&stdout=1&stderr=1&timestamps=1&{start}",
        attach.id
    );
    let mut stream = match attach.client.get_stream(&path).await {
        Ok(s) => s,
        Err(e) => return ended(format!("logs: {e}")),
    };
    let at_present = std::mem::take(&mut memory.at_present);
    memory.from_start = false;
    memory.overlap.start_replay(&attach.id);
    if at_present {
        // The tail of a stream re-opened at the present reaches back into
        // what was shown or counted as the gap: only newer lines are new.
        memory.overlap.only_newer();
    }
    memory.pace.stream_started();
    if !status(tx, source, SourceHealth::Live, "following".to_string()).await {
        return RunEnd::Closed;
    }
    let mut reader = StreamReader::new(tty);
    let mut restarted = false;
    let mut showed_lines = false;
    let mut flow_timer = tokio::time::interval(FLOW_EVERY);
    flow_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let chunk = tokio::select! {
            chunk = stream.next_chunk() => chunk,
            _ = flow_timer.tick() => {
                if !crate::logs::send_flow(tx, source, &mut memory.pace, &mut memory.reported).await {
                    return RunEnd::Closed;
                }
                if memory.pace.should_reopen(now_nanos()) {
                    return RunEnd::Reopen;
                }
                continue;
            }
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
        let now = now_nanos();
        let (lines, why) = match chunk {
            Some(Ok(bytes)) => (reader.chunk(source, memory, now, &bytes), None),
            Some(Err(e)) => (reader.finish(source, memory, now), Some(e.to_string())),
            None => (
                reader.finish(source, memory, now),
                Some("the run ended".to_string()),
            ),
        };
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
        if memory.pace.should_reopen(now) {
            return RunEnd::Reopen;
        }
    }
}

/// One stream's way from bytes to lines to show: frames, stamps, then per
/// line the overlap (already shown?) and the pace (too late?), and only
/// then made inert. One call per chunk: the chunk's lines go to the loop as
/// one event.
struct StreamReader {
    demux: LogDemux,
    stamps: Stamps,
}

impl StreamReader {
    fn new(tty: bool) -> Self {
        Self {
            demux: LogDemux::new(tty),
            stamps: Stamps::default(),
        }
    }

    fn chunk(
        &mut self,
        source: &Arc<str>,
        memory: &mut Memory,
        now: i64,
        bytes: &[u8],
    ) -> Vec<LogLine> {
        let mut lines = Vec::new();
        let stamps = &mut self.stamps;
        self.demux.push_each(bytes, &mut |stream, raw| {
            if let Some(line) = admit(source, memory, stamps, now, stream, raw) {
                lines.push(line);
            }
        });
        lines
    }

    fn finish(&mut self, source: &Arc<str>, memory: &mut Memory, now: i64) -> Vec<LogLine> {
        let mut lines = Vec::new();
        let stamps = &mut self.stamps;
        self.demux.finish_each(&mut |stream, raw| {
            if let Some(line) = admit(source, memory, stamps, now, stream, raw) {
                lines.push(line);
            }
        });
        lines
    }
}

/// The follower's ingest path without a stream, for the benchmark
/// (`benches/logs.rs`): chunks of a log body in, lines to show out.
pub struct Ingest {
    source: Arc<str>,
    memory: Memory,
    reader: StreamReader,
}

impl Ingest {
    pub fn new(name: &str, tty: bool, max_lag: Duration) -> Self {
        Self {
            source: Arc::from(format!("container:{name}")),
            memory: Memory::new(Pace::new(max_lag)),
            reader: StreamReader::new(tty),
        }
    }

    /// The lines of `bytes` the pane gets, as read at `now` (UTC nanos).
    pub fn chunk(&mut self, bytes: &[u8], now: i64) -> Vec<LogLine> {
        self.reader
            .chunk(&self.source, &mut self.memory, now, bytes)
    }

    pub fn flow(&self, now: i64) -> Flow {
        self.memory.pace.flow(now)
    }
}

/// One raw line through the overlap (already shown?) and the pace (too
/// late?): the line to show, made inert, or `None`.
fn admit(
    source: &Arc<str>,
    memory: &mut Memory,
    stamps: &mut Stamps,
    now: i64,
    stream: LogStream,
    raw: &[u8],
) -> Option<LogLine> {
    let (nanos, text) = stamps.split(raw);
    let second = nanos.map(|n| n.div_euclid(1_000_000_000));
    if !memory.overlap.admit(second, line_hash(stream, text)) {
        return None;
    }
    let t = nanos.unwrap_or(now);
    match memory.pace.admit(t, now) {
        crate::logs::pace::Verdict::Skip => None,
        crate::logs::pace::Verdict::Keep => Some(LogLine::from_raw(t, source.clone(), None, text)),
    }
}

fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
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
        // Re-attached a second back: the engine repeats seconds 10 and 11.
        assert_eq!(overlap.start_at("a"), "since=10");
        overlap.start_replay("a");
        assert!(!overlap.admit(Some(10), 1));
        assert!(!overlap.admit(Some(10), 2));
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
        assert_eq!(overlap.start_at("new"), "since=29");
        overlap.start_replay("new");
        assert!(!overlap.admit(Some(30), 1));
        assert!(!overlap.admit(Some(30), 2));
    }

    #[test]
    fn a_stream_reopened_at_the_present_shows_only_newer_lines() {
        let mut overlap = Overlap::default();
        overlap.start_replay("a");
        for second in 10..=12 {
            assert!(overlap.admit(Some(second), 1));
        }
        overlap.start_replay("a");
        overlap.only_newer();
        // The tail reaches back: older seconds were shown or counted.
        assert!(!overlap.admit(Some(11), 9));
        // The newest second shown is replayed as usual ...
        assert!(!overlap.admit(Some(12), 1));
        assert!(overlap.admit(Some(12), 2));
        // ... and once past it, a late line of the other stream is new.
        assert!(overlap.admit(Some(13), 3));
        assert!(overlap.admit(Some(12), 4));
    }

    #[test]
    fn a_reattach_brings_what_the_ended_stream_missed() {
        let mut overlap = Overlap::default();
        overlap.start_replay("a");
        // seq-46, seq-47 in second 49; the stream of the ending run missed
        // seq-48 and seq-49 and brought seq-50 of the next run (second 50).
        assert!(overlap.admit(Some(49), 46));
        assert!(overlap.admit(Some(49), 47));
        assert!(overlap.admit(Some(50), 50));
        assert_eq!(overlap.start_at("a"), "since=49");
        overlap.start_replay("a");
        assert!(!overlap.admit(Some(49), 46));
        assert!(!overlap.admit(Some(49), 47));
        assert!(overlap.admit(Some(49), 48));
        assert!(overlap.admit(Some(49), 49));
        assert!(!overlap.admit(Some(50), 50));
        assert!(overlap.admit(Some(51), 51));
    }

    #[test]
    fn a_reattach_that_sends_the_whole_log_again_shows_none_of_it_twice() {
        let mut overlap = Overlap::default();
        overlap.start_replay("a");
        for (second, line) in [(10, 1), (20, 2), (30, 3)] {
            assert!(overlap.admit(Some(second), line));
        }
        overlap.start_replay("a");
        // The engine ignored `since=29`.
        for (second, line) in [(10, 1), (20, 2), (30, 3)] {
            assert!(!overlap.admit(Some(second), line));
        }
        assert!(overlap.admit(Some(31), 4));
        // Past the replay, a late line of the other stream is shown.
        assert!(overlap.admit(Some(30), 5));
    }

    #[test]
    fn a_flood_is_recorded_only_up_to_the_bound_per_second() {
        let mut overlap = Overlap::default();
        overlap.start_replay("a");
        let bound = OVERLAP_PER_SECOND as u64;
        // Ten seconds of a 20k lines/s storm: every line is shown ...
        for second in 50..60 {
            for line in 0..20_000 {
                assert!(overlap.admit(Some(second), line));
            }
            // ... and at most the bound of each of the two newest seconds
            // is kept for a replay.
            assert!(overlap.shown.len() <= 2 * OVERLAP_PER_SECOND);
        }
        assert!(overlap.needs_present("a"));
        // A re-created container under the name is read from its start.
        assert!(!overlap.needs_present("b"));
        // A quiet second after the flood: the flooded one is still within
        // a replay's reach.
        assert!(overlap.admit(Some(60), bound + 1));
        assert!(overlap.needs_present("a"));
        // Two quiet seconds on, a replay covers only whole seconds again.
        assert!(overlap.admit(Some(61), bound + 2));
        assert!(!overlap.needs_present("a"));
        overlap.start_replay("a");
        assert!(!overlap.admit(Some(60), bound + 1));
        assert!(!overlap.admit(Some(61), bound + 2));
        assert!(overlap.admit(Some(61), bound + 3));
    }

    #[test]
    fn a_reopen_at_the_present_after_a_flood_drops_its_unrecorded_second() {
        let mut overlap = Overlap::default();
        overlap.start_replay("a");
        for line in 0..(OVERLAP_PER_SECOND as u64 + 10) {
            assert!(overlap.admit(Some(10), line));
        }
        overlap.start_replay("a");
        overlap.only_newer();
        // A line of second 10 past the bound was shown but not recorded:
        // the tail's lines of that second are all dropped, not doubled.
        assert!(!overlap.admit(Some(10), OVERLAP_PER_SECOND as u64 + 5));
        assert!(!overlap.admit(Some(10), 0));
        assert!(overlap.admit(Some(11), 0));
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

    fn memory() -> Memory {
        Memory::new(Pace::new(Duration::from_secs(2)))
    }

    fn stamped(nanos: i64, text: &str) -> Vec<u8> {
        let time = chrono::DateTime::from_timestamp_nanos(nanos);
        format!(
            "{} {text}",
            time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        )
        .into_bytes()
    }

    /// A storm read late: what is older than the bound is skipped before it
    /// is made inert and counted; the current lines are kept in order.
    #[test]
    fn late_lines_are_skipped_and_counted_current_ones_kept() {
        let source: Arc<str> = Arc::from("container:storm");
        let mut memory = memory();
        let mut stamps = Stamps::default();
        let now = 1_800_000_010 * 1_000_000_000;
        let mut kept = Vec::new();
        for i in 0..9000_i64 {
            // From 9 s behind up to the present, 1000 lines a second.
            let t = now - 9_000_000_000 + i * 1_000_000;
            let raw = stamped(t, &format!("line {i}"));
            if let Some(line) = admit(
                &source,
                &mut memory,
                &mut stamps,
                now,
                LogStream::Stdout,
                &raw,
            ) {
                kept.push(line);
            }
        }
        // The first 999 lines, before the count shows a flood, then those at
        // most 2 s old: i ≥ 7000.
        assert_eq!(kept.len(), 999 + 2000);
        assert_eq!(kept[998].text, "line 998");
        assert_eq!(kept[999].text, "line 7000");
        assert_eq!(memory.pace.skipped(), 7000 - 999);
        assert!(kept.windows(2).all(|w| w[0].t <= w[1].t));
        let flow = memory.pace.flow(now);
        assert_eq!(flow.skipped, 6001);
        assert!(!flow.behind);
    }

    #[test]
    fn the_hash_tells_streams_and_texts_apart() {
        let out = line_hash(LogStream::Stdout, b"x");
        assert_eq!(out, line_hash(LogStream::Tty, b"x"));
        assert_ne!(out, line_hash(LogStream::Stderr, b"x"));
        assert_ne!(out, line_hash(LogStream::Stdout, b"y"));
    }
}
