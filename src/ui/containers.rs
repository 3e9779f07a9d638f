//! The Containers pane: a sortable, filterable list (columns added as the
//! pane gets wider), or the detail view of one container (inspect data with
//! masked environment values, and its live log tail). Every engine string
//! is drawn through `text::inert`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};
use unicode_width::UnicodeWidthStr;

use crate::action::PaneId;
use crate::app::containers::{DetailState, attention};
use crate::app::layout;
use crate::app::state::{DetailExtent, State};
use crate::containers::{Container, ContainerStats, EngineStatus, LogStream};
use crate::metrics::units::{human_bytes, human_duration};
use crate::text::inert;

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    if let EngineStatus::Unavailable { problem, fix } = &state.containers.engine
        && state.containers.containers.is_empty()
    {
        draw_unavailable(frame, area, state, problem, fix);
        return;
    }
    match &state.containers.detail {
        Some(detail) => draw_detail(frame, area, state, detail),
        None => draw_list(frame, area, state),
    }
}

fn draw_unavailable(frame: &mut Frame, area: Rect, state: &State, problem: &str, fix: &str) {
    let theme = &state.theme;
    let lines = vec![
        Line::from(vec![
            Span::styled(" No container data: ", theme.critical),
            Span::styled(inert(problem), theme.text),
        ]),
        Line::default(),
        Line::from(vec![
            Span::styled(" To fix: ", theme.muted),
            Span::styled(inert(fix), theme.text),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

fn status_spans(state: &State, width: usize) -> Vec<Span<'static>> {
    let theme = &state.theme;
    let c = &state.containers;
    let mut spans = match &c.engine {
        EngineStatus::Connecting => vec![Span::styled(" connecting to the engine…", theme.muted)],
        EngineStatus::Live {
            engine,
            api_version,
        } => vec![
            Span::styled(" ● ", theme.ok),
            Span::styled(inert(engine), theme.text),
            Span::styled(format!(" API {}", inert(api_version)), theme.muted),
        ],
        EngineStatus::Reconnecting { reason } => vec![Span::styled(
            format!(
                " engine lost ({}), reconnecting; list is stale",
                inert(reason)
            ),
            theme.stale,
        )],
        EngineStatus::Fallback { note } => {
            vec![Span::styled(format!(" {}", inert(note)), theme.warning)]
        }
        EngineStatus::Unavailable { problem, .. } => {
            vec![Span::styled(format!(" {}", inert(problem)), theme.critical)]
        }
    };
    let total = c.containers.len();
    let running = c.containers.values().filter(|x| x.is_running()).count();
    // The engine's state comes first and whole (it may be the one thing
    // wrong); the counts and the sort order fill what room is left, each
    // whole or not at all (never `0/0 ru`).
    let used: usize = spans.iter().map(|s| s.content.width()).sum();
    let fields = vec![
        (
            0,
            vec![Span::styled(
                format!("  {running}/{total} running"),
                theme.muted,
            )],
        ),
        (
            1,
            vec![Span::styled(
                format!(
                    "  sort {} {}",
                    c.sort.label(),
                    c.sort.order_words(c.sort_reversed)
                ),
                theme.muted,
            )],
        ),
    ];
    spans.extend(super::fit_fields(fields, width.saturating_sub(used)));
    spans
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    State,
    Cpu,
    Mem,
    Up,
    Restarts,
    Health,
    Image,
    Status,
    Ports,
}

impl Column {
    fn title(self) -> &'static str {
        match self {
            Column::Name => "NAME",
            Column::State => "STATE",
            Column::Cpu => "CPU%",
            Column::Mem => "MEM",
            Column::Up => "UP",
            Column::Restarts => "RST",
            Column::Health => "HEALTH",
            Column::Image => "IMAGE",
            Column::Status => "STATUS",
            Column::Ports => "PORTS",
        }
    }

    fn width(self, wide_mem: bool) -> u16 {
        match self {
            Column::Name => 12,
            Column::State => 10,
            Column::Cpu => 6,
            Column::Mem if wide_mem => 19,
            Column::Mem => 9,
            Column::Up => 12,
            Column::Restarts => 4,
            Column::Health => 9,
            Column::Image => 22,
            Column::Status => 18,
            Column::Ports => 22,
        }
    }
}

/// Columns that fit in `width`, most important first.
fn columns_for(width: u16) -> (Vec<Column>, bool) {
    let wide_mem = width >= 70;
    let order = [
        Column::Name,
        Column::State,
        Column::Cpu,
        Column::Mem,
        Column::Up,
        Column::Restarts,
        Column::Health,
        Column::Image,
        Column::Status,
        Column::Ports,
    ];
    let mut used = 0u16;
    let mut out = Vec::new();
    for col in order {
        let w = col.width(wide_mem) + 1;
        if used + w <= width || col == Column::Name {
            used += w;
            out.push(col);
        }
    }
    (out, wide_mem)
}

fn draw_list(frame: &mut Frame, area: Rect, state: &State) {
    let theme = &state.theme;
    let [status, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        Paragraph::new(Line::from(status_spans(state, usize::from(status.width)))),
        status,
    );
    let list = state.list(PaneId::Containers);
    let rows = state.containers.visible(&list.filter);
    if rows.is_empty() {
        let text = if state.containers.containers.is_empty() {
            match state.containers.engine {
                EngineStatus::Connecting => " waiting for the engine…".to_string(),
                _ => " no containers on this host".to_string(),
            }
        } else {
            format!(
                " no container matches the filter ({} clears it)",
                super::key(state, PaneId::Containers, crate::action::Action::Back)
            )
        };
        frame.render_widget(Paragraph::new(Line::styled(text, theme.muted)), body);
        return;
    }
    let (columns, wide_mem) = columns_for(body.width);
    // The sorted column says so, and which way (`s` cycles, `r` reverses).
    let sorted = sorted_column(state.containers.sort);
    let arrow = if state.containers.sort_reversed {
        "▲"
    } else {
        "▼"
    };
    let header = Row::new(
        columns
            .iter()
            .map(|c| {
                if *c == sorted {
                    Cell::from(Span::styled(
                        format!("{}{arrow}", c.title()),
                        theme.title_focused,
                    ))
                } else {
                    Cell::from(c.title())
                }
            })
            .collect::<Vec<_>>(),
    )
    .style(theme.muted);
    let table_rows: Vec<Row> = rows
        .iter()
        .map(|c| {
            let stats = state.containers.stats.get(&c.id).copied();
            let style = match attention(c) {
                2 => theme.critical,
                1 => theme.warning,
                _ => theme.text,
            };
            Row::new(
                columns
                    .iter()
                    .map(|col| Cell::from(cell_text(*col, c, stats, state.now, wide_mem, &columns)))
                    .collect::<Vec<_>>(),
            )
            .style(style)
        })
        .collect();
    // The name column takes what the others leave, but no more than the
    // longest name needs (a maximised pane keeps its columns together).
    let others: u16 = columns
        .iter()
        .filter(|c| **c != Column::Name)
        .map(|c| c.width(wide_mem) + 1)
        .sum();
    let longest = rows
        .iter()
        .map(|c| {
            u16::try_from(unicode_width::UnicodeWidthStr::width(
                inert(&c.name).as_str(),
            ))
            .unwrap_or(u16::MAX)
        })
        .max()
        .unwrap_or(0);
    let name_width = body
        .width
        .saturating_sub(others + 1)
        .min(longest.clamp(Column::Name.width(wide_mem), 48))
        .max(Column::Name.width(wide_mem));
    let widths: Vec<Constraint> = columns
        .iter()
        .map(|c| match c {
            Column::Name => Constraint::Length(name_width),
            other => Constraint::Length(other.width(wide_mem)),
        })
        .collect();
    let table = Table::new(table_rows, widths)
        .header(header)
        .flex(ratatui::layout::Flex::Start)
        .row_highlight_style(theme.selected);
    let mut table_state = TableState::default().with_selected(Some(list.selected));
    frame.render_stateful_widget(table, body, &mut table_state);
}

/// The column a sort order is by.
fn sorted_column(sort: crate::app::containers::SortColumn) -> Column {
    use crate::app::containers::SortColumn;
    match sort {
        SortColumn::Name => Column::Name,
        SortColumn::State => Column::State,
        SortColumn::Cpu => Column::Cpu,
        SortColumn::Memory => Column::Mem,
        SortColumn::Uptime => Column::Up,
        SortColumn::Restarts => Column::Restarts,
    }
}

fn cell_text(
    col: Column,
    c: &Container,
    stats: Option<ContainerStats>,
    now: i64,
    wide_mem: bool,
    columns: &[Column],
) -> String {
    match col {
        Column::Name => inert(&c.name),
        Column::State => {
            let unhealthy = c.health.as_deref() == Some("unhealthy");
            if c.oom_killed {
                "oom-killed".into()
            } else if unhealthy && !columns.contains(&Column::Health) {
                "unhealthy".into()
            } else {
                inert(&c.state)
            }
        }
        Column::Cpu => match stats.and_then(|s| s.cpu_percent) {
            Some(p) if c.is_running() => format!("{p:5.1}"),
            _ => "    -".into(),
        },
        Column::Mem => match stats {
            Some(s) if c.is_running() => {
                let used = human_bytes(s.mem_used as f64);
                if wide_mem && s.mem_limit > 0 && s.mem_limit < u64::MAX / 2 {
                    format!("{used}/{}", human_bytes(s.mem_limit as f64))
                } else {
                    used
                }
            }
            _ => "-".into(),
        },
        // Running: for how long. Stopped: its exit code and how long ago.
        Column::Up => match (c.started_at, c.exit_code) {
            (Some(t), _) if c.is_running() => human_duration(now.saturating_sub(t).max(0) as u64),
            (_, Some(code)) => match c.finished_at {
                Some(t) => format!(
                    "⏹{code} {}",
                    human_duration(now.saturating_sub(t).max(0) as u64)
                ),
                None => format!("⏹{code}"),
            },
            _ => "-".into(),
        },
        Column::Restarts => c
            .restart_count
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into()),
        Column::Health => c.health.as_deref().map(inert).unwrap_or_else(|| "-".into()),
        Column::Image => inert(&c.image),
        Column::Status => inert(&c.status),
        Column::Ports => inert(&c.ports.join(", ")),
    }
}

fn draw_detail(frame: &mut Frame, area: Rect, state: &State, detail: &DetailState) {
    let theme = &state.theme;
    let mut title = vec![
        Span::styled(" ◂ ", theme.muted),
        Span::styled(inert(&detail.name), theme.title_focused),
    ];
    if let Some(c) = state.containers.containers.get(&detail.id) {
        let style = match attention(c) {
            2 => theme.critical,
            1 => theme.warning,
            _ => theme.ok,
        };
        title.push(Span::styled(format!("  {}", inert(&c.state)), style));
        if let Some(h) = &c.health {
            title.push(Span::styled(format!(" ({})", inert(h)), style));
        }
    }
    if detail.gone {
        title.push(Span::styled("  removed", theme.critical));
    }
    title.push(Span::styled(
        format!(
            "  {} back · {} reveal · {} logs",
            super::key(state, PaneId::Containers, crate::action::Action::Back),
            super::key(state, PaneId::Containers, crate::action::Action::Reveal),
            super::key(
                state,
                PaneId::Containers,
                crate::action::Action::ContainerLogs
            )
        ),
        theme.muted,
    ));
    let (head, info_area, logs_area) = detail_areas(area);
    frame.render_widget(Paragraph::new(Line::from(title)), head);
    draw_info(frame, info_area, state, detail);
    draw_logs(frame, logs_area, state, detail);
}

/// The detail's title row, info and log tail areas within the pane.
fn detail_areas(area: Rect) -> (Rect, Rect, Rect) {
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    if body.width >= 140 {
        let [a, b] = Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)])
            .areas(body);
        (head, a, b)
    } else {
        let info_height = (body.height * 2 / 5).max(3);
        let [a, b] =
            Layout::vertical([Constraint::Length(info_height), Constraint::Min(0)]).areas(body);
        (head, a, b)
    }
}

