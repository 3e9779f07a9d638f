//! `opscockpit mcp` with real MCP clients: the official Python SDK (from
//! PyPI, installed by scripts/testbed) over stdio, and Claude Code's own
//! `claude mcp list`. A cockpit runs in tmux; its keys approve and reject
//! what the client proposes.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod common;
use common::tmux::Tmux;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opscockpit"))
}

fn python_sdk_available() -> bool {
    Command::new("python3")
        .args(["-c", "import mcp"])
        .status()
        .is_ok_and(|s| s.success())
}

fn start_cockpit(tmux: &Tmux) {
    tmux.type_line(&format!("{} local; echo \"EXITED:$?\"", binary().display()));
    tmux.wait_for("the first frame", Duration::from_secs(20), |s| {
        s.contains("1 Metrics")
    });
}

/// The client's JSON lines, as they come.
fn spawn_client(tmux: &Tmux) -> (std::process::Child, mpsc::Receiver<serde_json::Value>) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/client.py");
    let mut cmd = Command::new("python3");
    cmd.env_clear();
    for pair in tmux.env_args() {
        if let Some((k, v)) = pair.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd
        .arg(script)
        .arg(binary())
        .arg("local")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs the MCP client");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            match serde_json::from_str(&line) {
                Ok(value) => {
                    if tx.send(value).is_err() {
                        return;
                    }
                }
                Err(_) => eprintln!("client: {line}"),
            }
        }
    });
    (child, rx)
}

fn next_step(
    rx: &mpsc::Receiver<serde_json::Value>,
    step: &str,
    timeout: Duration,
) -> serde_json::Value {
    loop {
        let value = rx
            .recv_timeout(timeout)
            .unwrap_or_else(|_| panic!("the client never reported `{step}`"));
        if value["step"] == step {
            return value;
        }
        eprintln!("client step: {value}");
    }
}

