//! The gate's part of the cockpit state and its updates: the Actions and
//! History panes, their detail views and the approve/reject popups. Like
//! `app::update`, nothing here does I/O: decisions leave as
//! `Effect::Gate(…)` carrying the exact fingerprint the operator saw.

use std::collections::{BTreeMap, BTreeSet};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::action::{Action, PaneId};
use crate::app::state::{Flash, State};
use crate::app::update::{Effect, Outcome};
use crate::gate::audit::AuditEvent;
use crate::gate::{ActionState, ActionView, GateEvent, GateRequest, OutputRecord, Tier};

/// Live output kept per running action for the detail view.
const LIVE_OUTPUT_LIMIT: usize = 256 * 1024;

/// The proposer name of what the operator proposes from a pane (R/S/T/K).
pub const OPERATOR: &str = "operator";

#[derive(Debug, Clone, Default)]
pub struct GateState {
    /// Every action known: this host's live ones and the recent history.
    pub actions: BTreeMap<String, ActionView>,
    /// Output streamed while an action runs (bounded).
    pub live_output: BTreeMap<String, LiveOutput>,
    /// Timelines and stored output loaded for detail views.
    pub details: BTreeMap<String, (Vec<AuditEvent>, Option<OutputRecord>)>,
    pub detail: Option<Detail>,
    pub popup: Option<GatePopup>,
    /// Ring the bell on new proposals.
    pub bell: bool,
    /// Pending ids already announced.
    pub announced: BTreeSet<String>,
    /// Unix ms of the last event (the clock for countdowns is `State.now`).
    pub loaded: bool,
    /// Decided here and sent to the gate: no longer shown as pending, so the
    /// next key cannot act on it while the gate's answer is on its way.
    pub decided_locally: BTreeSet<String>,
    /// Proposals that expired (nobody decided) since the operator last
    /// looked at the Actions or History pane: the header says how many.
    pub expired_unseen: usize,
    /// Values masked in recent actions' output, by action id, for the
    /// operator to reveal on screen (never stored or sent anywhere).
    pub revealable: std::collections::VecDeque<(String, crate::secrets::mask::SecretValues)>,
    /// What the check at start found wrong with the history (`None`:
    /// intact, or not checked yet): the header says it until restart.
    pub integrity: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// An open detail view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub pane: PaneId,
    pub id: String,
    pub scroll: u16,
    /// The masked value shown in clear (`v` steps through them), if any.
    pub revealed: Option<usize>,
}

/// How many finished actions' masked values the screen keeps for
/// revealing (the newest).
const REVEALABLE_KEPT: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatePopup {
    /// Shows exactly what will run. `typed` collects the host name for the
    /// confirm tier.
    Approve {
        id: String,
        fingerprint: String,
        typed: String,
        scroll: u16,
    },
    /// Asks for the rejection reason.
    Reject { id: String, input: String },
}

/// This host's pending actions, oldest first, after the pane's filter.
pub fn pending_rows(state: &State) -> Vec<&ActionView> {
    let filter = state.list(PaneId::Actions).filter;
    let mut rows: Vec<&ActionView> = state
        .gate
        .actions
        .values()
        .filter(|a| a.state == ActionState::Pending && a.host == state.host)
        .filter(|a| !state.gate.decided_locally.contains(&a.id))
        .filter(|a| matches_filter(a, &filter))
        .collect();
    rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    rows
}

/// Every known action, newest first, after the History filter.
pub fn history_rows(state: &State) -> Vec<&ActionView> {
    let filter = state.list(PaneId::History).filter;
    let mut rows: Vec<&ActionView> = state
        .gate
        .actions
        .values()
        .filter(|a| matches_filter(a, &filter))
        .collect();
    rows.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    rows
}

/// Filter words: `state:S`, `host:H`, `agent:A` (or `proposer:A`), `tier:T`
/// match those fields (prefix); other words must appear in the id, title,
/// command, reason or agent. All words must match (case-insensitive).
pub fn matches_filter(a: &ActionView, filter: &str) -> bool {
    filter.split_whitespace().all(|word| {
        let word = word.to_lowercase();
        match word.split_once(':') {
            Some(("state", v)) => a.state.name().starts_with(v),
            Some(("host", v)) => a.host.to_lowercase().starts_with(v),
            Some(("agent" | "proposer", v)) => a.agent.to_lowercase().starts_with(v),
            Some(("tier", v)) => a.tier.name().starts_with(v),
            _ => [&a.id, &a.title, &a.command, &a.reason, &a.agent]
                .iter()
                .any(|f| f.to_lowercase().contains(&word)),
        }
    })
}

