//! The policy: which tier a proposed command gets. The shipped rules are in
//! `assets/policy.default.toml` (embedded here), which also documents the
//! format; the user's `policy.toml` in the config dir is checked first.
//! A policy that does not load stops the cockpit: it never runs without one.
//!
//! Commands are parsed with a bash grammar ([`shell`]); `program` rules
//! match each simple command's words (after wrappers are looked through),
//! `glob`/`regex` rules match the text. What does not parse, and what the
//! text alone cannot tell (redirections to files, words known only at run
//! time, environment assignments, background jobs, control flow), is never
//! `auto`. [`Policy::evaluation`] returns what the policy saw, for the UI.

#[path = "shell.rs"]
pub mod shell;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use regex::Regex;
use serde::Deserialize;

use self::shell::{Parsed, SimpleCommand};
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
    programs: BTreeMap<String, ProgramSpec>,
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
    /// The program name(s) (globs), matched on parsed commands.
    program: Option<toml::Spanned<OneOrMany>>,
    /// The first operands, e.g. `"status"` or `"compose ps"` (any one).
    subcommands: Option<Vec<String>>,
    /// Options that must all be present (any of their aliases).
    options: Option<Vec<String>>,
    /// The only options allowed (an allow-list; required for `auto`).
    allow_options: Option<Vec<String>>,
    /// Every remaining operand must match one of these globs.
    args: Option<Vec<String>>,
    /// At least one remaining operand must match one of these globs.
    any_arg: Option<Vec<String>>,
    max_args: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// How a program reads its options: `[programs.NAME]` in the policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramSpec {
    /// Groups of names for one option; the first is the one rules see
    /// (`["-r", "-R", "--recursive"]`).
    #[serde(default)]
    aliases: Vec<Vec<String>>,
    /// Options that take a value (`-u UNIT`, `--unit=UNIT`).
    #[serde(default)]
    values: Vec<String>,
    /// Options are whole words with one dash (`find -name`, `ip -brief`),
    /// never clusters of short flags.
    #[serde(default)]
    single_dash_long: bool,
    /// Every option name any rule or table mentions, for unambiguous
    /// abbreviations of long options (`--rec` = `--recursive`).
    #[serde(skip)]
    known: BTreeSet<String>,
}

impl ProgramSpec {
    fn merge(&mut self, other: ProgramSpec) {
        self.aliases.extend(other.aliases);
        self.values.extend(other.values);
        self.single_dash_long |= other.single_dash_long;
    }

    fn index_known(&mut self) {
        let names: Vec<String> = self
            .aliases
            .iter()
            .flatten()
            .chain(self.values.iter())
            .cloned()
            .collect();
        self.known.extend(names);
    }

    /// The name rules use for `option`: its alias group's first name; a
    /// long option abbreviated to a unique prefix is expanded (getopt_long
    /// does the same).
    fn canonical(&self, option: &str) -> String {
        if let Some(group) = self.aliases.iter().find(|g| g.iter().any(|a| a == option)) {
            return group[0].clone();
        }
        if option.starts_with("--") && !self.known.contains(option) {
            let candidates: BTreeSet<String> = self
                .known
                .iter()
                .filter(|k| k.starts_with("--") && k.starts_with(option))
                .map(|k| self.canonical_exact(k))
                .collect();
            if let (1, Some(only)) = (candidates.len(), candidates.first()) {
                return only.clone();
            }
        }
        option.to_string()
    }

    fn canonical_exact(&self, option: &str) -> String {
        self.aliases
            .iter()
            .find(|g| g.iter().any(|a| a == option))
            .map(|g| g[0].clone())
            .unwrap_or_else(|| option.to_string())
    }

    fn takes_value(&self, option: &str) -> bool {
        let canonical = self.canonical(option);
        self.values.iter().any(|v| self.canonical(v) == canonical)
    }
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
    /// Where it is written: `file:line`.
    pub origin: String,
    matcher: Matcher,
    /// Host the rule is for (`None`: every host).
    host: Option<String>,
}

#[derive(Debug, Clone)]
enum Matcher {
    /// `glob` / `regex` over the (whitespace-normalised) text.
    Text(Regex),
    /// `program` and friends over parsed words.
    Command(CommandPattern),
}

