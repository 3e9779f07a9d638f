//! The schema of a pricing plan in TOML, shared by the shipped
//! `assets/pricing.toml` and a user's `[plans.NAME]`. `cost::pricing` turns
//! it into complete plans; config only reads it.

use serde::Deserialize;

/// One `[plans.NAME]` table as written: every key optional so a user's
/// override can give only what it changes. Unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    pub name: Option<String>,
    pub currency: Option<String>,
    pub monthly_base: Option<f64>,
    /// Decimal GB included per month; absent means unlimited.
    pub included_egress_gb: Option<f64>,
    pub overage_per_gb: Option<f64>,
    pub overage_per_tb: Option<f64>,
    pub ingress_billed: Option<bool>,
    pub source_url: Option<String>,
    pub date_read: Option<String>,
    pub note: Option<String>,
}
