//! End-to-end: the real binary in a real terminal (tmux), driven by keys and
//! read back with capture-pane.

use std::path::{Path, PathBuf};

mod common;
use common::tmux::Tmux;
use std::process::Command;
use std::time::Duration;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opscockpit"))
}

/// The CPU figure on the Metrics pane's CPU row (`CPU   12.3%`).
fn cpu_figure(screen: &str) -> Option<String> {
    screen.lines().find_map(|line| {
        let rest = line.split("┃ CPU").nth(1)?;
        let figure = rest.split_whitespace().next()?;
        figure.ends_with('%').then(|| figure.to_string())
    })
}

/// The exit status the shell echoed after the cockpit ended. The typed
/// command line itself contains `EXITED:$?`, never `EXITED:` and a digit; a
/// resize can leave the echo after a prompt, so it is looked for anywhere.
fn echoed_status(screen: &str) -> Option<String> {
    screen.lines().find_map(|l| {
        let rest = &l[l.find("EXITED:")? + "EXITED:".len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        (!digits.is_empty()).then_some(digits)
    })
}

fn exited(screen: &str) -> bool {
    echoed_status(screen).is_some()
}

fn exited_with(screen: &str, code: &str) -> bool {
    echoed_status(screen).as_deref() == Some(code)
}

fn cpu_row(screen: &str) -> Option<String> {
    screen
        .lines()
        .find(|line| line.contains("┃ CPU"))
        .map(str::to_string)
}

fn run_cockpit(tmux: &Tmux, bin: &Path, args: &str) {
    tmux.type_line(&format!("{} {args}; echo \"EXITED:$?\"", bin.display()));
}

#[test]
fn local_cockpit_shows_live_cpu_help_and_restores_the_terminal() {
    let tmux = Tmux::start(100, 30, &[]);
    run_cockpit(&tmux, &binary(), "local");
    let first = tmux.wait_for(
        "the first frame with a CPU figure",
        Duration::from_secs(20),
        |s| cpu_figure(s).is_some(),
    );
    assert!(first.contains("1 Metrics"), "{first}");
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "1",
        "the TUI uses the alternate screen"
    );

    // The figure is live. On a saturated machine the figure itself can sit
    // at 100.0%, so the CPU row (figure and sparkline, which gains a column
    // every few seconds) is what must change.
    let before = cpu_row(&first);
    tmux.wait_for("the CPU row to change", Duration::from_secs(30), |s| {
        let now = cpu_row(s);
        now.is_some() && now != before
    });

    tmux.send(&["?"]);
    let help = tmux.wait_for("the help popup", Duration::from_secs(5), |s| {
        s.contains("Help — Metrics")
    });
    assert!(
        help.contains("quit"),
        "help lists the quit binding:\n{help}"
    );
    assert!(
        help.contains("chart window"),
        "help lists the pane's own bindings:\n{help}"
    );
    tmux.send(&["Escape"]);
    tmux.wait_for("the help to close", Duration::from_secs(5), |s| {
        !s.contains("Help — Metrics")
    });

    tmux.send(&["q"]);
    let shell = tmux.wait_for("the shell to come back", Duration::from_secs(10), |s| {
        exited_with(s, "0")
    });
    assert!(
        !shell.contains("1 Metrics"),
        "the cockpit's screen is gone:\n{shell}"
    );
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "alternate screen left"
    );
    assert_eq!(tmux.display("#{cursor_flag}"), "1", "cursor visible again");
    assert_eq!(
        tmux.display("#{mouse_any_flag}"),
        "0",
        "mouse capture released"
    );
}

#[test]
fn sigterm_restores_the_terminal() {
    let tmux = Tmux::start(100, 30, &[]);
    run_cockpit(&tmux, &binary(), "local");
    tmux.wait_for("the first frame", Duration::from_secs(20), |s| {
        s.contains("1 Metrics")
    });
    let pid = tmux.display("#{pane_pid}");
    // The cockpit is the shell's child.
    let status = Command::new("pkill")
        .args(["-TERM", "-P", &pid, "-x", "opscockpit"])
        .status()
        .expect("pkill");
    assert!(status.success(), "found the cockpit to signal");
    tmux.wait_for("the shell to come back", Duration::from_secs(10), |s| {
        exited(s)
    });
    assert_eq!(tmux.display("#{alternate_on}"), "0");
    assert_eq!(tmux.display("#{cursor_flag}"), "1");
}

