//! Logs: the Better Stack source against the stand-in (scripts/betterstack-standin,
//! a real ClickHouse engine via chdb, started per test on its own port and
//! directory), the journald source with the machine's own journalctl, and the
//! real binary in tmux tailing the stand-in.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opscockpit::app::event::AppEvent;
use opscockpit::logs::betterstack::{
    self, Client, LookupError, Options, QueryError, Secret, SecretRef, SourceLookup,
};
use opscockpit::logs::{LogEvent, LogLine, SourceHealth};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod common;
use common::tmux::Tmux;

const USER: &str = "u_standin";
const PASSWORD: &str = "pw-Zq7!never-shown";
const TABLE: &str = "t4242_app";
/// The team API token the stand-in's sources API accepts.
const TEAM_TOKEN: &str = "team-Kq3!never-shown";
/// The stand-in lists three sources, two a page: "My app" (TABLE) is on page 2.
const SOURCES: [&str; 3] = ["Web=t4242_web", "Nginx=t4242_nginx", "My app=t4242_app"];
/// 2026-11-23 14:00:00 UTC.
const BASE: i64 = 1_795_442_400;

/// The stand-in on a port of its own, killed on drop.
struct Standin {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Standin {
    /// The stand-in, or `None` outside the test bed (which provides python3,
    /// chdb, curl and tmux): the test then returns early with a note.
    fn start_in_bed() -> Option<Standin> {
        if std::env::var_os("OPSCOCKPIT_BED").is_none() {
            eprintln!(
                "OPSCOCKPIT_BED unset: skipping (run `scripts/testbed up` and source its env)"
            );
            return None;
        }
        Some(Standin::start())
    }

