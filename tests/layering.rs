//! Guards the one direction of imports inside `src/`: a top-level module may import only modules
//! in lower layers, as listed in the ```` ```layers ```` block of `ARCHITECTURE.md`.
//!
//! The test uses std only and does not link the library, so it also runs on its own:
//! `rustc --edition 2024 --test tests/layering.rs -o /tmp/layering && /tmp/layering`, started
//! from the crate root.
//!
//! Environment:
//! - `LAYERING_ARCHITECTURE=/path/to/ARCHITECTURE.md` reads the layers block from that file
//!   instead, to try a proposed order against the current tree without editing the real file.
//! - `LAYERING_ALLOW_MISSING=1` accepts layer names that have no module under `src/` yet
//!   (modules a refactor is about to create). This is for trying an order out; without it a name
//!   with no module is an error, so a typo or a removed module cannot leave a silent hole.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

/// Modules that never draw, so they must not name a terminal UI crate. `config` is left out on
/// purpose: themes are ratatui styles.
const SCREEN_FREE: &[&str] = &[
    "gate",
    "agent",
    "transport",
    "sources",
    "logs",
    "secrets",
    "cost",
    "metrics",
    "containers",
    "text",
    "channel",
    "action",
];
const TERMINAL_CRATES: &[&str] = &["ratatui", "crossterm"];
/// What the gate must never reach: it is a security boundary with no screen in it.
const GATE_MUST_NOT_IMPORT: &[&str] = &["app", "ui"];

// ---------------------------------------------------------------------------------------------
// Tokens: just enough of Rust's lexer to see code without its comments and literals.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Star,
    Dollar,
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    out: Vec<Token>,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    /// Moves one character on, counting lines so every token keeps its source line.
    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn push(&mut self, tok: Tok, line: usize) {
        self.out.push(Token { tok, line });
    }

    fn skip_line_comment(&mut self) {
        while self.peek(0).is_some_and(|c| c != '\n') {
            self.bump();
        }
    }

    /// Block comments nest in Rust, so `/* a /* b */ c */` is one comment.
    fn skip_block_comment(&mut self) {
        self.pos += 2;
        let mut depth = 1;
        while depth > 0 {
            match (self.peek(0), self.peek(1)) {
                (Some('/'), Some('*')) => {
                    self.pos += 2;
                    depth += 1;
                }
                (Some('*'), Some('/')) => {
                    self.pos += 2;
                    depth -= 1;
                }
                (Some(_), _) => {
                    self.bump();
                }
                (None, _) => return,
            }
        }
    }

    /// Skips the rest of a quoted literal whose opening quote is already consumed.
    fn skip_quoted(&mut self, close: char) {
        while let Some(c) = self.bump() {
            if c == '\\' {
                self.bump();
            } else if c == close {
                return;
            }
        }
    }

    /// `'x'`, `'\n'` and `'"'` are char literals; `'a` and `'static` are lifetimes or labels.
    fn skip_char_or_lifetime(&mut self) {
        if self.peek(1) == Some('\\') {
            self.bump();
            self.skip_quoted('\'');
        } else if self.peek(2) == Some('\'') {
            self.pos += 3;
        } else {
            self.bump();
            self.read_word();
        }
    }

    fn read_word(&mut self) -> String {
        let start = self.pos;
        while self
            .peek(0)
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// An identifier, or the prefix of `r"…"`, `r#"…"#`, `b"…"`, `br#"…"#`, `c"…"`, `b'x'`.
    fn ident_or_prefixed_literal(&mut self) {
        let line = self.line;
        let word = self.read_word();
        let next = self.peek(0);
        if matches!(word.as_str(), "r" | "br" | "cr") && matches!(next, Some('"' | '#')) {
            let hashes = self.chars[self.pos..]
                .iter()
                .take_while(|&&c| c == '#')
                .count();
            if self.peek(hashes) == Some('"') {
                self.pos += hashes + 1;
                self.skip_raw_string(hashes);
                return;
            }
            if word == "r" && hashes == 1 {
                // A raw identifier such as `r#type`.
                self.pos += 1;
                let ident = self.read_word();
                self.push(Tok::Ident(ident), line);
                return;
            }
        }
        if matches!(word.as_str(), "b" | "c") && next == Some('"') {
            self.bump();
            self.skip_quoted('"');
        } else if word == "b" && next == Some('\'') {
            self.skip_char_or_lifetime();
        } else {
            self.push(Tok::Ident(word), line);
        }
    }

    /// A raw string ends at a `"` followed by as many `#` as it opened with.
    fn skip_raw_string(&mut self, hashes: usize) {
        while let Some(c) = self.bump() {
            if c == '"' && (0..hashes).all(|n| self.peek(n) == Some('#')) {
                self.pos += hashes;
                return;
            }
        }
    }

    fn skip_number(&mut self) {
        while self
            .peek(0)
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            self.pos += 1;
        }
    }

    fn punct(&mut self, c: char) {
        let line = self.line;
        let tok = match c {
            '{' => Tok::Open,
            '}' => Tok::Close,
            ',' => Tok::Comma,
            '*' => Tok::Star,
            '$' => Tok::Dollar,
            other => Tok::Punct(other),
        };
        self.push(tok, line);
        self.bump();
    }
}

