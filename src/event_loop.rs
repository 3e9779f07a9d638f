//! The event loop: one `tokio::select!` over terminal input, source events,
//! the clock and signals. Inputs go through `app::update`, which says whether
//! to redraw; the screen is drawn only then — never at a fixed frame rate.
//! It also starts the sources, each sending its own event type into the one
//! queue the loop reads.

use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::app::event::AppEvent;
use crate::app::state::{self, State};
use crate::app::update::{self, Effect, Outcome};
use crate::config::HostConfig;
use crate::containers::DockerCommand;
use crate::redraw::{self, Change, RedrawPolicy};
use crate::sources;
use crate::transport::SharedTransport;
use crate::tui::TerminalGuard;

/// How many source events may wait for the loop; sources block (and so
/// slow down) rather than grow memory when the loop falls behind.
const EVENT_QUEUE: usize = 1024;

/// The cockpit's runtime: one worker, on which the event loop (spawned onto
/// it, not run on the main thread), the SSH transport and every source run;
/// blocking work has tokio's blocking threads (and `block_in_place` hands
/// the worker on). Measured from the bed's Docker Engine over SSH
/// (`bench/log-ingest`, ENGINE=docker): two workers with the loop on the
/// main thread took 4.3 µs of CPU a line, most of it threads waking each
/// other (futex, context switches) for every SSH packet; one worker with
/// the loop on it takes 2.3–2.5 µs.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
}

/// Starts the data sources for `transport` and returns the channel they
/// report on. They stop when `cancel` fires.
pub fn spawn_sources(
    transport: SharedTransport,
    gate: Option<crate::gate::Gate>,
    state: &State,
    host: &HostConfig,
    notify: Option<crate::notify::Setup>,
    cancel: &CancellationToken,
) -> Sources {
    let (tx, rx) = mpsc::channel(EVENT_QUEUE);
    // Delivery reports come back on the same queue as every source's events.
    let notifier = notify.map(|setup| {
        crate::notify::Notifier::spawn(setup.channels, setup.rules, setup.utc, tx.clone(), cancel)
    });
    let (docker_tx, docker_rx) = mpsc::unbounded_channel();
    // Without a gate nobody asks; the channel just stays empty.
    let snapshots = match &gate {
        Some(gate) => gate.serve_snapshots(),
        None => mpsc::channel(1).1,
    };
    if let Some(states) = transport.connection_state() {
        tokio::spawn(forward_connection_state(states, tx.clone()));
    }
    crate::logs::spawn(transport.clone(), &state.logs.setup, tx.clone(), cancel);
    if let Some(gate) = gate.clone() {
        tokio::spawn(crate::gate::core::run(
            gate.clone(),
            tx.clone(),
            cancel.clone(),
        ));
        let on_host = host
            .host_socket
            .clone()
            .unwrap_or_else(|| crate::gate::onhost::HOST_SOCKET.into());
        tokio::spawn(crate::gate::onhost::serve(
            gate,
            transport.clone(),
            on_host,
            cancel.clone(),
        ));
    }
    if let Some(settings) = state.cost.settings.clone() {
        tokio::spawn(crate::cost::source::run(
            transport.clone(),
            state.host.clone(),
            settings,
            tx.clone(),
            cancel.clone(),
        ));
    }
    let (runbooks_tx, runbooks_rx) = mpsc::unbounded_channel();
    if let Some(repo) = state.runbooks.source.clone() {
        tokio::spawn(crate::runbooks::watch::run(
            repo,
            transport.clone(),
            runbooks_rx,
            tx.clone(),
            crate::runbooks::watch::CHECK_EVERY,
            cancel.clone(),
        ));
    }
    let (charts_tx, charts_rx) = mpsc::unbounded_channel();
    tokio::spawn(sources::netdata::supervisor::run_answering(
        transport.clone(),
        sources::netdata::Settings::from_host(host),
        tx.clone(),
        charts_rx,
        cancel.clone(),
    ));
    tokio::spawn(sources::docker::source::run(
        transport,
        state.containers.settings.clone(),
        tx,
        docker_rx,
        cancel.clone(),
    ));
    Sources {
        events: rx,
        docker: docker_tx,
        alert_charts: charts_tx,
        runbooks: runbooks_tx,
        snapshots,
        gate,
        notifier,
    }
}

/// The channels to and from the running sources.
pub struct Sources {
    pub events: mpsc::Receiver<AppEvent>,
    /// Requests for the container source (detail and logs).
    pub docker: mpsc::UnboundedSender<DockerCommand>,
    /// The Alerts detail's chart requests for the Netdata source.
    pub alert_charts: mpsc::UnboundedSender<crate::metrics::AlertChartRequest>,
    /// Asks the runbook watcher to read the repo again now.
    pub runbooks: mpsc::UnboundedSender<crate::runbooks::watch::RunbooksRequest>,
    /// The action gate serving this cockpit's broker socket, if any.
    pub gate: Option<crate::gate::Gate>,
    /// The broker's `snapshot` questions, answered from the state.
    pub snapshots: mpsc::Receiver<crate::gate::snapshot::SnapshotRequest>,
    /// Routes notifications onto the channels' queues (never waits).
    pub notifier: Option<crate::notify::Notifier>,
}

