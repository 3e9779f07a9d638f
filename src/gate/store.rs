//! The history database: one SQLite file in the data dir shared by every
//! cockpit process (one per host). WAL so readers never block the writer,
//! `synchronous=FULL` so a recorded decision survives a power cut, every
//! write in `BEGIN IMMEDIATE` (the write lock is taken before reading what
//! the write depends on: the state row and the chain head), and a busy
//! timeout so processes queue instead of failing. Clients (`propose`,
//! `history`, `audit`) never write: only cockpit processes do.
//!
//! `actions` holds each action's current view; `events` is the append-only
//! hash chain (triggers refuse UPDATE and DELETE) that the views come from.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};

use super::audit::{AuditEvent, GENESIS};
use super::replay;
use super::{ActionState, ActionView, GateError, OutputRecord, Risk, Tier};

/// The kind of the chain event that records an outcome (not a state).
pub const OUTCOME_EVENT: &str = "outcome";

/// How long a writer waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

/// Schema migrations, applied in order; `PRAGMA user_version` is how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: actions and the event chain.
    "CREATE TABLE actions (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        state TEXT NOT NULL,
        tier TEXT NOT NULL,
        rule TEXT NOT NULL,
        command TEXT NOT NULL,
        cwd TEXT,
        timeout_secs INTEGER NOT NULL,
        title TEXT NOT NULL,
        reason TEXT NOT NULL,
        agent TEXT NOT NULL,
        risk TEXT,
        fingerprint TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        decided_at INTEGER,
        decided_by TEXT,
        decision_reason TEXT,
        started_at INTEGER,
        ended_at INTEGER,
        exit_code INTEGER,
        signal TEXT,
        error TEXT,
        stdout_total INTEGER NOT NULL DEFAULT 0,
        stderr_total INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX actions_host_state ON actions(host, state);
    CREATE INDEX actions_created ON actions(created_at);
    CREATE TABLE outputs (
        action_id TEXT PRIMARY KEY REFERENCES actions(id),
        stdout BLOB NOT NULL,
        stderr BLOB NOT NULL,
        stdout_total INTEGER NOT NULL,
        stderr_total INTEGER NOT NULL,
        stdout_sha256 TEXT NOT NULL,
        stderr_sha256 TEXT NOT NULL
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        ts_ms INTEGER NOT NULL,
        action_id TEXT NOT NULL,
        host TEXT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX events_action ON events(action_id);
    CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;",
    // 2: the sandbox profile of a confined proposer (`opscockpit agent`).
    "ALTER TABLE actions ADD COLUMN confined TEXT;",
    // 3: the runbook step an action came from (JSON of `RunbookRef`).
    "ALTER TABLE actions ADD COLUMN runbook TEXT;",
    // 4: the measured before/after of a finished action (JSON; see `outcome`).
    "ALTER TABLE actions ADD COLUMN outcome TEXT;",
];

const COLUMNS: &str = "id, host, state, tier, rule, command, cwd, timeout_secs, title, reason, agent, risk, fingerprint, created_at, expires_at, decided_at, decided_by, decision_reason, started_at, ended_at, exit_code, signal, error, stdout_total, stderr_total, confined, runbook, outcome";

/// One lifecycle move and what is recorded with it.
#[derive(Debug, Clone)]
pub struct Move {
    pub to: ActionState,
    pub actor: String,
    pub data: serde_json::Value,
}

impl Move {
    pub fn new(to: ActionState, actor: &str, data: serde_json::Value) -> Self {
        Self {
            to,
            actor: actor.to_string(),
            data,
        }
    }
}

/// Which actions `history` returns.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub host: Option<String>,
    pub since_ms: Option<i64>,
    pub state: Option<ActionState>,
    pub limit: Option<usize>,
}

pub struct Store {
    conn: Connection,
}