#[derive(Debug, Clone)]
struct CommandPattern {
    programs: Vec<Regex>,
    /// Literal program names, for the option tables.
    literal_programs: Vec<String>,
    subcommands: Vec<Vec<String>>,
    options: Vec<String>,
    allow_options: Option<Vec<String>>,
    args: Option<Vec<Regex>>,
    any_arg: Vec<Regex>,
    max_args: Option<usize>,
}

impl Rule {
    /// The program names a `program` rule names (globs left out); empty
    /// for `glob`/`regex` rules.
    pub fn programs(&self) -> &[String] {
        match &self.matcher {
            Matcher::Command(p) => &p.literal_programs,
            Matcher::Text(_) => &[],
        }
    }

    /// Whether a `glob`/`regex` rule matches `text` (`program` rules match
    /// parsed commands through [`Policy::evaluation`]; here they never do).
    pub fn matches(&self, text: &str) -> bool {
        match &self.matcher {
            Matcher::Text(pattern) => pattern.is_match(text),
            Matcher::Command(_) => false,
        }
    }
}

/// The loaded policy: rules in the order they are checked.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
    programs: BTreeMap<String, ProgramSpec>,
    /// Where it came from, for messages.
    pub source: String,
}

/// The outcome for one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub tier: Tier,
    /// Name of the rule that decided (`default` when none matched; with
    /// `+unparsed`, `+redirect`, `+dynamic`, … when the command could not
    /// be `auto`; with `+risk` when the stated risk raised the tier).
    pub rule: String,
    /// The deny reason returned to the proposer.
    pub reason: Option<String>,
    /// Whether the command parsed as shell (when not, it is never `auto`).
    pub parsed: bool,
    /// Why it did not parse / cannot be `auto`, for the operator.
    pub note: Option<String>,
}

/// What the policy saw and decided, for the operator (the popup shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub tier: Tier,
    /// The rule that decided; `None`: no rule matched (the default,
    /// `approve`).
    pub rule: Option<String>,
    /// Where that rule is written (`file:line`).
    pub rule_origin: Option<String>,
    /// The deny reason.
    pub reason: Option<String>,
    /// Whether the whole text parsed as shell.
    pub parsed: bool,
    /// The words of every simple command, wrappers removed (what the
    /// rules matched).
    pub commands: Vec<Vec<String>>,
    /// Why it did not parse / why it cannot be `auto`, for the operator.
    pub note: Option<String>,
    /// Tag of what kept it from `auto` (`unparsed`, `redirect`, …), when
    /// that raised the tier.
    pub floor: Option<&'static str>,
}

impl Evaluation {
    /// The rule name as recorded: `default` when none matched, with the
    /// floor that raised it.
    pub fn rule_label(&self) -> String {
        let base = self.rule.clone().unwrap_or_else(|| "default".into());
        match self.floor {
            Some(tag) => format!("{base}+{tag}"),
            None => base,
        }
    }
}

impl Policy {
    /// The shipped defaults only.
    pub fn defaults() -> Result<Policy, FileError> {
        let mut loaded = Loaded::default();
        parse_into(DEFAULT_NAME, DEFAULT_POLICY, &mut loaded)?;
        Ok(loaded.finish(DEFAULT_NAME))
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
        let mut loaded = Loaded::default();
        let include_defaults = parse_into(file, text, &mut loaded)?;
        if include_defaults {
            parse_into(DEFAULT_NAME, DEFAULT_POLICY, &mut loaded)?;
        }
        Ok(loaded.finish(file))
    }

    /// The tier for `command` on `host` (see [`Policy::evaluation`]); the
    /// stated risk can only raise the result.
    pub fn evaluate(&self, host: &str, command: &str, risk: Option<Risk>) -> Decision {
        let evaluation = self.evaluation(host, command);
        let mut decision = Decision {
            tier: evaluation.tier,
            rule: evaluation.rule_label(),
            reason: evaluation.reason.clone(),
            parsed: evaluation.parsed,
            note: evaluation.note,
        };
        if let Some(risk) = risk
            && risk.floor() > decision.tier
        {
            decision.tier = risk.floor();
            decision.rule = format!("{}+risk:{}", decision.rule, risk.name());
        }
        decision
    }

