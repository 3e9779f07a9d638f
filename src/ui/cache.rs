//! What drawing may keep between frames, without changing any frame.
//!
//! The Metrics charts are the costliest block of a frame (braille canvases
//! of up to 600 points per line). Their cells depend only on the series
//! store, the shown second, the window, the CPU count, the theme, whether
//! the pane is maximised, and the area; [`ChartsKey`] holds exactly these
//! (the store by its generation, bumped on every change). A frame whose key
//! equals the last one copies the cells drawn then instead of building the
//! charts again from the rings — a key pressed, or a followed log's frames
//! within the same second. Anything else draws fresh, so a cached frame is
//! the frame [`super::draw`] would draw (tested in `tests` below).

use ratatui::Frame;
use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::Rect;

use crate::app::state::State;
use crate::config::theme::Theme;

/// Kept by the event loop across frames; `Default` is empty.
#[derive(Debug, Default)]
pub struct FrameCache {
    charts: Option<CachedCells<ChartsKey>>,
    /// Frames whose charts came from the cache (for tests and benches).
    pub chart_hits: u64,
}

/// Everything the Metrics charts are drawn from.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartsKey {
    area: Rect,
    store_generation: u64,
    now: i64,
    window_secs: i64,
    cpu_count: Option<usize>,
    maximised: bool,
    theme: Theme,
}

impl ChartsKey {
    pub fn of(state: &State, area: Rect) -> Self {
        Self {
            area,
            store_generation: state.metrics.store.generation(),
            now: state.now,
            window_secs: state.metrics.window_secs,
            cpu_count: state.metrics.cpu_count,
            maximised: state.layout.maximised,
            theme: state.theme.clone(),
        }
    }
}

#[derive(Debug)]
struct CachedCells<K> {
    key: K,
    cells: Vec<Cell>,
}

impl FrameCache {
    /// Draws the charts into `key.area` with `draw`, or copies what the
    /// same key drew last time.
    pub fn charts(&mut self, frame: &mut Frame, key: ChartsKey, draw: impl FnOnce(&mut Frame)) {
        if let Some(cached) = &self.charts
            && cached.key == key
        {
            restore(frame.buffer_mut(), key.area, &cached.cells);
            self.chart_hits += 1;
            return;
        }
        draw(frame);
        let cells = save(frame.buffer_mut(), key.area);
        self.charts = Some(CachedCells { key, cells });
    }
}

/// The cells of `area` (clipped to the buffer), row by row.
fn save(buf: &Buffer, area: Rect) -> Vec<Cell> {
    let area = area.intersection(buf.area);
    let mut cells = Vec::with_capacity(usize::from(area.width) * usize::from(area.height));
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            cells.push(buf.cell((x, y)).cloned().unwrap_or_default());
        }
    }
    cells
}

fn restore(buf: &mut Buffer, area: Rect, cells: &[Cell]) {
    let area = area.intersection(buf.area);
    let positions =
        (area.top()..area.bottom()).flat_map(|y| (area.left()..area.right()).map(move |x| (x, y)));
    for ((x, y), cell) in positions.zip(cells) {
        if let Some(target) = buf.cell_mut((x, y)) {
            target.clone_from(cell);
        }
    }
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::metrics::Unit;

    fn fresh(state: &State, w: u16, h: u16) -> Buffer {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        terminal
            .draw(|frame| crate::ui::draw(frame, state))
            .expect("draw");
        terminal.backend().buffer().clone()
    }

    fn cached(
        terminal: &mut Terminal<TestBackend>,
        state: &State,
        cache: &mut FrameCache,
    ) -> Buffer {
        terminal
            .draw(|frame| crate::ui::draw_cached(frame, state, cache))
            .expect("draw");
        terminal.backend().buffer().clone()
    }

    fn populated(w: u16, h: u16) -> State {
        let mut state = crate::testing::populated_state("dark");
        crate::app::update::resize(&mut state, w, h);
        state
    }

    #[test]
    fn a_cached_frame_equals_a_fresh_one() {
        let (w, h) = (200, 60);
        let mut state = populated(w, h);
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        let mut cache = FrameCache::default();
        assert_eq!(
            cached(&mut terminal, &state, &mut cache),
            fresh(&state, w, h)
        );
        assert_eq!(cache.chart_hits, 0, "the first frame draws the charts");
        // Same data, another frame (a key pressed): the charts are copied.
        crate::app::update::apply_action(&mut state, crate::action::Action::FocusNext);
        assert_eq!(
            cached(&mut terminal, &state, &mut cache),
            fresh(&state, w, h)
        );
        assert_eq!(cache.chart_hits, 1, "unchanged charts come from the cache");
    }

    /// A change to the state, named for the assertion message.
    type StateChange = fn(&mut State);

    #[test]
    fn every_input_of_the_charts_invalidates_them() {
        let (w, h) = (200, 60);
        let mut state = populated(w, h);
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        let mut cache = FrameCache::default();
        cached(&mut terminal, &state, &mut cache);
        let changes: [(&str, StateChange); 5] = [
            ("a new sample", |s| {
                let t = s.now;
                s.metrics
                    .store
                    .push(crate::metrics::names::CPU_TOTAL, Unit::Percent, t, 97.0);
            }),
            ("the clock", |s| s.now += 1),
            ("the window", |s| s.metrics.window_secs *= 2),
            ("the theme", |s| {
                s.theme = crate::testing::populated_state("light").theme
            }),
            ("the CPU count", |s| s.metrics.cpu_count = Some(64)),
        ];
        for (what, change) in changes {
            change(&mut state);
            let hits = cache.chart_hits;
            assert_eq!(
                cached(&mut terminal, &state, &mut cache),
                fresh(&state, w, h),
                "after {what}"
            );
            assert_eq!(cache.chart_hits, hits, "{what} draws the charts again");
        }
        // A resize too (a new area).
        let (w, h) = (180, 60);
        crate::app::update::resize(&mut state, w, h);
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        let hits = cache.chart_hits;
        assert_eq!(
            cached(&mut terminal, &state, &mut cache),
            fresh(&state, w, h)
        );
        assert_eq!(cache.chart_hits, hits);
    }
}
