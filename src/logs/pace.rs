//! The skip policy of one log source: stay within `max_lag` of the present,
//! keep the newest lines, count what was skipped, and measure how fast the
//! source writes.
//!
//! Only a flooding source (at least [`FLOOD_RATE`] lines/s) is skipped: a quiet
//! one's old lines are history (the tail a stream starts with) or late
//! because the loop was busy with a flood, and skipping them would save
//! nothing; when such a source is over the bound the flow says `behind`.
//!
//! A reader that cannot keep up with a flooding source would otherwise fall
//! further behind every second, and its late lines would be filed among the
//! oldest of the time-ordered ring and evicted at once — the one source on
//! fire would never reach the screen. So the reader asks [`Pace::admit`] for
//! every line it reads: a line older than `max_lag` is skipped (cheaply, before
//! it is made inert or sent) and counted. When skipping alone does not bring
//! the reader back within the bound for `max_lag` (reading the bytes is what
//! is slow), [`Pace::should_reopen`] tells it to re-open its stream at the
//! present; the lines of the gap are never read, so they are counted from the
//! source's own rate ([`Pace::mark_gap`]).
//!
//! The rate is measured in the source's time, from the line stamps: how many
//! lines were stamped with the last whole second read. It is what the source
//! wrote, even while the reader is behind.

use std::time::Duration;

const NANOS: i64 = 1_000_000_000;

/// Lines per second from which a source floods: its lines over the bound
/// are skipped, and the pane leads with it.
pub const FLOOD_RATE: u64 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// Older than the bound: counted, not shown.
    Skip,
}

/// What a source's reader reports about its flow, once a second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flow {
    /// Lines the source wrote in its last whole second.
    pub lines_per_s: u64,
    /// Lines skipped since the cockpit started (some of them counted from
    /// the rate, when the stream was re-opened at the present).
    pub skipped: u64,
    /// Of `skipped`, the lines counted from the rate across re-opens at
    /// the present: never read, so an estimate.
    pub gap_skipped: u64,
    /// Lines kept (sent to the pane) since the cockpit started.
    pub kept: u64,
    /// How far the newest line read lies behind the present, milliseconds.
    pub lag_ms: u64,
    /// Lagging more than the bound right now.
    pub behind: bool,
    /// `lines_per_s` comes from a second not read whole (the reader
    /// re-opened inside it, or it is still being read): the source wrote at
    /// least that many. A storm faster than the reader is only ever seen so.
    pub at_least: bool,
    /// The rate at each of the last [`RECENT`] reports, oldest first: the
    /// status row's sparkline, so a storming source shows at a glance.
    pub recent: [u64; RECENT],
}

/// How many once-a-second rates a flow carries for its sparkline.
pub const RECENT: usize = 8;

#[derive(Debug, Clone)]
pub struct Pace {
    max_lag: i64,
    skipped: u64,
    /// Of `skipped`, counted from the rate (see [`Flow::gap_skipped`]).
    gap_skipped: u64,
    kept: u64,
    /// The source-time second being counted, and its lines so far.
    second: Option<i64>,
    in_second: u64,
    /// Lines of the last whole second counted.
    rate: u64,
    /// Lines of the second counted before this one, even when it was not
    /// read from its start: at least the rate, known a second sooner.
    previous: u64,
    /// The second being counted was not read whole (a stream opened,
    /// re-opened or ended in it): it does not make a rate.
    partial_second: bool,
    /// A stream (re-)started: the second its first line lands in is
    /// partial, and so is the one the last stream left off in.
    stream_restarted: bool,
    /// Time of the newest line read, and how far it was behind then.
    last_t: Option<i64>,
    lag: i64,
    /// Since when (reader's clock) lines have been over the bound.
    behind_since: Option<i64>,
    /// The stream was re-opened at the present: the next line read closes
    /// the gap, whose lines are counted from the rate.
    gap_from: Option<i64>,
    /// The rates sampled by [`Pace::sample`], oldest first, and the second
    /// (reader's clock) of the newest.
    recent: [u64; RECENT],
    sampled_at: Option<i64>,
}

impl Pace {
    pub fn new(max_lag: Duration) -> Pace {
        Pace {
            max_lag: i64::try_from(max_lag.as_nanos()).unwrap_or(i64::MAX).max(1),
            skipped: 0,
            gap_skipped: 0,
            kept: 0,
            second: None,
            in_second: 0,
            rate: 0,
            previous: 0,
            partial_second: true,
            stream_restarted: false,
            last_t: None,
            lag: 0,
            behind_since: None,
            gap_from: None,
            recent: [0; RECENT],
            sampled_at: None,
        }
    }

