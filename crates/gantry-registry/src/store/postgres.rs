//! The PostgreSQL engine (15+), for several registry processes sharing one database: opening,
//! migrating, and its [`Engine`] differences.
//!
//! There is no process-local lock here: every race between instances is decided inside PostgreSQL
//! (see `sql.rs`), which needs READ COMMITTED's fresh snapshot per statement.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Postgres;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use super::{Engine, SqlStore, StoreError, StoreResult};
use crate::config::redact_url;

impl Engine for Postgres {
    const NAME: &'static str = "PostgreSQL";
    const PROCESS_WRITE_LOCK: bool = false;
    /// The race handling relies on READ COMMITTED (a fresh snapshot per statement); say so rather
    /// than inherit a server whose `default_transaction_isolation` is stricter and would answer
    /// races with serialization failures instead of clean conflicts.
    const BEGIN_WRITE: &'static str = "BEGIN ISOLATION LEVEL READ COMMITTED";
    const POSITION_FN: &'static str = "strpos";
    const OWNER_REMOVAL_LOCK: Option<&'static str> =
        Some("SELECT id FROM crates WHERE id = $1 FOR UPDATE");

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

/// How long a request waits for a free pooled connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

impl SqlStore<Postgres> {
    /// Connects, checks the server answers, and applies pending migrations.
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<Self> {
        let shown = redact_url(url);
        let opts = PgConnectOptions::from_str(url).map_err(|source| StoreError::Open {
            what: format!("invalid --database-url `{shown}`"),
            source,
        })?;
        let unreachable = |source| StoreError::Open {
            what: format!(
                "cannot connect to PostgreSQL at `{shown}`; check that the server is running, the \
                 database exists and the user may log in (--database-url / GANTRY_DATABASE_URL)"
            ),
            source,
        };
        // One direct connection first: the pool would retry until its timeout and then report only
        // "timed out", hiding "connection refused" or "password authentication failed".
        opts.connect()
            .await
            .map_err(unreachable)?
            .close()
            .await
            .ok();
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(opts)
            .await
            .map_err(unreachable)?;
        crate::migrate::migrator(crate::migrate::POSTGRES)
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                engine: Postgres::NAME,
                url: shown.clone(),
                source,
            })?;
        Ok(SqlStore::new(pool))
    }
}
