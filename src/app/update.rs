//! The one place where state changes. Every input — a key, a mouse event, a
//! source's event, the clock — goes through a function here that returns
//! whether the screen must be redrawn and which effects (I/O the loop does)
//! follow. Nothing here does I/O.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use crate::action::{Action, PaneId};
use crate::app::containers;
use crate::app::event::AppEvent;
use crate::app::freshness::{self, Source};
use crate::app::layout;
use crate::app::state::{CHART_WINDOWS, Flash, Overlay, PaletteState, State};
use crate::metrics::MetricsSource;
use crate::transport::ConnectionState;

/// Side effects the event loop carries out after an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Quit,
    Suspend,
    SetMouseCapture(bool),
    /// Clear and repaint everything (after suspend or on request).
    FullRedraw,
    Bell,
    /// A decision or request for the action gate (approvals carry the
    /// exact fingerprint the operator saw).
    Gate(crate::gate::GateRequest),
    /// Ask the container source for something (detail, logs).
    Docker(crate::containers::DockerCommand),
    /// Ask the Netdata source for an alert's chart (the Alerts detail).
    AlertChart(crate::metrics::AlertChartRequest),
    /// Write `contents` to `path` (`:save`), then flash `success` or the error.
    WriteFile {
        path: std::path::PathBuf,
        contents: String,
        success: String,
    },
    /// Write a runbook draft at `path` in the repo's working tree, never
    /// over an existing file (a numbered name beside it instead), then
    /// flash where it went (`app::runbooks::draft_written`).
    WriteDraft {
        path: std::path::PathBuf,
        contents: String,
        steps: usize,
    },
    /// Ask the runbook watcher: read the repo again now (`:runbooks-reload`),
    /// or write a draft into the repo on the host.
    Runbooks(crate::runbooks::watch::RunbooksRequest),
    /// A desktop notification (best effort: skipped where none is possible).
    Notify {
        summary: String,
        body: String,
    },
    /// Something the notification rules may send to the operator's
    /// channels (ntfy, webhook, Slack, …); the loop's notifier routes it.
    Notification(Box<crate::notify::NotifyEvent>),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub dirty: bool,
    pub effects: Vec<Effect>,
}

impl Outcome {
    fn redraw() -> Self {
        Self {
            dirty: true,
            effects: Vec::new(),
        }
    }

    fn unchanged() -> Self {
        Self::default()
    }

    fn with(mut self, effect: Effect) -> Self {
        self.effects.push(effect);
        self
    }

    pub fn merge(&mut self, other: Outcome) {
        self.dirty |= other.dirty;
        self.effects.extend(other.effects);
    }
}

/// Palette commands that take no argument, in the order Tab offers them.
const PALETTE_COMMANDS: [&str; 18] = [
    "metrics",
    "alerts",
    "containers",
    "logs",
    "actions",
    "history",
    "cost",
    "runbooks",
    "theme",
    "window",
    "save",
    "unlevelled",
    "runbook-draft",
    "runbooks-reload",
    "connlog",
    "notifylog",
    "help",
    "quit",
];

pub fn apply_event(state: &mut State, event: AppEvent) -> Outcome {
    match event {
        AppEvent::Metrics(source, update) => {
            switch_source(state, source, None);
            apply_metrics(state, update);
            state
                .freshness
                .heard(Source::Metrics, state.now, freshness::METRICS_CADENCE_SECS);
            Outcome::redraw()
        }
        AppEvent::MetricsBatch(source, updates) => {
            switch_source(state, source, None);
            for update in updates {
                apply_metrics(state, update);
            }
            state
                .freshness
                .heard(Source::Metrics, state.now, freshness::METRICS_CADENCE_SECS);
            Outcome::redraw()
        }
        AppEvent::MetricsLive { source, reason } => {
            switch_source(state, source, Some(reason));
            Outcome::redraw()
        }
        AppEvent::Alerts(event) => crate::app::alerts::apply_event(state, event),
        AppEvent::MetricsStatus { source, message } => {
            if state.metrics.source.is_none() || state.metrics.source == Some(source) {
                state.metrics.source_note = message;
                Outcome::redraw()
            } else {
                Outcome::unchanged()
            }
        }
        AppEvent::Gate(event) => {
            let changed = match &event {
                crate::gate::GateEvent::Changed(view) => Some(view.as_ref().clone()),
                _ => None,
            };
            let mut outcome = crate::app::gate::apply_event(state, event);
            if let Some(view) = changed {
                outcome.merge(crate::app::runbooks::gate_changed(state, &view));
            }
            outcome
        }
        AppEvent::Cost(event) => Outcome {
            dirty: state.cost.apply(event),
            ..Outcome::default()
        },
        AppEvent::Connection(connection) => {
            freshness::link_changed(state, &connection);
            record_connection(state, &connection);
            state.connection = connection;
            // Lost (reconnecting or down), not merely a keepalive overdue.
            let down = state.connection.is_lost();
            crate::app::notify::link_changed(state, down);
            Outcome::redraw()
        }
        AppEvent::Docker(event) => {
            let was_quiet = freshness::quiet_sources(state);
            let touched = freshness::StatsTouch::of(&event);
            let mut outcome = containers::apply_event(state, event);
            freshness::note_container_stats(state, touched);
            outcome.dirty |= freshness::quiet_sources(state) != was_quiet;
            outcome
        }
        AppEvent::Log(event) => Outcome {
            dirty: crate::app::logs::apply_event(&mut state.logs, event),
            effects: Vec::new(),
        },
        AppEvent::Notify(status) => crate::app::notify::apply_status(state, status),
        AppEvent::Runbooks(event) => crate::app::runbooks::reloaded(state, event),
    }
}

