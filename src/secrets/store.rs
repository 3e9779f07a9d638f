//! `opscockpit secret set|delete HOST`: store or remove a keyring entry.

use super::prompt::read_secret;
use super::{KEYRING_SERVICE, keyring};
use crate::text::inert;

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
pub fn run(op: Op, host: &str, config: &crate::config::Config) -> Result<(), String> {
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
    let user = bs.keyring_entry.as_deref().unwrap_or(&bs.username);
    let entry = keyring::entry(user)?;
    let name = format!("{KEYRING_SERVICE}/{}", inert(user));
    match op {
        Op::Set => {
            if !bs.keyring {
                eprintln!(
                    "note: hosts.{}.betterstack has no `keyring = true`; the cockpit reads this entry only with it",
                    inert(host)
                );
            }
            let secret = read_secret(&format!("Better Stack password for {name}: "))?;
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
