//! Typed parsing of Netdata's v1 API answers (`/api/v1/info`, `allmetrics`
//! JSON, `data` JSON, `alarms`) and the mapping of charts onto the cockpit's
//! series names, in the same units the /proc sampler uses.
//!
//! Parsing is strict about shape (a truncated or garbled answer is an error
//! with the JSON path that broke) and lenient about content: unknown fields
//! are ignored, `null` values are skipped, charts we do not know are left out.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::metrics::Reading;
use crate::metrics::{Unit, names};

/// The charts the cockpit asks for each second, as a Netdata simple-pattern
/// list (first match wins, `!` excludes): per-core `cpu.cpuN` but not the
/// `cpu.cpuN_interrupts` family.
pub const ALLMETRICS_FILTER: &str = "!cpu.cpu*_* system.cpu system.load system.ram system.swap mem.available system.net system.io system.uptime net.* disk_space.* ipv4.tcpsock cgroup_*.cpu cgroup_*.mem_usage cpu.cpu*";

const MIB: f64 = 1024.0 * 1024.0;
const GIB: f64 = 1024.0 * MIB;
/// Netdata's network charts are in kilobits/s (1 kilobit = 1000 bits).
const KILOBITS_TO_BYTES: f64 = 1000.0 / 8.0;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub what: &'static str,
    pub detail: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.detail)
    }
}

impl std::error::Error for ParseError {}

fn decode<T: DeserializeOwned>(what: &'static str, body: &[u8]) -> Result<T, ParseError> {
    // The answers come every second and are nearly always good: parse them
    // plainly, and only a broken one again with the JSON path tracked (which
    // allocates a segment per map key, for the error's sake).
    serde_json::from_slice(body).or_else(|_| decode_with_path(what, body))
}

fn decode_with_path<T: DeserializeOwned>(what: &'static str, body: &[u8]) -> Result<T, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let detail = if path.is_empty() || path == "." {
            inner.to_string()
        } else {
            format!("{inner} at {path}")
        };
        ParseError { what, detail }
    })
}

// ---------------------------------------------------------------- info

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    /// As Netdata reports it, e.g. `v1.37.1`.
    pub version: String,
    /// The agent's own host name (first of `mirrored_hosts`).
    pub hostname: Option<String>,
    pub cores: Option<usize>,
}

#[derive(Deserialize)]
struct RawInfo {
    version: String,
    #[serde(default)]
    mirrored_hosts: Vec<String>,
    #[serde(default)]
    cores_total: Option<serde_json::Value>,
}

pub fn info(body: &[u8]) -> Result<AgentInfo, ParseError> {
    let raw: RawInfo = decode("/api/v1/info", body)?;
    // 1.x gives the core count as a string, some builds as a number.
    let cores = raw.cores_total.and_then(|v| match v {
        serde_json::Value::String(s) => s.trim().parse().ok(),
        serde_json::Value::Number(n) => n.as_u64().map(|n| n as usize),
        _ => None,
    });
    Ok(AgentInfo {
        version: raw.version,
        hostname: raw.mirrored_hosts.into_iter().next(),
        cores: cores.filter(|c| *c > 0),
    })
}

// ---------------------------------------------------------------- allmetrics

/// The latest values of one chart. Dimensions are keyed by their *name*
/// (`received`, not the id `InOctets`), as `/api/v1/data` labels them.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSample {
    pub id: String,
    /// For `disk_space.*` the mount point, for `net.*` the interface.
    pub family: String,
    pub last_updated: i64,
    pub dims: Vec<(String, f64)>,
}

