//! Credentials by reference. Config never holds a secret: it names an
//! environment variable, a command whose output is the secret, or an entry
//! in the OS keyring ([`SecretRef`]). The value lives in a [`Secret`], whose
//! `Debug` prints nothing, and errors never contain it.
//!
//! - [`keyring`]: the OS credential store (Linux keyutils, macOS Keychain,
//!   Windows Credential Manager).
//! - [`prompt`]: reading a secret from the terminal without echo.
//! - [`store`]: `opscockpit secret set|delete HOST`.

pub mod keyring;
pub mod log_filter;
pub mod mask;
pub mod prompt;
pub mod store;

use crate::text::inert;

/// What a secret is for, in the words its errors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purpose {
    /// "the Better Stack password": what to export or store.
    pub what: &'static str,
    /// The config key naming the environment variable (`password_env`).
    pub env_key: &'static str,
    /// The config key naming the command (`password_cmd`).
    pub cmd_key: &'static str,
}

/// Where a secret comes from. The secret itself is never in config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// Name of an environment variable of the cockpit's process.
    Env(String),
    /// A command run locally through `sh -c`; its stdout (trailing newline
    /// trimmed) is the secret.
    Cmd(String),
    /// The OS keyring: service [`KEYRING_SERVICE`], this user name.
    Keyring(String),
}

/// Service name of the cockpit's entries in the OS keyring.
pub const KEYRING_SERVICE: &str = "opscockpit";

/// A password in memory. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that sends it (the auth header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Fetches the password. Errors say what to fix and never contain output of
/// the command (it might be the password).
pub async fn resolve(reference: &SecretRef, purpose: &Purpose) -> Result<Secret, String> {
    match reference {
        SecretRef::Env(name) => match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
            Ok(_) => Err(format!(
                "environment variable {} is empty; export {} there ({})",
                inert(name),
                purpose.what,
                purpose.env_key
            )),
            Err(_) => Err(format!(
                "environment variable {} is not set; export {} there ({})",
                inert(name),
                purpose.what,
                purpose.env_key
            )),
        },
        SecretRef::Cmd(cmd) => {
            let output = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .output()
                .await
                .map_err(|e| format!("could not run {}: {e}", purpose.cmd_key))?;
            if !output.status.success() {
                return Err(format!(
                    "{} failed ({}); run it in a shell to see why",
                    purpose.cmd_key, output.status
                ));
            }
            let text = String::from_utf8(output.stdout)
                .map_err(|_| format!("{} printed something that is not UTF-8", purpose.cmd_key))?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            if text.is_empty() {
                return Err(format!("{} printed nothing", purpose.cmd_key));
            }
            Ok(Secret::new(text.to_string()))
        }
        SecretRef::Keyring(user) => {
            let user = user.clone();
            tokio::task::spawn_blocking(move || keyring::password(&user))
                .await
                .map_err(|e| format!("the OS keyring lookup did not finish: {e}"))?
        }
    }
}

/// Reads a token from an environment variable (surrounding white space
/// trimmed): for secrets that can only be given by variable.
pub fn from_env(var: &str, purpose: &Purpose) -> Result<Secret, String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
        Ok(_) => Err(format!(
            "environment variable {} is empty; export {} there ({})",
            inert(var),
            purpose.what,
            purpose.env_key
        )),
        Err(_) => Err(format!(
            "environment variable {} is not set; export {} there ({})",
            inert(var),
            purpose.what,
            purpose.env_key
        )),
    }
}
