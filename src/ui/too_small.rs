//! Shown instead of the layout when the terminal is below 80×24.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::layout::{MIN_HEIGHT, MIN_WIDTH};
use crate::app::state::{Overlay, State};

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    let mut lines = vec![
        Line::styled("terminal too small", state.theme.warning),
        Line::styled(
            format!(
                "{}×{} — needs at least {MIN_WIDTH}×{MIN_HEIGHT}",
                area.width, area.height
            ),
            state.theme.text,
        ),
        Line::styled(
            format!(
                "enlarge the window, or press {} to quit",
                super::key(
                    state,
                    crate::action::PaneId::Metrics,
                    crate::action::Action::Quit
                )
            ),
            state.theme.muted,
        ),
    ];
    if let Overlay::ConfirmQuit { pending } = state.overlay {
        lines.push(Line::styled(
            super::quit_popup::question(pending),
            state.theme.warning,
        ));
        lines.push(Line::styled(
            "y quits · any other key stays",
            state.theme.muted,
        ));
    } else if let Some(flash) = &state.flash {
        lines.push(Line::styled(flash.text.clone(), state.theme.muted));
    }
    let top = area.height.saturating_sub(lines.len() as u16) / 2;
    let inner = Rect::new(
        area.x,
        area.y + top,
        area.width,
        area.height.saturating_sub(top),
    );
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        inner,
    );
}
