//! End-to-end, the Runbooks pane from the operator's side: the real binary
//! in tmux opens a runbook from a git repo, proposes step 2 with its
//! placeholder filled, the operator approves it, it runs, and History and
//! `history --json` say which runbook text at which commit it came from.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::tmux::Tmux;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opscockpit"))
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Ada Ops")
        .env("GIT_AUTHOR_EMAIL", "ada@example.org")
        .env("GIT_COMMITTER_NAME", "Ada Ops")
        .env("GIT_COMMITTER_EMAIL", "ada@example.org")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A runbook repo with one runbook whose step 2 touches `marker-<name>`.
fn runbook_repo(home: &Path) -> (PathBuf, String) {
    let repo = home.join("runbooks");
    std::fs::create_dir_all(repo.join("ops")).expect("mkdir");
    let marker_dir = home.display();
    let text = format!(
        "---\ntags: [e2e]\n---\n# Touch a marker\n\n```console\n$ ls {marker_dir}\nrunbooks\n```\n\nThen:\n\n```sh\ntouch {marker_dir}/marker-<name>\n```\n"
    );
    std::fs::write(repo.join("ops/touch.md"), text).expect("write");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "runbook"]);
    let short = git(&repo, &["log", "-1", "--format=%h"]);
    (repo, short)
}

fn until(what: &str, timeout: Duration, check: impl Fn() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_runbook_step_runs_through_the_gate_and_history_names_its_commit() {
    let tmux = Tmux::start(200, 50, &[]);
    let home = tmux.home.path().to_path_buf();
    let (repo, short) = runbook_repo(&home);
    let config_dir = home.join("config/opscockpit");
    std::fs::create_dir_all(&config_dir).expect("config dir");
    std::fs::write(
        config_dir.join("config.toml"),
        format!("[runbooks]\npath = \"{}\"\n", repo.display()),
    )
    .expect("config");
    tmux.type_line(&format!("{} local; echo \"EXITED:$?\"", binary().display()));
    tmux.wait_for("the first frame", Duration::from_secs(20), |s| {
        s.contains("1 Metrics")
    });
    tmux.send(&["5"]);
    tmux.wait_for("the runbook list", Duration::from_secs(5), |s| {
        s.contains("5 Runbooks") && s.contains("Touch a marker") && s.contains(&short)
    });
    tmux.send(&["Enter"]);
    tmux.wait_for("the reader", Duration::from_secs(5), |s| {
        s.contains("step 1/2") && s.contains("▶ step 2")
    });
    tmux.send(&["n"]);
    tmux.wait_for("step 2 selected", Duration::from_secs(5), |s| {
        s.contains("step 2/2")
    });
    tmux.send(&["p"]);
    tmux.wait_for("the placeholder prompt", Duration::from_secs(5), |s| {
        s.contains("Fill in the runbook step") && s.contains("name")
    });
    tmux.send(&["w", "e", "b"]);
    tmux.send(&["Enter"]);
    tmux.wait_for("the proposal", Duration::from_secs(10), |s| {
        s.contains("pending 1")
    });
    tmux.send(&["8"]);
    tmux.wait_for("Actions focused", Duration::from_secs(5), |s| {
        s.contains("┏ 8 Actions")
    });
    tmux.send(&["a"]);
    let popup = tmux.wait_for("the approve popup", Duration::from_secs(5), |s| {
        s.contains("y runs it")
    });
    let marker = home.join("marker-web");
    assert!(
        popup.contains(&format!("touch {}", marker.display())),
        "the popup shows the filled command: {popup}"
    );
    assert!(
        popup.contains(&format!("runbook: ops/touch.md@{short}#step-2")),
        "{popup}"
    );
    assert!(popup.contains("matches runbook"), "{popup}");
    tmux.send(&["y"]);
    until("the step to run", Duration::from_secs(20), || {
        marker.exists()
    });
    tmux.send(&["3"]);
    tmux.wait_for("History", Duration::from_secs(5), |s| {
        s.contains("succeeded")
    });
    tmux.send(&["Enter"]);
    tmux.wait_for("the provenance in History", Duration::from_secs(5), |s| {
        s.contains(&format!("runbook: ops/touch.md@{short}#step-2"))
    });
    let out = tmux.client(
        &binary(),
        &["history", "--json", "--runbook", "ops/touch.md"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let rb = &rows[0]["runbook"];
    assert_eq!(rb["path"], "ops/touch.md");
    assert_eq!(rb["commit"], short.as_str());
    assert_eq!(rb["step"], 2);
    assert_eq!(rb["matches"], true);
    assert_eq!(rb["modified"], false);
    assert_eq!(rb["step_sha256"].as_str().map(str::len), Some(64));
    let other = tmux.client(
        &binary(),
        &["history", "--json", "--runbook", "ops/other.md"],
    );
    assert!(String::from_utf8_lossy(&other.stdout).trim().is_empty());
    // An agent's claim that differs from the step is marked so.
    let out = tmux.client(
        &binary(),
        &[
            "propose",
            "local",
            "--agent",
            "e2e",
            "--runbook",
            "ops/touch.md#step-2",
            "--",
            "rm -rf /tmp/nothing-here",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tmux.send(&["8"]);
    tmux.wait_for("the agent's proposal", Duration::from_secs(10), |s| {
        s.contains("pending 1")
    });
    tmux.send(&["a"]);
    tmux.wait_for("differs, with the diff", Duration::from_secs(5), |s| {
        s.contains("differs from runbook") && s.contains("+ rm -rf /tmp/nothing-here")
    });
    tmux.send(&["Escape"]);
}
