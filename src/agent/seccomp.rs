//! The agent's seccomp filters, compiled in the launcher before the fork:
//! - `deny`: sockets of other families (packet, netlink but route, vsock,
//!   bluetooth, …), inet sockets other than TCP and UDP (raw, SCTP, DCCP,
//!   MPTCP, UDP-Lite), UDP unless the profile opens it, unix
//!   datagram sockets (their `sendto` names a path the supervisor never
//!   sees), TCP fast-open sends (a connect without `connect`) and io_uring
//!   (its operations bypass seccomp) all fail with EACCES;
//! - `notify`: every `connect` goes to the supervisor in the launcher
//!   (SECCOMP_RET_USER_NOTIF), which connects the agent's own socket for it
//!   if the destination is allowed (see `supervisor.rs`).

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

const SOCK_TYPE_MASK: u64 = 0xf;
const MSG_FASTOPEN: u64 = 0x2000_0000;
/// The obsolete packet type of inet sockets (libc marks it deprecated).
const SOCK_PACKET: i32 = 10;

fn cond(arg: u8, op: Op, value: u64) -> Result<SeccompCondition, String> {
    SeccompCondition::new(arg, Len::Dword, op, value).map_err(|e| format!("seccomp rule: {e}"))
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, String> {
    SeccompRule::new(conditions).map_err(|e| format!("seccomp rule: {e}"))
}

/// `socket(domain, type)` with `type & 0xf == kind`.
fn socket_of(domain: i32, kind: i32) -> Result<SeccompRule, String> {
    rule(vec![
        cond(0, Op::Eq, domain as u64)?,
        cond(1, Op::MaskedEq(SOCK_TYPE_MASK), kind as u64)?,
    ])
}

/// The filter of what always fails with EACCES.
pub fn deny_filter(udp: bool) -> Result<BpfProgram, String> {
    let mut socket_rules = vec![
        // Families other than unix, inet, inet6 and netlink.
        rule(vec![
            cond(0, Op::Ne, libc::AF_UNIX as u64)?,
            cond(0, Op::Ne, libc::AF_INET as u64)?,
            cond(0, Op::Ne, libc::AF_INET6 as u64)?,
            cond(0, Op::Ne, libc::AF_NETLINK as u64)?,
        ])?,
        // Netlink only for routing information (getaddrinfo, interfaces).
        rule(vec![
            cond(0, Op::Eq, libc::AF_NETLINK as u64)?,
            cond(2, Op::Ne, libc::NETLINK_ROUTE as u64)?,
        ])?,
        socket_of(libc::AF_UNIX, libc::SOCK_DGRAM)?,
    ];
    for domain in [libc::AF_INET, libc::AF_INET6] {
        // Landlock's port rules cover TCP only: SCTP, DCCP, MPTCP, UDP-Lite
        // and raw sockets would connect around them.
        for kind in [
            libc::SOCK_RAW,
            libc::SOCK_RDM,
            libc::SOCK_SEQPACKET,
            libc::SOCK_DCCP,
            SOCK_PACKET,
        ] {
            socket_rules.push(socket_of(domain, kind)?);
        }
        socket_rules.push(rule(vec![
            cond(0, Op::Eq, domain as u64)?,
            cond(2, Op::Ne, 0)?,
            cond(2, Op::Ne, libc::IPPROTO_TCP as u64)?,
            cond(2, Op::Ne, libc::IPPROTO_UDP as u64)?,
        ])?);
    }
    if !udp {
        socket_rules.push(socket_of(libc::AF_INET, libc::SOCK_DGRAM)?);
        socket_rules.push(socket_of(libc::AF_INET6, libc::SOCK_DGRAM)?);
    }
    let fastopen = |arg: u8| -> Result<Vec<SeccompRule>, String> {
        Ok(vec![rule(vec![cond(
            arg,
            Op::MaskedEq(MSG_FASTOPEN),
            MSG_FASTOPEN,
        )?])?])
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    rules.insert(libc::SYS_socket, socket_rules);
    rules.insert(libc::SYS_sendto, fastopen(3)?);
    rules.insert(libc::SYS_sendmsg, fastopen(2)?);
    rules.insert(libc::SYS_sendmmsg, fastopen(3)?);
    rules.insert(libc::SYS_io_uring_setup, vec![]);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        ARCH,
    )
    .map_err(|e| format!("seccomp filter: {e}"))?;
    BpfProgram::try_from(filter).map_err(|e| format!("seccomp filter: {e}"))
}

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// The `connect` → supervisor filter. Another architecture or the x32 ABI
/// (another way to call connect) kills the process.
pub fn notify_filter() -> Vec<libc::sock_filter> {
    use libc::{
        BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W, SECCOMP_RET_ALLOW,
        SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_USER_NOTIF,
    };
    // struct seccomp_data: nr at 0, arch at 4.
    const NR: u32 = 0;
    const ARCH_OFFSET: u32 = 4;
    const X32_BIT: u32 = 0x4000_0000;
    vec![
        stmt(BPF_LD | BPF_W | BPF_ABS, ARCH_OFFSET),
        jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH, 1, 0),
        stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD | BPF_W | BPF_ABS, NR),
        jump(BPF_JMP | BPF_JGE | BPF_K, X32_BIT, 0, 1),
        stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        jump(BPF_JMP | BPF_JEQ | BPF_K, libc::SYS_connect as u32, 0, 1),
        stmt(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    ]
}

/// Installs `program` on the calling thread; with `listener`, returns the
/// notification fd. Async-signal-safe: it runs in the forked child.
pub fn install(program: &[libc::sock_filter], listener: bool) -> std::io::Result<libc::c_int> {
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    let flags: libc::c_ulong = if listener {
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
    } else {
        0
    };
    // SAFETY: no_new_privs is required for an unprivileged filter;
    // prctl takes plain integers.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `prog` points at `program`, which outlives the call; the
    // kernel copies the filter.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(r as libc::c_int)
}

/// seccompiler's instructions as the kernel's type (same layout).
pub fn as_kernel(program: &BpfProgram) -> Vec<libc::sock_filter> {
    program
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile() {
        assert!(!deny_filter(false).expect("deny").is_empty());
        assert!(deny_filter(true).expect("deny udp").len() < deny_filter(false).expect("d").len());
        assert_eq!(notify_filter().len(), 9);
    }
}
