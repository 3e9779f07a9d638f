//! What a proposed command runs, as the policy sees it: the text is parsed
//! with a bash grammar (`brush-parser`), every simple command is found
//! (pipelines, `;`/`&&`/`||` lists, subshells, groups, control flow,
//! `$(…)`, backticks, process substitutions), its words are unquoted, the
//! program is reduced to its name (`/bin/rm`, `\rm`, `"rm"` → `rm`),
//! wrappers are looked through (`sudo`, `env`, `timeout`, `xargs`, …) and
//! command strings are parsed in turn (`sh -c`, `eval`, here-strings fed to
//! a shell, `find -exec`).
//!
//! Anything whose effect the text alone cannot tell (a redirection to a
//! file, a word only known at run time, an environment assignment, a
//! background job, control flow) is recorded as a [`Concern`]: the policy
//! never makes such a command `auto`. Text that does not parse is reported
//! with the reason; the policy never makes it `auto` either.

use brush_parser::ast;
use brush_parser::word::{TildeExpr, WordPiece, WordPieceWithSource};
use brush_parser::{Parser, ParserOptions};

/// Longer commands are not parsed (the parser's time and stack are bounded
/// by this; no real operational command is this long).
pub const MAX_COMMAND_LEN: usize = 16 * 1024;
/// How deep command strings may nest (`sh -c "bash -c 'eval …'"`, `$(…)`).
pub const MAX_NESTING: usize = 8;
/// At most this many simple commands are collected.
const MAX_COMMANDS: usize = 256;
/// Bracket nesting beyond this is refused before parsing: the grammar is
/// recursive and a pathological input would exhaust the stack.
const MAX_BRACKET_DEPTH: usize = 64;

/// One word after quote removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The text with quotes removed; parts only known at run time are kept
    /// as written (`$X`, `$(…)`).
    pub text: String,
    /// Its value is only known at run time (a variable, a substitution, a
    /// glob that could expand to an option, brace expansion).
    pub dynamic: bool,
}

impl Word {
    fn literal(text: impl Into<String>) -> Word {
        Word {
            text: text.into(),
            dynamic: false,
        }
    }
}

/// A simple command as the policy matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleCommand {
    /// Wrappers removed, program reduced to its name; may be empty (only
    /// assignments or redirections).
    pub words: Vec<Word>,
    /// The words as written (quotes removed), before wrappers were removed.
    pub raw: Vec<String>,
}

impl SimpleCommand {
    pub fn program(&self) -> Option<&Word> {
        self.words.first()
    }

    pub fn texts(&self) -> Vec<String> {
        self.words.iter().map(|w| w.text.clone()).collect()
    }
}

/// Why a command can never be `auto`, whatever the rules say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concern {
    /// Short tag for the rule name (`redirect`, `dynamic`, …).
    pub tag: &'static str,
    /// For the operator.
    pub text: String,
}

/// The result of parsing one command text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub commands: Vec<SimpleCommand>,
    pub concerns: Vec<Concern>,
    /// Why (part of) the text did not parse; `None`: all of it parsed.
    pub error: Option<String>,
}

impl Parsed {
    pub fn parsed(&self) -> bool {
        self.error.is_none()
    }
}

/// Parses `text` as a bash command line.
pub fn parse(text: &str) -> Parsed {
    let mut walker = Walker::default();
    if let Some(why) = refuse_before_parsing(text) {
        walker.error = Some(why);
    } else {
        walker.script(text, 0);
    }
    Parsed {
        commands: walker.commands,
        concerns: walker.concerns,
        error: walker.error,
    }
}

fn refuse_before_parsing(text: &str) -> Option<String> {
    if text.len() > MAX_COMMAND_LEN {
        return Some(format!(
            "longer than {} KiB; not parsed",
            MAX_COMMAND_LEN / 1024
        ));
    }
    if text.contains('\0') {
        return Some("contains a NUL byte".into());
    }
    if bracket_depth(text) > MAX_BRACKET_DEPTH {
        return Some(format!("nested deeper than {MAX_BRACKET_DEPTH} brackets"));
    }
    None
}