#[test]
fn bad_config_is_reported_before_the_tui_with_file_line_and_key() {
    let tmux = Tmux::start(100, 30, &[]);
    let config = tmux.home.path().join("bad.toml");
    std::fs::write(
        &config,
        "theme = \"dark\"\n[hosts.web]\ndocker_sock = \"/x\"\n",
    )
    .expect("write config");
    run_cockpit(
        &tmux,
        &binary(),
        &format!("--config {} local", config.display()),
    );
    let screen = tmux.wait_for("the error", Duration::from_secs(10), exited);
    assert!(
        screen.contains("bad.toml:3: key `hosts.web.docker_sock`"),
        "{screen}"
    );
    assert!(screen.contains("EXITED:1"), "{screen}");
    assert_eq!(tmux.display("#{alternate_on}"), "0");
}

#[test]
fn small_terminal_says_so_and_palette_switches_theme_and_pane() {
    let tmux = Tmux::start(70, 20, &[]);
    run_cockpit(&tmux, &binary(), "local");
    tmux.wait_for("the too-small message", Duration::from_secs(20), |s| {
        s.contains("terminal too small")
    });
    assert!(
        tmux.cmd(&["resize-window", "-t", "e2e", "-x", "100", "-y", "30"])
            .status()
            .expect("resize")
            .success()
    );
    tmux.wait_for("the layout after resize", Duration::from_secs(10), |s| {
        s.contains("1 Metrics")
    });
    tmux.send(&[":"]);
    tmux.send(&["-l", "hist"]);
    tmux.send(&["Tab"]);
    tmux.wait_for("completion", Duration::from_secs(5), |s| {
        s.contains(":history")
    });
    tmux.send(&["Enter"]);
    // History is focused: its title is the one with the thick border.
    tmux.wait_for("history focused", Duration::from_secs(5), |s| {
        s.contains("┏ 2 Logs │ 3 History") || s.contains("3 History ━")
    });
    tmux.send(&["q"]);
    tmux.wait_for("exit", Duration::from_secs(10), |s| exited_with(s, "0"));
}

#[test]
fn ctrl_z_suspends_and_fg_resumes() {
    let tmux = Tmux::start(100, 30, &[]);
    // A job-control shell: bash, interactive.
    tmux.type_line("exec bash --norc -i");
    tmux.type_line("PS1='$ '");
    run_cockpit(&tmux, &binary(), "local");
    tmux.wait_for("the first frame", Duration::from_secs(20), |s| {
        s.contains("1 Metrics")
    });
    tmux.send(&["C-z"]);
    tmux.wait_for("the shell after suspend", Duration::from_secs(10), |s| {
        s.contains("Stopped")
    });
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "terminal given back while suspended"
    );
    assert_eq!(tmux.display("#{cursor_flag}"), "1");
    tmux.type_line("fg");
    tmux.wait_for("the cockpit again", Duration::from_secs(10), |s| {
        s.contains("1 Metrics")
    });
    assert_eq!(tmux.display("#{alternate_on}"), "1");
    tmux.send(&["q"]);
    // The `; echo` already ran at the suspend; after `fg` the shell just
    // shows its prompt again.
    tmux.wait_for("exit", Duration::from_secs(10), |s| {
        !s.contains("1 Metrics") && s.trim_end().ends_with('$')
    });
    assert_eq!(tmux.display("#{alternate_on}"), "0");
}

#[test]
fn a_panic_restores_the_terminal_and_reports() {
    let tmux = Tmux::start(100, 30, &[]);
    tmux.type_line("export OPSCOCKPIT_PANIC_AFTER_FIRST_FRAME=1");
    run_cockpit(&tmux, &binary(), "local");
    let screen = tmux.wait_for("the shell after the panic", Duration::from_secs(20), |s| {
        exited(s)
    });
    assert!(
        screen.contains("panicked") || screen.contains("panic"),
        "{screen}"
    );
    assert!(!screen.contains("EXITED:0"), "{screen}");
    assert_eq!(tmux.display("#{alternate_on}"), "0");
    assert_eq!(tmux.display("#{cursor_flag}"), "1");
    assert_eq!(tmux.display("#{mouse_any_flag}"), "0");
}

