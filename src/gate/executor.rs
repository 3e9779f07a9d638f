//! Running an approved action, once, over the cockpit's transport (SSH exec
//! on the host, or local). The action is already `executing` in the store
//! when this starts, so a crash leaves it `uncertain`, never re-run.

use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::{ActionState, ActionView, GateEvent, OutputRecord, fingerprint, now_ms};
use crate::transport::{ExecEvent, ExecOptions, ExitStatus, TransportErrorKind};

use super::core::Gate;

/// How long a killed command gets to report its exit.
const KILL_WAIT: Duration = Duration::from_secs(10);
/// How often a down connection is retried while the action waits for it.
const RECONNECT_POLL: Duration = Duration::from_millis(500);

/// The first `limit` bytes of a stream, with the size and hash of all of it.
pub struct BoundedOutput {
    kept: Vec<u8>,
    limit: usize,
    total: u64,
    hasher: Sha256,
}

impl BoundedOutput {
    pub fn new(limit: usize) -> Self {
        Self {
            kept: Vec::new(),
            limit,
            total: 0,
            hasher: Sha256::new(),
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.total += data.len() as u64;
        self.hasher.update(data);
        let room = self.limit.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&data[..data.len().min(room)]);
    }

    /// (kept bytes, total size, sha256 of everything).
    pub fn finish(self) -> (Vec<u8>, u64, String) {
        (self.kept, self.total, hex::encode(self.hasher.finalize()))
    }
}

enum Ending {
    Exited(ExitStatus),
    TimedOut,
    NotStarted(String),
}

/// Runs `action` (already `executing`) if its fields still hash to the
/// fingerprint the operator approved, and records how it ended.
pub async fn run(gate: Gate, action: ActionView, approved_fingerprint: String) {
    let limit = gate.config().output_limit_bytes;
    let mut stdout = BoundedOutput::new(limit);
    let mut stderr = BoundedOutput::new(limit);
    let current = fingerprint(
        &action.host,
        &action.command,
        action.cwd.as_deref(),
        action.timeout_secs,
    );
    let ending = if current != approved_fingerprint || action.fingerprint != approved_fingerprint {
        Ending::NotStarted("fingerprint mismatch at start: nothing ran".into())
    } else {
        execute(&gate, &action, &mut stdout, &mut stderr).await
    };
    let (out, out_total, out_sha) = stdout.finish();
    let (err, err_total, err_sha) = stderr.finish();
    // No secret value goes back to the proposer or into the history: the
    // kept output is masked before it is stored (the hashes are of what
    // the command printed).
    let (stdout_text, stdout_values) =
        crate::secrets::mask::mask_keeping(&String::from_utf8_lossy(&out));
    let (stderr_text, stderr_values) =
        crate::secrets::mask::mask_keeping(&String::from_utf8_lossy(&err));
    let (stdout_masked, stderr_masked) = (stdout_values.len(), stderr_values.len());
    // The masked values go to this cockpit's screen only (revealed one at a
    // time on the operator's key), never to the store or the proposer.
    if stdout_masked + stderr_masked > 0 {
        gate.publish(GateEvent::Revealable {
            id: action.id.clone(),
            values: stdout_values.chain(stderr_values),
        });
    }
    let output = OutputRecord {
        stdout: stdout_text,
        stderr: stderr_text,
        stdout_total: out_total,
        stderr_total: err_total,
        stdout_sha256: out_sha,
        stderr_sha256: err_sha,
    };
    let timeout = action.timeout_secs;
    let (to, exit_code, signal, error) = match ending {
        Ending::Exited(ExitStatus::Code(0)) => (ActionState::Succeeded, Some(0), None, None),
        Ending::Exited(ExitStatus::Code(c)) => (ActionState::Failed, Some(c), None, None),
        Ending::Exited(ExitStatus::Signal(s)) => (ActionState::Failed, None, Some(s), None),
        Ending::Exited(ExitStatus::Unknown) => (
            ActionState::Uncertain,
            None,
            None,
            Some("the connection was lost while it ran: it may or may not have completed".into()),
        ),
        Ending::TimedOut => (
            ActionState::Failed,
            None,
            None,
            Some(format!("timed out after {timeout}s and was killed")),
        ),
        Ending::NotStarted(reason) => (ActionState::Failed, None, None, Some(reason)),
    };
    let data = json!({
        "exit_code": exit_code,
        "signal": signal,
        "error": error,
        "stdout_total": output.stdout_total,
        "stderr_total": output.stderr_total,
        "stdout_sha256": output.stdout_sha256,
        "stderr_sha256": output.stderr_sha256,
        "masked": stdout_masked + stderr_masked,
    });
    let ended = now_ms();
    let result = gate.finish(
        &action.id,
        to,
        data,
        |v| {
            v.ended_at = Some(ended);
            v.exit_code = exit_code;
            v.signal = signal.clone();
            v.error = error.clone();
        },
        &output,
    );
    if let Err(e) = result {
        tracing::error!(id = %action.id, error = %e, "recording the end of an action failed");
        gate.publish(GateEvent::Error(format!(
            "recording the end of action {} failed: {e}",
            action.id
        )));
    }
}

