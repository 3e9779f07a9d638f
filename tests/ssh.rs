//! The SSH transport against the test bed's real sshd (127.0.0.1:2222):
//! authentication, host key trust rules, exec, direct-tcpip,
//! direct-streamlocal, ProxyJump, the /proc sampler, and reconnection
//! (against an sshd of the test's own). Needs `source /tmp/opscockpit-bed/env`;
//! without OPSCOCKPIT_BED every test returns early with a note.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use opscockpit::app::event::AppEvent;
use opscockpit::transport::ConnectionState;
use opscockpit::transport::ssh::resolve::{Resolved, SshTarget, StrictHostKeyChecking};
use opscockpit::transport::ssh::{
    ConnectError, ConnectErrorKind, Prompter, SshOptions, SshTransport,
};
use opscockpit::transport::{ExecEvent, ExecOptions, ExitStatus, SharedTransport, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

mod common;
use common::proxy::{Proxy, trust_proxy};
use common::sshd::{OwnSshd, free_port, keygen};

/// A hang fails the test instead of blocking it.
const LIMIT: Duration = Duration::from_secs(30);

struct Bed {
    dir: PathBuf,
    ssh_config: PathBuf,
    user: String,
    key: PathBuf,
    rsa_key: PathBuf,
    enc_key: PathBuf,
    enc_passphrase: String,
    known_hosts: PathBuf,
    netdata: String,
    docker_socket: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("OPSCOCKPIT_BED is set but {name} is not"))
}

fn bed() -> Option<Bed> {
    if std::env::var_os("OPSCOCKPIT_BED").is_none() {
        eprintln!("OPSCOCKPIT_BED unset: skipping (source /tmp/opscockpit-bed/env)");
        return None;
    }
    Some(Bed {
        dir: var("OPSCOCKPIT_BED_DIR").into(),
        ssh_config: var("OPSCOCKPIT_BED_SSH_CONFIG").into(),
        user: var("OPSCOCKPIT_BED_SSH_USER"),
        key: var("OPSCOCKPIT_BED_SSH_KEY").into(),
        rsa_key: var("OPSCOCKPIT_BED_SSH_RSA_KEY").into(),
        enc_key: var("OPSCOCKPIT_BED_SSH_ENC_KEY").into(),
        enc_passphrase: var("OPSCOCKPIT_BED_SSH_ENC_PASSPHRASE"),
        known_hosts: var("OPSCOCKPIT_BED_SSH_KNOWN_HOSTS").into(),
        netdata: var("OPSCOCKPIT_BED_NETDATA"),
        docker_socket: var("OPSCOCKPIT_BED_DOCKER_SOCKET"),
    })
}

/// The bed's sshd as a target: strict host key checking against
/// `known_hosts`, only `keys`, no agent.
fn target(bed: &Bed, port: u16, keys: Vec<PathBuf>, known_hosts: &Path) -> SshTarget {
    SshTarget {
        alias: "testbed".into(),
        hostname: "127.0.0.1".into(),
        user: bed.user.clone(),
        port,
        identity_files: keys,
        identities_only: true,
        identity_agent: None,
        certificate_files: Vec::new(),
        proxy_jump: Vec::new(),
        user_known_hosts: vec![known_hosts.to_path_buf()],
        global_known_hosts: Vec::new(),
        strict_host_key_checking: StrictHostKeyChecking::Yes,
        hash_known_hosts: false,
        host_key_alias: None,
        server_alive_interval: Duration::from_secs(15),
        server_alive_count_max: 3,
        connect_timeout: Some(Duration::from_secs(10)),
        batch_mode: false,
    }
}

fn resolved(target: SshTarget) -> Resolved {
    Resolved {
        target,
        jumps: Vec::new(),
        warnings: Vec::new(),
    }
}

async fn connect(
    target: SshTarget,
    prompter: Option<Arc<dyn Prompter>>,
) -> Result<SshTransport, ConnectError> {
    tokio::time::timeout(
        LIMIT,
        SshTransport::connect_resolved(resolved(target), prompter),
    )
    .await
    .expect("connect hung")
}

/// A prompter that fails the test if anything is asked.
struct NeverAsk;

impl Prompter for NeverAsk {
    fn trust_host(&self, host: &str, _: &str, _: &str) -> bool {
        panic!("asked to trust {host} although nothing should be asked");
    }
    fn passphrase(&self, key: &Path, _: u32) -> Option<String> {
        panic!("asked for the passphrase of {}", key.display());
    }
}

/// Counts questions and answers them.
struct Counting {
    trust: bool,
    passphrase: Option<String>,
    trust_asked: AtomicU32,
    passphrase_asked: AtomicU32,
}

impl Counting {
    fn new(trust: bool, passphrase: Option<&str>) -> Arc<Self> {
        Arc::new(Self {
            trust,
            passphrase: passphrase.map(str::to_string),
            trust_asked: AtomicU32::new(0),
            passphrase_asked: AtomicU32::new(0),
        })
    }
}

impl Prompter for Counting {
    fn trust_host(&self, host: &str, key_type: &str, fingerprint: &str) -> bool {
        assert!(host.contains("127.0.0.1"), "{host}");
        assert!(!key_type.is_empty());
        assert!(fingerprint.starts_with("SHA256:"), "{fingerprint}");
        self.trust_asked.fetch_add(1, Ordering::SeqCst);
        self.trust
    }
    fn passphrase(&self, _: &Path, _: u32) -> Option<String> {
        self.passphrase_asked.fetch_add(1, Ordering::SeqCst);
        self.passphrase.clone()
    }
}

async fn run(t: &dyn Transport, command: &str) -> (String, String, ExitStatus) {
    let handle = t
        .exec(command, ExecOptions::default())
        .await
        .expect("exec over ssh");
    let (out, err, status) = tokio::time::timeout(LIMIT, handle.collect(1 << 20))
        .await
        .expect("command hung");
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
        status,
    )
}

async fn whoami(t: &dyn Transport) -> String {
    let (out, _, status) = run(t, "id -un").await;
    assert!(status.success(), "{status}");
    out.trim().to_string()
}

