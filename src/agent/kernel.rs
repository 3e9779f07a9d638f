//! What this kernel can enforce: the Landlock ABI, seccomp filters, user
//! notification and `pidfd_getfd` (which the unix-socket supervisor needs).

/// Landlock ABI that restricts TCP connect and bind.
pub const ABI_NET: u32 = 4;
/// Landlock ABI that scopes abstract unix sockets and signals.
pub const ABI_SCOPE: u32 = 6;
/// Landlock ABI that restricts connecting to path unix sockets.
pub const ABI_UNIX_PATH: u32 = 9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Support {
    /// 0: no Landlock (not built, or not enabled at boot).
    pub landlock_abi: u32,
    pub seccomp_filter: bool,
    pub user_notif: bool,
    pub pidfd_getfd: bool,
    /// Yama's ptrace_scope (0 when Yama is absent): from 2 on, the launcher
    /// may not read its agent's memory, so every connect of the agent fails.
    pub yama_ptrace_scope: u32,
}

impl Support {
    pub fn probe() -> Support {
        Support {
            landlock_abi: landlock_abi(),
            seccomp_filter: seccomp_filter(),
            user_notif: user_notif(),
            pidfd_getfd: pidfd_getfd(),
            yama_ptrace_scope: std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0),
        }
    }

    /// The unix-socket supervisor: seccomp user notification plus
    /// `pidfd_getfd`, so the supervisor connects the agent's own socket.
    pub fn supervisor(&self) -> bool {
        self.seccomp_filter && self.user_notif && self.pidfd_getfd
    }

    /// Why a profile that needs `min_abi` cannot be enforced here (`None`:
    /// it can).
    pub fn missing(&self, min_abi: u32) -> Option<String> {
        let needed = min_abi.max(ABI_NET);
        if self.landlock_abi == 0 {
            return Some(
                "Landlock is not available (kernel built without it, or `lsm=` at boot leaves it out)"
                    .into(),
            );
        }
        if self.landlock_abi < needed {
            return Some(format!(
                "Landlock ABI {needed} is needed ({}), this kernel has ABI {}",
                feature_of(needed),
                self.landlock_abi
            ));
        }
        if !self.seccomp_filter {
            return Some("seccomp filters are not available (CONFIG_SECCOMP_FILTER)".into());
        }
        if !self.supervisor() {
            return Some(
                "seccomp user notification and pidfd_getfd (Linux 5.6) are needed to keep unix sockets closed"
                    .into(),
            );
        }
        None
    }

    /// `opscockpit agent --check`.
    pub fn render(&self) -> String {
        let yes = |b: bool| if b { "yes" } else { "no" };
        let abi = self.landlock_abi;
        let enforced = |from: u32| {
            if abi >= from {
                "enforced".to_string()
            } else {
                format!("NOT enforced (needs Landlock ABI {from})")
            }
        };
        let unix = if abi >= ABI_UNIX_PATH {
            "enforced (Landlock ABI 9, and the seccomp supervisor)".to_string()
        } else if self.supervisor() {
            "enforced (seccomp user-notification supervisor: only the gate's sockets)".to_string()
        } else {
            "NOT enforced (needs seccomp user notification and pidfd_getfd)".to_string()
        };
        format!(
            "Landlock ABI: {}\nseccomp filters: {}\nseccomp user notification: {}\npidfd_getfd: {}\n\
             rules on this kernel:\n  files (read/write/execute per tree): {}\n  truncate: {}\n  device ioctl: {}\n  \
             tcp connect to allowed ports, bind denied: {}\n  abstract unix sockets and signals scoped: {}\n  \
             path unix sockets: {unix}\n  other socket families, inet other than TCP/UDP, udp when off, io_uring: {}\n  \
             other processes' /proc: {}\nYama ptrace_scope: {}{}\nopscockpit agent: {}\n",
            if abi == 0 {
                "none (Landlock unavailable)".to_string()
            } else {
                abi.to_string()
            },
            yes(self.seccomp_filter),
            yes(self.user_notif),
            yes(self.pidfd_getfd),
            enforced(1),
            enforced(3),
            enforced(5),
            enforced(ABI_NET),
            enforced(ABI_SCOPE),
            if self.seccomp_filter {
                "denied (seccomp)"
            } else {
                "NOT enforced (no seccomp)"
            },
            enforced(1),
            self.yama_ptrace_scope,
            if self.yama_ptrace_scope >= 2 {
                " (the supervisor cannot read the agent's calls: every connect will fail)"
            } else {
                ""
            },
            match self.missing(ABI_NET) {
                None => "can confine agents here".to_string(),
                Some(why) => format!("refuses to start: {why}"),
            }
        )
    }
}

fn feature_of(abi: u32) -> &'static str {
    match abi {
        0..=1 => "file access rules",
        2 => "file rename rules",
        3 => "truncate rules",
        4 => "TCP port rules",
        5 => "device ioctl rules",
        6 => "abstract unix socket and signal scopes",
        7 => "audit logging",
        8 => "thread-wide enforcement",
        9 => "unix socket path rules",
        _ => "a Landlock feature newer than this opscockpit knows",
    }
}

fn landlock_abi() -> u32 {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    // only returns the ABI version (or -1 with errno); it touches no memory.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32,
        )
    };
    u32::try_from(version).unwrap_or(0)
}

fn seccomp_filter() -> bool {
    // SAFETY: prctl(PR_GET_SECCOMP) only reports this thread's mode.
    let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP) };
    mode >= 0
}

fn user_notif() -> bool {
    let action: u32 = libc::SECCOMP_RET_USER_NOTIF;
    // SAFETY: SECCOMP_GET_ACTION_AVAIL reads one u32 we own.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0u32,
            &action as *const u32,
        )
    };
    r == 0
}

fn pidfd_getfd() -> bool {
    // SAFETY: pidfd_open on our own pid, then pidfd_getfd of our stdin
    // (a duplicate we close); no memory is passed.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0u32);
        if pidfd < 0 {
            return false;
        }
        let fd = libc::syscall(libc::SYS_pidfd_getfd, pidfd as libc::c_int, 0, 0u32);
        libc::close(pidfd as libc::c_int);
        if fd >= 0 {
            libc::close(fd as libc::c_int);
            return true;
        }
        // EBADF: the call exists, stdin is just closed.
        std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_features_are_named() {
        let full = Support {
            landlock_abi: 7,
            seccomp_filter: true,
            user_notif: true,
            pidfd_getfd: true,
            yama_ptrace_scope: 1,
        };
        assert_eq!(full.missing(4), None);
        let why = full.missing(99).expect("too new");
        assert!(why.contains("ABI 99"), "{why}");
        let old = Support {
            landlock_abi: 3,
            ..full
        };
        assert!(old.missing(1).expect("old").contains("TCP port rules"));
        let none = Support {
            landlock_abi: 0,
            ..full
        };
        assert!(none.missing(1).expect("none").contains("not available"));
    }
}