/// Makes `source` the live one. A different source's numbers would mix two
/// views of the host, so the old points go.
fn switch_source(state: &mut State, source: MetricsSource, reason: Option<String>) {
    let m = &mut state.metrics;
    if m.source != Some(source) {
        m.store.clear();
        m.source = Some(source);
        m.source_note = match source {
            MetricsSource::Proc => "built-in /proc sampler".into(),
            MetricsSource::Netdata => "Netdata".into(),
        };
    }
    if let Some(reason) = reason {
        m.source_note = reason;
    }
}

fn apply_metrics(state: &mut State, update: crate::metrics::MetricsUpdate) {
    let m = &mut state.metrics;
    for (name, unit, value) in &update.readings {
        m.store.push(name, *unit, update.t, *value);
    }
    m.last_update = Some(update.t);
    if update.hostname.is_some() {
        m.hostname = update.hostname;
    }
    m.uptime_secs = update.uptime_secs.or(m.uptime_secs);
    m.cpu_count = update.cpu_count.or(m.cpu_count);
}

/// Keeps the connection log (`:connlog`): each change of the link with its
/// time, the newest last, bounded. A new round trip is not a change; the
/// first one measured completes the "connected" entry.
fn record_connection(state: &mut State, connection: &ConnectionState) {
    const KEEP: usize = 200;
    let last = state.connection_log.last_mut();
    if let (
        Some((
            _,
            ConnectionState::Connected {
                rtt_ms: old,
                unanswered: 0,
            },
        )),
        ConnectionState::Connected {
            rtt_ms: new,
            unanswered: 0,
        },
    ) = (last, connection)
    {
        if old.is_none() {
            *old = *new;
        }
        return;
    }
    if state.connection_log.last().map(|(_, c)| c) == Some(connection) {
        return;
    }
    if state.connection_log.len() == KEEP {
        state.connection_log.remove(0);
    }
    state.connection_log.push((state.now, connection.clone()));
}

/// The clock moved on. Redraw only when the shown second changed.
pub fn tick(state: &mut State, now: i64) -> Outcome {
    if now == state.now {
        return Outcome::unchanged();
    }
    state.now = now;
    let mut outcome = Outcome::redraw();
    outcome.effects = crate::app::notify::tick(state);
    outcome.effects.extend(crate::app::outcome::tick(state));
    outcome.effects.extend(crate::app::alerts::tick(state));
    outcome
}

/// The cockpit is quitting: what must still be recorded (outcomes whose
/// after-window is cut short), for the loop to carry out before it ends.
pub fn quitting(state: &mut State, now: i64) -> Vec<Effect> {
    crate::app::outcome::quitting(state, now)
}

pub fn resize(state: &mut State, width: u16, height: u16) -> Outcome {
    if (state.layout.width, state.layout.height) == (width, height) {
        return Outcome::unchanged();
    }
    state.layout.width = width;
    state.layout.height = height;
    Outcome::redraw()
}

pub fn handle_key(state: &mut State, key: KeyEvent) -> Outcome {
    if key.kind == KeyEventKind::Release {
        return Outcome::unchanged();
    }
    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    // While the screen cannot show what a key acts on, only quitting, help
    // and redrawing work: a key never acts on something not on screen.
    if is_too_small(state) {
        return too_small_key(state, key, ctrl_c);
    }
    if let Overlay::ConfirmQuit { .. } = state.overlay {
        return confirm_quit_key(state, key, ctrl_c);
    }
    // Ctrl-C quits whatever overlay is open (asking first while proposals
    // wait, since quitting cancels them).
    if ctrl_c {
        return request_quit(state);
    }
    match state.overlay.clone() {
        Overlay::None => {}
        Overlay::Help { scroll } => return help_key(state, key, scroll),
        Overlay::ConnectionLog { scroll } => {
            return scroll_key(state, key, scroll, |scroll| Overlay::ConnectionLog {
                scroll,
            });
        }
        Overlay::NotifyLog { scroll } => {
            return scroll_key(state, key, scroll, |scroll| Overlay::NotifyLog { scroll });
        }
        Overlay::Palette(palette) => return palette_key(state, key, palette),
        Overlay::Filter { pane, input } => return filter_key(state, key, pane, input),
        Overlay::ConfirmQuit { .. } => {}
    }
    if state.gate.popup.is_some() {
        return crate::app::gate::popup_key(state, key);
    }
    if state.runbooks.prompt.is_some() {
        return crate::app::runbooks::prompt_key(state, key);
    }
    let had_flash = state.flash.take().is_some();
    let mut outcome = match state.keymap.action_for(state.layout.focus, &key) {
        Some(action) => apply_action(state, action),
        None => Outcome::unchanged(),
    };
    outcome.dirty |= had_flash;
    outcome
}

