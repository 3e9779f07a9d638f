//! `opscockpit agent -- CMD`: runs an AI agent where the gate is its only
//! way to the host. CMD runs under a Landlock ruleset (files, TCP ports,
//! scopes), seccomp filters (socket families, UDP, io_uring) and the
//! unix-socket supervisor (only the cockpits' broker sockets), with a
//! scrubbed environment and a private TMPDIR. Its session token is
//! registered with every running cockpit, so what it proposes is marked
//! confined.
//!
//! - [`profile`]: the TOML profiles and the rules they expand to.
//! - [`kernel`]: what this kernel can enforce (`--check`).
//! - [`landlock_rules`], [`seccomp`], [`supervisor`]: the enforcement.
//!
//! It fails closed: a kernel without a feature a rule needs refuses to
//! start (naming the feature) unless `--unconfined` says otherwise.

pub mod kernel;
pub mod landlock_rules;
pub mod profile;
pub mod seccomp;
pub mod supervisor;

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use profile::{Places, ProfileSet, Rules};

/// Exit code when the agent was not started (refused or failed to confine).
pub const EXIT_NOT_STARTED: i32 = 125;

/// What `opscockpit agent` was asked.
#[derive(Debug, Clone, Default)]
pub struct AgentArgs {
    pub profile: Option<String>,
    pub allow_ports: Vec<u16>,
    pub allow_paths: Vec<String>,
    pub unconfined: bool,
    pub check: bool,
    pub print_profile: Option<String>,
    pub command: Vec<String>,
}

/// Where opscockpit's own files are, and which variables hold secrets.
#[derive(Debug, Clone)]
pub struct Context {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    /// Variables the config names as holding a secret (`password_env`, …).
    pub secret_vars: Vec<String>,
}

/// Runs the subcommand; returns the exit code (CMD's own when it ran).
pub fn run(args: &AgentArgs, ctx: &Context) -> i32 {
    match try_run(args, ctx) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("opscockpit agent: {message}");
            EXIT_NOT_STARTED
        }
    }
}

fn try_run(args: &AgentArgs, ctx: &Context) -> Result<i32, String> {
    let profiles = ProfileSet::load(Some(&ctx.config_dir.join("agent-profiles")))
        .map_err(|e| format!("profile error: {e}"))?;
    let support = kernel::Support::probe();
    if args.check {
        print!("{}{}", support.render(), profiles_here(&profiles, &support));
        return Ok(0);
    }
    if let Some(name) = &args.print_profile {
        let rules = resolve(&profiles, name, args, ctx, Path::new("{tmp}"))?;
        print!("{}", rules.render());
        return Ok(0);
    }
    let Some((program, program_args)) = args.command.split_first() else {
        return Err("give the agent's command after `--`".into());
    };
    let name = args
        .profile
        .clone()
        .unwrap_or_else(|| profile_for(program, &profiles));
    let tmp = private_tmp()?;
    let outcome = launch(args, ctx, &profiles, &name, program, program_args, &tmp.0);
    drop(tmp);
    outcome
}

/// `--check`: whether each profile can be enforced on this kernel.
fn profiles_here(profiles: &ProfileSet, support: &kernel::Support) -> String {
    let mut out = String::from("profiles:\n");
    for name in profiles.names() {
        let Ok(profile) = profiles.get(&name) else {
            continue;
        };
        let verdict = match support.missing(profile.min_abi) {
            None => "enforceable here".to_string(),
            Some(why) => format!("refuses to start here: {why}"),
        };
        out.push_str(&format!(
            "  {name} (min_abi {}, udp {}): {verdict}\n",
            profile.min_abi,
            if profile.udp { "open" } else { "closed" }
        ));
    }
    out
}

/// The profile a command gets by default: its own (`claude`, `codex`) if
/// one is named after it, else `generic`.
fn profile_for(program: &str, profiles: &ProfileSet) -> String {
    let base = Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    if profiles.names().iter().any(|n| n == base) {
        base.to_string()
    } else {
        profile::DEFAULT_PROFILE.to_string()
    }
}

