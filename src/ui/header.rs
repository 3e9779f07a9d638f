//! The header line: host, metrics source, uptime, connection, alert and
//! pending-action counts, and the clock. Shown on every screen.

use chrono::{Local, TimeZone, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::event::ConnectionState;
use crate::app::state::{AlertLevel, State};
use crate::metrics::units::human_duration;
use crate::text::inert;

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    let theme = &state.theme;
    let sep = || Span::styled(" │ ", theme.header);
    let host = state
        .metrics
        .hostname
        .as_deref()
        .map(inert)
        .unwrap_or_else(|| inert(&state.host));
    let mut left = vec![Span::styled(format!(" {host} "), theme.header_host)];
    if state.target != host {
        left.push(Span::styled(
            format!("({}) ", inert(&state.target)),
            theme.header,
        ));
    }
    left.push(sep());
    left.push(Span::styled(
        format!(
            "src {}",
            state.metrics.source.map(|s| s.label()).unwrap_or("—")
        ),
        theme.header,
    ));
    if let Some(up) = state.metrics.uptime_secs {
        left.push(sep());
        left.push(Span::styled(
            format!("up {}", human_duration(up)),
            theme.header,
        ));
    }
    left.push(sep());
    left.push(connection_span(state));

    let mut right = vec![alerts_span(state), sep(), pending_span(state), sep()];
    right.push(Span::styled(format!("{} ", clock(state)), theme.header));

    let right_width: usize = right.iter().map(|s| s.width()).sum();
    let left_width: usize = left.iter().map(|s| s.width()).sum();
    let gap = usize::from(area.width).saturating_sub(left_width + right_width);
    let mut spans = left;
    spans.push(Span::styled(" ".repeat(gap), theme.header));
    spans.extend(right);
    frame.render_widget(Paragraph::new(Line::from(spans)).style(theme.header), area);
}

fn connection_span(state: &State) -> Span<'static> {
    let theme = &state.theme;
    match &state.connection {
        ConnectionState::Local => Span::styled("● local", theme.header),
        ConnectionState::Connected { rtt_ms: Some(ms) } => {
            Span::styled(format!("● connected {ms} ms"), theme.header)
        }
        ConnectionState::Connected { rtt_ms: None } => Span::styled("● connected", theme.header),
        ConnectionState::Reconnecting { attempt, .. } => {
            Span::styled(format!("◌ reconnecting (try {attempt})"), theme.warning)
        }
        ConnectionState::Down { .. } => Span::styled("✕ down", theme.critical),
    }
}

fn alerts_span(state: &State) -> Span<'static> {
    let theme = &state.theme;
    let text = format!("alerts {}", state.alert_count);
    match state.alert_worst {
        Some(AlertLevel::Critical) => Span::styled(format!("‼ {text} crit"), theme.critical),
        Some(AlertLevel::Warning) => Span::styled(format!("! {text} warn"), theme.warning),
        None => Span::styled(text, theme.header),
    }
}

fn pending_span(state: &State) -> Span<'static> {
    let text = format!("pending {}", state.pending_actions);
    if state.pending_actions > 0 {
        Span::styled(format!("⏳ {text}"), state.theme.warning)
    } else {
        Span::styled(text, state.theme.header)
    }
}

fn clock(state: &State) -> String {
    if state.utc {
        Utc.timestamp_opt(state.now, 0)
            .single()
            .map(|t| t.format("%H:%M:%S UTC").to_string())
            .unwrap_or_default()
    } else {
        Local
            .timestamp_opt(state.now, 0)
            .single()
            .map(|t| t.format("%H:%M:%S").to_string())
            .unwrap_or_default()
    }
}
