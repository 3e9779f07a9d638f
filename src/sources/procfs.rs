//! The zero-install metrics source: reads `/proc` on the target once a second.
//!
//! One long-running command does the reading: an `awk` program that waits for
//! a newline on stdin, prints the files with a marker line before each, and
//! flushes. The cockpit sends the newline each second, so no process is
//! started per sample and the sampler stops by itself when the cockpit goes
//! (stdin closes). Rates are computed here from two consecutive snapshots,
//! using the host's `/proc/uptime` as the clock between them.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::channel::Emit;
use crate::metrics::{MetricsEvent, MetricsSource, MetricsUpdate};
use crate::metrics::{Unit, names};
use crate::transport::{ExecEvent, ExecOptions, SharedTransport};

const FILES: [&str; 7] = [
    "/proc/uptime",
    "/proc/stat",
    "/proc/meminfo",
    "/proc/loadavg",
    "/proc/net/dev",
    "/proc/diskstats",
    "/proc/sys/kernel/hostname",
];
const MARKER: &str = "@@ ";
const END: &str = "@@ end";

/// The command run on the target. `awk` reads files with buffered I/O and
/// stays one process; without awk a shell loop with `cat` does the same job.
pub fn sampler_command() -> String {
    let files = FILES.join(" ");
    // mawk buffers stdin unless `-W interactive`; other awks ignore or
    // refuse the flag, so it is probed first.
    format!(
        "if command -v awk >/dev/null 2>&1; then \
         if awk -W interactive 'BEGIN {{}}' </dev/null >/dev/null 2>&1; then A='awk -W interactive'; else A=awk; fi; \
         exec $A 'BEGIN {{ n = split(\"{files}\", f, \" \"); \
         while ((getline tick) > 0) {{ for (i = 1; i <= n; i++) {{ print \"{MARKER}\" f[i]; \
         while ((getline l < f[i]) > 0) print l; close(f[i]) }} print \"{END}\"; fflush() }} }}'; \
         else while read -r tick; do for f in {files}; do echo \"{MARKER}$f\"; cat \"$f\"; done; echo \"{END}\"; done; fi"
    )
}

/// CPU time counters of one `cpu` line of `/proc/stat`, in jiffies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

impl CpuTimes {
    fn total(&self) -> u64 {
        self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
    }
}

/// One reading of the files, before any arithmetic.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcSnapshot {
    pub uptime: f64,
    pub hostname: String,
    /// Per online core, by core number.
    pub cores: Vec<(usize, CpuTimes)>,
    pub mem_total_kb: Option<u64>,
    pub mem_available_kb: Option<u64>,
    pub swap_total_kb: Option<u64>,
    pub swap_free_kb: Option<u64>,
    pub load: Option<(f64, f64, f64)>,
    /// (interface, rx bytes, tx bytes)
    pub net: Vec<(String, u64, u64)>,
    /// (device, sectors read, sectors written), whole disks only.
    pub disks: Vec<(String, u64, u64)>,
}

