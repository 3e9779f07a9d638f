//! The Logs pane: merged (or one source's) lines, newest at the bottom, and
//! a status row with follow/paused, the view, dropped lines and each source.
//!
//! Only the rows on screen are built: the pane walks back from the bottom of
//! the view until the area is full, so a 50 000-line buffer or a 16 KiB line
//! costs no more than what is visible (wrap included).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthChar;

use crate::action::PaneId;
use crate::app::logs::LogsPane;
use crate::app::logs::format_time;
use crate::app::state::State;
use crate::config::Theme;
use crate::logs::{Level, LogLine, SourceHealth};

/// Widest source column; longer names are cut.
const SOURCE_WIDTH: usize = 16;

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
    let search = state
        .lists
        .get(&PaneId::Logs)
        .map(|l| l.filter.as_str())
        .unwrap_or("");
    let rows = visible_rows(pane, state, search, body.width, usize::from(body.height));
    if rows.is_empty() {
        frame.render_widget(Paragraph::new(empty_note(state)), body);
    } else {
        frame.render_widget(Paragraph::new(rows), body);
    }
    frame.render_widget(Paragraph::new(status_line(pane, &state.theme)), status);
}

/// The rows to draw, top to bottom, at most `height`.
fn visible_rows(
    pane: &LogsPane,
    state: &State,
    search: &str,
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
        .min(SOURCE_WIDTH);
    let mut rows: Vec<Line<'static>> = Vec::new();
    // Newest first; each line's rows are prepended as a block.
    for line in lines {
        let segments = segments(line, state, source_width, search);
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

/// The styled pieces of one line: time, source, level, text with search
/// matches highlighted.
fn segments(
    line: &LogLine,
    state: &State,
    source_width: usize,
    search: &str,
) -> Vec<(String, Style)> {
    let theme = &state.theme;
    let source: String = line.source.chars().take(source_width).collect();
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
    if search.is_empty() {
        out.push((line.text.clone(), text_style));
        return out;
    }
    let mut rest = line.text.as_str();
    while let Some(at) = rest.find(search) {
        if at > 0 {
            out.push((rest[..at].to_string(), text_style));
        }
        out.push((search.to_string(), theme.highlight));
        rest = &rest[at + search.len()..];
    }
    if !rest.is_empty() {
        out.push((rest.to_string(), text_style));
    }
    out
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
fn wrap_segments(
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
            " No lines in this view (o: source, l: level).".to_string()
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

/// `FOLLOW │ all sources │ level all │ 0 dropped │ ● journal ● betterstack`.
fn status_line(pane: &LogsPane, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    if pane.follow {
        spans.push(Span::styled(" FOLLOW ", theme.ok));
    } else {
        let unseen = if pane.unseen > 0 {
            format!(" +{} new", pane.unseen)
        } else {
            String::new()
        };
        spans.push(Span::styled(
            format!(" PAUSED{unseen} (G follows) "),
            theme.warning,
        ));
    }
    let sep = || Span::styled("│ ", theme.muted);
    spans.push(sep());
    spans.push(Span::styled(
        format!("{} ", pane.view_source.as_deref().unwrap_or("all sources")),
        theme.text,
    ));
    spans.push(sep());
    spans.push(Span::styled(
        format!("level {} ", pane.level.map_or("all", Level::label)),
        theme.text,
    ));
    if pane.wrap {
        spans.push(sep());
        spans.push(Span::styled("wrap ", theme.text));
    }
    spans.push(sep());
    let dropped = pane.buffer.dropped();
    spans.push(Span::styled(
        format!("{} lines, {dropped} dropped ", pane.buffer.len()),
        if dropped > 0 {
            theme.warning
        } else {
            theme.muted
        },
    ));
    for (name, status) in &pane.sources {
        spans.push(sep());
        spans.push(Span::styled(
            format!("{} ", health_mark(status.health)),
            health_style(status.health, theme),
        ));
        spans.push(Span::styled(format!("{name} "), theme.text));
        if status.health != SourceHealth::Live {
            spans.push(Span::styled(format!("{} ", status.message), theme.muted));
        }
    }
    Line::from(spans)
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
