//! Periods, billing periods, traffic totals with their coverage, daily
//! totals and projections: the arithmetic, free of I/O. Days and billing
//! periods are in UTC, as providers bill.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use serde::Serialize;

use super::netdata::{NetdataSum, kilobits_to_bytes};

const DAY: i64 = 86_400;

/// The period a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// The current billing period so far.
    Month,
    /// The previous billing period, whole.
    LastMonth,
    /// The last 7 × 24 hours.
    Days7,
    /// Since 00:00 UTC today.
    Today,
    /// Whole UTC days, both included.
    Range(NaiveDate, NaiveDate),
}

impl Period {
    /// Parses `month`, `last-month`, `7d`, `today` or `DATE..DATE`.
    pub fn parse(text: &str) -> Result<Period, String> {
        match text {
            "month" => Ok(Period::Month),
            "last-month" => Ok(Period::LastMonth),
            "7d" => Ok(Period::Days7),
            "today" => Ok(Period::Today),
            other => {
                let (a, b) = other.split_once("..").ok_or_else(|| {
                    format!("unknown period `{other}`: use month, last-month, 7d, today or YYYY-MM-DD..YYYY-MM-DD")
                })?;
                let date = |s: &str| {
                    NaiveDate::parse_from_str(s, "%Y-%m-%d")
                        .map_err(|_| format!("`{s}` is not a date like 2026-11-01"))
                };
                let (a, b) = (date(a)?, date(b)?);
                if b < a {
                    return Err(format!("period `{other}` ends before it starts"));
                }
                Ok(Period::Range(a, b))
            }
        }
    }
}

/// A resolved time span `(start, end]` in unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    pub label: String,
    pub start: i64,
    pub end: i64,
}

impl Span {
    pub fn secs(&self) -> i64 {
        (self.end - self.start).max(0)
    }
}

/// The billing period containing `now`, starting on `billing_day` (1-28).
pub fn billing_period(now: i64, billing_day: u8) -> Span {
    let day = u32::from(billing_day.clamp(1, 28));
    let today = utc_date(now);
    let this_month = today.with_day(day).unwrap_or(today);
    let start = if this_month <= today {
        this_month
    } else {
        this_month
            .checked_sub_months(Months::new(1))
            .unwrap_or(this_month)
    };
    let end = start
        .checked_add_months(Months::new(1))
        .unwrap_or(start + chrono::Days::new(30));
    Span {
        label: format!("{start} .. {}", end.pred_opt().unwrap_or(end)),
        start: midnight(start),
        end: midnight(end),
    }
}

/// The span a period covers at `now`, cut at `now`.
pub fn resolve(period: Period, now: i64, billing_day: u8) -> Span {
    let billing = billing_period(now, billing_day);
    let (label, start, end) = match period {
        Period::Month => (
            format!("billing period from {}", utc_date(billing.start)),
            billing.start,
            now,
        ),
        Period::LastMonth => {
            let prev = billing_period(billing.start - 1, billing_day);
            (
                format!("last billing period {}", prev.label),
                prev.start,
                prev.end,
            )
        }
        Period::Days7 => ("last 7 days".to_string(), now - 7 * DAY, now),
        Period::Today => (
            format!("today {}", utc_date(now)),
            midnight(utc_date(now)),
            now,
        ),
        Period::Range(a, b) => (
            format!("{a} .. {b}"),
            midnight(a),
            midnight(b + chrono::Days::new(1)),
        ),
    };
    Span {
        label,
        start,
        end: end.min(now),
    }
}

pub fn utc_date(t: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp(t, 0)
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

fn midnight(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc().timestamp())
        .unwrap_or(0)
}

/// Bytes received and sent on one UTC day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayTotal {
    pub date: NaiveDate,
    pub received: f64,
    pub sent: f64,
}

/// Totals of one interface over a span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IfaceTotal {
    pub name: String,
    pub received: f64,
    pub sent: f64,
    /// `lo` is shown but not counted: it never leaves the machine.
    pub counted: bool,
}

