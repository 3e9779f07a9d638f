//! Notifications over real HTTP on loopback: the delivery queue against a
//! recording receiver (retries on 5xx, ntfy's 429 with `Retry-After`, a
//! receiver that hangs), secrets kept out of everything but the one header
//! that carries them, and `opscockpit notify list|test` against an ntfy
//! stand-in. The cockpit end to end (proposals, timers, escalation,
//! expiry) is in `e2e_notify.rs`.

use std::time::{Duration, Instant};

use opscockpit::config::{Config, toml_file};
use opscockpit::notify::{
    EventKind, Notifier, NotifyEvent, NotifyStatus, Outcome, ProposalFacts, Setup,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod common;
use common::http::{Receiver, Reply};

const BIN: &str = env!("CARGO_BIN_EXE_opscockpit");

async fn notifier(toml: &str) -> (Notifier, mpsc::Receiver<NotifyStatus>, CancellationToken) {
    let config: Config = toml_file::parse_str("config.toml", toml).expect("config parses");
    config.notify.validate("config.toml").expect("config valid");
    let setup = Setup::resolve(&config)
        .await
        .expect("secrets resolve")
        .expect("channels");
    let (tx, rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let notifier = Notifier::spawn(setup.channels, setup.rules, true, tx, &cancel);
    (notifier, rx, cancel)
}

fn proposal(kind: EventKind, command: &str) -> NotifyEvent {
    let now = chrono::Utc::now().timestamp();
    NotifyEvent {
        kind,
        rule: None,
        escalation: false,
        host: "web1".into(),
        subject: "a1b2c3d4".into(),
        at: now,
        proposal: Some(ProposalFacts {
            id: "a1b2c3d4".into(),
            tier: "approve".into(),
            title: "restart the worker".into(),
            proposer: "claude".into(),
            confined: None,
            created_at: now - 30,
            expires_at: Some(now + 600),
            command: command.into(),
        }),
        alert: None,
        detail: String::new(),
    }
}

/// Reports until one that ends the message (delivered or failed).
async fn until_final(rx: &mut mpsc::Receiver<NotifyStatus>) -> Vec<NotifyStatus> {
    let mut seen = Vec::new();
    loop {
        let status = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no final report; so far {seen:?}"))
            .expect("reports channel open");
        let done = matches!(
            status.outcome,
            Outcome::Delivered { .. } | Outcome::Failed { .. }
        );
        seen.push(status);
        if done {
            return seen;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_answers_500_twice_then_200_gets_the_message_exactly_once() {
    let hook = Receiver::start(vec![Reply::Status(500), Reply::Status(500)]);
    // SAFETY: this test binary's tests use distinct variable names.
    unsafe { std::env::set_var("NOTIFY_TEST_HMAC_KEY", "k3y-for-hmac") };
    let (mut notifier, mut rx, cancel) = notifier(&format!(
        "[notify.hook]\nkind = \"webhook\"\nurl = \"{}\"\ntoken_env = \"NOTIFY_TEST_HMAC_KEY\"\n[[notify.rules]]\nevents = [\"proposal\"]\nchannels = [\"hook\"]\n",
        hook.url("/hook")
    ))
    .await;
    assert!(
        notifier
            .submit(&proposal(EventKind::Proposal, "ls"))
            .is_empty()
    );
    let reports = until_final(&mut rx).await;
    let outcomes: Vec<&Outcome> = reports.iter().map(|r| &r.outcome).collect();
    assert!(
        matches!(
            outcomes.as_slice(),
            [
                Outcome::Retrying { attempt: 1, .. },
                Outcome::Retrying { attempt: 2, .. },
                Outcome::Delivered {
                    attempts: 3,
                    status: 200
                }
            ]
        ),
        "{outcomes:?}"
    );
    let requests = hook.requests();
    assert_eq!(requests.len(), 3, "two refused, one taken");
    // Delivered once: no further attempt after the 200.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hook.requests().len(), 3);
    let body = &requests[2].body;
    assert!(
        requests.iter().all(|r| r.body == *body),
        "the same message each time"
    );
    let json = requests[2].json();
    assert_eq!(json["event"], "proposal");
    assert_eq!(json["proposer"], "claude");
    assert!(
        json["text"]
            .as_str()
            .is_some_and(|t| t.contains("open `opscockpit web1` to decide"))
    );
    assert_eq!(
        requests[2]
            .header("x-opscockpit-signature")
            .map(str::to_string),
        Some(opscockpit::notify::hmac::signature(b"k3y-for-hmac", body)),
        "signed over the exact body"
    );
    assert!(
        requests
            .iter()
            .all(|r| !r.everything().contains("k3y-for-hmac")),
        "the key itself never travels"
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ntfy_429_with_retry_after_is_waited_out_and_the_token_travels_only_as_bearer() {
    let token = "tk_e2eNtfyToken0123456789";
    let ntfy = Receiver::ntfy(vec![Reply::TooMany { retry_after: 2 }], Some(token));
    unsafe { std::env::set_var("NOTIFY_TEST_NTFY_TOKEN", token) };
    let (mut notifier, mut rx, cancel) = notifier(&format!(
        "[notify.phone]\nkind = \"ntfy\"\nserver = \"{}\"\ntopic = \"ops-alerts\"\ntoken_env = \"NOTIFY_TEST_NTFY_TOKEN\"\ninclude_command = true\nclick = \"https://wiki.example/runbook\"\n[[notify.rules]]\nevents = [\"proposal\"]\nchannels = [\"phone\"]\n",
        ntfy.url("")
    ))
    .await;
    let command = "curl -H 'Authorization: Bearer ghp_0123456789abcdefghijklmnopqrstuvwxyz01' https://api.example/deploy API_TOKEN=sup3rs3cr3tvalue";
    notifier.submit(&proposal(EventKind::Proposal, command));
    let reports = until_final(&mut rx).await;
    assert!(
        matches!(&reports[0].outcome, Outcome::Retrying { retry_in_secs: 2, error, .. } if error.contains("HTTP 429")),
        "{reports:?}"
    );
    assert!(
        matches!(
            reports[1].outcome,
            Outcome::Delivered {
                attempts: 2,
                status: 200
            }
        ),
        "{reports:?}"
    );
    let requests = ntfy.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[1].at - requests[0].at >= Duration::from_secs(2),
        "Retry-After obeyed"
    );
    let r = &requests[1];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/ops-alerts")
    );
    assert_eq!(
        r.header("title"),
        Some("web1: proposal waits for a decision: restart the worker")
    );
    assert_eq!(r.header("priority"), Some("4"));
    assert_eq!(r.header("tags"), Some("raised_hand,proposal"));
    assert_eq!(r.header("click"), Some("https://wiki.example/runbook"));
    assert_eq!(
        r.header("authorization").map(str::to_string),
        Some(format!("Bearer {token}"))
    );
    let body = r.text();
    assert!(
        body.contains(
            "command: curl -H 'Authorization: *** ***' https://api.example/deploy API_TOKEN=***"
        ),
        "{body}"
    );
    for secret in ["ghp_0123456789", "sup3rs3cr3tvalue"] {
        assert!(
            requests.iter().all(|r| !r.everything().contains(secret)),
            "{secret} leaked:\n{body}"
        );
    }
    for r in &requests {
        let without_auth: Vec<&(String, String)> = r
            .headers
            .iter()
            .filter(|(k, _)| k != "authorization")
            .collect();
        assert!(
            without_auth.iter().all(|(_, v)| !v.contains(token)) && !r.text().contains(token),
            "the channel token only in Authorization"
        );
    }
    assert!(
        body.lines()
            .filter(|l| !l.starts_with("command:"))
            .all(|l| !l.contains("http")),
        "no link to act on: {body}"
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_hangs_is_given_up_on_per_attempt_and_retried() {
    let hook = Receiver::start(vec![Reply::Hang]);
    let (mut notifier, mut rx, cancel) = notifier(&format!(
        "[notify.hook]\nkind = \"webhook\"\nurl = \"{}\"\ntimeout = \"1s\"\n[[notify.rules]]\nevents = [\"alert_critical\", \"proposal\"]\nchannels = [\"hook\"]\n",
        hook.url("/slow")
    ))
    .await;
    let started = Instant::now();
    for _ in 0..20 {
        notifier.submit(&proposal(EventKind::Proposal, "ls"));
    }
    // Queuing is not sending: twenty submits return while the receiver hangs.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let reports = until_final(&mut rx).await;
    assert!(
        matches!(&reports[0].outcome, Outcome::Retrying { attempt: 1, error, .. } if error.contains("no answer in time")),
        "{reports:?}"
    );
    assert!(
        matches!(
            reports.last().map(|r| &r.outcome),
            Some(Outcome::Delivered { attempts: 2, .. })
        ),
        "{reports:?}"
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_gets_text_and_blocks_from_a_url_given_by_reference() {
    let slack = Receiver::start(vec![]);
    unsafe {
        std::env::set_var(
            "NOTIFY_TEST_SLACK_URL",
            slack.url("/services/T000/B000/XXXX"),
        )
    };
    let (mut notifier, mut rx, cancel) = notifier(
        "[notify.team]\nkind = \"slack\"\ntoken_env = \"NOTIFY_TEST_SLACK_URL\"\n[[notify.rules]]\nevents = [\"proposal_expired\"]\nchannels = [\"team\"]\n",
    )
    .await;
    notifier.submit(&proposal(EventKind::ProposalExpired, "ls"));
    until_final(&mut rx).await;
    let requests = slack.requests();
    assert_eq!(requests[0].path, "/services/T000/B000/XXXX");
    let json = requests[0].json();
    assert!(
        json["text"]
            .as_str()
            .is_some_and(|t| t.contains("proposal expired, nothing ran")),
        "{json}"
    );
    assert_eq!(json["blocks"][0]["type"], "header");
    assert_eq!(json["blocks"][2]["type"], "context");
    cancel.cancel();
}

fn write_config(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let file = dir.join("config.toml");
    std::fs::write(&file, text).expect("write config");
    file
}

fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run opscockpit")
}

#[test]
fn notify_test_prints_ntfys_answer_and_fails_on_a_refusal() {
    let token = "tk_cliTestToken42";
    let ntfy = Receiver::ntfy(vec![], Some(token));
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(
        dir.path(),
        &format!(
            "[notify.phone]\nkind = \"ntfy\"\nserver = \"{}\"\ntopic = \"ops\"\ntoken_env = \"CLI_NTFY_TOKEN\"\n\n[[notify.rules]]\nevents = [\"proposal\", \"proposal_waiting\"]\nchannels = [\"phone\"]\nwaiting_after = \"5m\"\nmin_interval = \"10m\"\n",
            ntfy.url("")
        ),
    );
    let config = config.to_str().expect("utf8 path");
    let out = run(
        &["--config", config, "notify", "test", "phone"],
        &[("CLI_NTFY_TOKEN", token)],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("phone: delivered (HTTP 200): {"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"topic\":\"ops\"") && stdout.contains("opscockpit test message"),
        "{stdout}"
    );
    assert!(!stdout.contains(token));
    let sent = ntfy.requests();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].text().contains("to decide"), "{}", sent[0].text());

    let out = run(
        &["--config", config, "notify", "test"],
        &[("CLI_NTFY_TOKEN", "tk_wrong")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("phone: FAILED: HTTP 401") && stdout.contains("unauthorized"),
        "{stdout}"
    );

    let out = run(
        &["--config", config, "notify", "test", "pager"],
        &[("CLI_NTFY_TOKEN", token)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no channel [notify.pager]; channels: phone")
    );

    let out = run(
        &["--config", config, "notify", "list"],
        &[("CLI_NTFY_TOKEN", token)],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains(&format!(
            "phone        ntfy → {}/ops, secret from $CLI_NTFY_TOKEN",
            ntfy.url("")
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "0: proposal, proposal_waiting → phone (waiting after 5m; at most one per 10m)"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains(token));
}

#[test]
fn a_missing_token_stops_the_cockpit_before_the_tui_and_a_bad_config_names_the_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(
        dir.path(),
        "[notify.phone]\nkind = \"ntfy\"\nserver = \"http://127.0.0.1:9\"\ntopic = \"ops\"\ntoken_env = \"NOT_SET_ANYWHERE_42\"\n",
    );
    let out = run(&["--config", config.to_str().expect("utf8"), "local"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .contains("notify: notify.phone: environment variable NOT_SET_ANYWHERE_42 is not set"),
        "{stderr}"
    );
    let config = write_config(
        dir.path(),
        "[notify.phone]\nkind = \"desktop\"\n\n[[notify.rules]]\nevents = [\"proposal\"]\nchannels = [\"phone\"]\nquiet_hours = \"after dinner\"\n",
    );
    let out = run(
        &["--config", config.to_str().expect("utf8"), "notify", "list"],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("config.toml: key `notify.rules[0].quiet_hours`"),
        "{stderr}"
    );
}

/// `secret set notify.NAME` stores a channel's token in the OS keyring
/// (from a pipe, never echoed); `notify test` then authenticates with it,
/// and `secret delete notify.NAME` removes it.
#[test]
fn a_channel_token_in_the_keyring_is_stored_by_secret_set_and_used() {
    if std::env::var_os("OPSCOCKPIT_BED").is_none() {
        eprintln!("OPSCOCKPIT_BED unset: skipping");
        return;
    }
    let entry = format!("opscockpit-notify-test-{}", std::process::id());
    if let Err(e) = opscockpit::secrets::keyring::entry(&entry) {
        eprintln!("no OS keyring on this machine, skipping: {e}");
        return;
    }
    let token = "tk_fromTheKeyring5150";
    let ntfy = Receiver::ntfy(vec![], Some(token));
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(
        dir.path(),
        &format!(
            "[notify.phone]\nkind = \"ntfy\"\nserver = \"{}\"\ntopic = \"ops\"\nkeyring = true\nkeyring_entry = \"{entry}\"\n",
            ntfy.url("")
        ),
    );
    let config = config.to_str().expect("utf8");
    let secret = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(BIN)
            .args(["--config", config])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains(token), "the token was printed: {text}");
        (out.status.success(), text)
    };
    let (ok, text) = secret(&["secret", "set", "notify.phone"], &format!("{token}\n"));
    assert!(
        ok && text.contains(&format!("stored in the OS keyring as opscockpit/{entry}")),
        "{text}"
    );
    let (ok, text) = secret(&["notify", "test", "phone"], "");
    assert!(ok && text.contains("phone: delivered (HTTP 200)"), "{text}");
    assert_eq!(
        ntfy.requests()[0]
            .header("authorization")
            .map(str::to_string),
        Some(format!("Bearer {token}"))
    );
    let (ok, text) = secret(&["secret", "delete", "notify.phone"], "");
    assert!(ok && text.contains("removed"), "{text}");
    let (ok, text) = secret(&["notify", "test", "phone"], "");
    assert!(!ok && text.contains("phone: FAILED"), "{text}");
    let (ok, text) = secret(&["secret", "set", "notify.pager"], "x\n");
    assert!(
        !ok && text.contains("no [notify.pager] in the config"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_channel_gets_the_event_as_json_on_stdin_without_the_command() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("event.json");
    let (mut notifier, mut rx, cancel) = notifier(&format!(
        "[notify.local]\nkind = \"command\"\ncommand = [\"/bin/sh\", \"-c\", \"cat > '{}'\"]\n[[notify.rules]]\nevents = [\"proposal_expiring\"]\nchannels = [\"local\"]\nexpiring_before = \"1m\"\n",
        out.display()
    ))
    .await;
    notifier.submit(&proposal(
        EventKind::ProposalExpiring,
        "rm -rf /srv/cache PASSWORD=hunter2",
    ));
    let reports = until_final(&mut rx).await;
    assert!(
        matches!(
            reports.last().map(|r| &r.outcome),
            Some(Outcome::Delivered {
                attempts: 1,
                status: 0
            })
        ),
        "{reports:?}"
    );
    let text = std::fs::read_to_string(&out).expect("the program wrote what it read");
    let json: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON object");
    assert_eq!(json["event"], "proposal_expiring");
    assert_eq!(json["tier"], "approve");
    assert!(json["expires_at"].is_i64());
    assert!(
        json.get("command").is_none() && !text.contains("rm -rf") && !text.contains("hunter2"),
        "{text}"
    );
    cancel.cancel();
}
