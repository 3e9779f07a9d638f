//! Shown instead of the layout when the terminal is below 80×24.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::state::State;

use crate::app::layout::{MIN_HEIGHT, MIN_WIDTH};

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    let lines = vec![
        Line::styled("terminal too small", state.theme.warning),
        Line::styled(
            format!(
                "{}×{} — needs at least {MIN_WIDTH}×{MIN_HEIGHT}",
                area.width, area.height
            ),
            state.theme.text,
        ),
        Line::styled("enlarge the window, or press q to quit", state.theme.muted),
    ];
    let top = area.height.saturating_sub(3) / 2;
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
