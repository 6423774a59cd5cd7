//! The embedded SQLite engine (sqlx, bundled libsqlite3, WAL): opening, migrating, and its
//! [`Engine`] differences.
//!
//! Writes are serialised by one async mutex: SQLite has a single writer anyway, and taking the lock
//! before `BEGIN` avoids deferred transactions failing to upgrade under contention. The unique
//! constraints still decide every race, the mutex only makes the loser's answer clean.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Engine, SqlStore, StoreError, StoreResult};
use crate::config::SQLITE_DEFAULT_CONNECTIONS;

impl Engine for Sqlite {
    const NAME: &'static str = "SQLite";
    const PROCESS_WRITE_LOCK: bool = true;
    /// IMMEDIATE takes the write lock up front: a deferred transaction that reads and then writes
    /// gets SQLITE_BUSY at once (no busy wait) when another connection holds the lock.
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const POSITION_FN: &'static str = "instr";
    const OWNER_REMOVAL_LOCK: Option<&'static str> = None;

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

impl SqlStore<Sqlite> {
    /// Opens (creating if missing) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        Self::open_url(
            &format!("sqlite://{}", path.display()),
            SQLITE_DEFAULT_CONNECTIONS,
        )
        .await
    }

    /// Like [`SqlStore::<Sqlite>::open`] from an sqlx URL (`sqlite://path`) with a pool size.
    pub async fn open_url(url: &str, max_connections: u32) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|source| StoreError::Open {
                what: format!("invalid SQLite URL `{url}`"),
                source,
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // Like the file itself, its directory is created on first use.
        if let Some(dir) = opts.get_filename().parent()
            && !dir.as_os_str().is_empty()
            && !url.contains(":memory:")
        {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(opts)
            .await
            .map_err(|source| StoreError::Open {
                what: format!("cannot open SQLite database `{url}`"),
                source,
            })?;
        crate::migrate::migrator(crate::migrate::SQLITE)
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                engine: Sqlite::NAME,
                url: url.to_owned(),
                source,
            })?;
        Ok(SqlStore::new(pool))
    }
}
