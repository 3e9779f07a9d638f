//! The schema of a pricing plan in TOML, shared by the shipped
//! `assets/pricing.toml` and a user's `[plans.NAME]`. `cost::pricing` turns
//! it into complete plans; config only reads it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the plan's amounts are counted in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum Unit {
    /// Decimal: 10^9 bytes (most providers).
    #[default]
    GB,
    /// Binary: 2^30 bytes (DigitalOcean, Hetzner's byte counts).
    GiB,
}

impl Unit {
    pub fn bytes(self) -> f64 {
        match self {
            Unit::GB => 1e9,
            Unit::GiB => 1_073_741_824.0,
        }
    }

    /// Units in the next larger one (TB or TiB).
    pub fn per_tera(self) -> f64 {
        match self {
            Unit::GB => 1000.0,
            Unit::GiB => 1024.0,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Unit::GB => "GB",
            Unit::GiB => "GiB",
        }
    }
}

/// How a plan's figures were checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Read on the provider's own page.
    Page,
    /// Found only elsewhere (or nowhere): check before relying on it.
    #[default]
    Secondary,
}

impl Confidence {
    pub fn label(self) -> &'static str {
        match self {
            Confidence::Page => "page",
            Confidence::Secondary => "secondary",
        }
    }
}

/// One `[plans.NAME]` table as written: every key optional so a user's
/// override can give only what it changes. Unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    pub name: Option<String>,
    pub currency: Option<String>,
    pub monthly_base: Option<f64>,
    /// `GB` (default) or `GiB`: the unit of the included amount and of the
    /// per-unit and per-block prices.
    pub unit: Option<Unit>,
    /// Units included per month; absent means unlimited.
    pub included_egress_gb: Option<f64>,
    pub overage_per_gb: Option<f64>,
    pub overage_per_tb: Option<f64>,
    /// Block billing: every started block of this many units beyond the
    /// included amount costs `overage_per_block`.
    pub overage_block_gb: Option<f64>,
    pub overage_per_block: Option<f64>,
    /// Overage price per unit by region (`[plans.NAME.regions]`).
    pub regions: Option<BTreeMap<String, f64>>,
    /// The region used unless the host names one this plan lists.
    pub region: Option<String>,
    pub ingress_billed: Option<bool>,
    pub source_url: Option<String>,
    pub date_read: Option<String>,
    pub confidence: Option<Confidence>,
    /// Hetzner Cloud server type whose live prices may replace these.
    pub hcloud_server_type: Option<String>,
    /// Environment variable holding a Hetzner Cloud API token (never the token).
    pub hcloud_token_env: Option<String>,
    pub note: Option<String>,
}
