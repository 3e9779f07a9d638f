//! A runbook repo that is a checkout on the host (`runbooks_remote`), read
//! over the cockpit's own transport: each read is one `sh` script run with
//! [`Transport::exec`] on the same SSH session, calling `git -C`. Nothing
//! is copied to this machine but what the pane shows.
//!
//! The load script prints NUL-framed records (paths may hold any byte but
//! NUL): `m PATH` for each file that differs from HEAD or is untracked,
//! then `f PATH COMMIT-LINE LENGTH` followed by LENGTH bytes of the file.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use crate::transport::{ExecOptions, Transport};

use super::markdown::shell_quote;
use super::{CommitInfo, MAX_FILE_BYTES, MAX_FILES, Runbook, markdown};

/// Output of one load read at most (500 files of a few KiB fit easily).
const MAX_LOAD_BYTES: usize = 16 * 1024 * 1024;
/// A read that takes longer than this is given up (the link is bad; the
/// pane says so and the next check tries again).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Every `*.md` git knows of (tracked or untracked, not ignored), with its
/// last commit and its bytes; files that differ from HEAD first.
const LOAD_SCRIPT: &str = r#"cd -- "$1" 2>/dev/null || { echo "no such directory on the host: $1" >&2; exit 3; }
git rev-parse --git-dir >/dev/null 2>&1 || { echo "not a git checkout on the host: $1" >&2; exit 4; }
{ git diff --name-only --relative -z HEAD 2>/dev/null; git ls-files --others --exclude-standard -z; } | xargs -0 -r printf 'm\000%s\000'
git ls-files -co --exclude-standard -z -- '*.md' | xargs -0 -r sh -c '
for f; do
  [ -f "$f" ] || continue
  c=$(git log -1 --format=%H%x1f%h%x1f%as%x1f%an -- "$f")
  n=$(head -c MAXBYTES -- "$f" | wc -c)
  printf "f\000%s\000%s\000%s\000" "$f" "$c" $n
  head -c $n -- "$f"
done' sh
"#;

/// What changes when the repo changes: HEAD, the status, and a checksum
/// of every markdown file (an edit to an already modified file moves only
/// the last). Works on a directory that is not a git checkout too.
pub const FINGERPRINT_SCRIPT: &str = r#"cd -- "$1" 2>/dev/null || exit 3
git rev-parse HEAD 2>/dev/null
git status --porcelain 2>/dev/null
find . -name '.*' ! -name . -prune -o -type f -name '*.md' -exec cksum {} + 2>/dev/null
"#;

/// `sh -c SCRIPT sh ARGS…` with each argument quoted; `~/` at the start of
/// the repo path is the remote user's home.
fn command(script: &str, repo: &str, args: &[&str]) -> String {
    let repo_arg = match repo.strip_prefix("~/") {
        Some(rest) => format!("\"$HOME\"/{}", shell_quote(rest)),
        None => shell_quote(repo),
    };
    let mut out = format!("sh -c {} sh {repo_arg}", shell_quote(script));
    for a in args {
        out.push(' ');
        out.push_str(&shell_quote(a));
    }
    out
}

/// Runs `script` in the repo on the target: stdout, or what went wrong.
async fn run(
    transport: &dyn Transport,
    script: &str,
    repo: &str,
    args: &[&str],
    limit: usize,
) -> Result<Vec<u8>, String> {
    let command = command(script, repo, args);
    let read = async {
        let handle = transport
            .exec(&command, ExecOptions::default())
            .await
            .map_err(|e| format!("reading the runbook repo on the host: {e}"))?;
        let (out, err, status) = handle.collect(limit).await;
        if status.success() {
            Ok(out)
        } else {
            let why = String::from_utf8_lossy(&err).trim().to_string();
            Err(if why.is_empty() {
                format!("reading the runbook repo on the host: {status}")
            } else {
                why
            })
        }
    };
    tokio::time::timeout(READ_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| Err("reading the runbook repo on the host timed out".into()))
}

/// Every runbook of the checkout at `repo` on the target, sorted by path.
pub async fn load(transport: &dyn Transport, repo: &str) -> Result<Vec<Runbook>, String> {
    let script = LOAD_SCRIPT.replace("MAXBYTES", &MAX_FILE_BYTES.to_string());
    let out = run(transport, &script, repo, &[], MAX_LOAD_BYTES).await?;
    parse_load(&out)
}

