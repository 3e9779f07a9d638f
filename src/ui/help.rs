//! The `?` popup: every binding that applies in the focused pane, generated
//! from the active keymap, plus the palette commands.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

use crate::action::{Action, PaneId};
use crate::app::state::State;
use crate::config::keymap::{Context, Keymap};

const PALETTE_HELP: [(&str, &str); 10] = [
    (":metrics … :runbooks", "jump to a pane"),
    (":theme NAME", "switch theme"),
    (":window 1m|5m|10m", "chart window"),
    (":save PATH", "write the Logs view to a file"),
    (":runbook-draft PATH", "marked History actions → runbook"),
    (":connlog", "connection log"),
    (":notifylog", "notification deliveries"),
    (":help", "this help"),
    (":quit", "quit"),
    ("Tab", "complete a command"),
];

pub fn draw(frame: &mut Frame, area: Rect, state: &State, scroll: u16) {
    let theme = &state.theme;
    let lines = help_lines(state);
    let popup = super::centered(area, 64, (lines.len() as u16).saturating_add(2));
    let title = format!(
        " Help — {} keymap `{}` ",
        state.layout.focus.title(),
        state.keymap.name
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.popup_border)
        .title(Span::styled(title, theme.popup_border));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .style(theme.popup)
            .scroll((scroll, 0)),
        popup,
    );
}

/// What the keys do in an open detail (Alerts, Logs), before the pane's
/// own bindings: they scroll it rather than move the list under it.
const DETAIL_KEYS: [(Action, &str); 8] = [
    (Action::Back, "close"),
    (Action::Open, "close"),
    (Action::Up, "scroll up"),
    (Action::Down, "scroll down"),
    (Action::PageUp, "page up"),
    (Action::PageDown, "page down"),
    (Action::Top, "to the top"),
    (Action::Bottom, "to the end"),
];

/// Every key bound to `action` where it applies in the focused pane.
fn keys_of(state: &State, action: Action) -> Option<String> {
    Keymap::contexts_for(state.layout.focus)
        .into_iter()
        .find_map(|context| {
            state
                .keymap
                .bindings(context)
                .into_iter()
                .find(|(a, _)| *a == action)
                .map(|(_, keys)| keys.iter().map(|k| k.label()).collect::<Vec<_>>().join(" "))
        })
}

fn detail_lines(state: &State) -> Vec<Line<'static>> {
    let theme = &state.theme;
    let open = match state.layout.focus {
        PaneId::Logs => state.logs.open.is_some(),
        PaneId::Alerts => state.alerts.open.is_some(),
        _ => false,
    };
    if !open {
        return Vec::new();
    }
    let mut lines = vec![Line::from(Span::styled("Open detail", theme.title_focused))];
    for (action, what) in DETAIL_KEYS {
        if let Some(keys) = keys_of(state, action) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {keys:<16}"), theme.keybar_key),
                Span::styled(format!(" {what}"), theme.text),
            ]));
        }
    }
    lines.push(Line::from(vec![
        Span::styled(format!("  {:<16}", "wheel"), theme.keybar_key),
        Span::styled(" scroll (mouse captured)", theme.text),
    ]));
    lines
}

pub fn help_lines(state: &State) -> Vec<Line<'static>> {
    let theme = &state.theme;
    let mut lines = detail_lines(state);
    for context in Keymap::contexts_for(state.layout.focus) {
        let bindings = state.keymap.bindings(context);
        if bindings.is_empty() {
            continue;
        }
        let heading = match context {
            Context::Global => "Everywhere".to_string(),
            Context::Lists => "Lists".to_string(),
            Context::Pane(p) => p.title().to_string(),
        };
        lines.push(Line::from(Span::styled(heading, theme.title_focused)));
        for (action, keys) in bindings {
            let labels: Vec<String> = keys.iter().map(|k| k.label()).collect();
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<16}", labels.join(" ")), theme.keybar_key),
                Span::styled(format!(" {}", action.description()), theme.text),
            ]));
            if let Some(note) = action.help_note() {
                lines.push(Line::from(Span::styled(
                    format!("  {:<16}  ({note})", ""),
                    theme.muted,
                )));
            }
        }
    }
    lines.push(Line::from(Span::styled(
        "Command palette",
        theme.title_focused,
    )));
    for (cmd, desc) in PALETTE_HELP {
        lines.push(Line::from(vec![
            Span::styled(format!("  {cmd:<22}"), theme.keybar_key),
            Span::styled(format!(" {desc}"), theme.text),
        ]));
    }
    lines
}