fn expect_err(result: Result<SshTransport, ConnectError>) -> ConnectError {
    match result {
        Ok(t) => panic!("connected to {} but should not have", t.describe()),
        Err(e) => e,
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn host_key_line(bed: &Bed, kind: &str) -> String {
    let pub_file = bed.dir.join(format!("ssh/ssh_host_{kind}_key.pub"));
    let text = std::fs::read_to_string(&pub_file).expect("bed host key");
    let mut parts = text.split_whitespace();
    format!(
        "{} {}",
        parts.next().expect("type"),
        parts.next().expect("key")
    )
}

#[tokio::test]
async fn key_file_connects_and_exec_streams_exit_codes() {
    let Some(bed) = bed() else { return };
    let started = Instant::now();
    let t = connect(
        target(&bed, 2222, vec![bed.key.clone()], &bed.known_hosts),
        Some(Arc::new(NeverAsk)),
    )
    .await
    .expect("connect with key file");
    let connected = started.elapsed();
    let (out, err, status) = run(&t, "echo out; echo err >&2; exit 7").await;
    eprintln!(
        "connect-to-ready on loopback: {} ms (first command done after {} ms)",
        connected.as_millis(),
        started.elapsed().as_millis()
    );
    assert_eq!(out, "out\n");
    assert_eq!(err, "err\n");
    assert_eq!(status, ExitStatus::Code(7));
    assert_eq!(whoami(&t).await, bed.user);
    assert_eq!(t.describe(), format!("{}@127.0.0.1:2222", bed.user));
    // The header gets a round-trip time.
    let mut states = t.state();
    let rtt = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if let ConnectionState::Connected {
                rtt_ms: Some(ms), ..
            } = *states.borrow_and_update()
            {
                return ms;
            }
            states.changed().await.expect("state channel");
        }
    })
    .await
    .expect("no RTT measured");
    eprintln!("RTT on loopback: {rtt} ms");

    // Killed by a signal is reported as such.
    let (_, _, status) = run(&t, "kill -USR1 $$").await;
    assert_eq!(status, ExitStatus::Signal("USR1".into()));

    // Working directory and a large output arrive intact and in order.
    let handle = t
        .exec(
            "pwd; seq 1 20000",
            ExecOptions {
                stdin: false,
                cwd: Some("/tmp".into()),
            },
        )
        .await
        .expect("exec");
    let (out, _, status) = handle.collect(1 << 20).await;
    let out = String::from_utf8_lossy(&out);
    let mut got = out.lines();
    assert_eq!(got.next(), Some("/tmp"));
    assert_eq!(got.clone().count(), 20000);
    assert_eq!(got.last(), Some("20000"));
    assert!(status.success());
}

#[tokio::test]
async fn stdin_and_cancel_reach_the_remote_command() {
    let Some(bed) = bed() else { return };
    let t = connect(
        target(&bed, 2222, vec![bed.key.clone()], &bed.known_hosts),
        None,
    )
    .await
    .expect("connect");
    let mut handle = t
        .exec(
            "read a; echo got:$a; cat",
            ExecOptions {
                stdin: true,
                cwd: None,
            },
        )
        .await
        .expect("exec");
    handle
        .write_stdin(Bytes::from_static(b"hello\nrest\n"))
        .await
        .expect("stdin");
    handle.close_stdin();
    let (out, _, status) = tokio::time::timeout(LIMIT, handle.collect(1024))
        .await
        .expect("hung");
    assert_eq!(String::from_utf8_lossy(&out), "got:hello\nrest\n");
    assert!(status.success());

    // Cancel kills the command and its children on the remote side.
    let marker = format!("/tmp/opscockpit-ssh-cancel-{}", std::process::id());
    let _ = std::fs::remove_file(&marker);
    let cmd = format!("(sleep 3; touch {marker}) & sleep 30; wait");
    let mut handle = t.exec(&cmd, ExecOptions::default()).await.expect("exec");
    tokio::time::sleep(Duration::from_millis(500)).await;
    handle.cancel();
    let status = tokio::time::timeout(LIMIT, async {
        loop {
            match handle.next().await {
                Some(ExecEvent::Exit(s)) => return s,
                Some(_) => {}
                None => return ExitStatus::Unknown,
            }
        }
    })
    .await
    .expect("cancelled command did not end");
    assert_eq!(status, ExitStatus::Signal("TERM".into()));
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        !Path::new(&marker).exists(),
        "a child of the cancelled remote command kept running"
    );
}

#[tokio::test]
async fn rsa_key_signs_with_sha2() {
    let Some(bed) = bed() else { return };
    let t = connect(
        target(&bed, 2222, vec![bed.rsa_key.clone()], &bed.known_hosts),
        None,
    )
    .await
    .expect("connect with RSA key (OpenSSH 9 refuses ssh-rsa SHA-1)");
    assert_eq!(whoami(&t).await, bed.user);
}

#[tokio::test]
async fn encrypted_key_asks_for_its_passphrase() {
    let Some(bed) = bed() else { return };
    let asker = Counting::new(false, Some(&bed.enc_passphrase));
    let t = connect(
        target(&bed, 2222, vec![bed.enc_key.clone()], &bed.known_hosts),
        Some(asker.clone()),
    )
    .await
    .expect("connect with encrypted key");
    assert_eq!(whoami(&t).await, bed.user);
    assert_eq!(asker.passphrase_asked.load(Ordering::SeqCst), 1);

    // A wrong passphrase is asked three times, then named in the error.
    let wrong = Counting::new(false, Some("not-the-passphrase"));
    let err = expect_err(
        connect(
            target(&bed, 2222, vec![bed.enc_key.clone()], &bed.known_hosts),
            Some(wrong.clone()),
        )
        .await,
    );
    assert_eq!(err.kind, ConnectErrorKind::Auth);
    assert_eq!(wrong.passphrase_asked.load(Ordering::SeqCst), 3);
    assert!(err.message.contains("wrong passphrase"), "{err}");
    assert!(
        err.message.contains(&bed.enc_key.display().to_string()),
        "{err}"
    );

    // Without anyone to ask, the key is skipped and said so.
    let err = expect_err(
        connect(
            target(&bed, 2222, vec![bed.enc_key.clone()], &bed.known_hosts),
            None,
        )
        .await,
    );
    assert!(err.message.contains("encrypted"), "{err}");
}

