//! Making untrusted text safe to draw.
//!
//! Everything that comes from outside (log lines, container names, agent
//! proposals) passes through [`inert`] before it reaches a widget: control
//! characters and escape sequences are replaced by visible stand-ins so that a
//! hostile line can never move the cursor, retitle the window or write to the
//! clipboard. The result is what the user sees, and also what `:save` writes.

/// Longest line (in bytes of input) that is rendered in full; longer lines are
/// cut with a marker saying how much was left out.
pub const MAX_DISPLAY_BYTES: usize = 16 * 1024;

const TAB_WIDTH: usize = 4;

/// Turns raw bytes into a printable single-line string: invalid UTF-8 becomes
/// U+FFFD, control characters become their Unicode "control picture"
/// (`␛` for ESC, `␇` for BEL, …), C1 controls become `\u{85}`-style text,
/// tabs expand to spaces and overlong input is cut with a marker.
pub fn inert_bytes(raw: &[u8]) -> String {
    let (head, cut) = if raw.len() > MAX_DISPLAY_BYTES {
        (&raw[..MAX_DISPLAY_BYTES], raw.len() - MAX_DISPLAY_BYTES)
    } else {
        (raw, 0)
    };
    if cut == 0
        && head.iter().all(|b| (b' '..=b'~').contains(b))
        && let Ok(ascii) = std::str::from_utf8(head)
    {
        // Printable ASCII is already inert: one copy, no char-by-char walk
        // (most log lines, and every line of a storm); `from_utf8` of ASCII
        // is a fast check, where the lossy decoder walked it in chunks.
        return ascii.to_owned();
    }
    let mut out = inert(&String::from_utf8_lossy(head));
    if cut > 0 {
        out.push_str(&format!(" …[{cut} more bytes cut]"));
    }
    out
}

/// Like [`inert_bytes`] for text that is already a `str`.
pub fn inert(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut column = 0usize;
    for ch in text.chars() {
        match ch {
            '\t' => {
                let pad = TAB_WIDTH - column % TAB_WIDTH;
                out.extend(std::iter::repeat_n(' ', pad));
                column += pad;
            }
            c if (c as u32) < 0x20 => {
                // U+2400 + code is the "control picture" for C0 controls.
                out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{FFFD}'));
                column += 1;
            }
            '\u{7f}' => {
                out.push('␡');
                column += 1;
            }
            c if ('\u{80}'..='\u{9f}').contains(&c) => {
                let shown = format!("\\u{{{:x}}}", c as u32);
                column += shown.len();
                out.push_str(&shown);
            }
            // Bidirectional overrides and zero-width formatting characters can
            // make a command look different from what runs: show them too.
            c if is_invisible_format(c) => {
                let shown = format!("<U+{:04X}>", c as u32);
                column += shown.len();
                out.push_str(&shown);
            }
            c => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
    )
}

/// Multi-line variant: keeps line breaks (each line made inert on its own).
/// Used for command text in the gate's detail view, where the operator must
/// see every line of what will run.
pub fn inert_multiline(text: &str) -> Vec<String> {
    text.split('\n')
        .map(|line| inert(line.strip_suffix('\r').unwrap_or(line)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_become_visible() {
        let hostile = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07ok";
        let shown = inert(hostile);
        assert!(!shown.contains('\x1b'));
        assert!(!shown.contains('\x07'));
        assert_eq!(shown, "␛[2J␛]0;pwned␇␛]52;c;ZXZpbA==␇ok");
    }

    #[test]
    fn c1_controls_and_del_are_shown() {
        assert_eq!(inert("a\u{9b}31mb\u{7f}"), "a\\u{9b}31mb␡");
    }

    #[test]
    fn tabs_expand_to_the_next_stop() {
        assert_eq!(inert("ab\tc"), "ab  c");
        assert_eq!(inert("\tx"), "    x");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(inert_bytes(b"a\xffb"), "a\u{FFFD}b");
    }

    #[test]
    fn long_lines_are_cut_with_marker() {
        let line = vec![b'x'; 1024 * 1024];
        let shown = inert_bytes(&line);
        assert!(shown.len() < MAX_DISPLAY_BYTES + 64);
        assert!(shown.ends_with(&format!(
            "[{} more bytes cut]",
            1024 * 1024 - MAX_DISPLAY_BYTES
        )));
    }

    #[test]
    fn bidi_overrides_are_shown() {
        assert_eq!(inert("rm \u{202e}fdsa"), "rm <U+202E>fdsa");
    }

    #[test]
    fn multiline_keeps_lines() {
        assert_eq!(inert_multiline("a\r\nb\x1b"), vec!["a", "b␛"]);
    }
}
