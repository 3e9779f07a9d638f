//! The `[notify]` part of `config.toml`: channels (`[notify.NAME]`) and the
//! rules (`[[notify.rules]]`) that send events to them. Secrets are by
//! reference only (`token_env`, `token_cmd`, `keyring`); checked strictly
//! like the rest of the file (file, line and key in every error).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{FileError, de_opt_duration};

/// `[notify]`: every table but `rules` is a channel.
#[derive(Debug, Clone, Default)]
pub struct NotifyConfig {
    pub channels: BTreeMap<String, ChannelConfig>,
    pub rules: Vec<RuleConfig>,
}

impl<'de> Deserialize<'de> for NotifyConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NotifyVisitor;
        impl<'de> Visitor<'de> for NotifyVisitor {
            type Value = NotifyConfig;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("channel tables [notify.NAME] and [[notify.rules]]")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NotifyConfig, A::Error> {
                let mut config = NotifyConfig::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "rules" {
                        config.rules = map.next_value()?;
                    } else {
                        let channel: ChannelConfig = map.next_value()?;
                        config.channels.insert(key, channel);
                    }
                }
                Ok(config)
            }
        }
        d.deserialize_map(NotifyVisitor)
    }
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// POST to `server/topic` with ntfy's headers.
    Ntfy,
    /// A JSON POST, optionally signed (HMAC-SHA256 over the body).
    Webhook,
    /// A Slack incoming webhook (`text` + `blocks`).
    Slack,
    /// The desktop's notification service (`notify-send`).
    Desktop,
    /// A local program, the event as JSON on stdin.
    Command,
}

impl ChannelKind {
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Ntfy => "ntfy",
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Desktop => "desktop",
            ChannelKind::Command => "command",
        }
    }
}

/// `[notify.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub kind: ChannelKind,
    /// ntfy: the server (`https://ntfy.sh` or a self-hosted one).
    pub server: Option<String>,
    /// ntfy: the topic.
    pub topic: Option<String>,
    /// webhook: where to POST.
    pub url: Option<String>,
    /// The channel's secret by reference: ntfy's access token, the webhook's
    /// HMAC key, the Slack webhook URL (which is itself a credential).
    pub token_env: Option<String>,
    pub token_cmd: Option<String>,
    #[serde(default)]
    pub keyring: bool,
    /// Keyring user name (service `opscockpit`); default `notify.NAME`.
    pub keyring_entry: Option<String>,
    /// command: the program and its arguments (no shell).
    pub command: Option<Vec<String>>,
    /// ntfy: extra tags on every message.
    #[serde(default)]
    pub tags: Vec<String>,
    /// ntfy: what tapping the message opens (a runbook, a dashboard). Never
    /// an approval: there is no such link.
    pub click: Option<String>,
    /// webhook: the header that carries `sha256=HEX` (default
    /// `X-Opscockpit-Signature`).
    pub signature_header: Option<String>,
    /// Put the proposed command in the message (masked). Off by default:
    /// commands can carry secrets the masking does not know.
    #[serde(default)]
    pub include_command: bool,
    /// Give up on one attempt after this long (default 10s).
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub timeout: Option<Duration>,
    /// Messages that may wait for this channel (default 64); more are dropped
    /// and counted.
    pub queue: Option<usize>,
}

/// What happened, in the words rules use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A proposal arrived and waits for a decision.
    Proposal,
    /// A proposal waited `waiting_after` without a decision.
    ProposalWaiting,
    /// A proposal expires within `expiring_before`.
    ProposalExpiring,
    /// A proposal expired: nobody decided, nothing ran.
    ProposalExpired,
    ActionFailed,
    ActionUncertain,
    AlertCritical,
    AlertCleared,
    /// The link to the host was down longer than `link_down_after`.
    LinkDown,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Proposal => "proposal",
            EventKind::ProposalWaiting => "proposal_waiting",
            EventKind::ProposalExpiring => "proposal_expiring",
            EventKind::ProposalExpired => "proposal_expired",
            EventKind::ActionFailed => "action_failed",
            EventKind::ActionUncertain => "action_uncertain",
            EventKind::AlertCritical => "alert_critical",
            EventKind::AlertCleared => "alert_cleared",
            EventKind::LinkDown => "link_down",
        }
    }

    /// Events about one proposal (the `tiers` filter applies to them).
    pub fn is_proposal(self) -> bool {
        matches!(
            self,
            EventKind::Proposal
                | EventKind::ProposalWaiting
                | EventKind::ProposalExpiring
                | EventKind::ProposalExpired
                | EventKind::ActionFailed
                | EventKind::ActionUncertain
        )
    }
}