/// A real ssh-agent of the test's own, stopped on drop.
struct Agent {
    child: Child,
    sock: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_agent(dir: &Path, keys: &[&Path]) -> Agent {
    // ssh-add reads passphrases through SSH_ASKPASS (the bed's encrypted key).
    let askpass = dir.join("askpass.sh");
    std::fs::write(
        &askpass,
        format!(
            "#!/bin/sh\necho '{}'\n",
            std::env::var("OPSCOCKPIT_BED_SSH_ENC_PASSPHRASE").unwrap_or_default()
        ),
    )
    .expect("askpass");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700))
            .expect("chmod askpass");
    }
    let sock = dir.join("agent.sock");
    let child = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh-agent");
    let agent = Agent { child, sock };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !agent.sock.exists() {
        assert!(
            Instant::now() < deadline,
            "ssh-agent did not create its socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for key in keys {
        let status = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &agent.sock)
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("ssh-add");
        assert!(status.success(), "ssh-add {} failed", key.display());
    }
    agent
}

#[tokio::test]
async fn agent_key_connects() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = start_agent(dir.path(), &[&bed.rsa_key, &bed.enc_key]);
    let mut t = target(&bed, 2222, Vec::new(), &bed.known_hosts);
    t.identities_only = false;
    t.identity_agent = Some(agent.sock.clone());
    let transport = connect(t.clone(), Some(Arc::new(NeverAsk)))
        .await
        .expect("connect with the agent's key");
    assert_eq!(whoami(&transport).await, bed.user);

    // The encrypted key held by the agent is used through the agent: its
    // passphrase is not asked for (NeverAsk would fail the test).
    let mut via_agent = t.clone();
    via_agent.identities_only = true;
    via_agent.identity_files = vec![bed.enc_key.clone()];
    let transport = connect(via_agent, Some(Arc::new(NeverAsk)))
        .await
        .expect("encrypted key through the agent");
    assert_eq!(whoami(&transport).await, bed.user);

    // IdentitiesOnly with a different IdentityFile: the agent's key is not
    // offered, and the error says what was tried.
    let other = dir.path().join("id_other");
    keygen(&other);
    t.identities_only = true;
    t.identity_files = vec![other.clone()];
    let err = expect_err(connect(t, None).await);
    assert_eq!(err.kind, ConnectErrorKind::Auth);
    assert!(err.message.contains(&other.display().to_string()), "{err}");
}

#[tokio::test]
async fn wrong_key_gives_an_auth_error_naming_what_was_tried() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let stranger = dir.path().join("id_stranger");
    keygen(&stranger);
    let missing = dir.path().join("id_missing");
    let err = expect_err(
        connect(
            target(
                &bed,
                2222,
                vec![missing, stranger.clone()],
                &bed.known_hosts,
            ),
            None,
        )
        .await,
    );
    assert_eq!(err.kind, ConnectErrorKind::Auth);
    assert!(err.message.contains("authentication failed"), "{err}");
    assert!(
        err.message
            .contains(&format!("{} (rejected)", stranger.display())),
        "{err}"
    );
    assert!(err.message.contains("publickey"), "{err}");
}

#[tokio::test]
async fn unknown_host_key_answered_no_then_yes() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let known = dir.path().join("known_hosts");
    std::fs::write(&known, "# my hosts\n").expect("write");
    let mut t = target(&bed, 2222, vec![bed.key.clone()], &known);
    t.strict_host_key_checking = StrictHostKeyChecking::Ask;

    let no = Counting::new(false, None);
    let err = expect_err(connect(t.clone(), Some(no.clone())).await);
    assert_eq!(err.kind, ConnectErrorKind::HostKey);
    assert!(err.message.contains("not trusted"), "{err}");
    assert_eq!(no.trust_asked.load(Ordering::SeqCst), 1);
    assert_eq!(lines(&known), vec!["# my hosts".to_string()]);

    let yes = Counting::new(true, None);
    let transport = connect(t.clone(), Some(yes.clone()))
        .await
        .expect("trusted by the user");
    assert_eq!(whoami(&transport).await, bed.user);
    let added = lines(&known);
    assert_eq!(added.len(), 2, "{added:?}");
    assert!(added[1].starts_with("[127.0.0.1]:2222 "), "{added:?}");

    // Known now: nothing is asked the second time, nothing added.
    let again = connect(t, Some(Arc::new(NeverAsk))).await.expect("known");
    assert_eq!(whoami(&again).await, bed.user);
    assert_eq!(lines(&known).len(), 2);
}

#[tokio::test]
async fn accepted_key_is_hashed_when_hash_known_hosts_is_on() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let known = dir.path().join("sub/known_hosts");
    let mut t = target(&bed, 2222, vec![bed.key.clone()], &known);
    t.strict_host_key_checking = StrictHostKeyChecking::Ask;
    t.hash_known_hosts = true;
    let _t = connect(t.clone(), Some(Counting::new(true, None)))
        .await
        .expect("trusted");
    let added = lines(&known);
    assert_eq!(added.len(), 1);
    assert!(added[0].starts_with("|1|"), "{added:?}");
    assert!(!added[0].contains("127.0.0.1"));
    // And the hashed line is recognised by us...
    connect(t, Some(Arc::new(NeverAsk)))
        .await
        .expect("hashed entry known");
    // ...and by OpenSSH itself.
    let found = Command::new("ssh-keygen")
        .args(["-F", "[127.0.0.1]:2222", "-f"])
        .arg(&known)
        .output()
        .expect("ssh-keygen -F");
    assert!(
        found.status.success(),
        "ssh-keygen does not find our hashed line"
    );
}