fn recount(state: &mut State) {
    let host = state.host.clone();
    state.pending_actions = state
        .gate
        .actions
        .values()
        .filter(|a| a.state == ActionState::Pending && a.host == host)
        .filter(|a| !state.gate.decided_locally.contains(&a.id))
        .count();
}

/// A pending proposal ended without the operator: say so, never silently.
fn announce_end_without_operator(state: &mut State, before: Option<ActionState>, a: &ActionView) {
    if before != Some(ActionState::Pending) || state.gate.decided_locally.contains(&a.id) {
        return;
    }
    let what = if a.title.is_empty() {
        crate::text::inert(&a.command)
    } else {
        crate::text::inert(&a.title)
    };
    let text = match a.state {
        ActionState::Expired => {
            state.gate.expired_unseen += 1;
            format!(
                "⌛ {} expired: nobody decided, nothing ran ({what})",
                short_id(&a.id)
            )
        }
        ActionState::Cancelled => format!(
            "{} cancelled: {} ({what})",
            short_id(&a.id),
            crate::text::inert(a.decision_reason.as_deref().unwrap_or("by its proposer"))
        ),
        _ => return,
    };
    flash(state, text, true);
}

fn flash(state: &mut State, text: impl Into<String>, is_error: bool) {
    state.flash = Some(Flash {
        text: text.into(),
        is_error,
    });
}

fn redraw() -> Outcome {
    Outcome {
        dirty: true,
        effects: Vec::new(),
    }
}

pub fn apply_event(state: &mut State, event: GateEvent) -> Outcome {
    let mut outcome = redraw();
    match event {
        GateEvent::History(actions) => {
            for a in actions {
                if a.state == ActionState::Pending {
                    state.gate.announced.insert(a.id.clone());
                }
                state.gate.actions.insert(a.id.clone(), a);
            }
            state.gate.loaded = true;
        }
        GateEvent::Changed(a) => {
            let a = *a;
            crate::app::outcome::action_changed(state, &a);
            let before = state.gate.actions.get(&a.id).map(|known| known.state);
            announce_end_without_operator(state, before, &a);
            outcome
                .effects
                .extend(crate::app::notify::action_changed(state, before, &a));
            if a.state != ActionState::Pending {
                state.gate.decided_locally.remove(&a.id);
            }
            let new_pending = a.state == ActionState::Pending
                && a.host == state.host
                && state.gate.announced.insert(a.id.clone());
            if new_pending && state.gate.bell {
                outcome.effects.push(Effect::Bell);
                outcome.effects.push(Effect::Notify {
                    summary: format!(
                        "{}: {} proposes an action",
                        crate::text::inert(&state.host),
                        crate::text::inert(&a.agent)
                    ),
                    body: crate::text::inert(if a.title.is_empty() {
                        &a.command
                    } else {
                        &a.title
                    }),
                });
            }
            // A popup for an action that is no longer pending is stale.
            if let Some(GatePopup::Approve { id, .. } | GatePopup::Reject { id, .. }) =
                &state.gate.popup
                && *id == a.id
                && a.state != ActionState::Pending
            {
                state.gate.popup = None;
                flash(
                    state,
                    format!("action {} is now {}", short_id(&a.id), a.state),
                    true,
                );
            }
            if a.state.is_terminal() {
                state.gate.details.remove(&a.id);
                // An open detail shows the final timeline and stored output.
                if state.gate.detail.as_ref().is_some_and(|d| d.id == a.id) {
                    outcome
                        .effects
                        .push(Effect::Gate(GateRequest::LoadDetail { id: a.id.clone() }));
                }
            }
            // The operator's own proposal (R/S/T/K in Containers, p/P in
            // Runbooks): the operator is the proposer, so its approval
            // popup opens at once.
            let own_proposal = new_pending
                && a.agent == OPERATOR
                && state.gate.popup.is_none()
                && (state
                    .containers
                    .proposal
                    .as_ref()
                    .is_some_and(|p| p.command == a.command)
                    || crate::app::runbooks::is_own_proposal(state, &a.id));
            if own_proposal {
                state.containers.proposal = None;
                state.gate.popup = Some(GatePopup::Approve {
                    id: a.id.clone(),
                    fingerprint: a.fingerprint.clone(),
                    typed: String::new(),
                    scroll: 0,
                });
            }
            state.gate.actions.insert(a.id.clone(), a);
        }
        GateEvent::Output { id, stderr, data } => {
            let live = state.gate.live_output.entry(id).or_default();
            let buf = if stderr {
                &mut live.stderr
            } else {
                &mut live.stdout
            };
            let room = LIVE_OUTPUT_LIMIT.saturating_sub(buf.len());
            buf.extend_from_slice(&data[..data.len().min(room)]);
        }
        GateEvent::Detail { id, events, output } => {
            state.gate.details.insert(id, (events, output));
        }
        GateEvent::Error(message) => {
            // A decision the gate refused is pending again on screen.
            state.gate.decided_locally.clear();
            flash(state, message, true);
        }
        GateEvent::Notice(message) => flash(state, message, false),
        GateEvent::Integrity(problem) => state.gate.integrity = problem,
        GateEvent::Revealable { id, values } => {
            state.gate.revealable.retain(|(known, _)| *known != id);
            state.gate.revealable.push_back((id, values));
            while state.gate.revealable.len() > REVEALABLE_KEPT {
                state.gate.revealable.pop_front();
            }
        }
    }
    recount(state);
    clamp_selection(state);
    outcome
}