/// Upper bound of bracket nesting, quotes ignored (an over-estimate is
/// fine: it only guards the parser's stack).
fn bracket_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for c in text.chars() {
        match c {
            '(' | '{' | '[' | '`' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn parser_options() -> ParserOptions {
    ParserOptions::default()
}

#[derive(Default)]
struct Walker {
    commands: Vec<SimpleCommand>,
    concerns: Vec<Concern>,
    error: Option<String>,
    /// Prefixes of unparsed text walked so far (bounded).
    salvaged: usize,
    /// What the previous stage of the current pipeline prints, when it is
    /// literal text (`echo 'rm -rf /' | sh`).
    piped: Option<String>,
    /// Set by a simple command that prints literal text.
    printed: Option<String>,
}

/// At most this many times the text before a syntax error is parsed again.
const MAX_SALVAGE: usize = 3;

/// Where (in characters) the parser gave up, when it says.
fn error_char_index(error: &brush_parser::ParseError) -> Option<usize> {
    use brush_parser::TokenizerError as T;
    match error {
        brush_parser::ParseError::ParsingNear(pos) => Some(pos.index),
        brush_parser::ParseError::Tokenizing { inner, position } => match inner {
            T::UnterminatedSingleQuote(pos)
            | T::UnterminatedAnsiCQuote(pos)
            | T::UnterminatedDoubleQuote(pos)
            | T::UnterminatedBackquote(pos)
            | T::UnterminatedExtendedGlob(pos) => Some(pos.index),
            _ => position.as_ref().map(|p| p.index),
        },
        brush_parser::ParseError::ParsingAtEndOfInput => None,
    }
}

/// What a simple command reads on stdin, when known: the text, and
/// whether it is exactly that (a here-string) or only what an earlier
/// pipeline stage appears to print (`echo`/`printf` escapes aside).
type StdinText = Option<(String, bool)>;

impl Walker {
    fn concern(&mut self, tag: &'static str, text: impl Into<String>) {
        let text = text.into();
        if !self.concerns.iter().any(|c| c.tag == tag && c.text == text) {
            self.concerns.push(Concern { tag, text });
        }
    }

    fn fail(&mut self, why: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(why.into());
        }
    }

    /// Parses and walks a command string at nesting `depth`.
    fn script(&mut self, text: &str, depth: usize) {
        if depth > MAX_NESTING {
            self.fail(format!("command strings nested deeper than {MAX_NESTING}"));
            return;
        }
        if let Some(why) = refuse_before_parsing(text) {
            self.fail(why);
            return;
        }
        let options = parser_options();
        let result = guarded(|| {
            Parser::new(std::io::Cursor::new(text.as_bytes()), &options).parse_program()
        });
        match result {
            Some(Ok(program)) => {
                for list in &program.complete_commands {
                    self.compound_list(list, depth);
                }
            }
            Some(Err(e)) => {
                self.fail(format!("does not parse: {e}"));
                self.salvage(text, &e, depth);
            }
            None => self.fail("the shell parser failed on it"),
        }
    }

    /// The text before a syntax error is still walked, so a deny rule sees
    /// `rm -rf /` in `rm -rf /; echo 'x` (the whole stays unparsed).
    fn salvage(&mut self, text: &str, error: &brush_parser::ParseError, depth: usize) {
        if self.salvaged >= MAX_SALVAGE {
            return;
        }
        let Some(at) = error_char_index(error) else {
            return;
        };
        let prefix: String = text.chars().take(at).collect();
        if prefix.trim().is_empty() || prefix.len() >= text.len() {
            return;
        }
        self.salvaged += 1;
        self.script(&prefix, depth);
    }

    fn compound_list(&mut self, list: &ast::CompoundList, depth: usize) {
        for ast::CompoundListItem(and_or, separator) in &list.0 {
            if matches!(separator, ast::SeparatorOperator::Async) {
                self.concern("background", "runs a job in the background (`&`)");
            }
            self.pipeline(&and_or.first, depth);
            for next in &and_or.additional {
                match next {
                    ast::AndOr::And(p) | ast::AndOr::Or(p) => self.pipeline(p, depth),
                }
            }
        }
    }

    fn pipeline(&mut self, pipeline: &ast::Pipeline, depth: usize) {
        let mut previous = None;
        for command in &pipeline.seq {
            self.piped = previous.take();
            self.printed = None;
            self.command(command, depth);
            self.piped = None;
            previous = self.printed.take();
        }
    }

    fn command(&mut self, command: &ast::Command, depth: usize) {
        match command {
            ast::Command::Simple(simple) => self.simple(simple, depth),
            ast::Command::Compound(compound, redirects) => {
                self.compound(compound, depth);
                self.redirect_list(redirects.as_ref(), depth);
            }
            ast::Command::Function(def) => {
                self.concern("control-flow", "defines a shell function");
                self.compound(&def.body.0, depth);
                self.redirect_list(def.body.1.as_ref(), depth);
            }
            ast::Command::ExtendedTest(test, redirects) => {
                self.concern("control-flow", "uses shell tests (`[[ … ]]`)");
                self.extended_test(&test.expr, depth);
                self.redirect_list(redirects.as_ref(), depth);
            }
        }
    }

    fn compound(&mut self, compound: &ast::CompoundCommand, depth: usize) {
        use ast::CompoundCommand as C;
        match compound {
            C::BraceGroup(group) => self.compound_list(&group.list, depth),
            C::Subshell(sub) => self.compound_list(&sub.list, depth),
            C::ForClause(f) => {
                self.concern("control-flow", "uses shell control flow (for)");
                for value in f.values.iter().flatten() {
                    self.word(&value.value, depth);
                }
                self.compound_list(&f.body.list, depth);
            }
            C::ArithmeticForClause(f) => {
                self.concern("control-flow", "uses shell control flow (for)");
                for expr in [&f.initializer, &f.condition, &f.updater]
                    .into_iter()
                    .flatten()
                {
                    self.word(&expr.value, depth);
                }
                self.compound_list(&f.body.list, depth);
            }
            C::CaseClause(c) => {
                self.concern("control-flow", "uses shell control flow (case)");
                self.word(&c.value.value, depth);
                for item in &c.cases {
                    for pattern in &item.patterns {
                        self.word(&pattern.value, depth);
                    }
                    if let Some(list) = &item.cmd {
                        self.compound_list(list, depth);
                    }
                }
            }
            C::IfClause(c) => {
                self.concern("control-flow", "uses shell control flow (if)");
                self.compound_list(&c.condition, depth);
                self.compound_list(&c.then, depth);
                for other in c.elses.iter().flatten() {
                    if let Some(condition) = &other.condition {
                        self.compound_list(condition, depth);
                    }
                    self.compound_list(&other.body, depth);
                }
            }
            C::WhileClause(w) | C::UntilClause(w) => {
                self.concern("control-flow", "uses shell control flow (while/until)");
                self.compound_list(&w.0, depth);
                self.compound_list(&w.1.list, depth);
            }
            C::Coprocess(c) => {
                self.concern("background", "starts a coprocess");
                self.command(&c.body, depth);
            }
            C::Arithmetic(a) => {
                self.concern("control-flow", "uses shell arithmetic (`(( … ))`)");
                self.word(&a.expr.value, depth);
                self.maybe_nested_subshells(&a.expr.value, depth);
            }
        }
    }

    /// `( (rm -rf /) )` can come back from the grammar as arithmetic; a
    /// shell that fails to evaluate it as arithmetic runs it as nested
    /// subshells. So its text is also walked as commands when it parses.
    fn maybe_nested_subshells(&mut self, text: &str, depth: usize) {
        let mut inner = Walker::default();
        inner.script(text, depth + 1);
        if inner.error.is_none() {
            self.commands.extend(inner.commands);
            for c in inner.concerns {
                self.concern(c.tag, c.text);
            }
        }
    }

    fn extended_test(&mut self, expr: &ast::ExtendedTestExpr, depth: usize) {
        use ast::ExtendedTestExpr as E;
        match expr {
            E::And(a, b) | E::Or(a, b) => {
                self.extended_test(a, depth);
                self.extended_test(b, depth);
            }
            E::Not(a) | E::Parenthesized(a) => self.extended_test(a, depth),
            E::UnaryTest(_, w) => {
                self.word(&w.value, depth);
            }
            E::BinaryTest(_, a, b) => {
                self.word(&a.value, depth);
                self.word(&b.value, depth);
            }
        }
    }

    fn redirect_list(&mut self, list: Option<&ast::RedirectList>, depth: usize) {
        for redirect in list.iter().flat_map(|l| l.0.iter()) {
            self.redirect(redirect, depth);
        }
    }

    /// Notes what a redirection does; returns the text it feeds on stdin
    /// (here-strings and here-documents).
    fn redirect(&mut self, redirect: &ast::IoRedirect, depth: usize) -> Option<String> {
        use ast::IoFileRedirectKind as K;
        use ast::IoFileRedirectTarget as T;
        match redirect {
            ast::IoRedirect::File(_, kind, target) => {
                match target {
                    T::Filename(word) => {
                        let file = self.word(&word.value, depth);
                        let writes =
                            matches!(kind, K::Write | K::Append | K::Clobber | K::ReadAndWrite);
                        self.file_redirect(&file, writes);
                    }
                    T::Fd(_) => {}
                    T::Duplicate(word) => {
                        // `>&word` with a word that is not a descriptor
                        // sends stdout and stderr to that file.
                        let file = self.word(&word.value, depth);
                        let is_fd = !file.dynamic
                            && (file.text == "-" || file.text.chars().all(|c| c.is_ascii_digit()));
                        if !is_fd {
                            self.file_redirect(&file, matches!(kind, K::DuplicateOutput));
                        }
                    }
                    T::ProcessSubstitution(_, sub) => self.compound_list(&sub.list, depth),
                }
                None
            }
            ast::IoRedirect::OutputAndError(word, _) => {
                let file = self.word(&word.value, depth);
                self.file_redirect(&file, true);
                None
            }
            ast::IoRedirect::HereString(_, word) => {
                let text = self.word(&word.value, depth);
                (!text.dynamic).then_some(text.text)
            }
            ast::IoRedirect::HereDocument(_, doc) => {
                if doc.requires_expansion {
                    self.heredoc_body(&doc.doc.value, depth);
                }
                Some(doc.doc.value.clone())
            }
        }
    }

    fn heredoc_body(&mut self, body: &str, depth: usize) {
        match guarded(|| brush_parser::word::parse_heredoc(body, &parser_options())) {
            Some(Ok(pieces)) => {
                let mut scratch = WordBuilder::default();
                self.pieces(body, &pieces, &mut scratch, depth);
            }
            Some(Err(e)) => self.fail(format!("here-document does not parse: {e}")),
            None => self.fail("the shell parser failed on a here-document"),
        }
    }

    fn file_redirect(&mut self, file: &Word, writes: bool) {
        // /dev/null swallows output or gives empty input: harmless.
        if !file.dynamic && file.text == "/dev/null" {
            return;
        }
        if writes {
            self.concern("redirect", format!("writes the file {}", file.text));
        } else {
            self.concern("redirect", format!("reads the file {} on stdin", file.text));
        }
    }

    fn simple(&mut self, simple: &ast::SimpleCommand, depth: usize) {
        // Taken now: commands nested in this one's words do not read it.
        let piped = self.piped.take();
        let mut words = Vec::new();
        let mut stdin = None;
        let items = simple
            .prefix
            .iter()
            .flat_map(|p| p.0.iter())
            .map(Some)
            .chain(std::iter::once(None))
            .chain(simple.suffix.iter().flat_map(|s| s.0.iter()).map(Some));
        for item in items {
            let Some(item) = item else {
                if let Some(name) = &simple.word_or_name {
                    words.extend(self.words_of(&name.value, depth));
                }
                continue;
            };
            use ast::CommandPrefixOrSuffixItem as I;
            match item {
                I::IoRedirect(r) => {
                    if let Some(text) = self.redirect(r, depth) {
                        stdin = Some((text, true));
                    }
                }
                I::Word(w) => words.extend(self.words_of(&w.value, depth)),
                I::AssignmentWord(_, w) => {
                    let word = self.word(&w.value, depth);
                    if words.is_empty() {
                        // Before the program: changes its environment
                        // (PATH, LD_PRELOAD, PAGER … can change what runs).
                        self.concern("env", format!("sets {} for the command", word.text));
                    } else {
                        words.push(word);
                    }
                }
                I::ProcessSubstitution(_, sub) => {
                    self.compound_list(&sub.list, depth);
                    words.push(Word {
                        text: "<(…)".into(),
                        dynamic: true,
                    });
                }
            }
        }
        let stdin = stdin.or(piped.map(|text| (text, false)));
        self.printed = literal_output(&words);
        self.resolve(words, stdin, depth);
    }

    /// The words one written word becomes: brace expansion first
    /// (`{rm,-rf,/}` is three words), then each parsed.
    fn words_of(&mut self, raw: &str, depth: usize) -> Vec<Word> {
        match brace_expand(raw) {
            Some(expanded) => expanded.iter().map(|w| self.word(w, depth)).collect(),
            None => vec![self.word(raw, depth)],
        }
    }

    /// Parses one word: quotes removed, substitutions inside it walked.
    fn word(&mut self, raw: &str, depth: usize) -> Word {
        let parsed = match guarded(|| brush_parser::word::parse(raw, &parser_options())) {
            Some(result) => result.map_err(|e| e.to_string()),
            None => Err("the shell parser failed on it".to_string()),
        };
        match parsed {
            Ok(pieces) => {
                let mut builder = WordBuilder::default();
                self.pieces(raw, &pieces, &mut builder, depth);
                builder.finish()
            }
            Err(e) => {
                self.fail(format!("the word {raw:?} does not parse: {e}"));
                Word {
                    text: raw.to_string(),
                    dynamic: true,
                }
            }
        }
    }

    fn pieces(
        &mut self,
        raw: &str,
        pieces: &[WordPieceWithSource],
        out: &mut WordBuilder,
        depth: usize,
    ) {
        for piece in pieces {
            let source = raw.get(piece.start_index..piece.end_index).unwrap_or("");
            match &piece.piece {
                WordPiece::Text(t) => out.unquoted(t),
                WordPiece::SingleQuotedText(t) => out.quoted(t),
                WordPiece::AnsiCQuotedText(t) => out.quoted(&decode_ansi_c(t)),
                WordPiece::DoubleQuotedSequence(inner)
                | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    out.in_quotes += 1;
                    self.pieces(raw, inner, out, depth);
                    out.in_quotes -= 1;
                }
                WordPiece::TildeExpansion(t) => match tilde_text(t) {
                    Some(text) => out.quoted(&text),
                    None => out.dynamic(source),
                },
                WordPiece::EscapeSequence(e) => out.quoted(e.strip_prefix('\\').unwrap_or(e)),
                WordPiece::ParameterExpansion(_) => out.dynamic(source),
                WordPiece::CommandSubstitution(inner) => {
                    self.script(inner, depth + 1);
                    out.dynamic(source);
                }
                WordPiece::BackquotedCommandSubstitution(inner) => {
                    self.script(&unescape_backquoted(inner), depth + 1);
                    out.dynamic(source);
                }
                WordPiece::ArithmeticExpression(expr) => {
                    // `$(( $(cmd) ))` runs cmd: walk the expression as a word.
                    let _ = self.word(&expr.value, depth + 1);
                    out.dynamic(source);
                }
            }
        }
    }

    /// Looks through wrappers and command strings; records the command.
    fn resolve(&mut self, words: Vec<Word>, stdin: StdinText, depth: usize) {
        if self.commands.len() >= MAX_COMMANDS {
            self.fail(format!("more than {MAX_COMMANDS} commands"));
            return;
        }
        let raw: Vec<String> = words.iter().map(|w| w.text.clone()).collect();
        let mut rest = words;
        // Ends: every wrapper step continues with fewer words.
        while let Some(first) = rest.first() {
            if first.dynamic {
                self.dynamic_program(&rest, stdin.clone(), depth);
                self.push(rest, raw);
                return;
            }
            if !in_system_dir(&first.text) {
                // `/tmp/x/df` is matched as `df` (so deny rules see it), but
                // it is not the system's df: never auto.
                self.concern(
                    "path",
                    format!("runs {} from outside the system directories", first.text),
                );
            }
            let name = program_name(&first.text);
            rest[0].text = name.clone();
            let known_stdin = stdin.as_ref().map(|(text, exact)| (text.as_str(), *exact));
            match self.look_through(&name, &rest, known_stdin, depth) {
                Step::Inner(inner) => rest = inner,
                Step::Replaced => return,
                Step::Done => break,
            }
        }
        if rest.first().is_some_and(|w| w.text == "find") {
            self.find_exec(&rest, depth);
        }
        self.push(rest, raw);
    }

    fn push(&mut self, words: Vec<Word>, raw: Vec<String>) {
        if words.iter().any(|w| w.dynamic) {
            self.concern(
                "dynamic",
                "a word is only known at run time (variable, substitution, glob)",
            );
        }
        self.commands.push(SimpleCommand { words, raw });
    }

    /// `$X rm -rf /`: X may be empty or a wrapper, so what follows is
    /// checked as a command of its own as well.
    fn dynamic_program(&mut self, words: &[Word], stdin: StdinText, depth: usize) {
        self.concern("dynamic", "the program is only known at run time");
        let after: Vec<Word> = words.iter().skip_while(|w| w.dynamic).cloned().collect();
        if !after.is_empty() && self.commands.len() < MAX_COMMANDS {
            self.resolve(after, stdin, depth);
        }
    }

    fn look_through(
        &mut self,
        name: &str,
        words: &[Word],
        stdin: Option<(&str, bool)>,
        depth: usize,
    ) -> Step {
        if let Some(spec) = WRAPPERS.iter().find(|w| w.name == name) {
            return self.wrapper(spec, words, depth);
        }
        if SHELLS.contains(&name) {
            return self.shell(words, stdin, depth);
        }
        match name {
            "eval" => self.eval(words, depth),
            "watch" => self.watch(words, depth),
            "su" | "runuser" => self.su(words, depth),
            "busybox" => match words.get(1) {
                Some(next) if !next.text.starts_with('-') => Step::Inner(words[1..].to_vec()),
                _ => Step::Done,
            },
            _ => Step::Done,
        }
    }

    fn wrapper(&mut self, spec: &WrapperSpec, words: &[Word], depth: usize) -> Step {
        let mut i = 1;
        while let Some(word) = words.get(i) {
            let text = word.text.as_str();
            if word.dynamic {
                self.concern(
                    "dynamic",
                    format!("an option of {} is only known at run time", spec.name),
                );
                return Step::Done;
            }
            if text == "--" {
                i += 1;
                break;
            }
            if spec.assignments && is_assignment(text) {
                self.concern("env", format!("sets {text} for the command"));
                i += 1;
                continue;
            }
            if !text.starts_with('-') || text == "-" {
                if text == "-" && spec.name == "env" {
                    i += 1;
                    continue;
                }
                break;
            }
            let mut value_in_next_word = false;
            for (option, attached) in option_cluster(text) {
                if spec.stops.contains(&option.as_str()) {
                    return Step::Done;
                }
                if spec.script_options.contains(&option.as_str()) {
                    return self.option_script(words.get(i + 1), attached, depth);
                }
                if spec.writes.contains(&option.as_str()) {
                    self.concern("redirect", format!("{} {option} writes a file", spec.name));
                }
                if spec.values.contains(&option.as_str()) {
                    value_in_next_word = attached.is_none();
                    break;
                }
            }
            i += if value_in_next_word { 2 } else { 1 };
        }
        if spec.name == "flock" {
            self.concern("redirect", "flock creates its lock file");
        }
        i += spec.positionals;
        // `flock FILE -c CMD`: the command-line option after the operand.
        if let Some(word) = words.get(i)
            && !word.dynamic
            && let (option, attached) = split_option(&word.text)
            && spec.script_options.contains(&option.as_str())
        {
            return self.option_script(words.get(i + 1), attached, depth);
        }
        if i >= words.len() {
            return Step::Done;
        }
        if spec.args_from_stdin {
            self.concern(
                "dynamic",
                format!("{} adds arguments read from stdin", spec.name),
            );
        }
        Step::Inner(words[i..].to_vec())
    }

    /// The value of `env -S`/`flock -c` is a command line.
    fn option_script(
        &mut self,
        next: Option<&Word>,
        attached: Option<String>,
        depth: usize,
    ) -> Step {
        let value = match (attached, next) {
            (Some(v), _) => Word::literal(v),
            (None, Some(w)) => w.clone(),
            (None, None) => return Step::Done,
        };
        if value.dynamic {
            self.concern("opaque", "runs a command string only known at run time");
            return Step::Done;
        }
        self.script(&value.text, depth + 1);
        Step::Replaced
    }

    /// `sh -c STRING`, `bash <<< STRING`; `sh FILE` stays a command.
    fn shell(&mut self, words: &[Word], stdin: Option<(&str, bool)>, depth: usize) -> Step {
        let mut i = 1;
        let (mut command_mode, mut stdin_mode) = (false, false);
        while let Some(word) = words.get(i) {
            let text = word.text.as_str();
            if word.dynamic {
                self.concern("dynamic", "a shell option is only known at run time");
                return Step::Done;
            }
            if text == "--" || text == "-" {
                i += 1;
                break;
            }
            if !(text.starts_with('-') || text.starts_with('+')) || text.len() < 2 {
                break;
            }
            if text.starts_with("--") {
                i += if matches!(text, "--rcfile" | "--init-file") {
                    2
                } else {
                    1
                };
                continue;
            }
            let flags = &text[1..];
            command_mode |= flags.contains('c');
            stdin_mode |= flags.contains('s');
            // -o NAME / -O NAME take the next word.
            i += if flags.contains('o') || flags.contains('O') {
                2
            } else {
                1
            };
        }
        if command_mode {
            let Some(script) = words.get(i) else {
                return Step::Done;
            };
            if script.dynamic {
                self.concern("opaque", "runs a command string only known at run time");
                return Step::Done;
            }
            self.script(&script.text, depth + 1);
            return Step::Replaced;
        }
        if i < words.len() && !stdin_mode {
            // Runs a script file: the command is `sh FILE`.
            return Step::Done;
        }
        match stdin {
            Some((script, exact)) => {
                if !exact {
                    self.concern(
                        "opaque",
                        "a shell reads commands piped from another command",
                    );
                }
                self.script(script, depth + 1);
                Step::Replaced
            }
            None => {
                self.concern("opaque", "a shell reads commands from its input");
                Step::Done
            }
        }
    }

    /// `watch [options] CMD…`: the words are joined and run by `sh -c`
    /// (with `-x`/`--exec`, run as they are), again and again.
    fn watch(&mut self, words: &[Word], depth: usize) -> Step {
        self.concern("background", "runs repeatedly until stopped (watch)");
        let mut i = 1;
        let mut exec = false;
        while let Some(word) = words.get(i) {
            let text = word.text.as_str();
            if word.dynamic || !text.starts_with('-') {
                break;
            }
            i += 1;
            if text == "--" {
                break;
            }
            let (option, attached) = split_option(text);
            exec |= option == "-x" || option == "--exec";
            if matches!(option.as_str(), "-n" | "--interval") && attached.is_none() {
                i += 1;
            }
        }
        let rest = words.get(i..).unwrap_or_default();
        if rest.is_empty() {
            return Step::Done;
        }
        if exec {
            return Step::Inner(rest.to_vec());
        }
        if rest.iter().any(|w| w.dynamic) {
            self.concern("opaque", "runs a command string only known at run time");
            return Step::Done;
        }
        let script: Vec<&str> = rest.iter().map(|w| w.text.as_str()).collect();
        self.script(&script.join(" "), depth + 1);
        Step::Replaced
    }

    fn eval(&mut self, words: &[Word], depth: usize) -> Step {
        if words.len() < 2 {
            return Step::Done;
        }
        if words[1..].iter().any(|w| w.dynamic) {
            self.concern("opaque", "eval of text only known at run time");
            return Step::Done;
        }
        let script: Vec<&str> = words[1..].iter().map(|w| w.text.as_str()).collect();
        self.script(&script.join(" "), depth + 1);
        Step::Replaced
    }

    /// `su [-] [USER] -c STRING`: the string is a command line.
    fn su(&mut self, words: &[Word], depth: usize) -> Step {
        let mut i = 1;
        while let Some(word) = words.get(i) {
            let (option, attached) = split_option(&word.text);
            if option == "-c" || option == "--command" {
                let script = match attached {
                    Some(v) => Word::literal(v),
                    None => match words.get(i + 1) {
                        Some(w) => w.clone(),
                        None => return Step::Done,
                    },
                };
                if script.dynamic || word.dynamic {
                    self.concern("opaque", "runs a command string only known at run time");
                    return Step::Done;
                }
                self.script(&script.text, depth + 1);
                return Step::Replaced;
            }
            i += 1;
        }
        Step::Done
    }

    /// `find … -exec CMD … ;` runs CMD: it is checked as a command too.
    fn find_exec(&mut self, words: &[Word], depth: usize) {
        let mut i = 1;
        while i < words.len() {
            if matches!(
                words[i].text.as_str(),
                "-exec" | "-execdir" | "-ok" | "-okdir"
            ) {
                let inner: Vec<Word> = words[i + 1..]
                    .iter()
                    .take_while(|w| w.text != ";" && w.text != "+")
                    .cloned()
                    .collect();
                i += inner.len() + 1;
                if !inner.is_empty() {
                    self.resolve(inner, None, depth + 1);
                }
            }
            i += 1;
        }
    }
}