fn is_too_small(state: &State) -> bool {
    layout::is_too_small(Rect::new(0, 0, state.layout.width, state.layout.height))
}

/// Keys on the "terminal too small" screen: quit, help (shown once the
/// window is large enough) and redraw; anything else only says why not.
fn too_small_key(state: &mut State, key: KeyEvent, ctrl_c: bool) -> Outcome {
    if ctrl_c {
        return request_quit(state);
    }
    if let Overlay::ConfirmQuit { .. } = state.overlay {
        return confirm_quit_key(state, key, ctrl_c);
    }
    let global = state.keymap.action_for(state.layout.focus, &key);
    match global {
        Some(Action::Quit) => request_quit(state),
        Some(Action::Redraw) => Outcome::redraw().with(Effect::FullRedraw),
        Some(Action::Help) => {
            state.overlay = Overlay::Help { scroll: 0 };
            Outcome::redraw()
        }
        _ => {
            flash(
                state,
                "terminal too small: that key does nothing until the window is enlarged",
                true,
            );
            Outcome::redraw()
        }
    }
}

/// Quit, unless proposals wait: then ask, since quitting cancels them.
fn request_quit(state: &mut State) -> Outcome {
    if state.pending_actions == 0 || matches!(state.overlay, Overlay::ConfirmQuit { .. }) {
        return Outcome::redraw().with(Effect::Quit);
    }
    state.gate.popup = None;
    state.overlay = Overlay::ConfirmQuit {
        pending: state.pending_actions,
    };
    Outcome::redraw()
}

/// `y` (or a second Ctrl-C) quits and cancels what waits; anything else
/// keeps the cockpit running.
fn confirm_quit_key(state: &mut State, key: KeyEvent, ctrl_c: bool) -> Outcome {
    if ctrl_c || matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
        return Outcome::redraw().with(Effect::Quit);
    }
    state.overlay = Overlay::None;
    flash(
        state,
        "not quitting: the pending proposals still wait",
        false,
    );
    Outcome::redraw()
}

pub fn apply_action(state: &mut State, action: Action) -> Outcome {
    if let Some(pane) = action.focus_target() {
        return focus(state, pane);
    }
    let focused = state.layout.focus;
    if matches!(focused, PaneId::Actions | PaneId::History) {
        crate::app::gate::seen_expiries(state);
        if let Some(outcome) = crate::app::gate::apply_action(state, focused, action) {
            return outcome;
        }
    }
    if focused == PaneId::History && action == Action::Mark {
        return crate::app::runbooks::toggle_mark(state);
    }
    if focused == PaneId::Runbooks
        && let Some(outcome) = crate::app::runbooks::apply_action(state, action)
    {
        return outcome;
    }
    if focused == PaneId::Containers
        && let Some(outcome) = containers::apply_action(state, action)
    {
        return outcome;
    }
    if is_detail_scroll(action) && open_detail_scroll(state, focused).is_some() {
        return scroll_detail(state, focused, action, 1);
    }
    match action {
        Action::Quit => request_quit(state),
        Action::Help => {
            state.overlay = Overlay::Help { scroll: 0 };
            Outcome::redraw()
        }
        Action::Palette => {
            state.overlay = Overlay::Palette(PaletteState::default());
            Outcome::redraw()
        }
        Action::FocusNext => focus(state, focused.next()),
        Action::FocusPrev => focus(state, focused.prev()),
        Action::Maximise => {
            state.layout.maximised = !state.layout.maximised;
            Outcome::redraw()
        }
        Action::MouseCapture => {
            state.mouse_captured = !state.mouse_captured;
            let text = if state.mouse_captured {
                "mouse captured: click to focus, wheel to scroll"
            } else {
                "mouse released: select text with the mouse to copy it"
            };
            flash(state, text, false);
            Outcome::redraw().with(Effect::SetMouseCapture(state.mouse_captured))
        }
        Action::Suspend => Outcome::redraw().with(Effect::Suspend),
        Action::Redraw => Outcome::redraw().with(Effect::FullRedraw),
        Action::ChartWindow => {
            let i = CHART_WINDOWS
                .iter()
                .position(|w| *w == state.metrics.window_secs)
                .unwrap_or(0);
            state.metrics.window_secs = CHART_WINDOWS[(i + 1) % CHART_WINDOWS.len()];
            Outcome::redraw()
        }
        Action::Filter if focused.is_list() => {
            let input = state.list(focused).filter;
            state.overlay = Overlay::Filter {
                pane: focused,
                input,
            };
            Outcome::redraw()
        }
        Action::Open | Action::Back if focused == PaneId::Logs && state.logs.open.is_some() => {
            logs_action(state, action)
        }
        Action::Open if focused == PaneId::Logs => logs_action(state, action),
        Action::Open if focused == PaneId::Alerts => crate::app::alerts::toggle_open(state, action),
        Action::Back if focused == PaneId::Alerts && state.alerts.open.is_some() => {
            crate::app::alerts::toggle_open(state, action)
        }
        Action::Back if focused.is_list() => {
            let list = state.lists.entry(focused).or_default();
            if list.filter.is_empty() {
                return Outcome::unchanged();
            }
            list.filter.clear();
            Outcome::redraw()
        }
        Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::Top
        | Action::Bottom => move_selection(state, focused, action),
        Action::Restart | Action::Stop | Action::Start | Action::Kill => {
            flash(
                state,
                "container actions go through the action gate, which is not available in this build",
                true,
            );
            Outcome::redraw()
        }
        Action::Wrap
        | Action::SearchNext
        | Action::SearchPrev
        | Action::LevelFilter
        | Action::Source
            if focused == PaneId::Logs =>
        {
            logs_action(state, action)
        }
        Action::Timestamps => {
            state.utc = !state.utc;
            flash(
                state,
                if state.utc {
                    "times in UTC"
                } else {
                    "times in local time"
                },
                false,
            );
            Outcome::redraw()
        }
        Action::Approve | Action::Reject => {
            flash(state, "no pending action selected", true);
            Outcome::redraw()
        }
        _ => Outcome::unchanged(),
    }
}