impl ChartSample {
    fn dim(&self, name: &str) -> Option<f64> {
        self.dims.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    fn sum_except(&self, skip: &[&str]) -> f64 {
        self.dims
            .iter()
            .filter(|(n, _)| !skip.contains(&n.as_str()))
            .map(|(_, v)| *v)
            .sum()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllMetrics {
    pub charts: Vec<ChartSample>,
}

impl AllMetrics {
    /// The newest `last_updated` of all charts: the second these values
    /// belong to.
    pub fn t(&self) -> Option<i64> {
        self.charts.iter().map(|c| c.last_updated).max()
    }

    pub fn get(&self, id: &str) -> Option<&ChartSample> {
        self.charts.iter().find(|c| c.id == id)
    }
}

#[derive(Deserialize)]
struct RawChart {
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    last_updated: Option<i64>,
    #[serde(default)]
    dimensions: BTreeMap<String, RawDim>,
}

#[derive(Deserialize)]
struct RawDim {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value: Option<f64>,
}

pub fn allmetrics(body: &[u8]) -> Result<AllMetrics, ParseError> {
    let raw: HashMap<String, RawChart> = decode("/api/v1/allmetrics", body)?;
    let mut charts: Vec<ChartSample> = raw
        .into_iter()
        .map(|(id, chart)| ChartSample {
            family: chart.family.unwrap_or_default(),
            last_updated: chart.last_updated.unwrap_or(0),
            dims: chart
                .dimensions
                .into_iter()
                .filter_map(|(dim_id, d)| {
                    let v = d.value.filter(|v| v.is_finite())?;
                    Some((d.name.unwrap_or(dim_id), v))
                })
                .collect(),
            id,
        })
        .collect();
    charts.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(AllMetrics { charts })
}

// ---------------------------------------------------------------- data

/// Rows of `/api/v1/data?format=json&options=seconds`: oldest first after
/// parsing (Netdata sends newest first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataTable {
    /// Dimension names (without the leading `time`).
    pub labels: Vec<String>,
    pub rows: Vec<(i64, Vec<Option<f64>>)>,
}

#[derive(Deserialize)]
struct RawData {
    labels: Vec<String>,
    data: Vec<Vec<Option<f64>>>,
}

pub fn data(body: &[u8]) -> Result<DataTable, ParseError> {
    let raw: RawData = decode("/api/v1/data", body)?;
    let mut labels = raw.labels.into_iter();
    match labels.next().as_deref() {
        Some("time") => {}
        other => {
            return Err(ParseError {
                what: "/api/v1/data",
                detail: format!(
                    "first label is {other:?}, expected \"time\" (ask with options=seconds)"
                ),
            });
        }
    }
    let labels: Vec<String> = labels.collect();
    let mut rows = Vec::with_capacity(raw.data.len());
    for (i, row) in raw.data.into_iter().enumerate() {
        let mut values = row.into_iter();
        let Some(Some(t)) = values.next() else {
            return Err(ParseError {
                what: "/api/v1/data",
                detail: format!("row {i} has no time"),
            });
        };
        let values: Vec<Option<f64>> = values.map(|v| v.filter(|v| v.is_finite())).collect();
        if values.len() != labels.len() {
            return Err(ParseError {
                what: "/api/v1/data",
                detail: format!(
                    "row {i} has {} values for {} labels",
                    values.len(),
                    labels.len()
                ),
            });
        }
        rows.push((t as i64, values));
    }
    rows.sort_by_key(|(t, _)| *t);
    rows.dedup_by_key(|(t, _)| *t);
    Ok(DataTable { labels, rows })
}

impl DataTable {
    /// The rows as chart samples (one per second), for the same mapping as
    /// the per-second values. Rows at or before `after` are dropped: the
    /// row at `after` itself comes back and was already seen.
    pub fn samples(&self, id: &str, family: &str, after: i64) -> Vec<ChartSample> {
        self.rows
            .iter()
            .filter(|(t, _)| *t > after)
            .map(|(t, values)| ChartSample {
                id: id.to_string(),
                family: family.to_string(),
                last_updated: *t,
                dims: self
                    .labels
                    .iter()
                    .zip(values)
                    .filter_map(|(l, v)| Some((l.clone(), (*v)?)))
                    .collect(),
            })
            .collect()
    }
}

/// Groups samples of many charts by second, oldest first.
pub fn by_second(samples: Vec<ChartSample>) -> BTreeMap<i64, Vec<ChartSample>> {
    let mut out: BTreeMap<i64, Vec<ChartSample>> = BTreeMap::new();
    for s in samples {
        out.entry(s.last_updated).or_default().push(s);
    }
    out
}

// ---------------------------------------------------------------- alarms

/// One entry of `/api/v1/alarm_log`: an alert's status change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RawAlarmLogEntry {
    /// Grows with every entry: the cursor of `alarm_log?after=`.
    pub unique_id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub chart: String,
    /// `WARNING`, `CRITICAL`, `CLEAR`, `UNDEFINED`, `UNINITIALIZED`, `REMOVED`.
    pub status: String,
    #[serde(default)]
    pub old_status: String,
    /// Unix seconds.
    pub when: i64,
}

/// `/api/v1/alarm_log?after=ID`: the entries after `ID` (newest first, as
/// Netdata sends them).
pub fn alarm_log(body: &[u8]) -> Result<Vec<RawAlarmLogEntry>, ParseError> {
    decode("/api/v1/alarm_log", body)
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawAlarm {
    /// The key Netdata uses: `CHART.NAME`.
    pub key: String,
    pub name: String,
    pub chart: String,
    pub family: String,
    /// `WARNING`, `CRITICAL`, `CLEAR`, `UNDEFINED`, `UNINITIALIZED`, `REMOVED`.
    pub status: String,
    pub value: Option<f64>,
    pub value_string: String,
    pub units: String,
    /// Plain text (Netdata's HTML entities and tags removed).
    pub info: String,
    pub last_status_change: i64,
    pub silenced: bool,
    /// The check's lookup (`None`: it has none) and expressions, as plain
    /// text: what `alert_chart::rule` reads thresholds from.
    pub lookup: Option<RawLookup>,
    pub calc: Option<String>,
    pub warn: Option<String>,
    pub crit: Option<String>,
}

/// The database lookup of a health check (`lookup: average -10m of user`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawLookup {
    pub method: String,
    /// `lookup_dimensions` (`None`: all of the chart's).
    pub dimensions: Option<String>,
    /// `lookup_options` (`percentage`, `absolute`, `unaligned`, …).
    pub options: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlarmsResponse {
    pub now: Option<i64>,
    /// The alarm log's newest entry: the log is read only when it moved.
    pub latest_log_id: Option<u64>,
    pub alarms: Vec<RawAlarm>,
}

#[derive(Deserialize)]
struct RawAlarms {
    #[serde(default)]
    now: Option<i64>,
    #[serde(default)]
    latest_alarm_log_unique_id: Option<u64>,
    alarms: BTreeMap<String, RawAlarmEntry>,
}

#[derive(Deserialize)]
struct RawAlarmEntry {
    #[serde(default)]
    name: String,
    #[serde(default)]
    chart: String,
    #[serde(default)]
    family: String,
    status: String,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    value_string: String,
    #[serde(default)]
    units: String,
    #[serde(default)]
    info: String,
    #[serde(default)]
    last_status_change: i64,
    #[serde(default)]
    silenced: bool,
    #[serde(default)]
    lookup_method: Option<String>,
    #[serde(default)]
    lookup_dimensions: Option<String>,
    #[serde(default)]
    lookup_options: Option<String>,
    #[serde(default)]
    calc: Option<String>,
    #[serde(default)]
    warn: Option<String>,
    #[serde(default)]
    crit: Option<String>,
}

/// An expression as plain text; empty ones count as absent.
fn expression(raw: Option<String>) -> Option<String> {
    raw.map(|e| plain_text(&e)).filter(|e| !e.is_empty())
}

pub fn alarms(body: &[u8]) -> Result<AlarmsResponse, ParseError> {
    let raw: RawAlarms = decode("/api/v1/alarms", body)?;
    Ok(AlarmsResponse {
        now: raw.now,
        latest_log_id: raw.latest_alarm_log_unique_id,
        alarms: raw
            .alarms
            .into_iter()
            .map(|(key, a)| RawAlarm {
                name: if a.name.is_empty() {
                    key.clone()
                } else {
                    a.name
                },
                key,
                chart: a.chart,
                family: a.family,
                status: a.status.to_ascii_uppercase(),
                value: a.value.filter(|v| v.is_finite()),
                value_string: plain_text(&a.value_string),
                units: a.units,
                info: plain_text(&a.info),
                last_status_change: a.last_status_change,
                silenced: a.silenced,
                lookup: a.lookup_method.map(|method| RawLookup {
                    method,
                    dimensions: expression(a.lookup_dimensions),
                    options: a.lookup_options.unwrap_or_default(),
                }),
                calc: expression(a.calc),
                warn: expression(a.warn),
                crit: expression(a.crit),
            })
            .collect(),
    })
}

/// Netdata escapes its texts for HTML and some `info` strings hold tags:
/// drop the tags, decode the common entities, collapse whitespace.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------- mapping

/// Charts back-filled first (what the Metrics pane draws at 80×24).
pub const HEADLINE_CHARTS: [&str; 7] = [
    "system.cpu",
    "system.ram",
    "mem.available",
    "system.net",
    "system.io",
    "system.load",
    "system.swap",
];

/// Whether history of this chart is worth back-filling (per-core bars and
/// the uptime show only the latest value).
pub fn wants_history(id: &str) -> bool {
    !(id == "system.uptime" || core_number(id).is_some())
}

fn core_number(id: &str) -> Option<usize> {
    id.strip_prefix("cpu.cpu")?.parse().ok()
}

/// The container name of a `cgroup_NAME.*` chart.
fn container_of<'a>(id: &'a str, suffix: &str) -> Option<&'a str> {
    id.strip_prefix("cgroup_")?
        .strip_suffix(suffix)
        .filter(|n| !n.is_empty())
}

