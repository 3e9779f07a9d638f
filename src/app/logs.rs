//! What the Logs pane shows and how keys change it: the buffer, which source
//! and level are in view, follow mode and scroll position, wrap, and search.
//!
//! Search uses the shared `/` filter input of list panes: for this pane the
//! typed text does not hide lines, it highlights matches, and `n` jumps to
//! the next match upwards (older lines, as a tail is read bottom-up), `N` to
//! the next one downwards (newer). The term is a regular expression (taken
//! literally when it is not a valid one), smart-case: case-insensitive
//! unless it holds a capital letter.

use std::collections::BTreeMap;

use chrono::{Local, TimeZone, Utc};

use crate::action::Action;
use crate::logs::{Flow, Level, LogBuffer, LogEvent, LogLine, LogsSetup, SourceHealth};

/// The level filter cycles through these (`None`: every line).
const LEVELS: [Option<Level>; 5] = [
    None,
    Some(Level::Error),
    Some(Level::Warn),
    Some(Level::Info),
    Some(Level::Debug),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    pub health: SourceHealth,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct LogsPane {
    pub buffer: LogBuffer,
    /// Every source that reported, by name, with what it said last.
    pub sources: BTreeMap<String, SourceStatus>,
    /// Each paced source's last flow report: rate, skipped, lag.
    pub flows: BTreeMap<String, Flow>,
    /// Show only this source (`None`: all merged).
    pub view_source: Option<String>,
    /// Show this level and more severe ones (`None`: every line, also those
    /// without a level).
    pub level: Option<Level>,
    /// Stay on the newest line as lines arrive.
    pub follow: bool,
    /// While paused: how many lines of the view lie below the bottom row.
    pub offset: usize,
    /// Lines that arrived in view while paused.
    pub unseen: usize,
    pub wrap: bool,
    /// The line opened with Enter (the bottom row's), shown whole with its
    /// fields until Esc or Enter closes it.
    pub open: Option<LogLine>,
    /// First row of the open line's detail that is shown (`ui::detail`
    /// stops it at the last row).
    pub detail_scroll: u16,
    /// Hide lines without a level (`:unlevelled`); by default they pass
    /// every level filter, since most apps never say a level.
    pub hide_unlevelled: bool,
    /// Which sources to start (from the config).
    pub setup: LogsSetup,
}

impl Default for LogsPane {
    fn default() -> Self {
        Self::new(crate::logs::buffer::DEFAULT_CAPACITY, LogsSetup::default())
    }
}

impl LogsPane {
    pub fn new(buffer_lines: usize, setup: LogsSetup) -> Self {
        Self {
            buffer: LogBuffer::new(buffer_lines),
            sources: BTreeMap::new(),
            flows: BTreeMap::new(),
            view_source: None,
            level: None,
            follow: true,
            offset: 0,
            unseen: 0,
            wrap: false,
            hide_unlevelled: false,
            open: None,
            detail_scroll: 0,
            setup,
        }
    }

    /// Whether `line` is in the current view (source and level).
    pub fn in_view(&self, line: &LogLine) -> bool {
        if let Some(source) = &self.view_source
            && *line.source != **source
        {
            return false;
        }
        match (line.level, self.level) {
            (None, _) => !self.hide_unlevelled,
            (Some(_), None) => true,
            (Some(level), Some(max)) => level <= max,
        }
    }

    /// Number of lines in the current view.
    pub fn view_len(&self) -> usize {
        if self.view_source.is_none() && self.level.is_none() && !self.hide_unlevelled {
            return self.buffer.len();
        }
        self.buffer.iter().filter(|l| self.in_view(l)).count()
    }

    /// Lines of the view, newest first, starting `skip` lines above the
    /// newest. Costs O(skip + taken) when nothing is filtered out.
    pub fn view_rev(&self, skip: usize) -> impl Iterator<Item = &LogLine> {
        self.buffer
            .iter()
            .rev()
            .filter(|l| self.in_view(l))
            .skip(skip)
    }

    /// Every line of the view, oldest first.
    pub fn view(&self) -> impl Iterator<Item = &LogLine> {
        self.buffer.iter().filter(|l| self.in_view(l))
    }

    /// Source names that have lines or reported, for the `o` cycle.
    fn source_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.sources.keys().cloned().collect();
        for line in self.buffer.iter() {
            if !names.iter().any(|n| **n == *line.source) {
                names.push(line.source.to_string());
            }
        }
        names.sort();
        names
    }
}

