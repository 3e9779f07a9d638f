//! End-to-end on the bed over SSH, at 80×24: Enter on a raised alert of the
//! bed's real Netdata opens its detail, which draws the alert's chart
//! (fetched through the SSH-tunnelled Netdata session) under its facts, and
//! `End`/`Home` scroll the detail to its last rows and back.

use std::path::PathBuf;
use std::time::Duration;

mod common;
use common::tmux::Tmux;

const WAIT: Duration = Duration::from_secs(30);

fn ssh_config() -> Option<PathBuf> {
    let Some(ssh_config) = std::env::var_os("OPSCOCKPIT_BED_SSH_CONFIG") else {
        eprintln!("OPSCOCKPIT_BED unset: skipping (source /tmp/opscockpit-bed/env)");
        return None;
    };
    Some(PathBuf::from(ssh_config))
}

fn has_braille(screen: &str) -> bool {
    screen
        .chars()
        .any(|c| ('\u{2801}'..='\u{28ff}').contains(&c))
}

#[test]
fn an_alerts_detail_draws_its_chart_from_the_beds_netdata() {
    let Some(ssh_config) = ssh_config() else {
        return;
    };
    let tmux = Tmux::start(80, 24, &[]);
    let config = tmux.home.path().join("config.toml");
    // No containers: the Alerts pane is what this test looks at.
    std::fs::write(&config, "[hosts.testbed]\n").expect("write config");
    tmux.type_line(&format!(
        "{} --config {} -F {} testbed; echo \"EXITED:$?\"",
        env!("CARGO_BIN_EXE_opscockpit"),
        config.display(),
        ssh_config.display()
    ));
    tmux.wait_for("Netdata live over SSH", WAIT, |s| {
        s.contains("1 Metrics") && s.contains("source Netdata")
    });
    tmux.send(&["7"]);
    let pane = tmux.wait_for("the alert list", WAIT, |s| s.contains(" raised "));
    if pane.contains("raised 0 critical, 0 warning") {
        eprintln!("no alert raised on the bed's Netdata right now: skipping\n{pane}");
        tmux.send(&["q"]);
        return;
    }
    tmux.send(&["Enter"]);
    let detail = tmux.wait_for("the alert's chart", WAIT, |s| {
        s.contains("chart, last 10m") && !s.contains("loading chart…") && has_braille(s)
    });
    eprintln!("{detail}");
    assert!(detail.contains(" alert "), "{detail}");
    assert!(
        detail.contains("-10m") && detail.contains("now"),
        "x axis: {detail}"
    );
    assert!(!detail.contains("no chart"), "{detail}");
    // A detail longer than its 20 rows: End shows its last rows (nothing
    // below), Home the top again.
    if detail.contains(" rows 1–") {
        tmux.send(&["End"]);
        tmux.wait_for("the detail's last rows", WAIT, |s| {
            s.contains(" rows ") && !s.contains(" rows 1–") && !s.contains(" ↓ ")
        });
        tmux.send(&["Home"]);
        tmux.wait_for("the detail's top", WAIT, |s| s.contains(" rows 1–"));
    }
    tmux.send(&["Escape"]);
    tmux.wait_for("the detail closed", WAIT, |s| {
        !s.contains("chart, last 10m")
    });
    tmux.send(&["q"]);
    tmux.wait_for("the cockpit to exit", WAIT, |s| s.contains("EXITED:0"));
}
