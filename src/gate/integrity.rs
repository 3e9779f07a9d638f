//! Is the history intact? One answer for `audit verify` and for the
//! cockpit's check at start: the chain, every row against the chain
//! ([`super::replay`]) and the chain against its anchors ([`super::anchor`]).

use std::path::Path;

use super::GateError;
use super::anchor::{self, Anchor};
use super::audit::{self, ChainBreak, ChainHead};
use super::store::Store;

/// Everything `audit verify` found.
#[derive(Debug, Clone)]
pub struct Report {
    pub chain: Result<ChainHead, ChainBreak>,
    /// `(action id, what)` for every row that is not what the chain says.
    pub tampered: Vec<(String, String)>,
    /// `(where, verdict)` for each anchor compared.
    pub anchors: Vec<(String, Result<(), String>)>,
    /// The first event's hash: names the host's anchor file.
    pub first_hash: Option<String>,
}

impl Report {
    pub fn intact(&self) -> bool {
        self.chain.is_ok()
            && self.tampered.is_empty()
            && self.anchors.iter().all(|(_, r)| r.is_ok())
    }

    /// One line for the header: `None` when intact.
    pub fn summary(&self) -> Option<String> {
        if let Err(brk) = &self.chain {
            return Some(format!("history chain broken at seq {}", brk.seq));
        }
        if let Some((_, Err(e))) = self.anchors.iter().find(|(_, r)| r.is_err()) {
            return Some(format!("history cut or rewritten: {e}"));
        }
        match self.tampered.len() {
            0 => None,
            1 => Some("history: 1 row tampered".into()),
            n => Some(format!("history: {n} rows tampered")),
        }
    }

    /// The report as `audit verify` prints it.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.chain {
            Ok(head) => out.push(format!(
                "ok: {} events, chain intact up to seq {} (head {})",
                head.count, head.last_seq, head.hash
            )),
            Err(brk) => out.push(format!("BROKEN at seq {}: {}", brk.seq, brk.reason)),
        }
        for (id, what) in &self.tampered {
            out.push(format!(
                "TAMPERED action {id}: {}",
                crate::text::inert(what)
            ));
        }
        for (source, verdict) in &self.anchors {
            match verdict {
                Ok(()) => out.push(format!("anchor ok: {source}")),
                Err(e) => out.push(format!("ANCHOR MISMATCH ({source}): {e}")),
            }
        }
        out
    }
}

/// Checks the history in `store` against itself, the local anchor in
/// `data_dir`, and `extra` anchors (`(where, text of an anchor file)`).
pub fn check(
    store: &Store,
    data_dir: &Path,
    extra: &[(String, Option<Anchor>)],
) -> Result<Report, GateError> {
    let events = store.events(None)?;
    let chain = audit::verify(events.iter().cloned());
    let tampered = store.tampering()?;
    let mut anchors = Vec::new();
    let local = anchor::local_path(data_dir);
    match std::fs::read_to_string(&local) {
        Ok(text) => {
            let (newest, bad) = anchor::newest(&text);
            if let Some(a) = newest {
                anchors.push((local.display().to_string(), anchor::check(&a, &events)));
            }
            if bad > 0 {
                anchors.push((
                    local.display().to_string(),
                    Err(format!("{bad} lines are not anchors (file edited?)")),
                ));
            }
        }
        // Never anchored (a history from before anchors, or a new one).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => anchors.push((local.display().to_string(), Err(format!("unreadable: {e}")))),
    }
    for (source, a) in extra {
        // No anchor there is no evidence: a host whose cockpit never ran
        // on this history, or a history from before anchors.
        if let Some(a) = a {
            anchors.push((source.clone(), anchor::check(a, &events)));
        }
    }
    Ok(Report {
        chain,
        tampered,
        anchors,
        first_hash: events.first().map(|e| e.hash.clone()),
    })
}
