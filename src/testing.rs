//! Deterministic, populated states for snapshot tests and benchmarks. Not
//! used by the program itself.

use crate::app::event::AppEvent;
use crate::app::state::State;
use crate::app::update;
use crate::config::{Keymap, ThemeSet};
use crate::metrics::{MetricsSource, MetricsUpdate};
use crate::metrics::{Unit, names};

/// 2026-11-23 14:00:00 UTC: the fixed "now" of every fixture.
pub const FIXTURE_NOW: i64 = 1_795_442_400;

/// A state with ten minutes of plausible metrics for a 4-core host,
/// drawn with `theme` and the default keymap, clock in UTC.
pub fn fixture_state(theme: &str) -> State {
    let themes = ThemeSet::load(None, false).expect("shipped themes load");
    let theme = themes.get(theme).expect("shipped theme exists");
    let keymap = Keymap::load("default", None).expect("shipped keymap loads");
    let mut state = State::new("web-1", "ops@203.0.113.10:22", themes, theme, keymap);
    state.utc = true;
    state.now = FIXTURE_NOW;
    for t in (FIXTURE_NOW - 600)..=FIXTURE_NOW {
        update::apply_event(
            &mut state,
            AppEvent::Metrics(MetricsSource::Proc, sample(t)),
        );
    }
    state
}

/// One second of synthetic readings: smooth waves with a spike, so charts
/// have shape and min/max differ.
fn sample(t: i64) -> MetricsUpdate {
    let x = (t - FIXTURE_NOW) as f64;
    let wave = |period: f64, lo: f64, hi: f64| lo + (hi - lo) * (0.5 + 0.5 * (x / period).sin());
    let spike = if (t - FIXTURE_NOW) % 97 == 0 {
        1.0
    } else {
        0.0
    };
    let gib = 1024.0 * 1024.0 * 1024.0;
    let mut readings = vec![
        (
            names::CPU_TOTAL.to_string(),
            Unit::Percent,
            wave(40.0, 8.0, 55.0) + 40.0 * spike,
        ),
        (
            names::CPU_USER.to_string(),
            Unit::Percent,
            wave(40.0, 5.0, 35.0),
        ),
        (
            names::CPU_SYSTEM.to_string(),
            Unit::Percent,
            wave(55.0, 2.0, 12.0),
        ),
        (
            names::CPU_IOWAIT.to_string(),
            Unit::Percent,
            wave(70.0, 0.0, 6.0),
        ),
        (names::CPU_STEAL.to_string(), Unit::Percent, 0.0),
        (names::MEM_TOTAL.to_string(), Unit::Bytes, 16.0 * gib),
        (
            names::MEM_USED.to_string(),
            Unit::Bytes,
            wave(300.0, 5.5 * gib, 7.0 * gib),
        ),
        (
            names::MEM_AVAILABLE.to_string(),
            Unit::Bytes,
            wave(300.0, 9.0 * gib, 10.5 * gib),
        ),
        (names::SWAP_TOTAL.to_string(), Unit::Bytes, 2.0 * gib),
        (names::SWAP_USED.to_string(), Unit::Bytes, 0.25 * gib),
        (
            names::NET_RX.to_string(),
            Unit::BytesPerSec,
            wave(25.0, 200_000.0, 2_400_000.0),
        ),
        (
            names::NET_TX.to_string(),
            Unit::BytesPerSec,
            wave(33.0, 900_000.0, 6_100_000.0),
        ),
        (
            names::DISK_READ.to_string(),
            Unit::BytesPerSec,
            wave(45.0, 0.0, 3_000_000.0),
        ),
        (
            names::DISK_WRITE.to_string(),
            Unit::BytesPerSec,
            wave(20.0, 100_000.0, 9_000_000.0),
        ),
        (names::LOAD1.to_string(), Unit::Load, wave(120.0, 0.4, 2.8)),
        (names::LOAD5.to_string(), Unit::Load, wave(300.0, 0.8, 1.9)),
        (names::LOAD15.to_string(), Unit::Load, 1.2),
    ];
    for core in 0..4 {
        readings.push((
            names::cpu_core(core),
            Unit::Percent,
            wave(20.0 + core as f64 * 7.0, 3.0, 40.0 + core as f64 * 15.0),
        ));
    }
    MetricsUpdate {
        t,
        readings,
        uptime_secs: Some(3 * 86_400 + 4 * 3600 + 12 * 60),
        hostname: Some("web-1".into()),
        cpu_count: Some(4),
    }
}

