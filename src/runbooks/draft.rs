//! History → runbook: finished actions written as a markdown runbook, one
//! heading per action with its command as a step, so that what was done in
//! an incident becomes a reviewed, versioned runbook without retyping.

/// One action as the draft shows it (the caller masks secrets first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftEntry {
    pub title: String,
    pub reason: String,
    pub command: String,
    pub exit_code: Option<i32>,
    /// What happened when it was not an exit (`timeout`, `rejected`, …).
    pub outcome: Option<String>,
    /// When it ended, as shown (`2026-12-01 03:12 UTC`).
    pub ended: Option<String>,
    pub duration_ms: Option<i64>,
}

/// The fence for `text`: longer than any backtick run inside it.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

/// Heading text on one line (a newline would end the heading).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The markdown of a draft runbook named `title`.
pub fn render(title: &str, host: &str, entries: &[DraftEntry]) -> String {
    let mut out = format!(
        "---\nhosts: [{}]\ntags: [draft]\n---\n# {}\n\nDrafted from the cockpit's History: review, edit and commit.\n",
        serde_json::to_string(host).unwrap_or_default(),
        one_line(title)
    );
    for (i, e) in entries.iter().enumerate() {
        let heading = if e.title.trim().is_empty() {
            format!("Step {}", i + 1)
        } else {
            one_line(&e.title)
        };
        out.push_str(&format!("\n## {}. {heading}\n\n", i + 1));
        if !e.reason.trim().is_empty() {
            out.push_str(&format!("{}\n\n", one_line(&e.reason)));
        }
        let fence = fence_for(&e.command);
        out.push_str(&format!("{fence}sh\n{}\n{fence}\n\n", e.command.trim_end()));
        out.push_str(&format!("> {}\n", outcome_note(e)));
    }
    out
}

fn outcome_note(e: &DraftEntry) -> String {
    let mut parts = Vec::new();
    match (e.exit_code, &e.outcome) {
        (Some(code), _) => parts.push(format!("exit {code}")),
        (None, Some(what)) => parts.push(one_line(what)),
        (None, None) => parts.push("not run".into()),
    }
    if let Some(ended) = &e.ended {
        parts.push(format!("ended {ended}"));
    }
    if let Some(ms) = e.duration_ms {
        parts.push(format!("took {:.1} s", ms as f64 / 1000.0));
    }
    format!("Outcome: {}.", parts.join(", "))
}

/// Drafts tried beside a taken name (`web-2.md` … `web-99.md`) before
/// giving up.
const MAX_SUFFIX: usize = 99;

/// Writes a new draft at `path`, never over an existing file (the operator
/// may have edited it, or it is a committed runbook): when `path` is taken,
/// the first free `NAME-2.md`, `NAME-3.md`, … beside it. Returns the path
/// written. Creating with `create_new` makes the check and the write one
/// step, so a file appearing in between is not overwritten either.
pub fn write_new(path: &std::path::Path, contents: &str) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write;
    for candidate in
        std::iter::once(path.to_path_buf()).chain((2..=MAX_SUFFIX).map(|n| numbered(path, n)))
    {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(mut file) => {
                file.write_all(contents.as_bytes())?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!(
            "{} and {MAX_SUFFIX} numbered names beside it exist",
            path.display()
        ),
    ))
}

/// `dir/name.md` → `dir/name-N.md`.
fn numbered(path: &std::path::Path, n: usize) -> std::path::PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{stem}-{n}.md"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbooks::markdown;

    #[test]
    fn a_draft_never_overwrites_a_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("web-slow.md");
        std::fs::write(&path, "# reviewed by hand\n").expect("w");
        let first = write_new(&path, "# draft one\n").expect("written");
        assert_eq!(first, dir.path().join("web-slow-2.md"));
        let second = write_new(&path, "# draft two\n").expect("written");
        assert_eq!(second, dir.path().join("web-slow-3.md"));
        assert_eq!(
            std::fs::read_to_string(&path).expect("r"),
            "# reviewed by hand\n",
            "the existing file is untouched"
        );
        assert_eq!(std::fs::read_to_string(&first).expect("r"), "# draft one\n");
        let fresh = dir.path().join("new.md");
        assert_eq!(write_new(&fresh, "x").expect("written"), fresh);
        assert!(write_new(&dir.path().join("no/such/dir.md"), "x").is_err());
    }

    #[test]
    fn draft_parses_back_with_the_same_steps() {
        let entries = vec![
            DraftEntry {
                title: "look at the\nlogs".into(),
                reason: "web is slow".into(),
                command: "docker logs --tail 50 web".into(),
                exit_code: Some(0),
                outcome: None,
                ended: Some("2026-12-01 03:12 UTC".into()),
                duration_ms: Some(1200),
            },
            DraftEntry {
                title: "".into(),
                reason: "".into(),
                command: "printf '```\\n'; docker restart web".into(),
                exit_code: None,
                outcome: Some("rejected".into()),
                ended: None,
                duration_ms: None,
            },
        ];
        let text = render("web slow at 3 a.m.", "web", &entries);
        let rb = markdown::parse("drafts/web.md", &text);
        assert_eq!(rb.title, "web slow at 3 a.m.");
        assert_eq!(rb.front.hosts, vec!["web"]);
        let commands: Vec<&str> = rb.steps.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            commands,
            vec![
                "docker logs --tail 50 web",
                "printf '```\\n'; docker restart web"
            ]
        );
        assert!(text.contains("## 1. look at the logs"), "{text}");
        assert!(text.contains("Outcome: exit 0, ended 2026-12-01 03:12 UTC, took 1.2 s."));
        assert!(text.contains("Outcome: rejected."));
    }
}
