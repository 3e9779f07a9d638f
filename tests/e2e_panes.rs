//! End-to-end on the bed over SSH, at 80×24: the key bar follows where the
//! operator is (pane, popup, input line, detail), and `l` on a container the
//! test makes opens its logs alone in the Logs pane, whose Enter detail
//! shows the line's fields.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

mod common;
use common::tmux::Tmux;

const WAIT: Duration = Duration::from_secs(30);

struct Bed {
    ssh_config: PathBuf,
    socket: String,
    image: String,
}

fn bed() -> Option<Bed> {
    let Some(ssh_config) = std::env::var_os("OPSCOCKPIT_BED_SSH_CONFIG") else {
        eprintln!("OPSCOCKPIT_BED unset: skipping (source /tmp/opscockpit-bed/env)");
        return None;
    };
    Some(Bed {
        ssh_config: PathBuf::from(ssh_config),
        socket: std::env::var("OPSCOCKPIT_BED_DOCKER_SOCKET").unwrap_or_default(),
        image: std::env::var("OPSCOCKPIT_BED_IMAGE")
            .unwrap_or_else(|_| "localhost/bed-busybox:latest".into()),
    })
}

/// The cockpit on `testbed` over SSH in an 80×24 tmux, its containers from
/// the bed's engine socket; returns when the first frame is up.
fn cockpit_on_the_bed(bed: &Bed) -> Tmux {
    let tmux = Tmux::start(80, 24, &[]);
    let config = tmux.home.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[hosts.testbed]\ndocker_socket = \"{}\"\n", bed.socket),
    )
    .expect("write config");
    tmux.type_line(&format!(
        "{} --config {} -F {} testbed; echo \"EXITED:$?\"",
        env!("CARGO_BIN_EXE_opscockpit"),
        config.display(),
        bed.ssh_config.display()
    ));
    tmux.wait_for("the first frame over SSH", WAIT, |s| {
        s.contains("1 Metrics") && s.contains("connected")
    });
    tmux
}

/// The bottom row of the screen: the key bar.
fn key_bar(screen: &str) -> String {
    screen.lines().last().unwrap_or_default().to_string()
}

/// Waits until the key bar satisfies `pred`; returns it.
fn wait_for_bar(tmux: &Tmux, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let screen = tmux.wait_for(what, WAIT, |s| pred(&key_bar(s)));
    let bar = key_bar(&screen);
    // Fitted, never cut: at most the 80 columns, and it ends on a whole
    // hint (a description, then the padding of the row).
    assert!(bar.chars().count() <= 80, "{bar:?}");
    bar
}

fn quit(tmux: &Tmux) {
    tmux.send(&["q"]);
    tmux.wait_for("the cockpit to exit", WAIT, |s| s.contains("EXITED:0"));
}

/// Runs the docker CLI against the bed's engine socket.
fn engine(bed: &Bed, args: &[&str]) -> String {
    let out = Command::new("docker")
        .arg("-H")
        .arg(format!("unix://{}", bed.socket))
        .args(args)
        .output()
        .expect("running the docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes the test's container however the test ends.
struct Removed<'a>(&'a Bed, String);

impl Drop for Removed<'_> {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{}", self.0.socket))
            .args(["rm", "-f", &self.1])
            .output();
    }
}

