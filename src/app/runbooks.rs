//! The Runbooks pane: the host's runbooks (list, `/` filter), the reader,
//! the placeholder prompt, and proposing steps through the gate as the
//! operator (`p` one step, `P` the remaining steps one after another, each
//! waiting for the previous to succeed).

use crossterm::event::{KeyCode, KeyEvent};

use crate::action::{Action, PaneId};
use crate::app::state::{Flash, State};
use crate::app::update::{Effect, Outcome};
use crate::gate::{ActionState, ActionView, GateRequest, Proposal};
use crate::runbooks::{Runbook, markdown};

/// Longest value typed into a placeholder.
const MAX_VALUE_CHARS: usize = 256;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunbooksPane {
    /// The runbooks that apply to this host, sorted by path.
    pub runbooks: Vec<Runbook>,
    /// Where they were read from (shown in the title), or why not.
    pub source_note: String,
    pub reader: Option<Reader>,
    pub prompt: Option<Prompt>,
    /// `P`: the steps still to propose, waiting for the previous one.
    pub sequence: Option<Sequence>,
    /// The repo's directory (drafts are written into its working tree).
    pub repo_dir: Option<std::path::PathBuf>,
    /// Where the runbooks are read from (the watcher keeps them current).
    pub source: Option<crate::runbooks::watch::RepoSource>,
    /// History rows marked (space) for `:runbook-draft`, by action id.
    pub draft_marks: std::collections::BTreeSet<String>,
    /// The id of the last step proposed from the pane: its approval popup
    /// opens when the gate reports it pending, and `P` follows only it.
    pub proposed_id: Option<String>,
    /// Proposals made from the pane so far (part of each new action id).
    pub proposals_made: u64,
}

/// The open runbook and the selected step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reader {
    /// Index into `runbooks`.
    pub index: usize,
    /// 1-based; 0 when the runbook has no steps.
    pub step: usize,
    /// Lines scrolled by hand; `None`: keep the selected step in view.
    pub scroll: Option<u16>,
}

/// Asking for a step's placeholders before it is proposed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prompt {
    pub index: usize,
    pub step: usize,
    pub names: Vec<String>,
    /// Values given so far (one per name before `current`).
    pub values: Vec<String>,
    pub input: String,
    /// Whether the steps after this one follow (`P`).
    pub then_rest: bool,
}

/// `P` in progress: the step whose outcome is awaited and the last step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sequence {
    pub index: usize,
    pub waiting_step: usize,
    /// The action id proposed for `waiting_step` (`None` while its
    /// placeholders are asked for): only that action's end advances the
    /// sequence, never another action for the same step (an agent's, or
    /// one proposed by hand meanwhile).
    pub waiting_id: Option<String>,
    pub last_step: usize,
    /// Placeholder values given so far, reused by later steps.
    pub values: Vec<(String, String)>,
}

impl RunbooksPane {
    /// The runbooks that apply to `host`, from what was read.
    pub fn new(all: Vec<Runbook>, host: &str, source_note: String) -> Self {
        Self {
            runbooks: all.into_iter().filter(|r| r.applies_to(host)).collect(),
            source_note,
            ..Default::default()
        }
    }
}

const READING_AGAIN: &str = "reading the runbook repo again…";

/// `:runbooks-reload`: read the repo again now.
pub fn reload_command(state: &mut State) -> Outcome {
    if state.runbooks.source.is_none() {
        flash(
            state,
            "no runbook repo: set `runbooks = \"PATH\"` or `runbooks_remote = \"PATH\"` for this host",
            true,
        );
        return redraw();
    }
    flash(state, READING_AGAIN, false);
    Outcome {
        dirty: true,
        effects: vec![Effect::Runbooks(
            crate::runbooks::watch::RunbooksRequest::Reload,
        )],
    }
}

