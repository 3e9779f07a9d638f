//! Pricing plans as data: the shipped `assets/pricing.toml`, overridden or
//! extended by `[plans.NAME]` in the user's config, and what a month of
//! traffic costs on each.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::toml_file;
use crate::config::{FileError, PlanSpec};

pub const EMBEDDED_NAME: &str = "<embedded assets/pricing.toml>";
const EMBEDDED: &str = include_str!("../../assets/pricing.toml");

const BYTES_PER_GB: f64 = 1e9;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PricingFile {
    #[serde(default)]
    plans: BTreeMap<String, PlanSpec>,
}

/// A complete plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The key in `[plans.KEY]`.
    pub id: String,
    pub name: String,
    pub currency: String,
    pub monthly_base: f64,
    /// `None`: unlimited traffic.
    pub included_egress_gb: Option<f64>,
    /// Overage normalised to per-GB.
    pub overage_per_gb: f64,
    pub ingress_billed: bool,
    pub source_url: String,
    pub date_read: String,
    pub note: Option<String>,
}

/// What one month of traffic costs on a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanCost {
    pub plan: String,
    pub name: String,
    pub currency: String,
    /// Traffic the plan bills, bytes (egress, plus ingress when billed).
    pub billed_bytes: f64,
    pub overage_bytes: f64,
    pub total: f64,
}

impl Plan {
    /// The month's price for `received`/`sent` bytes.
    pub fn cost(&self, received: f64, sent: f64) -> PlanCost {
        let billed_bytes = if self.ingress_billed {
            received + sent
        } else {
            sent
        };
        let overage_bytes = match self.included_egress_gb {
            None => 0.0,
            Some(gb) => (billed_bytes - gb * BYTES_PER_GB).max(0.0),
        };
        PlanCost {
            plan: self.id.clone(),
            name: self.name.clone(),
            currency: self.currency.clone(),
            billed_bytes,
            overage_bytes,
            total: self.monthly_base + overage_bytes / BYTES_PER_GB * self.overage_per_gb,
        }
    }
}

/// All known plans by id.
pub type Plans = BTreeMap<String, Plan>;

/// Parses a pricing file's text (named `file` in errors).
pub fn parse(file: &str, text: &str) -> Result<Plans, FileError> {
    let parsed: PricingFile = toml_file::parse_str(file, text)?;
    let mut plans = Plans::new();
    for (id, spec) in parsed.plans {
        let plan = complete(file, text, &id, &spec, None)?;
        plans.insert(id, plan);
    }
    Ok(plans)
}

/// The shipped plans with the user's `[plans]` laid over them.
pub fn load(
    user: &BTreeMap<String, PlanSpec>,
    user_file: &str,
    user_text: &str,
) -> Result<Plans, FileError> {
    let mut plans = parse(EMBEDDED_NAME, EMBEDDED)?;
    for (id, spec) in user {
        let base = plans.get(id).cloned();
        let plan = complete(user_file, user_text, id, spec, base.as_ref())?;
        plans.insert(id.clone(), plan);
    }
    Ok(plans)
}

/// Shipped plans only.
pub fn embedded() -> Result<Plans, FileError> {
    parse(EMBEDDED_NAME, EMBEDDED)
}

