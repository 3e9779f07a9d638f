//! Integration tests of the Netdata source against the test bed's real
//! Netdata 1.37 (`OPSCOCKPIT_BED_NETDATA`), through `LocalTransport`. The
//! stop/restart test runs its OWN Netdata instance on another port (with a
//! health rule that is always critical, for the alert path); the shared one
//! is never touched. Without `OPSCOCKPIT_BED` the tests return early.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opscockpit::app::event::AppEvent;
use opscockpit::metrics::AlertLevel;
use opscockpit::metrics::AlertsEvent;
use opscockpit::metrics::{MetricsSource, MetricsUpdate};
use opscockpit::metrics::{SeriesStore, names};
use opscockpit::sources::netdata::{Settings, supervisor};
use opscockpit::transport::SharedTransport;
use opscockpit::transport::local::LocalTransport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn bed_netdata() -> Option<String> {
    if std::env::var_os("OPSCOCKPIT_BED").is_none() {
        eprintln!("OPSCOCKPIT_BED is not set: skipping (source /tmp/opscockpit-bed/env)");
        return None;
    }
    Some(std::env::var("OPSCOCKPIT_BED_NETDATA").expect("OPSCOCKPIT_BED_NETDATA is set by the bed"))
}

struct Running {
    events: mpsc::Receiver<AppEvent>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(url: &str, probe_every: Duration) -> Self {
        Self::start_on(Arc::new(LocalTransport), url, probe_every)
    }

    fn start_on(transport: SharedTransport, url: &str, probe_every: Duration) -> Self {
        let (tx, events) = mpsc::channel(4096);
        let cancel = CancellationToken::new();
        let settings = Settings {
            url: url.to_string(),
            probe_every,
            alerts_every: Duration::from_secs(2),
            ..Settings::default()
        };
        let task = tokio::spawn(supervisor::run(transport, settings, tx, cancel.clone()));
        Self {
            events,
            cancel,
            task,
        }
    }

    /// The next event `pick` accepts, within `limit`; panics with what was
    /// seen otherwise.
    async fn wait_for<T>(
        &mut self,
        limit: Duration,
        what: &str,
        mut pick: impl FnMut(&AppEvent) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.events.recv()).await {
                Ok(Some(event)) => {
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                    seen.push(summary(&event));
                }
                Ok(None) => panic!("supervisor ended while waiting for {what}; saw {seen:?}"),
                Err(_) => panic!("no {what} within {limit:?}; saw {:?}", last(&seen, 12)),
            }
        }
    }

    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("supervisor stops when cancelled")
            .expect("supervisor task");
    }
}

fn last(v: &[String], n: usize) -> &[String] {
    &v[v.len().saturating_sub(n)..]
}

fn summary(event: &AppEvent) -> String {
    match event {
        AppEvent::Metrics(s, u) => format!("Metrics({s:?}, t={})", u.t),
        AppEvent::MetricsBatch(s, u) => format!("Batch({s:?}, {} seconds)", u.len()),
        AppEvent::MetricsLive { source, reason } => format!("Live({source:?}: {reason})"),
        AppEvent::MetricsStatus { source, message } => format!("Status({source:?}: {message})"),
        AppEvent::Alerts(a) => format!("Alerts({a:?})"),
        other => format!("{other:?}"),
    }
}

