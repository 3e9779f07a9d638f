//! A cost report: traffic over a period, the billing period so far, its
//! projections and the plan comparison, gathered from Netdata (or the
//! fallbacks) and rendered as text or JSON.

use std::collections::BTreeMap;
use std::path::Path;

use futures::future::try_join_all;
use serde::Serialize;

use super::fallback;
use super::netdata::TrafficQuery;
use super::pricing::{self, PlanCost, Plans};
use super::traffic::{self, Period, Projection, Quality, Span, Traffic};
use crate::config::plan::Confidence;
use crate::config::{Config, FileError};
use crate::metrics::units::human_bytes_decimal;
use crate::transport::{ExecOptions, SharedTransport};

/// What the cost code needs from the configuration for one host.
#[derive(Debug, Clone, PartialEq)]
pub struct CostSettings {
    pub netdata_url: Option<String>,
    /// `false` when the host turned Netdata off.
    pub netdata: bool,
    pub billing_day: u8,
    /// The plan the host is on.
    pub plan: Option<String>,
    /// Plans to compare with (empty: every known plan).
    pub compare: Vec<String>,
    /// Each plan's rate is already the one of its region (the host's
    /// `region` where the plan lists it, else the plan's default).
    pub plans: Plans,
    /// Hours of data a projection needs before it is a number.
    pub projection_min_hours: f64,
    /// Live Hetzner Cloud prices: how to ask.
    pub hcloud: HcloudSettings,
}

pub use super::hcloud::HcloudSettings;
pub const HCLOUD_API: &str = super::hcloud::DEFAULT_API;
pub const DEFAULT_PROJECTION_MIN_HOURS: f64 = 24.0;