fn clamp_selection(state: &mut State) {
    for (pane, len) in [
        (PaneId::Actions, pending_rows(state).len()),
        (PaneId::History, history_rows(state).len()),
    ] {
        if let Some(list) = state.lists.get_mut(&pane) {
            list.selected = list.selected.min(len.saturating_sub(1));
        }
    }
}

fn selected_id(state: &State, pane: PaneId) -> Option<String> {
    if let Some(d) = &state.gate.detail
        && d.pane == pane
    {
        return Some(d.id.clone());
    }
    let selected = state.list(pane).selected;
    let rows = match pane {
        PaneId::Actions => pending_rows(state),
        _ => history_rows(state),
    };
    rows.get(selected).map(|a| a.id.clone())
}

/// The masked values of action `id` this screen may reveal.
pub fn revealable<'a>(
    state: &'a State,
    id: &str,
) -> Option<&'a crate::secrets::mask::SecretValues> {
    state
        .gate
        .revealable
        .iter()
        .find(|(known, _)| known == id)
        .map(|(_, values)| values)
}

/// `v` in a detail: the next masked value in clear, the one before masked
/// again; after the last, all masked.
fn step_reveal(state: &mut State) {
    let Some(detail) = state.gate.detail.as_ref() else {
        return;
    };
    let count = revealable(state, &detail.id).map_or(0, |v| v.len());
    let next = match detail.revealed {
        _ if count == 0 => None,
        None => Some(0),
        Some(i) if i + 1 < count => Some(i + 1),
        Some(_) => None,
    };
    if let Some(d) = state.gate.detail.as_mut() {
        d.revealed = next;
    }
    let text = match (count, next) {
        (0, _) => {
            "nothing to reveal: no value of this output was masked on this screen".to_string()
        }
        (_, Some(i)) => format!(
            "value {} of {count} shown in clear (v: next; never stored or sent)",
            i + 1
        ),
        (_, None) => "every value masked again".to_string(),
    };
    flash(state, text, false);
}

