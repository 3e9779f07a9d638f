//! The unix-socket supervisor. Before Landlock ABI 9 the kernel cannot stop
//! a confined process from connecting to a path socket (ssh-agent, Docker,
//! D-Bus), and a seccomp filter cannot read the path. So every `connect` of
//! the agent is a seccomp user notification handled here, in the launcher:
//!
//! 1. read the address from the agent's memory and take the agent's socket
//!    itself (`pidfd_getfd`: the same open socket, not a copy);
//! 2. decide on that copy of the address: a unix path must resolve into the
//!    cockpits' socket directory; an abstract address is refused; an inet
//!    address goes on;
//! 3. connect the agent's socket here, to exactly what was checked, from a
//!    thread under the agent's Landlock TCP rules (so the kernel still
//!    refuses ports the profile does not allow), and answer the agent's
//!    `connect` with the result.
//!
//! The agent's syscall is never resumed (SECCOMP_USER_NOTIF_FLAG_CONTINUE
//! would re-read memory the agent can change after the check), so there is
//! no window between check and use.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;

use landlock::RulesetCreated;

/// One `connect` to carry out: the agent's socket, the checked address.
struct Job {
    id: u64,
    socket: OwnedFd,
    address: Vec<u8>,
}

/// Starts the supervisor on `listener`; returns when it is ready (the
/// connector thread restricted itself) or could not be.
pub fn spawn(
    listener: OwnedFd,
    connector: RulesetCreated,
    broker_dir: PathBuf,
    udp_dns_only: bool,
) -> Result<(), String> {
    let listener = Arc::new(listener);
    let (jobs, queue) = mpsc::channel::<Job>();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let answer_fd = Arc::clone(&listener);
    std::thread::Builder::new()
        .name("agent-connector".into())
        .spawn(move || connector_thread(connector, queue, answer_fd, ready_tx))
        .map_err(|e| format!("starting the supervisor: {e}"))?;
    ready_rx
        .recv()
        .map_err(|_| "the supervisor's connector thread died".to_string())??;
    std::thread::Builder::new()
        .name("agent-supervisor".into())
        .spawn(move || receive_loop(&listener, &jobs, &broker_dir, udp_dns_only))
        .map_err(|e| format!("starting the supervisor: {e}"))?;
    Ok(())
}

/// Restricts itself, then connects each job on a thread of its own (a
/// blocking connect must not hold up the others). Threads inherit the
/// Landlock domain of the thread that starts them.
fn connector_thread(
    ruleset: RulesetCreated,
    queue: mpsc::Receiver<Job>,
    listener: Arc<OwnedFd>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let restricted = ruleset
        .restrict_self()
        .map_err(|e| format!("restricting the supervisor's connector: {e}"));
    let failed = restricted.is_err();
    let _ = ready.send(restricted.map(|_| ()));
    if failed {
        return;
    }
    for job in queue {
        let listener = Arc::clone(&listener);
        let started = std::thread::Builder::new()
            .name("agent-connect".into())
            .spawn(move || {
                let result = connect_raw(&job.socket, &job.address);
                respond(&listener, job.id, result);
            });
        if started.is_err() {
            tracing::warn!("could not start a connect thread");
        }
    }
}

fn receive_loop(
    listener: &OwnedFd,
    jobs: &mpsc::Sender<Job>,
    broker_dir: &Path,
    udp_dns_only: bool,
) {
    loop {
        // SAFETY: a zeroed seccomp_notif is valid input for NOTIF_RECV, which
        // writes at most its size (checked against the kernel's at start).
        let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: `notif` is ours and as large as the kernel's struct.
        let r = unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV,
                &mut notif as *mut libc::seccomp_notif,
            )
        };
        if r < 0 {
            match std::io::Error::last_os_error().raw_os_error() {
                // Interrupted, or the caller was killed meanwhile.
                Some(libc::EINTR) | Some(libc::ENOENT) => continue,
                _ => return,
            }
        }
        match decide(listener, &notif, broker_dir, udp_dns_only) {
            Ok(job) => {
                if jobs.send(job).is_err() {
                    respond(listener, notif.id, Err(libc::EACCES));
                }
            }
            Err(errno) => respond(listener, notif.id, Err(errno)),
        }
    }
}

