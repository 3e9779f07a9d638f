//! The Runbooks pane: the list (title, path, tags, last commit, *modified*)
//! and the reader (the markdown rendered by tui-markdown, steps numbered),
//! and the placeholder prompt drawn over the panes.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::actions::truncate;
use crate::action::PaneId;
use crate::app::runbooks::{Reader, visible};
use crate::app::state::State;
use crate::runbooks::{Runbook, markdown};
use crate::text::inert;

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    if area.height == 0 {
        return;
    }
    if let Some(reader) = &state.runbooks.reader
        && let Some(runbook) = state.runbooks.runbooks.get(reader.index)
    {
        draw_reader(frame, area, state, runbook, reader);
        return;
    }
    draw_list(frame, area, state);
}

fn draw_list(frame: &mut Frame, area: Rect, state: &State) {
    let t = &state.theme;
    let rows = visible(state);
    if rows.is_empty() {
        let note = if state.runbooks.runbooks.is_empty() {
            if state.runbooks.source_note.is_empty() {
                "No runbooks: set `runbooks = \"PATH\"` for this host or `[runbooks] path` in config.toml.".to_string()
            } else {
                inert(&state.runbooks.source_note)
            }
        } else {
            "No runbook matches the filter.".into()
        };
        super::placeholder::draw_note(frame, area, state, &note);
        return;
    }
    let wide = area.width >= 110;
    let title_w = if wide { 36 } else { 28 };
    let path_w = if wide { 30 } else { 20 };
    let header = if wide {
        format!(
            " {:<title_w$} {:<path_w$} {:<22} {:<10} {:<10} {:<16} {}",
            "TITLE", "PATH", "TAGS", "COMMIT", "DATE", "AUTHOR", "STEPS"
        )
    } else {
        format!(
            " {:<title_w$} {:<path_w$} {:<8} {}",
            "TITLE", "PATH", "COMMIT", "STEPS"
        )
    };
    let mut lines = vec![Line::styled(header, t.muted)];
    if !state.runbooks.source_note.is_empty() && area.height > 4 {
        lines.insert(
            0,
            Line::styled(format!(" {}", inert(&state.runbooks.source_note)), t.muted),
        );
    }
    let focused = state.layout.focus == PaneId::Runbooks;
    let selected = state.list(PaneId::Runbooks).selected;
    let height = usize::from(area.height).saturating_sub(lines.len());
    let offset = selected.saturating_sub(height.saturating_sub(1));
    for (i, index) in rows.iter().enumerate().skip(offset).take(height) {
        let rb = &state.runbooks.runbooks[*index];
        let mut line = list_row(state, rb, wide, title_w, path_w);
        if focused && i == selected {
            line = line.style(t.selected);
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn list_row(
    state: &State,
    rb: &Runbook,
    wide: bool,
    title_w: usize,
    path_w: usize,
) -> Line<'static> {
    let t = &state.theme;
    let commit = rb.last_commit.as_ref();
    let short = commit
        .map(|c| inert(&c.short))
        .unwrap_or_else(|| "new".into());
    let mut spans = vec![
        Span::styled(
            format!(" {:<title_w$} ", truncate(&inert(&rb.title), title_w)),
            t.text,
        ),
        Span::styled(
            format!("{:<path_w$} ", truncate(&inert(&rb.path), path_w)),
            t.muted,
        ),
    ];
    if wide {
        let tags = rb
            .front
            .tags
            .iter()
            .map(|s| inert(s))
            .collect::<Vec<_>>()
            .join(",");
        spans.push(Span::styled(
            format!("{:<22} ", truncate(&tags, 22)),
            t.text,
        ));
        spans.push(Span::styled(
            format!("{:<10} ", truncate(&short, 10)),
            t.text,
        ));
        let date = commit.map(|c| inert(&c.date)).unwrap_or_default();
        spans.push(Span::styled(format!("{date:<10} "), t.muted));
        let author = commit.map(|c| inert(&c.author)).unwrap_or_default();
        spans.push(Span::styled(
            format!("{:<16} ", truncate(&author, 16)),
            t.muted,
        ));
    } else {
        spans.push(Span::styled(format!("{:<8} ", truncate(&short, 8)), t.text));
    }
    spans.push(Span::styled(format!("{:>5}", rb.steps.len()), t.text));
    if rb.modified {
        spans.push(Span::styled(" modified", t.warning));
    }
    if rb.front_error.is_some() {
        spans.push(Span::styled(" front matter?", t.warning));
    }
    Line::from(spans)
}

/// The body shown in the reader: every line made inert, steps labelled.
fn reader_markdown(runbook: &Runbook, step: usize) -> String {
    let inert_body: Vec<String> = runbook
        .body
        .split('\n')
        .map(|l| inert(l.strip_suffix('\r').unwrap_or(l)))
        .collect();
    markdown::annotate_steps(&inert_body.join("\n"), step)
}

fn draw_reader(frame: &mut Frame, area: Rect, state: &State, runbook: &Runbook, reader: &Reader) {
    let t = &state.theme;
    let commit = match &runbook.last_commit {
        Some(c) => format!(
            "{} {} {}",
            inert(&c.short),
            inert(&c.date),
            inert(&c.author)
        ),
        None => "never committed".into(),
    };
    let mut head = vec![
        Span::styled(format!(" {}", inert(&runbook.path)), t.text),
        Span::styled(format!(" @ {commit}"), t.muted),
    ];
    if runbook.modified {
        head.push(Span::styled(
            " modified (working tree differs from HEAD)",
            t.warning,
        ));
    }
    let keys = if area.width >= 120 {
        " · n/N step · p propose · P the rest · Esc back"
    } else {
        ""
    };
    head.push(Span::styled(
        format!("  step {}/{}{keys}", reader.step, runbook.steps.len()),
        t.muted,
    ));
    let header = Line::from(head);
    let markdown = reader_markdown(runbook, reader.step);
    let options = tui_markdown::Options::default().table_width(area.width.saturating_sub(1));
    let text: Text<'_> = tui_markdown::from_str_with_options(&markdown, &options);
    let body_height = area.height.saturating_sub(1);
    let scroll = match reader.scroll {
        Some(s) => s,
        None => step_line(&text, reader.step).saturating_sub(1),
    };
    let last = (text.lines.len() as u16).saturating_sub(body_height);
    frame.render_widget(Paragraph::new(header), Rect { height: 1, ..area });
    let body = Rect {
        y: area.y + 1,
        height: body_height,
        ..area
    };
    frame.render_widget(Paragraph::new(text).scroll((scroll.min(last), 0)), body);
}

/// The rendered line that labels step `step`.
fn step_line(text: &Text<'_>, step: usize) -> u16 {
    let label = format!("▶ step {step}");
    text.lines
        .iter()
        .position(|l| {
            let s: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            s.contains(&label)
        })
        .unwrap_or(0) as u16
}

/// The placeholder prompt, over the panes.
pub fn draw_prompt(frame: &mut Frame, body: Rect, state: &State) {
    let Some(prompt) = &state.runbooks.prompt else {
        return;
    };
    let t = &state.theme;
    let Some(runbook) = state.runbooks.runbooks.get(prompt.index) else {
        return;
    };
    let step_text = runbook
        .steps
        .get(prompt.step.saturating_sub(1))
        .map(|s| s.text.clone())
        .unwrap_or_default();
    let filled = markdown::fill_quoted(&step_text, &prompt.names, &prompt.values);
    let name = prompt
        .names
        .get(prompt.values.len())
        .cloned()
        .unwrap_or_default();
    let mut lines = vec![Line::styled(
        format!(" step {} of {}", prompt.step, inert(&runbook.title)),
        t.muted,
    )];
    for l in filled.split('\n') {
        lines.push(Line::styled(format!("   {}", inert(l)), t.text));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled(format!(" {} ", inert(&name)), t.keybar_key),
        Span::styled(format!(" {}▏", inert(&prompt.input)), t.text),
    ]));
    lines.push(Line::styled(
        format!(
            " value {}/{} · Enter next · Esc cancels{}",
            prompt.values.len() + 1,
            prompt.names.len(),
            if prompt.then_rest {
                " (and the rest)"
            } else {
                ""
            }
        ),
        t.muted,
    ));
    let height = (lines.len() as u16 + 2).min(body.height);
    let area = super::centered(body, body.width.saturating_sub(8).clamp(20, 90), height);
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.popup_border)
        .title(" Fill in the runbook step ")
        .style(t.popup);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