enum Step {
    /// Continue with these words (the wrapper removed).
    Inner(Vec<Word>),
    /// The command was a command string; its commands are recorded.
    Replaced,
    /// This is the command.
    Done,
}

/// Accumulates one word from its pieces.
#[derive(Default)]
struct WordBuilder {
    text: String,
    dynamic: bool,
    in_quotes: usize,
    /// Position of the first unquoted glob character, if any.
    glob_at: Option<usize>,
    brace: bool,
}

impl WordBuilder {
    fn unquoted(&mut self, t: &str) {
        if self.in_quotes > 0 {
            self.text.push_str(t);
            return;
        }
        if self.glob_at.is_none()
            && let Some(pos) = t.find(['*', '?', '['])
        {
            self.glob_at = Some(self.text.len() + pos);
        }
        if t.contains('{') && t.contains('}') && (t.contains(',') || t.contains("..")) {
            self.brace = true;
        }
        self.text.push_str(t);
    }

    fn quoted(&mut self, t: &str) {
        self.text.push_str(t);
    }

    fn dynamic(&mut self, source: &str) {
        self.dynamic = true;
        self.text.push_str(source);
    }

    fn finish(self) -> Word {
        // A glob keeps the literal text before its first wildcard, so
        // `/var/log/*` stays a path; `*` alone could expand to `-delete`.
        let risky_glob = self.glob_at == Some(0);
        Word {
            dynamic: self.dynamic || risky_glob || self.brace,
            text: self.text,
        }
    }
}