/// Splits the sampler's output into the sections of one sample and parses
/// them. Unknown or garbled lines are skipped: a partly unreadable sample
/// still gives the values it has.
pub fn parse_sample(text: &str) -> ProcSnapshot {
    let mut snap = ProcSnapshot::default();
    let mut section = "";
    let mut mem_free_kb = None;
    let mut buffers_kb = None;
    let mut cached_kb = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix(MARKER) {
            section = name.trim();
            continue;
        }
        match section {
            "/proc/uptime" => {
                if let Some(v) = line.split_whitespace().next().and_then(|s| s.parse().ok()) {
                    snap.uptime = v;
                }
            }
            "/proc/stat" => parse_stat_line(line, &mut snap),
            "/proc/meminfo" => {
                let mut parts = line.split_whitespace();
                let (Some(key), Some(value)) = (
                    parts.next(),
                    parts.next().and_then(|v| v.parse::<u64>().ok()),
                ) else {
                    continue;
                };
                match key {
                    "MemTotal:" => snap.mem_total_kb = Some(value),
                    "MemAvailable:" => snap.mem_available_kb = Some(value),
                    "MemFree:" => mem_free_kb = Some(value),
                    "Buffers:" => buffers_kb = Some(value),
                    "Cached:" => cached_kb = Some(value),
                    "SwapTotal:" => snap.swap_total_kb = Some(value),
                    "SwapFree:" => snap.swap_free_kb = Some(value),
                    _ => {}
                }
            }
            "/proc/loadavg" => {
                let v: Vec<f64> = line
                    .split_whitespace()
                    .take(3)
                    .filter_map(|s| s.parse().ok())
                    .collect();
                if let [a, b, c] = v[..] {
                    snap.load = Some((a, b, c));
                }
            }
            "/proc/net/dev" => {
                if let Some(entry) = parse_net_dev_line(line) {
                    snap.net.push(entry);
                }
            }
            "/proc/diskstats" => {
                if let Some(entry) = parse_diskstats_line(line) {
                    snap.disks.push(entry);
                }
            }
            "/proc/sys/kernel/hostname" if !line.trim().is_empty() => {
                snap.hostname = line.trim().to_string();
            }
            _ => {}
        }
    }
    // Kernels before 3.14 have no MemAvailable: estimate it as free(1) did.
    if snap.mem_available_kb.is_none()
        && let (Some(f), Some(b), Some(c)) = (mem_free_kb, buffers_kb, cached_kb)
    {
        snap.mem_available_kb = Some(f + b + c);
    }
    snap
}

fn parse_stat_line(line: &str, snap: &mut ProcSnapshot) {
    let mut parts = line.split_whitespace();
    let Some(label) = parts.next() else { return };
    // The aggregate `cpu` line is not used: it drops a core's counters when
    // the core goes offline, so totals are summed from the per-core lines.
    let Some(core) = label
        .strip_prefix("cpu")
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return;
    };
    let values: Vec<u64> = parts.take(8).map_while(|v| v.parse().ok()).collect();
    if values.len() < 4 {
        return;
    }
    let field = |i: usize| values.get(i).copied().unwrap_or(0);
    snap.cores.push((
        core,
        CpuTimes {
            user: field(0),
            nice: field(1),
            system: field(2),
            idle: field(3),
            iowait: field(4),
            irq: field(5),
            softirq: field(6),
            steal: field(7),
        },
    ));
}

fn parse_net_dev_line(line: &str) -> Option<(String, u64, u64)> {
    let (iface, rest) = line.split_once(':')?;
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map_while(|v| v.parse().ok())
        .collect();
    if fields.len() < 9 {
        return None;
    }
    Some((iface.trim().to_string(), fields[0], fields[8]))
}

fn parse_diskstats_line(line: &str) -> Option<(String, u64, u64)> {
    let parts: Vec<&str> = line.split_whitespace().collect();
    if parts.len() < 10 {
        return None;
    }
    let name = parts[2];
    if !is_whole_disk(name) {
        return None;
    }
    let read: u64 = parts[5].parse().ok()?;
    let written: u64 = parts[9].parse().ok()?;
    Some((name.to_string(), read, written))
}

/// Whole physical disks only: partitions, device-mapper, md, loop and ram
/// devices would count the same bytes twice (or bytes that never hit a disk).
fn is_whole_disk(name: &str) -> bool {
    const SKIP: [&str; 6] = ["loop", "ram", "dm-", "md", "zram", "sr"];
    if SKIP.iter().any(|p| name.starts_with(p)) {
        return false;
    }
    let ends_in_digit = name.chars().last().is_some_and(|c| c.is_ascii_digit());
    if name.starts_with("nvme") || name.starts_with("mmcblk") {
        // nvme0n1 is a disk, nvme0n1p2 a partition; mmcblk0 vs mmcblk0p1.
        return !name.rsplit_once('p').is_some_and(|(disk, part)| {
            disk.ends_with(|c: char| c.is_ascii_digit())
                && !part.is_empty()
                && part.chars().all(|c| c.is_ascii_digit())
        });
    }
    // sda, vdb, xvda are disks; sda1 is a partition.
    !ends_in_digit
}

