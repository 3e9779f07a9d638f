//! Traffic without Netdata: `vnstat --json` (daily totals) when the host has
//! it, else the interface counters in `/proc/net/dev` (since boot only).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::Value;

use super::traffic::{Coverage, DayTotal, IfaceTotal, Span, Traffic, counts, utc_date};

/// Daily totals of one interface, from vnstat.
#[derive(Debug, Clone, PartialEq)]
pub struct VnstatIface {
    pub name: String,
    pub days: BTreeMap<NaiveDate, (f64, f64)>,
}

/// Parses `vnstat --json d` (vnstat 2.x, `jsonversion` 2: bytes; dates in
/// the host's local time).
pub fn parse_vnstat(body: &[u8]) -> Result<Vec<VnstatIface>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("vnstat's output is not JSON: {e}"))?;
    let version = value
        .get("jsonversion")
        .and_then(|v| {
            v.as_str()
                .map(str::to_string)
                .or(v.as_i64().map(|i| i.to_string()))
        })
        .unwrap_or_default();
    if version != "2" {
        return Err(format!(
            "vnstat JSON version `{version}` is not supported (vnstat 2.x writes version 2)"
        ));
    }
    let ifaces = value
        .get("interfaces")
        .and_then(Value::as_array)
        .ok_or("vnstat's output has no `interfaces` array")?;
    let mut out = Vec::new();
    for iface in ifaces {
        let name = iface
            .get("name")
            .and_then(Value::as_str)
            .ok_or("a vnstat interface has no name")?
            .to_string();
        let mut days = BTreeMap::new();
        let list = iface
            .pointer("/traffic/day")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("vnstat interface {name} has no traffic.day list"))?;
        for day in list {
            let num = |p: &str| day.pointer(p).and_then(Value::as_u64);
            let (Some(y), Some(m), Some(d)) =
                (num("/date/year"), num("/date/month"), num("/date/day"))
            else {
                return Err(format!("a vnstat day of {name} has no date"));
            };
            let date = NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32)
                .ok_or_else(|| format!("vnstat date {y}-{m}-{d} is not a date"))?;
            let (Some(rx), Some(tx)) = (num("/rx"), num("/tx")) else {
                return Err(format!("vnstat day {date} of {name} lacks rx/tx"));
            };
            days.insert(date, (rx as f64, tx as f64));
        }
        out.push(VnstatIface { name, days });
    }
    Ok(out)
}

/// Totals over the whole UTC days the span touches (vnstat keeps days).
pub fn traffic_from_vnstat(ifaces: &[VnstatIface], span: &Span) -> Traffic {
    let first = utc_date(span.start);
    let last = utc_date((span.end - 1).max(span.start));
    let mut traffic = Traffic::default();
    let mut daily: BTreeMap<NaiveDate, (f64, f64)> = BTreeMap::new();
    let mut days_with_data = std::collections::BTreeSet::new();
    for iface in ifaces {
        let counted = counts(&iface.name);
        let (mut rx, mut tx) = (0.0, 0.0);
        for (date, (r, t)) in iface.days.range(first..=last) {
            rx += r;
            tx += t;
            if counted {
                days_with_data.insert(*date);
                let d = daily.entry(*date).or_default();
                d.0 += r;
                d.1 += t;
            }
        }
        if counted {
            traffic.received += rx;
            traffic.sent += tx;
        }
        traffic.interfaces.push(IfaceTotal {
            name: iface.name.clone(),
            received: rx,
            sent: tx,
            counted,
        });
    }
    let days_expected = (last - first).num_days().max(0) as u64 + 1;
    let found = days_with_data.len() as u64;
    let covered = (found as i64 * 86_400).min(span.secs());
    traffic.coverage = Coverage {
        covered_secs: covered,
        missing_secs: span.secs() - covered,
        retention_start: None,
        points_expected: days_expected,
        points_found: found,
    };
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

/// Parses `/proc/net/dev`: (interface, received bytes, sent bytes).
pub fn parse_proc_net_dev(text: &str) -> Result<Vec<(String, u64, u64)>, String> {
    let mut out = Vec::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            return Err(format!(
                "unexpected /proc/net/dev line: {}",
                crate::text::inert(line)
            ));
        };
        let fields: Vec<u64> = rest
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| format!("non-numeric /proc/net/dev counters for {}", name.trim()))?;
        if fields.len() < 16 {
            return Err(format!(
                "/proc/net/dev has {} counters for {}, expected 16",
                fields.len(),
                name.trim()
            ));
        }
        out.push((name.trim().to_string(), fields[0], fields[8]));
    }
    if out.is_empty() {
        return Err("/proc/net/dev lists no interfaces".into());
    }
    Ok(out)
}