/// The scroll of the detail open in `pane` (Alerts, Logs), if one is.
fn open_detail_scroll(state: &mut State, pane: PaneId) -> Option<&mut u16> {
    match pane {
        PaneId::Logs if state.logs.open.is_some() => Some(&mut state.logs.detail_scroll),
        PaneId::Alerts if state.alerts.open.is_some() => Some(&mut state.alerts.detail_scroll),
        _ => None,
    }
}

fn is_detail_scroll(action: Action) -> bool {
    matches!(
        action,
        Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom
    )
}

/// Rows a page key moves when the detail was not measured yet.
const DETAIL_PAGE: u16 = 10;
/// Rows one notch of the mouse wheel moves a detail.
const WHEEL_ROWS: u16 = 3;

/// The moving keys scroll the detail open in `pane` instead of the list
/// under it, clamped to the last drawn extent at once: Down past the end
/// stores nothing, so the next Up moves up.
fn scroll_detail(state: &mut State, pane: PaneId, action: Action, rows: u16) -> Outcome {
    let extent = state.layout.detail_extent.filter(|e| e.pane == pane);
    let Some(scroll) = open_detail_scroll(state, pane) else {
        return Outcome::unchanged();
    };
    let page = extent.map_or(DETAIL_PAGE, |e| e.page.saturating_sub(1).max(1));
    let last_first = extent.map_or(u16::MAX, |e| e.last_first);
    let before = *scroll;
    *scroll = match action {
        Action::Up => scroll.saturating_sub(rows),
        Action::Down => scroll.saturating_add(rows),
        Action::PageUp => scroll.saturating_sub(page),
        Action::PageDown => scroll.saturating_add(page),
        Action::Bottom => last_first,
        _ => 0,
    }
    .min(last_first);
    if *scroll == before {
        Outcome::unchanged()
    } else {
        Outcome::redraw()
    }
}

/// The loop hands back what the frame just drawn measured of the open
/// detail; a scroll beyond it (the text got shorter, the window smaller) is
/// stored clamped, as it was drawn — nothing to redraw.
pub fn measured(state: &mut State, extent: Option<crate::app::state::DetailExtent>) {
    state.layout.detail_extent = extent;
    let Some(extent) = extent else {
        return;
    };
    if let Some(scroll) = open_detail_scroll(state, extent.pane) {
        *scroll = (*scroll).min(extent.last_first);
    }
    // A container's log tail is not followed while scrolled up; a shorter
    // view keeps its oldest screen full.
    if extent.pane == PaneId::Containers
        && let Some(detail) = state.containers.detail.as_mut()
    {
        detail.scroll = detail.scroll.min(usize::from(extent.last_first));
    }
}

fn focus(state: &mut State, pane: PaneId) -> Outcome {
    if state.layout.focus == pane {
        return Outcome::unchanged();
    }
    state.layout.focus_on(pane);
    if matches!(pane, PaneId::Actions | PaneId::History) {
        crate::app::gate::seen_expiries(state);
    }
    Outcome::redraw()
}