#[test]
fn the_python_sdk_proposes_waits_through_approval_and_cancels() {
    if !python_sdk_available() {
        assert!(
            std::env::var_os("OPSCOCKPIT_BED").is_none(),
            "the bed installs the Python MCP SDK (pip install mcp); it is missing"
        );
        eprintln!("skipped: no Python MCP SDK (run scripts/testbed up)");
        return;
    }
    let tmux = Tmux::start(140, 40, &[]);
    start_cockpit(&tmux);
    let (mut child, rx) = spawn_client(&tmux);
    let short = Duration::from_secs(20);

    let init = next_step(&rx, "initialized", short);
    assert_eq!(init["server"], "opscockpit", "{init}");
    let tools = next_step(&rx, "tools", short);
    let tools = &tools["tools"];
    for read in [
        "list_hosts",
        "host_status",
        "action_status",
        "list_pending",
        "history",
    ] {
        assert_eq!(tools[read]["read_only"], true, "{read}: {tools}");
    }
    assert_eq!(tools["propose_action"]["destructive"], true, "{tools}");
    assert!(tools.get("approve").is_none() && tools.get("approve_action").is_none());

    let hosts = next_step(&rx, "hosts", short);
    assert_eq!(
        hosts["structured"]["running"],
        serde_json::json!(["local"]),
        "{hosts}"
    );
    let status = next_step(&rx, "status", short);
    assert_eq!(status["structured"]["link"]["state"], "local", "{status}");
    assert!(
        status["text"].as_str().is_some_and(|t| t.contains("cpu")),
        "{status}"
    );
    next_step(&rx, "pending", short);
    let missing = next_step(&rx, "missing", short);
    assert_eq!(missing["is_error"], true);
    assert!(
        missing["text"]
            .as_str()
            .is_some_and(|t| t.contains("opscockpit no-such-host")),
        "the error names the fix: {missing}"
    );

    // Approve after a 60 s wait: progress notifications (every 15 s) keep
    // the client waiting meanwhile.
    next_step(&rx, "WAITING", short);
    tmux.wait_for("the proposal", short, |s| s.contains("pending 1"));
    std::thread::sleep(Duration::from_secs(61));
    tmux.send(&["8"]);
    tmux.wait_for("Actions", short, |s| s.contains("┏ 8 Actions"));
    tmux.send(&["a"]);
    tmux.wait_for("the approve popup", short, |s| s.contains("y runs it"));
    tmux.send(&["y"]);
    let approved = next_step(&rx, "RESULT", Duration::from_secs(30));
    assert_eq!(approved["is_error"], false, "{approved}");
    assert_eq!(approved["structured"]["state"], "succeeded", "{approved}");
    assert!(
        approved["text"]
            .as_str()
            .is_some_and(|t| t.contains("approved-through-mcp")),
        "the output comes back: {approved}"
    );
    let progress = approved["progress"].as_array().cloned().unwrap_or_default();
    assert!(progress.len() >= 3, "progress while waiting: {approved}");
    assert_eq!(
        approved["structured"]["agent"], "mcp",
        "proposer is the client's name (the SDK's default)"
    );
    let action = next_step(&rx, "action", short);
    assert_eq!(action["structured"]["state"], "succeeded", "{action}");

    // Rejected by the operator, with a reason that reaches the client.
    next_step(&rx, "WAITING", short);
    tmux.wait_for("the second proposal", short, |s| s.contains("pending 1"));
    tmux.send(&["r"]);
    tmux.wait_for("the reject popup", short, |s| s.contains("Why?"));
    tmux.send(&["-l", "not from mcp"]);
    tmux.send(&["Enter"]);
    let rejected = next_step(&rx, "RESULT", short);
    assert_eq!(rejected["structured"]["state"], "rejected", "{rejected}");
    assert!(
        rejected["text"]
            .as_str()
            .is_some_and(|t| t.contains("not from mcp")),
        "{rejected}"
    );

    // The client gives up after 3 s: the proposal is cancelled, never run.
    next_step(&rx, "WAITING", short);
    next_step(&rx, "CANCELLED", short);
    let withdraw = next_step(&rx, "withdraw", short);
    assert_eq!(withdraw["structured"]["state"], "cancelled", "{withdraw}");
    let withdrawn = next_step(&rx, "withdrawn", short);
    assert_eq!(withdrawn["structured"]["state"], "cancelled", "{withdrawn}");
    assert_eq!(
        withdrawn["is_error"], true,
        "a cancelled action is not a success"
    );
    let history = next_step(&rx, "history", short);
    let actions = history["structured"]["actions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let cancelled = actions
        .iter()
        .find(|a| a["title"] == "mcp cancel")
        .unwrap_or_else(|| panic!("the cancelled one is recorded: {history}"));
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    next_step(&rx, "done", short);
    let _ = child.wait();
    tmux.wait_for("pending 0", short, |s| s.contains("pending 0"));
    tmux.send(&["q"]);
}

/// Claude Code's own client starts `opscockpit mcp` and reports it connected.
#[test]
fn claude_mcp_list_shows_the_server_connected() {
    let Some(claude) = which("claude") else {
        assert!(
            std::env::var_os("OPSCOCKPIT_BED").is_none(),
            "the bed installs Claude Code (npm @anthropic-ai/claude-code); it is missing"
        );
        eprintln!("skipped: no `claude` (run scripts/testbed up)");
        return;
    };
    let home = tempfile::tempdir().expect("home");
    let run = |args: &[&str]| {
        Command::new(&claude)
            .args(args)
            .env("HOME", home.path())
            .env("XDG_RUNTIME_DIR", home.path().join("run"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("DISABLE_AUTOUPDATER", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .stdin(Stdio::null())
            .output()
            .expect("claude runs")
    };
    let bin = binary().display().to_string();
    let add = run(&[
        "mcp",
        "add",
        "--scope",
        "user",
        "opscockpit",
        "--",
        &bin,
        "mcp",
    ]);
    assert!(
        add.status.success(),
        "claude mcp add: {}{}",
        String::from_utf8_lossy(&add.stdout),
        String::from_utf8_lossy(&add.stderr)
    );
    let list = run(&["mcp", "list"]);
    let text =
        String::from_utf8_lossy(&list.stdout).to_string() + &String::from_utf8_lossy(&list.stderr);
    let line = text
        .lines()
        .find(|l| l.contains("opscockpit"))
        .unwrap_or_else(|| panic!("claude mcp list names the server:\n{text}"));
    assert!(line.contains("Connected"), "{text}");
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// Every line `opscockpit mcp` writes to stdout for `input`.
fn raw_session(input: &[String]) -> Vec<serde_json::Value> {
    raw_session_in(&tempfile::tempdir().expect("home"), input)
}

/// Like `raw_session`, with `home` as every XDG dir (a config may be there).
fn raw_session_in(home: &tempfile::TempDir, input: &[String]) -> Vec<serde_json::Value> {
    use std::io::Write;
    let mut child = Command::new(binary())
        .arg("mcp")
        .env("XDG_RUNTIME_DIR", home.path())
        .env("XDG_DATA_HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("opscockpit mcp");
    let mut stdin = child.stdin.take().expect("stdin");
    for line in input {
        writeln!(stdin, "{line}").expect("write");
    }
    std::thread::sleep(Duration::from_millis(800));
    drop(stdin);
    let out = child.wait_with_output().expect("output");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("stdout carries protocol only: {l:?}: {e}"))
        })
        .collect()
}

#[test]
fn the_handshake_of_each_protocol_revision() {
    for version in ["2025-06-18", "2025-11-25"] {
        let replies = raw_session(&[
            serde_json::json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
                "protocolVersion": version, "capabilities": {},
                "clientInfo": {"name": "raw", "version": "1"}}})
            .to_string(),
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.into(),
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#.into(),
        ]);
        assert_eq!(
            replies[0]["result"]["protocolVersion"], version,
            "{replies:?}"
        );
        let tools = replies[1]["result"]["tools"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(tools.len(), 8, "{replies:?}");
        let host_status = tools.iter().find(|t| t["name"] == "host_status");
        assert!(
            host_status
                .is_some_and(|t| t["inputSchema"]["properties"]["hide_unlevelled"].is_object()),
            "host_status offers hide_unlevelled: {host_status:?}"
        );
    }
    // 2026-07-28 is stateless: no initialize, every request carries its meta.
    let meta = serde_json::json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
    });
    let replies = raw_session(&[
        serde_json::json!({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta": meta}})
            .to_string(),
        serde_json::json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{
            "name":"list_hosts","arguments":{},"_meta": meta}})
        .to_string(),
    ]);
    assert!(
        replies[0]["result"]["supportedVersions"]
            .as_array()
            .is_some_and(|v| v.contains(&serde_json::json!("2026-07-28"))),
        "{replies:?}"
    );
    assert_eq!(replies[1]["result"]["isError"], false, "{replies:?}");
}

