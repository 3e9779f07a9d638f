//! Better Stack logs through its SQL query API ("Connect remotely").
//!
//! `POST ENDPOINT?output_format_pretty_row_numbers=0` with HTTP Basic auth,
//! `Content-type: plain/text` and SQL in the body; rows come back as
//! `JSONEachRow` with `dt` as `YYYY-MM-DD hh:mm:ss.ffffff` (UTC) and `raw` as
//! the JSON the app sent. There is no streaming API, so the source polls:
//!
//! * on start, the newest `initial_lines` rows (shown oldest first);
//! * then every `poll` (2 s), every row with `dt >= cursor - 30 s`, where the
//!   cursor is the newest `dt` seen. The 30 s overlap catches rows that
//!   arrive late; a set of (dt, hash of raw) of the rows inside the overlap
//!   drops the ones already shown. So rows with equal timestamps and late rows
//!   are neither lost nor doubled (a row later than 30 s is missed; two rows
//!   with identical dt *and* raw show once).
//!
//! The password is read by reference (environment variable, command or OS
//! keyring, see [`PasswordRef`]) and lives in a [`Secret`] whose `Debug`
//! prints nothing.
//!
//! Instead of a table name the config can give a team API token (by env var)
//! and a source name: the table is then looked up once at start in
//! `GET https://telemetry.betterstack.com/api/v1/sources` (see
//! [`lookup_table`]), retried with back-off until it succeeds.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, TimeZone, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Level, LogEvent, LogLine, SourceHealth, send_status};
use crate::app::event::AppEvent;
use crate::config::BetterStackConfig;
use crate::text::inert;

pub const SOURCE: &str = "betterstack";
/// Rows per query; a full page is followed by the next one at once.
pub const PAGE: usize = 1000;
const MAX_PAGES_PER_POLL: usize = 20;
const NANOS: i64 = 1_000_000_000;
/// Longest wait between attempts while backing off.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// (dt, hash) pairs kept at most, whatever the overlap holds.
const MAX_SEEN: usize = 200_000;

/// Where the password comes from. The password itself is never in config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordRef {
    /// Name of an environment variable of the cockpit's process.
    Env(String),
    /// A command run locally through `sh -c`; its stdout (trailing newline
    /// trimmed) is the password.
    Cmd(String),
    /// The OS keyring: service [`KEYRING_SERVICE`], this user name.
    Keyring(String),
}

/// Service name of the cockpit's entries in the OS keyring.
pub const KEYRING_SERVICE: &str = "opscockpit";

/// A password in memory. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that sends it (the auth header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Fetches the password. Errors say what to fix and never contain output of
/// the command (it might be the password).
pub async fn resolve_password(reference: &PasswordRef) -> Result<Secret, String> {
    match reference {
        PasswordRef::Env(name) => match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok(Secret(v)),
            Ok(_) => Err(format!(
                "environment variable {} is empty; export the Better Stack password there",
                inert(name)
            )),
            Err(_) => Err(format!(
                "environment variable {} is not set; export the Better Stack password there (password_env)",
                inert(name)
            )),
        },
        PasswordRef::Cmd(cmd) => {
            let output = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .output()
                .await
                .map_err(|e| format!("could not run password_cmd: {e}"))?;
            if !output.status.success() {
                return Err(format!(
                    "password_cmd failed ({}); run it in a shell to see why",
                    output.status
                ));
            }
            let text = String::from_utf8(output.stdout)
                .map_err(|_| "password_cmd printed something that is not UTF-8".to_string())?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            if text.is_empty() {
                return Err("password_cmd printed nothing".into());
            }
            Ok(Secret(text.to_string()))
        }
        PasswordRef::Keyring(user) => {
            let user = user.clone();
            tokio::task::spawn_blocking(move || keyring_password(&user))
                .await
                .map_err(|e| format!("the OS keyring lookup did not finish: {e}"))?
        }
    }
}

/// Sets up the platform's credential store once (unless the program chose
/// one already): Linux kernel keyutils (works headless), macOS Keychain,
/// Windows Credential Manager.
fn ensure_keyring_store() -> Result<(), String> {
    static STORE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    STORE
        .get_or_init(|| {
            if keyring_core::get_default_store().is_some() {
                return Ok(());
            }
            platform_store().map_err(|e| {
                format!(
                    "no OS keyring available on this machine ({e}); use password_env or password_cmd"
                )
            })
        })
        .clone()
}

#[cfg(target_os = "linux")]
fn platform_store() -> Result<(), String> {
    let store = linux_keyutils_keyring_store::Store::new().map_err(|e| e.to_string())?;
    keyring_core::set_default_store(store);
    Ok(())
}

/// A thread without a session keyring of its own (no `pam_keyinit`: services,
/// containers, `sudo`) falls back to the user-session keyring, where the
/// kernel refuses to link the key into the persistent keyring (EACCES), so
/// the keyutils store cannot save or find anything. Joining a fresh
/// anonymous session keyring fixes that; the key itself lives in the
/// per-user persistent keyring, which every session reaches. Affects the
/// calling thread only (credentials are per thread).
#[cfg(target_os = "linux")]
fn join_session_keyring_if_none() {
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    const KEY_SPEC_USER_SESSION_KEYRING: libc::c_long = -5;
    // SAFETY: keyctl with integer arguments and a null name pointer, as
    // keyctl(2) documents; no memory is handed to the kernel.
    unsafe {
        let get = |id: libc::c_long| libc::syscall(libc::SYS_keyctl, KEYCTL_GET_KEYRING_ID, id, 0);
        let session = get(KEY_SPEC_SESSION_KEYRING);
        if session < 0 || session == get(KEY_SPEC_USER_SESSION_KEYRING) {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_JOIN_SESSION_KEYRING,
                std::ptr::null::<libc::c_char>(),
            );
        }
    }
}

