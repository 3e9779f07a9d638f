//! What a message says, the same for every channel: host, tier, title,
//! proposer (and whether it is confined), how long it has waited, when it
//! expires — the command only where the channel asks for it. Every string
//! from outside is made inert and masked like action output. A message
//! never offers a way to approve; it says where to decide instead.

use serde_json::json;

use super::{EventKind, NotifyEvent};
use crate::secrets::mask::mask;
use crate::text::inert;

/// Longest title and text field carried (a proposal title can be long).
const FIELD_LIMIT: usize = 300;
/// Longest command carried (with `include_command = true`).
const COMMAND_LIMIT: usize = 2000;

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub title: String,
    /// Plain text, one fact per line; the last line says where to decide.
    pub body: String,
    /// ntfy's scale: 1 (min) … 5 (urgent).
    pub priority: u8,
    /// ntfy tags (emoji short codes and words).
    pub tags: Vec<String>,
    /// The event for JSON channels (webhook, command), with the same masked
    /// fields and the same text.
    pub json: serde_json::Value,
}

/// Masked and inert, cut to `limit` characters.
pub fn clean(text: &str, limit: usize) -> String {
    let (masked, _) = mask(&inert(text));
    if masked.chars().count() <= limit {
        return masked;
    }
    let mut cut: String = masked.chars().take(limit).collect();
    cut.push('…');
    cut
}

/// Where the decision happens, in every message about a proposal.
pub fn decide_hint(host: &str) -> String {
    format!(
        "Approval happens only in the cockpit: open `opscockpit {}` to decide.",
        clean(host, FIELD_LIMIT)
    )
}

pub fn build(event: &NotifyEvent, include_command: bool) -> Message {
    let host = clean(&event.host, FIELD_LIMIT);
    let mut lines = vec![format!("host: {host}")];
    let mut fields = serde_json::Map::new();
    if let Some(p) = &event.proposal {
        lines.push(format!("tier: {}", clean(&p.tier, 20)));
        lines.push(format!("title: {}", clean(&p.title, FIELD_LIMIT)));
        let confined = match &p.confined {
            Some(profile) => format!("confined, profile {}", clean(profile, 60)),
            None => "not known to be confined".into(),
        };
        lines.push(format!(
            "proposer: {} ({confined})",
            clean(&p.proposer, 100)
        ));
        let waited = (event.at - p.created_at).max(0);
        lines.push(format!("waited: {}", human_secs(waited)));
        if let Some(expires) = p.expires_at {
            lines.push(expiry_line(event.at, expires));
        }
        if include_command {
            lines.push(format!("command: {}", clean(&p.command, COMMAND_LIMIT)));
            fields.insert("command".into(), json!(clean(&p.command, COMMAND_LIMIT)));
        }
        fields.insert("proposal_id".into(), json!(clean(&p.id, 80)));
        fields.insert("tier".into(), json!(clean(&p.tier, 20)));
        fields.insert("title".into(), json!(clean(&p.title, FIELD_LIMIT)));
        fields.insert("proposer".into(), json!(clean(&p.proposer, 100)));
        fields.insert(
            "confined".into(),
            json!(p.confined.as_deref().map(|c| clean(c, 60))),
        );
        fields.insert("waited_secs".into(), json!(waited));
        fields.insert("expires_at".into(), json!(p.expires_at));
    }
    if let Some(a) = &event.alert {
        lines.push(format!(
            "alert: {} on {}",
            clean(&a.name, FIELD_LIMIT),
            clean(&a.chart, FIELD_LIMIT)
        ));
        if !a.value.is_empty() || !a.info.is_empty() {
            lines.push(
                format!("{} {}", clean(&a.value, 60), clean(&a.info, FIELD_LIMIT))
                    .trim()
                    .to_string(),
            );
        }
        fields.insert("alert".into(), json!(clean(&a.name, FIELD_LIMIT)));
        fields.insert("chart".into(), json!(clean(&a.chart, FIELD_LIMIT)));
        fields.insert("value".into(), json!(clean(&a.value, 60)));
    }
    if !event.detail.is_empty() {
        lines.push(clean(&event.detail, FIELD_LIMIT));
    }
    if event.proposal.is_some() {
        lines.push(decide_hint(&event.host));
    }
    let title = title(event, &host);
    let body = lines.join("\n");
    fields.insert("event".into(), json!(event.kind.name()));
    fields.insert("escalation".into(), json!(event.escalation));
    fields.insert("host".into(), json!(host));
    fields.insert("at".into(), json!(event.at));
    fields.insert("title_line".into(), json!(title));
    fields.insert("text".into(), json!(body));
    Message {
        title,
        body,
        priority: priority(event),
        tags: tags(event),
        json: serde_json::Value::Object(fields),
    }
}

fn title(event: &NotifyEvent, host: &str) -> String {
    let what = event
        .proposal
        .as_ref()
        .map(|p| {
            clean(
                if p.title.is_empty() {
                    &p.command
                } else {
                    &p.title
                },
                80,
            )
        })
        .or_else(|| event.alert.as_ref().map(|a| clean(&a.name, 80)))
        .unwrap_or_default();
    let head = match event.kind {
        EventKind::Proposal => "proposal waits for a decision",
        EventKind::ProposalWaiting if event.escalation => "ESCALATED: proposal still undecided",
        EventKind::ProposalWaiting => "proposal still undecided",
        EventKind::ProposalExpiring => "proposal expires soon",
        EventKind::ProposalExpired => "proposal expired, nothing ran",
        EventKind::ActionFailed => "action failed",
        EventKind::ActionUncertain => "action outcome uncertain",
        EventKind::AlertCritical => "CRITICAL",
        EventKind::AlertCleared => "cleared",
        EventKind::LinkDown => "link down",
    };
    if what.is_empty() {
        format!("{host}: {head}")
    } else {
        format!("{host}: {head}: {what}")
    }
}

