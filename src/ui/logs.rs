//! The Logs pane: merged (or one source's) lines, newest at the bottom, and
//! a status row with follow/paused, the view, dropped lines and each source.
//!
//! Only the rows on screen are built: the pane walks back from the bottom of
//! the view until the area is full, so a 50 000-line buffer or a 16 KiB line
//! costs no more than what is visible (wrap included).
//!
//! Colours in log lines (SGR sequences, already inert as `␛[31m`) are drawn
//! as colours when they are a safe subset — colours and bold, nothing else —
//! and every other sequence stays visible as inert text.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::action::PaneId;
use crate::app::logs::LogsPane;
use crate::app::logs::format_time;
use crate::app::state::State;
use crate::config::Theme;
use crate::logs::{Flow, Level, LogLine, SourceHealth};

/// Widest source column (and at most half the pane, so the text keeps its
/// room); a longer name keeps its end, which tells containers apart
/// (`…tb-worker`).
const SOURCE_WIDTH: usize = 40;

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let pane = &state.logs;
    if pane.sources.is_empty() && pane.buffer.is_empty() {
        // No source has started (yet): the pane's note says what feeds it.
        super::placeholder::draw(frame, area, state, PaneId::Logs);
        return;
    }
    let body_height = area.height.saturating_sub(1);
    let body = Rect::new(area.x, area.y, area.width, body_height);
    let status = Rect::new(area.x, area.y + body_height, area.width, 1);
    let term = state
        .lists
        .get(&PaneId::Logs)
        .map(|l| l.filter.as_str())
        .unwrap_or("");
    let search = crate::app::logs::search_regex(term);
    let rows = visible_rows(
        pane,
        state,
        search.as_ref(),
        body.width,
        usize::from(body.height),
    );
    if rows.is_empty() {
        frame.render_widget(Paragraph::new(empty_note(state)), body);
    } else {
        frame.render_widget(Paragraph::new(rows), body);
    }
    let count = search
        .as_ref()
        .map(|re| (term, crate::app::logs::match_count(pane, re)));
    let follow_key = super::key(state, PaneId::Logs, crate::action::Action::Bottom);
    frame.render_widget(
        Paragraph::new(status_line(
            pane,
            &state.theme,
            count,
            &follow_key,
            usize::from(status.width),
        )),
        status,
    );
}

/// The rows to draw, top to bottom, at most `height`.
fn visible_rows(
    pane: &LogsPane,
    state: &State,
    search: Option<&regex::Regex>,
    width: u16,
    height: usize,
) -> Vec<Line<'static>> {
    if height == 0 {
        return Vec::new();
    }
    let lines: Vec<&LogLine> = pane.view_rev(pane.offset).take(height).collect();
    let source_width = lines
        .iter()
        .map(|l| l.source.chars().count())
        .max()
        .unwrap_or(0)
        .min(SOURCE_WIDTH)
        .min(usize::from(width) / 2);
    let mut rows: Vec<Line<'static>> = Vec::new();
    // Newest first; each line's rows are prepended as a block. The bottom
    // line is the search's current match when it matches.
    for (i, line) in lines.into_iter().enumerate() {
        let current = i == 0 && !pane.follow;
        let segments = segments(line, state, source_width, search, current);
        let mut block = if pane.wrap {
            wrap_segments(&segments, usize::from(width), height)
        } else {
            vec![Line::from(
                segments
                    .into_iter()
                    .map(|(t, s)| Span::styled(t, s))
                    .collect::<Vec<_>>(),
            )]
        };
        block.append(&mut rows);
        rows = block;
        if rows.len() >= height {
            let cut = rows.len() - height;
            rows.drain(..cut);
            break;
        }
    }
    rows
}

/// The styled pieces of one line: time, source, level, text in its own
/// colours with search matches highlighted (the current match stronger).
fn segments(
    line: &LogLine,
    state: &State,
    source_width: usize,
    search: Option<&regex::Regex>,
    current: bool,
) -> Vec<(String, Style)> {
    let theme = &state.theme;
    let source = fit_source(&line.source, source_width);
    let mut out = vec![
        (format!("{} ", format_time(line.t, state.utc)), theme.muted),
        (format!("{source:<source_width$} "), theme.title),
        (
            format!("{} ", line.level.map_or("---", Level::tag)),
            level_style(line.level, theme),
        ),
    ];
    let text_style = match line.level {
        Some(Level::Error) => theme.critical,
        Some(Level::Warn) => theme.warning,
        Some(Level::Debug) => theme.muted,
        _ => theme.text,
    };
    let runs = sgr_runs(&line.text, text_style);
    match search {
        None => out.extend(runs),
        Some(re) => {
            let style = if current {
                theme.selected
            } else {
                theme.highlight
            };
            out.extend(highlight(runs, re, style));
        }
    }
    out
}

