//! Integration tests of the action gate: the broker socket with real
//! clients (threads and the `opscockpit` binary), the approval paths of
//! `propose --wait`, crash recovery of a killed cockpit process, and audit
//! tampering. Execution here is local (LocalTransport); see the note in
//! `execution_over_ssh` runs an approved action over the bed's sshd.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opscockpit::config::GateConfig;
use opscockpit::gate::audit;
use opscockpit::gate::broker::{self, Request};
use opscockpit::gate::client::Client;
use opscockpit::gate::policy::Policy;
use opscockpit::gate::store::Store;
use opscockpit::gate::{ActionState, Gate, GateEvent, Proposal, db_path};
use opscockpit::transport::local::LocalTransport;
use tokio_util::sync::CancellationToken;

const BIN: &str = env!("CARGO_BIN_EXE_opscockpit");

/// A private world: data, runtime and config dirs under one tempdir.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dir = tempfile::Builder::new()
            .prefix("og")
            .tempdir_in("/tmp")
            .expect("tempdir");
        World { dir }
    }
    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data/opscockpit")
    }
    fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config/opscockpit")
    }
    fn socket(&self, host: &str) -> PathBuf {
        self.dir
            .path()
            .join("run/opscockpit")
            .join(format!("{host}.sock"))
    }
    /// The binary with XDG dirs pointing into this world.
    fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env_remove("OPSCOCKPIT_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }
    /// A gate served in this process, as a cockpit would.
    fn serve(&self, host: &str, config: GateConfig) -> (Gate, CancellationToken) {
        let policy = Policy::load(&self.config_dir()).expect("policy");
        let listener = broker::bind(&self.socket(host), host).expect("bind");
        let gate = Gate::open(
            host,
            &self.data_dir(),
            policy,
            config,
            Arc::new(LocalTransport),
        )
        .expect("open gate");
        let cancel = CancellationToken::new();
        tokio::spawn(broker::serve(gate.clone(), listener, cancel.clone()));
        // The expiry clock, as in the cockpit.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<opscockpit::gate::GateEvent>(4096);
        tokio::spawn(opscockpit::gate::core::run(
            gate.clone(),
            tx,
            cancel.clone(),
        ));
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        (gate, cancel)
    }
    /// The gate alone (no broker), as a cockpit opens it at start.
    fn open_gate(&self, host: &str) -> Gate {
        let policy = Policy::load(&self.config_dir()).expect("policy");
        Gate::open(
            host,
            &self.data_dir(),
            policy,
            GateConfig::default(),
            Arc::new(LocalTransport),
        )
        .expect("open gate")
    }
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn run_child(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || {
        let out = cmd.output().expect("run opscockpit");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("join")
}

/// Waits for the next pending proposal on `gate`; returns it and when it
/// became visible.
async fn next_pending(
    events: &mut tokio::sync::broadcast::Receiver<GateEvent>,
) -> (opscockpit::gate::ActionView, Instant) {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.recv().await {
                Ok(GateEvent::Changed(a)) if a.state == ActionState::Pending => {
                    return (*a, Instant::now());
                }
                Ok(_) => {}
                Err(e) => panic!("gate events: {e}"),
            }
        }
    })
    .await
    .expect("a proposal within 20 s")
}