fn flash(state: &mut State, text: &str, is_error: bool) {
    state.flash = Some(Flash {
        text: text.to_string(),
        is_error,
    });
}

/// Number of rows a list pane holds (after its filter).
pub fn list_len(state: &State, pane: PaneId) -> usize {
    match pane {
        PaneId::Alerts => {
            crate::app::alerts::visible(&state.alerts.alerts, &state.list(pane).filter).len()
        }
        PaneId::Actions => crate::app::gate::pending_rows(state).len(),
        PaneId::History => crate::app::gate::history_rows(state).len(),
        PaneId::Containers => containers::list_len(state),
        PaneId::Runbooks => crate::app::runbooks::visible(state).len(),
        // Filled by its source (logs); empty until then.
        _ => 0,
    }
}

fn move_selection(state: &mut State, pane: PaneId, action: Action) -> Outcome {
    if !pane.is_list() {
        return Outcome::unchanged();
    }
    if pane == PaneId::Logs {
        return logs_action(state, action);
    }
    let len = list_len(state, pane);
    let page = usize::from(state.layout.height.saturating_sub(8)).max(1);
    let list = state.lists.entry(pane).or_default();
    let last = len.saturating_sub(1);
    let before = list.selected;
    list.selected = match action {
        Action::Up => list.selected.saturating_sub(1),
        Action::Down => (list.selected + 1).min(last),
        Action::PageUp => list.selected.saturating_sub(page),
        Action::PageDown => (list.selected + page).min(last),
        Action::Top => 0,
        _ => last,
    };
    let moved = before != list.selected;
    if pane == PaneId::Containers {
        containers::note_selection(state);
    }
    Outcome {
        dirty: moved,
        effects: Vec::new(),
    }
}

/// Keys of the Logs pane; its `/` filter text is the search term.
fn logs_action(state: &mut State, action: Action) -> Outcome {
    let page = logs_rows(state);
    let search = state.list(PaneId::Logs).filter;
    let dirty = crate::app::logs::apply_action(&mut state.logs, action, page, &search);
    let mut outcome = Outcome {
        dirty: dirty.unwrap_or(false),
        effects: Vec::new(),
    };
    if matches!(action, Action::SearchNext | Action::SearchPrev)
        && dirty == Some(false)
        && let Some(regex) = crate::app::logs::search_regex(&search)
    {
        let count = crate::app::logs::match_count(&state.logs, &regex);
        let term = crate::text::inert(&search);
        let text = match (count.total, action) {
            (0, _) => format!("not found: {term}"),
            (_, Action::SearchNext) => format!("no older match for {term}"),
            _ => format!("no newer match for {term}"),
        };
        flash(state, &text, true);
        outcome.dirty = true;
    }
    outcome
}

/// Rows of log lines the Logs pane shows now (its area less borders and
/// status row); a guess from the screen height when it is not shown.
fn logs_rows(state: &State) -> usize {
    let screen = ratatui::layout::Rect::new(0, 0, state.layout.width, state.layout.height);
    crate::app::layout::pane_areas(screen, &state.layout)
        .iter()
        .find(|(pane, _)| *pane == PaneId::Logs)
        .map_or(
            usize::from(state.layout.height.saturating_sub(8)),
            |(_, area)| usize::from(area.height.saturating_sub(3)),
        )
        .max(1)
}

fn help_key(state: &mut State, key: KeyEvent, scroll: u16) -> Outcome {
    scroll_key(state, key, scroll, |scroll| Overlay::Help { scroll })
}

/// Keys of a read-only popup: arrows and pages scroll, anything else closes.
fn scroll_key(
    state: &mut State,
    key: KeyEvent,
    scroll: u16,
    overlay: fn(u16) -> Overlay,
) -> Outcome {
    let scroll = match key.code {
        KeyCode::Down | KeyCode::Char('j') => scroll.saturating_add(1),
        KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
        KeyCode::PageDown => scroll.saturating_add(10),
        KeyCode::PageUp => scroll.saturating_sub(10),
        _ => {
            state.overlay = Overlay::None;
            return Outcome::redraw();
        }
    };
    state.overlay = overlay(scroll);
    Outcome::redraw()
}

fn filter_key(state: &mut State, key: KeyEvent, pane: PaneId, mut input: String) -> Outcome {
    match key.code {
        KeyCode::Esc => {
            state.lists.entry(pane).or_default().filter.clear();
            state.overlay = Overlay::None;
        }
        KeyCode::Enter => state.overlay = Overlay::None,
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            input.clear();
            state.lists.entry(pane).or_default().filter.clear();
            state.overlay = Overlay::Filter { pane, input };
        }
        KeyCode::Backspace => {
            input.pop();
            state.lists.entry(pane).or_default().filter = input.clone();
            state.overlay = Overlay::Filter { pane, input };
        }
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            input.push(c);
            let list = state.lists.entry(pane).or_default();
            list.filter = input.clone();
            list.selected = 0;
            state.overlay = Overlay::Filter { pane, input };
            if pane == PaneId::Containers {
                containers::note_selection(state);
            }
        }
        _ => return Outcome::unchanged(),
    }
    Outcome::redraw()
}