fn resolve(
    profiles: &ProfileSet,
    name: &str,
    args: &AgentArgs,
    ctx: &Context,
    tmp: &Path,
) -> Result<Rules, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    let places = Places {
        cwd: cwd.clone(),
        tmp: tmp.to_path_buf(),
        exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/nonexistent")),
        home: std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/nonexistent")),
        config_dir: ctx.config_dir.clone(),
        data_dir: ctx.data_dir.clone(),
    };
    let broker_dir = crate::gate::socket_dir(&ctx.data_dir);
    let mut rules = profiles.get(name)?.expand(&places, &broker_dir);
    for spec in &args.allow_paths {
        rules.allow_path(spec, &cwd);
    }
    for port in &args.allow_ports {
        rules.allow_port(*port);
    }
    Ok(rules)
}

fn launch(
    args: &AgentArgs,
    ctx: &Context,
    profiles: &ProfileSet,
    name: &str,
    program: &str,
    program_args: &[String],
    tmp: &Path,
) -> Result<i32, String> {
    let rules = resolve(profiles, name, args, ctx, tmp)?;
    let mut command = Command::new(program);
    command
        .args(program_args)
        .env_clear()
        .envs(scrubbed_env(&rules, &ctx.secret_vars))
        .env("TMPDIR", tmp);
    if std::env::var_os("OPSCOCKPIT_AGENT").is_none() {
        command.env("OPSCOCKPIT_AGENT", name);
    }
    if args.unconfined {
        eprintln!(
            "opscockpit agent: running {} UNCONFINED (--unconfined): it can reach everything you can; its proposals are not marked confined",
            crate::text::inert(program)
        );
        return wait_for(command.spawn().map_err(|e| spawn_error(program, &e))?);
    }
    let support = kernel::Support::probe();
    if let Some(missing) = support.missing(rules.min_abi) {
        return Err(format!(
            "refusing to start {}: {missing}. `opscockpit agent --check` shows what this kernel enforces; --unconfined runs it anyway",
            crate::text::inert(program)
        ));
    }
    if !supervisor::sizes_match() {
        return Err("refusing to start: this kernel's seccomp notification structures are larger than this opscockpit knows".into());
    }
    landlock_rules::check_never(&rules)?;
    let token = session_token()?;
    let registered = register_session(&rules.broker_dir, &token, name);
    command.env("OPSCOCKPIT_SESSION", &token);
    eprintln!(
        "opscockpit agent: profile {name}, Landlock ABI {}; session registered with {registered} running cockpit(s)",
        support.landlock_abi
    );
    confine_and_run(command, &rules, support.landlock_abi, program)
}

fn confine_and_run(
    mut command: Command,
    rules: &Rules,
    abi: u32,
    program: &str,
) -> Result<i32, String> {
    let ruleset = landlock_rules::agent_ruleset(rules, abi)?;
    let connector = landlock_rules::connector_ruleset(rules)?;
    let deny = seccomp::as_kernel(&seccomp::deny_filter(rules.udp)?);
    let notify = seccomp::notify_filter();
    let (ours, theirs) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    let theirs_fd = theirs.as_raw_fd();
    let own_proc = rules
        .read_only
        .iter()
        .any(|p| p == Path::new(landlock_rules::PROC));
    let mut ruleset = Some(ruleset);
    // SAFETY: the launcher is single-threaded here (no runtime, no other
    // threads yet), so the child may allocate; it only restricts itself,
    // installs the filters and hands the notification fd over.
    unsafe {
        command.pre_exec(move || {
            let ruleset = ruleset
                .take()
                .ok_or_else(|| std::io::Error::other("ruleset used twice"))?;
            let ruleset = if own_proc {
                landlock_rules::own_proc(ruleset).map_err(std::io::Error::other)?
            } else {
                ruleset
            };
            let status = ruleset.restrict_self().map_err(std::io::Error::other)?;
            if status.ruleset == landlock::RulesetStatus::NotEnforced {
                return Err(std::io::Error::other("Landlock ruleset not enforced"));
            }
            seccomp::install(&deny, false)?;
            let listener = seccomp::install(&notify, true)?;
            send_fd(theirs_fd, listener)?;
            libc::close(listener);
            libc::close(theirs_fd);
            Ok(())
        });
    }
    let child = command.spawn().map_err(|e| spawn_error(program, &e))?;
    drop(theirs);
    let listener = receive_fd(&ours).map_err(|e| format!("receiving the supervisor's fd: {e}"))?;
    supervisor::spawn(listener, connector, rules.broker_dir.clone(), rules.udp)?;
    wait_for(child)
}

