//! The vocabulary of things a user can ask for. Keymap files map keys onto
//! these names; `update` is the only place that acts on them.

use serde::Deserialize;

/// The panes of the cockpit (their numbers and focus order: [`PaneId::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaneId {
    Metrics,
    Alerts,
    Containers,
    Logs,
    Actions,
    History,
    Cost,
    Runbooks,
}

impl PaneId {
    /// The reading order of every layout: columns left to right, each top
    /// to bottom, and the panes sharing a slot in their tab order. It gives
    /// the numbers in the titles, the number keys and the Tab order, and it
    /// is the same at every size (`app::layout` tests that it is), so the
    /// keys an operator learnt on a laptop still hold on a wide screen.
    pub const ALL: [PaneId; 8] = [
        PaneId::Metrics,
        PaneId::Logs,
        PaneId::History,
        PaneId::Cost,
        PaneId::Runbooks,
        PaneId::Containers,
        PaneId::Alerts,
        PaneId::Actions,
    ];

    /// The palette command and keymap context of this pane.
    pub fn name(self) -> &'static str {
        match self {
            PaneId::Metrics => "metrics",
            PaneId::Alerts => "alerts",
            PaneId::Containers => "containers",
            PaneId::Logs => "logs",
            PaneId::Actions => "actions",
            PaneId::History => "history",
            PaneId::Cost => "cost",
            PaneId::Runbooks => "runbooks",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            PaneId::Metrics => "Metrics",
            PaneId::Alerts => "Alerts",
            PaneId::Containers => "Containers",
            PaneId::Logs => "Logs",
            PaneId::Actions => "Actions",
            PaneId::History => "History",
            PaneId::Cost => "Cost",
            PaneId::Runbooks => "Runbooks",
        }
    }

    /// 1-based number shown in titles and bound to the number keys.
    pub fn number(self) -> usize {
        PaneId::ALL.iter().position(|p| *p == self).unwrap_or(0) + 1
    }

    pub fn from_name(name: &str) -> Option<PaneId> {
        PaneId::ALL.into_iter().find(|p| p.name() == name)
    }

    /// List panes share scrolling, filtering and opening a detail.
    pub fn is_list(self) -> bool {
        !matches!(self, PaneId::Metrics | PaneId::Cost)
    }

    pub fn next(self) -> PaneId {
        PaneId::ALL[self.number() % PaneId::ALL.len()]
    }

    pub fn prev(self) -> PaneId {
        PaneId::ALL[(self.number() + PaneId::ALL.len() - 2) % PaneId::ALL.len()]
    }
}

macro_rules! actions {
    ($($variant:ident => $desc:literal),* $(,)?) => {
        /// Everything a key can be bound to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Action {
            $($variant,)*
        }

        impl Action {
            /// What the action does, for the help popup and the key bar.
            pub fn description(self) -> &'static str {
                match self {
                    $(Action::$variant => $desc,)*
                }
            }
        }
    };
}

actions! {
    Quit => "quit",
    Help => "help",
    Palette => "command palette",
    FocusNext => "next pane",
    FocusPrev => "previous pane",
    // In pane number order (`PaneId::ALL`), which help lists them in.
    FocusMetrics => "metrics pane",
    FocusLogs => "logs pane",
    FocusHistory => "history pane",
    FocusCost => "cost pane",
    FocusRunbooks => "runbooks pane",
    FocusContainers => "containers pane",
    FocusAlerts => "alerts pane",
    FocusActions => "actions pane",
    Maximise => "maximise pane",
    MouseCapture => "mouse capture on/off (off: select text)",
    Suspend => "suspend (fg resumes)",
    Redraw => "redraw screen",
    Up => "up",
    Down => "down",
    PageUp => "page up",
    PageDown => "page down",
    Top => "top",
    Bottom => "bottom / follow",
    Filter => "filter",
    Open => "open detail",
    Back => "back / clear",
    ChartWindow => "chart window 1m/5m/10m",
    Approve => "approve",
    Reject => "reject",
    Sort => "sort column",
    SortReverse => "reverse sort",
    Restart => "restart (via gate)",
    Stop => "stop (via gate)",
    Start => "start (via gate)",
    Kill => "kill (via gate)",
    Reveal => "reveal masked value",
    Wrap => "wrap lines",
    SearchNext => "next match",
    SearchPrev => "previous match",
    LevelFilter => "level filter",
    Timestamps => "local time / UTC",
    Source => "log source",
    ContainerLogs => "its logs",
    Export => "export",
    Propose => "propose step (via gate)",
    Mark => "mark (draft)",
    ProposeAll => "propose remaining steps",
}

impl Action {
    /// Why a binding is what it is, for the help popup only (the key bar
    /// has no room for it).
    pub fn help_note(self) -> Option<&'static str> {
        match self {
            // Containers' capitals R S T K propose restart/stop/start/kill.
            Action::SortReverse => Some("R S T K act on the container: not S"),
            _ => None,
        }
    }

    /// The pane a focus action goes to.
    pub fn focus_target(self) -> Option<PaneId> {
        Some(match self {
            Action::FocusMetrics => PaneId::Metrics,
            Action::FocusAlerts => PaneId::Alerts,
            Action::FocusContainers => PaneId::Containers,
            Action::FocusLogs => PaneId::Logs,
            Action::FocusActions => PaneId::Actions,
            Action::FocusHistory => PaneId::History,
            Action::FocusCost => PaneId::Cost,
            Action::FocusRunbooks => PaneId::Runbooks,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn focus_order_wraps_both_ways() {
        assert_eq!(PaneId::Metrics.next(), PaneId::Logs);
        assert_eq!(PaneId::Runbooks.next(), PaneId::Containers);
        assert_eq!(PaneId::Actions.next(), PaneId::Metrics);
        assert_eq!(PaneId::Metrics.prev(), PaneId::Actions);
        assert_eq!(PaneId::Logs.prev(), PaneId::Metrics);
        for pane in PaneId::ALL {
            assert_eq!(PaneId::from_name(pane.name()), Some(pane));
            assert_eq!(pane.next().prev(), pane);
            assert_eq!(PaneId::ALL[pane.number() - 1], pane);
        }
    }
}