/// How the open container detail's log tail measures on a `screen` this
/// size: its scroll counts lines up from the newest, so the largest is the
/// one that shows a full screen of the oldest lines.
pub fn detail_extent(state: &State, screen: Rect) -> Option<DetailExtent> {
    let detail = state.containers.detail.as_ref()?;
    let slot = layout::slots(layout::frame(screen).body, &state.layout)
        .into_iter()
        .find(|slot| layout::shown_member(slot, &state.layout) == PaneId::Containers)?;
    let pane = super::pane_block(state, PaneId::Containers, slot.members, slot.area.width)
        .inner(slot.area);
    let (_, _, logs_area) = detail_areas(pane);
    // Below the log tail's top border.
    let rows = logs_area.height.saturating_sub(1);
    Some(DetailExtent {
        pane: PaneId::Containers,
        last_first: u16::try_from(detail.logs.len().saturating_sub(usize::from(rows)))
            .unwrap_or(u16::MAX),
        page: rows,
    })
}

fn draw_info(frame: &mut Frame, area: Rect, state: &State, detail: &DetailState) {
    let theme = &state.theme;
    let Some(info) = &detail.info else {
        let text = detail
            .note
            .as_deref()
            .map(inert)
            .unwrap_or_else(|| "inspecting…".into());
        frame.render_widget(
            Paragraph::new(Line::styled(format!(" {text}"), theme.muted))
                .wrap(Wrap { trim: false }),
            area,
        );
        return;
    };
    let label = |name: &'static str| Span::styled(format!(" {name:<9}"), theme.muted);
    let mut lines: Vec<Line> = vec![
        Line::from(vec![
            label("image"),
            Span::styled(inert(&info.image), theme.text),
        ]),
        Line::from(vec![
            label("command"),
            Span::styled(inert(&info.command), theme.text),
        ]),
        Line::from(vec![
            label("state"),
            Span::styled(inert(&info.state), theme.text),
        ]),
        Line::from(vec![
            label("restart"),
            Span::styled(inert(&info.restart_policy), theme.text),
        ]),
        Line::from(vec![
            label("networks"),
            Span::styled(inert(&info.networks.join(", ")), theme.text),
        ]),
    ];
    let list_block = |lines: &mut Vec<Line>, name: &'static str, items: Vec<String>| {
        if items.is_empty() {
            lines.push(Line::from(vec![
                label(name),
                Span::styled("-", theme.muted),
            ]));
        }
        for (i, item) in items.into_iter().enumerate() {
            let l = if i == 0 {
                label(name)
            } else {
                Span::raw(" ".repeat(10))
            };
            lines.push(Line::from(vec![l, Span::styled(inert(&item), theme.text)]));
        }
    };
    list_block(&mut lines, "mounts", info.mounts.clone());
    list_block(
        &mut lines,
        "labels",
        info.labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
    );
    if info.env.is_empty() {
        lines.push(Line::from(vec![
            label("env"),
            Span::styled("-", theme.muted),
        ]));
    }
    let mut selected_line = 0;
    for (i, (key, value)) in info.env.iter().enumerate() {
        let l = if i == 0 {
            label("env")
        } else {
            Span::raw(" ".repeat(10))
        };
        let shown = if detail.revealed.contains(&i) {
            inert(value)
        } else {
            "***".into()
        };
        let style = if detail.env_touched && i == detail.env_selected {
            selected_line = lines.len();
            theme.selected
        } else {
            theme.text
        };
        lines.push(Line::from(vec![
            l,
            Span::styled(format!("{}={shown}", inert(key)), style),
        ]));
    }
    // Keep the selected env variable in view.
    let height = usize::from(area.height);
    let scroll = selected_line.saturating_sub(height.saturating_sub(1));
    frame.render_widget(
        Paragraph::new(lines).scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0)),
        area,
    );
}