fn value(update: &MetricsUpdate, name: &str) -> Option<f64> {
    update
        .readings
        .iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, _, v)| *v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_update_has_ten_minutes_of_history() {
    let Some(addr) = bed_netdata() else { return };
    let mut run = Running::start(&format!("http://{addr}"), Duration::from_secs(5));
    let reason = run
        .wait_for(Duration::from_secs(15), "Netdata going live", |e| match e {
            AppEvent::MetricsLive {
                source: MetricsSource::Netdata,
                reason,
            } => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert!(reason.starts_with("Netdata v1."), "{reason}");
    assert!(reason.contains(&addr), "{reason}");
    // The first data is the back-fill (one batch per chart, headline charts
    // first), all of it before any per-second value.
    let mut batches: Vec<MetricsUpdate> = Vec::new();
    let live = run
        .wait_for(
            Duration::from_secs(40),
            "the back-fill, then a per-second value",
            |e| match e {
                AppEvent::MetricsBatch(MetricsSource::Netdata, updates) => {
                    batches.extend(updates.iter().cloned());
                    None
                }
                AppEvent::Metrics(MetricsSource::Netdata, u) => Some(u.clone()),
                _ => None,
            },
        )
        .await;
    assert!(
        !batches.is_empty(),
        "a per-second value came before any back-fill"
    );
    let mut store = SeriesStore::default();
    for u in &batches {
        for (name, unit, v) in &u.readings {
            store.push(name, *unit, u.t, *v);
        }
    }
    let cpu = store.get(names::CPU_TOTAL).expect("cpu.total back-filled");
    let now = chrono::Utc::now().timestamp();
    let oldest = cpu.window(now, 3600).next().expect("points").t;
    assert!(
        cpu.len() >= 300 && now - oldest >= 300,
        "{} points back to {} s ago (a Netdata that started moments ago has less history: \
         scripts/test waits until the bed's has run 5.5 minutes)",
        cpu.len(),
        now - oldest
    );
    for name in [
        names::MEM_USED,
        names::MEM_TOTAL,
        names::NET_RX,
        names::DISK_WRITE,
        names::LOAD1,
    ] {
        assert!(store.get(name).is_some_and(|s| s.len() > 50), "{name}");
    }
    // Then per-second values, newer than the history, with host details.
    let last_backfilled = store
        .get(names::CPU_TOTAL)
        .and_then(|s| s.latest())
        .map(|p| p.t)
        .expect("seconds");
    assert!(live.t >= last_backfilled, "{} < {last_backfilled}", live.t);
    assert!(live.cpu_count.is_some_and(|n| n > 0));
    assert!(live.uptime_secs.is_some());
    assert!(value(&live, names::MEM_AVAILABLE).is_some());
    run.stop().await;
}

/// Loopback bytes moved by this test show up in `net.if.lo.rx`, in bytes
/// (Netdata's kilobits/s converted); busy loops raise `cpu.total`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_track_the_bed() {
    let Some(addr) = bed_netdata() else { return };
    let mut run = Running::start(&format!("http://{addr}"), Duration::from_secs(5));
    run.wait_for(Duration::from_secs(40), "a per-second value", |e| match e {
        AppEvent::Metrics(MetricsSource::Netdata, _) => Some(()),
        _ => None,
    })
    .await;

    // 1. Network: push N bytes through a loopback socket.
    const N: usize = 300 << 20;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let reader = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0usize;
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    });
    let started = chrono::Utc::now().timestamp();
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let chunk = vec![7u8; 1 << 20];
    for _ in 0..(N >> 20) {
        s.write_all(&chunk).await.expect("write");
    }
    drop(s);
    assert_eq!(reader.await.expect("reader"), N);
    let ended = chrono::Utc::now().timestamp();

    // Sum the per-second rates over the transfer (plus Netdata's lag).
    let mut per_second = std::collections::BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(event)) = tokio::time::timeout(left, run.events.recv()).await else {
            break;
        };
        let updates = match event {
            AppEvent::Metrics(MetricsSource::Netdata, u) => vec![u],
            AppEvent::MetricsBatch(MetricsSource::Netdata, u) => u,
            _ => continue,
        };
        for u in updates {
            if u.t >= started - 1
                && u.t <= ended + 4
                && let Some(v) = value(&u, "net.if.lo.rx")
            {
                per_second.insert(u.t, v);
            }
        }
    }
    let seen: f64 = per_second.values().sum();
    assert!(
        seen >= 0.7 * N as f64 && seen < 6.0 * N as f64,
        "sent {N} bytes over lo, net.if.lo.rx adds up to {seen:.0} over {:?}",
        per_second.keys().collect::<Vec<_>>()
    );

    // 2. CPU: two bounded busy loops (one per core of the bed).
    let mut loops = Vec::new();
    for _ in 0..2 {
        loops.push(
            tokio::process::Command::new("timeout")
                .args(["6", "sh", "-c", "while :; do :; done"])
                .spawn()
                .expect("busy loop"),
        );
    }
    let mut peak: f64 = 0.0;
    let deadline = Instant::now() + Duration::from_secs(7);
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(event)) = tokio::time::timeout(left, run.events.recv()).await else {
            break;
        };
        if let AppEvent::Metrics(MetricsSource::Netdata, u) = event
            && let Some(v) = value(&u, names::CPU_TOTAL)
        {
            peak = peak.max(v);
        }
    }
    for mut l in loops {
        let _ = l.wait().await;
    }
    assert!(
        peak >= 60.0,
        "cpu.total peaked at {peak:.1}% under two busy loops"
    );
    run.stop().await;
}