/// Counters since boot as traffic (no days, no coverage beyond uptime).
pub fn traffic_since_boot(counters: &[(String, u64, u64)], uptime_secs: i64) -> Traffic {
    let mut traffic = Traffic::default();
    for (name, rx, tx) in counters {
        let counted = counts(name);
        if counted {
            traffic.received += *rx as f64;
            traffic.sent += *tx as f64;
        }
        traffic.interfaces.push(IfaceTotal {
            name: name.clone(),
            received: *rx as f64,
            sent: *tx as f64,
            counted,
        });
    }
    traffic.interfaces.sort_by(|a, b| a.name.cmp(&b.name));
    traffic.coverage.covered_secs = uptime_secs.max(0);
    traffic
}

#[cfg(test)]
mod tests {
    use super::*;

    const VNSTAT: &str = r#"{"vnstatversion":"2.10","jsonversion":"2","interfaces":[
      {"name":"eth0","alias":"","traffic":{"total":{"rx":9,"tx":9},
        "day":[{"id":1,"date":{"year":2026,"month":10,"day":31},"rx":1000,"tx":5000},
               {"id":2,"date":{"year":2026,"month":11,"day":1},"rx":2000,"tx":7000},
               {"id":3,"date":{"year":2026,"month":11,"day":3},"rx":3000,"tx":9000}]}},
      {"name":"lo","alias":"","traffic":{"total":{"rx":9,"tx":9},
        "day":[{"id":4,"date":{"year":2026,"month":11,"day":1},"rx":99999,"tx":99999}]}}]}"#;

    #[test]
    fn vnstat_days_in_the_span() {
        let ifaces = parse_vnstat(VNSTAT.as_bytes()).expect("parses");
        let start = 1_793_491_200; // 2026-11-01 00:00 UTC
        let span = Span {
            label: String::new(),
            start,
            end: start + 3 * 86_400,
        };
        let t = traffic_from_vnstat(&ifaces, &span);
        assert_eq!(t.received, 5000.0);
        assert_eq!(t.sent, 16000.0);
        assert_eq!(t.daily.len(), 2);
        // Nov 2 has no data: one day missing.
        assert_eq!(t.coverage.missing_secs, 86_400);
        assert_eq!(t.interfaces[1].received, 99999.0);
        assert!(!t.interfaces[1].counted);
    }

    #[test]
    fn vnstat_malformed() {
        assert!(parse_vnstat(b"vnstat: command not found").is_err());
        let err = parse_vnstat(br#"{"jsonversion":"1","interfaces":[]}"#).expect_err("v1");
        assert!(err.contains("version `1`"), "{err}");
        assert!(parse_vnstat(br#"{"jsonversion":"2"}"#).is_err());
        let err = parse_vnstat(
            br#"{"jsonversion":"2","interfaces":[{"name":"e","traffic":{"day":[{"date":{"year":2026,"month":2,"day":30},"rx":1,"tx":1}]}}]}"#,
        )
        .expect_err("bad date");
        assert!(err.contains("not a date"), "{err}");
    }

    const PROC: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 123456789 1000  0    0    0     0          0         0 987654321   900    0    0    0     0       0          0
";

    #[test]
    fn proc_net_dev_counters() {
        let c = parse_proc_net_dev(PROC).expect("parses");
        assert_eq!(c[1], ("eth0".to_string(), 123_456_789, 987_654_321));
        let t = traffic_since_boot(&c, 3600);
        assert_eq!(t.received, 123_456_789.0);
        assert_eq!(t.sent, 987_654_321.0);
        assert_eq!(t.interfaces.len(), 2);
        assert!(parse_proc_net_dev("h1\nh2\n").is_err());
        assert!(parse_proc_net_dev("h1\nh2\n eth0: 1 2 3\n").is_err());
        assert!(parse_proc_net_dev("h1\nh2\n eth0 1 2 3\n").is_err());
    }
}