/// CPU busy percent as the /proc sampler counts it: everything but idle and
/// iowait. Netdata keeps guest time out of `user`; /proc counts it in.
fn cpu_busy(c: &ChartSample) -> f64 {
    c.sum_except(&["idle", "iowait"]).clamp(0.0, 100.0)
}

/// A rate must not be negative (Netdata draws `sent`/`out` below zero).
fn rate(v: f64, factor: f64) -> f64 {
    v.abs() * factor
}

/// Maps the charts of one second onto series readings. Charts that are not
/// there give no reading (a disappeared chart simply stops its series).
pub fn readings(charts: &[ChartSample]) -> Vec<Reading> {
    // Sized by the charts given: a back-fill asks one chart at a time, and
    // ten minutes of it are 600 of these vectors at once (a fixed 64 slots
    // each made the start-up's peak: 6 MB, most of it empty slots).
    let mut out: Vec<Reading> = Vec::with_capacity(charts.len() * 4);
    let mut ram_total = None;
    let mut ram_used = None;
    let mut available = None;
    for c in charts {
        let id = c.id.as_str();
        match id {
            "system.cpu" => {
                out.push((names::CPU_TOTAL.into(), Unit::Percent, cpu_busy(c)));
                let pick = |dims: &[&str]| dims.iter().filter_map(|d| c.dim(d)).sum::<f64>();
                out.push((
                    names::CPU_USER.into(),
                    Unit::Percent,
                    pick(&["user", "nice", "guest", "guest_nice"]),
                ));
                out.push((
                    names::CPU_SYSTEM.into(),
                    Unit::Percent,
                    pick(&["system", "irq", "softirq"]),
                ));
                if let Some(v) = c.dim("iowait") {
                    out.push((names::CPU_IOWAIT.into(), Unit::Percent, v));
                }
                if let Some(v) = c.dim("steal") {
                    out.push((names::CPU_STEAL.into(), Unit::Percent, v));
                }
            }
            "system.load" => {
                for (dim, name) in [
                    ("load1", names::LOAD1),
                    ("load5", names::LOAD5),
                    ("load15", names::LOAD15),
                ] {
                    if let Some(v) = c.dim(dim) {
                        out.push((name.into(), Unit::Load, v));
                    }
                }
            }
            "system.ram" => {
                if !c.dims.is_empty() {
                    ram_total = Some(c.sum_except(&[]) * MIB);
                }
                ram_used = c.dim("used").map(|v| v * MIB);
            }
            "mem.available" => available = c.dim("avail").map(|v| v * MIB),
            "system.swap" => {
                if let (Some(free), Some(used)) = (c.dim("free"), c.dim("used")) {
                    out.push((names::SWAP_TOTAL.into(), Unit::Bytes, (free + used) * MIB));
                    out.push((names::SWAP_USED.into(), Unit::Bytes, used * MIB));
                }
            }
            "system.net" => {
                if let Some(v) = c.dim("received") {
                    out.push((
                        names::NET_RX.into(),
                        Unit::BytesPerSec,
                        rate(v, KILOBITS_TO_BYTES),
                    ));
                }
                if let Some(v) = c.dim("sent") {
                    out.push((
                        names::NET_TX.into(),
                        Unit::BytesPerSec,
                        rate(v, KILOBITS_TO_BYTES),
                    ));
                }
            }
            "system.io" => {
                if let Some(v) = c.dim("in") {
                    out.push((names::DISK_READ.into(), Unit::BytesPerSec, rate(v, 1024.0)));
                }
                if let Some(v) = c.dim("out") {
                    out.push((names::DISK_WRITE.into(), Unit::BytesPerSec, rate(v, 1024.0)));
                }
            }
            "ipv4.tcpsock" => {
                if let Some(v) = c.dim("connections") {
                    out.push((names::TCP_ESTABLISHED.into(), Unit::Count, v.max(0.0)));
                }
            }
            _ => map_instance_chart(c, &mut out),
        }
    }
    if let Some(total) = ram_total {
        out.push((names::MEM_TOTAL.into(), Unit::Bytes, total));
        if let Some(avail) = available {
            out.push((names::MEM_AVAILABLE.into(), Unit::Bytes, avail));
            out.push((
                names::MEM_USED.into(),
                Unit::Bytes,
                (total - avail).max(0.0),
            ));
        } else if let Some(used) = ram_used {
            out.push((names::MEM_USED.into(), Unit::Bytes, used));
        }
    } else if let Some(avail) = available {
        out.push((names::MEM_AVAILABLE.into(), Unit::Bytes, avail));
    }
    out
}