/// `[[notify.rules]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub events: Vec<EventKind>,
    pub channels: Vec<String>,
    /// Only proposals of these tiers (`approve`, `confirm`, …); empty: all.
    #[serde(default)]
    pub tiers: Vec<String>,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub waiting_after: Option<Duration>,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub expiring_before: Option<Duration>,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub link_down_after: Option<Duration>,
    /// At most one message per event and subject (an alert, a proposal)
    /// within this long: a flapping alert sends one message, not fifty.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub min_interval: Option<Duration>,
    /// `"22:00-07:00"` (local time, or UTC with `[ui] utc = true`): nothing
    /// is sent then by this rule.
    pub quiet_hours: Option<String>,
    /// A proposal still undecided after this long goes to `escalate_to` too.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub escalate_after: Option<Duration>,
    #[serde(default)]
    pub escalate_to: Vec<String>,
}

/// Quiet hours as minutes of the day, `start..end` (wrapping past
/// midnight when `end < start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: u16,
    pub end: u16,
}

impl QuietHours {
    /// Parses `HH:MM-HH:MM`.
    pub fn parse(text: &str) -> Option<QuietHours> {
        let (from, to) = text.trim().split_once('-')?;
        Some(QuietHours {
            start: minute_of_day(from)?,
            end: minute_of_day(to)?,
        })
    }

    pub fn contains(self, minute: u16) -> bool {
        if self.start <= self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }
}

