//! The table by source name: a team API token and the sources API.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::query::{first_line, request_error};
use super::tail::retry_after;
use super::*;
use crate::logs::{LogEvent, SourceHealth, send_status};
use crate::secrets::Secret;
use crate::text::inert;

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
pub(super) struct SourceAttributes {
    pub(super) name: String,
    pub(super) table_name: String,
    #[serde(default)]
    pub(super) team_id: Option<serde_json::Value>,
}

#[derive(Debug, serde::Deserialize)]
struct Pagination {
    #[serde(default)]
    next: Option<String>,
}

/// The query table of a source: `t{team_id}_{table_name}` (the name
/// "Connect remotely" shows), or `table_name` when it already has the prefix
/// or no team id came. Only letters, digits and `_` pass (it goes into SQL).
pub(super) fn table_of(attributes: &SourceAttributes) -> Result<String, String> {
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
pub(super) fn next_url(base: &reqwest::Url, next: &str) -> Option<reqwest::Url> {
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

/// How the team API token is named in config and errors.
const TEAM_TOKEN: crate::secrets::Purpose = crate::secrets::Purpose {
    what: "the Better Stack team API token",
    env_key: "team_token_env",
    cmd_key: "team_token_env",
};

/// Looks the table up, retrying with back-off until it is found; `None`
/// when cancelled or the token is missing (the status says why).
pub(super) async fn find_table<E: From<LogEvent> + Send + 'static>(
    options: &Options,
    lookup: &SourceLookup,
    tx: &mpsc::Sender<E>,
    cancel: &CancellationToken,
) -> Option<String> {
    let name = &options.source_name;
    let token = match crate::secrets::from_env(&lookup.token_env, &TEAM_TOKEN) {
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
                let (health, wait, message) =
                    retry_after(&e, e.is_transient(), options.poll, failures);
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