fn priority(event: &NotifyEvent) -> u8 {
    match event.kind {
        _ if event.escalation => 5,
        EventKind::AlertCritical | EventKind::ProposalExpiring | EventKind::LinkDown => 5,
        EventKind::Proposal | EventKind::ProposalWaiting | EventKind::ActionUncertain => 4,
        EventKind::ActionFailed => 4,
        EventKind::ProposalExpired => 3,
        EventKind::AlertCleared => 2,
    }
}

fn tags(event: &NotifyEvent) -> Vec<String> {
    let emoji = match event.kind {
        EventKind::AlertCritical => "rotating_light",
        EventKind::AlertCleared => "white_check_mark",
        EventKind::LinkDown => "electric_plug",
        EventKind::ProposalExpired | EventKind::ProposalExpiring => "hourglass",
        EventKind::ActionFailed | EventKind::ActionUncertain => "warning",
        EventKind::Proposal | EventKind::ProposalWaiting => "raised_hand",
    };
    vec![emoji.into(), event.kind.name().into()]
}

fn expiry_line(now: i64, expires: i64) -> String {
    let at = chrono::DateTime::from_timestamp(expires, 0)
        .map(|t| t.format("%H:%M:%S UTC").to_string())
        .unwrap_or_default();
    if expires > now {
        format!("expires: in {} ({at})", human_secs(expires - now))
    } else {
        format!("expired: {} ago ({at})", human_secs(now - expires))
    }
}

/// `2m 5s`, `1h 3m`, `40s`.
pub fn human_secs(secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{AlertFacts, ProposalFacts};

    pub(crate) fn proposal_event(kind: EventKind, command: &str) -> NotifyEvent {
        NotifyEvent {
            kind,
            rule: None,
            escalation: false,
            host: "web1".into(),
            subject: "a1b2c3".into(),
            at: 1_700_000_300,
            proposal: Some(ProposalFacts {
                id: "a1b2c3".into(),
                tier: "confirm".into(),
                title: "restart nginx".into(),
                proposer: "claude".into(),
                confined: Some("default".into()),
                created_at: 1_700_000_000,
                expires_at: Some(1_700_000_900),
                command: command.into(),
            }),
            alert: None,
            detail: String::new(),
        }
    }

    #[test]
    fn a_proposal_message_says_who_what_how_long_and_where_to_decide() {
        let m = build(
            &proposal_event(EventKind::ProposalWaiting, "systemctl restart nginx"),
            false,
        );
        assert_eq!(m.title, "web1: proposal still undecided: restart nginx");
        for fact in [
            "host: web1",
            "tier: confirm",
            "proposer: claude (confined, profile default)",
            "waited: 5m",
            "expires: in 10m (22:28:20 UTC)",
            "open `opscockpit web1` to decide",
        ] {
            assert!(m.body.contains(fact), "{fact} missing:\n{}", m.body);
        }
        assert!(
            !m.body.contains("systemctl"),
            "no command by default:\n{}",
            m.body
        );
        assert!(m.json.get("command").is_none());
        assert_eq!(m.json["event"], "proposal_waiting");
        assert_eq!(m.json["waited_secs"], 300);
        assert_eq!(m.priority, 4);
    }

    #[test]
    fn the_command_is_masked_and_control_characters_are_inert() {
        let mut event = proposal_event(
            EventKind::Proposal,
            "curl -H 'X-Api-Token: tk_hunter2hunter2' https://x API_TOKEN=s3cr3tvalue",
        );
        if let Some(p) = event.proposal.as_mut() {
            p.title = "evil\x1b]0;pwned\x07 title".into();
        }
        let m = build(&event, true);
        for text in [&m.body, &m.title, &m.json.to_string()] {
            assert!(
                !text.contains("hunter2") && !text.contains("s3cr3tvalue"),
                "{text}"
            );
            assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text}");
        }
        assert!(
            m.body.contains("command: curl -H 'X-Api-Token: ***"),
            "{}",
            m.body
        );
        assert!(m.title.contains("evil␛]0;pwned␇ title"), "{}", m.title);
    }

    #[test]
    fn alerts_and_escalations_are_urgent() {
        let mut event = proposal_event(EventKind::ProposalWaiting, "x");
        event.escalation = true;
        let m = build(&event, false);
        assert!(m.title.contains("ESCALATED"), "{}", m.title);
        assert_eq!(m.priority, 5);
        let alert = NotifyEvent {
            kind: EventKind::AlertCritical,
            proposal: None,
            alert: Some(AlertFacts {
                name: "ram_in_use".into(),
                chart: "system.ram".into(),
                value: "97%".into(),
                info: "memory nearly full".into(),
            }),
            ..proposal_event(EventKind::AlertCritical, "")
        };
        let m = build(&alert, false);
        assert_eq!(m.title, "web1: CRITICAL: ram_in_use");
        assert!(
            m.body
                .contains("alert: ram_in_use on system.ram\n97% memory nearly full"),
            "{}",
            m.body
        );
        assert!(
            !m.body.contains("to decide"),
            "alerts have nothing to decide"
        );
        assert_eq!((m.priority, m.tags[0].as_str()), (5, "rotating_light"));
    }

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        assert_eq!(human_secs(40), "40s");
        assert_eq!(human_secs(120), "2m");
        assert_eq!(human_secs(125), "2m 5s");
        assert_eq!(human_secs(3 * 3600 + 60 * 7 + 3), "3h 7m");
        assert_eq!(human_secs(-5), "0s");
    }
}