    /// Records the rate as of `now` for the sparkline: one sample per
    /// second of the reader's clock; seconds no report was made in (the
    /// reader waited on a quiet stream) count as quiet.
    pub fn sample(&mut self, now: i64) {
        let second = now.div_euclid(NANOS);
        let rate = self.flow_rate(now).0;
        let shift = match self.sampled_at {
            Some(at) if second <= at => 0,
            Some(at) => usize::try_from(second - at).unwrap_or(RECENT).min(RECENT),
            None => RECENT,
        };
        if shift > 0 {
            self.recent.rotate_left(shift);
            self.recent[RECENT - shift..].fill(0);
        }
        self.recent[RECENT - 1] = rate;
        self.sampled_at = Some(second);
    }

    /// Decides one line stamped `t` (UTC nanoseconds), read at `now`.
    pub fn admit(&mut self, t: i64, now: i64) -> Verdict {
        if let Some(from) = self.gap_from.take()
            && t > from
        {
            let gap = u64::try_from((t - from) / NANOS).unwrap_or(0);
            let unread = self.lines_per_s().saturating_mul(gap);
            self.skipped += unread;
            self.gap_skipped += unread;
        }
        self.count(t);
        self.last_t = Some(self.last_t.map_or(t, |last| last.max(t)));
        self.lag = (now - t).max(0);
        if self.lag > self.max_lag {
            self.behind_since.get_or_insert(now);
            if self.floods() {
                self.skipped += 1;
                return Verdict::Skip;
            }
        } else {
            self.behind_since = None;
        }
        self.kept += 1;
        Verdict::Keep
    }

    /// Skipping has not brought the reader back within the bound for as
    /// long as the bound: reading itself is too slow, re-open at the present.
    pub fn should_reopen(&self, now: i64) -> bool {
        self.floods()
            && self
                .behind_since
                .is_some_and(|since| now - since >= self.max_lag)
    }

    /// Lines per second as known now: the last whole second, or the one
    /// being counted when it already holds more (a storm's first second).
    fn lines_per_s(&self) -> u64 {
        self.rate.max(self.previous).max(self.in_second)
    }

    fn floods(&self) -> bool {
        self.lines_per_s() >= FLOOD_RATE
    }

    /// A new stream starts: its first second is read from wherever it
    /// starts, so it does not make a rate.
    pub fn stream_started(&mut self) {
        self.stream_restarted = true;
    }

    /// The stream is re-opened at the present: the lines between the newest
    /// one read and the first of the new stream will be counted as skipped.
    pub fn mark_gap(&mut self) {
        self.gap_from = self.last_t;
        self.behind_since = None;
        self.stream_restarted = true;
    }

    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The flow as of `now`. A source that went quiet decays to its real
    /// rate: its last counted second is spread over the seconds since.
    pub fn flow(&self, now: i64) -> Flow {
        let (lines_per_s, at_least) = self.flow_rate(now);
        Flow {
            lines_per_s,
            skipped: self.skipped,
            gap_skipped: self.gap_skipped,
            kept: self.kept,
            lag_ms: u64::try_from(self.lag / 1_000_000).unwrap_or(0),
            behind: self.behind_since.is_some(),
            at_least,
            recent: self.recent,
        }
    }

    /// The rate as of `now`, and whether it is only a lower bound (it comes
    /// from a second not read whole, see [`Flow::at_least`]).
    fn flow_rate(&self, now: i64) -> (u64, bool) {
        let lines_per_s = self.lines_per_s();
        if let Some(second) = self.second {
            let quiet_for = now.div_euclid(NANOS) - second;
            if quiet_for >= 2 && self.behind_since.is_none() {
                return (lines_per_s.min(self.in_second / quiet_for as u64), false);
            }
        }
        (lines_per_s, lines_per_s > self.rate)
    }

