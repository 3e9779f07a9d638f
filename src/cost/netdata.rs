//! Traffic from Netdata's v1 API: the request for a period's sums, the
//! parser for its answer, and the small trait the cost code reads through
//! (so the shared Netdata client can replace [`super::netdata_fetch`]).
//!
//! Facts checked on Netdata 1.37.1: `net.IFACE` is in kilobits/s (1 kilobit =
//! 1000 bits); with `group=sum` each row is the sum of the per-second values
//! it covers, on tier 1 (per minute) as on tier 0 (per second), so
//! kilobits/s × seconds × 1000 / 8 = bytes. A row stamped `t` covers
//! `(t - view_update_every, t]`; the row at `after` itself is returned too and
//! belongs to the time before the period, so it is dropped. Rows where the
//! agent has nothing (before its retention, or while it was down) are `null`.

use async_trait::async_trait;
use serde_json::Value;

/// One row: kilobit sums of `(t - step, t]`, `None` where Netdata has no data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SumRow {
    pub t: i64,
    pub received: Option<f64>,
    pub sent: Option<f64>,
}

/// A parsed `/api/v1/data` answer for one `net.IFACE` chart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NetdataSum {
    /// Oldest and newest data the agent holds for the chart (unix seconds).
    pub first_entry: Option<i64>,
    pub last_entry: Option<i64>,
    /// Seconds each row covers (60 on tier 1, 1 on tier 0).
    pub step: i64,
    /// The period as Netdata aligned it.
    pub after: i64,
    pub before: i64,
    /// Values read from each tier (dimensions × points).
    pub db_points_per_tier: Vec<u64>,
    /// Oldest first.
    pub rows: Vec<SumRow>,
}

impl NetdataSum {
    /// No data in `(after, before]` on `tier` (Netdata's default tier steps:
    /// 1 s, 1 min, 1 h).
    pub fn empty(tier: u8, after: i64, before: i64) -> Self {
        Self {
            step: match tier {
                0 => 1,
                1 => 60,
                _ => 3600,
            },
            after,
            before,
            ..Self::default()
        }
    }
}

/// Where traffic data comes from.
#[async_trait]
pub trait TrafficQuery: Send + Sync {
    /// Network interfaces with a `net.IFACE` chart.
    async fn interfaces(&self) -> Result<Vec<String>, String>;
    /// Sums of `net.IFACE` for `(after, before]` on `tier`.
    async fn net_sum(
        &self,
        iface: &str,
        after: i64,
        before: i64,
        tier: u8,
    ) -> Result<NetdataSum, String>;
}

/// The request path for the sums of `net.IFACE` over `(after, before]`.
pub fn data_path(iface: &str, after: i64, before: i64, tier: u8) -> String {
    format!(
        "/api/v1/data?chart=net.{}&after={after}&before={before}&group=sum&tier={tier}&format=json&options=seconds,unaligned,abs,jsonwrap",
        url_encode(iface)
    )
}

/// The request path that lists `net.*` charts (small: latest values only).
pub const INTERFACES_PATH: &str = "/api/v1/allmetrics?format=json&filter=net.%2A";

fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Interface names from the `allmetrics` answer (chart ids `net.IFACE`), sorted.
pub fn parse_interfaces(body: &[u8]) -> Result<Vec<String>, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("Netdata's chart list is not JSON: {e}"))?;
    let charts = value
        .as_object()
        .ok_or("Netdata's chart list is not a JSON object")?;
    let mut names: Vec<String> = charts
        .keys()
        .filter_map(|id| id.strip_prefix("net."))
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect();
    names.sort();
    Ok(names)
}

/// Parses a `/api/v1/data` answer made with `options=seconds,jsonwrap,abs`.
///
/// Typed and streaming: a month of per-minute rows is 43,200 rows, and as a
/// `serde_json::Value` tree it took about 6 MB for a moment (a `Value` per
/// cell, a `Vec` per row); here each row goes straight into a [`SumRow`]
/// (40 bytes) and nothing else of the answer is kept. See [`typed`].
pub fn parse_sum(body: &[u8]) -> Result<NetdataSum, String> {
    let answer: typed::Answer = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            return e.to_string();
        }
        let head = String::from_utf8_lossy(&body[..body.len().min(80)]).to_string();
        format!(
            "Netdata's answer is not JSON ({e}): {}",
            crate::text::inert(head.trim())
        )
    })?;
    answer.into_sum()
}

