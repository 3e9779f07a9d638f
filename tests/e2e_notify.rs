//! End-to-end, notifications from the operator's side: the real binary in
//! tmux with channels pointing at loopback receivers. A proposal nobody
//! decides is told, told again as waiting, escalated to a second channel,
//! warned about before it expires and reported as expired with nothing
//! run; secrets never leave masked-out; a receiver that hangs never holds
//! the screen up, and its message is retried; a flapping alert sends one
//! message per minimum interval; a link down too long is told once.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod common;
use common::http::{Receiver, Recorded, Reply};
use common::tmux::Tmux;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opscockpit"))
}

fn write_config(tmux: &Tmux, text: &str) {
    let dir = tmux.home.path().join("config/opscockpit");
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(dir.join("config.toml"), text).expect("config");
}

/// At the default level (info). At debug, the policy's shell parser
/// (brush-parser) traces every token of a proposed command, secrets
/// included: that is the gate's logging, not a notification's.
fn start_cockpit(tmux: &Tmux, log: &Path) {
    tmux.type_line(&format!(
        "OPSCOCKPIT_LOG=info {} local --log-file {}; echo \"EXITED:$?\"",
        binary().display(),
        log.display()
    ));
    tmux.wait_for("the first frame", Duration::from_secs(20), |s| {
        s.contains("1 Metrics")
    });
}

fn propose(tmux: &Tmux, title: &str, command: &str) {
    let out = tmux.client(
        &binary(),
        &[
            "propose", "local", "--title", title, "--agent", "e2e", "--", command,
        ],
    );
    assert!(
        out.status.success(),
        "propose: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn titles(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .map(|r| r.header("title").unwrap_or_default().to_string())
        .collect()
}

const TOKEN: &str = "tk_e2eNotifyTokenValue7781";

/// Short configured times, no sleeps of minutes: waiting after 3 s,
/// escalation after 6 s, "expires soon" 5 s before a 16 s expiry.
#[test]
fn an_undecided_proposal_is_told_escalated_warned_and_expires_with_nothing_run() {
    let phone = Receiver::ntfy(vec![], Some(TOKEN));
    let mate = Receiver::start(vec![]);
    let tmux = Tmux::start(140, 40, &[format!("E2E_NTFY_TOKEN={TOKEN}")]);
    write_config(
        &tmux,
        &format!(
            r#"
[gate]
approve_ttl = "16s"
confirm_ttl = "16s"

[notify.phone]
kind = "ntfy"
server = "{}"
topic = "ops"
token_env = "E2E_NTFY_TOKEN"
include_command = true

[notify.mate]
kind = "webhook"
url = "{}"

[[notify.rules]]
events = ["proposal", "proposal_waiting", "proposal_expiring", "proposal_expired"]
channels = ["phone"]
waiting_after = "3s"
expiring_before = "5s"
escalate_after = "6s"
escalate_to = ["mate"]
"#,
            phone.url(""),
            mate.url("/mate")
        ),
    );
    let log = tmux.home.path().join("cockpit.log");
    start_cockpit(&tmux, &log);
    let marker = tmux.home.path().join("ran");
    let secret = "s3cr3tFromTheCommand99";
    propose(
        &tmux,
        "touch marker",
        &format!("API_TOKEN={secret} touch {}", marker.display()),
    );
    let sent = phone.wait_for("the proposal message", Duration::from_secs(10), |r| {
        !r.is_empty()
    });
    let first = &sent[0];
    assert_eq!(
        first.header("title"),
        Some("local: proposal waits for a decision: touch marker")
    );
    assert_eq!(
        first.header("authorization").map(str::to_string),
        Some(format!("Bearer {TOKEN}"))
    );
    let body = first.text();
    for fact in [
        "host: local",
        "proposer: e2e (not known to be confined)",
        "waited: 0s",
        "expires: in 1",
        "command: API_TOKEN=*** touch",
        "open `opscockpit local` to decide",
    ] {
        assert!(body.contains(fact), "{fact} missing:\n{body}");
    }
    let sent = phone.wait_for("waiting, expiring, expired", Duration::from_secs(30), |r| {
        r.len() >= 4
    });
    let titles = titles(&sent);
    assert_eq!(
        titles,
        [
            "local: proposal waits for a decision: touch marker",
            "local: proposal still undecided: touch marker",
            "local: proposal expires soon: touch marker",
            "local: proposal expired, nothing ran: touch marker",
        ],
        "in this order, once each"
    );
    assert!(
        sent[1].text().contains("waited: 3s") || sent[1].text().contains("waited: 4s"),
        "{}",
        sent[1].text()
    );
    assert!(sent[3].text().contains("expired: "), "{}", sent[3].text());
    let escalated = mate.wait_for("the escalation", Duration::from_secs(5), |r| !r.is_empty());
    assert_eq!(escalated.len(), 1);
    let json = escalated[0].json();
    assert_eq!(
        (json["event"].as_str(), json["escalation"].as_bool()),
        (Some("proposal_waiting"), Some(true))
    );
    assert!(
        json["title_line"]
            .as_str()
            .is_some_and(|t| t.starts_with("local: ESCALATED")),
        "{json}"
    );
    assert!(
        json.get("command").is_none(),
        "the webhook did not ask for commands: {json}"
    );
    // The escalation came between "waiting" (3 s) and "expiring" (11 s).
    assert!(sent[1].at <= escalated[0].at && escalated[0].at <= sent[2].at);
    tmux.wait_for("the expiry on screen", Duration::from_secs(5), |s| {
        s.contains("expired")
    });
    assert!(!marker.exists(), "nothing ran");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(phone.requests().len(), 4, "nothing more after the expiry");
    tmux.send(&[":"]);
    tmux.send(&["-l", "notifylog"]);
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("the notification log", Duration::from_secs(5), |s| {
        s.contains("Notification log")
    });
    assert!(
        screen.contains("escalation") && screen.contains("delivered (HTTP 200)"),
        "{screen}"
    );
    tmux.escape();
    tmux.send(&["q"]);
    tmux.wait_for("exit", Duration::from_secs(10), |s| s.contains("EXITED:0"));
    // The channel's token went to ntfy's Authorization header and nowhere
    // else; the command's secret went nowhere at all.
    let everything: Vec<String> = phone
        .requests()
        .iter()
        .chain(&mate.requests())
        .map(Recorded::everything)
        .collect();
    for text in &everything {
        assert!(!text.contains(secret), "{text}");
        assert_eq!(
            text.matches(TOKEN).count(),
            usize::from(text.contains("authorization: Bearer")),
            "{text}"
        );
    }
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        log_text.contains("notification delivered"),
        "the log records deliveries:\n{log_text}"
    );
    assert!(
        !log_text.contains(TOKEN) && !log_text.contains(secret),
        "{log_text}"
    );
    let history = tmux.client(&binary(), &["history", "--json"]);
    let history = String::from_utf8_lossy(&history.stdout);
    assert!(history.contains("expired"), "{history}");
    assert!(!history.contains(TOKEN), "{history}");
}