#[test]
fn version_and_completions() {
    let out = Command::new(binary())
        .arg("--version")
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("opscockpit "));
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(binary())
            .args(["completions", shell])
            .output()
            .expect("run");
        assert!(out.status.success(), "{shell}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("opscockpit"),
            "{shell}"
        );
    }
}

/// `opscockpit -F BED_SSH_CONFIG testbed`: live metrics from the remote side
/// over the one SSH connection, and the bed's containers.
#[test]
fn testbed_over_ssh_shows_live_remote_metrics_and_containers() {
    let Some(ssh_config) = std::env::var_os("OPSCOCKPIT_BED_SSH_CONFIG") else {
        eprintln!("OPSCOCKPIT_BED unset: skipping the end-to-end test over SSH");
        return;
    };
    let ssh_config = PathBuf::from(ssh_config);
    let tmux = Tmux::start(160, 45, &[]);
    let socket = std::env::var("OPSCOCKPIT_BED_DOCKER_SOCKET").unwrap_or_default();
    let config = tmux.home.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[hosts.testbed]\ndocker_socket = \"{socket}\"\n"),
    )
    .expect("write config");
    run_cockpit(
        &tmux,
        &binary(),
        &format!(
            "--config {} -F {} testbed",
            config.display(),
            ssh_config.display()
        ),
    );
    let first = tmux.wait_for("the first frame over SSH", Duration::from_secs(30), |s| {
        cpu_row(s).is_some()
    });
    assert!(
        first.contains("connected"),
        "header shows the SSH link:\n{first}"
    );
    let before = cpu_row(&first);
    tmux.wait_for("the remote CPU row to move", Duration::from_secs(30), |s| {
        let now = cpu_row(s);
        now.is_some() && now != before
    });
    // The bed runs Netdata on its loopback: reached through the SSH
    // connection (direct-tcpip), it is the live metrics source.
    tmux.wait_for(
        "Netdata over SSH as the metrics source",
        Duration::from_secs(30),
        |s| s.contains("src netdata"),
    );
    tmux.send(&["6"]);
    let containers = tmux.wait_for("the bed's containers", Duration::from_secs(30), |s| {
        s.contains("bed-web")
    });
    assert!(containers.contains("bed-worker"), "{containers}");
    tmux.send(&["q"]);
    tmux.wait_for("exit", Duration::from_secs(10), |s| exited_with(s, "0"));
    assert_eq!(tmux.display("#{alternate_on}"), "0");
}