/// Applies an event from a source. Returns whether the pane changed.
pub fn apply_event(pane: &mut LogsPane, event: LogEvent) -> bool {
    match event {
        LogEvent::Lines(lines) => {
            if lines.is_empty() {
                return false;
            }
            for line in lines {
                let shown = pane.in_view(&line);
                let newest = pane.buffer.iter().next_back().is_none_or(|l| l.t <= line.t);
                if pane.buffer.push(line).is_some() && shown && !pane.follow && newest {
                    pane.offset += 1;
                    pane.unseen += 1;
                }
            }
            // While paused on old lines the buffer may drop them: stay on
            // the oldest one left.
            pane.offset = pane.offset.min(pane.buffer.len().saturating_sub(1));
            true
        }
        LogEvent::Status {
            source,
            health,
            message,
        } => {
            let status = SourceStatus { health, message };
            if pane.sources.get(&source) == Some(&status) {
                return false;
            }
            pane.sources.insert(source, status);
            true
        }
        LogEvent::Flow { source, flow } => {
            if pane.flows.get(&source) == Some(&flow) {
                return false;
            }
            pane.flows.insert(source, flow);
            true
        }
    }
}

/// Applies a key action meant for the Logs pane. `page` is the number of
/// rows a page moves; `search` the text typed after `/`. Returns whether the
/// pane changed, or `None` when the action is not the pane's.
pub fn apply_action(
    pane: &mut LogsPane,
    action: Action,
    page: usize,
    search: &str,
) -> Option<bool> {
    let before = (
        pane.follow,
        pane.offset,
        pane.wrap,
        pane.level,
        pane.view_source.clone(),
    );
    let page = page.max(1);
    if pane.open.is_some() && matches!(action, Action::Open | Action::Back) {
        pane.open = None;
        return Some(true);
    }
    match action {
        Action::Open => {
            pane.detail_scroll = 0;
            let bottom = pane.view_rev(pane.offset).next().cloned();
            pane.open = bottom;
            return Some(pane.open.is_some());
        }
        Action::Up => scroll_up(pane, 1, page),
        Action::PageUp => scroll_up(pane, page, page),
        Action::Down => scroll_down(pane, 1),
        Action::PageDown => scroll_down(pane, page),
        Action::Top => {
            let len = pane.view_len();
            scroll_up(pane, len, page);
        }
        Action::Bottom => resume(pane),
        Action::Wrap => pane.wrap = !pane.wrap,
        Action::LevelFilter => {
            let i = LEVELS.iter().position(|l| *l == pane.level).unwrap_or(0);
            pane.level = LEVELS[(i + 1) % LEVELS.len()];
            resume(pane);
        }
        Action::Source => {
            let names = pane.source_names();
            pane.view_source = match &pane.view_source {
                None => names.first().cloned(),
                Some(current) => names
                    .iter()
                    .position(|n| n == current)
                    .and_then(|i| names.get(i + 1))
                    .cloned(),
            };
            resume(pane);
        }
        // A tail is read from the bottom up: `n` goes to the next match
        // upwards (older), `N` back down (newer).
        Action::SearchNext | Action::SearchPrev => {
            if let Some(search) = search_regex(search) {
                jump_to_match(pane, &search, action == Action::SearchNext);
            }
        }
        _ => return None,
    }
    Some(
        before
            != (
                pane.follow,
                pane.offset,
                pane.wrap,
                pane.level,
                pane.view_source.clone(),
            ),
    )
}

/// Scrolls towards older lines, at most until the oldest line is the top
/// row of a `page`-row view (a full screen of the oldest lines, not the
/// oldest one alone above blank rows).
fn scroll_up(pane: &mut LogsPane, by: usize, page: usize) {
    let furthest = pane.view_len().saturating_sub(page);
    pane.offset = (pane.offset + by).min(furthest);
    if pane.offset > 0 {
        pane.follow = false;
    }
}

fn scroll_down(pane: &mut LogsPane, by: usize) {
    pane.offset = pane.offset.saturating_sub(by);
    if pane.offset == 0 {
        resume(pane);
    }
}

/// Shows only `source`, following its newest line (`l` on a container).
pub fn show_source(pane: &mut LogsPane, source: String) {
    pane.view_source = Some(source);
    resume(pane);
}

fn resume(pane: &mut LogsPane) {
    pane.follow = true;
    pane.offset = 0;
    pane.unseen = 0;
}