/// How to look through one wrapper program.
struct WrapperSpec {
    name: &'static str,
    /// Options that take a value (as the next word unless attached).
    values: &'static [&'static str],
    /// Options after which no command follows (the wrapper is the command).
    stops: &'static [&'static str],
    /// Options that make the wrapper write a file.
    writes: &'static [&'static str],
    /// Fixed operands between the options and the command.
    positionals: usize,
    /// `VAR=value` words before the command.
    assignments: bool,
    /// The command gets more arguments at run time.
    args_from_stdin: bool,
    /// Options whose value is a command line (`env -S`, `flock -c`).
    script_options: &'static [&'static str],
}

const fn wrapper(name: &'static str, values: &'static [&'static str]) -> WrapperSpec {
    WrapperSpec {
        name,
        values,
        stops: &[],
        writes: &[],
        positionals: 0,
        assignments: false,
        args_from_stdin: false,
        script_options: &[],
    }
}

/// Option names from each program's man page (sudo(8), env(1), nice(1),
/// timeout(1), stdbuf(1), ionice(1), chroot(8), xargs(1), time(1)).
const WRAPPERS: &[WrapperSpec] = &[
    WrapperSpec {
        stops: &[
            "-e",
            "--edit",
            "-l",
            "--list",
            "-v",
            "--validate",
            "-k",
            "-K",
            "-V",
            "--version",
            "-h",
            "--help",
        ],
        ..wrapper(
            "sudo",
            &[
                "-C",
                "--close-from",
                "-D",
                "--chdir",
                "-g",
                "--group",
                "-p",
                "--prompt",
                "-R",
                "--chroot",
                "-r",
                "--role",
                "-T",
                "--command-timeout",
                "-t",
                "--type",
                "-U",
                "--other-user",
                "-u",
                "--user",
                "--host",
            ],
        )
    },
    wrapper("doas", &["-u", "-C"]),
    WrapperSpec {
        assignments: true,
        script_options: &["-S", "--split-string"],
        stops: &["--help", "--version", "--list-signal-handling"],
        ..wrapper("env", &["-u", "--unset", "-C", "--chdir", "-a", "--argv0"])
    },
    WrapperSpec {
        stops: &["-v", "-V"],
        ..wrapper("command", &[])
    },
    wrapper("builtin", &[]),
    wrapper("exec", &["-a"]),
    wrapper("nice", &["-n", "--adjustment"]),
    wrapper("nohup", &[]),
    WrapperSpec {
        positionals: 1,
        ..wrapper("timeout", &["-s", "--signal", "-k", "--kill-after"])
    },
    wrapper(
        "stdbuf",
        &["-i", "--input", "-o", "--output", "-e", "--error"],
    ),
    WrapperSpec {
        stops: &["-p", "--pid", "-P", "--pgid", "-u", "--uid"],
        ..wrapper("ionice", &["-c", "--class", "-n", "--classdata"])
    },
    WrapperSpec {
        positionals: 1,
        ..wrapper("chroot", &["--userspec", "--groups"])
    },
    WrapperSpec {
        args_from_stdin: true,
        ..wrapper(
            "xargs",
            &[
                "-a",
                "--arg-file",
                "-d",
                "--delimiter",
                "-E",
                "-I",
                "-L",
                "-n",
                "--max-args",
                "-P",
                "--max-procs",
                "-s",
                "--max-chars",
                "--process-slot-var",
            ],
        )
    },
    WrapperSpec {
        writes: &["-o", "--output"],
        ..wrapper("time", &["-o", "--output", "-f", "--format"])
    },
    wrapper("setsid", &[]),
    wrapper("unbuffer", &[]),
    WrapperSpec {
        positionals: 1,
        stops: &["-p", "--pid"],
        ..wrapper("taskset", &[])
    },
    WrapperSpec {
        positionals: 1,
        stops: &["-p", "--pid", "-m", "--max"],
        ..wrapper("chrt", &["-T", "-P", "-D"])
    },
    WrapperSpec {
        positionals: 1,
        script_options: &["-c", "--command"],
        ..wrapper("flock", &["-w", "--timeout", "-E", "--conflict-exit-code"])
    },
    WrapperSpec {
        stops: &["-p", "--attach"],
        writes: &["-o", "--output"],
        ..wrapper(
            "strace",
            &[
                "-o", "--output", "-e", "-s", "-u", "-P", "-a", "-b", "-I", "-O", "-S", "-X", "-E",
            ],
        )
    },
    WrapperSpec {
        stops: &["-p"],
        writes: &["-o", "--output"],
        ..wrapper(
            "ltrace",
            &["-o", "--output", "-e", "-s", "-u", "-n", "-a", "-l"],
        )
    },
];

const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "ash", "mksh"];

