//! The transport for the machine the cockpit runs on: plain processes,
//! sockets and unix sockets, no SSH. `opscockpit local` uses it.

use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    BoxStream, ExecEvent, ExecHandle, ExecOptions, ExitStatus, Transport, TransportError,
    TransportErrorKind,
};

/// How long a cancelled command gets to end after SIGTERM before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Default, Clone)]
pub struct LocalTransport;

#[async_trait]
impl Transport for LocalTransport {
    async fn exec(
        &self,
        command: &str,
        options: ExecOptions,
    ) -> Result<ExecHandle, TransportError> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .stdin(if options.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that cancel reaches the children too.
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &options.cwd {
            cmd.current_dir(dir);
        }
        let mut child = cmd.spawn().map_err(|e| {
            TransportError::new(
                TransportErrorKind::SpawnFailed,
                format!("starting `sh -c` locally: {e}"),
            )
        })?;

        let (event_tx, event_rx) = mpsc::channel(64);
        let cancel = CancellationToken::new();
        let stdin_tx = child.stdin.take().map(|mut stdin| {
            let (tx, mut rx) = mpsc::channel::<Bytes>(16);
            tokio::spawn(async move {
                while let Some(chunk) = rx.recv().await {
                    if stdin.write_all(&chunk).await.is_err() || stdin.flush().await.is_err() {
                        break;
                    }
                }
            });
            tx
        });

        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let token = cancel.clone();
        tokio::spawn(async move {
            let out_task =
                stdout.map(|s| tokio::spawn(pump(s, event_tx.clone(), ExecEvent::Stdout)));
            let err_task =
                stderr.map(|s| tokio::spawn(pump(s, event_tx.clone(), ExecEvent::Stderr)));
            let status = tokio::select! {
                status = child.wait() => status,
                _ = token.cancelled() => {
                    terminate_group(&mut child).await
                }
            };
            // Output may still be in the pipes after the process ended.
            for task in [out_task, err_task].into_iter().flatten() {
                let _ = task.await;
            }
            let exit = match status {
                Ok(status) => exit_status_of(status),
                Err(_) => ExitStatus::Unknown,
            };
            let _ = event_tx.send(ExecEvent::Exit(exit)).await;
        });
        Ok(ExecHandle::new(event_rx, stdin_tx, cancel))
    }

    async fn connect_tcp(&self, host: &str, port: u16) -> Result<BoxStream, TransportError> {
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| TransportError::from_io(&format!("connecting to {host}:{port}"), &e))?;
        let _ = stream.set_nodelay(true);
        Ok(Box::pin(stream))
    }

    async fn connect_unix(&self, path: &str) -> Result<BoxStream, TransportError> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|e| TransportError::from_io(&format!("connecting to {path}"), &e))?;
        Ok(Box::pin(stream))
    }

    fn describe(&self) -> String {
        "local".to_string()
    }
}

async fn pump<R: AsyncRead + Unpin>(
    mut reader: R,
    tx: mpsc::Sender<ExecEvent>,
    wrap: fn(Bytes) -> ExecEvent,
) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx
                    .send(wrap(Bytes::copy_from_slice(&buf[..n])))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
    }
}

async fn terminate_group(
    child: &mut tokio::process::Child,
) -> std::io::Result<std::process::ExitStatus> {
    if let Some(pid) = child.id() {
        signal_group(pid, libc::SIGTERM);
        if let Ok(status) = tokio::time::timeout(KILL_GRACE, child.wait()).await {
            return status;
        }
        signal_group(pid, libc::SIGKILL);
    }
    child.wait().await
}

fn signal_group(pid: u32, signal: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals the process group we
        // created for this child; it has no memory-safety preconditions.
        unsafe {
            libc::kill(-pid, signal);
        }
    }
}

fn exit_status_of(status: std::process::ExitStatus) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        ExitStatus::Code(code)
    } else if let Some(sig) = status.signal() {
        ExitStatus::Signal(signal_name(sig))
    } else {
        ExitStatus::Unknown
    }
}

/// Signal names as SSH reports them (RFC 4254: without the `SIG` prefix).
pub fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGHUP => "HUP",
        libc::SIGINT => "INT",
        libc::SIGQUIT => "QUIT",
        libc::SIGKILL => "KILL",
        libc::SIGSEGV => "SEGV",
        libc::SIGPIPE => "PIPE",
        libc::SIGALRM => "ALRM",
        libc::SIGTERM => "TERM",
        libc::SIGABRT => "ABRT",
        libc::SIGUSR1 => "USR1",
        libc::SIGUSR2 => "USR2",
        _ => return sig.to_string(),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exec_streams_both_outputs_and_exit_code() {
        let handle = LocalTransport
            .exec("echo out; echo err >&2; exit 3", ExecOptions::default())
            .await
            .expect("spawn");
        let (out, err, status) = handle.collect(1024).await;
        assert_eq!(out, b"out\n");
        assert_eq!(err, b"err\n");
        assert_eq!(status, ExitStatus::Code(3));
    }

    #[tokio::test]
    async fn cancel_kills_the_whole_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("survived");
        let cmd = format!("(sleep 3; touch {}) & wait", marker.display());
        let handle = LocalTransport
            .exec(&cmd, ExecOptions::default())
            .await
            .expect("spawn");
        tokio::time::sleep(Duration::from_millis(200)).await;
        handle.cancel();
        let (_, _, status) = handle.collect(1024).await;
        assert_eq!(status, ExitStatus::Signal("TERM".into()));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(
            !marker.exists(),
            "a child of the cancelled command kept running"
        );
    }

    #[tokio::test]
    async fn stdin_reaches_the_command() {
        let mut handle = LocalTransport
            .exec(
                "read a; echo got:$a",
                ExecOptions {
                    stdin: true,
                    cwd: None,
                },
            )
            .await
            .expect("spawn");
        handle
            .write_stdin(Bytes::from_static(b"hello\n"))
            .await
            .expect("write");
        handle.close_stdin();
        let (out, _, status) = handle.collect(1024).await;
        assert_eq!(out, b"got:hello\n");
        assert!(status.success());
    }

    #[tokio::test]
    async fn unix_socket_missing_is_unreachable() {
        let err = match LocalTransport
            .connect_unix("/nonexistent/docker.sock")
            .await
        {
            Err(e) => e,
            Ok(_) => panic!("connected to a missing socket"),
        };
        assert_eq!(err.kind, TransportErrorKind::Unreachable);
        assert!(err.message.contains("/nonexistent/docker.sock"));
    }
}
