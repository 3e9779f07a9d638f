//! Pricing plans as data: the shipped `assets/pricing.toml`, overridden or
//! extended by `[plans.NAME]` in the user's config, and what a month of
//! traffic costs on each.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::plan::{Confidence, Unit};
use crate::config::toml_file;
use crate::config::{FileError, PlanSpec};

pub const EMBEDDED_NAME: &str = "<embedded assets/pricing.toml>";
const EMBEDDED: &str = include_str!("../../assets/pricing.toml");

/// A price read longer ago than this is marked "check source".
pub const STALE_AFTER_DAYS: i64 = 180;

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
    /// What the included amount and the prices are counted in.
    pub unit: Unit,
    /// Units included per month; `None`: unlimited traffic.
    pub included_egress_gb: Option<f64>,
    /// Overage per unit (normalised from per-TB/TiB), without a region.
    pub overage_per_gb: f64,
    /// Block billing: every started block of this many units costs
    /// `overage_per_block`.
    pub overage_block_gb: Option<f64>,
    pub overage_per_block: Option<f64>,
    /// Overage per unit by region.
    pub regions: BTreeMap<String, f64>,
    /// The region whose rate is used (the plan's default or the host's).
    pub region: Option<String>,
    pub ingress_billed: bool,
    pub source_url: String,
    pub date_read: String,
    pub confidence: Confidence,
    pub hcloud_server_type: Option<String>,
    pub hcloud_token_env: Option<String>,
    pub note: Option<String>,
    /// Set when the prices were read live (e.g. from the Hetzner Cloud API)
    /// instead of from the file: where from.
    pub live: Option<String>,
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
    /// Started blocks billed (block plans only).
    pub blocks: Option<u64>,
    /// The region whose rate was used.
    pub region: Option<String>,
    pub total: f64,
}

impl Plan {
    /// The overage price per unit in the plan's region.
    pub fn rate(&self) -> f64 {
        self.region
            .as_ref()
            .and_then(|r| self.regions.get(r))
            .copied()
            .unwrap_or(self.overage_per_gb)
    }

    /// Uses `region`'s rate when the plan lists it; returns whether it does.
    pub fn select_region(&mut self, region: &str) -> bool {
        if self.regions.contains_key(region) {
            self.region = Some(region.to_string());
            true
        } else {
            false
        }
    }

    /// Whether `date_read` is older than [`STALE_AFTER_DAYS`] at `now`
    /// (live prices are never stale).
    pub fn stale(&self, now: i64) -> bool {
        if self.live.is_some() {
            return false;
        }
        let today = super::traffic::utc_date(now);
        chrono::NaiveDate::parse_from_str(&self.date_read, "%Y-%m-%d")
            .map(|read| (today - read).num_days() > STALE_AFTER_DAYS)
            .unwrap_or(true)
    }

    /// The month's price for `received`/`sent` bytes, as the invoice has
    /// it: blocks started are billed whole.
    pub fn cost(&self, received: f64, sent: f64) -> PlanCost {
        let billed_bytes = if self.ingress_billed {
            received + sent
        } else {
            sent
        };
        let unit = self.unit.bytes();
        let overage_bytes = match self.included_egress_gb {
            None => 0.0,
            Some(included) => (billed_bytes - included * unit).max(0.0),
        };
        let over_units = overage_bytes / unit;
        let (blocks, overage) = match (self.overage_block_gb, self.overage_per_block) {
            (Some(size), Some(price)) if size > 0.0 && self.included_egress_gb.is_some() => {
                // A hair of float noise must not start a block.
                let blocks = (over_units / size - 1e-9).ceil().max(0.0);
                (Some(blocks as u64), blocks * price)
            }
            _ => (None, over_units * self.rate()),
        };
        PlanCost {
            plan: self.id.clone(),
            name: self.name.clone(),
            currency: self.currency.clone(),
            billed_bytes,
            overage_bytes,
            blocks,
            region: self.region.clone(),
            total: self.monthly_base + overage,
        }
    }

    /// `USD 0.15/GB`, `USD 15.00 per 100 GB block`, `unlimited`.
    pub fn describe_overage(&self) -> String {
        let unit = self.unit.label();
        match (
            self.included_egress_gb,
            self.overage_block_gb,
            self.overage_per_block,
        ) {
            (None, _, _) => "traffic unlimited".into(),
            (Some(inc), Some(size), Some(price)) => format!(
                "{inc} {unit} included, then {price:.2} {} per started {size} {unit}",
                self.currency
            ),
            (Some(inc), _, _) => format!(
                "{inc} {unit} included, then {} {}/{unit}",
                trim_price(self.rate()),
                self.currency
            ),
        }
    }
}

