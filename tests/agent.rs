//! `opscockpit agent`: real processes on this kernel. Each probe runs inside
//! `opscockpit agent -- python3 agent_probe.py OP ARG` (exit 13: permission
//! error). The tests run as root, which DAC permissions would not stop: the
//! denials below come from Landlock and seccomp (the files are world
//! readable on purpose).
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opscockpit::config::GateConfig;
use opscockpit::gate::policy::Policy;
use opscockpit::gate::{Gate, broker};
use opscockpit::transport::local::LocalTransport;
use tokio_util::sync::CancellationToken;

const BIN: &str = env!("CARGO_BIN_EXE_opscockpit");
const PYTHON: &str = "/usr/bin/python3";
const PERMISSION: i32 = 13;

/// A fake home with a key in it, a project dir, and opscockpit's dirs.
struct World {
    dir: tempfile::TempDir,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl World {
    fn new() -> World {
        let dir = tempfile::Builder::new()
            .prefix("oa")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let world = World { dir };
        let ssh = world.home().join(".ssh");
        std::fs::create_dir_all(&ssh).expect("ssh dir");
        world.world_readable(
            &ssh.join("id_ed25519"),
            "-----BEGIN OPENSSH PRIVATE KEY-----\n",
        );
        std::fs::create_dir_all(world.project()).expect("project");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/agent_probe.py"),
            world.project().join("agent_probe.py"),
        )
        .expect("probe");
        std::fs::create_dir_all(world.config_dir()).expect("config");
        world.world_readable(&world.config_dir().join("policy.toml"), "");
        world
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn home(&self) -> PathBuf {
        self.path("home")
    }
    fn project(&self) -> PathBuf {
        self.path("project")
    }
    fn config_dir(&self) -> PathBuf {
        self.path("config/opscockpit")
    }
    fn data_dir(&self) -> PathBuf {
        self.path("data/opscockpit")
    }
    fn socket(&self, host: &str) -> PathBuf {
        self.path("run/opscockpit").join(format!("{host}.sock"))
    }
    /// Mode 0644, so only the sandbox can be what stops a read.
    fn world_readable(&self, path: &Path, text: &str) {
        std::fs::write(path, text).expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(self.project())
            .env("HOME", self.home())
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("SSH_AUTH_SOCK", self.path("agent.sock"))
            .env_remove("OPSCOCKPIT_CONFIG")
            .env_remove("OPSCOCKPIT_AGENT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }
    /// `opscockpit agent [flags] -- python3 agent_probe.py PROBE…`.
    fn probe(&self, flags: &[&str], probe: &[&str]) -> Run {
        let mut c = self.cmd();
        c.arg("agent")
            .args(flags)
            .arg("--")
            .arg(PYTHON)
            .arg("agent_probe.py")
            .args(probe);
        run(c)
    }
    /// A gate served in this process, as a cockpit would.
    fn serve(&self, host: &str) -> (Gate, CancellationToken) {
        let policy = Policy::load(&self.config_dir()).expect("policy");
        let listener = broker::bind(&self.socket(host), host).expect("bind");
        let gate = Gate::open(
            host,
            &self.data_dir(),
            policy,
            GateConfig::default(),
            Arc::new(LocalTransport),
        )
        .expect("open gate");
        let cancel = CancellationToken::new();
        tokio::spawn(broker::serve(gate.clone(), listener, cancel.clone()));
        (gate, cancel)
    }
}

fn run(mut c: Command) -> Run {
    let out = c.output().expect("run opscockpit");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[track_caller]
fn assert_denied(run: &Run, what: &str) {
    assert_eq!(
        run.code, PERMISSION,
        "{what} must fail with a permission error; stdout {} stderr {}",
        run.stdout, run.stderr
    );
}

#[track_caller]
fn assert_works(run: &Run, what: &str) {
    assert_eq!(
        run.code, 0,
        "{what} must work; stdout {} stderr {}",
        run.stdout, run.stderr
    );
}

/// Kills and reaps a helper process when the test ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_path(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_key_in_home_is_not_readable() {
    let world = World::new();
    let key = world.home().join(".ssh/id_ed25519");
    // Outside the sandbox the file is readable (root, 0644).
    assert!(std::fs::read(&key).is_ok());
    assert_denied(
        &world.probe(&[], &["read", &key.to_string_lossy()]),
        "reading ~/.ssh/id_ed25519",
    );
    let gitconfig = world.home().join(".gitconfig");
    world.world_readable(&gitconfig, "[user]\nname = t\n");
    assert_works(
        &world.probe(&[], &["read", &gitconfig.to_string_lossy()]),
        "reading ~/.gitconfig",
    );
}

#[test]
fn the_project_dir_is_writable_and_the_config_and_history_are_not() {
    let world = World::new();
    assert_works(
        &world.probe(&[], &["write", "notes.txt"]),
        "writing in the cwd",
    );
    assert!(world.project().join("notes.txt").exists());
    assert_denied(
        &world.probe(
            &[],
            &[
                "write",
                &world.config_dir().join("policy.toml").to_string_lossy(),
            ],
        ),
        "writing the config dir's policy.toml",
    );
    let db = opscockpit::gate::db_path(&world.data_dir());
    opscockpit::gate::store::Store::open(&db).expect("history database");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert_denied(
        &world.probe(&[], &["read", &db.to_string_lossy()]),
        "opening the history database",
    );
}

#[test]
fn tcp_goes_only_to_allowed_ports() {
    let world = World::new();
    let bed_port = std::env::var("OPSCOCKPIT_BED_SSH_PORT").unwrap_or_else(|_| "2222".into());
    assert_denied(
        &world.probe(&[], &["tcp", &bed_port]),
        "connecting to the bed's sshd",
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port().to_string();
    assert_denied(
        &world.probe(&[], &["tcp", &port]),
        "connecting to a port not allowed",
    );
    assert_works(
        &world.probe(&["--allow-port", &port], &["tcp", &port]),
        "connecting to an allowed port",
    );
}

#[test]
fn udp_is_closed_or_only_for_dns() {
    let world = World::new();
    assert_denied(
        &world.probe(&["--profile", "generic"], &["udp"]),
        "a UDP socket in the generic profile",
    );
    assert_works(
        &world.probe(&["--profile", "claude"], &["udp"]),
        "a UDP socket in the claude profile (DNS)",
    );
    assert_denied(
        &world.probe(&["--profile", "claude"], &["udp", "9"]),
        "a UDP connect to a port other than 53",
    );
    assert_denied(
        &world.probe(&["--profile", "claude"], &["sctp"]),
        "an SCTP socket (Landlock's port rules are TCP only)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_token_registers_once() {
    use opscockpit::gate::broker::Request;
    use opscockpit::gate::client::Client;
    let world = World::new();
    let (_gate, cancel) = world.serve("web");
    let socket = world.socket("web");
    let replies = tokio::task::spawn_blocking(move || {
        let mut client = Client::connect(&socket, "web").expect("connect");
        let mut register = |token: &str| {
            client
                .request(&Request::RegisterSession {
                    token: token.into(),
                    profile: "generic".into(),
                })
                .expect("reply")
        };
        let token = "ab".repeat(32);
        [register(&token), register(&token), register("guessable")]
    })
    .await
    .expect("join");
    cancel.cancel();
    assert!(replies[0].ok, "{:?}", replies[0]);
    let code = |i: usize| replies[i].error.as_ref().map(|e| e.code.clone());
    assert_eq!(code(1).as_deref(), Some("session_exists"));
    assert_eq!(code(2).as_deref(), Some("bad_request"));
}

#[test]
fn ssh_cannot_reach_the_bed() {
    let world = World::new();
    let bed_port = std::env::var("OPSCOCKPIT_BED_SSH_PORT").unwrap_or_else(|_| "2222".into());
    let mut c = world.cmd();
    c.args([
        "agent",
        "--",
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-p",
        &bed_port,
        "127.0.0.1",
        "true",
    ]);
    let out = run(c);
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("Permission denied") && out.stderr.contains("connect"),
        "ssh must fail to connect with a permission error: {}",
        out.stderr
    );
}

#[test]
fn the_ssh_agent_and_docker_sockets_are_not_reachable() {
    let world = World::new();
    let agent_sock = world.path("agent.sock");
    let agent = Command::new("ssh-agent")
        .args(["-D", "-a"])
        .arg(&agent_sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh-agent");
    let _agent = Reaped(agent);
    wait_for_path(&agent_sock);
    // Outside the sandbox the agent answers.
    assert!(std::os::unix::net::UnixStream::connect(&agent_sock).is_ok());
    assert_denied(
        &world.probe(&[], &["unix", &agent_sock.to_string_lossy()]),
        "connecting to SSH_AUTH_SOCK",
    );
    let docker = world.path("docker.sock");
    let _docker = UnixListener::bind(&docker).expect("docker stand-in");
    assert_denied(
        &world.probe(&[], &["unix", &docker.to_string_lossy()]),
        "connecting to the Docker socket",
    );
    // A symlink into the project dir does not make it the gate's.
    let link = world.project().join("docker.sock");
    std::os::unix::fs::symlink(&docker, &link).expect("symlink");
    assert_denied(
        &world.probe(&[], &["unix", "docker.sock"]),
        "connecting through a symlink",
    );
}

#[test]
fn other_processes_proc_is_not_readable() {
    let world = World::new();
    let sleeper = Command::new("sleep").arg("30").spawn().expect("sleep");
    let pid = sleeper.id();
    let _sleeper = Reaped(sleeper);
    let environ = format!("/proc/{pid}/environ");
    assert!(std::fs::read(&environ).is_ok(), "readable outside");
    assert_denied(
        &world.probe(&[], &["read", &environ]),
        "reading another process's environ",
    );
    assert_works(
        &world.probe(&[], &["read", "/proc/self/status"]),
        "reading /proc/self",
    );
}

#[test]
fn the_environment_is_scrubbed() {
    let world = World::new();
    let mut c = world.cmd();
    c.env("DOCKER_HOST", "unix:///x")
        .env("SSH_AGENT_PID", "1")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/x")
        .args(["agent", "--", "env"]);
    let out = run(c);
    assert_works(&out, "env");
    for gone in [
        "SSH_AUTH_SOCK=",
        "SSH_AGENT_PID=",
        "DOCKER_HOST=",
        "DBUS_SESSION_BUS_ADDRESS=",
    ] {
        assert!(!out.stdout.contains(gone), "{gone} left in: {}", out.stdout);
    }
    assert!(out.stdout.contains("OPSCOCKPIT_SESSION="), "{}", out.stdout);
    assert!(
        out.stdout.contains("TMPDIR=/") && out.stdout.contains("opscockpit-agent-"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_through_the_gate_are_marked_confined() {
    let world = World::new();
    let (_gate, cancel) = world.serve("local");
    let mut c = world.cmd();
    c.args([
        "agent",
        "--",
        BIN,
        "propose",
        "--title",
        "from the sandbox",
        "local",
        "--",
        "echo confined",
    ]);
    let inside = tokio::task::spawn_blocking(move || run(c))
        .await
        .expect("join");
    assert_works(&inside, "opscockpit propose through the broker");
    assert!(
        inside.stderr.contains("registered with 1 running cockpit"),
        "{}",
        inside.stderr
    );
    let mut c = world.cmd();
    c.args(["propose", "local", "--", "echo outside"]);
    let outside = tokio::task::spawn_blocking(move || run(c))
        .await
        .expect("join");
    assert_works(&outside, "propose outside the sandbox");
    let mut c = world.cmd();
    c.args(["history", "--json"]);
    let history = tokio::task::spawn_blocking(move || run(c))
        .await
        .expect("join");
    cancel.cancel();
    let rows: Vec<serde_json::Value> = history
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let confined_of = |command: &str| {
        rows.iter()
            .find(|r| r["command"] == command)
            .map(|r| r["confined"].clone())
            .unwrap_or_else(|| panic!("{command} not in history: {}", history.stdout))
    };
    assert_eq!(confined_of("echo confined"), "generic");
    assert_eq!(confined_of("echo outside"), serde_json::Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opscockpit_mcp_starts_inside_the_sandbox() {
    let world = World::new();
    // The config dir is out of reach: mcp must start without it.
    world.world_readable(&world.config_dir().join("config.toml"), "");
    let (_gate, cancel) = world.serve("web");
    let mut c = world.cmd();
    c.args(["agent", "--", BIN, "mcp"]).stdin(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = c.spawn().expect("agent mcp");
        let requests = concat!(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
            "\n",
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            "\n",
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_hosts","arguments":{}}}"#,
            "\n",
        );
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            stdin.write_all(requests.as_bytes()).expect("requests");
            // Closing stdin ends the server after its answers.
        }
        child.wait_with_output().expect("mcp output")
    })
    .await
    .expect("join");
    cancel.cancel();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\"id\":2") && stdout.contains("web"),
        "list_hosts must answer with the running cockpit: {stdout} / {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_reports_this_kernel() {
    let world = World::new();
    let mut c = world.cmd();
    c.args(["agent", "--check"]);
    let out = run(c);
    assert_works(&out, "--check");
    assert!(out.stdout.contains("Landlock ABI: "), "{}", out.stdout);
    assert!(
        out.stdout.contains("seccomp user notification: yes"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("can confine agents here"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("claude (min_abi 4, udp open): enforceable here"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_profile_this_kernel_cannot_enforce_refuses_to_start() {
    let world = World::new();
    let dir = world.config_dir().join("agent-profiles");
    std::fs::create_dir_all(&dir).expect("profiles dir");
    std::fs::write(dir.join("future.toml"), "min_abi = 99\n").expect("profile");
    let marker = world.project().join("ran");
    let mut c = world.cmd();
    c.args(["agent", "--profile", "future", "--", "touch"])
        .arg(&marker);
    let out = run(c);
    assert_eq!(out.code, 125, "{}", out.stderr);
    assert!(
        out.stderr.contains("refusing to start") && out.stderr.contains("ABI 99"),
        "{}",
        out.stderr
    );
    assert!(!marker.exists(), "the command must not have run");
    let mut c = world.cmd();
    c.args([
        "agent",
        "--profile",
        "future",
        "--unconfined",
        "--",
        "touch",
    ])
    .arg(&marker);
    let out = run(c);
    assert_works(&out, "--unconfined");
    assert!(out.stderr.contains("UNCONFINED"), "{}", out.stderr);
    assert!(marker.exists());
}

#[test]
fn a_malformed_profile_names_file_line_and_key() {
    let world = World::new();
    let dir = world.config_dir().join("agent-profiles");
    std::fs::create_dir_all(&dir).expect("profiles dir");
    std::fs::write(
        dir.join("claude.toml"),
        "[network]\nudp = true\nports = [1]\n",
    )
    .expect("profile");
    let mut c = world.cmd();
    c.args(["agent", "--print-profile", "claude"]);
    let out = run(c);
    assert_eq!(out.code, 125);
    assert!(
        out.stderr.contains("claude.toml:3: key `network.ports`"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_cwd_may_not_hold_a_secret_dir() {
    let world = World::new();
    let mut c = world.cmd();
    c.current_dir(world.home()).args(["agent", "--", "true"]);
    let out = run(c);
    assert_eq!(out.code, 125, "{}", out.stderr);
    assert!(out.stderr.contains(".ssh"), "{}", out.stderr);
}