/// How much of the span the data covers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coverage {
    /// Seconds of the span with data (the longest-covered interface).
    pub covered_secs: i64,
    pub missing_secs: i64,
    /// When the agent's data starts, if after the span's start.
    pub retention_start: Option<i64>,
    /// Whole data points expected and found (per interface, the best one).
    pub points_expected: u64,
    pub points_found: u64,
}

impl Coverage {
    pub fn missing_hours(&self) -> f64 {
        self.missing_secs as f64 / 3600.0
    }

    pub fn complete(&self) -> bool {
        self.missing_secs == 0
    }

    /// `complete` or `31.5 hours missing (data starts 2026-11-22 08:00)`.
    pub fn describe(&self) -> String {
        if self.complete() {
            return "complete".into();
        }
        let mut text = format!("{:.1} hours missing", self.missing_hours());
        if let Some(start) = self.retention_start
            && let Some(dt) = DateTime::<Utc>::from_timestamp(start, 0)
        {
            text.push_str(&format!(
                " (data starts {})",
                dt.format("%Y-%m-%d %H:%M UTC")
            ));
        }
        text
    }
}

/// Traffic over a span.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Traffic {
    /// Counted interfaces only.
    pub received: f64,
    pub sent: f64,
    pub interfaces: Vec<IfaceTotal>,
    pub coverage: Coverage,
    pub daily: Vec<DayTotal>,
}

/// Whether an interface counts towards totals.
pub fn counts(iface: &str) -> bool {
    iface != "lo"
}

/// Adds up Netdata sums per interface over `(start, end]`. `end` is cut to
/// the step (a row covers `(t - step, t]`); the row at `start` is dropped.
pub fn from_netdata(sums: &[(String, NetdataSum)], start: i64, end: i64) -> Traffic {
    let mut traffic = Traffic::default();
    let mut best: Option<Coverage> = None;
    let mut daily: std::collections::BTreeMap<NaiveDate, (f64, f64)> = Default::default();
    for (name, sum) in sums {
        let step = sum.step.max(1);
        let aligned_end = end - end.rem_euclid(step);
        let aligned_start = start + (step - start.rem_euclid(step)) % step;
        let counted = counts(name);
        let (mut rx, mut tx, mut found) = (0.0, 0.0, 0u64);
        for row in sum
            .rows
            .iter()
            .filter(|r| r.t > aligned_start && r.t <= aligned_end)
        {
            if row.received.is_none() && row.sent.is_none() {
                continue;
            }
            found += 1;
            let r = kilobits_to_bytes(row.received.unwrap_or(0.0));
            let s = kilobits_to_bytes(row.sent.unwrap_or(0.0));
            rx += r;
            tx += s;
            if counted {
                let day = daily.entry(utc_date(row.t - 1)).or_default();
                day.0 += r;
                day.1 += s;
            }
        }
        let expected = ((aligned_end - aligned_start).max(0) / step) as u64;
        let found = found.min(expected);
        let coverage = Coverage {
            covered_secs: found as i64 * step,
            missing_secs: (expected - found) as i64 * step,
            retention_start: sum.first_entry.filter(|first| *first > start),
            points_expected: expected,
            points_found: found,
        };
        if (counted || sums.iter().all(|(n, _)| !counts(n)))
            && best
                .as_ref()
                .is_none_or(|b| coverage.covered_secs > b.covered_secs)
        {
            best = Some(coverage);
        }
        if counted {
            traffic.received += rx;
            traffic.sent += tx;
        }
        traffic.interfaces.push(IfaceTotal {
            name: name.clone(),
            received: rx,
            sent: tx,
            counted,
        });
    }
    traffic.coverage = best.unwrap_or(Coverage {
        missing_secs: (end - start).max(0),
        ..Coverage::default()
    });
    traffic.daily = daily
        .into_iter()
        .map(|(date, (received, sent))| DayTotal {
            date,
            received,
            sent,
        })
        .collect();
    traffic
}

