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
//! keyring: `crate::secrets`) and lives in a `Secret` whose `Debug` prints
//! nothing.
//!
//! - [`lookup`]: the table by source name (team token, sources API);
//! - [`query`]: the HTTP client, the SQL it sends and the rows it parses;
//! - [`tail`]: the poller with its cursor, overlap and de-duplication.
//!
//! Instead of a table name the config can give a team API token (by env var)
//! and a source name: the table is then looked up once at start in
//! `GET https://telemetry.betterstack.com/api/v1/sources` (see
//! [`lookup_table`]), retried with back-off until it succeeds.

pub mod lookup;
pub mod query;
pub mod tail;

use std::time::Duration;

use crate::config::BetterStackConfig;
use crate::secrets::Purpose;
pub use crate::secrets::{Secret, SecretRef};
pub use lookup::{LookupError, SOURCES_API, SourceLookup, lookup_table};
pub use query::{
    Client, QueryError, Row, format_dt, initial_sql, parse_dt, parse_rows, poll_sql, range_sql,
    row_to_line,
};
pub use tail::{Tail, backoff, poll_once, run};

pub const SOURCE: &str = "betterstack";
/// Rows per query; a full page is followed by the next one at once.
pub const PAGE: usize = 1000;
const MAX_PAGES_PER_POLL: usize = 20;
const NANOS: i64 = 1_000_000_000;
/// Longest wait between attempts while backing off.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// (dt, hash) pairs kept at most, whatever the overlap holds.
const MAX_SEEN: usize = 200_000;

/// How the Better Stack password is named in config and errors.
pub const PASSWORD: Purpose = Purpose {
    what: "the Better Stack password",
    env_key: "password_env",
    cmd_key: "password_cmd",
};

/// Fetches the Better Stack password.
pub async fn resolve_password(reference: &SecretRef) -> Result<Secret, String> {
    crate::secrets::resolve(reference, &PASSWORD).await
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
    pub password: SecretRef,
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
            SecretRef::Env(env.clone())
        } else if let Some(cmd) = &config.password_cmd {
            SecretRef::Cmd(cmd.clone())
        } else {
            SecretRef::Keyring(
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::lookup::{SourceAttributes, next_url, table_of};
    use super::*;
    use crate::logs::Level;

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
        assert_eq!(options.password, SecretRef::Keyring("u_abc".into()));
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
        assert_eq!(options.password, SecretRef::Keyring("prod".into()));
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
        let err = resolve_password(&SecretRef::Keyring("opscockpit-test-surely-missing".into()))
            .await
            .expect_err("no entry");
        assert!(
            err.contains(
                "no password in the OS keyring for opscockpit/opscockpit-test-surely-missing"
            ) || err.contains("no OS keyring available"),
            "{err}"
        );
        let err = resolve_password(&SecretRef::Env("OPSCOCKPIT_TEST_SURELY_UNSET".into()))
            .await
            .expect_err("unset");
        assert!(err.contains("OPSCOCKPIT_TEST_SURELY_UNSET is not set"));
        let ok = resolve_password(&SecretRef::Cmd("printf 's3cret\\n'".into()))
            .await
            .expect("cmd");
        assert_eq!(ok.expose(), "s3cret");
        let err = resolve_password(&SecretRef::Cmd("echo s3cret; exit 3".into()))
            .await
            .expect_err("fails");
        assert!(!err.contains("s3cret"), "{err}");
    }
}