/// Passes every change of the link state to the loop as an event.
async fn forward_connection_state(
    mut states: tokio::sync::watch::Receiver<crate::transport::ConnectionState>,
    tx: mpsc::Sender<AppEvent>,
) {
    loop {
        let state = states.borrow_and_update().clone();
        if tx.send(AppEvent::Connection(state)).await.is_err() || states.changed().await.is_err() {
            return;
        }
    }
}

/// Runs the TUI until the user quits or a signal ends it.
pub async fn run(
    mut state: State,
    transport: SharedTransport,
    gate: Option<crate::gate::Running>,
    host: HostConfig,
    notify: Option<crate::notify::Setup>,
) -> Result<()> {
    let cancel = CancellationToken::new();
    let gate = gate.map(|g| g.spawn(&cancel));
    let mut sources = spawn_sources(transport, gate, &state, &host, notify, &cancel);
    let mut guard =
        TerminalGuard::enter(state.mouse_captured).wrap_err("setting up the terminal")?;
    let result = event_loop(&mut state, &mut guard, &mut sources).await;
    record_outcomes_at_shutdown(&mut state, sources.gate.as_ref());
    cancel_pending_at_shutdown(sources.gate.as_ref()).await;
    cancel.cancel();
    drop(guard);
    result
}

async fn event_loop(
    state: &mut State,
    guard: &mut TerminalGuard,
    sources: &mut Sources,
) -> Result<()> {
    let size = guard.terminal.size()?;
    update::resize(state, size.width, size.height);
    let mut terminal_events = EventStream::new();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    // When to draw is the policy's call (src/redraw.rs): what the operator
    // did at once, what sources did with the clock's frame once a second.
    let mut redraw = RedrawPolicy::new();
    let mut frame_cache = crate::ui::cache::FrameCache::default();
    // The clock's next whole second, kept until it has fired: a sleep made
    // afresh every turn would aim at the *next* second whenever a turn began
    // just after one, so a loop kept busy by a log storm skipped its ticks
    // (the header's clock and every freshness mark fell seconds behind).
    let mut next_tick = tokio::time::Instant::now() + until_next_second();
    loop {
        if redraw.should_draw(std::time::Instant::now()) {
            let drawn = guard
                .terminal
                .draw(|frame| crate::ui::draw_cached(frame, state, &mut frame_cache))?
                .area;
            // The open detail's rows are known only once drawn.
            update::measured(state, crate::ui::detail::extent(state, drawn));
            redraw.drawn(std::time::Instant::now());
            panic_if_testing_restore();
        }
        let due = redraw
            .due(std::time::Instant::now())
            .map(tokio::time::Instant::from_std);
        let (outcome, change) = tokio::select! {
            event = terminal_events.next() => match event {
                Some(Ok(event)) => (terminal_event(state, event), Change::Urgent),
                Some(Err(e)) => return Err(e).wrap_err("reading terminal input"),
                None => return Ok(()),
            },
            _ = sleep_until_due(due), if due.is_some() => (Outcome::default(), Change::Source),
            Some(request) = sources.snapshots.recv() => {
                // Read-only: answering changes nothing on screen.
                let _ = request.reply.send(crate::app::snapshot::build(state, &request.query));
                (Outcome::default(), Change::Source)
            }
            Some(event) = sources.events.recv() => {
                // Take everything already queued before deciding to draw.
                let mut outcome = Outcome::default();
                let mut next = Some(event);
                while let Some(event) = next {
                    let change = redraw::classify(state, &event);
                    let applied = update::apply_event(state, event);
                    if applied.dirty {
                        redraw.changed(change);
                    }
                    outcome.effects.extend(applied.effects);
                    next = sources.events.try_recv().ok();
                }
                (outcome, Change::Source)
            }
            _ = tokio::time::sleep_until(next_tick) => {
                next_tick = tokio::time::Instant::now() + until_next_second();
                (update::tick(state, chrono::Utc::now().timestamp()), Change::Clock)
            }
            _ = sigterm.recv() => return Ok(()),
            _ = sighup.recv() => return Ok(()),
        };
        if outcome.dirty {
            redraw.changed(change);
        }
        for effect in outcome.effects {
            match effect {
                Effect::Quit => return Ok(()),
                Effect::Suspend => {
                    guard.suspend()?;
                    redraw.changed(Change::Urgent);
                }
                Effect::SetMouseCapture(on) => guard.set_mouse_capture(on)?,
                Effect::FullRedraw => {
                    guard.terminal.clear()?;
                    redraw.changed(Change::Urgent);
                }
                Effect::Bell => guard.ring_bell(),
                Effect::Gate(request) => match &sources.gate {
                    Some(gate) => gate.handle(request),
                    None => {
                        update::apply_event(
                            state,
                            AppEvent::Gate(crate::gate::GateEvent::Error(
                                "the action gate is not running in this cockpit".into(),
                            )),
                        );
                        redraw.changed(Change::Urgent);
                    }
                },
                Effect::Docker(command) => {
                    // The source is gone only while shutting down.
                    let _ = sources.docker.send(command);
                }
                Effect::AlertChart(request) => {
                    // Likewise: the answer comes back as an AlertsEvent.
                    let _ = sources.alert_charts.send(request);
                }
                Effect::WriteFile {
                    path,
                    contents,
                    success,
                } => {
                    state.flash = Some(match std::fs::write(&path, contents) {
                        Ok(()) => state::Flash {
                            text: success,
                            is_error: false,
                        },
                        Err(e) => state::Flash {
                            text: format!(
                                "cannot write {}: {e}",
                                crate::text::inert(&path.display().to_string())
                            ),
                            is_error: true,
                        },
                    });
                    redraw.changed(Change::Urgent);
                }
                Effect::Runbooks(request) => {
                    // No watcher (no repo): nobody listens, nothing to do.
                    let _ = sources.runbooks.send(request);
                }
                Effect::WriteDraft {
                    path,
                    contents,
                    steps,
                } => {
                    let written = crate::runbooks::draft::write_new(&path, &contents);
                    crate::app::runbooks::draft_written(state, &path, steps, written);
                    redraw.changed(Change::Urgent);
                }
                Effect::Notify { summary, body } => notify_desktop(&summary, &body),
                Effect::Notification(event) => {
                    if let Some(notifier) = sources.notifier.as_mut() {
                        for status in notifier.submit(&event) {
                            update::apply_event(state, AppEvent::Notify(status));
                            redraw.changed(Change::Source);
                        }
                    }
                }
            }
        }
    }
}