/// The code of a Rust source as tokens, without comments, strings and char literals.
fn tokenize(src: &str) -> Vec<Token> {
    let mut lx = Lexer {
        chars: src.chars().collect(),
        pos: 0,
        line: 1,
        out: Vec::new(),
    };
    while let Some(c) = lx.peek(0) {
        match (c, lx.peek(1)) {
            ('/', Some('/')) => lx.skip_line_comment(),
            ('/', Some('*')) => lx.skip_block_comment(),
            ('"', _) => {
                lx.bump();
                lx.skip_quoted('"');
            }
            ('\'', _) => lx.skip_char_or_lifetime(),
            (':', Some(':')) => {
                let line = lx.line;
                lx.push(Tok::PathSep, line);
                lx.pos += 2;
            }
            _ if c.is_alphabetic() || c == '_' => lx.ident_or_prefixed_literal(),
            _ if c.is_ascii_digit() => lx.skip_number(),
            _ if c.is_whitespace() => {
                lx.bump();
            }
            _ => lx.punct(c),
        }
    }
    lx.out
}

fn ident_at(toks: &[Token], i: usize) -> Option<&str> {
    match &toks.get(i)?.tok {
        Tok::Ident(word) => Some(word),
        _ => None,
    }
}

fn tok_at(toks: &[Token], i: usize) -> Option<&Tok> {
    toks.get(i).map(|t| &t.tok)
}

// ---------------------------------------------------------------------------------------------
// Paths that name items of this crate.
// ---------------------------------------------------------------------------------------------

/// A path to an item of this crate made absolute: `segments` start right below the crate root.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CratePath {
    segments: Vec<String>,
    line: usize,
}

impl CratePath {
    fn shown(&self) -> String {
        format!("crate::{}", self.segments.join("::"))
    }
}

/// The module a file defines: `gate/store.rs` → `gate::store`, `gate/mod.rs` → `gate`,
/// `lib.rs` and `main.rs` → the crate root (empty). `rel` is relative to `src/`, `/`-separated.
fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel.split('/').map(str::to_owned).collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.strip_suffix(".rs").unwrap_or(&file);
    let crate_root = parts.is_empty() && matches!(stem, "lib" | "main");
    if !crate_root && stem != "mod" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The module the code at a token is in: the file's module plus the inline `mod x { … }` blocks
/// around it, so `use super::*` inside `mod tests` resolves to the file's own module.
struct ModuleScope {
    file_module: Vec<String>,
    inline: Vec<(String, usize)>,
    depth: usize,
}

impl ModuleScope {
    fn track(&mut self, toks: &[Token], i: usize) {
        match tok_at(toks, i) {
            Some(Tok::Open) => {
                self.depth += 1;
                if i >= 2
                    && ident_at(toks, i - 2) == Some("mod")
                    && let Some(name) = ident_at(toks, i - 1)
                {
                    self.inline.push((name.to_owned(), self.depth));
                }
            }
            Some(Tok::Close) => {
                if self.inline.last().is_some_and(|(_, d)| *d == self.depth) {
                    self.inline.pop();
                }
                self.depth = self.depth.saturating_sub(1);
            }
            _ => {}
        }
    }

    fn current(&self) -> Vec<String> {
        let inline = self.inline.iter().map(|(name, _)| name.clone());
        self.file_module.iter().cloned().chain(inline).collect()
    }
}

/// If a path relative to this crate (`crate::`, `$crate::`, `self::`, `super::super::`) starts at
/// token `i`: the absolute module it starts from and the index of the token after the prefix.
fn resolve_prefix(toks: &[Token], i: usize, current: &[String]) -> Option<(Vec<String>, usize)> {
    if i > 0 && tok_at(toks, i - 1) == Some(&Tok::PathSep) {
        // A later segment of a longer path, such as the second `super` of `super::super`.
        return None;
    }
    if i > 0 && tok_at(toks, i - 1) == Some(&Tok::Dollar) {
        // The `crate` of `$crate`, already taken at the `$`.
        return None;
    }
    let (mut base, mut j) = match (tok_at(toks, i)?, ident_at(toks, i + 1)) {
        (Tok::Ident(w), _) if w == "crate" => (Vec::new(), i + 1),
        (Tok::Dollar, Some("crate")) => (Vec::new(), i + 2),
        (Tok::Ident(w), _) if w == "self" => (current.to_vec(), i + 1),
        (Tok::Ident(w), _) if w == "super" => {
            let mut parent = current.to_vec();
            parent.pop()?;
            (parent, i + 1)
        }
        _ => return None,
    };
    if tok_at(toks, j) != Some(&Tok::PathSep) {
        return None;
    }
    j += 1;
    while ident_at(toks, j) == Some("super") && tok_at(toks, j + 1) == Some(&Tok::PathSep) {
        base.pop()?;
        j += 2;
    }
    Some((base, j))
}

