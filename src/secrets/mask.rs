//! Masks secret values in text that leaves the host: the output of gated
//! actions before it is returned to the proposer, stored in the history or
//! shown. What is masked: values of `KEY=VALUE` / `KEY: VALUE` / `"KEY":
//! "VALUE"` pairs whose key looks secret, every value of a container's
//! `Env` array, private key blocks, and well-known token formats. Each
//! masked value is replaced by `***` and counted.

use std::sync::OnceLock;

use regex::{Captures, Regex};

pub const MASK: &str = "***";

/// Key names that mark a value as secret (case-insensitive, anywhere in
/// the key).
const SECRET_KEY_WORDS: &str =
    "TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH";

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| {
        Regex::new(pattern).unwrap_or_else(|e| panic!("mask pattern {pattern}: {e}"))
    })
}

fn private_key_block() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    regex(
        &CELL,
        r"(?s)-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
    )
}

fn env_array() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    regex(&CELL, r#"(?s)"Env"\s*:\s*\[(.*?)\]"#)
}

fn env_entry() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    regex(&CELL, r#""([A-Za-z_][A-Za-z0-9_]*)=((?:[^"\\]|\\.)*)""#)
}

fn secret_pair() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    regex(
        &CELL,
        &format!(
            r#"(?i)(\b[A-Za-z0-9_.-]*(?:{SECRET_KEY_WORDS})[A-Za-z0-9_.-]*"?\s*(?:=|:)\s*"?)([^\s"',;]+)"#
        ),
    )
}

fn token_formats() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    regex(
        &CELL,
        concat!(
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
            r"|\bgh[pousr]_[A-Za-z0-9]{30,}\b",
            r"|\bgithub_pat_[A-Za-z0-9_]{30,}\b",
            r"|\bglpat-[A-Za-z0-9_-]{20,}\b",
            r"|\bxox[abprs]-[A-Za-z0-9-]{10,}\b",
            r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b",
            r"|\bsk-[A-Za-z0-9_-]{20,}\b",
        ),
    )
}

/// `text` with every secret value replaced by [`MASK`], and how many.
pub fn mask(text: &str) -> (String, usize) {
    let (masked, values) = mask_keeping(text);
    (masked, values.len())
}

/// Marks a value while the passes run: private-use characters that no pass
/// matches as part of a secret, so nothing is masked twice.
const MARK_START: char = '\u{E000}';
const MARK_END: char = '\u{E001}';

fn marker(values: &mut Vec<String>, value: &str) -> String {
    values.push(value.to_string());
    format!("{MARK_START}{}{MARK_END}", values.len() - 1)
}

fn is_marker(text: &str) -> bool {
    text.starts_with(MARK_START)
}

/// Like [`mask`], and the masked values in the order their [`MASK`]s
/// appear in the result: the operator may reveal them one at a time on
/// screen. They must never go to the proposer, a log or the store.
pub fn mask_keeping(text: &str) -> (String, SecretValues) {
    // Text that already holds the marker characters cannot confuse the
    // bookkeeping below.
    let text = text.replace([MARK_START, MARK_END], "\u{FFFD}");
    let mut found: Vec<String> = Vec::new();
    let text = private_key_block().replace_all(&text, |c: &Captures| {
        format!(
            "[{}private key: {}]",
            c[1].to_lowercase(),
            marker(&mut found, &c[0])
        )
    });
    let text = env_array().replace_all(&text, |c: &Captures| {
        let inner = env_entry().replace_all(&c[1], |e: &Captures| {
            if &e[2] == MASK || e[2].is_empty() || is_marker(&e[2]) {
                return e[0].to_string();
            }
            format!("\"{}={}\"", &e[1], marker(&mut found, &e[2]))
        });
        format!("\"Env\": [{inner}]")
    });
    let text = secret_pair().replace_all(&text, |c: &Captures| {
        if &c[2] == MASK || is_marker(&c[2]) {
            return c[0].to_string();
        }
        format!("{}{}", &c[1], marker(&mut found, &c[2]))
    });
    let text = token_formats().replace_all(&text, |c: &Captures| marker(&mut found, &c[0]));
    // Markers to MASK, collecting their values in reading order.
    let mut out = String::with_capacity(text.len());
    let mut ordered = Vec::with_capacity(found.len());
    let mut rest: &str = &text;
    while let Some(start) = rest.find(MARK_START) {
        out.push_str(&rest[..start]);
        let after = &rest[start + MARK_START.len_utf8()..];
        let Some(end) = after.find(MARK_END) else {
            rest = after;
            break;
        };
        if let Some(value) = after[..end]
            .parse::<usize>()
            .ok()
            .and_then(|i| found.get(i))
        {
            ordered.push(value.clone());
        }
        out.push_str(MASK);
        rest = &after[end + MARK_END.len_utf8()..];
    }
    out.push_str(rest);
    (out, SecretValues(ordered))
}

