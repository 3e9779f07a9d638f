//! Host resolution like OpenSSH: `ssh -G [-F FILE] HOST` when the `ssh`
//! binary exists (it applies Include, Match, Host patterns and defaults
//! exactly), a minimal config reader otherwise; then opscockpit's own
//! `[hosts.NAME]` overrides.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::HostConfig;

use super::pattern::{ListMatch, match_list};

/// Keepalive interval when the ssh config sets none (OpenSSH's 0 = off;
/// the cockpit always wants liveness).
pub const DEFAULT_ALIVE_INTERVAL: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    /// Refuse unknown keys without asking.
    Yes,
    /// Ask on the terminal (OpenSSH's default).
    Ask,
    /// Add unknown keys without asking (`accept-new`, and `no`: we never
    /// connect on a changed key either way).
    AcceptNew,
}

/// Everything needed to reach one SSH server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// The name the user gave (for messages).
    pub alias: String,
    pub hostname: String,
    pub user: String,
    pub port: u16,
    pub identity_files: Vec<PathBuf>,
    pub identities_only: bool,
    /// Agent socket: `None` = no agent (`IdentityAgent none`), else a path.
    pub identity_agent: Option<PathBuf>,
    pub certificate_files: Vec<PathBuf>,
    /// Raw ProxyJump hops, `[user@]host[:port]` each, first hop first.
    pub proxy_jump: Vec<String>,
    pub user_known_hosts: Vec<PathBuf>,
    pub global_known_hosts: Vec<PathBuf>,
    pub strict_host_key_checking: StrictHostKeyChecking,
    pub hash_known_hosts: bool,
    pub host_key_alias: Option<String>,
    pub server_alive_interval: Duration,
    pub server_alive_count_max: u32,
    pub connect_timeout: Option<Duration>,
    /// No prompts at all (passphrases, host keys): refuse instead.
    pub batch_mode: bool,
}

impl SshTarget {
    /// `user@host:port` for headers and messages.
    pub fn describe(&self) -> String {
        format!("{}@{}:{}", self.user, self.hostname, self.port)
    }

    /// The name known_hosts is searched for.
    pub fn known_hosts_name(&self) -> String {
        let host = self.host_key_alias.as_deref().unwrap_or(&self.hostname);
        super::known_hosts::lookup_name(host, self.port)
    }
}

