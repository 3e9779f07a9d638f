//! `opscockpit hook claude` with hook inputs in Claude Code's documented
//! PreToolUse shape, against the real binary and a cockpit in tmux.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::tmux::Tmux;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opscockpit"))
}

fn hook_input(command: &str) -> String {
    serde_json::json!({
        "session_id": "s1",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": "/tmp",
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": command, "description": "check the host", "timeout": 120000},
        "tool_use_id": "toolu_1"
    })
    .to_string()
}

/// Runs the hook in the tmux session's private environment.
fn run_hook(tmux: &Tmux, stdin: &str) -> (Output, Duration) {
    let mut cmd = Command::new(binary());
    cmd.env_clear();
    for pair in tmux.env_args() {
        if let Some((k, v)) = pair.split_once('=') {
            cmd.env(k, v);
        }
    }
    let started = Instant::now();
    let mut child = cmd
        .args(["hook", "claude"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hook");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("hook output");
    (out, started.elapsed())
}

fn start_cockpit(tmux: &Tmux) {
    tmux.type_line(&format!("{} local; echo \"EXITED:$?\"", binary().display()));
    tmux.wait_for("the first frame", Duration::from_secs(20), |s| {
        s.contains("1 Metrics")
    });
}

#[test]
fn ssh_to_a_managed_host_becomes_a_gated_action_that_runs_once() {
    let tmux = Tmux::start(140, 40, &[]);
    start_cockpit(&tmux);
    let marker = tmux.home.path().join("runs");
    let (out, took) = run_hook(
        &tmux,
        &hook_input(&format!(
            "ssh -p 22 local 'echo ran >> {}; echo hello-from-hook'",
            marker.display()
        )),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < opscockpit::hook::DEADLINE, "decided in {took:?}");
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("hook JSON");
    let specific = &answer["hookSpecificOutput"];
    assert_eq!(specific["hookEventName"], "PreToolUse");
    assert_eq!(specific["permissionDecision"], "allow");
    let updated = &specific["updatedInput"];
    assert_eq!(updated["timeout"], 600_000, "{updated}");
    assert_eq!(
        updated["description"], "check the host",
        "the rest of tool_input is kept"
    );
    let gated = updated["command"].as_str().expect("command").to_string();
    assert!(
        gated.contains(" propose local --wait --agent claude"),
        "{gated}"
    );
    assert!(gated.contains("--wait-timeout 570s"), "{gated}");

    // Run the rewritten command as Claude Code would: it waits for the
    // operator, runs once, and returns the output and exit code.
    let mut shell = Command::new("sh");
    shell.env_clear();
    for pair in tmux.env_args() {
        if let Some((k, v)) = pair.split_once('=') {
            shell.env(k, v);
        }
    }
    let child = shell
        .args(["-c", &gated])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the rewritten command");
    tmux.wait_for("the proposal", Duration::from_secs(10), |s| {
        s.contains("pending 1")
    });
    assert!(!marker.exists(), "nothing runs before the approval");
    tmux.send(&["8"]);
    tmux.wait_for("Actions", Duration::from_secs(5), |s| {
        s.contains("┏ 8 Actions")
    });
    tmux.send(&["a"]);
    tmux.wait_for("the approve popup", Duration::from_secs(5), |s| {
        s.contains("y runs it")
    });
    tmux.send(&["y"]);
    let result = child.wait_with_output().expect("the gated command ends");
    assert_eq!(
        result.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(String::from_utf8_lossy(&result.stdout).contains("hello-from-hook"));
    assert_eq!(
        std::fs::read_to_string(&marker).expect("ran"),
        "ran\n",
        "exactly once"
    );
    tmux.send(&["q"]);
}

#[test]
fn what_the_hook_does_not_rewrite() {
    let tmux = Tmux::start(140, 40, &[]);
    let config = tmux.home.path().join("config/opscockpit");
    std::fs::create_dir_all(&config).expect("config dir");
    std::fs::write(config.join("config.toml"), "[hosts.web]\n").expect("config");

    // Nothing of ours: passes untouched.
    let (out, _) = run_hook(&tmux, &hook_input("ls -la && git status"));
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (out, _) = run_hook(&tmux, &hook_input("ssh elsewhere uptime"));
    assert_eq!(out.status.code(), Some(0), "an unmanaged host is not ours");
    assert!(out.stdout.is_empty());

    // A configured host without a running cockpit: denied, fix named.
    let (out, _) = run_hook(&tmux, &hook_input("ssh web uptime"));
    assert_eq!(out.status.code(), Some(2));
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(why.contains("no cockpit is running for web"), "{why}");

    // What cannot be rewritten faithfully is denied, pointing to the gate.
    for command in [
        "ssh web",
        "ssh -o ProxyCommand='nc %h %p' web id",
        "ssh -L 5432:localhost:5432 web sleep 60",
        "scp dump.sql web:/tmp/",
        "rsync -a ./site/ web:/srv/site",
        "cd /tmp && ssh web uptime",
        "ssh web 'uptime' | tee out.txt",
        "DOCKER_HOST=ssh://web docker restart app",
        "ssh web \"unbalanced",
    ] {
        let (out, _) = run_hook(&tmux, &hook_input(command));
        let why = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {why}");
        assert!(out.stdout.is_empty(), "{command}");
        assert!(
            why.contains("propose") || why.contains("no cockpit"),
            "{command}: the reason says what to do: {why}"
        );
    }

    // Malformed input and a broken config fail closed (exit 2).
    let (out, _) = run_hook(&tmux, "{not json");
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(config.join("config.toml"), "[hosts.web]\nnot_a_key = 1\n").expect("config");
    let (out, _) = run_hook(&tmux, &hook_input("ssh web uptime"));
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The rewritten command gives up before Claude Code's tool timeout would
/// kill it: nobody decided → cancelled, nothing ran, and it says so.
#[test]
fn no_decision_before_the_deadline_cancels_and_nothing_runs() {
    let tmux = Tmux::start(140, 40, &[]);
    start_cockpit(&tmux);
    let marker = tmux.home.path().join("late");
    let started = Instant::now();
    let out = tmux.client(
        &binary(),
        &[
            "propose",
            "local",
            "--wait",
            "--wait-timeout",
            "2s",
            "--",
            &format!("touch {}", marker.display()),
        ],
    );
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(opscockpit::gate::commands::EXIT_CANCELLED)
    );
    assert!(took < Duration::from_secs(6), "{took:?}");
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(why.contains("nobody decided within 2s"), "{why}");
    tmux.wait_for("pending 0", Duration::from_secs(5), |s| {
        s.contains("pending 0")
    });
    assert!(!marker.exists());
    tmux.send(&["q"]);
}

#[test]
fn print_settings_names_the_hook_the_mcp_server_and_the_managed_variant() {
    let out = Command::new(binary())
        .args(["hook", "claude", "--print-settings"])
        .output()
        .expect("print settings");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for needle in [
        "PreToolUse",
        "\"matcher\": \"Bash\"",
        "hook claude",
        "allowManagedHooksOnly",
        "mcp add",
        "mcpServers",
    ] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }
}
