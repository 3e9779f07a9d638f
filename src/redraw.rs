//! When the loop draws: what the operator did at once, what sources did with
//! the clock, and a fast log the operator is following at a bounded rate.
//!
//! Drawing the full cockpit is the largest cost of an idle second, and most
//! source events change what the eye cannot tell apart within a second (a
//! Netdata sample, a stats sample, one log line). So a source's change waits
//! for the next clock frame — the header's second changes once a second and
//! is drawn anyway — and every change that arrived meanwhile is drawn in that
//! one frame. A key, a mouse click, a resize and the gate's news (a proposal
//! waiting for approval, a command's result) are drawn at once.
//!
//! The exception is a log the operator is watching move: the focused Logs
//! pane (or a container's detail) following its newest line. Waiting a
//! second there shows a page of lines at once, so followed lines get a frame
//! of their own once [`FAST_LINES`] have arrived, but never sooner than
//! [`FAST_FRAME`] after the last frame: at most 10 frames a second however
//! fast the log runs, and a slow log (a line a second) still draws with the
//! clock only.
//!
//! The policy is pure (it is given the time), so it is tested without
//! clocks; the loop asks [`RedrawPolicy::due`] and sleeps until then.

use std::time::{Duration, Instant};

use crate::action::PaneId;
use crate::app::event::AppEvent;
use crate::app::state::State;
use crate::containers::DockerEvent;
use crate::logs::LogEvent;

/// Shortest time between two frames drawn for a followed log.
pub const FAST_FRAME: Duration = Duration::from_millis(100);

/// Followed lines that are worth a frame before the clock's.
pub const FAST_LINES: usize = 10;

/// What kind of change an input made, for deciding when to draw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The operator did something, or something the operator waits for
    /// happened: drawn at once.
    Urgent,
    /// The shown second changed: the frame every source change waits for.
    Clock,
    /// A source's data changed: drawn with the next clock frame.
    Source,
    /// This many new lines of the log the operator is following.
    FollowedLines(usize),
}

/// Remembers what is waiting to be drawn and says when to draw it.
#[derive(Debug, Clone, Default)]
pub struct RedrawPolicy {
    /// Something waits to be drawn.
    pending: bool,
    /// It should be drawn now, whenever the last frame was.
    now_due: bool,
    /// Followed lines since the last frame.
    followed_lines: usize,
    last_draw: Option<Instant>,
}

impl RedrawPolicy {
    /// The first frame is due at once.
    pub fn new() -> Self {
        Self {
            pending: true,
            now_due: true,
            ..Self::default()
        }
    }

    /// Records a change that altered the state (unchanged inputs are not
    /// reported).
    pub fn changed(&mut self, change: Change) {
        self.pending = true;
        match change {
            Change::Urgent | Change::Clock => self.now_due = true,
            Change::Source => {}
            Change::FollowedLines(lines) => {
                self.followed_lines = self.followed_lines.saturating_add(lines);
            }
        }
    }

    /// When the next frame should be drawn: `None` while nothing waits or
    /// what waits is left for the next clock frame; an instant not after
    /// `now` means draw now.
    pub fn due(&self, now: Instant) -> Option<Instant> {
        if !self.pending {
            return None;
        }
        if self.now_due {
            return Some(now);
        }
        if self.followed_lines >= FAST_LINES {
            return Some(match self.last_draw {
                Some(last) => (last + FAST_FRAME).max(now),
                None => now,
            });
        }
        None
    }

    /// Whether to draw at `now`.
    pub fn should_draw(&self, now: Instant) -> bool {
        self.due(now).is_some_and(|due| due <= now)
    }

    /// A frame was drawn at `now`: everything pending is on screen.
    pub fn drawn(&mut self, now: Instant) {
        self.pending = false;
        self.now_due = false;
        self.followed_lines = 0;
        self.last_draw = Some(now);
    }
}

/// How a source event that changed the state should be drawn, given what
/// the operator is looking at (`state` before the event is applied: it
/// consumes the event).
pub fn classify(state: &State, event: &AppEvent) -> Change {
    match event {
        // Proposals wait for the operator; results answer a key they pressed.
        AppEvent::Gate(_) => Change::Urgent,
        AppEvent::Connection(_) => Change::Urgent,
        AppEvent::Log(LogEvent::Lines(lines)) if following_logs(state) => {
            Change::FollowedLines(lines.len())
        }
        AppEvent::Docker(event) => classify_docker(state, event),
        // The chart of the alert the operator opened.
        AppEvent::Alerts(crate::metrics::AlertsEvent::Chart { .. }) => Change::Urgent,
        _ => Change::Source,
    }
}

fn classify_docker(state: &State, event: &DockerEvent) -> Change {
    let detail_open = state.containers.detail.is_some();
    match event {
        // The answer to Enter on a container.
        DockerEvent::Detail(_) | DockerEvent::DetailFailed { .. } => Change::Urgent,
        DockerEvent::Logs { lines, .. } if detail_open => Change::FollowedLines(lines.len()),
        _ => Change::Source,
    }
}

