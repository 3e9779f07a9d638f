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
    let mut count = 0;
    let text = private_key_block().replace_all(text, |c: &Captures| {
        count += 1;
        format!("[{}private key: {MASK}]", c[1].to_lowercase())
    });
    let text = env_array().replace_all(&text, |c: &Captures| {
        let inner = env_entry().replace_all(&c[1], |e: &Captures| {
            if &e[2] == MASK || e[2].is_empty() {
                return e[0].to_string();
            }
            count += 1;
            format!("\"{}={MASK}\"", &e[1])
        });
        format!("\"Env\": [{inner}]")
    });
    let text = secret_pair().replace_all(&text, |c: &Captures| {
        if &c[2] == MASK {
            return c[0].to_string();
        }
        count += 1;
        format!("{}{MASK}", &c[1])
    });
    let text = token_formats().replace_all(&text, |_: &Captures| {
        count += 1;
        MASK.to_string()
    });
    (text.into_owned(), count)
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
}
