//! Helpers shared by the integration tests (each test file is its own crate
//! and uses a part of them).
#![allow(dead_code)]

pub mod http;
pub mod proxy;
pub mod sshd;
pub mod tmux;