/// The focused Logs pane stays on its newest line.
fn following_logs(state: &State) -> bool {
    state.layout.focus == PaneId::Logs && state.logs.follow
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::GateEvent;
    use crate::logs::LogLine;

    fn at(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    /// A policy whose first frame was drawn at `start`.
    fn after_first_frame(start: Instant) -> RedrawPolicy {
        let mut policy = RedrawPolicy::new();
        assert!(
            policy.should_draw(start),
            "the first frame is drawn at once"
        );
        policy.drawn(start);
        policy
    }

    /// Plays `inputs` (time in ms, change; in time order) as the loop
    /// would — draw when a frame is due, else sleep until the deferred
    /// frame or the next input, whichever comes first — and returns when
    /// frames were drawn.
    fn frames(inputs: &[(u64, Change)]) -> Vec<u64> {
        let start = Instant::now();
        let millis = |t: Instant| t.duration_since(start).as_millis() as u64;
        let mut policy = after_first_frame(start);
        let mut drawn = Vec::new();
        let mut now = 0;
        let mut inputs = inputs.iter().peekable();
        loop {
            if policy.should_draw(at(start, now)) {
                policy.drawn(at(start, now));
                drawn.push(now);
            }
            let wake = policy.due(at(start, now)).map(millis);
            match (wake, inputs.peek()) {
                (Some(wake), Some((t, _))) if wake < *t => now = wake,
                (_, Some((t, change))) => {
                    now = *t;
                    policy.changed(*change);
                    inputs.next();
                }
                (Some(wake), None) => now = wake,
                (None, None) => return drawn,
            }
        }
    }

    #[test]
    fn source_events_within_a_second_make_one_frame_with_the_clock() {
        let inputs = [
            (10, Change::Source),
            (200, Change::Source),
            (450, Change::Source),
            (451, Change::FollowedLines(3)),
            (900, Change::Source),
            (1000, Change::Clock),
        ];
        assert_eq!(frames(&inputs), vec![1000]);
    }

    #[test]
    fn source_changes_alone_never_draw_before_the_clock() {
        let start = Instant::now();
        let mut policy = after_first_frame(start);
        policy.changed(Change::Source);
        assert_eq!(policy.due(at(start, 5_000)), None);
        policy.changed(Change::Clock);
        assert!(policy.should_draw(at(start, 5_000)));
    }

    #[test]
    fn a_key_draws_at_once_even_right_after_a_frame() {
        let inputs = [
            (1000, Change::Clock),
            (1001, Change::Urgent),
            (1002, Change::Urgent),
        ];
        assert_eq!(frames(&inputs), vec![1000, 1001, 1002]);
    }

    #[test]
    fn a_key_takes_pending_source_changes_with_it() {
        let start = Instant::now();
        let mut policy = after_first_frame(start);
        policy.changed(Change::Source);
        policy.changed(Change::Urgent);
        assert!(policy.should_draw(at(start, 300)));
        policy.drawn(at(start, 300));
        // Nothing left for the clock frame to do but the clock.
        assert_eq!(policy.due(at(start, 301)), None);
    }

    #[test]
    fn the_clock_draws_only_when_it_changed_something() {
        let start = Instant::now();
        let policy = after_first_frame(start);
        assert_eq!(policy.due(at(start, 1000)), None);
    }

    #[test]
    fn a_fast_followed_log_draws_at_a_bounded_rate() {
        // 1000 lines a second in batches of 10 every 10 ms, for 2 seconds.
        let inputs: Vec<(u64, Change)> = (1..=200)
            .map(|i| (i * 10, Change::FollowedLines(10)))
            .collect();
        let drawn = frames(&inputs);
        assert!(
            drawn.windows(2).all(|w| w[1] - w[0] >= 100),
            "frames at least FAST_FRAME apart: {drawn:?}"
        );
        // Not starved either: about 10 frames a second.
        assert!(drawn.len() >= 18, "{drawn:?}");
    }

    #[test]
    fn a_slow_followed_log_waits_for_the_clock() {
        // Three containers logging a line a second each.
        let inputs = [
            (100, Change::FollowedLines(1)),
            (400, Change::FollowedLines(1)),
            (700, Change::FollowedLines(1)),
            (1000, Change::Clock),
            (1100, Change::FollowedLines(1)),
            (2000, Change::Clock),
        ];
        assert_eq!(frames(&inputs), vec![1000, 2000]);
    }

    #[test]
    fn a_followed_burst_draws_once_enough_lines_arrived() {
        let start = Instant::now();
        let mut policy = after_first_frame(start);
        policy.changed(Change::FollowedLines(FAST_LINES - 1));
        assert_eq!(policy.due(at(start, 500)), None);
        policy.changed(Change::FollowedLines(1));
        assert!(policy.should_draw(at(start, 500)));
        // Right after a frame it waits out FAST_FRAME.
        policy.drawn(at(start, 500));
        policy.changed(Change::FollowedLines(FAST_LINES));
        assert_eq!(policy.due(at(start, 520)), Some(at(start, 600)));
    }

    #[test]
    fn events_are_classified_by_what_the_operator_looks_at() {
        let mut state = crate::testing::fixture_state("dark");
        state.layout.focus = PaneId::Metrics;
        state.logs.follow = true;
        let line = LogLine::from_raw(0, "container:web".into(), None, b"x");
        let lines = || AppEvent::Log(LogEvent::Lines(vec![line.clone(); 4]));
        assert_eq!(
            classify(&state, &lines()),
            Change::Source,
            "Logs not focused"
        );
        state.layout.focus = PaneId::Logs;
        assert_eq!(classify(&state, &lines()), Change::FollowedLines(4));
        state.logs.follow = false;
        assert_eq!(classify(&state, &lines()), Change::Source, "paused");
        let gate = AppEvent::Gate(GateEvent::Error("x".into()));
        assert_eq!(classify(&state, &gate), Change::Urgent);
        let detail_failed = AppEvent::Docker(DockerEvent::DetailFailed {
            id: "a".into(),
            message: "m".into(),
        });
        assert_eq!(classify(&state, &detail_failed), Change::Urgent);
        let stats = AppEvent::Docker(DockerEvent::Removed { id: "a".into() });
        assert_eq!(classify(&state, &stats), Change::Source);
    }
}