#[cfg(target_os = "macos")]
fn platform_store() -> Result<(), String> {
    let store = apple_native_keyring_store::keychain::Store::new().map_err(|e| e.to_string())?;
    keyring_core::set_default_store(store);
    Ok(())
}

#[cfg(target_os = "windows")]
fn platform_store() -> Result<(), String> {
    let store = windows_native_keyring_store::Store::new().map_err(|e| e.to_string())?;
    keyring_core::set_default_store(store);
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn platform_store() -> Result<(), String> {
    Err("this platform has no supported credential store".into())
}

/// The keyring entry (service [`KEYRING_SERVICE`], `user`) in the platform's
/// store, for reading here and for `opscockpit secret set`.
pub fn keyring_entry(user: &str) -> Result<keyring_core::Entry, String> {
    ensure_keyring_store()?;
    #[cfg(target_os = "linux")]
    join_session_keyring_if_none();
    keyring_core::Entry::new(KEYRING_SERVICE, user).map_err(|e| {
        format!(
            "the OS keyring refused entry {KEYRING_SERVICE}/{}: {}; use password_env or password_cmd",
            inert(user),
            keyring_error(&e)
        )
    })
}

/// Words for a keyring error that never carry secret bytes.
fn keyring_error(e: &keyring_core::Error) -> String {
    match e {
        keyring_core::Error::BadEncoding(_) => "the stored secret is not UTF-8".into(),
        keyring_core::Error::BadDataFormat(..) => "the stored secret is malformed".into(),
        keyring_core::Error::Ambiguous(_) => "more than one matching entry".into(),
        other => inert(&other.to_string()),
    }
}

fn keyring_password(user: &str) -> Result<Secret, String> {
    let entry = keyring_entry(user)?;
    match entry.get_password() {
        Ok(p) if !p.is_empty() => Ok(Secret(p)),
        Ok(_) => Err(format!(
            "the OS keyring entry {KEYRING_SERVICE}/{} is empty; store the password with `opscockpit secret set HOST`",
            inert(user)
        )),
        Err(keyring_core::Error::NoEntry) => Err(format!(
            "no password in the OS keyring for {KEYRING_SERVICE}/{}; store it with `opscockpit secret set HOST` (or use password_env or password_cmd)",
            inert(user)
        )),
        Err(e) => Err(format!(
            "the OS keyring failed: {}; use password_env or password_cmd",
            keyring_error(&e)
        )),
    }
}

/// Where the sources API lives unless `sources_api` says otherwise.
pub const SOURCES_API: &str = "https://telemetry.betterstack.com";
/// Pages of the sources list read at most.
const MAX_SOURCE_PAGES: usize = 50;

/// Look the table up by source name with a team API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLookup {
    /// Base URL of the sources API ([`SOURCES_API`]).
    pub api: String,
    /// The Better Stack source's name.
    pub source: String,
    /// Environment variable holding the team API token.
    pub token_env: String,
}

/// `opscockpit secret set|delete HOST`: the keyring entry named by HOST's
/// `[hosts.HOST.betterstack]` (user = `keyring_entry`, else `username`).
/// The secret is read from the terminal without echo (or one line of a
/// pipe) and never printed.
pub fn secret_command(
    command: &crate::cli::SecretCommand,
    config: &crate::config::Config,
) -> Result<(), String> {
    use crate::cli::SecretCommand;
    let host = match command {
        SecretCommand::Set { host } | SecretCommand::Delete { host } => host,
    };
    let bs = config
        .hosts
        .get(host)
        .and_then(|h| h.betterstack.as_ref())
        .ok_or_else(|| {
            format!(
                "no [hosts.{}.betterstack] in the config: add it first (see config.example.toml)",
                inert(host)
            )
        })?;
    let user = bs.keyring_entry.as_deref().unwrap_or(&bs.username);
    let entry = keyring_entry(user)?;
    let name = format!("{KEYRING_SERVICE}/{}", inert(user));
    match command {
        SecretCommand::Set { .. } => {
            if !bs.keyring {
                eprintln!(
                    "note: hosts.{}.betterstack has no `keyring = true`; the cockpit reads this entry only with it",
                    inert(host)
                );
            }
            let secret = read_secret(&format!("Better Stack password for {name}: "))?;
            if secret.is_empty() {
                return Err("empty password: nothing stored".into());
            }
            entry
                .set_password(&secret)
                .map_err(|e| format!("could not store {name}: {}", keyring_error(&e)))?;
            println!("stored in the OS keyring as {name}");
        }
        SecretCommand::Delete { .. } => match entry.delete_credential() {
            Ok(()) => println!("removed {name} from the OS keyring"),
            Err(keyring_core::Error::NoEntry) => println!("nothing stored as {name}"),
            Err(e) => return Err(format!("could not remove {name}: {}", keyring_error(&e))),
        },
    }
    Ok(())
}

/// One line from the terminal with echo off, or from stdin when it is not a
/// terminal. The trailing newline is dropped.
fn read_secret(prompt: &str) -> Result<String, String> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    let mut line = String::new();
    if tty {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    let echo = if tty { EchoOff::new() } else { None };
    let read = stdin.lock().read_line(&mut line);
    drop(echo);
    if tty {
        eprintln!();
    }
    read.map_err(|e| format!("could not read the password: {e}"))?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_string())
}