/// The snapshot an agent gets is what the screen shows: filtered logs, no
/// raw escape sequences.
#[test]
fn the_snapshot_carries_what_the_screen_shows_and_filters_logs() {
    use opscockpit::app::snapshot::build;
    use opscockpit::gate::snapshot::SnapshotQuery;
    let state = opscockpit::testing::populated_state("dark");
    let all = build(&state, &SnapshotQuery::default());
    assert_eq!(all["host"], serde_json::json!(state.host));
    assert!(all["metrics"]["cpu_percent"].is_number(), "{all}");
    assert!(!all["containers"].as_array().is_some_and(Vec::is_empty));
    let errors = build(
        &state,
        &SnapshotQuery {
            level: Some("error".into()),
            lines: Some(3),
            ..SnapshotQuery::default()
        },
    );
    let lines = errors["logs"].as_array().cloned().unwrap_or_default();
    assert!(!lines.is_empty() && lines.len() <= 3, "{errors}");
    // Lines without a level pass the filter, as in the Logs pane; the
    // populated host has none, so every line here is an error.
    assert!(lines.iter().all(|l| l["level"] == "error"), "{lines:?}");
    assert!(
        !all.to_string().contains('\u{1b}'),
        "nothing raw reaches the agent"
    );
}

/// The read-only `runbook` tool returns one runbook of the host's repo as
/// markdown, with its steps; a path that is not a runbook of the host is an
/// error that says where to look.
#[test]
fn the_runbook_tool_returns_the_markdown_and_its_steps() {
    let home = tempfile::tempdir().expect("home");
    let repo = home.path().join("runbooks");
    std::fs::create_dir_all(repo.join("ops")).expect("mkdir");
    std::fs::write(
        repo.join("ops/restart.md"),
        opscockpit::runbooks::fixtures::RUNBOOK_RESTART,
    )
    .expect("write");
    std::fs::create_dir_all(home.path().join("opscockpit")).expect("config dir");
    std::fs::write(
        home.path().join("opscockpit/config.toml"),
        format!("[runbooks]\npath = \"{}\"\n", repo.display()),
    )
    .expect("config");
    let call = |id: u32, host: &str, path: &str| {
        serde_json::json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{
            "name":"runbook","arguments":{"host": host, "path": path}}})
        .to_string()
    };
    let replies = raw_session_in(
        &home,
        &[
            serde_json::json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "raw", "version": "1"}}})
            .to_string(),
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.into(),
            call(2, "web", "ops/restart.md"),
            call(3, "mail", "ops/restart.md"),
        ],
    );
    // Calls may be answered in any order: find each reply by its id.
    let reply = |id: u64| {
        replies
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap_or_default()
    };
    let found = &reply(2)["result"];
    assert_eq!(found["isError"], false, "{replies:?}");
    let steps = found["structuredContent"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(steps.len(), 2, "{found}");
    assert_eq!(
        steps[1]["text"],
        "docker restart <container> && echo restarted ${SERVICE}"
    );
    let markdown = found["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        markdown.starts_with("# Restart a wedged container"),
        "{markdown}"
    );
    // `hosts: [local, web]`: not a runbook of mail.
    assert_eq!(reply(3)["result"]["isError"], true, "{replies:?}");
}