#[tokio::test]
async fn strict_checking_refuses_unknown_without_asking() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let known = dir.path().join("known_hosts");
    let t = target(&bed, 2222, vec![bed.key.clone()], &known);
    let err = expect_err(connect(t, Some(Arc::new(NeverAsk))).await);
    assert_eq!(err.kind, ConnectErrorKind::HostKey);
    assert!(err.message.contains("StrictHostKeyChecking"), "{err}");
    assert!(!known.exists());
}

#[tokio::test]
async fn changed_host_key_is_refused_with_file_and_line() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let known = dir.path().join("known_hosts");
    // An ed25519 key that is not the bed's, recorded for the bed.
    let impostor = dir.path().join("impostor");
    keygen(&impostor);
    let impostor_pub = std::fs::read_to_string(dir.path().join("impostor.pub")).expect("pub");
    let mut parts = impostor_pub.split_whitespace();
    let (kind, b64) = (parts.next().expect("type"), parts.next().expect("key"));
    std::fs::write(
        &known,
        format!("# header\notherhost {kind} {b64}\n[127.0.0.1]:2222\t{kind}   {b64}\n"),
    )
    .expect("write");
    let mut t = target(&bed, 2222, vec![bed.key.clone()], &known);
    t.strict_host_key_checking = StrictHostKeyChecking::Ask;
    let err = expect_err(connect(t, Some(Arc::new(NeverAsk))).await);
    assert_eq!(err.kind, ConnectErrorKind::HostKey);
    assert!(err.message.contains("CHANGED"), "{err}");
    assert!(
        err.message.contains(&format!("{}:3", known.display())),
        "{err}"
    );
}

#[tokio::test]
async fn revoked_host_key_is_refused() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let known = dir.path().join("known_hosts");
    let mut text = std::fs::read_to_string(&bed.known_hosts).expect("bed known_hosts");
    text.push_str(&format!("@revoked * {}\n", host_key_line(&bed, "ed25519")));
    std::fs::write(&known, &text).expect("write");
    let revoked_line = text.lines().count();
    let t = target(&bed, 2222, vec![bed.key.clone()], &known);
    let err = expect_err(connect(t, Some(Arc::new(NeverAsk))).await);
    assert_eq!(err.kind, ConnectErrorKind::HostKey);
    assert!(err.message.contains("@revoked"), "{err}");
    assert!(
        err.message
            .contains(&format!("{}:{revoked_line}", known.display())),
        "{err}"
    );
}

#[tokio::test]
async fn known_hosts_with_patterns_and_global_file() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let user_file = dir.path().join("known_hosts");
    let global = dir.path().join("ssh_known_hosts");
    std::fs::write(&user_file, "").expect("write");
    std::fs::write(
        &global,
        format!(
            "[127.0.0.?]:22*,!nothere {}\n",
            host_key_line(&bed, "ed25519")
        ),
    )
    .expect("write");
    let mut t = target(&bed, 2222, vec![bed.key.clone()], &user_file);
    t.global_known_hosts = vec![global];
    let transport = connect(t, Some(Arc::new(NeverAsk)))
        .await
        .expect("known through a pattern in the global file");
    assert_eq!(whoami(&transport).await, bed.user);
}

fn write_config(dir: &Path, bed: &Bed, extra: &str) -> PathBuf {
    let cfg = dir.join("ssh_config");
    std::fs::write(
        &cfg,
        format!(
            "Host testbed viajump\n  HostName 127.0.0.1\n  Port 2222\n  User {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  IdentityAgent none\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n{extra}",
            bed.user,
            bed.key.display(),
            bed.known_hosts.display()
        ),
    )
    .expect("write ssh config");
    cfg
}

#[tokio::test]
async fn proxy_jump_through_the_bed_to_itself() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        &bed,
        "Host viajump\n  ProxyJump testbed,testbed\n",
    );
    let (t, warnings) = tokio::time::timeout(
        LIMIT,
        SshTransport::connect(
            "viajump",
            SshOptions {
                config_file: Some(cfg),
                prompter: Some(Arc::new(NeverAsk)),
                ..Default::default()
            },
        ),
    )
    .await
    .expect("hung")
    .expect("connect through two jumps");
    assert!(warnings.is_empty(), "{warnings:?}");
    // The last hop's sshd sees a connection from loopback through the jump.
    let (out, _, status) = run(&t, "echo $SSH_CONNECTION").await;
    assert!(status.success());
    assert!(out.starts_with("127.0.0.1 "), "{out}");
    assert_eq!(whoami(&t).await, bed.user);
}