/// Terminal echo turned off until dropped.
struct EchoOff {
    #[cfg(unix)]
    saved: libc::termios,
}

impl EchoOff {
    #[cfg(unix)]
    fn new() -> Option<EchoOff> {
        // SAFETY: tcgetattr/tcsetattr on fd 0 with a termios we own.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return None;
            }
            let mut quiet = saved;
            quiet.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(0, libc::TCSANOW, &quiet) != 0 {
                return None;
            }
            Some(EchoOff { saved })
        }
    }

    #[cfg(not(unix))]
    fn new() -> Option<EchoOff> {
        None
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        #[cfg(unix)]
        // SAFETY: restores the attributes read in `new`.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}

/// Everything the source needs; built from `[hosts.NAME.betterstack]`.
#[derive(Debug, Clone)]
pub struct Options {
    pub endpoint: String,
    /// `tTEAM_SOURCE`: queries `remote(tTEAM_SOURCE_logs)`. Filled in at
    /// start when `lookup` is set.
    pub table: String,
    /// Look `table` up first (team token + source name).
    pub lookup: Option<SourceLookup>,
    pub username: String,
    pub password: PasswordRef,
    pub poll: Duration,
    pub overlap: Duration,
    pub timeout: Duration,
    pub initial_lines: usize,
    /// Name shown on each line.
    pub source_name: String,
}

impl Options {
    pub fn from_config(config: &BetterStackConfig, initial_lines: usize) -> Options {
        let password = if let Some(env) = &config.password_env {
            PasswordRef::Env(env.clone())
        } else if let Some(cmd) = &config.password_cmd {
            PasswordRef::Cmd(cmd.clone())
        } else {
            PasswordRef::Keyring(
                config
                    .keyring_entry
                    .clone()
                    .unwrap_or_else(|| config.username.clone()),
            )
        };
        let lookup = match (&config.table, &config.team_token_env, &config.source) {
            (None, Some(token_env), Some(source)) => Some(SourceLookup {
                api: config
                    .sources_api
                    .clone()
                    .unwrap_or_else(|| SOURCES_API.to_string()),
                source: source.clone(),
                token_env: token_env.clone(),
            }),
            _ => None,
        };
        Options {
            endpoint: config.endpoint.clone(),
            table: config.table.clone().unwrap_or_default(),
            lookup,
            username: config.username.clone(),
            password,
            poll: config.poll.unwrap_or(Duration::from_secs(2)),
            overlap: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            initial_lines,
            source_name: SOURCE.into(),
        }
    }
}

/// Why a query failed, in words for the pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// 401/403: credentials wrong or not allowed.
    Auth {
        status: u16,
    },
    /// 429: too many requests.
    RateLimited,
    /// 5xx.
    Server {
        status: u16,
        detail: String,
    },
    /// Other 4xx: the query was refused (e.g. unknown table or column).
    Rejected {
        status: u16,
        detail: String,
    },
    Timeout,
    Network(String),
    /// The answer was not JSONEachRow as expected.
    BadAnswer(String),
}

impl QueryError {
    /// Worth retrying soon with back-off (vs. waiting for the user to fix).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            QueryError::RateLimited
                | QueryError::Server { .. }
                | QueryError::Timeout
                | QueryError::Network(_)
        )
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Auth { status } => write!(
                f,
                "Better Stack refused the credentials ({status}): check username and password (Better Stack → Integrations → Connect remotely)"
            ),
            QueryError::RateLimited => f.write_str("Better Stack is rate limiting (429)"),
            QueryError::Server { status, detail } => {
                write!(f, "Better Stack server error ({status}): {detail}")
            }
            QueryError::Rejected { status, detail } => {
                write!(f, "Better Stack rejected the query ({status}): {detail}")
            }
            QueryError::Timeout => f.write_str("Better Stack did not answer in time"),
            QueryError::Network(e) => write!(f, "cannot reach Better Stack: {e}"),
            QueryError::BadAnswer(e) => write!(f, "unexpected answer from Better Stack: {e}"),
        }
    }
}

/// An HTTP client for one endpoint and user.
pub struct Client {
    http: reqwest::Client,
    url: String,
    username: String,
    password: Secret,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

impl Client {
    pub fn new(
        endpoint: &str,
        username: &str,
        password: Secret,
        timeout: Duration,
    ) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        let endpoint = endpoint.trim_end_matches('/');
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        Ok(Client {
            http,
            url: format!("{endpoint}{sep}output_format_pretty_row_numbers=0"),
            username: username.to_string(),
            password,
        })
    }

    /// Runs one SQL statement and returns the body.
    pub async fn query(&self, sql: &str) -> Result<String, QueryError> {
        let response = self
            .http
            .post(&self.url)
            .basic_auth(&self.username, Some(self.password.expose()))
            .header(reqwest::header::CONTENT_TYPE, "plain/text")
            .body(sql.to_string())
            .send()
            .await
            .map_err(request_error)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(request_error)?;
        match status {
            200..=299 => Ok(body),
            401 | 403 => Err(QueryError::Auth { status }),
            429 => Err(QueryError::RateLimited),
            500..=599 => Err(QueryError::Server {
                status,
                detail: first_line(&body),
            }),
            _ => Err(QueryError::Rejected {
                status,
                detail: first_line(&body),
            }),
        }
    }
}

