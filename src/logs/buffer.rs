//! The bounded, time-ordered store of log lines.
//!
//! When full, a line leaves from the source that holds the most lines (its
//! oldest one), not simply the oldest line of all: a flooding source then
//! churns through its own share while the quiet ones keep theirs, and a line
//! of the flood that arrives a little late (up to the reader's `max_lag`, see
//! [`super::pace`]) is filed among its own source's older lines, never
//! evicted the moment it arrives.

use std::collections::VecDeque;
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
    /// Lines held per source, to find the largest when full. A list, not a
    /// map: sources are few, and a storm's lines share one `Arc`, so the
    /// lookup is a pointer compare where a map hashed the name three times
    /// per line.
    per_source: Vec<(Arc<str>, usize)>,
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
            per_source: Vec::new(),
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
        match self.slot(&line.source) {
            Some(i) => self.per_source[i].1 += 1,
            None => self.per_source.push((line.source.clone(), 1)),
        }
        self.lines.insert(at, line);
        Some(at)
    }

    /// The oldest line of the source holding the most lines. Ties go to the
    /// source of the new line, so a lone source behaves as a plain ring.
    fn eviction_index(&self, incoming: &Arc<str>) -> Option<usize> {
        let front = self.lines.front()?;
        let count = |s: &Arc<str>| self.slot(s).map_or(0, |i| self.per_source[i].1);
        let own = count(incoming) + 1;
        let (largest, most) = self
            .per_source
            .iter()
            .map(|(s, n)| (s, *n))
            .max_by_key(|(_, n)| *n)?;
        let largest = if own >= most { incoming } else { largest };
        if Arc::ptr_eq(&front.source, largest) || *front.source == **largest {
            return Some(0);
        }
        self.lines.iter().position(|l| *l.source == **largest)
    }

    /// Where `source` is counted in `per_source`.
    fn slot(&self, source: &Arc<str>) -> Option<usize> {
        self.per_source
            .iter()
            .position(|(s, _)| Arc::ptr_eq(s, source) || **s == **source)
    }

    fn forget(&mut self, source: &Arc<str>) {
        if let Some(i) = self.slot(source) {
            self.per_source[i].1 -= 1;
            if self.per_source[i].1 == 0 {
                self.per_source.swap_remove(i);
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

    fn from(source: &str, t: i64, text: &str) -> LogLine {
        LogLine {
            t,
            source: Arc::from(source),
            level: None,
            text: text.to_string(),
        }
    }

    /// The storm: a flood arrives up to the reader's lag bound late,
    /// behind a quiet source's current lines. Before, a full ring filed the
    /// late lines among the oldest and evicted them at once.
    #[test]
    fn late_lines_of_a_flood_are_kept_and_the_quiet_source_keeps_its_share() {
        let mut b = LogBuffer::new(100);
        for t in 0..10 {
            b.push(from("quiet", t * 1000 + 999, &format!("q{t}")));
        }
        // 1000 storm lines, each ~1.5 s behind the quiet source's newest.
        for i in 0..1000 {
            let landed = b.push(from("storm", i, &format!("s{i}")));
            assert!(landed.is_some(), "storm line {i} evicted on arrival");
        }
        assert_eq!(b.len(), 100);
        let storm: Vec<&str> = b
            .iter()
            .filter(|l| &*l.source == "storm")
            .map(|l| l.text.as_str())
            .collect();
        // The newest storm lines are kept, in order.
        assert_eq!(storm.len(), 90);
        assert_eq!(storm.first(), Some(&"s910"));
        assert_eq!(storm.last(), Some(&"s999"));
        // Every quiet line is still there.
        assert_eq!(b.iter().filter(|l| &*l.source == "quiet").count(), 10);
        assert!(b.iter().zip(b.iter().skip(1)).all(|(a, c)| a.t <= c.t));
        assert_eq!(b.dropped(), 910);
    }

    #[test]
    fn a_line_older_than_all_of_its_own_source_in_a_full_ring_is_dropped() {
        let mut b = LogBuffer::new(4);
        b.push(from("a", 10, "a10"));
        b.push(from("a", 20, "a20"));
        b.push(from("a", 30, "a30"));
        b.push(from("b", 15, "b15"));
        // A line of "b" older than everything: the largest source, "a",
        // makes room.
        assert_eq!(b.push(from("b", 1, "b1")), Some(0));
        assert_eq!(texts(&b), ["b1", "b15", "a20", "a30"]);
        // "a" is the largest; its new line would be its oldest: dropped.
        assert_eq!(b.push(from("a", 5, "a5")), None);
        assert_eq!(texts(&b), ["b1", "b15", "a20", "a30"]);
        assert_eq!(b.dropped(), 2);
    }

    #[test]
    fn zero_capacity_is_one() {
        let mut b = LogBuffer::new(0);
        b.push(line(1, "x"));
        b.push(line(2, "y"));
        assert_eq!(texts(&b), ["y"]);
    }
}
