//! The host's runbook repo: markdown files in a git checkout, their front
//! matter, their steps (the shell blocks an operator runs through the gate),
//! and where each came from (the last commit, whether the working tree
//! differs). Reading happens once, before the TUI starts; panes only show
//! what was read.
//!
//! - [`markdown`]: front matter, title, steps and placeholders (pulldown-cmark).
//! - [`git`]: last commit of a file, modified files (shells out to `git`).
//! - [`draft`]: a runbook written from finished actions (History → runbook).

pub mod draft;
pub mod fixtures;
pub mod git;
pub mod markdown;
pub mod remote;
pub mod watch;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use markdown::{FrontMatter, Step};

/// Files deeper than this below the repo root are not looked at.
const MAX_DEPTH: usize = 8;
/// Runbooks read at most (a repo is ops knowledge, not a data dump).
const MAX_FILES: usize = 500;
/// Bytes read of one file at most.
const MAX_FILE_BYTES: u64 = 512 * 1024;

/// The commit that last touched a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitInfo {
    pub hash: String,
    pub short: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub author: String,
}

/// One runbook as read from the repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runbook {
    /// Relative to the repo directory, `/`-separated.
    pub path: String,
    /// The first heading, else the file name.
    pub title: String,
    pub front: FrontMatter,
    /// The markdown without its front matter.
    pub body: String,
    pub steps: Vec<Step>,
    /// `None`: never committed.
    pub last_commit: Option<CommitInfo>,
    /// The working tree differs from HEAD (or the file is untracked).
    pub modified: bool,
    /// Why the front matter could not be read, if it could not.
    pub front_error: Option<String>,
}

impl Runbook {
    /// Whether this runbook is meant for `host` (no `hosts` list: every host).
    pub fn applies_to(&self, host: &str) -> bool {
        self.front.hosts.is_empty() || self.front.hosts.iter().any(|h| h == host)
    }

    /// The commit its text is at, as provenance names it (`worktree` when
    /// never committed).
    pub fn commit_label(&self) -> String {
        self.last_commit
            .as_ref()
            .map(|c| c.short.clone())
            .unwrap_or_else(|| "worktree".into())
    }

    /// Case-insensitive match of the `/` filter on title, tags and body.
    pub fn matches_filter(&self, filter: &str) -> bool {
        let needle = filter.to_lowercase();
        needle.is_empty()
            || self.title.to_lowercase().contains(&needle)
            || self.path.to_lowercase().contains(&needle)
            || self
                .front
                .tags
                .iter()
                .any(|t| t.to_lowercase().contains(&needle))
            || self.body.to_lowercase().contains(&needle)
    }

    /// The provenance of step `number` (1-based), if it exists.
    pub fn provenance(&self, number: usize) -> Option<RunbookRef> {
        let step = self.steps.get(number.checked_sub(1)?)?;
        Some(RunbookRef {
            path: self.path.clone(),
            commit: self.commit_label(),
            step: number,
            step_sha256: step_hash(&step.text),
            modified: self.modified,
            matches: None,
            expected: None,
        })
    }
}

/// Where a proposed action came from: `PATH@COMMIT#step-N`, the hash of the
/// step's text (before placeholders were filled) and whether the file
/// differed from its commit. Stored with the action, shown in History.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunbookRef {
    pub path: String,
    pub commit: String,
    pub step: usize,
    #[serde(default)]
    pub step_sha256: String,
    #[serde(default)]
    pub modified: bool,
    /// For a claim by an agent (`propose --runbook`): whether the command
    /// equals the step's text. `None`: proposed from the pane itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<bool>,
    /// When it differs: the step's text, for the diff in the popup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
}

impl RunbookRef {
    /// `PATH@COMMIT#step-N`, as History shows it.
    pub fn label(&self) -> String {
        format!("{}@{}#step-{}", self.path, self.commit, self.step)
    }
}

/// Hex sha256 of a step's text.
pub fn step_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Parses `PATH#step-N` (what `propose --runbook` takes).
pub fn parse_claim(text: &str) -> Result<RunbookRef, String> {
    let bad = || format!("--runbook takes PATH#step-N (e.g. ops/restart.md#step-2), got `{text}`");
    let (path, step) = text.rsplit_once('#').ok_or_else(bad)?;
    let step: usize = step
        .strip_prefix("step-")
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .ok_or_else(bad)?;
    if path.is_empty() {
        return Err(bad());
    }
    Ok(RunbookRef {
        path: path.to_string(),
        commit: String::new(),
        step,
        step_sha256: String::new(),
        modified: false,
        matches: None,
        expected: None,
    })
}

