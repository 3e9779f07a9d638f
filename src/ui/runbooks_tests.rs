//! The Runbooks pane: list and reader snapshots at 80×24 and 200×60, the
//! placeholder prompt, and proposing steps (`p`, `P`) through the gate.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::snapshots::render;
use crate::action::{Action, PaneId};
use crate::app::runbooks::RunbooksPane;
use crate::app::state::State;
use crate::app::update::{self, Effect};
use crate::gate::{ActionState, GateEvent, GateRequest, Proposal};
use crate::testing::{fixture_state, runbook_fixture};

const SIZES: [(u16, u16); 2] = [(80, 24), (200, 60)];

fn state_with_runbooks(w: u16, h: u16) -> State {
    let mut state = fixture_state("dark");
    update::resize(&mut state, w, h);
    state.runbooks = RunbooksPane::new(runbook_fixture(), "local", "repo /srv/runbooks".into());
    update::apply_action(&mut state, Action::FocusRunbooks);
    state.layout.maximised = true;
    state
}

fn key(state: &mut State, code: KeyCode) -> update::Outcome {
    update::handle_key(state, KeyEvent::new(code, KeyModifiers::NONE))
}

fn typed(state: &mut State, text: &str) {
    for c in text.chars() {
        key(state, KeyCode::Char(c));
    }
}

fn proposals(outcome: &update::Outcome) -> Vec<Proposal> {
    outcome
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Gate(GateRequest::Propose(p)) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// Opens the restart runbook (second in path order) in the reader.
fn open_restart(state: &mut State) {
    update::apply_action(state, Action::Down);
    update::apply_action(state, Action::Open);
    let reader = state.runbooks.reader.as_ref().expect("reader open");
    assert_eq!(
        state.runbooks.runbooks[reader.index].path,
        "incidents/restart-container.md"
    );
}

#[test]
fn list_snapshots() {
    for (w, h) in SIZES {
        let state = state_with_runbooks(w, h);
        insta::assert_snapshot!(
            format!("runbooks_list_{w}x{h}"),
            render(&state, w, h).backend()
        );
    }
}

#[test]
fn reader_snapshots_with_step_two_selected() {
    for (w, h) in SIZES {
        let mut state = state_with_runbooks(w, h);
        open_restart(&mut state);
        update::apply_action(&mut state, Action::SearchNext);
        let screen = render(&state, w, h).backend().to_string();
        assert!(screen.contains("▶ step 2"), "{screen}");
        insta::assert_snapshot!(
            format!("runbooks_reader_{w}x{h}"),
            render(&state, w, h).backend()
        );
    }
}

#[test]
fn only_runbooks_for_this_host_are_listed_and_the_filter_reads_bodies() {
    let pane = RunbooksPane::new(runbook_fixture(), "mail", String::new());
    let paths: Vec<&str> = pane.runbooks.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, vec!["deploy/rollback.md", "research/disk-full.md"]);
    let mut state = state_with_runbooks(80, 24);
    state.lists.entry(PaneId::Runbooks).or_default().filter = "docker images".into();
    let shown = crate::app::runbooks::visible(&state);
    assert_eq!(shown.len(), 1);
    assert_eq!(
        state.runbooks.runbooks[shown[0]].path,
        "research/disk-full.md"
    );
    state.lists.entry(PaneId::Runbooks).or_default().filter = "ROLLBACK".into();
    assert_eq!(
        crate::app::runbooks::visible(&state).len(),
        1,
        "tags and title"
    );
}

#[test]
fn p_asks_for_placeholders_then_proposes_the_filled_step_with_provenance() {
    let mut state = state_with_runbooks(200, 60);
    open_restart(&mut state);
    update::apply_action(&mut state, Action::SearchNext);
    let outcome = key(&mut state, KeyCode::Char('p'));
    assert!(proposals(&outcome).is_empty(), "placeholders first");
    let prompt = state.runbooks.prompt.clone().expect("prompt");
    assert_eq!(prompt.names, vec!["container", "SERVICE"]);
    typed(&mut state, "web-1");
    assert!(proposals(&key(&mut state, KeyCode::Enter)).is_empty());
    typed(&mut state, "api");
    insta::assert_snapshot!("runbooks_prompt_80x24", {
        let mut small = state.clone();
        update::resize(&mut small, 80, 24);
        render(&small, 80, 24).backend().to_string()
    });
    let proposed = proposals(&key(&mut state, KeyCode::Enter));
    assert_eq!(proposed.len(), 1);
    let p = &proposed[0];
    assert_eq!(p.command, "docker restart web-1 && echo restarted api");
    assert_eq!(p.agent, "operator");
    let rb = p.runbook.as_ref().expect("provenance");
    assert_eq!(rb.label(), "incidents/restart-container.md@3f2a9c1#step-2");
    assert_eq!(
        rb.step_sha256,
        crate::runbooks::step_hash("docker restart <container> && echo restarted ${SERVICE}")
    );
    assert!(!rb.modified);
    assert!(state.runbooks.prompt.is_none());
}