/// In each context the bar offers that context's keys, from the keymap,
/// and fits 80 columns: the Metrics pane, the palette and help popups, a
/// list's filter input line, a container's detail.
#[test]
fn key_bar_follows_the_context_at_80_columns() {
    let Some(bed) = bed() else { return };
    let tmux = cockpit_on_the_bed(&bed);
    let pane = wait_for_bar(&tmux, "the Metrics pane's keys", |b| {
        b.contains("chart window") && b.contains("help")
    });
    assert!(!pane.contains("complete"), "{pane}");

    tmux.send(&[":"]);
    let palette = wait_for_bar(&tmux, "the palette's keys", |b| b.contains("complete"));
    assert!(
        palette.contains("Enter  run") && palette.contains("Esc  close"),
        "{palette}"
    );
    assert!(!palette.contains("chart window"), "{palette}");
    tmux.send(&["Escape"]);
    // Closed before the next key: an Escape and a key read together are
    // Alt+key (crossterm), and a loaded machine reads them together.
    wait_for_bar(&tmux, "the pane's keys after the palette", |b| {
        !b.contains("complete")
    });

    tmux.send(&["?"]);
    let help = wait_for_bar(&tmux, "the help popup's keys", |b| {
        b.contains("any key  close")
    });
    assert!(help.contains("scroll"), "{help}");
    tmux.send(&["Escape"]);
    wait_for_bar(&tmux, "the pane's keys after the help", |b| {
        !b.contains("any key  close")
    });

    tmux.send(&["6"]);
    tmux.wait_for("the bed's containers", WAIT, |s| {
        s.contains("┏ 6 Containers") && s.contains("bed-")
    });
    let containers = wait_for_bar(&tmux, "the Containers pane's keys", |b| {
        b.contains("sort column")
    });
    assert!(!containers.contains("chart window"), "{containers}");

    tmux.send(&["/"]);
    let input = wait_for_bar(&tmux, "the filter line's keys", |b| {
        b.contains("keep filter")
    });
    assert!(
        input.contains("Esc  clear filter") && input.contains("Ctrl-U  clear line"),
        "{input}"
    );
    assert!(!input.contains("sort column"), "{input}");
    tmux.send(&["-l", "bed-web"]);
    tmux.send(&["Enter"]);

    tmux.send(&["Enter"]);
    let detail = wait_for_bar(&tmux, "the container detail's keys", |b| {
        b.contains("back / clear") && !b.contains("sort column")
    });
    assert!(detail.contains("page"), "{detail}");
    tmux.send(&["Escape"]);
    wait_for_bar(&tmux, "the list's keys again", |b| {
        b.contains("sort column")
    });
    quit(&tmux);
}

/// A row of the Logs pane's lines: `┃HH:MM:SS.mmm …`.
fn is_log_row(row: &str) -> bool {
    let Some(rest) = row.strip_prefix('┃') else {
        return false;
    };
    let stamp: Vec<char> = rest.chars().take(12).collect();
    stamp.len() == 12
        && stamp.iter().enumerate().all(|(i, c)| match i {
            2 | 5 => *c == ':',
            8 => *c == '.',
            _ => c.is_ascii_digit(),
        })
}

/// `l` on a container the test made opens the Logs pane on that container
/// alone; Enter on its newest line shows the line's JSON fields, and the bar
/// offers the detail's keys.
#[test]
fn l_on_a_container_opens_its_logs_alone_and_enter_shows_its_fields() {
    let Some(bed) = bed() else { return };
    let name = format!(
        "oc-e2e-logs-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() % 100_000)
            .unwrap_or(0)
    );
    let _removed = Removed(&bed, name.clone());
    engine(
        &bed,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "none",
            "--pull=never",
            &bed.image,
            "sh",
            "-c",
            r#"i=0; while true; do i=$((i+1)); echo "{\"msg\":\"e2e json\",\"level\":\"warn\",\"n\":$i}"; sleep 0.5; done"#,
        ],
    );
    let tmux = cockpit_on_the_bed(&bed);
    tmux.send(&["6"]);
    tmux.wait_for("the test's container in the list", WAIT, |s| {
        s.contains("┏ 6 Containers") && s.contains("oc-e2e-logs")
    });
    tmux.send(&["/"]);
    tmux.send(&["-l", &name]);
    tmux.send(&["Enter"]);
    tmux.send(&["l"]);
    tmux.wait_for("the Logs pane focused", WAIT, |s| s.contains("┏ 2 Logs"));
    tmux.send(&["z"]);
    let logs = tmux.wait_for("the container's own lines", WAIT, |s| {
        s.contains("┏ 2 Logs") && s.matches("e2e json").count() >= 3
    });
    // Every line shown is the container's: no other source is merged in,
    // and the status row names the one source instead of "all sources".
    let rows: Vec<&str> = logs.lines().filter(|l| is_log_row(l)).collect();
    assert!(rows.len() >= 3, "{logs}");
    assert!(
        rows.iter().all(|r| r.contains("e2e json")),
        "another source's line in the view:\n{logs}"
    );
    assert!(!logs.contains("all sources"), "{logs}");

    tmux.send(&["Enter"]);
    let detail = tmux.wait_for("the line's detail with its fields", WAIT, |s| {
        s.contains("log line") && s.contains("fields (3)")
    });
    assert!(detail.contains(&format!("container:{name}")), "{detail}");
    assert!(detail.contains("msg   e2e json"), "{detail}");
    let bar = key_bar(&detail);
    assert!(
        bar.contains("Esc  close") && bar.contains("scroll"),
        "the detail's keys: {bar}"
    );
    tmux.send(&["Escape"]);
    tmux.wait_for("the detail closed", WAIT, |s| !s.contains("fields (3)"));
    quit(&tmux);
}
