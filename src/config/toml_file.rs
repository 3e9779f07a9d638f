//! Strict TOML loading shared by every file the user edits (config, themes,
//! keymaps, policy, pricing): unknown or mistyped keys are errors that name
//! the file, the line and the key, so a typo never silently does nothing.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file, or a name like `<embedded keymaps/default.toml>`.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Dotted key path (`hosts.web.netdata_url`), when known.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FileError {}

impl FileError {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            key: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, line: Option<usize>, key: Option<String>) -> Self {
        self.line = line;
        self.key = key;
        self
    }
}

/// Parses `text` (named `file` in errors) strictly into `T`.
pub fn parse_str<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, FileError> {
    let deserializer =
        toml::Deserializer::parse(text).map_err(|e| toml_error(file, text, &e, None))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let key = (path != "." && !path.is_empty()).then_some(path);
        toml_error(file, text, e.inner(), key)
    })
}

/// Reads and parses a file.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T, FileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| FileError::new(path.display().to_string(), format!("cannot read: {e}")))?;
    parse_str(&path.display().to_string(), &text)
}

fn toml_error(file: &str, text: &str, err: &toml::de::Error, key: Option<String>) -> FileError {
    let line = err.span().map(|span| line_of(text, span.start));
    FileError::new(file, err.message().trim().to_string()).at(line, key)
}

/// 1-based line number of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Files under a directory with the `.toml` extension, by stem, sorted.
pub fn toml_files_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p)))
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        #[serde(default)]
        inner: std::collections::BTreeMap<String, Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        port: u16,
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "name = \"x\"\n\n[inner.web]\nport = 22\nprot = 23\n";
        let err = parse_str::<Outer>("cfg.toml", text).expect_err("must fail");
        assert_eq!(err.line, Some(5));
        assert_eq!(err.key.as_deref(), Some("inner.web.prot"));
        assert!(
            err.message.contains("unknown field `prot`"),
            "{}",
            err.message
        );
        assert!(
            err.to_string()
                .starts_with("cfg.toml:5: key `inner.web.prot`: ")
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let text = "name = \"x\"\n[inner.web]\nport = \"twenty-two\"\n";
        let err = parse_str::<Outer>("cfg.toml", text).expect_err("must fail");
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("inner.web.port"));
    }

    #[test]
    fn syntax_error_has_a_line() {
        let err = parse_str::<Outer>("cfg.toml", "name = \"x\"\nthis is not toml\n")
            .expect_err("must fail");
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn missing_key_is_reported() {
        let err = parse_str::<Outer>("cfg.toml", "[inner.a]\nport = 1\n").expect_err("must fail");
        assert!(
            err.message.contains("missing field `name`"),
            "{}",
            err.message
        );
    }
}
