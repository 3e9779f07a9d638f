//! Keeps the Runbooks pane current: reads the repo at start (the one on
//! the host over the transport), then every [`CHECK_EVERY`] asks for the
//! repo's fingerprint (HEAD, status, a checksum of the markdown files: one
//! small command, no busy loop) and reads it again only when that moved,
//! or at once on `:runbooks-reload`.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::channel::Emit;
use crate::transport::SharedTransport;

use super::{Runbook, remote};

/// How often the repo is asked whether it changed.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Where the host's runbooks are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoSource {
    /// A checkout on this machine (`runbooks`).
    Local(PathBuf),
    /// A checkout on the host (`runbooks_remote`), read over the transport.
    Remote(String),
}

impl RepoSource {
    /// Where `host`'s runbooks are: on the host (`runbooks_remote`), or on
    /// this machine (`runbooks`, `[runbooks] path`).
    pub fn for_host(config: &crate::config::Config, host: &str) -> Option<RepoSource> {
        match config.runbooks_remote(host) {
            Some(remote) => Some(RepoSource::Remote(remote)),
            None => config.runbooks_dir(host).map(RepoSource::Local),
        }
    }

    /// How the pane's title names it.
    pub fn describe(&self) -> String {
        match self {
            RepoSource::Local(dir) => format!("repo {}", dir.display()),
            RepoSource::Remote(path) => format!("repo on the host {path}"),
        }
    }
}

/// What the watcher is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunbooksRequest {
    /// Read the repo again now (`:runbooks-reload`).
    Reload,
    /// Write a draft into the working tree of the repo on the host, never
    /// over a file (`remote::write_new`).
    WriteDraft {
        rel: String,
        contents: String,
        steps: usize,
    },
}

/// What the watcher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunbooksEvent {
    /// The repo as read now (every runbook, before the host filter).
    Loaded(Vec<Runbook>),
    /// It could not be read; the text says why.
    Failed(String),
    /// A draft asked for at `asked` was written (at the path given), or not.
    DraftWritten {
        asked: String,
        steps: usize,
        written: Result<String, String>,
    },
}

/// Reads `source` in full.
pub async fn load(
    source: &RepoSource,
    transport: &SharedTransport,
) -> Result<Vec<Runbook>, String> {
    match source {
        RepoSource::Local(dir) => {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || super::load(&dir))
                .await
                .unwrap_or_else(|e| Err(format!("reading the runbook repo: {e}")))
        }
        RepoSource::Remote(path) => remote::load(transport.as_ref(), path).await,
    }
}

async fn fingerprint(source: &RepoSource, transport: &SharedTransport) -> Option<String> {
    match source {
        RepoSource::Local(dir) => {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || remote::local_fingerprint(&dir))
                .await
                .ok()
                .flatten()
        }
        RepoSource::Remote(path) => remote::fingerprint(transport.as_ref(), path).await,
    }
}

/// Waits for the next check: `Some(true)` when a reload was asked for,
/// `Some(false)` at the next tick, `None` when cancelled. A closed reload
/// channel is not listened to again (it would answer at once, forever).
async fn next_check<E: From<RunbooksEvent> + Send + 'static>(
    source: &RepoSource,
    transport: &SharedTransport,
    checks: &mut tokio::time::Interval,
    requests: &mut mpsc::UnboundedReceiver<RunbooksRequest>,
    requests_open: &mut bool,
    events: &mpsc::Sender<E>,
    cancel: &CancellationToken,
) -> Option<bool> {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return None,
            _ = checks.tick() => return Some(false),
            asked = requests.recv(), if *requests_open => match asked {
                Some(RunbooksRequest::Reload) => return Some(true),
                Some(RunbooksRequest::WriteDraft { rel, contents, steps }) => {
                    let written = match source {
                        RepoSource::Remote(repo) => {
                            remote::write_new(transport.as_ref(), repo, &rel, &contents).await
                        }
                        RepoSource::Local(_) => Err("drafts for a local repo are written by the loop".into()),
                    };
                    let event = RunbooksEvent::DraftWritten { asked: rel, steps, written };
                    if events.emit(event).await.is_err() {
                        return None;
                    }
                }
                None => *requests_open = false,
            },
        }
    }
}

/// Runs until `cancel`: a read at start, then on every change and on
/// every reload asked for on `requests` (which also carries drafts for a
/// repo on the host).
pub async fn run<E: From<RunbooksEvent> + Send + 'static>(
    source: RepoSource,
    transport: SharedTransport,
    mut requests: mpsc::UnboundedReceiver<RunbooksRequest>,
    events: mpsc::Sender<E>,
    every: Duration,
    cancel: CancellationToken,
) {
    let mut checks = tokio::time::interval(every);
    checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    checks.tick().await;
    let mut requests_open = true;
    let mut known: Option<String> = None;
    let mut forced = true;
    loop {
        let now = fingerprint(&source, &transport).await;
        // Unreadable now (the link is down): keep what is shown until it
        // answers again, unless the operator asked.
        let changed = now.is_some() && now != known;
        if forced || changed {
            if now.is_some() {
                known = now;
            }
            let event = match load(&source, &transport).await {
                Ok(runbooks) => RunbooksEvent::Loaded(runbooks),
                Err(e) => RunbooksEvent::Failed(e),
            };
            if events.emit(event).await.is_err() {
                return;
            }
        }
        let next = next_check(
            &source,
            &transport,
            &mut checks,
            &mut requests,
            &mut requests_open,
            &events,
            &cancel,
        );
        match next.await {
            Some(asked) => forced = asked,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::local::LocalTransport;

    #[derive(Debug)]
    struct Seen(RunbooksEvent);
    impl From<RunbooksEvent> for Seen {
        fn from(e: RunbooksEvent) -> Self {
            Seen(e)
        }
    }

    async fn next(rx: &mut mpsc::Receiver<Seen>) -> Vec<String> {
        let event = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("an event in time")
            .expect("open");
        match event.0 {
            RunbooksEvent::Loaded(r) => r.iter().map(|r| r.title.clone()).collect(),
            other => panic!("not a read: {other:?}"),
        }
    }

    /// Read at start, again when a file changes (found by the periodic
    /// check), and on request; a quiet repo is not read again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_at_start_on_change_and_on_request() {
        let repo = crate::runbooks::tests::fixture_repo();
        let (tx, mut rx) = mpsc::channel::<Seen>(8);
        let (reload_tx, reload_rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        tokio::spawn(run(
            RepoSource::Local(repo.path().to_path_buf()),
            std::sync::Arc::new(LocalTransport),
            reload_rx,
            tx,
            Duration::from_millis(200),
            cancel.clone(),
        ));
        let first = next(&mut rx).await;
        assert!(
            first.contains(&"Restart a wedged container".to_string()),
            "{first:?}"
        );
        // Quiet: several checks pass without a read.
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(rx.try_recv().is_err(), "no change, no read");
        // An edit to the already modified file moves only its checksum.
        let path = repo.path().join("deploy/rollback.md");
        let text = std::fs::read_to_string(&path).expect("r");
        std::fs::write(&path, text.replacen("# Roll back", "# Roll back now", 1)).expect("w");
        let changed = next(&mut rx).await;
        assert!(changed.iter().any(|t| t.contains("now")), "{changed:?}");
        reload_tx.send(RunbooksRequest::Reload).expect("ask");
        next(&mut rx).await;
        cancel.cancel();
    }
}
