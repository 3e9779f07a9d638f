//! The policy: which tier a proposed command gets. The shipped rules are in
//! `assets/policy.default.toml` (embedded here), which also documents the
//! format; the user's `policy.toml` in the config dir is checked first.
//! A policy that does not load stops the cockpit: it never runs without one.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde::Deserialize;

use super::{Risk, Tier};
use crate::config::FileError;
use crate::config::toml_file::{self, line_of};

pub const DEFAULT_POLICY: &str = include_str!("../../assets/policy.default.toml");
const DEFAULT_NAME: &str = "<embedded assets/policy.default.toml>";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default = "yes")]
    include_defaults: bool,
    #[serde(default)]
    rules: Vec<RuleSpec>,
    #[serde(default)]
    hosts: BTreeMap<String, HostSpec>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostSpec {
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: Option<String>,
    tier: TierSpec,
    glob: Option<toml::Spanned<String>>,
    regex: Option<toml::Spanned<String>>,
    reason: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TierSpec {
    Auto,
    Approve,
    Confirm,
    Deny,
}

impl From<TierSpec> for Tier {
    fn from(t: TierSpec) -> Tier {
        match t {
            TierSpec::Auto => Tier::Auto,
            TierSpec::Approve => Tier::Approve,
            TierSpec::Confirm => Tier::Confirm,
            TierSpec::Deny => Tier::Deny,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub tier: Tier,
    pub reason: Option<String>,
    pattern: Regex,
    /// Host the rule is for (`None`: every host).
    host: Option<String>,
}

impl Rule {
    pub fn matches(&self, text: &str) -> bool {
        self.pattern.is_match(text)
    }
}

/// The loaded policy: rules in the order they are checked.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
    /// Where it came from, for messages.
    pub source: String,
}

/// The outcome for one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub tier: Tier,
    /// Name of the rule that decided (`default` when none matched; with
    /// `+risk` when the stated risk raised the tier).
    pub rule: String,
    /// The deny reason returned to the proposer.
    pub reason: Option<String>,
}

impl Policy {
    /// The shipped defaults only.
    pub fn defaults() -> Result<Policy, FileError> {
        let mut rules = Vec::new();
        parse_into(DEFAULT_NAME, DEFAULT_POLICY, &mut rules)?;
        Ok(Policy {
            rules,
            source: DEFAULT_NAME.into(),
        })
    }

    /// `policy.toml` in `config_dir` over the shipped defaults; the defaults
    /// alone when there is no such file.
    pub fn load(config_dir: &Path) -> Result<Policy, FileError> {
        let path = config_dir.join("policy.toml");
        if !path.exists() {
            return Policy::defaults();
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| FileError::new(path.display().to_string(), format!("cannot read: {e}")))?;
        Policy::from_str_with_defaults(&path.display().to_string(), &text)
    }

    /// Parses a user policy text (named `file` in errors) over the defaults.
    pub fn from_str_with_defaults(file: &str, text: &str) -> Result<Policy, FileError> {
        let mut rules = Vec::new();
        let include_defaults = parse_into(file, text, &mut rules)?;
        if include_defaults {
            parse_into(DEFAULT_NAME, DEFAULT_POLICY, &mut rules)?;
        }
        Ok(Policy {
            rules,
            source: file.to_string(),
        })
    }

    /// The tier for `command` on `host`: deny rules first (against the
    /// command and each part of a compound command), then the first match;
    /// unknown → approve; the stated risk can only raise the result.
    pub fn evaluate(&self, host: &str, command: &str, risk: Option<Risk>) -> Decision {
        let whole = normalise(command);
        let parts = split_compound(command);
        let compound = parts.len() > 1 || has_shell_syntax(command);
        let applicable: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| r.host.as_deref().is_none_or(|h| h == host))
            .collect();
        let mut units = vec![whole.clone()];
        if compound {
            units.extend(parts);
        }
        let mut decision = None;
        for rule in applicable.iter().filter(|r| r.tier == Tier::Deny) {
            if units.iter().any(|u| rule.matches(u)) {
                decision = Some(Decision {
                    tier: Tier::Deny,
                    rule: rule.name.clone(),
                    reason: Some(
                        rule.reason
                            .clone()
                            .unwrap_or_else(|| format!("denied by policy rule `{}`", rule.name)),
                    ),
                });
                break;
            }
        }
        let mut decision = decision.unwrap_or_else(|| {
            let mut best = Decision {
                tier: Tier::Auto,
                rule: String::new(),
                reason: None,
            };
            for unit in &units {
                let (tier, rule) = applicable
                    .iter()
                    .find(|r| r.tier != Tier::Deny && r.matches(unit))
                    .map(|r| (r.tier, r.name.clone()))
                    .unwrap_or((Tier::Approve, "default".to_string()));
                if best.rule.is_empty() || tier > best.tier {
                    best = Decision {
                        tier,
                        rule,
                        reason: None,
                    };
                }
            }
            if compound && best.tier < Tier::Approve {
                best.tier = Tier::Approve;
                best.rule = format!("{}+compound", best.rule);
            }
            best
        });
        if let Some(risk) = risk
            && risk.floor() > decision.tier
        {
            decision.tier = risk.floor();
            decision.rule = format!("{}+risk:{}", decision.rule, risk.name());
        }
        decision
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }
}

