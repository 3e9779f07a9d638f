//! The skip policy of one log source: stay within `max_lag` of the present,
//! keep the newest lines, count what was skipped, and measure how fast the
//! source writes.
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
    /// Lines kept (sent to the pane) since the cockpit started.
    pub kept: u64,
    /// How far the newest line read lies behind the present, milliseconds.
    pub lag_ms: u64,
    /// Lagging more than the bound right now.
    pub behind: bool,
}

#[derive(Debug, Clone)]
pub struct Pace {
    max_lag: i64,
    skipped: u64,
    kept: u64,
    /// The source-time second being counted, and its lines so far.
    second: Option<i64>,
    in_second: u64,
    /// Lines of the last whole second counted.
    rate: u64,
    /// Time of the newest line read, and how far it was behind then.
    last_t: Option<i64>,
    lag: i64,
    /// Since when (reader's clock) lines have been over the bound.
    behind_since: Option<i64>,
    /// The stream was re-opened at the present: the next line read closes
    /// the gap, whose lines are counted from the rate.
    gap_from: Option<i64>,
}

impl Pace {
    pub fn new(max_lag: Duration) -> Pace {
        Pace {
            max_lag: i64::try_from(max_lag.as_nanos()).unwrap_or(i64::MAX).max(1),
            skipped: 0,
            kept: 0,
            second: None,
            in_second: 0,
            rate: 0,
            last_t: None,
            lag: 0,
            behind_since: None,
            gap_from: None,
        }
    }

    /// Decides one line stamped `t` (UTC nanoseconds), read at `now`.
    pub fn admit(&mut self, t: i64, now: i64) -> Verdict {
        if let Some(from) = self.gap_from.take()
            && t > from
        {
            let gap = u64::try_from((t - from) / NANOS).unwrap_or(0);
            self.skipped += self.rate.saturating_mul(gap);
        }
        self.count(t);
        self.last_t = Some(self.last_t.map_or(t, |last| last.max(t)));
        self.lag = (now - t).max(0);
        if self.lag > self.max_lag {
            self.behind_since.get_or_insert(now);
            self.skipped += 1;
            return Verdict::Skip;
        }
        self.behind_since = None;
        self.kept += 1;
        Verdict::Keep
    }

    /// Skipping has not brought the reader back within the bound for as
    /// long as the bound: reading itself is too slow, re-open at the present.
    pub fn should_reopen(&self, now: i64) -> bool {
        self.behind_since
            .is_some_and(|since| now - since >= self.max_lag)
    }

    /// The stream is re-opened at the present: the lines between the newest
    /// one read and the first of the new stream will be counted as skipped.
    pub fn mark_gap(&mut self) {
        self.gap_from = self.last_t;
        self.behind_since = None;
    }

    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The flow as of `now`. A source that went quiet decays to its real
    /// rate: its last counted second is spread over the seconds since.
    pub fn flow(&self, now: i64) -> Flow {
        let mut lines_per_s = self.rate;
        if let Some(second) = self.second {
            let quiet_for = now.div_euclid(NANOS) - second;
            if quiet_for >= 2 && self.behind_since.is_none() {
                lines_per_s = lines_per_s.min(self.in_second / quiet_for as u64);
            }
        }
        Flow {
            lines_per_s,
            skipped: self.skipped,
            kept: self.kept,
            lag_ms: u64::try_from(self.lag / 1_000_000).unwrap_or(0),
            behind: self.behind_since.is_some(),
        }
    }

    fn count(&mut self, t: i64) {
        let second = t.div_euclid(NANOS);
        match self.second {
            Some(current) if second == current => self.in_second += 1,
            Some(current) if second > current => {
                let span = u64::try_from(second - current).unwrap_or(1).max(1);
                self.rate = self.in_second / span;
                self.second = Some(second);
                self.in_second = 1;
            }
            // A late line of an earlier second (the other stream): counted
            // in the second being counted, which is close enough.
            Some(_) => self.in_second += 1,
            None => {
                self.second = Some(second);
                self.in_second = 1;
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

    #[test]
    fn lines_within_the_bound_are_kept_older_ones_skipped_and_counted() {
        let mut p = pace();
        assert_eq!(p.admit(T0, T0 + S), Verdict::Keep);
        assert_eq!(p.admit(T0, T0 + 2 * S), Verdict::Keep);
        assert_eq!(p.admit(T0, T0 + 2 * S + 1), Verdict::Skip);
        assert_eq!(p.admit(T0 + S, T0 + 4 * S), Verdict::Skip);
        assert_eq!(p.skipped(), 2);
        let flow = p.flow(T0 + 4 * S);
        assert!(flow.behind);
        assert_eq!(flow.lag_ms, 3000);
        // Caught up: kept again, no longer behind, the count stays.
        assert_eq!(p.admit(T0 + 3 * S, T0 + 4 * S), Verdict::Keep);
        let flow = p.flow(T0 + 4 * S);
        assert!(!flow.behind);
        assert_eq!(flow.skipped, 2);
        assert_eq!(flow.lag_ms, 1000);
    }

    #[test]
    fn a_reader_that_stays_behind_for_the_bound_is_told_to_reopen() {
        let mut p = pace();
        assert_eq!(p.admit(T0, T0 + 5 * S), Verdict::Skip);
        assert!(!p.should_reopen(T0 + 6 * S));
        assert_eq!(p.admit(T0 + S, T0 + 6 * S), Verdict::Skip);
        assert!(p.should_reopen(T0 + 7 * S));
        p.mark_gap();
        assert!(!p.should_reopen(T0 + 7 * S));
    }

    #[test]
    fn the_rate_is_lines_per_second_of_the_source_even_while_behind() {
        let mut p = pace();
        for i in 0..300 {
            // 100 lines in each of three seconds, read 10 s late.
            let t = T0 + (i / 100) * S + (i % 100) * 1000;
            p.admit(t, T0 + 10 * S);
        }
        p.admit(T0 + 3 * S, T0 + 10 * S);
        let flow = p.flow(T0 + 10 * S);
        assert_eq!(flow.lines_per_s, 100);
        assert_eq!(flow.skipped, 301);
    }

    #[test]
    fn the_gap_of_a_reopened_stream_is_counted_from_the_rate() {
        let mut p = pace();
        for i in 0..2000 {
            p.admit(T0 + (i / 1000) * S + i, T0 + 5 * S);
        }
        p.admit(T0 + 2 * S, T0 + 5 * S);
        assert_eq!(p.flow(T0 + 5 * S).lines_per_s, 1000);
        let before = p.skipped();
        p.mark_gap();
        // The re-opened stream starts 10 s after the newest line read.
        assert_eq!(p.admit(T0 + 12 * S, T0 + 12 * S), Verdict::Keep);
        assert_eq!(p.skipped(), before + 10 * 1000);
        // Only once.
        p.admit(T0 + 12 * S, T0 + 12 * S);
        assert_eq!(p.skipped(), before + 10 * 1000);
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