#[test]
fn esc_in_the_prompt_proposes_nothing() {
    let mut state = state_with_runbooks(80, 24);
    open_restart(&mut state);
    key(&mut state, KeyCode::Char('p'));
    typed(&mut state, "web-1");
    let outcome = key(&mut state, KeyCode::Esc);
    assert!(proposals(&outcome).is_empty());
    assert!(state.runbooks.prompt.is_none());
}

/// The gate's report that the awaited step ended in `end`.
fn ended(proposal: &Proposal, end: ActionState) -> GateEvent {
    let mut view = crate::testing::populated_state("dark")
        .gate
        .actions
        .values()
        .next()
        .cloned()
        .expect("an action to copy");
    view.id = proposal.id.clone().expect("the pane names its proposal");
    view.command = proposal.command.clone();
    view.agent = "operator".into();
    view.runbook = proposal.runbook.as_deref().cloned();
    view.state = end;
    view.tampered = None;
    GateEvent::Changed(Box::new(view))
}

#[test]
fn capital_p_runs_the_rest_one_after_another_and_stops_at_a_failure() {
    let mut state = state_with_runbooks(200, 60);
    // The rollback runbook: two steps, the second with a placeholder.
    update::apply_action(&mut state, Action::Open);
    let first = proposals(&key(&mut state, KeyCode::Char('P')));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].command, "ls -1t /srv/releases | head -2");
    assert!(first[0].runbook.as_ref().is_some_and(|r| r.modified));
    // Still running: nothing follows yet.
    let running = update::apply_event(&mut state, ended(&first[0], ActionState::Executing).into());
    assert!(proposals(&running).is_empty());
    let after = update::apply_event(&mut state, ended(&first[0], ActionState::Succeeded).into());
    assert!(proposals(&after).is_empty(), "asks for <release> first");
    assert_eq!(state.runbooks.prompt.as_ref().map(|p| p.step), Some(2));
    typed(&mut state, "v41");
    let second = proposals(&key(&mut state, KeyCode::Enter));
    assert_eq!(second.len(), 1);
    assert!(second[0].command.starts_with("ln -sfn /srv/releases/v41 "));

    // Again from step 1, which now fails: step 2 is never proposed.
    state.runbooks.sequence = None;
    let reader = state.runbooks.reader.as_mut().expect("reader");
    reader.step = 1;
    let first = proposals(&key(&mut state, KeyCode::Char('P')));
    let failed = update::apply_event(&mut state, ended(&first[0], ActionState::Failed).into());
    assert!(proposals(&failed).is_empty());
    assert!(state.runbooks.prompt.is_none());
    assert!(state.runbooks.sequence.is_none());
    let flash = state.flash.clone().expect("said why");
    assert!(
        flash.is_error && flash.text.contains("stopped at step 1"),
        "{flash:?}"
    );
}

#[test]
fn capital_p_follows_its_own_action_not_another_for_the_same_step() {
    let mut state = state_with_runbooks(200, 60);
    update::apply_action(&mut state, Action::Open);
    let first = proposals(&key(&mut state, KeyCode::Char('P')));
    assert_eq!(first.len(), 1);
    // Another action claiming the same step (an agent's `--runbook`, or
    // the operator's own `p` from another cockpit) ends first.
    for (agent, id) in [
        ("claude", "0123456789abcdef01234567"),
        ("operator", "fedcba9876543210fedcba98"),
    ] {
        let mut foreign = first[0].clone();
        foreign.id = Some(id.into());
        foreign.agent = agent.into();
        for end in [ActionState::Succeeded, ActionState::Failed] {
            let outcome = update::apply_event(&mut state, ended(&foreign, end).into());
            assert!(
                proposals(&outcome).is_empty(),
                "{agent} {end:?} proposed nothing"
            );
            assert!(
                state.runbooks.prompt.is_none(),
                "{agent} {end:?} asked nothing"
            );
            let seq = state.runbooks.sequence.as_ref().expect("still waiting");
            assert_eq!(seq.waiting_step, 1, "{agent} {end:?} did not advance it");
        }
    }
    // Its own action's end does.
    update::apply_event(&mut state, ended(&first[0], ActionState::Succeeded).into());
    assert_eq!(state.runbooks.prompt.as_ref().map(|p| p.step), Some(2));
}

