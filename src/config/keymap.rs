//! Keymaps: which key does what, per context. One structure serves key
//! handling, the key bar and the help popup, so they never disagree.
//!
//! A keymap file maps action names to lists of keys, per context:
//! `[global] quit = ["q", "ctrl-c"]`. Contexts are `global`, `lists` (every
//! list pane) and one per pane. A key is looked up in the focused pane's
//! context, then `lists`, then `global`. A user file of the same name in the
//! config dir's `keymaps/` replaces single bindings (the keys of the actions it
//! names); two actions on one key in one context are an error naming both.

use std::collections::BTreeMap;
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

use super::toml_file::{self, FileError};
use crate::action::{Action, PaneId};

pub const DEFAULT_KEYMAP: &str = "default";

pub const EMBEDDED: [(&str, &str); 2] = [
    ("default", include_str!("../../keymaps/default.toml")),
    ("vim", include_str!("../../keymaps/vim.toml")),
];

/// A key with its modifiers, normalised so `G` and `shift-g` are one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    code: KeyCodeOrd,
    ctrl: bool,
    alt: bool,
}

/// `KeyCode` has no `Ord`; this is the subset keymaps can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum KeyCodeOrd {
    Char(char),
    F(u8),
    Named(NamedKey),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum NamedKey {
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Insert,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
}

const NAMED: [(&str, NamedKey, &str); 16] = [
    ("enter", NamedKey::Enter, "Enter"),
    ("esc", NamedKey::Esc, "Esc"),
    ("tab", NamedKey::Tab, "Tab"),
    ("backtab", NamedKey::BackTab, "S-Tab"),
    ("shift-tab", NamedKey::BackTab, "S-Tab"),
    ("backspace", NamedKey::Backspace, "Bksp"),
    ("delete", NamedKey::Delete, "Del"),
    ("insert", NamedKey::Insert, "Ins"),
    ("up", NamedKey::Up, "↑"),
    ("down", NamedKey::Down, "↓"),
    ("left", NamedKey::Left, "←"),
    ("right", NamedKey::Right, "→"),
    ("pageup", NamedKey::PageUp, "PgUp"),
    ("pagedown", NamedKey::PageDown, "PgDn"),
    ("home", NamedKey::Home, "Home"),
    ("end", NamedKey::End, "End"),
];

impl Key {
    /// Parses `q`, `G`, `ctrl-c`, `alt-x`, `enter`, `f5`, `space`, `shift-tab`.
    pub fn parse(text: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = text;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let lower = rest.to_ascii_lowercase();
        let code = if let Some((_, named, _)) = NAMED.iter().find(|(n, _, _)| *n == lower) {
            KeyCodeOrd::Named(*named)
        } else if lower == "space" {
            KeyCodeOrd::Char(' ')
        } else if let Some(n) = lower
            .strip_prefix('f')
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|n| (1..=12).contains(n))
        {
            KeyCodeOrd::F(n)
        } else {
            let mut chars = rest.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => KeyCodeOrd::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
                _ => {
                    return Err(format!(
                        "unknown key `{text}` (examples: `q`, `G`, `ctrl-c`, `enter`, `pagedown`, `f5`, `space`)"
                    ));
                }
            }
        };
        Ok(Key { code, ctrl, alt })
    }

    /// The key of a terminal event, if it is one keymaps can name.
    pub fn from_event(event: &KeyEvent) -> Option<Key> {
        let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
        let alt = event.modifiers.contains(KeyModifiers::ALT);
        let code = match event.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            KeyCode::Enter => KeyCodeOrd::Named(NamedKey::Enter),
            KeyCode::Esc => KeyCodeOrd::Named(NamedKey::Esc),
            KeyCode::Tab => KeyCodeOrd::Named(NamedKey::Tab),
            KeyCode::BackTab => KeyCodeOrd::Named(NamedKey::BackTab),
            KeyCode::Backspace => KeyCodeOrd::Named(NamedKey::Backspace),
            KeyCode::Delete => KeyCodeOrd::Named(NamedKey::Delete),
            KeyCode::Insert => KeyCodeOrd::Named(NamedKey::Insert),
            KeyCode::Up => KeyCodeOrd::Named(NamedKey::Up),
            KeyCode::Down => KeyCodeOrd::Named(NamedKey::Down),
            KeyCode::Left => KeyCodeOrd::Named(NamedKey::Left),
            KeyCode::Right => KeyCodeOrd::Named(NamedKey::Right),
            KeyCode::PageUp => KeyCodeOrd::Named(NamedKey::PageUp),
            KeyCode::PageDown => KeyCodeOrd::Named(NamedKey::PageDown),
            KeyCode::Home => KeyCodeOrd::Named(NamedKey::Home),
            KeyCode::End => KeyCodeOrd::Named(NamedKey::End),
            _ => return None,
        };
        Some(Key { code, ctrl, alt })
    }

    /// Short label for the key bar and help: `q`, `C-c`, `Enter`, `S-Tab`.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCodeOrd::Char(' ') => "Space".to_string(),
            KeyCodeOrd::Char(c) => c.to_string(),
            KeyCodeOrd::F(n) => format!("F{n}"),
            KeyCodeOrd::Named(named) => NAMED
                .iter()
                .find(|(_, n, _)| *n == named)
                .map(|(_, _, label)| label.to_string())
                .unwrap_or_default(),
        };
        let mut label = String::new();
        if self.ctrl {
            label.push_str("C-");
        }
        if self.alt {
            label.push_str("M-");
        }
        label + &base
    }
}