/// What `echo`/`printf` with literal words prints (roughly: escapes are
/// not interpreted), so a shell it is piped into can be checked.
fn literal_output(words: &[Word]) -> Option<String> {
    let program = program_name(&words.first()?.text);
    if !matches!(program.as_str(), "echo" | "printf") || words.iter().any(|w| w.dynamic) {
        return None;
    }
    let args: Vec<&str> = words[1..]
        .iter()
        .map(|w| w.text.as_str())
        .skip_while(|t| program == "echo" && matches!(*t, "-n" | "-e" | "-E"))
        .collect();
    Some(args.join(" "))
}

/// Runs a call into the parser. It is a dependency: a panic in it must not
/// take the gate down; the caller counts it as "did not parse".
fn guarded<T>(call: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).ok()
}

fn has_long_digit_run(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run > 18 {
            return true;
        }
    }
    false
}

/// A word expands to at most this many words; beyond, it is left as one
/// word only known at run time.
const MAX_BRACE_WORDS: usize = 64;

/// Bash brace expansion of one word (`a{b,c}` → `ab ac`, `x{1..3}`), with
/// the grammar's own reading of which braces expand; `None` when the word
/// has none (or too many results).
fn brace_expand(raw: &str) -> Option<Vec<String>> {
    use brush_parser::word::BraceExpressionOrText as B;
    if !raw.contains('{') {
        return None;
    }
    // The grammar panics on numbers beyond i64 in `{1..N}`; such a word is
    // left unexpanded (and so only known at run time).
    if has_long_digit_run(raw) {
        return None;
    }
    let pieces =
        guarded(|| brush_parser::word::parse_brace_expansions(raw, &parser_options()))?.ok()??;
    if !pieces.iter().any(|p| matches!(p, B::Expr(_))) {
        return None;
    }
    expand_pieces(&pieces)
}