/// The rows of the line opened with Enter (drawn by `ui::detail` over the
/// body): its time, source, level and length, the whole text wrapped in its
/// own colours (escapes inert), then its structured fields (JSON or logfmt)
/// as a table.
pub fn open_rows(state: &State, line: &LogLine, width: usize) -> Vec<Line<'static>> {
    use super::detail::{field_rows, wrap};
    let theme = &state.theme;
    let secs = line.t.div_euclid(1_000_000_000);
    let date = super::format_time(state, secs * 1000, "%Y-%m-%d");
    let zone = if state.utc { " UTC" } else { "" };
    let header = [
        (
            "time",
            vec![(
                format!("{date} {}{zone}", format_time(line.t, state.utc)),
                theme.text,
            )],
        ),
        ("source", vec![(line.source.to_string(), theme.text)]),
        (
            "level",
            vec![(
                line.level.map_or("none", Level::label).to_string(),
                level_style(line.level, theme),
            )],
        ),
        (
            "length",
            vec![(
                format!("{} characters", line.text.chars().count()),
                theme.text,
            )],
        ),
    ];
    let mut rows = Vec::new();
    for (label, value) in header {
        rows.extend(field_rows(
            &format!(" {label}"),
            8,
            theme.muted,
            &value,
            width,
        ));
    }
    rows.push(Line::default());
    rows.extend(wrap(&sgr_runs(&line.text, theme.text), width));
    let fields = crate::logs::fields::structured_fields(&line.text);
    if !fields.is_empty() {
        rows.push(Line::default());
        rows.push(Line::styled(
            format!(" fields ({})", fields.len()),
            theme.title_focused,
        ));
        // The key column fits the keys, up to a third of the width: a
        // longer key gets a row of its own above its value.
        let key_width = fields
            .iter()
            .map(|(k, _)| k.width() + 1)
            .max()
            .unwrap_or(0)
            .min(width / 3);
        for (key, value) in fields {
            rows.extend(field_rows(
                &format!(" {key}"),
                key_width,
                theme.muted,
                &[(value, theme.text)],
                width,
            ));
        }
    }
    rows
}

/// A source name in `width` columns: whole, or `…` and its end.
fn fit_source(name: &str, width: usize) -> String {
    let count = name.chars().count();
    if count <= width {
        return name.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let tail: String = name.chars().skip(count + 1 - width).collect();
    format!("…{tail}")
}

/// Splits styled runs at the matches of `re` in their joined text and
/// gives the matched parts `style`.
fn highlight(runs: Vec<(String, Style)>, re: &regex::Regex, style: Style) -> Vec<(String, Style)> {
    let plain: String = runs.iter().map(|(t, _)| t.as_str()).collect();
    let matches: Vec<(usize, usize)> = re
        .find_iter(&plain)
        .filter(|m| !m.is_empty())
        .map(|m| (m.start(), m.end()))
        .collect();
    if matches.is_empty() {
        return runs;
    }
    let mut out = Vec::new();
    let mut at = 0usize;
    for (text, run_style) in runs {
        let end = at + text.len();
        let mut cut = at;
        for &(m_start, m_end) in &matches {
            let (from, to) = (m_start.max(at), m_end.min(end));
            if from >= to {
                continue;
            }
            if from > cut {
                out.push((plain[cut..from].to_string(), run_style));
            }
            out.push((plain[from..to].to_string(), style));
            cut = to;
        }
        if cut < end {
            out.push((plain[cut..end].to_string(), run_style));
        }
        at = end;
    }
    out
}

/// The inert text with its SGR sequences (`␛[1;31m`) turned into styles:
/// the 16 colours, 256-colour and RGB foregrounds and backgrounds, bold,
/// and resets. Any other sequence, or an SGR with other attributes in it
/// (blink, conceal, …), stays as visible inert text.
pub fn sgr_runs(text: &str, base: Style) -> Vec<(String, Style)> {
    let mut out: Vec<(String, Style)> = Vec::new();
    let mut style = base;
    let mut plain = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("␛[") {
        let after = &rest[at + "␛[".len()..];
        let params_len = after
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(after.len());
        let applied = (after[params_len..].starts_with('m'))
            .then(|| apply_sgr(style, base, &after[..params_len]))
            .flatten();
        match applied {
            Some(next) => {
                plain.push_str(&rest[..at]);
                if !plain.is_empty() {
                    out.push((std::mem::take(&mut plain), style));
                }
                style = next;
                rest = &after[params_len + 1..];
            }
            None => {
                plain.push_str(&rest[..at + "␛[".len()]);
                rest = after;
            }
        }
    }
    plain.push_str(rest);
    if !plain.is_empty() || out.is_empty() {
        out.push((plain, style));
    }
    out
}

/// The style after one SGR sequence, or `None` when it holds anything
/// beyond colours, bold and resets.
fn apply_sgr(mut style: Style, base: Style, params: &str) -> Option<Style> {
    let codes: Vec<u16> = if params.is_empty() {
        vec![0]
    } else {
        params
            .split(';')
            .map(|p| {
                if p.is_empty() {
                    Some(0)
                } else {
                    p.parse().ok()
                }
            })
            .collect::<Option<Vec<u16>>>()?
    };
    let mut i = 0;
    while i < codes.len() {
        let code = codes[i];
        match code {
            0 => style = base,
            1 => style = style.add_modifier(Modifier::BOLD),
            22 => style = style.remove_modifier(Modifier::BOLD),
            30..=37 => style = style.fg(Color::Indexed((code - 30) as u8)),
            90..=97 => style = style.fg(Color::Indexed((code - 90 + 8) as u8)),
            40..=47 => style = style.bg(Color::Indexed((code - 40) as u8)),
            100..=107 => style = style.bg(Color::Indexed((code - 100 + 8) as u8)),
            39 => style.fg = base.fg,
            49 => style.bg = base.bg,
            38 | 48 => {
                let (color, used) = extended_color(&codes[i + 1..])?;
                style = if code == 38 {
                    style.fg(color)
                } else {
                    style.bg(color)
                };
                i += used;
            }
            _ => return None,
        }
        i += 1;
    }
    Some(style)
}

/// `5;N` (256 colours) or `2;R;G;B`, and how many codes it took.
fn extended_color(codes: &[u16]) -> Option<(Color, usize)> {
    let byte = |i: usize| codes.get(i).and_then(|c| u8::try_from(*c).ok());
    match codes.first()? {
        5 => Some((Color::Indexed(byte(1)?), 2)),
        2 => Some((Color::Rgb(byte(1)?, byte(2)?, byte(3)?), 4)),
        _ => None,
    }
}

fn level_style(level: Option<Level>, theme: &Theme) -> Style {
    match level {
        Some(Level::Error) => theme.critical,
        Some(Level::Warn) => theme.warning,
        Some(Level::Info) => theme.ok,
        Some(Level::Debug) | None => theme.muted,
    }
}

/// Cuts styled text into rows of `width` columns (by character, so row
/// counts are exact), keeping at most the last `max_rows` rows.
pub(super) fn wrap_segments(
    segments: &[(String, Style)],
    width: usize,
    max_rows: usize,
) -> Vec<Line<'static>> {
    let width = width.max(1);
    let mut rows: Vec<Line<'static>> = Vec::new();
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut used = 0usize;
    for (text, style) in segments {
        let mut piece = String::new();
        for ch in text.chars() {
            let w = ch.width().unwrap_or(0);
            if used + w > width && used > 0 {
                if !piece.is_empty() {
                    spans.push(Span::styled(std::mem::take(&mut piece), *style));
                }
                rows.push(Line::from(std::mem::take(&mut spans)));
                // Only the last rows can be shown: forget older ones early.
                if rows.len() > max_rows {
                    rows.remove(0);
                }
                used = 0;
            }
            piece.push(ch);
            used += w;
        }
        if !piece.is_empty() {
            spans.push(Span::styled(piece, *style));
        }
    }
    if !spans.is_empty() || rows.is_empty() {
        rows.push(Line::from(spans));
    }
    if rows.len() > max_rows {
        let cut = rows.len() - max_rows;
        rows.drain(..cut);
    }
    rows
}

