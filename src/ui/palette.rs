//! The `:` command palette: an input line with completions below it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

use crate::app::state::{PaletteState, State};
use crate::text::inert;

pub fn draw(frame: &mut Frame, area: Rect, state: &State, palette: &PaletteState) {
    let theme = &state.theme;
    let shown = palette.completions.len().min(8) as u16;
    let popup = Rect::new(
        area.x + 2,
        area.y + 1,
        area.width.saturating_sub(4).min(60),
        3 + shown,
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme.popup_border)
        .title(Span::styled(" command ", theme.popup_border));
    let mut lines = vec![Line::from(vec![
        Span::styled(":", theme.title_focused),
        Span::styled(format!("{}▏", inert(&palette.input)), theme.input),
    ])];
    for (i, completion) in palette.completions.iter().take(8).enumerate() {
        let style = if palette.completion_index == Some(i) {
            theme.selected
        } else {
            theme.muted
        };
        lines.push(Line::from(Span::styled(format!(" {completion}"), style)));
    }
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block).style(theme.popup), popup);
}
