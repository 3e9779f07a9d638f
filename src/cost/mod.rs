//! Bandwidth and cost: month-to-date traffic from the host's Netdata (or
//! vnstat, or `/proc/net/dev`), its coverage, projections to the end of the
//! billing period, and what that traffic costs on each pricing plan.
//!
//! Data flows one way: [`source::run`] gathers a [`CostReport`] every few
//! minutes and sends it as an [`CostEvent`]; `update` stores it in
//! [`CostState`]; `ui::cost` draws it. `opscockpit cost HOST` prints the same
//! report once ([`cli`]).

pub mod cli;
pub mod fallback;
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

/// The Cost pane's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CostState {
    /// `None` until `main` resolves the host's settings (the source then
    /// does not run).
    pub settings: Option<CostSettings>,
    pub report: Option<CostReport>,
    pub error: Option<String>,
}

impl CostState {
    pub fn new(settings: CostSettings) -> Self {
        Self {
            settings: Some(settings),
            ..Self::default()
        }
    }

    /// Applies an event; returns whether the screen changes.
    pub fn apply(&mut self, event: CostEvent) -> bool {
        match event {
            CostEvent::Report(report) => {
                self.report = Some(*report);
                self.error = None;
            }
            CostEvent::Error(message) => self.error = Some(message),
        }
        true
    }
}