    fn count(&mut self, t: i64) {
        let second = t.div_euclid(NANOS);
        // The first line of a (re-)opened stream: the second it lands in
        // was not read from its start (a tail, `since=`), and the one the
        // last stream left off in was not read to its end. Neither makes a
        // rate: a re-open at the present (a 50-line tail) would otherwise
        // make the next rate ~50 lines/s short of the storm's.
        let restarted = std::mem::take(&mut self.stream_restarted);
        match self.second {
            Some(current) if second > current => {
                // Seconds without a line count as quiet ones.
                let span = u64::try_from(second - current).unwrap_or(1).max(1);
                self.previous = self.in_second / span;
                if !self.partial_second && !restarted {
                    self.rate = self.previous;
                }
                self.partial_second = restarted;
                self.second = Some(second);
                self.in_second = 1;
            }
            // The same second, or a late line of an earlier second (the
            // other stream): counted in the second being counted, which is
            // close enough.
            Some(_) => {
                self.in_second += 1;
                self.partial_second |= restarted;
            }
            None => {
                self.second = Some(second);
                self.in_second = 1;
                self.partial_second = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = NANOS;
    const T0: i64 = 1_800_000_000 * S;

    fn pace() -> Pace {
        Pace::new(Duration::from_secs(2))
    }

    /// `n` lines stamped evenly within second `second` after T0.
    fn flood(p: &mut Pace, second: i64, n: i64, now: i64) -> (u64, u64) {
        let (mut kept, mut skipped) = (0, 0);
        for i in 0..n {
            match p.admit(T0 + second * S + i * (S / n), now) {
                Verdict::Keep => kept += 1,
                Verdict::Skip => skipped += 1,
            }
        }
        (kept, skipped)
    }

    #[test]
    fn a_flood_over_the_bound_is_skipped_and_counted_until_current_again() {
        let mut p = pace();
        // 3000 lines of one second read 5 s late: once the count shows a
        // flood (the 1000th line), the rest are skipped.
        assert_eq!(flood(&mut p, 0, 3000, T0 + 5 * S), (999, 2001));
        assert_eq!(p.skipped(), 2001);
        let flow = p.flow(T0 + 5 * S);
        assert!(flow.behind);
        assert_eq!(flow.lag_ms, 4000);
        // Caught up: kept again, no longer behind, the count stays.
        assert_eq!(flood(&mut p, 4, 2000, T0 + 5 * S), (2000, 0));
        let flow = p.flow(T0 + 5 * S);
        assert!(!flow.behind);
        assert_eq!(flow.skipped, 2001);
        assert_eq!(flow.kept, 2999);
    }

    #[test]
    fn a_quiet_source_is_never_skipped_only_said_to_be_behind() {
        let mut p = pace();
        // The tail a stream starts with, a minute old, and a line the busy
        // loop let wait 3 s.
        assert_eq!(p.admit(T0, T0 + 60 * S), Verdict::Keep);
        assert_eq!(p.admit(T0 + 57 * S, T0 + 60 * S), Verdict::Keep);
        assert!(p.flow(T0 + 60 * S).behind);
        assert!(!p.should_reopen(T0 + 70 * S));
        assert_eq!(p.admit(T0 + 60 * S, T0 + 60 * S), Verdict::Keep);
        assert!(!p.flow(T0 + 60 * S).behind);
        assert_eq!(p.skipped(), 0);
    }

    #[test]
    fn a_reader_that_stays_behind_for_the_bound_is_told_to_reopen() {
        let mut p = pace();
        flood(&mut p, 0, 2000, T0 + 5 * S);
        assert!(!p.should_reopen(T0 + 6 * S));
        flood(&mut p, 1, 2000, T0 + 7 * S);
        assert!(p.should_reopen(T0 + 7 * S));
        p.mark_gap();
        assert!(!p.should_reopen(T0 + 7 * S));
    }

    #[test]
    fn the_rate_is_lines_per_second_of_the_source_even_while_behind() {
        let mut p = pace();
        // The first second is read from the middle: not a rate.
        flood(&mut p, 0, 500, T0 + 10 * S);
        flood(&mut p, 1, 2000, T0 + 10 * S);
        flood(&mut p, 2, 2000, T0 + 10 * S);
        p.admit(T0 + 3 * S, T0 + 10 * S);
        let flow = p.flow(T0 + 10 * S);
        assert_eq!(flow.lines_per_s, 2000);
        assert_eq!(flow.skipped + flow.kept, 4501);
    }

    #[test]
    fn a_rate_from_a_second_not_read_whole_is_marked_as_a_lower_bound() {
        let mut p = pace();
        flood(&mut p, 0, 500, T0 + S);
        flood(&mut p, 1, 2000, T0 + 2 * S);
        flood(&mut p, 2, 2000, T0 + 3 * S);
        p.admit(T0 + 3 * S, T0 + 3 * S);
        // Second 2 was read whole: an exact rate.
        let flow = p.flow(T0 + 3 * S);
        assert_eq!((flow.lines_per_s, flow.at_least), (2000, false));
        // Re-opened at the present: second 4, read from where the new stream
        // starts and not to its end yet, already holds 5000 lines.
        p.mark_gap();
        flood(&mut p, 4, 5000, T0 + 4 * S);
        let flow = p.flow(T0 + 4 * S);
        assert_eq!((flow.lines_per_s, flow.at_least), (5000, true));
    }

    #[test]
    fn the_sparkline_keeps_one_rate_a_second_and_fills_quiet_seconds() {
        let mut p = pace();
        flood(&mut p, 0, 1000, T0);
        flood(&mut p, 1, 3000, T0 + S);
        p.sample(T0 + S);
        // Sampled again in the same second: the newest sample is replaced.
        p.sample(T0 + S + S / 2);
        assert_eq!(p.flow(T0 + S).recent, [0, 0, 0, 0, 0, 0, 0, 3000]);
        // Three seconds without a report: two quiet samples, then the rate
        // decayed over the quiet seconds.
        p.sample(T0 + 4 * S);
        assert_eq!(p.flow(T0 + 4 * S).recent, [0, 0, 0, 0, 3000, 0, 0, 1000]);
        // Longer away than the sparkline is wide: only the newest remains,
        // the last second's lines spread over the 99 quiet ones.
        p.sample(T0 + 100 * S);
        assert_eq!(p.flow(T0 + 100 * S).recent, [0, 0, 0, 0, 0, 0, 0, 30]);
    }

    #[test]
    fn the_gap_of_a_reopened_stream_is_counted_from_the_rate() {
        let mut p = pace();
        flood(&mut p, 0, 1000, T0 + 5 * S);
        flood(&mut p, 1, 1000, T0 + 5 * S);
        p.admit(T0 + 2 * S, T0 + 5 * S);
        assert_eq!(p.flow(T0 + 5 * S).lines_per_s, 1000);
        let before = p.skipped();
        p.mark_gap();
        // The re-opened stream starts 10 s after the newest line read.
        assert_eq!(p.admit(T0 + 12 * S, T0 + 12 * S), Verdict::Keep);
        assert_eq!(p.skipped(), before + 10 * 1000);
        // Only once, and the re-opened stream's first second makes no rate.
        p.admit(T0 + 12 * S, T0 + 12 * S);
        assert_eq!(p.skipped(), before + 10 * 1000);
        assert_eq!(p.flow(T0 + 12 * S).lines_per_s, 1000);
    }

    /// bench/log-storm once showed kept + skipped (97k/s) over the rate
    /// (58k/s): each re-open at the present starts with a 50-line tail, and
    /// the second that tail lands in was taken for a whole one, so the rate
    /// fell to about the tail's count until the reader finished the next
    /// second — which a reader behind spends seconds in — and a re-open
    /// then counted its gap from that.
    #[test]
    fn a_stream_reopened_mid_second_keeps_the_rate_of_whole_seconds() {
        let mut p = pace();
        for second in 0..3 {
            flood(&mut p, second, 2000, T0 + 10 * S);
        }
        p.admit(T0 + 3 * S, T0 + 10 * S);
        assert_eq!(p.flow(T0 + 10 * S).lines_per_s, 2000);
        p.mark_gap();
        // The re-opened stream: a 50-line tail of second 10 ...
        flood(&mut p, 10, 50, T0 + 10 * S);
        let gap = p.flow(T0 + 10 * S).gap_skipped;
        assert_eq!(
            gap,
            7 * 2000,
            "seconds 3..10 counted from the whole-second rate"
        );
        // ... then second 11 begins: the tail's second made no rate.
        p.admit(T0 + 11 * S, T0 + 11 * S);
        assert_eq!(p.flow(T0 + 11 * S).lines_per_s, 2000);
        // Re-opened again before second 11 is over: the gap is counted
        // from that rate too.
        p.mark_gap();
        p.admit(T0 + 15 * S, T0 + 15 * S);
        assert_eq!(p.flow(T0 + 15 * S).gap_skipped, gap + 4 * 2000);
    }

    #[test]
    fn a_quiet_source_decays_to_its_real_rate() {
        let mut p = pace();
        p.admit(T0, T0);
        p.admit(T0 + S, T0 + S);
        assert_eq!(p.flow(T0 + S).lines_per_s, 1);
        assert_eq!(p.flow(T0 + 11 * S).lines_per_s, 0);
        assert_eq!(p.flow(T0 + 11 * S).lag_ms, 0);
    }
}
