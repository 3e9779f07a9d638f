//! The bottom bar: the keys that apply where the operator is — a popup, a
//! detail view, an input line or the focused pane — generated from the
//! active keymap, or a flash message. It fits its width by priority: a hint
//! is dropped whole (the least useful first), never cut.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::action::{Action, PaneId};
use crate::app::gate::GatePopup;
use crate::app::state::{Overlay, State};
use crate::config::keymap::{Context, Keymap};
use crate::gate::Tier;

/// Global actions worth a place in the bar on every pane, with their
/// priority (0 is kept longest).
const GLOBAL_HINTS: [(Action, usize); 5] = [
    (Action::Help, 0),
    (Action::Quit, 1),
    (Action::Palette, 6),
    (Action::FocusNext, 7),
    (Action::Maximise, 8),
];

/// One hint: key label, what it does, priority (0 first).
type Hint = (String, &'static str, usize);

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    let theme = &state.theme;
    if let Some(flash) = &state.flash {
        let style = if flash.is_error {
            theme.critical
        } else {
            theme.ok
        };
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(format!(" {}", flash.text), style))),
            area,
        );
        return;
    }
    let fields = hints(state)
        .into_iter()
        .map(|(key, desc, priority)| {
            (
                priority,
                vec![
                    Span::styled(format!(" {key} "), theme.keybar_key),
                    Span::styled(format!(" {desc} "), theme.keybar_text),
                ],
            )
        })
        .collect();
    let spans = super::fit_fields(fields, usize::from(area.width));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The hints of the context the operator is in, most specific first.