fn palette_key(state: &mut State, key: KeyEvent, mut palette: PaletteState) -> Outcome {
    match key.code {
        KeyCode::Esc => {
            state.overlay = Overlay::None;
            Outcome::redraw()
        }
        KeyCode::Enter => {
            state.overlay = Overlay::None;
            run_command(state, palette.input.trim())
        }
        KeyCode::Tab => {
            complete(state, &mut palette);
            state.overlay = Overlay::Palette(palette);
            Outcome::redraw()
        }
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            palette.input.clear();
            palette.completions = completions(state, &palette.input);
            palette.completion_index = None;
            state.overlay = Overlay::Palette(palette);
            Outcome::redraw()
        }
        KeyCode::Backspace => {
            if palette.input.pop().is_none() {
                state.overlay = Overlay::None;
                return Outcome::redraw();
            }
            palette.completions = completions(state, &palette.input);
            palette.completion_index = None;
            state.overlay = Overlay::Palette(palette);
            Outcome::redraw()
        }
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            palette.input.push(c);
            palette.completions = completions(state, &palette.input);
            palette.completion_index = None;
            state.overlay = Overlay::Palette(palette);
            Outcome::redraw()
        }
        _ => Outcome::unchanged(),
    }
}

/// Candidates for what is typed so far: command names, or the argument of
/// `theme` / `window`.
pub fn completions(state: &State, input: &str) -> Vec<String> {
    match input.split_once(' ') {
        None => PALETTE_COMMANDS
            .iter()
            .filter(|c| c.starts_with(input))
            .map(|c| c.to_string())
            .collect(),
        Some(("theme", arg)) => state
            .themes
            .names()
            .into_iter()
            .filter(|t| t.starts_with(arg.trim_start()))
            .map(|t| format!("theme {t}"))
            .collect(),
        Some(("window", arg)) => ["1m", "5m", "10m"]
            .iter()
            .filter(|w| w.starts_with(arg.trim_start()))
            .map(|w| format!("window {w}"))
            .collect(),
        Some(_) => Vec::new(),
    }
}

/// Tab: complete to the only candidate, or cycle through several.
fn complete(state: &State, palette: &mut PaletteState) {
    if palette.completion_index.is_none() {
        palette.completions = completions(state, &palette.input);
    }
    if palette.completions.is_empty() {
        return;
    }
    let next = palette
        .completion_index
        .map(|i| (i + 1) % palette.completions.len())
        .unwrap_or(0);
    palette.completion_index = Some(next);
    palette.input = palette.completions[next].clone();
    let takes_argument = matches!(
        palette.input.as_str(),
        "theme" | "window" | "save" | "runbook-draft"
    );
    if palette.completions.len() == 1 && takes_argument {
        palette.input.push(' ');
        palette.completions = completions(state, &palette.input);
        palette.completion_index = None;
    }
}

pub fn run_command(state: &mut State, command: &str) -> Outcome {
    let (name, arg) = match command.split_once(' ') {
        Some((n, a)) => (n, a.trim()),
        None => (command, ""),
    };
    if let Some(pane) = PaneId::from_name(name) {
        state.layout.focus_on(pane);
        return Outcome::redraw();
    }
    match name {
        "" => Outcome::redraw(),
        "quit" | "q" => Outcome::redraw().with(Effect::Quit),
        "help" => {
            state.overlay = Overlay::Help { scroll: 0 };
            Outcome::redraw()
        }
        "connlog" => {
            state.overlay = Overlay::ConnectionLog { scroll: 0 };
            Outcome::redraw()
        }
        "notifylog" => {
            state.overlay = Overlay::NotifyLog { scroll: 0 };
            Outcome::redraw()
        }
        "theme" => {
            match state.themes.get(arg) {
                Ok(theme) => {
                    state.theme = theme;
                    flash(state, &format!("theme {arg}"), false);
                }
                Err(e) => flash(state, &e.message, true),
            }
            Outcome::redraw()
        }
        "save" => save_logs(state, arg),
        "unlevelled" => {
            state.logs.hide_unlevelled = !state.logs.hide_unlevelled;
            let text = if state.logs.hide_unlevelled {
                "logs: lines without a level hidden (:unlevelled shows them)"
            } else {
                "logs: lines without a level shown with every level filter"
            };
            flash(state, text, false);
            Outcome::redraw()
        }
        "runbook-draft" => crate::app::runbooks::draft_command(state, arg),
        "runbooks-reload" => crate::app::runbooks::reload_command(state),
        "window" => {
            match humantime::parse_duration(arg)
                .ok()
                .map(|d| d.as_secs() as i64)
                .filter(|s| CHART_WINDOWS.contains(s))
            {
                Some(secs) => state.metrics.window_secs = secs,
                None => flash(state, "window takes 1m, 5m or 10m", true),
            }
            Outcome::redraw()
        }
        other => {
            flash(
                state,
                &format!(
                    "unknown command `{}` (Tab completes)",
                    crate::text::inert(other)
                ),
                true,
            );
            Outcome::redraw()
        }
    }
}