/// The records of the load script, as runbooks.
pub fn parse_load(out: &[u8]) -> Result<Vec<Runbook>, String> {
    let bad = |what: &str| format!("the runbook repo on the host answered garbage ({what})");
    let mut modified = BTreeSet::new();
    let mut runbooks = Vec::new();
    let mut rest = out;
    let field = |rest: &mut &[u8]| -> Option<String> {
        let end = rest.iter().position(|b| *b == 0)?;
        let text = String::from_utf8_lossy(&rest[..end]).into_owned();
        *rest = &rest[end + 1..];
        Some(text)
    };
    while !rest.is_empty() {
        match field(&mut rest).as_deref() {
            Some("m") => {
                modified.insert(field(&mut rest).ok_or_else(|| bad("a modified path"))?);
            }
            Some("f") => {
                let path = field(&mut rest).ok_or_else(|| bad("a path"))?;
                let commit = field(&mut rest).ok_or_else(|| bad("a commit"))?;
                let len: usize = field(&mut rest)
                    .and_then(|n| n.trim().parse().ok())
                    .filter(|n| *n as u64 <= MAX_FILE_BYTES && *n <= rest.len())
                    .ok_or_else(|| bad("a length"))?;
                let text = String::from_utf8_lossy(&rest[..len]).into_owned();
                rest = &rest[len..];
                if runbooks.len() < MAX_FILES && super::safe_relative(&path) {
                    let mut runbook = markdown::parse(&path, &text);
                    runbook.last_commit = parse_commit(&commit);
                    runbooks.push(runbook);
                }
            }
            _ => return Err(bad("a record")),
        }
    }
    for r in &mut runbooks {
        r.modified = modified.contains(&r.path);
    }
    runbooks.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(runbooks)
}

/// `HASH␟SHORT␟DATE␟AUTHOR`; empty (never committed): `None`.
fn parse_commit(line: &str) -> Option<CommitInfo> {
    let mut f = line.trim_end_matches('\n').split('\x1f');
    let hash = f.next().filter(|h| !h.is_empty())?.to_string();
    Some(CommitInfo {
        hash,
        short: f.next()?.to_string(),
        date: f.next()?.to_string(),
        author: f.next()?.to_string(),
    })
}

/// The repo's fingerprint on the target (`None`: it could not be read).
pub async fn fingerprint(transport: &dyn Transport, repo: &str) -> Option<String> {
    let out = run(transport, FINGERPRINT_SCRIPT, repo, &[], 4 * 1024 * 1024)
        .await
        .ok()?;
    Some(super::step_hash(&String::from_utf8_lossy(&out)))
}

/// The same fingerprint of a local directory.
pub fn local_fingerprint(dir: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(FINGERPRINT_SCRIPT)
        .arg("sh")
        .arg(dir)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| super::step_hash(&String::from_utf8_lossy(&out.stdout)))
}

/// Writes stdin to `$2` in the repo, or beside it (`NAME-2.md` …) when it
/// exists; `set -C` makes the last check and the creation one step. Prints
/// the path written.
const WRITE_NEW_SCRIPT: &str = r#"cd -- "$1" || exit 3
set -C
t=$2; n=1
while [ -e "$t" ]; do
  n=$((n+1))
  [ "$n" -le 99 ] || { echo "$2 and 98 numbered names beside it exist" >&2; exit 5; }
  t="${2%.md}-$n.md"
done
cat > "$t" || exit 6
printf '%s' "$t""#;

