//! The container source task.
//!
//! Connected, it keeps ONE `GET /events` stream open and re-inspects only
//! the container an event names, so the list follows every change without
//! polling it; each running container has one stats stream (the engine
//! pushes a sample every 1 s (Docker) or 5 s (podman)), and CPU % comes from
//! two consecutive samples of that stream, computed as the engine's own CLI
//! does ([`api::CpuFormula`]). When the event stream breaks it
//! re-lists and resumes with `since=` the last event time, dropping events
//! it already saw. When the socket cannot be opened it polls `docker ps`
//! through the CLI if there is one, and otherwise says what is missing.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::api::{self, EngineEvent, Inspect, LineSplitter, LogDemux};
use super::client::{DockerClient, DockerError};
use super::follow::Follower;
use crate::channel::Emit;
use crate::containers::{
    Container, ContainerDetail, ContainerStats, DockerCommand, DockerEvent, DockerSettings,
    EngineStatus, LogEntry, TimelineEntry,
};
use crate::logs::LogEvent;
use crate::transport::{ExecOptions, SharedTransport, TransportErrorKind, shell_quote};

/// Lines of log history fetched when the detail view opens.
pub const LOG_TAIL: usize = 200;
/// How often the CLI fallback lists containers (and the socket is retried).
pub const FALLBACK_POLL: Duration = Duration::from_secs(5);
/// Longest wait between reconnect attempts while the engine is away.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Inspects run at once while (re)listing.
const LIST_CONCURRENCY: usize = 8;
/// Log lines gathered into one event (a fast writer must not send one
/// event per line).
const LOG_BATCH_LINES: usize = 512;
const LOG_BATCH_WAIT: Duration = Duration::from_millis(50);

const EVENTS_FILTER: &str = "%7B%22type%22%3A%5B%22container%22%5D%7D";

/// Aborts a spawned task when dropped.
struct TaskGuard(JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn send<E: From<DockerEvent> + From<LogEvent> + Send + 'static>(
    tx: &mpsc::Sender<E>,
    event: DockerEvent,
) -> bool {
    tx.emit(event).await.is_ok()
}

/// What the task remembers across reconnects.
struct Memory {
    /// Nanoseconds of the newest event handled; resumes `since=` there.
    last_event_nanos: i64,
    watched: Option<String>,
    /// The Logs pane's follower of each container name seen running; kept
    /// across restarts, re-creation and reconnects so each re-attaches
    /// where it left off.
    followers: HashMap<String, Follower>,
    /// How CPU % is computed for the engine connected last.
    cpu_formula: api::CpuFormula,
    /// The followers' lag bound (`[logs] max_lag`).
    log_max_lag: Duration,
}

pub async fn run<E: From<DockerEvent> + From<LogEvent> + Send + 'static>(
    transport: SharedTransport,
    settings: DockerSettings,
    tx: mpsc::Sender<E>,
    mut commands: mpsc::UnboundedReceiver<DockerCommand>,
    cancel: CancellationToken,
) {
    let mut memory = Memory {
        last_event_nanos: 0,
        watched: None,
        followers: HashMap::new(),
        cpu_formula: api::CpuFormula::default(),
        log_max_lag: settings.log_max_lag,
    };
    let mut backoff = Duration::from_secs(1);
    send(&tx, DockerEvent::Status(EngineStatus::Connecting)).await;
    while !cancel.is_cancelled() {
        let mut client = DockerClient::new(transport.clone(), &settings.socket);
        let wait = match client.negotiate().await {
            Ok(engine) => {
                backoff = Duration::from_secs(1);
                let api_version = client.version().map(|v| v.to_string()).unwrap_or_default();
                memory.cpu_formula = api::CpuFormula::for_engine(&engine);
                if !send(
                    &tx,
                    DockerEvent::Status(EngineStatus::Live {
                        engine,
                        api_version,
                    }),
                )
                .await
                {
                    return;
                }
                let reason = session(&client, &tx, &mut commands, &mut memory, &cancel).await;
                if cancel.is_cancelled() {
                    return;
                }
                send(
                    &tx,
                    DockerEvent::Status(EngineStatus::Reconnecting { reason }),
                )
                .await;
                Duration::from_millis(500)
            }
            Err(DockerError::Socket(e))
                if matches!(
                    e.kind,
                    TransportErrorKind::Unreachable | TransportErrorKind::PermissionDenied
                ) =>
            {
                fallback_round(&transport, &settings, &tx, &e).await;
                FALLBACK_POLL
            }
            Err(e) => {
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                send(
                    &tx,
                    DockerEvent::Status(EngineStatus::Reconnecting {
                        reason: e.to_string(),
                    }),
                )
                .await;
                wait
            }
        };
        if !idle(wait, &tx, &mut commands, &mut memory, &cancel).await {
            return;
        }
    }
}

