//! OpenSSH host patterns: `*` and `?` wildcards, comma-separated lists
//! and `!` negation, as used by `Host` lines and known_hosts entries.

/// Whether `text` matches the glob `pattern` (`*` any run, `?` one char).
/// Case-insensitive, like OpenSSH's host matching.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Iterative matcher with one backtrack point for the last `*`.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Outcome of matching a pattern list, as OpenSSH's `match_pattern_list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMatch {
    NoMatch,
    Match,
    /// A `!pattern` matched: the list rejects the name whatever else matches.
    Negated,
}

/// Matches `name` against patterns (already split). A negated pattern that
/// matches wins over any positive one.
pub fn match_list<'a>(patterns: impl IntoIterator<Item = &'a str>, name: &str) -> ListMatch {
    let mut result = ListMatch::NoMatch;
    for pattern in patterns {
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob_match(negated, name) {
                return ListMatch::Negated;
            }
        } else if glob_match(pattern, name) {
            result = ListMatch::Match;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("*.example.com", "a.b.example.com"));
        assert!(!glob_match("*.example.com", "example.com"));
        assert!(glob_match("web?", "web1"));
        assert!(!glob_match("web?", "web12"));
        assert!(glob_match("WEB*", "web-1"));
        assert!(glob_match("a*b*c", "aXbYbZc"));
        assert!(!glob_match("a*b*c", "aXbYbZ"));
        assert!(glob_match("[10.0.0.1]:22?2", "[10.0.0.1]:2222"));
        assert!(!glob_match("", "x"));
        assert!(glob_match("", ""));
    }

    #[test]
    fn lists_with_negation() {
        assert_eq!(
            match_list(["*.lan", "!bad.lan"], "ok.lan"),
            ListMatch::Match
        );
        assert_eq!(
            match_list(["*.lan", "!bad.lan"], "bad.lan"),
            ListMatch::Negated
        );
        assert_eq!(match_list(["!bad.lan"], "ok.lan"), ListMatch::NoMatch);
        assert_eq!(match_list(["a", "b"], "c"), ListMatch::NoMatch);
    }
}
