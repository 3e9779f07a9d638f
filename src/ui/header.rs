//! The header line: host, metrics source, uptime, connection, alert and
//! pending-action counts, and the clock. Shown on every screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::state::State;
use crate::metrics::AlertLevel;
use crate::metrics::units::human_duration;
use crate::text::inert;
use crate::transport::ConnectionState;

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    let theme = &state.theme;
    let host = state
        .metrics
        .hostname
        .as_deref()
        .map(inert)
        .unwrap_or_else(|| inert(&state.host));
    // Items by priority: when the line is too narrow the least important
    // ones (last in this list) are left out, never the counts or the clock.
    let mut left: Vec<(u8, Span<'static>)> =
        vec![(0, Span::styled(format!(" {host} "), theme.header_host))];
    if state.target != host {
        left.push((
            6,
            Span::styled(format!("({}) ", inert(&state.target)), theme.header),
        ));
    }
    left.push((
        4,
        Span::styled(
            format!(
                "src {}",
                state.metrics.source.map(|s| s.label()).unwrap_or("—")
            ),
            theme.header,
        ),
    ));
    if let Some(up) = state.metrics.uptime_secs {
        left.push((
            5,
            Span::styled(format!("up {}", human_duration(up)), theme.header),
        ));
    }
    left.push((1, connection_span(state)));
    if let Some(quiet) = quiet_span(state) {
        left.push((1, quiet));
    }
    let mut right: Vec<(u8, Span<'static>)> = Vec::new();
    if state.gate.integrity.is_some() {
        // The History pane says what; the header only that it is so.
        right.push((1, Span::styled("⚠ history broken", theme.critical)));
    }
    if let Some(failing) = notify_span(state, area.width >= 120) {
        right.push((2, failing));
    }
    right.extend([
        (2, alerts_span(state)),
        (2, pending_span(state)),
        (3, Span::styled(format!("{} ", clock(state)), theme.header)),
    ]);

    let width = usize::from(area.width);
    let mut max_priority = 6;
    let fits = |limit: u8| -> bool {
        let shown = |items: &[(u8, Span<'static>)]| {
            let widths: Vec<usize> = items
                .iter()
                .filter(|(p, _)| *p <= limit)
                .map(|(_, s)| s.width())
                .collect();
            widths.iter().sum::<usize>() + 3 * widths.len().saturating_sub(1)
        };
        // At least one space between the left and the right group.
        shown(&left) + shown(&right) < width
    };
    while max_priority > 0 && !fits(max_priority) {
        max_priority -= 1;
    }
    let sep = || Span::styled(" │ ", theme.header);
    let join = |items: &[(u8, Span<'static>)]| -> Vec<Span<'static>> {
        let mut spans = Vec::new();
        for (_, span) in items.iter().filter(|(p, _)| *p <= max_priority) {
            if !spans.is_empty() {
                spans.push(sep());
            }
            spans.push(span.clone());
        }
        spans
    };
    let left_spans = join(&left);
    let right_spans = join(&right);
    let used: usize = left_spans.iter().chain(&right_spans).map(Span::width).sum();
    let mut spans = left_spans;
    spans.push(Span::styled(
        " ".repeat(width.saturating_sub(used)),
        theme.header,
    ));
    spans.extend(right_spans);
    frame.render_widget(Paragraph::new(Line::from(spans)).style(theme.header), area);
}

fn connection_span(state: &State) -> Span<'static> {
    let theme = &state.theme;
    match &state.connection {
        ConnectionState::Local => Span::styled("● local", theme.header),
        // Missing replies come first: an old round trip would say "fine".
        ConnectionState::Connected { unanswered, .. } if *unanswered > 0 => Span::styled(
            format!("◌ {}", crate::transport::keepalives_unanswered(*unanswered)),
            theme.warning,
        ),
        ConnectionState::Connected {
            rtt_ms: Some(ms), ..
        } => Span::styled(
            format!("● connected {}", crate::transport::round_trip_text(*ms)),
            theme.header,
        ),
        ConnectionState::Connected { rtt_ms: None, .. } => {
            Span::styled("● connected", theme.header)
        }
        ConnectionState::Reconnecting { attempt, .. } => {
            Span::styled(format!("◌ reconnecting (try {attempt})"), theme.warning)
        }
        ConnectionState::Down { .. } => Span::styled("✕ down", theme.critical),
    }
}

/// "notify: ntfy failing since 03:12" while a channel's last message
/// failed: an operator who relies on the phone must know it is silent.
/// Narrow screens get "✉ ntfy failing", so the clock still fits.
fn notify_span(state: &State, wide: bool) -> Option<Span<'static>> {
    let failing = &state.notify.failing;
    let (channel, since) = failing
        .iter()
        .min_by_key(|(name, since)| (**since, (*name).clone()))?;
    let more = match failing.len() {
        1 => String::new(),
        n => format!(" +{}", n - 1),
    };
    let channel: String = inert(channel).chars().take(16).collect();
    let text = if wide {
        format!(
            "✉ notify: {channel} failing since {}{more}",
            super::format_time(state, since * 1000, "%H:%M")
        )
    } else {
        format!("✉ {channel} failing{more}")
    };
    Some(Span::styled(text, state.theme.critical))
}

/// The worst source state: sources that went quiet while the link claims
/// to be fine (a lost link is said by the connection span itself).
fn quiet_span(state: &State) -> Option<Span<'static>> {
    if state.metrics.stale_since.is_some() {
        return None;
    }
    let quiet = crate::app::freshness::quiet_sources(state);
    if quiet.is_empty() {
        return None;
    }
    let names: Vec<&str> = quiet.iter().map(|s| s.label()).collect();
    Some(Span::styled(
        format!("⚠ stale: {}", names.join(", ")),
        state.theme.warning,
    ))
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
    let mut text = format!("pending {}", state.pending_actions);
    if state.gate.expired_unseen > 0 {
        text.push_str(&format!(" · ⌛ {} expired", state.gate.expired_unseen));
    }
    if state.pending_actions > 0 || state.gate.expired_unseen > 0 {
        Span::styled(format!("⏳ {text}"), state.theme.warning)
    } else {
        Span::styled(text, state.theme.header)
    }
}

fn clock(state: &State) -> String {
    // Local time says its zone too (as an offset: the OS zone name is not
    // known portably), so a clock time is never ambiguous.
    let fmt = if state.utc {
        "%H:%M:%S UTC"
    } else {
        "%H:%M:%S %:z"
    };
    super::format_time(state, state.now * 1000, fmt)
}