/// Outcomes still being measured are recorded with the after-window they
/// had (marked partial), however the loop ended.
fn record_outcomes_at_shutdown(state: &mut State, gate: Option<&crate::gate::Gate>) {
    let effects = update::quitting(state, chrono::Utc::now().timestamp());
    let Some(gate) = gate else {
        return;
    };
    for effect in effects {
        if let Effect::Gate(request) = effect {
            gate.handle(request);
        }
    }
}

/// Nothing pending outlives the cockpit unrecorded: what still waits is
/// cancelled by shutdown (the operator was asked first), and waiting
/// proposers get that answer before the broker closes.
async fn cancel_pending_at_shutdown(gate: Option<&crate::gate::Gate>) {
    let Some(gate) = gate else {
        return;
    };
    match gate.cancel_all_pending("cockpit", crate::gate::core::CANCELLED_BY_SHUTDOWN) {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(cancelled = n, "pending proposals cancelled by shutdown");
            // Let the waiting proposers' connections send the answer.
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        Err(e) => {
            tracing::error!(error = %e.message, "could not cancel pending proposals at shutdown")
        }
    }
}

/// Test hook for the end-to-end test that proves the terminal is restored on
/// panic: with `OPSCOCKPIT_PANIC_AFTER_FIRST_FRAME` set, panic after a frame.
fn panic_if_testing_restore() {
    if std::env::var_os("OPSCOCKPIT_PANIC_AFTER_FIRST_FRAME").is_some() {
        panic!("OPSCOCKPIT_PANIC_AFTER_FIRST_FRAME is set: panicking on purpose");
    }
}

/// Best effort: `notify-send` where it exists, failure ignored (headless
/// machines have no notification service). Never waits for it.
fn notify_desktop(summary: &str, body: &str) {
    let spawned = tokio::process::Command::new("notify-send")
        .arg("--app-name=opscockpit")
        .arg("--urgency=critical")
        .arg("--")
        .arg(summary)
        .arg(body)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(false)
        .spawn();
    if let Ok(mut child) = spawned {
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
    }
}

fn terminal_event(state: &mut State, event: Event) -> Outcome {
    match event {
        Event::Key(key) => update::handle_key(state, key),
        Event::Mouse(mouse) => update::handle_mouse(state, mouse),
        Event::Resize(w, h) => update::resize(state, w, h),
        _ => Outcome::default(),
    }
}

/// Waits for a deferred frame (`None`: never; the branch is off then).
async fn sleep_until_due(due: Option<tokio::time::Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

/// Sleep so the clock ticks on the second boundary (the header shows seconds).
fn until_next_second() -> Duration {
    let millis = chrono::Utc::now().timestamp_subsec_millis();
    Duration::from_millis(u64::from(1000 - millis.min(999)))
}