/// Difference between two readings of a monotonic counter. A counter that
/// went down either wrapped at 32 bits (old kernels, some drivers) or was
/// reset (interface recreated, host rebooted): a plausible wrap is counted,
/// a reset gives no value rather than a spike.
pub fn counter_delta(previous: u64, current: u64) -> Option<u64> {
    if current >= previous {
        return Some(current - previous);
    }
    if previous <= u64::from(u32::MAX) {
        let wrapped = (u64::from(u32::MAX) - previous) + current + 1;
        if wrapped < 1 << 31 {
            return Some(wrapped);
        }
    }
    None
}

/// A computed value for one series.
use crate::metrics::Reading;

/// Rates and levels from two snapshots. Gauges (memory, load) come from the
/// current one alone, so the first sample already gives them.
pub fn derive(previous: Option<&ProcSnapshot>, current: &ProcSnapshot) -> Vec<Reading> {
    let mut out: Vec<Reading> = Vec::with_capacity(32);
    gauges(current, &mut out);
    let Some(prev) = previous else { return out };
    let elapsed = current.uptime - prev.uptime;
    if elapsed <= 0.0 {
        // Rebooted (uptime went back) or the same reading twice.
        return out;
    }
    cpu_rates(prev, current, &mut out);
    net_rates(prev, current, elapsed, &mut out);
    disk_rates(prev, current, elapsed, &mut out);
    out
}

fn gauges(snap: &ProcSnapshot, out: &mut Vec<Reading>) {
    if let (Some(total), Some(avail)) = (snap.mem_total_kb, snap.mem_available_kb) {
        out.push((names::MEM_TOTAL.into(), Unit::Bytes, (total * 1024) as f64));
        out.push((
            names::MEM_AVAILABLE.into(),
            Unit::Bytes,
            (avail * 1024) as f64,
        ));
        out.push((
            names::MEM_USED.into(),
            Unit::Bytes,
            (total.saturating_sub(avail) * 1024) as f64,
        ));
    }
    if let (Some(total), Some(free)) = (snap.swap_total_kb, snap.swap_free_kb) {
        out.push((names::SWAP_TOTAL.into(), Unit::Bytes, (total * 1024) as f64));
        out.push((
            names::SWAP_USED.into(),
            Unit::Bytes,
            (total.saturating_sub(free) * 1024) as f64,
        ));
    }
    if let Some((l1, l5, l15)) = snap.load {
        out.push((names::LOAD1.into(), Unit::Load, l1));
        out.push((names::LOAD5.into(), Unit::Load, l5));
        out.push((names::LOAD15.into(), Unit::Load, l15));
    }
}

fn cpu_rates(prev: &ProcSnapshot, cur: &ProcSnapshot, out: &mut Vec<Reading>) {
    let previous: HashMap<usize, CpuTimes> = prev.cores.iter().copied().collect();
    let mut sum = CpuDelta::default();
    for (core, times) in &cur.cores {
        // A core that just came online has no previous reading: skip it once.
        let Some(before) = previous.get(core) else {
            continue;
        };
        let Some(delta) = CpuDelta::between(before, times) else {
            continue;
        };
        if delta.total > 0 {
            out.push((names::cpu_core(*core), Unit::Percent, delta.busy_percent()));
        }
        sum.add(&delta);
    }
    if sum.total > 0 {
        let pct = |part: u64| part as f64 * 100.0 / sum.total as f64;
        out.push((names::CPU_TOTAL.into(), Unit::Percent, sum.busy_percent()));
        out.push((names::CPU_USER.into(), Unit::Percent, pct(sum.user)));
        out.push((names::CPU_SYSTEM.into(), Unit::Percent, pct(sum.system)));
        out.push((names::CPU_IOWAIT.into(), Unit::Percent, pct(sum.iowait)));
        out.push((names::CPU_STEAL.into(), Unit::Percent, pct(sum.steal)));
    }
}