/// What an empty view says: why each source has nothing (e.g. no journal).
fn empty_note(state: &State) -> Vec<Line<'static>> {
    let pane = &state.logs;
    let theme = &state.theme;
    let mut lines = vec![Line::styled(
        if pane.buffer.is_empty() {
            " No log lines yet.".to_string()
        } else {
            format!(
                " No lines in this view ({}: source, {}: level).",
                super::key(state, PaneId::Logs, crate::action::Action::Source),
                super::key(state, PaneId::Logs, crate::action::Action::LevelFilter)
            )
        },
        theme.muted,
    )];
    for (name, status) in &pane.sources {
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {} ", health_mark(status.health)),
                health_style(status.health, theme),
            ),
            Span::styled(format!("{name}: "), theme.title),
            Span::styled(status.message.clone(), theme.text),
        ]));
    }
    lines
}

fn health_mark(health: SourceHealth) -> &'static str {
    match health {
        SourceHealth::Starting => "…",
        SourceHealth::Live => "●",
        SourceHealth::Degraded => "▲",
        SourceHealth::Unavailable => "✕",
    }
}

fn health_style(health: SourceHealth, theme: &Theme) -> Style {
    match health {
        SourceHealth::Starting => theme.muted,
        SourceHealth::Live => theme.ok,
        SourceHealth::Degraded => theme.warning,
        SourceHealth::Unavailable => theme.critical,
    }
}

/// A source that floods (from [`crate::logs::pace::FLOOD_RATE`] lines/s: it
/// leads the status row with its skipped count, also while that is 0),
/// whose reader skips lines to stay current, or that is behind now.
fn is_storming(flow: &Flow) -> bool {
    flow.skipped > 0 || flow.behind || flow.lines_per_s >= crate::logs::pace::FLOOD_RATE
}

/// `110k lines/s, 1.2M skipped, 3.1s behind ` (the parts that apply).
fn flow_text(flow: &Flow) -> String {
    let unit = if flow.lines_per_s == 1 {
        "line"
    } else {
        "lines"
    };
    let at_least = if flow.at_least { "≥" } else { "" };
    let mut text = format!("{at_least}{} {unit}/s", compact(flow.lines_per_s));
    if is_storming(flow) {
        text.push_str(&format!(", {} skipped", compact(flow.skipped)));
    }
    if flow.behind {
        text.push_str(&format!(", {:.1}s behind", flow.lag_ms as f64 / 1000.0));
    }
    text.push(' ');
    text
}

/// The last rates as bars of a decade each (`▁` 1–9 lines/s, `▂` 10–99, …,
/// `█` from 10M; a quiet second is blank): one scale for every source, so
/// the storming one stands out next to the quiet ones.
fn sparkline(recent: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    recent
        .iter()
        .map(|rate| match rate.checked_ilog10() {
            None => ' ',
            Some(decade) => BARS[(decade as usize).min(BARS.len() - 1)],
        })
        .collect()
}

/// A count in at most four characters and a unit: `950`, `12k`, `1.2M`.
fn compact(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=9_999 => format!("{:.1}k", n as f64 / 1e3),
        10_000..=999_999 => format!("{}k", n / 1_000),
        1_000_000..=9_999_999 => format!("{:.1}M", n as f64 / 1e6),
        10_000_000..=999_999_999 => format!("{}M", n / 1_000_000),
        _ => format!("{:.1}G", n as f64 / 1e9),
    }
}