#[tokio::test]
async fn bed_ssh_config_resolves_with_dash_f() {
    let Some(bed) = bed() else { return };
    let started = Instant::now();
    let (t, _) = SshTransport::connect(
        "testbed",
        SshOptions {
            config_file: Some(bed.ssh_config.clone()),
            prompter: Some(Arc::new(NeverAsk)),
            ..Default::default()
        },
    )
    .await
    .expect("connect via -F bed config");
    eprintln!(
        "resolve (ssh -G) + connect + auth on loopback: {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(t.describe(), format!("{}@127.0.0.1:2222", bed.user));
}

#[tokio::test]
async fn refused_port_is_one_clear_error() {
    let Some(bed) = bed() else { return };
    let port = free_port();
    let err = expect_err(
        connect(
            target(&bed, port, vec![bed.key.clone()], &bed.known_hosts),
            None,
        )
        .await,
    );
    assert_eq!(err.kind, ConnectErrorKind::Refused);
    assert!(err.message.contains(&port.to_string()), "{err}");
    assert!(!err.message.contains('\n'));
}

#[tokio::test]
async fn direct_tcpip_reaches_netdata() {
    let Some(bed) = bed() else { return };
    let t = connect(
        target(&bed, 2222, vec![bed.key.clone()], &bed.known_hosts),
        None,
    )
    .await
    .expect("connect");
    let (host, port) = bed.netdata.rsplit_once(':').expect("host:port");
    let mut stream = t
        .connect_tcp(host, port.parse().expect("port"))
        .await
        .expect("direct-tcpip to netdata");
    stream
        .write_all(b"GET /api/v1/info HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut body = Vec::new();
    tokio::time::timeout(LIMIT, stream.read_to_end(&mut body))
        .await
        .expect("hung")
        .expect("read");
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.0 200"),
        "{text}"
    );
    assert!(text.contains("\"version\""), "{text}");

    // A closed port on the target is Unreachable, not a dead connection.
    let err = match t.connect_tcp("127.0.0.1", free_port()).await {
        Ok(_) => panic!("connected to a closed port"),
        Err(e) => e,
    };
    assert_eq!(
        err.kind,
        opscockpit::transport::TransportErrorKind::Unreachable,
        "{err}"
    );
}

#[tokio::test]
async fn direct_streamlocal_reaches_the_engine_socket() {
    let Some(bed) = bed() else { return };
    let t = connect(
        target(&bed, 2222, vec![bed.key.clone()], &bed.known_hosts),
        None,
    )
    .await
    .expect("connect");
    let mut stream = t
        .connect_unix(&bed.docker_socket)
        .await
        .expect("direct-streamlocal to the podman socket");
    stream
        .write_all(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
        .await
        .expect("write");
    let mut body = Vec::new();
    tokio::time::timeout(LIMIT, stream.read_to_end(&mut body))
        .await
        .expect("hung")
        .expect("read");
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains(" 200 "), "{text}");
    assert!(text.ends_with("OK"), "{text}");
}

async fn expect_samples(transport: SharedTransport, count: usize, within: Duration) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(opscockpit::sources::procfs::run(
        transport,
        tx,
        cancel.clone(),
    ));
    let mut samples = 0;
    let deadline = tokio::time::Instant::now() + within;
    while samples < count {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(AppEvent::Metrics(_, update))) => {
                if !update.readings.is_empty() || samples == 0 {
                    samples += 1;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("only {samples} of {count} samples within {within:?}"),
        }
    }
    cancel.cancel();
    let _ = task.await;
}

#[tokio::test]
async fn proc_sampler_runs_over_ssh() {
    let Some(bed) = bed() else { return };
    let t = connect(
        target(&bed, 2222, vec![bed.key.clone()], &bed.known_hosts),
        None,
    )
    .await
    .expect("connect");
    expect_samples(Arc::new(t), 3, Duration::from_secs(15)).await;
}

/// The test's own sshd (see `common::sshd`) for the bed's user and keys.
impl OwnSshd {
    fn new(dir: &Path, bed: &Bed) -> Self {
        Self::with(dir, bed, "", &bed.dir.join("ssh/authorized_keys"))
    }

    /// `extra` sshd_config lines come first (sshd keeps the first value).
    fn with(dir: &Path, bed: &Bed, extra: &str, authorized_keys: &Path) -> Self {
        Self::start_for(dir, &bed.user, extra, authorized_keys)
    }
}

#[tokio::test]
async fn reconnects_after_sshd_is_killed_and_restarted() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sshd = OwnSshd::new(dir.path(), &bed);
    // An encrypted key: its passphrase is asked once, not again on reconnect.
    let mut t = target(
        &bed,
        sshd.port,
        vec![bed.enc_key.clone()],
        &dir.path().join("known_hosts"),
    );
    t.server_alive_interval = Duration::from_secs(2);
    let asker = Counting::new(false, Some(&bed.enc_passphrase));
    let transport = Arc::new(
        connect(t, Some(asker.clone()))
            .await
            .expect("connect to own sshd"),
    );
    let mut states = transport.state();
    let shared: SharedTransport = transport.clone();
    expect_samples(shared.clone(), 2, Duration::from_secs(15)).await;

    sshd.kill();
    // The loss is noticed and reported as reconnecting.
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if matches!(
                *states.borrow_and_update(),
                ConnectionState::Reconnecting { .. }
            ) {
                return;
            }
            states.changed().await.expect("state channel");
        }
    })
    .await
    .expect("connection loss not noticed within 15 s");
    // While down, an operation fails with Disconnected or waits for the
    // reconnect; it never hangs.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let restarted = Instant::now();
    sshd.start();
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if matches!(
                *states.borrow_and_update(),
                ConnectionState::Connected { .. }
            ) {
                return;
            }
            states.changed().await.expect("state channel");
        }
    })
    .await
    .expect("not reconnected within 15 s of sshd coming back");
    eprintln!(
        "reconnected {} ms after sshd came back",
        restarted.elapsed().as_millis()
    );
    assert_eq!(whoami(shared.as_ref()).await, bed.user);
    // The sampler keeps producing samples after the outage.
    expect_samples(shared, 2, Duration::from_secs(15)).await;
    assert_eq!(asker.passphrase_asked.load(Ordering::SeqCst), 1);
}

/// The test config of issue #22: a keepalive every 2 s, 3 may go unanswered.
const ALIVE_EVERY: Duration = Duration::from_secs(2);
const ALIVE_MISSES: u32 = 3;

/// The longest a dead link may look alive: interval × (CountMax + 1), plus
/// room for a loaded test machine.
fn detection_limit() -> Duration {
    ALIVE_EVERY * (ALIVE_MISSES + 1) + Duration::from_secs(2)
}

fn keepalive_target(bed: &Bed, port: u16, known_hosts: &Path) -> SshTarget {
    let mut t = target(bed, port, vec![bed.key.clone()], known_hosts);
    t.server_alive_interval = ALIVE_EVERY;
    t.server_alive_count_max = ALIVE_MISSES;
    t
}

