//! End-to-end, the gate from the operator's side: the real binary in tmux.
//! Keys act only on what the screen shows, the queue tells the truth about
//! retries and expiries, and nothing pending disappears silently at quit.

use std::path::PathBuf;
use std::time::Duration;

mod common;
use common::tmux::Tmux;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opscockpit"))
}

fn start_cockpit(tmux: &Tmux) {
    tmux.type_line(&format!("{} local; echo \"EXITED:$?\"", binary().display()));
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

fn resize(tmux: &Tmux, width: u16, height: u16) {
    let ok = tmux
        .cmd(&[
            "resize-window",
            "-t",
            "e2e",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ])
        .status()
        .expect("resize")
        .success();
    assert!(ok, "tmux resize-window");
}

fn history_json(tmux: &Tmux) -> Vec<serde_json::Value> {
    let out = tmux.client(&binary(), &["history", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Array(rows)) => rows,
        _ => text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
    }
}

/// At 70×20 and with the popup open while the window shrinks, Enter, `a` and
/// `y` do nothing to the queue; back at full size it is still pending and
/// the marker file was never written.
#[test]
fn keys_behind_the_too_small_screen_act_on_nothing() {
    let tmux = Tmux::start(120, 40, &[]);
    start_cockpit(&tmux);
    let marker = tmux.home.path().join("ran");
    propose(
        &tmux,
        "touch marker",
        &format!("touch {}", marker.display()),
    );
    tmux.wait_for("pending 1", Duration::from_secs(10), |s| {
        s.contains("pending 1")
    });
    tmux.send(&["8"]);
    tmux.wait_for("Actions focused", Duration::from_secs(5), |s| {
        s.contains("┏ 8 Actions")
    });
    resize(&tmux, 70, 20);
    tmux.wait_for("too small", Duration::from_secs(5), |s| {
        s.contains("terminal too small")
    });
    for key in ["Enter", "a", "y", "Enter", "y"] {
        tmux.send(&[key]);
    }
    tmux.wait_for("the reason", Duration::from_secs(5), |s| {
        s.contains("that key does nothing")
    });
    resize(&tmux, 120, 40);
    tmux.wait_for("the full layout", Duration::from_secs(5), |s| {
        s.contains("┏ 8 Actions")
    });
    tmux.send(&["a"]);
    tmux.wait_for("the approve popup", Duration::from_secs(5), |s| {
        s.contains("y runs it")
    });
    resize(&tmux, 70, 20);
    tmux.wait_for("too small again", Duration::from_secs(5), |s| {
        s.contains("terminal too small")
    });
    tmux.send(&["y"]);
    std::thread::sleep(Duration::from_millis(500));
    resize(&tmux, 120, 40);
    tmux.wait_for("still pending", Duration::from_secs(5), |s| {
        s.contains("pending 1")
    });
    assert!(!marker.exists(), "nothing ran behind the too-small screen");
    tmux.send(&["Escape"]);
    // Quit with a pending proposal: asked; any other key stays; y quits and
    // records it as cancelled by shutdown.
    tmux.send(&["q"]);
    tmux.wait_for("the quit question", Duration::from_secs(5), |s| {
        s.contains("Quitting cancels")
    });
    tmux.send(&["n"]);
    tmux.wait_for("still running", Duration::from_secs(5), |s| {
        s.contains("not quitting") && s.contains("pending 1")
    });
    tmux.send(&["q"]);
    tmux.wait_for("the quit question", Duration::from_secs(5), |s| {
        s.contains("Quitting cancels")
    });
    tmux.send(&["y"]);
    tmux.wait_for("exit", Duration::from_secs(10), |s| s.contains("EXITED:0"));
    let rows = history_json(&tmux);
    let row = rows
        .iter()
        .find(|r| r["title"] == "touch marker")
        .unwrap_or_else(|| panic!("the proposal is in the history: {rows:?}"));
    assert_eq!(row["state"], "cancelled", "{row}");
    assert!(
        row["decision_reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("cancelled by shutdown")),
        "{row}"
    );
    assert!(!marker.exists());
}

/// Three identical retries queue once, counted; after `y` on one proposal
/// the selection is on the next and typed text goes into its popup; the
/// rejection arrives with its typed reason.
#[test]
fn retries_merge_and_decisions_move_on_to_the_next_proposal() {
    let tmux = Tmux::start(140, 40, &[]);
    start_cockpit(&tmux);
    for _ in 0..3 {
        propose(&tmux, "first", "echo first-ran");
    }
    propose(&tmux, "second", "echo second-ran");
    tmux.send(&["8"]);
    let screen = tmux.wait_for("both proposals", Duration::from_secs(10), |s| {
        s.contains("pending 2") && s.contains("second")
    });
    assert!(screen.contains("(×3) first"), "retries counted:\n{screen}");
    tmux.send(&["Enter"]);
    tmux.wait_for("the detail", Duration::from_secs(5), |s| {
        s.contains("echo first-ran")
    });
    tmux.send(&["a"]);
    tmux.wait_for("the approve popup", Duration::from_secs(5), |s| {
        s.contains("y runs it")
    });
    tmux.send(&["y"]);
    tmux.send(&["r"]);
    tmux.wait_for(
        "the reject popup of the next one",
        Duration::from_secs(5),
        |s| s.contains("Why?"),
    );
    tmux.send(&["-l", "ay not now"]);
    tmux.send(&["Enter"]);
    tmux.wait_for("nothing pending", Duration::from_secs(10), |s| {
        s.contains("pending 0")
    });
    tmux.send(&["3"]);
    let history = tmux.wait_for("History", Duration::from_secs(10), |s| {
        s.contains("rejected") && s.contains("succeeded")
    });
    assert!(
        history
            .lines()
            .any(|l| l.contains("rejected") && l.contains("operator") && l.contains("second")),
        "{history}"
    );
    let rows = history_json(&tmux);
    let second = rows
        .iter()
        .find(|r| r["title"] == "second")
        .expect("second in history");
    assert_eq!(second["decision_reason"], "ay not now", "{second}");
    assert_eq!(
        rows.iter().filter(|r| r["title"] == "first").count(),
        1,
        "the retries were one proposal"
    );
    tmux.send(&["q"]);
    tmux.wait_for("exit", Duration::from_secs(10), |s| s.contains("EXITED:0"));
}

/// An expiry is announced on screen; nothing ran.
#[test]
fn an_expiry_is_announced_not_silent() {
    let tmux = Tmux::start(140, 40, &[]);
    let config = tmux.home.path().join("config/opscockpit");
    std::fs::create_dir_all(&config).expect("config dir");
    std::fs::write(config.join("config.toml"), "[gate]\napprove_ttl = \"3s\"\n").expect("config");
    start_cockpit(&tmux);
    propose(&tmux, "too slow", "echo expired-ran");
    tmux.wait_for("pending 1", Duration::from_secs(10), |s| {
        s.contains("pending 1")
    });
    let screen = tmux.wait_for("the expiry", Duration::from_secs(15), |s| {
        s.contains("1 expired") && s.contains("nobody decided")
    });
    assert!(screen.contains("pending 0"), "{screen}");
    tmux.send(&["8"]);
    tmux.wait_for("seen", Duration::from_secs(5), |s| !s.contains("1 expired"));
    tmux.send(&["q"]);
    tmux.wait_for("exit", Duration::from_secs(10), |s| s.contains("EXITED:0"));
}

/// The confirm tier names the word to type (the alias the cockpit was
/// started with) and accepts it; the machine's own hostname, shown in the
/// header, is refused.
#[test]
fn the_confirm_popup_accepts_the_alias_it_shows() {
    let tmux = Tmux::start(140, 40, &[]);
    start_cockpit(&tmux);
    let victim = tmux.home.path().join("victim");
    std::fs::create_dir_all(victim.join("sub")).expect("victim dir");
    propose(
        &tmux,
        "remove victim",
        &format!("rm -r {}", victim.display()),
    );
    tmux.send(&["8"]);
    tmux.wait_for("the proposal", Duration::from_secs(10), |s| {
        s.contains("CONFIRM") && s.contains("remove victim")
    });
    tmux.send(&["a"]);
    tmux.wait_for("the confirm popup", Duration::from_secs(5), |s| {
        s.contains("type local to run it")
    });
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "vm".into());
    if hostname != "local" {
        tmux.send(&["-l", &hostname]);
        tmux.send(&["Enter"]);
        tmux.wait_for("refused", Duration::from_secs(5), |s| {
            s.contains("type local exactly")
        });
        assert!(victim.exists(), "a wrong word runs nothing");
        tmux.send(&["C-u"]);
    }
    tmux.send(&["-l", "local"]);
    tmux.send(&["Enter"]);
    tmux.wait_for("approved", Duration::from_secs(10), |s| {
        s.contains("pending 0")
    });
    let start = std::time::Instant::now();
    while victim.exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!victim.exists(), "the confirmed command ran");
    tmux.send(&["q"]);
    tmux.wait_for("exit", Duration::from_secs(10), |s| s.contains("EXITED:0"));
}

