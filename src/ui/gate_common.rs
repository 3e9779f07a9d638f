//! Pieces shared by the Actions and History panes: tier and state styles,
//! times, and the detail view of one action.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::state::State;
use crate::gate::{ActionState, ActionView, Tier};
use crate::text::{inert, inert_multiline};

pub fn tier_style(state: &State, tier: Tier) -> Style {
    let t = &state.theme;
    match tier {
        Tier::Auto => t.tier_auto,
        Tier::Approve => t.tier_approve,
        Tier::Confirm => t.tier_confirm,
        Tier::Deny => t.tier_deny,
    }
}

pub fn state_style(state: &State, s: ActionState) -> Style {
    let t = &state.theme;
    match s {
        ActionState::Succeeded => t.ok,
        ActionState::Failed | ActionState::Blocked => t.critical,
        ActionState::Uncertain | ActionState::Pending | ActionState::Executing => t.warning,
        _ => t.muted,
    }
}

/// `HH:MM:SS` of unix milliseconds, in UTC or local time as the state says.
pub fn time_of(state: &State, ms: i64) -> String {
    super::format_time(state, ms, "%H:%M:%S")
}

/// `YYYY-MM-DD HH:MM:SS`.
pub fn date_time_of(state: &State, ms: i64) -> String {
    super::format_time(state, ms, "%Y-%m-%d %H:%M:%S")
}

/// A countdown that reads as one, not as a time of day: `⏳ 14m59s`,
/// `⏳ 1h02m`, `⏳ 42s`, or `expired`.
pub fn countdown(secs: i64) -> String {
    if secs <= 0 {
        "expired".into()
    } else {
        format!("⏳ {}", countdown_short(secs))
    }
}

/// The same without the hourglass, for a list column (`14m59s`, at most
/// 7 columns).
pub fn countdown_short(secs: i64) -> String {
    if secs <= 0 {
        "expired".into()
    } else if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    } else if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

pub fn duration_text(ms: Option<i64>) -> String {
    match ms {
        None => "-".into(),
        Some(ms) if ms < 10_000 => format!("{:.1}s", ms as f64 / 1000.0),
        Some(ms) => crate::metrics::units::human_duration((ms / 1000).max(0) as u64),
    }
}

pub fn exit_text(a: &ActionView) -> String {
    a.exit_code
        .map(|c| c.to_string())
        .or_else(|| a.signal.as_ref().map(|s| format!("SIG{}", inert(s))))
        .unwrap_or_else(|| "-".into())
}

/// The detail view of action `id`: everything the operator needs to
/// decide, the full command (wrapped, never cut, control characters shown
/// inert), and the timeline and output once known.
pub fn draw_detail(frame: &mut Frame, area: Rect, state: &State, id: &str, scroll: u16) {
    let Some(a) = state.gate.actions.get(id) else {
        frame.render_widget(
            Paragraph::new(Line::styled(
                " this action is no longer known",
                state.theme.muted,
            )),
            area,
        );
        return;
    };
    let lines = detail_lines(state, a);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
}