/// The repo read again: the list is replaced, and what the operator was
/// on stays where it was, found by path (the list selection, the open
/// runbook and its step, the prompt and `P`). A runbook that is gone
/// closes what showed it, and says so.
pub fn reloaded(state: &mut State, event: crate::runbooks::watch::RunbooksEvent) -> Outcome {
    use crate::runbooks::watch::RunbooksEvent;
    let all = match event {
        RunbooksEvent::DraftWritten {
            asked,
            steps,
            written,
        } => {
            let written = written
                .map(std::path::PathBuf::from)
                .map_err(std::io::Error::other);
            draft_written(state, std::path::Path::new(&asked), steps, written);
            return redraw();
        }
        RunbooksEvent::Failed(why) => {
            if state.runbooks.runbooks.is_empty() {
                state.runbooks.source_note = why;
            } else {
                state.runbooks.source_note = format!("{} (showing the last read)", why);
            }
            return redraw();
        }
        RunbooksEvent::Loaded(all) => all,
    };
    let path_of =
        |state: &State, index: usize| state.runbooks.runbooks.get(index).map(|r| r.path.clone());
    let selected = visible(state)
        .get(state.list(PaneId::Runbooks).selected)
        .and_then(|i| path_of(state, *i));
    let reader = state
        .runbooks
        .reader
        .as_ref()
        .and_then(|r| path_of(state, r.index));
    let prompt = state
        .runbooks
        .prompt
        .as_ref()
        .and_then(|p| path_of(state, p.index));
    let sequence = state
        .runbooks
        .sequence
        .as_ref()
        .and_then(|s| path_of(state, s.index));
    let host = state.host.clone();
    let before = state.runbooks.runbooks.clone();
    if let Some(crate::runbooks::watch::RepoSource::Local(dir)) = &state.runbooks.source {
        state.runbooks.repo_dir = Some(dir.clone());
    }
    state.runbooks.runbooks = all.into_iter().filter(|r| r.applies_to(&host)).collect();
    if let Some(source) = &state.runbooks.source {
        state.runbooks.source_note = source.describe();
    }
    let index_of = |state: &State, path: &Option<String>| {
        let path = path.as_ref()?;
        state.runbooks.runbooks.iter().position(|r| &r.path == path)
    };
    if let Some(path) = &selected
        && let Some(row) = visible(state)
            .iter()
            .position(|i| &state.runbooks.runbooks[*i].path == path)
    {
        state.lists.entry(PaneId::Runbooks).or_default().selected = row;
    }
    let mut gone = Vec::new();
    match (reader.is_some(), index_of(state, &reader)) {
        (true, Some(i)) => {
            let steps = state.runbooks.runbooks[i].steps.len();
            if let Some(r) = state.runbooks.reader.as_mut() {
                r.index = i;
                r.step = r.step.min(steps);
            }
        }
        (true, None) => {
            state.runbooks.reader = None;
            gone.extend(reader.clone());
        }
        _ => {}
    }
    match (prompt.is_some(), index_of(state, &prompt)) {
        (true, Some(i)) => {
            if let Some(p) = state.runbooks.prompt.as_mut() {
                p.index = i;
            }
        }
        (true, None) => state.runbooks.prompt = None,
        _ => {}
    }
    match (sequence.is_some(), index_of(state, &sequence)) {
        (true, Some(i)) => {
            let steps = state.runbooks.runbooks[i].steps.len();
            if let Some(s) = state.runbooks.sequence.as_mut() {
                s.index = i;
                s.last_step = s.last_step.min(steps);
            }
        }
        (true, None) => {
            state.runbooks.sequence = None;
            gone.extend(sequence.clone());
        }
        _ => {}
    }
    gone.dedup();
    let asked = state
        .flash
        .as_ref()
        .is_some_and(|f| f.text == READING_AGAIN);
    if asked {
        let text = format!(
            "runbook repo read again: {} runbooks",
            state.runbooks.runbooks.len()
        );
        flash(state, &text, false);
    }
    if let Some(path) = gone.first() {
        let text = format!(
            "{} is no longer in the runbook repo: closed (and P stopped)",
            crate::text::inert(path)
        );
        flash(state, &text, true);
    }
    let changed = before != state.runbooks.runbooks;
    Outcome {
        dirty: changed || asked || !gone.is_empty(),
        effects: Vec::new(),
    }
}

/// Indices of the runbooks the filter shows.
pub fn visible(state: &State) -> Vec<usize> {
    let filter = state.list(PaneId::Runbooks).filter;
    state
        .runbooks
        .runbooks
        .iter()
        .enumerate()
        .filter(|(_, r)| r.matches_filter(&filter))
        .map(|(i, _)| i)
        .collect()
}

fn flash(state: &mut State, text: &str, is_error: bool) {
    state.flash = Some(Flash {
        text: text.to_string(),
        is_error,
    });
}

fn redraw() -> Outcome {
    Outcome {
        dirty: true,
        effects: Vec::new(),
    }
}