/// Waits, answering detail requests that cannot be served now.
async fn idle<E: From<DockerEvent> + From<LogEvent> + Send + 'static>(
    wait: Duration,
    tx: &mpsc::Sender<E>,
    commands: &mut mpsc::UnboundedReceiver<DockerCommand>,
    memory: &mut Memory,
    cancel: &CancellationToken,
) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return false,
            _ = tokio::time::sleep_until(deadline) => return true,
            command = commands.recv() => match command {
                Some(DockerCommand::Watch { id }) => {
                    memory.watched = Some(id.clone());
                    let message = "no connection to the engine's API: details and logs need it".to_string();
                    send(tx, DockerEvent::DetailFailed { id, message }).await;
                }
                Some(DockerCommand::Unwatch) => memory.watched = None,
                None => return false,
            },
        }
    }
}

/// One connected stretch: returns why it ended.
async fn session<E: From<DockerEvent> + From<LogEvent> + Send + 'static>(
    client: &DockerClient,
    tx: &mpsc::Sender<E>,
    commands: &mut mpsc::UnboundedReceiver<DockerCommand>,
    memory: &mut Memory,
    cancel: &CancellationToken,
) -> String {
    // Events first, then the list: a change between the two is not lost.
    let since_secs = memory.last_event_nanos / 1_000_000_000;
    let path = if since_secs > 0 {
        format!("/events?filters={EVENTS_FILTER}&since={since_secs}")
    } else {
        format!("/events?filters={EVENTS_FILTER}")
    };
    let mut events = match client.get_stream(&path).await {
        Ok(s) => s,
        Err(e) => return format!("opening the event stream: {e}"),
    };
    let containers = match list(client).await {
        Ok(c) => c,
        Err(e) => return format!("listing containers: {e}"),
    };
    let mut stats_tasks: HashMap<String, TaskGuard> = HashMap::new();
    for c in &containers {
        sync_stats(client, tx, &mut stats_tasks, c, memory.cpu_formula);
        if c.is_running() {
            attach_logs(client, tx, memory, c);
        }
    }
    if !send(tx, DockerEvent::Snapshot(containers)).await {
        return "closing".into();
    }
    let mut detail_task: Option<TaskGuard> = memory
        .watched
        .clone()
        .map(|id| TaskGuard(tokio::spawn(detail(client.clone(), tx.clone(), id))));
    let mut splitter = LineSplitter::default();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return "closing".into(),
            chunk = events.next_chunk() => {
                let chunk = match chunk {
                    Some(Ok(c)) => c,
                    Some(Err(e)) => return format!("event stream: {e}"),
                    None => return "the engine closed the event stream".into(),
                };
                for line in splitter.push(&chunk) {
                    let Ok(event) = serde_json::from_slice::<EngineEvent>(&line) else {
                        tracing::debug!("unparsable docker event: {}", crate::text::inert_bytes(&line));
                        continue;
                    };
                    if !event.kind.is_empty() && event.kind != "container" {
                        continue;
                    }
                    if event.nanos() <= memory.last_event_nanos || event.actor.id.is_empty() {
                        continue;
                    }
                    memory.last_event_nanos = event.nanos();
                    if !handle_event(client, tx, &mut stats_tasks, &mut *memory, &mut detail_task, event).await {
                        return "closing".into();
                    }
                }
            }
            command = commands.recv() => match command {
                Some(DockerCommand::Watch { id }) => {
                    memory.watched = Some(id.clone());
                    detail_task = Some(TaskGuard(tokio::spawn(detail(client.clone(), tx.clone(), id))));
                }
                Some(DockerCommand::Unwatch) => {
                    memory.watched = None;
                    detail_task = None;
                }
                None => return "closing".into(),
            },
        }
    }
}