fn minute_of_day(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

const TIERS: [&str; 4] = ["auto", "approve", "confirm", "deny"];

impl NotifyConfig {
    /// Checks what serde cannot: the fields each kind needs, one secret
    /// reference at most, rules naming channels that exist, the timers the
    /// events need.
    pub fn validate(&self, file: &str) -> Result<(), FileError> {
        for (name, channel) in &self.channels {
            validate_channel(file, name, channel)?;
        }
        for (i, rule) in self.rules.iter().enumerate() {
            self.validate_rule(file, i, rule)?;
        }
        Ok(())
    }

    fn validate_rule(&self, file: &str, i: usize, rule: &RuleConfig) -> Result<(), FileError> {
        let key = |k: &str| Some(format!("notify.rules[{i}].{k}"));
        let err = |k: &str, m: String| Err(FileError::new(file, m).at(None, key(k)));
        if rule.events.is_empty() {
            return err(
                "events",
                "name at least one event, e.g. events = [\"proposal\"]".into(),
            );
        }
        if rule.channels.is_empty() {
            return err(
                "channels",
                "name at least one channel, e.g. channels = [\"phone\"]".into(),
            );
        }
        for channel in rule.channels.iter().chain(&rule.escalate_to) {
            if !self.channels.contains_key(channel) {
                let known: Vec<&str> = self.channels.keys().map(String::as_str).collect();
                let field = if rule.channels.contains(channel) {
                    "channels"
                } else {
                    "escalate_to"
                };
                return err(
                    field,
                    format!(
                        "no channel [notify.{channel}]; channels defined: {}",
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
            }
        }
        for tier in &rule.tiers {
            if !TIERS.contains(&tier.as_str()) {
                return err(
                    "tiers",
                    format!("unknown tier `{tier}`; tiers are {}", TIERS.join(", ")),
                );
            }
        }
        let needs = [
            (
                EventKind::ProposalWaiting,
                rule.waiting_after,
                "waiting_after",
                "5m",
            ),
            (
                EventKind::ProposalExpiring,
                rule.expiring_before,
                "expiring_before",
                "2m",
            ),
            (
                EventKind::LinkDown,
                rule.link_down_after,
                "link_down_after",
                "60s",
            ),
        ];
        for (event, value, field, example) in needs {
            if rule.events.contains(&event) && value.is_none() {
                return err(
                    field,
                    format!("event {} needs {field} = \"{example}\"", event.name()),
                );
            }
        }
        if let Some(text) = &rule.quiet_hours
            && QuietHours::parse(text).is_none()
        {
            return err(
                "quiet_hours",
                format!("`{text}` is not like \"22:00-07:00\""),
            );
        }
        if rule.escalate_after.is_some() == rule.escalate_to.is_empty() {
            return err(
                "escalate_to",
                "escalate_after and escalate_to go together (after how long, to which channels)"
                    .into(),
            );
        }
        if rule.escalate_after.is_some() && !rule.events.iter().any(|e| e.is_proposal()) {
            return err(
                "escalate_after",
                "escalation is for proposals: add event \"proposal\"".into(),
            );
        }
        Ok(())
    }
}

fn validate_channel(file: &str, name: &str, c: &ChannelConfig) -> Result<(), FileError> {
    let key = |k: &str| Some(format!("notify.{name}.{k}"));
    let err = |k: &str, m: &str| Err(FileError::new(file, m).at(None, key(k)));
    let refs = [c.token_env.is_some(), c.token_cmd.is_some(), c.keyring]
        .iter()
        .filter(|b| **b)
        .count();
    if refs > 1 {
        return err(
            "token_env",
            "set at most one of token_env, token_cmd or keyring = true",
        );
    }
    let has = |field: &Option<String>| field.as_deref().is_some_and(|v| !v.trim().is_empty());
    match c.kind {
        ChannelKind::Ntfy => {
            if !has(&c.server) {
                return err(
                    "server",
                    "ntfy needs server = \"https://ntfy.sh\" (or your own)",
                );
            }
            if !has(&c.topic) {
                return err("topic", "ntfy needs topic = \"NAME\"");
            }
            check_http_url(
                file,
                &key("server"),
                c.server.as_deref().unwrap_or_default(),
            )?;
        }
        ChannelKind::Webhook => {
            if !has(&c.url) {
                return err("url", "webhook needs url = \"https://…\"");
            }
            check_http_url(file, &key("url"), c.url.as_deref().unwrap_or_default())?;
        }
        ChannelKind::Slack => {
            if c.url.is_some() {
                return err(
                    "url",
                    "a Slack webhook URL is a credential: give it by token_env, token_cmd or keyring, not in this file",
                );
            }
            if refs == 0 {
                return err(
                    "token_env",
                    "slack needs its webhook URL by reference: token_env = \"SLACK_WEBHOOK_URL\" (or token_cmd, keyring)",
                );
            }
        }
        ChannelKind::Command => {
            if c.command
                .as_ref()
                .is_none_or(|argv| argv.is_empty() || argv[0].is_empty())
            {
                return err(
                    "command",
                    "command needs command = [\"/path/to/program\", \"arg\"…]",
                );
            }
        }
        ChannelKind::Desktop => {}
    }
    if c.command.is_some() && c.kind != ChannelKind::Command {
        return err("command", "command is only for kind = \"command\"");
    }
    if c.queue == Some(0) {
        return err("queue", "queue must be at least 1");
    }
    Ok(())
}

fn check_http_url(file: &str, key: &Option<String>, url: &str) -> Result<(), FileError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(());
    }
    Err(
        FileError::new(file, format!("`{url}` is not an http:// or https:// URL"))
            .at(None, key.clone()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, toml_file};

    fn load(text: &str) -> Result<Config, FileError> {
        let config: Config = toml_file::parse_str("c.toml", text)?;
        config.notify.validate("c.toml")?;
        Ok(config)
    }

    const PHONE: &str = "[notify.phone]\nkind = \"ntfy\"\nserver = \"https://ntfy.sh\"\ntopic = \"ops\"\ntoken_env = \"NTFY_TOKEN\"\n";

    #[test]
    fn channels_and_rules_share_the_notify_table() {
        let text = format!(
            "{PHONE}\n[notify.mate]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n\n[[notify.rules]]\nevents = [\"proposal\", \"proposal_waiting\"]\nchannels = [\"phone\"]\nwaiting_after = \"5m\"\nescalate_after = \"10m\"\nescalate_to = [\"mate\"]\nquiet_hours = \"22:00-07:00\"\nmin_interval = \"10m\"\n"
        );
        let config = load(&text).expect("valid");
        assert_eq!(config.notify.channels.len(), 2);
        assert_eq!(config.notify.channels["phone"].kind, ChannelKind::Ntfy);
        let rule = &config.notify.rules[0];
        assert_eq!(
            rule.events,
            [EventKind::Proposal, EventKind::ProposalWaiting]
        );
        assert_eq!(rule.waiting_after, Some(Duration::from_secs(300)));
        assert_eq!(rule.escalate_to, ["mate"]);
    }

    #[test]
    fn an_inline_token_is_refused_with_line_and_key() {
        let err = load("[notify.phone]\nkind = \"ntfy\"\nserver = \"https://ntfy.sh\"\ntopic = \"t\"\ntoken = \"tk_hunter2\"\n")
            .expect_err("inline token");
        assert_eq!(err.key.as_deref(), Some("notify.phone.token"));
        assert_eq!(err.line, Some(5));
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn a_typo_in_a_rule_names_its_index_and_key() {
        let err = load(&format!(
            "{PHONE}\n[[notify.rules]]\nevents = [\"proposal\"]\nchanels = [\"phone\"]\n"
        ))
        .expect_err("typo");
        assert_eq!(err.key.as_deref(), Some("notify.rules[0].chanels"));
        assert_eq!(err.line, Some(9));
        let err = load(&format!(
            "{PHONE}\n[[notify.rules]]\nevents = [\"proposal_wating\"]\nchannels = [\"phone\"]\n"
        ))
        .expect_err("unknown event");
        assert!(
            err.key
                .as_deref()
                .is_some_and(|k| k.starts_with("notify.rules[0].events")),
            "{err}"
        );
    }

    #[test]
    fn rules_are_checked_against_channels_and_timers() {
        let rule = |body: &str| format!("{PHONE}\n[[notify.rules]]\n{body}\n");
        let cases = [
            (
                "events = [\"proposal\"]\nchannels = [\"pager\"]",
                "notify.rules[0].channels",
                "no channel [notify.pager]",
            ),
            (
                "events = [\"proposal_waiting\"]\nchannels = [\"phone\"]",
                "notify.rules[0].waiting_after",
                "waiting_after",
            ),
            (
                "events = [\"proposal_expiring\"]\nchannels = [\"phone\"]",
                "notify.rules[0].expiring_before",
                "expiring_before",
            ),
            (
                "events = [\"link_down\"]\nchannels = [\"phone\"]",
                "notify.rules[0].link_down_after",
                "link_down_after",
            ),
            (
                "events = [\"proposal\"]\nchannels = [\"phone\"]\nquiet_hours = \"late\"",
                "notify.rules[0].quiet_hours",
                "22:00-07:00",
            ),
            (
                "events = [\"proposal\"]\nchannels = [\"phone\"]\nescalate_after = \"5m\"",
                "notify.rules[0].escalate_to",
                "go together",
            ),
            (
                "events = [\"proposal\"]\nchannels = [\"phone\"]\ntiers = [\"urgent\"]",
                "notify.rules[0].tiers",
                "unknown tier",
            ),
            (
                "events = [\"proposal\"]\nchannels = [\"phone\"]\nescalate_after = \"5m\"\nescalate_to = [\"nobody\"]",
                "notify.rules[0].escalate_to",
                "no channel [notify.nobody]",
            ),
        ];
        for (body, key, message) in cases {
            let err = load(&rule(body)).expect_err(body);
            assert_eq!(err.key.as_deref(), Some(key), "{body}: {err}");
            assert!(err.message.contains(message), "{body}: {err}");
        }
    }

    #[test]
    fn channel_kinds_need_their_fields() {
        let cases = [
            ("kind = \"ntfy\"\ntopic = \"t\"", "notify.c.server"),
            (
                "kind = \"ntfy\"\nserver = \"ntfy.sh\"\ntopic = \"t\"",
                "notify.c.server",
            ),
            ("kind = \"webhook\"", "notify.c.url"),
            (
                "kind = \"slack\"\nurl = \"https://hooks.slack.com/services/T/B/X\"",
                "notify.c.url",
            ),
            ("kind = \"slack\"", "notify.c.token_env"),
            ("kind = \"command\"", "notify.c.command"),
            (
                "kind = \"webhook\"\nurl = \"http://x\"\ntoken_env = \"A\"\nkeyring = true",
                "notify.c.token_env",
            ),
            ("kind = \"desktop\"\nqueue = 0", "notify.c.queue"),
        ];
        for (body, key) in cases {
            let err = load(&format!("[notify.c]\n{body}\n")).expect_err(body);
            assert_eq!(err.key.as_deref(), Some(key), "{body}: {err}");
        }
        load("[notify.c]\nkind = \"slack\"\ntoken_env = \"SLACK_URL\"\n")
            .expect("slack by reference");
        load("[notify.c]\nkind = \"command\"\ncommand = [\"/bin/cat\"]\n").expect("command");
    }

    #[test]
    fn the_example_config_shows_a_channel_and_a_rule() {
        let config: Config = toml_file::parse_str(
            "config.example.toml",
            include_str!("../../assets/config.example.toml"),
        )
        .expect("example parses");
        config
            .notify
            .validate("config.example.toml")
            .expect("valid");
        assert_eq!(config.notify.channels["phone"].kind, ChannelKind::Ntfy);
        assert_eq!(
            config.notify.channels["phone"].token_env.as_deref(),
            Some("NTFY_TOKEN")
        );
        assert!(
            config.notify.rules[0]
                .events
                .contains(&EventKind::ProposalWaiting)
        );
    }

    #[test]
    fn quiet_hours_wrap_past_midnight() {
        let night = QuietHours::parse("22:00-07:00").expect("parses");
        assert!(night.contains(23 * 60) && night.contains(0) && night.contains(6 * 60 + 59));
        assert!(!night.contains(7 * 60) && !night.contains(12 * 60));
        let lunch = QuietHours::parse("12:00-13:30").expect("parses");
        assert!(lunch.contains(12 * 60 + 15) && !lunch.contains(13 * 60 + 30));
        for bad in ["24:00-01:00", "7-8", "", "10:60-11:00"] {
            assert_eq!(QuietHours::parse(bad), None, "{bad}");
        }
    }
}
