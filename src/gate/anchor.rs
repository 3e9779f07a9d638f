//! The chain's head, kept outside the database.
//!
//! A hash chain cannot see its own tail cut off: delete the newest events
//! and what is left still verifies. So after every change the cockpit
//! writes the head (`seq hash ts_ms`) to two places the database does not
//! control:
//! - `anchor.log` in the data dir, which `audit verify` reads;
//! - a file on the host, appended over the cockpit's own session
//!   (`~/.opscockpit/anchors/CHAIN.log`), out of reach of an agent on the
//!   operator's machine that has no SSH credentials (`opscockpit agent`).
//!
//! `CHAIN` is the first event's hash: one file per history database, so
//! two databases anchoring on one host (tests, two operators) never mix.
//! The head is compared with the chain at start and by `audit verify`: an
//! anchored seq beyond the database's end is a cut tail, a different hash
//! at an anchored seq is a rewritten chain.

use std::io::Write;
use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use super::audit::AuditEvent;
use super::core::Gate;
use crate::transport::{ExecOptions, SharedTransport};

/// One anchored head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
    pub ts_ms: i64,
}

impl Anchor {
    pub fn line(&self) -> String {
        format!("{} {} {}\n", self.seq, self.hash, self.ts_ms)
    }
}

/// The local anchor file of the history in `data_dir`.
pub fn local_path(data_dir: &Path) -> PathBuf {
    data_dir.join("anchor.log")
}

/// Where on the host the anchor of the chain starting with `first_hash`
/// lives (relative to the login directory).
pub fn remote_path(first_hash: &str) -> String {
    let id: String = first_hash
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(16)
        .collect();
    format!(".opscockpit/anchors/{id}.log")
}

/// The newest head in an anchor file (the highest seq: several cockpits may
/// append to one), and how many lines did not parse.
pub fn newest(text: &str) -> (Option<Anchor>, usize) {
    let mut best: Option<Anchor> = None;
    let mut bad = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match parse_line(line) {
            Some(a) if best.as_ref().is_none_or(|b| a.seq > b.seq) => best = Some(a),
            Some(_) => {}
            None => bad += 1,
        }
    }
    (best, bad)
}

fn parse_line(line: &str) -> Option<Anchor> {
    let mut parts = line.split_whitespace();
    let seq = parts.next()?.parse().ok()?;
    let hash = parts.next()?;
    let ts_ms = parts.next()?.parse().ok()?;
    (hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit())).then(|| Anchor {
        seq,
        hash: hash.to_string(),
        ts_ms,
    })
}

/// Whether the chain (all events, in seq order) still holds what `anchor`
/// recorded.
pub fn check(anchor: &Anchor, events: &[AuditEvent]) -> Result<(), String> {
    let when = chrono::DateTime::from_timestamp_millis(anchor.ts_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "?".into());
    let last = events.last().map_or(0, |e| e.seq);
    if anchor.seq > last {
        return Err(format!(
            "the database ends at seq {last}, but seq {} was anchored at {when}: the newest {} events were deleted",
            anchor.seq,
            anchor.seq - last
        ));
    }
    match events.iter().find(|e| e.seq == anchor.seq) {
        Some(e) if e.hash == anchor.hash => Ok(()),
        Some(_) => Err(format!(
            "seq {} does not have the hash anchored at {when}: the chain was rewritten",
            anchor.seq
        )),
        None => Err(format!("seq {} is missing from the chain", anchor.seq)),
    }
}

/// Appends `anchor` to the local file.
pub fn append_local(data_dir: &Path, anchor: &Anchor) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(local_path(data_dir))?;
    file.write_all(anchor.line().as_bytes())
}

/// The shell command that appends `anchor` on the host. Every part is
/// digits or hex, so nothing in it needs quoting.
pub fn remote_append_command(first_hash: &str, anchor: &Anchor) -> String {
    let path = remote_path(first_hash);
    // `$HOME`, not the working directory: the local transport runs
    // commands where the cockpit was started.
    format!(
        "umask 077 && mkdir -p \"$HOME/.opscockpit/anchors\" && printf '%s\\n' '{}' >> \"$HOME/{path}\"",
        anchor.line().trim_end()
    )
}