/// The gate's whole flow in a real terminal: a proposal from a second shell
/// shows in the header, the operator opens it, approves it with the keys,
/// sees the output, and finds it in History.
#[test]
fn gate_flow_propose_approve_output_history() {
    // Tmux::start makes a private 0700 XDG_RUNTIME_DIR for the broker socket.
    let tmux = Tmux::start(120, 40, &[]);
    run_cockpit(&tmux, &binary(), "local");
    tmux.wait_for("the first frame", Duration::from_secs(20), |s| {
        s.contains("1 Metrics")
    });

    let out = tmux.client(
        &binary(),
        &[
            "propose",
            "local",
            "--title",
            "say hello",
            "--reason",
            "e2e test",
            "--agent",
            "e2e-agent",
            "--",
            "echo",
            "hello-from-the-gate",
        ],
    );
    assert!(
        out.status.success(),
        "propose: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tmux.wait_for("the pending count", Duration::from_secs(10), |s| {
        s.contains("pending 1")
    });

    tmux.send(&["8"]);
    tmux.wait_for("Actions focused", Duration::from_secs(5), |s| {
        s.contains("┏ 8 Actions")
    });
    tmux.send(&["z"]); // maximised: the whole detail fits
    tmux.wait_for("Actions maximised", Duration::from_secs(5), |s| {
        !s.contains("1 Metrics")
    });
    tmux.wait_for(
        "the proposal in the Actions pane",
        Duration::from_secs(5),
        |s| s.contains("say hello"),
    );
    tmux.send(&["Enter"]);
    tmux.wait_for("the detail", Duration::from_secs(5), |s| {
        s.contains("echo hello-from-the-gate")
    });
    tmux.send(&["a"]);
    let popup = tmux.wait_for("the approve popup", Duration::from_secs(5), |s| {
        s.contains("y runs it")
    });
    assert!(
        popup.contains("echo hello-from-the-gate"),
        "the popup shows exactly what runs:\n{popup}"
    );
    tmux.send(&["y"]);
    // The decision closes the detail: the queue is what shows next.
    tmux.wait_for("no more pending", Duration::from_secs(10), |s| {
        s.contains("pending 0") && !s.contains("echo hello-from-the-gate")
    });

    tmux.send(&["z"]);
    tmux.wait_for("layout back", Duration::from_secs(5), |s| {
        s.contains("1 Metrics")
    });
    tmux.send(&["3"]);
    let history = tmux.wait_for("the action in History", Duration::from_secs(10), |s| {
        s.contains("say hello") && s.contains("succeeded")
    });
    assert!(history.contains("say hello — echo"), "{history}");
    assert!(
        history
            .lines()
            .any(|l| l.contains("say hello") && l.contains("approve") && l.contains("operator")),
        "History shows the tier and who decided:\n{history}"
    );
    // The detail is long (timeline, outcome, output): give it the screen.
    tmux.send(&["z"]);
    tmux.wait_for("History maximised", Duration::from_secs(5), |s| {
        !s.contains("1 Metrics")
    });
    tmux.send(&["Enter"]);
    tmux.wait_for(
        "the history detail names the proposer and shows the output",
        Duration::from_secs(5),
        |s| {
            s.contains("proposer e2e-agent")
                && s.contains("exit 0")
                && s.lines()
                    .any(|l| l.contains("hello-from-the-gate") && !l.contains("echo"))
        },
    );

    let verify = tmux.client(&binary(), &["audit", "verify"]);
    assert!(
        verify.status.success(),
        "audit verify: {}",
        String::from_utf8_lossy(&verify.stdout)
    );
    tmux.send(&["q"]);
    tmux.wait_for("exit", Duration::from_secs(10), |s| exited_with(s, "0"));
}