async fn handle_event<E: From<DockerEvent> + From<LogEvent> + Send + 'static>(
    client: &DockerClient,
    tx: &mpsc::Sender<E>,
    stats_tasks: &mut HashMap<String, TaskGuard>,
    memory: &mut Memory,
    detail_task: &mut Option<TaskGuard>,
    event: EngineEvent,
) -> bool {
    let id = event.actor.id.clone();
    let attributes = &event.actor.attributes;
    let entry = TimelineEntry {
        time: event.nanos() / 1_000_000_000,
        id: id.clone(),
        name: attributes.get("name").cloned().unwrap_or_default(),
        action: event.action().to_string(),
        exit_code: attributes.get("exitCode").cloned(),
    };
    if !send(tx, DockerEvent::Timeline(entry)).await {
        return false;
    }
    if event.is_removal() {
        stats_tasks.remove(&id);
        return send(tx, DockerEvent::Removed { id }).await;
    }
    if !event.changes_container() {
        return true;
    }
    match client
        .get_json::<Inspect>(&format!("/containers/{id}/json"))
        .await
    {
        Ok(inspect) => {
            let container = from_inspect(&inspect, None);
            sync_stats(client, tx, stats_tasks, &container, memory.cpu_formula);
            // A restarted container's log follow ended with its old run.
            let started = matches!(event.action(), "start" | "restart");
            if event.action() == "start" {
                attach_logs(client, tx, memory, &container);
            }
            if started && memory.watched.as_deref() == Some(id.as_str()) {
                *detail_task = Some(TaskGuard(tokio::spawn(detail(
                    client.clone(),
                    tx.clone(),
                    id,
                ))));
            }
            send(tx, DockerEvent::Upsert(container)).await
        }
        Err(e) if e.is_not_found() => {
            stats_tasks.remove(&id);
            send(tx, DockerEvent::Removed { id }).await
        }
        Err(e) => {
            tracing::debug!("inspect after event failed: {e}");
            true
        }
    }
}

/// Starts or stops the stats stream so that exactly the running
/// containers have one (dropping it stops it).
fn sync_stats<E: From<DockerEvent> + From<LogEvent> + Send + 'static>(
    client: &DockerClient,
    tx: &mpsc::Sender<E>,
    tasks: &mut HashMap<String, TaskGuard>,
    container: &Container,
    formula: api::CpuFormula,
) {
    if container.is_running() {
        tasks.entry(container.id.clone()).or_insert_with(|| {
            TaskGuard(tokio::spawn(stats_stream(
                client.clone(),
                tx.clone(),
                container.id.clone(),
                formula,
            )))
        });
    } else {
        tasks.remove(&container.id);
    }
}

/// Tells the follower of the container's name (made on first sight) that a
/// run of it started.
fn attach_logs<E: From<DockerEvent> + From<LogEvent> + Send + 'static>(
    client: &DockerClient,
    tx: &mpsc::Sender<E>,
    memory: &mut Memory,
    container: &Container,
) {
    let name = if container.name.is_empty() {
        &container.id
    } else {
        &container.name
    };
    let max_lag = memory.log_max_lag;
    memory
        .followers
        .entry(name.clone())
        .or_insert_with(|| Follower::spawn(name, max_lag, tx.clone()))
        .attach(&container.id, client);
}

