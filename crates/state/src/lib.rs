/*!
The state store: what crashdsr keeps between runs and shares between
workers, on SQLite (one machine; the default, a file in the work
directory) or PostgreSQL (several workers, which claim work with
`FOR UPDATE SKIP LOCKED`). One [`StateStore`] type, one schema, and a
module per concern, each usable alone:

- [`crawl`]: the seed's crash table (crash GUID, `HasBeenRetrieved`)
  extended with status, attempts, leases, last error, fetch time and the
  manifest digest, plus the inventory's saved cursors;
- [`requests`]: the requests answered, for the audit;
- [`workers`]: where each running `fetch` is, for `status`;
- [`journal`]: the erasure journal, each step before and after it runs;
- [`tasks`]: the index's segment tasks, a work queue with leases;
- [`leases`]: worker names, and which workers of this host are dead.
*/
#![warn(missing_docs)]

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Runs the same body against whichever pool the store has; the body is
/// type-checked once per backend.
macro_rules! on_pool {
    ($self:expr, $p:ident => $body:expr) => {
        match &$self.pool {
            $crate::Pool::Sqlite($p) => $body,
            $crate::Pool::Postgres($p) => $body,
        }
    };
}

pub mod crawl;
mod error;
pub mod journal;
pub mod leases;
pub mod requests;
pub mod tasks;
pub mod workers;

pub use crate::crawl::{Claim, InventoryRun, LastError, ListedCrash, Status, StatusCount};
pub use crate::error::{Error, Result};
pub use crate::journal::{Step, StepState};
pub use crate::requests::RequestRecord;
pub use crate::tasks::{SegmentTask, TaskCounts};
pub use crate::workers::WorkerReport;

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS crashes (
        app TEXT NOT NULL,
        error_id TEXT NOT NULL,
        crash_guid TEXT NOT NULL,
        error_group_id TEXT NOT NULL,
        has_been_retrieved BOOLEAN NOT NULL DEFAULT FALSE,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts BIGINT NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_expires BIGINT,
        last_error TEXT,
        error_time BIGINT,
        has_attachments BOOLEAN,
        has_breadcrumbs BOOLEAN,
        seen_run BIGINT NOT NULL,
        expired_at BIGINT,
        fetched_at BIGINT,
        manifest_sha256 TEXT,
        PRIMARY KEY (app, error_id))",
    "CREATE INDEX IF NOT EXISTS crashes_claim ON crashes (app, status, error_id)",
    "CREATE TABLE IF NOT EXISTS error_groups (
        app TEXT NOT NULL,
        error_group_id TEXT NOT NULL,
        listed_run BIGINT NOT NULL,
        errors_done_run BIGINT NOT NULL DEFAULT 0,
        errors_cursor TEXT,
        PRIMARY KEY (app, error_group_id))",
    "CREATE TABLE IF NOT EXISTS inventory_runs (
        app TEXT PRIMARY KEY,
        run BIGINT NOT NULL,
        api TEXT NOT NULL,
        groups_cursor TEXT,
        groups_done BOOLEAN NOT NULL DEFAULT FALSE,
        finished BOOLEAN NOT NULL DEFAULT FALSE,
        crashes_at_start BIGINT NOT NULL DEFAULT 0,
        started_at BIGINT,
        finished_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS requests (
        request_id TEXT PRIMARY KEY,
        app TEXT NOT NULL,
        subject TEXT NOT NULL,
        received TEXT NOT NULL,
        due TEXT NOT NULL,
        record TEXT NOT NULL,
        package_sha256 TEXT NOT NULL,
        delivered BOOLEAN NOT NULL DEFAULT FALSE,
        updated_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS workers (
        worker TEXT PRIMARY KEY,
        app TEXT NOT NULL,
        done BIGINT NOT NULL,
        total BIGINT NOT NULL,
        rate_per_sec DOUBLE PRECISION,
        max_per_sec DOUBLE PRECISION,
        throttled_last_minute BIGINT NOT NULL DEFAULT 0,
        eta_secs BIGINT,
        updated_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS index_tasks (
        index_url TEXT NOT NULL,
        segment TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        status TEXT NOT NULL,
        entry TEXT,
        lease_owner TEXT,
        lease_expires BIGINT,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (index_url, segment))",
    "CREATE TABLE IF NOT EXISTS erasure_journal (
        plan_id TEXT NOT NULL,
        step BIGINT NOT NULL,
        state TEXT NOT NULL,
        detail TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (plan_id, step))",
];

/// The state store.
#[derive(Debug, Clone)]
pub struct StateStore {
    pool: Pool,
    url_shown: String,
}

impl StateStore {
    /// Opens (creating if needed) the store at `url`: `postgres://…`, or
    /// `sqlite://PATH`, or a plain file path for SQLite. Applies the schema.
    pub async fn open(url: &str) -> Result<Self> {
        let shown = redact_url(url);
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await
                .map_err(|e| {
                    Error::Config(format!("connecting to the state store {shown}: {e}"))
                })?;
            Pool::Postgres(pool)
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            if let Some(dir) = std::path::Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::Config(format!("creating {}: {e}", dir.display())))?;
            }
            let opts = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
                .map_err(|e| Error::Config(format!("state store {shown}: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30));
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts)
                .await
                .map_err(|e| Error::Config(format!("opening the state store {shown}: {e}")))?;
            Pool::Sqlite(pool)
        };
        let store = Self {
            pool,
            url_shown: shown,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The URL without credentials.
    pub fn url(&self) -> &str {
        &self.url_shown
    }

    /// Whether several workers can share it.
    pub fn is_shared(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    async fn migrate(&self) -> Result<()> {
        for stmt in SCHEMA {
            on_pool!(self, p => sqlx::query(sqlx::AssertSqlSafe(*stmt)).execute(p).await.map(drop))
                .map_err(Error::store("applying the schema"))?;
        }
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(&self) {
        on_pool!(self, p => p.close().await);
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A database URL with its password replaced.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("REDACTED"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