fn complete(
    file: &str,
    text: &str,
    id: &str,
    spec: &PlanSpec,
    base: Option<&Plan>,
) -> Result<Plan, FileError> {
    let err = |key: &str, message: String| {
        let line = find_line(text, id, Some(key)).or_else(|| find_line(text, id, None));
        FileError::new(file, message).at(line, Some(format!("plans.{id}.{key}")))
    };
    let missing = |key: &str| {
        err(
            key,
            format!("plan `{id}` needs `{key}` (see assets/pricing.toml for the keys)"),
        )
    };
    if spec.overage_per_gb.is_some() && spec.overage_per_tb.is_some() {
        return Err(err(
            "overage_per_tb",
            "give overage_per_gb or overage_per_tb, not both".into(),
        ));
    }
    for (key, value) in [
        ("monthly_base", spec.monthly_base),
        ("included_egress_gb", spec.included_egress_gb),
        ("overage_per_gb", spec.overage_per_gb),
        ("overage_per_tb", spec.overage_per_tb),
    ] {
        if let Some(v) = value
            && !(v.is_finite() && v >= 0.0)
        {
            return Err(err(key, format!("must be a number ≥ 0, got {v}")));
        }
    }
    if let Some(date) = &spec.date_read
        && chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err()
    {
        return Err(err(
            "date_read",
            format!("`{date}` is not a date like 2025-08-01"),
        ));
    }
    let overage = spec
        .overage_per_gb
        .or(spec.overage_per_tb.map(|tb| tb / 1000.0));
    let pick_str = |v: &Option<String>, b: Option<&String>, key: &str| {
        v.clone().or_else(|| b.cloned()).ok_or_else(|| missing(key))
    };
    let included = match (spec.included_egress_gb, base) {
        (Some(gb), _) => Some(gb),
        (None, Some(b)) => b.included_egress_gb,
        (None, None) => None,
    };
    let overage_per_gb = match (overage, base) {
        (Some(o), _) => o,
        (None, Some(b)) => b.overage_per_gb,
        (None, None) if included.is_none() => 0.0,
        (None, None) => return Err(missing("overage_per_gb")),
    };
    Ok(Plan {
        id: id.to_string(),
        name: pick_str(&spec.name, base.map(|b| &b.name), "name")?,
        currency: pick_str(&spec.currency, base.map(|b| &b.currency), "currency")?,
        monthly_base: spec
            .monthly_base
            .or(base.map(|b| b.monthly_base))
            .ok_or_else(|| missing("monthly_base"))?,
        included_egress_gb: included,
        overage_per_gb,
        ingress_billed: spec
            .ingress_billed
            .or(base.map(|b| b.ingress_billed))
            .unwrap_or(false),
        source_url: pick_str(&spec.source_url, base.map(|b| &b.source_url), "source_url")?,
        date_read: pick_str(&spec.date_read, base.map(|b| &b.date_read), "date_read")?,
        note: spec
            .note
            .clone()
            .or_else(|| base.and_then(|b| b.note.clone())),
    })
}

