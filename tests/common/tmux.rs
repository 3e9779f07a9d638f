//! A tmux server of the test's own (own socket, own HOME and XDG dirs) for
//! end-to-end tests that drive the real binary in a real terminal.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
    pub home: tempfile::TempDir,
}

impl Tmux {
    /// A session running `sh` in a private environment; `extra_env` adds
    /// `NAME=value` pairs.
    pub fn start(width: u16, height: u16, extra_env: &[String]) -> Tmux {
        let home = tempfile::tempdir().expect("temp home");
        let socket = format!("opscockpit-e2e-{}-{}", std::process::id(), nanos());
        let tmux = Tmux { socket, home };
        let run = tmux.home.path().join("run");
        std::fs::create_dir_all(&run).expect("runtime dir");
        std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .expect("chmod runtime dir");
        let mut env = tmux.env_args();
        env.extend_from_slice(extra_env);
        let status = tmux
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                "e2e",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                "env",
                "-i",
            ])
            .args(env)
            .arg("sh")
            .status()
            .expect("tmux runs (scripts/testbed installs it)");
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    /// The private environment of the session, as `NAME=value`.
    pub fn env_args(&self) -> Vec<String> {
        let home = self.home.path().display().to_string();
        vec![
            format!("HOME={home}"),
            format!("XDG_CONFIG_HOME={home}/config"),
            format!("XDG_DATA_HOME={home}/data"),
            format!("XDG_RUNTIME_DIR={home}/run"),
            format!("PATH={}", std::env::var("PATH").unwrap_or_default()),
            "TERM=xterm-256color".into(),
            "PS1=$ ".into(),
        ]
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]).args(args);
        c
    }

    pub fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "e2e"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status().expect("send-keys").success());
    }

    /// Escape, then time for the cockpit to read it alone: an Escape read
    /// together with the next key is Alt+key (crossterm), which a loaded
    /// machine otherwise makes of `Escape` + `q`. Where the screen shows
    /// that the Escape was handled, wait for that instead.
    #[allow(dead_code)] // not every e2e binary sends one
    pub fn escape(&self) {
        self.send(&["Escape"]);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }

    pub fn type_line(&self, line: &str) {
        self.send(&["-l", line]);
        self.send(&["Enter"]);
    }

    pub fn capture(&self) -> String {
        let out = self
            .cmd(&["capture-pane", "-p", "-t", "e2e"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A tmux format of the pane (`#{alternate_on}`, `#{pane_title}`, …).
    pub fn display(&self, format: &str) -> String {
        let out = self
            .cmd(&["display-message", "-p", "-t", "e2e", format])
            .output()
            .expect("display-message");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn title(&self) -> String {
        self.display("#{pane_title}")
    }

    /// Captures until `pred` holds, or fails the test with the last screen.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if pred(&screen) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!("timed out waiting for {what}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `bin ARGS` as a second shell would, in the same private
    /// environment as the session.
    pub fn client(&self, bin: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin);
        cmd.env_clear();
        for pair in self.env_args() {
            if let Some((k, v)) = pair.split_once('=') {
                cmd.env(k, v);
            }
        }
        cmd.args(args).output().expect("run the client")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).status();
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