fn expand_pieces(pieces: &[brush_parser::word::BraceExpressionOrText]) -> Option<Vec<String>> {
    use brush_parser::word::BraceExpressionOrText as B;
    let mut words = vec![String::new()];
    for piece in pieces {
        let alternatives = match piece {
            B::Text(text) => vec![text.clone()],
            B::Expr(members) => expand_members(members)?,
        };
        if words.len().saturating_mul(alternatives.len()) > MAX_BRACE_WORDS {
            return None;
        }
        words = words
            .iter()
            .flat_map(|w| alternatives.iter().map(move |a| format!("{w}{a}")))
            .collect();
    }
    Some(words)
}

fn expand_members(members: &[brush_parser::word::BraceExpressionMember]) -> Option<Vec<String>> {
    use brush_parser::word::BraceExpressionMember as M;
    let mut out = Vec::new();
    for member in members {
        match member {
            M::Child(inner) => out.extend(expand_pieces(inner)?),
            M::NumberSequence {
                start,
                end,
                increment,
            } => out.extend(sequence(*start, *end, *increment)?.map(|n| n.to_string())),
            M::CharSequence {
                start,
                end,
                increment,
            } => out.extend(
                sequence(
                    i64::from(u32::from(*start)),
                    i64::from(u32::from(*end)),
                    *increment,
                )?
                .filter_map(|n| u32::try_from(n).ok().and_then(char::from_u32))
                .map(String::from),
            ),
        }
        if out.len() > MAX_BRACE_WORDS {
            return None;
        }
    }
    Some(out)
}