/// A keymap context: where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    Global,
    Lists,
    Pane(PaneId),
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Lists => "lists",
            Context::Pane(p) => p.name(),
        }
    }
}

/// Keymap file shape: context → action → keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeymapFile {
    #[serde(default)]
    global: BTreeMap<Action, Vec<String>>,
    #[serde(default)]
    lists: BTreeMap<Action, Vec<String>>,
    #[serde(default)]
    metrics: BTreeMap<Action, Vec<String>>,
    #[serde(default)]
    alerts: BTreeMap<Action, Vec<String>>,
    #[serde(default)]
    containers: BTreeMap<Action, Vec<String>>,
    #[serde(default)]
    logs: BTreeMap<Action, Vec<String>>,
    #[serde(default)]
    actions: BTreeMap<Action, Vec<String>>,
    #[serde(default)]
    history: BTreeMap<Action, Vec<String>>,
    #[serde(default)]
    cost: BTreeMap<Action, Vec<String>>,
    #[serde(default)]
    runbooks: BTreeMap<Action, Vec<String>>,
}

impl KeymapFile {
    fn into_contexts(self) -> Vec<(Context, BTreeMap<Action, Vec<String>>)> {
        vec![
            (Context::Global, self.global),
            (Context::Lists, self.lists),
            (Context::Pane(PaneId::Metrics), self.metrics),
            (Context::Pane(PaneId::Alerts), self.alerts),
            (Context::Pane(PaneId::Containers), self.containers),
            (Context::Pane(PaneId::Logs), self.logs),
            (Context::Pane(PaneId::Actions), self.actions),
            (Context::Pane(PaneId::History), self.history),
            (Context::Pane(PaneId::Cost), self.cost),
            (Context::Pane(PaneId::Runbooks), self.runbooks),
        ]
    }
}

/// A resolved keymap.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Keymap {
    pub name: String,
    /// Context → action → keys, in file order of actions.
    bindings: BTreeMap<Context, BTreeMap<Action, Vec<Key>>>,
    /// Context → key → action, for lookups.
    lookup: BTreeMap<Context, BTreeMap<Key, Action>>,
}