#[derive(Debug, Default)]
struct CpuDelta {
    total: u64,
    idle: u64,
    user: u64,
    system: u64,
    iowait: u64,
    steal: u64,
}

impl CpuDelta {
    fn between(a: &CpuTimes, b: &CpuTimes) -> Option<Self> {
        // Per-core jiffies only go down if the core was reset (hotplug):
        // no value is better than a negative one.
        Some(Self {
            total: b.total().checked_sub(a.total())?,
            idle: b.idle.checked_sub(a.idle)?,
            user: (b.user + b.nice).checked_sub(a.user + a.nice)?,
            system: (b.system + b.irq + b.softirq).checked_sub(a.system + a.irq + a.softirq)?,
            iowait: b.iowait.checked_sub(a.iowait)?,
            steal: b.steal.checked_sub(a.steal)?,
        })
    }

    fn add(&mut self, other: &CpuDelta) {
        self.total += other.total;
        self.idle += other.idle;
        self.user += other.user;
        self.system += other.system;
        self.iowait += other.iowait;
        self.steal += other.steal;
    }

    fn busy_percent(&self) -> f64 {
        let busy = self.total.saturating_sub(self.idle + self.iowait);
        (busy as f64 * 100.0 / self.total as f64).clamp(0.0, 100.0)
    }
}

fn net_rates(prev: &ProcSnapshot, cur: &ProcSnapshot, elapsed: f64, out: &mut Vec<Reading>) {
    let previous: HashMap<&str, (u64, u64)> = prev
        .net
        .iter()
        .map(|(i, rx, tx)| (i.as_str(), (*rx, *tx)))
        .collect();
    let (mut rx_total, mut tx_total) = (0.0, 0.0);
    for (iface, rx, tx) in &cur.net {
        let Some((prx, ptx)) = previous.get(iface.as_str()) else {
            continue;
        };
        let (Some(drx), Some(dtx)) = (counter_delta(*prx, *rx), counter_delta(*ptx, *tx)) else {
            continue;
        };
        let (rx_rate, tx_rate) = (drx as f64 / elapsed, dtx as f64 / elapsed);
        out.push((names::net_if_rx(iface), Unit::BytesPerSec, rx_rate));
        out.push((names::net_if_tx(iface), Unit::BytesPerSec, tx_rate));
        if iface != "lo" {
            rx_total += rx_rate;
            tx_total += tx_rate;
        }
    }
    out.push((names::NET_RX.into(), Unit::BytesPerSec, rx_total));
    out.push((names::NET_TX.into(), Unit::BytesPerSec, tx_total));
}

fn disk_rates(prev: &ProcSnapshot, cur: &ProcSnapshot, elapsed: f64, out: &mut Vec<Reading>) {
    const SECTOR: f64 = 512.0; // diskstats always counts 512-byte sectors
    let previous: HashMap<&str, (u64, u64)> = prev
        .disks
        .iter()
        .map(|(d, r, w)| (d.as_str(), (*r, *w)))
        .collect();
    let (mut read, mut written) = (0.0, 0.0);
    for (disk, r, w) in &cur.disks {
        let Some((pr, pw)) = previous.get(disk.as_str()) else {
            continue;
        };
        if let (Some(dr), Some(dw)) = (counter_delta(*pr, *r), counter_delta(*pw, *w)) {
            read += dr as f64 * SECTOR / elapsed;
            written += dw as f64 * SECTOR / elapsed;
        }
    }
    out.push((names::DISK_READ.into(), Unit::BytesPerSec, read));
    out.push((names::DISK_WRITE.into(), Unit::BytesPerSec, written));
}