/// Every link state from now on, until `done` says stop (or `within`).
async fn states_until(
    states: &mut tokio::sync::watch::Receiver<ConnectionState>,
    within: Duration,
    what: &str,
    done: impl Fn(&ConnectionState) -> bool,
) -> Vec<ConnectionState> {
    let mut seen = Vec::new();
    let waited = tokio::time::timeout(within, async {
        loop {
            let state = states.borrow_and_update().clone();
            let stop = done(&state);
            seen.push(state);
            if stop {
                return;
            }
            states.changed().await.expect("state channel");
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "{what} not seen within {within:?}: {seen:?}"
    );
    seen
}

fn is_reconnecting(state: &ConnectionState) -> bool {
    matches!(state, ConnectionState::Reconnecting { .. })
}

fn is_connected(state: &ConnectionState) -> bool {
    matches!(
        state,
        ConnectionState::Connected {
            rtt_ms: Some(_),
            unanswered: 0
        }
    )
}

/// What a silent link must look like from the supervisor: misses counted
/// with no round trip shown, then given up with the reason, in time.
fn assert_silence_was_noticed(seen: &[ConnectionState]) {
    let missed: Vec<u32> = seen
        .iter()
        .filter_map(|s| match s {
            ConnectionState::Connected {
                rtt_ms, unanswered, ..
            } if *unanswered > 0 => {
                assert_eq!(*rtt_ms, None, "an RTT shown while replies are missing");
                Some(*unanswered)
            }
            _ => None,
        })
        .collect();
    assert!(
        missed.contains(&1) && missed.contains(&(ALIVE_MISSES - 1)),
        "the misses were not published one by one: {seen:?}"
    );
    match seen.last() {
        Some(ConnectionState::Reconnecting { reason, .. }) => {
            assert_eq!(reason, "3 keepalives unanswered")
        }
        other => panic!("not reconnecting at the end: {other:?}"),
    }
}

#[tokio::test]
async fn frozen_sshd_is_declared_down_within_the_keepalive_time_and_replaced() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = OwnSshd::new(dir.path(), &bed);
    let t = keepalive_target(&bed, sshd.port, &dir.path().join("known_hosts"));
    let transport = Arc::new(connect(t, None).await.expect("connect to own sshd"));
    let mut states = transport.state();
    assert_eq!(whoami(transport.as_ref()).await, bed.user);
    states_until(&mut states, LIMIT, "a first round trip", is_connected).await;

    // SIGSTOP on the sshd and its session process: the TCP connection
    // stays up and nothing answers, as with a hung host (a reconnect hangs
    // too, so the state stays Reconnecting until the host is resumed).
    let frozen = Instant::now();
    sshd.freeze_all();
    let seen = states_until(
        &mut states,
        detection_limit(),
        "reconnecting",
        is_reconnecting,
    )
    .await;
    eprintln!(
        "frozen link declared down after {} ms",
        frozen.elapsed().as_millis()
    );
    assert_silence_was_noticed(&seen);
    assert!(
        !transport.link_alive().await,
        "the link answers while the host is frozen"
    );

    // Resumed, the old session finds its connection gone; a new one works.
    sshd.thaw_all();
    states_until(&mut states, LIMIT, "connected again", is_connected).await;
    assert_eq!(whoami(transport.as_ref()).await, bed.user);
    assert!(transport.link_alive().await);
}

#[tokio::test]
async fn blackholed_tcp_path_is_declared_down_and_reconnected_when_it_clears() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = OwnSshd::new(dir.path(), &bed);
    let proxy = Proxy::start(sshd.port, Duration::ZERO).await;
    let t = keepalive_target(&bed, proxy.port, &trust_proxy(dir.path(), &sshd, &proxy));
    let transport = Arc::new(connect(t, None).await.expect("connect through the proxy"));
    let mut states = transport.state();
    states_until(&mut states, LIMIT, "a first round trip", is_connected).await;

    proxy.blackhole(true);
    let seen = states_until(
        &mut states,
        detection_limit(),
        "reconnecting",
        is_reconnecting,
    )
    .await;
    assert_silence_was_noticed(&seen);

    proxy.blackhole(false);
    states_until(&mut states, LIMIT, "connected again", is_connected).await;
    assert_eq!(whoami(transport.as_ref()).await, bed.user);
}

#[tokio::test]
async fn round_trip_shown_is_the_keepalive_round_trip() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = OwnSshd::new(dir.path(), &bed);
    // 40 ms each way: a keepalive's round trip is 80 ms and a bit.
    let one_way = Duration::from_millis(40);
    let proxy = Proxy::start(sshd.port, one_way).await;
    let t = keepalive_target(&bed, proxy.port, &trust_proxy(dir.path(), &sshd, &proxy));
    let transport = Arc::new(connect(t, None).await.expect("connect through the proxy"));
    let mut states = transport.state();
    states_until(&mut states, LIMIT, "a first round trip", is_connected).await;
    // What is shown over the next keepalives (an equal figure is not
    // published again, so the state is read once an interval).
    let mut rtts = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(ALIVE_EVERY).await;
        match *states.borrow() {
            ConnectionState::Connected {
                rtt_ms: Some(ms),
                unanswered: 0,
            } => rtts.push(ms),
            ref other => panic!("no round trip shown: {other:?}"),
        }
    }
    eprintln!("round trips shown through a 2×40 ms path: {rtts:?}");
    let floor = (2 * one_way).as_millis() as u64;
    for ms in rtts {
        assert!(
            (floor..floor + 30).contains(&ms),
            "{ms} ms shown for a path of {floor} ms"
        );
    }
}