/// Charts with an instance in their id: interfaces, mounts, cores, containers.
fn map_instance_chart(c: &ChartSample, out: &mut Vec<Reading>) {
    let id = c.id.as_str();
    if let Some(iface) = id.strip_prefix("net.") {
        if let Some(v) = c.dim("received") {
            out.push((
                names::net_if_rx(iface),
                Unit::BytesPerSec,
                rate(v, KILOBITS_TO_BYTES),
            ));
        }
        if let Some(v) = c.dim("sent") {
            out.push((
                names::net_if_tx(iface),
                Unit::BytesPerSec,
                rate(v, KILOBITS_TO_BYTES),
            ));
        }
    } else if let Some(rest) = id.strip_prefix("disk_space.") {
        let mount = if c.family.is_empty() {
            rest
        } else {
            c.family.as_str()
        };
        if let Some(v) = c.dim("used") {
            out.push((names::disk_space_used(mount), Unit::Bytes, v * GIB));
        }
        if let Some(v) = c.dim("avail") {
            out.push((names::disk_space_avail(mount), Unit::Bytes, v * GIB));
        }
    } else if let Some(core) = core_number(id) {
        out.push((names::cpu_core(core), Unit::Percent, cpu_busy(c)));
    } else if let Some(name) = container_of(id, ".cpu") {
        // 100% is one core, as `docker stats` shows it.
        out.push((
            names::container_cpu(name),
            Unit::Percent,
            c.sum_except(&[]).max(0.0),
        ));
    } else if let Some(name) = container_of(id, ".mem_usage")
        && let Some(v) = c.dim("ram")
    {
        out.push((names::container_mem(name), Unit::Bytes, v.max(0.0) * MIB));
    }
}

