//! Themes: TOML tables of named styles. Shipped themes live in `themes/` and
//! are embedded in the binary; a file with the same name in the user's
//! `themes/` directory is laid over the shipped one (only the styles it sets
//! change), a new name adds a theme (laid over `dark`, or over the theme it
//! names in `extends`). `NO_COLOR` removes every colour but keeps bold and
//! reverse, so focus and selection stay visible.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use super::toml_file::{self, FileError};

pub const DEFAULT_THEME: &str = "dark";

/// Shipped themes, embedded so an installed binary needs no repo.
pub const EMBEDDED: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StyleSpec {
    pub fg: Option<String>,
    pub bg: Option<String>,
    #[serde(default)]
    pub bold: bool,
    #[serde(default)]
    pub dim: bool,
    #[serde(default)]
    pub italic: bool,
    #[serde(default)]
    pub underline: bool,
    #[serde(default)]
    pub reversed: bool,
}

impl StyleSpec {
    fn to_style(&self, no_color: bool) -> Result<Style, String> {
        let mut style = Style::default();
        if !no_color {
            if let Some(fg) = &self.fg {
                style = style.fg(parse_color(fg)?);
            }
            if let Some(bg) = &self.bg {
                style = style.bg(parse_color(bg)?);
            }
        }
        let flags = [
            (self.bold, Modifier::BOLD),
            (self.dim, Modifier::DIM),
            (self.italic, Modifier::ITALIC),
            (self.underline, Modifier::UNDERLINED),
            (self.reversed, Modifier::REVERSED),
        ];
        for (on, modifier) in flags {
            if on {
                style = style.add_modifier(modifier);
            }
        }
        Ok(style)
    }
}

fn parse_color(name: &str) -> Result<Color, String> {
    Color::from_str(name).map_err(|_| {
        format!(
            "unknown colour `{name}` (use a name like `red` or `lightblue`, `#rrggbb`, or 0-255)"
        )
    })
}

