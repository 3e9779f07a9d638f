//! What git says about the runbook repo: the last commit of each file and
//! which files differ from HEAD. Shells out to `git` (installed wherever a
//! checkout is); a directory that is not a repo simply has no commits.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use super::CommitInfo;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The commit that last changed `path` (relative to `dir`).
pub fn last_commit(dir: &Path, path: &str) -> Option<CommitInfo> {
    let out = git(
        dir,
        &["log", "-1", "--format=%H%x00%h%x00%as%x00%an", "--", path],
    )?;
    parse_log_line(out.trim_end_matches('\n'))
}

fn parse_log_line(line: &str) -> Option<CommitInfo> {
    let mut fields = line.split('\0');
    let hash = fields.next().filter(|h| !h.is_empty())?.to_string();
    Some(CommitInfo {
        hash,
        short: fields.next()?.to_string(),
        date: fields.next()?.to_string(),
        author: fields.next()?.to_string(),
    })
}

/// Files (relative to `dir`, `/`-separated) whose working tree or index
/// differs from HEAD, and untracked files.
pub fn modified_files(dir: &Path) -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    let changed = git(dir, &["diff", "--name-only", "--relative", "-z", "HEAD"]);
    let untracked = git(dir, &["ls-files", "--others", "--exclude-standard", "-z"]);
    for list in [changed, untracked].into_iter().flatten() {
        files.extend(list.split('\0').filter(|p| !p.is_empty()).map(String::from));
    }
    files
}

/// A commit as provenance names it: hex digits only (a name starting with
/// `-` would be read as an option, a `:` would change the object named).
pub fn is_commit_name(commit: &str) -> bool {
    !commit.is_empty() && commit.chars().all(|c| c.is_ascii_hexdigit())
}

/// The text of `path` at `commit` (for checking a claimed step).
pub fn show(dir: &Path, commit: &str, path: &str) -> Option<String> {
    if !is_commit_name(commit) {
        return None;
    }
    let prefix = git(dir, &["rev-parse", "--show-prefix"])?;
    let spec = format!("{commit}:{}{path}", prefix.trim_end_matches('\n'));
    git(dir, &["show", &spec])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_line_fields() {
        let c = parse_log_line("abcdef123\0abcdef1\x002026-12-01\0Ada").expect("parsed");
        assert_eq!(c.short, "abcdef1");
        assert_eq!(c.author, "Ada");
        assert!(parse_log_line("").is_none());
        assert!(parse_log_line("abc\0a").is_none());
    }
}