/// Keys on the Actions and History panes. `None`: not a gate action, the
/// generic handling applies.
pub fn apply_action(state: &mut State, pane: PaneId, action: Action) -> Option<Outcome> {
    let in_detail = state.gate.detail.as_ref().is_some_and(|d| d.pane == pane);
    match action {
        Action::Open => {
            let id = selected_id(state, pane)?;
            state.gate.detail = Some(Detail {
                pane,
                id: id.clone(),
                scroll: 0,
                revealed: None,
            });
            Some(redraw().with_effect(Effect::Gate(GateRequest::LoadDetail { id })))
        }
        Action::Back if in_detail => {
            state.gate.detail = None;
            Some(redraw())
        }
        Action::Reveal if in_detail => {
            step_reveal(state);
            Some(redraw())
        }
        Action::Up | Action::PageUp | Action::Top if in_detail => {
            if let Some(d) = state.gate.detail.as_mut() {
                d.scroll = match action {
                    Action::Up => d.scroll.saturating_sub(1),
                    Action::PageUp => d.scroll.saturating_sub(10),
                    _ => 0,
                };
            }
            Some(redraw())
        }
        Action::Down | Action::PageDown | Action::Bottom if in_detail => {
            if let Some(d) = state.gate.detail.as_mut() {
                d.scroll = match action {
                    Action::Down => d.scroll.saturating_add(1),
                    Action::PageDown => d.scroll.saturating_add(10),
                    _ => u16::MAX / 2,
                };
            }
            Some(redraw())
        }
        Action::Approve | Action::Reject if pane == PaneId::Actions => {
            let Some(id) = selected_id(state, pane) else {
                flash(state, "no pending action selected", true);
                return Some(redraw());
            };
            let Some(a) = state.gate.actions.get(&id).cloned() else {
                return Some(redraw());
            };
            if a.state != ActionState::Pending || a.host != state.host {
                flash(
                    state,
                    format!("action {} is {}; nothing to decide", short_id(&id), a.state),
                    true,
                );
                return Some(redraw());
            }
            state.gate.popup = Some(if action == Action::Approve {
                GatePopup::Approve {
                    id,
                    fingerprint: a.fingerprint,
                    typed: String::new(),
                    scroll: 0,
                }
            } else {
                GatePopup::Reject {
                    id,
                    input: String::new(),
                }
            });
            Some(redraw())
        }
        Action::Export if pane == PaneId::History => {
            let filter = state.list(PaneId::History).filter;
            let ids = (!filter.trim().is_empty())
                .then(|| history_rows(state).iter().map(|a| a.id.clone()).collect());
            Some(redraw().with_effect(Effect::Gate(GateRequest::Export { ids, filter })))
        }
        _ => None,
    }
}

/// Keys while a gate popup is open: nothing else gets them.
pub fn popup_key(state: &mut State, key: KeyEvent) -> Outcome {
    let Some(popup) = state.gate.popup.clone() else {
        return Outcome::default();
    };
    let plain_char = match key.code {
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => Some(c),
        _ => None,
    };
    match popup {
        GatePopup::Approve {
            id,
            fingerprint,
            mut typed,
            mut scroll,
        } => {
            let tier = state.gate.actions.get(&id).map(|a| a.tier);
            let confirm = tier == Some(Tier::Confirm);
            let needed = state
                .gate
                .actions
                .get(&id)
                .map(|a| approve_scroll_needed(state, a))
                .unwrap_or(0);
            // Nothing is approved unseen: the key that decides does nothing
            // until the whole command has been on screen.
            let decides = if confirm {
                key.code == KeyCode::Enter
            } else {
                plain_char == Some('y')
            };
            if decides && scroll < needed {
                flash(
                    state,
                    format!(
                        "scroll to the end of the command first (↓, PgDn): {} more rows not shown yet",
                        needed - scroll
                    ),
                    true,
                );
                return redraw();
            }
            let approve = |state: &mut State| {
                if let Some(refusal) = link_refusal(state) {
                    flash(state, refusal, true);
                    return redraw();
                }
                decided(state, &id);
                flash(
                    state,
                    format!(
                        "approved {}: starting (its output is in History)",
                        short_id(&id)
                    ),
                    false,
                );
                redraw().with_effect(Effect::Gate(GateRequest::Approve {
                    id: id.clone(),
                    fingerprint: fingerprint.clone(),
                }))
            };
            match key.code {
                KeyCode::Esc => {
                    state.gate.popup = None;
                    return redraw();
                }
                KeyCode::Up => scroll = scroll.saturating_sub(1),
                // No further than the end: the last rows stay on screen.
                KeyCode::Down => scroll = scroll.saturating_add(1).min(needed),
                KeyCode::PageUp => scroll = scroll.saturating_sub(10),
                KeyCode::PageDown => scroll = scroll.saturating_add(10).min(needed),
                KeyCode::Enter if confirm => {
                    if typed == state.host {
                        return approve(state);
                    }
                    let expected = crate::text::inert(&state.host);
                    flash(
                        state,
                        format!("type {expected} exactly to confirm (Esc backs out)"),
                        true,
                    );
                }
                KeyCode::Backspace if confirm => {
                    typed.pop();
                }
                KeyCode::Char('u') if confirm && key.modifiers.contains(KeyModifiers::CONTROL) => {
                    typed.clear();
                }
                _ => match plain_char {
                    Some(c) if confirm => typed.push(c),
                    Some('y') if tier == Some(Tier::Approve) => return approve(state),
                    Some('n') => {
                        state.gate.popup = None;
                        return redraw();
                    }
                    _ => return Outcome::default(),
                },
            }
            state.gate.popup = Some(GatePopup::Approve {
                id,
                fingerprint,
                typed,
                scroll,
            });
            redraw()
        }
        GatePopup::Reject { id, mut input } => {
            match key.code {
                KeyCode::Esc => {
                    state.gate.popup = None;
                    return redraw();
                }
                KeyCode::Enter => {
                    let reason = input.trim().to_string();
                    decided(state, &id);
                    flash(state, format!("rejected {}", short_id(&id)), false);
                    return redraw().with_effect(Effect::Gate(GateRequest::Reject { id, reason }));
                }
                KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    input.clear();
                }
                KeyCode::Backspace => {
                    input.pop();
                }
                _ => match plain_char {
                    Some(c) if input.len() < 1000 => input.push(c),
                    _ => return Outcome::default(),
                },
            }
            state.gate.popup = Some(GatePopup::Reject { id, input });
            redraw()
        }
    }
}

