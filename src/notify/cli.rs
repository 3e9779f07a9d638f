//! `opscockpit notify list` (channels and rules, never a secret) and
//! `opscockpit notify test [CHANNEL]` (one test message per channel, sent
//! once, with the endpoint's answer).

use serde_json::json;

use super::channels::{self, Attempt, Channel};
use super::message::{Message, decide_hint};
use crate::config::Config;
use crate::text::inert;

pub fn list(config: &Config) -> String {
    let n = &config.notify;
    if n.channels.is_empty() {
        return "no notification channels: add [notify.NAME] to config.toml (see the README)\n"
            .into();
    }
    let mut out = String::from("channels:\n");
    for (name, channel) in &n.channels {
        out.push_str(&format!(
            "  {:<12} {}\n",
            inert(name),
            Channel::describe(channel)
        ));
    }
    out.push_str("rules:\n");
    if n.rules.is_empty() {
        out.push_str("  none: add [[notify.rules]] or nothing is sent\n");
    }
    for (i, rule) in n.rules.iter().enumerate() {
        let events: Vec<&str> = rule.events.iter().map(|e| e.name()).collect();
        out.push_str(&format!(
            "  {i}: {} → {}",
            events.join(", "),
            rule.channels.join(", ")
        ));
        let secs = |d: std::time::Duration| super::message::human_secs(d.as_secs() as i64);
        let extras = [
            (!rule.tiers.is_empty()).then(|| format!("tiers {}", rule.tiers.join("/"))),
            rule.waiting_after
                .map(|d| format!("waiting after {}", secs(d))),
            rule.expiring_before
                .map(|d| format!("expiring {} before", secs(d))),
            rule.link_down_after
                .map(|d| format!("link down after {}", secs(d))),
            rule.min_interval
                .map(|d| format!("at most one per {}", secs(d))),
            rule.quiet_hours.as_ref().map(|q| format!("quiet {q}")),
            rule.escalate_after.map(|d| {
                format!(
                    "escalate after {} to {}",
                    secs(d),
                    rule.escalate_to.join(", ")
                )
            }),
        ];
        let extras: Vec<String> = extras.into_iter().flatten().collect();
        if !extras.is_empty() {
            out.push_str(&format!(" ({})", extras.join("; ")));
        }
        out.push('\n');
    }
    out
}

fn test_message(host: &str) -> Message {
    let title = format!("{}: opscockpit test message", inert(host));
    let body = format!(
        "This is a test from the opscockpit of {}: this channel works.\n{}",
        inert(host),
        decide_hint(host)
    );
    Message {
        json: json!({"event": "test", "host": inert(host), "title_line": title, "text": body}),
        title,
        body,
        priority: 3,
        tags: vec!["white_check_mark".into(), "test".into()],
    }
}

/// Sends one test message to `only` (or every channel); the report and
/// whether all were delivered.
pub async fn test(config: &Config, host: &str, only: Option<&str>) -> (String, bool) {
    let names: Vec<&String> = config
        .notify
        .channels
        .keys()
        .filter(|n| only.is_none_or(|o| o == n.as_str()))
        .collect();
    if names.is_empty() {
        let known: Vec<&str> = config.notify.channels.keys().map(String::as_str).collect();
        let text = match only {
            Some(name) => format!(
                "no channel [notify.{}]; channels: {}\n",
                inert(name),
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ),
            None => list(config),
        };
        return (text, false);
    }
    let http = reqwest::Client::new();
    let message = test_message(host);
    let mut out = String::new();
    let mut all_ok = true;
    for name in names {
        let line = match channels::resolve(name, &config.notify.channels[name]).await {
            Err(e) => Err(e),
            Ok(channel) => match channels::request(&channel, &message) {
                Err(e) => Err(e),
                Ok(request) => Ok(channels::send(&http, request, channel.timeout()).await),
            },
        };
        let text = match line {
            Ok(Attempt::Delivered { status, answer }) => {
                let status = if status == 0 {
                    "done".to_string()
                } else {
                    format!("HTTP {status}")
                };
                format!(
                    "delivered ({status}){}",
                    if answer.is_empty() {
                        String::new()
                    } else {
                        format!(": {answer}")
                    }
                )
            }
            Ok(Attempt::Retry { error, .. }) | Ok(Attempt::Refused { error }) | Err(error) => {
                all_ok = false;
                format!("FAILED: {}", inert(&error))
            }
        };
        out.push_str(&format!("{}: {text}\n", inert(name)));
    }
    (out, all_ok)
}