/// `start..end` by `step` (either direction), if it is short enough.
fn sequence(start: i64, end: i64, step: i64) -> Option<impl Iterator<Item = i64>> {
    let step = step.checked_abs()?.max(1);
    let count = (start.abs_diff(end) / step.unsigned_abs()).saturating_add(1);
    if count > MAX_BRACE_WORDS as u64 {
        return None;
    }
    let down = start > end;
    Some((0..count).filter_map(move |k| {
        let offset = i64::try_from(k).ok()?.checked_mul(step)?;
        if down {
            start.checked_sub(offset)
        } else {
            start.checked_add(offset)
        }
    }))
}

/// Directories a path-qualified program may come from and still be the
/// system's program.
const SYSTEM_DIRS: &[&str] = &[
    "/bin",
    "/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/usr/local/bin",
    "/usr/local/sbin",
];

/// A bare name (looked up in PATH) or a path in a system directory.
fn in_system_dir(text: &str) -> bool {
    match text.rsplit_once('/') {
        None => true,
        Some((dir, _)) => SYSTEM_DIRS.contains(&dir),
    }
}

/// `/usr/bin/rm` → `rm`.
fn program_name(text: &str) -> String {
    match text.rsplit_once('/') {
        Some((_, name)) if !name.is_empty() => name.to_string(),
        _ => text.to_string(),
    }
}

fn is_assignment(text: &str) -> bool {
    match text.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

/// `--name=value` → (`--name`, value); `-uroot` → (`-u`, `root`);
/// `-x` → (`-x`, None).
pub fn split_option(text: &str) -> (String, Option<String>) {
    if let Some(long) = text.strip_prefix("--") {
        return match long.split_once('=') {
            Some((name, value)) => (format!("--{name}"), Some(value.to_string())),
            None => (text.to_string(), None),
        };
    }
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some('-'), Some(c)) => {
            let rest = chars.as_str();
            (
                format!("-{c}"),
                (!rest.is_empty()).then(|| rest.to_string()),
            )
        }
        _ => (text.to_string(), None),
    }
}