/// The search term as a regular expression: smart-case (insensitive
/// unless the term holds a capital), and taken literally when it is not a
/// valid expression (`[` alone, `(x`). `None` for an empty term.
pub fn search_regex(term: &str) -> Option<regex::Regex> {
    if term.is_empty() {
        return None;
    }
    let insensitive = !term.chars().any(char::is_uppercase);
    let build = |pattern: &str| {
        regex::RegexBuilder::new(pattern)
            .case_insensitive(insensitive)
            .size_limit(1 << 20)
            .build()
    };
    build(term).or_else(|_| build(&regex::escape(term))).ok()
}

/// Where the search stands: matching lines in the view, and which of them
/// (1 = oldest) is on the bottom row, if one is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchCount {
    pub current: Option<usize>,
    pub total: usize,
}

pub fn match_count(pane: &LogsPane, search: &regex::Regex) -> MatchCount {
    let mut total = 0;
    let mut current = None;
    let bottom = pane.view_len().saturating_sub(pane.offset + 1);
    for (i, line) in pane.view().enumerate() {
        if search.is_match(&line.text) {
            total += 1;
            if i == bottom {
                current = Some(total);
            }
        }
    }
    MatchCount { current, total }
}

/// Moves the bottom row to the nearest line matching `search`: older
/// than the current bottom row (`older`), or newer.
fn jump_to_match(pane: &mut LogsPane, search: &regex::Regex, older: bool) {
    let hit = if older {
        pane.view_rev(0)
            .enumerate()
            .skip(pane.offset + 1)
            .find(|(_, l)| search.is_match(&l.text))
            .map(|(i, _)| i)
    } else {
        let before: Vec<usize> = pane
            .view_rev(0)
            .enumerate()
            .take(pane.offset)
            .filter(|(_, l)| search.is_match(&l.text))
            .map(|(i, _)| i)
            .collect();
        before.last().copied()
    };
    if let Some(offset) = hit {
        pane.offset = offset;
        pane.follow = offset == 0;
        if pane.follow {
            pane.unseen = 0;
        }
    }
}

/// The time column: `HH:MM:SS.mmm` in UTC or local time.
pub fn format_time(t: i64, utc: bool) -> String {
    let secs = t.div_euclid(1_000_000_000);
    let nanos = t.rem_euclid(1_000_000_000) as u32;
    let format = "%H:%M:%S%.3f";
    if utc {
        match Utc.timestamp_opt(secs, nanos).single() {
            Some(dt) => dt.format(format).to_string(),
            None => "??:??:??.???".into(),
        }
    } else {
        match Local.timestamp_opt(secs, nanos).single() {
            Some(dt) => dt.format(format).to_string(),
            None => "??:??:??.???".into(),
        }
    }
}

/// A line as the pane draws it (and `:save` writes it), without styling:
/// date and time, source, level tag, text.
pub fn format_line(line: &LogLine, utc: bool) -> String {
    format!(
        "{} {} {} {}",
        format_time(line.t, utc),
        line.source,
        line.level.map_or("---", Level::tag),
        line.text
    )
}

