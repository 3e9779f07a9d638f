//! Where each pane goes. A pure function of the layout state and the screen
//! size, shared by drawing and by mouse hit-testing so they always agree.
//!
//! The body is split into slots; a slot holds a group of panes and shows the
//! member focused most recently (its title lists the others as tabs). Wide
//! screens give Containers, Alerts and Actions their own slots; at 80×24 they
//! share one. History and Cost share the wide bottom slot with Logs.

use ratatui::layout::{Constraint, Layout, Rect};

use crate::action::PaneId;
use crate::app::state::LayoutState;

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// From this width on, the side panes get a slot each.
const WIDE: u16 = 120;

pub struct Frame {
    pub header: Rect,
    pub body: Rect,
    pub keybar: Rect,
}

pub fn frame(screen: Rect) -> Frame {
    let [header, body, keybar] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(screen);
    Frame {
        header,
        body,
        keybar,
    }
}

pub fn is_too_small(screen: Rect) -> bool {
    screen.width < MIN_WIDTH || screen.height < MIN_HEIGHT
}

/// A slot: its area and the panes that share it.
pub struct Slot {
    pub area: Rect,
    pub members: &'static [PaneId],
}

const BOTTOM: &[PaneId] = &[
    PaneId::Logs,
    PaneId::History,
    PaneId::Cost,
    PaneId::Runbooks,
];
const SIDE: &[PaneId] = &[PaneId::Containers, PaneId::Alerts, PaneId::Actions];

/// The slots of the body, in reading order (columns left to right, each top
/// to bottom): the order of [`PaneId::ALL`], which numbers the panes.
pub fn slots(body: Rect, layout: &LayoutState) -> Vec<Slot> {
    if layout.maximised {
        return vec![Slot {
            area: body,
            members: std::slice::from_ref(member_ref(layout.focus)),
        }];
    }
    if body.width >= WIDE {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)])
                .areas(body);
        let [metrics, bottom] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(left);
        let [containers, alerts, actions] = Layout::vertical([
            Constraint::Percentage(42),
            Constraint::Percentage(23),
            Constraint::Percentage(35),
        ])
        .areas(right);
        vec![
            Slot {
                area: metrics,
                members: &[PaneId::Metrics],
            },
            Slot {
                area: bottom,
                members: BOTTOM,
            },
            Slot {
                area: containers,
                members: &[PaneId::Containers],
            },
            Slot {
                area: alerts,
                members: &[PaneId::Alerts],
            },
            Slot {
                area: actions,
                members: &[PaneId::Actions],
            },
        ]
    } else {
        let [metrics, rest] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
        let [bottom, side] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(rest);
        vec![
            Slot {
                area: metrics,
                members: &[PaneId::Metrics],
            },
            Slot {
                area: bottom,
                members: BOTTOM,
            },
            Slot {
                area: side,
                members: SIDE,
            },
        ]
    }
}

fn member_ref(pane: PaneId) -> &'static PaneId {
    const ALL: [PaneId; 8] = PaneId::ALL;
    &ALL[pane.number() - 1]
}

/// The member a slot shows: the focused one, else the most recently focused.
pub fn shown_member(slot: &Slot, layout: &LayoutState) -> PaneId {
    layout
        .recent
        .iter()
        .find(|p| slot.members.contains(p))
        .copied()
        .unwrap_or(slot.members[0])
}

/// Every visible pane and its area, for drawing and mouse hits.
pub fn pane_areas(screen: Rect, layout: &LayoutState) -> Vec<(PaneId, Rect)> {
    if is_too_small(screen) {
        return Vec::new();
    }
    let body = frame(screen).body;
    slots(body, layout)
        .iter()
        .map(|slot| (shown_member(slot, layout), slot.area))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(focus: PaneId) -> LayoutState {
        let mut l = LayoutState::new(200, 60);
        l.focus_on(focus);
        l
    }

    #[test]
    fn every_pane_is_reachable_and_focused_one_is_shown() {
        for (w, h) in [(80, 24), (200, 60)] {
            for pane in PaneId::ALL {
                let areas = pane_areas(Rect::new(0, 0, w, h), &layout(pane));
                assert!(
                    areas.iter().any(|(p, _)| *p == pane),
                    "{pane:?} hidden at {w}x{h}"
                );
            }
        }
    }

    #[test]
    fn areas_do_not_overlap_and_stay_inside() {
        let screen = Rect::new(0, 0, 200, 60);
        let areas = pane_areas(screen, &layout(PaneId::Metrics));
        for (i, (_, a)) in areas.iter().enumerate() {
            assert!(screen.contains(a.as_position()));
            for (_, b) in &areas[i + 1..] {
                assert!(!a.intersects(*b), "{a:?} overlaps {b:?}");
            }
        }
    }

    #[test]
    fn maximised_takes_the_body() {
        let mut l = layout(PaneId::Logs);
        l.maximised = true;
        let areas = pane_areas(Rect::new(0, 0, 80, 24), &l);
        assert_eq!(areas, vec![(PaneId::Logs, Rect::new(0, 1, 80, 22))]);
    }

    /// Every size the app lays out differently: the narrow layout from the
    /// minimum up to the wide threshold, the wide one from it on.
    const LAYOUT_SIZES: [(u16, u16); 6] = [
        (80, 24),
        (100, 30),
        (WIDE - 1, 40),
        (WIDE, 30),
        (200, 60),
        (320, 90),
    ];

    /// The panes as a reader meets them: slots by their left edge, then by
    /// their top edge (columns left to right, each top to bottom), and the
    /// members of a shared slot in their tab order.
    fn reading_order(screen: Rect) -> Vec<PaneId> {
        let mut slots = slots(frame(screen).body, &layout(PaneId::Metrics));
        slots.sort_by_key(|slot| (slot.area.x, slot.area.y));
        slots
            .iter()
            .flat_map(|slot| slot.members.iter().copied())
            .collect()
    }

    #[test]
    fn pane_numbers_follow_the_reading_order_of_every_layout() {
        for (w, h) in LAYOUT_SIZES {
            let order = reading_order(Rect::new(0, 0, w, h));
            assert_eq!(order, PaneId::ALL, "reading order at {w}x{h}");
            for (i, pane) in order.iter().enumerate() {
                assert_eq!(pane.number(), i + 1, "{pane:?} at {w}x{h}");
            }
        }
    }

    #[test]
    fn tab_visits_the_panes_in_reading_order_and_comes_back() {
        let mut pane = PaneId::Metrics;
        let mut visited = vec![pane];
        for _ in 1..PaneId::ALL.len() {
            pane = pane.next();
            visited.push(pane);
        }
        assert_eq!(visited, PaneId::ALL);
        assert_eq!(pane.next(), PaneId::Metrics);
    }

    #[test]
    fn too_small_has_no_panes() {
        assert!(pane_areas(Rect::new(0, 0, 79, 24), &layout(PaneId::Metrics)).is_empty());
    }
}