#[tokio::test]
async fn a_command_running_when_the_link_freezes_ends_unknown_and_is_not_rerun() {
    use opscockpit::config::GateConfig;
    use opscockpit::gate::policy::Policy;
    use opscockpit::gate::{ActionState, Gate, Proposal};
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = OwnSshd::new(dir.path(), &bed);
    let t = keepalive_target(&bed, sshd.port, &dir.path().join("known_hosts"));
    let transport = Arc::new(connect(t, None).await.expect("connect to own sshd"));
    let mut states = transport.state();
    let config_dir = dir.path().join("config");
    std::fs::create_dir_all(&config_dir).expect("config dir");
    let gate = Gate::open(
        "keepalive-test",
        &dir.path().join("data"),
        Policy::load(&config_dir).expect("policy"),
        GateConfig::default(),
        transport.clone(),
    )
    .expect("open gate");
    let cancel = CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<opscockpit::gate::GateEvent>(4096);
    tokio::spawn(opscockpit::gate::core::run(
        gate.clone(),
        tx,
        cancel.clone(),
    ));
    tokio::spawn(async move { while rx.recv().await.is_some() {} });

    // Each run leaves a line: the count says how often it started.
    let runs = PathBuf::from(format!(
        "/tmp/opscockpit-keepalive-runs-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&runs);
    let a = gate
        .propose(Proposal {
            command: format!("echo run >> {}; sleep 30", runs.display()),
            ..Proposal::default()
        })
        .expect("propose");
    gate.approve(&a.id, &a.fingerprint).expect("approve");
    let started = tokio::time::timeout(LIMIT, async {
        while lines(&runs).is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(started.is_ok(), "the action never started");
    assert_eq!(
        gate.status(&a.id).expect("status").state,
        ActionState::Executing
    );

    sshd.freeze_connections();
    let done = gate
        .wait(&a.id, Some(detection_limit() + Duration::from_secs(3)))
        .await
        .expect("wait");
    assert_eq!(done.state, ActionState::Uncertain, "{done:?}");
    assert!(
        done.error
            .as_deref()
            .unwrap_or("")
            .contains("connection was lost"),
        "{done:?}"
    );

    sshd.thaw_connections();
    states_until(&mut states, LIMIT, "connected again", is_connected).await;
    // Give a (wrong) re-run every chance to happen, then count.
    assert_eq!(whoami(transport.as_ref()).await, bed.user);
    tokio::time::sleep(ALIVE_EVERY).await;
    assert_eq!(
        lines(&runs).len(),
        1,
        "the action ran again after reconnect"
    );
    assert_eq!(
        gate.status(&a.id).expect("status").state,
        ActionState::Uncertain
    );
    let _ = std::fs::remove_file(&runs);
    cancel.cancel();
}

#[tokio::test]
async fn reconnect_to_a_changed_host_key_is_refused_and_reported_down() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sshd = OwnSshd::new(dir.path(), &bed);
    let known = dir.path().join("known_hosts");
    let transport = connect(target(&bed, sshd.port, vec![bed.key.clone()], &known), None)
        .await
        .expect("connect to own sshd");
    let mut states = transport.state();
    sshd.kill();
    // The host comes back with another key (reinstalled, or an impostor).
    for name in ["host_ed25519", "host_ed25519.pub"] {
        std::fs::remove_file(dir.path().join(name)).expect("rm host key");
    }
    keygen(&dir.path().join("host_ed25519"));
    sshd.start();
    let reason = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let ConnectionState::Down { reason, .. } = &*states.borrow_and_update() {
                return reason.clone();
            }
            states.changed().await.expect("state channel");
        }
    })
    .await
    .expect("changed key on reconnect not reported as down");
    assert!(reason.contains("CHANGED"), "{reason}");
    assert!(
        reason.contains(&format!("{}:1", known.display())),
        "{reason}"
    );
    let err = match transport.exec("true", ExecOptions::default()).await {
        Ok(_) => panic!("ran a command on a host with a changed key"),
        Err(e) => e,
    };
    assert_eq!(
        err.kind,
        opscockpit::transport::TransportErrorKind::Disconnected
    );
}

#[tokio::test]
async fn operations_during_an_outage_fail_as_disconnected() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sshd = OwnSshd::new(dir.path(), &bed);
    let t = connect(
        target(
            &bed,
            sshd.port,
            vec![bed.key.clone()],
            &dir.path().join("known_hosts"),
        ),
        None,
    )
    .await
    .expect("connect to own sshd");
    let mut states = t.state();
    sshd.kill();
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if matches!(
                *states.borrow_and_update(),
                ConnectionState::Reconnecting { .. }
            ) {
                return;
            }
            states.changed().await.expect("state channel");
        }
    })
    .await
    .expect("connection loss not noticed");
    // Now the link is known to be down: an operation waits (bounded) for
    // a reconnect that cannot come, then fails as Disconnected.
    let started = Instant::now();
    let result = tokio::time::timeout(LIMIT, t.exec("true", ExecOptions::default()))
        .await
        .expect("exec during outage hung");
    match result {
        Ok(_) => panic!("exec succeeded with sshd dead"),
        Err(e) => assert_eq!(
            e.kind,
            opscockpit::transport::TransportErrorKind::Disconnected,
            "{e}"
        ),
    }
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "did not wait for a reconnect"
    );
}

#[test]
fn binary_answers_the_trust_question_from_stdin() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let known = dir.path().join("known_hosts");
    let cfg = dir.path().join("ssh_config");
    std::fs::write(
        &cfg,
        format!(
            "Host bedask\n  HostName 127.0.0.1\n  Port 2222\n  User {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  IdentityAgent none\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking ask\n",
            bed.user,
            bed.key.display(),
            known.display()
        ),
    )
    .expect("write");
    let run_with = |answer: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_opscockpit"))
            .arg("-F")
            .arg(&cfg)
            .arg("bedask")
            .env("HOME", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run opscockpit");
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(answer.as_bytes());
        }
        let output = child.wait_with_output().expect("wait");
        (
            output.status,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (status, stderr) = run_with("n\n");
    assert!(!status.success());
    assert!(stderr.contains("trust this host? [y/N]"), "{stderr}");
    assert!(stderr.contains("SHA256:"), "{stderr}");
    assert!(stderr.contains("not trusted"), "{stderr}");
    assert!(!known.exists() || lines(&known).is_empty());

    // Yes: the key is recorded (the TUI then fails for want of a terminal,
    // which is after the connection was made).
    let (_, stderr) = run_with("y\n");
    assert!(!stderr.contains("not trusted"), "{stderr}");
    assert_eq!(lines(&known).len(), 1, "{stderr}");
}

