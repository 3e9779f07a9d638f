//! Everything the screen shows, in one place. Only `update` changes it; `ui`
//! draws it without changing it.

use std::collections::BTreeMap;

use crate::action::PaneId;
use crate::app::alerts::AlertsState;
use crate::app::containers::ContainersState;
use crate::config::{Keymap, Theme, ThemeSet};
use crate::metrics::SeriesStore;
use crate::metrics::{AlertLevel, MetricsSource};
use crate::transport::ConnectionState;

/// Chart windows the user can cycle through.
pub const CHART_WINDOWS: [i64; 3] = [60, 300, 600];

#[derive(Debug, Clone)]
pub struct State {
    /// What the user asked for: `local` or the host name they typed.
    pub host: String,
    /// Resolved target for the header (`local`, `user@host:port`).
    pub target: String,
    pub connection: ConnectionState,
    /// Wall clock, unix seconds; the header clock and "ago" texts use it.
    pub now: i64,
    pub utc: bool,
    pub metrics: MetricsState,
    pub containers: ContainersState,
    pub layout: LayoutState,
    pub lists: BTreeMap<PaneId, ListState>,
    pub overlay: Overlay,
    /// A one-line message in the key bar (errors from commands, hints).
    pub flash: Option<Flash>,
    pub mouse_captured: bool,
    pub theme: Theme,
    pub themes: ThemeSet,
    pub keymap: Keymap,
    /// Counts the header always shows; filled by the alert and gate sources.
    pub alert_count: usize,
    pub alert_worst: Option<AlertLevel>,
    /// The Alerts pane: raised alerts from the host's Netdata.
    pub alerts: AlertsState,
    pub pending_actions: usize,
    /// Every change of the link (time, new state), oldest first, bounded.
    pub connection_log: Vec<(i64, ConnectionState)>,
    /// Notes panes show while their source is not available.
    pub pane_notes: BTreeMap<PaneId, String>,
    /// The action gate's panes, details and popups.
    pub gate: crate::app::gate::GateState,
    pub cost: crate::app::cost::CostState,
    /// The Logs pane: buffer, sources, view settings.
    pub logs: crate::app::logs::LogsPane,
    /// Notifications: rule timers, delivery log, failing channels.
    pub notify: crate::app::notify::NotifyState,
    /// When each source last delivered: the per-source stale marks.
    pub freshness: crate::app::freshness::Freshness,
    /// Why the link was lost, while it is (for the gap marker after it).
    pub link_lost_reason: Option<String>,
    /// The Runbooks pane: the host's runbooks, the reader, a prompt.
    pub runbooks: crate::app::runbooks::RunbooksPane,
    /// Actions whose before/after outcome is being measured.
    pub outcomes: crate::app::outcome::OutcomeTracker,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub is_error: bool,
}

#[derive(Debug, Clone)]
pub struct MetricsState {
    pub store: SeriesStore,
    pub source: Option<MetricsSource>,
    /// Why this source is live (or what is wrong), shown in the pane title.
    pub source_note: String,
    /// Chart window in seconds (one of [`CHART_WINDOWS`]).
    pub window_secs: i64,
    pub hostname: Option<String>,
    pub uptime_secs: Option<u64>,
    pub cpu_count: Option<usize>,
    /// When the last value arrived (unix seconds).
    pub last_update: Option<i64>,
    /// Set while the link is lost: every pane is stale since the target
    /// was last heard from. (A source that went quiet on its own is in
    /// `State::freshness`.)
    pub stale_since: Option<i64>,
}