/// Keys of the pane; `None` leaves the key to the shared list handling.
pub fn apply_action(state: &mut State, action: Action) -> Option<Outcome> {
    if state.runbooks.reader.is_some() {
        return reader_action(state, action);
    }
    match action {
        Action::Open => {
            let selected = state.list(PaneId::Runbooks).selected;
            let index = *visible(state).get(selected)?;
            let has_steps = !state.runbooks.runbooks[index].steps.is_empty();
            state.runbooks.reader = Some(Reader {
                index,
                step: usize::from(has_steps),
                scroll: Some(0),
            });
            Some(redraw())
        }
        Action::Propose | Action::ProposeAll => {
            flash(state, "open a runbook (Enter) to propose its steps", false);
            Some(redraw())
        }
        _ => None,
    }
}

fn reader_action(state: &mut State, action: Action) -> Option<Outcome> {
    let page = state.layout.height.saturating_sub(8).max(1);
    let reader = state.runbooks.reader.as_mut()?;
    let steps = state.runbooks.runbooks.get(reader.index)?.steps.len();
    let scroll = reader.scroll.unwrap_or(0);
    match action {
        Action::Back => state.runbooks.reader = None,
        Action::Up => reader.scroll = Some(scroll.saturating_sub(1)),
        Action::Down => reader.scroll = Some(scroll.saturating_add(1)),
        Action::PageUp => reader.scroll = Some(scroll.saturating_sub(page)),
        Action::PageDown => reader.scroll = Some(scroll.saturating_add(page)),
        Action::Top => reader.scroll = Some(0),
        Action::SearchNext if steps > 0 => {
            reader.step = (reader.step % steps) + 1;
            reader.scroll = None;
        }
        Action::SearchPrev if steps > 0 => {
            reader.step = if reader.step <= 1 {
                steps
            } else {
                reader.step - 1
            };
            reader.scroll = None;
        }
        Action::Propose | Action::ProposeAll => {
            let (index, step) = (reader.index, reader.step);
            if step == 0 {
                flash(
                    state,
                    "this runbook has no steps (sh, bash, shell or console blocks)",
                    true,
                );
                return Some(redraw());
            }
            let then_rest = action == Action::ProposeAll;
            state.runbooks.sequence = then_rest.then(|| Sequence {
                index,
                waiting_step: step,
                waiting_id: None,
                last_step: steps,
                values: Vec::new(),
            });
            return Some(start_step(state, index, step, then_rest));
        }
        _ => return None,
    }
    Some(redraw())
}

/// Asks for the step's placeholders, or proposes it when it has none (or
/// `P` already has their values).
fn start_step(state: &mut State, index: usize, step: usize, then_rest: bool) -> Outcome {
    let Some(runbook) = state.runbooks.runbooks.get(index) else {
        return redraw();
    };
    let Some(text) = runbook.steps.get(step - 1).map(|s| s.text.clone()) else {
        return redraw();
    };
    let names = markdown::placeholders(&text);
    let known: Vec<(String, String)> = state
        .runbooks
        .sequence
        .as_ref()
        .map(|s| s.values.clone())
        .unwrap_or_default();
    let values: Vec<String> = names
        .iter()
        .map_while(|n| known.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()))
        .collect();
    if values.len() == names.len() {
        return propose(state, index, step, &names, &values);
    }
    state.runbooks.prompt = Some(Prompt {
        index,
        step,
        names,
        values,
        input: String::new(),
        then_rest,
    });
    redraw()
}

/// Keys while the placeholder prompt is open: text, Enter (next value or
/// propose), Esc (cancel, and cancel `P`).
pub fn prompt_key(state: &mut State, key: KeyEvent) -> Outcome {
    let Some(prompt) = state.runbooks.prompt.as_mut() else {
        return Outcome::default();
    };
    match key.code {
        KeyCode::Esc => {
            state.runbooks.prompt = None;
            state.runbooks.sequence = None;
            flash(state, "not proposed", false);
        }
        KeyCode::Backspace => {
            prompt.input.pop();
        }
        KeyCode::Enter => {
            if prompt.input.trim().is_empty() {
                let name = prompt
                    .names
                    .get(prompt.values.len())
                    .cloned()
                    .unwrap_or_default();
                flash(
                    state,
                    &format!("give a value for {name} (Esc cancels)"),
                    true,
                );
                return redraw();
            }
            let value = std::mem::take(&mut prompt.input);
            prompt.values.push(value);
            if prompt.values.len() == prompt.names.len() {
                let done = state.runbooks.prompt.take().unwrap_or_default();
                if let Some(seq) = state.runbooks.sequence.as_mut() {
                    seq.values
                        .extend(done.names.iter().cloned().zip(done.values.iter().cloned()));
                }
                return propose(state, done.index, done.step, &done.names, &done.values);
            }
        }
        KeyCode::Char(c) if !c.is_control() && prompt.input.chars().count() < MAX_VALUE_CHARS => {
            prompt.input.push(c)
        }
        _ => return Outcome::default(),
    }
    redraw()
}

