//! Ring buffers of per-second points. Memory is bounded by construction:
//! each series keeps at most `capacity` points (10 minutes by default).

use std::collections::{BTreeMap, VecDeque};

use super::Unit;

/// Ten minutes of per-second history.
pub const HISTORY_SECONDS: usize = 600;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Unix time in seconds.
    pub t: i64,
    pub v: f64,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub unit: Unit,
    points: VecDeque<Point>,
    capacity: usize,
}

impl Series {
    pub fn new(unit: Unit, capacity: usize) -> Self {
        Self {
            unit,
            points: VecDeque::with_capacity(capacity.min(64)),
            capacity: capacity.max(1),
        }
    }

    /// Adds a point. A point at the same second replaces the last one; a
    /// point older than the last one means the source restarted its clock
    /// (e.g. Netdata restarted): the history is dropped rather than drawn
    /// out of order.
    pub fn push(&mut self, t: i64, v: f64) {
        if !v.is_finite() {
            return;
        }
        if let Some(last) = self.points.back_mut() {
            if t == last.t {
                last.v = v;
                return;
            }
            if t < last.t {
                self.points.clear();
            }
        }
        if self.points.len() == self.capacity {
            self.points.pop_front();
        } else if self.points.len() == self.points.capacity() {
            // Grow straight to the final size instead of doubling past it
            // (600 points would otherwise take room for 1024).
            let room = (self.points.capacity() * 2).min(self.capacity) - self.points.len();
            self.points.reserve_exact(room);
        }
        self.points.push_back(Point { t, v });
    }

    pub fn latest(&self) -> Option<Point> {
        self.points.back().copied()
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Points with `t > now - seconds`, oldest first.
    pub fn window(&self, now: i64, seconds: i64) -> impl Iterator<Item = Point> + '_ {
        let from = now - seconds;
        // Points are time-ordered: skip the old ones without scanning them all.
        let start = self.points.partition_point(|p| p.t <= from);
        self.points.range(start..).copied()
    }

    /// (min, max) of the values in the window, if any.
    pub fn min_max(&self, now: i64, seconds: i64) -> Option<(f64, f64)> {
        self.window(now, seconds).fold(None, |acc, p| match acc {
            None => Some((p.v, p.v)),
            Some((lo, hi)) => Some((lo.min(p.v), hi.max(p.v))),
        })
    }
}

/// Every series the cockpit holds, by name.
#[derive(Debug, Clone)]
pub struct SeriesStore {
    series: BTreeMap<String, Series>,
    capacity: usize,
    /// Bumped by every change: what was drawn from an equal generation is
    /// still true (the charts' cache key).
    generation: u64,
}

impl Default for SeriesStore {
    fn default() -> Self {
        Self::new(HISTORY_SECONDS)
    }
}

impl SeriesStore {
    pub fn new(capacity: usize) -> Self {
        Self {
            series: BTreeMap::new(),
            capacity,
            generation: 0,
        }
    }

    pub fn push(&mut self, name: &str, unit: Unit, t: i64, v: f64) {
        self.generation += 1;
        match self.series.get_mut(name) {
            Some(series) => series.push(t, v),
            None => {
                let mut series = Series::new(unit, self.capacity);
                series.push(t, v);
                self.series.insert(name.to_string(), series);
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&Series> {
        self.series.get(name)
    }

    pub fn latest(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|s| s.latest()).map(|p| p.v)
    }

    /// Names starting with `prefix`, in order.
    pub fn names_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.series
            .range(prefix.to_string()..)
            .take_while(move |(name, _)| name.starts_with(prefix))
            .map(|(name, _)| name.as_str())
    }

    /// Drops every series (used when the live source changes and old points
    /// would mix two sources' views of the host).
    pub fn clear(&mut self) {
        self.generation += 1;
        self.series.clear();
    }

    /// Changes so far (see the field).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_only_capacity_points() {
        let mut s = Series::new(Unit::Percent, 3);
        for t in 0..10 {
            s.push(t, t as f64);
        }
        assert_eq!(s.len(), 3);
        assert_eq!(
            s.window(9, 100).map(|p| p.t).collect::<Vec<_>>(),
            vec![7, 8, 9]
        );
    }

    #[test]
    fn same_second_replaces_and_going_back_resets() {
        let mut s = Series::new(Unit::Percent, 10);
        s.push(5, 1.0);
        s.push(5, 2.0);
        assert_eq!(s.len(), 1);
        assert_eq!(s.latest().map(|p| p.v), Some(2.0));
        s.push(3, 7.0);
        assert_eq!(s.len(), 1);
        assert_eq!(s.latest(), Some(Point { t: 3, v: 7.0 }));
    }

    #[test]
    fn full_ring_holds_no_more_room_than_its_capacity() {
        let mut s = Series::new(Unit::Percent, HISTORY_SECONDS);
        for t in 0..2000 {
            s.push(t, 1.0);
        }
        assert_eq!(s.len(), HISTORY_SECONDS);
        assert!(
            s.points.capacity() < HISTORY_SECONDS + 64,
            "{}",
            s.points.capacity()
        );
    }

    #[test]
    fn non_finite_values_are_ignored() {
        let mut s = Series::new(Unit::Percent, 10);
        s.push(1, f64::NAN);
        s.push(2, f64::INFINITY);
        assert!(s.is_empty());
    }

    #[test]
    fn window_and_min_max() {
        let mut s = Series::new(Unit::Percent, 100);
        for t in 0..60 {
            s.push(t, (t % 7) as f64);
        }
        assert_eq!(s.window(59, 10).count(), 10);
        assert_eq!(s.min_max(59, 3), Some((1.0, 3.0)));
        assert_eq!(s.min_max(200, 10), None);
    }

    #[test]
    fn prefix_lookup() {
        let mut store = SeriesStore::new(10);
        store.push("cpu.core.0", Unit::Percent, 1, 1.0);
        store.push("cpu.core.1", Unit::Percent, 1, 1.0);
        store.push("cpu.total", Unit::Percent, 1, 1.0);
        let cores: Vec<_> = store.names_with_prefix("cpu.core.").collect();
        assert_eq!(cores, vec!["cpu.core.0", "cpu.core.1"]);
    }
}