async fn list(client: &DockerClient) -> Result<Vec<Container>, DockerError> {
    let summaries: Vec<api::ContainerSummary> = client.get_json("/containers/json?all=1").await?;
    let inspects = futures::stream::iter(summaries)
        .map(|summary| async move {
            let inspect = client
                .get_json::<Inspect>(&format!("/containers/{}/json", summary.id))
                .await;
            (summary, inspect)
        })
        .buffered(LIST_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut out = Vec::new();
    for (summary, inspect) in inspects {
        match inspect {
            Ok(inspect) => out.push(from_inspect(&inspect, Some(&summary))),
            // Removed between list and inspect.
            Err(e) if e.is_not_found() => {}
            Err(_) => out.push(from_summary(&summary)),
        }
    }
    Ok(out)
}

fn from_summary(s: &api::ContainerSummary) -> Container {
    Container {
        id: s.id.clone(),
        name: s
            .names
            .first()
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default(),
        image: s.image.clone(),
        state: s.state.clone(),
        health: api::health_from_status(&s.status),
        status: s.status.clone(),
        ports: s.ports.iter().map(api::Port::display).collect(),
        ..Container::default()
    }
}

fn from_inspect(i: &Inspect, summary: Option<&api::ContainerSummary>) -> Container {
    let running = i.state.running || i.state.status == "running";
    let mut ports = i.port_list();
    if ports.is_empty()
        && let Some(s) = summary
    {
        ports = s.ports.iter().map(api::Port::display).collect();
    }
    Container {
        id: i.id.clone(),
        name: i.short_name(),
        image: i.config.image.clone(),
        state: if i.state.status.is_empty() {
            summary.map(|s| s.state.clone()).unwrap_or_default()
        } else {
            i.state.status.clone()
        },
        health: i.health(),
        status: status_text(i),
        started_at: if running {
            api::parse_time(&i.state.started_at)
        } else {
            None
        },
        finished_at: if running {
            None
        } else {
            api::parse_time(&i.state.finished_at)
        },
        restart_count: Some(i.restart_count),
        ports,
        exit_code: (!running).then_some(i.state.exit_code),
        oom_killed: i.state.oom_killed,
    }
}

/// A status text like the engine's list gives, built from inspect (the
/// list's own text is not re-fetched on events).
fn status_text(i: &Inspect) -> String {
    match i.state.status.as_str() {
        "running" => "Up".into(),
        "exited" | "stopped" => {
            let oom = if i.state.oom_killed {
                ", OOM killed"
            } else {
                ""
            };
            format!("Exited ({}){oom}", i.state.exit_code)
        }
        "" => "unknown".into(),
        other => {
            let mut s = other.to_string();
            if let Some(c) = s.get_mut(0..1) {
                c.make_ascii_uppercase();
            }
            s
        }
    }
}

/// One container's stats stream, for as long as it runs (the task is
/// aborted when it stops). CPU % from this stream's previous sample.
async fn stats_stream<E: From<DockerEvent> + From<LogEvent> + Send + 'static>(
    client: DockerClient,
    tx: mpsc::Sender<E>,
    id: String,
    formula: api::CpuFormula,
) {
    loop {
        if let Ok(mut stream) = client
            .get_stream(&format!("/containers/{id}/stats?stream=true"))
            .await
        {
            let mut splitter = LineSplitter::default();
            let mut previous: Option<api::Stats> = None;
            while let Some(Ok(chunk)) = stream.next_chunk().await {
                for line in splitter.push(&chunk) {
                    let Ok(sample) = serde_json::from_slice::<api::Stats>(&line) else {
                        continue;
                    };
                    let cpu_percent = previous
                        .as_ref()
                        .and_then(|p| api::cpu_percent(formula, p, &sample));
                    let stats = ContainerStats {
                        cpu_percent,
                        mem_used: sample.memory_stats.used(),
                        mem_limit: sample.memory_stats.limit,
                    };
                    previous = Some(sample);
                    let event = DockerEvent::Stats {
                        id: id.clone(),
                        stats,
                    };
                    if !send(&tx, event).await {
                        return;
                    }
                }
            }
        }
        // Broke off while still wanted: try again in a while.
        tokio::time::sleep(FALLBACK_POLL).await;
    }
}