/// [`fixture_state`] with every pane filled as on a busy host: containers
/// with stats, raised alerts, merged log lines, pending and finished
/// actions. Used by the full-frame benchmark and the screenshot snapshot.
pub fn populated_state(theme: &str) -> State {
    use crate::containers::{Container, ContainerStats, DockerEvent, EngineStatus};
    use crate::gate::{ActionState, ActionView, GateEvent, Risk, Tier, fingerprint};
    use crate::logs::{Level, LogEvent, LogLine};
    use crate::metrics::AlertLevel;
    use crate::metrics::{Alert, AlertsEvent};

    let mut state = fixture_state(theme);
    let apply = |state: &mut State, event: AppEvent| {
        update::apply_event(state, event);
    };
    apply(
        &mut state,
        AppEvent::Docker(DockerEvent::Status(EngineStatus::Live {
            engine: "Docker 29.1.0".into(),
            api_version: "1.47".into(),
        })),
    );
    let containers = [
        (
            "a1",
            "web",
            "ghcr.io/acme/web:2.14",
            "running",
            Some("healthy"),
            3 * 86_400,
            0,
        ),
        (
            "b2",
            "worker",
            "ghcr.io/acme/worker:2.14",
            "running",
            Some("unhealthy"),
            2 * 3600,
            3,
        ),
        (
            "c3",
            "postgres",
            "postgres:16",
            "running",
            None,
            12 * 86_400,
            0,
        ),
        ("d4", "redis", "redis:7", "running", None, 12 * 86_400, 0),
        ("e5", "caddy", "caddy:2", "running", None, 12 * 86_400, 0),
        (
            "f6",
            "migrate",
            "ghcr.io/acme/web:2.14",
            "exited",
            None,
            0,
            0,
        ),
    ];
    let rows: Vec<Container> = containers
        .iter()
        .map(|(id, name, image, st, health, up, restarts)| Container {
            id: (*id).into(),
            name: (*name).into(),
            image: (*image).into(),
            state: (*st).into(),
            health: health.map(Into::into),
            status: if *st == "running" {
                "Up".into()
            } else {
                "Exited (0) 2 hours ago".into()
            },
            started_at: (*st == "running").then_some(FIXTURE_NOW - up),
            finished_at: (*st == "exited").then_some(FIXTURE_NOW - 2 * 3600),
            restart_count: Some(*restarts),
            ports: if *name == "caddy" {
                vec!["0.0.0.0:443->443/tcp".into()]
            } else {
                Vec::new()
            },
            exit_code: (*st == "exited").then_some(if *name == "migrate" { 137 } else { 0 }),
            oom_killed: false,
        })
        .collect();
    apply(&mut state, AppEvent::Docker(DockerEvent::Snapshot(rows)));
    for (i, (id, ..)) in containers.iter().enumerate().take(5) {
        let stats = ContainerStats {
            cpu_percent: Some([23.5, 71.2, 4.1, 0.8, 0.3][i]),
            mem_used: [412, 1_630, 2_270, 96, 41][i] * 1024 * 1024,
            mem_limit: [1024, 2048, 4096, 512, 256][i] * 1024 * 1024,
        };
        apply(
            &mut state,
            AppEvent::Docker(DockerEvent::Stats {
                id: (*id).into(),
                stats,
            }),
        );
    }

    let alert = |key: &str, level, value: &str, info: &str, ago: i64| Alert {
        key: key.into(),
        name: key.rsplit('.').next().unwrap_or(key).into(),
        chart: key.rsplit_once('.').map(|(c, _)| c).unwrap_or("").into(),
        level,
        value: value.into(),
        info: info.into(),
        since: FIXTURE_NOW - ago,
        silenced: false,
        rule: Default::default(),
    };
    apply(
        &mut state,
        AppEvent::Alerts(AlertsEvent::Update(vec![
            alert(
                "cgroup_worker.mem_usage.cgroup_ram_in_use",
                AlertLevel::Critical,
                "96.2%",
                "cgroup memory utilization",
                340,
            ),
            alert(
                "system.load.load_average_15",
                AlertLevel::Warning,
                "3.10",
                "system fifteen-minute load average",
                1260,
            ),
            alert(
                "disk_space._.disk_space_usage",
                AlertLevel::Warning,
                "86.4%",
                "disk / space utilization",
                7400,
            ),
        ])),
    );

    let log = |ago_ms: i64, source: &str, level: Option<Level>, text: &str| {
        LogLine::from_raw(
            (FIXTURE_NOW * 1000 - ago_ms) * 1_000_000,
            std::sync::Arc::from(source),
            level,
            text.as_bytes(),
        )
    };
    let mut lines = Vec::new();
    for i in 0..120 {
        let t = (120 - i) * 1500;
        lines.push(match i % 6 {
            0 => log(
                t,
                "container:web",
                Some(Level::Info),
                &format!("GET /api/orders/{} 200 {}ms", 1000 + i, 12 + i % 40),
            ),
            1 => log(
                t,
                "container:worker",
                Some(Level::Warn),
                &format!("job {} retrying after 2s: upstream timeout", 500 + i),
            ),
            2 => log(
                t,
                "betterstack",
                Some(Level::Error),
                "payment webhook failed: connection reset by peer",
            ),
            3 => log(
                t,
                "journal",
                Some(Level::Info),
                "caddy.service: reverse_proxy upstream web:8080 healthy",
            ),
            4 => log(
                t,
                "container:web",
                Some(Level::Info),
                &format!("POST /api/checkout 201 {}ms", 80 + i),
            ),
            _ => log(
                t,
                "container:worker",
                Some(Level::Error),
                "OOM risk: heap 1.6 GiB of 2 GiB",
            ),
        });
    }
    apply(&mut state, AppEvent::Log(LogEvent::Lines(lines)));

    let action = |id: &str,
                  st: ActionState,
                  tier: Tier,
                  agent: &str,
                  title: &str,
                  command: &str,
                  ago: i64| {
        let done = matches!(st, ActionState::Succeeded | ActionState::Failed);
        ActionView {
            id: id.into(),
            host: "web-1".into(),
            state: st,
            tier,
            rule: "default".into(),
            command: command.into(),
            cwd: None,
            timeout_secs: 600,
            title: title.into(),
            reason: "worker OOM loop since the 13:52 deploy".into(),
            agent: agent.into(),
            risk: Some(Risk::Medium),
            fingerprint: fingerprint("web-1", command, None, 600),
            created_at: (FIXTURE_NOW - ago) * 1000,
            expires_at: (st == ActionState::Pending).then_some((FIXTURE_NOW - ago + 900) * 1000),
            decided_at: done.then_some((FIXTURE_NOW - ago + 20) * 1000),
            decided_by: done.then(|| "operator:ops".into()),
            decision_reason: None,
            started_at: done.then_some((FIXTURE_NOW - ago + 20) * 1000),
            ended_at: done.then_some((FIXTURE_NOW - ago + 23) * 1000),
            exit_code: done.then_some(if st == ActionState::Failed { 1 } else { 0 }),
            signal: None,
            error: None,
            stdout_total: 0,
            stderr_total: 0,
            confined: None,
            runbook: None,
            outcome: None,
            repeats: 0,
            tampered: None,
        }
    };
    apply(
        &mut state,
        AppEvent::Gate(GateEvent::History(vec![
            action(
                "a0000001aaaaaaaaaaaaaaaa",
                ActionState::Succeeded,
                Tier::Auto,
                "claude",
                "check disk",
                "df -h",
                1900,
            ),
            action(
                "a0000002aaaaaaaaaaaaaaaa",
                ActionState::Failed,
                Tier::Approve,
                "claude",
                "tail worker logs",
                "docker logs --tail 50 worker",
                900,
            ),
            action(
                "a0000003aaaaaaaaaaaaaaaa",
                ActionState::Pending,
                Tier::Approve,
                "claude",
                "restart worker",
                "docker restart worker",
                95,
            ),
            action(
                "a0000004aaaaaaaaaaaaaaaa",
                ActionState::Pending,
                Tier::Confirm,
                "claude",
                "raise worker memory",
                "docker update --memory 3g worker",
                40,
            ),
        ])),
    );
    state
}

