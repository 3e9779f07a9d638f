//! The bounded, time-ordered store of log lines.

use std::collections::VecDeque;

use super::LogLine;

pub const DEFAULT_CAPACITY: usize = 50_000;

/// Lines of all sources in time order (equal times keep arrival order). When
/// full, the oldest lines drop and [`LogBuffer::dropped`] counts them.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    capacity: usize,
    dropped: u64,
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
    /// Returns the index it landed at, or `None` when it was older than
    /// everything in a full buffer (then it counts as dropped).
    pub fn push(&mut self, line: LogLine) -> Option<usize> {
        let at = match self.lines.back() {
            Some(last) if last.t > line.t => self.lines.partition_point(|l| l.t <= line.t),
            _ => self.lines.len(),
        };
        if self.lines.len() >= self.capacity {
            if at == 0 {
                self.dropped += 1;
                return None;
            }
            self.lines.pop_front();
            self.dropped += 1;
            self.lines.insert(at - 1, line);
            return Some(at - 1);
        }
        self.lines.insert(at, line);
        Some(at)
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
