//! Live Hetzner Cloud prices: `GET {api}/server_types?name=TYPE` with the
//! token from the environment variable the config names. The answer has one
//! price per location (`server_types[].prices[]`: `location`,
//! `price_monthly {net, gross}` as decimal strings, `included_traffic` in
//! bytes, `price_per_tb_traffic {net, gross}`); the net figures replace the
//! shipped ones (the file's prices are net of VAT too). Any failure keeps
//! the shipped figures and says why. The token is never part of a message.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::pricing::{Plan, Plans};
use crate::config::plan::Confidence;

pub const DEFAULT_API: &str = "https://api.hetzner.cloud/v1";
const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BODY: usize = 4 << 20;

/// Where and with what to ask the Hetzner Cloud API for live prices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HcloudSettings {
    /// The environment variable holding the token (the host's; a plan may
    /// name its own).
    pub token_env: Option<String>,
    /// The host's server type, for the host's plan (else the plan's
    /// `hcloud_server_type`).
    pub server_type: Option<String>,
    /// Base URL; [`DEFAULT_API`] unless configured.
    pub api: String,
}

#[derive(Debug, Deserialize)]
struct ServerTypes {
    server_types: Vec<ServerType>,
}

#[derive(Debug, Deserialize)]
struct ServerType {
    name: String,
    prices: Vec<LocationPrice>,
}

#[derive(Debug, Deserialize)]
struct LocationPrice {
    location: String,
    price_monthly: Price,
    included_traffic: u64,
    price_per_tb_traffic: Price,
}

#[derive(Debug, Deserialize)]
struct Price {
    net: String,
    #[allow(dead_code)]
    gross: String,
}

/// One server type's prices in one location, net of VAT.
#[derive(Debug, Clone, PartialEq)]
pub struct LivePrice {
    pub monthly_net: f64,
    pub included_bytes: u64,
    pub per_tb_net: f64,
}

/// Reads `server_type`'s prices in `location` from a `/server_types` answer.
pub fn parse(body: &[u8], server_type: &str, location: &str) -> Result<LivePrice, String> {
    let answer: ServerTypes = serde_json::from_slice(body)
        .map_err(|e| format!("unexpected answer from /server_types: {e}"))?;
    let st = answer
        .server_types
        .iter()
        .find(|s| s.name == server_type)
        .ok_or_else(|| format!("no server type `{}` in the answer", inert(server_type)))?;
    let price = st
        .prices
        .iter()
        .find(|p| p.location == location)
        .ok_or_else(|| {
            let known: Vec<String> = st.prices.iter().map(|p| inert(&p.location)).collect();
            format!(
                "no price for `{}` in location `{}` (it has: {})",
                inert(server_type),
                inert(location),
                known.join(", ")
            )
        })?;
    let decimal = |field: &str, s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("`{field}` is not a price: `{}`", inert(s)))
    };
    Ok(LivePrice {
        monthly_net: decimal("price_monthly.net", &price.price_monthly.net)?,
        included_bytes: price.included_traffic,
        per_tb_net: decimal("price_per_tb_traffic.net", &price.price_per_tb_traffic.net)?,
    })
}

fn inert(s: &str) -> String {
    crate::text::inert(s).to_string()
}

/// Asks the API. `Err` is a sentence without the token.
pub async fn fetch(
    client: &reqwest::Client,
    api: &str,
    token: &str,
    token_env: &str,
    server_type: &str,
    location: &str,
) -> Result<LivePrice, String> {
    if server_type.is_empty()
        || !server_type
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "`{}` is not a Hetzner server type name",
            inert(server_type)
        ));
    }
    let url = format!("{}/server_types", api.trim_end_matches('/'));
    let response = client
        .get(format!("{url}?name={server_type}"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot reach the Hetzner Cloud API at {}: {}",
                inert(&url),
                describe_reqwest(&e)
            )
        })?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(format!(
            "the Hetzner Cloud API refused the token in ${} (401 Unauthorized)",
            inert(token_env)
        ));
    }
    if !status.is_success() {
        return Err(format!("the Hetzner Cloud API answered {status}"));
    }
    let body = response.bytes().await.map_err(|e| {
        format!(
            "reading the Hetzner Cloud API's answer: {}",
            describe_reqwest(&e)
        )
    })?;
    if body.len() > MAX_BODY {
        return Err("the Hetzner Cloud API's answer is too large".into());
    }
    parse(&body, server_type, location)
}

/// The error's own words and its causes' (reqwest's Display alone is vague).
fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    inert(&text)
}