/// Expands the path or use tree at token `j` below `prefix` into one path per leaf
/// (`app::{a, b::{c, self}}` → `app::a`, `app::b::c`, `app::b`). Returns the index after it.
fn expand_tree(toks: &[Token], mut j: usize, prefix: &[String], out: &mut Vec<CratePath>) -> usize {
    let mut path = prefix.to_vec();
    if ident_at(toks, j) == Some("self") && tok_at(toks, j + 1) != Some(&Tok::PathSep) {
        // `self` in a group names the group's prefix itself.
        out.push(CratePath {
            segments: path,
            line: toks[j].line,
        });
        return j + 1;
    }
    loop {
        match tok_at(toks, j) {
            Some(Tok::Ident(word)) => {
                path.push(word.clone());
                let line = toks[j].line;
                j += 1;
                if tok_at(toks, j) != Some(&Tok::PathSep) {
                    out.push(CratePath {
                        segments: path,
                        line,
                    });
                    return j;
                }
                j += 1;
            }
            Some(Tok::Star) => {
                path.push("*".to_owned());
                out.push(CratePath {
                    segments: path,
                    line: toks[j].line,
                });
                return j + 1;
            }
            Some(Tok::Open) => return expand_group(toks, j + 1, &path, out),
            // The path went on with something else (`::<T>` turbofish): keep what names items.
            _ => {
                if path.len() > prefix.len() {
                    let line = toks[j.saturating_sub(1)].line;
                    out.push(CratePath {
                        segments: path,
                        line,
                    });
                }
                return j;
            }
        }
    }
}

/// Expands `a, b::c as d, …}` (the `{` already consumed). Returns the index after the `}`.
fn expand_group(
    toks: &[Token],
    mut j: usize,
    prefix: &[String],
    out: &mut Vec<CratePath>,
) -> usize {
    loop {
        match tok_at(toks, j) {
            None => return j,
            Some(Tok::Close) => return j + 1,
            Some(Tok::Comma) => j += 1,
            Some(_) => {
                let before = j;
                j = skip_to_group_separator(toks, expand_tree(toks, j, prefix, out));
                if j == before {
                    j += 1;
                }
            }
        }
    }
}

/// Skips `as name` (or anything unexpected) up to the `,` or `}` that ends a group member.
fn skip_to_group_separator(toks: &[Token], mut j: usize) -> usize {
    let mut nested = 0usize;
    while let Some(tok) = tok_at(toks, j) {
        match tok {
            Tok::Comma | Tok::Close if nested == 0 => return j,
            Tok::Open => nested += 1,
            Tok::Close => nested -= 1,
            _ => {}
        }
        j += 1;
    }
    j
}

/// Every path in the code of `src` that names an item of this crate, made absolute.
/// `file_module` is the module the file defines (see [`module_path`]).
fn crate_paths(src: &str, file_module: &[String]) -> Vec<CratePath> {
    let toks = tokenize(src);
    let mut scope = ModuleScope {
        file_module: file_module.to_vec(),
        inline: Vec::new(),
        depth: 0,
    };
    let mut found = Vec::new();
    for i in 0..toks.len() {
        scope.track(&toks, i);
        if let Some((base, j)) = resolve_prefix(&toks, i, &scope.current()) {
            expand_tree(&toks, j, &base, &mut found);
        }
    }
    found
}

