//! The Landlock ruleset of a confined agent: file trees, devices, TCP ports,
//! and (ABI 6) abstract-socket and signal scopes. Built in the launcher
//! before the fork; the child only calls `restrict_self`.

use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, Scope,
};

use super::profile::Rules;

/// The newest ABI this code was written and tested against: rights of
/// newer ABIs are never handled by accident.
const ABI_KNOWN: ABI = ABI::V9;

/// One path and what the agent may do beneath it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub path: PathBuf,
    pub access: BitFlags<AccessFs>,
}

fn read_only() -> BitFlags<AccessFs> {
    AccessFs::from_read(ABI_KNOWN)
}

fn read_write() -> BitFlags<AccessFs> {
    AccessFs::from_all(ABI_KNOWN)
}

/// Devices: read, write, truncate (`> /dev/null`), ioctl; never execute.
fn device() -> BitFlags<AccessFs> {
    AccessFs::ReadFile
        | AccessFs::WriteFile
        | AccessFs::Truncate
        | AccessFs::IoctlDev
        | AccessFs::ReadDir
}

/// Refuses rules that would reach a `never` path: a grant that is such a
/// path or holds one (the cwd being `$HOME`, say).
pub fn check_never(rules: &Rules) -> Result<(), String> {
    let grants = rules
        .read_write
        .iter()
        .chain(&rules.read_only)
        .chain(&rules.devices);
    for grant in grants {
        let Ok(grant_real) = grant.canonicalize() else {
            continue;
        };
        for never in &rules.never {
            let never_real = never.canonicalize().unwrap_or_else(|_| never.clone());
            if never_real.starts_with(&grant_real) {
                return Err(format!(
                    "the rule for {} would give the agent {}, which it must never reach; start it from the project directory (or drop the --allow-path)",
                    grant.display(),
                    never.display()
                ));
            }
        }
    }
    Ok(())
}

/// Every grant, with the `except` paths carved out: a tree holding one is
/// granted entry by entry, recursively, leaving the excepted paths out.
pub fn grants(rules: &Rules) -> Vec<Grant> {
    let except: Vec<PathBuf> = rules.except.iter().map(|p| real(p)).collect();
    // A symlink met while carving is granted as its target: never one into
    // a never path or the home directory.
    let no_links_into: Vec<PathBuf> = rules
        .never
        .iter()
        .chain(std::iter::once(&rules.home))
        .map(|p| real(p))
        .collect();
    let mut out = Vec::new();
    let lists = [
        (&rules.read_only, read_only()),
        (&rules.read_write, read_write()),
        (&rules.devices, device()),
    ];
    for (paths, access) in lists {
        for path in paths {
            if path.exists() {
                let mut carving = Carving {
                    except: &except,
                    no_links_into: &no_links_into,
                    out: &mut out,
                };
                carving.carve(&real(path), access);
            }
        }
    }
    // The cockpits' socket dir may be listed (`opscockpit mcp` finds the
    // running cockpits so); connecting is the supervisor's to allow.
    if rules.broker_dir.is_dir() {
        out.push(Grant {
            path: real(&rules.broker_dir),
            access: AccessFs::ReadDir.into(),
        });
    }
    out
}

fn real(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// `/proc` is never granted whole: Landlock's ptrace scope stops other
/// processes' `mem` and `exe`, but not their `environ`, `maps` or `auxv`
/// (seen on Linux 6.18). So only the system-wide entries are granted here,
/// and the agent's own `/proc/PID` in the child ([`own_proc`]).
pub const PROC: &str = "/proc";

fn proc_entries(access: BitFlags<AccessFs>, out: &mut Vec<Grant>) {
    out.push(Grant {
        path: PathBuf::from(PROC),
        access: access & AccessFs::ReadDir,
    });
    let Ok(entries) = std::fs::read_dir(PROC) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let per_process =
            name.bytes().all(|b| b.is_ascii_digit()) || name == "self" || name == "thread-self";
        if !per_process {
            out.push(Grant {
                path: entry.path(),
                access,
            });
        }
    }
}

/// Adds the calling process's own `/proc/PID` (read-only); run in the
/// child, where `/proc/self` is the agent.
pub fn own_proc(ruleset: RulesetCreated) -> Result<RulesetCreated, landlock::RulesetError> {
    match PathFd::new("/proc/self") {
        Ok(fd) => ruleset.add_rule(PathBeneath::new(fd, read_only())),
        Err(_) => Ok(ruleset),
    }
}

struct Carving<'a> {
    except: &'a [PathBuf],
    no_links_into: &'a [PathBuf],
    out: &'a mut Vec<Grant>,
}