/// Proposes step `step` of runbook `index`, placeholders filled, as the
/// operator, with its provenance.
fn propose(
    state: &mut State,
    index: usize,
    step: usize,
    names: &[String],
    values: &[String],
) -> Outcome {
    let Some(runbook) = state.runbooks.runbooks.get(index) else {
        return redraw();
    };
    let title = format!("{} — step {step}", runbook.title);
    let (Some(text), Some(provenance)) = (
        runbook.steps.get(step - 1).map(|s| s.text.clone()),
        runbook.provenance(step),
    ) else {
        return redraw();
    };
    let command = markdown::fill_quoted(&text, names, values);
    let id = action_id(state, &provenance.label(), &command);
    let request = GateRequest::Propose(Proposal {
        command: command.clone(),
        title,
        reason: format!("runbook {}", provenance.label()),
        agent: "operator".into(),
        runbook: Some(Box::new(provenance)),
        id: Some(id.clone()),
        ..Default::default()
    });
    state.runbooks.proposed_id = Some(id.clone());
    if let Some(seq) = state.runbooks.sequence.as_mut() {
        seq.waiting_id = Some(id);
    }
    let text = format!(
        "proposed step {step} `{}` (y in its popup runs it)",
        crate::text::inert(&command)
    );
    flash(state, &text, false);
    Outcome {
        dirty: true,
        effects: vec![Effect::Gate(request)],
    }
}

/// The id the pane gives the action it proposes, so that it can tell its
/// own proposal from any other for the same step. Made from what the pane
/// knows (no I/O in an update): the host, the clock second, a per-run
/// counter, the provenance and the command, hashed — the gate refuses an
/// id it already has, so a clash fails loudly instead of merging actions.
fn action_id(state: &mut State, label: &str, command: &str) -> String {
    use sha2::{Digest, Sha256};
    state.runbooks.proposals_made += 1;
    let seed = format!(
        "{}\0{}\0{}\0{label}\0{command}",
        state.host, state.now, state.runbooks.proposals_made
    );
    hex::encode(&Sha256::digest(seed.as_bytes())[..12])
}

/// Whether `id` is the action the pane proposed last (its approval popup
/// opens at once, as for the Containers pane's own proposals).
pub fn is_own_proposal(state: &State, id: &str) -> bool {
    state.runbooks.proposed_id.as_deref() == Some(id)
}

/// `P`: when the awaited step's action ends, the next step follows on
/// success; anything else stops the sequence and says so. Only the action
/// the pane proposed for that step counts, by its id.
pub fn gate_changed(state: &mut State, action: &ActionView) -> Outcome {
    let Some(seq) = state.runbooks.sequence.clone() else {
        return Outcome::default();
    };
    let ours = seq.waiting_id.as_deref() == Some(action.id.as_str());
    if !ours || !action.state.is_terminal() {
        return Outcome::default();
    }
    if action.state != ActionState::Succeeded {
        state.runbooks.sequence = None;
        let text = format!(
            "stopped at step {}: it {} — the steps after it were not proposed",
            seq.waiting_step,
            action.state.name()
        );
        flash(state, &text, true);
        return redraw();
    }
    if seq.waiting_step >= seq.last_step {
        state.runbooks.sequence = None;
        flash(
            state,
            "every remaining step of the runbook succeeded",
            false,
        );
        return redraw();
    }
    let next = seq.waiting_step + 1;
    if let Some(s) = state.runbooks.sequence.as_mut() {
        s.waiting_step = next;
    }
    if let Some(reader) = state.runbooks.reader.as_mut()
        && reader.index == seq.index
    {
        reader.step = next;
        reader.scroll = None;
    }
    start_step(state, seq.index, next, true)
}

/// Space in History: marks the selected action for a draft, or unmarks it.
pub fn toggle_mark(state: &mut State) -> Outcome {
    let selected = state.list(PaneId::History).selected;
    let Some(id) = crate::app::gate::history_rows(state)
        .get(selected)
        .map(|a| a.id.clone())
    else {
        return Outcome::default();
    };
    if !state.runbooks.draft_marks.remove(&id) {
        state.runbooks.draft_marks.insert(id);
    }
    let text = format!(
        "{} marked · :runbook-draft PATH writes them as a runbook",
        state.runbooks.draft_marks.len()
    );
    flash(state, &text, false);
    redraw()
}