/// A repo-relative path that stays inside the repo.
fn safe_relative(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// What the check of a claimed step reads of a repo: a local checkout
/// ([`LocalRepo`]) or one on the host ([`remote::RemoteRepo`]).
pub trait RepoRead: Send + Sync {
    /// The commit that last changed `path`.
    fn last_commit(&self, path: &str) -> Option<CommitInfo>;
    /// Whether `path` differs from HEAD (or is untracked).
    fn is_modified(&self, path: &str) -> bool;
    /// `path` as it is in the working tree.
    fn worktree_text(&self, path: &str) -> Option<String>;
    /// `path` at `commit`.
    fn text_at(&self, commit: &str, path: &str) -> Option<String>;
}

/// A git checkout on this machine.
pub struct LocalRepo(pub PathBuf);

impl RepoRead for LocalRepo {
    fn last_commit(&self, path: &str) -> Option<CommitInfo> {
        git::last_commit(&self.0, path)
    }
    fn is_modified(&self, path: &str) -> bool {
        git::modified_files(&self.0).contains(path)
    }
    fn worktree_text(&self, path: &str) -> Option<String> {
        read_bounded(&self.0.join(path))
    }
    fn text_at(&self, commit: &str, path: &str) -> Option<String> {
        git::show(&self.0, commit, path)
    }
}

/// The cockpit's own finding about a claimed step: the step's text at the
/// claimed commit (or in the working tree when the file was modified or no
/// commit was named), its hash, and whether `command` is that text with
/// its placeholders filled in. Nothing the proposer said about the match
/// is kept.
pub fn check(dir: Option<&Path>, claim: RunbookRef, command: &str) -> RunbookRef {
    match dir {
        Some(dir) => check_in(Some(&LocalRepo(dir.to_path_buf())), claim, command),
        None => check_in(None, claim, command),
    }
}

/// [`check`] against any repo, local or on the host.
pub fn check_in(repo: Option<&dyn RepoRead>, claim: RunbookRef, command: &str) -> RunbookRef {
    let mut out = RunbookRef {
        matches: None,
        expected: None,
        ..claim
    };
    let Some(repo) = repo else {
        return out;
    };
    if !safe_relative(&out.path) {
        out.matches = Some(false);
        out.expected = Some("(no such runbook in the repo)".into());
        return out;
    }
    let committed = !out.commit.is_empty() && out.commit != "worktree";
    if !committed {
        out.commit = repo
            .last_commit(&out.path)
            .map(|c| c.short)
            .unwrap_or_else(|| "worktree".into());
        out.modified = repo.is_modified(&out.path);
    }
    let text = if out.modified || out.commit == "worktree" {
        repo.worktree_text(&out.path)
    } else {
        repo.text_at(&out.commit, &out.path)
    };
    let step_text = text.and_then(|t| {
        let rb = markdown::parse(&out.path, &t);
        rb.steps.get(out.step - 1).map(|s| s.text.clone())
    });
    let Some(step_text) = step_text else {
        out.matches = Some(false);
        out.expected = Some(format!(
            "(no step {} in {}@{})",
            out.step, out.path, out.commit
        ));
        return out;
    };
    out.step_sha256 = step_hash(&step_text);
    let matches = markdown::matches_step(&step_text, command);
    out.matches = Some(matches);
    if !matches {
        out.expected = Some(step_text);
    }
    out
}

/// Every runbook under `dir` (recursively, `*.md`), sorted by path, with its
/// git metadata. An unreadable file is skipped; a missing directory is an
/// error that says which.
pub fn load(dir: &Path) -> Result<Vec<Runbook>, String> {
    if !dir.is_dir() {
        return Err(format!(
            "runbooks: {} is not a directory (set `runbooks = \"PATH\"` to a git checkout)",
            dir.display()
        ));
    }
    let mut files = Vec::new();
    collect_markdown(dir, dir, 0, &mut files);
    files.sort();
    files.truncate(MAX_FILES);
    let modified = git::modified_files(dir);
    let mut runbooks = Vec::new();
    for rel in files {
        let Some(text) = read_bounded(&dir.join(&rel)) else {
            continue;
        };
        let path = rel_string(&rel);
        let mut runbook = markdown::parse(&path, &text);
        runbook.last_commit = git::last_commit(dir, &path);
        runbook.modified = modified.contains(&path);
        runbooks.push(runbook);
    }
    Ok(runbooks)
}

fn rel_string(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn read_bounded(path: &Path) -> Option<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn collect_markdown(root: &Path, dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > MAX_DEPTH || out.len() >= MAX_FILES {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        // file_type does not follow symlinks: a link out of the repo is not read.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            collect_markdown(root, &path, depth + 1, out);
        } else if kind.is_file()
            && path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("md"))
            && let Ok(rel) = path.strip_prefix(root)
        {
            out.push(rel.to_path_buf());
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::fixtures::{RUNBOOK_DISK, RUNBOOK_RESTART, RUNBOOK_ROLLBACK};
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let status = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "Ada Ops")
            .env("GIT_AUTHOR_EMAIL", "ada@example.org")
            .env("GIT_COMMITTER_NAME", "Ada Ops")
            .env("GIT_COMMITTER_EMAIL", "ada@example.org")
            .env("GIT_AUTHOR_DATE", "2026-11-28T10:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-11-28T10:00:00Z")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    }

    /// A git repo with the three fixture runbooks committed, then an
    /// uncommitted change to the rollback one.
    pub(crate) fn fixture_repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        for sub in ["incidents", "deploy", "research", ".git-ignored-dir"] {
            std::fs::create_dir_all(root.join(sub)).expect("mkdir");
        }
        std::fs::write(root.join("incidents/restart-container.md"), RUNBOOK_RESTART).expect("w");
        std::fs::write(root.join("deploy/rollback.md"), RUNBOOK_ROLLBACK).expect("w");
        std::fs::write(root.join("research/disk-full.md"), RUNBOOK_DISK).expect("w");
        std::fs::write(root.join("notes.txt"), "not markdown").expect("w");
        git(root, &["init", "-q", "-b", "main"]);
        git(root, &["add", "."]);
        git(root, &["commit", "-q", "-m", "runbooks"]);
        let changed = RUNBOOK_ROLLBACK.replace("head -2", "head -3");
        std::fs::write(root.join("deploy/rollback.md"), changed).expect("w");
        dir
    }

    #[test]
    fn load_reads_every_runbook_with_git_metadata() {
        let repo = fixture_repo();
        let runbooks = load(repo.path()).expect("loads");
        let paths: Vec<&str> = runbooks.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "deploy/rollback.md",
                "incidents/restart-container.md",
                "research/disk-full.md"
            ]
        );
        let rollback = &runbooks[0];
        assert!(rollback.modified, "uncommitted change");
        assert_eq!(rollback.steps[0].text, "ls -1t /srv/releases | head -3");
        let restart = &runbooks[1];
        assert!(!restart.modified);
        let commit = restart.last_commit.as_ref().expect("committed");
        assert_eq!(commit.author, "Ada Ops");
        assert_eq!(commit.date, "2026-11-28");
        assert!(commit.hash.starts_with(&commit.short));
        assert_eq!(restart.front.severity.as_deref(), Some("high"));
        assert!(runbooks[2].steps.is_empty());
        assert!(load(&repo.path().join("nope")).is_err());
    }

    #[test]
    fn check_compares_the_command_with_the_step_at_its_commit() {
        let repo = fixture_repo();
        let dir = Some(repo.path());
        let claim = parse_claim("incidents/restart-container.md#step-2").expect("claim");
        let ok = check(
            dir,
            claim.clone(),
            "docker restart web-1 && echo restarted api",
        );
        assert_eq!(ok.matches, Some(true), "{ok:?}");
        assert_eq!(ok.commit.len(), 7, "the file's last commit: {ok:?}");
        assert_eq!(
            ok.step_sha256,
            step_hash("docker restart <container> && echo restarted ${SERVICE}")
        );
        let bad = check(dir, claim.clone(), "docker rm -f web-1");
        assert_eq!(bad.matches, Some(false));
        assert_eq!(
            bad.expected.as_deref(),
            Some("docker restart <container> && echo restarted ${SERVICE}")
        );
        // At the commit it names, not whatever is checked out now.
        let at_commit = check(
            dir,
            RunbookRef {
                commit: ok.commit.clone(),
                ..claim.clone()
            },
            "docker restart x && echo restarted y",
        );
        assert_eq!(at_commit.matches, Some(true));
        // The modified file is checked against its working tree.
        let rollback = parse_claim("deploy/rollback.md#step-1").expect("claim");
        let wt = check(dir, rollback, "ls -1t /srv/releases | head -3");
        assert!(wt.modified && wt.matches == Some(true), "{wt:?}");
        // A proposer's own say-so is dropped; paths out of the repo fail.
        let lying = RunbookRef {
            matches: Some(true),
            ..parse_claim("../../etc/passwd#step-1").expect("claim")
        };
        assert_eq!(check(dir, lying.clone(), "id").matches, Some(false));
        assert_eq!(check(None, lying, "id").matches, None, "no repo: unchecked");
        assert_eq!(
            check(
                dir,
                parse_claim("research/disk-full.md#step-1").expect("c"),
                "df"
            )
            .matches,
            Some(false)
        );
    }

    #[test]
    fn claims_are_path_hash_step() {
        let c = parse_claim("ops/a#b.md#step-12").expect("ok");
        assert_eq!((c.path.as_str(), c.step), ("ops/a#b.md", 12));
        for bad in [
            "ops/a.md",
            "ops/a.md#step-0",
            "ops/a.md#2",
            "#step-1",
            "a.md#step-x",
        ] {
            assert!(parse_claim(bad).is_err(), "{bad}");
        }
    }
}
