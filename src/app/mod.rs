//! The event loop: one `tokio::select!` over terminal input, source events,
//! the clock and signals. Inputs go through `update`, which says whether to
//! redraw; the screen is drawn only then — never at a fixed frame rate.

pub mod action;
pub mod event;
pub mod state;
pub mod update;

use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::sources;
use crate::transport::SharedTransport;
use crate::tui::TerminalGuard;
use event::AppEvent;
use state::State;
use update::{Effect, Outcome};

/// How many source events may wait for the loop; sources block (and so
/// slow down) rather than grow memory when the loop falls behind.
const EVENT_QUEUE: usize = 1024;

/// Starts the data sources for `transport` and returns the channel they
/// report on. They stop when `cancel` fires.
pub fn spawn_sources(
    transport: SharedTransport,
    cancel: &CancellationToken,
    logs: &crate::logs::LogsSetup,
) -> mpsc::Receiver<AppEvent> {
    let (tx, rx) = mpsc::channel(EVENT_QUEUE);
    crate::logs::spawn(transport.clone(), logs, tx.clone(), cancel);
    tokio::spawn(sources::procfs::run(transport, tx, cancel.clone()));
    rx
}

/// Runs the TUI until the user quits or a signal ends it.
pub async fn run(mut state: State, transport: SharedTransport) -> Result<()> {
    let cancel = CancellationToken::new();
    let mut source_events = spawn_sources(transport, &cancel, &state.logs.setup);
    let mut guard =
        TerminalGuard::enter(state.mouse_captured).wrap_err("setting up the terminal")?;
    let result = event_loop(&mut state, &mut guard, &mut source_events).await;
    cancel.cancel();
    drop(guard);
    result
}

async fn event_loop(
    state: &mut State,
    guard: &mut TerminalGuard,
    source_events: &mut mpsc::Receiver<AppEvent>,
) -> Result<()> {
    let size = guard.terminal.size()?;
    update::resize(state, size.width, size.height);
    let mut terminal_events = EventStream::new();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut dirty = true;
    loop {
        if dirty {
            guard.terminal.draw(|frame| crate::ui::draw(frame, state))?;
            dirty = false;
        }
        let outcome = tokio::select! {
            event = terminal_events.next() => match event {
                Some(Ok(event)) => terminal_event(state, event),
                Some(Err(e)) => return Err(e).wrap_err("reading terminal input"),
                None => return Ok(()),
            },
            Some(event) = source_events.recv() => {
                let mut outcome = update::apply_event(state, event);
                // Take everything already queued before drawing once.
                while let Ok(event) = source_events.try_recv() {
                    outcome.merge(update::apply_event(state, event));
                }
                outcome
            }
            _ = tokio::time::sleep(until_next_second()) => update::tick(state, chrono::Utc::now().timestamp()),
            _ = sigterm.recv() => return Ok(()),
            _ = sighup.recv() => return Ok(()),
        };
        dirty |= outcome.dirty;
        for effect in outcome.effects {
            match effect {
                Effect::Quit => return Ok(()),
                Effect::Suspend => {
                    guard.suspend()?;
                    dirty = true;
                }
                Effect::SetMouseCapture(on) => guard.set_mouse_capture(on)?,
                Effect::FullRedraw => {
                    guard.terminal.clear()?;
                    dirty = true;
                }
                Effect::Bell => guard.ring_bell(),
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
                    dirty = true;
                }
            }
        }
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

/// Sleep so the clock ticks on the second boundary (the header shows seconds).
fn until_next_second() -> Duration {
    let millis = chrono::Utc::now().timestamp_subsec_millis();
    Duration::from_millis(u64::from(1000 - millis.min(999)))
}
