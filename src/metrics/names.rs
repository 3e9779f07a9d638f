//! Series names shared by every metrics source. A name is a dotted path; the
//! functions here build the per-instance ones so no caller formats them by hand.

pub const CPU_TOTAL: &str = "cpu.total";
pub const CPU_USER: &str = "cpu.user";
pub const CPU_SYSTEM: &str = "cpu.system";
pub const CPU_IOWAIT: &str = "cpu.iowait";
pub const CPU_STEAL: &str = "cpu.steal";
pub const LOAD1: &str = "load.1";
pub const LOAD5: &str = "load.5";
pub const LOAD15: &str = "load.15";
pub const MEM_USED: &str = "mem.used";
pub const MEM_AVAILABLE: &str = "mem.available";
pub const MEM_TOTAL: &str = "mem.total";
pub const SWAP_USED: &str = "swap.used";
pub const SWAP_TOTAL: &str = "swap.total";
/// Bytes per second over all interfaces except loopback.
pub const NET_RX: &str = "net.rx";
pub const NET_TX: &str = "net.tx";
/// Bytes per second over all physical disks (partitions not counted twice).
pub const DISK_READ: &str = "disk.read";
pub const DISK_WRITE: &str = "disk.write";
pub const TCP_ESTABLISHED: &str = "tcp.established";

pub fn cpu_core(core: usize) -> String {
    format!("cpu.core.{core}")
}

pub fn net_if_rx(iface: &str) -> String {
    format!("net.if.{iface}.rx")
}

pub fn net_if_tx(iface: &str) -> String {
    format!("net.if.{iface}.tx")
}

pub fn disk_space_used(mount: &str) -> String {
    format!("disk_space.{mount}.used")
}

pub fn disk_space_avail(mount: &str) -> String {
    format!("disk_space.{mount}.avail")
}

pub fn container_cpu(name: &str) -> String {
    format!("container.{name}.cpu")
}

pub fn container_mem(name: &str) -> String {
    format!("container.{name}.mem")
}
