//! Configuration: the user's `config.toml`, themes and keymaps, each laid over
//! embedded defaults and checked strictly before the TUI starts.
//!
//! Where files live: `$OPSCOCKPIT_CONFIG` names the config file; otherwise
//! `$XDG_CONFIG_HOME/opscockpit/config.toml` when `XDG_CONFIG_HOME` is set (on
//! every OS), else the platform config dir from `directories`. Themes and
//! keymaps are looked up in `themes/` and `keymaps/` beside the config file.

pub mod keymap;
pub mod notify;
pub mod plan;
pub mod theme;
pub mod toml_file;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

pub use keymap::Keymap;
pub use notify::NotifyConfig;
pub use plan::PlanSpec;
pub use theme::{Theme, ThemeSet};
pub use toml_file::FileError;

/// The whole `config.toml`. Every key is documented in
/// `assets/config.example.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub theme: Option<String>,
    pub keymap: Option<String>,
    #[serde(default)]
    pub ui: UiConfig,
    #[serde(default)]
    pub logs: LogsConfig,
    #[serde(default)]
    pub gate: GateConfig,
    #[serde(default)]
    pub hosts: BTreeMap<String, HostConfig>,
    /// Extra or overriding pricing plans (see `assets/pricing.toml`).
    #[serde(default)]
    pub plans: BTreeMap<String, PlanSpec>,
    /// Notification channels `[notify.NAME]` and `[[notify.rules]]`.
    #[serde(default)]
    pub notify: NotifyConfig,
    /// `[runbooks] path = …`: the runbook repo for hosts that name none.
    #[serde(default)]
    pub runbooks: RunbooksConfig,
}

/// The runbook repo (a local git checkout of markdown files).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunbooksConfig {
    pub path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Chart window at start: `1m`, `5m` or `10m`.
    #[serde(deserialize_with = "de_duration")]
    pub chart_window: Duration,
    /// Capture the mouse at start (click to focus, wheel to scroll).
    pub mouse: bool,
    /// Ring the terminal bell on new critical alerts and new proposals.
    pub bell: bool,
    /// Show times in UTC instead of local time.
    pub utc: bool,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            chart_window: Duration::from_secs(300),
            mouse: true,
            bell: true,
            utc: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    /// Lines kept in the Logs pane's ring buffer.
    pub buffer_lines: usize,
    /// Lines shown from each source when the pane opens.
    pub initial_lines: usize,
    /// How far behind the present a flooding source may fall before its
    /// lines are skipped (and counted in the status row).
    #[serde(deserialize_with = "de_duration")]
    pub max_lag: Duration,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            buffer_lines: 50_000,
            initial_lines: 200,
            max_lag: crate::containers::DEFAULT_LOG_MAX_LAG,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateConfig {
    /// How long a pending `approve`-tier proposal waits for a decision.
    #[serde(deserialize_with = "de_duration")]
    pub approve_ttl: Duration,
    /// How long a pending `confirm`-tier proposal waits.
    #[serde(deserialize_with = "de_duration")]
    pub confirm_ttl: Duration,
    /// Default per-action timeout.
    #[serde(deserialize_with = "de_duration")]
    pub action_timeout: Duration,
    /// Output kept per action (the rest is counted and hashed).
    pub output_limit_bytes: usize,
    /// A broker client that sends no complete request line for this long
    /// is told so and closed (a connect-and-sit client holds no slot).
    #[serde(deserialize_with = "de_duration")]
    pub client_idle: Duration,
    /// Broker connections served at once; more are refused with `busy`.
    pub max_clients: usize,
    /// The host's runbook repo, against which runbook provenance is
    /// checked (set from `runbooks`, not a `[gate]` key).
    #[serde(skip)]
    pub runbooks_dir: Option<PathBuf>,
    /// The same on the host (`runbooks_remote`), read over the transport.
    #[serde(skip)]
    pub runbooks_remote: Option<String>,
    /// The before and after windows of an action's measured outcome.
    #[serde(deserialize_with = "de_duration")]
    pub outcome_window: Duration,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            approve_ttl: Duration::from_secs(15 * 60),
            confirm_ttl: Duration::from_secs(5 * 60),
            action_timeout: Duration::from_secs(10 * 60),
            output_limit_bytes: 1 << 20,
            client_idle: Duration::from_secs(120),
            max_clients: 256,
            runbooks_dir: None,
            runbooks_remote: None,
            outcome_window: Duration::from_secs(5 * 60),
        }
    }
}

