//! The bottom bar: the keys that apply in the focused pane, generated from
//! the active keymap, or a flash message, or the filter being typed.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::action::Action;
use crate::app::state::{Overlay, State};
use crate::config::keymap::{Context, Keymap};

/// Global actions worth a place in the bar on every pane.
const GLOBAL_HINTS: [Action; 5] = [
    Action::Help,
    Action::Palette,
    Action::FocusNext,
    Action::Maximise,
    Action::Quit,
];

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
    let hints = match &state.overlay {
        Overlay::Filter { .. } => vec![
            ("Enter".to_string(), "keep filter"),
            ("Esc".to_string(), "clear filter"),
        ],
        Overlay::Palette(_) => vec![
            ("Tab".to_string(), "complete"),
            ("Enter".to_string(), "run"),
            ("Esc".to_string(), "close"),
        ],
        Overlay::Help { .. } | Overlay::ConnectionLog { .. } | Overlay::NotifyLog { .. } => vec![
            ("↑↓".to_string(), "scroll"),
            ("any key".to_string(), "close"),
        ],
        Overlay::ConfirmQuit { .. } => vec![
            ("y".to_string(), "quit, cancel pending"),
            ("any key".to_string(), "stay"),
        ],
        Overlay::None => pane_hints(state),
    };
    let mut spans = Vec::new();
    for (key, desc) in hints {
        spans.push(Span::styled(format!(" {key} "), theme.keybar_key));
        spans.push(Span::styled(format!(" {desc} "), theme.keybar_text));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// (key label, description) for the focused pane's own bindings first, then
/// the list bindings, then a few global ones.
fn pane_hints(state: &State) -> Vec<(String, &'static str)> {
    let pane = state.layout.focus;
    let mut hints = Vec::new();
    for context in Keymap::contexts_for(pane) {
        for (action, keys) in state.keymap.bindings(context) {
            let wanted = match context {
                Context::Global => GLOBAL_HINTS.contains(&action),
                Context::Lists => matches!(action, Action::Filter | Action::Open),
                Context::Pane(_) => true,
            };
            if wanted && !hints.iter().any(|(_, a): &(String, Action)| *a == action) {
                hints.push((keys[0].label(), action));
            }
        }
    }
    hints
        .into_iter()
        .map(|(k, a)| (k, a.description()))
        .collect()
}
