//! A runbook's markdown: front matter (YAML between `---` lines or TOML
//! between `+++` lines), the title (first heading), and the steps (fenced
//! `sh`/`bash`/`shell`/`console` blocks), read with pulldown-cmark.

use std::sync::LazyLock;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use regex::Regex;
use serde::Deserialize;

use super::Runbook;

/// What a runbook's front matter may say. Unknown keys are allowed: a repo's
/// runbooks carry their own metadata too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct FrontMatter {
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub severity: Option<String>,
}

/// One step: a shell block, numbered from 1 in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub number: usize,
    /// The fence's language (`sh`, `bash`, `shell`, `console`).
    pub lang: String,
    /// The command text (for `console`: only the prompt lines, prompt cut).
    pub text: String,
}

impl Step {
    /// Placeholders in the order they first appear, each once.
    pub fn placeholders(&self) -> Vec<String> {
        placeholders(&self.text)
    }
}

const STEP_LANGS: [&str; 4] = ["sh", "bash", "shell", "console"];

/// `<container>` or `${SERVICE}`: what the operator fills in before proposing.
static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<([A-Za-z][A-Za-z0-9_-]*)>|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
        .unwrap_or_else(|_| unreachable!("the placeholder pattern is a constant"))
});

/// Parses one file's text; git metadata is filled in by the caller.
pub fn parse(path: &str, text: &str) -> Runbook {
    let (front_text, body) = split_front_matter(text);
    let (front, front_error) = match front_text {
        Some((FrontKind::Yaml, raw)) => match serde_norway::from_str::<FrontMatter>(raw) {
            Ok(f) => (f, None),
            Err(e) => (FrontMatter::default(), Some(format!("front matter: {e}"))),
        },
        Some((FrontKind::Toml, raw)) => match toml::from_str::<FrontMatter>(raw) {
            Ok(f) => (f, None),
            Err(e) => (
                FrontMatter::default(),
                Some(format!("front matter: {}", e.message())),
            ),
        },
        None => (FrontMatter::default(), None),
    };
    let title = first_heading(body).unwrap_or_else(|| file_stem(path));
    Runbook {
        path: path.to_string(),
        title,
        front,
        body: body.to_string(),
        steps: steps(body),
        last_commit: None,
        modified: false,
        front_error,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrontKind {
    Yaml,
    Toml,
}

/// Splits `---\n…\n---` (YAML) or `+++\n…\n+++` (TOML) off the start.
fn split_front_matter(text: &str) -> (Option<(FrontKind, &str)>, &str) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (fence, kind) in [("---", FrontKind::Yaml), ("+++", FrontKind::Toml)] {
        let Some(rest) = text
            .strip_prefix(fence)
            .and_then(|r| r.strip_prefix("\r\n").or_else(|| r.strip_prefix('\n')))
        else {
            continue;
        };
        let mut offset = 0;
        for line in rest.split_inclusive('\n') {
            if line.trim_end() == fence {
                return (Some((kind, &rest[..offset])), &rest[offset + line.len()..]);
            }
            offset += line.len();
        }
    }
    (None, text)
}

fn file_stem(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(".md").unwrap_or(name).to_string()
}

fn parser(body: &str) -> Parser<'_> {
    Parser::new_ext(body, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH)
}

fn first_heading(body: &str) -> Option<String> {
    let mut inside = false;
    let mut title = String::new();
    for event in parser(body) {
        match event {
            Event::Start(Tag::Heading { .. }) => inside = true,
            Event::End(TagEnd::Heading(_)) if inside => {
                return Some(title.trim().to_string()).filter(|t| !t.is_empty());
            }
            Event::Text(t) | Event::Code(t) if inside => title.push_str(&t),
            _ => {}
        }
    }
    None
}

/// The fence language of a code block that is a step, if it is one.
fn step_lang(kind: &CodeBlockKind<'_>) -> Option<String> {
    let CodeBlockKind::Fenced(info) = kind else {
        return None;
    };
    let lang = info.split_whitespace().next().unwrap_or("").to_lowercase();
    STEP_LANGS.contains(&lang.as_str()).then_some(lang)
}