#[test]
fn the_panes_own_proposal_opens_its_approval_popup_with_the_quoted_command() {
    let mut state = state_with_runbooks(200, 60);
    open_restart(&mut state);
    update::apply_action(&mut state, Action::SearchNext);
    key(&mut state, KeyCode::Char('p'));
    typed(&mut state, "x; rm -rf /");
    key(&mut state, KeyCode::Enter);
    typed(&mut state, "api");
    let prompt_screen = render(&state, 200, 60).backend().to_string();
    assert!(
        prompt_screen.contains("docker restart 'x; rm -rf /' && echo restarted"),
        "the prompt shows the value quoted: {prompt_screen}"
    );
    let proposed = proposals(&key(&mut state, KeyCode::Enter));
    let p = proposed.first().expect("proposed");
    assert_eq!(
        p.command,
        "docker restart 'x; rm -rf /' && echo restarted api"
    );
    let mut pending = ended(p, ActionState::Pending);
    if let GateEvent::Changed(view) = &mut pending {
        view.host = state.host.clone();
        view.tier = crate::gate::Tier::Approve;
    }
    update::apply_event(&mut state, pending.into());
    match &state.gate.popup {
        Some(crate::app::gate::GatePopup::Approve { id, .. }) => {
            assert_eq!(Some(id), p.id.as_ref())
        }
        other => panic!("expected its approval popup, got {other:?}"),
    }
    let screen = render(&state, 200, 60).backend().to_string();
    assert!(
        screen.contains("docker restart 'x; rm -rf /' && echo restarted api"),
        "the popup shows the filled, quoted command: {screen}"
    );
}

#[test]
fn space_marks_history_rows_and_runbook_draft_writes_them_masked() {
    let mut state = crate::testing::populated_state("dark");
    update::resize(&mut state, 200, 60);
    state.runbooks.repo_dir = Some("/srv/runbooks".into());
    // Two actions: one whose command holds a secret, one whose output does.
    let ids: Vec<String> = state.gate.actions.keys().take(2).cloned().collect();
    assert_eq!(ids.len(), 2, "the populated state has actions");
    for (n, id) in ids.iter().enumerate() {
        let a = state.gate.actions.get_mut(id).expect("action");
        a.created_at = 1_000 + n as i64;
        a.tampered = None;
        a.state = ActionState::Succeeded;
        a.exit_code = Some(0);
        a.command = if n == 0 {
            "curl -H 'X: 1' https://api/x?token=hunter2secret".into()
        } else {
            "docker restart web".into()
        };
    }
    update::apply_action(&mut state, Action::FocusHistory);
    let rows: Vec<String> = crate::app::gate::history_rows(&state)
        .iter()
        .map(|a| a.id.clone())
        .collect();
    for (i, id) in rows.iter().enumerate() {
        if ids.contains(id) {
            state.lists.entry(PaneId::History).or_default().selected = i;
            key(&mut state, KeyCode::Char(' '));
        }
    }
    assert_eq!(state.runbooks.draft_marks.len(), 2);
    let screen = render(&state, 200, 60).backend().to_string();
    assert!(screen.contains('●'), "marked rows show: {screen}");
    let outcome = update::run_command(&mut state, "runbook-draft incidents/web-slow");
    let (path, contents) = match outcome.effects.as_slice() {
        [Effect::WriteDraft { path, contents, .. }] => (path.clone(), contents.clone()),
        other => panic!("expected one write, got {other:?}"),
    };
    assert_eq!(
        path,
        std::path::PathBuf::from("/srv/runbooks/incidents/web-slow.md")
    );
    assert!(!contents.contains("hunter2secret"), "{contents}");
    let parsed = crate::runbooks::markdown::parse("incidents/web-slow.md", &contents);
    let steps: Vec<&str> = parsed.steps.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(
        steps,
        vec![
            "curl -H 'X: 1' https://api/x?token=***",
            "docker restart web"
        ],
        "oldest first, same commands (masked)"
    );
    assert_eq!(parsed.title, "web slow");
    assert!(state.runbooks.draft_marks.is_empty());
    // The write never replaces a file; the operator is told where it went.
    let asked = std::path::PathBuf::from("/srv/runbooks/incidents/web-slow.md");
    crate::app::runbooks::draft_written(
        &mut state,
        &asked,
        2,
        Ok("/srv/runbooks/incidents/web-slow-2.md".into()),
    );
    let flash = state.flash.clone().expect("said");
    assert!(
        flash
            .text
            .contains("incidents/web-slow.md exists and was left alone")
            && flash.text.contains("incidents/web-slow-2.md instead"),
        "{flash:?}"
    );
    crate::app::runbooks::draft_written(&mut state, &asked, 2, Ok(asked.clone()));
    let flash = state.flash.clone().expect("said");
    assert!(
        !flash.is_error
            && flash
                .text
                .contains("wrote 2 steps to incidents/web-slow.md"),
        "{flash:?}"
    );
    // A repo on the host: the watcher writes the draft there.
    state.runbooks.repo_dir = None;
    state.runbooks.source = Some(crate::runbooks::watch::RepoSource::Remote("~/rb".into()));
    for (i, id) in rows.iter().enumerate() {
        if ids.contains(id) {
            state.lists.entry(PaneId::History).or_default().selected = i;
            key(&mut state, KeyCode::Char(' '));
        }
    }
    let outcome = update::run_command(&mut state, "runbook-draft incidents/web-slow");
    match outcome.effects.as_slice() {
        [
            Effect::Runbooks(crate::runbooks::watch::RunbooksRequest::WriteDraft {
                rel,
                contents,
                steps,
            }),
        ] => {
            assert_eq!((rel.as_str(), *steps), ("incidents/web-slow.md", 2));
            assert!(!contents.contains("hunter2secret"));
        }
        other => panic!("expected a draft for the host, got {other:?}"),
    }
    update::apply_event(
        &mut state,
        crate::app::event::AppEvent::Runbooks(
            crate::runbooks::watch::RunbooksEvent::DraftWritten {
                asked: "incidents/web-slow.md".into(),
                steps: 2,
                written: Ok("incidents/web-slow-2.md".into()),
            },
        ),
    );
    let flash = state.flash.clone().expect("said");
    assert!(
        flash
            .text
            .contains("wrote 2 steps to incidents/web-slow-2.md instead"),
        "{flash:?}"
    );
    // Outside the repo is refused.
    let outcome = update::run_command(&mut state, "runbook-draft ../../etc/cron.d/x");
    assert!(outcome.effects.is_empty());
    assert!(state.flash.as_ref().is_some_and(|f| f.is_error));
}