    /// What the policy makes of `command` on `host`: deny rules first
    /// (against the text and every simple command), then for each simple
    /// command the first rule that matches it (none: `approve`); the
    /// strictest command decides. A list or pipeline is `auto` only when
    /// every command in it is. Text that does not parse, and commands with
    /// a concern (see [`shell`]), are at least `approve`.
    pub fn evaluation(&self, host: &str, command: &str) -> Evaluation {
        let parsed = shell::parse(command);
        let whole = normalise(command);
        let rules: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| r.host.as_deref().is_none_or(|h| h == host))
            .collect();
        let views: Vec<CommandView> = parsed
            .commands
            .iter()
            .map(|c| CommandView::new(c, &self.programs))
            .collect();
        let single = (views.len() <= 1).then_some(whole.as_str());
        let mut evaluation = match self.first_deny(&rules, &whole, &views) {
            Some(rule) => Evaluation {
                tier: Tier::Deny,
                rule: Some(rule.name.clone()),
                rule_origin: Some(rule.origin.clone()),
                reason: Some(
                    rule.reason
                        .clone()
                        .unwrap_or_else(|| format!("denied by policy rule `{}`", rule.name)),
                ),
                ..blank_evaluation()
            },
            None => self.strictest(&rules, &whole, single, &views),
        };
        evaluation.parsed = parsed.parsed();
        evaluation.commands = parsed.commands.iter().map(SimpleCommand::texts).collect();
        apply_floor(&mut evaluation, &parsed);
        evaluation
    }

    fn first_deny<'r>(
        &self,
        rules: &[&'r Rule],
        whole: &str,
        views: &[CommandView],
    ) -> Option<&'r Rule> {
        rules
            .iter()
            .copied()
            .filter(|r| r.tier == Tier::Deny)
            .find(|rule| {
                rule.matches(whole) || views.iter().any(|v| self.rule_matches(rule, v, None))
            })
    }

    /// The strictest of each command's first matching rule.
    fn strictest(
        &self,
        rules: &[&Rule],
        whole: &str,
        single: Option<&str>,
        views: &[CommandView],
    ) -> Evaluation {
        let first_match = |view: Option<&CommandView>| -> Evaluation {
            let found = rules
                .iter()
                .filter(|r| r.tier != Tier::Deny)
                .find(|r| match view {
                    Some(v) => self.rule_matches(r, v, single),
                    None => r.matches(whole),
                });
            match found {
                Some(rule) => Evaluation {
                    tier: rule.tier,
                    rule: Some(rule.name.clone()),
                    rule_origin: Some(rule.origin.clone()),
                    ..blank_evaluation()
                },
                None => blank_evaluation(),
            }
        };
        if views.is_empty() {
            return first_match(None);
        }
        let mut best: Option<Evaluation> = None;
        for view in views {
            let this = first_match(Some(view));
            if best.as_ref().is_none_or(|b| this.tier > b.tier) {
                best = Some(this);
            }
        }
        best.unwrap_or_else(blank_evaluation)
    }

    fn rule_matches(&self, rule: &Rule, view: &CommandView, whole: Option<&str>) -> bool {
        match &rule.matcher {
            Matcher::Text(pattern) => {
                !view.texts.is_empty()
                    && (view.texts.iter().any(|t| pattern.is_match(t))
                        || whole.is_some_and(|w| pattern.is_match(w)))
            }
            Matcher::Command(pattern) => view
                .invocation
                .as_ref()
                .is_some_and(|inv| pattern.matches(inv, self.programs.get(&inv.program))),
        }
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The rules in the order they are checked (for display).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

fn blank_evaluation() -> Evaluation {
    Evaluation {
        tier: Tier::Approve,
        rule: None,
        rule_origin: None,
        reason: None,
        parsed: true,
        commands: Vec::new(),
        note: None,
        floor: None,
    }
}

/// Unparsed text and commands with a concern are never `auto`.
fn apply_floor(evaluation: &mut Evaluation, parsed: &Parsed) {
    let mut notes = Vec::new();
    if let Some(error) = &parsed.error {
        notes.push(format!("did not parse: {error}"));
    }
    notes.extend(parsed.concerns.iter().map(|c| c.text.clone()));
    if !notes.is_empty() {
        evaluation.note = Some(notes.join("; "));
    }
    if evaluation.tier > Tier::Auto {
        return;
    }
    let floor = if parsed.error.is_some() {
        Some("unparsed")
    } else {
        parsed.concerns.first().map(|c| c.tag)
    };
    if let Some(tag) = floor {
        evaluation.tier = Tier::Approve;
        evaluation.floor = Some(tag);
    }
}

/// One simple command, prepared for matching.
struct CommandView {
    /// `glob`/`regex` rules see these: the words as written (quotes
    /// removed) and after wrappers were removed, each joined by spaces.
    texts: Vec<String>,
    invocation: Option<Invocation>,
}

impl CommandView {
    fn new(command: &SimpleCommand, programs: &BTreeMap<String, ProgramSpec>) -> CommandView {
        let mut texts = Vec::new();
        if !command.words.is_empty() {
            texts.push(command.raw.join(" "));
            let unwrapped = command.texts().join(" ");
            if !texts.contains(&unwrapped) {
                texts.push(unwrapped);
            }
        }
        let invocation = command
            .program()
            .filter(|p| !p.dynamic)
            .map(|p| Invocation::new(command, programs.get(&p.text)));
        CommandView { texts, invocation }
    }
}

/// A command split into its program, options and operands.
#[derive(Debug, Clone)]
struct Invocation {
    program: String,
    /// Canonical option names, in order.
    options: Vec<String>,
    /// Operands (paths lexically normalised).
    operands: Vec<String>,
}

impl Invocation {
    fn new(command: &SimpleCommand, spec: Option<&ProgramSpec>) -> Invocation {
        let empty = ProgramSpec::default();
        let spec = spec.unwrap_or(&empty);
        let words: Vec<&str> = command.words.iter().map(|w| w.text.as_str()).collect();
        let mut inv = Invocation {
            program: words.first().map(|s| s.to_string()).unwrap_or_default(),
            options: Vec::new(),
            operands: Vec::new(),
        };
        let mut i = 1;
        let mut options_done = false;
        while let Some(&word) = words.get(i) {
            i += 1;
            if options_done || !word.starts_with('-') || word == "-" {
                inv.operands.push(normalise_operand(word));
                continue;
            }
            if word == "--" {
                options_done = true;
                continue;
            }
            let wants_next = inv.read_option(word, spec);
            // A value is never taken from a word that looks like an option:
            // `journalctl -n --vacuum-size=1` must show the vacuum option.
            if wants_next && words.get(i).is_some_and(|next| !next.starts_with('-')) {
                i += 1;
            }
        }
        inv
    }

    /// Records the option(s) in `word`; true when the last one wants the
    /// next word as its value.
    fn read_option(&mut self, word: &str, spec: &ProgramSpec) -> bool {
        if word.starts_with("--") {
            let (name, attached) = shell::split_option(word);
            let takes = spec.takes_value(&name);
            self.options.push(spec.canonical(&name));
            return takes && attached.is_none();
        }
        if spec.single_dash_long {
            self.options.push(spec.canonical(word));
            return spec.takes_value(word);
        }
        let flags: Vec<char> = word.chars().skip(1).collect();
        for (at, flag) in flags.iter().enumerate() {
            let option = format!("-{flag}");
            let takes = spec.takes_value(&option);
            self.options.push(spec.canonical(&option));
            if takes {
                return at + 1 == flags.len();
            }
        }
        false
    }
}

impl CommandPattern {
    fn matches(&self, inv: &Invocation, spec: Option<&ProgramSpec>) -> bool {
        if !self.programs.iter().any(|p| p.is_match(&inv.program)) {
            return false;
        }
        let empty = ProgramSpec::default();
        let spec = spec.unwrap_or(&empty);
        let canonical =
            |names: &[String]| -> Vec<String> { names.iter().map(|n| spec.canonical(n)).collect() };
        if !canonical(&self.options)
            .iter()
            .all(|o| inv.options.contains(o))
        {
            return false;
        }
        if let Some(allowed) = &self.allow_options {
            let allowed = canonical(allowed);
            if !inv.options.iter().all(|o| allowed.contains(o)) {
                return false;
            }
        }
        if self.subcommands.is_empty() {
            return self.operands_match(&inv.operands);
        }
        self.subcommands.iter().any(|sub| {
            inv.operands.len() >= sub.len()
                && inv.operands.iter().zip(sub).all(|(a, b)| a == b)
                && self.operands_match(&inv.operands[sub.len()..])
        })
    }

    fn operands_match(&self, operands: &[String]) -> bool {
        if self.max_args.is_some_and(|max| operands.len() > max) {
            return false;
        }
        if let Some(args) = &self.args
            && !operands.iter().all(|o| args.iter().any(|a| a.is_match(o)))
        {
            return false;
        }
        self.any_arg.is_empty()
            || operands
                .iter()
                .any(|o| self.any_arg.iter().any(|a| a.is_match(o)))
    }
}

/// `/usr/../` → `/`, `//etc/` → `/etc`: absolute paths lexically
/// normalised, so `rm -rf //` is seen as `rm -rf /`.
fn normalise_operand(word: &str) -> String {
    if !word.starts_with('/') {
        return word.to_string();
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in word.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Rules and program tables while loading (user file first, then defaults).
#[derive(Default)]
struct Loaded {
    rules: Vec<Rule>,
    programs: BTreeMap<String, ProgramSpec>,
}

impl Loaded {
    fn finish(mut self, source: &str) -> Policy {
        let mentioned: Vec<(String, String)> = self
            .rules
            .iter()
            .filter_map(|r| match &r.matcher {
                Matcher::Command(p) => Some(p),
                Matcher::Text(_) => None,
            })
            .flat_map(|p| {
                let names: Vec<String> = p
                    .options
                    .iter()
                    .chain(p.allow_options.iter().flatten())
                    .cloned()
                    .collect();
                p.literal_programs
                    .iter()
                    .flat_map(move |prog| names.clone().into_iter().map(move |n| (prog.clone(), n)))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (program, option) in mentioned {
            self.programs
                .entry(program)
                .or_default()
                .known
                .insert(option);
        }
        for spec in self.programs.values_mut() {
            spec.index_known();
        }
        Policy {
            rules: self.rules,
            programs: self.programs,
            source: source.to_string(),
        }
    }
}

/// Parses one policy file, appending its rules (host rules first, then
/// top-level ones) and program tables. Returns its `include_defaults`.
fn parse_into(file: &str, text: &str, out: &mut Loaded) -> Result<bool, FileError> {
    let parsed: PolicyFile = toml_file::parse_str(file, text)?;
    for (name, spec) in parsed.programs {
        out.programs.entry(name).or_default().merge(spec);
    }
    for (host, spec) in parsed.hosts {
        for (i, rule) in spec.rules.into_iter().enumerate() {
            out.rules.push(build_rule(
                file,
                text,
                rule,
                Some(host.clone()),
                &format!("hosts.{host}.rules[{i}]"),
            )?);
        }
    }
    for (i, rule) in parsed.rules.into_iter().enumerate() {
        out.rules
            .push(build_rule(file, text, rule, None, &format!("rules[{i}]"))?);
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
    let tier: Tier = spec.tier.into();
    let (matcher, line_no) = match spec.program.clone() {
        Some(program) => build_command_rule(file, text, &spec, program, tier, key)?,
        None => build_text_rule(file, text, &spec, key)?,
    };
    let short_file = file.rsplit('/').next().unwrap_or(file);
    let name = spec
        .name
        .unwrap_or_else(|| format!("{short_file}:{line_no}"));
    let shown_file = if file == DEFAULT_NAME {
        "assets/policy.default.toml"
    } else {
        file
    };
    Ok(Rule {
        name,
        tier,
        reason: spec.reason,
        origin: format!("{shown_file}:{line_no}"),
        matcher,
        host,
    })
}

fn build_text_rule(
    file: &str,
    text: &str,
    spec: &RuleSpec,
    key: &str,
) -> Result<(Matcher, usize), FileError> {
    if let Some(field) = spec.command_field() {
        return Err(
            FileError::new(file, format!("`{field}` needs `program`")).at(None, Some(key.into()))
        );
    }
    let (source, is_regex) = match (&spec.glob, &spec.regex) {
        (Some(g), None) => (g, false),
        (None, Some(r)) => (r, true),
        (Some(g), Some(_)) => {
            return Err(
                FileError::new(file, "a rule has either `glob` or `regex`, not both")
                    .at(Some(line_of(text, g.span().start)), Some(key.into())),
            );
        }
        (None, None) => {
            return Err(FileError::new(
                file,
                "a rule needs `glob` or `regex` (text), or `program` (parsed command)",
            )
            .at(None, Some(key.into())));
        }
    };
    let line_no = line_of(text, source.span().start);
    let line = Some(line_no);
    let pattern_text = source.get_ref();
    if pattern_text.trim().is_empty() {
        return Err(FileError::new(file, "empty pattern").at(line, Some(key.into())));
    }
    let anchored = if is_regex {
        format!("^(?:{pattern_text})$")
    } else {
        glob_to_regex(&normalise(pattern_text))
    };
    let pattern = Regex::new(&anchored).map_err(|e| {
        FileError::new(file, format!("invalid pattern: {e}")).at(line, Some(key.into()))
    })?;
    Ok((Matcher::Text(pattern), line_no))
}

impl RuleSpec {
    /// The first `program`-only field this rule sets.
    fn command_field(&self) -> Option<&'static str> {
        [
            ("subcommands", self.subcommands.is_some()),
            ("options", self.options.is_some()),
            ("allow_options", self.allow_options.is_some()),
            ("args", self.args.is_some()),
            ("any_arg", self.any_arg.is_some()),
            ("max_args", self.max_args.is_some()),
        ]
        .into_iter()
        .find(|(_, set)| *set)
        .map(|(name, _)| name)
    }
}

fn build_command_rule(
    file: &str,
    text: &str,
    spec: &RuleSpec,
    program: toml::Spanned<OneOrMany>,
    tier: Tier,
    key: &str,
) -> Result<(Matcher, usize), FileError> {
    let line_no = line_of(text, program.span().start);
    let err = |why: String| FileError::new(file, why).at(Some(line_no), Some(key.into()));
    if spec.glob.is_some() || spec.regex.is_some() {
        return Err(err(
            "a rule matches either the text (`glob`/`regex`) or the parsed command (`program`), not both"
                .into(),
        ));
    }
    let names = program.into_inner().into_vec();
    if names.is_empty() || names.iter().any(|n| n.trim().is_empty()) {
        return Err(err("empty program name".into()));
    }
    if tier == Tier::Auto && spec.allow_options.is_none() {
        return Err(err(
            "an `auto` rule must list `allow_options` (auto is an allow-list; `[]` for none)"
                .into(),
        ));
    }
    let globs = |list: &[String]| -> Result<Vec<Regex>, FileError> {
        list.iter()
            .map(|g| {
                Regex::new(&operand_glob_to_regex(g))
                    .map_err(|e| err(format!("invalid glob {g:?}: {e}")))
            })
            .collect()
    };
    let subcommands = spec
        .subcommands
        .iter()
        .flatten()
        .map(|s| s.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect::<Vec<_>>();
    if subcommands.iter().any(Vec::is_empty) {
        return Err(err("empty subcommand".into()));
    }
    let pattern = CommandPattern {
        programs: globs(&names)?,
        literal_programs: names
            .iter()
            .filter(|n| !n.contains(['*', '?']))
            .cloned()
            .collect(),
        subcommands,
        options: spec.options.clone().unwrap_or_default(),
        allow_options: spec.allow_options.clone(),
        args: spec.args.as_deref().map(globs).transpose()?,
        any_arg: globs(spec.any_arg.as_deref().unwrap_or_default())?,
        max_args: spec.max_args,
    };
    Ok((Matcher::Command(pattern), line_no))
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

/// As [`glob_to_regex`], with `\` making the next character literal
/// (`'/etc/\*'` is the word `/etc/*`).
fn operand_glob_to_regex(glob: &str) -> String {
    let mut out = String::from("^");
    let mut chars = glob.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push_str(&regex::escape(&next.to_string()));
                }
            }
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