fn request_error(e: reqwest::Error) -> QueryError {
    if e.is_timeout() {
        return QueryError::Timeout;
    }
    // Without the URL: it could carry user info if someone put it there.
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    QueryError::Network(inert(&text))
}

/// The first line of an error body, inert and at most 300 characters.
fn first_line(body: &str) -> String {
    let line = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let short: String = line.chars().take(300).collect();
    inert(short.trim())
}

/// Why the table lookup failed, in words for the pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// 401/403 from the sources API.
    Refused { status: u16 },
    /// No source of that name; the names that were there.
    NotFound { source: String, names: Vec<String> },
    /// Transport, server and format trouble (same words as queries).
    Query(QueryError),
}

impl LookupError {
    pub fn is_transient(&self) -> bool {
        matches!(self, LookupError::Query(e) if e.is_transient())
    }
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupError::Refused { status } => write!(
                f,
                "the team token was refused ({status}): check it is a Better Stack team API token (Settings → API tokens)"
            ),
            LookupError::NotFound { source, names } => {
                write!(f, "no Better Stack source named `{}`", inert(source))?;
                if names.is_empty() {
                    return f.write_str("; the team token sees no sources");
                }
                let shown: Vec<String> = names.iter().take(20).map(|n| inert(n)).collect();
                write!(f, "; the team token sees: {}", shown.join(", "))?;
                if names.len() > shown.len() {
                    write!(f, " and {} more", names.len() - shown.len())?;
                }
                Ok(())
            }
            LookupError::Query(e) => write!(f, "looking up the source: {e}"),
        }
    }
}

/// One page of `GET /api/v1/sources`.
#[derive(Debug, serde::Deserialize)]
struct SourcesPage {
    data: Vec<SourceItem>,
    #[serde(default)]
    pagination: Option<Pagination>,
}

#[derive(Debug, serde::Deserialize)]
struct SourceItem {
    attributes: SourceAttributes,
}

#[derive(Debug, serde::Deserialize)]
struct SourceAttributes {
    name: String,
    table_name: String,
    #[serde(default)]
    team_id: Option<serde_json::Value>,
}

#[derive(Debug, serde::Deserialize)]
struct Pagination {
    #[serde(default)]
    next: Option<String>,
}

/// The query table of a source: `t{team_id}_{table_name}` (the name
/// "Connect remotely" shows), or `table_name` when it already has the prefix
/// or no team id came. Only letters, digits and `_` pass (it goes into SQL).
fn table_of(attributes: &SourceAttributes) -> Result<String, String> {
    let team = match &attributes.team_id {
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let table = match team {
        Some(team) if !attributes.table_name.starts_with(&format!("t{team}_")) => {
            format!("t{team}_{}", attributes.table_name)
        }
        _ => attributes.table_name.clone(),
    };
    if table.is_empty() || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "source table name `{}` is not usable",
            inert(&table)
        ));
    }
    Ok(table)
}

/// The next page's URL on the same origin as `base`: a `next` pointing
/// elsewhere keeps only its path and query, so the token goes nowhere else.
fn next_url(base: &reqwest::Url, next: &str) -> Option<reqwest::Url> {
    let next = base.join(next).ok()?;
    if next.origin() == base.origin() {
        return Some(next);
    }
    let mut url = base.clone();
    url.set_path(next.path());
    url.set_query(next.query());
    Some(url)
}

/// Finds the table of the source named `source`, following `pagination.next`
/// (at most 50 pages).
pub async fn lookup_table(
    http: &reqwest::Client,
    api: &str,
    token: &Secret,
    source: &str,
) -> Result<String, LookupError> {
    let base = reqwest::Url::parse(&format!(
        "{}/api/v1/sources?page=1&per_page=50",
        api.trim_end_matches('/')
    ))
    .map_err(|e| {
        LookupError::Query(QueryError::BadAnswer(format!(
            "sources_api `{}` is not a URL: {e}",
            inert(api)
        )))
    })?;
    let mut url = base.clone();
    let mut names = Vec::new();
    for _ in 0..MAX_SOURCE_PAGES {
        let response = http
            .get(url.clone())
            .bearer_auth(token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| LookupError::Query(request_error(e)))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| LookupError::Query(request_error(e)))?;
        match status {
            200..=299 => {}
            401 | 403 => return Err(LookupError::Refused { status }),
            429 => return Err(LookupError::Query(QueryError::RateLimited)),
            500..=599 => {
                return Err(LookupError::Query(QueryError::Server {
                    status,
                    detail: first_line(&body),
                }));
            }
            _ => {
                return Err(LookupError::Query(QueryError::Rejected {
                    status,
                    detail: first_line(&body),
                }));
            }
        }
        // The body holds ingestion tokens: errors name the place, not the text.
        let page: SourcesPage = serde_json::from_str(&body).map_err(|e| {
            LookupError::Query(QueryError::BadAnswer(format!(
                "the sources list is not the documented JSON (line {}, column {})",
                e.line(),
                e.column()
            )))
        })?;
        for item in &page.data {
            if item.attributes.name == source {
                return table_of(&item.attributes)
                    .map_err(|e| LookupError::Query(QueryError::BadAnswer(e)));
            }
            names.push(item.attributes.name.clone());
        }
        let next = page
            .pagination
            .and_then(|p| p.next)
            .filter(|n| !n.is_empty());
        match next.and_then(|n| next_url(&base, &n)) {
            Some(next) if next != url => url = next,
            _ => break,
        }
    }
    Err(LookupError::NotFound {
        source: source.to_string(),
        names,
    })
}