/// Reads the host's anchor file of the chain (`None`: there is none yet).
pub async fn read_remote(
    transport: &SharedTransport,
    first_hash: &str,
) -> Result<Option<Anchor>, String> {
    let path = remote_path(first_hash);
    let handle = transport
        .exec(
            &format!("tail -n 50 \"$HOME/{path}\" 2>/dev/null || true"),
            ExecOptions::default(),
        )
        .await
        .map_err(|e| format!("reading the host's anchor: {e}"))?;
    let (stdout, _, _) = handle.collect(64 * 1024).await;
    Ok(newest(&String::from_utf8_lossy(&stdout)).0)
}

/// Anchors the head after every change until `cancel`. Changes that come
/// while a write is under way are folded into the next one.
pub async fn run(gate: Gate, cancel: CancellationToken) {
    let mut changes = gate.watch_changes();
    let mut last: Option<i64> = None;
    loop {
        if let Err(e) = anchor_once(&gate, &mut last).await {
            tracing::warn!("anchoring the history's head: {e}");
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
    }
}

async fn anchor_once(gate: &Gate, last: &mut Option<i64>) -> Result<(), String> {
    let Some((head, first)) = gate.head_and_first().map_err(|e| e.message)? else {
        return Ok(());
    };
    if *last == Some(head.seq) {
        return Ok(());
    }
    append_local(gate.data_dir(), &head).map_err(|e| format!("local anchor: {e}"))?;
    let handle = gate
        .transport()
        .exec(
            &remote_append_command(&first, &head),
            ExecOptions::default(),
        )
        .await
        .map_err(|e| format!("host anchor: {e}"))?;
    let (_, stderr, status) = handle.collect(4096).await;
    if !matches!(status, crate::transport::ExitStatus::Code(0)) {
        return Err(format!(
            "host anchor: {}",
            crate::text::inert(String::from_utf8_lossy(&stderr).trim())
        ));
    }
    *last = Some(head.seq);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(n: i64) -> Vec<AuditEvent> {
        (1..=n)
            .map(|seq| AuditEvent {
                seq,
                ts_ms: 0,
                action_id: "a".into(),
                host: "h".into(),
                kind: "proposed".into(),
                actor: "x".into(),
                data: "{}".into(),
                prev_hash: String::new(),
                hash: format!("{seq:064x}"),
            })
            .collect()
    }

    fn anchor(seq: i64) -> Anchor {
        Anchor {
            seq,
            hash: format!("{seq:064x}"),
            ts_ms: 1_800_000_000_000,
        }
    }

    #[test]
    fn a_head_still_in_the_chain_holds() {
        assert_eq!(check(&anchor(5), &events(7)), Ok(()));
        assert_eq!(check(&anchor(7), &events(7)), Ok(()));
    }

    #[test]
    fn a_cut_tail_is_reported_with_how_much() {
        let err = check(&anchor(9), &events(7)).expect_err("cut");
        assert!(
            err.contains("ends at seq 7") && err.contains("newest 2 events"),
            "{err}"
        );
        assert!(check(&anchor(1), &[]).is_err());
    }

    #[test]
    fn a_rewritten_chain_is_reported() {
        let mut rewritten = events(7);
        rewritten[4].hash = "f".repeat(64);
        let err = check(&anchor(5), &rewritten).expect_err("rewritten");
        assert!(err.contains("rewritten"), "{err}");
    }

    #[test]
    fn newest_takes_the_highest_seq_and_counts_garbage() {
        let text = format!(
            "{}garbage line\n{}{}",
            anchor(3).line(),
            anchor(9).line(),
            anchor(4).line()
        );
        let (best, bad) = newest(&text);
        assert_eq!(best, Some(anchor(9)));
        assert_eq!(bad, 1);
        assert_eq!(newest("").0, None);
    }

    #[test]
    fn the_remote_command_carries_only_digits_and_hex() {
        let cmd = remote_append_command(&"ab".repeat(32), &anchor(12));
        assert!(
            cmd.ends_with(">> \"$HOME/.opscockpit/anchors/abababababababab.log\""),
            "{cmd}"
        );
        let line = anchor(12).line();
        assert!(cmd.contains(line.trim_end()));
        assert_eq!(remote_path("../../etc/x;rm"), ".opscockpit/anchors/ec.log");
    }
}