/// Bytes from a sum of kilobits/s samples over seconds.
pub fn kilobits_to_bytes(kilobits: f64) -> f64 {
    kilobits * 1000.0 / 8.0
}

mod typed;

#[cfg(test)]
mod tests {
    use super::*;

    const TIER1: &[u8] = include_bytes!("../../tests/fixtures/netdata/data_net_lo_tier1.json");

    /// The parser before the typed one, through a `Value` of the whole
    /// answer: kept here to check the typed one against.
    fn parse_sum_via_value(body: &[u8]) -> Result<NetdataSum, String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            let head = String::from_utf8_lossy(&body[..body.len().min(80)]).to_string();
            format!(
                "Netdata's answer is not JSON ({e}): {}",
                crate::text::inert(head.trim())
            )
        })?;
        let int = |key: &str| value.get(key).and_then(Value::as_i64);
        let result = value
            .get("result")
            .ok_or("Netdata's answer has no `result` (was `jsonwrap` dropped?)")?;
        let labels: Vec<&str> = result
            .get("labels")
            .and_then(Value::as_array)
            .ok_or("Netdata's answer has no `result.labels`")?
            .iter()
            .map(|l| l.as_str().unwrap_or(""))
            .collect();
        let col = |name: &str| labels.iter().position(|l| *l == name);
        let (Some(time_col), Some(rx_col), Some(tx_col)) =
            (col("time"), col("received"), col("sent"))
        else {
            return Err(format!(
                "Netdata's answer lacks time/received/sent columns (has {labels:?}); is this a net.* chart?"
            ));
        };
        let data = result
            .get("data")
            .and_then(Value::as_array)
            .ok_or("Netdata's answer has no `result.data` array")?;
        let mut rows = Vec::with_capacity(data.len());
        for row in data {
            let cells = row.as_array().ok_or("a Netdata row is not an array")?;
            let t = cells
                .get(time_col)
                .and_then(Value::as_i64)
                .ok_or("a Netdata row has no integer time (was `seconds` dropped?)")?;
            let cell = |i: usize| -> Result<Option<f64>, String> {
                match cells.get(i) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => v
                        .as_f64()
                        .map(|x| Some(x.abs()))
                        .ok_or_else(|| format!("a Netdata value at {t} is not a number: {v}")),
                }
            };
            rows.push(SumRow {
                t,
                received: cell(rx_col)?,
                sent: cell(tx_col)?,
            });
        }
        rows.sort_by_key(|r| r.t);
        Ok(NetdataSum {
            first_entry: int("first_entry"),
            last_entry: int("last_entry"),
            step: int("view_update_every").unwrap_or(1).max(1),
            after: int("after").unwrap_or(0),
            before: int("before").unwrap_or(0),
            db_points_per_tier: value
                .get("db_points_per_tier")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default(),
            rows,
        })
    }

    const DAY: &[u8] = include_bytes!("../../tests/fixtures/netdata/data_net_lo_tier1_day.json");

    #[test]
    fn typed_parse_equals_the_value_parse_on_recorded_answers() {
        for body in [TIER1, DAY] {
            let typed = parse_sum(body).expect("typed");
            assert_eq!(typed, parse_sum_via_value(body).expect("value"));
        }
        let day = parse_sum(DAY).expect("day");
        assert_eq!(day.rows.len(), 1440, "a day of minutes");
        assert!(day.rows.iter().any(|r| r.received.is_some()));
        assert!(day.rows.iter().any(|r| r.received.is_none()));
    }

    #[test]
    fn typed_parse_gives_the_same_totals() {
        let day = parse_sum(DAY).expect("day");
        let (start, end) = (day.after, day.before);
        let typed = crate::cost::traffic::from_netdata(&[("eth0".into(), day)], start, end);
        let old = parse_sum_via_value(DAY).expect("value");
        let reference = crate::cost::traffic::from_netdata(&[("eth0".into(), old)], start, end);
        assert_eq!(typed, reference);
        assert!(typed.received > 0.0, "the fixture has traffic");
        assert!(typed.coverage.points_found > 0);
    }

    #[test]
    fn data_before_labels_still_parses() {
        let body = br#"{"result":{"data":[[120,1,2],[60,3,null]],"labels":["time","received","sent"]},"view_update_every":60}"#;
        let sum = parse_sum(body).expect("parses");
        assert_eq!(sum, parse_sum_via_value(body).expect("value"));
        assert_eq!(sum.rows[0].t, 60);
        assert_eq!(sum.rows[0].sent, None);
    }

    #[test]
    fn odd_field_types_are_read_as_the_value_parse_read_them() {
        // Non-integer scalars are absent; extra columns and fields skipped.
        let body = br#"{"first_entry":"x","after":1.5,"points":-3,"db_points_per_tier":[1,"a",2],"result":{"labels":["time","x","received","sent"],"data":[[60,{"a":1},4,5]]}}"#;
        let sum = parse_sum(body).expect("parses");
        assert_eq!(sum, parse_sum_via_value(body).expect("value"));
        assert_eq!(sum.db_points_per_tier, vec![1, 2]);
        assert_eq!(sum.first_entry, None);
    }

    #[test]
    fn path_has_the_checked_options() {
        assert_eq!(
            data_path("eth0", 1_000, 2_000, 1),
            "/api/v1/data?chart=net.eth0&after=1000&before=2000&group=sum&tier=1&format=json&options=seconds,unaligned,abs,jsonwrap"
        );
        assert!(data_path("we ird&x", 0, 1, 0).contains("chart=net.we%20ird%26x&"));
    }

    #[test]
    fn recorded_tier1_answer_parses() {
        let sum = parse_sum(TIER1).expect("fixture parses");
        assert_eq!(sum.step, 60);
        assert_eq!(sum.rows.len(), 60);
        assert_eq!(sum.first_entry, Some(1_795_446_426));
        assert_eq!(sum.db_points_per_tier, vec![0, 20, 0]);
        // Oldest first; nulls kept as None.
        assert!(sum.rows[0].t < sum.rows[59].t);
        assert_eq!(sum.rows[0].received, None);
        let newest = sum.rows[59];
        assert_eq!(newest.t, 1_795_447_080);
        assert_eq!(newest.received, Some(5908.2641602));
        let with_data = sum.rows.iter().filter(|r| r.received.is_some()).count();
        assert_eq!(with_data * 2, 20, "db_points_per_tier counts dims × points");
    }

    #[test]
    fn negative_sent_without_abs_is_made_positive() {
        let body = br#"{"after":0,"before":60,"view_update_every":60,"result":{"labels":["time","sent","received"],"data":[[60,-8,4]]}}"#;
        let sum = parse_sum(body).expect("parses");
        assert_eq!(sum.rows[0].sent, Some(8.0));
        assert_eq!(sum.rows[0].received, Some(4.0));
    }

    #[test]
    fn malformed_answers_are_errors_that_say_what() {
        let cases: [(&[u8], &str); 6] = [
            (b"No metrics where matched to query.", "not JSON"),
            (b"{\"data\":[]}", "no `result`"),
            (
                br#"{"result":{"labels":["time","user"],"data":[]}}"#,
                "time/received/sent",
            ),
            (
                br#"{"result":{"labels":["time","received","sent"]}}"#,
                "result.data",
            ),
            (
                br#"{"result":{"labels":["time","received","sent"],"data":[["x",1,2]]}}"#,
                "integer time",
            ),
            (
                br#"{"result":{"labels":["time","received","sent"],"data":[[1,"a",2]]}}"#,
                "not a number",
            ),
        ];
        for (body, needle) in cases {
            let err = parse_sum(body).expect_err("malformed");
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn interfaces_from_allmetrics() {
        let body = include_bytes!("../../tests/fixtures/netdata/allmetrics.json");
        let names = parse_interfaces(body).expect("parses");
        assert_eq!(names, vec!["eth0".to_string(), "lo".to_string()]);
        assert!(parse_interfaces(b"[1]").is_err());
        assert!(parse_interfaces(b"<html>").is_err());
    }

    #[test]
    fn kilobits_are_decimal() {
        // 8000 kilobits = 8,000,000 bits = 1 MB.
        assert_eq!(kilobits_to_bytes(8000.0), 1e6);
    }
}