pub fn detail_lines(state: &State, a: &ActionView) -> Vec<Line<'static>> {
    let t = &state.theme;
    let label = |s: &'static str| Span::styled(s, t.muted);
    let now_ms = state.now * 1000;
    let mut lines = Vec::new();
    if let Some(problem) = a
        .tampered
        .as_deref()
        .filter(|p| !crate::gate::replay::is_tampering(p))
    {
        lines.push(Line::styled(format!(" unverified: {problem}"), t.warning));
    } else if let Some(problem) = &a.tampered {
        lines.push(Line::styled(
            format!(
                " ⚠ TAMPERED: {} — what follows is the edited row, not what was recorded",
                inert(problem)
            ),
            t.critical,
        ));
    }
    let title = if a.title.is_empty() {
        "(no title)".to_string()
    } else {
        inert(&a.title)
    };
    lines.push(Line::from(vec![
        Span::styled(
            format!(" {} ", a.tier.name().to_uppercase()),
            tier_style(state, a.tier).add_modifier(Modifier::REVERSED),
        ),
        Span::raw(" "),
        Span::styled(title, t.text.add_modifier(Modifier::BOLD)),
    ]));
    let mut status = vec![
        label(" state "),
        Span::styled(a.state.name().to_string(), state_style(state, a.state)),
    ];
    if a.state == ActionState::Pending
        && let Some(left) = a.secs_left(now_ms)
    {
        status.push(label("  time left "));
        status.push(Span::styled(countdown(left), t.warning));
    }
    status.push(label("  id "));
    status.push(Span::styled(a.id.clone(), t.text));
    lines.push(Line::from(status));
    lines.push(Line::from(vec![
        label(" proposer "),
        Span::styled(inert(&a.agent), t.text),
        Span::styled(
            format!(" ({})", confinement_words(a)),
            if a.confined.is_some() {
                t.ok
            } else {
                t.warning
            },
        ),
        label("  stated risk "),
        Span::styled(a.risk.map(|r| r.name()).unwrap_or("-").to_string(), t.text),
        label("  rule "),
        Span::styled(inert(&a.rule), t.text),
    ]));
    lines.extend(runbook_lines(state, a));
    lines.push(Line::from(vec![
        label(" host "),
        Span::styled(inert(&a.host), t.text),
        label("  cwd "),
        Span::styled(
            a.cwd
                .as_deref()
                .map(inert)
                .unwrap_or_else(|| "(login default)".into()),
            t.text,
        ),
        label("  timeout "),
        Span::styled(format!("{}s", a.timeout_secs), t.text),
    ]));
    lines.push(Line::from(vec![
        label(" fingerprint "),
        Span::styled(a.fingerprint.clone(), t.muted),
    ]));
    lines.push(Line::styled(" command:", t.muted));
    for line in inert_multiline(&a.command) {
        lines.push(Line::styled(
            format!("   {line}"),
            t.text.add_modifier(Modifier::BOLD),
        ));
    }
    if !a.reason.is_empty() {
        lines.push(Line::styled(" reason:", t.muted));
        for line in inert_multiline(&a.reason) {
            lines.push(Line::styled(format!("   {line}"), t.text));
        }
    }
    if let Some(by) = &a.decided_by {
        let mut spans = vec![label(" decided by "), Span::styled(inert(by), t.text)];
        if let Some(at) = a.decided_at {
            spans.push(label(" at "));
            spans.push(Span::styled(time_of(state, at), t.text));
        }
        if let Some(why) = &a.decision_reason {
            spans.push(label(": "));
            spans.push(Span::styled(inert(why), t.text));
        }
        lines.push(Line::from(spans));
    }
    if a.started_at.is_some() {
        lines.push(Line::from(vec![
            label(" started "),
            Span::styled(
                a.started_at.map(|s| time_of(state, s)).unwrap_or_default(),
                t.text,
            ),
            label("  duration "),
            Span::styled(duration_text(a.duration_ms()), t.text),
            label("  exit "),
            Span::styled(exit_text(a), state_style(state, a.state)),
        ]));
    }
    if let Some(err) = &a.error {
        lines.push(Line::styled(format!(" {}", inert(err)), t.critical));
    }
    lines.extend(super::outcome::verdict_lines(state, a));
    let stored = state.gate.details.get(&a.id);
    if let Some((events, _)) = stored
        && !events.is_empty()
    {
        {
            lines.push(Line::styled(" timeline:", t.muted));
            for e in events {
                lines.push(Line::from(vec![
                    Span::styled(
                        format!("   #{:<6} {} ", e.seq, time_of(state, e.ts_ms)),
                        t.muted,
                    ),
                    Span::styled(format!("{:<14}", e.kind), t.text),
                    Span::styled(inert(&e.actor), t.muted),
                ]));
            }
        }
    }
    let (stdout, stderr, note) = match (
        stored.and_then(|(_, o)| o.as_ref()),
        state.gate.live_output.get(&a.id),
    ) {
        (Some(o), _) => (
            o.stdout.clone(),
            o.stderr.clone(),
            format!(
                "{} B stdout, {} B stderr (sha256 {}…)",
                o.stdout_total,
                o.stderr_total,
                o.stdout_sha256.get(..12).unwrap_or("")
            ),
        ),
        (None, Some(live)) => (
            String::from_utf8_lossy(&live.stdout).into_owned(),
            String::from_utf8_lossy(&live.stderr).into_owned(),
            if a.state == ActionState::Executing {
                "live".to_string()
            } else {
                "as streamed".to_string()
            },
        ),
        (None, None) => (String::new(), String::new(), String::new()),
    };
    let (stdout, stderr, note) = with_revealed(state, a, stdout, stderr, note);
    if !note.is_empty() {
        lines.push(Line::styled(format!(" output ({note}):"), t.muted));
        for line in inert_multiline(stdout.trim_end_matches('\n')) {
            lines.push(Line::styled(format!("   {line}"), t.text));
        }
        if !stderr.is_empty() {
            for line in inert_multiline(stderr.trim_end_matches('\n')) {
                lines.push(Line::styled(format!(" ! {line}"), t.warning));
            }
        }
    }
    lines.extend(super::outcome::table_lines(state, a, state.layout.width));
    lines.extend(policy_view_lines(state, &a.command));
    lines
}

/// The output with the masked value the operator chose to see in clear
/// (`v` in the detail), and the note saying so.
fn with_revealed(
    state: &State,
    a: &ActionView,
    stdout: String,
    stderr: String,
    note: String,
) -> (String, String, String) {
    use crate::secrets::mask::{MASK, reveal_nth};
    let Some(n) = state
        .gate
        .detail
        .as_ref()
        .filter(|d| d.id == a.id)
        .and_then(|d| d.revealed)
    else {
        return (stdout, stderr, note);
    };
    let Some(values) = crate::app::gate::revealable(state, &a.id) else {
        return (stdout, stderr, note);
    };
    let Some(value) = values.get(n) else {
        return (stdout, stderr, note);
    };
    let in_stdout = stdout.matches(MASK).count();
    let note = format!("{note}; value {} of {} in clear", n + 1, values.len());
    if n < in_stdout {
        (reveal_nth(&stdout, n, value), stderr, note)
    } else {
        let at = n - in_stdout;
        (stdout, reveal_nth(&stderr, at, value), note)
    }
}