/// Reads the team token from its environment variable.
fn resolve_token(env: &str) -> Result<Secret, String> {
    match std::env::var(env) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret(v.trim().to_string())),
        Ok(_) => Err(format!(
            "environment variable {} is empty; export the Better Stack team API token there (team_token_env)",
            inert(env)
        )),
        Err(_) => Err(format!(
            "environment variable {} is not set; export the Better Stack team API token there (team_token_env)",
            inert(env)
        )),
    }
}

/// Looks the table up, retrying with back-off until it is found; `None`
/// when cancelled or the token is missing (the status says why).
async fn find_table(
    options: &Options,
    lookup: &SourceLookup,
    tx: &mpsc::Sender<AppEvent>,
    cancel: &CancellationToken,
) -> Option<String> {
    let name = &options.source_name;
    let token = match resolve_token(&lookup.token_env) {
        Ok(t) => t,
        Err(message) => {
            tracing::warn!(source = %name, "{message}");
            send_status(tx, name, SourceHealth::Unavailable, message).await;
            return None;
        }
    };
    let http = match reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout)
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            let message = format!("cannot set up the HTTP client: {e}");
            send_status(tx, name, SourceHealth::Unavailable, message).await;
            return None;
        }
    };
    let mut failures: u32 = 0;
    loop {
        send_status(
            tx,
            name,
            SourceHealth::Starting,
            format!("looking up source `{}`", inert(&lookup.source)),
        )
        .await;
        let wait = match lookup_table(&http, &lookup.api, &token, &lookup.source).await {
            Ok(table) => {
                tracing::info!(source = %name, "source `{}` is table {table}", inert(&lookup.source));
                return Some(table);
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let (health, wait) = if e.is_transient() {
                    (SourceHealth::Degraded, backoff(options.poll, failures))
                } else {
                    (SourceHealth::Unavailable, MAX_BACKOFF)
                };
                let message = format!(
                    "{e}; retrying in {}",
                    humantime::format_duration(Duration::from_secs(wait.as_secs().max(1)))
                );
                tracing::warn!(source = %name, "{message}");
                send_status(tx, name, health, message).await;
                wait
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return None,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// The newest `n` rows, oldest first.
pub fn initial_sql(table: &str, n: usize) -> String {
    format!(
        "SELECT dt, raw FROM (SELECT dt, raw FROM remote({table}_logs) ORDER BY dt DESC LIMIT {n}) ORDER BY dt ASC FORMAT JSONEachRow"
    )
}

/// Rows at or after `since` (UTC nanoseconds), one page.
pub fn poll_sql(table: &str, since: i64, limit: usize, offset: usize) -> String {
    range_sql(table, since, None, limit, offset)
}

/// Rows at or after `since` and before `before`, one page.
pub fn range_sql(
    table: &str,
    since: i64,
    before: Option<i64>,
    limit: usize,
    offset: usize,
) -> String {
    let upper = before
        .map(|b| format!(" AND dt < toDateTime64('{}', 6, 'UTC')", format_dt(b)))
        .unwrap_or_default();
    format!(
        "SELECT dt, raw FROM remote({table}_logs) WHERE dt >= toDateTime64('{}', 6, 'UTC'){upper} ORDER BY dt ASC LIMIT {limit} OFFSET {offset} FORMAT JSONEachRow",
        format_dt(since)
    )
}

/// ClickHouse's DateTime64(6) text: `YYYY-MM-DD hh:mm:ss.ffffff`.
pub fn format_dt(nanos: i64) -> String {
    let secs = nanos.div_euclid(NANOS);
    let sub = nanos.rem_euclid(NANOS) as u32;
    match Utc.timestamp_opt(secs, sub).single() {
        Some(dt) => dt.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        None => "1970-01-01 00:00:00.000000".into(),
    }
}

/// Parses `YYYY-MM-DD hh:mm:ss[.fff…]` (UTC) into nanoseconds.
pub fn parse_dt(text: &str) -> Option<i64> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f").ok()?;
    naive.and_utc().timestamp_nanos_opt()
}

/// One row of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub dt: i64,
    pub raw: String,
}

impl Row {
    fn key(&self) -> (i64, u64) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.raw.hash(&mut h);
        (self.dt, h.finish())
    }
}

/// Parses a JSONEachRow body of `dt`, `raw` rows. A malformed row fails the
/// whole answer (the service never sends one; a proxy page might).
pub fn parse_rows(body: &str) -> Result<Vec<Row>, String> {
    #[derive(serde::Deserialize)]
    struct Wire {
        dt: String,
        raw: String,
    }
    let mut rows = Vec::new();
    for (i, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let wire: Wire = serde_json::from_str(line)
            .map_err(|e| format!("row {}: {e}: {}", i + 1, first_line(line)))?;
        let dt = parse_dt(&wire.dt)
            .ok_or_else(|| format!("row {}: `{}` is not a time", i + 1, inert(&wire.dt)))?;
        rows.push(Row { dt, raw: wire.raw });
    }
    Ok(rows)
}