/// Seconds since boot from `system.uptime`, if present.
pub fn uptime(all: &AllMetrics) -> Option<u64> {
    all.get("system.uptime")
        .and_then(|c| c.dim("uptime"))
        .filter(|v| *v >= 0.0)
        .map(|v| v as u64)
}

/// Number of per-core charts (`cpu.cpuN`).
pub fn core_count(all: &AllMetrics) -> Option<usize> {
    let n = all
        .charts
        .iter()
        .filter(|c| core_number(&c.id).is_some())
        .count();
    (n > 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/netdata/");

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}{name}")).expect("fixture")
    }

    fn value(readings: &[Reading], name: &str) -> Option<f64> {
        readings
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, v)| *v)
    }

    #[test]
    fn info_from_1_37() {
        let info = info(&fixture("info-1.37.json")).expect("info");
        assert_eq!(info.version, "v1.37.1");
        assert_eq!(info.hostname.as_deref(), Some("vm"));
        assert_eq!(info.cores, Some(2));
    }

    #[test]
    fn allmetrics_from_1_37_maps_to_series() {
        let all = allmetrics(&fixture("allmetrics-1.37.json")).expect("allmetrics");
        assert!(all.t().is_some_and(|t| t > 1_700_000_000));
        assert_eq!(core_count(&all), Some(2));
        assert!(uptime(&all).is_some_and(|u| u > 0));
        let r = readings(&all.charts);
        let cpu = all.get("system.cpu").expect("system.cpu");
        let idle = cpu.dim("idle").expect("idle");
        let iowait = cpu.dim("iowait").expect("iowait");
        let total = value(&r, names::CPU_TOTAL).expect("cpu.total");
        assert!(
            (total - (100.0 - idle - iowait)).abs() < 0.01,
            "busy {total} vs idle {idle} iowait {iowait}"
        );
        let ram = all.get("system.ram").expect("system.ram");
        let mem_total = value(&r, names::MEM_TOTAL).expect("mem.total");
        assert!((mem_total - ram.sum_except(&[]) * MIB).abs() < 1.0);
        let avail = value(&r, names::MEM_AVAILABLE).expect("mem.available");
        assert_eq!(value(&r, names::MEM_USED), Some(mem_total - avail));
        assert!(value(&r, names::LOAD1).is_some());
        for name in [
            names::NET_RX,
            names::NET_TX,
            names::DISK_READ,
            names::DISK_WRITE,
        ] {
            assert!(value(&r, name).is_some_and(|v| v >= 0.0), "{name}");
        }
        assert!(value(&r, "net.if.lo.rx").is_some());
        assert!(value(&r, "net.if.eth0.tx").is_some());
        assert!(value(&r, "disk_space./.used").is_some_and(|v| v > GIB));
        assert!(value(&r, "disk_space./dev/shm.avail").is_some());
        assert!(value(&r, "cpu.core.0").is_some());
        assert!(value(&r, "cpu.core.1").is_some());
        assert!(value(&r, "container.bed-web.cpu").is_some());
        assert!(value(&r, "container.bed-web.mem").is_some_and(|v| v > 0.0));
        assert!(
            !r.iter().any(|(n, _, _)| n.contains("interrupts")),
            "cpu.cpuN_interrupts must not look like a core"
        );
    }

    /// A back-fill holds 600 of these per chart at once: one chart's
    /// readings must not reserve room for a whole second's worth.
    #[test]
    fn one_charts_readings_reserve_room_for_one_chart() {
        let one = [ChartSample {
            id: "system.net".into(),
            family: String::new(),
            last_updated: 10,
            dims: vec![("received".into(), 8.0), ("sent".into(), -16.0)],
        }];
        let r = readings(&one);
        assert_eq!(r.len(), 2);
        assert!(r.capacity() <= 4, "capacity {}", r.capacity());
    }

    #[test]
    fn network_and_disk_units_are_converted() {
        let chart = |id: &str, dims: &[(&str, f64)]| ChartSample {
            id: id.into(),
            family: String::new(),
            last_updated: 10,
            dims: dims.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        };
        let r = readings(&[
            chart("system.net", &[("received", 8.0), ("sent", -16.0)]),
            chart("net.eth0", &[("received", 800.0), ("sent", -0.0)]),
            chart("system.io", &[("in", 4.0), ("out", -2.0)]),
            chart("system.swap", &[("free", 1.0), ("used", 3.0)]),
            chart("ipv4.tcpsock", &[("connections", 7.0)]),
            chart(
                "system.ram",
                &[("free", 1.0), ("used", 2.0), ("cached", 1.0)],
            ),
        ]);
        assert_eq!(
            value(&r, names::NET_RX),
            Some(1000.0),
            "8 kbit/s = 1000 B/s"
        );
        assert_eq!(value(&r, names::NET_TX), Some(2000.0), "sent is negative");
        assert_eq!(value(&r, "net.if.eth0.rx"), Some(100_000.0));
        assert_eq!(value(&r, names::DISK_READ), Some(4096.0));
        assert_eq!(value(&r, names::DISK_WRITE), Some(2048.0));
        assert_eq!(value(&r, names::SWAP_TOTAL), Some(4.0 * MIB));
        assert_eq!(value(&r, names::TCP_ESTABLISHED), Some(7.0));
        // Without mem.available, `used` is what Netdata calls used.
        assert_eq!(value(&r, names::MEM_USED), Some(2.0 * MIB));
        assert_eq!(value(&r, names::MEM_TOTAL), Some(4.0 * MIB));
    }

    #[test]
    fn data_from_1_37_is_oldest_first() {
        let table = data(&fixture("data-system.cpu-1.37.json")).expect("data");
        assert!(table.rows.len() > 60);
        assert!(table.rows.windows(2).all(|w| w[0].0 < w[1].0));
        // `idle` is a hidden dimension: allmetrics has it, data does not.
        assert_eq!(table.labels.len(), 9);
        assert!(!table.labels.contains(&"idle".to_string()));
        assert!(table.labels.contains(&"iowait".to_string()));
        let after = table.rows[10].0;
        let samples = table.samples("system.cpu", "cpu", after);
        assert_eq!(
            samples.len(),
            table.rows.len() - 11,
            "the row at `after` is dropped"
        );
        assert!(samples.iter().all(|s| s.last_updated > after));
        let r = readings(&samples[..1]);
        assert!(value(&r, names::CPU_TOTAL).is_some());
    }

    #[test]
    fn data_tables_of_many_charts_group_by_second() {
        let cpu = data(&fixture("data-system.cpu-1.37.json")).expect("cpu");
        let net = data(&fixture("data-system.net-1.37.json")).expect("net");
        let mut samples = cpu.samples("system.cpu", "cpu", 0);
        samples.extend(net.samples("system.net", "network", 0));
        let seconds = by_second(samples);
        let first = seconds.values().next().expect("a second");
        let ids: Vec<&str> = first.iter().map(|s| s.id.as_str()).collect();
        assert!(
            ids.contains(&"system.cpu") && ids.contains(&"system.net"),
            "{ids:?}"
        );
    }

    #[test]
    fn nulls_in_data_are_skipped() {
        let body = br#"{"labels":["time","received","sent"],"data":[[12,null,-8],[11,8,null]]}"#;
        let table = data(body).expect("data");
        assert_eq!(table.rows[0], (11, vec![Some(8.0), None]));
        let samples = table.samples("system.net", "", 0);
        let r = readings(&samples[1..]);
        assert_eq!(value(&r, names::NET_RX), None);
        assert_eq!(value(&r, names::NET_TX), Some(1000.0));
    }

    #[test]
    fn alarm_log_entries_and_bad_input() {
        let body = br#"[{"unique_id":12,"name":"web_5xx","chart":"web_log.codes","status":"CLEAR","old_status":"WARNING","when":1796144900,"extra":1},
            {"unique_id":11,"name":"web_5xx","chart":"web_log.codes","status":"WARNING","old_status":"CLEAR","when":1796144890}]"#;
        let log = alarm_log(body).expect("log");
        assert_eq!(log.len(), 2);
        assert_eq!((log[0].unique_id, log[0].status.as_str()), (12, "CLEAR"));
        assert_eq!(log[1].when, 1796144890);
        assert!(alarm_log(b"[]").expect("empty").is_empty());
        assert!(alarm_log(br#"[{"name":"x"}]"#).is_err(), "no id or status");
        assert!(alarm_log(b"{}").is_err());
    }

    #[test]
    fn alarms_from_1_37_with_active_alerts() {
        let a = alarms(&fixture("alarms-active-1.37.json")).expect("alarms");
        assert_eq!(a.alarms.len(), 2);
        assert!(
            a.latest_log_id.is_some(),
            "1.37 says where its alarm log is"
        );
        let crit = a
            .alarms
            .iter()
            .find(|x| x.status == "CRITICAL")
            .expect("critical");
        assert_eq!(crit.chart, "system.load");
        assert_eq!(crit.name, "opscockpit_test_critical");
        assert_eq!(crit.info, "test alarm always critical & quoted");
        assert!(crit.last_status_change > 1_700_000_000);
        assert_eq!(crit.value, Some(1.386077));
        assert_eq!(crit.value_string, "1.39 load");
        let none = alarms(&fixture("alarms-none-1.37.json")).expect("no alarms");
        assert!(none.alarms.is_empty());
    }

    #[test]
    fn html_in_texts_becomes_plain() {
        assert_eq!(
            plain_text("a &#x2F; b <a href=\"x\">link</a> &gt; 3 &amp;&lt;"),
            "a / b link > 3 &<"
        );
    }

    #[test]
    fn malformed_answers_are_errors_with_a_place() {
        let all = fixture("allmetrics-1.37.json");
        let truncated = &all[..all.len() / 2];
        let e = allmetrics(truncated).expect_err("truncated");
        assert!(e.to_string().starts_with("/api/v1/allmetrics:"), "{e}");
        let e = allmetrics(br#"{"system.cpu":{"dimensions":{"user":{"value":"x"}}}}"#)
            .expect_err("string value");
        assert!(e.detail.contains("system.cpu"), "{e}");
        assert!(allmetrics(b"").is_err());
        assert!(allmetrics(b"[]").is_err());
        assert!(allmetrics(b"No metrics where matched to query.").is_err());
        assert!(info(br#"{"uid":"x"}"#).is_err(), "version is required");
        assert!(data(br#"{"labels":["x","a"],"data":[]}"#).is_err());
        assert!(data(br#"{"labels":["time","a"],"data":[[1,2,3]]}"#).is_err());
        assert!(data(br#"{"labels":["time","a"],"data":[[null,2]]}"#).is_err());
        assert!(data(br#"{"labels":["time","a"],"data":[[1,"#).is_err());
        assert!(
            alarms(br#"{"alarms":{"x":{"name":"x"}}}"#).is_err(),
            "status needed"
        );
        assert!(alarms(b"\xff\xfe").is_err());
    }

    #[test]
    fn empty_and_odd_values_do_not_panic() {
        let all = allmetrics(br#"{"system.cpu":{"dimensions":{}},"system.ram":{},"cgroup_.cpu":{"dimensions":{"user":{"value":5}}},"cpu.cpuX":{"dimensions":{"user":{"value":1}}}}"#)
            .expect("parse");
        let r = readings(&all.charts);
        assert_eq!(value(&r, names::CPU_TOTAL), Some(0.0));
        assert!(r.iter().all(|(n, _, _)| !n.starts_with("container.")));
        assert!(r.iter().all(|(n, _, _)| !n.starts_with("cpu.core")));
        assert_eq!(all.t(), Some(0));
    }
}