/// A child name the parent does not know gives HTTP 404: /proc takes over
/// with that reason and alerts say why they are missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_child_falls_back_with_the_http_error() {
    let Some(addr) = bed_netdata() else { return };
    let mut run = Running::start(
        &format!("http://{addr}/host/no-such-child"),
        Duration::from_secs(30),
    );
    let reason = run
        .wait_for(Duration::from_secs(10), "the fallback", |e| match e {
            AppEvent::MetricsLive {
                source: MetricsSource::Proc,
                reason,
            } => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert!(reason.contains("HTTP 404"), "{reason}");
    assert!(reason.contains("/host/no-such-child"), "{reason}");
    assert!(reason.contains("using /proc"), "{reason}");
    run.wait_for(Duration::from_secs(10), "a /proc value", |e| match e {
        AppEvent::Metrics(MetricsSource::Proc, u) => value(u, names::MEM_USED),
        _ => None,
    })
    .await;
    run.stop().await;
}

/// A server that accepts and never answers: the 2 s time limit fires and
/// /proc takes over instead of the cockpit hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_server_times_out_to_proc() {
    if bed_netdata().is_none() {
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let started = Instant::now();
    let mut run = Running::start(&format!("http://127.0.0.1:{port}"), Duration::from_secs(30));
    let reason = run
        .wait_for(Duration::from_secs(10), "the fallback", |e| match e {
            AppEvent::MetricsLive {
                source: MetricsSource::Proc,
                reason,
            } => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert!(reason.contains("no answer within 2 s"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(6));
    run.stop().await;
    holder.abort();
}

/// A link whose state the test sets: while it does not answer, Netdata
/// looks lost too, but that is the link's fault.
struct SettableLink {
    inner: LocalTransport,
    answers: std::sync::atomic::AtomicBool,
    state: tokio::sync::watch::Sender<opscockpit::transport::ConnectionState>,
}

#[async_trait::async_trait]
impl opscockpit::transport::Transport for SettableLink {
    async fn exec(
        &self,
        command: &str,
        options: opscockpit::transport::ExecOptions,
    ) -> Result<opscockpit::transport::ExecHandle, opscockpit::transport::TransportError> {
        self.inner.exec(command, options).await
    }

    async fn connect_tcp(
        &self,
        host: &str,
        port: u16,
    ) -> Result<opscockpit::transport::BoxStream, opscockpit::transport::TransportError> {
        self.inner.connect_tcp(host, port).await
    }

    async fn connect_unix(
        &self,
        path: &str,
    ) -> Result<opscockpit::transport::BoxStream, opscockpit::transport::TransportError> {
        self.inner.connect_unix(path).await
    }

    fn describe(&self) -> String {
        "settable link".into()
    }

    fn connection_state(
        &self,
    ) -> Option<tokio::sync::watch::Receiver<opscockpit::transport::ConnectionState>> {
        Some(self.state.subscribe())
    }

    async fn link_alive(&self) -> bool {
        self.answers.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Netdata silent because the link stalled: no /proc over the same dead
/// link; the supervisor says it waits for the link. Once the link answers
/// and Netdata still does not, Netdata itself is at fault: /proc then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_fallback_to_proc_while_the_link_does_not_answer() {
    use opscockpit::transport::ConnectionState;
    if bed_netdata().is_none() {
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let link = Arc::new(SettableLink {
        inner: LocalTransport,
        answers: std::sync::atomic::AtomicBool::new(false),
        state: tokio::sync::watch::Sender::new(ConnectionState::Reconnecting {
            attempt: 1,
            since: 0,
            reason: "3 keepalives unanswered".into(),
        }),
    });
    let mut run = Running::start_on(
        link.clone(),
        &format!("http://127.0.0.1:{port}"),
        Duration::from_secs(1),
    );
    let mut proc_live = false;
    let status = run
        .wait_for(
            Duration::from_secs(10),
            "the wait for the link",
            |e| match e {
                AppEvent::MetricsLive {
                    source: MetricsSource::Proc,
                    ..
                } => {
                    proc_live = true;
                    None
                }
                AppEvent::MetricsStatus { message, .. } if message.contains("link") => {
                    Some(message.clone())
                }
                _ => None,
            },
        )
        .await;
    assert!(!proc_live, "fell back to /proc over a dead link");
    assert!(status.contains("the link is not answering"), "{status}");
    assert!(status.contains("no answer within 2 s"), "{status}");

    link.answers
        .store(true, std::sync::atomic::Ordering::SeqCst);
    link.state.send_replace(ConnectionState::Connected {
        rtt_ms: Some(1),
        unanswered: 0,
    });
    let reason = run
        .wait_for(Duration::from_secs(10), "the fallback", |e| match e {
            AppEvent::MetricsLive {
                source: MetricsSource::Proc,
                reason,
            } => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert!(reason.contains("no answer within 2 s"), "{reason}");
    run.stop().await;
    holder.abort();
}

// ------------------------------------------------------------ own Netdata

/// A Netdata of our own on a free loopback port, with its own config,
/// cache, lib and log dirs in a tempdir, and a health rule that is always
/// critical. Killed (its process group) when dropped.
struct OwnNetdata {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnNetdata {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("opscockpit-netdata-")
            .tempdir()
            .expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let root = unsafe { libc::geteuid() } == 0;
        let user = if root {
            "netdata".to_string()
        } else {
            std::env::var("USER").expect("USER")
        };
        let d = dir.path().display().to_string();
        for sub in ["cache", "lib", "log", "health.d"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        let bed_dir =
            std::env::var("OPSCOCKPIT_BED_DIR").unwrap_or_else(|_| "/tmp/opscockpit-bed".into());
        // The bed's plugins dir has the cloud probe and statistics disabled.
        let plugins = format!("{bed_dir}/netdata/plugins.d");
        std::fs::write(
            dir.path().join("health.d/test.conf"),
            "alarm: opscockpit_test_critical\n    on: system.load\nlookup: max -10s of load1\n every: 2s\n  crit: $this >= 0\n  info: always critical, for opscockpit tests\n units: load\n",
        )
        .expect("health rule");
        std::fs::write(
            dir.path().join("netdata.conf"),
            format!(
                "[global]\n    run as user = {user}\n    web files owner = root\n    web files group = root\n\
[db]\n    update every = 1\n    mode = ram\n    retention = 1200\n\
[directories]\n    cache = {d}/cache\n    lib = {d}/lib\n    log = {d}/log\n    lock = {d}/lib/lock\n    registry = {d}/lib/registry\n    home = {d}/lib\n    plugins = \"{plugins}\"\n    health config = {d}/health.d\n    stock health config = {d}/health.d\n\
[logs]\n    error = {d}/log/error.log\n    access = none\n    debug = none\n    health = {d}/log/health.log\n\
[web]\n    bind to = 127.0.0.1:{port}\n\
[registry]\n    enabled = no\n[statsd]\n    enabled = no\n\
[health]\n    script to execute on alarm = /bin/true\n\
[plugins]\n    apps = no\n    cgroups = no\n    tc = no\n    idlejitter = no\n    charts.d = no\n    python.d = no\n    go.d = no\n    ebpf = no\n    fping = no\n    ioping = no\n    perf = no\n    slabinfo = no\n    nfacct = no\n    cups = no\n"
            ),
        )
        .expect("netdata.conf");
        if root {
            // Netdata drops to its user: it must reach and own its dirs.
            let chown = std::process::Command::new("chown")
                .args(["-R", "netdata:netdata"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(chown.success());
            std::fs::set_permissions(
                dir.path(),
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )
            .expect("chmod");
        }
        let mut me = Self {
            dir,
            port,
            child: None,
        };
        me.start();
        me
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        use std::os::unix::process::CommandExt;
        let log = std::fs::File::create(self.dir.path().join("netdata.out")).expect("log");
        let child = std::process::Command::new("/usr/sbin/netdata")
            .args(["-D", "-p", &self.port.to_string(), "-c"])
            .arg(self.dir.path().join("netdata.conf"))
            .args(["-W", "set", "web", "bind to"])
            .arg(format!("127.0.0.1:{}", self.port))
            .env("DO_NOT_TRACK", "1")
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start /usr/sbin/netdata (is netdata-core installed?)");
        self.child = Some(child);
    }

    /// Stops it (SIGTERM to its process group) and waits until it exited.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pgid = child.id() as i32;
            unsafe {
                libc::kill(-pgid, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    unsafe {
                        libc::kill(-pgid, libc::SIGKILL);
                    }
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // Plugins of the group that outlived the main process.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for OwnNetdata {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netdata_stopped_falls_back_and_restarted_comes_back() {
    if bed_netdata().is_none() {
        return;
    }
    let mut nd = OwnNetdata::new();
    let mut run = Running::start(&nd.url(), Duration::from_secs(1));
    // It takes Netdata a few seconds to answer; /proc covers until then.
    run.wait_for(
        Duration::from_secs(60),
        "our Netdata going live",
        |e| match e {
            AppEvent::MetricsLive {
                source: MetricsSource::Netdata,
                ..
            } => Some(()),
            _ => None,
        },
    )
    .await;
    run.wait_for(Duration::from_secs(15), "a Netdata value", |e| match e {
        AppEvent::Metrics(MetricsSource::Netdata, u) => value(u, names::CPU_TOTAL),
        _ => None,
    })
    .await;
    // The always-critical health rule shows up as a critical alert.
    let alert = run
        .wait_for(
            Duration::from_secs(30),
            "the critical test alert",
            |e| match e {
                AppEvent::Alerts(AlertsEvent::Update(list)) => list
                    .iter()
                    .find(|a| a.name == "opscockpit_test_critical")
                    .cloned(),
                _ => None,
            },
        )
        .await;
    assert_eq!(alert.level, AlertLevel::Critical);
    assert_eq!(alert.chart, "system.load");
    assert_eq!(alert.info, "always critical, for opscockpit tests");

    // Stopped: /proc within 5 s of Netdata being gone.
    nd.stop();
    let stopped = Instant::now();
    let reason = run
        .wait_for(Duration::from_secs(10), "the fallback", |e| match e {
            AppEvent::MetricsLive {
                source: MetricsSource::Proc,
                reason,
            } => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert!(
        stopped.elapsed() <= Duration::from_secs(5),
        "fallback took {:?}",
        stopped.elapsed()
    );
    assert!(
        reason.contains(&format!("127.0.0.1:{}", nd.port)),
        "{reason}"
    );
    assert!(reason.contains("using /proc"), "{reason}");
    run.wait_for(
        Duration::from_secs(10),
        "alerts marked unavailable",
        |e| match e {
            AppEvent::Alerts(AlertsEvent::Unavailable(_)) => Some(()),
            _ => None,
        },
    )
    .await;
    run.wait_for(Duration::from_secs(10), "a /proc value", |e| match e {
        AppEvent::Metrics(MetricsSource::Proc, u) => value(u, names::MEM_USED),
        _ => None,
    })
    .await;

    // Restarted: back to Netdata by itself.
    nd.start();
    run.wait_for(Duration::from_secs(60), "Netdata again", |e| match e {
        AppEvent::MetricsLive {
            source: MetricsSource::Netdata,
            ..
        } => Some(()),
        _ => None,
    })
    .await;
    run.wait_for(
        Duration::from_secs(15),
        "a Netdata value again",
        |e| match e {
            AppEvent::Metrics(MetricsSource::Netdata, u) => value(u, names::CPU_TOTAL),
            AppEvent::Metrics(MetricsSource::Proc, _) => {
                panic!("/proc still sending after the switch back")
            }
            _ => None,
        },
    )
    .await;
    run.stop().await;
}

/// Counts the streams opened, to see the keep-alive connection reused.
struct CountingTransport {
    inner: LocalTransport,
    connects: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl opscockpit::transport::Transport for CountingTransport {
    async fn exec(
        &self,
        command: &str,
        options: opscockpit::transport::ExecOptions,
    ) -> Result<opscockpit::transport::ExecHandle, opscockpit::transport::TransportError> {
        self.inner.exec(command, options).await
    }

    async fn connect_tcp(
        &self,
        host: &str,
        port: u16,
    ) -> Result<opscockpit::transport::BoxStream, opscockpit::transport::TransportError> {
        self.connects
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.connect_tcp(host, port).await
    }

    async fn connect_unix(
        &self,
        path: &str,
    ) -> Result<opscockpit::transport::BoxStream, opscockpit::transport::TransportError> {
        self.inner.connect_unix(path).await
    }

    fn describe(&self) -> String {
        "counting".into()
    }
}

/// One kept-alive connection for many requests, gzip on the wire, and what
/// a per-second request costs in bytes (printed for the benchmark report).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_gzip_and_bytes_per_request() {
    use opscockpit::sources::netdata::client::{NetdataClient, NetdataTarget};
    use opscockpit::sources::netdata::parse;
    use std::sync::atomic::Ordering;
    let Some(addr) = bed_netdata() else { return };
    let transport = Arc::new(CountingTransport {
        inner: LocalTransport,
        connects: Default::default(),
    });
    let target = NetdataTarget::parse(&format!("http://{addr}")).expect("url");
    let mut client = NetdataClient::new(transport.clone(), target);
    let info = client.info().await.expect("info");
    assert!(info.version.starts_with('v'), "{info:?}");
    let (r0, w0) = (
        client.counters.read.load(Ordering::Relaxed),
        client.counters.written.load(Ordering::Relaxed),
    );
    const N: u64 = 5;
    let mut plain = 0usize;
    for _ in 0..N {
        let all = client
            .allmetrics(parse::ALLMETRICS_FILTER)
            .await
            .expect("allmetrics");
        assert!(all.get("system.cpu").is_some());
        plain = all.charts.len();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let read = (client.counters.read.load(Ordering::Relaxed) - r0) / N;
    let written = (client.counters.written.load(Ordering::Relaxed) - w0) / N;
    eprintln!(
        "allmetrics per request: {read} bytes in, {written} bytes out ({plain} charts); {} connection(s)",
        transport.connects.load(Ordering::SeqCst)
    );
    assert_eq!(
        transport.connects.load(Ordering::SeqCst),
        1,
        "keep-alive reused"
    );
    // The plain answer is ~15-20 KB; gzip makes it a few KB.
    assert!(read < 8_000, "{read} bytes per answer: gzip not used?");
    let table = client.data("system.cpu", -60).await.expect("data");
    assert!(table.rows.len() >= 50, "{} rows", table.rows.len());
    let missing = client.data("no.such.chart", -60).await.expect_err("404");
    assert!(missing.to_string().starts_with("HTTP 404"), "{missing}");
    // After an error answer the client still works (reconnecting if needed).
    client.alarms().await.expect("alarms after a 404");
}
