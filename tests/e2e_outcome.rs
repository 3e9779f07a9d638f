//! End-to-end, did the action help (on the bed, short windows): a container
//! that logs errors at a high rate until it is restarted, a proposed and
//! approved `docker restart` of it, and then the History detail, `history
//! --json` and `audit verify` after the outcome was appended to the chain.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::tmux::Tmux;

/// `gate.outcome_window` for the test: each window is this long.
const WINDOW_SECS: u64 = 20;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opscockpit"))
}

fn docker(socket: &str, args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .arg("-H")
        .arg(format!("unix://{socket}"))
        .args(args)
        .output()
        .expect("the docker CLI runs")
}

/// Removes the test's container however the test ends.
struct Cleanup {
    socket: String,
    name: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = docker(&self.socket, &["rm", "-f", &self.name]);
    }
}

/// On its first start the container logs an error line ten times a second;
/// from its second start on (a count kept in its own file system, which a
/// restart keeps) it logs one quiet line a second.
const NOISY_UNTIL_RESTARTED: &str = "n=$(cat /tmp/starts 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/starts; \
if [ $n -ge 2 ]; then while true; do echo \"INFO ready after restart $n\"; sleep 1; done; \
else while true; do echo \"ERROR upstream timeout on request $RANDOM\"; sleep 0.1; done; fi";

#[test]
fn a_restart_that_stops_an_error_storm_is_measured_better() {
    let (Ok(socket), Ok(image)) = (
        std::env::var("OPSCOCKPIT_BED_DOCKER_SOCKET"),
        std::env::var("OPSCOCKPIT_BED_IMAGE"),
    ) else {
        eprintln!("OPSCOCKPIT_BED unset: skipping the outcome end-to-end test");
        return;
    };
    let name = format!("rb-outcome-{}", std::process::id());
    let _cleanup = Cleanup {
        socket: socket.clone(),
        name: name.clone(),
    };
    let run = docker(
        &socket,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "none",
            "--pull=never",
            &image,
            "sh",
            "-c",
            NOISY_UNTIL_RESTARTED,
        ],
    );
    assert!(
        run.status.success(),
        "docker run: {}",
        String::from_utf8_lossy(&run.stderr)
    );

    let tmux = Tmux::start(200, 60, &[]);
    let config = tmux.home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[gate]\noutcome_window = \"{WINDOW_SECS}s\"\n[hosts.local]\ndocker_socket = \"{socket}\"\n"
        ),
    )
    .expect("config");
    tmux.type_line(&format!(
        "{} --config {} local; echo \"EXITED:$?\"",
        binary().display(),
        config.display()
    ));
    tmux.wait_for("the first frame", Duration::from_secs(30), |s| {
        s.contains("1 Metrics")
    });
    tmux.send(&["2"]);
    let following = Instant::now();
    tmux.wait_for("the error storm in Logs", Duration::from_secs(30), |s| {
        s.contains("ERROR upstream timeout")
    });
    // The before-window is the WINDOW_SECS before the restart starts: the
    // cockpit must have followed the storm that long. Time itself is what
    // is waited for here; no screen tells it.
    let filled = Duration::from_secs(WINDOW_SECS + 1);
    std::thread::sleep(filled.saturating_sub(following.elapsed()));

    let command = format!("DOCKER_HOST=unix://{socket} docker restart -t 1 {name}");
    let out = tmux.client(
        &binary(),
        &[
            "propose",
            "local",
            "--agent",
            "e2e",
            "--title",
            "restart the noisy one",
            "--",
            &command,
        ],
    );
    assert!(
        out.status.success(),
        "propose: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tmux.send(&["8"]);
    tmux.wait_for("the proposal", Duration::from_secs(10), |s| {
        s.contains("restart the noisy one")
    });
    tmux.send(&["a"]);
    tmux.wait_for("the approve popup", Duration::from_secs(5), |s| {
        s.contains("y runs it")
    });
    tmux.send(&["y"]);
    tmux.wait_for(
        "the quiet lines after the restart",
        Duration::from_secs(30),
        |s| s.contains("INFO ready after restart 2"),
    );

    tmux.send(&["3"]);
    tmux.send(&["z"]);
    tmux.wait_for("History maximised", Duration::from_secs(10), |s| {
        s.contains("restart the noisy one") && !s.contains("1 Metrics")
    });
    tmux.send(&["Enter"]);
    // The after-window ends WINDOW_SECS after the restart ended.
    let detail = tmux.wait_for(
        "the measured outcome in the detail",
        Duration::from_secs(WINDOW_SECS + 30),
        |s| s.contains("better:"),
    );
    assert!(
        detail.contains(&format!("{name} restarted")),
        "the restart of the container the command names: {detail}"
    );
    let rate_line = detail
        .lines()
        .find(|l| l.contains("error lines/min"))
        .unwrap_or_default()
        .to_string();
    // Read the numbers after the label only: the same line names alerts
    // such as `10min_cpu_usage`, whose digits are not rates.
    let after_label = rate_line
        .split_once("error lines/min")
        .map(|(_, rest)| rest.split(';').next().unwrap_or_default())
        .unwrap_or_default();
    let rates: Vec<f64> = after_label
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        rates.len() >= 2 && rates[0] > 100.0 && rates[1] < rates[0] / 10.0,
        "the error rate falls: {rate_line:?} in {detail}"
    );

    let history = tmux.client(&binary(), &["history", "--json"]);
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&history.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let row = rows
        .iter()
        .find(|r| r["command"] == command.as_str())
        .unwrap_or_else(|| panic!("the action in history --json: {rows:?}"));
    let outcome = &row["outcome"];
    assert_eq!(outcome["verdict"]["kind"], "better", "{outcome}");
    assert_eq!(outcome["window_secs"], WINDOW_SECS);
    let rate = outcome["error_rate"].as_array().expect("error_rate");
    let (before, after) = (
        rate[0].as_f64().unwrap_or_default(),
        rate[1].as_f64().unwrap_or(f64::MAX),
    );
    assert!(before > 100.0 && after < before / 10.0, "{outcome}");
    let target = outcome["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name.as_str()))
        .unwrap_or_else(|| panic!("the container in the outcome: {outcome}"));
    assert_eq!(target["targeted"], true);
    assert!(target["restarts"].as_u64().unwrap_or(0) >= 1, "{target}");

    let verify = tmux.client(&binary(), &["audit", "verify"]);
    assert!(
        verify.status.success(),
        "audit verify holds after the outcome was appended: {}",
        String::from_utf8_lossy(&verify.stdout)
    );
    tmux.send(&["q"]);
}