/// Runs the sampler until `cancel` fires, sending one update a second.
/// If the command ends (connection lost, awk killed), it says so and starts
/// it again after a pause.
pub async fn run<E: From<MetricsEvent> + Send + 'static>(
    transport: SharedTransport,
    events: mpsc::Sender<E>,
    cancel: CancellationToken,
) {
    loop {
        let ended = tokio::select! {
            _ = cancel.cancelled() => return,
            reason = sample_until_end(&transport, &events) => reason,
        };
        let _ = events
            .emit(MetricsEvent::Status {
                source: MetricsSource::Proc,
                message: format!("/proc sampler stopped: {ended}; restarting"),
            })
            .await;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

async fn sample_until_end<E: From<MetricsEvent> + Send + 'static>(
    transport: &SharedTransport,
    events: &mpsc::Sender<E>,
) -> String {
    let mut handle = match transport
        .exec(
            &sampler_command(),
            ExecOptions {
                stdin: true,
                cwd: None,
            },
        )
        .await
    {
        Ok(h) => h,
        Err(e) => return e.to_string(),
    };
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut pending = String::new();
    let mut previous: Option<ProcSnapshot> = None;
    let mut waiting_for_answer = false;
    loop {
        tokio::select! {
            _ = ticker.tick(), if !waiting_for_answer => {
                if let Err(e) = handle.write_stdin(Bytes::from_static(b"\n")).await {
                    return e.to_string();
                }
                waiting_for_answer = true;
            }
            event = handle.next() => match event {
                Some(ExecEvent::Stdout(chunk)) => {
                    pending.push_str(&String::from_utf8_lossy(&chunk));
                    if pending.len() > 4 << 20 {
                        return "sampler output without end marker".into();
                    }
                    while let Some(end) = pending.find(END) {
                        let block: String = pending.drain(..end + END.len()).collect();
                        let snapshot = parse_sample(&block);
                        let readings = derive(previous.as_ref(), &snapshot);
                        let update = MetricsUpdate {
                            t: chrono::Utc::now().timestamp(),
                            readings,
                            uptime_secs: Some(snapshot.uptime as u64),
                            hostname: Some(snapshot.hostname.clone()).filter(|h| !h.is_empty()),
                            cpu_count: Some(snapshot.cores.len()),
                        };
                        previous = Some(snapshot);
                        waiting_for_answer = false;
                        if events.emit(MetricsEvent::Sample(MetricsSource::Proc, update)).await.is_err() {
                            return "cockpit closed".into();
                        }
                    }
                }
                Some(ExecEvent::Stderr(_)) => {}
                Some(ExecEvent::Exit(status)) => return format!("sampler exited ({status})"),
                None => return "sampler output closed".into(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(user: u64, system: u64, idle: u64) -> CpuTimes {
        CpuTimes {
            user,
            system,
            idle,
            ..Default::default()
        }
    }

    fn value(readings: &[Reading], name: &str) -> Option<f64> {
        readings
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, v)| *v)
    }

    const SAMPLE: &str = "@@ /proc/uptime\n1000.50 1900.00\n\
@@ /proc/stat\ncpu  10 0 10 80 0 0 0 0 0 0\ncpu0 5 0 5 40 0 0 0 0 0 0\ncpu1 5 0 5 40 0 0 0 0 0 0\nintr 1 2 3\n\
@@ /proc/meminfo\nMemTotal:       16000 kB\nMemFree:         2000 kB\nMemAvailable:    6000 kB\nSwapTotal:       1000 kB\nSwapFree:         250 kB\n\
@@ /proc/loadavg\n0.50 0.25 0.10 1/200 1234\n\
@@ /proc/net/dev\nInter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n\
@@ /proc/diskstats\n   8       0 sda 100 0 2000 0 50 0 4000 0 0 0 0\n   8       1 sda1 100 0 2000 0 50 0 4000 0 0 0 0\n   7       0 loop0 1 0 8 0 0 0 0 0 0 0 0\n 259 0 nvme0n1 1 0 10 0 1 0 10 0 0 0 0\n 259 1 nvme0n1p1 1 0 10 0 1 0 10 0 0 0 0\n\
@@ /proc/sys/kernel/hostname\nweb-1\n@@ end\n";

    #[test]
    fn parses_every_section() {
        let snap = parse_sample(SAMPLE);
        assert_eq!(snap.uptime, 1000.5);
        assert_eq!(snap.hostname, "web-1");
        assert_eq!(snap.cores.len(), 2);
        assert_eq!(snap.mem_available_kb, Some(6000));
        assert_eq!(snap.load, Some((0.5, 0.25, 0.1)));
        assert_eq!(
            snap.net,
            vec![("lo".into(), 100, 100), ("eth0".into(), 1000, 2000)]
        );
        let disks: Vec<_> = snap.disks.iter().map(|d| d.0.as_str()).collect();
        assert_eq!(disks, vec!["sda", "nvme0n1"]);
    }

    #[test]
    fn gauges_from_the_first_sample() {
        let readings = derive(None, &parse_sample(SAMPLE));
        assert_eq!(value(&readings, names::MEM_USED), Some(10000.0 * 1024.0));
        assert_eq!(value(&readings, names::SWAP_USED), Some(750.0 * 1024.0));
        assert_eq!(value(&readings, names::LOAD1), Some(0.5));
        assert_eq!(
            value(&readings, names::CPU_TOTAL),
            None,
            "rates need two samples"
        );
    }

    #[test]
    fn cpu_percent_total_and_per_core() {
        let mut a = ProcSnapshot {
            uptime: 1.0,
            ..Default::default()
        };
        a.cores = vec![(0, cpu(100, 100, 800)), (1, cpu(0, 0, 1000))];
        let mut b = a.clone();
        b.uptime = 2.0;
        // core 0: 50 busy of 100; core 1: 100 busy of 100.
        b.cores = vec![(0, cpu(125, 125, 850)), (1, cpu(100, 0, 1000))];
        let r = derive(Some(&a), &b);
        assert_eq!(value(&r, "cpu.core.0"), Some(50.0));
        assert_eq!(value(&r, "cpu.core.1"), Some(100.0));
        assert_eq!(value(&r, names::CPU_TOTAL), Some(75.0));
        assert_eq!(value(&r, names::CPU_USER), Some(62.5));
    }

    #[test]
    fn a_core_going_offline_does_not_skew_the_total() {
        let mut a = ProcSnapshot {
            uptime: 1.0,
            ..Default::default()
        };
        a.cores = vec![(0, cpu(0, 0, 0)), (1, cpu(500, 0, 500))];
        let mut b = a.clone();
        b.uptime = 2.0;
        b.cores = vec![(0, cpu(10, 0, 90))]; // core 1 went offline
        let r = derive(Some(&a), &b);
        assert_eq!(value(&r, names::CPU_TOTAL), Some(10.0));
        assert_eq!(value(&r, "cpu.core.1"), None);
        // ... and when it comes back, its first reading is skipped.
        let mut c = b.clone();
        c.uptime = 3.0;
        c.cores = vec![(0, cpu(20, 0, 180)), (1, cpu(0, 0, 5))];
        let r = derive(Some(&b), &c);
        assert_eq!(value(&r, "cpu.core.1"), None);
        assert_eq!(value(&r, names::CPU_TOTAL), Some(10.0));
    }

    #[test]
    fn counters_wrapping_at_32_bits_are_counted() {
        assert_eq!(counter_delta(10, 25), Some(15));
        assert_eq!(counter_delta(u64::from(u32::MAX) - 5, 10), Some(16));
        // A 64-bit counter going down is a reset, not a wrap.
        assert_eq!(counter_delta(1 << 40, 10), None);
        // A 32-bit-sized counter going down by far is a reset too.
        assert_eq!(counter_delta(4_000_000_000, 3_000_000_000), None);
    }

    #[test]
    fn net_and_disk_rates_use_host_uptime() {
        let a = parse_sample(SAMPLE);
        let mut b = a.clone();
        b.uptime += 2.0;
        b.net = vec![("lo".into(), 10_100, 10_100), ("eth0".into(), 3000, 6000)];
        b.disks = vec![
            ("sda".into(), 2000 + 8, 4000 + 16),
            ("nvme0n1".into(), 10, 10),
        ];
        let r = derive(Some(&a), &b);
        assert_eq!(value(&r, "net.if.eth0.rx"), Some(1000.0));
        assert_eq!(value(&r, "net.if.eth0.tx"), Some(2000.0));
        assert_eq!(value(&r, "net.if.lo.rx"), Some(5000.0));
        assert_eq!(
            value(&r, names::NET_RX),
            Some(1000.0),
            "loopback is not in the total"
        );
        assert_eq!(value(&r, names::DISK_READ), Some(8.0 * 512.0 / 2.0));
        assert_eq!(value(&r, names::DISK_WRITE), Some(16.0 * 512.0 / 2.0));
    }

    #[test]
    fn reset_interface_gives_no_spike() {
        let a = parse_sample(SAMPLE);
        let mut b = a.clone();
        b.uptime += 1.0;
        b.net = vec![("eth0".into(), 5, 5)];
        let r = derive(Some(&a), &b);
        assert_eq!(value(&r, "net.if.eth0.rx"), None);
        assert_eq!(value(&r, names::NET_RX), Some(0.0));
    }

    #[test]
    fn reboot_gives_gauges_only() {
        let a = parse_sample(SAMPLE);
        let mut b = a.clone();
        b.uptime = 3.0;
        let r = derive(Some(&a), &b);
        assert!(value(&r, names::CPU_TOTAL).is_none());
        assert!(value(&r, names::MEM_USED).is_some());
    }

    #[test]
    fn garbage_is_skipped_without_panic() {
        let snap = parse_sample(
            "@@ /proc/stat\ncpu0 x y z\ncpu1 1 2\n@@ /proc/meminfo\nMemTotal: lots kB\n@@ /proc/loadavg\n1.0\n@@ /proc/net/dev\neth0: 1 2\n@@ /proc/diskstats\n8 0\n\u{0}\u{1}\n@@ end",
        );
        assert_eq!(snap, ProcSnapshot::default());
        assert!(derive(None, &snap).is_empty());
    }

    #[test]
    fn whole_disks_only() {
        for disk in ["sda", "vdb", "xvda", "nvme0n1", "mmcblk0"] {
            assert!(is_whole_disk(disk), "{disk}");
        }
        for part in [
            "sda1",
            "vdb2",
            "nvme0n1p1",
            "mmcblk0p1",
            "loop0",
            "dm-0",
            "md0",
            "ram0",
        ] {
            assert!(!is_whole_disk(part), "{part}");
        }
    }

    #[tokio::test]
    async fn sampler_command_reads_this_machine() {
        use crate::transport::Transport;
        let transport = crate::transport::local::LocalTransport;
        let mut handle = transport
            .exec(
                &sampler_command(),
                ExecOptions {
                    stdin: true,
                    cwd: None,
                },
            )
            .await
            .expect("spawn");
        handle
            .write_stdin(Bytes::from_static(b"\n"))
            .await
            .expect("tick");
        let mut text = String::new();
        while !text.contains(END) {
            match tokio::time::timeout(Duration::from_secs(5), handle.next()).await {
                Ok(Some(ExecEvent::Stdout(b))) => text.push_str(&String::from_utf8_lossy(&b)),
                Ok(Some(other)) => panic!("unexpected {other:?}"),
                Ok(None) | Err(_) => panic!("no sample; got {text:?}"),
            }
        }
        let snap = parse_sample(&text);
        assert!(snap.uptime > 0.0);
        assert!(!snap.cores.is_empty());
        assert!(snap.mem_total_kb.is_some());
        assert!(snap.net.iter().any(|(i, _, _)| i == "lo"));
    }
}