/// A draft's path: relative, inside the repo, ending in `.md`.
fn draft_path(arg: &str) -> Result<String, String> {
    let path = std::path::Path::new(arg);
    let inside = !arg.is_empty()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside {
        return Err(
            "runbook-draft takes a path inside the runbook repo, e.g. incidents/web-slow.md".into(),
        );
    }
    Ok(if arg.ends_with(".md") {
        arg.to_string()
    } else {
        format!("{arg}.md")
    })
}

/// `:runbook-draft PATH`: the marked History actions, oldest first, as a
/// markdown runbook in the repo's working tree (not committed: the
/// operator reviews and commits it). Secrets are masked.
pub fn draft_command(state: &mut State, arg: &str) -> Outcome {
    let remote = matches!(
        state.runbooks.source,
        Some(crate::runbooks::watch::RepoSource::Remote(_))
    );
    let repo = match state.runbooks.repo_dir.clone() {
        Some(dir) => dir,
        // On the host: the watcher writes it there, relative to the repo.
        None if remote => std::path::PathBuf::new(),
        None => {
            flash(
                state,
                "no runbook repo: set `runbooks = \"PATH\"` for this host",
                true,
            );
            return redraw();
        }
    };
    let rel = match draft_path(arg.trim()) {
        Ok(p) => p,
        Err(e) => {
            flash(state, &e, true);
            return redraw();
        }
    };
    let mut actions: Vec<&ActionView> = state
        .runbooks
        .draft_marks
        .iter()
        .filter_map(|id| state.gate.actions.get(id))
        .collect();
    if actions.is_empty() {
        flash(state, "mark actions in History (space) first", true);
        return redraw();
    }
    actions.sort_by_key(|a| (a.created_at, a.id.clone()));
    let entries: Vec<crate::runbooks::draft::DraftEntry> =
        actions.iter().map(|a| draft_entry(state, a)).collect();
    let title = rel
        .trim_end_matches(".md")
        .rsplit('/')
        .next()
        .unwrap_or("draft")
        .replace(['-', '_'], " ");
    let contents = crate::runbooks::draft::render(&title, &state.host, &entries);
    state.runbooks.draft_marks.clear();
    if remote {
        return Outcome {
            dirty: true,
            effects: vec![Effect::Runbooks(
                crate::runbooks::watch::RunbooksRequest::WriteDraft {
                    rel,
                    contents,
                    steps: entries.len(),
                },
            )],
        };
    }
    Outcome {
        dirty: true,
        effects: vec![Effect::WriteDraft {
            path: repo.join(&rel),
            steps: entries.len(),
            contents,
        }],
    }
}

/// What the operator is told after a draft was written (or not): the path
/// relative to the repo, and when it is not the one asked for, why.
pub fn draft_written(
    state: &mut State,
    asked: &std::path::Path,
    steps: usize,
    written: std::io::Result<std::path::PathBuf>,
) {
    let repo = state.runbooks.repo_dir.clone().unwrap_or_default();
    let shown = |p: &std::path::Path| {
        crate::text::inert(&p.strip_prefix(&repo).unwrap_or(p).display().to_string())
    };
    let (text, is_error) = match written {
        Ok(path) if path == asked => (
            format!(
                "wrote {steps} steps to {} in the runbook repo: review and commit it",
                shown(&path)
            ),
            false,
        ),
        Ok(path) => (
            format!(
                "{} exists and was left alone: wrote {steps} steps to {} instead — review and commit it",
                shown(asked),
                shown(&path)
            ),
            false,
        ),
        Err(e) => (
            format!("cannot write the draft {}: {e}", shown(asked)),
            true,
        ),
    };
    flash(state, &text, is_error);
}

fn masked(text: &str) -> String {
    crate::secrets::mask::mask(text).0
}

/// One action as the draft tells it: no output, secrets masked.
fn draft_entry(state: &State, a: &ActionView) -> crate::runbooks::draft::DraftEntry {
    let outcome = match a.state {
        ActionState::Succeeded | ActionState::Failed => None,
        other => Some(other.name().to_string()),
    };
    crate::runbooks::draft::DraftEntry {
        title: masked(&a.title),
        reason: masked(&a.reason),
        command: masked(&a.command),
        exit_code: a.exit_code,
        outcome,
        ended: a
            .ended_at
            .map(|ms| crate::app::runbooks::time_text(state, ms)),
        duration_ms: a.duration_ms(),
    }
}

/// `YYYY-MM-DD HH:MM` in UTC (a runbook is read in other time zones too).
pub fn time_text(_state: &State, ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}