/// Turns a row into a pane line: the `message` of the JSON in `raw` (or the
/// whole of `raw` when it is not JSON or has no message), level from `level`.
pub fn row_to_line(row: &Row, source: &Arc<str>) -> LogLine {
    let parsed: Option<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&row.raw).ok();
    let (message, level) = match &parsed {
        Some(obj) => {
            let message = ["message", "msg", "log"]
                .iter()
                .find_map(|k| obj.get(*k).and_then(|v| v.as_str()));
            let level = ["level", "severity", "levelname", "log.level"]
                .iter()
                .find_map(|k| obj.get(*k).and_then(|v| v.as_str()))
                .and_then(Level::from_name);
            (message, level)
        }
        None => (None, None),
    };
    let text = message.unwrap_or(&row.raw);
    LogLine::from_raw(row.dt, source.clone(), level, text.as_bytes())
}

/// The tailing cursor and the de-duplication window.
#[derive(Debug, Clone)]
pub struct Tail {
    /// Newest `dt` seen.
    pub cursor: Option<i64>,
    overlap: i64,
    seen: BTreeSet<(i64, u64)>,
}

impl Tail {
    pub fn new(overlap: Duration) -> Tail {
        Tail {
            cursor: None,
            overlap: i64::try_from(overlap.as_nanos()).unwrap_or(i64::MAX / 2),
            seen: BTreeSet::new(),
        }
    }

    /// Lower bound of the next poll.
    pub fn since(&self) -> Option<i64> {
        self.cursor.map(|c| c.saturating_sub(self.overlap))
    }

    /// Keeps the rows not seen before (in the order given) and moves the
    /// cursor. Forgets keys that fell out of the overlap window.
    pub fn accept(&mut self, rows: Vec<Row>) -> Vec<Row> {
        let mut fresh = Vec::new();
        for row in rows {
            let key = row.key();
            if self.since().is_some_and(|since| row.dt < since) {
                // Outside the window: shown before, or later than the overlap.
                continue;
            }
            if self.seen.insert(key) {
                self.cursor = Some(self.cursor.map_or(row.dt, |c| c.max(row.dt)));
                fresh.push(row);
            }
        }
        if let Some(since) = self.since() {
            self.seen = self.seen.split_off(&(since, 0));
        }
        while self.seen.len() > MAX_SEEN {
            self.seen.pop_first();
        }
        fresh
    }

    /// Remembers rows without showing them: the rows of the overlap window
    /// older than the first load, which exist but were not asked for.
    pub fn mark_seen(&mut self, rows: &[Row]) {
        for row in rows {
            self.seen.insert(row.key());
        }
    }

    pub fn remembered(&self) -> usize {
        self.seen.len()
    }
}

/// Reads new rows once: the initial lines when nothing was seen yet, else
/// every page since the cursor minus the overlap.
pub async fn poll_once(
    client: &Client,
    options: &Options,
    tail: &mut Tail,
) -> Result<Vec<Row>, QueryError> {
    let Some(since) = tail.since() else {
        return first_load(client, options, tail).await;
    };
    let mut fresh = Vec::new();
    for page in 0..MAX_PAGES_PER_POLL {
        let sql = poll_sql(&options.table, since, PAGE, page * PAGE);
        let rows = match fetch(client, &sql).await {
            Ok(rows) => rows,
            // Rows of earlier pages are kept (and shown); the next poll
            // re-reads from the overlap, so the rest is not lost.
            Err(e) if page > 0 => {
                tracing::warn!(source = %options.source_name, "page {page} failed: {e}");
                break;
            }
            Err(e) => return Err(e),
        };
        let full = rows.len() >= PAGE;
        fresh.extend(tail.accept(rows));
        if !full {
            break;
        }
    }
    Ok(fresh)
}

/// The newest `initial_lines` rows. Older rows inside the overlap exist too:
/// they are remembered (not shown) so the next poll does not show them as
/// new, while rows that arrive there later are. Nothing changes in `tail`
/// unless every query succeeded.
async fn first_load(
    client: &Client,
    options: &Options,
    tail: &mut Tail,
) -> Result<Vec<Row>, QueryError> {
    let wanted = options.initial_lines.max(1);
    let rows = fetch(client, &initial_sql(&options.table, wanted)).await?;
    let mut older = Vec::new();
    if let (true, Some(oldest), Some(newest)) = (
        rows.len() >= wanted,
        rows.first().map(|r| r.dt),
        rows.last().map(|r| r.dt),
    ) {
        let since = newest.saturating_sub(tail.overlap);
        if since < oldest {
            for page in 0..MAX_PAGES_PER_POLL {
                let sql = range_sql(&options.table, since, Some(oldest), PAGE, page * PAGE);
                let batch = fetch(client, &sql).await?;
                let full = batch.len() >= PAGE;
                older.extend(batch);
                if !full {
                    break;
                }
            }
        }
    }
    let fresh = tail.accept(rows);
    tail.mark_seen(&older);
    Ok(fresh)
}

async fn fetch(client: &Client, sql: &str) -> Result<Vec<Row>, QueryError> {
    let body = client.query(sql).await?;
    parse_rows(&body).map_err(QueryError::BadAnswer)
}

