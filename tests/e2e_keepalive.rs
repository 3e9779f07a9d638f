//! End-to-end (issue #22): the real binary in tmux, connected to an sshd of
//! the test's own with ServerAliveInterval 2 and ServerAliveCountMax 3. The
//! sshd's session process is frozen (SIGSTOP), as a partition or a hung
//! host looks from the client: the TCP connection stays up, nothing
//! answers. The header must say so within 2 s × (3 + 1), every pane must be
//! marked stale, Netdata must not be replaced by /proc over the dead link,
//! and after the host is resumed the gap is said in the Logs pane and in
//! `:connlog`. The same again with a userland TCP proxy between cockpit and
//! sshd that stops forwarding without closing (a blackhole).

use std::path::{Path, PathBuf};
use std::time::Duration;

mod common;
use common::proxy::{Proxy, trust_proxy};
use common::sshd::OwnSshd;
use common::tmux::Tmux;

const ALIVE_EVERY_SECS: u64 = 2;
const ALIVE_MISSES: u64 = 3;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opscockpit"))
}

struct Bed {
    user: String,
    key: PathBuf,
    authorized_keys: PathBuf,
    docker_socket: String,
}

fn bed() -> Option<Bed> {
    if std::env::var_os("OPSCOCKPIT_BED").is_none() {
        eprintln!("OPSCOCKPIT_BED unset: skipping (source /tmp/opscockpit-bed/env)");
        return None;
    }
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("OPSCOCKPIT_BED is set but {name} is not"))
    };
    Some(Bed {
        user: var("OPSCOCKPIT_BED_SSH_USER"),
        key: var("OPSCOCKPIT_BED_SSH_KEY").into(),
        authorized_keys: PathBuf::from(var("OPSCOCKPIT_BED_DIR")).join("ssh/authorized_keys"),
        docker_socket: var("OPSCOCKPIT_BED_DOCKER_SOCKET"),
    })
}

/// An ssh config naming the host `frozen` at `port`, with the test's
/// keepalives.
fn ssh_config(dir: &Path, bed: &Bed, port: u16, known_hosts: &Path) -> PathBuf {
    let path = dir.join("ssh_config");
    std::fs::write(
        &path,
        format!(
            "Host frozen\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  IdentityAgent none\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  ServerAliveInterval {ALIVE_EVERY_SECS}\n  ServerAliveCountMax {ALIVE_MISSES}\n",
            port,
            bed.user,
            bed.key.display(),
            known_hosts.display(),
        ),
    )
    .expect("ssh config");
    path
}

fn header(screen: &str) -> &str {
    screen.lines().next().unwrap_or("")
}

/// How the host stops answering.
enum Fault {
    /// SIGSTOP on the sshd, its session process included (SIGCONT to
    /// recover).
    FrozenHost,
    /// The proxy in front of sshd holds every byte (and lets go).
    Blackhole,
}

#[test]
fn frozen_host_is_shown_down_stale_without_fallback_and_the_gap_is_said() {
    silent_host_is_noticed(Fault::FrozenHost);
}

#[test]
fn blackholed_path_is_shown_down_stale_without_fallback_and_the_gap_is_said() {
    silent_host_is_noticed(Fault::Blackhole);
}

fn silent_host_is_noticed(fault: Fault) {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = OwnSshd::start_for(dir.path(), &bed.user, "", &bed.authorized_keys);
    // The proxy's tasks run here while the test thread drives tmux.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let proxy = runtime.block_on(Proxy::start(sshd.port, Duration::ZERO));
    let ssh_config = match fault {
        Fault::FrozenHost => {
            ssh_config(dir.path(), &bed, sshd.port, &dir.path().join("known_hosts"))
        }
        Fault::Blackhole => ssh_config(
            dir.path(),
            &bed,
            proxy.port,
            &trust_proxy(dir.path(), &sshd, &proxy),
        ),
    };
    let silence = |on: bool| match (&fault, on) {
        // The whole host: a reconnect hangs too, as it would.
        (Fault::FrozenHost, true) => sshd.freeze_all(),
        (Fault::FrozenHost, false) => sshd.thaw_all(),
        (Fault::Blackhole, on) => proxy.blackhole(on),
    };
    let tmux = Tmux::start(160, 45, &[]);
    let config = tmux.home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[hosts.frozen]\ndocker_socket = \"{}\"\n",
            bed.docker_socket
        ),
    )
    .expect("write config");
    tmux.type_line(&format!(
        "{} --config {} -F {} frozen; echo \"EXITED:$?\"",
        binary().display(),
        config.display(),
        ssh_config.display()
    ));
    tmux.wait_for(
        "Netdata over the SSH link with a round trip",
        Duration::from_secs(45),
        |s| header(s).contains("src netdata") && header(s).contains(" ms"),
    );

    silence(true);
    // Interval × (CountMax + 1), and the time to draw it.
    let limit = Duration::from_secs(ALIVE_EVERY_SECS * (ALIVE_MISSES + 1) + 3);
    let down = tmux.wait_for("the header to say reconnecting", limit, |s| {
        header(s).contains("reconnecting")
    });
    assert!(
        !header(&down).contains(" ms"),
        "a round trip shown for a dead link:\n{down}"
    );
    let stale = tmux.wait_for("every pane marked stale", Duration::from_secs(3), |s| {
        // The Metrics status line and the border of every visible pane.
        s.matches("stale since").count() >= 4
    });
    assert!(
        header(&stale).contains("src netdata"),
        "the metrics source changed over a dead link:\n{stale}"
    );
    // Netdata's own timeouts pass while the link stays dead: still no /proc.
    std::thread::sleep(Duration::from_secs(ALIVE_EVERY_SECS * 2));
    let later = tmux.capture();
    assert!(!later.contains("src /proc"), "fell back to /proc:\n{later}");

    silence(false);
    let back = tmux.wait_for(
        "the link back and the gap said in the Logs pane",
        Duration::from_secs(30),
        |s| header(s).contains("● connected") && s.contains("link lost"),
    );
    assert!(
        back.contains("(3 keepalives unanswered)"),
        "the gap marker gives the reason:\n{back}"
    );
    tmux.wait_for(
        "Netdata again, nothing stale",
        Duration::from_secs(30),
        |s| header(s).contains("src netdata") && !s.contains("stale since"),
    );
    tmux.type_line(":connlog");
    let connlog = tmux.wait_for("the connection log", Duration::from_secs(5), |s| {
        s.contains("Connection log")
    });
    assert!(
        connlog.contains("reconnecting (try 1): 3 keepalives unanswered"),
        "{connlog}"
    );
    assert!(
        connlog.contains("no reply: 1 keepalive unanswered"),
        "{connlog}"
    );
    tmux.escape();
    tmux.send(&["q"]);
    tmux.wait_for("exit", Duration::from_secs(10), |s| s.contains("EXITED:0"));
}