fn db_err(context: &str) -> impl Fn(rusqlite::Error) -> GateError + '_ {
    move |e| GateError::new("store", format!("history database: {context}: {e}"))
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to
    /// date. For cockpit processes.
    pub fn open(path: &Path) -> Result<Store, GateError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                GateError::new("store", format!("creating data dir {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path).map_err(|e| {
            GateError::new(
                "store",
                format!("opening history database {}: {e}", path.display()),
            )
        })?;
        let mut store = Store { conn };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing database without writing to it (for `history`,
    /// `actions` and `audit`).
    pub fn open_read_only(path: &Path) -> Result<Store, GateError> {
        if !path.exists() {
            return Err(GateError::new(
                "no_history",
                format!(
                    "no history database at {} yet: it is created when a cockpit (`opscockpit HOST`) starts",
                    path.display()
                ),
            ));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| {
            GateError::new(
                "store",
                format!("opening history database {}: {e}", path.display()),
            )
        })?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(db_err("setting busy timeout"))?;
        Ok(Store { conn })
    }

    fn configure(&mut self) -> Result<(), GateError> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(db_err("setting busy timeout"))?;
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(db_err("enabling WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(GateError::new(
                "store",
                format!(
                    "history database refused WAL mode (got `{mode}`); is it on a network filesystem?"
                ),
            ));
        }
        self.conn
            .execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
            .map_err(db_err("setting pragmas"))?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<(), GateError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err("starting migration"))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db_err("reading schema version"))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(GateError::new(
                "store",
                format!(
                    "history database has schema {version}, newer than this opscockpit knows ({known}); upgrade opscockpit"
                ),
            ));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)
                .map_err(|e| GateError::new("store", format!("migration {}: {e}", i + 1)))?;
        }
        tx.pragma_update(None, "user_version", known)
            .map_err(db_err("writing schema version"))?;
        tx.commit().map_err(db_err("committing migration"))
    }

    pub fn schema_version(&self) -> Result<i64, GateError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db_err("reading schema version"))
    }

    /// Records a new action in state `proposed` and then the `moves` (its
    /// classification), atomically.
    pub fn insert(
        &mut self,
        view: &ActionView,
        actor: &str,
        proposed_data: serde_json::Value,
        moves: &[Move],
    ) -> Result<ActionView, GateError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err("starting write"))?;
        let mut current = view.clone();
        current.state = ActionState::Proposed;
        tx.execute(
            &format!("INSERT INTO actions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)"),
            params![
                current.id,
                current.host,
                current.state.name(),
                current.tier.name(),
                current.rule,
                current.command,
                current.cwd,
                current.timeout_secs as i64,
                current.title,
                current.reason,
                current.agent,
                current.risk.map(Risk::name),
                current.fingerprint,
                current.created_at,
                current.expires_at,
                current.decided_at,
                current.decided_by,
                current.decision_reason,
                current.started_at,
                current.ended_at,
                current.exit_code,
                current.signal,
                current.error,
                current.stdout_total as i64,
                current.stderr_total as i64,
                current.confined,
                current
                    .runbook
                    .as_ref()
                    .and_then(|r| serde_json::to_string(r).ok()),
                outcome_json(&current),
            ],
        )
        .map_err(db_err("recording proposal"))?;
        // The chain records the whole row it created, and what the moves
        // changed in it, so that the row can be checked against it.
        let proposed_row = replay::row_fields(&current);
        append_event(
            &tx,
            &current,
            "proposed",
            actor,
            &with_field(proposed_data, "row", proposed_row.clone().into()),
        )?;
        let mut final_view = view.clone();
        final_view.state = moves.last().map_or(ActionState::Proposed, |m| m.to);
        let set = replay::changed_fields(&proposed_row, &replay::row_fields(&final_view));
        for (i, m) in moves.iter().enumerate() {
            if !current.state.can_move_to(m.to) {
                return Err(invalid_move(&current, m.to));
            }
            current.state = m.to;
            let data = if i + 1 == moves.len() {
                with_field(m.data.clone(), "set", set.clone().into())
            } else {
                m.data.clone()
            };
            append_event(&tx, &current, m.to.name(), &m.actor, &data)?;
        }
        write_view(&tx, &final_view)?;
        tx.commit().map_err(db_err("committing proposal"))?;
        Ok(final_view)
    }

    /// Moves action `id` through `moves` atomically. `check` sees the
    /// current view first and may refuse; `edit` fills in fields (times,
    /// reasons, exit code). Each move must be allowed by the lifecycle.
    pub fn apply(
        &mut self,
        id: &str,
        moves: &[Move],
        check: impl FnOnce(&ActionView) -> Result<(), GateError>,
        edit: impl FnOnce(&mut ActionView),
        output: Option<&OutputRecord>,
    ) -> Result<ActionView, GateError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err("starting write"))?;
        let mut view = get_in(&tx, id)?
            .ok_or_else(|| GateError::new("not_found", format!("no action with id `{id}`")))?;
        check(&view)?;
        let mut state = view.state;
        for m in moves {
            if !state.can_move_to(m.to) {
                return Err(invalid_move(&view, m.to));
            }
            state = m.to;
        }
        let before = replay::row_fields(&view);
        edit(&mut view);
        let mut after = view.clone();
        after.state = state;
        if let Some(out) = output {
            after.stdout_total = out.stdout_total;
            after.stderr_total = out.stderr_total;
        }
        // The last event of the write says what it changed in the row and
        // which output it stored (see `replay`).
        let mut last_data = with_field(
            moves
                .last()
                .map_or(serde_json::Value::Null, |m| m.data.clone()),
            "set",
            replay::changed_fields(&before, &replay::row_fields(&after)).into(),
        );
        if let Some(out) = output {
            last_data = with_field(last_data, "output", replay::output_fields(out).into());
        }
        for (i, m) in moves.iter().enumerate() {
            view.state = m.to;
            let data = if i + 1 == moves.len() {
                &last_data
            } else {
                &m.data
            };
            append_event(&tx, &view, m.to.name(), &m.actor, data)?;
        }
        view.state = state;
        if let Some(out) = output {
            view.stdout_total = out.stdout_total;
            view.stderr_total = out.stderr_total;
            tx.execute(
                "INSERT OR REPLACE INTO outputs (action_id, stdout, stderr, stdout_total, stderr_total, stdout_sha256, stderr_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    view.id,
                    out.stdout.as_bytes(),
                    out.stderr.as_bytes(),
                    out.stdout_total as i64,
                    out.stderr_total as i64,
                    out.stdout_sha256,
                    out.stderr_sha256
                ],
            )
            .map_err(db_err("recording output"))?;
        }
        write_view(&tx, &view)?;
        tx.commit().map_err(db_err("committing"))?;
        Ok(view)
    }

    pub fn get(&self, id: &str) -> Result<Option<ActionView>, GateError> {
        get_in(&self.conn, id)
    }

    /// Actions in `state` (optionally of one host), oldest first.
    pub fn in_state(
        &self,
        host: Option<&str>,
        state: ActionState,
    ) -> Result<Vec<ActionView>, GateError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM actions WHERE state = ?1 AND (?2 IS NULL OR host = ?2) ORDER BY created_at, id"
            ))
            .map_err(db_err("listing actions"))?;
        let rows = stmt
            .query_map(params![state.name(), host], view_from_row)
            .map_err(db_err("listing actions"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(db_err("reading actions"))
    }

    /// Pending actions of `host` whose expiry is at or before `now_ms`.
    /// Asked when the earliest expiry is reached (and now and then): the
    /// filter is in the query, so an idle gate reads no rows (listing every
    /// pending action each second was a few percent of an idle cockpit's CPU).
    pub fn pending_due(&self, host: &str, now_ms: i64) -> Result<Vec<ActionView>, GateError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM actions WHERE state = 'pending' AND host = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2 ORDER BY created_at, id"
            ))
            .map_err(db_err("listing actions"))?;
        let rows = stmt
            .query_map(params![host, now_ms], view_from_row)
            .map_err(db_err("listing actions"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(db_err("reading actions"))
    }

    /// When the first pending action of `host` runs out of time (UTC ms),
    /// if any has a limit: what the gate's expiry timer waits for.
    pub fn next_expiry(&self, host: &str) -> Result<Option<i64>, GateError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT MIN(expires_at) FROM actions WHERE state = 'pending' AND host = ?1 AND expires_at IS NOT NULL",
            )
            .map_err(db_err("listing actions"))?;
        stmt.query_row(params![host], |row| row.get::<_, Option<i64>>(0))
            .map_err(db_err("reading actions"))
    }

    /// Pending actions of `host` with this fingerprint (identical command,
    /// cwd and timeout): what a retried proposal is merged into.
    pub fn pending_with_fingerprint(
        &self,
        host: &str,
        fingerprint: &str,
    ) -> Result<Vec<ActionView>, GateError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM actions WHERE state = 'pending' AND host = ?1 AND fingerprint = ?2 ORDER BY created_at, id"
            ))
            .map_err(db_err("listing actions"))?;
        let rows = stmt
            .query_map(params![host, fingerprint], view_from_row)
            .map_err(db_err("listing actions"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(db_err("reading actions"))
    }

    /// Actions newest first, each checked against the chain.
    pub fn history(&self, filter: &HistoryFilter) -> Result<Vec<ActionView>, GateError> {
        self.rows(filter)?
            .into_iter()
            .map(|v| self.checked(v))
            .collect()
    }

    /// Actions newest first, as the table holds them (unchecked).
    fn rows(&self, filter: &HistoryFilter) -> Result<Vec<ActionView>, GateError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM actions WHERE (?1 IS NULL OR host = ?1) AND (?2 IS NULL OR created_at >= ?2) AND (?3 IS NULL OR state = ?3) ORDER BY created_at DESC, id DESC LIMIT ?4"
            ))
            .map_err(db_err("listing history"))?;
        let limit = filter.limit.map(|l| l as i64).unwrap_or(-1);
        let rows = stmt
            .query_map(
                params![
                    filter.host,
                    filter.since_ms,
                    filter.state.map(ActionState::name),
                    limit
                ],
                view_from_row,
            )
            .map_err(db_err("listing history"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(db_err("reading history"))
    }

    /// `view` with `tampered` set when its row is not what the chain
    /// records (see [`replay`]). Outputs are checked by [`Store::tampering`]
    /// (`audit verify`, the cockpit's check at start): a list of hundreds of
    /// actions must not read every stored output to be drawn.
    pub fn checked(&self, mut view: ActionView) -> Result<ActionView, GateError> {
        let events = self.events(Some(&view.id))?;
        view.tampered = replay::row_problem(replay::replay(&events).get(&view.id), &view);
        Ok(view)
    }

    /// Every action and output row that is not what the chain records, and
    /// every chained action whose row is gone: `(action id, what)`. The chain
    /// is replayed once; outputs are read one at a time.
    pub fn tampering(&self) -> Result<Vec<(String, String)>, GateError> {
        let chained = replay::replay(&self.events(None)?);
        let mut found = Vec::new();
        let views = self.rows(&HistoryFilter::default())?;
        let mut ids = std::collections::BTreeSet::new();
        for view in &views {
            ids.insert(view.id.as_str());
            let chain = chained.get(&view.id);
            let problem = replay::row_problem(chain, view).or(match self.output(&view.id)? {
                Some(out) => replay::output_problem(chain, &out),
                None => None,
            });
            if let Some(problem) = problem.filter(|p| replay::is_tampering(p)) {
                found.push((view.id.clone(), problem));
            }
        }
        for id in chained.keys() {
            if !ids.contains(id.as_str()) {
                found.push((
                    id.clone(),
                    "actions row deleted: the chain records this action".into(),
                ));
            }
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT action_id FROM outputs WHERE action_id NOT IN (SELECT id FROM actions)",
            )
            .map_err(db_err("checking outputs"))?;
        let orphans = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(db_err("checking outputs"))?;
        for id in orphans {
            let id = id.map_err(db_err("checking outputs"))?;
            found.push((id, "outputs row without an action".into()));
        }
        Ok(found)
    }

    /// The oldest event's hash: names the chain (see `anchor`).
    pub fn first_hash(&self) -> Result<Option<String>, GateError> {
        self.conn
            .query_row("SELECT hash FROM events ORDER BY seq LIMIT 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db_err("reading the chain's start"))
    }

    /// The newest event: `(seq, hash)`, or `None` for an empty chain.
    pub fn head(&self) -> Result<Option<(i64, String)>, GateError> {
        chain_head(&self.conn)
    }

    /// Events in `seq` order: all of them, or one action's.
    pub fn events(&self, action_id: Option<&str>) -> Result<Vec<AuditEvent>, GateError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, ts_ms, action_id, host, kind, actor, data, prev_hash, hash FROM events WHERE (?1 IS NULL OR action_id = ?1) ORDER BY seq",
            )
            .map_err(db_err("reading events"))?;
        let rows = stmt
            .query_map(params![action_id], |r| {
                Ok(AuditEvent {
                    seq: r.get(0)?,
                    ts_ms: r.get(1)?,
                    action_id: r.get(2)?,
                    host: r.get(3)?,
                    kind: r.get(4)?,
                    actor: r.get(5)?,
                    data: r.get(6)?,
                    prev_hash: r.get(7)?,
                    hash: r.get(8)?,
                })
            })
            .map_err(db_err("reading events"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(db_err("reading events"))
    }

    pub fn output(&self, id: &str) -> Result<Option<OutputRecord>, GateError> {
        self.conn
            .query_row(
                "SELECT stdout, stderr, stdout_total, stderr_total, stdout_sha256, stderr_sha256 FROM outputs WHERE action_id = ?1",
                params![id],
                |r| {
                    let stdout: Vec<u8> = r.get(0)?;
                    let stderr: Vec<u8> = r.get(1)?;
                    Ok(OutputRecord {
                        stdout: String::from_utf8_lossy(&stdout).into_owned(),
                        stderr: String::from_utf8_lossy(&stderr).into_owned(),
                        stdout_total: r.get::<_, i64>(2)? as u64,
                        stderr_total: r.get::<_, i64>(3)? as u64,
                        stdout_sha256: r.get(4)?,
                        stderr_sha256: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(db_err("reading output"))
    }

    /// Appends the measured outcome of finished action `id` as an
    /// `outcome` event in the chain (its `set` carries the record, so the
    /// row is checked against it like any other field). Once per action:
    /// a second record is refused, never overwritten.
    pub fn record_outcome(
        &mut self,
        id: &str,
        outcome: &crate::outcome::Outcome,
        actor: &str,
    ) -> Result<ActionView, GateError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err("starting write"))?;
        let mut view = get_in(&tx, id)?
            .ok_or_else(|| GateError::new("not_found", format!("no action with id `{id}`")))?;
        if view.ended_at.is_none() || !view.state.is_terminal() {
            return Err(GateError::new(
                "not_finished",
                format!(
                    "action {id} is {}: an outcome is measured once it has run",
                    view.state
                ),
            ));
        }
        if view.outcome.is_some() {
            return Err(GateError::new(
                "outcome_recorded",
                format!("action {id} already has its outcome"),
            ));
        }
        let before = replay::row_fields(&view);
        view.outcome = Some(Box::new(outcome.clone()));
        let set = replay::changed_fields(&before, &replay::row_fields(&view));
        append_event(
            &tx,
            &view,
            OUTCOME_EVENT,
            actor,
            &serde_json::json!({ "verdict": outcome.verdict.kind, "set": set }),
        )?;
        write_view(&tx, &view)?;
        tx.commit().map_err(db_err("committing outcome"))?;
        Ok(view)
    }

    /// Direct access for tests that tamper with the chain.
    #[doc(hidden)]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// `data` (an object, or anything else wrapped as `{"data": …}`) with
/// `key` set.
fn with_field(data: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
    let mut map = match data {
        serde_json::Value::Object(map) => map,
        serde_json::Value::Null => serde_json::Map::new(),
        other => {
            let mut m = serde_json::Map::new();
            m.insert("data".into(), other);
            m
        }
    };
    map.insert(key.into(), value);
    serde_json::Value::Object(map)
}

fn invalid_move(view: &ActionView, to: ActionState) -> GateError {
    GateError::new(
        "invalid_transition",
        format!(
            "action {} is {}; it cannot become {to}",
            view.id, view.state
        ),
    )
}

fn chain_head(conn: &Connection) -> Result<Option<(i64, String)>, GateError> {
    conn.query_row(
        "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(db_err("reading chain head"))
}

fn append_event(
    conn: &Connection,
    view: &ActionView,
    kind: &str,
    actor: &str,
    data: &serde_json::Value,
) -> Result<(), GateError> {
    let (seq, prev_hash) = match chain_head(conn)? {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_string()),
    };
    let mut event = AuditEvent {
        seq,
        ts_ms: super::now_ms(),
        action_id: view.id.clone(),
        host: view.host.clone(),
        kind: kind.to_string(),
        actor: actor.to_string(),
        data: data.to_string(),
        prev_hash,
        hash: String::new(),
    };
    event.hash = event.compute_hash();
    conn.execute(
        "INSERT INTO events (seq, ts_ms, action_id, host, kind, actor, data, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            event.seq,
            event.ts_ms,
            event.action_id,
            event.host,
            event.kind,
            event.actor,
            event.data,
            event.prev_hash,
            event.hash
        ],
    )
    .map_err(db_err("appending event"))?;
    Ok(())
}

fn write_view(conn: &Connection, v: &ActionView) -> Result<(), GateError> {
    conn.execute(
        "UPDATE actions SET state = ?2, expires_at = ?3, decided_at = ?4, decided_by = ?5, decision_reason = ?6, started_at = ?7, ended_at = ?8, exit_code = ?9, signal = ?10, error = ?11, stdout_total = ?12, stderr_total = ?13, outcome = ?14 WHERE id = ?1",
        params![
            v.id,
            v.state.name(),
            v.expires_at,
            v.decided_at,
            v.decided_by,
            v.decision_reason,
            v.started_at,
            v.ended_at,
            v.exit_code,
            v.signal,
            v.error,
            v.stdout_total as i64,
            v.stderr_total as i64,
            outcome_json(v),
        ],
    )
    .map_err(db_err("updating action"))?;
    Ok(())
}

/// The outcome column: the record as JSON, or NULL.
fn outcome_json(v: &ActionView) -> Option<String> {
    v.outcome
        .as_ref()
        .and_then(|o| serde_json::to_string(o).ok())
}

fn get_in(conn: &Connection, id: &str) -> Result<Option<ActionView>, GateError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM actions WHERE id = ?1"),
        params![id],
        view_from_row,
    )
    .optional()
    .map_err(db_err("reading action"))
}

fn view_from_row(r: &Row<'_>) -> rusqlite::Result<ActionView> {
    let bad = |i: usize, what: String| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            Box::new(GateError::new("store", what)),
        )
    };
    let state: String = r.get(2)?;
    let tier: String = r.get(3)?;
    let risk: Option<String> = r.get(11)?;
    Ok(ActionView {
        id: r.get(0)?,
        host: r.get(1)?,
        state: ActionState::from_name(&state)
            .ok_or_else(|| bad(2, format!("unknown state `{state}`")))?,
        tier: Tier::from_name(&tier).ok_or_else(|| bad(3, format!("unknown tier `{tier}`")))?,
        rule: r.get(4)?,
        command: r.get(5)?,
        cwd: r.get(6)?,
        timeout_secs: r.get::<_, i64>(7)?.max(0) as u64,
        title: r.get(8)?,
        reason: r.get(9)?,
        agent: r.get(10)?,
        risk: risk.as_deref().and_then(Risk::from_name),
        fingerprint: r.get(12)?,
        created_at: r.get(13)?,
        expires_at: r.get(14)?,
        decided_at: r.get(15)?,
        decided_by: r.get(16)?,
        decision_reason: r.get(17)?,
        started_at: r.get(18)?,
        ended_at: r.get(19)?,
        exit_code: r.get(20)?,
        signal: r.get(21)?,
        error: r.get(22)?,
        stdout_total: r.get::<_, i64>(23)?.max(0) as u64,
        stderr_total: r.get::<_, i64>(24)?.max(0) as u64,
        confined: r.get(25)?,
        // Unreadable provenance is dropped here and shows as tampered (the
        // chain's row has it).
        runbook: r
            .get::<_, Option<String>>(26)?
            .and_then(|j| serde_json::from_str(&j).ok()),
        // An unreadable record reads as none: the chain still holds the
        // real one, so the row is then shown as tampered.
        outcome: r
            .get::<_, Option<String>>(27)?
            .and_then(|json| serde_json::from_str(&json).ok()),
        repeats: 0,
        tampered: None,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::gate::audit;

    pub(crate) fn sample(id: &str, host: &str) -> ActionView {
        ActionView {
            state: ActionState::Proposed,
            timeout_secs: 60,
            title: "say hi".into(),
            reason: "testing".into(),
            agent: "tester".into(),
            fingerprint: crate::gate::fingerprint(host, "echo hi", None, 60),
            created_at: 1,
            expires_at: Some(i64::MAX),
            ..ActionView::blank(id, host, "echo hi")
        }
    }

    fn pending(store: &mut Store, id: &str) -> ActionView {
        store
            .insert(
                &sample(id, "web"),
                "tester",
                serde_json::json!({}),
                &[Move::new(
                    ActionState::Pending,
                    "policy",
                    serde_json::json!({}),
                )],
            )
            .expect("insert")
    }

    #[test]
    fn runbook_provenance_is_stored_chained_and_read_back() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut store = Store::open(&dir.path().join("gate.sqlite3")).expect("open");
        let mut view = sample("rb1", "web");
        view.runbook = Some(crate::runbooks::RunbookRef {
            path: "ops/restart.md".into(),
            commit: "3f2a9c1".into(),
            step: 2,
            step_sha256: "ab".repeat(32),
            modified: true,
            matches: Some(false),
            expected: Some("docker restart <c>".into()),
        });
        store
            .insert(&view, "tester", serde_json::json!({}), &[])
            .expect("insert");
        let rows = store.history(&HistoryFilter::default()).expect("history");
        assert_eq!(rows[0].runbook, view.runbook);
        assert_eq!(rows[0].tampered, None, "the chain vouches for it");
        // Editing the provenance outside the gate shows as tampering.
        store
            .conn
            .execute("UPDATE actions SET runbook = NULL WHERE id = 'rb1'", [])
            .expect("edit");
        let rows = store.history(&HistoryFilter::default()).expect("history");
        assert!(
            rows[0]
                .tampered
                .as_deref()
                .is_some_and(|t| t.contains("runbook")),
            "{:?}",
            rows[0].tampered
        );
    }

    #[test]
    fn only_pending_actions_of_the_host_past_their_expiry_are_due() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut store = Store::open(&dir.path().join("gate.sqlite3")).expect("open");
        let pend = |host: &str, id: &str, expires_at: Option<i64>| ActionView {
            expires_at,
            ..sample(id, host)
        };
        let to_pending = [Move::new(
            ActionState::Pending,
            "policy",
            serde_json::json!({}),
        )];
        for view in [
            pend("web", "due", Some(100)),
            pend("web", "due-now", Some(200)),
            pend("web", "later", Some(201)),
            pend("web", "never", None),
            pend("db", "other-host", Some(100)),
        ] {
            store
                .insert(&view, "tester", serde_json::json!({}), &to_pending)
                .expect("insert");
        }
        // Proposed, not pending: not the expiry's to decide.
        store
            .insert(
                &pend("web", "proposed", Some(100)),
                "tester",
                serde_json::json!({}),
                &[],
            )
            .expect("insert");
        let due: Vec<String> = store
            .pending_due("web", 200)
            .expect("due")
            .into_iter()
            .map(|v| v.id)
            .collect();
        assert_eq!(due, ["due", "due-now"]);
        // The timer's target: the earliest pending expiry, per host.
        assert_eq!(store.next_expiry("web").expect("next"), Some(100));
        assert_eq!(store.next_expiry("db").expect("next"), Some(100));
        assert_eq!(store.next_expiry("nowhere").expect("next"), None);
    }

    #[test]
    fn open_sets_wal_full_sync_and_schema() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("sub/gate.sqlite3");
        let store = Store::open(&path).expect("open");
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("mode");
        assert_eq!(mode, "wal");
        let sync: i64 = store
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("sync");
        assert_eq!(sync, 2, "FULL");
        assert_eq!(store.schema_version().expect("v"), MIGRATIONS.len() as i64);
        drop(store);
        // Re-opening does not re-run migrations.
        let again = Store::open(&path).expect("reopen");
        assert_eq!(again.schema_version().expect("v"), MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_schema_1_database_gains_the_confined_column() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("gate.sqlite3");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(MIGRATIONS[0]).expect("schema 1");
            conn.pragma_update(None, "user_version", 1).expect("v1");
            conn.execute(
                "INSERT INTO actions (id, host, state, tier, rule, command, timeout_secs, title, reason, agent, fingerprint, created_at) VALUES ('old', 'web', 'pending', 'approve', 'default', 'ls', 60, '', '', 'a', 'f', 1)",
                [],
            )
            .expect("old row");
        }
        let store = Store::open(&path).expect("migrate");
        assert_eq!(store.schema_version().expect("v"), MIGRATIONS.len() as i64);
        assert_eq!(store.get("old").expect("get").expect("row").confined, None);
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("gate.sqlite3");
        let store = Store::open(&path).expect("open");
        store
            .conn
            .pragma_update(None, "user_version", 99)
            .expect("bump");
        drop(store);
        let err = Store::open(&path).err().expect("refused");
        assert!(err.message.contains("upgrade opscockpit"), "{err}");
    }

    #[test]
    fn moves_are_checked_and_recorded() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut store = Store::open(&dir.path().join("g.db")).expect("open");
        let view = pending(&mut store, "a1");
        assert_eq!(view.state, ActionState::Pending);
        let err = store
            .apply(
                "a1",
                &[Move::new(
                    ActionState::Executing,
                    "x",
                    serde_json::json!({}),
                )],
                |_| Ok(()),
                |_| {},
                None,
            )
            .expect_err("pending cannot execute");
        assert_eq!(err.code, "invalid_transition");
        let done = store
            .apply(
                "a1",
                &[Move::new(
                    ActionState::Rejected,
                    "operator:me",
                    serde_json::json!({"reason": "no"}),
                )],
                |_| Ok(()),
                |v| v.decision_reason = Some("no".into()),
                None,
            )
            .expect("reject");
        assert_eq!(done.state, ActionState::Rejected);
        assert_eq!(
            store
                .get("a1")
                .expect("get")
                .expect("row")
                .decision_reason
                .as_deref(),
            Some("no")
        );
        // Terminal: nothing moves it again, and nothing was half-written.
        for to in ActionState::ALL {
            assert!(
                store
                    .apply(
                        "a1",
                        &[Move::new(to, "x", serde_json::json!({}))],
                        |_| Ok(()),
                        |_| {},
                        None
                    )
                    .is_err()
            );
        }
        let kinds: Vec<String> = store
            .events(Some("a1"))
            .expect("events")
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["proposed", "pending", "rejected"]);
        audit::verify(store.events(None).expect("all")).expect("chain");
    }

    #[test]
    fn events_table_refuses_update_and_delete() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut store = Store::open(&dir.path().join("g.db")).expect("open");
        pending(&mut store, "a1");
        assert!(
            store
                .conn
                .execute("UPDATE events SET actor = 'x'", [])
                .is_err()
        );
        assert!(store.conn.execute("DELETE FROM events", []).is_err());
    }

    #[test]
    fn two_connections_writing_at_once_keep_one_chain() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("g.db");
        Store::open(&path).expect("create");
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut store = Store::open(&path).expect("open");
                    for i in 0..25 {
                        pending(&mut store, &format!("t{t}-{i}"));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let store = Store::open_read_only(&path).expect("ro");
        let head = audit::verify(store.events(None).expect("events")).expect("chain");
        assert_eq!(head.count, 4 * 25 * 2);
        assert_eq!(
            store
                .in_state(Some("web"), ActionState::Pending)
                .expect("pending")
                .len(),
            100
        );
    }

    fn finished(store: &mut Store, id: &str) -> ActionView {
        pending(store, id);
        let run = |to| Move::new(to, "x", serde_json::json!({}));
        store
            .apply(
                id,
                &[
                    run(ActionState::Approved),
                    run(ActionState::Executing),
                    run(ActionState::Succeeded),
                ],
                |_| Ok(()),
                |v| {
                    v.started_at = Some(1_000);
                    v.ended_at = Some(2_000);
                    v.exit_code = Some(0);
                },
                None,
            )
            .expect("ran")
    }

    fn measured() -> crate::outcome::Outcome {
        let window = |from, to| crate::outcome::WindowData {
            window: crate::outcome::Window { from, to },
            ..Default::default()
        };
        crate::outcome::compare(
            &window(0, 300),
            &window(310, 610),
            "docker restart web",
            300,
            None,
        )
    }

    #[test]
    fn an_outcome_is_chained_once_and_checked_like_the_row() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut store = Store::open(&dir.path().join("g.db")).expect("open");
        pending(&mut store, "waiting");
        let err = store
            .record_outcome("waiting", &measured(), "cockpit")
            .expect_err("not run yet");
        assert_eq!(err.code, "not_finished");
        finished(&mut store, "a1");
        let view = store
            .record_outcome("a1", &measured(), "cockpit")
            .expect("recorded");
        assert_eq!(view.outcome.as_deref(), Some(&measured()));
        let err = store
            .record_outcome("a1", &measured(), "cockpit")
            .expect_err("once");
        assert_eq!(err.code, "outcome_recorded");
        let read = store.get("a1").expect("get").expect("row");
        assert_eq!(read.outcome.as_deref(), Some(&measured()));
        let kinds: Vec<String> = store
            .events(Some("a1"))
            .expect("events")
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds.last().map(String::as_str), Some(OUTCOME_EVENT));
        audit::verify(store.events(None).expect("all")).expect("chain holds");
        assert_eq!(store.checked(read).expect("checked").tampered, None);
        // A verdict edited in the table is caught against the chain.
        store
            .conn
            .execute(
                "UPDATE actions SET outcome = replace(outcome, '\"kind\":\"no_data\"', '\"kind\":\"better\"') WHERE id = 'a1'",
                [],
            )
            .expect("edit");
        let edited = store.get("a1").expect("get").expect("row");
        assert_eq!(
            edited.outcome.as_ref().map(|o| o.verdict.kind),
            Some(crate::outcome::VerdictKind::Better)
        );
        let problem = store
            .checked(edited)
            .expect("checked")
            .tampered
            .expect("caught");
        assert!(problem.contains("outcome"), "{problem}");
    }
}