/// `:save PATH`: every line of the Logs pane's current view, as shown.
fn save_logs(state: &mut State, arg: &str) -> Outcome {
    if arg.is_empty() {
        flash(
            state,
            "save takes a file path, e.g. `save /tmp/incident.log`",
            true,
        );
        return Outcome::redraw();
    }
    let path = match arg.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(|h| std::path::PathBuf::from(h).join(rest))
            .unwrap_or_else(|| arg.into()),
        None => arg.into(),
    };
    let (contents, count) = crate::app::logs::save_text(&state.logs, state.utc);
    let success = format!("saved {count} log lines to {}", crate::text::inert(arg));
    Outcome::redraw().with(Effect::WriteFile {
        path,
        contents,
        success,
    })
}

pub fn handle_mouse(state: &mut State, mouse: MouseEvent) -> Outcome {
    let screen = Rect::new(0, 0, state.layout.width, state.layout.height);
    let position = Position::new(mouse.column, mouse.row);
    let under = layout::pane_areas(screen, &state.layout)
        .into_iter()
        .find(|(_, area)| area.contains(position))
        .map(|(pane, _)| pane);
    // An open detail covers the whole body: the wheel over it scrolls it.
    let focused = state.layout.focus;
    let over_detail = state.overlay == Overlay::None
        && open_detail_scroll(state, focused).is_some()
        && layout::frame(screen).body.contains(position);
    match (mouse.kind, under) {
        (MouseEventKind::ScrollUp, _) if over_detail => {
            scroll_detail(state, focused, Action::Up, WHEEL_ROWS)
        }
        (MouseEventKind::ScrollDown, _) if over_detail => {
            scroll_detail(state, focused, Action::Down, WHEEL_ROWS)
        }
        (MouseEventKind::ScrollUp, Some(PaneId::Containers))
            if state.containers.detail.is_some() =>
        {
            containers::wheel(state, true, usize::from(WHEEL_ROWS))
        }
        (MouseEventKind::ScrollDown, Some(PaneId::Containers))
            if state.containers.detail.is_some() =>
        {
            containers::wheel(state, false, usize::from(WHEEL_ROWS))
        }
        (MouseEventKind::Down(_), Some(pane)) if state.overlay == Overlay::None => {
            focus(state, pane)
        }
        (MouseEventKind::ScrollUp, Some(pane)) => move_selection(state, pane, Action::Up),
        (MouseEventKind::ScrollDown, Some(pane)) => move_selection(state, pane, Action::Down),
        _ => Outcome::unchanged(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::state::DetailExtent;
    use crossterm::event::MouseEvent;

    fn press(state: &mut State, code: KeyCode) -> Outcome {
        handle_key(state, KeyEvent::new(code, KeyModifiers::NONE))
    }

    /// A state with one raised alert and one log line, under `keymap`.
    fn with_an_alert_and_a_line(keymap: &str) -> State {
        use crate::config::{Keymap, ThemeSet};
        use crate::metrics::{Alert, AlertLevel, AlertsEvent};
        let themes = ThemeSet::load(None, false).expect("themes");
        let theme = themes
            .get(crate::config::theme::DEFAULT_THEME)
            .expect("theme");
        let keymap = Keymap::load(keymap, None).expect("keymap");
        let mut state = State::new("web-1", "web-1", themes, theme, keymap);
        apply_event(
            &mut state,
            AppEvent::Alerts(AlertsEvent::Update(vec![Alert {
                key: "system.load.load_average_1".into(),
                name: "load_average_1".into(),
                chart: "system.load".into(),
                level: AlertLevel::Warning,
                value: "1.8".into(),
                info: "load".into(),
                since: 0,
                silenced: false,
                rule: Default::default(),
            }])),
        );
        apply_event(
            &mut state,
            AppEvent::Log(crate::logs::LogEvent::Lines(vec![
                crate::logs::LogLine::from_raw(
                    1_000_000_000,
                    std::sync::Arc::from("journal"),
                    None,
                    b"a line",
                ),
            ])),
        );
        state
    }

    /// The state at 80×24 with `pane`'s detail open and measured
    /// as drawing would: 5 rows beyond a 20-row view.
    fn opened(pane: PaneId, keymap: &str) -> State {
        let mut state = with_an_alert_and_a_line(keymap);
        resize(&mut state, 80, 24);
        focus(&mut state, pane);
        press(&mut state, KeyCode::Enter);
        assert!(
            open_detail_scroll(&mut state, pane).is_some(),
            "{pane:?} opened"
        );
        measured(
            &mut state,
            Some(DetailExtent {
                pane,
                last_first: 5,
                page: 20,
            }),
        );
        state
    }

    fn scroll(state: &mut State, pane: PaneId) -> u16 {
        *open_detail_scroll(state, pane).expect("open")
    }

    #[test]
    fn detail_scroll_is_clamped_when_the_key_is_handled() {
        for pane in [PaneId::Alerts, PaneId::Logs] {
            let mut s = opened(pane, "default");
            for _ in 0..20 {
                press(&mut s, KeyCode::Down);
            }
            assert_eq!(scroll(&mut s, pane), 5, "{pane:?}: stops at the last row");
            assert!(
                !press(&mut s, KeyCode::Down).dirty,
                "past the end: nothing to draw"
            );
            press(&mut s, KeyCode::Up);
            assert_eq!(scroll(&mut s, pane), 4, "{pane:?}: one Up moves up at once");
            press(&mut s, KeyCode::Home);
            assert_eq!(scroll(&mut s, pane), 0);
            press(&mut s, KeyCode::End);
            assert_eq!(scroll(&mut s, pane), 5);
            press(&mut s, KeyCode::Char('g'));
            assert_eq!(scroll(&mut s, pane), 0, "{pane:?}: g is top");
            press(&mut s, KeyCode::Char('G'));
            assert_eq!(scroll(&mut s, pane), 5, "{pane:?}: G is the end");
            press(&mut s, KeyCode::PageUp);
            assert_eq!(scroll(&mut s, pane), 0);
            press(&mut s, KeyCode::PageDown);
            assert_eq!(scroll(&mut s, pane), 5, "a page is clamped too");
        }
    }

    #[test]
    fn pages_are_the_drawn_height_and_the_vim_keys_follow_its_keymap() {
        let mut s = opened(PaneId::Alerts, "vim");
        measured(
            &mut s,
            Some(DetailExtent {
                pane: PaneId::Alerts,
                last_first: 100,
                page: 20,
            }),
        );
        handle_key(
            &mut s,
            KeyEvent::new(KeyCode::Char('d'), KeyModifiers::CONTROL),
        );
        assert_eq!(scroll(&mut s, PaneId::Alerts), 19, "a page keeps one row");
        press(&mut s, KeyCode::Char('j'));
        assert_eq!(scroll(&mut s, PaneId::Alerts), 20);
        press(&mut s, KeyCode::Char('G'));
        assert_eq!(scroll(&mut s, PaneId::Alerts), 100);
        press(&mut s, KeyCode::Char('g'));
        assert_eq!(scroll(&mut s, PaneId::Alerts), 0);
    }

    #[test]
    fn a_shorter_detail_clamps_the_stored_scroll_when_measured() {
        let mut s = opened(PaneId::Logs, "default");
        press(&mut s, KeyCode::End);
        assert_eq!(scroll(&mut s, PaneId::Logs), 5);
        measured(
            &mut s,
            Some(DetailExtent {
                pane: PaneId::Logs,
                last_first: 2,
                page: 20,
            }),
        );
        assert_eq!(scroll(&mut s, PaneId::Logs), 2);
        // Another pane's extent does not clamp this one.
        s.layout.detail_extent = Some(DetailExtent {
            pane: PaneId::Alerts,
            last_first: 0,
            page: 20,
        });
        press(&mut s, KeyCode::Down);
        assert_eq!(scroll(&mut s, PaneId::Logs), 3);
    }

    fn wheel(state: &mut State, kind: MouseEventKind, column: u16, row: u16) -> Outcome {
        handle_mouse(
            state,
            MouseEvent {
                kind,
                column,
                row,
                modifiers: KeyModifiers::NONE,
            },
        )
    }

    #[test]
    fn the_wheel_scrolls_the_detail_under_it() {
        let mut s = opened(PaneId::Alerts, "default");
        let selected = s.list(PaneId::Alerts).selected;
        // Over the left column, where another pane is when no detail is
        // open: the detail covers the body, so it scrolls.
        assert!(wheel(&mut s, MouseEventKind::ScrollDown, 5, 10).dirty);
        assert_eq!(scroll(&mut s, PaneId::Alerts), 3);
        wheel(&mut s, MouseEventKind::ScrollDown, 5, 10);
        assert_eq!(scroll(&mut s, PaneId::Alerts), 5, "clamped");
        wheel(&mut s, MouseEventKind::ScrollUp, 70, 20);
        assert_eq!(scroll(&mut s, PaneId::Alerts), 2);
        assert_eq!(s.list(PaneId::Alerts).selected, selected, "the list stays");
        // Over the header row: not the detail.
        wheel(&mut s, MouseEventKind::ScrollUp, 5, 0);
        assert_eq!(scroll(&mut s, PaneId::Alerts), 2);
    }
}