/// Checks one `connect`: returns the job to carry out, or the errno.
fn decide(
    listener: &OwnedFd,
    notif: &libc::seccomp_notif,
    broker_dir: &Path,
    udp_dns_only: bool,
) -> Result<Job, i32> {
    let pid = notif.pid as libc::pid_t;
    let fd = notif.data.args[0] as libc::c_int;
    let len = notif.data.args[2] as usize;
    if len > std::mem::size_of::<libc::sockaddr_storage>() || len < 2 {
        return Err(libc::EINVAL);
    }
    let address = read_memory(pid, notif.data.args[1], len)?;
    let socket = take_socket(pid, fd)?;
    // The pid may have died and been reused while we read: only a still
    // valid notification speaks for the agent.
    if !still_valid(listener, notif.id) {
        return Err(libc::ENOENT);
    }
    let family = i32::from(u16::from_ne_bytes([address[0], address[1]]));
    let address = match family {
        libc::AF_UNIX => unix_address(&address, pid, broker_dir)?,
        libc::AF_INET | libc::AF_INET6 => {
            if udp_dns_only && socket_type(&socket) == Some(libc::SOCK_DGRAM) {
                let port = address.get(2..4).map(|b| u16::from_be_bytes([b[0], b[1]]));
                if port != Some(53) {
                    return Err(libc::EACCES);
                }
            }
            address
        }
        libc::AF_UNSPEC | libc::AF_NETLINK => address,
        _ => return Err(libc::EAFNOSUPPORT),
    };
    Ok(Job {
        id: notif.id,
        socket,
        address,
    })
}

/// A unix address the agent may reach: a path that resolves to a `.sock`
/// file directly in the cockpits' socket directory. Returns the address of
/// the resolved path, so what is connected is what was checked.
fn unix_address(address: &[u8], pid: libc::pid_t, broker_dir: &Path) -> Result<Vec<u8>, i32> {
    let path_bytes = &address[2..];
    if path_bytes.first().is_none_or(|b| *b == 0) {
        // Abstract (or unnamed): not a file the rules could name.
        return Err(libc::EACCES);
    }
    let end = path_bytes
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(path_bytes.len());
    let path = Path::new(OsStr::from_bytes(&path_bytes[..end]));
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        // Relative to the agent's working directory.
        std::fs::read_link(format!("/proc/{pid}/cwd"))
            .map_err(|_| libc::EACCES)?
            .join(path)
    };
    let real = path.canonicalize().map_err(|_| libc::ENOENT)?;
    let dir = broker_dir.canonicalize().map_err(|_| libc::EACCES)?;
    let allowed =
        real.parent() == Some(dir.as_path()) && real.extension().is_some_and(|x| x == "sock");
    if !allowed {
        return Err(libc::EACCES);
    }
    sockaddr_un(&real).ok_or(libc::ENAMETOOLONG)
}

fn sockaddr_un(path: &Path) -> Option<Vec<u8>> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= 108 {
        return None;
    }
    let mut out = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    out.extend_from_slice(bytes);
    out.push(0);
    Some(out)
}

fn read_memory(pid: libc::pid_t, address: u64, len: usize) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; len];
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: address as *mut libc::c_void,
        iov_len: len,
    };
    // SAFETY: `local` is our buffer of `len` bytes; the remote range is only
    // read by the kernel, which checks it.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if n != len as isize {
        return Err(libc::EFAULT);
    }
    Ok(buf)
}