fn draw_logs(frame: &mut Frame, area: Rect, state: &State, detail: &DetailState) {
    let theme = &state.theme;
    let mut title = vec![Span::styled(" logs ", theme.title)];
    if detail.scroll > 0 {
        title.push(Span::styled(
            format!("↑{} (End follows) ", detail.scroll),
            theme.warning,
        ));
    } else {
        title.push(Span::styled("following ", theme.muted));
    }
    if detail.dropped > 0 {
        title.push(Span::styled(
            format!("{} older dropped ", detail.dropped),
            theme.muted,
        ));
    }
    if let Some(note) = &detail.note
        && detail.info.is_some()
    {
        title.push(Span::styled(format!("· {} ", inert(note)), theme.stale));
    }
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.border)
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = usize::from(inner.height);
    let end = detail.logs.len().saturating_sub(detail.scroll);
    let start = end.saturating_sub(height);
    let lines: Vec<Line> = detail
        .logs
        .range(start..end)
        .map(|entry| {
            let time = entry
                .time
                .map(|t| crate::ui::metrics::time_of_day(state, t))
                .unwrap_or_else(|| "        ".into());
            let style: Style = if entry.stream == LogStream::Stderr {
                theme.warning
            } else {
                theme.text
            };
            Line::from(vec![
                Span::styled(format!("{time} "), theme.muted),
                Span::styled(entry.text.clone(), style),
            ])
        })
        .collect();
    if lines.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(" no log lines yet", theme.muted)),
            inner,
        );
        return;
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::containers::DetailState;
    use crate::app::update;
    use crate::config::{Keymap, ThemeSet};
    use crate::containers::{ContainerDetail, DockerEvent, LogEntry};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    const NOW: i64 = 1_795_450_000;

    fn state() -> State {
        let themes = ThemeSet::load(None, false).expect("themes");
        let theme = themes.get("dark").expect("dark");
        let keymap = Keymap::load("default", None).expect("keymap");
        let mut s = State::new("local", "local", themes, theme, keymap);
        s.utc = true;
        s.now = NOW;
        s.layout.focus_on(PaneId::Containers);
        update::apply_event(
            &mut s,
            crate::app::event::AppEvent::Docker(DockerEvent::Status(EngineStatus::Live {
                engine: "Podman Engine 4.3.1".into(),
                api_version: "1.41".into(),
            })),
        );
        let mut web = Container {
            id: "a1".into(),
            name: "bed-web".into(),
            image: "localhost/bed-busybox:latest".into(),
            state: "running".into(),
            status: "Up".into(),
            started_at: Some(NOW - 3725),
            restart_count: Some(0),
            ports: vec!["0.0.0.0:8080->80/tcp".into()],
            ..Container::default()
        };
        let mut sick = web.clone();
        sick.id = "b2".into();
        sick.name = "api\x1b[31m-evil".into();
        sick.health = Some("unhealthy".into());
        sick.restart_count = Some(4);
        sick.started_at = Some(NOW - 42);
        let dead = Container {
            id: "c3".into(),
            name: "batch".into(),
            image: "busybox".into(),
            state: "exited".into(),
            status: "Exited (137), OOM killed".into(),
            exit_code: Some(137),
            oom_killed: true,
            restart_count: Some(1),
            ..Container::default()
        };
        web.health = Some("healthy".into());
        let event = DockerEvent::Snapshot(vec![web, sick, dead]);
        update::apply_event(&mut s, crate::app::event::AppEvent::Docker(event));
        for (id, cpu, used) in [("a1", 12.5, 5_000_000), ("b2", 0.3, 90_000_000)] {
            let stats = ContainerStats {
                cpu_percent: Some(cpu),
                mem_used: used,
                mem_limit: 134_217_728,
            };
            let event = DockerEvent::Stats {
                id: id.into(),
                stats,
            };
            update::apply_event(&mut s, crate::app::event::AppEvent::Docker(event));
        }
        s
    }

    fn with_detail(mut s: State) -> State {
        let mut d = DetailState {
            id: "a1".into(),
            name: "bed-web".into(),
            info: Some(ContainerDetail {
                id: "a1".into(),
                name: "bed-web".into(),
                image: "localhost/bed-busybox:latest".into(),
                command: "/bin/sh -c 'while :; do echo hi; done'".into(),
                created: "2026-11-23T15:09:14Z".into(),
                state: "running (restarts 0)".into(),
                restart_policy: "on-failure (max 3)".into(),
                mounts: vec!["bind /srv/data -> /data".into()],
                networks: vec!["none".into()],
                labels: vec![("opscockpit.bed".into(), "1".into())],
                env: vec![
                    ("PATH".into(), "/bin".into()),
                    ("DB_PASSWORD".into(), "hunter2".into()),
                    ("API_TOKEN".into(), "tok-123".into()),
                ],
                tty: false,
            }),
            note: None,
            logs: Default::default(),
            dropped: 0,
            env_selected: 1,
            env_touched: true,
            revealed: [0].into_iter().collect(),
            scroll: 0,
            gone: false,
        };
        for i in 0..40 {
            d.logs.push_back(LogEntry {
                time: Some(NOW - 40 + i),
                stream: if i % 4 == 0 {
                    LogStream::Stderr
                } else {
                    LogStream::Stdout
                },
                text: crate::text::inert(&format!("GET /index.html 200 n={i}\x1b[2J")),
            });
        }
        s.containers.detail = Some(d);
        s
    }

    fn render(state: &State, w: u16, h: u16) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        terminal.draw(|f| crate::ui::draw(f, state)).expect("draw");
        terminal
    }

    #[test]
    fn list_80x24() {
        insta::assert_snapshot!(render(&state(), 80, 24).backend());
    }

    #[test]
    fn list_200x60() {
        insta::assert_snapshot!(render(&state(), 200, 60).backend());
    }

    #[test]
    fn list_maximised_200x60_shows_every_column() {
        let mut s = state();
        s.layout.maximised = true;
        insta::assert_snapshot!(render(&s, 200, 60).backend());
    }

    /// Exited containers show their exit code and how long ago; the sorted
    /// column is marked with its direction.
    #[test]
    fn exit_code_age_and_sorted_column() {
        let mut s = state();
        let batch = s
            .containers
            .containers
            .values_mut()
            .find(|c| c.name == "batch")
            .expect("batch");
        batch.finished_at = Some(NOW - 300);
        s.containers.sort = crate::app::containers::SortColumn::Restarts;
        s.containers.sort_reversed = true;
        s.layout.maximised = true;
        let terminal = render(&s, 200, 60);
        let screen = format!("{:?}", terminal.backend());
        assert!(screen.contains("⏹137 5m00s"), "{screen}");
        assert!(screen.contains("RST▲"), "{screen}");
        assert!(!screen.contains("NAME▼"), "{screen}");
        insta::assert_snapshot!(terminal.backend());
    }

    /// At 80×24 the status row keeps the engine's state whole and drops the
    /// count or the sort order that does not fit, never cutting one.
    #[test]
    fn status_row_drops_whole_fields_at_80_columns() {
        let status_row = |s: &State| {
            let screen = format!("{:?}", render(s, 80, 24).backend());
            screen
                .lines()
                .find(|l| l.contains("Podman Engine 4.3.1 API 1.41"))
                .unwrap_or_default()
                .to_string()
        };
        // In the side slot: no room after the engine, so neither field.
        let mut s = state();
        let side = status_row(&s);
        assert!(!side.contains('/') && !side.contains("sort"), "{side}");
        // Maximised: both, whole.
        s.layout.maximised = true;
        let full = status_row(&s);
        assert!(
            full.contains("running") && full.contains("sort name a→z"),
            "{full}"
        );
    }

    /// `s` moves the sort to the next column and `r` turns it around: the
    /// header marks the column and direction, the status row says it in
    /// words, and help says why reversing is not `S` (stop).
    #[test]
    fn sort_keys_mark_the_column_and_say_the_direction() {
        use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let press = |s: &mut State, c: char| {
            crate::app::update::handle_key(s, KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
        };
        let mut s = state();
        s.layout.maximised = true;
        let screen = format!("{:?}", render(&s, 200, 60).backend());
        assert!(
            screen.contains("NAME▼") && screen.contains("sort name a→z"),
            "{screen}"
        );
        press(&mut s, 's');
        press(&mut s, 's');
        let screen = format!("{:?}", render(&s, 200, 60).backend());
        assert!(
            screen.contains("CPU%▼") && screen.contains("sort cpu highest first"),
            "{screen}"
        );
        press(&mut s, 'r');
        assert!(s.containers.sort_reversed);
        let screen = format!("{:?}", render(&s, 200, 60).backend());
        assert!(
            screen.contains("CPU%▲") && screen.contains("sort cpu lowest first"),
            "{screen}"
        );
        crate::app::update::apply_action(&mut s, crate::action::Action::Help);
        let screen = format!("{:?}", render(&s, 200, 60).backend());
        assert!(
            screen.contains("(R S T K act on the container: not S)"),
            "{screen}"
        );
    }

    /// A detail opens at its top (image, command, state), not scrolled to
    /// the environment; moving into the env scrolls there.
    #[test]
    fn detail_opens_at_the_top() {
        let mut s = with_detail(state());
        let d = s.containers.detail.as_mut().expect("detail");
        d.env_touched = false;
        d.env_selected = 0;
        d.revealed.clear();
        let screen = format!("{:?}", render(&s, 80, 24).backend());
        assert!(
            screen.contains("image    localhost/bed-busybox"),
            "{screen}"
        );
        assert!(screen.contains("command"), "{screen}");
        insta::assert_snapshot!(render(&s, 80, 24).backend());
    }

    #[test]
    fn detail_80x24() {
        insta::assert_snapshot!(render(&with_detail(state()), 80, 24).backend());
    }

    #[test]
    fn detail_200x60() {
        let mut s = with_detail(state());
        s.layout.maximised = true;
        insta::assert_snapshot!(render(&s, 200, 60).backend());
    }

    #[test]
    fn unavailable_80x24() {
        let mut s = state();
        s.containers.containers.clear();
        s.containers.engine = EngineStatus::Unavailable {
            problem: "cannot open the Docker socket /var/run/docker.sock, and there is no `docker` command".into(),
            fix: "start the engine, or set `docker_socket` for this host in config.toml".into(),
        };
        insta::assert_snapshot!(render(&s, 80, 24).backend());
    }

    #[test]
    fn masked_values_never_drawn_and_controls_inert() {
        let s = with_detail(state());
        let mut s2 = s.clone();
        s2.layout.maximised = true;
        let text = format!("{:?}", render(&s2, 200, 60).backend());
        assert!(!text.contains("hunter2"), "masked value leaked");
        assert!(!text.contains("tok-123"));
        assert!(text.contains("PATH=/bin"), "revealed value shown");
        assert!(text.contains("DB_PASSWORD=***"));
        assert!(!text.contains('\x1b'));
        let list = format!("{:?}", render(&state(), 200, 60).backend());
        assert!(list.contains("api␛[31m-evil"));
    }
}
