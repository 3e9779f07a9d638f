//! Which channels an event goes to, by the `[[notify.rules]]`: the events a
//! rule lists, its tiers, its quiet hours and its minimum interval per
//! event and subject (a flapping alert sends one message, not fifty). An
//! escalation goes to the rule's `escalate_to` channels. Pure: the clock is
//! passed in.

use std::collections::HashMap;

use super::{EventKind, NotifyEvent};
use crate::config::notify::{QuietHours, RuleConfig};

/// Entries kept for the minimum interval before old ones are pruned.
const INTERVAL_MEMORY: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Send { channel: String },
    Suppressed { channel: String, why: String },
}

#[derive(Debug, Clone, Default)]
pub struct Router {
    rules: Vec<RuleConfig>,
    quiet: Vec<Option<QuietHours>>,
    /// (rule, event, subject, escalation) → when it was last sent.
    last_sent: HashMap<(usize, EventKind, String, bool), i64>,
}

impl Router {
    pub fn new(rules: Vec<RuleConfig>) -> Router {
        let quiet = rules
            .iter()
            .map(|r| r.quiet_hours.as_deref().and_then(QuietHours::parse))
            .collect();
        Router {
            rules,
            quiet,
            last_sent: HashMap::new(),
        }
    }

    /// `minute_of_day` is the operator's clock (quiet hours are theirs).
    pub fn route(&mut self, event: &NotifyEvent, minute_of_day: u16) -> Vec<Decision> {
        let mut decisions: Vec<Decision> = Vec::new();
        for i in 0..self.rules.len() {
            let Some(channels) = self.targets(i, event) else {
                continue;
            };
            let why = self.suppressed(i, event, minute_of_day);
            for channel in channels {
                let already = decisions.iter().any(|d| match d {
                    Decision::Send { channel: c } | Decision::Suppressed { channel: c, .. } => {
                        *c == channel
                    }
                });
                if already {
                    continue;
                }
                decisions.push(match &why {
                    Some(why) => Decision::Suppressed {
                        channel,
                        why: why.clone(),
                    },
                    None => Decision::Send { channel },
                });
            }
            if why.is_none() {
                self.remember(i, event);
            }
        }
        decisions
    }

    /// The channels rule `i` sends `event` to, or `None` when it does not.
    fn targets(&self, i: usize, event: &NotifyEvent) -> Option<Vec<String>> {
        let rule = &self.rules[i];
        if event.rule.is_some_and(|r| r != i) {
            return None;
        }
        if event.escalation {
            return (event.rule == Some(i)).then(|| rule.escalate_to.clone());
        }
        if !rule.events.contains(&event.kind) {
            return None;
        }
        if event.kind.is_proposal()
            && !rule.tiers.is_empty()
            && !event
                .proposal
                .as_ref()
                .is_some_and(|p| rule.tiers.contains(&p.tier))
        {
            return None;
        }
        Some(rule.channels.clone())
    }

    fn suppressed(&self, i: usize, event: &NotifyEvent, minute_of_day: u16) -> Option<String> {
        if let Some(quiet) = self.quiet[i]
            && quiet.contains(minute_of_day)
        {
            return Some(format!(
                "quiet hours {}",
                self.rules[i].quiet_hours.as_deref().unwrap_or_default()
            ));
        }
        let interval = self.rules[i].min_interval?.as_secs() as i64;
        let last = self.last_sent.get(&key(i, event))?;
        let left = last + interval - event.at;
        (left > 0).then(|| {
            format!(
                "minimum interval: one per {} ({} left)",
                super::message::human_secs(interval),
                super::message::human_secs(left)
            )
        })
    }

    fn remember(&mut self, i: usize, event: &NotifyEvent) {
        if self.rules[i].min_interval.is_none() {
            return;
        }
        if self.last_sent.len() >= INTERVAL_MEMORY {
            let longest = self
                .rules
                .iter()
                .filter_map(|r| r.min_interval)
                .max()
                .map_or(0, |d| d.as_secs() as i64);
            self.last_sent.retain(|_, at| *at + longest > event.at);
        }
        self.last_sent.insert(key(i, event), event.at);
    }
}