impl Carving<'_> {
    fn carve(&mut self, path: &Path, access: BitFlags<AccessFs>) {
        if self.except.iter().any(|e| e == path) {
            return;
        }
        if path == Path::new(PROC) {
            proc_entries(access, self.out);
            return;
        }
        let holds_an_exception = self.except.iter().any(|e| e.starts_with(path));
        if !holds_an_exception || !path.is_dir() {
            self.out.push(Grant {
                path: path.to_path_buf(),
                access,
            });
            return;
        }
        // The directory itself may be listed, not everything under it.
        self.out.push(Grant {
            path: path.to_path_buf(),
            access: access & AccessFs::ReadDir,
        });
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            let entry = entry.path();
            match self.link_target(&entry) {
                Link::Plain => self.carve(&entry, access),
                Link::To(target) => self.carve(&target, access),
                Link::Refused => {}
            }
        }
    }

    /// A rule on a symlink is a rule on its target (Landlock opens the
    /// path): follow it only to a target that is allowed to be granted.
    fn link_target(&self, entry: &Path) -> Link {
        let is_link = entry.symlink_metadata().is_ok_and(|m| m.is_symlink());
        if !is_link {
            return Link::Plain;
        }
        let Ok(target) = entry.canonicalize() else {
            return Link::Refused;
        };
        let excepted = self
            .except
            .iter()
            .any(|e| target.starts_with(e) || e.starts_with(&target));
        let private = self.no_links_into.iter().any(|p| target.starts_with(p));
        if excepted || private {
            Link::Refused
        } else {
            Link::To(target)
        }
    }
}

/// What a directory entry is when a tree is carved.
enum Link {
    Plain,
    To(PathBuf),
    Refused,
}

/// The agent's ruleset, ready for `restrict_self` in the child.
pub fn agent_ruleset(rules: &Rules, kernel_abi: u32) -> Result<RulesetCreated, String> {
    let err = |e: landlock::RulesetError| format!("building the Landlock ruleset: {e}");
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(ABI_KNOWN))
        .map_err(err)?
        .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)
        .map_err(err)?;
    if kernel_abi >= super::kernel::ABI_SCOPE {
        ruleset = ruleset
            .scope(Scope::AbstractUnixSocket | Scope::Signal)
            .map_err(err)?;
    }
    let mut created = ruleset.create().map_err(err)?;
    for grant in grants(rules) {
        let Ok(fd) = PathFd::new(&grant.path) else {
            continue;
        };
        // File rights only on a file: directory rights there are invalid.
        let access = if grant.path.is_dir() {
            grant.access
        } else {
            grant.access & AccessFs::from_file(ABI_KNOWN)
        };
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(err)?;
    }
    for port in &rules.tcp_connect {
        created = created
            .add_rule(NetPort::new(*port, AccessNet::ConnectTcp))
            .map_err(err)?;
    }
    Ok(created)
}

/// The supervisor's connecting threads run under this: the same TCP port
/// rules as the agent (connects it makes for the agent are held to them by
/// the kernel), and no file rules.
pub fn connector_ruleset(rules: &Rules) -> Result<RulesetCreated, String> {
    let err = |e: landlock::RulesetError| format!("building the connector's ruleset: {e}");
    let mut created = Ruleset::default()
        .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)
        .map_err(err)?
        .create()
        .map_err(err)?;
    for port in &rules.tcp_connect {
        created = created
            .add_rule(NetPort::new(*port, AccessNet::ConnectTcp))
            .map_err(err)?;
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceptions_are_carved_out_entry_by_entry() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path().canonicalize().expect("real");
        std::fs::create_dir_all(root.join("etc/ssh")).expect("mkdir");
        for f in [
            "etc/passwd",
            "etc/shadow",
            "etc/ssh/ssh_config",
            "etc/ssh/key",
        ] {
            std::fs::write(root.join(f), "x").expect("write");
        }
        let rules = Rules {
            profile: "t".into(),
            min_abi: 4,
            read_write: vec![],
            read_only: vec![root.join("etc")],
            devices: vec![],
            except: vec![root.join("etc/shadow"), root.join("etc/ssh/key")],
            never: vec![],
            tcp_connect: vec![],
            udp: false,
            env_unset: vec![],
            broker_dir: "/run/x".into(),
            home: root.join("home"),
        };
        let paths: Vec<PathBuf> = grants(&rules).into_iter().map(|g| g.path).collect();
        assert!(paths.contains(&root.join("etc/passwd")));
        assert!(paths.contains(&root.join("etc/ssh/ssh_config")));
        assert!(!paths.contains(&root.join("etc/shadow")));
        assert!(!paths.contains(&root.join("etc/ssh/key")));
        // A symlink in a carved tree is not a way to a secret.
        std::fs::create_dir_all(root.join("home/.ssh")).expect("home");
        std::fs::write(root.join("home/.ssh/id"), "k").expect("key");
        std::os::unix::fs::symlink(root.join("home/.ssh/id"), root.join("etc/key-link"))
            .expect("link");
        std::os::unix::fs::symlink(root.join("etc/passwd"), root.join("etc/passwd-link"))
            .expect("link");
        let paths: Vec<PathBuf> = grants(&rules).into_iter().map(|g| g.path).collect();
        assert!(!paths.iter().any(|p| p.starts_with(root.join("home"))));
        let mut home = rules.clone();
        home.read_write = vec![root.clone()];
        home.read_only = vec![];
        home.never = vec![root.join("etc/ssh")];
        assert!(check_never(&home).is_err());
        home.read_write = vec![root.join("etc/passwd")];
        assert!(check_never(&home).is_ok());
    }
}