/// Nothing is approved unseen: a 300-line command cannot be approved until
/// the popup was scrolled to its end; too long a title is refused at once.
#[test]
fn a_tall_command_must_be_scrolled_through_before_y() {
    let tmux = Tmux::start(120, 40, &[]);
    start_cockpit(&tmux);
    let marker = tmux.home.path().join("tall");
    let mut command: String = (1..=299).map(|i| format!("echo line-{i}\n")).collect();
    command.push_str(&format!("touch {}", marker.display()));
    propose(&tmux, "tall one", &command);
    let long_title = "t".repeat(201);
    let out = tmux.client(
        &binary(),
        &["propose", "local", "--title", &long_title, "--", "true"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("longer than 200"));
    tmux.send(&["8"]);
    tmux.wait_for("Actions", Duration::from_secs(10), |s| {
        s.contains("┏ 8 Actions")
    });
    tmux.send(&["a"]);
    tmux.wait_for("the popup", Duration::from_secs(5), |s| {
        s.contains("the command (300 lines)") && s.contains("scroll to the end")
    });
    tmux.send(&["y"]);
    tmux.wait_for("refused", Duration::from_secs(5), |s| {
        s.contains("scroll to the end of the command first")
    });
    for _ in 0..32 {
        tmux.send(&["PageDown"]);
    }
    tmux.wait_for("the end", Duration::from_secs(5), |s| {
        s.contains("line-299")
    });
    tmux.send(&["y"]);
    tmux.wait_for("ran", Duration::from_secs(10), |s| s.contains("pending 0"));
    let start = std::time::Instant::now();
    while !marker.exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(marker.exists(), "approved after scrolling, it ran");
    tmux.send(&["q"]);
}