/// A host as typed on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// Parses `[ssh://][user@]host[:port]` (IPv6 literals as `[addr]:port`).
pub fn parse_destination(text: &str) -> Result<Destination, String> {
    let rest = text.strip_prefix("ssh://").unwrap_or(text);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
        Some(_) => return Err(format!("`{text}`: empty user name before @")),
        None => (None, rest),
    };
    let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let (addr, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("`{text}`: missing ] after an IPv6 address"))?;
        match after {
            "" => (addr.to_string(), None),
            p => (
                addr.to_string(),
                Some(parse_port(p.strip_prefix(':').unwrap_or("x"), text)?),
            ),
        }
    } else if hostport.matches(':').count() == 1 {
        let (h, p) = hostport.split_once(':').unwrap_or((hostport, ""));
        (h.to_string(), Some(parse_port(p, text)?))
    } else {
        (hostport.to_string(), None)
    };
    if host.is_empty() {
        return Err(format!("`{text}`: no host name"));
    }
    if host.starts_with('-') || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{text}`: not a valid host name"));
    }
    Ok(Destination { user, host, port })
}

fn parse_port(p: &str, text: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!("`{text}`: `{p}` is not a port number")),
    }
}

/// The outcome of resolution: the target, its jump hosts (first hop
/// first) and notes for the user (e.g. an ignored `Match` block).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub target: SshTarget,
    pub jumps: Vec<SshTarget>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ResolveOptions<'a> {
    /// `-F FILE`.
    pub config_file: Option<&'a Path>,
    /// `[hosts.NAME]` from opscockpit's config.
    pub overrides: Option<&'a HostConfig>,
    /// Force the built-in reader even if `ssh` exists (tests).
    pub without_ssh_binary: bool,
}

/// Resolves `destination` (and its ProxyJump hops) to connection settings.
pub fn resolve(destination: &str, options: &ResolveOptions<'_>) -> Result<Resolved, String> {
    let dest = parse_destination(destination)?;
    let mut warnings = Vec::new();
    let mut target = resolve_one(&dest, options, &mut warnings)?;
    target.alias = destination.to_string();
    if let Some(o) = options.overrides {
        apply_overrides(&mut target, o);
    }
    let mut jumps = Vec::new();
    for hop in &target.proxy_jump {
        let hop_dest = parse_destination(hop).map_err(|e| format!("ProxyJump {e}"))?;
        let mut jump = resolve_one(&hop_dest, options, &mut warnings)?;
        jump.alias = hop.clone();
        // The chain is given by the target's ProxyJump; a hop's own
        // ProxyJump would loop or branch.
        jump.proxy_jump.clear();
        jumps.push(jump);
    }
    Ok(Resolved {
        target,
        jumps,
        warnings,
    })
}

fn resolve_one(
    dest: &Destination,
    options: &ResolveOptions<'_>,
    warnings: &mut Vec<String>,
) -> Result<SshTarget, String> {
    let values = if options.without_ssh_binary {
        None
    } else {
        run_ssh_g(dest, options.config_file)?
    };
    let values = match values {
        Some(v) => v,
        None => fallback_values(dest, options.config_file, warnings)?,
    };
    if first(&values, "proxycommand").is_some_and(|c| c != "none") {
        warnings.push(format!(
            "`{}`: ProxyCommand is not supported (use ProxyJump); connecting directly",
            dest.host
        ));
    }
    target_from_values(&dest.host, &values)
}

/// Runs `ssh -G`. `Ok(None)` when there is no `ssh` binary.
fn run_ssh_g(dest: &Destination, config: Option<&Path>) -> Result<Option<Values>, String> {
    let mut cmd = std::process::Command::new("ssh");
    cmd.arg("-G");
    if let Some(file) = config {
        cmd.arg("-F").arg(file);
    }
    if let Some(user) = &dest.user {
        cmd.arg("-l").arg(user);
    }
    if let Some(port) = dest.port {
        cmd.arg("-p").arg(port.to_string());
    }
    cmd.arg(&dest.host).stdin(std::process::Stdio::null());
    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("running `ssh -G {}`: {e}", dest.host)),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!(
            "resolving `{}` with `ssh -G` failed: {}",
            dest.host,
            first.trim()
        ));
    }
    Ok(Some(parse_ssh_g(&String::from_utf8_lossy(&output.stdout))))
}

/// Lowercased keyword → values in order (several for IdentityFile etc.).
type Values = HashMap<String, Vec<String>>;

/// Parses `ssh -G` output: one `keyword value…` per line.
pub fn parse_ssh_g(text: &str) -> Values {
    let mut values: Values = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        values
            .entry(key.to_ascii_lowercase())
            .or_default()
            .push(value.trim().to_string());
    }
    values
}

fn first<'a>(values: &'a Values, key: &str) -> Option<&'a str> {
    values.get(key).and_then(|v| v.first()).map(String::as_str)
}

fn yes(value: Option<&str>) -> bool {
    matches!(value, Some("yes" | "true"))
}

fn target_from_values(host: &str, values: &Values) -> Result<SshTarget, String> {
    let hostname = first(values, "hostname").unwrap_or(host).to_string();
    let user = match first(values, "user") {
        Some(u) if !u.is_empty() => u.to_string(),
        _ => local_user(),
    };
    let port = match first(values, "port") {
        None => 22,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("ssh config for `{host}`: bad Port `{p}`"))?,
    };
    let ctx = Tokens {
        host: &hostname,
        user: &user,
        port,
        alias: host,
    };
    let paths = |key: &str| -> Vec<PathBuf> {
        values
            .get(key)
            .into_iter()
            .flatten()
            // `ssh -G` prints several paths of one keyword on one line.
            .flat_map(|v| v.split_ascii_whitespace())
            .filter(|p| *p != "none")
            .map(|p| PathBuf::from(ctx.expand(p)))
            .collect()
    };
    let identity_agent = match first(values, "identityagent") {
        Some("none") => None,
        Some("SSH_AUTH_SOCK") | None => std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from),
        Some(v) if v.starts_with('$') => std::env::var_os(&v[1..]).map(PathBuf::from),
        Some(v) => Some(PathBuf::from(ctx.expand(v))),
    };
    let strict = match first(values, "stricthostkeychecking") {
        Some("yes" | "true") => StrictHostKeyChecking::Yes,
        Some("accept-new" | "no" | "false" | "off") => StrictHostKeyChecking::AcceptNew,
        _ => StrictHostKeyChecking::Ask,
    };
    let secs = |key: &str| -> Option<u64> { first(values, key).and_then(|v| v.parse().ok()) };
    let server_alive_interval = match secs("serveraliveinterval") {
        Some(0) | None => DEFAULT_ALIVE_INTERVAL,
        Some(s) => Duration::from_secs(s),
    };
    let proxy_jump = match first(values, "proxyjump") {
        None | Some("none") | Some("") => Vec::new(),
        Some(list) => list.split(',').map(|h| h.trim().to_string()).collect(),
    };
    Ok(SshTarget {
        alias: host.to_string(),
        hostname: hostname.clone(),
        user: user.clone(),
        port,
        identity_files: paths("identityfile"),
        identities_only: yes(first(values, "identitiesonly")),
        identity_agent,
        certificate_files: paths("certificatefile"),
        proxy_jump,
        user_known_hosts: paths("userknownhostsfile"),
        global_known_hosts: paths("globalknownhostsfile"),
        strict_host_key_checking: strict,
        hash_known_hosts: yes(first(values, "hashknownhosts")),
        host_key_alias: first(values, "hostkeyalias")
            .filter(|a| *a != "none")
            .map(str::to_string),
        server_alive_interval,
        server_alive_count_max: secs("serveralivecountmax")
            .map(|c| c.clamp(1, 100) as u32)
            .unwrap_or(3),
        connect_timeout: secs("connecttimeout")
            .filter(|s| *s > 0)
            .map(Duration::from_secs),
        batch_mode: yes(first(values, "batchmode")),
    })
}

/// `[hosts.NAME]` settings win over the ssh config.
pub fn apply_overrides(target: &mut SshTarget, o: &HostConfig) {
    if let Some(h) = &o.hostname {
        target.hostname = h.clone();
    }
    if let Some(u) = &o.user {
        target.user = u.clone();
    }
    if let Some(p) = o.port {
        target.port = p;
    }
    if let Some(files) = &o.identity_file {
        let ctx = Tokens {
            host: &target.hostname,
            user: &target.user,
            port: target.port,
            alias: &target.alias,
        };
        target.identity_files = files.iter().map(|f| PathBuf::from(ctx.expand(f))).collect();
    }
    if let Some(j) = &o.proxy_jump {
        target.proxy_jump = if j == "none" || j.is_empty() {
            Vec::new()
        } else {
            j.split(',').map(|h| h.trim().to_string()).collect()
        };
    }
}

struct Tokens<'a> {
    host: &'a str,
    user: &'a str,
    port: u16,
    alias: &'a str,
}

impl Tokens<'_> {
    /// Expands `~` and the common `%` tokens of ssh_config paths.
    fn expand(&self, path: &str) -> String {
        let home = home_dir();
        let path = if path == "~" {
            home.clone()
        } else if let Some(rest) = path.strip_prefix("~/") {
            format!("{home}/{rest}")
        } else {
            path.to_string()
        };
        let mut out = String::new();
        let mut chars = path.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some('d') => out.push_str(&home),
                Some('h') => out.push_str(self.host),
                Some('n') => out.push_str(self.alias),
                Some('p') => out.push_str(&self.port.to_string()),
                Some('r') => out.push_str(self.user),
                Some('u') => out.push_str(&local_user()),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        out
    }
}

fn home_dir() -> String {
    std::env::var("HOME").unwrap_or_else(|_| "/".to_string())
}

fn local_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "root".to_string())
}

/// Settings where the first value found wins; the rest accumulate.
const MULTI: [&str; 2] = ["identityfile", "certificatefile"];

/// The built-in reader for machines without `ssh`: `Host` blocks with
/// patterns, first value wins, `Include` of plain paths. `Match` is not
/// evaluated (warned about).
fn fallback_values(
    dest: &Destination,
    config: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Result<Values, String> {
    let mut values: Values = HashMap::new();
    let files: Vec<PathBuf> = match config {
        Some(f) => vec![f.to_path_buf()],
        None => vec![
            PathBuf::from(format!("{}/.ssh/config", home_dir())),
            PathBuf::from("/etc/ssh/ssh_config"),
        ],
    };
    for (i, file) in files.iter().enumerate() {
        match std::fs::read_to_string(file) {
            Ok(text) => read_config(&text, file, &dest.host, &mut values, warnings, 0),
            // -F names a file that must exist, as with ssh.
            Err(e) if i == 0 && config.is_some() => {
                return Err(format!("reading ssh config {}: {e}", file.display()));
            }
            Err(_) => {}
        }
    }
    // Command-line values come first, as with ssh.
    if let Some(u) = &dest.user {
        values.insert("user".into(), vec![u.clone()]);
    }
    if let Some(p) = dest.port {
        values.insert("port".into(), vec![p.to_string()]);
    }
    if let Some(h) = values.get_mut("hostname").and_then(|v| v.first_mut()) {
        *h = h.replace("%h", &dest.host);
    }
    if !values.contains_key("identityfile") {
        values.insert(
            "identityfile".into(),
            ["id_rsa", "id_ecdsa", "id_ed25519"]
                .iter()
                .map(|k| format!("~/.ssh/{k}"))
                .collect(),
        );
    }
    values
        .entry("userknownhostsfile".into())
        .or_insert_with(|| vec!["~/.ssh/known_hosts ~/.ssh/known_hosts2".into()]);
    values
        .entry("globalknownhostsfile".into())
        .or_insert_with(|| vec!["/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2".into()]);
    Ok(values)
}

fn read_config(
    text: &str,
    file: &Path,
    host: &str,
    values: &mut Values,
    warnings: &mut Vec<String>,
    depth: usize,
) {
    let mut active = true;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, rest) = match line.find(|c: char| c.is_whitespace() || c == '=') {
            Some(at) => (
                &line[..at],
                line[at..].trim_start_matches(|c: char| c.is_whitespace() || c == '='),
            ),
            None => (line, ""),
        };
        let key = key.to_ascii_lowercase();
        let args: Vec<String> = rest
            .split_ascii_whitespace()
            .map(|a| a.trim_matches('"').to_string())
            .collect();
        match key.as_str() {
            "host" => {
                active = match_list(args.iter().map(String::as_str), host) == ListMatch::Match;
            }
            "match" => {
                warnings.push(format!(
                    "{}:{}: `Match` is not evaluated without the ssh binary; its block is ignored",
                    file.display(),
                    index + 1
                ));
                active = false;
            }
            "include" if active => {
                if depth > 8 {
                    continue;
                }
                for inc in &args {
                    let path = if inc.starts_with('/') {
                        PathBuf::from(inc)
                    } else if let Some(rest) = inc.strip_prefix("~/") {
                        PathBuf::from(format!("{}/{rest}", home_dir()))
                    } else {
                        PathBuf::from(format!("{}/.ssh/{inc}", home_dir()))
                    };
                    if inc.contains(['*', '?']) {
                        warnings.push(format!(
                            "{}:{}: Include with wildcards is not followed without the ssh binary",
                            file.display(),
                            index + 1
                        ));
                    } else if let Ok(t) = std::fs::read_to_string(&path) {
                        read_config(&t, &path, host, values, warnings, depth + 1);
                    }
                }
            }
            _ if active && !args.is_empty() => {
                if MULTI.contains(&key.as_str()) {
                    values.entry(key).or_default().push(args.join(" "));
                } else {
                    values.entry(key).or_insert_with(|| vec![args.join(" ")]);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let d = parse_destination("alice@web:2200").expect("parse");
        assert_eq!(
            d,
            Destination {
                user: Some("alice".into()),
                host: "web".into(),
                port: Some(2200)
            }
        );
        let d = parse_destination("ssh://bob@[::1]:22").expect("parse");
        assert_eq!(
            (d.user.as_deref(), d.host.as_str(), d.port),
            (Some("bob"), "::1", Some(22))
        );
        let d = parse_destination("fe80::1").expect("parse");
        assert_eq!((d.host.as_str(), d.port), ("fe80::1", None));
        assert_eq!(parse_destination("myhost").expect("parse").port, None);
        for bad in [
            "",
            "@host",
            "host:",
            "host:99999",
            "host:0",
            "-oProxyCommand=x",
            "[::1",
            "a b",
        ] {
            assert!(parse_destination(bad).is_err(), "{bad:?} accepted");
        }
    }

    const SSH_G: &str = "\
user opsbed
hostname 127.0.0.1
port 2222
identitiesonly yes
stricthostkeychecking true
hashknownhosts yes
serveraliveinterval 0
serveralivecountmax 5
identityfile ~/.ssh/id_a
identityfile /keys/%r-%h
certificatefile /keys/cert.pub
globalknownhostsfile /etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2
userknownhostsfile /u/known_hosts /u/known_hosts2
connecttimeout none
proxyjump j1,me@j2:23
identityagent none
";

    #[test]
    fn ssh_g_output_maps_to_target() {
        let t = target_from_values("bed", &parse_ssh_g(SSH_G)).expect("target");
        assert_eq!(t.hostname, "127.0.0.1");
        assert_eq!(t.user, "opsbed");
        assert_eq!(t.port, 2222);
        assert!(t.identities_only);
        assert_eq!(t.strict_host_key_checking, StrictHostKeyChecking::Yes);
        assert!(t.hash_known_hosts);
        assert_eq!(t.server_alive_interval, DEFAULT_ALIVE_INTERVAL);
        assert_eq!(t.server_alive_count_max, 5);
        assert_eq!(t.identity_files.len(), 2);
        assert!(t.identity_files[0].ends_with(".ssh/id_a"));
        assert!(!t.identity_files[0].starts_with("~"));
        assert_eq!(t.identity_files[1], PathBuf::from("/keys/opsbed-127.0.0.1"));
        assert_eq!(t.certificate_files, vec![PathBuf::from("/keys/cert.pub")]);
        assert_eq!(t.user_known_hosts.len(), 2);
        assert_eq!(t.global_known_hosts.len(), 2);
        assert_eq!(t.connect_timeout, None);
        assert_eq!(t.proxy_jump, vec!["j1".to_string(), "me@j2:23".to_string()]);
        assert_eq!(t.identity_agent, None);
        assert_eq!(t.known_hosts_name(), "[127.0.0.1]:2222");
    }

    #[test]
    fn bad_port_in_output_is_an_error() {
        assert!(target_from_values("h", &parse_ssh_g("port many\n")).is_err());
    }

    #[test]
    fn overrides_win() {
        let mut t = target_from_values("bed", &parse_ssh_g(SSH_G)).expect("target");
        let o = HostConfig {
            hostname: Some("10.1.1.1".into()),
            user: Some("ops".into()),
            port: Some(22),
            identity_file: Some(vec!["/k/one".into()]),
            proxy_jump: Some("none".into()),
            ..Default::default()
        };
        apply_overrides(&mut t, &o);
        assert_eq!(t.describe(), "ops@10.1.1.1:22");
        assert_eq!(t.identity_files, vec![PathBuf::from("/k/one")]);
        assert!(t.proxy_jump.is_empty());
        assert_eq!(t.known_hosts_name(), "10.1.1.1");
    }

    #[test]
    fn ssh_binary_resolves_a_config_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("config");
        std::fs::write(
            &cfg,
            "Host web*\n  HostName 10.9.9.9\n  Port 2022\n  IdentityFile /k/web\nHost *\n  User fallback\n  ServerAliveInterval 7\n",
        )
        .expect("write");
        let opts = ResolveOptions {
            config_file: Some(&cfg),
            ..Default::default()
        };
        let r = resolve("admin@web1", &opts).expect("resolve");
        assert_eq!(r.target.describe(), "admin@10.9.9.9:2022");
        assert_eq!(r.target.server_alive_interval, Duration::from_secs(7));
        assert!(r.target.identity_files.contains(&PathBuf::from("/k/web")));
        // The fallback reader agrees on the same file.
        let opts = ResolveOptions {
            config_file: Some(&cfg),
            without_ssh_binary: true,
            ..Default::default()
        };
        let f = resolve("admin@web1", &opts).expect("fallback");
        assert_eq!(f.target.describe(), "admin@10.9.9.9:2022");
        assert_eq!(f.target.server_alive_interval, Duration::from_secs(7));
        assert_eq!(f.target.identity_files, vec![PathBuf::from("/k/web")]);
        let other = resolve("db", &opts).expect("fallback");
        assert_eq!(other.target.describe(), "fallback@db:22");
        std::fs::write(&cfg, "Host *\n  ProxyCommand nc %h %p\n").expect("write");
        for binary in [false, true] {
            let opts = ResolveOptions {
                config_file: Some(&cfg),
                without_ssh_binary: binary,
                ..Default::default()
            };
            let r = resolve("db", &opts).expect("resolve");
            assert!(
                r.warnings.iter().any(|w| w.contains("ProxyCommand")),
                "{:?}",
                r.warnings
            );
        }
    }

    #[test]
    fn fallback_warns_on_match_and_honours_negation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("config");
        std::fs::write(
            &cfg,
            "Port 2000\nHost *.lan !secret.lan\n  User lanuser\nMatch host x\n  User matched\nHost *\n  ProxyJump j1,j2\n",
        )
        .expect("write");
        let opts = ResolveOptions {
            config_file: Some(&cfg),
            without_ssh_binary: true,
            ..Default::default()
        };
        let r = resolve("a.lan", &opts).expect("resolve");
        assert_eq!(r.target.user, "lanuser");
        assert_eq!(r.target.port, 2000);
        assert_eq!(r.jumps.len(), 2);
        assert!(
            r.warnings.iter().any(|w| w.contains("Match")),
            "{:?}",
            r.warnings
        );
        let r = resolve("secret.lan", &opts).expect("resolve");
        assert_ne!(r.target.user, "lanuser");
        assert_ne!(r.target.user, "matched");
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let opts = ResolveOptions {
            config_file: Some(Path::new("/nonexistent/ssh_config")),
            ..Default::default()
        };
        let err = resolve("h", &opts).expect_err("should fail");
        assert!(err.contains("ssh"), "{err}");
        let opts = ResolveOptions {
            without_ssh_binary: true,
            ..opts
        };
        let err = resolve("h", &opts).expect_err("should fail");
        assert!(err.contains("/nonexistent/ssh_config"), "{err}");
    }
}