/// Every step, numbered in file order.
pub fn steps(body: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut current: Option<(String, String)> = None;
    for event in parser(body) {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                current = step_lang(&kind).map(|lang| (lang, String::new()));
            }
            Event::Text(t) => {
                if let Some((_, text)) = current.as_mut() {
                    text.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((lang, raw)) = current.take() {
                    let text = if lang == "console" {
                        console_commands(&raw)
                    } else {
                        raw.trim_end_matches('\n').to_string()
                    };
                    if !text.trim().is_empty() {
                        steps.push(Step {
                            number: steps.len() + 1,
                            lang,
                            text,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    steps
}

/// In a `console` block only the prompt lines are commands (output is not).
fn console_commands(raw: &str) -> String {
    raw.lines()
        .filter_map(|l| l.strip_prefix("$ ").or_else(|| l.strip_prefix("# ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Placeholder names in order of first appearance, each once.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for caps in PLACEHOLDER.captures_iter(text) {
        let name = caps
            .get(1)
            .or_else(|| caps.get(2))
            .map(|m| m.as_str().to_string())
            .unwrap_or_default();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// `value` as one shell word: left bare when it holds only characters no
/// shell treats specially (`web-1`, `/srv/app`, `v1.2`), else in single
/// quotes with each `'` written `'\''`. A value such as `x; rm -rf /` stays
/// one argument instead of becoming a second command.
pub fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+,".contains(c));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// The step with every placeholder replaced by its value quoted for the
/// shell ([`shell_quote`]): what is proposed and shown in the popup.
pub fn fill_quoted(text: &str, names: &[String], values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| shell_quote(v)).collect();
    fill(text, names, &quoted)
}

/// The text with every placeholder replaced by its value (`values` in the
/// order of [`placeholders`]), as given; a placeholder without a value
/// stays.
pub fn fill(text: &str, names: &[String], values: &[String]) -> String {
    PLACEHOLDER
        .replace_all(text, |caps: &regex::Captures<'_>| {
            let name = caps.get(1).or_else(|| caps.get(2)).map(|m| m.as_str());
            names
                .iter()
                .position(|n| Some(n.as_str()) == name)
                .and_then(|i| values.get(i))
                .cloned()
                .unwrap_or_else(|| caps[0].to_string())
        })
        .into_owned()
}

/// Whether `command` is `step` with each placeholder filled in by some
/// non-empty value (the same value wherever the same name appears is not
/// required: the operator saw the filled command in the popup).
pub fn matches_step(step: &str, command: &str) -> bool {
    let mut pattern = String::from("(?s)^");
    let mut last = 0;
    for m in PLACEHOLDER.find_iter(step) {
        pattern.push_str(&regex::escape(&step[last..m.start()]));
        pattern.push_str(".+?");
        last = m.end();
    }
    pattern.push_str(&regex::escape(&step[last..]));
    pattern.push('$');
    Regex::new(&pattern).is_ok_and(|re| re.is_match(command.trim_end()))
}

/// A line diff of the step's text against the command: `- ` lines only in
/// the runbook, `+ ` lines only in the command, `  ` lines in both.
pub fn line_diff(expected: &str, command: &str) -> Vec<String> {
    let old: Vec<&str> = expected.lines().collect();
    let new: Vec<&str> = command.lines().collect();
    // Longest common subsequence table: runbook steps are short.
    let mut lcs = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            out.push(format!("  {}", old[i]));
            i += 1;
            j += 1;
        } else if j < new.len() && (i == old.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("+ {}", new[j]));
            j += 1;
        } else {
            out.push(format!("- {}", old[i]));
            i += 1;
        }
    }
    out
}

/// The body with a `▶ step N` line before each step's fence, so the reader
/// shows the numbers `p` and `P` act on; the selected step is marked.
pub fn annotate_steps(body: &str, selected: usize) -> String {
    let mut out = String::with_capacity(body.len() + 64);
    let mut copied = 0;
    let mut number = 0;
    for (event, range) in parser(body).into_offset_iter() {
        let Event::Start(Tag::CodeBlock(kind)) = event else {
            continue;
        };
        if step_lang(&kind).is_none() {
            continue;
        }
        number += 1;
        // A fence may be indented (in a list): the label goes at the line start.
        let line_start = body[..range.start].rfind('\n').map_or(0, |i| i + 1);
        if line_start < copied {
            continue;
        }
        out.push_str(&body[copied..line_start]);
        let marker = if number == selected {
            "◀ selected (p proposes, P runs the rest)"
        } else {
            ""
        };
        out.push_str(&format!("\n**▶ step {number}** {marker}\n\n"));
        copied = line_start;
    }
    out.push_str(&body[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESTART: &str = "---\nhosts: [web, db]\ntags: [docker, restart]\nseverity: high\n---\n# Restart a container\n\nCheck first:\n\n```console\n$ docker ps --filter name=<container>\nCONTAINER ID   IMAGE\n# docker logs --tail 20 <container>\n```\n\nThen:\n\n```sh\ndocker restart <container> && echo ${SERVICE}\n```\n\n```python\nprint('not a step')\n```\n";

    #[test]
    fn yaml_front_matter_title_and_steps() {
        let rb = parse("ops/restart.md", RESTART);
        assert_eq!(rb.front.hosts, vec!["web", "db"]);
        assert_eq!(rb.front.tags, vec!["docker", "restart"]);
        assert_eq!(rb.front.severity.as_deref(), Some("high"));
        assert_eq!(rb.title, "Restart a container");
        assert_eq!(rb.steps.len(), 2, "{:?}", rb.steps);
        assert_eq!(
            rb.steps[0].text,
            "docker ps --filter name=<container>\ndocker logs --tail 20 <container>"
        );
        assert_eq!(rb.steps[1].number, 2);
        assert_eq!(
            rb.steps[1].placeholders(),
            vec!["container".to_string(), "SERVICE".to_string()]
        );
        assert!(rb.applies_to("web") && !rb.applies_to("mail"));
    }

    #[test]
    fn toml_front_matter_and_no_heading() {
        let rb = parse(
            "deploy.md",
            "+++\ntags = [\"deploy\"]\nowner = \"ops\"\n+++\nno heading\n\n```bash\nmake deploy\n```\n",
        );
        assert_eq!(rb.front.tags, vec!["deploy"]);
        assert!(rb.front_error.is_none());
        assert_eq!(rb.title, "deploy");
        assert_eq!(rb.steps[0].text, "make deploy");
        assert!(rb.applies_to("anything"));
    }

    #[test]
    fn garbage_front_matter_is_reported_not_fatal() {
        let rb = parse("x.md", "---\nhosts: [unclosed\n---\n# X\n");
        assert!(rb.front_error.is_some());
        assert_eq!(rb.title, "X");
        let rb = parse("y.md", "---\nno closing fence\n# Y\n");
        assert!(rb.front_error.is_none(), "no front matter at all");
    }

    #[test]
    fn placeholders_fill_in_and_unknown_ones_stay() {
        let text = "docker restart <container>; systemctl status ${SERVICE} <container>";
        let names = placeholders(text);
        let filled = fill(text, &names, &["web-1".into()]);
        assert_eq!(
            filled,
            "docker restart web-1; systemctl status ${SERVICE} web-1"
        );
    }

    #[test]
    fn filled_values_stay_one_shell_word() {
        let text = "docker restart <container> && echo ${SERVICE}";
        let names = placeholders(text);
        let filled = fill_quoted(text, &names, &["x; rm -rf /".into(), "it's".into()]);
        assert_eq!(filled, "docker restart 'x; rm -rf /' && echo 'it'\\''s'");
        // What sh makes of it: the value is one argument, nothing else runs.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(fill_quoted(
                "printf '[%s]' <v>",
                &["v".into()],
                &["a b; echo INJECTED $(id) `id` \"q\"".into()],
            ))
            .output()
            .expect("sh runs");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "[a b; echo INJECTED $(id) `id` \"q\"]"
        );
        assert_eq!(
            fill_quoted(text, &names, &["web-1".into(), "api".into()]),
            "docker restart web-1 && echo api",
            "plain values are left bare"
        );
        assert_eq!(shell_quote(""), "''");
        assert!(
            matches_step(text, &filled),
            "a quoted value still matches its step"
        );
    }

    #[test]
    fn commands_match_steps_with_placeholders_filled() {
        let step = "docker restart <container> && echo ${SERVICE}";
        assert!(matches_step(step, "docker restart web-1 && echo api"));
        assert!(!matches_step(step, "docker rm -f web-1 && echo api"));
        assert!(
            !matches_step(step, "docker restart  && echo api"),
            "empty value"
        );
        assert!(!matches_step("ls", "ls; rm -rf /"));
        assert!(
            matches_step("a.b", "a.b") && !matches_step("a.b", "axb"),
            "literal dots"
        );
    }

    #[test]
    fn diff_marks_changed_lines() {
        let diff = line_diff(
            "docker ps\ndocker restart web",
            "docker ps\ndocker rm -f web",
        );
        assert_eq!(
            diff,
            vec!["  docker ps", "+ docker rm -f web", "- docker restart web"]
        );
    }

    #[test]
    fn annotated_body_numbers_steps() {
        let body = parse("r.md", RESTART).body;
        let shown = annotate_steps(&body, 2);
        assert!(shown.contains("**▶ step 1** \n"), "{shown}");
        assert!(shown.contains("**▶ step 2** ◀ selected"), "{shown}");
        assert!(!shown.contains("step 3"));
        assert_eq!(steps(&shown).len(), 2, "labels add no steps");
    }
}
