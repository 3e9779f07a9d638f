//! opscockpit: a terminal cockpit for self-hosted servers. See
//! `ARCHITECTURE.md` for how the modules fit together.

pub mod action;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub mod agent;
pub mod app;
pub mod channel;
pub mod cli;
pub mod config;
pub mod containers;
pub mod cost;
pub mod event_loop;
pub mod gate;
pub mod hook;
pub mod logs;
pub mod mcp;
pub mod metrics;
pub mod notify;
pub mod outcome;
pub mod redraw;
pub mod runbooks;
pub mod secrets;
pub mod settle;
pub mod sources;
pub mod testing;
pub mod text;
pub mod transport;
pub mod tui;
pub mod ui;