fn key(i: usize, event: &NotifyEvent) -> (usize, EventKind, String, bool) {
    (i, event.kind, event.subject.clone(), event.escalation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, toml_file};
    use crate::notify::{AlertFacts, ProposalFacts};

    fn router(rules: &str) -> Router {
        let text = format!(
            "[notify.phone]\nkind = \"desktop\"\n[notify.mate]\nkind = \"desktop\"\n[notify.log]\nkind = \"desktop\"\n{rules}"
        );
        let config: Config = toml_file::parse_str("c.toml", &text).expect("config");
        config.notify.validate("c.toml").expect("valid");
        Router::new(config.notify.rules)
    }

    fn alert(kind: EventKind, at: i64) -> NotifyEvent {
        NotifyEvent {
            kind,
            rule: None,
            escalation: false,
            host: "h".into(),
            subject: "system.ram.ram_in_use".into(),
            at,
            proposal: None,
            alert: Some(AlertFacts {
                name: "ram_in_use".into(),
                chart: "system.ram".into(),
                value: String::new(),
                info: String::new(),
            }),
            detail: String::new(),
        }
    }

    fn proposal(tier: &str) -> NotifyEvent {
        NotifyEvent {
            kind: EventKind::Proposal,
            subject: "p1".into(),
            alert: None,
            proposal: Some(ProposalFacts {
                id: "p1".into(),
                tier: tier.into(),
                title: "t".into(),
                proposer: "a".into(),
                confined: None,
                created_at: 0,
                expires_at: None,
                command: "ls".into(),
            }),
            ..alert(EventKind::Proposal, 0)
        }
    }

    fn sent(decisions: &[Decision]) -> Vec<&str> {
        decisions
            .iter()
            .filter_map(|d| match d {
                Decision::Send { channel } => Some(channel.as_str()),
                Decision::Suppressed { .. } => None,
            })
            .collect()
    }

    #[test]
    fn a_flapping_alert_is_sent_once_per_minimum_interval() {
        let mut r = router(
            "[[notify.rules]]\nevents = [\"alert_critical\", \"alert_cleared\"]\nchannels = [\"phone\"]\nmin_interval = \"10m\"\n",
        );
        let mut count = 0;
        for flap in 0..50 {
            let at = 1000 + flap * 20;
            count += sent(&r.route(&alert(EventKind::AlertCritical, at), 600)).len();
            r.route(&alert(EventKind::AlertCleared, at + 10), 600);
        }
        assert_eq!(count, 2, "50 flaps over 16m40s: at 0 and after 10m");
        let d = r.route(&alert(EventKind::AlertCritical, 1000 + 601), 600);
        assert!(
            matches!(&d[0], Decision::Suppressed { why, .. } if why.contains("one per 10m")),
            "{d:?}"
        );
        let mut other = alert(EventKind::AlertCritical, 1000 + 30);
        other.subject = "disk.space".into();
        assert_eq!(
            sent(&r.route(&other, 600)),
            ["phone"],
            "another alert is its own subject"
        );
    }

    #[test]
    fn quiet_hours_suppress_and_say_so() {
        let mut r = router(
            "[[notify.rules]]\nevents = [\"alert_critical\"]\nchannels = [\"phone\"]\nquiet_hours = \"22:00-07:00\"\n",
        );
        let d = r.route(&alert(EventKind::AlertCritical, 0), 23 * 60);
        assert_eq!(
            d,
            [Decision::Suppressed {
                channel: "phone".into(),
                why: "quiet hours 22:00-07:00".into()
            }]
        );
        assert_eq!(
            sent(&r.route(&alert(EventKind::AlertCritical, 0), 9 * 60)),
            ["phone"]
        );
    }

    #[test]
    fn tiers_events_and_rule_timers_pick_the_channels() {
        let mut r = router(concat!(
            "[[notify.rules]]\nevents = [\"proposal\"]\nchannels = [\"phone\"]\ntiers = [\"confirm\"]\n",
            "[[notify.rules]]\nevents = [\"proposal\", \"alert_critical\"]\nchannels = [\"log\", \"phone\"]\nescalate_after = \"5m\"\nescalate_to = [\"mate\"]\n",
        ));
        assert_eq!(
            sent(&r.route(&proposal("confirm"), 0)),
            ["phone", "log"],
            "once per channel"
        );
        assert_eq!(sent(&r.route(&proposal("approve"), 0)), ["log", "phone"]);
        let mut escalation = proposal("approve");
        escalation.kind = EventKind::ProposalWaiting;
        escalation.escalation = true;
        escalation.rule = Some(1);
        assert_eq!(sent(&r.route(&escalation, 0)), ["mate"]);
        escalation.rule = Some(0);
        assert!(
            r.route(&escalation, 0).is_empty(),
            "rule 0 has no escalation"
        );
        assert!(r.route(&alert(EventKind::AlertCleared, 0), 0).is_empty());
    }
}