/// Line of `[plans.ID]` (or of `key` inside that table) in `text`.
fn find_line(text: &str, id: &str, key: Option<&str>) -> Option<usize> {
    let header = format!("[plans.{id}]");
    let mut in_table = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            if in_table && key.is_some() {
                return None;
            }
            in_table = trimmed == header;
            if in_table && key.is_none() {
                return Some(i + 1);
            }
            continue;
        }
        if in_table
            && let Some(key) = key
            && trimmed.split('=').next().is_some_and(|k| k.trim() == key)
        {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(included: Option<f64>, per_gb: f64, ingress: bool) -> Plan {
        Plan {
            id: "p".into(),
            name: "P".into(),
            currency: "USD".into(),
            monthly_base: 10.0,
            included_egress_gb: included,
            overage_per_gb: per_gb,
            ingress_billed: ingress,
            source_url: "https://example.com".into(),
            date_read: "2025-08-01".into(),
            note: None,
        }
    }

    #[test]
    fn included_amount_is_free_then_overage_per_decimal_gb() {
        let p = plan(Some(500.0), 0.15, false);
        // 1.3 TB out: 800 GB over at $0.15 = $120, plus the base.
        let c = p.cost(5e12, 1.3e12);
        assert!((c.overage_bytes - 800e9).abs() < 1.0);
        assert!((c.total - 130.0).abs() < 1e-9, "{}", c.total);
        // Under the included amount: the base only.
        assert_eq!(p.cost(0.0, 400e9).total, 10.0);
    }

    #[test]
    fn ingress_counts_only_when_billed() {
        let c = plan(Some(0.0), 1.0, true).cost(2e9, 3e9);
        assert!((c.total - 15.0).abs() < 1e-9);
        let c = plan(Some(0.0), 1.0, false).cost(2e9, 3e9);
        assert!((c.total - 13.0).abs() < 1e-9);
    }

    #[test]
    fn unlimited_is_flat() {
        assert_eq!(plan(None, 0.0, false).cost(1e15, 1e15).total, 10.0);
    }

    #[test]
    fn shipped_plans_parse_and_per_tb_is_normalised() {
        let plans = embedded().expect("shipped pricing parses");
        for id in [
            "render-pro",
            "fly",
            "vercel-pro",
            "hetzner-cx22",
            "hetzner-ax42",
            "flat-vps",
        ] {
            assert!(plans.contains_key(id), "{id}");
        }
        assert_eq!(plans["render-pro"].overage_per_gb, 0.15);
        assert!((plans["hetzner-cx22"].overage_per_gb - 0.001).abs() < 1e-12);
        assert_eq!(plans["hetzner-ax42"].included_egress_gb, None);
        // 21 TB on the CX22: 1 TB over at EUR 1/TB.
        let c = plans["hetzner-cx22"].cost(0.0, 21e12);
        assert!((c.total - 4.79).abs() < 1e-9, "{}", c.total);
    }

    #[test]
    fn user_override_changes_only_given_keys_and_new_plans_need_all() {
        let mut user = BTreeMap::new();
        user.insert(
            "render-pro".to_string(),
            PlanSpec {
                monthly_base: Some(38.0),
                ..PlanSpec::default()
            },
        );
        let plans = load(&user, "config.toml", "").expect("override");
        assert_eq!(plans["render-pro"].monthly_base, 38.0);
        assert_eq!(plans["render-pro"].overage_per_gb, 0.15);

        let text = "[plans.mine]\nname = \"Mine\"\ncurrency = \"EUR\"\n";
        let mut user = BTreeMap::new();
        user.insert(
            "mine".to_string(),
            PlanSpec {
                name: Some("Mine".into()),
                currency: Some("EUR".into()),
                ..PlanSpec::default()
            },
        );
        let err = load(&user, "config.toml", text).expect_err("incomplete");
        assert_eq!(err.key.as_deref(), Some("plans.mine.monthly_base"));
        assert_eq!(err.line, Some(1));
    }

    #[test]
    fn malformed_pricing_names_file_line_and_key() {
        let text = "[plans.a]\nname = \"A\"\ncurrency = \"USD\"\nmonthly_base = \"cheap\"\n";
        let err = parse("pricing.toml", text).expect_err("bad type");
        assert_eq!(err.line, Some(4));
        assert_eq!(err.key.as_deref(), Some("plans.a.monthly_base"));
        assert!(
            err.to_string()
                .starts_with("pricing.toml:4: key `plans.a.monthly_base`")
        );

        let text = "[plans.a]\nname = \"A\"\nincluded_gb = 5\n";
        let err = parse("pricing.toml", text).expect_err("unknown key");
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("plans.a.included_gb"));

        let text = "[plans.a]\nname = \"A\"\ncurrency = \"USD\"\nmonthly_base = 1\nincluded_egress_gb = 10\noverage_per_gb = -1\nsource_url = \"u\"\ndate_read = \"2025-01-01\"\n";
        let err = parse("pricing.toml", text).expect_err("negative");
        assert_eq!(err.line, Some(6));
        assert_eq!(err.key.as_deref(), Some("plans.a.overage_per_gb"));

        let text = "[plans.a]\nname = \"A\"\ncurrency = \"USD\"\nmonthly_base = 1\nsource_url = \"u\"\ndate_read = \"last week\"\n";
        let err = parse("pricing.toml", text).expect_err("date");
        assert_eq!(err.line, Some(6));
        assert_eq!(err.key.as_deref(), Some("plans.a.date_read"));
    }
}