/// Why nothing may be approved now, if so: over a link that is lost (or
/// whose keepalives go unanswered) an approved command might start, or
/// not, with nobody able to tell. The proposal keeps waiting.
fn link_refusal(state: &State) -> Option<String> {
    use crate::transport::ConnectionState;
    let why = match &state.connection {
        c if c.is_up() => return None,
        ConnectionState::Connected { unanswered, .. } => {
            crate::transport::keepalives_unanswered(*unanswered)
        }
        ConnectionState::Reconnecting { reason, .. } | ConnectionState::Down { reason, .. } => {
            format!("link lost: {}", crate::text::inert(reason))
        }
        ConnectionState::Local => return None,
    };
    Some(format!(
        "not approved: the link to {} is not answering ({why}); the proposal keeps waiting, approve once it is back",
        crate::text::inert(&state.host)
    ))
}

/// The operator decided `id`: the popup and any open detail close, and the
/// selection stays at its place in the queue, which is now the next pending
/// proposal, so the next key acts on what the screen then shows.
fn decided(state: &mut State, id: &str) {
    state.gate.popup = None;
    state.gate.detail = None;
    state.gate.decided_locally.insert(id.to_string());
    recount(state);
    clamp_selection(state);
}

/// The operator looked at the gate's panes: expiries are seen.
pub fn seen_expiries(state: &mut State) {
    state.gate.expired_unseen = 0;
}

/// How far the approve popup must be scrolled before its decision key
/// works: the whole command has to have been on screen. 0 when it fits.
/// The popup's geometry is the one `ui::gate_popup` draws (the frame minus
/// header and key bar, 2 cells of margin, a border); rows are counted
/// generously (a wrapped line may take one row more for word breaks), so
/// the operator may have to scroll a row further than strictly needed,
/// never less.
pub fn approve_scroll_needed(state: &State, a: &ActionView) -> u16 {
    let inner_width = usize::from(
        state
            .layout
            .width
            .saturating_sub(4)
            .max(20)
            .saturating_sub(2),
    )
    .max(1);
    let inner_height = usize::from(
        state
            .layout
            .height
            .saturating_sub(4)
            .max(8)
            .saturating_sub(2),
    );
    let rows = |text: &str| {
        let width = unicode_width::UnicodeWidthStr::width(crate::text::inert(text).as_str());
        if width <= inner_width {
            1
        } else {
            width.div_ceil(inner_width) + 1
        }
    };
    let mut total = rows(&format!(" title  {}", a.title)) + rows(&format!(" reason {}", a.reason));
    total += rows(&format!(
        " This will run on {} in {}, killed after {}s:",
        a.host,
        a.cwd.as_deref().unwrap_or("(login default)"),
        a.timeout_secs
    ));
    total += 1;
    total += crate::text::inert_multiline(&a.command)
        .iter()
        .map(|line| rows(&format!("   {line}")))
        .sum::<usize>();
    // blank, parse warning, fingerprint, proposer, blank, prompt lines
    total += 1 + 2 + rows(&format!(" fingerprint {}", a.fingerprint)) + 2 + 1 + 2;
    u16::try_from(total.saturating_sub(inner_height)).unwrap_or(u16::MAX)
}

/// The number of lines of a command, as the popup says.
pub fn command_line_count(command: &str) -> usize {
    command.lines().count().max(1)
}

pub fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

trait WithEffect {
    fn with_effect(self, effect: Effect) -> Self;
}

impl WithEffect for Outcome {
    fn with_effect(mut self, effect: Effect) -> Self {
        self.effects.push(effect);
        self
    }
}