#[test]
fn a_reload_keeps_the_open_runbook_and_step_by_path() {
    use crate::runbooks::watch::{RepoSource, RunbooksEvent};
    let mut state = state_with_runbooks(200, 60);
    // The pane was filled for host `local`; a reload filters by the host.
    state.host = "local".into();
    state.runbooks.source = Some(RepoSource::Local("/srv/runbooks".into()));
    open_restart(&mut state);
    update::apply_action(&mut state, Action::SearchNext);
    assert_eq!(state.runbooks.reader.as_ref().map(|r| r.step), Some(2));
    // A new runbook sorts before it: indices move, the reader does not.
    let mut more = runbook_fixture();
    more.insert(
        0,
        crate::runbooks::markdown::parse("aaa/first.md", "# First\n\n```sh\nuptime\n```\n"),
    );
    let outcome = update::apply_event(&mut state, reload_event(RunbooksEvent::Loaded(more)));
    assert!(outcome.dirty, "the list changed");
    let reader = state.runbooks.reader.clone().expect("still open");
    assert_eq!(
        state.runbooks.runbooks[reader.index].path,
        "incidents/restart-container.md"
    );
    assert_eq!(reader.step, 2);
    // The same again: nothing to redraw.
    let same = state.runbooks.runbooks.clone();
    let outcome = update::apply_event(&mut state, reload_event(RunbooksEvent::Loaded(same)));
    assert!(!outcome.dirty);
    // The runbook is gone: the reader closes and says why.
    let without: Vec<_> = runbook_fixture()
        .into_iter()
        .filter(|r| r.path != "incidents/restart-container.md")
        .collect();
    update::apply_event(&mut state, reload_event(RunbooksEvent::Loaded(without)));
    assert!(state.runbooks.reader.is_none());
    let flash = state.flash.clone().expect("said");
    assert!(
        flash.text.contains("no longer in the runbook repo"),
        "{flash:?}"
    );
    // A failed read keeps what is shown.
    update::apply_event(
        &mut state,
        reload_event(RunbooksEvent::Failed("link down".into())),
    );
    assert_eq!(state.runbooks.runbooks.len(), 2);
    assert!(state.runbooks.source_note.contains("showing the last read"));
    // :runbooks-reload asks the watcher.
    let outcome = update::run_command(&mut state, "runbooks-reload");
    assert_eq!(
        outcome.effects,
        vec![Effect::Runbooks(
            crate::runbooks::watch::RunbooksRequest::Reload
        )]
    );
}

fn reload_event(e: crate::runbooks::watch::RunbooksEvent) -> crate::app::event::AppEvent {
    crate::app::event::AppEvent::Runbooks(e)
}