    fn start() -> Standin {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/betterstack-standin");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg("0")
            .arg("--db")
            .arg(dir.path().join("db"))
            .arg("--table")
            .arg(TABLE)
            .args(SOURCES.iter().flat_map(|s| ["--source", s]))
            .env("BETTERSTACK_STANDIN_TEAM_TOKEN", TEAM_TOKEN)
            .env("BETTERSTACK_STANDIN_USER", USER)
            .env("BETTERSTACK_STANDIN_PASSWORD", PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the stand-in");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("stand-in prints its port");
        let port = first
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("stand-in did not start: {first:?}"));
        Standin {
            child,
            port,
            _dir: dir,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn control(&self, path: &str, body: &str) {
        use std::io::Write;
        let mut curl = Command::new("curl")
            .args(["-sf", "-X", "POST", "--data-binary", "@-"])
            .arg(format!("{}{path}", self.endpoint()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("curl");
        curl.stdin
            .take()
            .expect("stdin")
            .write_all(body.as_bytes())
            .expect("write body");
        let out = curl.wait_with_output().expect("curl");
        assert!(
            out.status.success(),
            "control {path} failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    /// Requests the sources API has answered so far.
    fn sources_requests(&self) -> u64 {
        let out = Command::new("curl")
            .args(["-sf"])
            .arg(format!("{}/_control/stats", self.endpoint()))
            .output()
            .expect("curl");
        let stats: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stats JSON");
        stats["sources_requests"]
            .as_u64()
            .expect("sources_requests")
    }

    /// Options that look the table up by source name with the team token in
    /// `token_env`.
    fn lookup_options(&self, password_env: &str, token_env: &str, source: &str) -> Options {
        let mut options = self.options(password_env);
        options.table = String::new();
        options.lookup = Some(SourceLookup {
            api: self.endpoint(),
            source: source.into(),
            token_env: token_env.into(),
        });
        options
    }

    /// Inserts rows `(unix seconds + micros, raw)`.
    fn insert(&self, rows: &[(i64, String)]) {
        let body: String = rows
            .iter()
            .map(|(t, raw)| {
                serde_json::json!({"dt": betterstack::format_dt(*t * 1000), "raw": raw}).to_string()
                    + "\n"
            })
            .collect();
        self.control(&format!("/_control/insert?table={TABLE}_logs"), &body);
    }

    fn client(&self, password: &str, timeout: Duration) -> Client {
        Client::new(&self.endpoint(), USER, Secret::new(password), timeout).expect("client")
    }

    fn options(&self, password_env: &str) -> Options {
        Options {
            endpoint: self.endpoint(),
            table: TABLE.into(),
            lookup: None,
            username: USER.into(),
            password: SecretRef::Env(password_env.into()),
            poll: Duration::from_millis(150),
            overlap: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            initial_lines: 200,
            source_name: "betterstack".into(),
        }
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Micros since the epoch at BASE + `ms` milliseconds.
fn at_ms(ms: i64) -> i64 {
    BASE * 1_000_000 + ms * 1000
}

fn msg(text: &str) -> String {
    serde_json::json!({"message": text, "level": "info"}).to_string()
}

/// What a running source sent: lines and status events.
#[derive(Default)]
struct Seen {
    lines: Vec<LogLine>,
    statuses: Vec<(SourceHealth, String)>,
}

/// Receives events until `done` holds, failing after `timeout`.
async fn collect_until(
    rx: &mut mpsc::Receiver<AppEvent>,
    seen: &mut Seen,
    timeout: Duration,
    done: impl Fn(&Seen) -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !done(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(AppEvent::Log(LogEvent::Lines(lines)))) => seen.lines.extend(lines),
            Ok(Some(AppEvent::Log(LogEvent::Status {
                health, message, ..
            }))) => seen.statuses.push((health, message)),
            Ok(Some(_)) => {}
            Ok(None) => panic!("source ended; statuses: {:?}", seen.statuses),
            Err(_) => panic!(
                "timed out: {} lines, statuses {:?}",
                seen.lines.len(),
                seen.statuses
            ),
        }
    }
}

/// Keeps receiving for `quiet` and returns the lines that came meanwhile.
async fn drain_for(rx: &mut mpsc::Receiver<AppEvent>, seen: &mut Seen, quiet: Duration) {
    let deadline = Instant::now() + quiet;
    while let Ok(Some(event)) = tokio::time::timeout(
        deadline.saturating_duration_since(Instant::now()),
        rx.recv(),
    )
    .await
    {
        match event {
            AppEvent::Log(LogEvent::Lines(lines)) => seen.lines.extend(lines),
            AppEvent::Log(LogEvent::Status {
                health, message, ..
            }) => seen.statuses.push((health, message)),
            _ => {}
        }
    }
}

fn env_with_password(name: &str, value: &str) {
    // SAFETY: each test uses its own variable name; nothing reads it concurrently
    // while it is written.
    unsafe { std::env::set_var(name, value) };
}

#[tokio::test]
async fn standin_runs_real_sql_so_bad_queries_fail() {
    let Some(standin) = Standin::start_in_bed() else {
        return;
    };
    standin.insert(&[(at_ms(0), msg("one"))]);
    let client = standin.client(PASSWORD, Duration::from_secs(10));
    // The queries the source sends are valid ClickHouse SQL.
    let body = client
        .query(&betterstack::initial_sql(TABLE, 5))
        .await
        .expect("initial query");
    let rows = betterstack::parse_rows(&body).expect("JSONEachRow");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].dt, at_ms(0) * 1000);
    let body = client
        .query(&betterstack::poll_sql(
            TABLE,
            (BASE - 1) * 1_000_000_000,
            10,
            0,
        ))
        .await
        .expect("poll query");
    assert_eq!(betterstack::parse_rows(&body).expect("rows").len(), 1);
    // A misspelled column fails in the engine, as on the real service.
    let err = client
        .query(&format!(
            "SELECT dtt, raw FROM remote({TABLE}_logs) FORMAT JSONEachRow"
        ))
        .await
        .expect_err("unknown column");
    match &err {
        QueryError::Rejected {
            status: 400,
            detail,
        } => {
            assert!(detail.contains("UNKNOWN_IDENTIFIER"), "{detail}")
        }
        other => panic!("expected a rejected query, got {other:?}"),
    }
    assert!(err.to_string().contains("rejected the query (400)"));
    // An unknown table too.
    let err = client
        .query("SELECT dt FROM remote(t1_nope_logs) FORMAT JSONEachRow")
        .await
        .expect_err("unknown table");
    assert!(
        matches!(err, QueryError::Rejected { status: 404, .. }),
        "{err:?}"
    );
    // The archive table function maps as well.
    client
        .query(&format!(
            "SELECT count() FROM s3Cluster(primary, {TABLE}_s3) WHERE _row_type = 1"
        ))
        .await
        .expect("archive query");
}

#[tokio::test]
async fn source_lookup_follows_pages_and_explains_refusal_and_unknown_names() {
    let Some(standin) = Standin::start_in_bed() else {
        return;
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http");
    let token = Secret::new(TEAM_TOKEN);
    // "My app" is on the second page: found through pagination.next.
    let table = betterstack::lookup_table(&http, &standin.endpoint(), &token, "My app")
        .await
        .expect("found");
    assert_eq!(table, TABLE);
    assert_eq!(standin.sources_requests(), 2);
    // A refused token.
    let err = betterstack::lookup_table(
        &http,
        &standin.endpoint(),
        &Secret::new("not-the-team-token"),
        "My app",
    )
    .await
    .expect_err("refused");
    assert_eq!(err, LookupError::Refused { status: 401 });
    assert!(err.to_string().contains("the team token was refused (401)"));
    // An unknown name lists every source on every page.
    let err = betterstack::lookup_table(&http, &standin.endpoint(), &token, "my app")
        .await
        .expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "no Better Stack source named `my app`; the team token sees: Web, Nginx, My app"
    );
    // Nobody listening: a network error, worth retrying.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let err = betterstack::lookup_table(&http, &format!("http://127.0.0.1:{closed}"), &token, "x")
        .await
        .expect_err("closed");
    assert!(err.is_transient(), "{err:?}");
    assert!(
        err.to_string().contains("cannot reach Better Stack"),
        "{err}"
    );
}

#[tokio::test]
async fn source_tails_the_table_it_looked_up() {
    let Some(standin) = Standin::start_in_bed() else {
        return;
    };
    standin.insert(&[(at_ms(0), msg("found by name")), (at_ms(5), msg("second"))]);
    env_with_password("OPSCOCKPIT_TEST_BS_LOOKUP_PW", PASSWORD);
    env_with_password("OPSCOCKPIT_TEST_BS_LOOKUP_TOKEN", TEAM_TOKEN);
    let (tx, mut rx) = mpsc::channel(256);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(betterstack::run(
        standin.lookup_options(
            "OPSCOCKPIT_TEST_BS_LOOKUP_PW",
            "OPSCOCKPIT_TEST_BS_LOOKUP_TOKEN",
            "My app",
        ),
        tx,
        cancel.clone(),
    ));
    let mut seen = Seen::default();
    collect_until(&mut rx, &mut seen, Duration::from_secs(30), |s| {
        s.lines.len() >= 2 && s.statuses.iter().any(|(h, _)| *h == SourceHealth::Live)
    })
    .await;
    cancel.cancel();
    task.await.expect("task");
    let texts: Vec<&str> = seen.lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["found by name", "second"]);
    assert!(
        seen.statuses
            .iter()
            .any(|(_, m)| m == "looking up source `My app`"),
        "{:?}",
        seen.statuses
    );
    assert!(
        seen.statuses
            .iter()
            .any(|(h, m)| *h == SourceHealth::Live && m.contains("tailing t4242_app_logs")),
        "{:?}",
        seen.statuses
    );
    for (_, m) in &seen.statuses {
        assert!(!m.contains(TEAM_TOKEN) && !m.contains(PASSWORD), "{m}");
    }
}

#[tokio::test]
async fn source_lookup_failures_show_in_the_status_and_retry() {
    let Some(standin) = Standin::start_in_bed() else {
        return;
    };
    env_with_password("OPSCOCKPIT_TEST_BS_LOOKUP_PW2", PASSWORD);
    env_with_password("OPSCOCKPIT_TEST_BS_LOOKUP_BAD", "wrong-team-token-xyz");
    env_with_password("OPSCOCKPIT_TEST_BS_LOOKUP_TOKEN2", TEAM_TOKEN);
    for (token_env, source, expected) in [
        (
            "OPSCOCKPIT_TEST_BS_LOOKUP_BAD",
            "My app",
            "the team token was refused (401)",
        ),
        (
            "OPSCOCKPIT_TEST_BS_LOOKUP_TOKEN2",
            "Nope",
            "no Better Stack source named `Nope`; the team token sees: Web, Nginx, My app; retrying in 1m",
        ),
        (
            "OPSCOCKPIT_TEST_BS_LOOKUP_UNSET_FOR_SURE",
            "My app",
            "environment variable OPSCOCKPIT_TEST_BS_LOOKUP_UNSET_FOR_SURE is not set",
        ),
    ] {
        let (tx, mut rx) = mpsc::channel(64);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(betterstack::run(
            standin.lookup_options("OPSCOCKPIT_TEST_BS_LOOKUP_PW2", token_env, source),
            tx,
            cancel.clone(),
        ));
        let mut seen = Seen::default();
        collect_until(&mut rx, &mut seen, Duration::from_secs(20), |s| {
            s.statuses
                .iter()
                .any(|(h, _)| *h == SourceHealth::Unavailable)
        })
        .await;
        cancel.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the source stops when cancelled while backing off")
            .expect("task");
        let (_, message) = seen
            .statuses
            .iter()
            .find(|(h, _)| *h == SourceHealth::Unavailable)
            .expect("unavailable");
        assert!(message.contains(expected), "{message}");
        assert!(
            !message.contains("wrong-team-token-xyz") && !message.contains(TEAM_TOKEN),
            "{message}"
        );
        assert!(seen.lines.is_empty());
    }
}

#[tokio::test]
async fn http_errors_map_to_clear_messages() {
    let Some(standin) = Standin::start_in_bed() else {
        return;
    };
    let wrong = standin.client("not-the-password", Duration::from_secs(10));
    let err = wrong.query("SELECT 1").await.expect_err("401");
    assert_eq!(err, QueryError::Auth { status: 401 });
    assert!(err.to_string().contains("refused the credentials (401)"));
    assert!(!err.is_transient());

    let client = standin.client(PASSWORD, Duration::from_secs(1));
    standin.control("/_control/fail?status=429&count=1", "");
    let err = client.query("SELECT 1").await.expect_err("429");
    assert_eq!(err, QueryError::RateLimited);
    assert!(err.is_transient());
    standin.control("/_control/fail?status=500&count=1", "");
    let err = client.query("SELECT 1").await.expect_err("500");
    assert!(
        matches!(err, QueryError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    standin.control("/_control/fail?status=403&count=1", "");
    assert_eq!(
        client.query("SELECT 1").await.expect_err("403"),
        QueryError::Auth { status: 403 }
    );
    standin.control("/_control/slow?seconds=3&count=1", "");
    let err = client.query("SELECT 1").await.expect_err("timeout");
    assert_eq!(err, QueryError::Timeout);
    assert!(err.to_string().contains("did not answer in time"));
    // And after all that it answers again.
    assert_eq!(client.query("SELECT 1").await.expect("ok").trim(), "1");
    // Nothing reachable on a closed port: a network error, retried.
    let closed = Client::new(
        "http://127.0.0.1:9",
        USER,
        Secret::new(PASSWORD),
        Duration::from_secs(2),
    )
    .expect("client");
    let err = closed.query("SELECT 1").await.expect_err("refused");
    assert!(matches!(err, QueryError::Network(_)), "{err:?}");
    assert!(!err.to_string().contains(PASSWORD));
}

#[tokio::test]
async fn tail_loses_and_doubles_nothing() {
    let Some(standin) = Standin::start_in_bed() else {
        return;
    };
    // 250 rows: the source starts with the newest 200, oldest first.
    let first: Vec<(i64, String)> = (0..250)
        .map(|i| (at_ms(i * 10), msg(&format!("row {i:03}"))))
        .collect();
    standin.insert(&first);
    // The first load is two queries (the newest 200, then the older rows of
    // the overlap to remember): the second fails once, so the load is retried
    // as a whole without showing anything twice.
    standin.control("/_control/fail?status=500&count=1&after=1", "");
    env_with_password("OPSCOCKPIT_TEST_BS_TAIL", PASSWORD);
    let (tx, mut rx) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(betterstack::run(
        standin.options("OPSCOCKPIT_TEST_BS_TAIL"),
        tx,
        cancel.clone(),
    ));
    let mut seen = Seen::default();
    collect_until(&mut rx, &mut seen, Duration::from_secs(30), |s| {
        s.lines.len() >= 200 && s.statuses.iter().any(|(h, _)| *h == SourceHealth::Live)
    })
    .await;
    let texts: Vec<String> = seen.lines.iter().map(|l| l.text.clone()).collect();
    let expected: Vec<String> = (50..250).map(|i| format!("row {i:03}")).collect();
    assert_eq!(
        texts, expected,
        "initial lines: the newest 200, oldest first"
    );
    assert!(
        seen.statuses
            .iter()
            .any(|(h, m)| *h == SourceHealth::Degraded && m.contains("(500)")),
        "{:?}",
        seen.statuses
    );
    assert!(
        seen.statuses
            .iter()
            .any(|(h, m)| *h == SourceHealth::Live && m.contains("tailing t4242_app_logs")),
        "{:?}",
        seen.statuses
    );

    // The cursor is at row 249 (2.49 s). Now: three rows with exactly that
    // timestamp, two late rows (older than the cursor, inside the overlap),
    // a new one, and 1 500 rows sharing one timestamp (more than a page).
    let cursor_ms = 249 * 10;
    let mut more = vec![
        (at_ms(cursor_ms), msg("same time a")),
        (at_ms(cursor_ms), msg("same time b")),
        (at_ms(cursor_ms), msg("same time c")),
        (at_ms(cursor_ms - 5_000), msg("late by 5s")),
        (at_ms(cursor_ms - 20_000), msg("late by 20s")),
        (at_ms(cursor_ms + 1_000), msg("newer")),
    ];
    more.extend((0..1500).map(|i| (at_ms(cursor_ms + 2_000), msg(&format!("burst {i:04}")))));
    standin.insert(&more);
    collect_until(&mut rx, &mut seen, Duration::from_secs(30), |s| {
        s.lines.len() >= 200 + more.len()
    })
    .await;
    // Several more polls re-read the overlap: nothing may come twice.
    drain_for(&mut rx, &mut seen, Duration::from_millis(1200)).await;
    cancel.cancel();
    task.await.expect("source task");

    assert_eq!(seen.lines.len(), 200 + more.len(), "no row lost or doubled");
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for line in &seen.lines {
        *counts.entry(line.text.as_str()).or_default() += 1;
    }
    assert!(counts.values().all(|c| *c == 1), "a row came twice");
    for (_, raw) in &more {
        let text: serde_json::Value = serde_json::from_str(raw).expect("json");
        let text = text["message"].as_str().expect("message");
        assert_eq!(counts.get(text), Some(&1), "{text} missing");
    }
    let late = seen
        .lines
        .iter()
        .find(|l| l.text == "late by 20s")
        .expect("late row");
    assert_eq!(late.t, at_ms(cursor_ms - 20_000) * 1000);
    assert!(seen.lines.iter().all(|l| &*l.source == "betterstack"));
}

#[tokio::test]
async fn source_backs_off_and_recovers_and_says_why() {
    let Some(standin) = Standin::start_in_bed() else {
        return;
    };
    standin.insert(&[(at_ms(0), msg("before"))]);
    env_with_password("OPSCOCKPIT_TEST_BS_RETRY", PASSWORD);
    let mut options = standin.options("OPSCOCKPIT_TEST_BS_RETRY");
    options.timeout = Duration::from_secs(1);
    // First answers: 429, then 500, then a slow one that times out.
    standin.control("/_control/fail?status=429&count=1", "");
    standin.control("/_control/fail?status=500&count=1", "");
    standin.control("/_control/slow?seconds=3&count=3", "");
    let (tx, mut rx) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(betterstack::run(options, tx, cancel.clone()));
    let mut seen = Seen::default();
    collect_until(&mut rx, &mut seen, Duration::from_secs(40), |s| {
        !s.lines.is_empty()
    })
    .await;
    cancel.cancel();
    task.await.expect("task");
    let said = |needle: &str| {
        seen.statuses
            .iter()
            .any(|(h, m)| *h == SourceHealth::Degraded && m.contains(needle))
    };
    assert!(said("rate limiting (429)"), "{:?}", seen.statuses);
    assert!(said("server error (500)"), "{:?}", seen.statuses);
    assert!(said("did not answer in time"), "{:?}", seen.statuses);
    assert!(
        seen.statuses
            .iter()
            .all(|(_, m)| m.contains("retrying") || !m.contains("Better Stack"))
    );
    assert_eq!(seen.lines[0].text, "before");
}

#[tokio::test]
async fn wrong_password_and_missing_reference_are_explained() {
    let Some(standin) = Standin::start_in_bed() else {
        return;
    };
    env_with_password("OPSCOCKPIT_TEST_BS_WRONG", "wrong-password-xyz");
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(betterstack::run(
        standin.options("OPSCOCKPIT_TEST_BS_WRONG"),
        tx.clone(),
        cancel.clone(),
    ));
    let mut seen = Seen::default();
    collect_until(&mut rx, &mut seen, Duration::from_secs(20), |s| {
        s.statuses
            .iter()
            .any(|(h, _)| *h == SourceHealth::Unavailable)
    })
    .await;
    cancel.cancel();
    task.await.expect("task");
    let (_, message) = seen
        .statuses
        .iter()
        .find(|(h, _)| *h == SourceHealth::Unavailable)
        .expect("unavailable");
    assert!(
        message.contains("refused the credentials (401)"),
        "{message}"
    );
    assert!(!message.contains("wrong-password-xyz"));

    let mut options = standin.options("OPSCOCKPIT_TEST_BS_UNSET_FOR_SURE");
    options.password = SecretRef::Env("OPSCOCKPIT_TEST_BS_UNSET_FOR_SURE".into());
    let (tx, mut rx) = mpsc::channel(64);
    betterstack::run(options, tx, CancellationToken::new()).await;
    let mut seen = Seen::default();
    drain_for(&mut rx, &mut seen, Duration::from_millis(100)).await;
    assert!(
        seen.statuses
            .iter()
            .any(|(h, m)| *h == SourceHealth::Unavailable
                && m.contains("OPSCOCKPIT_TEST_BS_UNSET_FOR_SURE is not set")),
        "{:?}",
        seen.statuses
    );
    let mut options = standin.options("x");
    options.password = SecretRef::Keyring("opscockpit-test-surely-missing".into());
    let (tx, mut rx) = mpsc::channel(64);
    betterstack::run(options, tx, CancellationToken::new()).await;
    let mut seen = Seen::default();
    drain_for(&mut rx, &mut seen, Duration::from_millis(100)).await;
    assert!(
        seen.statuses.iter().any(|(h, m)| *h == SourceHealth::Unavailable
            && (m.contains("no password in the OS keyring for opscockpit/opscockpit-test-surely-missing; store it with `opscockpit secret set HOST`")
                || m.contains("no OS keyring available on this machine"))),
        "{:?}",
        seen.statuses
    );
}

/// Stores the password in the OS keyring (on Linux the kernel keyutils store,
/// which works headless) with the crate the cockpit uses, then tails with
/// `keyring = true`.
#[tokio::test]
async fn password_from_the_os_keyring_tails_the_standin() {
    let Some(standin) = Standin::start_in_bed() else {
        return;
    };
    let user = format!("opscockpit-test-{}-{}", std::process::id(), nanos());
    let entry = match opscockpit::secrets::keyring::entry(&user) {
        Ok(entry) => entry,
        Err(e) if e.contains("no OS keyring available") => {
            eprintln!("no OS keyring on this machine, skipping: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    entry.set_password(PASSWORD).expect("store the password");
    standin.insert(&[(at_ms(0), msg("via the keyring"))]);
    let mut options = standin.options("unused");
    options.password = SecretRef::Keyring(user.clone());
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(betterstack::run(options, tx, cancel.clone()));
    let mut seen = Seen::default();
    let outcome = tokio::time::timeout(
        Duration::from_secs(30),
        collect_until(&mut rx, &mut seen, Duration::from_secs(25), |s| {
            !s.lines.is_empty()
        }),
    )
    .await;
    cancel.cancel();
    let _ = task.await;
    let _ = entry.delete_credential();
    outcome.expect("lines via the keyring password");
    assert_eq!(seen.lines[0].text, "via the keyring");
    for (_, m) in &seen.statuses {
        assert!(!m.contains(PASSWORD), "{m}");
    }
    // Gone from the keyring: a clear message, not a hang.
    let err = betterstack::resolve_password(&SecretRef::Keyring(user.clone()))
        .await
        .expect_err("deleted");
    assert!(err.contains("no password in the OS keyring"), "{err}");
}

/// `opscockpit secret set HOST` stores the password from a pipe (another
/// process, so this goes through the per-user persistent keyring), the
/// source reads it, and `secret delete HOST` removes it.
#[tokio::test]
async fn secret_subcommand_stores_what_the_source_reads() {
    if std::env::var_os("OPSCOCKPIT_BED").is_none() {
        eprintln!("OPSCOCKPIT_BED unset: skipping");
        return;
    }
    let user = format!("opscockpit-cli-{}-{}", std::process::id(), nanos());
    if let Err(e) = opscockpit::secrets::keyring::entry(&user) {
        eprintln!("no OS keyring on this machine, skipping: {e}");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[hosts.local.betterstack]\nendpoint = \"http://127.0.0.1:9\"\ntable = \"{TABLE}\"\nusername = \"{USER}\"\nkeyring = true\nkeyring_entry = \"{user}\"\n"
        ),
    )
    .expect("config");
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_opscockpit"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("opscockpit runs");
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
        assert!(!text.contains(PASSWORD), "the secret was printed");
        (out.status.success(), text)
    };
    let (ok, text) = run(&["secret", "set", "local"], &format!("{PASSWORD}\n"));
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("stored in the OS keyring as opscockpit/{user}")),
        "{text}"
    );
    let secret = betterstack::resolve_password(&SecretRef::Keyring(user.clone()))
        .await
        .expect("the source reads what the subcommand stored");
    assert_eq!(secret.expose(), PASSWORD);
    let (ok, text) = run(&["secret", "delete", "local"], "");
    assert!(ok, "{text}");
    assert!(text.contains("removed"), "{text}");
    let err = betterstack::resolve_password(&SecretRef::Keyring(user.clone()))
        .await
        .expect_err("removed");
    assert!(err.contains("no password in the OS keyring"), "{err}");
    // A host without a Better Stack section is explained.
    let (ok, text) = run(&["secret", "set", "nosuchhost"], "x\n");
    assert!(!ok);
    assert!(
        text.contains("no [hosts.nosuchhost.betterstack] in the config"),
        "{text}"
    );
}

#[tokio::test]
async fn hostile_and_huge_rows_arrive_inert_and_cut() {
    let Some(standin) = Standin::start_in_bed() else {
        return;
    };
    let huge = "z".repeat(1 << 20);
    standin.insert(&[
        (at_ms(0), msg("cursor \x1b[2J\x1b[10;10H moved")),
        (
            at_ms(1),
            msg("clipboard \x1b]52;c;cm0gLXJmIC8=\x07 written"),
        ),
        (at_ms(2), msg("title \x1b]0;pwned\x07 changed")),
        (at_ms(3), "not json \u{9b}31m \x1bP+q\x1b\\".to_string()),
        (at_ms(4), msg(&huge)),
    ]);
    env_with_password("OPSCOCKPIT_TEST_BS_HOSTILE", PASSWORD);
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(betterstack::run(
        standin.options("OPSCOCKPIT_TEST_BS_HOSTILE"),
        tx,
        cancel.clone(),
    ));
    let mut seen = Seen::default();
    collect_until(&mut rx, &mut seen, Duration::from_secs(20), |s| {
        s.lines.len() >= 5
    })
    .await;
    cancel.cancel();
    task.await.expect("task");
    let texts: Vec<&str> = seen.lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts[0], "cursor ␛[2J␛[10;10H moved");
    assert_eq!(texts[1], "clipboard ␛]52;c;cm0gLXJmIC8=␇ written");
    assert_eq!(texts[2], "title ␛]0;pwned␇ changed");
    assert_eq!(texts[3], "not json \\u{9b}31m ␛P+q␛\\");
    assert!(texts[4].len() < 17 * 1024);
    assert!(
        texts[4].ends_with(&format!("[{} more bytes cut]", (1 << 20) - 16 * 1024)),
        "{}",
        &texts[4][texts[4].len() - 40..]
    );
    for line in &seen.lines {
        assert!(
            !line.text.chars().any(|c| c.is_control()),
            "{:?}",
            line.text
        );
    }
}

/// Whether `dir` or a directory in it holds a `*.journal` file.
fn walkdir_has_journal(dir: &std::path::Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            walkdir_has_journal(&path)
        } else {
            path.extension().is_some_and(|x| x == "journal")
        }
    })
}

/// On a host without journal files (the bed's), the source is absent and
/// says why; with a journal it follows it.
#[tokio::test]
async fn journald_follows_or_says_why_not() {
    let transport: opscockpit::transport::SharedTransport =
        Arc::new(opscockpit::transport::local::LocalTransport);
    // What this machine has, looked at directly (not through journalctl,
    // whose answer the source itself interprets).
    let installed = Command::new("sh")
        .args(["-c", "command -v journalctl"])
        .output()
        .is_ok_and(|o| o.status.success());
    let has_journal_files = ["/var/log/journal", "/run/log/journal"]
        .iter()
        .any(|dir| walkdir_has_journal(std::path::Path::new(dir)));
    let expected = if !installed {
        "journalctl is not installed"
    } else if !has_journal_files {
        "No journal files were found"
    } else {
        "following the journal"
    };
    eprintln!("journald on this machine: expecting `{expected}`");
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(opscockpit::logs::journald::run(
        transport,
        Vec::new(),
        10,
        Duration::from_secs(2),
        tx,
        cancel.clone(),
    ));
    let mut seen = Seen::default();
    collect_until(&mut rx, &mut seen, Duration::from_secs(20), |s| {
        !s.statuses.is_empty()
    })
    .await;
    cancel.cancel();
    task.await.expect("task");
    let (health, message) = &seen.statuses[0];
    assert!(message.contains(expected), "{message}");
    let want = if expected == "following the journal" {
        SourceHealth::Live
    } else {
        SourceHealth::Unavailable
    };
    assert_eq!(*health, want);
}

// ---- the real binary in tmux ----

#[test]
fn cockpit_tails_the_standin_inert_without_leaking_the_password() {
    let Some(standin) = Standin::start_in_bed() else {
        return;
    };
    standin.insert(&[
        (at_ms(0), msg("hello from the stand-in")),
        (at_ms(1), msg("cursor \x1b[2J\x1b[1;1H moved")),
        (at_ms(2), msg("clip \x1b]52;c;cm0gLXJmIC8=\x07 set")),
        (at_ms(3), msg("title \x1b]0;PWNED-TITLE\x07 set")),
        (
            at_ms(4),
            serde_json::json!({"message": "db timeout", "level": "error"}).to_string(),
        ),
    ]);
    let tmux = Tmux::start(120, 30, &[format!("OPSCOCKPIT_BS_PASSWORD={PASSWORD}")]);
    let home = tmux.home.path().to_path_buf();
    let config_dir = home.join("config/opscockpit");
    std::fs::create_dir_all(&config_dir).expect("config dir");
    std::fs::write(
        config_dir.join("config.toml"),
        format!(
            "[hosts.local.betterstack]\nendpoint = \"{}\"\ntable = \"{TABLE}\"\nusername = \"{USER}\"\npassword_env = \"OPSCOCKPIT_BS_PASSWORD\"\npoll = \"500ms\"\n",
            standin.endpoint()
        ),
    )
    .expect("config");
    let log_file: PathBuf = home.join("cockpit.log");
    let bin = env!("CARGO_BIN_EXE_opscockpit");
    tmux.send(&[
        "-l",
        &format!(
            "OPSCOCKPIT_LOG=debug {bin} local --log-file {}; echo EXITED:$?",
            log_file.display()
        ),
    ]);
    tmux.send(&["Enter"]);
    tmux.wait_for("the cockpit", Duration::from_secs(20), |s| {
        s.contains("2 Logs")
    });
    tmux.send(&["2"]);
    tmux.send(&["z"]);
    let screen = tmux.wait_for("the stand-in's lines", Duration::from_secs(30), |s| {
        s.contains("db timeout")
    });
    assert!(screen.contains("hello from the stand-in"), "{screen}");
    assert!(screen.contains("cursor ␛[2J␛[1;1H moved"), "{screen}");
    assert!(screen.contains("clip ␛]52;c;cm0gLXJmIC8=␇ set"), "{screen}");
    assert!(screen.contains("title ␛]0;PWNED-TITLE␇ set"), "{screen}");
    assert!(screen.contains("ERR db timeout"), "{screen}");
    assert!(screen.contains("betterstack"), "{screen}");
    assert!(
        !tmux.title().contains("PWNED"),
        "title changed: {}",
        tmux.title()
    );
    // `:save` writes what is shown.
    let saved = home.join("saved.log");
    tmux.send(&[":"]);
    tmux.send(&["-l", &format!("save {}", saved.display())]);
    tmux.send(&["Enter"]);
    tmux.wait_for("the save message", Duration::from_secs(10), |s| {
        s.contains("saved 5 log lines")
    });
    tmux.send(&["q"]);
    tmux.wait_for("the cockpit to exit", Duration::from_secs(10), |s| {
        s.contains("EXITED:0")
    });
    let saved = std::fs::read_to_string(&saved).expect("saved file");
    assert_eq!(saved.lines().count(), 5, "{saved}");
    assert!(
        saved.contains("betterstack INF clip ␛]52;c;cm0gLXJmIC8=␇ set"),
        "{saved}"
    );
    assert!(!saved.contains('\x1b'));

    // Again with a wrong password: the pane and the log say so, neither
    // shows the password.
    let wrong = "wrong-Pw-9f3c-never-shown";
    tmux.send(&["-l", "clear"]);
    tmux.send(&["Enter"]);
    tmux.send(&[
        "-l",
        &format!(
            "OPSCOCKPIT_LOG=debug OPSCOCKPIT_BS_PASSWORD={wrong} {bin} local --log-file {}; echo EXITED2:$?",
            log_file.display()
        ),
    ]);
    tmux.send(&["Enter"]);
    tmux.wait_for("the cockpit", Duration::from_secs(20), |s| {
        s.contains("2 Logs")
    });
    tmux.send(&["2"]);
    tmux.send(&["z"]);
    let screen = tmux.wait_for("the 401 explanation", Duration::from_secs(30), |s| {
        s.contains("refused the credentials (401)")
    });
    assert!(!screen.contains(wrong), "password on screen");
    tmux.send(&["q"]);
    tmux.wait_for("the cockpit to exit", Duration::from_secs(10), |s| {
        s.contains("EXITED2:0")
    });

    let log = std::fs::read_to_string(&log_file).expect("log file");
    assert!(log.contains("tailing"), "the source logged nothing: {log}");
    assert!(log.contains("refused the credentials (401)"), "{log}");
    assert!(!log.contains(PASSWORD), "password in the log file");
    assert!(!log.contains(wrong), "password in the log file");
    let screen = tmux.capture();
    assert!(!screen.contains(PASSWORD), "password on screen");
}

/// The real binary in tmux: the table looked up by source name with the team
/// token, the password stored with `opscockpit secret set` and read from the
/// OS keyring; neither secret on screen or in the log.
#[test]
fn cockpit_looks_the_table_up_and_reads_the_keyring() {
    let Some(standin) = Standin::start_in_bed() else {
        return;
    };
    let user = format!("opscockpit-e2e-{}-{}", std::process::id(), nanos());
    if let Err(e) = opscockpit::secrets::keyring::entry(&user) {
        eprintln!("no OS keyring on this machine, skipping: {e}");
        return;
    }
    standin.insert(&[(at_ms(0), msg("looked up and unlocked"))]);
    let tmux = Tmux::start(120, 30, &[format!("OPSCOCKPIT_BS_TEAM={TEAM_TOKEN}")]);
    let home = tmux.home.path().to_path_buf();
    let config_dir = home.join("config/opscockpit");
    std::fs::create_dir_all(&config_dir).expect("config dir");
    let config = config_dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[hosts.local.betterstack]\nendpoint = \"{0}\"\nteam_token_env = \"OPSCOCKPIT_BS_TEAM\"\nsource = \"My app\"\nsources_api = \"{0}\"\nusername = \"{USER}\"\nkeyring = true\nkeyring_entry = \"{user}\"\npoll = \"500ms\"\n",
            standin.endpoint()
        ),
    )
    .expect("config");
    let bin = env!("CARGO_BIN_EXE_opscockpit");
    let secret = |args: &[&str], input: &str| {
        use std::io::Write;
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(&config)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("opscockpit secret");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    secret(&["secret", "set", "local"], &format!("{PASSWORD}\n"));
    let log_file: PathBuf = home.join("cockpit.log");
    tmux.send(&[
        "-l",
        &format!(
            "OPSCOCKPIT_LOG=debug {bin} local --log-file {}; echo EXITED:$?",
            log_file.display()
        ),
    ]);
    tmux.send(&["Enter"]);
    tmux.wait_for("the cockpit", Duration::from_secs(20), |s| {
        s.contains("2 Logs")
    });
    tmux.send(&["2"]);
    tmux.send(&["z"]);
    let screen = tmux.wait_for("the stand-in's line", Duration::from_secs(30), |s| {
        s.contains("looked up and unlocked")
    });
    tmux.send(&["q"]);
    tmux.wait_for("the cockpit to exit", Duration::from_secs(10), |s| {
        s.contains("EXITED:0")
    });
    secret(&["secret", "delete", "local"], "");
    let log = std::fs::read_to_string(&log_file).expect("log file");
    assert!(
        log.contains("source `My app` is table t4242_app"),
        "the lookup is not in the log: {log}"
    );
    assert!(log.contains("tailing t4242_app_logs"), "{log}");
    for text in [&screen, &log, &tmux.capture()] {
        assert!(!text.contains(PASSWORD), "password shown or logged");
        assert!(!text.contains(TEAM_TOKEN), "team token shown or logged");
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
