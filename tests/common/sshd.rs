//! An sshd of the test's own (own port, host key, config and known_hosts
//! in a tempdir), for tests that freeze, kill or restart it without
//! touching the shared bed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// An sshd of the test's own (own port, host key and config in a tempdir),
/// so it can be killed without touching the shared bed.
pub struct OwnSshd {
    pub dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl OwnSshd {
    /// Starts an sshd in `dir` that lets `user` in with `authorized_keys`;
    /// `extra` sshd_config lines come first (sshd keeps the first value).
    pub fn start_for(dir: &Path, user: &str, extra: &str, authorized_keys: &Path) -> Self {
        let host_key = dir.join("host_ed25519");
        if !host_key.exists() {
            keygen(&host_key);
        }
        let port = free_port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "{extra}Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nUsePAM no\nAllowUsers {}\nAllowTcpForwarding yes\nPrintMotd no\nUseDNS no\n",
                host_key.display(),
                dir.join("sshd.pid").display(),
                authorized_keys.display(),
                user,
            ),
        )
        .expect("sshd_config");
        let pub_key = std::fs::read_to_string(dir.join("host_ed25519.pub")).expect("pub");
        let mut parts = pub_key.split_whitespace();
        std::fs::write(
            dir.join("known_hosts"),
            format!(
                "[127.0.0.1]:{port} {} {}\n",
                parts.next().expect("type"),
                parts.next().expect("key")
            ),
        )
        .expect("known_hosts");
        let mut sshd = OwnSshd {
            dir: dir.to_path_buf(),
            port,
            child: None,
        };
        sshd.start();
        sshd
    }

    pub fn start(&mut self) {
        let child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(self.dir.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sshd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "own sshd did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Freezes every process serving live connections (the listener keeps
    /// accepting): the link goes silent without closing, as when a network
    /// path dies. Only keepalives can notice.
    pub fn freeze_connections(&self) {
        if let Some(child) = &self.child {
            for victim in descendants(child.id()) {
                signal(victim, libc::SIGSTOP);
            }
        }
    }

    /// Freezes the whole sshd, listener included: a hung host. Its kernel
    /// still completes TCP handshakes, so a reconnect hangs in the SSH
    /// handshake instead of being refused, until `thaw_all`.
    pub fn freeze_all(&self) {
        if let Some(child) = &self.child {
            signal(child.id(), libc::SIGSTOP);
        }
        self.freeze_connections();
    }

    /// Resumes what `freeze_all` stopped.
    pub fn thaw_all(&self) {
        self.thaw_connections();
        if let Some(child) = &self.child {
            signal(child.id(), libc::SIGCONT);
        }
    }

    /// Resumes what `freeze_connections` stopped.
    pub fn thaw_connections(&self) {
        if let Some(child) = &self.child {
            for victim in descendants(child.id()) {
                signal(victim, libc::SIGCONT);
            }
        }
    }

    /// Kills the listener AND the per-connection processes it forked, so
    /// live connections really drop (like a crashed or restarted host).
    /// Everything is stopped first, until no new process appears, so a
    /// child forked during the kill cannot escape as an orphan holding the
    /// connection (sshd forks the post-auth child right after auth).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let master = child.id();
            let mut victims = vec![master];
            signal(master, libc::SIGSTOP);
            loop {
                let found: Vec<u32> = descendants(master)
                    .into_iter()
                    .filter(|p| !victims.contains(p))
                    .collect();
                if found.is_empty() {
                    break;
                }
                for pid in &found {
                    signal(*pid, libc::SIGSTOP);
                }
                victims.extend(found);
                std::thread::sleep(Duration::from_millis(20));
            }
            for pid in victims {
                signal(pid, libc::SIGKILL);
            }
            let _ = child.wait();
        }
    }
}

pub fn signal(pid: u32, sig: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) on our own sshd or processes descending from it.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

impl Drop for OwnSshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// All processes below `root`, found through /proc's parent links.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // Fields after the `(comm)` part: state, ppid, ...
            let Some(after) = stat.rsplit_once(')').map(|(_, a)| a) else {
                continue;
            };
            if let Some(ppid) = after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (child, _) in parents.iter().filter(|(_, pp)| *pp == p) {
            out.push(*child);
            frontier.push(*child);
        }
    }
    out
}

pub fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
}
