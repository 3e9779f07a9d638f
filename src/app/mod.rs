//! The application: the cockpit's state, the one `update` that changes it,
//! and every pane's state with its key handling (one file per pane). The
//! event loop that feeds it lives in `event_loop`; drawing in `ui`.

pub mod alerts;
pub mod containers;
pub mod cost;
pub mod event;
pub mod freshness;
pub mod gate;
pub mod layout;
pub mod logs;
pub mod notify;
pub mod outcome;
pub mod runbooks;
pub mod snapshot;
pub mod state;
pub mod update;
