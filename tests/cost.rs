//! Cost: traffic totals against the test bed's real Netdata (which watches
//! this machine, `lo` included), and the `opscockpit cost` command end to end.
//! Bed tests return early without OPSCOCKPIT_BED; with it, a broken bed fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opscockpit::cost::netdata::TrafficQuery;
use opscockpit::cost::netdata_fetch::NetdataHttp;
use opscockpit::cost::traffic;
use opscockpit::transport::local::LocalTransport;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn bed_netdata() -> Option<String> {
    if std::env::var_os("OPSCOCKPIT_BED").is_none() {
        eprintln!("OPSCOCKPIT_BED unset: skipping (source /tmp/opscockpit-bed/env)");
        return None;
    }
    Some(std::env::var("OPSCOCKPIT_BED_NETDATA").expect("the bed env names OPSCOCKPIT_BED_NETDATA"))
}

fn netdata(addr: &str) -> NetdataHttp {
    NetdataHttp::new(Arc::new(LocalTransport), Some(&format!("http://{addr}"))).expect("url")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Bytes received on `lo` according to the kernel.
fn lo_rx_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/net/dev").expect("/proc/net/dev");
    opscockpit::cost::fallback::parse_proc_net_dev(&text)
        .expect("parses")
        .into_iter()
        .find(|(name, _, _)| name == "lo")
        .map(|(_, rx, _)| rx)
        .expect("lo in /proc/net/dev")
}

/// Sleeps until 100 ms past the next second boundary; returns that second.
async fn next_second() -> i64 {
    let ms = chrono::Utc::now().timestamp_subsec_millis() as u64;
    tokio::time::sleep(Duration::from_millis(1100 - ms.min(999))).await;
    now()
}

/// Sends `bytes` through a loopback TCP connection and waits until all arrived.
async fn loopback_transfer(bytes: usize) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let reader = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.expect("accept");
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0;
        loop {
            let n = sock.read(&mut buf).await.expect("read");
            if n == 0 {
                break total;
            }
            total += n;
        }
    });
    let mut out = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let chunk = vec![7u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        out.write_all(&chunk[..n]).await.expect("write");
        left -= n;
    }
    out.shutdown().await.expect("shutdown");
    drop(out);
    let got = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("transfer finishes")
        .expect("reader");
    assert_eq!(got, bytes);
}

