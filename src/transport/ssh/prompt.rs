//! Questions asked on the plain terminal before the TUI starts: trust an
//! unknown host key, a key file's passphrase. A trait so tests can answer.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

/// Asks the user. Called from a blocking thread; may block on input.
pub trait Prompter: Send + Sync {
    /// "trust this host? [y/N]": true only on an explicit yes.
    fn trust_host(&self, host: &str, key_type: &str, fingerprint: &str) -> bool;

    /// The passphrase of an encrypted key (`attempt` counts from 1).
    /// `None`: the user gave up (empty answer or end of input).
    fn passphrase(&self, key: &Path, attempt: u32) -> Option<String>;
}

/// The real terminal: questions on stderr, answers from the controlling
/// terminal when stdin is one (passphrases without echo), else from stdin.
#[derive(Debug, Default, Clone, Copy)]
pub struct TerminalPrompter;

impl Prompter for TerminalPrompter {
    fn trust_host(&self, host: &str, key_type: &str, fingerprint: &str) -> bool {
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "The authenticity of host '{}' can't be established.\n{} key fingerprint is {}.\nThis key is not known by any other names.\ntrust this host? [y/N] ",
            crate::text::inert(host),
            key_type,
            fingerprint
        );
        let _ = err.flush();
        let answer = read_line(false).unwrap_or_default();
        if !std::io::stdin().is_terminal() {
            // Piped answers are not echoed: end the question's line.
            let _ = writeln!(err);
        }
        matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
    }

    fn passphrase(&self, key: &Path, attempt: u32) -> Option<String> {
        let mut err = std::io::stderr();
        let again = if attempt > 1 {
            "Bad passphrase, try again. "
        } else {
            ""
        };
        let _ = write!(
            err,
            "{again}Enter passphrase for key '{}': ",
            crate::text::inert(&key.display().to_string())
        );
        let _ = err.flush();
        let answer = read_line(true);
        if !std::io::stdin().is_terminal() {
            let _ = writeln!(err);
        }
        answer.filter(|a| !a.is_empty())
    }
}

/// Reads one line without its newline; `None` at end of input.
fn read_line(secret: bool) -> Option<String> {
    let stdin = std::io::stdin();
    let mut line = String::new();
    if stdin.is_terminal() {
        let _echo = if secret { EchoOff::new() } else { None };
        stdin.lock().read_line(&mut line).ok()?;
    } else {
        let n = stdin.lock().read_line(&mut line).ok()?;
        if n == 0 {
            return None;
        }
    }
    while line.ends_with(['\n', '\r']) {
        line.pop();
    }
    Some(line)
}

/// Turns terminal echo off on stdin until dropped.
struct EchoOff {
    saved: libc::termios,
}

impl EchoOff {
    fn new() -> Option<Self> {
        // SAFETY: tcgetattr/tcsetattr on fd 0 with a zeroed termios that
        // tcgetattr fills; no pointers outlive the calls.
        unsafe {
            let mut term: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut term) != 0 {
                return None;
            }
            let saved = term;
            term.c_lflag &= !libc::ECHO;
            term.c_lflag |= libc::ECHONL;
            if libc::tcsetattr(0, libc::TCSANOW, &term) != 0 {
                return None;
            }
            Some(EchoOff { saved })
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores the attributes saved by `new` on the same fd.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}

/// Answers fixed in advance (tests, and `BatchMode yes` which never asks).
#[derive(Debug, Clone, Default)]
pub struct FixedPrompter {
    pub trust: bool,
    pub passphrase: Option<String>,
}

impl Prompter for FixedPrompter {
    fn trust_host(&self, _host: &str, _key_type: &str, _fingerprint: &str) -> bool {
        self.trust
    }

    fn passphrase(&self, _key: &Path, _attempt: u32) -> Option<String> {
        self.passphrase.clone()
    }
}