/// Start of the oldest row with data on a counted interface (`t - step`).
pub fn first_data(sums: &[(String, NetdataSum)]) -> Option<i64> {
    sums.iter()
        .filter(|(name, _)| counts(name))
        .filter_map(|(_, s)| {
            s.rows
                .iter()
                .find(|r| r.received.is_some() || r.sent.is_some())
                .map(|r| r.t - s.step.max(1))
        })
        .min()
}

/// The step one coverage's points stand for, if it has any.
fn step_of(c: &Coverage) -> Option<i64> {
    let secs = c.covered_secs + c.missing_secs;
    (c.points_expected > 0).then(|| secs / c.points_expected as i64)
}

/// Coverage of two adjacent spans. The spans may come from different tiers
/// (hours before minutes): points are then counted at the finer step, so
/// that "expected" still means one thing across the whole span.
fn merge_coverage(a: &Coverage, b: &Coverage) -> Coverage {
    let covered_secs = a.covered_secs + b.covered_secs;
    let missing_secs = a.missing_secs + b.missing_secs;
    let step = match (step_of(a), step_of(b)) {
        (Some(x), Some(y)) => x.min(y),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => 1,
    }
    .max(1);
    Coverage {
        covered_secs,
        missing_secs,
        retention_start: a.retention_start,
        points_expected: ((covered_secs + missing_secs) / step) as u64,
        points_found: (covered_secs / step) as u64,
    }
}

/// Traffic of two adjacent spans as one.
pub fn merge(a: Traffic, b: Traffic) -> Traffic {
    let mut interfaces = a.interfaces;
    for i in b.interfaces {
        match interfaces.iter_mut().find(|x| x.name == i.name) {
            Some(x) => {
                x.received += i.received;
                x.sent += i.sent;
            }
            None => interfaces.push(i),
        }
    }
    let mut daily: std::collections::BTreeMap<NaiveDate, (f64, f64)> = Default::default();
    for d in a.daily.into_iter().chain(b.daily) {
        let e = daily.entry(d.date).or_default();
        e.0 += d.received;
        e.1 += d.sent;
    }
    Traffic {
        received: a.received + b.received,
        sent: a.sent + b.sent,
        interfaces,
        coverage: merge_coverage(&a.coverage, &b.coverage),
        daily: daily
            .into_iter()
            .map(|(date, (received, sent))| DayTotal {
                date,
                received,
                sent,
            })
            .collect(),
    }
}

/// How far a projection can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// Below the minimum coverage: no number is given.
    NotEnoughData,
    /// Enough to give a number, too little to lean on it (under 6 days).
    Rough,
    /// At least 6 days of data.
    Full,
}

/// Coverage from which a projection is no longer rough, and which the
/// 7-day projection needs at all: most of a week.
pub const FULL_PROJECTION_SECS: i64 = 6 * DAY;

/// Where the billing period will end, linear on a basis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Projection {
    /// `period so far` or `last 7 days`.
    pub basis: String,
    /// Seconds of data the projection stands on.
    pub covered_secs: i64,
    /// `from 10 min of data`.
    pub stands_on: String,
    pub quality: Quality,
    /// `None` when there is not enough data (`reason` says why).
    pub received: Option<f64>,
    pub sent: Option<f64>,
    /// Outbound at the slowest and at the busiest whole day's rate
    /// (`None` with fewer than two whole days).
    pub sent_low: Option<f64>,
    pub sent_high: Option<f64>,
    /// Why there is no number, or why it is rough.
    pub reason: Option<String>,
}

impl Projection {
    /// `rough, from 1.0 days of data` / `not enough data to project (…)`.
    pub fn describe(&self) -> String {
        match self.quality {
            Quality::NotEnoughData => format!(
                "not enough data to project ({})",
                self.reason.as_deref().unwrap_or("")
            ),
            Quality::Rough => format!("rough, {}", self.stands_on),
            Quality::Full => self.stands_on.clone(),
        }
    }
}

/// `10 min`, `23.5 h`, `8.0 days`.
pub fn human_span(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 3600 {
        format!("{} min", secs / 60)
    } else if secs < 2 * DAY {
        format!("{:.1} h", secs as f64 / 3600.0)
    } else {
        format!("{:.1} days", secs as f64 / DAY as f64)
    }
}