impl CostSettings {
    /// Settings for `host`, with the shipped plans and the config's
    /// `[plans]`. Unknown plan names are errors naming the key.
    pub fn from_config(config: &Config, host: &str, config_file: &Path) -> Result<Self, FileError> {
        let file = config_file.display().to_string();
        let text = std::fs::read_to_string(config_file).unwrap_or_default();
        let mut plans = pricing::load(&config.plans, &file, &text)?;
        let hc = config.host(host);
        if let Some(region) = &hc.region {
            let region_err = |message: String| {
                let table = format!("hosts.{host}");
                let line = pricing::find_line(&text, &table, Some("region"))
                    .or_else(|| pricing::find_line(&text, &table, None));
                FileError::new(&file, message).at(line, Some(format!("{table}.region")))
            };
            let mut listed = false;
            for plan in plans.values_mut() {
                listed |= plan.select_region(region);
            }
            match hc.plan.as_ref().and_then(|p| plans.get(p)) {
                Some(current)
                    if !current.regions.is_empty()
                        && current.region.as_deref() != Some(region.as_str()) =>
                {
                    return Err(region_err(format!(
                        "unknown region `{region}` for plan `{}`; it lists: {}",
                        current.id,
                        current
                            .regions
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                _ if !listed => {
                    return Err(region_err(format!(
                        "unknown region `{region}`: no plan lists it in [plans.NAME.regions]"
                    )));
                }
                _ => {}
            }
        }
        let check = |name: &str, key: String| {
            if plans.contains_key(name) {
                Ok(())
            } else {
                Err(FileError::new(
                    &file,
                    format!(
                        "unknown plan `{name}`; known plans: {}",
                        plans.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
                .at(None, Some(key)))
            }
        };
        if let Some(plan) = &hc.plan {
            check(plan, format!("hosts.{host}.plan"))?;
        }
        for name in hc.compare.iter().flatten() {
            check(name, format!("hosts.{host}.compare"))?;
        }
        Ok(Self {
            netdata_url: hc.netdata_url.clone(),
            netdata: hc.netdata.unwrap_or(true),
            billing_day: hc.billing_day.unwrap_or(1),
            plan: hc.plan.clone(),
            compare: hc.compare.clone().unwrap_or_default(),
            plans,
            projection_min_hours: hc
                .projection_min_hours
                .unwrap_or(DEFAULT_PROJECTION_MIN_HOURS),
            hcloud: HcloudSettings {
                token_env: hc.hcloud_token_env.clone(),
                server_type: hc.hcloud_server_type.clone(),
                api: hc
                    .hcloud_api
                    .clone()
                    .unwrap_or_else(|| HCLOUD_API.to_string()),
            },
        })
    }
}

/// One plan's line in the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanRow {
    /// Cost of the period's traffic.
    pub period: PlanCost,
    /// Cost of the projected billing period (period-so-far basis); `None`
    /// without enough data (`projected_reason` says why).
    pub projected: Option<PlanCost>,
    /// The projection's quality: a rough projection makes a rough cost.
    pub projected_quality: Option<Quality>,
    pub projected_reason: Option<String>,
    /// Cheapest of the plans in its currency (on the projection when there is one).
    pub cheapest: bool,
    /// This plan minus the current plan, same currency only.
    pub vs_current: Option<f64>,
    pub current: bool,
    /// The region whose rate was used.
    pub region: Option<String>,
    pub source_url: String,
    pub date_read: String,
    pub confidence: Confidence,
    /// `date_read` is more than 180 days old: check the source.
    pub stale: bool,
    /// Where live prices came from (instead of the file).
    pub live: Option<String>,
}

impl PlanRow {
    /// `price read 2025-08-01, check source` for a stale plan.
    pub fn stale_mark(&self) -> Option<String> {
        self.stale
            .then(|| format!("price read {}, check source", self.date_read))
    }
}

/// Traffic, projections and the plan comparison for one host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostReport {
    pub host: String,
    pub generated_at: i64,
    /// `netdata`, `vnstat` or `/proc/net/dev`.
    pub source: String,
    /// Why a fallback is in use, or what the source's numbers mean.
    pub source_note: Option<String>,
    pub period: Span,
    pub traffic: Traffic,
    pub billing_period: Span,
    /// The billing period so far (`None` from counters since boot).
    pub billing_so_far: Option<Traffic>,
    pub projections: Vec<Projection>,
    pub current_plan: Option<String>,
    pub plans: Vec<PlanRow>,
    /// What happened to live prices (a fallback and why), for the note.
    pub price_notes: Vec<String>,
}

/// Gathers a report: live Hetzner prices where configured (else the
/// shipped file, with a note why), traffic from Netdata first (`Err` says
/// why there is none), then vnstat, then `/proc/net/dev`.
pub async fn gather(
    host: &str,
    netdata: Result<&dyn TrafficQuery, String>,
    transport: &SharedTransport,
    settings: &CostSettings,
    period: Period,
    now: i64,
) -> CostReport {
    let (plans, price_notes) =
        super::hcloud::live_plans(&settings.plans, settings.plan.as_deref(), &settings.hcloud)
            .await;
    let settings = CostSettings {
        plans,
        ..settings.clone()
    };
    let mut report = gather_traffic(host, netdata, transport, &settings, period, now).await;
    report.price_notes = price_notes;
    report
}

async fn gather_traffic(
    host: &str,
    netdata: Result<&dyn TrafficQuery, String>,
    transport: &SharedTransport,
    settings: &CostSettings,
    period: Period,
    now: i64,
) -> CostReport {
    let span = traffic::resolve(period, now, settings.billing_day);
    let billing = traffic::billing_period(now, settings.billing_day);
    let so_far_span = traffic::resolve(Period::Month, now, settings.billing_day);
    let week_span = traffic::resolve(Period::Days7, now, settings.billing_day);
    let note = match netdata {
        Ok(query) => match from_netdata(query, &[&span, &so_far_span, &week_span]).await {
            Ok(mut t) => {
                let week = t.pop().unwrap_or_default();
                let so_far = t.pop().unwrap_or_default();
                let traffic = t.pop().unwrap_or_default();
                return build(
                    host,
                    now,
                    "netdata",
                    None,
                    span,
                    traffic,
                    billing,
                    Some(so_far),
                    Some(week),
                    settings,
                );
            }
            Err(e) => format!("Netdata: {e}"),
        },
        Err(why) => why,
    };
    match vnstat(transport).await {
        Ok(ifaces) => {
            let traffic = fallback::traffic_from_vnstat(&ifaces, &span);
            let so_far = fallback::traffic_from_vnstat(&ifaces, &so_far_span);
            let week = fallback::traffic_from_vnstat(&ifaces, &week_span);
            let note = Some(format!(
                "{}; vnstat counts whole days (the host's local dates)",
                note
            ));
            build(
                host,
                now,
                "vnstat",
                note,
                span,
                traffic,
                billing,
                Some(so_far),
                Some(week),
                settings,
            )
        }
        Err(vnstat_err) => {
            let (traffic, uptime) = match proc_counters(transport).await {
                Ok(x) => x,
                Err(e) => {
                    let note = format!("{}; vnstat: {vnstat_err}; /proc/net/dev: {e}", note);
                    return build(
                        host,
                        now,
                        "none",
                        Some(note),
                        span,
                        Traffic::default(),
                        billing,
                        None,
                        None,
                        settings,
                    );
                }
            };
            let since = Span {
                label: format!(
                    "since boot ({})",
                    crate::metrics::units::human_duration(uptime as u64)
                ),
                start: now - uptime,
                end: now,
            };
            let note = Some(format!(
                "{}; vnstat: {vnstat_err}; counters since boot, not for the period",
                note
            ));
            build(
                host,
                now,
                "/proc/net/dev",
                note,
                since,
                traffic,
                billing,
                None,
                None,
                settings,
            )
        }
    }
}

/// Totals for each span, one tier-1 query per interface and span.
async fn from_netdata(query: &dyn TrafficQuery, spans: &[&Span]) -> Result<Vec<Traffic>, String> {
    let ifaces = query.interfaces().await?;
    if ifaces.is_empty() {
        return Err("no net.* charts (is the network plugin enabled?)".into());
    }
    let mut out = Vec::new();
    let mut cache: BTreeMap<(i64, i64), Traffic> = BTreeMap::new();
    for span in spans {
        let step = 60;
        let start = span.start - span.start.rem_euclid(step);
        let end = span.end - span.end.rem_euclid(step);
        if let Some(t) = cache.get(&(start, end)) {
            out.push(t.clone());
            continue;
        }
        let sums = sums_on_tier(query, &ifaces, start, end, 1).await?;
        let mut t = traffic::from_netdata(&sums, start, end);
        // The per-minute tier may not reach back to the start while the
        // per-hour tier does: take the hours before tier 1's data from tier 2.
        if !t.coverage.complete()
            && let Some(first) = traffic::first_data(&sums)
        {
            let split = first - first.rem_euclid(3600);
            if split > start {
                let older = sums_on_tier(query, &ifaces, start, split, 2).await?;
                let before = traffic::from_netdata(&older, start, split);
                if before.coverage.covered_secs > 0 {
                    let after = traffic::from_netdata(&sums, split, end);
                    t = traffic::merge(before, after);
                }
            }
        }
        cache.insert((start, end), t.clone());
        out.push(t);
    }
    Ok(out)
}

async fn sums_on_tier(
    query: &dyn TrafficQuery,
    ifaces: &[String],
    start: i64,
    end: i64,
    tier: u8,
) -> Result<Vec<(String, crate::cost::netdata::NetdataSum)>, String> {
    try_join_all(ifaces.iter().map(|iface| async move {
        query
            .net_sum(iface, start, end, tier)
            .await
            .map(|s| (iface.clone(), s))
    }))
    .await
}

async fn run_capture(transport: &SharedTransport, command: &str) -> Result<Vec<u8>, String> {
    let handle = transport
        .exec(command, ExecOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let (out, err, status) =
        tokio::time::timeout(std::time::Duration::from_secs(15), handle.collect(16 << 20))
            .await
            .map_err(|_| format!("`{command}` did not finish within 15s"))?;
    if !status.success() {
        let err = String::from_utf8_lossy(&err).trim().to_string();
        return Err(if err.is_empty() {
            format!("`{command}`: {status}")
        } else {
            crate::text::inert(&err).to_string()
        });
    }
    Ok(out)
}

async fn vnstat(transport: &SharedTransport) -> Result<Vec<fallback::VnstatIface>, String> {
    let out = run_capture(
        transport,
        "command -v vnstat >/dev/null 2>&1 || { echo 'not installed' >&2; exit 127; }; vnstat --json d",
    )
    .await?;
    fallback::parse_vnstat(&out)
}

async fn proc_counters(transport: &SharedTransport) -> Result<(Traffic, i64), String> {
    let dev = run_capture(transport, "cat /proc/net/dev").await?;
    let uptime = run_capture(transport, "cat /proc/uptime").await?;
    let counters = fallback::parse_proc_net_dev(&String::from_utf8_lossy(&dev))?;
    let uptime = String::from_utf8_lossy(&uptime)
        .split_whitespace()
        .next()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or("cannot read /proc/uptime")? as i64;
    Ok((fallback::traffic_since_boot(&counters, uptime), uptime))
}

#[allow(clippy::too_many_arguments)]
fn build(
    host: &str,
    now: i64,
    source: &str,
    source_note: Option<String>,
    period: Span,
    traffic: Traffic,
    billing: Span,
    so_far: Option<Traffic>,
    week: Option<Traffic>,
    settings: &CostSettings,
) -> CostReport {
    let projections = match &so_far {
        Some(so_far) => traffic::projections(
            so_far,
            week.as_ref(),
            now,
            &billing,
            settings.projection_min_hours,
        ),
        None => Vec::new(),
    };
    let plans = compare(settings, &traffic, projections.first(), now);
    CostReport {
        host: host.to_string(),
        generated_at: now,
        source: source.to_string(),
        source_note,
        period,
        traffic,
        billing_period: billing,
        billing_so_far: so_far,
        projections,
        current_plan: settings.plan.clone(),
        plans,
        price_notes: Vec::new(),
    }
}

/// Prices the traffic on the current plan and the plans to compare with.
pub fn compare(
    settings: &CostSettings,
    traffic: &Traffic,
    projection: Option<&Projection>,
    now: i64,
) -> Vec<PlanRow> {
    let mut ids: Vec<&String> = if settings.compare.is_empty() {
        settings.plans.keys().collect()
    } else {
        settings.compare.iter().collect()
    };
    if let Some(current) = &settings.plan
        && !ids.contains(&current)
    {
        ids.insert(0, current);
    }
    let mut rows: Vec<PlanRow> = ids
        .into_iter()
        .filter_map(|id| settings.plans.get(id))
        .map(|plan| PlanRow {
            period: plan.cost(traffic.received, traffic.sent),
            projected: projection.and_then(|p| Some(plan.cost(p.received?, p.sent?))),
            projected_quality: projection.map(|p| p.quality),
            projected_reason: projection.and_then(|p| p.reason.clone()),
            cheapest: false,
            vs_current: None,
            current: settings.plan.as_deref() == Some(plan.id.as_str()),
            region: plan.region.clone(),
            source_url: plan.source_url.clone(),
            date_read: plan.date_read.clone(),
            confidence: plan.confidence,
            stale: plan.stale(now),
            live: plan.live.clone(),
        })
        .collect();
    let basis = |r: &PlanRow| r.projected.as_ref().unwrap_or(&r.period).total;
    let mut cheapest: BTreeMap<String, f64> = BTreeMap::new();
    for r in &rows {
        let e = cheapest
            .entry(r.period.currency.clone())
            .or_insert(f64::INFINITY);
        *e = e.min(basis(r));
    }
    let current = rows
        .iter()
        .find(|r| r.current)
        .map(|r| (r.period.currency.clone(), basis(r)));
    for r in &mut rows {
        let b = basis(r);
        r.cheapest = cheapest.get(&r.period.currency).is_some_and(|c| b <= *c);
        if let Some((cur, cur_total)) = &current
            && *cur == r.period.currency
        {
            r.vs_current = Some(b - cur_total);
        }
    }
    rows.sort_by(|a, b| {
        a.period
            .currency
            .cmp(&b.period.currency)
            .then(basis(a).total_cmp(&basis(b)))
    });
    rows
}

/// `+1.25`, `-3.00`; a difference that rounds to nothing is `+0.00`, not `-0.00`.
pub fn signed_cents(d: f64) -> String {
    format!("{:+.2}", (d * 100.0).round() / 100.0 + 0.0)
}

pub fn money(amount: f64, currency: &str) -> String {
    format!("{amount:.2} {currency}")
}

/// The report as the CLI prints it.
pub fn render_text(r: &CostReport) -> String {
    let mut out = String::new();
    let line = |out: &mut String, s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(
        &mut out,
        format!(
            "host     {}   source {}",
            crate::text::inert(&r.host),
            r.source
        ),
    );
    if let Some(note) = &r.source_note {
        line(&mut out, format!("note     {}", crate::text::inert(note)));
    }
    line(&mut out, format!("period   {}", r.period.label));
    line(
        &mut out,
        format!(
            "traffic  in {}   out {}   coverage {}",
            human_bytes_decimal(r.traffic.received),
            human_bytes_decimal(r.traffic.sent),
            r.traffic.coverage.describe()
        ),
    );
    for i in &r.traffic.interfaces {
        line(
            &mut out,
            format!(
                "  {:<12} in {:>10}   out {:>10}{}",
                crate::text::inert(&i.name),
                human_bytes_decimal(i.received),
                human_bytes_decimal(i.sent),
                if i.counted { "" } else { "   (not counted)" }
            ),
        );
    }
    line(
        &mut out,
        format!("billing  {} (UTC)", r.billing_period.label),
    );
    if let Some(so_far) = &r.billing_so_far {
        line(
            &mut out,
            format!(
                "so far   in {}   out {}   coverage {}",
                human_bytes_decimal(so_far.received),
                human_bytes_decimal(so_far.sent),
                so_far.coverage.describe()
            ),
        );
    }
    for p in &r.projections {
        let numbers = match (p.received, p.sent) {
            (Some(rx), Some(tx)) => {
                let spread = match (p.sent_low, p.sent_high) {
                    (Some(lo), Some(hi)) => format!(
                        "   spread out {} .. {}",
                        human_bytes_decimal(lo),
                        human_bytes_decimal(hi)
                    ),
                    _ => "   spread unknown (under 2 whole days)".into(),
                };
                format!(
                    "in {}   out {}   {}{spread}",
                    human_bytes_decimal(rx),
                    human_bytes_decimal(tx),
                    p.describe()
                )
            }
            _ => p.describe(),
        };
        line(&mut out, format!("projected ({}): {numbers}", p.basis));
    }
    for note in &r.price_notes {
        line(&mut out, format!("prices   {}", crate::text::inert(note)));
    }
    if !r.plans.is_empty() {
        line(&mut out, String::new());
        line(
            &mut out,
            format!(
                "{:<2}{:<37} {:<14} {:>14} {:>15} {:>12}  {}",
                "", "plan", "region", "period", "projected", "vs current", "price"
            ),
        );
        for p in &r.plans {
            let mark = match (p.current, p.cheapest) {
                (true, true) => "*=",
                (true, false) => "= ",
                (false, true) => "* ",
                _ => "  ",
            };
            let projected = match (&p.projected, p.projected_quality) {
                (Some(c), Some(Quality::Rough)) => format!("~{}", money(c.total, &c.currency)),
                (Some(c), _) => money(c.total, &c.currency),
                (None, Some(Quality::NotEnoughData)) => "not enough data".into(),
                (None, _) => "-".into(),
            };
            let price = match (&p.live, p.stale_mark()) {
                (Some(live), _) => format!("live: {}", crate::text::inert(live)),
                (None, Some(mark)) => format!("! {mark}"),
                (None, None) => format!("read {} ({})", p.date_read, p.confidence.label()),
            };
            line(
                &mut out,
                format!(
                    "{mark}{:<37.37} {:<14} {:>14} {:>15} {:>12}  {price}",
                    crate::text::inert(&p.period.name),
                    p.region
                        .as_deref()
                        .map(crate::text::inert)
                        .unwrap_or_default(),
                    money(p.period.total, &p.period.currency),
                    projected,
                    p.vs_current.map(signed_cents).unwrap_or_else(|| "-".into())
                ),
            );
        }
        line(
            &mut out,
            "* cheapest in its currency   = current plan   ~ rough projection   ! stale price   `opscockpit cost --plans`: sources".into(),
        );
    }
    out
}

/// One plan in `opscockpit cost --plans`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanListing {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub monthly_base: f64,
    pub unit: crate::config::plan::Unit,
    /// `500 GB included, then 0.15 USD/GB`.
    pub traffic: String,
    pub region: Option<String>,
    pub regions: BTreeMap<String, f64>,
    pub source_url: String,
    pub date_read: String,
    pub confidence: Confidence,
    pub stale: bool,
    pub note: Option<String>,
}

/// Every known plan with its source, date read, confidence and stale mark.
pub fn plan_listing(settings: &CostSettings, now: i64) -> Vec<PlanListing> {
    settings
        .plans
        .values()
        .map(|p| PlanListing {
            id: p.id.clone(),
            name: p.name.clone(),
            currency: p.currency.clone(),
            monthly_base: p.monthly_base,
            unit: p.unit,
            traffic: p.describe_overage(),
            region: p.region.clone(),
            regions: p.regions.clone(),
            source_url: p.source_url.clone(),
            date_read: p.date_read.clone(),
            confidence: p.confidence,
            stale: p.stale(now),
            note: p.note.clone(),
        })
        .collect()
}

/// `opscockpit cost --plans` as text.
pub fn render_plans(plans: &[PlanListing]) -> String {
    let mut out = String::new();
    for p in plans {
        let inert = |s: &str| crate::text::inert(s).to_string();
        out.push_str(&format!("{}  {}\n", inert(&p.id), inert(&p.name)));
        out.push_str(&format!(
            "  price      {:.2} {}/month; {}\n",
            p.monthly_base,
            inert(&p.currency),
            inert(&p.traffic)
        ));
        if !p.regions.is_empty() {
            let regions: Vec<String> = p
                .regions
                .iter()
                .map(|(r, v)| format!("{}={v}", inert(r)))
                .collect();
            out.push_str(&format!(
                "  region     {} (of {})\n",
                p.region.as_deref().map(inert).unwrap_or_else(|| "-".into()),
                regions.join(" ")
            ));
        }
        out.push_str(&format!("  source     {}\n", inert(&p.source_url)));
        out.push_str(&format!(
            "  read       {}  confidence {}{}\n",
            p.date_read,
            p.confidence.label(),
            if p.stale {
                format!("  ! price read {}, check source", p.date_read)
            } else {
                String::new()
            }
        ));
        if let Some(note) = &p.note {
            out.push_str(&format!("  note       {}\n", inert(note)));
        }
    }
    out.push_str(&format!(
        "confidence: page = read on the provider's page, secondary = only elsewhere; a price read more than {} days ago is marked stale\n",
        pricing::STALE_AFTER_DAYS
    ));
    out
}

/// A deterministic report for snapshots and benchmarks: a host on Render
/// Professional sending about 1.3 TB a month, 6 hours of data missing.
pub fn fixture_report(now: i64) -> CostReport {
    use super::traffic::{Coverage, DayTotal, IfaceTotal};
    let settings = CostSettings {
        netdata_url: None,
        netdata: true,
        billing_day: 1,
        plan: Some("render-professional-legacy".into()),
        compare: vec![],
        plans: pricing::embedded().unwrap_or_default(),
        projection_min_hours: DEFAULT_PROJECTION_MIN_HOURS,
        hcloud: HcloudSettings::default(),
    };
    let billing = traffic::billing_period(now, 1);
    let so_far_span = traffic::resolve(Period::Month, now, 1);
    let mut daily = Vec::new();
    let mut day = traffic::utc_date(billing.start);
    let last = traffic::utc_date(now);
    let mut i = 0u32;
    while day <= last {
        let wave = f64::from((i * 7) % 11) / 10.0;
        let share = if day == last { 14.0 / 24.0 } else { 1.0 };
        daily.push(DayTotal {
            date: day,
            received: (6e9 + 3e9 * wave) * share,
            sent: (35e9 + 25e9 * wave) * share,
        });
        i += 1;
        day = day.succ_opt().unwrap_or(day);
    }
    let received: f64 = daily.iter().map(|d| d.received).sum();
    let sent: f64 = daily.iter().map(|d| d.sent).sum();
    let last_days = daily[daily.len().saturating_sub(8)..].to_vec();
    let coverage = Coverage {
        covered_secs: so_far_span.secs() - 6 * 3600,
        missing_secs: 6 * 3600,
        retention_start: None,
        points_expected: (so_far_span.secs() / 60) as u64,
        points_found: ((so_far_span.secs() - 6 * 3600) / 60) as u64,
    };
    let so_far = Traffic {
        received,
        sent,
        interfaces: vec![
            IfaceTotal {
                name: "eth0".into(),
                received,
                sent,
                counted: true,
            },
            IfaceTotal {
                name: "lo".into(),
                received: 2.1e9,
                sent: 2.1e9,
                counted: false,
            },
        ],
        coverage,
        daily,
    };
    let week = Traffic {
        received: 7.0 * 8e9,
        sent: 7.0 * 55e9,
        coverage: Coverage {
            covered_secs: 7 * 86_400,
            ..Coverage::default()
        },
        daily: last_days,
        ..Traffic::default()
    };
    build(
        "web-1",
        now,
        "netdata",
        None,
        so_far_span,
        so_far.clone(),
        billing,
        Some(so_far),
        Some(week),
        &settings,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::netdata::{NetdataSum, SumRow};
    use crate::transport::local::LocalTransport;
    use async_trait::async_trait;
    use std::sync::Arc;

    const NOW: i64 = 1_795_442_400; // 2026-11-23 14:00 UTC

    /// A fake agent: `kbit` kilobits per minute on every interface, on
    /// tier 1 since `first`, on tier 2 (hourly sums) since `tier2_first`.
    struct Fake {
        first: i64,
        tier2_first: Option<i64>,
        kbit: f64,
    }

    #[async_trait]
    impl TrafficQuery for Fake {
        async fn interfaces(&self) -> Result<Vec<String>, String> {
            Ok(vec!["eth0".into(), "lo".into()])
        }
        async fn net_sum(
            &self,
            _iface: &str,
            after: i64,
            before: i64,
            tier: u8,
        ) -> Result<NetdataSum, String> {
            let (step, first, per_row) = match tier {
                1 => (60, Some(self.first), self.kbit),
                2 => (3600, self.tier2_first, self.kbit * 60.0),
                other => panic!("tier {other} not expected"),
            };
            let rows = (after / step..=before / step)
                .map(|m| {
                    let t = m * step;
                    let v = first.is_some_and(|f| t > f).then_some(per_row);
                    SumRow {
                        t,
                        received: v,
                        sent: v.map(|x| x * 10.0),
                    }
                })
                .collect();
            Ok(NetdataSum {
                first_entry: first,
                step,
                after,
                before,
                rows,
                ..NetdataSum::default()
            })
        }
    }

    #[tokio::test]
    async fn older_hours_come_from_tier_2_when_tier_1_starts_late() {
        let billing_start = 1_793_491_200; // 2026-11-01
        let fake = Fake {
            first: billing_start + 19 * 86_400,
            tier2_first: Some(billing_start - 86_400),
            kbit: 8000.0,
        };
        let transport: SharedTransport = Arc::new(LocalTransport);
        let r = gather(
            "web",
            Ok(&fake),
            &transport,
            &settings(None),
            Period::Month,
            NOW,
        )
        .await;
        // The whole period at 1 MB a minute, none missing.
        let minutes = (NOW - billing_start) / 60;
        assert_eq!(r.traffic.received, minutes as f64 * 1e6);
        assert!(r.traffic.coverage.complete(), "{:?}", r.traffic.coverage);
        assert_eq!(r.traffic.daily.len(), 23);
        assert_eq!(r.traffic.daily[0].received, 1440.0 * 1e6);
        // lo's own total spans both tiers too.
        assert_eq!(r.traffic.interfaces[1].received, minutes as f64 * 1e6);
    }

    fn settings(plan: Option<&str>) -> CostSettings {
        CostSettings {
            netdata_url: None,
            netdata: true,
            billing_day: 1,
            plan: plan.map(str::to_string),
            compare: vec![],
            plans: pricing::embedded().expect("plans"),
            projection_min_hours: DEFAULT_PROJECTION_MIN_HOURS,
            hcloud: HcloudSettings::default(),
        }
    }

    #[tokio::test]
    async fn netdata_report_with_partial_retention() {
        let billing_start = 1_793_491_200; // 2026-11-01
        // Data from Nov 20 00:00 on; 8000 kbit (1 MB) received per minute.
        let fake = Fake {
            first: billing_start + 19 * 86_400,
            tier2_first: None,
            kbit: 8000.0,
        };
        let transport: SharedTransport = Arc::new(LocalTransport);
        let s = settings(Some("render-professional-legacy"));
        let r = gather("web", Ok(&fake), &transport, &s, Period::Month, NOW).await;
        assert_eq!(r.source, "netdata");
        let minutes = (NOW - fake.first) / 60;
        assert_eq!(r.traffic.received, minutes as f64 * 1e6);
        assert_eq!(r.traffic.sent, minutes as f64 * 1e7);
        // lo is listed but not counted
        assert_eq!(r.traffic.interfaces.len(), 2);
        assert_eq!(r.traffic.coverage.missing_secs, 19 * 86_400);
        assert_eq!(r.traffic.coverage.retention_start, Some(fake.first));
        // 3.6 days of data: a rough projection on the period so far; the
        // 7-day one needs 6 days and gives no number.
        assert_eq!(r.projections.len(), 2);
        let remaining = (1_796_083_200 - NOW) as f64 / 60.0;
        let expected = r.traffic.sent + remaining * 1e7;
        assert!((r.projections[0].sent.expect("sent") - expected).abs() < 1.0);
        assert_eq!(r.projections[0].quality, Quality::Rough);
        assert_eq!(r.projections[0].stands_on, "from 3.6 days of data");
        assert_eq!(r.projections[1].quality, Quality::NotEnoughData);
        assert_eq!(r.projections[1].sent, None);
        // Plan costs on the rough projection carry the mark.
        assert!(
            r.plans
                .iter()
                .all(|p| p.projected_quality == Some(Quality::Rough) && p.projected.is_some())
        );
        // The comparison has the current plan and a cheapest per currency.
        let current = r.plans.iter().find(|p| p.current).expect("current");
        assert_eq!(current.vs_current, Some(0.0));
        assert!(r.plans.iter().filter(|p| p.cheapest).count() >= 2);
        let text = render_text(&r);
        assert!(text.contains("456.0 hours missing"), "{text}");
        assert!(
            text.contains("projected (last 7 days): not enough data to project (3.6 days of data, needs 6.0 days of the last 7)"),
            "{text}"
        );
        assert!(text.contains("rough, from 3.6 days of data"), "{text}");
        // The DigitalOcean droplet's price was read in 2025: stale in Nov 2026.
        assert!(
            text.contains("! price read 2025-05-07, check source"),
            "{text}"
        );
    }

    #[test]
    fn comparison_marks_cheapest_per_currency_and_diffs_same_currency_only() {
        let s = settings(Some("render-professional-legacy"));
        let traffic = Traffic {
            received: 0.0,
            sent: 1.3e12,
            ..Traffic::default()
        };
        let rows = compare(&s, &traffic, None, NOW);
        let by = |id: &str| rows.iter().find(|r| r.period.plan == id).expect(id);
        // Render Professional (legacy): 19 + 8 blocks of 100 GB × 15 = 139 USD.
        let render = by("render-professional-legacy");
        assert!((render.period.total - 139.0).abs() < 1e-9);
        assert_eq!(render.period.blocks, Some(8));
        assert!(by("do-basic-4").cheapest);
        assert!(!render.cheapest);
        let droplet = 4.0 + (1.3e12 / 1_073_741_824.0 - 500.0) * 0.01;
        assert!((by("do-basic-4").vs_current.expect("usd") - (droplet - 139.0)).abs() < 1e-9);
        assert_eq!(by("hetzner-ax42").vs_current, None);
        assert!(by("hetzner-cx23").cheapest);
    }

    #[test]
    fn example_config_plans_resolve() {
        let text = include_str!("../../assets/config.example.toml");
        let config: Config =
            crate::config::toml_file::parse_str("config.example.toml", text).expect("parses");
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("config.toml");
        std::fs::write(&file, text).expect("write");
        let s = CostSettings::from_config(&config, "myhost", &file).expect("plans resolve");
        assert_eq!(s.plan.as_deref(), Some("hetzner-ax42"));
        let colo = &s.plans["my-colo"];
        assert_eq!(colo.currency, "EUR");
        assert!((colo.overage_per_gb - 0.002).abs() < 1e-12);
    }

    #[test]
    fn unknown_plan_in_host_config_names_the_key() {
        let config: Config =
            crate::config::toml_file::parse_str("c.toml", "[hosts.web]\nplan = \"nope\"\n")
                .expect("parses");
        let err = CostSettings::from_config(&config, "web", Path::new("/nonexistent/c.toml"))
            .expect_err("unknown plan");
        assert_eq!(err.key.as_deref(), Some("hosts.web.plan"));
        assert!(err.message.contains("render-hobby"));
    }
}
