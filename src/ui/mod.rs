//! Drawing: a pure function of [`State`]. One file per drawn block, each
//! with a `draw(frame, area, state)` function and its own snapshots.

pub mod actions;
pub mod alert_chart;
pub mod alerts;
pub mod cache;
pub mod connlog;
pub mod containers;
pub mod cost;
pub mod detail;
pub mod gate_common;
pub mod gate_popup;
#[cfg(test)]
mod gate_tests;
pub mod header;
pub mod help;
pub mod history;
pub mod keybar;
pub mod line_chart;

pub mod logs;
pub mod metrics;
pub mod notifylog;
pub mod outcome;
pub mod palette;
pub mod placeholder;
pub mod quit_popup;
pub mod runbooks;
#[cfg(test)]
mod runbooks_tests;
#[cfg(test)]
pub(crate) mod snapshots;
pub mod too_small;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders};

use crate::action::PaneId;
use crate::app::layout;
use crate::app::state::{Overlay, State};

/// The key the active keymap gives `action` in `pane`, for hints in notes
/// and titles (`?` when nothing is bound to it).
pub fn key(state: &State, pane: PaneId, action: crate::action::Action) -> String {
    state
        .keymap
        .key_label(pane, action)
        .unwrap_or_else(|| "?".into())
}

/// As many whole fields as fit in `width` columns, taken by priority (0
/// first) and kept in their order: a row that is too narrow drops a field
/// rather than cutting one mid-value.
pub fn fit_fields(fields: Vec<(usize, Vec<Span<'static>>)>, width: usize) -> Vec<Span<'static>> {
    use unicode_width::UnicodeWidthStr;
    let field_width = |spans: &[Span]| spans.iter().map(|s| s.content.width()).sum::<usize>();
    let mut room = width;
    let mut by_priority: Vec<usize> = (0..fields.len()).collect();
    by_priority.sort_by_key(|i| fields[*i].0);
    let mut keep = vec![false; fields.len()];
    for i in by_priority {
        let w = field_width(&fields[i].1);
        if w <= room {
            room -= w;
            keep[i] = true;
        }
    }
    fields
        .into_iter()
        .zip(keep)
        .filter(|(_, kept)| *kept)
        .flat_map(|((_, spans), _)| spans)
        .collect()
}

/// Draws the whole cockpit.
pub fn draw(frame: &mut Frame, state: &State) {
    draw_cached(frame, state, &mut cache::FrameCache::default());
}

/// Draws the whole cockpit, reusing what `cache` kept of earlier frames
/// where its inputs did not change: the same frame as [`draw`], cheaper.
pub fn draw_cached(frame: &mut Frame, state: &State, cache: &mut cache::FrameCache) {
    let screen = frame.area();
    if layout::is_too_small(screen) {
        too_small::draw(frame, screen, state);
        return;
    }
    let parts = layout::frame(screen);
    header::draw(frame, parts.header, state);
    for slot in layout::slots(parts.body, &state.layout) {
        let pane = layout::shown_member(&slot, &state.layout);
        let block = pane_block(state, pane, slot.members, slot.area.width);
        let inner = block.inner(slot.area);
        frame.render_widget(block, slot.area);
        draw_pane(frame, inner, state, pane, cache);
    }
    detail::draw(frame, parts.body, state);
    keybar::draw(frame, parts.keybar, state);
    match &state.overlay {
        Overlay::Help { scroll } => help::draw(frame, parts.body, state, *scroll),
        Overlay::ConnectionLog { scroll } => connlog::draw(frame, parts.body, state, *scroll),
        Overlay::NotifyLog { scroll } => notifylog::draw(frame, parts.body, state, *scroll),
        Overlay::Palette(palette) => palette::draw(frame, parts.body, state, palette),
        Overlay::None | Overlay::Filter { .. } | Overlay::ConfirmQuit { .. } => {}
    }
    gate_popup::draw(frame, parts.body, state);
    runbooks::draw_prompt(frame, parts.body, state);
    if let Overlay::ConfirmQuit { pending } = state.overlay {
        quit_popup::draw(frame, parts.body, state, pending);
    }
}

fn draw_pane(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    pane: PaneId,
    cache: &mut cache::FrameCache,
) {
    match pane {
        PaneId::Metrics => metrics::draw(frame, area, state, cache),
        PaneId::Alerts => alerts::draw(frame, area, state),
        PaneId::Actions => actions::draw(frame, area, state),
        PaneId::History => history::draw(frame, area, state),
        PaneId::Containers => containers::draw(frame, area, state),
        PaneId::Cost => cost::draw(frame, area, state),
        PaneId::Logs => logs::draw(frame, area, state),
        PaneId::Runbooks => runbooks::draw(frame, area, state),
    }
}

/// The border and title of a pane: its number and name, the other panes that
/// share its slot as tabs, and a focus highlight. When the tabs do not fit
/// the slot's `width`, the other members show their number only (`7`), so
/// no name is cut (`8 Actio`) and every number stays visible.
pub fn pane_block<'a>(state: &State, pane: PaneId, members: &[PaneId], width: u16) -> Block<'a> {
    let theme = &state.theme;
    let focused = state.layout.focus == pane;
    let (border, title_style) = if focused {
        (theme.border_focused, theme.title_focused)
    } else {
        (theme.border, theme.title)
    };
    // Every label, the `│` between them and the two corners.
    let full_width: usize = members
        .iter()
        .map(|m| format!(" {} {} ", m.number(), m.title()).chars().count())
        .sum::<usize>()
        + members.len().saturating_sub(1)
        + 2;
    let short = full_width > usize::from(width);
    let mut spans = Vec::new();
    for (i, member) in members.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled("│", border));
        }
        let label = if short && *member != pane {
            format!(" {} ", member.number())
        } else {
            format!(" {} {} ", member.number(), member.title())
        };
        let style = if *member == pane {
            title_style
        } else {
            theme.muted
        };
        spans.push(Span::styled(label, style));
    }
    if let Some(extra) = pane_title_extra(state, pane) {
        spans.push(Span::styled(format!("{extra} "), theme.muted));
    }
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(border)
        .title(Line::from(spans));
    // While the link is down every pane keeps its last data, marked as such
    // on its bottom border (the Metrics pane also says it in its status
    // line); so does a pane whose source went quiet with the link up.
    if let Some(since) = crate::app::freshness::pane_stale_since(state, pane) {
        block = block.title_bottom(Span::styled(
            format!(" stale since {} ", metrics::time_of_day(state, since)),
            theme.stale,
        ));
    }
    block
}