/// Masked values, kept for revealing on screen. Never printed by `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretValues(pub Vec<String>);

impl SecretValues {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&str> {
        self.0.get(i).map(String::as_str)
    }

    /// Both streams' values, stdout's first (the order they are shown).
    pub fn chain(mut self, other: SecretValues) -> SecretValues {
        self.0.extend(other.0);
        self
    }
}

impl std::fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretValues({} values)", self.0.len())
    }
}

/// `masked` with its `n`-th [`MASK`] replaced by `value`.
pub fn reveal_nth(masked: &str, n: usize, value: &str) -> String {
    let mut out = String::with_capacity(masked.len() + value.len());
    let mut rest = masked;
    let mut seen = 0;
    while let Some(at) = rest.find(MASK) {
        out.push_str(&rest[..at]);
        out.push_str(if seen == n { value } else { MASK });
        seen += 1;
        rest = &rest[at + MASK.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_pairs_env_arrays_keys_and_tokens_are_masked() {
        let text = concat!(
            "API_TOKEN=abc123 HOME=/root\n",
            "db_password: s3cr3t\n",
            "{\"client_secret\": \"zzz\", \"user\": \"me\"}\n",
            "\"Env\": [\"PATH=/usr/bin\", \"SESSION=opaque\"]\n",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA\n-----END OPENSSH PRIVATE KEY-----\n",
            "aws AKIAABCDEFGHIJKLMNOP gh ghp_0123456789abcdefghijklmnopqrstuvwxyz01\n",
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlaGVyZQ\n",
        );
        let (masked, count) = mask(text);
        for secret in [
            "abc123",
            "s3cr3t",
            "zzz",
            "opaque",
            "/usr/bin",
            "b3BlbnNzaA",
            "AKIAABCDEFGHIJKLMNOP",
            "ghp_0123",
            "eyJhbGci",
        ] {
            assert!(!masked.contains(secret), "{secret} leaked:\n{masked}");
        }
        assert!(
            masked.contains("HOME=/root") && masked.contains("\"user\": \"me\""),
            "{masked}"
        );
        assert!(count >= 9, "{count}: {masked}");
        assert_eq!(mask(&masked).1, 0, "masking twice changes nothing");
    }

    #[test]
    fn ordinary_output_is_left_alone() {
        let text = "Filesystem Size Used\n/dev/vda1 40G 12G\nkeyboard layout: us\n";
        assert_eq!(mask(text), (text.to_string(), 0));
    }

    #[test]
    fn kept_values_follow_the_masks_in_reading_order() {
        let text = "b: \"Env\": [\"SESSION=opaque\"]\nAPI_TOKEN=abc123 then ghp_0123456789abcdefghijklmnopqrstuvwxyz01\n";
        let (masked, values) = mask_keeping(text);
        assert_eq!(masked.matches(MASK).count(), values.len());
        assert_eq!(
            values.0,
            [
                "opaque",
                "abc123",
                "ghp_0123456789abcdefghijklmnopqrstuvwxyz01"
            ]
        );
        assert_eq!(format!("{values:?}"), "SecretValues(3 values)");
        let shown = reveal_nth(&masked, 1, values.get(1).unwrap_or(""));
        assert!(
            shown.contains("API_TOKEN=abc123") && !shown.contains("opaque"),
            "{shown}"
        );
        // Marker characters in the input change nothing.
        let (masked, values) = mask_keeping("x\u{E000}0\u{E001} PASSWORD=p");
        assert_eq!(values.0, ["p"]);
        assert!(!masked.contains('\u{E000}'));
    }
}
