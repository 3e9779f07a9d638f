//! The containers model: what the engine reports (containers, stats,
//! inspect detail, log lines) and the events and commands of the container
//! source. Drawn by the Containers pane; filled by `sources::docker`.

/// Which stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
    /// TTY containers: one stream, no frames.
    Tty,
}

/// Where the engine is, from the host's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerSettings {
    /// Unix socket on the target (`docker_socket`, default
    /// `/var/run/docker.sock`).
    pub socket: String,
    /// The CLI used by the fallback when the socket cannot be used.
    pub cli: String,
    /// How far behind the present a container's log may fall before its
    /// follower skips lines (`[logs] max_lag`; see `logs::pace`).
    pub log_max_lag: std::time::Duration,
}

pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
/// The default of `[logs] max_lag`: a flooding source is kept within 2 s of
/// the present.
pub const DEFAULT_LOG_MAX_LAG: std::time::Duration = std::time::Duration::from_secs(2);

impl Default for DockerSettings {
    fn default() -> Self {
        Self {
            socket: DEFAULT_SOCKET.into(),
            cli: "docker".into(),
            log_max_lag: DEFAULT_LOG_MAX_LAG,
        }
    }
}

impl DockerSettings {
    pub fn for_socket(socket: Option<&str>) -> Self {
        Self {
            socket: socket.unwrap_or(DEFAULT_SOCKET).to_string(),
            ..Self::default()
        }
    }
}

/// What the UI asks the source to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerCommand {
    /// Inspect this container and follow its logs (the detail view opened).
    Watch { id: String },
    /// The detail view closed: stop following logs.
    Unwatch,
}

/// How the pane gets its data right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineStatus {
    Connecting,
    Live {
        engine: String,
        api_version: String,
    },
    /// Lost the engine (restarting?); the list is kept but stale.
    Reconnecting {
        reason: String,
    },
    /// The socket cannot be used but the CLI can: the list is polled.
    Fallback {
        note: String,
    },
    /// Neither works: what is wrong and how to fix it.
    Unavailable {
        problem: String,
        fix: String,
    },
}

/// One row of the list. Text fields are raw engine text (drawn inert).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: String,
    /// `running`, `exited`, `restarting`, `paused`, `created`, `dead`.
    pub state: String,
    pub health: Option<String>,
    /// The engine's own status text (`Up 5 minutes`, `Exited (0) …`).
    pub status: String,
    /// When it started (unix seconds), while running.
    pub started_at: Option<i64>,
    /// When its last run ended (unix seconds), while not running.
    pub finished_at: Option<i64>,
    pub restart_count: Option<u64>,
    pub ports: Vec<String>,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
}

impl Container {
    pub fn is_running(&self) -> bool {
        self.state == "running"
    }
}

/// A stats sample turned into what the list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ContainerStats {
    /// `None` until two samples were seen.
    pub cpu_percent: Option<f64>,
    pub mem_used: u64,
    /// 0: no limit reported.
    pub mem_limit: u64,
}

/// Inspect data for the detail view (raw text; drawn inert).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerDetail {
    pub id: String,
    pub name: String,
    pub image: String,
    pub command: String,
    pub created: String,
    pub state: String,
    pub restart_policy: String,
    pub mounts: Vec<String>,
    pub networks: Vec<String>,
    pub labels: Vec<(String, String)>,
    /// `(NAME, value)`; values are masked when drawn unless revealed.
    pub env: Vec<(String, String)>,
    pub tty: bool,
}

/// A state change seen on the event stream, for the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub time: i64,
    pub id: String,
    pub name: String,
    pub action: String,
    pub exit_code: Option<String>,
}

/// One log line, already made inert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub time: Option<i64>,
    pub stream: LogStream,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DockerEvent {
    Status(EngineStatus),
    /// The whole list (after connecting, re-listing or a CLI poll).
    Snapshot(Vec<Container>),
    Upsert(Container),
    Removed {
        id: String,
    },
    Stats {
        id: String,
        stats: ContainerStats,
    },
    Timeline(TimelineEntry),
    Detail(Box<ContainerDetail>),
    DetailFailed {
        id: String,
        message: String,
    },
    Logs {
        id: String,
        lines: Vec<LogEntry>,
    },
    LogsEnded {
        id: String,
        message: String,
    },
}