/// Extra words after the title: the live filter of a list pane.
fn pane_title_extra(state: &State, pane: PaneId) -> Option<String> {
    if let Overlay::Filter { pane: p, input } = &state.overlay
        && *p == pane
    {
        return Some(format!("/{}▏", crate::text::inert(input)));
    }
    let filter = state
        .lists
        .get(&pane)
        .map(|l| l.filter.as_str())
        .unwrap_or("");
    (!filter.is_empty()).then(|| format!("/{}", crate::text::inert(filter)))
}

/// A centred rectangle of at most `width`×`height` inside `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// A one-line label/value pair.
pub fn label_value<'a>(
    label: &'a str,
    value: String,
    label_style: Style,
    value_style: Style,
) -> Vec<Span<'a>> {
    vec![
        Span::styled(label, label_style),
        Span::styled(value, value_style),
    ]
}

/// Unix milliseconds formatted with `fmt`, in UTC or local time as the
/// state says (every time the screen shows goes through here).
pub fn format_time(state: &State, ms: i64, fmt: &str) -> String {
    use chrono::{Local, TimeZone, Utc};
    if state.utc {
        Utc.timestamp_millis_opt(ms)
            .single()
            .map(|t| t.format(fmt).to_string())
    } else {
        Local
            .timestamp_millis_opt(ms)
            .single()
            .map(|t| t.format(fmt).to_string())
    }
    .unwrap_or_default()
}