/// Inspect for the detail view, then follow the logs.
async fn detail<E: From<DockerEvent> + From<LogEvent> + Send + 'static>(
    client: DockerClient,
    tx: mpsc::Sender<E>,
    id: String,
) {
    let inspect = match client
        .get_json::<Inspect>(&format!("/containers/{id}/json"))
        .await
    {
        Ok(i) => i,
        Err(e) => {
            let message = if e.is_not_found() {
                "the container no longer exists".to_string()
            } else {
                e.to_string()
            };
            send(&tx, DockerEvent::DetailFailed { id, message }).await;
            return;
        }
    };
    let tty = inspect.config.tty;
    if !send(&tx, DockerEvent::Detail(Box::new(detail_from(&inspect)))).await {
        return;
    }
    let path =
        format!("/containers/{id}/logs?follow=1&stdout=1&stderr=1&timestamps=1&tail={LOG_TAIL}");
    let message = match client.get_stream(&path).await {
        Err(e) => format!("logs: {e}"),
        Ok(mut stream) => {
            let mut demux = LogDemux::new(tty);
            let mut ended = None;
            while ended.is_none() {
                let mut batch = Vec::new();
                match stream.next_chunk().await {
                    Some(Ok(chunk)) => batch.extend(demux.push(&chunk)),
                    Some(Err(e)) => ended = Some(e.to_string()),
                    None => ended = Some("log stream ended (container stopped?)".to_string()),
                }
                // Gather what follows quickly into the same event.
                let deadline = tokio::time::Instant::now() + LOG_BATCH_WAIT;
                while ended.is_none() && batch.len() < LOG_BATCH_LINES {
                    match tokio::time::timeout_at(deadline, stream.next_chunk()).await {
                        Err(_) => break,
                        Ok(Some(Ok(chunk))) => batch.extend(demux.push(&chunk)),
                        Ok(Some(Err(e))) => ended = Some(e.to_string()),
                        Ok(None) => {
                            ended = Some("log stream ended (container stopped?)".to_string())
                        }
                    }
                }
                if ended.is_some() {
                    batch.extend(demux.finish());
                }
                if !batch.is_empty() {
                    let lines = batch
                        .into_iter()
                        .map(|l| LogEntry {
                            time: l.time,
                            stream: l.stream,
                            text: crate::text::inert_bytes(&l.text),
                        })
                        .collect();
                    if !send(
                        &tx,
                        DockerEvent::Logs {
                            id: id.clone(),
                            lines,
                        },
                    )
                    .await
                    {
                        return;
                    }
                }
            }
            ended.unwrap_or_default()
        }
    };
    send(&tx, DockerEvent::LogsEnded { id, message }).await;
}

fn detail_from(i: &Inspect) -> ContainerDetail {
    let mut command: Vec<String> = i.config.entrypoint.clone();
    command.extend(i.config.cmd.iter().cloned());
    if command.is_empty() {
        command.push(i.path.clone());
        command.extend(i.args.iter().cloned());
    }
    let policy = &i.host_config.restart_policy;
    let restart_policy = match (policy.name.as_str(), policy.maximum_retry_count) {
        ("" | "no", _) => "no".to_string(),
        (name, 0) => name.to_string(),
        (name, n) => format!("{name} (max {n})"),
    };
    ContainerDetail {
        id: i.id.clone(),
        name: i.short_name(),
        image: i.config.image.clone(),
        command: command
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" "),
        created: i.created.clone(),
        state: {
            let mut s = format!("{} (restarts {})", i.state.status, i.restart_count);
            if !i.state.running {
                s.push_str(&format!(", exit code {}", i.state.exit_code));
            }
            if i.state.oom_killed {
                s.push_str(", OOM killed");
            }
            s
        },
        restart_policy,
        mounts: i
            .mounts
            .iter()
            .map(|m| {
                format!(
                    "{} {} -> {}{}",
                    m.kind,
                    m.source,
                    m.destination,
                    if m.rw { "" } else { " (ro)" }
                )
            })
            .collect(),
        networks: {
            let mut n: Vec<String> = i
                .network_settings
                .networks
                .iter()
                .map(|(name, net)| {
                    if net.ip_address.is_empty() {
                        name.clone()
                    } else {
                        format!("{name} {}", net.ip_address)
                    }
                })
                .collect();
            if n.is_empty() && !i.host_config.network_mode.is_empty() {
                n.push(i.host_config.network_mode.clone());
            }
            n
        },
        labels: i
            .config
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        env: i
            .config
            .env
            .iter()
            .map(|e| match e.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (e.clone(), String::new()),
            })
            .collect(),
        tty: i.config.tty,
    }
}