fn quick_ttl() -> GateConfig {
    GateConfig {
        approve_ttl: Duration::from_secs(2),
        ..GateConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_proposers_are_each_recorded_exactly_once() {
    let world = World::new();
    let (_gate, cancel) = world.serve("web", GateConfig::default());
    let socket = world.socket("web");
    let started = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let mut client = Client::connect(&socket, "web").expect("connect");
                (0..250)
                    .map(|i| {
                        let reply = client
                            .request(&Request::Propose {
                                proposal: Proposal {
                                    command: format!("echo proposer-{t}-{i}"),
                                    agent: format!("agent{t}"),
                                    ..Proposal::default()
                                },
                                wait: false,
                            })
                            .expect("reply");
                        assert!(reply.ok, "{reply:?}");
                        reply.action.expect("action").id
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("thread"))
        .collect();
    let elapsed = started.elapsed();
    eprintln!("2000 proposals through the broker in {elapsed:?}");
    cancel.cancel();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2000);
    let store = Store::open_read_only(&db_path(&world.data_dir())).expect("store");
    let events = store.events(None).expect("events");
    assert_eq!(events.len(), 4000, "proposed + pending for each");
    for id in &ids {
        let kinds: Vec<&str> = events
            .iter()
            .filter(|e| &e.action_id == id)
            .map(|e| e.kind.as_str())
            .collect();
        assert_eq!(kinds, ["proposed", "pending"], "{id}");
    }
    let commands: std::collections::BTreeSet<String> = store
        .history(&Default::default())
        .expect("history")
        .into_iter()
        .map(|a| a.command)
        .collect();
    assert_eq!(commands.len(), 2000, "every proposal exactly once");
    audit::verify(events).expect("chain verifies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propose_wait_approved_runs_once_and_returns_the_exit_code() {
    let world = World::new();
    let (gate, cancel) = world.serve("web", GateConfig::default());
    let mut events = gate.subscribe();
    let marker = world.dir.path().join("ran");
    let mut cmd = world.cmd();
    cmd.args([
        "propose",
        "web",
        "--title",
        "say hello",
        "--agent",
        "claude",
        "--wait",
        "--",
    ])
    .arg(format!(
        "echo run >> {}; echo hello; echo warn >&2; exit 3",
        marker.display()
    ));
    let sent = Instant::now();
    let child = tokio::spawn(run_child(cmd));
    let (action, visible) = next_pending(&mut events).await;
    eprintln!(
        "latency propose (process start) → visible: {:?}",
        visible - sent
    );
    assert_eq!(action.agent, "claude");
    assert_eq!(action.title, "say hello");
    // A changed fingerprint is refused and nothing runs.
    let err = gate
        .approve(&action.id, &"0".repeat(64))
        .expect_err("wrong fp");
    assert_eq!(err.code, "fingerprint_mismatch");
    let approved_at = Instant::now();
    gate.approve(&action.id, &action.fingerprint)
        .expect("approve");
    let first_output = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(GateEvent::Output { .. }) = events.recv().await {
                return Instant::now();
            }
        }
    })
    .await
    .expect("output");
    eprintln!(
        "latency approve → first output of the command: {:?}",
        first_output - approved_at
    );
    // Approving twice is refused: it is no longer pending.
    assert!(gate.approve(&action.id, &action.fingerprint).is_err());
    let out = child.await.expect("child");
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(out.stdout, "hello\n");
    assert!(out.stderr.contains("warn"), "{}", out.stderr);
    let final_view = gate.status(&action.id).expect("status");
    assert_eq!(final_view.state, ActionState::Failed);
    assert_eq!(final_view.exit_code, Some(3));
    let output = gate.output(&action.id).expect("output").expect("stored");
    assert_eq!(output.stdout_total, 6);
    assert_eq!(std::fs::read_to_string(&marker).expect("marker"), "run\n");
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propose_wait_rejected_returns_the_reason() {
    let world = World::new();
    let (gate, cancel) = world.serve("web", GateConfig::default());
    let mut events = gate.subscribe();
    let mut cmd = world.cmd();
    cmd.args([
        "propose",
        "web",
        "--wait",
        "--",
        "systemctl",
        "restart",
        "nginx",
    ]);
    let child = tokio::spawn(run_child(cmd));
    let (action, _) = next_pending(&mut events).await;
    assert_eq!(action.command, "systemctl restart nginx");
    gate.reject(&action.id, "not during the sale")
        .expect("reject");
    assert_eq!(
        gate.reject(&action.id, "again").expect_err("decided").code,
        "invalid_transition",
        "a decided action cannot be decided twice"
    );
    let out = child.await.expect("child");
    assert_eq!(out.code, opscockpit::gate::commands::EXIT_REJECTED);
    assert!(out.stderr.contains("not during the sale"), "{}", out.stderr);
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propose_wait_expired_and_nothing_runs() {
    let world = World::new();
    let (gate, cancel) = world.serve("web", quick_ttl());
    let mut events = gate.subscribe();
    let marker = world.dir.path().join("ran");
    let mut cmd = world.cmd();
    cmd.args(["propose", "web", "--wait", "--"])
        .arg(format!("touch {}", marker.display()));
    let child = tokio::spawn(run_child(cmd));
    let (action, _) = next_pending(&mut events).await;
    let proposed = std::time::Instant::now();
    let out = child.await.expect("child");
    assert_eq!(
        out.code,
        opscockpit::gate::commands::EXIT_EXPIRED,
        "{}",
        out.stderr
    );
    // Expired when its 2 s were up (the timer on the earliest expiry), not
    // at the next look-around 30 s later.
    let waited = proposed.elapsed();
    assert!(
        waited < Duration::from_secs(6),
        "expired after {waited:?} for a 2 s limit"
    );
    // Too late to approve now.
    assert!(gate.approve(&action.id, &action.fingerprint).is_err());
    assert!(!marker.exists());
    cancel.cancel();
}

/// A hostile agent floods proposals to keep the gate busy: each one
/// re-arms the expiry timer, but only ever to the earliest expiry, so the
/// first proposal still expires when its 2 s are up and nothing runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_proposals_does_not_postpone_an_earlier_expiry() {
    let world = World::new();
    let (gate, cancel) = world.serve("web", quick_ttl());
    let socket = world.socket("web");
    let first = {
        let socket = socket.clone();
        tokio::task::spawn_blocking(move || {
            let mut client = Client::connect(&socket, "web").expect("connect");
            let propose = |client: &mut Client, command: String| {
                let reply = client
                    .request(&Request::Propose {
                        proposal: Proposal {
                            command,
                            agent: "flooder".into(),
                            ..Proposal::default()
                        },
                        wait: false,
                    })
                    .expect("reply");
                assert!(reply.ok, "{reply:?}");
                reply.action.expect("action").id
            };
            let first = propose(&mut client, "echo first".into());
            let started = Instant::now();
            let mut i = 0;
            // Proposals keep arriving for 4 s, past the first one's limit.
            while started.elapsed() < Duration::from_secs(4) {
                propose(&mut client, format!("echo flood-{i}"));
                i += 1;
            }
            first
        })
        .await
        .expect("flooder")
    };
    // By id among the expired ones: thousands of newer proposals push the
    // first out of the history's latest rows.
    let expired = gate
        .history_matching(&opscockpit::gate::store::HistoryFilter {
            state: Some(ActionState::Expired),
            ..Default::default()
        })
        .expect("history")
        .into_iter()
        .find(|a| a.id == first)
        .unwrap_or_else(|| panic!("the first proposal {first} expired during the flood"));
    assert_eq!(
        expired.state,
        ActionState::Expired,
        "expired while the flood went on: {expired:?}"
    );
    assert!(expired.started_at.is_none(), "nothing ran: {expired:?}");
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propose_wait_cancelled_by_its_proposer() {
    let world = World::new();
    let (gate, cancel) = world.serve("web", GateConfig::default());
    let mut events = gate.subscribe();
    let mut cmd = world.cmd();
    cmd.args(["propose", "web", "--wait", "--", "make deploy"]);
    let child = tokio::spawn(run_child(cmd));
    let (action, _) = next_pending(&mut events).await;
    let socket = world.socket("web");
    let id = action.id.clone();
    let reply = tokio::task::spawn_blocking(move || {
        let mut client = Client::connect(&socket, "web").expect("connect");
        client.request(&Request::Cancel { id }).expect("reply")
    })
    .await
    .expect("join");
    assert!(reply.ok, "{reply:?}");
    let out = child.await.expect("child");
    assert_eq!(
        out.code,
        opscockpit::gate::commands::EXIT_CANCELLED,
        "{}",
        out.stderr
    );
    assert_eq!(
        gate.status(&action.id).expect("s").state,
        ActionState::Cancelled
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_deny_is_returned_to_the_proposer() {
    let world = World::new();
    let (_gate, cancel) = world.serve("web", GateConfig::default());
    let mut cmd = world.cmd();
    cmd.args(["propose", "web", "--wait", "--", "rm -rf /"]);
    let out = run_child(cmd).await;
    assert_eq!(out.code, opscockpit::gate::commands::EXIT_BLOCKED);
    assert!(out.stderr.contains("never allowed"), "{}", out.stderr);
    cancel.cancel();
}

#[tokio::test]
async fn no_cockpit_means_refused() {
    let world = World::new();
    let mut cmd = world.cmd();
    cmd.args(["propose", "nowhere", "--", "uptime"]);
    let out = run_child(cmd).await;
    assert_eq!(out.code, opscockpit::gate::commands::EXIT_NO_COCKPIT);
    assert!(out.stderr.contains("opscockpit nowhere"), "{}", out.stderr);
    assert!(
        !db_path(&world.data_dir()).exists(),
        "a client never creates the database"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_answers_garbage_with_errors_and_keeps_serving() {
    let world = World::new();
    let (_gate, cancel) = world.serve("web", GateConfig::default());
    let socket = world.socket("web");
    let mode = std::fs::metadata(&socket).expect("socket").permissions();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.mode() & 0o777, 0o600);
    let replies = tokio::task::spawn_blocking(move || {
        let ask = |line: &[u8]| -> String {
            let mut s = UnixStream::connect(&socket).expect("connect");
            // The broker may close an oversized request before reading it all.
            let _ = s.write_all(line);
            let _ = s.write_all(b"\n");
            let mut r = BufReader::new(s);
            let mut reply = String::new();
            r.read_line(&mut reply).expect("read");
            reply
        };
        vec![
            ask(b"{not json"),
            ask(br#"{"v":1,"op":"approve","id":"x"}"#),
            ask(br#"{"v":7,"op":"list_pending"}"#),
            ask(&vec![b'a'; 70 * 1024]),
            ask(b"\xff\xfe"),
            ask(br#"{"v":1,"op":"list_pending"}"#),
        ]
    })
    .await
    .expect("join");
    for (reply, code) in replies.iter().zip([
        "bad_json",
        "unknown_op",
        "unsupported_version",
        "too_large",
        "bad_json",
    ]) {
        assert!(reply.contains(&format!("\"code\":\"{code}\"")), "{reply}");
    }
    assert!(replies[5].contains("\"ok\":true"), "{}", replies[5]);
    cancel.cancel();
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn killed_cockpit_leaves_the_action_uncertain_and_never_reruns_it() {
    let world = World::new();
    std::fs::create_dir_all(world.config_dir()).expect("config dir");
    // Auto tier for this one script, so the headless cockpit runs it.
    std::fs::write(
        world.config_dir().join("policy.toml"),
        "[[rules]]\nname = \"test-script\"\ntier = \"auto\"\nglob = \"sh */act.sh\"\n",
    )
    .expect("policy");
    let script = world.dir.path().join("act.sh");
    let runs = world.dir.path().join("runs");
    let pid_file = world.dir.path().join("pid");
    std::fs::write(
        &script,
        format!(
            "echo run >> {}\necho $$ > {}\nexec sleep 30\n",
            runs.display(),
            pid_file.display()
        ),
    )
    .expect("script");
    let serve = |world: &World| {
        let mut c = world.cmd();
        c.args(["gate-serve", "box"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = c.spawn().expect("gate-serve");
        let socket = world.socket("box");
        wait_for("the cockpit socket", Duration::from_secs(20), || {
            UnixStream::connect(&socket).is_ok()
        });
        child
    };
    let mut cockpit = serve(&world);
    let out = world
        .cmd()
        .args(["propose", "box", "--"])
        .arg(format!("sh {}", script.display()))
        .output()
        .expect("propose");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    wait_for("the action to start", Duration::from_secs(20), || {
        std::fs::read_to_string(&runs).is_ok_and(|s| s.lines().count() == 1)
    });
    cockpit.kill().expect("kill -9");
    cockpit.wait().expect("reap");
    let mut cockpit = serve(&world);
    let out = world
        .cmd()
        .args(["history", "--json", "--host", "box"])
        .output()
        .expect("history");
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let view: opscockpit::gate::ActionView =
        serde_json::from_str(line.lines().next().expect("one action")).expect("json");
    assert_eq!(view.id, id);
    assert_eq!(view.state, ActionState::Uncertain);
    assert!(
        view.error
            .as_deref()
            .is_some_and(|e| e.contains("may or may not"))
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        std::fs::read_to_string(&runs)
            .expect("runs")
            .lines()
            .count(),
        1,
        "the action ran again after the restart"
    );
    let verify = world
        .cmd()
        .args(["audit", "verify"])
        .output()
        .expect("verify");
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    // Clean up: the orphaned sleep and the second cockpit.
    if let Ok(pid) = std::fs::read_to_string(&pid_file)
        && let Ok(pid) = pid.trim().parse::<i32>()
    {
        // SAFETY: kill(2) on the pid our own script wrote.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    // SAFETY: SIGTERM to the child we started.
    unsafe { libc::kill(cockpit.id() as i32, libc::SIGTERM) };
    let _ = cockpit.wait();
}

/// A database with a few recorded actions (12 events).
async fn recorded_world() -> World {
    let world = World::new();
    let (gate, cancel) = world.serve("web", GateConfig::default());
    for i in 0..4 {
        let a = gate
            .propose(Proposal {
                command: format!("systemctl restart app{i}"),
                ..Proposal::default()
            })
            .expect("propose");
        gate.reject(&a.id, "no").expect("reject");
    }
    cancel.cancel();
    drop(gate);
    world
}

fn tamper(world: &World, sql: &str) {
    let conn = rusqlite::Connection::open(db_path(&world.data_dir())).expect("open");
    conn.execute_batch(&format!(
        "DROP TRIGGER events_append_only_update; DROP TRIGGER events_append_only_delete; {sql}"
    ))
    .expect("tamper");
}

fn verify_output(world: &World, extra: &[&str]) -> (i32, String) {
    let out = world
        .cmd()
        .args(["audit", "verify"])
        .args(extra)
        .output()
        .expect("verify");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_catches_edit_delete_and_reorder_at_the_right_seq() {
    let world = recorded_world().await;
    let (code, out) = verify_output(&world, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("12 events"), "{out}");

    // Export verifies on its own, and a tampered export does not.
    let export = world.dir.path().join("export.ndjson");
    let status = world
        .cmd()
        .args(["audit", "export", "-o"])
        .arg(&export)
        .status()
        .expect("export");
    assert!(status.success());
    let (code, out) = verify_output(&world, &["--file", export.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{out}");
    let text = std::fs::read_to_string(&export).expect("read");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.swap(4, 5);
    std::fs::write(&export, lines.join("\n")).expect("write");
    let (code, out) = verify_output(&world, &["--file", export.to_str().expect("utf8")]);
    assert_eq!(code, 1);
    assert!(out.contains("BROKEN at seq 5"), "{out}");

    let edited = recorded_world().await;
    tamper(
        &edited,
        "UPDATE events SET data = '{\"reason\":\"yes\"}' WHERE seq = 3;",
    );
    let (code, out) = verify_output(&edited, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("BROKEN at seq 3"), "{out}");

    let deleted = recorded_world().await;
    tamper(&deleted, "DELETE FROM events WHERE seq = 7;");
    let (code, out) = verify_output(&deleted, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("BROKEN at seq 7"), "{out}");

    let reordered = recorded_world().await;
    tamper(
        &reordered,
        "UPDATE events SET seq = -1 WHERE seq = 8; UPDATE events SET seq = 8 WHERE seq = 9; UPDATE events SET seq = 9 WHERE seq = -1;",
    );
    let (code, out) = verify_output(&reordered, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("BROKEN at seq 8"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_times_out_and_kills_the_command() {
    let world = World::new();
    let (gate, cancel) = world.serve("web", GateConfig::default());
    let marker = world.dir.path().join("late");
    let a = gate
        .propose(Proposal {
            command: format!("sleep 5; touch {}", marker.display()),
            timeout_secs: Some(1),
            ..Proposal::default()
        })
        .expect("propose");
    gate.approve(&a.id, &a.fingerprint).expect("approve");
    let done = gate
        .wait(&a.id, Some(Duration::from_secs(20)))
        .await
        .expect("wait");
    assert_eq!(done.state, ActionState::Failed);
    assert!(
        done.error
            .as_deref()
            .is_some_and(|e| e.contains("timed out")),
        "{done:?}"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!marker.exists(), "the timed-out command kept running");
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execution_over_ssh() {
    use opscockpit::transport::ssh::{SshOptions, SshTransport};
    let Some(ssh_config) = std::env::var_os("OPSCOCKPIT_BED_SSH_CONFIG") else {
        eprintln!("OPSCOCKPIT_BED unset: skipping execution over the bed's sshd");
        return;
    };
    let (transport, _) = SshTransport::connect(
        "testbed",
        SshOptions {
            config_file: Some(PathBuf::from(ssh_config)),
            overrides: None,
            prompter: None,
            without_ssh_binary: false,
        },
    )
    .await
    .expect("the bed's sshd accepts the bed's key");
    let world = World::new();
    let policy = Policy::load(&world.config_dir()).expect("policy");
    let gate = Gate::open(
        "testbed",
        &world.data_dir(),
        policy,
        GateConfig::default(),
        Arc::new(transport),
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

    // The command runs as the bed's ssh user, in its home: proof it ran
    // over SSH and not locally as the test's user.
    let marker = format!("/tmp/opscockpit-gate-ssh-{}", std::process::id());
    let a = gate
        .propose(Proposal {
            command: format!("id -un; touch {marker}; echo err >&2; exit 4"),
            ..Proposal::default()
        })
        .expect("propose");
    gate.approve(&a.id, &a.fingerprint).expect("approve");
    let done = gate
        .wait(&a.id, Some(Duration::from_secs(30)))
        .await
        .expect("wait");
    assert_eq!(done.state, ActionState::Failed, "{done:?}");
    assert_eq!(done.exit_code, Some(4));
    let detail = gate.detail(&a.id).expect("detail");
    let text = format!("{detail:?}");
    let user = std::env::var("OPSCOCKPIT_BED_SSH_USER").unwrap_or_else(|_| "opsbed".into());
    assert!(text.contains(&user), "stdout names the remote user: {text}");
    let meta = std::fs::metadata(&marker).expect("the command ran on the bed (same machine)");
    use std::os::unix::fs::MetadataExt;
    assert_ne!(
        meta.uid(),
        0,
        "created by the bed's unprivileged ssh user, not root"
    );
    let _ = std::fs::remove_file(&marker);
    cancel.cancel();
}

/// Waits until `id` reaches `state` on `gate` (polling the store).
async fn until_state(gate: &Gate, id: &str, state: ActionState) -> opscockpit::gate::ActionView {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let view = gate.status(id).expect("status");
            if view.state == state {
                return view;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{id} never became {}", state.name()))
}

/// A proposer killed (SIGKILL) or interrupted (SIGINT, Ctrl-C) while it
/// waits will never see the result: its proposal is cancelled, says why,
/// and cannot be approved any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_proposer_that_goes_away_cancels_its_proposal() {
    let world = World::new();
    let (gate, cancel) = world.serve("web", GateConfig::default());
    let mut events = gate.subscribe();
    for signal in [libc::SIGKILL, libc::SIGINT] {
        let mut cmd = world.cmd();
        cmd.args(["propose", "web", "--wait", "--agent", "flaky", "--"])
            .arg(format!("echo never-{signal}"));
        // A suite started in the background by a shell without job control
        // inherits SIGINT ignored (POSIX); the proposer must get it as a
        // user's Ctrl-C would, or `wait` below never returns.
        // SAFETY: signal(2) between fork and exec, async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("propose --wait");
        let (action, _) = next_pending(&mut events).await;
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, signal) };
        let _ = child.wait();
        let view = until_state(&gate, &action.id, ActionState::Cancelled).await;
        assert_eq!(
            view.decision_reason.as_deref(),
            Some(opscockpit::gate::core::CANCELLED_PROPOSER_GONE),
            "signal {signal}"
        );
        let err = gate
            .approve(&action.id, &action.fingerprint)
            .expect_err("not approvable");
        assert_eq!(err.code, "invalid_transition");
    }
    assert!(gate.list_pending().expect("pending").is_empty());
    cancel.cancel();
}

/// Retries of the same proposal by the same agent are merged and counted;
/// every waiter gets the one result. A different agent is a different
/// proposal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_retries_are_merged_and_counted() {
    let world = World::new();
    let (gate, cancel) = world.serve("web", GateConfig::default());
    let socket = world.socket("web");
    let ids = tokio::task::spawn_blocking(move || {
        let mut client = Client::connect(&socket, "web").expect("connect");
        let mut propose = |agent: &str| {
            let reply = client
                .request(&Request::Propose {
                    proposal: Proposal {
                        command: "systemctl restart web".into(),
                        title: "restart web".into(),
                        agent: agent.into(),
                        ..Proposal::default()
                    },
                    wait: false,
                })
                .expect("reply");
            assert!(reply.ok, "{reply:?}");
            reply.action.expect("action")
        };
        let first = propose("claude");
        let second = propose("claude");
        let third = propose("claude");
        let other = propose("codex");
        (first, second, third, other)
    })
    .await
    .expect("join");
    let (first, second, third, other) = ids;
    assert_eq!(first.id, second.id);
    assert_eq!(first.id, third.id);
    assert_eq!(third.repeats, 2, "two retries counted");
    assert_ne!(first.id, other.id, "another agent's proposal is its own");
    assert_eq!(gate.list_pending().expect("pending").len(), 2);
    assert_eq!(gate.status(&first.id).expect("status").repeats, 2);
    cancel.cancel();
}

/// Quitting cancels what waits (the waiting proposer hears it), and a
/// cockpit started after a crash never revives a pending proposal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_pending_outlives_its_cockpit() {
    let world = World::new();
    let (gate, cancel) = world.serve("web", GateConfig::default());
    let mut events = gate.subscribe();
    let mut cmd = world.cmd();
    cmd.args(["propose", "web", "--wait", "--", "echo left-behind"]);
    let child = tokio::spawn(run_child(cmd));
    let (action, _) = next_pending(&mut events).await;
    let cancelled = gate
        .cancel_all_pending("cockpit", opscockpit::gate::core::CANCELLED_BY_SHUTDOWN)
        .expect("cancel at shutdown");
    assert_eq!(cancelled, 1);
    let out = child.await.expect("child");
    assert_eq!(out.code, opscockpit::gate::commands::EXIT_CANCELLED);
    assert!(
        out.stderr.contains("cancelled by shutdown"),
        "{}",
        out.stderr
    );
    assert_eq!(
        gate.status(&action.id)
            .expect("status")
            .decided_by
            .as_deref(),
        Some("cockpit")
    );
    cancel.cancel();
    drop(gate);

    // A proposal left pending by a cockpit that died (no shutdown ran).
    let gate = world.open_gate("web");
    let left = gate
        .propose(Proposal {
            command: "echo orphan".into(),
            ..Proposal::default()
        })
        .expect("propose");
    drop(gate);
    let gate = world.open_gate("web");
    let view = gate.status(&left.id).expect("status");
    assert_eq!(view.state, ActionState::Cancelled);
    assert_eq!(
        view.decision_reason.as_deref(),
        Some(opscockpit::gate::core::CANCELLED_RESTART)
    );
    assert!(gate.list_pending().expect("pending").is_empty());
    let verify = world
        .cmd()
        .args(["audit", "verify"])
        .output()
        .expect("verify");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

/// No secret value reaches the proposer or the history: the output is
/// masked before it is returned and stored, and the count is in the chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_values_in_output_are_masked_for_the_proposer_and_the_history() {
    let world = World::new();
    let (gate, cancel) = world.serve("web", GateConfig::default());
    let mut events = gate.subscribe();
    let mut cmd = world.cmd();
    cmd.args(["propose", "web", "--wait", "--"]).arg(
        "printf 'DB_PASSWORD=hunter2-value\\n\"Env\": [\"STRIPE_KEY=sk_live_abcdef\", \"MODE=prod\"]\\nuser=me\\n'",
    );
    let child = tokio::spawn(run_child(cmd));
    let (action, _) = next_pending(&mut events).await;
    gate.approve(&action.id, &action.fingerprint)
        .expect("approve");
    let out = child.await.expect("child");
    assert_eq!(out.code, 0, "{}", out.stderr);
    for secret in ["hunter2-value", "sk_live_abcdef", "MODE=prod"] {
        assert!(
            !out.stdout.contains(secret),
            "{secret} reached the proposer: {}",
            out.stdout
        );
    }
    assert!(
        out.stdout.contains("DB_PASSWORD=***") && out.stdout.contains("user=me"),
        "{}",
        out.stdout
    );
    let stored = gate.output(&action.id).expect("output").expect("stored");
    assert!(
        !stored.stdout.contains("hunter2-value"),
        "{}",
        stored.stdout
    );
    let store = Store::open_read_only(&db_path(&world.data_dir())).expect("store");
    let events = store.events(Some(&action.id)).expect("events");
    let ended = events.last().expect("an end event");
    let data: serde_json::Value = serde_json::from_str(&ended.data).expect("event data");
    assert_eq!(data["masked"], 3, "{data}");
    assert!(
        !ended.data.contains("hunter2"),
        "the end event carries counts and hashes, not the output"
    );
    cancel.cancel();
}

/// The head anchored in `anchor.log` (seq), once it reaches `seq`.
fn wait_anchored(world: &World, seq: i64) {
    let path = opscockpit::gate::anchor::local_path(&world.data_dir());
    wait_for("the head anchored", Duration::from_secs(10), || {
        std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| opscockpit::gate::anchor::newest(&t).0)
            .is_some_and(|a| a.seq >= seq)
    });
}

/// Two rejected proposals and one that ran and printed, with the head
/// anchored; returns the world and the id of the one that ran.
async fn anchored_world() -> (World, String) {
    let world = World::new();
    let (gate, cancel) = world.serve("web", GateConfig::default());
    for i in 0..2 {
        let a = gate
            .propose(Proposal {
                command: format!("systemctl restart app{i}"),
                ..Proposal::default()
            })
            .expect("propose");
        gate.reject(&a.id, "no").expect("reject");
    }
    let ran = gate
        .propose(Proposal {
            command: "printf 'all good\\n' && printf 'to stderr\\n' >&2".into(),
            ..Proposal::default()
        })
        .expect("propose");
    if ran.state == ActionState::Pending {
        gate.approve(&ran.id, &ran.fingerprint).expect("approve");
    }
    until_state(&gate, &ran.id, ActionState::Succeeded).await;
    let head = {
        let store = Store::open_read_only(&db_path(&world.data_dir())).expect("store");
        store.head().expect("head").expect("events").0
    };
    wait_anchored(&world, head);
    cancel.cancel();
    drop(gate);
    (world, ran.id)
}

fn history_json(world: &World) -> Vec<serde_json::Value> {
    let out = world
        .cmd()
        .args(["history", "--json"])
        .output()
        .expect("history");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("history line is JSON"))
        .collect()
}

/// What History shows is what the chain vouches for: an edited actions or
/// outputs row, a forged row and a cut tail are each reported by `audit
/// verify` (saying what), marked in `history --json`, and found by the
/// cockpit's own check at start; an untouched history holds everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_rows_forged_rows_and_a_cut_tail_are_reported() {
    let (intact, _) = anchored_world().await;
    let (code, out) = verify_output(&intact, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("anchor ok"), "{out}");
    assert!(
        history_json(&intact)
            .iter()
            .all(|a| a.get("tampered").is_none())
    );

    // The command and title of a finished action rewritten.
    let (edited, id) = anchored_world().await;
    tamper(
        &edited,
        &format!(
            "UPDATE actions SET command = 'echo harmless', title = 'nothing' WHERE id = '{id}';"
        ),
    );
    let (code, out) = verify_output(&edited, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "TAMPERED action {id}: actions row differs from the chain in command, title"
        )),
        "{out}"
    );
    assert!(
        out.contains("chain intact"),
        "the chain itself holds: {out}"
    );
    let rows = history_json(&edited);
    let row = rows.iter().find(|a| a["id"] == id.as_str()).expect("row");
    assert!(
        row["tampered"]
            .as_str()
            .expect("marked")
            .contains("command"),
        "{row}"
    );
    assert_eq!(
        rows.iter().filter(|a| a.get("tampered").is_some()).count(),
        1,
        "only the edited row is marked"
    );

    // Its stored output rewritten.
    let (edited, id) = anchored_world().await;
    tamper(
        &edited,
        &format!(
            "UPDATE outputs SET stdout = CAST('nothing happened' AS BLOB) WHERE action_id = '{id}';"
        ),
    );
    let (code, out) = verify_output(&edited, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("outputs row differs from the chain in stdout_stored_sha256"),
        "{out}"
    );

    // A row nobody proposed.
    let (forged, id) = anchored_world().await;
    tamper(
        &forged,
        &format!(
            "INSERT INTO actions SELECT 'forged1', host, state, tier, rule, 'rm -rf /', cwd, timeout_secs, title, reason, agent, risk, fingerprint, created_at, expires_at, decided_at, decided_by, decision_reason, started_at, ended_at, exit_code, signal, error, stdout_total, stderr_total, confined, runbook, outcome FROM actions WHERE id = '{id}';"
        ),
    );
    let (code, out) = verify_output(&forged, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("TAMPERED action forged1: not in the chain"),
        "{out}"
    );

    // The newest events deleted: the rest is a valid chain, the anchor
    // is not fooled.
    let (cut, _) = anchored_world().await;
    let head = Store::open_read_only(&db_path(&cut.data_dir()))
        .expect("store")
        .head()
        .expect("head")
        .expect("events")
        .0;
    tamper(
        &cut,
        &format!("DELETE FROM events WHERE seq > {};", head - 2),
    );
    let (code, out) = verify_output(&cut, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("chain intact"), "{out}");
    assert!(
        out.contains("ANCHOR MISMATCH") && out.contains("the newest 2 events were deleted"),
        "{out}"
    );
    // The local anchor file deleted as well: the host's copy still says so.
    std::fs::remove_file(opscockpit::gate::anchor::local_path(&cut.data_dir())).expect("rm");
    let (_, out) = verify_output(&cut, &[]);
    assert!(
        !out.contains("ANCHOR MISMATCH"),
        "no local anchor any more: {out}"
    );
    let first = Store::open_read_only(&db_path(&cut.data_dir()))
        .expect("store")
        .first_hash()
        .expect("first")
        .expect("some");
    let host_copy =
        std::env::var("HOME").expect("HOME") + "/" + &opscockpit::gate::anchor::remote_path(&first);
    let (code, out) = verify_output(&cut, &["--anchor", &host_copy]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the newest 2 events were deleted"), "{out}");

    // The cockpit checks at start and says so.
    let gate = cut.open_gate("web");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<GateEvent>(64);
    let cancel = CancellationToken::new();
    tokio::spawn(opscockpit::gate::core::run(gate, tx, cancel.clone()));
    let integrity = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match rx.recv().await {
                Some(GateEvent::Integrity(problem)) => return problem,
                Some(_) => {}
                None => panic!("gate run ended"),
            }
        }
    })
    .await
    .expect("an integrity verdict");
    cancel.cancel();
    let problem = integrity.expect("broken");
    assert!(problem.contains("cut or rewritten"), "{problem}");
    let _ = std::fs::remove_file(&host_copy);
}

/// One request on its own connection; the reply line ("" when closed).
fn ask_raw(socket: &std::path::Path, line: &[u8]) -> String {
    let mut s = UnixStream::connect(socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    // The broker may close an oversized request before reading it all.
    let _ = s.write_all(line);
    let _ = s.write_all(b"\n");
    let mut r = BufReader::new(s);
    let mut reply = String::new();
    let _ = r.read_line(&mut reply);
    reply
}

/// Hostile clients each get an error or are closed, and everyone else is
/// still served: a line over 1 MiB, wrong JSON types, a client that never
/// writes, a hundred clients at once; then a normal proposal works and the
/// history verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_survives_hostile_clients() {
    let world = World::new();
    let config = GateConfig {
        client_idle: Duration::from_secs(1),
        ..GateConfig::default()
    };
    let (gate, cancel) = world.serve("web", config);
    let socket = world.socket("web");
    let report = tokio::task::spawn_blocking(move || {
        let mut replies = Vec::new();
        replies.push(("too_large", ask_raw(&socket, &vec![b'{'; 1536 * 1024])));
        for line in [
            &br#"{"v":1,"op":"propose","proposal":{"command":42}}"#[..],
            br#"{"v":1,"op":"propose","proposal":"rm -rf /"}"#,
            br#"{"v":"1","op":"list_pending"}"#,
            br#"{"v":1,"op":["list_pending"]}"#,
            br#"{"v":1,"op":"status","id":7}"#,
            br#"{"v":1,"op":"wait","id":"x","timeout_secs":-1}"#,
            b"[]",
            b"null",
        ] {
            replies.push(("error", ask_raw(&socket, line)));
        }
        // Connected and silent: told so and closed, about when configured.
        let silent = UnixStream::connect(&socket).expect("connect");
        silent
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let started = Instant::now();
        let mut r = BufReader::new(silent);
        let mut idle = String::new();
        let _ = r.read_line(&mut idle);
        let idle_after = started.elapsed();
        let mut rest = String::new();
        let closed = matches!(r.read_line(&mut rest), Ok(0));
        // A hundred at once, all connected before any asks.
        let mut crowd: Vec<UnixStream> = (0..100)
            .map(|_| UnixStream::connect(&socket).expect("connect"))
            .collect();
        for s in &mut crowd {
            s.write_all(b"{\"v\":1,\"op\":\"list_pending\"}\n")
                .expect("write");
        }
        let crowd_ok = crowd
            .into_iter()
            .filter(|s| {
                let mut line = String::new();
                let mut r = BufReader::new(s.try_clone().expect("clone"));
                r.read_line(&mut line).is_ok() && line.contains("\"ok\":true")
            })
            .count();
        (replies, idle, idle_after, closed, crowd_ok)
    })
    .await
    .expect("join");
    let (replies, idle, idle_after, closed, crowd_ok) = report;
    for (want, reply) in &replies {
        assert!(reply.contains("\"ok\":false"), "{want}: {reply}");
        if *want == "too_large" {
            assert!(reply.contains("\"code\":\"too_large\""), "{reply}");
        }
    }
    assert!(idle.contains("\"code\":\"idle\""), "{idle}");
    assert!(idle_after < Duration::from_secs(5), "{idle_after:?}");
    assert!(closed, "the silent client is closed after its error");
    assert_eq!(crowd_ok, 100, "every one of a hundred clients is served");

    // Everyone else is still served, and nothing of that reached the history.
    let socket = world.socket("web");
    let proposal = tokio::task::spawn_blocking(move || {
        let mut client = Client::connect(&socket, "web").expect("connect");
        client
            .request(&Request::Propose {
                proposal: Proposal {
                    command: "systemctl restart web".into(),
                    ..Proposal::default()
                },
                wait: false,
            })
            .expect("reply")
    })
    .await
    .expect("join");
    assert!(proposal.ok, "{proposal:?}");
    let store = Store::open_read_only(&db_path(&world.data_dir())).expect("store");
    assert_eq!(
        store.history(&Default::default()).expect("history").len(),
        1
    );
    drop(gate);
    cancel.cancel();
    let (code, out) = verify_output(&world, &[]);
    assert_eq!(code, 0, "{out}");
}

/// More clients than `max_clients` at once: the rest are told `busy`, and
/// served again once a slot is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_beyond_the_limit_are_told_busy() {
    let world = World::new();
    let config = GateConfig {
        max_clients: 3,
        ..GateConfig::default()
    };
    let (_gate, cancel) = world.serve("web", config);
    let socket = world.socket("web");
    let (busy, after) = tokio::task::spawn_blocking(move || {
        let held: Vec<UnixStream> = (0..3)
            .map(|_| UnixStream::connect(&socket).expect("connect"))
            .collect();
        // The broker takes the held ones in its own time: ask until it
        // has (bounded), so that the answer is about the limit.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut busy = String::new();
        while Instant::now() < deadline && !busy.contains("busy") {
            busy = ask_raw(&socket, br#"{"v":1,"op":"list_pending"}"#);
        }
        drop(held);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut after = String::new();
        while Instant::now() < deadline && !after.contains("\"ok\":true") {
            after = ask_raw(&socket, br#"{"v":1,"op":"list_pending"}"#);
        }
        (busy, after)
    })
    .await
    .expect("join");
    assert!(busy.contains("\"code\":\"busy\""), "{busy}");
    assert!(after.contains("\"ok\":true"), "{after}");
    cancel.cancel();
}

/// Eight proposers, each running `opscockpit propose` fifty times: every
/// proposal recorded exactly once, the chain intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_binaries_proposing_fifty_times_each_are_recorded_once() {
    let world = World::new();
    let (gate, cancel) = world.serve("web", GateConfig::default());
    let world = Arc::new(world);
    let proposers: Vec<_> = (0..8)
        .map(|t| {
            let world = world.clone();
            std::thread::spawn(move || {
                (0..50)
                    .filter(|i| {
                        world
                            .cmd()
                            .args(["propose", "web", "--agent", &format!("p{t}"), "--"])
                            .arg(format!("systemctl restart app-{t}-{i}"))
                            .output()
                            .is_ok_and(|o| o.status.success())
                    })
                    .count()
            })
        })
        .collect();
    let accepted: usize = proposers
        .into_iter()
        .map(|p| p.join().expect("proposer"))
        .sum();
    assert_eq!(accepted, 400);
    let store = Store::open_read_only(&db_path(&world.data_dir())).expect("store");
    let commands: Vec<String> = store
        .history(&Default::default())
        .expect("history")
        .into_iter()
        .map(|a| a.command)
        .collect();
    let distinct: std::collections::BTreeSet<&String> = commands.iter().collect();
    assert_eq!(commands.len(), 400, "each recorded once");
    assert_eq!(distinct.len(), 400);
    drop(gate);
    cancel.cancel();
    let (code, out) = verify_output(&world, &[]);
    assert_eq!(code, 0, "{out}");
}

/// A bed container started with secret environment values: `docker
/// inspect` of it through the gate returns them masked to `propose --wait`,
/// and the history holds them masked; what is not secret stays readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_inspect_of_a_bed_container_reaches_nobody_unmasked() {
    if std::env::var_os("OPSCOCKPIT_BED").is_none() {
        eprintln!("OPSCOCKPIT_BED unset: skipping (source /tmp/opscockpit-bed/env)");
        return;
    }
    let socket = std::env::var("OPSCOCKPIT_BED_DOCKER_SOCKET").expect("bed socket");
    let image = std::env::var("OPSCOCKPIT_BED_IMAGE")
        .unwrap_or_else(|_| "localhost/bed-busybox:latest".into());
    let name = format!("gate-secret-{}", std::process::id());
    let docker = |args: &[&str]| {
        Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{socket}"))
            .args(args)
            .output()
            .expect("docker CLI")
    };
    let run = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        "--pull=never",
        "--env",
        "DB_PASSWORD=hunter2-bed-secret",
        "--env",
        "STRIPE_KEY=sk_live_bedsecret0123456789abcd",
        "--env",
        "SESSION_COOKIE=opaque-bed-value",
        "--env",
        "MODE=production",
        &image,
        "sleep",
        "300",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    struct Gone<'a>(&'a dyn Fn(&[&str]) -> std::process::Output, String);
    impl Drop for Gone<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["rm", "-f", &self.1]);
        }
    }
    let _gone = Gone(&docker, name.clone());

    let world = World::new();
    let (gate, cancel) = world.serve("web", GateConfig::default());
    let mut events = gate.subscribe();
    let mut cmd = world.cmd();
    cmd.args(["propose", "web", "--wait", "--", "docker", "-H"])
        .arg(format!("unix://{socket}"))
        .args(["inspect", &name]);
    let child = tokio::spawn(run_child(cmd));
    let (action, _) = next_pending(&mut events).await;
    gate.approve(&action.id, &action.fingerprint)
        .expect("approve");
    let out = child.await.expect("child");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&name),
        "it is the inspect output: {}",
        out.stdout
    );
    let secrets = [
        "hunter2-bed-secret",
        "sk_live_bedsecret",
        "opaque-bed-value",
        "MODE=production",
    ];
    for secret in secrets {
        assert!(
            !out.stdout.contains(secret),
            "{secret} reached the proposer"
        );
    }
    assert!(out.stdout.contains("\"DB_PASSWORD=***\""), "{}", out.stdout);
    let stored = gate.output(&action.id).expect("output").expect("stored");
    let history = history_json(&world);
    for secret in secrets {
        assert!(!stored.stdout.contains(secret), "{secret} stored");
        assert!(
            !history.iter().any(|h| h.to_string().contains(secret)),
            "{secret} in history --json"
        );
    }
    cancel.cancel();
}

/// An outcome recorded for a finished action is in `history --json` and
/// in the chain, which `audit verify` still finds whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_outcome_is_in_history_json_and_the_chain_holds() {
    use opscockpit::outcome::{Window, WindowData};
    let world = World::new();
    let (gate, cancel) = world.serve("web", GateConfig::default());
    let a = gate
        .propose(Proposal {
            command: "echo restarted".into(),
            ..Proposal::default()
        })
        .expect("propose");
    if a.state == ActionState::Pending {
        gate.approve(&a.id, &a.fingerprint).expect("approve");
    }
    until_state(&gate, &a.id, ActionState::Succeeded).await;
    let window = |from, to| WindowData {
        window: Window { from, to },
        ..WindowData::default()
    };
    let outcome = opscockpit::outcome::compare(&window(0, 20), &window(21, 41), "echo", 20, None);
    gate.handle(opscockpit::gate::GateRequest::RecordOutcome {
        id: a.id.clone(),
        outcome: Box::new(outcome.clone()),
    });
    assert!(
        gate.record_outcome(&a.id, &outcome).is_err(),
        "a second record is refused"
    );
    cancel.cancel();
    drop(gate);
    let out = world
        .cmd()
        .args(["history", "--json", "--host", "web"])
        .output()
        .expect("history");
    let text = String::from_utf8_lossy(&out.stdout);
    let row: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|v: &serde_json::Value| v["id"] == a.id.as_str())
        .expect("the action in history --json");
    assert_eq!(row["outcome"]["verdict"]["kind"], "no_data", "{row}");
    assert_eq!(row["outcome"]["window_secs"], 20, "{row}");
    assert!(row.get("tampered").is_none(), "{row}");
    let (code, report) = verify_output(&world, &[]);
    assert_eq!(code, 0, "{report}");
}

