//! The broker on the host: while the cockpit is connected, the same broker
//! listens at `~/.opscockpit/gate.sock` on the host (an SSH remote
//! stream-local forward; sshd creates it 0600 for the SSH user), so an
//! agent running there can propose without credentials of its own. A stale
//! socket from an earlier connection is removed first; after a reconnect
//! the forward is set up again; when the cockpit quits the socket is
//! removed, and with the connection gone nothing answers there.

use tokio_util::sync::CancellationToken;

use super::broker;
use super::core::Gate;
use crate::transport::{ConnectionState, ExecOptions, SharedTransport};

/// Where on the host, relative to the SSH user's home, unless configured.
pub const HOST_SOCKET: &str = ".opscockpit/gate.sock";

/// Serves the gate on the host at `relative` (to the SSH user's home) until
/// `cancel`; returns at once on a transport that cannot listen there
/// (local) or when `relative` is empty (turned off).
pub async fn serve(
    gate: Gate,
    transport: SharedTransport,
    relative: String,
    cancel: CancellationToken,
) {
    if relative.is_empty() || relative.starts_with('/') || relative.contains("..") {
        return;
    }
    let Some(mut states) = transport.connection_state() else {
        return;
    };
    let mut socket: Option<String> = None;
    loop {
        let connected = matches!(
            *states.borrow_and_update(),
            ConnectionState::Connected { .. }
        );
        if connected {
            match listen(&transport, &relative).await {
                Ok((path, streams)) => {
                    tracing::info!(%path, "the gate listens on the host");
                    socket = Some(path);
                    let serving = broker::serve_forwarded(gate.clone(), streams, cancel.clone());
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = serving => {}
                        () = until_not_connected(&mut states) => {}
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot serve the gate on the host"),
            }
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            changed = states.changed() => if changed.is_err() { break },
        }
    }
    if let Some(path) = socket {
        remove(&transport, &path).await;
    }
}

async fn until_not_connected(states: &mut tokio::sync::watch::Receiver<ConnectionState>) {
    while states.changed().await.is_ok() {
        if !matches!(
            *states.borrow_and_update(),
            ConnectionState::Connected { .. }
        ) {
            return;
        }
    }
    std::future::pending::<()>().await;
}

/// Makes the directory (0700), removes a stale socket, and listens.
async fn listen(
    transport: &SharedTransport,
    relative: &str,
) -> Result<
    (
        String,
        tokio::sync::mpsc::Receiver<crate::transport::BoxStream>,
    ),
    String,
> {
    let quoted = crate::transport::shell_quote(relative);
    let prepare = format!(
        "umask 077 && cd \"$HOME\" && mkdir -p \"$(dirname {quoted})\" && chmod 700 \"$(dirname {quoted})\" && rm -f {quoted} && printf %s \"$HOME\""
    );
    let handle = transport
        .exec(&prepare, ExecOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let (stdout, _stderr, status) = handle.collect(4096).await;
    if !status.success() {
        return Err(format!(
            "preparing ~/.opscockpit on the host failed ({status})"
        ));
    }
    let home = String::from_utf8_lossy(&stdout).trim().to_string();
    if !home.starts_with('/') {
        return Err("the host did not say where the SSH user's home is".into());
    }
    let path = format!("{home}/{relative}");
    let streams = transport
        .listen_unix_on_target(&path)
        .await
        .map_err(|e| e.to_string())?;
    Ok((path, streams))
}

async fn remove(transport: &SharedTransport, path: &str) {
    let command = format!("rm -f {}", crate::transport::shell_quote(path));
    if let Ok(handle) = transport.exec(&command, ExecOptions::default()).await {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), handle.collect(1024)).await;
    }
}