/// Per-host settings under `[hosts.NAME]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    // SSH overrides (over what `ssh -G` resolves).
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<Vec<String>>,
    pub proxy_jump: Option<String>,
    /// Netdata on the target, as the target sees it.
    pub netdata_url: Option<String>,
    /// Turn Netdata off for this host (the /proc sampler runs instead).
    pub netdata: Option<bool>,
    /// The Docker Engine API socket on the target.
    pub docker_socket: Option<String>,
    #[serde(default)]
    pub journald: Option<JournaldConfig>,
    pub betterstack: Option<BetterStackConfig>,
    /// Pricing plan this host is on (a name in `pricing.toml` or `[plans]`).
    pub plan: Option<String>,
    /// Plans to compare with in the Cost pane.
    pub compare: Option<Vec<String>>,
    /// Day of the month the billing period starts (1-28).
    pub billing_day: Option<u8>,
    /// Region whose overage rate applies (a key of the plan's
    /// `[plans.NAME.regions]`); for Hetzner Cloud, the location.
    pub region: Option<String>,
    /// Hours of data a projection needs before it is shown (default 24).
    pub projection_min_hours: Option<f64>,
    /// Environment variable holding a Hetzner Cloud API token (read-only is
    /// enough): live prices for the host's server type. Never the token.
    pub hcloud_token_env: Option<String>,
    /// Hetzner Cloud server type (`cx23`); default: the plan's.
    pub hcloud_server_type: Option<String>,
    /// Base URL of the Hetzner Cloud API (for tests and proxies).
    pub hcloud_api: Option<String>,
    /// Where the gate's broker listens on the host, relative to the SSH
    /// user's home (default `.opscockpit/gate.sock`); `""` turns it off.
    pub host_socket: Option<String>,
    /// This host's runbook repo (a local git checkout); overrides
    /// `[runbooks] path`.
    pub runbooks: Option<String>,
    /// A runbook repo that is a git checkout on the host itself, read over
    /// the cockpit's connection (`git -C`); `~/` is the remote user's
    /// home. Overrides `runbooks` and `[runbooks] path` for this host.
    pub runbooks_remote: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournaldConfig {
    /// Turn journald tailing off.
    pub enabled: Option<bool>,
    /// Only these units (`journalctl -u`).
    #[serde(default)]
    pub units: Vec<String>,
}

/// Better Stack's SQL query API. Credentials are by reference only.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BetterStackConfig {
    pub endpoint: String,
    /// `tTEAM_SOURCE`; or leave it out and give `team_token_env` + `source`.
    pub table: Option<String>,
    pub username: String,
    pub password_env: Option<String>,
    pub password_cmd: Option<String>,
    #[serde(default)]
    pub keyring: bool,
    /// Keyring user name (service `opscockpit`); default: `username`.
    pub keyring_entry: Option<String>,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub poll: Option<Duration>,
    /// Team API token (by env var) to look the table up.
    pub team_token_env: Option<String>,
    /// Name of the Better Stack source whose table is looked up.
    pub source: Option<String>,
    /// Base URL of the sources API (for tests and proxies).
    pub sources_api: Option<String>,
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!("`{text}` is not a duration like `2s` or `5m`: {e}"))
    })
}

fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de_duration(d).map(Some)
}

/// Where the config file and its sibling directories are.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config_file: PathBuf,
    pub config_dir: PathBuf,
}