/// Parses one policy file, appending its rules (host rules first, then
/// top-level ones). Returns its `include_defaults`.
fn parse_into(file: &str, text: &str, out: &mut Vec<Rule>) -> Result<bool, FileError> {
    let parsed: PolicyFile = toml_file::parse_str(file, text)?;
    for (host, spec) in parsed.hosts {
        for (i, rule) in spec.rules.into_iter().enumerate() {
            out.push(build_rule(
                file,
                text,
                rule,
                Some(host.clone()),
                &format!("hosts.{host}.rules[{i}]"),
            )?);
        }
    }
    for (i, rule) in parsed.rules.into_iter().enumerate() {
        out.push(build_rule(file, text, rule, None, &format!("rules[{i}]"))?);
    }
    Ok(parsed.include_defaults)
}

fn build_rule(
    file: &str,
    text: &str,
    spec: RuleSpec,
    host: Option<String>,
    key: &str,
) -> Result<Rule, FileError> {
    let (source, is_regex) = match (spec.glob, spec.regex) {
        (Some(g), None) => (g, false),
        (None, Some(r)) => (r, true),
        (Some(g), Some(_)) => {
            return Err(
                FileError::new(file, "a rule has either `glob` or `regex`, not both")
                    .at(Some(line_of(text, g.span().start)), Some(key.into())),
            );
        }
        (None, None) => {
            return Err(
                FileError::new(file, "a rule needs `glob` or `regex`").at(None, Some(key.into()))
            );
        }
    };
    let line_no = line_of(text, source.span().start);
    let line = Some(line_no);
    let pattern_text = source.into_inner();
    if pattern_text.trim().is_empty() {
        return Err(FileError::new(file, "empty pattern").at(line, Some(key.into())));
    }
    let anchored = if is_regex {
        format!("^(?:{pattern_text})$")
    } else {
        glob_to_regex(&normalise(&pattern_text))
    };
    let pattern = Regex::new(&anchored).map_err(|e| {
        FileError::new(file, format!("invalid pattern: {e}")).at(line, Some(key.into()))
    })?;
    let name = spec
        .name
        .unwrap_or_else(|| format!("{}:{}", file.rsplit('/').next().unwrap_or(file), line_no));
    Ok(Rule {
        name,
        tier: spec.tier.into(),
        reason: spec.reason,
        pattern,
        host,
    })
}

