//! Typed views of the Docker Engine API answers the Containers pane needs,
//! and the framing parsers for its streams (newline-delimited JSON for
//! events and stats, the 8-byte multiplexed header for logs).
//!
//! Parsers accept both Docker's and podman's dialects (see
//! `tests/fixtures/docker/README.md`) and never panic on garbage: a field
//! that is missing or of the wrong type becomes its default.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::containers::LogStream;

/// The newest API version this client speaks. The engine's version wins
/// when it is older.
pub const OUR_API_VERSION: ApiVersion = ApiVersion(1, 47);

/// Longest line accepted from a newline-delimited stream; beyond it the
/// line is dropped (a stats sample is ~2 KB, an event ~1 KB).
pub const MAX_JSON_LINE: usize = 1024 * 1024;

/// Longest log line kept; the rest is cut (the UI cuts again when drawing).
pub const MAX_LOG_LINE: usize = 64 * 1024;

/// An API version `major.minor`, ordered numerically (1.9 < 1.41).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

impl ApiVersion {
    pub fn parse(text: &str) -> Option<ApiVersion> {
        let (major, minor) = text.trim().split_once('.')?;
        Some(ApiVersion(major.parse().ok()?, minor.parse().ok()?))
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// min(server's, ours).
pub fn negotiate(server: ApiVersion) -> ApiVersion {
    server.min(OUR_API_VERSION)
}

/// Null, a missing field and a value of the wrong type all read as the
/// default: engines disagree about which fields they send.
fn lenient<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + serde::de::DeserializeOwned,
{
    let value = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(value).unwrap_or_default())
}

/// `GET /version`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Version {
    #[serde(rename = "ApiVersion", default, deserialize_with = "lenient")]
    pub api_version: String,
    #[serde(rename = "Version", default, deserialize_with = "lenient")]
    pub version: String,
    #[serde(rename = "Components", default, deserialize_with = "lenient")]
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Component {
    #[serde(rename = "Name", default, deserialize_with = "lenient")]
    pub name: String,
}

impl Version {
    /// `Docker Engine 27.1.1`, `Podman Engine 4.3.1`.
    pub fn engine_name(&self) -> String {
        let name = self
            .components
            .first()
            .map(|c| c.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "Docker Engine".into());
        format!("{name} {}", self.version)
    }
}

/// One entry of `GET /containers/json?all=1`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct ContainerSummary {
    #[serde(rename = "Id", default, deserialize_with = "lenient")]
    pub id: String,
    #[serde(rename = "Names", default, deserialize_with = "lenient")]
    pub names: Vec<String>,
    #[serde(rename = "Image", default, deserialize_with = "lenient")]
    pub image: String,
    #[serde(rename = "State", default, deserialize_with = "lenient")]
    pub state: String,
    #[serde(rename = "Status", default, deserialize_with = "lenient")]
    pub status: String,
    #[serde(rename = "Created", default, deserialize_with = "lenient")]
    pub created: i64,
    #[serde(rename = "Ports", default, deserialize_with = "lenient")]
    pub ports: Vec<Port>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Port {
    #[serde(rename = "IP", default, deserialize_with = "lenient")]
    pub ip: String,
    #[serde(rename = "PrivatePort", default, deserialize_with = "lenient")]
    pub private_port: u16,
    #[serde(rename = "PublicPort", default, deserialize_with = "lenient")]
    pub public_port: u16,
    #[serde(rename = "Type", default, deserialize_with = "lenient")]
    pub kind: String,
}

impl Port {
    /// `0.0.0.0:8080->80/tcp` or `80/tcp`.
    pub fn display(&self) -> String {
        let kind = if self.kind.is_empty() {
            "tcp"
        } else {
            &self.kind
        };
        if self.public_port == 0 {
            format!("{}/{kind}", self.private_port)
        } else if self.ip.is_empty() {
            format!("{}->{}/{kind}", self.public_port, self.private_port)
        } else {
            format!(
                "{}:{}->{}/{kind}",
                self.ip, self.public_port, self.private_port
            )
        }
    }
}

/// `GET /containers/ID/json`: what the list and the detail view need.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Inspect {
    #[serde(rename = "Id", default, deserialize_with = "lenient")]
    pub id: String,
    #[serde(rename = "Name", default, deserialize_with = "lenient")]
    pub name: String,
    #[serde(rename = "Created", default, deserialize_with = "lenient")]
    pub created: String,
    #[serde(rename = "Path", default, deserialize_with = "lenient")]
    pub path: String,
    #[serde(rename = "Args", default, deserialize_with = "lenient")]
    pub args: Vec<String>,
    #[serde(rename = "RestartCount", default, deserialize_with = "lenient")]
    pub restart_count: u64,
    #[serde(rename = "State", default, deserialize_with = "lenient")]
    pub state: InspectState,
    #[serde(rename = "Config", default, deserialize_with = "lenient")]
    pub config: InspectConfig,
    #[serde(rename = "HostConfig", default, deserialize_with = "lenient")]
    pub host_config: HostConfig,
    #[serde(rename = "Mounts", default, deserialize_with = "lenient")]
    pub mounts: Vec<Mount>,
    #[serde(rename = "NetworkSettings", default, deserialize_with = "lenient")]
    pub network_settings: NetworkSettings,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct InspectState {
    #[serde(rename = "Status", default, deserialize_with = "lenient")]
    pub status: String,
    #[serde(rename = "Running", default, deserialize_with = "lenient")]
    pub running: bool,
    #[serde(rename = "Restarting", default, deserialize_with = "lenient")]
    pub restarting: bool,
    #[serde(rename = "OOMKilled", default, deserialize_with = "lenient")]
    pub oom_killed: bool,
    #[serde(rename = "ExitCode", default, deserialize_with = "lenient")]
    pub exit_code: i64,
    #[serde(rename = "StartedAt", default, deserialize_with = "lenient")]
    pub started_at: String,
    #[serde(rename = "FinishedAt", default, deserialize_with = "lenient")]
    pub finished_at: String,
    #[serde(rename = "Health", default, deserialize_with = "lenient")]
    pub health: Option<Health>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Health {
    #[serde(rename = "Status", default, deserialize_with = "lenient")]
    pub status: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct InspectConfig {
    #[serde(rename = "Image", default, deserialize_with = "lenient")]
    pub image: String,
    #[serde(rename = "Cmd", default, deserialize_with = "lenient")]
    pub cmd: Vec<String>,
    #[serde(rename = "Entrypoint", default, deserialize_with = "lenient")]
    pub entrypoint: Vec<String>,
    #[serde(rename = "Env", default, deserialize_with = "lenient")]
    pub env: Vec<String>,
    #[serde(rename = "Labels", default, deserialize_with = "lenient")]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "Tty", default, deserialize_with = "lenient")]
    pub tty: bool,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct HostConfig {
    #[serde(rename = "RestartPolicy", default, deserialize_with = "lenient")]
    pub restart_policy: RestartPolicy,
    #[serde(rename = "Memory", default, deserialize_with = "lenient")]
    pub memory: u64,
    #[serde(rename = "NetworkMode", default, deserialize_with = "lenient")]
    pub network_mode: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct RestartPolicy {
    #[serde(rename = "Name", default, deserialize_with = "lenient")]
    pub name: String,
    #[serde(rename = "MaximumRetryCount", default, deserialize_with = "lenient")]
    pub maximum_retry_count: u64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Mount {
    #[serde(rename = "Type", default, deserialize_with = "lenient")]
    pub kind: String,
    #[serde(rename = "Source", default, deserialize_with = "lenient")]
    pub source: String,
    #[serde(rename = "Destination", default, deserialize_with = "lenient")]
    pub destination: String,
    #[serde(rename = "RW", default, deserialize_with = "lenient")]
    pub rw: bool,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct NetworkSettings {
    #[serde(rename = "Networks", default, deserialize_with = "lenient")]
    pub networks: BTreeMap<String, Network>,
    #[serde(rename = "Ports", default, deserialize_with = "lenient")]
    pub ports: BTreeMap<String, Option<Vec<PortBinding>>>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Network {
    #[serde(rename = "IPAddress", default, deserialize_with = "lenient")]
    pub ip_address: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct PortBinding {
    #[serde(rename = "HostIp", default, deserialize_with = "lenient")]
    pub host_ip: String,
    #[serde(rename = "HostPort", default, deserialize_with = "lenient")]
    pub host_port: String,
}

impl Inspect {
    /// The name without Docker's leading `/`.
    pub fn short_name(&self) -> String {
        self.name.trim_start_matches('/').to_string()
    }

    /// `healthy`, `unhealthy`, `starting`, or `None` without a health check.
    pub fn health(&self) -> Option<String> {
        self.state
            .health
            .as_ref()
            .map(|h| h.status.clone())
            .filter(|s| !s.is_empty() && s != "none")
    }

    /// Published ports as `host:port->port/proto`, from NetworkSettings.
    pub fn port_list(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (container_port, bindings) in &self.network_settings.ports {
            match bindings {
                Some(list) if !list.is_empty() => {
                    for b in list {
                        let ip = if b.host_ip.is_empty() {
                            "0.0.0.0"
                        } else {
                            &b.host_ip
                        };
                        out.push(format!("{ip}:{}->{container_port}", b.host_port));
                    }
                }
                _ => out.push(container_port.clone()),
            }
        }
        out
    }
}

/// Parses RFC 3339 engine timestamps; the zero time (`0001-01-01…`) and
/// garbage give `None`.
pub fn parse_time(text: &str) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(text.trim()).ok()?;
    let secs = t.timestamp();
    (secs > 0).then_some(secs)
}

/// One sample of `GET /containers/ID/stats`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Stats {
    #[serde(default, deserialize_with = "lenient")]
    pub read: String,
    #[serde(default, deserialize_with = "lenient")]
    pub cpu_stats: CpuStats,
    #[serde(default, deserialize_with = "lenient")]
    pub memory_stats: MemoryStats,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
pub struct CpuStats {
    #[serde(default, deserialize_with = "lenient")]
    pub cpu_usage: CpuUsage,
    #[serde(default, deserialize_with = "lenient")]
    pub system_cpu_usage: u64,
    #[serde(default, deserialize_with = "lenient")]
    pub online_cpus: u32,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
pub struct CpuUsage {
    #[serde(default, deserialize_with = "lenient")]
    pub total_usage: u64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct MemoryStats {
    #[serde(default, deserialize_with = "lenient")]
    pub usage: u64,
    #[serde(default, deserialize_with = "lenient")]
    pub limit: u64,
    #[serde(default, deserialize_with = "lenient")]
    pub stats: BTreeMap<String, u64>,
}

impl MemoryStats {
    /// Memory in use as `docker stats` counts it: usage minus page cache
    /// (`inactive_file` on cgroup v2, `total_inactive_file` / `cache` on v1).
    pub fn used(&self) -> u64 {
        let cache = ["inactive_file", "total_inactive_file"]
            .iter()
            .find_map(|k| self.stats.get(*k))
            .copied()
            .unwrap_or(0);
        self.usage.saturating_sub(cache)
    }
}

/// How the engine's own CLI turns two stats samples into CPU %, so the pane
/// shows the figure `docker stats` or `podman stats` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CpuFormula {
    /// `docker stats`: Δcontainer / Δsystem × online CPUs × 100. Docker's
    /// `system_cpu_usage` is all CPU time of the host, idle included (from
    /// /proc/stat), so Δsystem / online CPUs is the wall time.
    #[default]
    Docker,
    /// `podman stats`: Δcontainer / Δwall time × 100. podman's
    /// `system_cpu_usage` counts only the busy time of all cgroups, so
    /// Docker's formula on it gives the container's share of what is busy,
    /// 15–30× the real figure on a quiet host.
    Podman,
}

impl CpuFormula {
    /// From the engine's name as [`Version::engine_name`] gives it.
    pub fn for_engine(engine: &str) -> CpuFormula {
        if engine.to_ascii_lowercase().contains("podman") {
            CpuFormula::Podman
        } else {
            CpuFormula::Docker
        }
    }
}

/// CPU % between two samples of one stats stream, as `formula` says.
/// `None` when the samples do not allow it (first sample, counter reset,
/// podman's zeroed `precpu_stats`, no time between them).
pub fn cpu_percent(formula: CpuFormula, previous: &Stats, current: &Stats) -> Option<f64> {
    let (before, now) = (&previous.cpu_stats, &current.cpu_stats);
    let container = now
        .cpu_usage
        .total_usage
        .checked_sub(before.cpu_usage.total_usage)?;
    match formula {
        CpuFormula::Docker => {
            let system = now.system_cpu_usage.checked_sub(before.system_cpu_usage)?;
            if system == 0 || before.system_cpu_usage == 0 {
                return None;
            }
            let cpus = f64::from(now.online_cpus.max(1));
            Some(container as f64 / system as f64 * cpus * 100.0)
        }
        CpuFormula::Podman => {
            let wall = read_nanos(&current.read)?.checked_sub(read_nanos(&previous.read)?)?;
            if wall <= 0 || before.cpu_usage.total_usage == 0 {
                return None;
            }
            Some(container as f64 / wall as f64 * 100.0)
        }
    }
}

/// The `read` time of a stats sample in nanoseconds (`0001-01-01…`, podman's
/// "never", gives `None`).
fn read_nanos(read: &str) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(read.trim()).ok()?;
    let nanos = t.timestamp_nanos_opt()?;
    (nanos > 0).then_some(nanos)
}

/// One line of `GET /events`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct EngineEvent {
    #[serde(rename = "Type", default, deserialize_with = "lenient")]
    pub kind: String,
    #[serde(rename = "Action", default, deserialize_with = "lenient")]
    pub action: String,
    /// The pre-1.22 name of `Action`; podman still sends both.
    #[serde(default, deserialize_with = "lenient")]
    pub status: String,
    #[serde(rename = "Actor", default, deserialize_with = "lenient")]
    pub actor: Actor,
    #[serde(default, deserialize_with = "lenient")]
    pub time: i64,
    #[serde(rename = "timeNano", default, deserialize_with = "lenient")]
    pub time_nano: i64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Actor {
    #[serde(rename = "ID", default, deserialize_with = "lenient")]
    pub id: String,
    #[serde(rename = "Attributes", default, deserialize_with = "lenient")]
    pub attributes: BTreeMap<String, String>,
}

impl EngineEvent {
    pub fn action(&self) -> &str {
        if self.action.is_empty() {
            &self.status
        } else {
            &self.action
        }
    }

    /// Nanoseconds since the epoch, from `timeNano` or `time`.
    pub fn nanos(&self) -> i64 {
        if self.time_nano > 0 {
            self.time_nano
        } else {
            self.time.saturating_mul(1_000_000_000)
        }
    }

    /// Whether the event may change what the list shows; exec and attach
    /// events (and the like) do not.
    pub fn changes_container(&self) -> bool {
        let action = self.action();
        !(action.starts_with("exec_")
            || matches!(
                action,
                "attach"
                    | "detach"
                    | "resize"
                    | "top"
                    | "copy"
                    | "archive-path"
                    | "extract-to-dir"
                    | "export"
                    | "commit"
                    | "mount"
                    | "unmount"
            ))
    }

    /// The container is gone for good.
    pub fn is_removal(&self) -> bool {
        matches!(self.action(), "destroy" | "remove")
    }
}

/// Splits a byte stream into lines (newline-delimited JSON). Lines longer
/// than [`MAX_JSON_LINE`] are dropped whole and counted.
#[derive(Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
    overlong: bool,
    pub dropped: u64,
}

impl LineSplitter {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            let (head, tail) = rest.split_at(i);
            if self.overlong || self.pending.len() + head.len() > MAX_JSON_LINE {
                self.dropped += 1;
            } else {
                self.pending.extend_from_slice(head);
                let line = std::mem::take(&mut self.pending);
                if !line.iter().all(u8::is_ascii_whitespace) {
                    lines.push(line);
                }
            }
            self.pending.clear();
            self.overlong = false;
            rest = &tail[1..];
        }
        if self.pending.len() + rest.len() > MAX_JSON_LINE {
            self.overlong = true;
            self.pending.clear();
        } else if !self.overlong {
            self.pending.extend_from_slice(rest);
        }
        lines
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub stream: LogStream,
    /// Unix seconds from the `timestamps=1` prefix, when there is one.
    pub time: Option<i64>,
    /// The same instant in nanoseconds (podman 4 writes whole seconds,
    /// Docker nanoseconds).
    pub time_nanos: Option<i64>,
    /// The raw line without its timestamp and line end (not yet inert).
    pub text: Vec<u8>,
}

/// Turns the body of `/containers/ID/logs` into lines: with the 8-byte
/// frame header `[stream, 0, 0, 0, u32 BE length]` for non-TTY containers,
/// raw bytes for TTY ones. Frames and lines may be split anywhere.
#[derive(Debug)]
pub struct LogDemux {
    tty: bool,
    buffer: Vec<u8>,
    /// Partial line per stream (index 0 stdout / tty, 1 stderr).
    partial: [Vec<u8>; 2],
    /// Set when the body stopped making sense as frames; the rest is
    /// shown raw rather than lost.
    pub broken_framing: bool,
}

impl LogDemux {
    pub fn new(tty: bool) -> Self {
        Self {
            tty,
            buffer: Vec::new(),
            partial: [Vec::new(), Vec::new()],
            broken_framing: false,
        }
    }

    /// The lines `chunk` completes, owned (for the detail's log tail and
    /// tests; the Logs pane's follower borrows them with [`LogDemux::push_each`]).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<LogLine> {
        let mut out = Vec::new();
        self.push_each(chunk, &mut |stream, raw| out.push(make_line(stream, raw)));
        out
    }

    /// Calls `line` with each line `chunk` completes: its stream and its raw
    /// bytes, the `timestamps=1` prefix and a TTY's `\r` still on (see
    /// [`Stamps::split`]). A line whole inside one frame is lent straight
    /// from the chunk: nothing is allocated per line.
    pub fn push_each(&mut self, chunk: &[u8], line: &mut impl FnMut(LogStream, &[u8])) {
        if self.tty || self.broken_framing {
            let stream = if self.tty {
                LogStream::Tty
            } else {
                LogStream::Stdout
            };
            self.text_each(stream, chunk, line);
            return;
        }
        // Frames cut by the chunk's end wait in `buffer`; when none waits,
        // the frames are read from the chunk itself.
        let mut pending = std::mem::take(&mut self.buffer);
        let from_pending = !pending.is_empty();
        if from_pending {
            pending.extend_from_slice(chunk);
        }
        let used = {
            let data: &[u8] = if from_pending { &pending } else { chunk };
            self.frames(data, line)
        };
        if from_pending {
            pending.drain(..used);
        } else {
            pending.clear();
            pending.extend_from_slice(&chunk[used..]);
        }
        if self.broken_framing {
            self.text_each(LogStream::Stdout, &pending, line);
            pending.clear();
        }
        self.buffer = pending;
    }

    /// Reads whole frames from `data`; returns the bytes used.
    fn frames(&mut self, data: &[u8], line: &mut impl FnMut(LogStream, &[u8])) -> usize {
        let mut at = 0;
        while data.len() - at >= 8 {
            let header = &data[at..at + 8];
            let stream = match header[0] {
                0 | 1 => LogStream::Stdout,
                2 => LogStream::Stderr,
                _ => {
                    self.broken_framing = true;
                    break;
                }
            };
            if header[1..4] != [0, 0, 0] {
                self.broken_framing = true;
                break;
            }
            let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
            if data.len() - at - 8 < len {
                break;
            }
            let payload = &data[at + 8..at + 8 + len];
            // With `timestamps=1` every frame starts with a timestamp, also
            // the continuation of a line the engine wrote in pieces (podman
            // splits lines at its pipe reads, Docker at 16 KiB): drop it.
            let slot = usize::from(stream == LogStream::Stderr);
            let payload = if self.partial[slot].is_empty() {
                payload
            } else {
                split_timestamp(payload).map_or(payload, |(_, rest)| rest)
            };
            self.text_each(stream, payload, line);
            at += 8 + len;
        }
        at
    }

    /// The partial lines left when the stream ends.
    pub fn finish(&mut self) -> Vec<LogLine> {
        let mut out = Vec::new();
        self.finish_each(&mut |stream, raw| out.push(make_line(stream, raw)));
        out
    }

    /// [`LogDemux::finish`], lent like [`LogDemux::push_each`].
    pub fn finish_each(&mut self, line: &mut impl FnMut(LogStream, &[u8])) {
        for (i, stream) in [(0, LogStream::Stdout), (1, LogStream::Stderr)] {
            let rest = std::mem::take(&mut self.partial[i]);
            if !rest.is_empty() {
                let stream = if self.tty { LogStream::Tty } else { stream };
                line(stream, &rest);
            }
        }
    }

    fn text_each(
        &mut self,
        stream: LogStream,
        data: &[u8],
        line: &mut impl FnMut(LogStream, &[u8]),
    ) {
        let slot = usize::from(stream == LogStream::Stderr);
        let mut rest = data;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            let partial = &mut self.partial[slot];
            if partial.is_empty() {
                line(stream, &rest[..i.min(MAX_LOG_LINE)]);
            } else {
                if partial.len() < MAX_LOG_LINE {
                    let room = MAX_LOG_LINE - partial.len();
                    partial.extend_from_slice(&rest[..i.min(room)]);
                }
                let whole = std::mem::take(partial);
                line(stream, &whole);
            }
            rest = &rest[i + 1..];
        }
        let partial = &mut self.partial[slot];
        let room = MAX_LOG_LINE.saturating_sub(partial.len());
        partial.extend_from_slice(&rest[..rest.len().min(room)]);
    }
}

/// Splits the `timestamps=1` prefix off raw lines, fast for a stream of
/// them: the seconds of the last UTC stamp are kept, so a line stamped in
/// the same second costs a comparison of 19 bytes and the fraction's digits
/// (a storm writes 100 000 lines in one second).
#[derive(Debug, Default)]
pub struct Stamps {
    /// `YYYY-MM-DDTHH:MM:SS` of the last UTC stamp, and its Unix seconds.
    prefix: [u8; 19],
    seconds: Option<i64>,
}

impl Stamps {
    /// A raw line (from [`LogDemux::push_each`]) → (UTC nanoseconds, when
    /// stamped; the text without stamp and `\r`).
    pub fn split<'a>(&mut self, raw: &'a [u8]) -> (Option<i64>, &'a [u8]) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if let Some(seconds) = self.seconds
            && raw.len() > 20
            && raw[..19] == self.prefix
            && let Some((fraction, rest)) = utc_fraction(&raw[19..])
        {
            return (Some(seconds * 1_000_000_000 + fraction), rest);
        }
        match split_timestamp(raw) {
            Some((nanos, rest)) => {
                if raw.len() > 20 && utc_fraction(&raw[19..]).is_some() {
                    self.prefix.copy_from_slice(&raw[..19]);
                    self.seconds = Some(nanos.div_euclid(1_000_000_000));
                }
                (Some(nanos), rest)
            }
            None => (None, raw),
        }
    }
}

/// `Z rest` or `.123456789Z rest` → (nanoseconds of the fraction, `rest`).
fn utc_fraction(after_seconds: &[u8]) -> Option<(i64, &[u8])> {
    let (fraction, tail) = match after_seconds.first()? {
        b'Z' => (0, &after_seconds[1..]),
        b'.' => {
            let digits = after_seconds[1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits == 0 || digits > 9 {
                return None;
            }
            let mut nanos: i64 = 0;
            for d in &after_seconds[1..=digits] {
                nanos = nanos * 10 + i64::from(d - b'0');
            }
            nanos *= 10_i64.pow(9 - digits as u32);
            let tail = &after_seconds[1 + digits..];
            (nanos, tail.strip_prefix(b"Z")?)
        }
        _ => return None,
    };
    Some((fraction, tail.strip_prefix(b" ")?))
}

/// Splits off the `timestamps=1` prefix (RFC 3339, with or without
/// fraction) and the `\r` of TTY line ends.
fn make_line(stream: LogStream, raw: &[u8]) -> LogLine {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    match split_timestamp(raw) {
        Some((nanos, rest)) => LogLine {
            stream,
            time: Some(nanos.div_euclid(1_000_000_000)),
            time_nanos: Some(nanos),
            text: rest.to_vec(),
        },
        None => LogLine {
            stream,
            time: None,
            time_nanos: None,
            text: raw.to_vec(),
        },
    }
}

/// `2026-11-23T15:11:22Z rest` → (unix nanoseconds, `rest`).
fn split_timestamp(raw: &[u8]) -> Option<(i64, &[u8])> {
    let space = raw.iter().take(40).position(|b| *b == b' ')?;
    let time = std::str::from_utf8(&raw[..space])
        .ok()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())?;
    let nanos = time.timestamp_nanos_opt()?;
    Some((nanos, &raw[space + 1..]))
}

/// One line of `docker ps --format '{{json .}}'` (the CLI fallback).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct CliContainer {
    #[serde(rename = "ID", default, deserialize_with = "lenient")]
    pub id: String,
    #[serde(rename = "Names", default, deserialize_with = "lenient")]
    pub names: String,
    #[serde(rename = "Image", default, deserialize_with = "lenient")]
    pub image: String,
    #[serde(rename = "State", default, deserialize_with = "lenient")]
    pub state: String,
    #[serde(rename = "Status", default, deserialize_with = "lenient")]
    pub status: String,
    #[serde(rename = "Ports", default, deserialize_with = "lenient")]
    pub ports: String,
}

/// Parses `docker ps --format '{{json .}}'` output; bad lines are skipped
/// and counted.
pub fn parse_cli_ps(output: &[u8]) -> (Vec<CliContainer>, usize) {
    let mut bad = 0;
    let mut out = Vec::new();
    for line in output.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<CliContainer>(line) {
            Ok(c) if !c.id.is_empty() => out.push(c),
            _ => bad += 1,
        }
    }
    (out, bad)
}

/// Health as `docker ps` writes it into the status text: `(healthy)`.
pub fn health_from_status(status: &str) -> Option<String> {
    ["unhealthy", "healthy", "health: starting"]
        .into_iter()
        .find(|h| status.contains(&format!("({h})")))
        .map(|h| h.trim_start_matches("health: ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/docker/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
    }

    #[test]
    fn versions_order_numerically_and_negotiate_down() {
        assert!(ApiVersion(1, 9) < ApiVersion(1, 41));
        assert_eq!(ApiVersion::parse("1.41"), Some(ApiVersion(1, 41)));
        assert_eq!(ApiVersion::parse(" 1.44\r"), Some(ApiVersion(1, 44)));
        assert_eq!(ApiVersion::parse("1"), None);
        assert_eq!(ApiVersion::parse("x.y"), None);
        assert_eq!(negotiate(ApiVersion(1, 41)), ApiVersion(1, 41));
        assert_eq!(negotiate(ApiVersion(1, 52)), OUR_API_VERSION);
    }

    #[test]
    fn version_fixture_names_the_engine() {
        let v: Version = serde_json::from_slice(&fixture("version.json")).expect("parse");
        assert_eq!(v.api_version, "1.41");
        assert_eq!(v.engine_name(), "Podman Engine 4.3.1");
    }

    #[test]
    fn container_list_fixture_parses() {
        let list: Vec<ContainerSummary> =
            serde_json::from_slice(&fixture("containers.json")).expect("parse");
        let names: Vec<_> = list.iter().map(|c| c.names[0].as_str()).collect();
        assert_eq!(names, ["/bed-web", "/bed-tty", "/bed-worker"]);
        assert!(list.iter().all(|c| c.state == "running"));
    }

    #[test]
    fn inspect_fixtures_parse() {
        let web: Inspect = serde_json::from_slice(&fixture("inspect_web.json")).expect("web");
        assert_eq!(web.short_name(), "bed-web");
        assert!(!web.config.tty);
        assert_eq!(web.host_config.memory, 134_217_728);
        assert_eq!(web.health(), None);
        assert!(web.config.env.iter().any(|e| e == "OPSCOCKPIT_BED=1"));
        assert_eq!(
            parse_time(&web.state.started_at),
            Some(parse_time("2026-11-23T15:11:14Z").expect("time"))
        );
        let tty: Inspect = serde_json::from_slice(&fixture("inspect_tty.json")).expect("tty");
        assert!(tty.config.tty);
    }

    #[test]
    fn inspect_tolerates_wrong_types_and_nulls() {
        let odd = br#"{"Id":"x","Name":7,"RestartCount":"three","State":null,
            "Config":{"Env":null,"Labels":[1,2],"Tty":"yes"},"Mounts":{},"HostConfig":[]}"#;
        let i: Inspect = serde_json::from_slice(odd).expect("lenient parse");
        assert_eq!(i.id, "x");
        assert_eq!(i.name, "");
        assert_eq!(i.restart_count, 0);
        assert!(i.config.env.is_empty());
        assert!(!i.config.tty);
        // Not JSON at all is an error, not a panic.
        assert!(serde_json::from_slice::<Inspect>(b"<html>").is_err());
        assert!(serde_json::from_slice::<Inspect>(br#"{"Id":"x","Sta"#).is_err());
    }

    #[test]
    fn cpu_percent_needs_two_real_samples() {
        let stats: Stats = serde_json::from_slice(&fixture("stats_once.json")).expect("stats");
        let raw: serde_json::Value =
            serde_json::from_slice(&fixture("stats_once.json")).expect("value");
        let pre = Stats {
            cpu_stats: serde_json::from_value(raw["precpu_stats"].clone()).expect("pre"),
            read: "0001-01-01T00:00:00Z".into(),
            ..Stats::default()
        };
        // podman's stream=false: precpu is zeroed, so no percentage.
        for formula in [CpuFormula::Docker, CpuFormula::Podman] {
            assert_eq!(cpu_percent(formula, &pre, &stats), None);
        }
        assert_eq!(stats.memory_stats.limit, 134_217_728);
        let mut later = stats.clone();
        later.cpu_stats.cpu_usage.total_usage += 50_000_000;
        later.cpu_stats.system_cpu_usage += 1_000_000_000;
        let pct = cpu_percent(CpuFormula::Docker, &stats, &later).expect("pct");
        assert!((pct - 10.0).abs() < 1e-9, "{pct}");
        // A counter that went backwards (container restarted) gives None.
        assert_eq!(cpu_percent(CpuFormula::Docker, &later, &stats), None);
    }

    /// Two samples as podman 4.3 streams them for an idle bed container:
    /// `docker stats`' formula gives 6.3 %, `podman stats` 0.16 %.
    #[test]
    fn podman_cpu_percent_is_over_wall_time() {
        let sample = |read: &str, total: u64, system: u64| Stats {
            read: read.into(),
            cpu_stats: CpuStats {
                cpu_usage: CpuUsage { total_usage: total },
                system_cpu_usage: system,
                online_cpus: 2,
            },
            ..Stats::default()
        };
        let before = sample(
            "2026-12-01T13:48:05.371023594Z",
            534_173_347,
            13_327_632_354_227,
        );
        let after = sample(
            "2026-12-01T13:48:10.374257285Z",
            542_143_088,
            13_327_884_938_118,
        );
        let docker = cpu_percent(CpuFormula::Docker, &before, &after).expect("docker");
        assert!((docker - 6.31).abs() < 0.01, "{docker}");
        let podman = cpu_percent(CpuFormula::Podman, &before, &after).expect("podman");
        assert!((podman - 0.1593).abs() < 0.0005, "{podman}");
        // No time between the samples, or time going back: no figure.
        assert_eq!(cpu_percent(CpuFormula::Podman, &after, &after), None);
        assert_eq!(cpu_percent(CpuFormula::Podman, &after, &before), None);
        assert_eq!(
            CpuFormula::for_engine("Podman Engine 4.3.1"),
            CpuFormula::Podman
        );
        assert_eq!(
            CpuFormula::for_engine("Docker Engine - Community 29.1"),
            CpuFormula::Docker
        );
    }

    #[test]
    fn memory_used_subtracts_inactive_file() {
        let m: MemoryStats = serde_json::from_str(
            r#"{"usage":1000,"limit":4000,"stats":{"inactive_file":300,"active_anon":5}}"#,
        )
        .expect("parse");
        assert_eq!(m.used(), 700);
        let m: MemoryStats =
            serde_json::from_str(r#"{"usage":10,"stats":{"inactive_file":300}}"#).expect("parse");
        assert_eq!(m.used(), 0);
    }

    #[test]
    fn events_fixture_gives_the_podman_sequence() {
        let mut splitter = LineSplitter::default();
        let mut actions = Vec::new();
        for line in splitter.push(&fixture("events_sample.ndjson")) {
            let e: EngineEvent = serde_json::from_slice(&line).expect("event");
            assert_eq!(e.kind, "container");
            assert_eq!(e.actor.attributes["name"], "bed-fixture-tmp");
            assert!(e.nanos() > 1_700_000_000_000_000_000);
            actions.push(e.action().to_string());
        }
        assert_eq!(actions.first().map(String::as_str), Some("create"));
        assert_eq!(actions.last().map(String::as_str), Some("remove"));
        assert!(actions.contains(&"die".to_string()));
    }

    #[test]
    fn event_fallbacks_and_classification() {
        let e: EngineEvent =
            serde_json::from_str(r#"{"status":"die","id":"abc","time":5}"#).expect("old style");
        assert_eq!(e.action(), "die");
        assert_eq!(e.nanos(), 5_000_000_000);
        let exec: EngineEvent =
            serde_json::from_str(r#"{"Action":"exec_start: sh"}"#).expect("exec");
        assert!(!exec.changes_container());
        let health: EngineEvent =
            serde_json::from_str(r#"{"Action":"health_status: unhealthy"}"#).expect("health");
        assert!(health.changes_container());
        let destroy: EngineEvent = serde_json::from_str(r#"{"Action":"destroy"}"#).expect("d");
        assert!(destroy.is_removal());
    }

    #[test]
    fn line_splitter_handles_splits_blank_and_overlong_lines() {
        let mut s = LineSplitter::default();
        assert!(s.push(b"{\"a\":").is_empty());
        assert_eq!(s.push(b"1}\n\n  \n{\"b\""), vec![b"{\"a\":1}".to_vec()]);
        assert_eq!(s.push(b":2}\n"), vec![b"{\"b\":2}".to_vec()]);
        let huge = vec![b'x'; MAX_JSON_LINE + 10];
        assert!(s.push(&huge).is_empty());
        assert!(s.push(b"tail of the huge line\n").is_empty());
        assert_eq!(s.dropped, 1);
        assert_eq!(s.push(b"ok\n"), vec![b"ok".to_vec()]);
    }

    #[test]
    fn multiplexed_fixture_gives_stdout_and_stderr_lines() {
        let mut demux = LogDemux::new(false);
        let lines = demux.push(&fixture("logs_multiplexed.bin"));
        assert_eq!(lines.len(), 5);
        assert!(lines.iter().any(|l| l.stream == LogStream::Stderr));
        assert!(lines.iter().any(|l| l.stream == LogStream::Stdout));
        assert!(lines.iter().all(|l| l.time.is_some()));
        assert!(lines[0].text.starts_with(b"127.0.0.1 - - ["));
        assert!(!demux.broken_framing);
    }

    #[test]
    fn multiplexed_frames_split_at_every_byte() {
        let data = fixture("logs_worker_multiplexed.bin");
        let whole = LogDemux::new(false).push(&data);
        let mut demux = LogDemux::new(false);
        let mut pieces = Vec::new();
        for b in &data {
            pieces.extend(demux.push(std::slice::from_ref(b)));
        }
        assert_eq!(pieces, whole);
        assert_eq!(whole.len(), 8);
    }

    #[test]
    fn tty_fixture_is_raw_with_crlf() {
        let lines = LogDemux::new(true).push(&fixture("logs_tty.bin"));
        assert_eq!(lines.len(), 5);
        assert!(lines.iter().all(|l| l.stream == LogStream::Tty));
        assert!(lines.iter().all(|l| !l.text.ends_with(b"\r")));
        assert!(lines[0].text.windows(5).any(|w| w == b"\x1b[32m"));
    }

    #[test]
    fn garbage_framing_falls_back_to_raw_text() {
        let mut demux = LogDemux::new(false);
        let lines = demux.push(b"this is not framed\nat all\n");
        assert!(demux.broken_framing);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].text, b"at all");
        // A frame claiming 4 GB just waits for more data, it does not allocate.
        let mut demux = LogDemux::new(false);
        assert!(
            demux
                .push(&[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, b'x'])
                .is_empty()
        );
        // A truncated stream leaves its partial line to finish().
        let mut demux = LogDemux::new(false);
        assert!(
            demux
                .push(&[1, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', b'c'])
                .is_empty()
        );
        assert_eq!(demux.finish()[0].text, b"abc");
    }

    #[test]
    fn continuation_frames_lose_their_timestamp() {
        // Seen from podman: `104` and `1\n` of line 1041 in two frames,
        // each with its own timestamp prefix.
        let mut data = Vec::new();
        for payload in [
            &b"2026-11-23T15:20:21Z 104"[..],
            b"2026-11-23T15:20:21Z 1\n",
        ] {
            data.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, payload.len() as u8]);
            data.extend_from_slice(payload);
        }
        let lines = LogDemux::new(false).push(&data);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text, b"1041");
        assert!(lines[0].time.is_some());
    }

    #[test]
    fn overlong_log_lines_are_cut() {
        let mut demux = LogDemux::new(true);
        let mut data = vec![b'y'; MAX_LOG_LINE * 3];
        data.push(b'\n');
        let lines = demux.push(&data);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text.len(), MAX_LOG_LINE);
    }

    #[test]
    fn stamps_of_one_second_are_split_fast_and_the_same_as_slowly() {
        let mut stamps = Stamps::default();
        for raw in [
            &b"2026-11-23T15:11:22Z first"[..],
            b"2026-11-23T15:11:22Z second\r",
            b"2026-11-23T15:11:22.5Z half",
            b"2026-11-23T15:11:22.123456789Z nanos",
            b"2026-11-23T15:11:23Z next second",
            b"2026-11-23T16:11:23+01:00 offset",
            b"2026-11-23T15:11:23.Z bad fraction",
            b"2026-11-23T15:11:23Zglued",
            b"no stamp",
            b"",
        ] {
            let slow = make_line(LogStream::Stdout, raw);
            let (nanos, text) = stamps.split(raw);
            assert_eq!(nanos, slow.time_nanos, "{}", String::from_utf8_lossy(raw));
            assert_eq!(text, &slow.text[..], "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn lent_lines_are_the_owned_lines() {
        let data = fixture("logs_worker_multiplexed.bin");
        let owned = LogDemux::new(false).push(&data);
        let mut demux = LogDemux::new(false);
        let mut lent = Vec::new();
        for piece in data.chunks(7) {
            demux.push_each(piece, &mut |stream, raw| lent.push(make_line(stream, raw)));
        }
        demux.finish_each(&mut |stream, raw| lent.push(make_line(stream, raw)));
        assert_eq!(lent, owned);
    }

    #[test]
    fn docker_timestamps_with_nanoseconds_are_split_off() {
        let line = make_line(LogStream::Stdout, b"2026-11-23T15:11:22.123456789Z hello");
        assert_eq!(line.text, b"hello");
        assert_eq!(line.time, Some(1_795_446_682));
        assert_eq!(line.time_nanos, Some(1_795_446_682_123_456_789));
        let plain = make_line(LogStream::Stdout, b"no timestamp here");
        assert_eq!(plain.time, None);
        assert_eq!(plain.text, b"no timestamp here");
    }

    #[test]
    fn cli_ps_lines_parse_and_garbage_is_counted() {
        let out = b"{\"ID\":\"036ca2b2b0f1\",\"Names\":\"bed-web\",\"Image\":\"img\",\"State\":\"running\",\"Status\":\"Up 45 seconds (healthy)\",\"Ports\":\"\"}\nnot json\n\n{\"ID\":\"\"}\n";
        let (list, bad) = parse_cli_ps(out);
        assert_eq!(list.len(), 1);
        assert_eq!(bad, 2);
        assert_eq!(
            health_from_status(&list[0].status),
            Some("healthy".to_string())
        );
        assert_eq!(health_from_status("Up 3 minutes"), None);
        assert_eq!(
            health_from_status("Up 1s (health: starting)"),
            Some("starting".into())
        );
    }

    #[test]
    fn ports_display() {
        let p = Port {
            ip: "0.0.0.0".into(),
            private_port: 80,
            public_port: 8080,
            kind: "tcp".into(),
        };
        assert_eq!(p.display(), "0.0.0.0:8080->80/tcp");
        let p = Port {
            private_port: 53,
            kind: "udp".into(),
            ..Port::default()
        };
        assert_eq!(p.display(), "53/udp");
    }
}