macro_rules! theme_styles {
    ($($(#[doc = $doc:literal])* $name:ident),* $(,)?) => {
        /// The styles a theme file may set; every one is optional.
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct StyleTable {
            $($(#[doc = $doc])* pub $name: Option<StyleSpec>,)*
        }

        /// A resolved theme: one ratatui style per role.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct Theme {
            pub name: String,
            $($(#[doc = $doc])* pub $name: Style,)*
        }

        impl StyleTable {
            /// `self` over `base`: styles set here win.
            fn over(self, base: &StyleTable) -> StyleTable {
                StyleTable { $($name: self.$name.or_else(|| base.$name.clone()),)* }
            }

            fn resolve(&self, name: &str, no_color: bool) -> Result<Theme, (String, String)> {
                Ok(Theme {
                    name: name.to_string(),
                    $($name: match &self.$name {
                        Some(spec) => spec.to_style(no_color).map_err(|e| (stringify!($name).to_string(), e))?,
                        None => Style::default(),
                    },)*
                })
            }
        }
    };
}

theme_styles! {
    /// Ordinary text.
    text,
    /// Secondary text: labels, units, hints.
    muted,
    header,
    header_host,
    border,
    border_focused,
    title,
    title_focused,
    /// The selected row of a list.
    selected,
    keybar_key,
    keybar_text,
    ok,
    warning,
    critical,
    /// Stale data (connection lost).
    stale,
    chart_axis,
    chart_1,
    chart_2,
    chart_3,
    chart_4,
    popup,
    popup_border,
    input,
    /// Search matches.
    highlight,
    tier_auto,
    tier_approve,
    tier_confirm,
    tier_deny,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    /// Base theme for a new name (default: `dark`).
    extends: Option<String>,
    #[serde(default)]
    styles: StyleTable,
}

/// Every theme available: shipped ones with user files laid over them.
#[derive(Debug, Clone, Default)]
pub struct ThemeSet {
    tables: BTreeMap<String, StyleTable>,
    no_color: bool,
}

impl ThemeSet {
    /// Loads the embedded themes, then the user's `themes/*.toml`.
    pub fn load(user_dir: Option<&Path>, no_color: bool) -> Result<Self, FileError> {
        let mut tables = BTreeMap::new();
        for (name, text) in EMBEDDED {
            let file: ThemeFile =
                toml_file::parse_str(&format!("<embedded themes/{name}.toml>"), text)?;
            tables.insert(name.to_string(), file.styles);
        }
        if let Some(dir) = user_dir {
            for (name, path) in toml_file::toml_files_in(dir) {
                let file: ThemeFile = toml_file::load(&path)?;
                let base_name = if tables.contains_key(&name) {
                    name.clone()
                } else {
                    file.extends
                        .clone()
                        .unwrap_or_else(|| DEFAULT_THEME.to_string())
                };
                let base = tables.get(&base_name).cloned().ok_or_else(|| {
                    FileError::new(
                        path.display().to_string(),
                        format!("extends unknown theme `{base_name}`"),
                    )
                    .at(None, Some("extends".into()))
                })?;
                tables.insert(name, file.styles.over(&base));
            }
        }
        let set = Self { tables, no_color };
        // Resolve every theme once so a bad colour is reported at start,
        // not when the user switches to it.
        for name in set.names() {
            set.get(&name)?;
        }
        Ok(set)
    }

    pub fn names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Result<Theme, FileError> {
        let table = self.tables.get(name).ok_or_else(|| {
            FileError::new(
                "themes",
                format!(
                    "no theme named `{name}`; available: {}",
                    self.names().join(", ")
                ),
            )
        })?;
        table.resolve(name, self.no_color).map_err(|(key, msg)| {
            FileError::new(format!("theme `{name}`"), msg).at(None, Some(format!("styles.{key}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_themes_resolve() {
        let set = ThemeSet::load(None, false).expect("themes");
        assert_eq!(set.names(), vec!["dark", "high-contrast", "light"]);
        let dark = set.get("dark").expect("dark");
        assert_ne!(dark.border_focused, dark.border, "focus must be visible");
    }

    /// On a white background ANSI 7 ("gray") and 15 ("white") text is
    /// near-invisible: the light theme uses neither for text or borders
    /// (white stays only on a coloured background).
    #[test]
    fn light_theme_text_and_borders_are_readable_on_white() {
        use ratatui::style::Color;
        let set = ThemeSet::load(None, false).expect("themes");
        let light = set.get("light").expect("light");
        let on_white = [
            ("text", light.text),
            ("muted", light.muted),
            ("border", light.border),
            ("border_focused", light.border_focused),
            ("title", light.title),
            ("title_focused", light.title_focused),
            ("keybar_text", light.keybar_text),
            ("chart_axis", light.chart_axis),
            ("ok", light.ok),
            ("stale", light.stale),
            ("popup_border", light.popup_border),
        ];
        for (name, style) in on_white {
            assert!(
                !matches!(
                    style.fg,
                    Some(Color::Gray | Color::White | Color::Indexed(7) | Color::Indexed(15))
                ),
                "light theme `{name}`: {:?} is unreadable on white",
                style.fg
            );
        }
        for (name, style) in [
            ("selected", light.selected),
            ("keybar_key", light.keybar_key),
        ] {
            if matches!(style.fg, Some(Color::White | Color::Gray)) {
                assert!(
                    style.bg.is_some(),
                    "`{name}`: white text needs its own background"
                );
            }
        }
    }

    #[test]
    fn no_color_keeps_modifiers_only() {
        let set = ThemeSet::load(None, true).expect("themes");
        for name in set.names() {
            let theme = set.get(&name).expect("theme");
            for style in [
                theme.text,
                theme.header,
                theme.selected,
                theme.critical,
                theme.border_focused,
            ] {
                assert_eq!(style.fg, None, "{name}");
                assert_eq!(style.bg, None, "{name}");
            }
            assert_ne!(
                theme.selected,
                Style::default(),
                "{name}: selection invisible without colour"
            );
        }
    }

    #[test]
    fn user_theme_overrides_and_adds() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("dark.toml"),
            "[styles]\ntext = { fg = \"red\" }\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("mine.toml"),
            "extends = \"light\"\n[styles]\nok = { fg = \"#00ff00\" }\n",
        )
        .expect("write");
        let set = ThemeSet::load(Some(dir.path()), false).expect("themes");
        let dark = set.get("dark").expect("dark");
        assert_eq!(dark.text.fg, Some(Color::Red));
        let shipped = ThemeSet::load(None, false)
            .expect("themes")
            .get("dark")
            .expect("dark");
        assert_eq!(
            dark.header, shipped.header,
            "unset styles keep the shipped value"
        );
        let mine = set.get("mine").expect("mine");
        assert_eq!(mine.ok.fg, Some(Color::Rgb(0, 255, 0)));
        assert_eq!(mine.header, set.get("light").expect("light").header);
    }

    #[test]
    fn bad_user_theme_names_file_and_key() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("bad.toml"),
            "[styles]\ntext = { fg = \"red\" }\nbordr = { fg = \"red\" }\n",
        )
        .expect("write");
        let err = ThemeSet::load(Some(dir.path()), false).expect_err("must fail");
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("styles.bordr"));
        assert!(err.file.ends_with("bad.toml"));

        std::fs::write(
            dir.path().join("bad.toml"),
            "[styles]\ntext = { fg = \"reddish\" }\n",
        )
        .expect("write");
        let err = ThemeSet::load(Some(dir.path()), false).expect_err("must fail");
        assert_eq!(err.key.as_deref(), Some("styles.text"));
        assert!(err.message.contains("reddish"));
    }
}