/// A webhook that never answers: keys are drawn at once while its message
/// waits, the header says the channel fails, and the message is retried.
#[test]
fn a_hanging_receiver_never_holds_up_the_screen_and_is_retried() {
    let hook = Receiver::start(vec![Reply::Hang, Reply::Hang]);
    let tmux = Tmux::start(140, 40, &[]);
    write_config(
        &tmux,
        &format!(
            "[notify.hook]\nkind = \"webhook\"\nurl = \"{}\"\ntimeout = \"2s\"\n\n[[notify.rules]]\nevents = [\"proposal\"]\nchannels = [\"hook\"]\n",
            hook.url("/hook")
        ),
    );
    let log = tmux.home.path().join("cockpit.log");
    start_cockpit(&tmux, &log);
    propose(&tmux, "hang test", "true");
    hook.wait_for("the first attempt", Duration::from_secs(10), |r| {
        !r.is_empty()
    });
    // While the receiver holds the request open, every key is drawn.
    let mut worst = Duration::ZERO;
    for (key, title) in [
        ("8", "┏ 8 Actions"),
        ("1", "┏ 1 Metrics"),
        ("8", "┏ 8 Actions"),
        ("1", "┏ 1 Metrics"),
    ] {
        let started = Instant::now();
        tmux.send(&[key]);
        tmux.wait_for(title, Duration::from_secs(5), |s| s.contains(title));
        worst = worst.max(started.elapsed());
    }
    eprintln!("key-to-draw while the receiver hangs: worst {worst:?}");
    tmux.wait_for(
        "the failing channel in the header",
        Duration::from_secs(10),
        |s| s.contains("✉ notify: hook failing since"),
    );
    let requests = hook.wait_for("the retries", Duration::from_secs(20), |r| r.len() >= 3);
    assert!(
        requests.iter().all(|r| r.body == requests[0].body),
        "the same message retried"
    );
    tmux.wait_for(
        "the header clears after delivery",
        Duration::from_secs(10),
        |s| !s.contains("failing"),
    );
    tmux.send(&["q"]);
    tmux.send(&["y"]);
    tmux.wait_for("exit", Duration::from_secs(10), |s| s.contains("EXITED:0"));
}