pub fn hints(state: &State) -> Vec<Hint> {
    let fixed = |list: &[(&str, &'static str)]| -> Vec<Hint> {
        list.iter()
            .enumerate()
            .map(|(i, (k, d))| (k.to_string(), *d, i))
            .collect()
    };
    if let Some(popup) = &state.gate.popup {
        return match popup {
            GatePopup::Approve { id, .. } => {
                let tier = state.gate.actions.get(id).map(|a| a.tier);
                if tier == Some(Tier::Confirm) {
                    fixed(&[
                        ("type host", "to confirm"),
                        ("Enter", "approve"),
                        ("Esc", "back out"),
                        ("Ctrl-U", "clear"),
                        ("↑↓ PgUp PgDn", "scroll"),
                    ])
                } else {
                    fixed(&[
                        ("y", "approve"),
                        ("n Esc", "cancel"),
                        ("↑↓ PgUp PgDn", "scroll"),
                    ])
                }
            }
            GatePopup::Reject { .. } => fixed(&[
                ("Enter", "reject with this reason"),
                ("Esc", "cancel"),
                ("Ctrl-U", "clear"),
            ]),
        };
    }
    match &state.overlay {
        Overlay::Filter { pane, .. } => {
            let what = if *pane == PaneId::Logs {
                ("Enter", "keep search")
            } else {
                ("Enter", "keep filter")
            };
            let clear = if *pane == PaneId::Logs {
                ("Esc", "clear search")
            } else {
                ("Esc", "clear filter")
            };
            fixed(&[what, clear, ("Ctrl-U", "clear line")])
        }
        Overlay::Palette(_) => fixed(&[
            ("Tab", "complete"),
            ("Enter", "run"),
            ("Esc", "close"),
            ("Ctrl-U", "clear line"),
        ]),
        Overlay::Help { .. } | Overlay::ConnectionLog { .. } | Overlay::NotifyLog { .. } => {
            fixed(&[("↑↓", "scroll"), ("any key", "close")])
        }
        Overlay::ConfirmQuit { .. } => fixed(&[("y", "quit, cancel pending"), ("any key", "stay")]),
        Overlay::None => pane_hints(state),
    }
}

/// Whether `action` can do something here and now: container actions the
/// selected container's state allows, and Enter only where a detail opens.
fn offered(state: &State, pane: PaneId, action: Action) -> bool {
    match action {
        Action::Open => true,
        Action::Restart | Action::Stop | Action::Start | Action::Kill => {
            crate::app::containers::allowed(state, action)
        }
        // Do nothing in a container's detail.
        Action::Sort | Action::SortReverse | Action::Filter => {
            !(pane == PaneId::Containers && state.containers.detail.is_some())
        }
        _ => true,
    }
}

/// The focused pane's own bindings first, then the list bindings, then a
/// few global ones; in a container's detail, what the detail does.
fn pane_hints(state: &State) -> Vec<Hint> {
    let pane = state.layout.focus;
    let detail = pane == PaneId::Containers && state.containers.detail.is_some();
    let mut hints: Vec<Hint> = Vec::new();
    let push = |hints: &mut Vec<Hint>, action: Action, priority: usize| {
        if hints.iter().any(|(_, d, _)| *d == action.description()) {
            return;
        }
        if let Some(key) = state.keymap.key_label(pane, action) {
            hints.push((key, action.description(), priority));
        }
    };
    let open_detail = match pane {
        PaneId::Logs => state.logs.open.is_some(),
        PaneId::Alerts => state.alerts.open.is_some(),
        _ => false,
    };
    if open_detail {
        let label = |action| state.keymap.key_label(pane, action).unwrap_or_default();
        return vec![
            (label(Action::Back), "close", 0),
            (
                format!("{}/{}", label(Action::Up), label(Action::Down)),
                "scroll",
                1,
            ),
            (
                format!("{}/{}", label(Action::PageUp), label(Action::PageDown)),
                "page",
                2,
            ),
            (label(Action::Top), "top", 3),
            (label(Action::Bottom), "end", 3),
            (label(Action::Open), "close", 5),
        ];
    }
    if detail {
        push(&mut hints, Action::Back, 0);
    }
    for context in Keymap::contexts_for(pane) {
        for (i, (action, _)) in state.keymap.bindings(context).into_iter().enumerate() {
            if !offered(state, pane, action) {
                continue;
            }
            let priority = match context {
                Context::Pane(_) => Some(2 + i),
                // The log tail's moves; its oldest screen and following
                // again after the detail's own actions.
                Context::Lists if detail => match action {
                    Action::PageUp | Action::PageDown => Some(3),
                    Action::Top | Action::Bottom => Some(15),
                    _ => None,
                },
                Context::Lists => matches!(action, Action::Filter | Action::Open).then_some(2),
                Context::Global => GLOBAL_HINTS
                    .iter()
                    .find(|(a, _)| *a == action)
                    .map(|(_, p)| if *p < 2 { *p } else { *p + 20 }),
            };
            if let Some(priority) = priority {
                push(&mut hints, action, priority);
            }
        }
    }
    hints
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::app::update;
    use crate::testing::populated_state;

    /// The bar alone, as drawn at `width` columns.
    fn bar(state: &State, width: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, 1)).expect("backend");
        terminal.draw(|f| draw(f, f.area(), state)).expect("draw");
        let buffer = terminal.backend().buffer();
        (0..width)
            .map(|x| buffer[(x, 0)].symbol().to_string())
            .collect()
    }

    fn state(keymap: &str) -> State {
        let mut state = populated_state("dark");
        state.keymap = Keymap::load(keymap, None).expect("keymap");
        update::resize(&mut state, 200, 60);
        state
    }

    fn select_container(state: &mut State, name: &str) {
        update::apply_action(state, Action::FocusContainers);
        let at = state
            .containers
            .visible("")
            .iter()
            .position(|c| c.name == name)
            .expect("container");
        state.lists.entry(PaneId::Containers).or_default().selected = at;
        crate::app::containers::note_selection(state);
    }

    /// Puts a state into one context.
    type Setup = Box<dyn Fn(&mut State)>;

    /// Each context's bar at 80 and 200 columns under both keymaps: hints
    /// come from the keymap, fit whole, and follow the context.
    #[test]
    fn the_bar_follows_the_context_and_fits_its_width() {
        let mut out = String::new();
        for keymap in ["default", "vim"] {
            let contexts: Vec<(&str, Setup)> = vec![
                (
                    "metrics",
                    Box::new(|s| {
                        update::apply_action(s, Action::FocusMetrics);
                    }),
                ),
                (
                    "logs",
                    Box::new(|s| {
                        update::apply_action(s, Action::FocusLogs);
                    }),
                ),
                (
                    "alerts",
                    Box::new(|s| {
                        update::apply_action(s, Action::FocusAlerts);
                    }),
                ),
                (
                    "containers running",
                    Box::new(|s| select_container(s, "web")),
                ),
                (
                    "containers exited",
                    Box::new(|s| select_container(s, "migrate")),
                ),
                (
                    "container detail",
                    Box::new(|s| {
                        select_container(s, "web");
                        update::apply_action(s, Action::Open);
                    }),
                ),
                (
                    "actions",
                    Box::new(|s| {
                        update::apply_action(s, Action::FocusActions);
                    }),
                ),
                (
                    "approve popup",
                    Box::new(|s| {
                        update::apply_action(s, Action::FocusActions);
                        update::apply_action(s, Action::Approve);
                    }),
                ),
                (
                    "filter input",
                    Box::new(|s| {
                        update::apply_action(s, Action::FocusContainers);
                        update::apply_action(s, Action::Filter);
                    }),
                ),
                (
                    "palette",
                    Box::new(|s| {
                        update::apply_action(s, Action::Palette);
                    }),
                ),
            ];
            for (name, setup) in contexts {
                let mut s = state(keymap);
                setup(&mut s);
                s.flash = None;
                for width in [80u16, 200] {
                    let text = bar(&s, width);
                    // Whole hints only: the bar ends with a description.
                    let shown = text.trim_end();
                    assert!(
                        hints(&s).iter().any(|h| shown.ends_with(h.1)),
                        "{keymap} {name} {width}: cut: {text:?}"
                    );
                    out.push_str(&format!(
                        "{keymap:<7} {name:<18} {width:>3} |{}|\n",
                        text.trim_end()
                    ));
                }
            }
        }
        insta::assert_snapshot!("keybar_contexts", out);
    }

    #[test]
    fn container_keys_follow_its_state_and_enter_where_a_detail_opens() {
        let mut s = state("default");
        select_container(&mut s, "web");
        let descs =
            |s: &State| -> Vec<&'static str> { hints(s).into_iter().map(|h| h.1).collect() };
        let running = descs(&s);
        assert!(running.contains(&Action::Stop.description()));
        assert!(running.contains(&Action::Restart.description()));
        assert!(!running.contains(&Action::Start.description()));
        select_container(&mut s, "migrate");
        let exited = descs(&s);
        assert!(exited.contains(&Action::Start.description()));
        assert!(!exited.contains(&Action::Stop.description()));
        assert!(!exited.contains(&Action::Kill.description()));
        // T on a running container proposes nothing.
        select_container(&mut s, "web");
        let outcome = update::apply_action(&mut s, Action::Start);
        assert!(outcome.effects.is_empty(), "{:?}", outcome.effects);
        assert!(
            s.flash
                .as_ref()
                .is_some_and(|f| f.is_error && f.text.contains("running"))
        );
        // Logs and Alerts open a detail (Enter); Metrics has none to open.
        for pane in [Action::FocusLogs, Action::FocusAlerts] {
            update::apply_action(&mut s, pane);
            assert!(descs(&s).contains(&Action::Open.description()), "{pane:?}");
        }
        update::apply_action(&mut s, Action::FocusMetrics);
        assert!(!descs(&s).contains(&Action::Open.description()));
    }

    /// An open detail's bar offers what works there, with the keymap's
    /// keys: close, scroll, page, top and end (Home/End or g/G); the help
    /// lists every key of each, and the wheel.
    #[test]
    fn an_open_detail_offers_its_scroll_keys_under_each_keymap() {
        for (keymap, top, end, page) in [
            ("default", "Home", "End", "PgUp/PgDn"),
            ("vim", "g", "G", "C-u/C-d"),
        ] {
            for pane in [Action::FocusAlerts, Action::FocusLogs] {
                let mut s = state(keymap);
                update::apply_action(&mut s, pane);
                update::apply_action(&mut s, Action::Open);
                let shown: Vec<(String, &str)> =
                    hints(&s).into_iter().map(|(k, d, _)| (k, d)).collect();
                for (key, what) in [(top, "top"), (end, "end"), (page, "page"), ("Esc", "close")] {
                    assert!(
                        shown.contains(&(key.to_string(), what)),
                        "{keymap} {pane:?}: {key} {what} in {shown:?}"
                    );
                }
                assert!(
                    !shown
                        .iter()
                        .any(|(_, d)| *d == Action::Filter.description()),
                    "no filter in a detail: {shown:?}"
                );
                let help: Vec<String> = crate::ui::help::help_lines(&s)
                    .iter()
                    .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
                    .collect();
                assert_eq!(help[0], "Open detail", "{help:?}");
                let detail_end = help
                    .iter()
                    .position(|l| l.contains("wheel"))
                    .expect("the wheel is listed");
                let section = &help[..=detail_end];
                for (keys, what) in [
                    (
                        if keymap == "vim" { "G End" } else { "End G" },
                        "to the end",
                    ),
                    (
                        if keymap == "vim" { "g Home" } else { "Home g" },
                        "to the top",
                    ),
                ] {
                    assert!(
                        section.iter().any(|l| l.contains(keys) && l.contains(what)),
                        "{keymap}: {keys} {what} in {section:?}"
                    );
                }
            }
        }
    }
}
