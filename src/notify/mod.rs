//! Notifications for an operator away from the terminal: what happened
//! ([`NotifyEvent`], decided in `app::notify` from the state), which rules
//! send it where ([`route`]: tiers, quiet hours, minimum interval,
//! escalation), what a message says ([`message`]: masked, never a way to
//! approve), how each channel sends it ([`channels`]: ntfy, webhook, Slack,
//! desktop, command) and the bounded queue per channel that retries with
//! back-off ([`delivery`]). Delivery reports come back as [`NotifyStatus`].
//!
//! A message never carries an approve link, button or token: approval
//! happens in the cockpit, and every message says so.

pub mod channels;
pub mod cli;
pub mod delivery;
pub mod hmac;
pub mod message;
pub mod route;

pub use crate::config::notify::EventKind;
pub use delivery::Notifier;

/// What the loop needs to start the notifier: the channels with their
/// secrets resolved (before the TUI, so a missing token is an error on the
/// plain terminal) and the rules.
#[derive(Debug, Clone)]
pub struct Setup {
    pub channels: Vec<channels::Channel>,
    pub rules: Vec<crate::config::notify::RuleConfig>,
    /// Quiet hours in UTC instead of local time (`[ui] utc`).
    pub utc: bool,
}

impl Setup {
    /// Resolves every channel's secret; the first that fails is the error.
    pub async fn resolve(config: &crate::config::Config) -> Result<Option<Setup>, String> {
        if config.notify.channels.is_empty() {
            return Ok(None);
        }
        let mut resolved = Vec::new();
        for (name, channel) in &config.notify.channels {
            resolved.push(channels::resolve(name, channel).await?);
        }
        Ok(Some(Setup {
            channels: resolved,
            rules: config.notify.rules.clone(),
            utc: config.ui.utc,
        }))
    }
}

/// One thing worth telling the operator about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyEvent {
    pub kind: EventKind,
    /// Only this rule (index in `[[notify.rules]]`) sends it: timers
    /// (waiting, expiring, link down, escalation) are per rule.
    pub rule: Option<usize>,
    /// Sent to the rule's `escalate_to` channels, not its `channels`.
    pub escalation: bool,
    pub host: String,
    /// What the minimum interval is counted per: a proposal id, an alert
    /// key, `link`.
    pub subject: String,
    /// Unix seconds.
    pub at: i64,
    pub proposal: Option<ProposalFacts>,
    pub alert: Option<AlertFacts>,
    /// More words: why an action failed, why the link is down.
    pub detail: String,
}

/// What a message may say about a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalFacts {
    pub id: String,
    pub tier: String,
    pub title: String,
    pub proposer: String,
    /// The sandbox profile the proposer ran under, when the cockpit knows.
    pub confined: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    pub expires_at: Option<i64>,
    /// Only sent by a channel with `include_command = true`, and masked.
    pub command: String,
}

impl ProposalFacts {
    pub fn from_view(a: &crate::gate::ActionView) -> ProposalFacts {
        ProposalFacts {
            id: a.id.clone(),
            tier: a.tier.name().to_string(),
            title: a.title.clone(),
            proposer: a.agent.clone(),
            confined: a.confined.clone(),
            created_at: a.created_at.div_euclid(1000),
            expires_at: a.expires_at.map(|ms| ms.div_euclid(1000)),
            command: a.command.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFacts {
    pub name: String,
    pub chart: String,
    pub value: String,
    pub info: String,
}

/// What happened to a message: the `:notifylog` lines and the header's
/// "notify: ntfy failing since 03:12" come from these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyStatus {
    pub channel: String,
    /// Unix seconds.
    pub at: i64,
    pub outcome: Outcome,
    /// What the message was about (`proposal_waiting ab12cd`).
    pub about: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint took it (HTTP status, or 0 for local channels).
    Delivered { attempts: u32, status: u16 },
    /// This attempt failed; another follows after `retry_in_secs`.
    Retrying {
        attempt: u32,
        error: String,
        retry_in_secs: u64,
    },
    /// Given up: a refusal that retrying cannot fix, or too many attempts.
    Failed { attempts: u32, error: String },
    /// The channel's queue was full: the message was dropped (counted).
    Dropped { total: u64 },
    /// Not sent by the rule: quiet hours or the minimum interval.
    Suppressed { why: String },
}