impl Default for MetricsState {
    fn default() -> Self {
        Self {
            store: SeriesStore::default(),
            source: None,
            source_note: "starting".into(),
            window_secs: 300,
            hostname: None,
            uptime_secs: None,
            cpu_count: None,
            last_update: None,
            stale_since: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutState {
    pub focus: PaneId,
    pub maximised: bool,
    pub width: u16,
    pub height: u16,
    /// Panes by how recently they had focus, most recent first: a slot that
    /// several panes share shows the most recent of them.
    pub recent: [PaneId; 8],
    /// The open detail as last drawn (how far it scrolls, how many rows
    /// show): the keys are clamped against it when they are handled.
    pub detail_extent: Option<DetailExtent>,
}

/// What a drawn detail measured: its rows depend on the width and the text,
/// which only drawing knows, so the loop hands them back after each frame
/// (`update::measured`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetailExtent {
    /// The pane whose detail it is.
    pub pane: PaneId,
    /// The largest first row: the view then ends at the last row.
    pub last_first: u16,
    /// Rows shown at once.
    pub page: u16,
}

impl LayoutState {
    pub fn new(width: u16, height: u16) -> Self {
        Self {
            focus: PaneId::Metrics,
            maximised: false,
            width,
            height,
            recent: PaneId::ALL,
            detail_extent: None,
        }
    }

    pub fn focus_on(&mut self, pane: PaneId) {
        self.focus = pane;
        if let Some(i) = self.recent.iter().position(|p| *p == pane) {
            self.recent[..=i].rotate_right(1);
        }
    }
}

/// Scroll position, selection and filter of one list pane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListState {
    pub selected: usize,
    pub filter: String,
}

/// What is drawn over the panes; keys go to it first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help {
        scroll: u16,
    },
    /// The connection log (`:connlog`).
    ConnectionLog {
        scroll: u16,
    },
    /// The notification delivery log (`:notifylog`).
    NotifyLog {
        scroll: u16,
    },
    Palette(PaletteState),
    /// Editing the filter of a list pane.
    Filter {
        pane: PaneId,
        input: String,
    },
    /// Quit asked while proposals wait: quitting cancels them (recorded as
    /// cancelled by shutdown), so the operator says so first.
    ConfirmQuit {
        pending: usize,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaletteState {
    pub input: String,
    /// Completions for the current input, and which one Tab last chose.
    pub completions: Vec<String>,
    pub completion_index: Option<usize>,
}

impl State {
    pub fn new(host: &str, target: &str, themes: ThemeSet, theme: Theme, keymap: Keymap) -> Self {
        Self {
            host: host.to_string(),
            target: target.to_string(),
            connection: ConnectionState::Local,
            now: chrono::Utc::now().timestamp(),
            utc: false,
            metrics: MetricsState::default(),
            containers: ContainersState::default(),
            layout: LayoutState::new(80, 24),
            lists: PaneId::ALL
                .iter()
                .filter(|p| p.is_list())
                .map(|p| (*p, ListState::default()))
                .collect(),
            overlay: Overlay::None,
            flash: None,
            mouse_captured: true,
            theme,
            themes,
            keymap,
            alert_count: 0,
            alert_worst: None,
            alerts: AlertsState::new(true),
            pending_actions: 0,
            connection_log: Vec::new(),
            pane_notes: default_pane_notes(),
            gate: crate::app::gate::GateState {
                bell: true,
                ..Default::default()
            },
            cost: crate::app::cost::CostState::default(),
            logs: crate::app::logs::LogsPane::default(),
            notify: crate::app::notify::NotifyState::default(),
            freshness: Default::default(),
            link_lost_reason: None,
            runbooks: Default::default(),
            outcomes: Default::default(),
        }
    }

    pub fn list(&self, pane: PaneId) -> ListState {
        self.lists.get(&pane).cloned().unwrap_or_default()
    }
}

fn default_pane_notes() -> BTreeMap<PaneId, String> {
    [
        (
            PaneId::Logs,
            "No log source yet: journald, containers and Better Stack feed this pane.",
        ),
        (
            PaneId::Actions,
            "No pending actions. Agents propose with `opscockpit propose HOST -- COMMAND`.",
        ),
        (PaneId::History, "No actions recorded yet."),
    ]
    .into_iter()
    .map(|(p, t)| (p, t.to_string()))
    .collect()
}