/// Period total so far plus the basis's rate (bytes per covered second)
/// times the time left, with the spread of its whole days' rates. Below
/// `min_secs` of covered time there is no number, only the reason.
/// `basis_start` is where the basis begins (days before it, and today,
/// are not whole).
#[allow(clippy::too_many_arguments)]
pub fn project(
    basis: &str,
    so_far: &Traffic,
    rate_from: &Traffic,
    basis_start: i64,
    now: i64,
    billing: &Span,
    min_secs: i64,
) -> Projection {
    let covered = rate_from.coverage.covered_secs.max(0);
    let stands_on = format!("from {} of data", human_span(covered));
    let mut p = Projection {
        basis: basis.to_string(),
        covered_secs: covered,
        stands_on,
        quality: Quality::NotEnoughData,
        received: None,
        sent: None,
        sent_low: None,
        sent_high: None,
        reason: None,
    };
    if covered <= 0 || covered < min_secs {
        p.reason = Some(format!(
            "{} of data, needs {}",
            human_span(covered),
            human_span(min_secs.max(60))
        ));
        return p;
    }
    let remaining = (billing.end - now.max(billing.start)).max(0) as f64;
    let per_sec = |bytes: f64| bytes / covered as f64;
    p.received = Some(so_far.received + per_sec(rate_from.received) * remaining);
    p.sent = Some(so_far.sent + per_sec(rate_from.sent) * remaining);
    let today = utc_date(now);
    // Where the data (taken as one stretch) starts: its first day is partial.
    let from = basis_start.max(now - covered);
    let whole: Vec<f64> = rate_from
        .daily
        .iter()
        .filter(|d| d.date < today && midnight(d.date) >= from)
        .map(|d| d.sent / DAY as f64)
        .collect();
    if whole.len() >= 2 {
        let low = whole.iter().copied().fold(f64::INFINITY, f64::min);
        let high = whole.iter().copied().fold(0.0, f64::max);
        p.sent_low = Some(so_far.sent + low * remaining);
        p.sent_high = Some(so_far.sent + high * remaining);
    }
    if covered >= FULL_PROJECTION_SECS {
        p.quality = Quality::Full;
    } else {
        p.quality = Quality::Rough;
        p.reason = Some(format!(
            "only {} of data; {} make it firm",
            human_span(covered),
            human_span(FULL_PROJECTION_SECS)
        ));
    }
    p
}