fn sign(ca: &Path, key_pub: &Path, identity: &str, principal: &str, host: bool) {
    let mut cmd = Command::new("ssh-keygen");
    cmd.arg("-q")
        .arg("-s")
        .arg(ca)
        .args(["-I", identity, "-n", principal, "-V", "-5m:+1h"]);
    if host {
        cmd.arg("-h");
    }
    let status = cmd
        .arg(key_pub)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("ssh-keygen -s");
    assert!(status.success(), "signing {}", key_pub.display());
}

#[tokio::test]
async fn user_certificate_is_used_with_its_key() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("user_ca");
    keygen(&ca);
    let user_key = dir.path().join("id_user");
    keygen(&user_key);
    sign(
        &ca,
        &dir.path().join("id_user.pub"),
        "test-user",
        &bed.user,
        false,
    );
    // No authorized key at all: only the CA-signed certificate can work.
    let empty = dir.path().join("authorized_keys");
    std::fs::write(&empty, "").expect("write");
    let extra = format!(
        "TrustedUserCAKeys {}\n",
        dir.path().join("user_ca.pub").display()
    );
    let sshd = OwnSshd::with(dir.path(), &bed, &extra, &empty);
    let known = dir.path().join("known_hosts");
    let t = connect(
        target(&bed, sshd.port, vec![user_key.clone()], &known),
        Some(Arc::new(NeverAsk)),
    )
    .await
    .expect("connect with the user certificate");
    assert_eq!(whoami(&t).await, bed.user);

    std::fs::remove_file(dir.path().join("id_user-cert.pub")).expect("rm cert");
    let err = expect_err(connect(target(&bed, sshd.port, vec![user_key], &known), None).await);
    assert_eq!(err.kind, ConnectErrorKind::Auth, "{err}");
}

#[tokio::test]
async fn host_certificate_trusted_through_cert_authority() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("host_ca");
    keygen(&ca);
    let host_key = dir.path().join("host_ed25519");
    keygen(&host_key);
    sign(
        &ca,
        &dir.path().join("host_ed25519.pub"),
        "test-host",
        "127.0.0.1",
        true,
    );
    let extra = format!(
        "HostCertificate {}\n",
        dir.path().join("host_ed25519-cert.pub").display()
    );
    let sshd = OwnSshd::with(
        dir.path(),
        &bed,
        &extra,
        &bed.dir.join("ssh/authorized_keys"),
    );
    let ca_pub = std::fs::read_to_string(dir.path().join("host_ca.pub")).expect("ca pub");
    let known = dir.path().join("known_hosts");
    // Only the CA is known, not the host key itself.
    std::fs::write(&known, format!("@cert-authority [127.0.0.*]:* {ca_pub}")).expect("write");
    let t = connect(
        target(&bed, sshd.port, vec![bed.key.clone()], &known),
        Some(Arc::new(NeverAsk)),
    )
    .await
    .expect("host certificate signed by a trusted CA");
    assert_eq!(whoami(&t).await, bed.user);

    // A certificate for another host name, from the trusted CA: refused.
    let dir2 = tempfile::tempdir().expect("tempdir");
    keygen(&dir2.path().join("host_ed25519"));
    sign(
        &ca,
        &dir2.path().join("host_ed25519.pub"),
        "test-host",
        "elsewhere.lan",
        true,
    );
    let extra2 = format!(
        "HostCertificate {}\n",
        dir2.path().join("host_ed25519-cert.pub").display()
    );
    let sshd2 = OwnSshd::with(
        dir2.path(),
        &bed,
        &extra2,
        &bed.dir.join("ssh/authorized_keys"),
    );
    let err = expect_err(
        connect(
            target(&bed, sshd2.port, vec![bed.key.clone()], &known),
            None,
        )
        .await,
    );
    assert_eq!(err.kind, ConnectErrorKind::HostKey, "{err}");

    // Another CA: the certificate is not trusted (strict: refused).
    let other = dir.path().join("other_ca");
    keygen(&other);
    let other_pub = std::fs::read_to_string(dir.path().join("other_ca.pub")).expect("pub");
    std::fs::write(&known, format!("@cert-authority * {other_pub}")).expect("write");
    let err =
        expect_err(connect(target(&bed, sshd.port, vec![bed.key.clone()], &known), None).await);
    assert_eq!(err.kind, ConnectErrorKind::HostKey, "{err}");
}

#[test]
fn binary_connect_errors_are_one_line_and_fail() {
    let Some(bed) = bed() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let stranger = dir.path().join("id_stranger");
    keygen(&stranger);
    let changed_known = dir.path().join("changed_known_hosts");
    let stranger_pub = std::fs::read_to_string(dir.path().join("id_stranger.pub")).expect("pub");
    std::fs::write(&changed_known, format!("[127.0.0.1]:2222 {stranger_pub}")).expect("write");
    let closed_port = free_port();
    let cfg = dir.path().join("ssh_config");
    std::fs::write(
        &cfg,
        format!(
            "Host wrongkey\n  IdentityFile {stranger}\nHost changed\n  UserKnownHostsFile {changed}\nHost closed\n  Port {closed_port}\nHost * !wrongkey\n  IdentityFile {key}\nHost *\n  HostName 127.0.0.1\n  Port 2222\n  User {user}\n  IdentitiesOnly yes\n  IdentityAgent none\n  UserKnownHostsFile {known}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n",
            stranger = stranger.display(),
            changed = changed_known.display(),
            user = bed.user,
            key = bed.key.display(),
            known = bed.known_hosts.display(),
        ),
    )
    .expect("write");
    let cases: [(&[&str], &str); 4] = [
        (&["-F", "/nonexistent/ssh_config", "x"], "ssh -G"),
        (&["-F", cfg.to_str().expect("utf8"), "closed"], "refused"),
        (
            &["-F", cfg.to_str().expect("utf8"), "wrongkey"],
            "authentication failed",
        ),
        (
            &["-F", cfg.to_str().expect("utf8"), "changed"],
            &format!("{}:1", changed_known.display()),
        ),
    ];
    for (args, expected) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_opscockpit"))
            .args(args)
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run opscockpit");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("opscockpit: "), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