impl Keymap {
    /// The keymap `name`: embedded file, with the user's file of the same
    /// name (if any) replacing the bindings it names. A user keymap with a new
    /// name is laid over `default`.
    pub fn load(name: &str, user_dir: Option<&Path>) -> Result<Keymap, FileError> {
        let user_path = user_dir
            .map(|d| d.join(format!("{name}.toml")))
            .filter(|p| p.exists());
        let embedded = EMBEDDED.iter().find(|(n, _)| *n == name);
        let (base_name, base_text) = match (embedded, &user_path) {
            (Some((n, text)), _) => (*n, *text),
            (None, Some(_)) => EMBEDDED[0],
            (None, None) => {
                let names: Vec<&str> = EMBEDDED.iter().map(|(n, _)| *n).collect();
                return Err(FileError::new(
                    "keymaps",
                    format!(
                        "no keymap named `{name}`; shipped: {}; or add keymaps/{name}.toml to the config dir",
                        names.join(", ")
                    ),
                ));
            }
        };
        let base_file = format!("<embedded keymaps/{base_name}.toml>");
        let mut merged: BTreeMap<Context, BTreeMap<Action, Vec<String>>> =
            toml_file::parse_str::<KeymapFile>(&base_file, base_text)?
                .into_contexts()
                .into_iter()
                .collect();
        let mut source = base_file;
        if let Some(path) = user_path {
            let user: KeymapFile = toml_file::load(&path)?;
            for (context, actions) in user.into_contexts() {
                let entry = merged.entry(context).or_default();
                for (action, keys) in actions {
                    entry.insert(action, keys);
                }
            }
            source = path.display().to_string();
        }
        Self::build(name, &source, merged)
    }

    fn build(
        name: &str,
        source: &str,
        contexts: BTreeMap<Context, BTreeMap<Action, Vec<String>>>,
    ) -> Result<Keymap, FileError> {
        let mut keymap = Keymap {
            name: name.to_string(),
            ..Default::default()
        };
        for (context, actions) in contexts {
            let mut by_action = BTreeMap::new();
            let mut by_key: BTreeMap<Key, Action> = BTreeMap::new();
            for (action, key_texts) in actions {
                let mut keys = Vec::new();
                for text in &key_texts {
                    let key = Key::parse(text).map_err(|e| {
                        FileError::new(source, e).at(
                            None,
                            Some(format!("{}.{}", context.name(), action_name(action))),
                        )
                    })?;
                    if let Some(other) = by_key.insert(key, action).filter(|other| *other != action)
                    {
                        return Err(FileError::new(
                            source,
                            format!(
                                "key `{text}` in [{}] is bound to both `{}` and `{}`",
                                context.name(),
                                action_name(other),
                                action_name(action)
                            ),
                        )
                        .at(
                            None,
                            Some(format!("{}.{}", context.name(), action_name(action))),
                        ));
                    }
                    keys.push(key);
                }
                by_action.insert(action, keys);
            }
            keymap.bindings.insert(context, by_action);
            keymap.lookup.insert(context, by_key);
        }
        Ok(keymap)
    }

    /// Contexts that apply in `pane`, most specific first.
    pub fn contexts_for(pane: PaneId) -> Vec<Context> {
        let mut contexts = vec![Context::Pane(pane)];
        if pane.is_list() {
            contexts.push(Context::Lists);
        }
        contexts.push(Context::Global);
        contexts
    }

    pub fn action_for(&self, pane: PaneId, event: &KeyEvent) -> Option<Action> {
        let key = Key::from_event(event)?;
        Self::contexts_for(pane)
            .into_iter()
            .find_map(|ctx| self.lookup.get(&ctx).and_then(|m| m.get(&key)).copied())
    }

