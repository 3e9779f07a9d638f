//! A log message's shape: the line with what varies between occurrences of
//! the same message masked, so that "timeout after 31 ms (req 9f2a…)" and
//! "timeout after 7 ms (req 11bc…)" count as one message.
//!
//! The rules, in order, per word (a run of letters, digits, `_`, `-`, `.`,
//! `:`): a word of digits (and `.`/`:`, as in times and versions) becomes
//! `<n>`; a word of hex digits with at least one digit and six or more
//! characters (hashes, container ids), or a UUID, becomes `<hex>`; any other
//! word with a digit in it (`req42`, `user-1138`) becomes `<id>`. Words
//! without digits stay. A shape is cut to [`MAX_SHAPE_CHARS`].

use std::sync::LazyLock;

use regex::Regex;

pub const MAX_SHAPE_CHARS: usize = 120;

static WORD: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"[A-Za-z0-9_.:\-]+").ok());

/// The shape of `line`.
pub fn shape(line: &str) -> String {
    let Some(word) = WORD.as_ref() else {
        return line.chars().take(MAX_SHAPE_CHARS).collect();
    };
    let masked = word.replace_all(line.trim(), |caps: &regex::Captures<'_>| {
        mask_word(&caps[0]).to_string()
    });
    masked.chars().take(MAX_SHAPE_CHARS).collect()
}

fn mask_word(word: &str) -> &str {
    if !word.chars().any(|c| c.is_ascii_digit()) {
        return word;
    }
    let core = word.trim_matches(|c: char| ".:-_".contains(c));
    if !core.is_empty()
        && core
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ':')
    {
        return "<n>";
    }
    let hex = core.chars().filter(|c| *c != '-').collect::<String>();
    if hex.len() >= 6 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return "<hex>";
    }
    "<id>"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_ids_and_hex_are_masked_words_kept() {
        assert_eq!(
            shape("ERROR timeout after 31 ms (req req42) container 9f2a3b4c5d6e"),
            "ERROR timeout after <n> ms (req <id>) container <hex>"
        );
        assert_eq!(
            shape("at 12:03:04.123 user 7d9f0c1e-1b2a-4c3d-8e9f-001122334455 failed"),
            "at <n> user <hex> failed"
        );
        assert_eq!(
            shape("GET /api/v2/items/1138 500"),
            "GET /api/<id>/items/<n> <n>"
        );
    }

    #[test]
    fn two_occurrences_of_one_message_share_a_shape() {
        assert_eq!(
            shape("upstream 10.0.0.7:8080 refused (attempt 3)"),
            shape("upstream 10.0.0.9:8080 refused (attempt 11)")
        );
        assert_ne!(shape("disk full"), shape("disk slow"));
    }

    #[test]
    fn shapes_are_bounded() {
        let long = "word ".repeat(100);
        assert_eq!(shape(&long).chars().count(), MAX_SHAPE_CHARS);
    }
}