// ------------------------------------------------------- a flapping alert

/// A Netdata of our own (the shared bed's is not reconfigured) with a
/// plugin whose value flips every 6 s and a health rule that is critical
/// while it is 1: an alert that trips and clears on its own.
struct FlappingNetdata {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<std::process::Child>,
}

const FLAP_PLUGIN: &str = r#"#!/bin/sh
echo "CHART opscockpit_flap.state '' 'flapping on purpose' 'state' flap flap line 1000 1"
echo "DIMENSION up '' absolute 1 1"
while true; do
  now=$(date +%s)
  echo "BEGIN opscockpit_flap.state"
  echo "SET up = $(( (now / 6) % 2 ))"
  echo "END"
  sleep 1
done
"#;

const FLAP_ALARM: &str = "alarm: opscockpit_flap\n   on: opscockpit_flap.state\n calc: $up\nevery: 1s\n crit: $this > 0\n info: flapping on purpose\n";

impl FlappingNetdata {
    fn start() -> FlappingNetdata {
        use std::os::unix::fs::PermissionsExt;
        use std::os::unix::process::CommandExt;
        let dir = tempfile::Builder::new()
            .prefix("opscockpit-flap-")
            .tempdir()
            .expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let root = unsafe { libc::geteuid() } == 0;
        let user = if root {
            "netdata".to_string()
        } else {
            std::env::var("USER").expect("USER")
        };
        let d = dir.path().display().to_string();
        for sub in ["cache", "lib", "log", "health.d", "plugins"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        let plugin = dir.path().join("plugins/flap.plugin");
        std::fs::write(&plugin, FLAP_PLUGIN).expect("plugin");
        std::fs::set_permissions(&plugin, PermissionsExt::from_mode(0o755)).expect("chmod");
        std::fs::write(dir.path().join("health.d/flap.conf"), FLAP_ALARM).expect("alarm");
        let conf = format!(
            "[global]\n    run as user = {user}\n    web files owner = root\n    web files group = root\n\
[db]\n    update every = 1\n    mode = ram\n    retention = 1200\n\
[directories]\n    cache = {d}/cache\n    lib = {d}/lib\n    log = {d}/log\n    lock = {d}/lib/lock\n    registry = {d}/lib/registry\n    home = {d}/lib\n    plugins = \"{d}/plugins\"\n    health config = {d}/health.d\n    stock health config = {d}/health.d\n\
[logs]\n    error = {d}/log/error.log\n    access = none\n    debug = none\n    health = {d}/log/health.log\n\
[web]\n    bind to = 127.0.0.1:{port}\n[registry]\n    enabled = no\n[statsd]\n    enabled = no\n\
[health]\n    script to execute on alarm = /bin/true\n\
[plugins]\n    enable running new plugins = yes\n    flap = yes\n    apps = no\n    cgroups = no\n    tc = no\n    idlejitter = no\n    charts.d = no\n    python.d = no\n    go.d = no\n    ebpf = no\n    fping = no\n    ioping = no\n    perf = no\n    slabinfo = no\n    nfacct = no\n    cups = no\n"
        );
        std::fs::write(dir.path().join("netdata.conf"), conf).expect("netdata.conf");
        if root {
            let chown = std::process::Command::new("chown")
                .args(["-R", "netdata:netdata"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(chown.success());
            std::fs::set_permissions(dir.path(), PermissionsExt::from_mode(0o755)).expect("chmod");
        }
        let out = std::fs::File::create(dir.path().join("netdata.out")).expect("out");
        let child = std::process::Command::new("/usr/sbin/netdata")
            .args(["-D", "-p", &port.to_string(), "-c"])
            .arg(dir.path().join("netdata.conf"))
            .args(["-W", "set", "web", "bind to"])
            .arg(format!("127.0.0.1:{port}"))
            .env("DO_NOT_TRACK", "1")
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().expect("out"))
            .stderr(out)
            .process_group(0)
            .spawn()
            .expect("start /usr/sbin/netdata (is netdata-core installed?)");
        FlappingNetdata {
            dir,
            port,
            child: Some(child),
        }
    }
}

impl Drop for FlappingNetdata {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pgid = child.id() as i32;
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        // The plugin and anything else of the group.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = child.wait();
        let _ = &self.dir;
    }
}

/// The alert trips and clears every 6 s; with `min_interval = "10m"` the
/// phone gets one "critical" and one "cleared", and the log shows the
/// flaps that were held back.
#[test]
fn a_flapping_critical_alert_sends_one_message_per_minimum_interval() {
    if std::env::var_os("OPSCOCKPIT_BED").is_none() {
        eprintln!("OPSCOCKPIT_BED unset: skipping the flapping-alert test (needs netdata-core)");
        return;
    }
    let netdata = FlappingNetdata::start();
    let phone = Receiver::ntfy(vec![], None);
    let tmux = Tmux::start(160, 45, &[]);
    write_config(
        &tmux,
        &format!(
            "[hosts.local]\nnetdata_url = \"http://127.0.0.1:{}\"\n\n[notify.phone]\nkind = \"ntfy\"\nserver = \"{}\"\ntopic = \"alerts\"\n\n[[notify.rules]]\nevents = [\"alert_critical\", \"alert_cleared\"]\nchannels = [\"phone\"]\nmin_interval = \"10m\"\n",
            netdata.port,
            phone.url("")
        ),
    );
    let log = tmux.home.path().join("cockpit.log");
    start_cockpit(&tmux, &log);
    let critical = |r: &Recorded| r.header("title").is_some_and(|t| t.contains("CRITICAL"));
    let first = phone.wait_for("the first critical message", Duration::from_secs(90), |r| {
        r.iter().any(critical)
    });
    let message = first
        .iter()
        .find(|r| critical(r))
        .map(Recorded::text)
        .unwrap_or_default();
    assert!(
        message.contains("alert: opscockpit_flap on opscockpit_flap.state"),
        "{message}"
    );
    // Two more flaps: both held back by the minimum interval.
    tmux.send(&[":"]);
    tmux.send(&["-l", "notifylog"]);
    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("the flaps held back", Duration::from_secs(60), |s| {
        s.matches("not sent: minimum interval").count() >= 3
    });
    let sent = phone.requests();
    let mut titles = titles(&sent);
    // A cockpit that starts while the alert is raised hears "cleared" first.
    titles.sort();
    assert_eq!(
        titles,
        [
            "local: CRITICAL: opscockpit_flap",
            "local: cleared: opscockpit_flap"
        ],
        "one of each, however often it flaps:\n{screen}"
    );
    tmux.escape();
    tmux.send(&["q"]);
    tmux.wait_for("exit", Duration::from_secs(10), |s| s.contains("EXITED:0"));
}

// ------------------------------------------------------------ link down

/// An sshd of the test's own (own port, host key and config), so the link
/// can be cut without touching the shared bed's.
struct OwnSshd {
    dir: PathBuf,
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnSshd {
    fn start(dir: &Path, user: &str, authorized_keys: &Path) -> OwnSshd {
        let host_key = dir.join("host_ed25519");
        let keygen = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
            .arg(&host_key)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("ssh-keygen");
        assert!(keygen.success());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        std::fs::write(
            dir.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nUsePAM no\nAllowUsers {user}\nAllowTcpForwarding yes\nAllowStreamLocalForwarding yes\nPrintMotd no\nUseDNS no\n",
                host_key.display(),
                dir.join("sshd.pid").display(),
                authorized_keys.display(),
            ),
        )
        .expect("sshd_config");
        let public = std::fs::read_to_string(dir.join("host_ed25519.pub")).expect("host key");
        let mut parts = public.split_whitespace();
        std::fs::write(
            dir.join("known_hosts"),
            format!(
                "[127.0.0.1]:{port} {} {}\n",
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default()
            ),
        )
        .expect("known_hosts");
        let child = std::process::Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start sshd");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "own sshd did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        OwnSshd {
            dir: dir.to_path_buf(),
            port,
            child: Some(child),
        }
    }

