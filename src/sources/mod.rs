//! Data sources: tasks that read from the target through a
//! [`Transport`](crate::transport::Transport) and send typed events to the
//! event loop. Sources never touch the UI.

pub mod docker;
pub mod netdata;
pub mod procfs;