/// A draft written into the repo on the host (like `draft::write_new`):
/// the path written, relative to the repo.
pub async fn write_new(
    transport: &dyn Transport,
    repo: &str,
    rel: &str,
    contents: &str,
) -> Result<String, String> {
    let command = command(WRITE_NEW_SCRIPT, repo, &[rel]);
    let write = async {
        let mut handle = transport
            .exec(
                &command,
                ExecOptions {
                    stdin: true,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| format!("writing the draft on the host: {e}"))?;
        handle
            .write_stdin(bytes::Bytes::from(contents.to_string()))
            .await
            .map_err(|e| format!("writing the draft on the host: {e}"))?;
        handle.close_stdin();
        let (out, err, status) = handle.collect(64 * 1024).await;
        if status.success() {
            Ok(String::from_utf8_lossy(&out).into_owned())
        } else {
            let why = String::from_utf8_lossy(&err).trim().to_string();
            Err(if why.is_empty() {
                status.to_string()
            } else {
                why
            })
        }
    };
    tokio::time::timeout(READ_TIMEOUT, write)
        .await
        .unwrap_or_else(|_| Err("writing the draft on the host timed out".into()))
}

const SHOW_SCRIPT: &str = r#"cd -- "$1" || exit 3
git show "$2:$(git rev-parse --show-prefix)$3""#;
const LAST_COMMIT_SCRIPT: &str = r#"cd -- "$1" || exit 3
git log -1 --format=%H%x1f%h%x1f%as%x1f%an -- "$2""#;
const STATUS_SCRIPT: &str = r#"cd -- "$1" || exit 3
git status --porcelain -- "$2""#;
const READ_SCRIPT: &str = r#"cd -- "$1" || exit 3
head -c MAXBYTES -- "$2""#;

/// The checkout on the host, read synchronously for the gate's check of a
/// claimed step (the gate's `propose` is not async). Each read runs on the
/// cockpit's runtime from a helper thread, so it works from a worker and
/// from the loop's own thread alike.
pub struct RemoteRepo {
    pub transport: crate::transport::SharedTransport,
    pub repo: String,
}

impl RemoteRepo {
    fn blocking<T: Send>(&self, read: impl Future<Output = T> + Send) -> Option<T> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let multi_thread = runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread;
        let wait = || std::thread::scope(|s| s.spawn(|| runtime.block_on(read)).join().ok());
        if multi_thread {
            // A worker waiting here hands its work to another thread first:
            // two checks at once must not leave the SSH session's task
            // without a thread to run on.
            tokio::task::block_in_place(wait)
        } else {
            wait()
        }
    }

    fn read(&self, script: &str, args: &[&str]) -> Option<String> {
        let limit = MAX_FILE_BYTES as usize;
        let out = self
            .blocking(run(
                self.transport.as_ref(),
                script,
                &self.repo,
                args,
                limit,
            ))?
            .ok()?;
        Some(String::from_utf8_lossy(&out).into_owned())
    }
}