fn trim_price(v: f64) -> String {
    let s = format!("{v:.10}");
    let s = s.trim_end_matches('0');
    let s = s.strip_suffix('.').unwrap_or(s);
    s.to_string()
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
    let table = format!("plans.{id}");
    let err = |key: &str, message: String| {
        let line = if key == "regions" {
            find_line(text, &format!("{table}.regions"), None)
                .or_else(|| find_line(text, &table, Some(key)))
        } else {
            find_line(text, &table, Some(key))
        }
        .or_else(|| find_line(text, &table, None));
        FileError::new(file, message).at(line, Some(format!("{table}.{key}")))
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
    let per_unit_given = spec.overage_per_gb.is_some() || spec.overage_per_tb.is_some();
    match (spec.overage_block_gb, spec.overage_per_block) {
        (Some(_), None) => return Err(missing("overage_per_block")),
        (None, Some(_)) => return Err(missing("overage_block_gb")),
        (Some(_), Some(_)) if per_unit_given => {
            return Err(err(
                "overage_block_gb",
                "give a per-unit price (overage_per_gb/overage_per_tb) or a block \
                 (overage_block_gb + overage_per_block), not both"
                    .into(),
            ));
        }
        _ => {}
    }
    for (key, value) in [
        ("monthly_base", spec.monthly_base),
        ("included_egress_gb", spec.included_egress_gb),
        ("overage_per_gb", spec.overage_per_gb),
        ("overage_per_tb", spec.overage_per_tb),
        ("overage_per_block", spec.overage_per_block),
    ] {
        if let Some(v) = value
            && !(v.is_finite() && v >= 0.0)
        {
            return Err(err(key, format!("must be a number ≥ 0, got {v}")));
        }
    }
    if let Some(v) = spec.overage_block_gb
        && !(v.is_finite() && v > 0.0)
    {
        return Err(err(
            "overage_block_gb",
            format!("must be a block size > 0, got {v}"),
        ));
    }
    for (region, v) in spec.regions.iter().flatten() {
        if !(v.is_finite() && *v >= 0.0) {
            return Err(err(
                "regions",
                format!("region `{region}`: the price per unit must be a number ≥ 0, got {v}"),
            ));
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
    let unit = spec.unit.or(base.map(|b| b.unit)).unwrap_or_default();
    let overage = spec
        .overage_per_gb
        .or(spec.overage_per_tb.map(|tb| tb / unit.per_tera()));
    let (block_size, block_price) = match (spec.overage_block_gb, spec.overage_per_block) {
        (Some(s), Some(p)) => (Some(s), Some(p)),
        // A per-unit price in an override replaces the base's block.
        _ if per_unit_given => (None, None),
        _ => (
            base.and_then(|b| b.overage_block_gb),
            base.and_then(|b| b.overage_per_block),
        ),
    };
    // An override that gives its own price (per unit or per block) and no
    // regions means that price: the base's regional rates do not carry over.
    let own_price = per_unit_given || spec.overage_block_gb.is_some();
    let inherit_regions = !own_price || spec.region.is_some();
    let regions = spec
        .regions
        .clone()
        .or_else(|| base.filter(|_| inherit_regions).map(|b| b.regions.clone()))
        .unwrap_or_default();
    if !regions.is_empty() && block_size.is_some() {
        return Err(err(
            "regions",
            "regional prices are per unit; a block plan cannot have them".into(),
        ));
    }
    let region = spec.region.clone().or_else(|| {
        base.filter(|_| inherit_regions || spec.regions.is_some())
            .and_then(|b| b.region.clone())
    });
    if let Some(r) = &region
        && !regions.contains_key(r)
    {
        return Err(err(
            "region",
            if regions.is_empty() {
                format!("region `{r}`, but the plan has no [{table}.regions]")
            } else {
                format!(
                    "unknown region `{r}`; this plan lists: {}",
                    regions.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            },
        ));
    }
    let pick_str = |v: &Option<String>, b: Option<&String>, key: &str| {
        v.clone().or_else(|| b.cloned()).ok_or_else(|| missing(key))
    };
    let included = match (spec.included_egress_gb, base) {
        (Some(gb), _) => Some(gb),
        (None, Some(b)) => b.included_egress_gb,
        (None, None) => None,
    };
    let regional = region.as_ref().and_then(|r| regions.get(r)).copied();
    let overage_per_gb = match (overage, base) {
        (Some(o), _) => o,
        (None, Some(b)) => b.overage_per_gb,
        (None, None) if included.is_none() || block_size.is_some() => 0.0,
        (None, None) => match regional {
            Some(r) => r,
            None => return Err(missing("overage_per_gb")),
        },
    };
    Ok(Plan {
        id: id.to_string(),
        name: pick_str(&spec.name, base.map(|b| &b.name), "name")?,
        currency: pick_str(&spec.currency, base.map(|b| &b.currency), "currency")?,
        monthly_base: spec
            .monthly_base
            .or(base.map(|b| b.monthly_base))
            .ok_or_else(|| missing("monthly_base"))?,
        unit,
        included_egress_gb: included,
        overage_per_gb,
        overage_block_gb: block_size,
        overage_per_block: block_price,
        regions,
        region,
        ingress_billed: spec
            .ingress_billed
            .or(base.map(|b| b.ingress_billed))
            .unwrap_or(false),
        source_url: pick_str(&spec.source_url, base.map(|b| &b.source_url), "source_url")?,
        date_read: pick_str(&spec.date_read, base.map(|b| &b.date_read), "date_read")?,
        confidence: spec
            .confidence
            .or(base.map(|b| b.confidence))
            .unwrap_or_default(),
        hcloud_server_type: spec
            .hcloud_server_type
            .clone()
            .or_else(|| base.and_then(|b| b.hcloud_server_type.clone())),
        hcloud_token_env: spec
            .hcloud_token_env
            .clone()
            .or_else(|| base.and_then(|b| b.hcloud_token_env.clone())),
        note: spec
            .note
            .clone()
            .or_else(|| base.and_then(|b| b.note.clone())),
        live: None,
    })
}

/// Line of `[TABLE]` (or of `key` inside that table) in `text`, e.g.
/// `plans.fly` or `hosts.web`.
pub fn find_line(text: &str, table: &str, key: Option<&str>) -> Option<usize> {
    let header = format!("[{table}]");
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
            unit: Unit::GB,
            included_egress_gb: included,
            overage_per_gb: per_gb,
            overage_block_gb: None,
            overage_per_block: None,
            regions: BTreeMap::new(),
            region: None,
            ingress_billed: ingress,
            source_url: "https://example.com".into(),
            date_read: "2025-08-01".into(),
            confidence: Confidence::Page,
            hcloud_server_type: None,
            hcloud_token_env: None,
            note: None,
            live: None,
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
        for plan in plans.values() {
            assert!(plan.source_url.starts_with("https://"), "{}", plan.id);
        }
        assert_eq!(plans["render-hobby"].overage_per_gb, 0.15);
        assert_eq!(
            plans["render-professional-legacy"].overage_block_gb,
            Some(100.0)
        );
        assert_eq!(plans["hetzner-cx23"].unit, Unit::GiB);
        assert_eq!(plans["hetzner-cx23"].region.as_deref(), Some("fsn1"));
        assert_eq!(plans["fly"].confidence, Confidence::Page);
        assert_eq!(plans["hetzner-ax42"].included_egress_gb, None);
        // 21 TiB on the CX23: 1 TiB over at EUR 1/TiB.
        let c = plans["hetzner-cx23"].cost(0.0, 21.0 * 1_099_511_627_776.0);
        assert!((c.total - 6.49).abs() < 1e-9, "{}", c.total);
        // An override giving overage_per_tb on a GiB plan means per TiB.
        let text = "[plans.hetzner-cx23]\noverage_per_tb = 2.048\n";
        let user: BTreeMap<String, PlanSpec> = toml_file::parse_str::<PricingFile>("c.toml", text)
            .expect("parses")
            .plans;
        let plans = load(&user, "c.toml", text).expect("override");
        assert!((plans["hetzner-cx23"].overage_per_gb - 0.002).abs() < 1e-12);
    }

    /// 1.3 TB (decimal: 1.3e12 bytes) sent in a month, nothing billed for
    /// inbound: what each shipped plan's invoice says, worked out by hand.
    #[test]
    fn a_month_of_1_3_tb_on_every_shipped_plan_is_the_invoice_amount() {
        const GIB: f64 = 1_073_741_824.0;
        let sent = 1.3e12;
        let expected: &[(&str, f64)] = &[
            // 100 GB included; 1200 GB over = 12 blocks of 100 GB × $15.
            ("render-hobby-legacy", 12.0 * 15.0),
            // $19 + (1300 - 500) GB = 8 blocks × $15 = $120.
            ("render-professional-legacy", 19.0 + 8.0 * 15.0),
            // (1300 - 5) GB × $0.15 = $194.25, per GB, no blocks.
            ("render-hobby", 1295.0 * 0.15),
            // No allowance; north_america (default region) $0.02 × 1300 GB.
            ("fly", 1300.0 * 0.02),
            // $20 + (1300 - 1000) GB × $0.15 (iad1, the default region).
            ("vercel-pro", 20.0 + 300.0 * 0.15),
            // $20 + 300 GB over starts one 49 000 GB tier block of $20.
            ("vercel-pro-flat-cdn", 20.0 + 20.0),
            // 1.3e12 B = 1210.72 GiB, under the 20 480 GiB included: base only.
            ("hetzner-cx23", 5.49),
            // Unlimited traffic: base only.
            ("hetzner-ax42", 46.0),
            // 1.3e12 B / 2^30 = 1210.719347 GiB; 710.719347 GiB over × $0.01
            // = $7.107193; plus $4 = $11.107193 (GiB, not GB: not $12).
            ("do-basic-4", 4.0 + (sent / GIB - 500.0) * 0.01),
        ];
        let plans = embedded().expect("shipped pricing parses");
        assert_eq!(
            plans.keys().map(String::as_str).collect::<Vec<_>>(),
            {
                let mut ids: Vec<&str> = expected.iter().map(|(id, _)| *id).collect();
                ids.sort();
                ids
            },
            "every shipped plan has its hand-computed invoice here"
        );
        for (id, total) in expected {
            let c = plans[*id].cost(7e12, sent);
            assert!(
                (c.total - total).abs() < 1e-9,
                "{id}: {} != {total}",
                c.total
            );
        }
        assert!((plans["do-basic-4"].cost(0.0, sent).total - 11.107193).abs() < 1e-6);
        assert_eq!(
            plans["render-hobby-legacy"].cost(0.0, sent).blocks,
            Some(12)
        );
        // A started block is billed whole: 1150 GB over is 12 blocks too.
        let c = plans["render-hobby-legacy"].cost(0.0, 1.25e12);
        assert_eq!((c.blocks, c.total), (Some(12), 180.0));
        // Under the included amount: no block.
        let c = plans["render-hobby-legacy"].cost(0.0, 100e9);
        assert_eq!((c.blocks, c.total), (Some(0), 0.0));
    }

    #[test]
    fn regions_pick_the_rate_and_unknown_regions_are_errors() {
        let plans = embedded().expect("plans");
        let mut fly = plans["fly"].clone();
        assert!(fly.select_region("africa"));
        let c = fly.cost(0.0, 100e9);
        assert!((c.total - 12.0).abs() < 1e-9);
        assert_eq!(c.region.as_deref(), Some("africa"));
        assert!(!fly.select_region("mars"));

        let text = "[plans.a]\nname = \"A\"\ncurrency = \"USD\"\nmonthly_base = 0\nincluded_egress_gb = 0\nregion = \"eu\"\nsource_url = \"u\"\ndate_read = \"2026-01-01\"\n\n[plans.a.regions]\nus = 0.1\n";
        let err = parse("pricing.toml", text).expect_err("unknown region");
        assert_eq!(err.line, Some(6));
        assert_eq!(err.key.as_deref(), Some("plans.a.region"));
        assert!(
            err.message
                .contains("unknown region `eu`; this plan lists: us"),
            "{err}"
        );
        // Without a fallback price, the default region's rate is the price.
        let ok = text.replace("region = \"eu\"", "region = \"us\"");
        let plans = parse("pricing.toml", &ok).expect("parses");
        assert_eq!(plans["a"].rate(), 0.1);
    }

    #[test]
    fn malformed_regions_and_unknown_units_are_clear_errors() {
        let head = "[plans.a]\nname = \"A\"\ncurrency = \"USD\"\nmonthly_base = 1\nincluded_egress_gb = 1\noverage_per_gb = 1\nsource_url = \"u\"\ndate_read = \"2026-01-01\"\n";
        // A price that is not a number.
        let text = format!("{head}\n[plans.a.regions]\nfsn1 = \"cheap\"\n");
        let err = parse("pricing.toml", &text).expect_err("string price");
        assert_eq!(err.line, Some(11), "{err}");
        assert_eq!(err.key.as_deref(), Some("plans.a.regions.fsn1"));
        // `regions` that is not a table.
        let text = head.replace(
            "overage_per_gb = 1\n",
            "overage_per_gb = 1\nregions = \"fsn1\"\n",
        );
        let err = parse("pricing.toml", &text).expect_err("not a table");
        assert_eq!(err.line, Some(7), "{err}");
        assert_eq!(err.key.as_deref(), Some("plans.a.regions"));
        // A negative regional price.
        let text = format!("{head}\n[plans.a.regions]\nfsn1 = -1\n");
        let err = parse("pricing.toml", &text).expect_err("negative");
        assert_eq!(err.line, Some(10), "{err}");
        assert!(err.message.contains("region `fsn1`"), "{err}");
        // An unknown unit.
        let text = head.replace("monthly_base = 1\n", "monthly_base = 1\nunit = \"TB\"\n");
        let err = parse("pricing.toml", &text).expect_err("unit");
        assert_eq!(err.line, Some(5), "{err}");
        assert_eq!(err.key.as_deref(), Some("plans.a.unit"));
        assert!(err.message.contains("`GB`"), "{err}");
        // A block without its price, and a block next to a per-GB price.
        let text = head.replace("overage_per_gb = 1\n", "overage_block_gb = 100\n");
        let err = parse("pricing.toml", &text).expect_err("block price");
        assert_eq!(err.key.as_deref(), Some("plans.a.overage_per_block"));
        let text = head.replace(
            "overage_per_gb = 1\n",
            "overage_per_gb = 1\noverage_block_gb = 100\noverage_per_block = 5\n",
        );
        let err = parse("pricing.toml", &text).expect_err("both");
        assert_eq!(err.line, Some(7), "{err}");
        // An unknown confidence.
        let text = format!("{head}confidence = \"sure\"\n");
        let err = parse("pricing.toml", &text).expect_err("confidence");
        assert_eq!(err.key.as_deref(), Some("plans.a.confidence"));
    }

    #[test]
    fn an_override_with_its_own_price_drops_the_base_regions() {
        let text = "[plans.fly]\noverage_per_gb = 0.03\n\n[plans.render-hobby-legacy]\noverage_per_gb = 0.1\n\n[plans.vercel-pro]\nmonthly_base = 25.0\n";
        let user = toml_file::parse_str::<PricingFile>("c.toml", text)
            .expect("parses")
            .plans;
        let plans = load(&user, "c.toml", text).expect("overrides");
        assert_eq!(
            (plans["fly"].rate(), plans["fly"].region.as_deref()),
            (0.03, None)
        );
        // A per-GB price replaces the base's block.
        let c = plans["render-hobby-legacy"].cost(0.0, 150e9);
        assert_eq!((c.blocks, (c.total * 100.0).round()), (None, 500.0));
        // An override of something else keeps the regions.
        assert_eq!(plans["vercel-pro"].region.as_deref(), Some("iad1"));
        assert_eq!(plans["vercel-pro"].monthly_base, 25.0);
    }

    #[test]
    fn stale_after_180_days() {
        let mut p = plan(Some(1.0), 1.0, false);
        // 2026-12-01 00:00 UTC.
        let now = 1_796_083_200;
        p.date_read = "2026-06-04".into(); // 180 days before
        assert!(!p.stale(now));
        p.date_read = "2026-06-03".into(); // 181 days before
        assert!(p.stale(now));
        p.live = Some("Hetzner Cloud API".into());
        assert!(!p.stale(now));
    }

    #[test]
    fn user_override_changes_only_given_keys_and_new_plans_need_all() {
        let mut user = BTreeMap::new();
        user.insert(
            "render-hobby".to_string(),
            PlanSpec {
                monthly_base: Some(38.0),
                ..PlanSpec::default()
            },
        );
        let plans = load(&user, "config.toml", "").expect("override");
        assert_eq!(plans["render-hobby"].monthly_base, 38.0);
        assert_eq!(plans["render-hobby"].overage_per_gb, 0.15);
        assert_eq!(plans["render-hobby"].confidence, Confidence::Secondary);

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
