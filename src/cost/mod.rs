//! Bandwidth and cost: month-to-date traffic from the host's Netdata (or
//! vnstat, or `/proc/net/dev`), its coverage, projections to the end of the
//! billing period, and what that traffic costs on each pricing plan.
//!
//! Data flows one way: [`source::run`] gathers a [`CostReport`] every few
//! minutes and sends it as an [`CostEvent`]; `update` stores it in
//! `app::cost::CostState`; `ui::cost` draws it. `opscockpit cost HOST` prints the same
//! report once ([`cli`]).

pub mod cli;
pub mod fallback;
pub mod hcloud;
pub mod netdata;
pub mod netdata_fetch;
pub mod pricing;
pub mod report;
pub mod source;
pub mod traffic;

pub use report::{CostReport, CostSettings};

/// What the cost source reports.
#[derive(Debug, Clone, PartialEq)]
pub enum CostEvent {
    Report(Box<CostReport>),
    /// Gathering failed entirely (the pane keeps the last report).
    Error(String),
}