/// The source task: resolves the password, then tails until cancelled.
pub async fn run(mut options: Options, tx: mpsc::Sender<AppEvent>, cancel: CancellationToken) {
    let name = options.source_name.clone();
    send_status(&tx, &name, SourceHealth::Starting, "connecting").await;
    let password = match resolve_password(&options.password).await {
        Ok(p) => p,
        Err(message) => {
            tracing::warn!(source = %name, "{message}");
            send_status(&tx, &name, SourceHealth::Unavailable, message).await;
            return;
        }
    };
    if let Some(lookup) = options.lookup.clone() {
        match find_table(&options, &lookup, &tx, &cancel).await {
            Some(table) => options.table = table,
            None => return,
        }
    }
    let client = match Client::new(
        &options.endpoint,
        &options.username,
        password,
        options.timeout,
    ) {
        Ok(c) => c,
        Err(message) => {
            send_status(&tx, &name, SourceHealth::Unavailable, message).await;
            return;
        }
    };
    let source: Arc<str> = Arc::from(name.as_str());
    let mut tail = Tail::new(options.overlap);
    let mut failures: u32 = 0;
    let mut last_ok_message = String::new();
    loop {
        let wait = match poll_once(&client, &options, &mut tail).await {
            Ok(rows) => {
                failures = 0;
                if !rows.is_empty() {
                    let lines = rows.iter().map(|r| row_to_line(r, &source)).collect();
                    if tx
                        .send(AppEvent::Log(LogEvent::Lines(lines)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                let message = format!(
                    "tailing {}_logs every {}",
                    inert(&options.table),
                    humantime::format_duration(options.poll)
                );
                if message != last_ok_message {
                    tracing::info!(source = %name, "{message}");
                    send_status(&tx, &name, SourceHealth::Live, message.clone()).await;
                    last_ok_message = message;
                }
                options.poll
            }
            Err(e) => {
                last_ok_message.clear();
                failures = failures.saturating_add(1);
                let (health, wait) = if e.is_transient() {
                    (SourceHealth::Degraded, backoff(options.poll, failures))
                } else {
                    (SourceHealth::Unavailable, MAX_BACKOFF)
                };
                let message = format!(
                    "{e}; retrying in {}",
                    humantime::format_duration(Duration::from_secs(wait.as_secs().max(1)))
                );
                tracing::warn!(source = %name, "{message}");
                send_status(&tx, &name, health, message).await;
                wait
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// poll × 2^failures, at most a minute.
pub fn backoff(poll: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.min(6);
    poll.saturating_mul(factor).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(dt: i64, raw: &str) -> Row {
        Row {
            dt,
            raw: raw.into(),
        }
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        let client =
            Client::new("http://127.0.0.1:1", "u", s, Duration::from_secs(1)).expect("client");
        assert!(!format!("{client:?}").contains("hunter2"));
    }

    #[test]
    fn dt_round_trips_in_clickhouse_format() {
        let t = parse_dt("2026-11-23 14:00:00.123456").expect("dt");
        assert_eq!(t, 1_795_442_400_123_456_000);
        assert_eq!(format_dt(t), "2026-11-23 14:00:00.123456");
        assert_eq!(parse_dt("2026-11-23 14:00:00"), Some(1_795_442_400 * NANOS));
        assert_eq!(parse_dt("yesterday"), None);
    }

    #[test]
    fn rows_parse_and_malformed_rows_fail() {
        let body = "{\"dt\":\"2026-11-23 14:00:00.000001\",\"raw\":\"{\\\"message\\\":\\\"hi\\\",\\\"level\\\":\\\"warn\\\"}\"}\n\n";
        let rows = parse_rows(body).expect("rows");
        assert_eq!(rows.len(), 1);
        let line = row_to_line(&rows[0], &Arc::from("betterstack"));
        assert_eq!(line.text, "hi");
        assert_eq!(line.level, Some(Level::Warn));
        assert!(parse_rows("{\"dt\":\"x\",\"raw\":\"y\"}").is_err());
        assert!(parse_rows("<html>bad gateway</html>").is_err());
        assert!(parse_rows("{\"dt\":\"2026-11-23 14:00:00\"}").is_err());
    }

    #[test]
    fn non_json_raw_is_shown_whole_and_inert() {
        let line = row_to_line(&row(1, "ERROR \x1b]52;c;eA==\x07"), &Arc::from("b"));
        assert_eq!(line.text, "ERROR ␛]52;c;eA==␇");
        assert_eq!(line.level, Some(Level::Error));
    }

    #[test]
    fn tail_drops_doubles_but_keeps_equal_times_and_late_rows() {
        let mut tail = Tail::new(Duration::from_secs(30));
        let s = NANOS;
        let first = tail.accept(vec![
            row(100 * s, "a"),
            row(100 * s, "b"),
            row(101 * s, "c"),
        ]);
        assert_eq!(first.len(), 3);
        assert_eq!(tail.cursor, Some(101 * s));
        assert_eq!(tail.since(), Some(71 * s));
        // Re-read of the overlap with a late row and an equal-time row.
        let again = tail.accept(vec![
            row(95 * s, "late"),
            row(100 * s, "a"),
            row(100 * s, "b"),
            row(101 * s, "c"),
            row(101 * s, "c2"),
        ]);
        let raws: Vec<&str> = again.iter().map(|r| r.raw.as_str()).collect();
        assert_eq!(raws, ["late", "c2"]);
        // Moving on forgets keys outside the window.
        tail.accept(vec![row(200 * s, "z")]);
        assert_eq!(tail.remembered(), 1);
        // Rows marked seen (older than a first load) do not show later.
        tail.mark_seen(&[row(185 * s, "older")]);
        assert!(tail.accept(vec![row(185 * s, "older")]).is_empty());
        assert_eq!(tail.accept(vec![row(185 * s, "arrived later")]).len(), 1);
    }

    fn attrs(name: &str, table: &str, team: Option<serde_json::Value>) -> SourceAttributes {
        SourceAttributes {
            name: name.into(),
            table_name: table.into(),
            team_id: team,
        }
    }

    #[test]
    fn source_table_names_get_the_team_prefix_and_stay_sql_safe() {
        let t = |a| table_of(&a);
        assert_eq!(
            t(attrs("Nginx", "nginx", Some(123.into()))),
            Ok("t123_nginx".into())
        );
        assert_eq!(
            t(attrs("N", "t123_nginx", Some(123.into()))),
            Ok("t123_nginx".into())
        );
        assert_eq!(
            t(attrs("N", "nginx", Some("77".into()))),
            Ok("t77_nginx".into())
        );
        assert_eq!(t(attrs("N", "t9_app", None)), Ok("t9_app".into()));
        assert!(t(attrs("N", "x) UNION SELECT", Some(1.into()))).is_err());
        assert!(t(attrs("N", "", None)).is_err());
    }

    #[test]
    fn next_page_stays_on_the_configured_origin() {
        let base = reqwest::Url::parse("http://127.0.0.1:8080/api/v1/sources?page=1").expect("url");
        let same = next_url(&base, "http://127.0.0.1:8080/api/v1/sources?page=2").expect("next");
        assert_eq!(same.as_str(), "http://127.0.0.1:8080/api/v1/sources?page=2");
        let moved = next_url(
            &base,
            "https://telemetry.betterstack.com/api/v1/sources?page=3&per_page=2",
        )
        .expect("next");
        assert_eq!(
            moved.as_str(),
            "http://127.0.0.1:8080/api/v1/sources?page=3&per_page=2"
        );
        let relative = next_url(&base, "/api/v1/sources?page=4").expect("relative");
        assert_eq!(
            relative.as_str(),
            "http://127.0.0.1:8080/api/v1/sources?page=4"
        );
    }

    #[test]
    fn lookup_errors_say_what_to_do() {
        let e = LookupError::Refused { status: 401 };
        assert!(e.to_string().contains("the team token was refused (401)"));
        assert!(!e.is_transient());
        let e = LookupError::NotFound {
            source: "api".into(),
            names: vec!["web".into(), "\x1b[31mdb".into()],
        };
        assert_eq!(
            e.to_string(),
            "no Better Stack source named `api`; the team token sees: web, ␛[31mdb"
        );
        assert!(LookupError::Query(QueryError::Timeout).is_transient());
        let many = LookupError::NotFound {
            source: "x".into(),
            names: (0..25).map(|i| format!("s{i}")).collect(),
        };
        assert!(many.to_string().ends_with("s19 and 5 more"), "{many}");
    }

    #[test]
    fn keyring_source_defaults_to_the_username() {
        let mut config = BetterStackConfig {
            endpoint: "https://x".into(),
            username: "u_abc".into(),
            keyring: true,
            team_token_env: Some("T".into()),
            source: Some("My app".into()),
            ..Default::default()
        };
        let options = Options::from_config(&config, 10);
        assert_eq!(options.password, PasswordRef::Keyring("u_abc".into()));
        assert_eq!(
            options.lookup,
            Some(SourceLookup {
                api: SOURCES_API.into(),
                source: "My app".into(),
                token_env: "T".into(),
            })
        );
        config.keyring_entry = Some("prod".into());
        config.table = Some("t1_a".into());
        config.team_token_env = None;
        let options = Options::from_config(&config, 10);
        assert_eq!(options.password, PasswordRef::Keyring("prod".into()));
        assert_eq!(options.lookup, None);
        assert_eq!(options.table, "t1_a");
    }

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let poll = Duration::from_secs(2);
        assert_eq!(backoff(poll, 1), Duration::from_secs(4));
        assert_eq!(backoff(poll, 3), Duration::from_secs(16));
        assert_eq!(backoff(poll, 30), MAX_BACKOFF);
    }

    #[test]
    fn sql_is_what_the_api_documents() {
        assert_eq!(
            poll_sql("t1_app", 1_795_442_400 * NANOS, 1000, 0),
            "SELECT dt, raw FROM remote(t1_app_logs) WHERE dt >= toDateTime64('2026-11-23 14:00:00.000000', 6, 'UTC') ORDER BY dt ASC LIMIT 1000 OFFSET 0 FORMAT JSONEachRow"
        );
        assert!(initial_sql("t1_app", 200).contains("ORDER BY dt DESC LIMIT 200"));
    }

    #[tokio::test]
    async fn passwords_by_reference() {
        // Either the keyring works and has no such entry, or there is none.
        let err = resolve_password(&PasswordRef::Keyring(
            "opscockpit-test-surely-missing".into(),
        ))
        .await
        .expect_err("no entry");
        assert!(
            err.contains(
                "no password in the OS keyring for opscockpit/opscockpit-test-surely-missing"
            ) || err.contains("no OS keyring available"),
            "{err}"
        );
        let err = resolve_password(&PasswordRef::Env("OPSCOCKPIT_TEST_SURELY_UNSET".into()))
            .await
            .expect_err("unset");
        assert!(err.contains("OPSCOCKPIT_TEST_SURELY_UNSET is not set"));
        let ok = resolve_password(&PasswordRef::Cmd("printf 's3cret\\n'".into()))
            .await
            .expect("cmd");
        assert_eq!(ok.expose(), "s3cret");
        let err = resolve_password(&PasswordRef::Cmd("echo s3cret; exit 3".into()))
            .await
            .expect_err("fails");
        assert!(!err.contains("s3cret"), "{err}");
    }
}