#[tokio::test]
async fn lo_total_rises_by_the_transfer_and_matches_the_kernel() {
    let Some(addr) = bed_netdata() else { return };
    let nd = netdata(&addr);
    let ifaces = tokio::time::timeout(Duration::from_secs(10), nd.interfaces())
        .await
        .expect("answers")
        .expect("interfaces");
    assert!(ifaces.contains(&"lo".to_string()), "{ifaces:?}");

    // Netdata spreads what it collects at time c over the interval since its
    // previous collection, so a row may hold up to one second of traffic
    // that happened after it. Kernel counters read 100 ms after each second
    // bound what the window (start, end] can hold, whatever else uses lo:
    // at least everything in (start+1, end], at most everything in
    // (start, end+1].
    const N: usize = 200_000_000;
    let start = next_second().await;
    let c0 = lo_rx_bytes();
    next_second().await;
    let c1 = lo_rx_bytes();
    loopback_transfer(N).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let end = next_second().await;
    let c2 = lo_rx_bytes();
    next_second().await;
    let c3 = lo_rx_bytes();
    let (at_least, at_most) = ((c2 - c1) as f64, (c3 - c0) as f64);

    // Netdata needs a moment to store the last second; retry briefly.
    let deadline = Instant::now() + Duration::from_secs(15);
    let sum = loop {
        let sum = nd.net_sum("lo", start, end, 0).await.expect("tier 0 sums");
        if sum.last_entry.is_some_and(|l| l > end + 1) || Instant::now() > deadline {
            break sum;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(sum.step, 1, "tier 0 is per second");
    let rows: Vec<(i64, Option<f64>)> = sum.rows.iter().map(|r| (r.t, r.received)).collect();
    let t = traffic::from_netdata(&[("lo".to_string(), sum)], start, end);
    let lo = &t.interfaces[0];
    assert!(!lo.counted, "lo is shown but not counted");
    assert_eq!(t.received, 0.0);
    assert_eq!(t.coverage.points_expected, (end - start) as u64);
    assert_eq!(
        t.coverage.points_found, t.coverage.points_expected,
        "a recent window on tier 0 has every second"
    );
    assert!(at_least >= N as f64);
    assert!(
        lo.received >= at_least * 0.98 - 2e6 && lo.received <= at_most * 1.02 + 2e6,
        "netdata {} outside kernel bounds [{at_least}, {at_most}] over ({start}, {end}]: {rows:?}",
        lo.received
    );
}

#[tokio::test]
async fn tier1_minute_sums_equal_tier0_second_sums() {
    let Some(addr) = bed_netdata() else { return };
    let nd = netdata(&addr);
    // Traffic of our own on lo for as long as the test waits (an idle bed
    // would leave every window empty and the comparison meaningless): 2 MB
    // every second, bounded by the deadline below.
    let traffic = tokio::spawn(async {
        for _ in 0..240 {
            loopback_transfer(2 << 20).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    // Tier 1 aggregates by collection time, so its minute edges can sit a
    // second off tier 0's: it must lie between tier 0's sums over the window
    // shrunk and grown by two seconds (a per-minute average instead of a sum
    // would be 60 times smaller).
    // The windows below end a minute back: traffic started now is in one
    // within about two minutes.
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        // Three complete minutes that tier 1 has stored (it lags the clock).
        let end = now() / 60 * 60 - 60;
        let start = end - 180;
        let t1 = nd.net_sum("lo", start, end, 1).await.expect("tier 1");
        let t0 = nd
            .net_sum("lo", start - 3, end + 3, 0)
            .await
            .expect("tier 0");
        assert_eq!(t1.step, 60);
        let minutes = traffic::from_netdata(&[("lo".into(), t1)], start, end);
        let inner = traffic::from_netdata(&[("lo".into(), t0.clone())], start + 2, end - 2);
        let outer = traffic::from_netdata(&[("lo".into(), t0)], start - 2, end + 2);
        let has_traffic = outer.interfaces.first().is_some_and(|i| i.received > 0.0);
        if minutes.coverage.complete() && outer.coverage.complete() && has_traffic {
            assert_eq!(minutes.coverage.points_expected, 3);
            let x = minutes.interfaces[0].received;
            let (lo, hi) = (inner.interfaces[0].received, outer.interfaces[0].received);
            assert!(hi > 0.0, "no traffic at all on lo in ({start}, {end}]");
            assert!(
                x >= lo * 0.99 - 1000.0 && x <= hi * 1.01 + 1000.0,
                "tier 1 {x} outside tier 0 [{lo}, {hi}] over ({start}, {end}]"
            );
            traffic.abort();
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Netdata has no complete tier-1 minutes with traffic on lo: tier1 {:?} tier0 {:?}",
            minutes.coverage,
            outer.coverage
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

/// A config dir with `config.toml` and the XDG dirs in a temp dir.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(config: &str) -> Home {
        let dir = tempfile::tempdir().expect("tmp");
        let conf = dir.path().join("config/opscockpit");
        std::fs::create_dir_all(&conf).expect("mkdir");
        std::fs::write(conf.join("config.toml"), config).expect("write");
        Home { dir }
    }

    fn config_file(&self) -> PathBuf {
        self.dir.path().join("config/opscockpit/config.toml")
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run_in(self.dir.path(), args, &[])
    }

    fn run_env(&self, args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
        run_in(self.dir.path(), args, envs)
    }
}

fn run_in(home: &Path, args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_opscockpit"))
        .args(args)
        .envs(envs.iter().copied())
        .env_remove("OPSCOCKPIT_CONFIG")
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .output()
        .expect("runs the binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn f(v: &Value, path: &str) -> f64 {
    v.pointer(path)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{path} is a number in {v}"))
}

#[test]
fn cli_json_report_field_by_field() {
    let Some(addr) = bed_netdata() else { return };
    let home = Home::new(&format!(
        r#"
[hosts.local]
netdata_url = "http://{addr}"
plan = "render-professional-legacy"
compare = ["hetzner-ax42", "do-basic-4", "mine"]
billing_day = 5

[plans.mine]
name = "Mine"
currency = "USD"
monthly_base = 1.5
included_egress_gb = 0.001
overage_per_gb = 2.0
source_url = "https://example.com/pricing"
date_read = "2026-11-01"
"#
    ));
    let (code, stdout, stderr) = home.run(&[
        "-F",
        "/dev/null",
        "cost",
        "local",
        "--period",
        "today",
        "--json",
    ]);
    assert_eq!(code, 0, "stderr: {stderr}");
    let r: Value = serde_json::from_str(&stdout).expect("stdout is JSON");

    assert_eq!(r["host"], "local");
    assert_eq!(r["source"], "netdata");
    assert!(r["source_note"].is_null());
    let generated = r["generated_at"].as_i64().expect("generated_at");
    assert!((generated - now()).abs() < 60);

    // Period: today since 00:00 UTC, cut at now.
    let today = chrono::DateTime::from_timestamp(generated, 0)
        .expect("t")
        .date_naive();
    let midnight = today.and_hms_opt(0, 0, 0).expect("t").and_utc().timestamp();
    assert_eq!(r["period"]["start"], midnight);
    assert_eq!(r["period"]["end"], generated);
    assert_eq!(r["period"]["label"], format!("today {today}"));

    // Billing period from the 5th (billing_day = 5).
    let bstart = f(&r, "/billing_period/start") as i64;
    let bstart_date = chrono::DateTime::from_timestamp(bstart, 0)
        .expect("t")
        .date_naive();
    use chrono::Datelike;
    assert_eq!(bstart_date.day(), 5);
    assert!(bstart <= generated && generated < f(&r, "/billing_period/end") as i64);

    // Interfaces: lo listed, not counted; totals are the counted ones.
    let ifaces = r["traffic"]["interfaces"].as_array().expect("interfaces");
    let lo = ifaces
        .iter()
        .find(|i| i["name"] == "lo")
        .expect("lo listed");
    assert_eq!(lo["counted"], false);
    let counted_rx: f64 = ifaces
        .iter()
        .filter(|i| i["counted"] == true)
        .map(|i| i["received"].as_f64().expect("rx"))
        .sum();
    assert!((counted_rx - f(&r, "/traffic/received")).abs() < 1.0);
    let counted_tx: f64 = ifaces
        .iter()
        .filter(|i| i["counted"] == true)
        .map(|i| i["sent"].as_f64().expect("tx"))
        .sum();
    assert!((counted_tx - f(&r, "/traffic/sent")).abs() < 1.0);

    // Coverage adds up; today's expected minutes match the period.
    let cov = &r["traffic"]["coverage"];
    let expected = cov["points_expected"].as_u64().expect("expected");
    let found = cov["points_found"].as_u64().expect("found");
    assert!(found <= expected);
    assert_eq!(expected as i64, (generated / 60 * 60 - midnight) / 60);
    assert_eq!(
        f(cov, "/covered_secs") + f(cov, "/missing_secs"),
        (expected * 60) as f64
    );
    // Daily totals sum to the period's.
    let daily_tx: f64 = r["traffic"]["daily"]
        .as_array()
        .expect("daily")
        .iter()
        .map(|d| d["sent"].as_f64().expect("sent"))
        .sum();
    assert!((daily_tx - f(&r, "/traffic/sent")).abs() < 1.0);

    // Both projections, each at least what was sent so far, or (below
    // the minimum coverage) no number and a reason.
    let projections = r["projections"].as_array().expect("projections");
    let bases: Vec<&str> = projections
        .iter()
        .filter_map(|p| p["basis"].as_str())
        .collect();
    assert_eq!(bases, ["period so far", "last 7 days"]);
    for p in projections {
        assert!(
            p["stands_on"]
                .as_str()
                .expect("stands_on")
                .starts_with("from ")
        );
        match p["quality"].as_str().expect("quality") {
            "not_enough_data" => {
                assert!(p["sent"].is_null() && p["received"].is_null(), "{p}");
                assert!(
                    p["reason"].as_str().expect("reason").contains("needs"),
                    "{p}"
                );
            }
            "rough" | "full" => {
                assert!(p["sent"].as_f64().expect("sent") >= f(&r, "/billing_so_far/sent") - 1.0);
            }
            other => panic!("quality {other}"),
        }
    }

    // Plans: the current one plus the three to compare with.
    assert_eq!(r["current_plan"], "render-professional-legacy");
    let plans = r["plans"].as_array().expect("plans");
    let ids: std::collections::BTreeSet<&str> = plans
        .iter()
        .filter_map(|p| p["period"]["plan"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "do-basic-4",
            "hetzner-ax42",
            "mine",
            "render-professional-legacy"
        ]
        .into_iter()
        .collect()
    );
    let plan = |id: &str| plans.iter().find(|p| p["period"]["plan"] == id).expect(id);
    assert_eq!(plan("render-professional-legacy")["current"], true);
    assert_eq!(plan("render-professional-legacy")["vs_current"], 0.0);
    assert!(plan("hetzner-ax42")["vs_current"].is_null(), "EUR vs USD");
    assert_eq!(plan("hetzner-ax42")["cheapest"], true, "only EUR plan");
    // The user's plan: 1.5 + (sent - 1 MB) × 2 per GB, on the period's traffic.
    let sent = f(&r, "/traffic/sent");
    let mine = 1.5 + ((sent - 1e6).max(0.0)) / 1e9 * 2.0;
    assert!((f(plan("mine"), "/period/total") - mine).abs() < 1e-6);
    assert_eq!(plan("mine")["source_url"], "https://example.com/pricing");
    let usd_cheapest = plans
        .iter()
        .filter(|p| p["period"]["currency"] == "USD" && p["cheapest"] == true)
        .count();
    assert!(usd_cheapest >= 1);
}

#[test]
fn cli_text_report_for_the_month() {
    let Some(addr) = bed_netdata() else { return };
    let home = Home::new(&format!("[hosts.local]\nnetdata_url = \"http://{addr}\"\n"));
    let started = Instant::now();
    let (code, stdout, stderr) = home.run(&["cost", "local"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    eprintln!("opscockpit cost local took {:?}", started.elapsed());
    for needle in [
        "source netdata",
        "period   billing period from",
        "coverage ",
        "projected (period so far)",
        "projected (last 7 days)",
        "Render Professional",
        "(not counted)",
    ] {
        assert!(stdout.contains(needle), "{needle} missing in:\n{stdout}");
    }
}

#[test]
fn without_netdata_falls_back_to_proc_counters_labelled_since_boot() {
    if Command::new("sh")
        .args(["-c", "command -v vnstat"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("vnstat is installed here: the /proc fallback is not reached");
        return;
    }
    // Port 1 on loopback: nothing listens.
    let home = Home::new("[hosts.local]\nnetdata_url = \"http://127.0.0.1:1\"\n");
    let (code, stdout, stderr) = home.run(&["cost", "local", "--json"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    let r: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(r["source"], "/proc/net/dev");
    let note = r["source_note"].as_str().expect("note");
    assert!(
        note.contains("cannot reach Netdata at http://127.0.0.1:1 (connection refused)"),
        "{note}"
    );
    assert!(note.contains("since boot"), "{note}");
    assert!(
        r["period"]["label"]
            .as_str()
            .expect("label")
            .starts_with("since boot")
    );
    assert!(f(&r, "/traffic/received") > 0.0 || f(&r, "/traffic/sent") >= 0.0);
    assert!(r["projections"].as_array().expect("p").is_empty());
    assert!(
        r["billing_so_far"].is_null(),
        "no month-to-date from boot counters"
    );
    let names: Vec<&str> = r["traffic"]["interfaces"]
        .as_array()
        .expect("ifaces")
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert!(names.contains(&"lo"), "{names:?}");

    let (code, text, stderr) = home.run(&["cost", "local"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(text.contains("period   since boot ("), "{text}");
    assert!(!text.contains("so far"), "{text}");
}

#[test]
fn malformed_plan_in_config_names_file_line_and_key() {
    let home = Home::new(
        "[hosts.local]\nplan = \"mine\"\n\n[plans.mine]\nname = \"Mine\"\noverage_per_gb = \"a lot\"\n",
    );
    let (code, stdout, stderr) = home.run(&["cost", "local"]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    let file = home.config_file().display().to_string();
    assert!(
        stderr.contains(&format!("{file}:6: key `plans.mine.overage_per_gb`")),
        "{stderr}"
    );

    // Well-typed but incomplete: the first missing key, at the plan's line.
    let home = Home::new("[plans.mine]\nname = \"Mine\"\ncurrency = \"EUR\"\n");
    let (code, _, stderr) = home.run(&["cost", "local"]);
    assert_eq!(code, 1);
    let file = home.config_file().display().to_string();
    assert!(
        stderr.contains(&format!("{file}:1: key `plans.mine.monthly_base`")),
        "{stderr}"
    );

    // A plan name that does not exist.
    let home = Home::new("[hosts.local]\nplan = \"render-enterprise\"\n");
    let (code, _, stderr) = home.run(&["cost", "local"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("key `hosts.local.plan`: unknown plan `render-enterprise`"),
        "{stderr}"
    );
}

#[test]
fn bad_period_and_remote_hosts_are_refused() {
    let home = Home::new("");
    let (code, _, stderr) = home.run(&["cost", "local", "--period", "fortnight"]);
    assert_eq!(code, 2, "clap usage error");
    assert!(stderr.contains("unknown period `fortnight`"), "{stderr}");

    // A remote host that cannot be reached: one clear line, nothing on
    // stdout (port 9 on loopback: nothing listens, no traffic leaves).
    let ssh_config = home.dir.path().join("ssh_config");
    std::fs::write(
        &ssh_config,
        "Host unreachable\n  HostName 127.0.0.1\n  Port 9\n  ConnectTimeout 5\n",
    )
    .expect("write ssh config");
    let (code, stdout, stderr) = home.run(&[
        "-F",
        ssh_config.to_str().expect("utf8"),
        "cost",
        "unreachable",
        "--json",
    ]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("refused"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn a_period_before_the_agent_existed_is_all_missing_not_a_fallback() {
    let Some(addr) = bed_netdata() else { return };
    let home = Home::new(&format!("[hosts.local]\nnetdata_url = \"http://{addr}\"\n"));
    // Netdata answers 404 for a window wholly outside its retention.
    let (code, stdout, stderr) = home.run(&[
        "cost",
        "local",
        "--period",
        "2020-01-01..2020-01-02",
        "--json",
    ]);
    assert_eq!(code, 0, "stderr: {stderr}");
    let r: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(r["source"], "netdata");
    assert_eq!(r["period"]["start"], 1_577_836_800);
    assert_eq!(r["period"]["end"], 1_577_836_800 + 2 * 86_400);
    assert_eq!(f(&r, "/traffic/sent"), 0.0);
    let cov = &r["traffic"]["coverage"];
    assert_eq!(cov["points_found"], 0);
    assert_eq!(cov["points_expected"], 2 * 1440);
    assert_eq!(cov["missing_secs"], 2 * 86_400);
}

#[test]
fn stale_prices_are_marked_in_json_text_and_the_plan_list() {
    // Nothing listens on port 1: the report comes from /proc (or vnstat),
    // which is enough to price plans.
    let home = Home::new(
        r#"
[hosts.local]
netdata_url = "http://127.0.0.1:1"
plan = "fly"
compare = ["old"]
region = "europe"

[plans.old]
name = "Old price"
currency = "USD"
monthly_base = 1.0
source_url = "https://example.com/old"
date_read = "2020-01-01"
confidence = "page"
"#,
    );
    let (code, stdout, stderr) = home.run(&["cost", "local", "--json"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    let r: Value = serde_json::from_str(&stdout).expect("JSON");
    let plans = r["plans"].as_array().expect("plans");
    let plan = |id: &str| plans.iter().find(|p| p["period"]["plan"] == id).expect(id);
    assert_eq!(plan("old")["stale"], true);
    assert_eq!(plan("old")["date_read"], "2020-01-01");
    assert_eq!(plan("old")["confidence"], "page");
    assert_eq!(plan("fly")["stale"], false, "read 2026-08-05");
    // The host's region picks Fly's rate, and the report says which.
    assert_eq!(plan("fly")["region"], "europe");
    assert_eq!(plan("fly")["period"]["region"], "europe");

    let (code, text, stderr) = home.run(&["cost", "local"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(
        text.contains("! price read 2020-01-01, check source"),
        "{text}"
    );

    // `--plans` needs no host and no traffic.
    let (code, list, stderr) = home.run(&["cost", "--plans"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    for needle in [
        "old  Old price",
        "source     https://example.com/old",
        "read       2020-01-01  confidence page  ! price read 2020-01-01, check source",
        "hetzner-cx23  Hetzner Cloud CX23",
        "region     europe (of africa=0.12",
    ] {
        assert!(list.contains(needle), "{needle} missing in:\n{list}");
    }
    let (code, json, stderr) = home.run(&["cost", "--plans", "--json"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    let list: Value = serde_json::from_str(&json).expect("JSON");
    let old = list
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["id"] == "old")
        .expect("old");
    assert_eq!(old["stale"], true);
    assert_eq!(old["source_url"], "https://example.com/old");
}

#[test]
fn unknown_region_and_bad_plan_tables_name_file_line_and_key() {
    let home = Home::new("[hosts.local]\nplan = \"fly\"\nregion = \"mars\"\n");
    let (code, stdout, stderr) = home.run(&["cost", "local"]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    let file = home.config_file().display().to_string();
    assert!(
        stderr.contains(&format!(
            "{file}:3: key `hosts.local.region`: unknown region `mars` for plan `fly`; it lists: africa"
        )),
        "{stderr}"
    );

    let home =
        Home::new("[plans.fly]\nregion = \"europe\"\n\n[plans.fly.regions]\neurope = \"cheap\"\n");
    let (code, _, stderr) = home.run(&["cost", "--plans"]);
    assert_eq!(code, 1);
    let file = home.config_file().display().to_string();
    assert!(
        stderr.contains(&format!("{file}:5: key `plans.fly.regions.europe`")),
        "{stderr}"
    );

    let home = Home::new("[plans.fly]\nunit = \"TB\"\n");
    let (code, _, stderr) = home.run(&["cost", "--plans"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!(
            "{file}:2: key `plans.fly.unit`: unknown variant `TB`",
            file = home.config_file().display()
        )),
        "{stderr}"
    );
}

/// A stand-in for the Hetzner Cloud API on loopback: answers
/// `GET /v1/server_types?name=cx23` in the documented shape when the
/// Bearer token is `good-token`, 401 otherwise. Returns its address and the
/// request lines (with the Authorization header's verdict) it saw.
fn hcloud_stand_in() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut authorized = false;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if line.to_ascii_lowercase().starts_with("authorization:") {
                    authorized = line.trim_end() == "authorization: Bearer good-token"
                        || line.trim_end() == "Authorization: Bearer good-token";
                }
            }
            log.lock().expect("log").push(format!(
                "{} {}",
                request_line.trim_end(),
                if authorized { "authorized" } else { "refused" }
            ));
            let (status, body) = if !authorized {
                (
                    "401 Unauthorized",
                    r#"{"error": {"code": "unauthorized", "message": "unable to authenticate"}}"#
                        .to_string(),
                )
            } else {
                let price = |location: &str, monthly: &str, included: u64, per_tb: &str| {
                    format!(
                        r#"{{"location": "{location}",
                          "price_hourly": {{"net": "0.0080000000", "gross": "0.0095200000000000"}},
                          "price_monthly": {{"net": "{monthly}", "gross": "{monthly}"}},
                          "included_traffic": {included},
                          "price_per_tb_traffic": {{"net": "{per_tb}", "gross": "{per_tb}"}}}}"#
                    )
                };
                let prices = [
                    price("fsn1", "5.4900000000", 21_990_232_555_520, "1.0000000000"),
                    // Distinct figures for the host's location, so the test
                    // sees that they were used.
                    price("nbg1", "4.9900000000", 1_099_511_627_776, "2.0480000000"),
                    price("hel1", "5.4900000000", 21_990_232_555_520, "1.0000000000"),
                ]
                .join(",");
                (
                    "200 OK",
                    format!(
                        r#"{{"server_types": [{{"id": 114, "name": "cx23", "description": "CX23",
                          "cores": 2, "memory": 4, "disk": 40, "deprecated": false,
                          "prices": [{prices}], "storage_type": "local", "cpu_type": "shared",
                          "category": "cost_optimized", "architecture": "x86", "deprecation": null,
                          "locations": [{{"id": 1, "name": "fsn1"}}, {{"id": 2, "name": "nbg1"}}, {{"id": 3, "name": "hel1"}}]}}],
                          "meta": {{"pagination": {{"page": 1, "per_page": 25, "previous_page": null,
                          "next_page": null, "last_page": 1, "total_entries": 1}}}}}}"#
                    ),
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, seen)
}

#[test]
fn hetzner_live_prices_from_the_api_and_a_401_falls_back_to_the_file() {
    let (addr, seen) = hcloud_stand_in();
    let home = Home::new(&format!(
        r#"
[hosts.local]
netdata_url = "http://127.0.0.1:1"
plan = "hetzner-cx23"
compare = ["hetzner-ax42"]
region = "nbg1"
hcloud_token_env = "OPSCOCKPIT_TEST_HCLOUD"
hcloud_api = "http://{addr}/v1"
"#
    ));
    let plan_of = |stdout: &str| {
        let r: Value = serde_json::from_str(stdout).expect("JSON");
        let plan = r["plans"]
            .as_array()
            .expect("plans")
            .iter()
            .find(|p| p["period"]["plan"] == "hetzner-cx23")
            .expect("cx23")
            .clone();
        (r, plan)
    };

    // The stand-in answers: its nbg1 figures replace the file's.
    let (code, stdout, stderr) = home.run_env(
        &["cost", "local", "--json"],
        &[("OPSCOCKPIT_TEST_HCLOUD", "good-token")],
    );
    assert_eq!(code, 0, "stderr: {stderr}");
    let (r, cx) = plan_of(&stdout);
    // Since-boot traffic is far below the 1 TiB included: the base only.
    assert!(f(&r, "/traffic/sent") < 1e12);
    assert_eq!(f(&cx, "/period/total"), 4.99);
    assert_eq!(cx["region"], "nbg1");
    assert_eq!(cx["live"], "Hetzner Cloud API, cx23 in nbg1, net of VAT");
    assert_eq!(cx["stale"], false);
    assert!(r["price_notes"].as_array().expect("notes").is_empty());
    assert_eq!(
        seen.lock().expect("log").as_slice(),
        ["GET /v1/server_types?name=cx23 HTTP/1.1 authorized"]
    );
    let (code, text, _) = home.run_env(
        &["cost", "local"],
        &[("OPSCOCKPIT_TEST_HCLOUD", "good-token")],
    );
    assert_eq!(code, 0);
    assert!(
        text.contains("live: Hetzner Cloud API, cx23 in nbg1"),
        "{text}"
    );
    assert!(!text.contains("good-token"));

    // A refused token: the shipped file, and the report says why.
    let (code, stdout, stderr) = home.run_env(
        &["cost", "local", "--json"],
        &[("OPSCOCKPIT_TEST_HCLOUD", "secret-wrong-token")],
    );
    assert_eq!(code, 0, "stderr: {stderr}");
    let (r, cx) = plan_of(&stdout);
    assert_eq!(f(&cx, "/period/total"), 5.49, "the file's CX23 price");
    assert!(cx["live"].is_null());
    let notes: Vec<&str> = r["price_notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        notes,
        [
            "the Hetzner Cloud API refused the token in $OPSCOCKPIT_TEST_HCLOUD (401 Unauthorized); hetzner-cx23 priced from the shipped file (read 2026-09-14)"
        ]
    );
    let (code, text, stderr) = home.run_env(
        &["cost", "local"],
        &[("OPSCOCKPIT_TEST_HCLOUD", "secret-wrong-token")],
    );
    assert_eq!(code, 0);
    assert!(
        text.contains("prices   the Hetzner Cloud API refused the token"),
        "{text}"
    );
    for out in [&stdout, &text, &stderr] {
        assert!(!out.contains("secret-wrong-token"), "token leaked: {out}");
    }

    // No token in the environment: the file, with a note; the API is not asked.
    let before = seen.lock().expect("log").len();
    let (code, stdout, _) = home.run(&["cost", "local", "--json"]);
    assert_eq!(code, 0);
    let (r, cx) = plan_of(&stdout);
    assert_eq!(f(&cx, "/period/total"), 5.49);
    assert!(
        r["price_notes"][0]
            .as_str()
            .expect("note")
            .starts_with("$OPSCOCKPIT_TEST_HCLOUD (hcloud_token_env) is not set"),
        "{r}"
    );
    assert_eq!(seen.lock().expect("log").len(), before);
}