/// The plans with live Hetzner prices where a server type and a token are
/// configured, and a note for each plan that fell back to the shipped file.
/// `current` is the host's plan (the host's server type applies to it).
pub async fn live_plans(
    plans: &Plans,
    current: Option<&str>,
    settings: &HcloudSettings,
) -> (Plans, Vec<String>) {
    let mut out = plans.clone();
    let mut notes = Vec::new();
    let mut client: Option<reqwest::Client> = None;
    let mut answers: BTreeMap<(String, String, String), Result<LivePrice, String>> =
        BTreeMap::new();
    for plan in out.values_mut() {
        let is_current = current == Some(plan.id.as_str());
        let server_type = if is_current {
            settings
                .server_type
                .clone()
                .or_else(|| plan.hcloud_server_type.clone())
        } else {
            plan.hcloud_server_type.clone()
        };
        let Some(server_type) = server_type else {
            continue;
        };
        let Some(token_env) = plan
            .hcloud_token_env
            .clone()
            .or_else(|| settings.token_env.clone())
        else {
            // No token configured: the shipped file, quietly.
            continue;
        };
        let fallback = |why: String| {
            format!(
                "{}; {} priced from the shipped file (read {})",
                why,
                inert(&plan.id),
                plan.date_read
            )
        };
        let Some(token) = std::env::var(&token_env)
            .ok()
            .filter(|t| !t.trim().is_empty())
        else {
            notes.push(fallback(format!(
                "${} (hcloud_token_env) is not set",
                inert(&token_env)
            )));
            continue;
        };
        let Some(location) = plan.region.clone() else {
            notes.push(fallback(format!(
                "no location for {} (set `region`, e.g. fsn1)",
                inert(&server_type)
            )));
            continue;
        };
        let key = (token_env.clone(), server_type.clone(), location.clone());
        if !answers.contains_key(&key) {
            let c = match &client {
                Some(c) => c.clone(),
                None => match reqwest::Client::builder().timeout(TIMEOUT).build() {
                    Ok(c) => {
                        client = Some(c.clone());
                        c
                    }
                    Err(e) => {
                        notes.push(fallback(format!(
                            "no HTTP client: {}",
                            describe_reqwest(&e)
                        )));
                        continue;
                    }
                },
            };
            let answer = fetch(
                &c,
                &settings.api,
                &token,
                &token_env,
                &server_type,
                &location,
            )
            .await;
            answers.insert(key.clone(), answer);
        }
        match answers.get(&key) {
            Some(Ok(price)) => apply(plan, price, &server_type, &location),
            Some(Err(why)) => notes.push(fallback(why.clone())),
            None => {}
        }
    }
    (out, notes)
}

/// Lays a live price over a plan (in the plan's unit; Hetzner's "TB" is
/// taken as the plan's TB or TiB, as its byte counts are TiB).
fn apply(plan: &mut Plan, price: &LivePrice, server_type: &str, location: &str) {
    let rate = price.per_tb_net / plan.unit.per_tera();
    plan.monthly_base = price.monthly_net;
    plan.included_egress_gb = Some(price.included_bytes as f64 / plan.unit.bytes());
    plan.overage_per_gb = rate;
    plan.overage_block_gb = None;
    plan.overage_per_block = None;
    if let Some(r) = plan.regions.get_mut(location) {
        *r = rate;
    }
    plan.confidence = Confidence::Page;
    plan.live = Some(format!(
        "Hetzner Cloud API, {} in {}, net of VAT",
        inert(server_type),
        inert(location)
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hetzner's own hcloud-go fixture (a `server_types[]` element, cx22),
    /// wrapped as `/server_types` answers it.
    const ANSWER: &str = r#"{"server_types": [{
      "id": 104, "name": "cx22", "architecture": "x86", "cores": 2, "cpu_type": "shared",
      "category": "cost_optimized", "deprecated": true,
      "deprecation": {"announced": "2025-10-16T06:00:00Z", "unavailable_after": "2025-12-31T23:59:59Z"},
      "description": "CX22", "disk": 40, "memory": 4,
      "prices": [
        {"location": "fsn1",
         "price_hourly": {"gross": "0.0052000000000000", "net": "0.0052000000"},
         "price_monthly": {"gross": "3.2900000000000000", "net": "3.2900000000"},
         "included_traffic": 21990232555520,
         "price_per_tb_traffic": {"gross": "1.0000000000000000", "net": "1.0000000000"}},
        {"location": "hel1",
         "price_hourly": {"gross": "0.0052000000000000", "net": "0.0052000000"},
         "price_monthly": {"gross": "3.2900000000000000", "net": "3.2900000000"},
         "included_traffic": 21990232555520,
         "price_per_tb_traffic": {"gross": "1.0000000000000000", "net": "1.0000000000"}}
      ],
      "storage_type": "local",
      "locations": [{"id": 1, "name": "fsn1"}, {"id": 3, "name": "hel1"}]
    }], "meta": {"pagination": {"page": 1, "per_page": 25, "previous_page": null,
      "next_page": null, "last_page": 1, "total_entries": 1}}}"#;

    #[test]
    fn reads_the_documented_shape() {
        let p = parse(ANSWER.as_bytes(), "cx22", "hel1").expect("parses");
        assert_eq!(p.monthly_net, 3.29);
        assert_eq!(p.included_bytes, 20 * (1u64 << 40));
        assert_eq!(p.per_tb_net, 1.0);
        let err = parse(ANSWER.as_bytes(), "cx22", "ash").expect_err("location");
        assert!(err.contains("it has: fsn1, hel1"), "{err}");
        let err = parse(ANSWER.as_bytes(), "cx23", "fsn1").expect_err("type");
        assert!(err.contains("no server type `cx23`"), "{err}");
        assert!(parse(b"{\"error\": {}}", "cx22", "fsn1").is_err());
    }

    #[test]
    fn a_live_price_replaces_the_files_in_the_plans_unit() {
        let plans = crate::cost::pricing::embedded().expect("plans");
        let mut cx = plans["hetzner-cx23"].clone();
        let price = parse(ANSWER.as_bytes(), "cx22", "fsn1").expect("parses");
        apply(&mut cx, &price, "cx22", "fsn1");
        assert_eq!(cx.included_egress_gb, Some(20480.0));
        // 21 TiB: 1 TiB over at EUR 1.
        let c = cx.cost(0.0, 21.0 * (1u64 << 40) as f64);
        assert!((c.total - 4.29).abs() < 1e-9, "{}", c.total);
        assert!(!cx.stale(i64::MAX / 4));
    }
}