/// Both projections: on the period so far (needs `min_hours` of data) and
/// on the last 7 days (needs [`FULL_PROJECTION_SECS`], most of the week).
pub fn projections(
    so_far: &Traffic,
    week: Option<&Traffic>,
    now: i64,
    billing: &Span,
    min_hours: f64,
) -> Vec<Projection> {
    let min_secs = (min_hours.max(0.0) * 3600.0) as i64;
    let mut out = vec![project(
        "period so far",
        so_far,
        so_far,
        billing.start,
        now,
        billing,
        min_secs,
    )];
    if let Some(week) = week {
        let mut p = project(
            "last 7 days",
            so_far,
            week,
            now - 7 * DAY,
            now,
            billing,
            min_secs.max(FULL_PROJECTION_SECS),
        );
        if p.quality == Quality::NotEnoughData {
            p.reason = Some(format!(
                "{} of data, needs {} of the last 7",
                human_span(p.covered_secs),
                human_span(FULL_PROJECTION_SECS.max(min_secs))
            ));
        }
        out.push(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::netdata::{SumRow, parse_sum};

    // 2026-11-23 14:00:00 UTC
    const NOW: i64 = 1_795_442_400;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn billing_periods() {
        let p = billing_period(NOW, 1);
        assert_eq!(utc_date(p.start), date("2026-11-01"));
        assert_eq!(utc_date(p.end), date("2026-12-01"));
        let p = billing_period(NOW, 25);
        assert_eq!(utc_date(p.start), date("2026-10-25"));
        assert_eq!(utc_date(p.end), date("2026-11-25"));
        let p = billing_period(NOW, 23);
        assert_eq!(utc_date(p.start), date("2026-11-23"));
        let last = resolve(Period::LastMonth, NOW, 1);
        assert_eq!(utc_date(last.start), date("2026-10-01"));
        assert_eq!(utc_date(last.end), date("2026-11-01"));
    }

    #[test]
    fn periods_parse_and_resolve() {
        assert_eq!(Period::parse("7d"), Ok(Period::Days7));
        let r = Period::parse("2026-11-01..2026-11-02").expect("range");
        let span = resolve(r, NOW, 1);
        assert_eq!(span.secs(), 2 * DAY);
        assert!(Period::parse("2026-11-02..2026-11-01").is_err());
        assert!(Period::parse("2026-13-01..2026-11-01").is_err());
        assert!(Period::parse("fortnight").is_err());
        let today = resolve(Period::Today, NOW, 1);
        assert_eq!(today.secs(), 14 * 3600);
        // A range reaching into the future is cut at now.
        let r = resolve(Period::parse("2026-11-23..2026-11-30").expect("r"), NOW, 1);
        assert_eq!(r.end, NOW);
    }

    fn sum(step: i64, first: i64, rows: &[(i64, Option<f64>)]) -> NetdataSum {
        NetdataSum {
            first_entry: Some(first),
            step,
            rows: rows
                .iter()
                .map(|(t, v)| SumRow {
                    t: *t,
                    received: *v,
                    sent: v.map(|x| x / 2.0),
                })
                .collect(),
            ..NetdataSum::default()
        }
    }

    #[test]
    fn sums_drop_the_row_at_after_and_count_missing_time() {
        let start = 600;
        // Rows at 600 (before the span), 660, 720 (null), 780; end 780.
        let s = sum(
            60,
            0,
            &[
                (600, Some(800.0)),
                (660, Some(8000.0)),
                (720, None),
                (780, Some(8.0)),
            ],
        );
        let t = from_netdata(&[("eth0".into(), s)], start, 790);
        assert_eq!(t.received, 1e6 + 1e3);
        assert_eq!(t.sent, 0.5e6 + 0.5e3);
        assert_eq!(t.coverage.points_expected, 3);
        assert_eq!(t.coverage.points_found, 2);
        assert_eq!(t.coverage.missing_secs, 60);
        assert_eq!(t.coverage.covered_secs, 120);
    }

    #[test]
    fn lo_is_shown_but_not_counted_and_days_split_at_midnight() {
        let midnight = 1_795_392_000; // 2026-11-23 00:00 UTC
        let eth = sum(
            60,
            0,
            &[(midnight, Some(8000.0)), (midnight + 60, Some(16000.0))],
        );
        let lo = sum(60, 0, &[(midnight, Some(1e9)), (midnight + 60, Some(1e9))]);
        let t = from_netdata(
            &[("eth0".into(), eth), ("lo".into(), lo)],
            midnight - 120,
            midnight + 60,
        );
        assert_eq!(t.received, 3e6);
        assert_eq!(t.interfaces.len(), 2);
        assert!(!t.interfaces[1].counted);
        assert_eq!(t.interfaces[1].received, 2.5e11);
        // The row stamped midnight covers the minute before it.
        assert_eq!(t.daily.len(), 2);
        assert_eq!(t.daily[0].date, date("2026-11-22"));
        assert_eq!(t.daily[0].received, 1e6);
        assert_eq!(t.daily[1].received, 2e6);
    }

    #[test]
    fn retention_after_the_start_is_reported_as_missing_hours() {
        let start = 0;
        // Data only for the last hour of a 3-hour span.
        let rows: Vec<(i64, Option<f64>)> = (1..=180)
            .map(|i| (i * 60, (i > 120).then_some(80.0)))
            .collect();
        let t = from_netdata(&[("eth0".into(), sum(60, 7200, &rows))], start, 3 * 3600);
        assert_eq!(t.coverage.missing_hours(), 2.0);
        assert_eq!(t.coverage.retention_start, Some(7200));
        assert!(
            t.coverage
                .describe()
                .starts_with("2.0 hours missing (data starts 1970-01-01 02:00 UTC)")
        );
        // Rows absent from the answer count as missing too.
        let t = from_netdata(&[("eth0".into(), sum(60, 0, &[(60, Some(1.0))]))], 0, 600);
        assert_eq!(t.coverage.missing_secs, 540);
    }

    #[test]
    fn tier0_and_tier1_sums_give_the_same_bytes() {
        // 60 per-second samples of 1000 kbit/s = one tier-1 row of 60000.
        let per_sec: Vec<(i64, Option<f64>)> = (1..=60).map(|i| (i, Some(1000.0))).collect();
        let t0 = from_netdata(&[("eth0".into(), sum(1, 0, &per_sec))], 0, 60);
        let t1 = from_netdata(
            &[("eth0".into(), sum(60, 0, &[(60, Some(60000.0))]))],
            0,
            60,
        );
        assert_eq!(t0.received, 7.5e6);
        assert_eq!(t0.received, t1.received);
        assert!(t0.coverage.complete() && t1.coverage.complete());
    }

    #[test]
    fn hours_before_minutes_count_points_in_minutes() {
        // 13 hours from tier 2, then 26 minutes from tier 1, one hour missing.
        let hours: Vec<(i64, Option<f64>)> = (2..=13).map(|h| (h * 3600, Some(1.0))).collect();
        let minutes: Vec<(i64, Option<f64>)> =
            (1..=26).map(|m| (13 * 3600 + m * 60, Some(1.0))).collect();
        let before = from_netdata(&[("eth0".into(), sum(3600, 0, &hours))], 0, 13 * 3600);
        let after = from_netdata(
            &[("eth0".into(), sum(60, 0, &minutes))],
            13 * 3600,
            13 * 3600 + 26 * 60,
        );
        let t = merge(before, after);
        assert_eq!(t.coverage.points_expected, 13 * 60 + 26);
        assert_eq!(t.coverage.points_found, 12 * 60 + 26);
        assert_eq!(t.coverage.missing_secs, 3600);
    }

    #[test]
    fn recorded_fixture_totals() {
        let body = include_bytes!("../../tests/fixtures/netdata/data_net_lo_tier1.json");
        let s = parse_sum(body).expect("fixture");
        let (after, before) = (s.after, s.before);
        let t = from_netdata(&[("lo".into(), s)], after, before);
        // lo is not counted, but its own total is.
        assert_eq!(t.received, 0.0);
        let kbits =
            5908.2641602 + 6203.8081055 + 6714.5302734 + 203.0925598 + 311.5360107 + 10746.2324219;
        assert!((t.interfaces[0].received - kbits * 125.0).abs() < 1e-3);
        // 59 minutes after the dropped `after` row; 10 with data.
        assert_eq!(t.coverage.points_expected, 59);
        assert_eq!(t.coverage.points_found, 10);
    }

    #[test]
    fn projections_are_linear() {
        let billing = billing_period(NOW, 1); // Nov: 30 days, 22d14h gone
        let so_far = Traffic {
            received: 100.0,
            sent: 1000.0,
            coverage: Coverage {
                covered_secs: NOW - billing.start,
                ..Coverage::default()
            },
            ..Traffic::default()
        };
        let p = project(
            "period so far",
            &so_far,
            &so_far,
            billing.start,
            NOW,
            &billing,
            0,
        );
        let ratio = 30.0 * DAY as f64 / (NOW - billing.start) as f64;
        assert!((p.sent.expect("sent") - 1000.0 * ratio).abs() < 1e-6);
        let week = Traffic {
            sent: 7.0 * DAY as f64, // 1 byte/s
            coverage: Coverage {
                covered_secs: 7 * DAY,
                ..Coverage::default()
            },
            ..Traffic::default()
        };
        let p = project(
            "last 7 days",
            &so_far,
            &week,
            NOW - 7 * DAY,
            NOW,
            &billing,
            0,
        );
        assert_eq!(p.sent, Some(1000.0 + (billing.end - NOW) as f64));
        let p = project("x", &so_far, &Traffic::default(), NOW, NOW, &billing, 0);
        assert_eq!((p.quality, p.sent), (Quality::NotEnoughData, None));
    }

    /// `secs` of made-up traffic up to NOW: 1 MB out per second, except
    /// the busiest day (twice that) and the slowest (half).
    fn made_up(secs: i64) -> Traffic {
        let start = NOW - secs;
        let mut daily = Vec::new();
        let mut day = utc_date(start);
        let mut sent = 0.0;
        while day <= utc_date(NOW) {
            let from = midnight(day).max(start);
            let to = (midnight(day) + DAY).min(NOW);
            let factor = match daily.len() {
                2 => 2.0,
                3 => 0.5,
                _ => 1.0,
            };
            let bytes = (to - from) as f64 * 1e6 * factor;
            sent += bytes;
            daily.push(DayTotal {
                date: day,
                received: 0.0,
                sent: bytes,
            });
            day = day.succ_opt().expect("day");
        }
        Traffic {
            received: 0.0,
            sent,
            coverage: Coverage {
                covered_secs: secs,
                ..Coverage::default()
            },
            daily,
            ..Traffic::default()
        }
    }

    #[test]
    fn ten_minutes_one_day_and_eight_days_of_traffic() {
        let billing = billing_period(NOW, 1);
        // 10 minutes: no number at all, on either basis.
        let t = made_up(600);
        let ps = projections(&t, Some(&t), NOW, &billing, 24.0);
        assert_eq!(ps.len(), 2);
        for p in &ps {
            assert_eq!(p.quality, Quality::NotEnoughData, "{p:?}");
            assert_eq!((p.sent, p.received), (None, None));
            assert_eq!(p.stands_on, "from 10 min of data");
        }
        assert_eq!(
            ps[0].reason.as_deref(),
            Some("10 min of data, needs 24.0 h")
        );
        assert!(ps[0].describe().starts_with("not enough data to project"));
        // The minimum is configurable.
        let ps = projections(&t, None, NOW, &billing, 0.1);
        assert_eq!(ps[0].quality, Quality::Rough);

        // 1 day: a rough number on the period so far; the week needs 6 days.
        let t = made_up(DAY);
        let ps = projections(&t, Some(&t), NOW, &billing, 24.0);
        assert_eq!(ps[0].quality, Quality::Rough);
        assert_eq!(ps[0].stands_on, "from 24.0 h of data");
        assert!(ps[0].describe().starts_with("rough, from 24.0 h"));
        let left = (billing.end - NOW) as f64;
        assert!((ps[0].sent.expect("sent") - (t.sent + t.sent / DAY as f64 * left)).abs() < 1.0);
        assert_eq!(ps[0].sent_low, None, "no two whole days: no spread");
        assert_eq!(ps[1].quality, Quality::NotEnoughData);
        assert_eq!(ps[1].sent, None);
        assert_eq!(
            ps[1].reason.as_deref(),
            Some("24.0 h of data, needs 6.0 days of the last 7")
        );

        // 8 days: both full, with a spread from the slowest to the busiest day.
        let t = made_up(8 * DAY);
        let ps = projections(&t, Some(&t), NOW, &billing, 24.0);
        for p in &ps {
            assert_eq!(p.quality, Quality::Full, "{p:?}");
            assert_eq!(p.reason, None);
            let (low, mid, high) = (
                p.sent_low.expect("low"),
                p.sent.expect("sent"),
                p.sent_high.expect("high"),
            );
            assert!(low < mid && mid < high, "{low} {mid} {high}");
            assert!((low - (t.sent + 0.5e6 * left)).abs() < 1.0);
            assert!((high - (t.sent + 2e6 * left)).abs() < 1.0);
        }
        assert_eq!(ps[0].stands_on, "from 8.0 days of data");
    }
}