/// The `:save` content: every line of the current view, oldest first, one
/// per line, escaped as on screen (with the date so files stay meaningful).
pub fn save_text(pane: &LogsPane, utc: bool) -> (String, usize) {
    let mut out = String::new();
    let mut count = 0;
    for line in pane.view() {
        let secs = line.t.div_euclid(1_000_000_000);
        let date = if utc {
            Utc.timestamp_opt(secs, 0)
                .single()
                .map(|d| d.format("%Y-%m-%d").to_string())
        } else {
            Local
                .timestamp_opt(secs, 0)
                .single()
                .map(|d| d.format("%Y-%m-%d").to_string())
        };
        out.push_str(date.as_deref().unwrap_or("????-??-??"));
        out.push(' ');
        out.push_str(&format_line(line, utc));
        out.push('\n');
        count += 1;
    }
    (out, count)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn line(t: i64, source: &str, level: Option<Level>, text: &str) -> LogLine {
        LogLine {
            t,
            source: Arc::from(source),
            level,
            text: text.to_string(),
        }
    }

    fn pane_with(lines: Vec<LogLine>) -> LogsPane {
        let mut pane = LogsPane::default();
        apply_event(&mut pane, LogEvent::Lines(lines));
        pane
    }

    fn sample() -> LogsPane {
        pane_with(vec![
            line(1, "journal", Some(Level::Info), "boot ok"),
            line(2, "betterstack", Some(Level::Error), "db down"),
            line(3, "journal", Some(Level::Warn), "disk 91%"),
            line(4, "betterstack", None, "plain"),
            line(5, "journal", Some(Level::Debug), "tick db"),
        ])
    }

    #[test]
    fn scrolling_up_pauses_and_bottom_resumes() {
        let mut pane = sample();
        assert!(pane.follow);
        assert_eq!(apply_action(&mut pane, Action::Up, 2, ""), Some(true));
        assert!(!pane.follow);
        assert_eq!(pane.offset, 1);
        // New lines while paused keep the view still.
        apply_event(
            &mut pane,
            LogEvent::Lines(vec![line(6, "journal", None, "new")]),
        );
        assert_eq!(pane.offset, 2);
        assert_eq!(pane.unseen, 1);
        assert_eq!(
            pane.view_rev(pane.offset).next().map(|l| l.text.as_str()),
            Some("plain")
        );
        apply_action(&mut pane, Action::Bottom, 2, "");
        assert!(pane.follow);
        assert_eq!((pane.offset, pane.unseen), (0, 0));
        // Scrolling past the top stops with the oldest line on the top row
        // of a two-row view.
        for _ in 0..5 {
            apply_action(&mut pane, Action::PageUp, 2, "");
        }
        assert_eq!(pane.offset, 4);
        apply_action(&mut pane, Action::PageDown, 100, "");
        assert!(pane.follow);
    }

    /// `Home`/`g` shows a full screen of the oldest lines: the bottom row is
    /// the `page`-th oldest line, not the oldest one above blank rows.
    #[test]
    fn top_fills_the_view_with_the_oldest_lines() {
        let mut pane = pane_with(
            (0..100)
                .map(|t| line(t, "s", None, &format!("l{t}")))
                .collect(),
        );
        apply_action(&mut pane, Action::Top, 20, "");
        assert_eq!(pane.offset, 80);
        let shown: Vec<&str> = pane
            .view_rev(pane.offset)
            .take(20)
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(shown.first(), Some(&"l19"));
        assert_eq!(shown.last(), Some(&"l0"));
        // Fewer lines than rows: nothing to scroll, still following.
        let mut short = sample();
        apply_action(&mut short, Action::Top, 20, "");
        assert_eq!(short.offset, 0);
        assert!(short.follow);
    }

    #[test]
    fn paused_view_survives_its_lines_dropping() {
        let mut pane = LogsPane::new(3, LogsSetup::default());
        apply_event(
            &mut pane,
            LogEvent::Lines((0..3).map(|t| line(t, "s", None, "old")).collect()),
        );
        apply_action(&mut pane, Action::Top, 1, "");
        assert_eq!(pane.offset, 2);
        apply_event(
            &mut pane,
            LogEvent::Lines((3..8).map(|t| line(t, "s", None, "new")).collect()),
        );
        assert_eq!(pane.buffer.dropped(), 5);
        assert_eq!(pane.offset, 2);
        assert!(pane.view_rev(pane.offset).next().is_some());
    }

    #[test]
    fn level_filter_cycles_and_keeps_more_severe() {
        let mut pane = sample();
        // Lines without a level ("plain") pass every level filter.
        apply_action(&mut pane, Action::LevelFilter, 10, "");
        assert_eq!(pane.level, Some(Level::Error));
        assert_eq!(pane.view_len(), 2);
        apply_action(&mut pane, Action::LevelFilter, 10, "");
        assert_eq!(pane.level, Some(Level::Warn));
        assert_eq!(pane.view_len(), 3);
        // ... unless the operator hides them.
        pane.hide_unlevelled = true;
        assert_eq!(pane.view_len(), 2);
        pane.hide_unlevelled = false;
        apply_action(&mut pane, Action::LevelFilter, 10, "");
        apply_action(&mut pane, Action::LevelFilter, 10, "");
        assert_eq!(pane.level, Some(Level::Debug));
        assert_eq!(pane.view_len(), 5);
        apply_action(&mut pane, Action::LevelFilter, 10, "");
        assert_eq!(pane.level, None);
        assert_eq!(pane.view_len(), 5);
        pane.hide_unlevelled = true;
        assert_eq!(pane.view_len(), 4);
    }

    #[test]
    fn source_cycle_shows_one_source_then_all() {
        let mut pane = sample();
        apply_action(&mut pane, Action::Source, 10, "");
        assert_eq!(pane.view_source.as_deref(), Some("betterstack"));
        assert_eq!(pane.view_len(), 2);
        apply_action(&mut pane, Action::Source, 10, "");
        assert_eq!(pane.view_source.as_deref(), Some("journal"));
        assert_eq!(pane.view_len(), 3);
        apply_action(&mut pane, Action::Source, 10, "");
        assert_eq!(pane.view_source, None);
        assert_eq!(pane.view_len(), 5);
    }

    #[test]
    fn search_jumps_between_matches() {
        let mut pane = sample();
        // From the bottom ("tick db" at offset 0), n goes to older matches.
        apply_action(&mut pane, Action::SearchNext, 10, "db");
        assert_eq!(pane.offset, 3, "db down");
        assert!(!pane.follow);
        // No older match: stays.
        assert_eq!(
            apply_action(&mut pane, Action::SearchNext, 10, "db"),
            Some(false)
        );
        // N goes back to the newer one, which is the bottom: follow again.
        apply_action(&mut pane, Action::SearchPrev, 10, "db");
        assert_eq!(pane.offset, 0);
        assert!(pane.follow);
        assert_eq!(
            apply_action(&mut pane, Action::SearchNext, 10, "nothing"),
            Some(false)
        );
        // An invalid expression is taken literally; nothing matches it.
        assert_eq!(
            apply_action(&mut pane, Action::SearchNext, 10, "db ("),
            Some(false)
        );
        // Enter opens the bottom row's line; Enter or Esc closes it.
        assert_eq!(apply_action(&mut pane, Action::Open, 10, ""), Some(true));
        assert_eq!(pane.open.as_ref().map(|l| l.text.as_str()), Some("tick db"));
        assert_eq!(apply_action(&mut pane, Action::Back, 10, ""), Some(true));
        assert_eq!(pane.open, None);
        let mut empty = LogsPane::default();
        assert_eq!(apply_action(&mut empty, Action::Open, 10, ""), Some(false));
    }

    #[test]
    fn search_is_smart_case_regex_with_a_match_count() {
        let mut pane = sample();
        pane.buffer.push(line(6, "journal", None, "DB restarted"));
        let count =
            |pane: &LogsPane, term: &str| match_count(pane, &search_regex(term).expect("re"));
        // Lower case: insensitive, so "DB restarted" matches too.
        assert_eq!(
            count(&pane, "db"),
            MatchCount {
                current: Some(3),
                total: 3
            }
        );
        // A capital makes it sensitive.
        assert_eq!(
            count(&pane, "DB"),
            MatchCount {
                current: Some(1),
                total: 1
            }
        );
        // A regular expression.
        assert_eq!(count(&pane, r"^(boot|disk) \w+").total, 2);
        assert_eq!(count(&pane, "disk 9[0-9]%").total, 1);
        // Not valid as a regex: literal.
        assert_eq!(count(&pane, "91%)").total, 0);
        assert_eq!(count(&pane, "(").total, 0);
        assert!(search_regex("").is_none());
        // n moves to the older match: 2/3, then 1/3.
        apply_action(&mut pane, Action::SearchNext, 1, "db");
        assert_eq!(
            count(&pane, "db"),
            MatchCount {
                current: Some(2),
                total: 3
            }
        );
        apply_action(&mut pane, Action::SearchNext, 1, "db");
        assert_eq!(
            count(&pane, "db"),
            MatchCount {
                current: Some(1),
                total: 3
            }
        );
        // Scrolled off a match: no current one.
        apply_action(&mut pane, Action::Down, 1, "db");
        assert_eq!(count(&pane, "db").current, None);
    }

    #[test]
    fn save_writes_the_view_oldest_first() {
        let mut pane = sample();
        pane.view_source = Some("journal".into());
        let (text, count) = save_text(&pane, true);
        assert_eq!(count, 3);
        assert_eq!(
            text,
            "1970-01-01 00:00:00.000 journal INF boot ok\n\
             1970-01-01 00:00:00.000 journal WRN disk 91%\n\
             1970-01-01 00:00:00.000 journal DBG tick db\n"
        );
    }

    #[test]
    fn status_events_only_redraw_on_change() {
        let mut pane = LogsPane::default();
        let event = LogEvent::Status {
            source: "journal".into(),
            health: SourceHealth::Live,
            message: "following".into(),
        };
        assert!(apply_event(&mut pane, event.clone()));
        assert!(!apply_event(&mut pane, event));
        assert!(!apply_event(&mut pane, LogEvent::Lines(Vec::new())));
    }

    #[test]
    fn time_column_in_utc() {
        assert_eq!(format_time(1_795_442_400_123_456_789, true), "14:00:00.123");
        assert_eq!(format_time(-1, true), "23:59:59.999");
    }
}
