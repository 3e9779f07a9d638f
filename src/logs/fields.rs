//! The structured fields of one log line, for the Logs pane's detail: a JSON
//! object (`{"level":"error","msg":…}`, nested keys joined with dots, in key
//! order: serde_json's map is sorted) or logfmt pairs (`level=error
//! msg="upstream timeout" dur=3.2s`, in line order).
//!
//! Lines are already inert (see [`crate::text`]); JSON can still decode
//! escapes (`\u001b`, `\n`) into control characters, so every key and value
//! is made inert again here. A line that is neither gives no fields.

use serde_json::Value;

use crate::text::inert;

/// At most this many fields: a line is a screen's worth, not a database.
pub const MAX_FIELDS: usize = 200;

/// The fields of `text` (JSON: by key; logfmt: as the line has them), or
/// none.
pub fn structured_fields(text: &str) -> Vec<(String, String)> {
    let plain = strip_sgr(text);
    let trimmed = plain.trim();
    if trimmed.starts_with('{')
        && let Ok(Value::Object(object)) = serde_json::from_str::<Value>(trimmed)
    {
        let mut out = Vec::new();
        flatten("", &Value::Object(object), &mut out);
        return out;
    }
    logfmt(trimmed)
}

/// `␛[…m` colour sequences removed (the pane draws them as colours; a key
/// or value is plain text).
fn strip_sgr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("␛[") {
        let after = &rest[at + "␛[".len()..];
        let params_len = after
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(after.len());
        if after[params_len..].starts_with('m') {
            out.push_str(&rest[..at]);
            rest = &after[params_len + 1..];
        } else {
            out.push_str(&rest[..at + "␛[".len()]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    if out.len() >= MAX_FIELDS {
        return;
    }
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, inner) in map {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&name, inner, out);
            }
        }
        Value::String(s) => out.push((inert(prefix), inert(s))),
        other => out.push((inert(prefix), inert(&other.to_string()))),
    }
}

/// `key=value` pairs separated by spaces; a value may be double-quoted with
/// `\"` inside. Words that are not pairs (a message before the pairs) are
/// skipped, so `GET /x 200 dur=3ms` gives `dur`.
fn logfmt(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while out.len() < MAX_FIELDS {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let Some(eq) = rest[..word_end].find('=') else {
            rest = &rest[word_end..];
            continue;
        };
        let key = &rest[..eq];
        if !is_key(key) {
            rest = &rest[word_end..];
            continue;
        }
        let after = &rest[eq + 1..];
        let (value, used) = if let Some(quoted) = after.strip_prefix('"') {
            quoted_value(quoted)
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (after[..end].to_string(), end)
        };
        out.push((inert(key), inert(&value)));
        rest = &after[used..];
    }
    out
}

fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '@' | ':'))
}

/// The text of a quoted value (after its opening quote) and how many bytes
/// of `after` (opening quote included) it took; an unclosed quote runs to
/// the end of the line.
fn quoted_value(quoted: &str) -> (String, usize) {
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (value, i + 2),
            '\\' => match chars.next() {
                Some((_, next)) => value.push(next),
                None => value.push('\\'),
            },
            c => value.push(c),
        }
    }
    (value, quoted.len() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        structured_fields(text)
    }

    fn kv(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn json_objects_flatten_nested_keys_by_key() {
        assert_eq!(
            pairs(
                r#"{"level":"error","msg":"db down","http":{"status":503,"path":"/pay"},"tags":["a","b"],"ok":false}"#
            ),
            kv(&[
                ("http.path", "/pay"),
                ("http.status", "503"),
                ("level", "error"),
                ("msg", "db down"),
                ("ok", "false"),
                ("tags", r#"["a","b"]"#),
            ])
        );
    }

    #[test]
    fn logfmt_pairs_with_quotes_escapes_and_a_leading_message() {
        assert_eq!(
            pairs(
                r#"payment failed level=warn msg="upstream \"pay\" timeout" dur=3.2s user.id=42"#
            ),
            kv(&[
                ("level", "warn"),
                ("msg", r#"upstream "pay" timeout"#),
                ("dur", "3.2s"),
                ("user.id", "42"),
            ])
        );
        assert_eq!(
            pairs(r#"msg="never closed"#),
            kv(&[("msg", "never closed")])
        );
        assert_eq!(pairs("empty= next=1"), kv(&[("empty", ""), ("next", "1")]));
    }

    #[test]
    fn plain_lines_and_broken_json_give_no_fields() {
        assert!(pairs("GET /api/orders?id=4 200 12ms").is_empty());
        assert!(pairs("caddy.service: upstream healthy").is_empty());
        assert!(pairs("").is_empty());
        // Not JSON after all: read as logfmt (here: no pairs).
        assert!(pairs(r#"{"level":"error", oops"#).is_empty());
        assert!(pairs("[1,2,3]").is_empty());
    }

    #[test]
    fn decoded_escapes_stay_inert_and_colours_are_dropped() {
        let fields = pairs(r#"{"msg":"\u001b]52;c;ZXZpbA==\u0007\nnext","k\u001b[2J":"v"}"#);
        assert_eq!(fields[0], ("k␛[2J".into(), "v".into()));
        assert_eq!(fields[1], ("msg".into(), "␛]52;c;ZXZpbA==␇␊next".into()));
        assert!(
            fields
                .iter()
                .all(|(k, v)| !k.contains('\x1b') && !v.contains('\x1b'))
        );
        // An inert line whose pairs are coloured: the colours go, the pair stays.
        assert_eq!(pairs("␛[32mlevel␛[0m=info"), kv(&[("level", "info")]));
    }

    #[test]
    fn a_huge_line_keeps_at_most_max_fields() {
        let line: String = (0..1000).map(|i| format!("k{i}={i} ")).collect();
        assert_eq!(pairs(&line).len(), MAX_FIELDS);
    }
}