/// `FOLLOW │ all sources │ level all │ /db 3/17 │ 0 dropped │ ● journal`,
/// fitted to `width`: fields are dropped whole by priority (a source's
/// message first, follow state last), never cut mid-value.
fn status_line(
    pane: &LogsPane,
    theme: &Theme,
    search: Option<(&str, crate::app::logs::MatchCount)>,
    follow_key: &str,
    width: usize,
) -> Line<'static> {
    let sep = || Span::styled("│ ", theme.muted);
    let mut fields: Vec<(usize, Vec<Span<'static>>)> = Vec::new();
    if pane.follow {
        fields.push((0, vec![Span::styled(" FOLLOW ", theme.ok)]));
    } else {
        let unseen = if pane.unseen > 0 {
            format!(" +{} new", pane.unseen)
        } else {
            String::new()
        };
        fields.push((
            0,
            vec![Span::styled(
                format!(" PAUSED{unseen} ({follow_key} follows) "),
                theme.warning,
            )],
        ));
    }
    // A source picked for the view is kept before any other source's
    // health: without it the lines on screen cannot be read right. "all
    // sources" says less than a storm's field.
    fields.push((
        if pane.view_source.is_some() { 1 } else { 2 },
        vec![
            sep(),
            Span::styled(
                format!("{} ", pane.view_source.as_deref().unwrap_or("all sources")),
                theme.text,
            ),
        ],
    ));
    let mut level = vec![
        sep(),
        Span::styled(
            format!("level {} ", pane.level.map_or("all", Level::label)),
            theme.text,
        ),
    ];
    if pane.hide_unlevelled {
        level.push(Span::styled("unlevelled hidden ", theme.warning));
    }
    fields.push((3, level));
    if let Some((term, count)) = search {
        let term = crate::text::inert(term);
        let (text, style) = match (count.total, count.current) {
            (0, _) => (format!("/{term} not found "), theme.warning),
            (total, Some(current)) => (format!("/{term} {current}/{total} "), theme.highlight),
            (1, None) => (format!("/{term} 1 match "), theme.text),
            (total, None) => (format!("/{term} {total} matches "), theme.text),
        };
        fields.push((1, vec![sep(), Span::styled(text, style)]));
    }
    if pane.wrap {
        fields.push((6, vec![sep(), Span::styled("wrap ", theme.text)]));
    }
    let dropped = pane.buffer.dropped();
    fields.push((
        if dropped > 0 { 4 } else { 7 },
        vec![
            sep(),
            Span::styled(
                format!("{} lines, {dropped} dropped ", pane.buffer.len()),
                if dropped > 0 {
                    theme.warning
                } else {
                    theme.muted
                },
            ),
        ],
    ));
    // Storming sources (skipping, or behind) first and kept longest, the
    // fastest leading: the one on fire is what the row is read for.
    let mut names: Vec<&String> = pane.sources.keys().chain(pane.flows.keys()).collect();
    names.sort();
    names.dedup();
    let storming = |name: &str| pane.flows.get(name).is_some_and(is_storming);
    names.sort_by_key(|name| {
        let rate = pane.flows.get(*name).map_or(0, |f| f.lines_per_s);
        (
            !storming(name),
            std::cmp::Reverse(if storming(name) { rate } else { 0 }),
        )
    });
    for name in names {
        let status = pane.sources.get(name);
        let health = status.map_or(SourceHealth::Live, |s| s.health);
        let troubled = health != SourceHealth::Live;
        let flow = pane.flows.get(name);
        let priority = match (storming(name), troubled) {
            (true, _) => 1,
            (false, true) => 4,
            (false, false) => 5,
        };
        let mut field = vec![
            sep(),
            Span::styled(
                format!("{} ", health_mark(health)),
                health_style(health, theme),
            ),
            Span::styled(format!("{name} "), theme.text),
        ];
        if let Some(flow) = flow {
            field.push(Span::styled(
                flow_text(flow),
                if is_storming(flow) {
                    theme.warning
                } else {
                    theme.muted
                },
            ));
        }
        fields.push((priority, field));
        if let Some(flow) = flow {
            // Dropped before any source's name and rate: it adds the trend.
            let (priority, style) = if is_storming(flow) {
                (2, theme.warning)
            } else {
                (6, theme.muted)
            };
            fields.push((
                priority,
                vec![Span::styled(format!("{} ", sparkline(&flow.recent)), style)],
            ));
        }
        if let Some(status) = status.filter(|_| troubled) {
            fields.push((
                8,
                vec![Span::styled(format!("{} ", status.message), theme.muted)],
            ));
        }
    }
    Line::from(super::fit_fields(fields, width))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::action::Action;
    use crate::app::update;
    use crate::logs::{LogEvent, SourceHealth};
    use crate::testing::{FIXTURE_NOW, fixture_state};

    const SIZES: [(u16, u16); 2] = [(80, 24), (200, 60)];

    fn render(state: &State, w: u16, h: u16) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("backend");
        terminal.draw(|f| crate::ui::draw(f, state)).expect("draw");
        terminal
    }

    fn line(i: i64, source: &str, level: Option<Level>, raw: &[u8]) -> LogLine {
        LogLine::from_raw(
            (FIXTURE_NOW - 120 + i) * 1_000_000_000 + 250_000_000,
            Arc::from(source),
            level,
            raw,
        )
    }

    /// A maximised Logs pane with merged sources, levels and hostile lines.
    fn logs_state(w: u16, h: u16) -> State {
        let mut state = fixture_state("dark");
        update::resize(&mut state, w, h);
        update::apply_action(&mut state, Action::FocusLogs);
        update::apply_action(&mut state, Action::Maximise);
        let events = [
            LogEvent::Status {
                source: "betterstack".into(),
                health: SourceHealth::Live,
                message: "tailing t1_app_logs every 2s".into(),
            },
            LogEvent::Status {
                source: "journal".into(),
                health: SourceHealth::Unavailable,
                message: "No journal files were found on the target".into(),
            },
            LogEvent::Lines(vec![
                line(1, "betterstack", Some(Level::Info), b"GET /health 200 3ms"),
                line(2, "container:web", None, b"WARN slow query 1200ms"),
                line(
                    3,
                    "betterstack",
                    Some(Level::Error),
                    b"payment failed: timeout",
                ),
                line(4, "betterstack", None, b"cursor \x1b[2J\x1b[H moved?"),
                line(
                    5,
                    "betterstack",
                    None,
                    b"clip \x1b]52;c;cm0gLXJmIC8=\x07 written?",
                ),
                line(6, "container:web", None, b"title \x1b]0;pwned\x07 changed?"),
                line(
                    7,
                    "betterstack",
                    Some(Level::Debug),
                    b"tab\there \xff\xfe bad utf8",
                ),
                line(8, "container:web", None, b"csi \x9b31m c1 and \x1bP1$q dcs"),
            ]),
        ];
        for e in events {
            update::apply_event(&mut state, crate::app::event::AppEvent::Log(e));
        }
        state
    }

    #[test]
    fn merged_view_with_inert_escapes() {
        for (w, h) in SIZES {
            let state = logs_state(w, h);
            let terminal = render(&state, w, h);
            let screen = format!("{:?}", terminal.backend());
            assert!(!screen.contains('\x1b'));
            assert!(screen.contains("␛]52;c;cm0gLXJmIC8=␇"));
            insta::assert_snapshot!(format!("logs_merged_{w}x{h}"), terminal.backend());
        }
    }

    #[test]
    fn paused_search_level_and_wrap() {
        for (w, h) in SIZES {
            let mut state = logs_state(w, h);
            let long = format!("start {} end", "x".repeat(300));
            update::apply_event(
                &mut state,
                crate::app::event::AppEvent::Log(LogEvent::Lines(vec![line(
                    9,
                    "betterstack",
                    Some(Level::Warn),
                    long.as_bytes(),
                )])),
            );
            state.lists.entry(PaneId::Logs).or_default().filter = "failed".into();
            update::apply_action(&mut state, Action::SearchNext);
            update::apply_action(&mut state, Action::Wrap);
            assert!(!state.logs.follow);
            insta::assert_snapshot!(
                format!("logs_paused_wrap_{w}x{h}"),
                render(&state, w, h).backend()
            );
            update::apply_action(&mut state, Action::LevelFilter); // error only
            update::apply_action(&mut state, Action::LevelFilter); // warn and up
            insta::assert_snapshot!(
                format!("logs_level_warn_{w}x{h}"),
                render(&state, w, h).backend()
            );
        }
    }

    /// A storming container next to a quiet one: the status row leads with
    /// the storm's rate, skipped count and lag; the quiet one keeps its rate.
    #[test]
    fn a_storming_source_leads_the_status_row() {
        for (w, h) in SIZES {
            let mut state = logs_state(w, h);
            let storm = "container:tb-storm";
            let mut lines: Vec<LogLine> = (0..80)
                .map(|i| {
                    line(
                        20,
                        storm,
                        None,
                        format!("storm line {}", 1_200_000 + i).as_bytes(),
                    )
                })
                .collect();
            lines.push(line(20, "container:web", None, b"GET / 200"));
            let events = [
                LogEvent::Status {
                    source: storm.into(),
                    health: SourceHealth::Live,
                    message: "following".into(),
                },
                LogEvent::Lines(lines),
                LogEvent::Flow {
                    source: storm.into(),
                    flow: Flow {
                        lines_per_s: 110_412,
                        skipped: 1_234_567,
                        kept: 5_000_000,
                        lag_ms: 2_400,
                        behind: true,
                        recent: [0, 0, 0, 1_000, 60_000, 110_000, 110_000, 110_412],
                        ..Flow::default()
                    },
                },
                LogEvent::Flow {
                    source: "container:web".into(),
                    flow: Flow {
                        lines_per_s: 1,
                        skipped: 0,
                        kept: 80,
                        lag_ms: 20,
                        behind: false,
                        recent: [1; crate::logs::pace::RECENT],
                        ..Flow::default()
                    },
                },
            ];
            for e in events {
                update::apply_event(&mut state, crate::app::event::AppEvent::Log(e));
            }
            let terminal = render(&state, w, h);
            let screen = format!("{:?}", terminal.backend());
            assert!(
                screen.contains("container:tb-storm 110k lines/s, 1.2M skipped"),
                "{screen}"
            );
            assert!(screen.contains("storm line 1200079"));
            if w >= 200 {
                // Both sources' trend on one scale: the storm's bars tower.
                assert!(
                    screen.contains("1.2M skipped, 2.4s behind    ▄▅▆▆▆"),
                    "{screen}"
                );
                assert!(screen.contains("▁▁▁▁▁▁▁▁"), "{screen}");
            }
            insta::assert_snapshot!(format!("logs_storm_{w}x{h}"), terminal.backend());
        }
    }

    /// Two storms with long names fill the row: the source in view is
    /// still named (a storm's field goes first).
    #[test]
    fn the_source_in_view_outlasts_storming_sources() {
        let mut state = logs_state(200, 60);
        let storms = [
            "container:oc-e2e-storm1-3815-142504723",
            "container:oc-e2e-storm2-3815-142509041",
        ];
        let quiet = "container:oc-e2e-quiet-3815-142500001";
        for name in storms {
            let event = LogEvent::Flow {
                source: name.into(),
                flow: Flow {
                    lines_per_s: 51_000,
                    skipped: 491_000,
                    kept: 1_000,
                    lag_ms: 3_200,
                    behind: true,
                    ..Flow::default()
                },
            };
            update::apply_event(&mut state, crate::app::event::AppEvent::Log(event));
        }
        state.logs.view_source = Some(quiet.to_string());
        let terminal = render(&state, 200, 60);
        let screen = format!("{:?}", terminal.backend());
        assert!(screen.contains(quiet), "{screen}");
        assert!(screen.contains(storms[0]), "{screen}");
    }

    #[test]
    fn the_sparkline_has_a_bar_per_decade_and_blanks_quiet_seconds() {
        assert_eq!(
            sparkline(&[0, 1, 9, 10, 999, 1_000, 99_999, 100_000]),
            " ▁▁▂▃▄▅▆"
        );
        assert_eq!(sparkline(&[1_000_000, 10_000_000, u64::MAX]), "▇██");
    }

    #[test]
    fn a_rate_that_is_only_a_lower_bound_says_so() {
        let flow = Flow {
            lines_per_s: 84_000,
            skipped: 2_000_000,
            behind: true,
            lag_ms: 2_100,
            at_least: true,
            ..Flow::default()
        };
        assert_eq!(flow_text(&flow), "≥84k lines/s, 2.0M skipped, 2.1s behind ");
        let exact = Flow {
            at_least: false,
            ..flow
        };
        assert_eq!(flow_text(&exact), "84k lines/s, 2.0M skipped, 2.1s behind ");
    }

    #[test]
    fn counts_are_compact() {
        assert_eq!(compact(950), "950");
        assert_eq!(compact(1_234), "1.2k");
        assert_eq!(compact(110_412), "110k");
        assert_eq!(compact(1_234_567), "1.2M");
        assert_eq!(compact(52_000_000), "52M");
    }

    #[test]
    fn save_command_writes_the_view_as_shown() {
        let mut state = logs_state(80, 24);
        update::apply_action(&mut state, Action::Source); // betterstack only
        let outcome = update::run_command(&mut state, "save /tmp/x.log");
        let Some(update::Effect::WriteFile {
            path,
            contents,
            success,
        }) = outcome.effects.first()
        else {
            panic!("no write effect: {outcome:?}");
        };
        assert_eq!(path, std::path::Path::new("/tmp/x.log"));
        assert_eq!(success, "saved 5 log lines to /tmp/x.log");
        let lines: Vec<&str> = contents.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(
            lines[0],
            "2026-11-23 13:58:01.250 betterstack INF GET /health 200 3ms"
        );
        assert_eq!(
            lines[3],
            "2026-11-23 13:58:05.250 betterstack --- clip ␛]52;c;cm0gLXJmIC8=␇ written?"
        );
        assert!(!contents.contains('\x1b'));
        // Without a path it says how to use it.
        let outcome = update::run_command(&mut state, "save");
        assert!(outcome.effects.is_empty());
        assert!(state.flash.as_ref().is_some_and(|f| f.is_error));
        // `t` switches the time column to local time and back.
        update::apply_action(&mut state, Action::Timestamps);
        assert!(!state.utc);
        update::apply_action(&mut state, Action::Timestamps);
        assert!(state.utc);
    }

    #[test]
    fn empty_pane_says_why() {
        let mut state = fixture_state("dark");
        update::resize(&mut state, 80, 24);
        update::apply_action(&mut state, Action::FocusLogs);
        update::apply_action(&mut state, Action::Maximise);
        update::apply_event(
            &mut state,
            crate::app::event::AppEvent::Log(LogEvent::Status {
                source: "journal".into(),
                health: SourceHealth::Unavailable,
                message: "No journal files were found on the target".into(),
            }),
        );
        let terminal = render(&state, 80, 24);
        insta::assert_snapshot!("logs_empty_80x24", terminal.backend());
    }

    #[test]
    fn megabyte_line_renders_cut_and_wrapped_to_the_screen() {
        let mut state = fixture_state("dark");
        update::resize(&mut state, 80, 24);
        update::apply_action(&mut state, Action::FocusLogs);
        update::apply_action(&mut state, Action::Maximise);
        let huge = vec![b'y'; 1 << 20];
        update::apply_event(
            &mut state,
            crate::app::event::AppEvent::Log(LogEvent::Lines(vec![line(
                1, "journal", None, &huge,
            )])),
        );
        assert!(state.logs.buffer.get(0).expect("line").text.len() < 17 * 1024);
        update::apply_action(&mut state, Action::Wrap);
        let screen = format!("{:?}", render(&state, 80, 24).backend());
        assert!(screen.contains("more bytes cut]"), "{screen}");
    }

    #[test]
    fn sgr_colours_and_bold_become_styles_everything_else_stays_inert() {
        let base = Style::default().fg(Color::White);
        let runs = sgr_runs("␛[1;31mERROR␛[0m ok ␛[38;5;208morange␛[39m", base);
        assert_eq!(
            runs,
            vec![
                (
                    "ERROR".to_string(),
                    base.fg(Color::Indexed(1)).add_modifier(Modifier::BOLD)
                ),
                (" ok ".to_string(), base),
                ("orange".to_string(), base.fg(Color::Indexed(208))),
            ]
        );
        // Not SGR, or SGR with attributes beyond colour and bold: visible.
        for hostile in [
            "␛[2J clear",
            "␛[5mblink",
            "␛[8mhidden",
            "␛]0;title␇",
            "␛[38;5m",
        ] {
            let runs = sgr_runs(hostile, base);
            let text: String = runs.iter().map(|(t, _)| t.as_str()).collect();
            assert_eq!(text, hostile);
            assert!(
                runs.iter().all(|(_, st)| *st == base),
                "{hostile}: {runs:?}"
            );
        }
        assert_eq!(
            sgr_runs("␛[48;2;10;20;30mrgb␛[m", base),
            vec![("rgb".to_string(), base.bg(Color::Rgb(10, 20, 30)))]
        );
        assert_eq!(sgr_runs("", base), vec![(String::new(), base)]);
    }

    /// `l` on a selected container (both keymaps) shows its logs alone in
    /// the Logs pane, following.
    #[test]
    fn l_on_a_container_opens_its_logs() {
        use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        for keymap in ["default", "vim"] {
            let mut state = crate::testing::populated_state("dark");
            state.keymap = crate::config::Keymap::load(keymap, None).expect("keymap");
            update::resize(&mut state, 200, 60);
            update::apply_action(&mut state, Action::FocusContainers);
            let rows = state.containers.visible("");
            let at = rows
                .iter()
                .position(|c| c.name == "worker")
                .expect("worker");
            state.lists.entry(PaneId::Containers).or_default().selected = at;
            crate::app::containers::note_selection(&mut state);
            // Paused on older lines first.
            state.logs.follow = false;
            state.logs.offset = 3;
            update::handle_key(
                &mut state,
                KeyEvent::new(KeyCode::Char('l'), KeyModifiers::NONE),
            );
            assert_eq!(state.layout.focus, PaneId::Logs, "{keymap}");
            assert_eq!(state.logs.view_source.as_deref(), Some("container:worker"));
            assert!(state.logs.follow);
            assert!(state.logs.view().all(|l| &*l.source == "container:worker"));
            assert!(state.logs.view_len() > 0);
            if keymap == "default" {
                insta::assert_snapshot!(
                    "logs_from_container_l_200x60",
                    render(&state, 200, 60).backend()
                );
            }
        }
    }

    /// Hints in notes and the status row name the active keymap's keys.
    #[test]
    fn hints_follow_the_keymap() {
        for (keymap, level_key, follow_key) in [("default", "l", "End"), ("vim", "f", "G")] {
            let mut state = logs_state(80, 24);
            state.keymap = crate::config::Keymap::load(keymap, None).expect("keymap");
            state.logs.view_source = Some("nothing-here".into());
            let screen = format!("{:?}", render(&state, 80, 24).backend());
            assert!(
                screen.contains(&format!("o: source, {level_key}: level")),
                "{keymap}: {screen}"
            );
            state.logs.view_source = None;
            state.logs.follow = false;
            state.logs.offset = 2;
            let screen = format!("{:?}", render(&state, 80, 24).backend());
            assert!(
                screen.contains(&format!("({follow_key} follows)")),
                "{keymap}: {screen}"
            );
            insta::assert_snapshot!(
                format!("logs_paused_hint_{keymap}_80x24"),
                render(&state, 80, 24).backend()
            );
        }
    }

    /// Enter shows the bottom line whole, wrapped, with its fields; the key
    /// bar then offers only closing it; Esc closes.
    #[test]
    fn enter_opens_the_whole_line_with_its_fields() {
        use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        for (w, h) in SIZES {
            let mut state = logs_state(w, h);
            let long = format!(
                "\x1b[31mpayment failed\x1b[0m: {} END-OF-LINE",
                "detail ".repeat(60)
            );
            update::apply_event(
                &mut state,
                crate::app::event::AppEvent::Log(LogEvent::Lines(vec![line(
                    9,
                    "container:tb-worker",
                    Some(Level::Error),
                    long.as_bytes(),
                )])),
            );
            update::handle_key(
                &mut state,
                KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
            );
            let terminal = render(&state, w, h);
            let screen = format!("{:?}", terminal.backend());
            assert!(screen.contains("END-OF-LINE"), "wrapped, whole: {screen}");
            assert!(
                screen.contains("container:tb-worker") && screen.contains("error"),
                "{screen}"
            );
            assert!(screen.contains("Esc  close"), "{screen}");
            insta::assert_snapshot!(format!("logs_open_line_{w}x{h}"), terminal.backend());
            update::handle_key(&mut state, KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
            assert!(state.logs.open.is_none());
        }
    }

    fn open_bottom_line(state: &mut State, raw: &[u8]) {
        use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        update::apply_event(
            state,
            crate::app::event::AppEvent::Log(LogEvent::Lines(vec![line(
                9,
                "container:tb-api",
                None,
                raw,
            )])),
        );
        update::handle_key(state, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        assert!(state.logs.open.is_some());
    }

    /// A JSON line's detail lists its fields (nested keys dotted) under the
    /// wrapped line, and a value with decoded escapes stays inert.
    #[test]
    fn enter_on_a_json_line_shows_its_fields() {
        for (w, h) in SIZES {
            let mut state = logs_state(w, h);
            open_bottom_line(
                &mut state,
                br#"{"level":"error","msg":"charge failed","http":{"method":"POST","status":502},"order_id":4711,"note":"\u001b]0;pwned\u0007 owned"}"#,
            );
            let terminal = render(&state, w, h);
            let screen = format!("{:?}", terminal.backend());
            assert!(screen.contains("fields (6)"), "{screen}");
            assert!(screen.contains("http.status 502"), "{screen}");
            assert!(screen.contains("order_id    4711"), "{screen}");
            assert!(screen.contains("␛]0;pwned␇ owned"), "{screen}");
            assert!(!screen.contains('\x1b') && !screen.contains('\x07'));
            insta::assert_snapshot!(format!("logs_open_json_{w}x{h}"), terminal.backend());
        }
    }

    /// A logfmt line's detail lists its pairs (quoted values unquoted); at
    /// 80×24 the many fields scroll and the bottom border says which rows.
    #[test]
    fn enter_on_a_logfmt_line_shows_its_pairs_and_scrolls() {
        let extra: String = (1..=30).map(|i| format!(" k{i:02}=v{i}")).collect();
        let raw = format!(
            r#"ts=2026-11-23T13:58:09Z level=warn msg="upstream \"pay\" slow" dur=3.2s{extra} last=END-OF-FIELDS"#
        );
        for (w, h) in SIZES {
            let mut state = logs_state(w, h);
            open_bottom_line(&mut state, raw.as_bytes());
            let terminal = render(&state, w, h);
            let screen = format!("{:?}", terminal.backend());
            assert!(screen.contains("fields (35)"), "{screen}");
            assert!(screen.contains(r#"msg   upstream "pay" slow"#), "{screen}");
            assert!(screen.contains("scroll"), "key bar: {screen}");
            insta::assert_snapshot!(format!("logs_open_logfmt_{w}x{h}"), terminal.backend());
            if h == 24 {
                assert!(screen.contains("rows 1–20 of"), "{screen}");
                assert!(!screen.contains("last  END-OF-FIELDS"), "{screen}");
                for _ in 0..10 {
                    update::apply_action(&mut state, Action::PageDown);
                }
                let end = format!("{:?}", render(&state, w, h).backend());
                assert!(end.contains("last  END-OF-FIELDS"), "{end}");
            }
        }
    }

    #[test]
    fn long_source_names_keep_their_end() {
        assert_eq!(fit_source("container:tb-worker", 19), "container:tb-worker");
        assert_eq!(fit_source("container:tb-worker", 10), "…tb-worker");
        assert_eq!(fit_source("journal", 10), "journal");
        assert_eq!(fit_source("abc", 0), "");
    }

    #[test]
    fn highlight_splits_runs_at_matches_across_colours() {
        let red = Style::default().fg(Color::Red);
        let hi = Style::default().bg(Color::Yellow);
        let runs = vec![
            ("abc".to_string(), red),
            ("def".to_string(), Style::default()),
        ];
        let re = regex::Regex::new("cd").expect("re");
        assert_eq!(
            highlight(runs, &re, hi),
            vec![
                ("ab".to_string(), red),
                ("c".to_string(), hi),
                ("d".to_string(), hi),
                ("ef".to_string(), Style::default()),
            ]
        );
    }

    /// Colours of a container's log drawn as colours, other escapes inert;
    /// long source names fit their column; search shows "2/3".
    #[test]
    fn coloured_lines_long_sources_and_match_count() {
        for (w, h) in SIZES {
            let mut state = fixture_state("dark");
            update::resize(&mut state, w, h);
            update::apply_action(&mut state, Action::FocusLogs);
            update::apply_action(&mut state, Action::Maximise);
            let lines = vec![
                line(
                    1,
                    "container:tb-worker",
                    None,
                    b"\x1b[1;31mERROR\x1b[0m job 7 failed",
                ),
                line(
                    2,
                    "container:tb-web",
                    None,
                    b"\x1b[32mGET\x1b[0m /health 200",
                ),
                line(
                    3,
                    "container:tb-worker",
                    None,
                    b"\x1b[2J\x1b[5mblink\x1b[0m job 8 Failed",
                ),
                line(4, "journal", Some(Level::Info), b"job 9 failed again"),
            ];
            update::apply_event(
                &mut state,
                crate::app::event::AppEvent::Log(LogEvent::Lines(lines)),
            );
            state.lists.entry(PaneId::Logs).or_default().filter = "failed".into();
            update::apply_action(&mut state, Action::SearchNext);
            let terminal = render(&state, w, h);
            let screen = format!("{:?}", terminal.backend());
            assert!(screen.contains("container:tb-worker "), "{screen}");
            assert!(screen.contains("␛[2J␛[5mblink"), "{screen}");
            assert!(screen.contains("/failed 2/3"), "{screen}");
            // The ERROR cell is red and bold.
            let buffer = terminal.backend().buffer();
            let (x, y) = (0..h)
                .flat_map(|y| (0..w).map(move |x| (x, y)))
                .find(|&(x, y)| {
                    buffer[(x, y)].symbol() == "E"
                        && buffer[(x + 1, y)].symbol() == "R"
                        && buffer[(x + 4, y)].symbol() == "R"
                })
                .expect("ERROR on screen");
            let cell = &buffer[(x, y)];
            assert_eq!(cell.fg, Color::Indexed(1));
            assert!(cell.modifier.contains(Modifier::BOLD));
            insta::assert_snapshot!(format!("logs_colours_search_{w}x{h}"), terminal.backend());
        }
    }

    #[test]
    fn wrap_cuts_by_columns_and_keeps_the_last_rows() {
        let segs = vec![
            ("abcdef".to_string(), Style::default()),
            ("gh".to_string(), Style::default()),
        ];
        let rows = wrap_segments(&segs, 3, 10);
        let text: Vec<String> = rows.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, ["abc", "def", "gh"]);
        let rows = wrap_segments(&segs, 3, 2);
        let text: Vec<String> = rows.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, ["def", "gh"]);
    }
}
