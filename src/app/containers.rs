//! The Containers pane's state and how it changes: the list the docker
//! source fills, sorting and filtering, the detail view (inspect data, env
//! masking, log ring) and the event timeline. `update.rs` delegates here;
//! nothing here does I/O — opening a detail asks the source through an
//! [`Effect::Docker`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::action::{Action, PaneId};
use crate::app::state::{Flash, State};
use crate::app::update::{Effect, Outcome};
use crate::containers::{
    Container, ContainerDetail, ContainerStats, DockerCommand, DockerEvent, DockerSettings,
    EngineStatus, LogEntry, TimelineEntry,
};
use crate::transport::shell_quote;

/// Events kept for the History pane.
pub const TIMELINE_CAP: usize = 1000;
/// Log lines kept in the detail view.
pub const LOG_CAP: usize = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortColumn {
    #[default]
    Name,
    State,
    Cpu,
    Memory,
    Uptime,
    Restarts,
}

impl SortColumn {
    pub const ALL: [SortColumn; 6] = [
        SortColumn::Name,
        SortColumn::State,
        SortColumn::Cpu,
        SortColumn::Memory,
        SortColumn::Uptime,
        SortColumn::Restarts,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SortColumn::Name => "name",
            SortColumn::State => "state",
            SortColumn::Cpu => "cpu",
            SortColumn::Memory => "mem",
            SortColumn::Uptime => "uptime",
            SortColumn::Restarts => "restarts",
        }
    }

    /// Which rows come first, in words, for the pane's status row: the
    /// header's ▼/▲ alone does not say whether "down" is a→z or highest.
    pub fn order_words(self, reversed: bool) -> &'static str {
        let (usual, turned) = match self {
            SortColumn::Name => ("a→z", "z→a"),
            SortColumn::State => ("needing attention first", "healthy first"),
            SortColumn::Cpu | SortColumn::Memory | SortColumn::Restarts => {
                ("highest first", "lowest first")
            }
            SortColumn::Uptime => ("longest up first", "newest first"),
        };
        if reversed { turned } else { usual }
    }

    fn next(self) -> SortColumn {
        let i = Self::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

/// A command the operator asked for, to be handed to the action gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedAction {
    pub command: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContainersState {
    pub settings: DockerSettings,
    pub engine: EngineStatus,
    /// By id.
    pub containers: BTreeMap<String, Container>,
    pub stats: BTreeMap<String, ContainerStats>,
    pub sort: SortColumn,
    /// The sort order turned around (`r`).
    pub sort_reversed: bool,
    /// Newest last, at most [`TIMELINE_CAP`].
    pub timeline: VecDeque<TimelineEntry>,
    pub detail: Option<DetailState>,
    /// Id of the selected row, so the selection follows it when rows move.
    pub selected_id: Option<String>,
    /// The last action offered, waiting for the action gate.
    pub proposal: Option<ProposedAction>,
    /// When the list last changed (unix seconds): the stale marker uses it.
    pub last_change: Option<i64>,
}

impl Default for ContainersState {
    fn default() -> Self {
        Self {
            settings: DockerSettings::default(),
            engine: EngineStatus::Connecting,
            containers: BTreeMap::new(),
            stats: BTreeMap::new(),
            sort: SortColumn::default(),
            sort_reversed: false,
            timeline: VecDeque::new(),
            detail: None,
            selected_id: None,
            proposal: None,
            last_change: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DetailState {
    pub id: String,
    pub name: String,
    pub info: Option<ContainerDetail>,
    /// Why inspect or logs failed, or that the stream ended.
    pub note: Option<String>,
    pub logs: VecDeque<LogEntry>,
    /// Lines dropped off the front of the ring.
    pub dropped: u64,
    /// Selected environment variable (for `v`).
    pub env_selected: usize,
    /// The operator moved through the environment (↑↓, `v`): until then
    /// the detail shows its top (image, command, state), not the env.
    pub env_touched: bool,
    pub revealed: BTreeSet<usize>,
    /// Lines scrolled up from the bottom; 0 follows new lines.
    pub scroll: usize,
    /// The container was removed while shown.
    pub gone: bool,
}

impl DetailState {
    fn new(id: &str, name: &str) -> Self {
        Self {
            id: id.to_string(),
            name: name.to_string(),
            info: None,
            note: None,
            logs: VecDeque::new(),
            dropped: 0,
            env_selected: 0,
            env_touched: false,
            revealed: BTreeSet::new(),
            scroll: 0,
            gone: false,
        }
    }
}

impl ContainersState {
    /// Rows after the filter, in the chosen order.
    pub fn visible(&self, filter: &str) -> Vec<&Container> {
        let needle = filter.to_lowercase();
        let mut rows: Vec<&Container> = self
            .containers
            .values()
            .filter(|c| {
                needle.is_empty()
                    || c.name.to_lowercase().contains(&needle)
                    || c.image.to_lowercase().contains(&needle)
                    || c.state.to_lowercase().contains(&needle)
                    || c.health
                        .as_deref()
                        .is_some_and(|h| h.to_lowercase().contains(&needle))
            })
            .collect();
        let stats = |c: &Container| self.stats.get(&c.id).copied().unwrap_or_default();
        rows.sort_by(|a, b| {
            let by = match self.sort {
                SortColumn::Name => std::cmp::Ordering::Equal,
                SortColumn::State => attention(a).cmp(&attention(b)).reverse(),
                SortColumn::Cpu => stats(b)
                    .cpu_percent
                    .unwrap_or(-1.0)
                    .total_cmp(&stats(a).cpu_percent.unwrap_or(-1.0)),
                SortColumn::Memory => stats(b).mem_used.cmp(&stats(a).mem_used),
                // Longest running first; stopped ones last.
                SortColumn::Uptime => a
                    .started_at
                    .unwrap_or(i64::MAX)
                    .cmp(&b.started_at.unwrap_or(i64::MAX)),
                SortColumn::Restarts => b.restart_count.cmp(&a.restart_count),
            };
            let by = by
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.id.cmp(&b.id));
            if self.sort_reversed { by.reverse() } else { by }
        });
        rows
    }
}

/// How much a row needs the operator's eye: 0 fine, 1 stopped, 2 failing.
pub fn attention(c: &Container) -> u8 {
    let unhealthy = c.health.as_deref() == Some("unhealthy");
    let failed = c.oom_killed
        || matches!(c.state.as_str(), "dead" | "restarting")
        || (c.state == "exited" && c.exit_code.is_some_and(|code| code != 0));
    if unhealthy || failed {
        2
    } else if c.is_running() {
        0
    } else {
        1
    }
}

pub fn list_len(state: &State) -> usize {
    let filter = &state.list(PaneId::Containers).filter;
    state.containers.visible(filter).len()
}

/// The selected row (after filter and sort).
pub fn selected(state: &State) -> Option<Container> {
    let list = state.list(PaneId::Containers);
    state
        .containers
        .visible(&list.filter)
        .get(list.selected)
        .map(|c| (*c).clone())
}

/// The container R/S/T/K act on: the open detail's, else the selected row.
fn action_target(state: &State) -> Option<Container> {
    match &state.containers.detail {
        Some(d) => state
            .containers
            .containers
            .get(&d.id)
            .cloned()
            .or_else(|| selected(state)),
        None => selected(state),
    }
}

/// Whether the container's state lets `action` do something: no start on
/// a running container, no stop or kill on a stopped one.
pub fn action_allowed(container_state: &str, action: Action) -> bool {
    let running = matches!(container_state, "running" | "restarting" | "paused");
    match action {
        Action::Start => !running && container_state != "removing",
        Action::Stop | Action::Kill => running,
        Action::Restart => container_state != "removing" && container_state != "dead",
        _ => false,
    }
}

/// [`action_allowed`] for the container R/S/T/K would act on now.
pub fn allowed(state: &State, action: Action) -> bool {
    action_target(state).is_some_and(|c| action_allowed(&c.state, action))
}

pub fn apply_event(state: &mut State, event: DockerEvent) -> Outcome {
    let c = &mut state.containers;
    match event {
        DockerEvent::Status(status) => {
            if c.engine == status {
                return Outcome::default();
            }
            c.engine = status;
        }
        DockerEvent::Snapshot(list) => {
            c.containers = list.into_iter().map(|x| (x.id.clone(), x)).collect();
            let ids: BTreeSet<&String> = c.containers.keys().collect();
            c.stats.retain(|id, _| ids.contains(id));
            c.last_change = Some(state.now);
            if let Some(detail) = &mut c.detail {
                detail.gone = !c.containers.contains_key(&detail.id);
            }
        }
        DockerEvent::Upsert(container) => {
            if !container.is_running() {
                c.stats.remove(&container.id);
            }
            if let Some(detail) = &mut c.detail
                && detail.id == container.id
            {
                detail.gone = false;
            }
            c.containers.insert(container.id.clone(), container);
            c.last_change = Some(state.now);
        }
        DockerEvent::Removed { id } => {
            c.containers.remove(&id);
            c.stats.remove(&id);
            if let Some(detail) = &mut c.detail
                && detail.id == id
            {
                detail.gone = true;
                detail.note = Some("the container was removed".into());
            }
            c.last_change = Some(state.now);
        }
        DockerEvent::Stats { id, stats } => {
            if !c.containers.contains_key(&id) {
                return Outcome::default();
            }
            // A sample that changes nothing on screen (an idle container's
            // 0.0% and the same memory) is kept but draws nothing: with many
            // containers most samples are like that.
            let visible_change = c
                .stats
                .get(&id)
                .is_none_or(|old| shown(old) != shown(&stats));
            c.stats.insert(id, stats);
            if !visible_change {
                return Outcome::default();
            }
        }
        DockerEvent::Timeline(entry) => {
            if c.timeline.len() >= TIMELINE_CAP {
                c.timeline.pop_front();
            }
            c.timeline.push_back(entry);
            // The list changes with the Upsert that follows.
            return Outcome::default();
        }
        DockerEvent::Detail(info) => match &mut c.detail {
            Some(d) if d.id == info.id => {
                d.name = info.name.clone();
                d.info = Some(*info);
                d.note = None;
            }
            _ => return Outcome::default(),
        },
        DockerEvent::DetailFailed { id, message } | DockerEvent::LogsEnded { id, message } => {
            match &mut c.detail {
                Some(d) if d.id == id => d.note = Some(message),
                _ => return Outcome::default(),
            }
        }
        DockerEvent::Logs { id, lines } => match &mut c.detail {
            Some(d) if d.id == id => {
                let added = lines.len();
                d.logs.extend(lines);
                while d.logs.len() > LOG_CAP {
                    d.logs.pop_front();
                    d.dropped += 1;
                }
                if d.scroll > 0 {
                    // Scrolled up: keep the same lines in view.
                    d.scroll = (d.scroll + added).min(d.logs.len());
                }
            }
            _ => return Outcome::default(),
        },
    }
    keep_selection(state);
    Outcome {
        dirty: true,
        effects: Vec::new(),
    }
}

/// After the rows changed, put the selection back on the same container.
fn keep_selection(state: &mut State) {
    let filter = state.list(PaneId::Containers).filter;
    let rows = state.containers.visible(&filter);
    let list = state.lists.entry(PaneId::Containers).or_default();
    match state
        .containers
        .selected_id
        .as_ref()
        .and_then(|id| rows.iter().position(|c| &c.id == id))
    {
        Some(i) => list.selected = i,
        None => list.selected = list.selected.min(rows.len().saturating_sub(1)),
    }
    state.containers.selected_id = rows.get(list.selected).map(|c| c.id.clone());
}

/// Remember which container the selection is on (after a key moved it).
pub fn note_selection(state: &mut State) {
    state.containers.selected_id = selected(state).map(|c| c.id);
}

/// Keys of the Containers pane. `None`: not ours, the generic list
/// handling applies.
pub fn apply_action(state: &mut State, action: Action) -> Option<Outcome> {
    if state.containers.detail.is_some()
        && let Some(outcome) = detail_action(state, action)
    {
        return Some(outcome);
    }
    let outcome = match action {
        Action::Open => {
            let row = selected(state)?;
            state.containers.detail = Some(DetailState::new(&row.id, &row.name));
            Outcome {
                dirty: true,
                effects: vec![Effect::Docker(DockerCommand::Watch { id: row.id })],
            }
        }
        Action::Sort | Action::SortReverse => {
            if action == Action::Sort {
                state.containers.sort = state.containers.sort.next();
                state.containers.sort_reversed = false;
            } else {
                state.containers.sort_reversed = !state.containers.sort_reversed;
            }
            keep_selection(state);
            let order = if state.containers.sort_reversed {
                ", reversed"
            } else {
                ""
            };
            let text = format!("sorted by {}{order}", state.containers.sort.label());
            flash(state, &text, false);
            redraw()
        }
        Action::Restart | Action::Stop | Action::Start | Action::Kill => {
            let target = match &state.containers.detail {
                Some(d) => Some((d.name.clone(), d.id.clone())),
                None => selected(state).map(|c| (c.name, c.id)),
            };
            let Some((name, id)) = target else {
                flash(state, "no container selected", true);
                return Some(redraw());
            };
            let shown_name = if name.is_empty() { &id } else { &name };
            if let Some(c) = action_target(state)
                && !action_allowed(&c.state, action)
            {
                let verb = action.description().split(' ').next().unwrap_or("act");
                let text = format!(
                    "{} is {}: {verb} does not apply",
                    crate::text::inert(shown_name),
                    crate::text::inert(&c.state)
                );
                flash(state, &text, true);
                return Some(redraw());
            }
            let proposal = propose(action, shown_name)?;
            let request = crate::gate::GateRequest::Propose(crate::gate::Proposal {
                command: proposal.command.clone(),
                title: format!(
                    "{} container {}",
                    action.description().split(' ').next().unwrap_or("act on"),
                    shown_name
                ),
                reason: "requested by the operator from the Containers pane".into(),
                agent: crate::app::gate::OPERATOR.into(),
                ..Default::default()
            });
            let text = format!(
                "proposed `{}` to the action gate: its approval opens here",
                crate::text::inert(&proposal.command)
            );
            state.containers.proposal = Some(proposal);
            flash(state, &text, false);
            Outcome {
                dirty: true,
                effects: vec![Effect::Gate(request)],
            }
        }
        Action::ContainerLogs => {
            let target = match &state.containers.detail {
                Some(d) => Some((d.name.clone(), d.id.clone())),
                None => selected(state).map(|c| (c.name, c.id)),
            };
            let Some((name, id)) = target else {
                flash(state, "no container selected", true);
                return Some(redraw());
            };
            // The container source names each log `container:NAME`.
            let shown_name = if name.is_empty() { id } else { name };
            crate::app::logs::show_source(&mut state.logs, format!("container:{shown_name}"));
            state.layout.focus_on(crate::action::PaneId::Logs);
            let other = state
                .keymap
                .key_label(PaneId::Logs, Action::Source)
                .unwrap_or_else(|| "?".into());
            let text = format!(
                "logs of {} ({other}: other sources)",
                crate::text::inert(&shown_name)
            );
            flash(state, &text, false);
            redraw()
        }
        Action::Reveal => {
            let open = state
                .keymap
                .key_label(PaneId::Containers, Action::Open)
                .unwrap_or_else(|| "?".into());
            let text = format!("open a container ({open}) to reveal its environment");
            flash(state, &text, false);
            redraw()
        }
        _ => return None,
    };
    Some(outcome)
}

/// The mouse wheel over an open container detail scrolls its log tail
/// (`older`: up), never the list hidden under it.
pub fn wheel(state: &mut State, older: bool, rows: usize) -> Outcome {
    let oldest = state
        .layout
        .detail_extent
        .filter(|e| e.pane == PaneId::Containers)
        .map(|e| usize::from(e.last_first));
    let Some(detail) = state.containers.detail.as_mut() else {
        return Outcome::default();
    };
    let oldest = oldest.unwrap_or(detail.logs.len().saturating_sub(1));
    let before = detail.scroll;
    detail.scroll = if older {
        (detail.scroll + rows).min(oldest)
    } else {
        detail.scroll.saturating_sub(rows)
    };
    Outcome {
        dirty: detail.scroll != before,
        effects: Vec::new(),
    }
}

fn detail_action(state: &mut State, action: Action) -> Option<Outcome> {
    // The log tail as last drawn: a page is its height, and its oldest
    // screen is as far up as it scrolls (not one line and blank rows).
    let extent = state
        .layout
        .detail_extent
        .filter(|e| e.pane == PaneId::Containers);
    let page = extent.map_or(usize::from(state.layout.height.saturating_sub(8)), |e| {
        usize::from(e.page.saturating_sub(1))
    });
    let page = page.max(1);
    let detail = state.containers.detail.as_mut()?;
    let oldest = extent.map_or(detail.logs.len().saturating_sub(1), |e| {
        usize::from(e.last_first)
    });
    let env_len = detail.info.as_ref().map(|i| i.env.len()).unwrap_or(0);
    match action {
        Action::Back | Action::Open => {
            state.containers.detail = None;
            return Some(Outcome {
                dirty: true,
                effects: vec![Effect::Docker(DockerCommand::Unwatch)],
            });
        }
        Action::Up if !detail.env_touched => detail.env_touched = true,
        Action::Down if !detail.env_touched => detail.env_touched = true,
        Action::Up => detail.env_selected = detail.env_selected.saturating_sub(1),
        Action::Down => {
            detail.env_selected = (detail.env_selected + 1).min(env_len.saturating_sub(1))
        }
        Action::Reveal => {
            if env_len == 0 {
                return Some(Outcome::default());
            }
            detail.env_touched = true;
            let i = detail.env_selected;
            if !detail.revealed.remove(&i) {
                detail.revealed.insert(i);
            }
        }
        Action::PageUp => detail.scroll = (detail.scroll + page).min(oldest),
        Action::PageDown => detail.scroll = detail.scroll.saturating_sub(page),
        Action::Top => detail.scroll = oldest,
        Action::Bottom => detail.scroll = 0,
        Action::Sort | Action::SortReverse | Action::Filter => return Some(Outcome::default()),
        _ => return None,
    }
    Some(redraw())
}

/// What the list shows of a stats sample (CPU to a tenth, memory as
/// humanized), to tell a sample that changes the screen from one that does not.
fn shown(stats: &ContainerStats) -> (Option<i64>, String, String) {
    use crate::metrics::units::human_bytes;
    (
        stats.cpu_percent.map(|p| (p * 10.0).round() as i64),
        human_bytes(stats.mem_used as f64),
        human_bytes(stats.mem_limit as f64),
    )
}

/// The command the gate would run for `action` on container `name`.
pub fn propose(action: Action, name: &str) -> Option<ProposedAction> {
    let verb = match action {
        Action::Restart => "restart",
        Action::Stop => "stop",
        Action::Start => "start",
        Action::Kill => "kill",
        _ => return None,
    };
    Some(ProposedAction {
        command: format!("docker {verb} {}", shell_quote(name)),
    })
}

fn redraw() -> Outcome {
    Outcome {
        dirty: true,
        effects: Vec::new(),
    }
}

fn flash(state: &mut State, text: &str, is_error: bool) {
    state.flash = Some(Flash {
        text: text.to_string(),
        is_error,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Keymap, ThemeSet};

    pub(crate) fn test_state() -> State {
        let themes = ThemeSet::load(None, false).expect("themes");
        let theme = themes.get("dark").expect("dark");
        let keymap = Keymap::load("default", None).expect("keymap");
        let mut state = State::new("local", "local", themes, theme, keymap);
        state.utc = true;
        state.now = 1_795_450_000;
        state.layout.focus_on(PaneId::Containers);
        state
    }

    fn row(id: &str, name: &str, state: &str) -> Container {
        Container {
            id: id.into(),
            name: name.into(),
            image: "img".into(),
            state: state.into(),
            status: "Up".into(),
            ..Container::default()
        }
    }

    #[test]
    fn snapshot_upsert_remove_and_selection_follows_the_row() {
        let mut s = test_state();
        apply_event(
            &mut s,
            DockerEvent::Snapshot(vec![row("1", "b", "running"), row("2", "c", "running")]),
        );
        assert_eq!(list_len(&s), 2);
        s.lists.entry(PaneId::Containers).or_default().selected = 1;
        note_selection(&mut s);
        // A new row sorts before the selected one: the selection moves with it.
        apply_event(&mut s, DockerEvent::Upsert(row("3", "a", "exited")));
        assert_eq!(selected(&s).map(|c| c.id), Some("2".into()));
        apply_event(&mut s, DockerEvent::Removed { id: "2".into() });
        assert_eq!(list_len(&s), 2);
        assert!(selected(&s).is_some());
    }

    #[test]
    fn a_sample_that_changes_nothing_on_screen_draws_nothing() {
        let mut s = test_state();
        apply_event(
            &mut s,
            DockerEvent::Snapshot(vec![row("1", "a", "running")]),
        );
        let sample = |cpu: f64, mem: u64| DockerEvent::Stats {
            id: "1".into(),
            stats: ContainerStats {
                cpu_percent: Some(cpu),
                mem_used: mem,
                mem_limit: 1 << 30,
            },
        };
        assert!(
            apply_event(&mut s, sample(0.0, 5 << 20)).dirty,
            "first sample"
        );
        assert!(
            !apply_event(&mut s, sample(0.01, (5 << 20) + 100)).dirty,
            "same 0.0% and 5.0 MiB"
        );
        assert!(
            apply_event(&mut s, sample(0.2, (5 << 20) + 100)).dirty,
            "0.2% shows"
        );
        assert!(
            apply_event(&mut s, sample(0.2, 6 << 20)).dirty,
            "6.0 MiB shows"
        );
        assert_eq!(
            s.containers.stats.get("1").map(|st| st.mem_used),
            Some(6 << 20),
            "kept either way"
        );
    }

    #[test]
    fn stats_for_unknown_or_stopped_containers_are_dropped() {
        let mut s = test_state();
        apply_event(
            &mut s,
            DockerEvent::Snapshot(vec![row("1", "a", "running")]),
        );
        let stats = ContainerStats {
            cpu_percent: Some(5.0),
            mem_used: 10,
            mem_limit: 100,
        };
        let out = apply_event(
            &mut s,
            DockerEvent::Stats {
                id: "zz".into(),
                stats,
            },
        );
        assert!(!out.dirty);
        apply_event(
            &mut s,
            DockerEvent::Stats {
                id: "1".into(),
                stats,
            },
        );
        assert_eq!(s.containers.stats.len(), 1);
        apply_event(&mut s, DockerEvent::Upsert(row("1", "a", "exited")));
        assert!(s.containers.stats.is_empty());
    }

    #[test]
    fn sort_cycles_and_state_sort_puts_trouble_first() {
        let mut s = test_state();
        let mut bad = row("1", "z", "running");
        bad.health = Some("unhealthy".into());
        let mut exited = row("2", "y", "exited");
        exited.exit_code = Some(0);
        apply_event(
            &mut s,
            DockerEvent::Snapshot(vec![row("3", "a", "running"), bad, exited]),
        );
        apply_action(&mut s, Action::Sort);
        assert_eq!(s.containers.sort, SortColumn::State);
        let names: Vec<_> = s
            .containers
            .visible("")
            .iter()
            .map(|c| c.name.clone())
            .collect();
        assert_eq!(names, ["z", "y", "a"]);
        // r turns the order around; the next column starts unreversed.
        apply_action(&mut s, Action::SortReverse);
        let names: Vec<_> = s
            .containers
            .visible("")
            .iter()
            .map(|c| c.name.clone())
            .collect();
        assert_eq!(names, ["a", "y", "z"]);
        apply_action(&mut s, Action::Sort);
        assert!(!s.containers.sort_reversed);
        apply_action(&mut s, Action::Sort);
        apply_action(&mut s, Action::Sort);
        apply_action(&mut s, Action::Sort);
        for _ in 0..SortColumn::ALL.len() - 5 {
            apply_action(&mut s, Action::Sort);
        }
        assert_eq!(s.containers.sort, SortColumn::Name);
    }

    #[test]
    fn filter_matches_name_image_and_state() {
        let mut s = test_state();
        apply_event(
            &mut s,
            DockerEvent::Snapshot(vec![row("1", "web", "running"), row("2", "db", "exited")]),
        );
        assert_eq!(s.containers.visible("WE").len(), 1);
        assert_eq!(s.containers.visible("exited").len(), 1);
        assert_eq!(s.containers.visible("img").len(), 2);
        assert_eq!(s.containers.visible("nope").len(), 0);
    }

    #[test]
    fn open_watches_and_back_unwatches() {
        let mut s = test_state();
        apply_event(
            &mut s,
            DockerEvent::Snapshot(vec![row("1", "a", "running")]),
        );
        let out = apply_action(&mut s, Action::Open).expect("handled");
        assert_eq!(
            out.effects,
            vec![Effect::Docker(DockerCommand::Watch { id: "1".into() })]
        );
        // Logs for another container are ignored.
        let line = LogEntry {
            time: None,
            stream: crate::containers::LogStream::Stdout,
            text: "x".into(),
        };
        apply_event(
            &mut s,
            DockerEvent::Logs {
                id: "other".into(),
                lines: vec![line.clone()],
            },
        );
        assert!(
            s.containers
                .detail
                .as_ref()
                .expect("detail")
                .logs
                .is_empty()
        );
        apply_event(
            &mut s,
            DockerEvent::Logs {
                id: "1".into(),
                lines: vec![line; LOG_CAP + 10],
            },
        );
        let d = s.containers.detail.as_ref().expect("detail");
        assert_eq!(d.logs.len(), LOG_CAP);
        assert_eq!(d.dropped, 10);
        let out = apply_action(&mut s, Action::Back).expect("handled");
        assert_eq!(out.effects, vec![Effect::Docker(DockerCommand::Unwatch)]);
        assert!(s.containers.detail.is_none());
    }

    #[test]
    fn removed_while_shown_marks_the_detail() {
        let mut s = test_state();
        apply_event(
            &mut s,
            DockerEvent::Snapshot(vec![row("1", "a", "running")]),
        );
        apply_action(&mut s, Action::Open);
        apply_event(&mut s, DockerEvent::Removed { id: "1".into() });
        assert!(s.containers.detail.as_ref().expect("detail").gone);
        assert_eq!(list_len(&s), 0);
        // Keys on an empty list do nothing bad.
        assert!(apply_action(&mut s, Action::Reveal).is_some());
    }

    #[test]
    fn reveal_toggles_the_selected_env_value() {
        let mut s = test_state();
        apply_event(
            &mut s,
            DockerEvent::Snapshot(vec![row("1", "a", "running")]),
        );
        apply_action(&mut s, Action::Open);
        let info = ContainerDetail {
            id: "1".into(),
            env: vec![("A".into(), "1".into()), ("SECRET".into(), "s3".into())],
            ..ContainerDetail::default()
        };
        apply_event(&mut s, DockerEvent::Detail(Box::new(info)));
        apply_action(&mut s, Action::Down);
        apply_action(&mut s, Action::Down);
        apply_action(&mut s, Action::Reveal);
        let d = s.containers.detail.as_ref().expect("detail");
        assert_eq!(d.revealed, BTreeSet::from([1]));
        apply_action(&mut s, Action::Reveal);
        assert!(s.containers.detail.as_ref().expect("d").revealed.is_empty());
    }

    #[test]
    fn operator_actions_become_gate_proposals() {
        let mut s = test_state();
        apply_event(
            &mut s,
            DockerEvent::Snapshot(vec![row("1", "web app", "running")]),
        );
        let outcome = apply_action(&mut s, Action::Restart).expect("handled");
        assert_eq!(
            s.containers.proposal,
            Some(ProposedAction {
                command: "docker restart 'web app'".into()
            })
        );
        // Not run directly: handed to the gate as the operator's proposal.
        match outcome.effects.as_slice() {
            [Effect::Gate(crate::gate::GateRequest::Propose(p))] => {
                assert_eq!(p.command, "docker restart 'web app'");
                assert_eq!(p.agent, "operator");
            }
            other => panic!("expected one gate proposal, got {other:?}"),
        }
        assert!(s.flash.as_ref().is_some_and(|f| !f.is_error));
        // The gate's answer: the operator's own pending proposal opens its
        // approval popup at once; someone else's with the same command not.
        let host = s.host.clone();
        let view = |id: &str, agent: &str| crate::gate::ActionView {
            agent: agent.into(),
            fingerprint: "fp".into(),
            ..crate::gate::ActionView::blank(id, &host, "docker restart 'web app'")
        };
        let gate = |s: &mut State, v| {
            crate::app::update::apply_event(
                s,
                crate::app::event::AppEvent::Gate(crate::gate::GateEvent::Changed(Box::new(v))),
            )
        };
        gate(&mut s, view("agent-1", "claude"));
        assert!(
            s.gate.popup.is_none(),
            "an agent's proposal waits in Actions"
        );
        gate(&mut s, view("op-1", crate::app::gate::OPERATOR));
        assert!(
            matches!(&s.gate.popup, Some(crate::app::gate::GatePopup::Approve { id, .. }) if id == "op-1"),
            "{:?}",
            s.gate.popup
        );
        assert_eq!(s.containers.proposal, None);
        assert_eq!(
            propose(Action::Kill, "x;rm").map(|p| p.command),
            Some("docker kill 'x;rm'".into())
        );
        assert_eq!(propose(Action::Up, "x"), None);
    }

    #[test]
    fn timeline_is_bounded() {
        let mut s = test_state();
        for i in 0..TIMELINE_CAP + 5 {
            apply_event(
                &mut s,
                DockerEvent::Timeline(TimelineEntry {
                    time: i as i64,
                    id: "1".into(),
                    name: "a".into(),
                    action: "start".into(),
                    exit_code: None,
                }),
            );
        }
        assert_eq!(s.containers.timeline.len(), TIMELINE_CAP);
        assert_eq!(s.containers.timeline.front().map(|e| e.time), Some(5));
    }
}
