//! The Cost pane's state: the last report from the cost source, or why
//! there is none.

use crate::cost::{CostEvent, CostReport, CostSettings};

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
