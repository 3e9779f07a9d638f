//! An alert's chart for the Alerts detail: what the health check compares
//! (its rule, thresholds where they are in the chart's own units), and the
//! fetch of the chart's recent points over the session's connection
//! (`/api/v1/chart` for title and units, `/api/v1/data` for the points).

use serde::Deserialize;

use super::client::{ClientError, NetdataClient, encode_query};
use super::parse::{self, ParseError, RawAlarm};
use crate::metrics::{AlertChart, AlertChartRequest, AlertRule, Threshold};

/// The rule of a raw alarm: its expressions, and thresholds only where the
/// compared value is the looked-up dimensions themselves (no `calc`, no
/// percentage of the chart): a threshold of `$used * 100 / total` drawn
/// over MiB would be a lie.
pub fn rule(raw: &RawAlarm) -> AlertRule {
    let in_chart_units = raw.calc.is_none()
        && raw
            .lookup
            .as_ref()
            .is_some_and(|l| !l.options.contains("percentage") && !l.options.contains("min2max"));
    let threshold = |expr: &Option<String>| {
        expr.as_deref()
            .filter(|_| in_chart_units)
            .and_then(raise_threshold)
    };
    AlertRule {
        units: raw.units.clone(),
        dimensions: raw.lookup.as_ref().and_then(|l| l.dimensions.clone()),
        calc: raw.calc.clone(),
        warn: raw.warn.clone(),
        crit: raw.crit.clone(),
        warn_at: threshold(&raw.warn),
        crit_at: threshold(&raw.crit),
    }
}

/// The level at which `$this OP LEVEL` raises. Netdata's usual hysteresis
/// `$this > (($status >= $WARNING) ? (75) : (85))` raises at the second
/// value (the first is where a raised alert clears). Anything else (an
/// expression of other variables, `!=`) gives `None`: no line is drawn.
pub fn raise_threshold(expr: &str) -> Option<Threshold> {
    let compact: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
    let rest = compact.strip_prefix("$this")?;
    let (above, level) = [(">=", true), ("<=", false), (">", true), ("<", false)]
        .into_iter()
        .find_map(|(op, above)| rest.strip_prefix(op).map(|level| (above, level)))?;
    let value = match level.parse::<f64>() {
        Ok(v) => v,
        Err(_) => {
            // `(($status>=$WARNING)?(75):(85))`: one condition on $status.
            let inner = level.strip_prefix("((")?.strip_suffix(')')?;
            let (condition, branches) = inner.split_once('?')?;
            if !condition.starts_with("$status") || condition.contains('(') {
                return None;
            }
            let (_, raise) = branches.split_once(':')?;
            raise
                .trim_start_matches('(')
                .trim_end_matches(')')
                .parse()
                .ok()?
        }
    };
    value.is_finite().then_some(Threshold { value, above })
}

/// `/api/v1/chart?chart=C`: the parts the detail shows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChartInfo {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub units: String,
}

pub fn chart_info(body: &[u8]) -> Result<ChartInfo, ParseError> {
    serde_json::from_slice(body).map_err(|e| ParseError {
        what: "/api/v1/chart",
        detail: e.to_string(),
    })
}

/// The `/api/v1/data` path of a request: the last `seconds`, averaged into
/// about `points` points, only the alert's dimensions when it names them.
pub fn data_path(request: &AlertChartRequest) -> String {
    let mut path = format!(
        "/api/v1/data?chart={}&after=-{}&before=0&points={}&group=average&format=json&options=seconds",
        encode_query(&request.chart),
        request.seconds,
        request.points.max(1)
    );
    if let Some(dimensions) = request.dimensions.as_deref().filter(|d| !d.is_empty()) {
        path.push_str("&dimensions=");
        path.push_str(&encode_query(dimensions));
    }
    path
}

/// Builds the chart from the two answers; `now` is the window's end.
pub fn build(
    request: &AlertChartRequest,
    info: ChartInfo,
    table: parse::DataTable,
    now: i64,
) -> AlertChart {
    let series = table
        .labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let points = table
                .rows
                .iter()
                .filter_map(|(t, values)| Some((*t, (*values.get(i)?)?)))
                .collect();
            (parse::plain_text(label), points)
        })
        .collect();
    AlertChart {
        chart: request.chart.clone(),
        title: parse::plain_text(&info.title),
        units: parse::plain_text(&info.units),
        series,
        after: now - i64::from(request.seconds),
        before: now,
    }
}

/// Fetches the chart of `request` (two requests, one at a time, on the
/// session's kept-alive connection).
pub async fn fetch(
    client: &mut NetdataClient,
    request: &AlertChartRequest,
) -> Result<AlertChart, ClientError> {
    let body = client
        .get(&format!(
            "/api/v1/chart?chart={}",
            encode_query(&request.chart)
        ))
        .await?;
    let info = chart_info(&body)?;
    let body = client.get(&data_path(request)).await?;
    let table = parse::data(&body)?;
    Ok(build(request, info, table, chrono::Utc::now().timestamp()))
}