/// The agent's socket `fd`, as our own descriptor of the same socket.
fn take_socket(tid: libc::pid_t, fd: libc::c_int) -> Result<OwnedFd, i32> {
    let tgid = thread_group(tid).ok_or(libc::ESRCH)?;
    // SAFETY: pidfd_open and pidfd_getfd take integers; each fd returned is
    // owned exactly once below.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, tgid, 0u32);
        if pidfd < 0 {
            return Err(libc::ESRCH);
        }
        let pidfd = OwnedFd::from_raw_fd(pidfd as libc::c_int);
        let theirs = libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0u32);
        if theirs < 0 {
            return Err(libc::EBADF);
        }
        let socket = OwnedFd::from_raw_fd(theirs as libc::c_int);
        if socket_type(&socket).is_none() {
            return Err(libc::ENOTSOCK);
        }
        Ok(socket)
    }
}

/// The process a thread belongs to (pidfd_open wants a process).
fn thread_group(tid: libc::pid_t) -> Option<libc::pid_t> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

fn socket_type(socket: &OwnedFd) -> Option<i32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes one c_int into `value`.
    let r = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (r == 0).then_some(value)
}

fn still_valid(listener: &OwnedFd, id: u64) -> bool {
    let mut id = id;
    // SAFETY: NOTIF_ID_VALID reads one u64.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &mut id as *mut u64,
        ) == 0
    }
}

/// `connect(2)` of our descriptor of the agent's socket: the agent's
/// socket connects (a non-blocking one answers EINPROGRESS, as it would).
fn connect_raw(socket: &OwnedFd, address: &[u8]) -> Result<(), i32> {
    // SAFETY: `address` holds a sockaddr of `address.len()` bytes.
    let r = unsafe {
        libc::connect(
            socket.as_raw_fd(),
            address.as_ptr().cast(),
            address.len() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EACCES))
    }
}

fn respond(listener: &OwnedFd, id: u64, result: Result<(), i32>) {
    let mut resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error: match result {
            Ok(()) => 0,
            Err(errno) => -errno,
        },
        flags: 0,
    };
    // SAFETY: NOTIF_SEND reads one seccomp_notif_resp; a failure means the
    // agent's call is gone (killed, interrupted), so it is ignored.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp as *mut libc::seccomp_notif_resp,
        );
    }
}

/// The kernel's notification structures must not be larger than ours
/// (NOTIF_RECV writes the kernel's size).
pub fn sizes_match() -> bool {
    let mut sizes = libc::seccomp_notif_sizes {
        seccomp_notif: 0,
        seccomp_notif_resp: 0,
        seccomp_data: 0,
    };
    // SAFETY: SECCOMP_GET_NOTIF_SIZES writes one seccomp_notif_sizes.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_NOTIF_SIZES,
            0u32,
            &mut sizes as *mut libc::seccomp_notif_sizes,
        )
    };
    r == 0
        && usize::from(sizes.seccomp_notif) <= std::mem::size_of::<libc::seccomp_notif>()
        && usize::from(sizes.seccomp_notif_resp) <= std::mem::size_of::<libc::seccomp_notif_resp>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sockets_in_the_broker_dir_pass() {
        let dir = tempfile::tempdir().expect("tmp");
        let broker = dir.path().join("run");
        std::fs::create_dir(&broker).expect("mkdir");
        std::fs::write(broker.join("web.sock"), "").expect("file");
        std::fs::write(dir.path().join("docker.sock"), "").expect("file");
        std::os::unix::fs::symlink(dir.path().join("docker.sock"), broker.join("evil.sock"))
            .expect("link");
        let addr = |p: &Path| sockaddr_un(p).expect("addr");
        let me = std::process::id() as libc::pid_t;
        assert!(unix_address(&addr(&broker.join("web.sock")), me, &broker).is_ok());
        assert_eq!(
            unix_address(&addr(&dir.path().join("docker.sock")), me, &broker),
            Err(libc::EACCES)
        );
        assert_eq!(
            unix_address(&addr(&broker.join("evil.sock")), me, &broker),
            Err(libc::EACCES)
        );
        let mut abstract_addr = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        abstract_addr.extend_from_slice(b"\0x");
        assert_eq!(unix_address(&abstract_addr, me, &broker), Err(libc::EACCES));
    }
}