    /// The listener and every per-connection process it forked, so the
    /// live connection really drops (a crashed host).
    fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let mut victims = vec![child.id()];
        signal(child.id(), libc::SIGSTOP);
        loop {
            let found: Vec<u32> = descendants(child.id())
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
        }
        for pid in victims {
            signal(pid, libc::SIGKILL);
        }
        let _ = child.wait();
    }
}

impl Drop for OwnSshd {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal(pid: u32, sig: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) on our own sshd or processes it forked.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Every process below `root`, by /proc's parent links.
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
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

/// The SSH link dies and stays down longer than `link_down_after`: one
/// `link_down` message saying for how long and why, none while it is up.
#[test]
fn a_link_down_longer_than_the_rule_allows_is_told_once() {
    if std::env::var_os("OPSCOCKPIT_BED").is_none() {
        eprintln!(
            "OPSCOCKPIT_BED unset: skipping the link-down test (needs the bed's sshd user and key)"
        );
        return;
    }
    let bed = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} unset"));
    let user = bed("OPSCOCKPIT_BED_SSH_USER");
    let key = bed("OPSCOCKPIT_BED_SSH_KEY");
    let dir = tempfile::tempdir().expect("tmp");
    let authorized = PathBuf::from(bed("OPSCOCKPIT_BED_DIR")).join("ssh/authorized_keys");
    let mut sshd = OwnSshd::start(dir.path(), &user, &authorized);
    let ssh_config = dir.path().join("ssh_config");
    std::fs::write(
        &ssh_config,
        format!(
            "Host linkbed\n    HostName 127.0.0.1\n    Port {}\n    User {user}\n    IdentityFile {key}\n    IdentitiesOnly yes\n    UserKnownHostsFile {}\n    GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking yes\n    BatchMode yes\n    ConnectTimeout 5\n    ServerAliveInterval 2\n    LogLevel ERROR\n",
            sshd.port,
            sshd.dir.join("known_hosts").display()
        ),
    )
    .expect("ssh_config");
    let phone = Receiver::ntfy(vec![], None);
    let tmux = Tmux::start(160, 45, &[]);
    write_config(
        &tmux,
        &format!(
            "[hosts.linkbed]\nnetdata = false\nhost_socket = \"\"\n\n[notify.phone]\nkind = \"ntfy\"\nserver = \"{}\"\ntopic = \"link\"\n\n[[notify.rules]]\nevents = [\"link_down\"]\nchannels = [\"phone\"]\nlink_down_after = \"4s\"\n",
            phone.url("")
        ),
    );
    tmux.type_line(&format!(
        "{} -F {} linkbed; echo \"EXITED:$?\"",
        binary().display(),
        ssh_config.display()
    ));
    tmux.wait_for("connected over SSH", Duration::from_secs(30), |s| {
        s.contains("● connected")
    });
    std::thread::sleep(Duration::from_secs(5));
    assert!(phone.requests().is_empty(), "nothing while the link is up");
    sshd.kill();
    tmux.wait_for("the link lost", Duration::from_secs(20), |s| {
        s.contains("reconnecting") || s.contains("✕ down")
    });
    let sent = phone.wait_for("link_down", Duration::from_secs(30), |r| !r.is_empty());
    let message = &sent[0];
    assert_eq!(message.header("title"), Some("linkbed: link down"));
    assert_eq!(message.header("priority"), Some("5"));
    let body = message.text();
    // 4 s by the clock the cockpit ticks (5 s if a tick came late).
    assert!(
        body.contains("host: linkbed")
            && (body.contains("down for 4s") || body.contains("down for 5s")),
        "{body}"
    );
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(phone.requests().len(), 1, "once per outage");
    tmux.send(&["q"]);
    tmux.wait_for("exit", Duration::from_secs(10), |s| s.contains("EXITED:"));
}