impl super::RepoRead for RemoteRepo {
    fn last_commit(&self, path: &str) -> Option<CommitInfo> {
        parse_commit(&self.read(LAST_COMMIT_SCRIPT, &[path])?)
    }
    fn is_modified(&self, path: &str) -> bool {
        self.read(STATUS_SCRIPT, &[path])
            .is_some_and(|s| !s.trim().is_empty())
    }
    fn worktree_text(&self, path: &str) -> Option<String> {
        let script = READ_SCRIPT.replace("MAXBYTES", &MAX_FILE_BYTES.to_string());
        self.read(&script, &[path])
    }
    fn text_at(&self, commit: &str, path: &str) -> Option<String> {
        if !super::git::is_commit_name(commit) {
            return None;
        }
        self.read(SHOW_SCRIPT, &[commit, path])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_records_parse_and_garbage_is_an_error() {
        let mut out = Vec::new();
        out.extend_from_slice(b"m\0ops/b.md\0");
        let text = "# B\n\n```sh\nuptime\n```\n";
        out.extend_from_slice(
            format!(
                "f\0ops/b.md\0abc123\x1fabc1\x1f2026-12-01\x1fAda\0{}\0",
                text.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"f\0a.md\0\0 0\0");
        let runbooks = parse_load(&out).expect("parsed");
        assert_eq!(runbooks.len(), 2);
        assert_eq!(runbooks[0].path, "a.md");
        assert!(runbooks[0].last_commit.is_none(), "never committed");
        let b = &runbooks[1];
        assert_eq!((b.title.as_str(), b.modified), ("B", true));
        assert_eq!(b.steps[0].text, "uptime");
        assert_eq!(
            b.last_commit.as_ref().map(|c| c.short.as_str()),
            Some("abc1")
        );
        for garbage in [
            &b"x\0"[..],
            b"f\0a.md\0c\0999\0short",
            b"f\0a.md\0c\0-1\0",
            b"m",
        ] {
            assert!(parse_load(garbage).is_err(), "{garbage:?}");
        }
        // A path out of the repo is not shown.
        let out = b"f\0../../etc/x.md\0\0 0\0".to_vec();
        assert!(parse_load(&out).expect("parsed").is_empty());
    }

    /// The scripts run through a transport (here this machine's) read the
    /// same repo as the local reader does, and the check of a claimed step
    /// works through them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_repo_read_through_a_transport_is_the_local_one() {
        use crate::runbooks::{RepoRead, check_in, parse_claim, tests::fixture_repo};
        let repo = fixture_repo();
        let transport: crate::transport::SharedTransport =
            std::sync::Arc::new(crate::transport::local::LocalTransport);
        let path = repo.path().display().to_string();
        let over = load(transport.as_ref(), &path).await.expect("read");
        let local = crate::runbooks::load(repo.path()).expect("read");
        assert_eq!(over, local);
        assert!(
            over.iter().any(|r| r.modified),
            "the uncommitted change shows"
        );
        assert!(fingerprint(transport.as_ref(), &path).await.is_some());
        assert!(load(transport.as_ref(), "/no/such/dir").await.is_err());

        let remote = RemoteRepo {
            transport: transport.clone(),
            repo: path.clone(),
        };
        let claim = parse_claim("incidents/restart-container.md#step-2").expect("claim");
        let checked = tokio::task::spawn_blocking(move || {
            let ok = check_in(
                Some(&remote),
                claim.clone(),
                "docker restart web-1 && echo restarted api",
            );
            let at = check_in(
                Some(&remote),
                crate::runbooks::RunbookRef {
                    commit: ok.commit.clone(),
                    ..claim.clone()
                },
                "docker rm -f web-1",
            );
            (ok, at, remote.is_modified("deploy/rollback.md"))
        })
        .await
        .expect("joined");
        assert_eq!(checked.0.matches, Some(true), "{:?}", checked.0);
        assert_eq!(checked.0.commit.len(), 7);
        assert_eq!(checked.1.matches, Some(false));
        assert_eq!(
            checked.1.expected.as_deref(),
            Some("docker restart <container> && echo restarted ${SERVICE}")
        );
        assert!(checked.2);
    }

    /// The cockpit checks a claimed step from its runtime's only worker (the
    /// event loop runs there, `main.rs`): the read must not wait for a worker
    /// it is itself blocking.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_step_is_checked_from_the_runtimes_only_worker() {
        use crate::runbooks::{check_in, parse_claim, tests::fixture_repo};
        let repo = fixture_repo();
        let remote = RemoteRepo {
            transport: std::sync::Arc::new(crate::transport::local::LocalTransport),
            repo: repo.path().display().to_string(),
        };
        let claim = parse_claim("incidents/restart-container.md#step-2").expect("claim");
        let (done, answer) = std::sync::mpsc::channel();
        tokio::spawn(async move {
            let checked = check_in(
                Some(&remote),
                claim,
                "docker restart web-1 && echo restarted api",
            );
            let _ = done.send(checked);
        });
        // Not awaited: a deadlocked worker would never wake this task.
        let checked = answer
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("checked within 30 s, not deadlocked");
        assert_eq!(checked.matches, Some(true), "{checked:?}");
    }

    /// A draft written through a transport lands beside a taken name.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn drafts_written_through_a_transport_never_overwrite() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("incidents")).expect("mkdir");
        std::fs::write(dir.path().join("incidents/web.md"), "# mine\n").expect("w");
        let transport = crate::transport::local::LocalTransport;
        let repo = dir.path().display().to_string();
        let written = write_new(&transport, &repo, "incidents/web.md", "# draft; $(id)\n")
            .await
            .expect("written");
        assert_eq!(written, "incidents/web-2.md");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("incidents/web-2.md")).expect("r"),
            "# draft; $(id)\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("incidents/web.md")).expect("r"),
            "# mine\n"
        );
        let fresh = write_new(&transport, &repo, "new.md", "x")
            .await
            .expect("written");
        assert_eq!(fresh, "new.md");
        assert!(
            write_new(&transport, &repo, "no/dir/x.md", "x")
                .await
                .is_err()
        );
    }

    #[test]
    fn commands_quote_the_repo_and_keep_the_home() {
        assert!(
            command("true", "~/ops runbooks", &["a b"])
                .ends_with(" sh \"$HOME\"/'ops runbooks' 'a b'")
        );
        assert!(command("true", "/srv/x;y", &[]).ends_with(" sh '/srv/x;y'"));
    }
}