/// Draws the action detail opened in `pane`, if one is open there.
pub fn draw_open_detail(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    pane: crate::action::PaneId,
) -> bool {
    match state.gate.detail.as_ref().filter(|d| d.pane == pane) {
        Some(d) => {
            draw_detail(frame, area, state, &d.id, d.scroll);
            true
        }
        None => false,
    }
}

/// "What the policy saw": each simple command's words after unquoting and
/// unwrapping, every word bracketed so spaces and empty words show, and a
/// warning when the text did not parse (it is then never `auto`).
pub fn policy_view_lines(state: &State, command: &str) -> Vec<Line<'static>> {
    let t = &state.theme;
    let parsed = crate::gate::policy::shell::parse(command);
    let mut lines = Vec::new();
    if let Some(why) = &parsed.error {
        lines.push(Line::styled(
            format!(
                " ⚠ the policy could not parse this command ({}): it is never auto",
                inert(why)
            ),
            t.warning,
        ));
    }
    lines.push(Line::styled(" what the policy saw:", t.muted));
    for c in parsed.commands.iter().take(20) {
        let words: Vec<String> = c
            .texts()
            .iter()
            .map(|w| format!("[{}]", inert(w)))
            .collect();
        lines.push(Line::styled(format!("   {}", words.join(" ")), t.text));
    }
    for concern in parsed.concerns.iter().take(10) {
        lines.push(Line::styled(
            format!("   note: {}", inert(&concern.text)),
            t.muted,
        ));
    }
    lines
}

/// Whether the proposer could have gone around the gate: `conf` (started
/// by `opscockpit agent`, with its profile) or `UNCONF`, as a short cell
/// and as words for popups and details.
pub fn confinement_cell(state: &State, a: &ActionView) -> Span<'static> {
    match &a.confined {
        Some(_) => Span::styled("conf  ", state.theme.ok),
        None => Span::styled("UNCONF", state.theme.warning),
    }
}

/// The few words the approve popup has room for.
pub fn confinement_short(a: &ActionView) -> String {
    match &a.confined {
        Some(profile) => format!("confined:{}", inert(profile)),
        None => "UNCONFINED".into(),
    }
}

pub fn confinement_words(a: &ActionView) -> String {
    match &a.confined {
        Some(profile) => format!("confined (profile {})", inert(profile)),
        None => "UNCONFINED: the proposer could have gone around the gate".into(),
    }
}

/// Where the action came from, when a runbook: the provenance line and, when
/// the command differs from the step, the diff (for the detail and popup).
pub fn runbook_lines(state: &State, a: &ActionView) -> Vec<Line<'static>> {
    let t = &state.theme;
    let Some(rb) = &a.runbook else {
        return Vec::new();
    };
    let mut lines = vec![runbook_line(state, rb)];
    if let Some(expected) = rb.expected.as_deref().filter(|_| rb.matches == Some(false)) {
        lines.push(Line::styled(
            " runbook step (-) vs proposed command (+):",
            t.muted,
        ));
        for l in crate::runbooks::markdown::line_diff(expected, &a.command) {
            let style = match l.chars().next() {
                Some('-') => t.critical,
                Some('+') => t.warning,
                _ => t.muted,
            };
            lines.push(Line::styled(format!("   {}", inert(&l)), style));
        }
    }
    lines
}

/// ` runbook: PATH@COMMIT#step-N (modified) · step sha256 …`: which runbook
/// text the action came from.
pub fn runbook_line(state: &State, rb: &crate::runbooks::RunbookRef) -> Line<'static> {
    let t = &state.theme;
    let mut spans = vec![
        Span::styled(" runbook: ", t.muted),
        Span::styled(inert(&rb.label()), t.text),
    ];
    if rb.modified {
        spans.push(Span::styled(" (file modified)", t.warning));
    }
    match rb.matches {
        Some(true) => spans.push(Span::styled(" matches runbook", t.ok)),
        Some(false) => spans.push(Span::styled(" differs from runbook", t.critical)),
        None => {}
    }
    spans.push(Span::styled(
        format!(
            "  step sha256 {}",
            inert(rb.step_sha256.get(..12).unwrap_or(&rb.step_sha256))
        ),
        t.muted,
    ));
    Line::from(spans)
}

#[cfg(test)]
mod countdown_tests {
    use super::countdown;

    #[test]
    fn countdowns_do_not_look_like_clock_times() {
        assert_eq!(countdown(898), "⏳ 14m58s");
        assert_eq!(countdown(3720), "⏳ 1h02m");
        assert_eq!(countdown(42), "⏳ 42s");
        assert_eq!(countdown(0), "expired");
        assert_eq!(super::countdown_short(898), "14m58s");
        for secs in [1, 59, 60, 899, 3599, 3600, 86_399] {
            assert!(
                !countdown(secs).contains(':'),
                "{secs}: {}",
                countdown(secs)
            );
        }
    }
}