/// Three runbooks as the Runbooks pane shows them: YAML and TOML front
/// matter, a `console` block, placeholders, a table, one modified file.
pub fn runbook_fixture() -> Vec<crate::runbooks::Runbook> {
    use crate::runbooks::fixtures::{RUNBOOK_DISK, RUNBOOK_RESTART, RUNBOOK_ROLLBACK};
    use crate::runbooks::{CommitInfo, markdown};
    let commit = |short: &str, date: &str, author: &str| CommitInfo {
        hash: format!("{short}0000000000000000000000000000000"),
        short: short.into(),
        date: date.into(),
        author: author.into(),
    };
    let mut restart = markdown::parse("incidents/restart-container.md", RUNBOOK_RESTART);
    restart.last_commit = Some(commit("3f2a9c1", "2026-11-28", "Ada Ops"));
    let mut deploy = markdown::parse("deploy/rollback.md", RUNBOOK_ROLLBACK);
    deploy.last_commit = Some(commit("9b7e004", "2026-11-30", "Grace Deploy"));
    deploy.modified = true;
    let mut disk = markdown::parse("research/disk-full.md", RUNBOOK_DISK);
    disk.last_commit = Some(commit("c0ffee2", "2026-10-02", "Linus Disk"));
    vec![deploy, restart, disk]
}