impl Paths {
    /// Resolves the config location: `--config`, then `OPSCOCKPIT_CONFIG`,
    /// then `XDG_CONFIG_HOME`, then the platform default.
    pub fn resolve(explicit: Option<&Path>) -> Paths {
        let from_env = std::env::var_os("OPSCOCKPIT_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let config_file = explicit
            .map(Path::to_path_buf)
            .or(from_env)
            .unwrap_or_else(|| default_config_dir().join("config.toml"));
        let config_dir = config_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(default_config_dir);
        Paths {
            config_file,
            config_dir,
        }
    }

    pub fn themes_dir(&self) -> PathBuf {
        self.config_dir.join("themes")
    }

    pub fn keymaps_dir(&self) -> PathBuf {
        self.config_dir.join("keymaps")
    }
}

fn default_config_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("opscockpit");
    }
    directories::ProjectDirs::from("", "", "opscockpit")
        .map(|d| d.config_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".opscockpit"))
}

/// The platform data dir (history database, runtime fallback), honouring
/// `XDG_DATA_HOME` on every OS like the config dir.
pub fn data_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("opscockpit");
    }
    directories::ProjectDirs::from("", "", "opscockpit")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".opscockpit-data"))
}

impl Config {
    /// Loads the config file; a missing file at the default place means
    /// defaults, a missing file the user named explicitly is an error.
    pub fn load(paths: &Paths, explicit: bool) -> Result<Config, FileError> {
        if !paths.config_file.exists() {
            if explicit {
                return Err(FileError::new(
                    paths.config_file.display().to_string(),
                    "no such file",
                ));
            }
            return Ok(Config::default());
        }
        let config: Config = toml_file::load(&paths.config_file)?;
        config.validate(&paths.config_file)?;
        Ok(config)
    }

    fn validate(&self, file: &Path) -> Result<(), FileError> {
        let file = file.display().to_string();
        for (name, host) in &self.hosts {
            if let Some(day) = host.billing_day
                && !(1..=28).contains(&day)
            {
                return Err(
                    FileError::new(&file, format!("billing_day must be 1-28, got {day}"))
                        .at(None, Some(format!("hosts.{name}.billing_day"))),
                );
            }
            if let Some(h) = host.projection_min_hours
                && !(h.is_finite() && h >= 0.0)
            {
                return Err(FileError::new(
                    &file,
                    format!("projection_min_hours must be a number of hours ≥ 0, got {h}"),
                )
                .at(None, Some(format!("hosts.{name}.projection_min_hours"))));
            }
            if let Some(bs) = &host.betterstack {
                let refs = [
                    bs.password_env.is_some(),
                    bs.password_cmd.is_some(),
                    bs.keyring,
                ]
                .iter()
                .filter(|b| **b)
                .count();
                if refs != 1 {
                    return Err(FileError::new(&file, "set exactly one of password_env, password_cmd or keyring = true (the password itself never goes in this file)")
                        .at(None, Some(format!("hosts.{name}.betterstack"))));
                }
                let key = |k: &str| Some(format!("hosts.{name}.betterstack.{k}"));
                match (&bs.table, &bs.team_token_env, &bs.source) {
                    (Some(table), None, None) => {
                        if table.is_empty()
                            || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        {
                            return Err(FileError::new(
                                &file,
                                "table must look like t123456_myapp (letters, digits, _)",
                            )
                            .at(None, key("table")));
                        }
                    }
                    (None, Some(_), Some(_)) => {}
                    (Some(_), _, _) => {
                        return Err(FileError::new(&file, "give either table, or team_token_env and source to look the table up, not both")
                            .at(None, key("table")));
                    }
                    (None, None, _) => {
                        return Err(FileError::new(&file, "set table = \"t123456_myapp\", or team_token_env and source to look it up with a team API token")
                            .at(None, Some(format!("hosts.{name}.betterstack"))));
                    }
                    (None, Some(_), None) => {
                        return Err(FileError::new(&file, "team_token_env needs source = \"NAME\": the Better Stack source whose table to look up")
                            .at(None, key("source")));
                    }
                }
                if bs.sources_api.is_some() && bs.team_token_env.is_none() {
                    return Err(FileError::new(
                        &file,
                        "sources_api is only used with team_token_env and source",
                    )
                    .at(None, key("sources_api")));
                }
            }
        }
        self.notify.validate(&file)?;
        // The per-second history holds ten minutes: a longer before-window
        // could not be measured.
        if !(10..=600).contains(&self.gate.outcome_window.as_secs()) {
            return Err(
                FileError::new(&file, "outcome_window must be between 10s and 10m")
                    .at(None, Some("gate.outcome_window".into())),
            );
        }
        let window = self.ui.chart_window.as_secs();
        if ![60, 300, 600].contains(&window) {
            return Err(FileError::new(&file, "chart_window must be 1m, 5m or 10m")
                .at(None, Some("ui.chart_window".into())));
        }
        Ok(())
    }