/// What the detail says when the fetch failed.
pub fn failure_text(request: &AlertChartRequest, e: &ClientError) -> String {
    match e {
        // 1.37 answers an unknown chart with 400 "Chart is not found"
        // (`/chart`) or 404 "No metrics where matched" (`/data`).
        ClientError::Status { status, body }
            if *status == 404 || body.to_lowercase().contains("not found") =>
        {
            match &request.dimensions {
                Some(d) if *status == 404 => format!(
                    "chart gone: {} has none of the dimensions `{d}` now ({e})",
                    request.chart
                ),
                _ => format!(
                    "chart gone: {} is not on the agent now ({e})",
                    request.chart
                ),
            }
        }
        _ => format!("could not fetch {}: {e}", request.chart),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn above(value: f64) -> Option<Threshold> {
        Some(Threshold { value, above: true })
    }

    #[test]
    fn thresholds_are_read_from_plain_and_hysteresis_expressions() {
        assert_eq!(raise_threshold("$this > 80"), above(80.0));
        assert_eq!(raise_threshold("$this >= 2"), above(2.0));
        assert_eq!(
            raise_threshold("$this < 10"),
            Some(Threshold {
                value: 10.0,
                above: false
            })
        );
        assert_eq!(
            raise_threshold("$this > (($status >= $WARNING) ? (75) : (85))"),
            above(85.0),
            "raises at the second value; the first is where it clears"
        );
        assert_eq!(
            raise_threshold("$this > (($status == $CRITICAL) ? (85) : (95))"),
            above(95.0)
        );
        for other in [
            "$this != 0",
            "($this * 100 / $load_cpu_number) > (($status >= $WARNING) ? 700 : 800)",
            "$this > 5000 * (($status >= $WARNING) ? (0.7) : (1))",
            "$system.uptime.uptime > 17 * 60 AND $this == 0",
            "$this > nan",
            "",
        ] {
            assert_eq!(raise_threshold(other), None, "{other}");
        }
    }

    fn raw(calc: Option<&str>, options: &str) -> RawAlarm {
        RawAlarm {
            key: "system.cpu.10min_cpu_usage".into(),
            name: "10min_cpu_usage".into(),
            chart: "system.cpu".into(),
            family: "cpu".into(),
            status: "WARNING".into(),
            value: Some(80.0),
            value_string: "80%".into(),
            units: "%".into(),
            info: String::new(),
            last_status_change: 0,
            silenced: false,
            lookup: Some(parse::RawLookup {
                method: "average".into(),
                dimensions: Some("user,system".into()),
                options: options.into(),
            }),
            calc: calc.map(str::to_string),
            warn: Some("$this > (($status >= $WARNING) ? (75) : (85))".into()),
            crit: Some("$this > 95".into()),
        }
    }

    #[test]
    fn thresholds_are_drawn_only_in_the_charts_own_units() {
        let plain = rule(&raw(None, "unaligned"));
        assert_eq!(plain.dimensions.as_deref(), Some("user,system"));
        assert_eq!(plain.warn_at, above(85.0));
        assert_eq!(plain.crit_at, above(95.0));
        let computed = rule(&raw(Some("$this * 100 / $total"), ""));
        assert_eq!((computed.warn_at, computed.crit_at), (None, None));
        assert!(computed.warn.is_some(), "the expression is still shown");
        let percentage = rule(&raw(None, "percentage"));
        assert_eq!(percentage.warn_at, None);
    }

    fn request(dimensions: Option<&str>) -> AlertChartRequest {
        AlertChartRequest {
            key: "system.load.load_average_1".into(),
            chart: "system.load".into(),
            dimensions: dimensions.map(str::to_string),
            seconds: 600,
            points: 150,
        }
    }

    #[test]
    fn the_data_request_asks_for_the_window_and_the_alerts_dimensions() {
        assert_eq!(
            data_path(&request(Some("user,system"))),
            "/api/v1/data?chart=system.load&after=-600&before=0&points=150&group=average&format=json&options=seconds&dimensions=user%2Csystem"
        );
        assert!(!data_path(&request(None)).contains("dimensions"));
    }

    #[test]
    fn a_chart_is_built_per_dimension_without_gaps() {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/netdata/data-system.load-1.37.json"
        ))
        .expect("fixture");
        let table = parse::data(&body).expect("data");
        let info = chart_info(
            br#"{"id":"system.load","title":"System Load Average (system.load)","units":"load"}"#,
        )
        .expect("chart info");
        let chart = build(&request(None), info, table, 1_795_446_830);
        assert_eq!(chart.units, "load");
        let names: Vec<&str> = chart.series.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["load1", "load5", "load15"]);
        let load1 = &chart.series[0].1;
        assert!(load1.windows(2).all(|w| w[0].0 < w[1].0), "oldest first");
        assert_eq!(load1.last(), Some(&(1_795_446_825, 1.8)));
        assert!(
            !load1.iter().any(|(t, _)| *t == 1_795_446_735),
            "a null row is a gap, not a zero"
        );
        assert_eq!((chart.after, chart.before), (1_795_446_230, 1_795_446_830));
    }

    #[test]
    fn malformed_answers_are_clear_errors() {
        let e = chart_info(b"{\"title\": 3").expect_err("truncated");
        assert!(e.to_string().starts_with("/api/v1/chart:"), "{e}");
        let e = parse::data(br#"{"labels":["time","load1"],"data":[[1,2,3]]}"#).expect_err("row");
        assert_eq!(
            e.to_string(),
            "/api/v1/data: row 0 has 2 values for 1 labels"
        );
        let e = parse::data(b"<html>").expect_err("html");
        assert!(e.to_string().starts_with("/api/v1/data:"), "{e}");
    }

    #[test]
    fn a_gone_chart_is_said_so() {
        let gone = ClientError::Status {
            status: 400,
            body: "Chart is not found: system.load".into(),
        };
        assert_eq!(
            failure_text(&request(None), &gone),
            "chart gone: system.load is not on the agent now (HTTP 400: Chart is not found: system.load)"
        );
        let no_dims = ClientError::Status {
            status: 404,
            body: "No metrics where matched to query.".into(),
        };
        assert!(
            failure_text(&request(Some("load9")), &no_dims)
                .contains("none of the dimensions `load9`")
        );
        let broken = ClientError::Status {
            status: 500,
            body: String::new(),
        };
        assert_eq!(
            failure_text(&request(None), &broken),
            "could not fetch system.load: HTTP 500"
        );
    }
}