    /// Bindings of one context: (action, keys).
    pub fn bindings(&self, context: Context) -> Vec<(Action, &[Key])> {
        self.bindings
            .get(&context)
            .map(|m| {
                m.iter()
                    .filter(|(_, k)| !k.is_empty())
                    .map(|(a, k)| (*a, k.as_slice()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// First key label of `action` as it applies in `pane` (for hints like
    /// "press ? for help").
    pub fn key_label(&self, pane: PaneId, action: Action) -> Option<String> {
        Self::contexts_for(pane).into_iter().find_map(|ctx| {
            self.bindings
                .get(&ctx)?
                .get(&action)?
                .first()
                .map(Key::label)
        })
    }
}

fn action_name(action: Action) -> String {
    // The serde name: snake_case of the variant.
    let debug = format!("{action:?}");
    let mut out = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    /// The number key of a pane is the number its title shows, in every
    /// shipped keymap: the titles count in reading order (`PaneId::ALL`).
    #[test]
    fn number_keys_match_the_pane_numbers() {
        for (name, _) in EMBEDDED {
            let keymap = Keymap::load(name, None).expect(name);
            for pane in PaneId::ALL {
                let digit = char::from_digit(pane.number() as u32, 10).expect("1..8");
                let action = keymap
                    .action_for(
                        PaneId::Metrics,
                        &key(KeyCode::Char(digit), KeyModifiers::NONE),
                    )
                    .and_then(Action::focus_target);
                assert_eq!(action, Some(pane), "{name}: key {digit}");
            }
        }
    }

    #[test]
    fn shipped_keymaps_load() {
        for (name, _) in EMBEDDED {
            let keymap = Keymap::load(name, None).expect(name);
            assert_eq!(
                keymap.action_for(
                    PaneId::Metrics,
                    &key(KeyCode::Char('?'), KeyModifiers::NONE)
                ),
                Some(Action::Help),
                "{name}"
            );
            assert_eq!(
                keymap.action_for(
                    PaneId::Logs,
                    &key(KeyCode::Char('c'), KeyModifiers::CONTROL)
                ),
                Some(Action::Quit),
                "{name}"
            );
        }
    }

    #[test]
    fn pane_context_then_lists_then_global() {
        let keymap = Keymap::load("default", None).expect("default");
        let enter = key(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(
            keymap.action_for(PaneId::Actions, &enter),
            Some(Action::Open)
        );
        assert_eq!(
            keymap.action_for(
                PaneId::Actions,
                &key(KeyCode::Char('a'), KeyModifiers::NONE)
            ),
            Some(Action::Approve)
        );
        assert_eq!(
            keymap.action_for(
                PaneId::Metrics,
                &key(KeyCode::Char('a'), KeyModifiers::NONE)
            ),
            None
        );
        assert_eq!(
            keymap.action_for(PaneId::Metrics, &key(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::FocusPrev)
        );
    }

    #[test]
    fn shifted_letters_match_their_uppercase_binding() {
        let keymap = Keymap::load("vim", None).expect("vim");
        assert_eq!(
            keymap.action_for(PaneId::Logs, &key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
    }

    #[test]
    fn user_file_overrides_single_bindings() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("default.toml"),
            "[global]\nhelp = [\"f1\"]\n",
        )
        .expect("write");
        let keymap = Keymap::load("default", Some(dir.path())).expect("keymap");
        assert_eq!(
            keymap.action_for(PaneId::Metrics, &key(KeyCode::F(1), KeyModifiers::NONE)),
            Some(Action::Help)
        );
        assert_eq!(
            keymap.action_for(
                PaneId::Metrics,
                &key(KeyCode::Char('?'), KeyModifiers::NONE)
            ),
            None
        );
        assert_eq!(
            keymap.action_for(
                PaneId::Metrics,
                &key(KeyCode::Char('q'), KeyModifiers::NONE)
            ),
            Some(Action::Quit),
            "others stay"
        );
    }

    #[test]
    fn two_actions_on_one_key_is_an_error_naming_both() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("default.toml"),
            "[global]\nhelp = [\"q\"]\n",
        )
        .expect("write");
        let err = Keymap::load("default", Some(dir.path())).expect_err("conflict");
        assert!(
            err.message.contains("`help`") && err.message.contains("`quit`"),
            "{err}"
        );
        assert!(err.message.contains("[global]"), "{err}");
    }

    #[test]
    fn unknown_action_and_key_are_reported() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("default.toml"),
            "[global]\nquit = [\"q\"]\nfly = [\"x\"]\n",
        )
        .expect("write");
        let err = Keymap::load("default", Some(dir.path())).expect_err("unknown action");
        assert_eq!(err.line, Some(3));
        assert!(err.message.contains("unknown variant `fly`"), "{err}");

        std::fs::write(
            dir.path().join("default.toml"),
            "[global]\nquit = [\"hyper-q\"]\n",
        )
        .expect("write");
        let err = Keymap::load("default", Some(dir.path())).expect_err("unknown key");
        assert_eq!(err.key.as_deref(), Some("global.quit"));
    }

    #[test]
    fn labels() {
        assert_eq!(Key::parse("ctrl-c").expect("key").label(), "C-c");
        assert_eq!(Key::parse("shift-tab").expect("key").label(), "S-Tab");
        assert_eq!(Key::parse("space").expect("key").label(), "Space");
        assert!(Key::parse("nope").is_err());
    }
}