/// The socket cannot be used: list through the CLI if there is one, else
/// explain.
async fn fallback_round<E: From<DockerEvent> + From<LogEvent> + Send + 'static>(
    transport: &SharedTransport,
    settings: &DockerSettings,
    tx: &mpsc::Sender<E>,
    socket_error: &crate::transport::TransportError,
) {
    let socket = &settings.socket;
    let (problem, fix) = if socket_error.kind == TransportErrorKind::PermissionDenied {
        (
            format!("permission denied on the Docker socket {socket}"),
            "add the user to the `docker` group (`sudo usermod -aG docker $USER`, then log in \
             again), or set `docker_socket` for this host in config.toml"
                .to_string(),
        )
    } else {
        (
            format!("cannot open the Docker socket {socket} ({socket_error})"),
            "start the engine (Docker, or `podman system service` for podman), or set \
                 `docker_socket` for this host in config.toml if it lives elsewhere (rootless \
                 Docker: /run/user/UID/docker.sock; podman: /run/podman/podman.sock)"
                .to_string(),
        )
    };
    let cli = shell_quote(&settings.cli);
    let command = format!(
        "command -v {cli} >/dev/null 2>&1 || exit 127; exec {cli} ps -a --no-trunc --format '{{{{json .}}}}'"
    );
    let outcome = match transport.exec(&command, ExecOptions::default()).await {
        Ok(handle) => Some(handle.collect(8 * 1024 * 1024).await),
        Err(_) => None,
    };
    let status = match outcome {
        Some((out, _, status)) if status.success() => {
            let (list, _bad) = api::parse_cli_ps(&out);
            let containers = list
                .iter()
                .map(|c| Container {
                    id: c.id.clone(),
                    name: c.names.split(',').next().unwrap_or_default().to_string(),
                    image: c.image.clone(),
                    state: c.state.clone(),
                    health: api::health_from_status(&c.status),
                    status: c.status.clone(),
                    ports: c
                        .ports
                        .split(", ")
                        .filter(|p| !p.is_empty())
                        .map(str::to_string)
                        .collect(),
                    ..Container::default()
                })
                .collect();
            send(tx, DockerEvent::Snapshot(containers)).await;
            EngineStatus::Fallback {
                note: format!(
                    "{problem}: listing with `{} ps` every {} s instead (no live events, stats or logs); to fix, {fix}",
                    settings.cli,
                    FALLBACK_POLL.as_secs()
                ),
            }
        }
        Some((_, err, status)) if status != crate::transport::ExitStatus::Code(127) => {
            EngineStatus::Unavailable {
                problem: format!(
                    "{problem}; `{} ps` failed too: {}",
                    settings.cli,
                    crate::text::inert_bytes(err.trim_ascii())
                ),
                fix,
            }
        }
        _ => EngineStatus::Unavailable {
            problem: format!("{problem}, and there is no `{}` command", settings.cli),
            fix,
        },
    };
    send(tx, DockerEvent::Status(status)).await;
}