fn spawn_error(program: &str, e: &std::io::Error) -> String {
    format!("could not start {}: {e}", crate::text::inert(program))
}

fn wait_for(mut child: std::process::Child) -> Result<i32, String> {
    let status = child
        .wait()
        .map_err(|e| format!("waiting for the agent: {e}"))?;
    Ok(status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1))
}

/// The environment the agent gets: ours without the profile's `unset`
/// names (a trailing `*` is a prefix) and the config's secret variables.
pub fn scrubbed_env(rules: &Rules, secret_vars: &[String]) -> Vec<(String, String)> {
    let removed = |key: &str| {
        rules
            .env_unset
            .iter()
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => key.starts_with(prefix),
                None => key == pattern,
            })
            || secret_vars.iter().any(|s| s == key)
            || key == "OPSCOCKPIT_SESSION"
            || key == "TMPDIR"
    };
    std::env::vars().filter(|(key, _)| !removed(key)).collect()
}

/// 32 random bytes as hex: the agent's session token.
fn session_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for the session token: {e}"))?;
    Ok(hex::encode(bytes))
}

/// Registers the token with every cockpit serving a socket in `dir`;
/// returns how many accepted it. A stale socket is skipped.
fn register_session(dir: &Path, token: &str, profile: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let request = crate::gate::broker::Request::RegisterSession {
        token: token.to_string(),
        profile: profile.to_string(),
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sock"))
        .filter(|socket| {
            let Ok(mut client) = crate::gate::client::Client::connect(socket, "") else {
                return false;
            };
            matches!(client.request(&request), Ok(r) if r.ok)
        })
        .count()
}

/// A private temp dir (0700) for TMPDIR, removed when the agent ends.
struct PrivateTmp(PathBuf);

impl Drop for PrivateTmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn private_tmp() -> Result<PrivateTmp, String> {
    use std::os::unix::fs::DirBuilderExt;
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    let path = std::env::temp_dir().join(format!("opscockpit-agent-{}", hex::encode(bytes)));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&path)
        .map_err(|e| format!("creating the private temp dir {}: {e}", path.display()))?;
    Ok(PrivateTmp(path))
}

/// Sends `fd` over `socket` (SCM_RIGHTS). Runs in the forked child: no
/// allocation.
fn send_fd(socket: libc::c_int, fd: libc::c_int) -> std::io::Result<()> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // Room for one cmsghdr carrying one int, aligned.
    let mut control = [0u64; 4];
    // SAFETY: msghdr fields point at `iov` and `control`, both alive for the
    // call; CMSG_* compute offsets inside `control`, which is large enough.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), fd);
        if libc::sendmsg(socket, &msg, 0) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn receive_fd(socket: &UnixStream) -> std::io::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut slices = [IoSliceMut::new(&mut byte)];
    let mut control = [0u64; 4];
    // SAFETY: as in send_fd; the received descriptor is owned exactly once.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = slices.as_mut_ptr().cast();
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        if libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) <= 0 {
            return Err(std::io::Error::other(
                "the agent exited before it was confined",
            ));
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return Err(std::io::Error::other("no descriptor received"));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_hex_and_differ() {
        let a = session_token().expect("token");
        let b = session_token().expect("token");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn default_profile_follows_the_command() {
        let set = ProfileSet::load(None).expect("profiles");
        assert_eq!(profile_for("/usr/local/bin/claude", &set), "claude");
        assert_eq!(profile_for("codex", &set), "codex");
        assert_eq!(profile_for("sh", &set), "generic");
    }
}