/// A hostile proposal: cursor moves, a screen clear, an OSC 52 clipboard
/// write, a title change and a fake `[approved]` are all shown inert.
#[test]
fn hostile_proposal_is_rendered_inert_in_a_real_terminal() {
    let tmux = Tmux::start(120, 40, &[]);
    run_cockpit(&tmux, &binary(), "local");
    tmux.wait_for("the first frame", Duration::from_secs(20), |s| {
        s.contains("1 Metrics")
    });
    let hostile = "echo ok\x1b[2J\x1b[H[approved]\x1b]52;c;cm0gLXJmIH4=\x07\x1b]0;pwned\x07";
    let out = tmux.client(
        &binary(),
        &[
            "propose",
            "local",
            "--title",
            "t\x1b[31mred",
            "--reason",
            "why\x1b[1A",
            "--",
            hostile,
        ],
    );
    assert!(
        out.status.success(),
        "propose: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tmux.send(&["8"]);
    tmux.wait_for("Actions focused", Duration::from_secs(5), |s| {
        s.contains("┏ 8 Actions")
    });
    tmux.send(&["z"]);
    tmux.wait_for("Actions maximised", Duration::from_secs(5), |s| {
        !s.contains("1 Metrics")
    });
    tmux.wait_for("the proposal", Duration::from_secs(10), |s| {
        s.contains("t␛[31mred")
    });
    tmux.send(&["Enter"]);
    // The list row already shows the command: wait for the reason, which
    // only the detail shows.
    let detail = tmux.wait_for("the detail", Duration::from_secs(5), |s| {
        s.contains("why␛[1A")
    });
    assert!(
        detail.contains("␛[2J␛[H[approved]␛]52;c;cm0gLXJmIH4=␇␛]0;pwned␇"),
        "{detail}"
    );
    assert!(detail.contains("why␛[1A"), "{detail}");
    // The terminal itself was not touched: title unchanged, screen intact.
    assert_ne!(tmux.display("#{pane_title}"), "pwned");
    assert!(
        detail.contains("8 Actions"),
        "the frame is still drawn:\n{detail}"
    );
    tmux.send(&["Escape"]);
    // Still pending: quitting asks first, and the question is inert too.
    tmux.send(&["q"]);
    tmux.wait_for("the quit question", Duration::from_secs(5), |s| {
        s.contains("Quitting cancels")
    });
    tmux.send(&["y"]);
    tmux.wait_for("exit", Duration::from_secs(10), |s| exited_with(s, "0"));
}

/// The gate on the host: while the cockpit is connected over SSH, an agent
/// on the host proposes through the socket in the SSH user's home; the
/// proposal shows as coming from the host and runs after approval. Once the
/// cockpit quits, the socket no longer answers.
#[test]
fn an_agent_on_the_host_proposes_through_the_forwarded_socket() {
    use std::io::{BufRead, BufReader, Write};
    let Some(ssh_config) = std::env::var_os("OPSCOCKPIT_BED_SSH_CONFIG") else {
        eprintln!("OPSCOCKPIT_BED unset: skipping the on-host gate test");
        return;
    };
    let user = std::env::var("OPSCOCKPIT_BED_SSH_USER").unwrap_or_else(|_| "opsbed".into());
    let home = Command::new("getent")
        .args(["passwd", &user])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split(':')
                .nth(5)
                .map(str::to_string)
        })
        .expect("the bed user's home");
    // Its own socket path: other tests connect to the same bed at once.
    let relative = format!(".opscockpit-e2e-{}/gate.sock", std::process::id());
    let socket = PathBuf::from(&home).join(&relative);
    let tmux = Tmux::start(160, 45, &[]);
    let config = tmux.home.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[hosts.testbed]\nnetdata = false\nhost_socket = \"{relative}\"\n"),
    )
    .expect("write config");
    run_cockpit(
        &tmux,
        &binary(),
        &format!(
            "--config {} -F {} testbed",
            config.display(),
            PathBuf::from(ssh_config).display()
        ),
    );
    tmux.wait_for("connected", Duration::from_secs(30), |s| {
        s.contains("connected")
    });
    let start = std::time::Instant::now();
    while !socket.exists() && start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&socket)
            .expect("the socket on the host")
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "only the SSH user may connect: {mode:o}");

    let stream = std::os::unix::net::UnixStream::connect(&socket).expect("connect on the host");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut ask = |request: serde_json::Value| {
        writeln!(writer, "{request}").expect("send");
        let mut line = String::new();
        reader.read_line(&mut line).expect("reply");
        serde_json::from_str::<serde_json::Value>(&line).expect("JSON reply")
    };
    let reply = ask(
        serde_json::json!({"v":1,"op":"propose","wait":true,"proposal":{
        "command":"echo from-the-host; id -un","title":"on-host","agent":"hostagent"}}),
    );
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(
        reply["action"]["agent"], "host:hostagent",
        "marked as from the host"
    );
    let id = reply["action"]["id"].as_str().expect("id").to_string();
    tmux.wait_for("the proposal", Duration::from_secs(10), |s| {
        s.contains("pending 1")
    });
    tmux.send(&["8"]);
    tmux.wait_for("Actions", Duration::from_secs(5), |s| {
        s.contains("┏ 8 Actions")
    });
    tmux.send(&["a"]);
    tmux.wait_for("the popup", Duration::from_secs(5), |s| {
        s.contains("y runs it")
    });
    tmux.send(&["y"]);
    let done = ask(serde_json::json!({"v":1,"op":"wait","id":id}));
    assert_eq!(done["action"]["state"], "succeeded", "{done}");
    let stdout = done["output"]["stdout"].as_str().unwrap_or_default();
    assert!(
        stdout.contains("from-the-host") && stdout.contains(&user),
        "ran over SSH as {user}: {stdout}"
    );

    tmux.send(&["q"]);
    tmux.wait_for("exit", Duration::from_secs(10), |s| exited_with(s, "0"));
    let start = std::time::Instant::now();
    while socket.exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        std::os::unix::net::UnixStream::connect(&socket).is_err(),
        "after the cockpit quits nothing answers on the host"
    );
    let _ = std::fs::remove_dir_all(socket.parent().expect("dir"));
}