/// `~`, `~user`, `~+`, `~-` as written; directory-stack forms (`~2`) are
/// only known at run time.
/// The options in one word, each with the rest of the word after it (its
/// value, if it takes one): `--user=x` → `--user` `x`; `-nu root` →
/// `-n` (`u`), `-u` (none).
fn option_cluster(text: &str) -> Vec<(String, Option<String>)> {
    if text.starts_with("--") {
        return vec![split_option(text)];
    }
    let flags = text.strip_prefix('-').unwrap_or(text);
    flags
        .char_indices()
        .map(|(at, flag)| {
            let rest = &flags[at + flag.len_utf8()..];
            (
                format!("-{flag}"),
                (!rest.is_empty()).then(|| rest.to_string()),
            )
        })
        .collect()
}

fn tilde_text(t: &TildeExpr) -> Option<String> {
    match t {
        TildeExpr::Home => Some("~".into()),
        TildeExpr::UserHome(user) => Some(format!("~{user}")),
        TildeExpr::WorkingDir => Some("~+".into()),
        TildeExpr::OldWorkingDir => Some("~-".into()),
        _ => None,
    }
}

/// Inside backquotes, `\\`, `` \` `` and `\$` stand for the character.
fn unescape_backquoted(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && matches!(next, '\\' | '`' | '$')
        {
            out.push(next);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// The value of a `$'…'` string (bash's ANSI-C quoting), so `$'\x72m'` is
/// seen as `rm`.
pub fn decode_ansi_c(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'e' | 'E' => out.push('\x1b'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            'x' => push_code(&mut out, take_digits(&mut chars, 16, 2), 16),
            'u' => push_code(&mut out, take_digits(&mut chars, 16, 4), 16),
            'U' => push_code(&mut out, take_digits(&mut chars, 16, 8), 16),
            '0'..='7' => {
                let mut digits = e.to_string();
                digits.push_str(&take_digits(&mut chars, 8, 2));
                push_code(&mut out, digits, 8);
            }
            'c' => {
                if let Some(ctl) = chars.next() {
                    out.push(char::from((ctl as u32 & 0x1f) as u8));
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn take_digits(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    radix: u32,
    max: usize,
) -> String {
    let mut digits = String::new();
    while digits.len() < max
        && let Some(&c) = chars.peek()
        && c.is_digit(radix)
    {
        digits.push(c);
        chars.next();
    }
    digits
}

fn push_code(out: &mut String, digits: String, radix: u32) {
    let code = u32::from_str_radix(&digits, radix)
        .ok()
        .and_then(char::from_u32);
    if let Some(c) = code {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<String>> {
        parse(text).commands.iter().map(|c| c.texts()).collect()
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn programs_are_reduced_to_their_name() {
        for text in [
            r"\rm -rf /",
            "/bin/rm -rf /",
            "\"rm\" -rf /",
            "'r'm -rf /",
            "$'\\x72m' -rf /",
            "rm \\\n -rf /",
        ] {
            assert_eq!(words(text), vec![v(&["rm", "-rf", "/"])], "{text}");
        }
    }

    #[test]
    fn wrappers_are_looked_through() {
        for text in [
            "sudo -u root rm -rf /",
            "sudo -E -- rm -rf /",
            "env -u BAR FOO=1 rm -rf /",
            "nice -n 5 nohup timeout -s KILL 10s stdbuf -oL ionice -c 3 rm -rf /",
            "chroot /mnt rm -rf /",
            "command exec -a x rm -rf /",
            "busybox rm -rf /",
            "sh -c 'bash -c \"rm -rf /\"'",
            "eval rm -rf /",
            "bash <<< 'rm -rf /'",
            "su - root -c 'rm -rf /'",
        ] {
            assert_eq!(words(text), vec![v(&["rm", "-rf", "/"])], "{text}");
        }
    }

    #[test]
    fn substitutions_and_lists_are_walked() {
        let all = words("echo $(rm -rf /) `ls` && (cd /; df) | grep x");
        assert!(all.contains(&v(&["rm", "-rf", "/"])), "{all:?}");
        assert!(all.contains(&v(&["ls"])), "{all:?}");
        assert!(all.contains(&v(&["df"])), "{all:?}");
        assert!(all.contains(&v(&["grep", "x"])), "{all:?}");
    }

    #[test]
    fn concerns_are_recorded() {
        assert!(
            parse("df > /tmp/x")
                .concerns
                .iter()
                .any(|c| c.tag == "redirect")
        );
        assert!(parse("df 2>/dev/null").concerns.is_empty());
        assert!(parse("df 2>&1").concerns.is_empty());
        assert!(parse("FOO=1 df").concerns.iter().any(|c| c.tag == "env"));
        assert!(parse("$X df").concerns.iter().any(|c| c.tag == "dynamic"));
        assert!(parse("ls *").concerns.iter().any(|c| c.tag == "dynamic"));
        assert!(parse("du -sh /var/*").concerns.is_empty());
        assert!(
            parse("uptime &")
                .concerns
                .iter()
                .any(|c| c.tag == "background")
        );
        assert!(
            parse("echo x | sh")
                .concerns
                .iter()
                .any(|c| c.tag == "opaque")
        );
    }

    #[test]
    fn bad_input_does_not_parse() {
        for text in [
            "ls 'open",
            "a\0b",
            "if then fi",
            "(((",
            &"x".repeat(70_000),
            &"(".repeat(5000),
        ] {
            let p = parse(text);
            assert!(!p.parsed(), "{:?}", text.get(..40));
        }
        let deep = (0..12).fold("ls".to_string(), |acc, _| format!("echo $({acc})"));
        assert!(!parse(&deep).parsed());
        assert!(!parse(&format!("{}ls", "eval ".repeat(12))).parsed());
        let quoted = (0..4).fold("ls".to_string(), |acc, _| {
            format!("sh -c {}", crate::transport::shell_quote(&acc))
        });
        assert_eq!(words(&quoted), vec![v(&["ls"])]);
    }

    #[test]
    fn options_split() {
        assert_eq!(
            split_option("--lines=5"),
            ("--lines".into(), Some("5".into()))
        );
        assert_eq!(split_option("-uroot"), ("-u".into(), Some("root".into())));
        assert_eq!(split_option("-x"), ("-x".into(), None));
    }
}