/// Live output for the screen, masked chunk by chunk (a secret split
/// across two chunks is caught in the stored output, which is masked whole).
fn masked_chunk(bytes: &[u8]) -> Vec<u8> {
    crate::secrets::mask::mask(&String::from_utf8_lossy(bytes))
        .0
        .into_bytes()
}

async fn execute(
    gate: &Gate,
    action: &ActionView,
    stdout: &mut BoundedOutput,
    stderr: &mut BoundedOutput,
) -> Ending {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(action.timeout_secs.max(1));
    let transport = gate.transport();
    let options = ExecOptions {
        stdin: false,
        cwd: action.cwd.clone(),
    };
    // Wait for a down connection up to the action's own timeout.
    let mut handle = loop {
        match transport.exec(&action.command, options.clone()).await {
            Ok(handle) => break handle,
            Err(e) if e.kind == TransportErrorKind::Disconnected => {
                if tokio::time::Instant::now() + RECONNECT_POLL >= deadline {
                    return Ending::NotStarted(format!(
                        "the connection stayed down until the action's timeout: {e}; nothing ran"
                    ));
                }
                tokio::time::sleep(RECONNECT_POLL).await;
            }
            Err(e) => return Ending::NotStarted(format!("could not start: {e}")),
        }
    };
    tracing::info!(id = %action.id, "action started");
    loop {
        match tokio::time::timeout_at(deadline, handle.next()).await {
            Ok(Some(ExecEvent::Stdout(b))) => {
                stdout.push(&b);
                gate.publish(GateEvent::Output {
                    id: action.id.clone(),
                    stderr: false,
                    data: masked_chunk(&b),
                });
            }
            Ok(Some(ExecEvent::Stderr(b))) => {
                stderr.push(&b);
                gate.publish(GateEvent::Output {
                    id: action.id.clone(),
                    stderr: true,
                    data: masked_chunk(&b),
                });
            }
            Ok(Some(ExecEvent::Exit(status))) => return Ending::Exited(status),
            Ok(None) => return Ending::Exited(ExitStatus::Unknown),
            Err(_) => {
                handle.cancel();
                // Drain until the kill is reported (bounded).
                let _ = tokio::time::timeout(KILL_WAIT, async {
                    while let Some(event) = handle.next().await {
                        match event {
                            ExecEvent::Stdout(b) => stdout.push(&b),
                            ExecEvent::Stderr(b) => stderr.push(&b),
                            ExecEvent::Exit(_) => break,
                        }
                    }
                })
                .await;
                return Ending::TimedOut;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_output_keeps_head_counts_and_hashes_all() {
        let mut out = BoundedOutput::new(5);
        out.push(b"hello ");
        out.push(b"world");
        let (kept, total, sha) = out.finish();
        assert_eq!(kept, b"hello");
        assert_eq!(total, 11);
        assert_eq!(sha, hex::encode(Sha256::digest(b"hello world")));
    }
}