/// Lines where code names a terminal UI crate (`use ratatui…`, `crossterm::…`), with the crate.
fn terminal_crate_uses(src: &str) -> Vec<(usize, String)> {
    let toks = tokenize(src);
    let mut found: Vec<(usize, String)> = Vec::new();
    for (i, token) in toks.iter().enumerate() {
        let Tok::Ident(word) = &token.tok else {
            continue;
        };
        if !TERMINAL_CRATES.contains(&word.as_str()) {
            continue;
        }
        let prev = i.checked_sub(1).and_then(|p| tok_at(&toks, p));
        let before_prev = i.checked_sub(2).and_then(|p| tok_at(&toks, p));
        // `x::ratatui` is a later path segment, not the crate; a leading `::ratatui` is the crate.
        let later_segment =
            prev == Some(&Tok::PathSep) && matches!(before_prev, Some(Tok::Ident(_)));
        let used = tok_at(&toks, i + 1) == Some(&Tok::PathSep)
            || prev == Some(&Tok::Ident("use".to_owned()))
            || prev == Some(&Tok::Ident("crate".to_owned()));
        if used && !later_segment && !found.contains(&(token.line, word.clone())) {
            found.push((token.line, word.clone()));
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------
// The layers block.
// ---------------------------------------------------------------------------------------------

/// The modules of each layer, lowest first, from the ```` ```layers ```` fenced block.
fn parse_layers(markdown: &str) -> Result<Vec<Vec<String>>, String> {
    let mut lines = markdown.lines().enumerate();
    let fence = lines
        .by_ref()
        .find_map(|(_, line)| layers_fence(line))
        .ok_or("it has no ```layers block (a fenced code block whose info string is `layers`)")?;
    let mut layers: Vec<Vec<String>> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (number, line) in lines {
        if line.trim_start().starts_with(&fence) {
            return if layers.is_empty() {
                Err("its ```layers block is empty".to_owned())
            } else {
                Ok(layers)
            };
        }
        let code = line.split('#').next().unwrap_or_default();
        let names: Vec<String> = code
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect();
        for name in &names {
            check_layer_name(name, number + 1, &seen)?;
            seen.insert(name.clone(), number + 1);
        }
        if !names.is_empty() {
            layers.push(names);
        }
    }
    Err("its ```layers block is not closed".to_owned())
}

/// The fence (```` ``` ```` or `~~~`, as long as written) if `line` opens a `layers` block.
fn layers_fence(line: &str) -> Option<String> {
    let line = line.trim_start();
    let mark = line.chars().next().filter(|c| matches!(c, '`' | '~'))?;
    let fence: String = line.chars().take_while(|&c| c == mark).collect();
    let info = line[fence.len()..].split_whitespace().next();
    (fence.len() >= 3 && info == Some("layers")).then_some(fence)
}

fn check_layer_name(name: &str, line: usize, seen: &BTreeMap<String, usize>) -> Result<(), String> {
    let is_ident = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !is_ident {
        return Err(format!(
            "line {line} of its ```layers block: '{name}' is not a module name"
        ));
    }
    match seen.get(name) {
        Some(first) => Err(format!(
            "line {line} of its ```layers block: '{name}' is already listed on line {first}"
        )),
        None => Ok(()),
    }
}

/// Each listed module's layer number (0 = first line of the block = lowest).
fn layer_numbers(layers: &[Vec<String>]) -> BTreeMap<String, usize> {
    let numbered = layers.iter().enumerate();
    numbered
        .flat_map(|(n, names)| names.iter().map(move |name| (name.clone(), n)))
        .collect()
}

/// Layer names with no module under `src/`, and modules under `src/` in no layer.
/// Returns (problems, notes); missing modules are only notes when `allow_missing` is set.
fn check_layer_names(
    layers: &[Vec<String>],
    modules: &BTreeSet<String>,
    allow_missing: bool,
) -> (Vec<String>, Vec<String>) {
    let listed = layer_numbers(layers);
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    for (name, layer) in &listed {
        if !modules.contains(name) {
            let msg = format!(
                "layer {layer} names '{name}', but there is no src/{name}.rs or src/{name}/"
            );
            if allow_missing {
                notes.push(format!("{msg} (accepted: LAYERING_ALLOW_MISSING=1)"));
            } else {
                problems.push(msg);
            }
        }
    }
    for module in modules.iter().filter(|m| !listed.contains_key(*m)) {
        problems.push(format!(
            "module '{module}' (src/{module}.rs or src/{module}/) is in no layer"
        ));
    }
    (problems, notes)
}

// ---------------------------------------------------------------------------------------------
// Imports between top-level modules, the graph they form and the checks on it.
// ---------------------------------------------------------------------------------------------

/// One use, in a file of top-level module `from`, of a path into top-level module `to`.
#[derive(Debug, Clone)]
struct Import {
    file: String,
    line: usize,
    from: String,
    to: String,
    path: String,
}

impl Import {
    fn site(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// The imports in one file that cross into another top-level module. Paths into the crate root
/// itself (`crate::SomeReexport`, `use super::*` from a top-level file) name no module.
fn cross_module_imports(
    file: &str,
    file_module: &[String],
    src: &str,
    modules: &BTreeSet<String>,
) -> Vec<Import> {
    let Some(from) = file_module.first() else {
        return Vec::new();
    };
    let mut imports: Vec<Import> = Vec::new();
    for path in crate_paths(src, file_module) {
        let Some(to) = path
            .segments
            .first()
            .filter(|to| modules.contains(*to) && *to != from)
        else {
            continue;
        };
        let shown = path.shown();
        if !imports
            .iter()
            .any(|i| i.line == path.line && i.path == shown)
        {
            imports.push(Import {
                file: file.to_owned(),
                line: path.line,
                from: from.clone(),
                to: to.clone(),
                path: shown,
            });
        }
    }
    imports
}

/// Top-level module → modules it imports → one example site of that edge (the first seen).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn module_graph(imports: &[Import]) -> Graph {
    let mut graph = Graph::new();
    for import in imports {
        let edges = graph.entry(import.from.clone()).or_default();
        edges
            .entry(import.to.clone())
            .or_insert_with(|| import.site());
    }
    graph
}

/// The shortest chain of imports `from → … → to`, both ends included.
fn find_path(graph: &Graph, from: &str, to: &str) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    while let Some(node) = queue.pop_front() {
        if node == to {
            let mut path = vec![to.to_owned()];
            let mut at = to;
            while at != from {
                at = came_from[at];
                path.push(at.to_owned());
            }
            path.reverse();
            return Some(path);
        }
        for next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
            if next != from && !came_from.contains_key(next.as_str()) {
                came_from.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}

/// `cycle: a -> b -> a` and one example site per edge. `closing` is the site of the last edge
/// when the caller has a better example than the graph's first one.
fn describe_cycle(graph: &Graph, cycle: &[String], closing: Option<&str>) -> String {
    let mut text = format!("cycle: {}", cycle.join(" -> "));
    let edges = cycle.len().saturating_sub(1);
    for (n, pair) in cycle.windows(2).enumerate() {
        let site = match closing {
            Some(site) if n + 1 == edges => site.to_owned(),
            _ => graph[&pair[0]][&pair[1]].clone(),
        };
        let _ = write!(text, "\n        {} -> {}: {site}", pair[0], pair[1]);
    }
    text
}

/// One message per import that does not go down the layers, with the cycle it closes, if any.
fn layer_violations(
    imports: &[Import],
    layer_of: &BTreeMap<String, usize>,
    graph: &Graph,
) -> Vec<String> {
    let mut violations = Vec::new();
    for import in imports {
        let (Some(&from_layer), Some(&to_layer)) =
            (layer_of.get(&import.from), layer_of.get(&import.to))
        else {
            continue; // a module in no layer is reported on its own
        };
        if to_layer < from_layer {
            continue;
        }
        let mut msg = format!(
            "{}: imports {} (layer {to_layer} '{}'), which is not below '{}' (layer {from_layer})",
            import.site(),
            import.path,
            import.to,
            import.from
        );
        if let Some(mut cycle) = find_path(graph, &import.to, &import.from) {
            cycle.push(import.to.clone());
            let site = import.site();
            let _ = write!(msg, "\n    {}", describe_cycle(graph, &cycle, Some(&site)));
        }
        violations.push(msg);
    }
    violations
}

/// Every group of top-level modules that import each other in a circle, with one such circle.
fn import_cycles(graph: &Graph) -> Vec<String> {
    let nodes: BTreeSet<&String> = graph
        .keys()
        .chain(graph.values().flat_map(|e| e.keys()))
        .collect();
    let reaches = |a: &str, b: &str| find_path(graph, a, b).is_some();
    let mut placed: BTreeSet<&String> = BTreeSet::new();
    let mut cycles = Vec::new();
    for &start in &nodes {
        if placed.contains(start) {
            continue;
        }
        let group: Vec<&String> = nodes
            .iter()
            .copied()
            .filter(|&n| n == start || (reaches(start, n) && reaches(n, start)))
            .collect();
        placed.extend(group.iter().copied());
        if group.len() < 2 {
            continue;
        }
        let shortest = graph[start]
            .keys()
            .filter_map(|next| find_path(graph, next, start))
            .min_by_key(Vec::len);
        if let Some(back) = shortest {
            let cycle: Vec<String> = std::iter::once(start.clone()).chain(back).collect();
            let names: Vec<&str> = group.iter().map(|s| s.as_str()).collect();
            cycles.push(format!(
                "{{{}}} import each other\n    {}",
                names.join(", "),
                describe_cycle(graph, &cycle, None)
            ));
        }
    }
    cycles
}

/// Imports of `crate::app` / `crate::ui` from the gate.
fn gate_screen_imports(imports: &[Import]) -> Vec<String> {
    imports
        .iter()
        .filter(|i| i.from == "gate" && GATE_MUST_NOT_IMPORT.contains(&i.to.as_str()))
        .map(|i| {
            format!(
                "{}: imports {}, but the gate is a security boundary and has no screen",
                i.site(),
                i.path
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The real tree.
// ---------------------------------------------------------------------------------------------

/// The crate root. Cargo bakes `CARGO_MANIFEST_DIR` in at compile time; plain
/// `rustc --test` does not, and then the binary is expected to run from the crate root.
fn crate_root() -> PathBuf {
    let root = option_env!("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from))
        .unwrap_or_else(|| env::current_dir().expect("the current directory is readable"));
    assert!(
        root.join("src").is_dir() && root.join("Cargo.toml").is_file(),
        "{} is not the crate root (no Cargo.toml and src/ there); run from the crate root",
        root.display()
    );
    root
}

fn architecture_file(root: &Path) -> PathBuf {
    env::var_os("LAYERING_ARCHITECTURE").map_or_else(|| root.join("ARCHITECTURE.md"), PathBuf::from)
}

/// Every `.rs` file under `dir`, sorted so that reports are stable.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// `src/X.rs` and every `src/X/` that holds Rust code (a directory of snapshots is no module).
fn top_level_modules(src: &Path) -> BTreeSet<String> {
    let entries = fs::read_dir(src).unwrap_or_else(|e| panic!("reading {}: {e}", src.display()));
    let mut modules = BTreeSet::new();
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("reading {}: {e}", src.display()))
            .path();
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let is_module = if path.is_dir() {
            !rust_files(&path).is_empty()
        } else {
            path.extension().is_some_and(|ext| ext == "rs") && name != "lib" && name != "main"
        };
        if is_module {
            modules.insert(name);
        }
    }
    modules
}

/// What the files under `src/` import across top-level modules, and their terminal crate uses.
struct Tree {
    modules: BTreeSet<String>,
    imports: Vec<Import>,
    terminal_uses: Vec<String>,
}

fn scan_tree(src: &Path) -> Tree {
    let modules = top_level_modules(src);
    let mut imports = Vec::new();
    let mut terminal_uses = Vec::new();
    for path in rust_files(src) {
        let rel = path.strip_prefix(src).expect("file is under src/");
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let rel = rel.join("/");
        let module = module_path(&rel);
        let Some(top) = module.first() else {
            continue; // the crate root sits above every layer and may import anything
        };
        let file = format!("src/{rel}");
        let code = fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {file}: {e}"));
        imports.extend(cross_module_imports(&file, &module, &code, &modules));
        if SCREEN_FREE.contains(&top.as_str()) {
            for (line, krate) in terminal_crate_uses(&code) {
                terminal_uses.push(format!(
                    "{file}:{line}: uses {krate}, but '{top}' must not depend on a terminal UI crate"
                ));
            }
        }
    }
    Tree {
        modules,
        imports,
        terminal_uses,
    }
}

/// The checks that need the layers block; problems with the block itself come first.
fn layer_problems(tree: &Tree, graph: &Graph, architecture: &Path) -> Vec<(String, Vec<String>)> {
    let shown = architecture.display();
    let markdown = match fs::read_to_string(architecture) {
        Ok(markdown) => markdown,
        Err(e) => return vec![(format!("cannot read {shown}"), vec![e.to_string()])],
    };
    let layers = match parse_layers(&markdown) {
        Ok(layers) => layers,
        Err(why) => {
            let modules: Vec<&str> = tree.modules.iter().map(String::as_str).collect();
            let hint = format!(
                "add it, one layer per line, lowest first; modules today: {}",
                modules.join(" ")
            );
            return vec![(format!("{shown}: {why}"), vec![hint])];
        }
    };
    let allow_missing = env::var("LAYERING_ALLOW_MISSING").is_ok_and(|v| v == "1");
    let (names, notes) = check_layer_names(&layers, &tree.modules, allow_missing);
    for note in notes {
        eprintln!("note: {note}");
    }
    let violations = layer_violations(&tree.imports, &layer_numbers(&layers), graph);
    vec![
        (format!("the ```layers block of {shown} does not match src/"), names),
        (
            "imports that do not go down the layers (layers counted from 0 = first line of the block)"
                .to_owned(),
            violations,
        ),
    ]
}

#[test]
fn imports_run_one_way() {
    let root = crate_root();
    let tree = scan_tree(&root.join("src"));
    let graph = module_graph(&tree.imports);
    let mut sections = layer_problems(&tree, &graph, &architecture_file(&root));
    sections.push((
        "cycles between top-level modules (the layer rule allows none)".to_owned(),
        import_cycles(&graph),
    ));
    sections.push((
        "the gate reaches crate::app / crate::ui".to_owned(),
        gate_screen_imports(&tree.imports),
    ));
    sections.push((
        "screen-free modules name ratatui / crossterm".to_owned(),
        tree.terminal_uses,
    ));
    let mut report = String::new();
    for (title, items) in sections.iter().filter(|(_, items)| !items.is_empty()) {
        let _ = writeln!(report, "\n{title} ({}):", items.len());
        for item in items {
            let _ = writeln!(report, "  {item}");
        }
    }
    assert!(report.is_empty(), "layering check failed:\n{report}");
}

// ---------------------------------------------------------------------------------------------
// Unit tests of the pieces above, on made-up inputs.
// ---------------------------------------------------------------------------------------------

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The paths `src` names from a file at `rel` (under `src/`), as `a::b` strings.
fn paths_in(rel: &str, src: &str) -> Vec<String> {
    let found = crate_paths(src, &module_path(rel));
    found.iter().map(|p| p.segments.join("::")).collect()
}

#[test]
fn module_paths_follow_the_file_layout() {
    assert_eq!(module_path("gate/store.rs"), names(&["gate", "store"]));
    assert_eq!(module_path("gate/mod.rs"), names(&["gate"]));
    assert_eq!(module_path("text.rs"), names(&["text"]));
    assert_eq!(
        module_path("sources/docker/api.rs"),
        names(&["sources", "docker", "api"])
    );
    assert!(module_path("lib.rs").is_empty());
    assert!(module_path("main.rs").is_empty());
}

#[test]
fn grouped_use_is_expanded() {
    let found = paths_in(
        "ui/mod.rs",
        "use crate::{app::x, gate};\nuse crate::app::{a, b as c};",
    );
    assert_eq!(found, names(&["app::x", "gate", "app::a", "app::b"]));
}

#[test]
fn nested_braces_over_several_lines_are_expanded_with_their_lines() {
    let src = "use crate::{\n    app::{event::{AppEvent, Other}, state},\n    gate::{self, store::*},\n};";
    let found = crate_paths(src, &names(&["ui"]));
    let shown: Vec<(String, usize)> = found.iter().map(|p| (p.shown(), p.line)).collect();
    let expected = [
        ("crate::app::event::AppEvent", 2),
        ("crate::app::event::Other", 2),
        ("crate::app::state", 2),
        ("crate::gate", 3),
        ("crate::gate::store::*", 3),
    ];
    let expected: Vec<(String, usize)> = expected
        .iter()
        .map(|(p, l)| ((*p).to_owned(), *l))
        .collect();
    assert_eq!(shown, expected);
}

#[test]
fn inline_paths_count_anywhere_in_code() {
    let src = "fn f() {\n    let e = crate::app::event::AppEvent::Tick;\n    $crate::cost::x!();\n    \
               let v: Vec<crate::metrics::Series> = Vec::new();\n    self.x.crate_thing();\n}";
    let found = paths_in("transport/mod.rs", src);
    assert_eq!(
        found,
        names(&["app::event::AppEvent::Tick", "cost::x", "metrics::Series"])
    );
}

#[test]
fn super_in_a_mod_rs_file_is_the_parent_of_its_directory() {
    let found = paths_in("gate/mod.rs", "use super::app::X;\nuse self::store::Store;");
    assert_eq!(found, names(&["app::X", "gate::store::Store"]));
}

#[test]
fn super_in_a_plain_file_is_its_directory_module() {
    let src =
        "use super::{Risk, Tier};\nuse super::super::app::event;\nfn f() { super::now_ms(); }";
    let found = paths_in("gate/store.rs", src);
    assert_eq!(
        found,
        names(&["gate::Risk", "gate::Tier", "app::event", "gate::now_ms"])
    );
}

#[test]
fn super_inside_an_inline_module_is_the_file_module() {
    let src = "pub fn inert() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n    \
               use super::super::gate::Risk;\n}\nuse super::cost::X;";
    let found = paths_in("text.rs", src);
    assert_eq!(found, names(&["text::*", "gate::Risk", "cost::X"]));
}

#[test]
fn visibility_and_receivers_are_no_paths() {
    let found = paths_in(
        "gate/core.rs",
        "pub(crate) fn a(self) {}\npub(super) struct B;\nmod x { }",
    );
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn comments_and_strings_are_not_code() {
    let src = "//! crate::app in a module doc\n/// crate::app in an item doc\n// crate::ui\n\
               /* crate::app /* nested crate::ui */ still crate::ui */\n\
               let s = \"crate::app \\\" crate::ui\";\nlet c = '\"';\nlet q = '\\'';\n\
               fn f<'a>(x: &'a str) {}\nlet b = b\"crate::app\";\nlet k = b'\"';\n\
               use crate::gate::Risk;";
    let found = crate_paths(src, &names(&["logs"]));
    let shown: Vec<(String, usize)> = found.iter().map(|p| (p.shown(), p.line)).collect();
    assert_eq!(shown, vec![("crate::gate::Risk".to_owned(), 11)]);
}

#[test]
fn raw_strings_are_not_code() {
    let src = "let a = r\"crate::app\";\nlet b = r#\"crate::ui \"quoted\" \"#;\n\
               let c = br##\"crate::app \"# still\"##;\nlet r#type = 1;\nuse crate::cost::X;";
    assert_eq!(paths_in("logs/mod.rs", src), names(&["cost::X"]));
}

#[test]
fn terminal_crates_are_found_in_code_only() {
    let src = "use ratatui::style::Style;\n// crossterm::event\nlet s = \"ratatui::x\";\n\
               fn f() { crossterm::terminal::enable_raw_mode(); }\nuse crate::ui::ratatui::X;\n\
               let ratatui = 1;";
    let found = terminal_crate_uses(src);
    assert_eq!(
        found,
        vec![(1, "ratatui".to_owned()), (4, "crossterm".to_owned())]
    );
}

#[test]
fn the_layers_block_is_read_with_comments_and_shared_layers() {
    let markdown = "# Title\n```\nsrc/\n```\n\n```layers\ntext   # bottom\n\n\
                    metrics, config sources\n  app\n```\nmore text";
    let layers = parse_layers(markdown).expect("the block parses");
    let expected = vec![
        names(&["text"]),
        names(&["metrics", "config", "sources"]),
        names(&["app"]),
    ];
    assert_eq!(layers, expected);
    assert_eq!(layer_numbers(&layers)["sources"], 1);
}

#[test]
fn a_missing_or_broken_layers_block_is_an_error() {
    let missing = parse_layers("# Architecture\n```\nsrc/\n```\n").expect_err("no block");
    assert!(missing.contains("no ```layers block"), "{missing}");
    let open = parse_layers("```layers\ntext\n").expect_err("not closed");
    assert!(open.contains("not closed"), "{open}");
    let twice = parse_layers("```layers\ntext\napp text\n```").expect_err("listed twice");
    assert!(twice.contains("'text' is already listed"), "{twice}");
}

#[test]
fn layer_names_must_match_the_modules() {
    let layers = vec![names(&["text"]), names(&["action", "app"])];
    let modules: BTreeSet<String> = names(&["text", "app", "ui"]).into_iter().collect();
    let (problems, notes) = check_layer_names(&layers, &modules, false);
    assert!(notes.is_empty());
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("'action'") && problems[1].contains("'ui'"),
        "{problems:?}"
    );
    let (problems, notes) = check_layer_names(&layers, &modules, true);
    assert_eq!(
        (problems.len(), notes.len()),
        (1, 1),
        "{problems:?} {notes:?}"
    );
}

fn made_up_import(file: &str, line: usize, from: &str, to: &str) -> Import {
    let path = format!("crate::{to}::Thing");
    Import {
        file: file.to_owned(),
        line,
        from: from.to_owned(),
        to: to.to_owned(),
        path,
    }
}

#[test]
fn a_violation_reports_the_cycle_it_closes() {
    let imports = vec![
        made_up_import("src/app/mod.rs", 3, "app", "gate"),
        made_up_import("src/gate/core.rs", 7, "gate", "text"),
        made_up_import("src/gate/tui.rs", 9, "gate", "ui"),
        made_up_import("src/ui/mod.rs", 5, "ui", "app"),
    ];
    let layers = vec![
        names(&["text"]),
        names(&["gate"]),
        names(&["app"]),
        names(&["ui"]),
    ];
    let graph = module_graph(&imports);
    let violations = layer_violations(&imports, &layer_numbers(&layers), &graph);
    assert_eq!(violations.len(), 1, "{violations:?}");
    let expected = "src/gate/tui.rs:9: imports crate::ui::Thing (layer 3 'ui'), which is not below \
                    'gate' (layer 1)\n    cycle: ui -> app -> gate -> ui\n        \
                    ui -> app: src/ui/mod.rs:5\n        app -> gate: src/app/mod.rs:3\n        \
                    gate -> ui: src/gate/tui.rs:9";
    assert_eq!(violations[0], expected);
    let cycles = import_cycles(&graph);
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(
        cycles[0].starts_with("{app, gate, ui} import each other"),
        "{}",
        cycles[0]
    );
    assert!(
        cycles[0].contains("cycle: app -> gate -> ui -> app"),
        "{}",
        cycles[0]
    );
}

#[test]
fn a_violation_without_a_way_back_has_no_cycle() {
    let imports = vec![made_up_import("src/text.rs", 2, "text", "gate")];
    let layers = vec![names(&["text"]), names(&["gate"])];
    let graph = module_graph(&imports);
    let violations = layer_violations(&imports, &layer_numbers(&layers), &graph);
    assert_eq!(violations.len(), 1);
    assert!(!violations[0].contains("cycle"), "{}", violations[0]);
    assert!(import_cycles(&graph).is_empty());
}

#[test]
fn the_gate_must_not_reach_the_screen() {
    let modules: BTreeSet<String> = names(&["app", "gate", "ui", "text"]).into_iter().collect();
    let src =
        "use crate::app::event::AppEvent;\nuse crate::text::inert;\nuse super::super::ui::draw;";
    let imports = cross_module_imports(
        "src/gate/tui.rs",
        &module_path("gate/tui.rs"),
        src,
        &modules,
    );
    let found = gate_screen_imports(&imports);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("src/gate/tui.rs:1: imports crate::app::event::AppEvent"));
    assert!(found[1].starts_with("src/gate/tui.rs:3: imports crate::ui::draw"));
}