    /// The runbook repo for `host`: its own `runbooks`, else `[runbooks]
    /// path`; `~/` is the home directory.
    pub fn runbooks_dir(&self, host: &str) -> Option<PathBuf> {
        if self.runbooks_remote(host).is_some() {
            return None;
        }
        let raw = self
            .hosts
            .get(host)
            .and_then(|h| h.runbooks.clone())
            .or_else(|| self.runbooks.path.clone())?;
        expand_home(&raw)
    }

    /// The host's `runbooks_remote`: a checkout on the host.
    pub fn runbooks_remote(&self, host: &str) -> Option<String> {
        self.hosts
            .get(host)
            .and_then(|h| h.runbooks_remote.clone())
            .filter(|p| !p.trim().is_empty())
    }

    /// `[runbooks] path`, for hosts that name no repo of their own.
    pub fn default_runbooks_dir(&self) -> Option<PathBuf> {
        expand_home(self.runbooks.path.as_deref()?)
    }

    pub fn host(&self, name: &str) -> HostConfig {
        self.hosts.get(name).cloned().unwrap_or_default()
    }
}

/// `~/x` is `x` in the home directory.
fn expand_home(raw: &str) -> Option<PathBuf> {
    match raw.strip_prefix("~/") {
        Some(rest) => directories::BaseDirs::new().map(|b| b.home_dir().join(rest)),
        None => Some(PathBuf::from(raw)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_is_valid_and_complete() {
        let text = include_str!("../../assets/config.example.toml");
        let config: Config =
            toml_file::parse_str("config.example.toml", text).expect("example parses");
        config
            .validate(Path::new("config.example.toml"))
            .expect("example validates");
        assert!(config.hosts.contains_key("myhost"));
    }

    #[test]
    fn an_outcome_window_beyond_the_history_is_refused_with_its_key() {
        let config: Config =
            toml_file::parse_str("c.toml", "[gate]\noutcome_window = \"20m\"\n").expect("parses");
        let err = config.validate(Path::new("c.toml")).expect_err("too long");
        assert_eq!(err.key.as_deref(), Some("gate.outcome_window"));
        let config: Config =
            toml_file::parse_str("c.toml", "[gate]\noutcome_window = \"20s\"\n").expect("parses");
        config.validate(Path::new("c.toml")).expect("20 s is fine");
        assert_eq!(config.gate.outcome_window, Duration::from_secs(20));
    }

    #[test]
    fn typo_in_host_section_names_file_line_and_key() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            "theme = \"dark\"\n\n[hosts.web]\nnetdata_ulr = \"http://127.0.0.1:19999\"\n",
        )
        .expect("write");
        let paths = Paths::resolve(Some(&file));
        let err = Config::load(&paths, true).expect_err("typo");
        assert_eq!(err.line, Some(4));
        assert_eq!(err.key.as_deref(), Some("hosts.web.netdata_ulr"));
        assert!(
            err.to_string()
                .contains("config.toml:4: key `hosts.web.netdata_ulr`"),
            "{err}"
        );
    }

    #[test]
    fn durations_are_checked() {
        let err = toml_file::parse_str::<Config>("c.toml", "[ui]\nchart_window = \"soon\"\n")
            .expect_err("bad duration");
        assert_eq!(err.key.as_deref(), Some("ui.chart_window"));
        assert!(err.message.contains("soon"));
    }

    #[test]
    fn inline_passwords_are_refused() {
        let err = toml_file::parse_str::<Config>(
            "c.toml",
            "[hosts.a.betterstack]\nendpoint = \"https://x\"\ntable = \"t1_a\"\nusername = \"u\"\npassword = \"hunter2\"\n",
        )
        .expect_err("password key");
        assert_eq!(err.key.as_deref(), Some("hosts.a.betterstack.password"));
        assert!(!err.to_string().contains("hunter2"));
    }

    fn validate_str(text: &str) -> Result<Config, FileError> {
        let config: Config = toml_file::parse_str("c.toml", text)?;
        config.validate(Path::new("c.toml"))?;
        Ok(config)
    }

    #[test]
    fn betterstack_table_or_lookup_exactly_one() {
        let head = "[hosts.a.betterstack]\nendpoint = \"https://x\"\nusername = \"u\"\npassword_env = \"P\"\n";
        validate_str(&format!("{head}table = \"t1_app\"\n")).expect("table");
        let ok = validate_str(&format!(
            "{head}team_token_env = \"T\"\nsource = \"My app\"\nsources_api = \"http://127.0.0.1:9\"\n"
        ))
        .expect("lookup");
        let bs = ok.hosts["a"].betterstack.clone().expect("bs");
        assert_eq!(bs.source.as_deref(), Some("My app"));
        assert!(bs.table.is_none());
        let err = validate_str(head).expect_err("neither");
        assert_eq!(err.key.as_deref(), Some("hosts.a.betterstack"));
        assert!(err.message.contains("team_token_env and source"), "{err}");
        let err = validate_str(&format!(
            "{head}table = \"t1_app\"\nteam_token_env = \"T\"\nsource = \"s\"\n"
        ))
        .expect_err("both");
        assert_eq!(err.key.as_deref(), Some("hosts.a.betterstack.table"));
        let err = validate_str(&format!("{head}team_token_env = \"T\"\n")).expect_err("no source");
        assert_eq!(err.key.as_deref(), Some("hosts.a.betterstack.source"));
        let err = validate_str(&format!("{head}source = \"s\"\n")).expect_err("no token");
        assert_eq!(err.key.as_deref(), Some("hosts.a.betterstack"));
        let err = validate_str(&format!("{head}table = \"t1_app) UNION\"\n")).expect_err("sql");
        assert_eq!(err.key.as_deref(), Some("hosts.a.betterstack.table"));
        let err = validate_str(&format!(
            "{head}table = \"t1_app\"\nsources_api = \"http://127.0.0.1:9\"\n"
        ))
        .expect_err("api without lookup");
        assert_eq!(err.key.as_deref(), Some("hosts.a.betterstack.sources_api"));
    }

    #[test]
    fn runbooks_per_host_over_top_level() {
        let config = validate_str(
            "[runbooks]\npath = \"/srv/runbooks\"\n[hosts.web]\nrunbooks = \"/srv/web-runbooks\"\n[hosts.db]\n",
        )
        .expect("valid");
        assert_eq!(
            config.runbooks_dir("web"),
            Some(PathBuf::from("/srv/web-runbooks"))
        );
        assert_eq!(
            config.runbooks_dir("db"),
            Some(PathBuf::from("/srv/runbooks"))
        );
        assert_eq!(Config::default().runbooks_dir("db"), None);
        let remote = validate_str(
            "[runbooks]\npath = \"/srv/runbooks\"\n[hosts.web]\nrunbooks_remote = \"~/ops/runbooks\"\n",
        )
        .expect("valid");
        assert_eq!(remote.runbooks_dir("web"), None, "the host's own repo wins");
        assert_eq!(
            remote.runbooks_remote("web").as_deref(),
            Some("~/ops/runbooks")
        );
        assert_eq!(remote.runbooks_remote("db"), None);
        assert_eq!(
            remote.runbooks_dir("db"),
            Some(PathBuf::from("/srv/runbooks"))
        );
        let err = validate_str("[runbooks]\npaht = \"x\"\n").expect_err("typo");
        assert_eq!(err.key.as_deref(), Some("runbooks.paht"));
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn missing_default_file_means_defaults_but_missing_explicit_is_an_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let paths = Paths::resolve(Some(&dir.path().join("nope.toml")));
        assert!(Config::load(&paths, false).is_ok());
        assert!(Config::load(&paths, true).is_err());
    }
}
