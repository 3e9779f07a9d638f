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

/// Writes a config and starts the cockpit on `target` in tmux.
fn start_cockpit(tmux: &Tmux, config: &str, target: &str) {
    let path = tmux.home.path().join("config.toml");
    std::fs::write(&path, config).expect("config");
    tmux.type_line(&format!(
        "{} --config {} {target}; echo \"EXITED:$?\"",
        binary().display(),
        path.display()
    ));
    tmux.wait_for("the first frame", Duration::from_secs(30), |s| {
        s.contains("1 Metrics")
    });
}

/// The rows of `history --json` (for `--runbook PATH`).
fn history_rows(tmux: &Tmux, runbook: &str) -> Vec<serde_json::Value> {
    let out = tmux.client(&binary(), &["history", "--json", "--runbook", runbook]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
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
    // The pane's own proposal opens its approval popup at once.
    let popup = tmux.wait_for("the approve popup", Duration::from_secs(10), |s| {
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

/// `P` proposes the steps one after another and stops at the first that
/// fails: step 2 exits 3, so step 3 is never proposed, and the pane says
/// why.
#[test]
fn capital_p_stops_at_the_failing_step() {
    let tmux = Tmux::start(200, 50, &[]);
    let home = tmux.home.path().to_path_buf();
    let repo = home.join("runbooks");
    std::fs::create_dir_all(&repo).expect("mkdir");
    let (m1, m3) = (home.join("m1"), home.join("m3"));
    std::fs::write(
        repo.join("three.md"),
        format!(
            "# Three steps\n\n```sh\ntouch {}\n```\n\n```sh\necho step-two-fails; exit 3\n```\n\n```sh\ntouch {}\n```\n",
            m1.display(),
            m3.display()
        ),
    )
    .expect("write");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "runbook"]);
    start_cockpit(
        &tmux,
        &format!("[runbooks]\npath = \"{}\"\n", repo.display()),
        "local",
    );
    tmux.send(&["5"]);
    tmux.wait_for("the list", Duration::from_secs(5), |s| {
        s.contains("Three steps")
    });
    tmux.send(&["Enter"]);
    tmux.wait_for("the reader", Duration::from_secs(5), |s| {
        s.contains("step 1/3")
    });
    tmux.send(&["P"]);
    tmux.wait_for("step 1's popup", Duration::from_secs(10), |s| {
        s.contains("y runs it") && s.contains(&format!("touch {}", m1.display()))
    });
    tmux.send(&["y"]);
    until("step 1 to run", Duration::from_secs(20), || m1.exists());
    // Step 1 succeeded: step 2 follows by itself, with its own popup.
    tmux.wait_for("step 2's popup", Duration::from_secs(20), |s| {
        s.contains("y runs it") && s.contains("echo step-two-fails; exit 3")
    });
    tmux.send(&["y"]);
    let stopped = tmux.wait_for("P to stop", Duration::from_secs(20), |s| {
        s.contains("stopped at step 2")
    });
    assert!(
        stopped.contains("not proposed"),
        "the pane says the rest was not proposed: {stopped}"
    );
    assert!(
        !stopped.contains("y runs it"),
        "no popup for step 3: {stopped}"
    );
    // Given time to (wrongly) go on, nothing more is proposed or run.
    let rows = history_rows(&tmux, "three.md");
    let steps: Vec<(u64, String)> = rows
        .iter()
        .map(|r| {
            (
                r["runbook"]["step"].as_u64().unwrap_or(0),
                r["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(steps.len(), 2, "{rows:?}");
    assert!(steps.contains(&(1, "succeeded".into())), "{steps:?}");
    assert!(steps.contains(&(2, "failed".into())), "{steps:?}");
    let pending = tmux.client(&binary(), &["actions"]);
    assert!(
        !String::from_utf8_lossy(&pending.stdout).contains("touch"),
        "step 3 is not pending either"
    );
    assert!(!m3.exists());
    tmux.send(&["q"]);
}

/// The bed's SSH user's home (the bed's host is this machine).
fn bed_home(user: &str) -> PathBuf {
    let out = Command::new("getent")
        .args(["passwd", user])
        .output()
        .expect("getent");
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    PathBuf::from(line.split(':').nth(5).expect("a home"))
}

/// The runbook repo on the host (`runbooks_remote`), over the cockpit's SSH
/// session: the list and the reader come from the host's checkout, step 2
/// with its placeholder filled (and quoted) runs on the host after
/// approval, History and `history --json` name `PATH@COMMIT#step-2` as the
/// host's git knows it, and a commit on the host shows up without a
/// restart, the reader staying on its runbook.
#[test]
fn a_runbook_repo_on_the_host_over_ssh() {
    let Some(ssh_config) = std::env::var_os("OPSCOCKPIT_BED_SSH_CONFIG") else {
        eprintln!("OPSCOCKPIT_BED unset: skipping the remote runbook repo test");
        return;
    };
    let user = std::env::var("OPSCOCKPIT_BED_SSH_USER").unwrap_or_else(|_| "opsbed".into());
    // The host's side: a checkout in the SSH user's home, owned by them.
    let base = bed_home(&user).join(format!(".opscockpit-rb-{}", std::process::id()));
    let repo = base.join("runbooks");
    std::fs::create_dir_all(repo.join("ops")).expect("mkdir");
    let marker_dir = base.display();
    std::fs::write(
        repo.join("ops/touch.md"),
        format!(
            "---\nhosts: [testbed]\n---\n# Touch a marker on the host\n\n```console\n$ id -un\n{user}\n```\n\n```sh\ntouch {marker_dir}/marker-<name> && id -un > {marker_dir}/ran-as\n```\n"
        ),
    )
    .expect("write");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "runbook"]);
    let short = git(&repo, &["log", "-1", "--format=%h"]);
    // git refuses a checkout another user owns: the test commits as
    // itself, then hands the checkout to the SSH user.
    let chown = |owner: &str| {
        let status = Command::new("chown")
            .args(["-R", &format!("{owner}:"), &base.display().to_string()])
            .status()
            .expect("chown");
        assert!(status.success());
    };
    chown(&user);

    let tmux = Tmux::start(200, 50, &[]);
    let relative = repo.strip_prefix(bed_home(&user)).expect("in the home");
    start_cockpit(
        &tmux,
        &format!(
            "[hosts.testbed]\nnetdata = false\nhost_socket = \"\"\nrunbooks_remote = \"~/{}\"\n",
            relative.display()
        ),
        &format!("-F {} testbed", PathBuf::from(&ssh_config).display()),
    );
    tmux.send(&["5"]);
    tmux.wait_for("the host's runbooks", Duration::from_secs(30), |s| {
        s.contains("Touch a marker on the host") && s.contains(&short)
    });
    tmux.send(&["Enter"]);
    tmux.wait_for("the reader", Duration::from_secs(5), |s| {
        s.contains("step 1/2")
    });
    tmux.send(&["n"]);
    tmux.send(&["p"]);
    tmux.wait_for("the placeholder prompt", Duration::from_secs(5), |s| {
        s.contains("Fill in the runbook step")
    });
    tmux.send(&["-l", "web two"]);
    tmux.send(&["Enter"]);
    let popup = tmux.wait_for("the approve popup", Duration::from_secs(20), |s| {
        s.contains("y runs it")
    });
    let marker = base.join("marker-web two");
    assert!(
        popup.contains(&format!("touch {marker_dir}/marker-'web two'")),
        "the value is quoted as one word: {popup}"
    );
    assert!(
        popup.contains(&format!("runbook: ops/touch.md@{short}#step-2")),
        "{popup}"
    );
    assert!(
        popup.contains("matches runbook"),
        "checked against the host's checkout: {popup}"
    );
    tmux.send(&["y"]);
    until(
        "the step to run on the host",
        Duration::from_secs(30),
        || marker.exists(),
    );
    let ran_as = std::fs::read_to_string(base.join("ran-as")).unwrap_or_default();
    assert_eq!(ran_as.trim(), user, "ran over SSH as the bed's user");
    tmux.send(&["3"]);
    tmux.wait_for("History", Duration::from_secs(10), |s| {
        s.contains("succeeded")
    });
    tmux.send(&["Enter"]);
    tmux.wait_for("the provenance in History", Duration::from_secs(5), |s| {
        s.contains(&format!("runbook: ops/touch.md@{short}#step-2"))
    });
    let rows = history_rows(&tmux, "ops/touch.md");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let rb = &rows[0]["runbook"];
    assert_eq!(rb["commit"], short.as_str());
    assert_eq!(rb["step"], 2);
    assert_eq!(rb["matches"], true);
    assert_eq!(rb["modified"], false);

    // History → runbook into the host's checkout: the name is taken, so
    // the draft goes beside it, and nothing is overwritten.
    tmux.escape();
    tmux.send(&["Space"]);
    tmux.wait_for("the row marked", Duration::from_secs(5), |s| {
        s.contains("1 marked")
    });
    tmux.send(&[":"]);
    tmux.send(&["-l", "runbook-draft ops/touch"]);
    tmux.send(&["Enter"]);
    tmux.wait_for(
        "the draft written on the host",
        Duration::from_secs(20),
        |s| s.contains("exists and was left alone") && s.contains("ops/touch-2.md"),
    );
    let draft =
        std::fs::read_to_string(repo.join("ops/touch-2.md")).expect("the draft on the host");
    assert!(draft.contains("marker-'web two'"), "{draft}");
    assert!(
        std::fs::read_to_string(repo.join("ops/touch.md"))
            .expect("r")
            .contains("# Touch a marker on the host"),
        "the runbook itself is untouched"
    );
    // A new step committed on the host: the open reader follows it.
    tmux.send(&["5"]);
    tmux.wait_for("back in the reader", Duration::from_secs(5), |s| {
        s.contains("step 2/2")
    });
    chown("root");
    let path = repo.join("ops/touch.md");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(
        &path,
        format!("{text}\nAnd check:\n\n```sh\nls {marker_dir}\n```\n"),
    )
    .expect("write");
    git(&repo, &["commit", "-q", "-am", "a third step"]);
    let newer = git(&repo, &["log", "-1", "--format=%h"]);
    chown(&user);
    tmux.wait_for(
        "the new commit read over SSH",
        Duration::from_secs(30),
        |s| s.contains("step 2/3"),
    );
    tmux.send(&["Escape"]);
    tmux.wait_for(
        "the list with the new commit",
        Duration::from_secs(5),
        |s| s.contains(&newer),
    );
    // An agent's claim is checked against the host's checkout too (from
    // the broker's side of the gate).
    let out = tmux.client(
        &binary(),
        &[
            "propose",
            "testbed",
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
    tmux.wait_for("the agent's proposal", Duration::from_secs(20), |s| {
        s.contains("pending 1")
    });
    tmux.send(&["a"]);
    tmux.wait_for("differs, with the diff", Duration::from_secs(10), |s| {
        s.contains("differs from runbook") && s.contains("+ rm -rf /tmp/nothing-here")
    });
    tmux.escape();
    tmux.send(&["q"]);
    let _ = std::fs::remove_dir_all(&base);
}