/// `*` any text, `?` one character, everything else literal; anchored.
fn glob_to_regex(glob: &str) -> String {
    let mut out = String::from("^");
    for ch in glob.chars() {
        match ch {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push('$');
    out
}

/// Runs of whitespace become one space; ends trimmed.
fn normalise(command: &str) -> String {
    command.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn has_shell_syntax(command: &str) -> bool {
    command.chars().any(|c| {
        matches!(
            c,
            ';' | '|' | '&' | '`' | '$' | '(' | ')' | '<' | '>' | '\n'
        )
    })
}

/// The simple commands inside a compound one (split at shell operators,
/// substitutions and redirections). Deliberately naive: it over-splits
/// rather than miss a part.
fn split_compound(command: &str) -> Vec<String> {
    command
        .split([';', '|', '&', '`', '(', ')', '\n', '{', '}'])
        .map(|p| normalise(p.trim_start_matches('$')))
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Policy {
        Policy::from_str_with_defaults("policy.toml", text).expect("valid policy")
    }

    fn tier(p: &Policy, cmd: &str) -> Tier {
        p.evaluate("web", cmd, None).tier
    }

    #[test]
    fn shipped_defaults_parse_and_classify() {
        let p = Policy::defaults().expect("defaults");
        assert!(p.rule_count() > 10);
        for cmd in [
            "docker ps",
            "docker ps -a",
            "df -h",
            "systemctl status nginx",
            "uptime",
            "free -m",
            "journalctl -u nginx -n 100",
        ] {
            assert_eq!(tier(&p, cmd), Tier::Auto, "{cmd}");
        }
        for cmd in [
            "rm -rf /",
            "rm -rf /*",
            "rm  -fr   / ",
            "sudo rm -rf --no-preserve-root /",
            "rm -rf /etc",
            "mkfs.ext4 /dev/sda1",
            "dd if=/dev/zero of=/dev/sda bs=1M",
            "echo hi; rm -rf /",
            "true && mkfs -t ext4 /dev/sdb",
            "echo $(rm -rf /)",
        ] {
            assert_eq!(tier(&p, cmd), Tier::Deny, "{cmd}");
        }
        for cmd in [
            "reboot",
            "sudo shutdown -h now",
            "systemctl reboot",
            "iptables -F",
            "docker system prune -a",
            "docker system prune --all --force",
            "rm -rf /srv/app/cache",
            "echo x; reboot",
        ] {
            assert_eq!(tier(&p, cmd), Tier::Confirm, "{cmd}");
        }
        for cmd in [
            "systemctl restart nginx",
            "docker restart web",
            "make deploy",
        ] {
            assert_eq!(tier(&p, cmd), Tier::Approve, "{cmd}");
        }
    }

    #[test]
    fn deny_reason_is_returned() {
        let p = Policy::defaults().expect("defaults");
        let d = p.evaluate("web", "rm -rf /", None);
        assert_eq!(d.rule, "wipe-root");
        assert!(d.reason.expect("reason").contains("never allowed"));
    }

    #[test]
    fn compound_or_redirected_read_commands_are_never_auto() {
        let p = Policy::defaults().expect("defaults");
        assert_eq!(tier(&p, "df -h > /etc/passwd"), Tier::Approve);
        assert_eq!(tier(&p, "docker ps; docker rm -f db"), Tier::Approve);
        assert_eq!(tier(&p, "uptime | tee /tmp/x"), Tier::Approve);
        assert_eq!(tier(&p, "uptime\nreboot"), Tier::Confirm);
    }

    #[test]
    fn first_match_wins_and_unknown_is_approve() {
        let p = policy(
            "include_defaults = false\n\
             [[rules]]\nname = \"first\"\ntier = \"auto\"\nglob = \"echo *\"\n\
             [[rules]]\nname = \"second\"\ntier = \"confirm\"\nglob = \"echo hi\"\n",
        );
        let d = p.evaluate("web", "echo hi", None);
        assert_eq!((d.tier, d.rule.as_str()), (Tier::Auto, "first"));
        let d = p.evaluate("web", "ls", None);
        assert_eq!((d.tier, d.rule.as_str()), (Tier::Approve, "default"));
    }

    #[test]
    fn deny_rules_are_checked_before_earlier_rules() {
        let p = policy(
            "include_defaults = false\n\
             [[rules]]\nname = \"all\"\ntier = \"auto\"\nglob = \"*\"\n\
             [[rules]]\nname = \"no-curl\"\ntier = \"deny\"\nglob = \"curl *\"\nreason = \"no network\"\n",
        );
        let d = p.evaluate("web", "curl http://x", None);
        assert_eq!(d.tier, Tier::Deny);
        assert_eq!(d.reason.as_deref(), Some("no network"));
        assert_eq!(tier(&p, "ls"), Tier::Auto);
    }

    #[test]
    fn globs_and_regexes_are_anchored() {
        let p = policy(
            "include_defaults = false\n\
             [[rules]]\ntier = \"auto\"\nglob = \"ls\"\n\
             [[rules]]\ntier = \"auto\"\nregex = 'cat /tmp/\\w+'\n",
        );
        assert_eq!(tier(&p, "ls"), Tier::Auto);
        assert_eq!(tier(&p, "lsblk"), Tier::Approve);
        assert_eq!(tier(&p, "xls"), Tier::Approve);
        assert_eq!(tier(&p, "cat /tmp/abc"), Tier::Auto);
        assert_eq!(tier(&p, "cat /tmp/abc/../../etc/shadow"), Tier::Approve);
    }

    #[test]
    fn stated_risk_only_raises() {
        let p = Policy::defaults().expect("defaults");
        let d = p.evaluate("web", "docker ps", Some(Risk::High));
        assert_eq!(d.tier, Tier::Confirm);
        assert!(d.rule.ends_with("+risk:high"), "{}", d.rule);
        assert_eq!(
            p.evaluate("web", "docker ps", Some(Risk::Medium)).tier,
            Tier::Approve
        );
        assert_eq!(
            p.evaluate("web", "docker ps", Some(Risk::Low)).tier,
            Tier::Auto
        );
        // Low risk never lowers.
        assert_eq!(
            p.evaluate("web", "reboot", Some(Risk::Low)).tier,
            Tier::Confirm
        );
        assert_eq!(
            p.evaluate("web", "rm -rf /", Some(Risk::Low)).tier,
            Tier::Deny
        );
    }

    #[test]
    fn host_rules_apply_to_their_host_first() {
        let p = policy(
            "[[hosts.db.rules]]\nname = \"db-restart\"\ntier = \"confirm\"\nglob = \"systemctl restart *\"\n\
             [[rules]]\nname = \"restart\"\ntier = \"auto\"\nglob = \"systemctl restart *\"\n",
        );
        assert_eq!(
            p.evaluate("db", "systemctl restart pg", None).tier,
            Tier::Confirm
        );
        assert_eq!(
            p.evaluate("web", "systemctl restart pg", None).tier,
            Tier::Auto
        );
        // The shipped deny rules still apply.
        assert_eq!(p.evaluate("web", "mkfs /dev/x", None).tier, Tier::Deny);
    }

    #[test]
    fn malformed_policies_name_file_line_and_reason() {
        let cases = [
            (
                "[[rules]]\ntier = \"auto\"\nregex = '(unclosed'\n",
                Some(3),
                "invalid pattern",
            ),
            (
                "[[rules]]\ntier = \"sometimes\"\nglob = \"x\"\n",
                Some(2),
                "sometimes",
            ),
            (
                "[[rules]]\ntier = \"auto\"\nglb = \"x\"\n",
                Some(3),
                "unknown field",
            ),
            (
                "[[rules]]\ntier = \"auto\"\n",
                None,
                "needs `glob` or `regex`",
            ),
            (
                "[[rules]]\ntier = \"auto\"\nglob = \"a\"\nregex = \"b\"\n",
                Some(3),
                "not both",
            ),
            ("[[rules]\n", Some(1), ""),
        ];
        for (text, line, needle) in cases {
            let err = Policy::from_str_with_defaults("/etc/x/policy.toml", text).expect_err(text);
            assert_eq!(err.file, "/etc/x/policy.toml");
            assert_eq!(err.line, line, "{text}: {err}");
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn load_reads_the_config_dir() {
        let dir = tempfile::tempdir().expect("tmp");
        assert!(
            Policy::load(dir.path())
                .expect("defaults")
                .source
                .contains("embedded")
        );
        std::fs::write(
            dir.path().join("policy.toml"),
            "[[rules]]\ntier = \"deny\"\nglob = \"ls\"\n",
        )
        .expect("write");
        let p = Policy::load(dir.path()).expect("user");
        assert_eq!(tier(&p, "ls"), Tier::Deny);
        std::fs::write(dir.path().join("policy.toml"), "rules = 3\n").expect("write");
        let err = Policy::load(dir.path()).expect_err("bad");
        assert!(err.to_string().contains("policy.toml:1"), "{err}");
    }
}
