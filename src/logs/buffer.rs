//! The bounded, time-ordered store of log lines.
//!
//! When full, a line leaves from the source that holds the most lines (its
//! oldest one), not simply the oldest line of all: a flooding source then
//! churns through its own share while the quiet ones keep theirs, and a line
//! of the flood that arrives a little late (up to the reader's `max_lag`, see
//! [`super::pace`]) is filed among its own source's older lines, never
//! evicted the moment it arrives.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::LogLine;

pub const DEFAULT_CAPACITY: usize = 50_000;

/// Lines of all sources in time order (equal times keep arrival order). When
/// full, the oldest line of the largest source drops and
/// [`LogBuffer::dropped`] counts it.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    capacity: usize,
    dropped: u64,
    /// Lines held per source, to find the largest when full.
    per_source: HashMap<Arc<str>, usize>,
}

impl Default for LogBuffer {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl LogBuffer {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            // Grows as lines come; a mostly idle pane stays small.
            lines: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
            dropped: 0,
            per_source: HashMap::new(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Lines dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn get(&self, i: usize) -> Option<&LogLine> {
        self.lines.get(i)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &LogLine> + ExactSizeIterator {
        self.lines.iter()
    }

    /// Adds one line at its place in time. Lines usually come in order, so
    /// this is an append; a late line is inserted before the newer ones.
    /// When full, the largest source's oldest line makes room. Returns the
    /// index it landed at, or `None` when it would itself be that line (it
    /// is older than everything its source has here; counted as dropped).
    pub fn push(&mut self, line: LogLine) -> Option<usize> {
        let mut at = match self.lines.back() {
            Some(last) if last.t > line.t => self.lines.partition_point(|l| l.t <= line.t),
            _ => self.lines.len(),
        };
        if self.lines.len() >= self.capacity {
            let evict = self.eviction_index(&line.source);
            if let Some(i) = evict
                && i >= at
                && *self.lines[i].source == *line.source
            {
                // The new line would be its source's oldest: it goes.
                self.dropped += 1;
                return None;
            }
            let i = evict.unwrap_or(0);
            if let Some(gone) = self.lines.remove(i) {
                self.forget(&gone.source);
            }
            self.dropped += 1;
            if i < at {
                at -= 1;
            }
        }
        *self.per_source.entry(line.source.clone()).or_default() += 1;
        self.lines.insert(at, line);
        Some(at)
    }

    /// The oldest line of the source holding the most lines. Ties go to the
    /// source of the new line, so a lone source behaves as a plain ring.
    fn eviction_index(&self, incoming: &Arc<str>) -> Option<usize> {
        let front = self.lines.front()?;
        let count = |s: &Arc<str>| self.per_source.get(s).copied().unwrap_or(0);
        let own = count(incoming) + 1;
        let (largest, most) = self
            .per_source
            .iter()
            .map(|(s, n)| (s, *n))
            .max_by_key(|(_, n)| *n)?;
        let largest = if own >= most { incoming } else { largest };
        if *front.source == **largest {
            return Some(0);
        }
        self.lines.iter().position(|l| *l.source == **largest)
    }

    fn forget(&mut self, source: &Arc<str>) {
        if let Some(n) = self.per_source.get_mut(source) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(source);
            }
        }
    }

    pub fn extend(&mut self, lines: impl IntoIterator<Item = LogLine>) {
        for line in lines {
            self.push(line);
        }
    }

    /// Bytes this buffer holds (line structs plus their heap text), for the
    /// memory benchmark.
    pub fn approx_bytes(&self) -> usize {
        self.lines.capacity() * std::mem::size_of::<LogLine>()
            + self.lines.iter().map(|l| l.text.capacity()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn line(t: i64, text: &str) -> LogLine {
        LogLine {
            t,
            source: Arc::from("s"),
            level: None,
            text: text.to_string(),
        }
    }

    fn texts(b: &LogBuffer) -> Vec<&str> {
        b.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn keeps_time_order_with_late_and_equal_times() {
        let mut b = LogBuffer::new(10);
        b.push(line(10, "a"));
        b.push(line(30, "c"));
        b.push(line(20, "b"));
        b.push(line(20, "b2"));
        b.push(line(30, "c2"));
        b.push(line(5, "first"));
        assert_eq!(texts(&b), ["first", "a", "b", "b2", "c", "c2"]);
    }

    #[test]
    fn drops_oldest_when_full_and_counts() {
        let mut b = LogBuffer::new(3);
        for t in 0..5 {
            b.push(line(t, &t.to_string()));
        }
        assert_eq!(texts(&b), ["2", "3", "4"]);
        assert_eq!(b.dropped(), 2);
        // Older than everything kept: dropped at once.
        assert_eq!(b.push(line(0, "old")), None);
        assert_eq!(b.dropped(), 3);
        // Late but within the window: oldest goes, it goes in its place.
        b.push(line(3, "late"));
        assert_eq!(texts(&b), ["3", "late", "4"]);
        assert_eq!(b.dropped(), 4);
        assert_eq!(b.len(), 3);
    }

    #[test]
    fn zero_capacity_is_one() {
        let mut b = LogBuffer::new(0);
        b.push(line(1, "x"));
        b.push(line(2, "y"));
        assert_eq!(texts(&b), ["y"]);
    }
}