/// `propose --wait --outcome` prints the output, then waits for the
/// recorded outcome and prints its verdict; the exit code stays the
/// command's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propose_wait_outcome_prints_the_verdict_after_the_output() {
    use opscockpit::outcome::{Window, WindowData};
    let world = World::new();
    let (gate, cancel) = world.serve("web", GateConfig::default());
    let mut events = gate.subscribe();
    let mut cmd = world.cmd();
    cmd.args([
        "propose",
        "web",
        "--wait",
        "--outcome",
        "--",
        "echo restarted",
    ]);
    let child = tokio::spawn(run_child(cmd));
    let (action, _) = next_pending(&mut events).await;
    gate.approve(&action.id, &action.fingerprint)
        .expect("approve");
    until_state(&gate, &action.id, ActionState::Succeeded).await;
    let window = |from, to| WindowData {
        window: Window { from, to },
        ..WindowData::default()
    };
    let outcome = opscockpit::outcome::compare(&window(0, 20), &window(21, 41), "echo", 20, None);
    gate.record_outcome(&action.id, &outcome).expect("record");
    let out = tokio::time::timeout(Duration::from_secs(20), child)
        .await
        .expect("the proposer ends once the outcome is recorded")
        .expect("child");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "restarted\noutcome: ? no data: nothing was observed in both windows\n"
    );
    cancel.cancel();
}
