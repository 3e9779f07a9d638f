//! `opscockpit secret set|delete HOST`: store or remove a keyring entry.

use super::prompt::read_secret;
use super::{KEYRING_SERVICE, keyring};
use crate::text::inert;

/// Which keyring entry a `secret` command means.
struct Target {
    user: String,
    keyring: bool,
    /// The config table, for the note (`hosts.web.betterstack`).
    table: String,
    /// What the prompt asks for.
    what: &'static str,
}

fn betterstack_target(host: &str, config: &crate::config::Config) -> Result<Target, String> {
    let bs = config
        .hosts
        .get(host)
        .and_then(|h| h.betterstack.as_ref())
        .ok_or_else(|| {
            format!(
                "no [hosts.{}.betterstack] in the config: add it first (see config.example.toml)",
                inert(host)
            )
        })?;
    Ok(Target {
        user: bs
            .keyring_entry
            .clone()
            .unwrap_or_else(|| bs.username.clone()),
        keyring: bs.keyring,
        table: format!("hosts.{}.betterstack", inert(host)),
        what: "Better Stack password",
    })
}

fn notify_target(channel: &str, config: &crate::config::Config) -> Result<Target, String> {
    let c = config.notify.channels.get(channel).ok_or_else(|| {
        format!(
            "no [notify.{}] in the config: add the channel first (see config.example.toml)",
            inert(channel)
        )
    })?;
    Ok(Target {
        user: c
            .keyring_entry
            .clone()
            .unwrap_or_else(|| format!("notify.{channel}")),
        keyring: c.keyring,
        table: format!("notify.{}", inert(channel)),
        what: "Notification channel token",
    })
}

/// What to do with the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Set,
    Delete,
}

/// `opscockpit secret set|delete HOST`: the keyring entry named by HOST's
/// `[hosts.HOST.betterstack]` (user = `keyring_entry`, else `username`).
/// The secret is read from the terminal without echo (or one line of a
/// pipe) and never printed.
/// `notify.NAME` instead of a host names a notification channel's token
/// (user `keyring_entry`, else `notify.NAME`).
pub fn run(op: Op, host: &str, config: &crate::config::Config) -> Result<(), String> {
    let target = match host.strip_prefix("notify.") {
        Some(channel) => notify_target(channel, config)?,
        None => betterstack_target(host, config)?,
    };
    let user = target.user.as_str();
    let entry = keyring::entry(user)?;
    let name = format!("{KEYRING_SERVICE}/{}", inert(user));
    match op {
        Op::Set => {
            if !target.keyring {
                eprintln!(
                    "note: {} has no `keyring = true`; the cockpit reads this entry only with it",
                    target.table
                );
            }
            let secret = read_secret(&format!("{} for {name}: ", target.what))?;
            if secret.is_empty() {
                return Err("empty password: nothing stored".into());
            }
            entry
                .set_password(&secret)
                .map_err(|e| format!("could not store {name}: {}", keyring::error_text(&e)))?;
            println!("stored in the OS keyring as {name}");
        }
        Op::Delete => match entry.delete_credential() {
            Ok(()) => println!("removed {name} from the OS keyring"),
            Err(keyring_core::Error::NoEntry) => println!("nothing stored as {name}"),
            Err(e) => {
                return Err(format!(
                    "could not remove {name}: {}",
                    keyring::error_text(&e)
                ));
            }
        },
    }
    Ok(())
}
