//! opscockpit: a terminal cockpit for self-hosted servers. See
//! `ARCHITECTURE.md` for how the modules fit together.

pub mod app;
pub mod cli;
pub mod config;
pub mod cost;
pub mod gate;
pub mod logs;
pub mod metrics;
pub mod sources;
pub mod testing;
pub mod text;
pub mod transport;
pub mod tui;
pub mod ui;
