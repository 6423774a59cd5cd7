//! SQLite implementation of [`MetaStore`] (sqlx, bundled libsqlite3, WAL).
//!
//! Writes are serialised by one async mutex: SQLite has a single writer anyway, and taking the lock
//! before `BEGIN` avoids deferred transactions failing to upgrade under contention. The unique
//! constraints still decide every race, the mutex only makes the loser's answer clean.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use tokio::sync::Mutex;

use crate::config::SQLITE_DEFAULT_CONNECTIONS;
use crate::store::*;

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

pub struct SqliteStore {
    pool: SqlitePool,
    write: Mutex<()>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        Self::open_url(
            &format!("sqlite://{}", path.display()),
            SQLITE_DEFAULT_CONNECTIONS,
        )
        .await
    }

    /// Like [`SqliteStore::open`] from an sqlx URL (`sqlite://path`) with a pool size.
    pub async fn open_url(url: &str, max_connections: u32) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Db(format!("invalid SQLite URL `{url}`: {e}")))?
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
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Db(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::Db(format!("cannot open SQLite database `{url}`: {e}")))?;
        crate::migrate::migrator(crate::migrate::SQLITE)
            .run(&pool)
            .await
            .map_err(|e| StoreError::Db(format!("migrating SQLite database `{url}`: {e}")))?;
        Ok(SqliteStore {
            pool,
            write: Mutex::new(()),
        })
    }
}

fn json_list(s: Option<String>) -> Option<Vec<String>> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

fn token_row(r: &SqliteRow) -> TokenRecord {
    TokenRecord {
        id: r.get("id"),
        user: User {
            id: r.get("user_id"),
            login: r.get("login"),
        },
        name: r.get("name"),
        hash: r.get("token_hash"),
        scopes: json_list(r.get("scopes")),
        crate_patterns: json_list(r.get("crate_patterns")).unwrap_or_default(),
        expires_at: r.get("expires_at"),
        revoked: r.get::<i64, _>("revoked") != 0,
    }
}

fn crate_row(r: &SqliteRow) -> CrateInfo {
    CrateInfo {
        id: r.get("id"),
        name: r.get("name"),
        description: r.get("description"),
    }
}

const TOKEN_SELECT: &str = "SELECT t.id, t.user_id, u.login, t.name, t.token_hash, t.scopes, t.crate_patterns, \
     t.expires_at, t.revoked FROM tokens t JOIN users u ON u.id = t.user_id";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl MetaStore for SqliteStore {
    fn ping(&self) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(async move {
            sqlx::query("SELECT 1")
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
            Ok(())
        })
    }

    fn schema_version(&self) -> BoxFut<'_, StoreResult<Option<i64>>> {
        Box::pin(async move {
            let r = sqlx::query("SELECT MAX(version) AS v FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
            Ok(r.get("v"))
        })
    }

    fn create_user<'a>(&'a self, login: &'a str) -> BoxFut<'a, StoreResult<User>> {
        Box::pin(async move {
            let _w = self.write.lock().await;
            let r = sqlx::query("INSERT INTO users (login, created_at) VALUES (?, ?) RETURNING id")
                .bind(login)
                .bind(now())
                .fetch_one(&self.pool)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Exists(format!("user `{login}`"))
                    } else {
                        db(e)
                    }
                })?;
            Ok(User {
                id: r.get("id"),
                login: login.to_owned(),
            })
        })
    }

    fn list_users(&self) -> BoxFut<'_, StoreResult<Vec<User>>> {
        Box::pin(async move {
            let rows = sqlx::query("SELECT id, login FROM users ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
            Ok(rows
                .iter()
                .map(|r| User {
                    id: r.get("id"),
                    login: r.get("login"),
                })
                .collect())
        })
    }

    fn user_by_login<'a>(&'a self, login: &'a str) -> BoxFut<'a, StoreResult<Option<User>>> {
        Box::pin(async move {
            let r = sqlx::query("SELECT id, login FROM users WHERE login = ?")
                .bind(login)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
            Ok(r.map(|r| User {
                id: r.get("id"),
                login: r.get("login"),
            }))
        })
    }

    fn create_token<'a>(&'a self, t: &'a NewToken) -> BoxFut<'a, StoreResult<i64>> {
        Box::pin(async move {
            let _w = self.write.lock().await;
            let scopes = t
                .scopes
                .as_ref()
                .map(|s| serde_json::to_string(s).unwrap_or_default());
            let patterns = serde_json::to_string(&t.crate_patterns).unwrap_or_default();
            let r = sqlx::query(
                "INSERT INTO tokens (user_id, name, token_hash, scopes, crate_patterns, expires_at, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(t.user_id)
            .bind(&t.name)
            .bind(&t.hash[..])
            .bind(scopes)
            .bind(patterns)
            .bind(t.expires_at)
            .bind(now())
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
            Ok(r.get("id"))
        })
    }

    fn list_tokens<'a>(
        &'a self,
        user_id: Option<i64>,
    ) -> BoxFut<'a, StoreResult<Vec<TokenRecord>>> {
        Box::pin(async move {
            let sql = format!("{TOKEN_SELECT} WHERE (? IS NULL OR t.user_id = ?) ORDER BY t.id");
            let rows = sqlx::query(&sql)
                .bind(user_id)
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
            Ok(rows.iter().map(token_row).collect())
        })
    }

    fn revoke_token(&self, id: i64) -> BoxFut<'_, StoreResult<bool>> {
        Box::pin(async move {
            let _w = self.write.lock().await;
            let r = sqlx::query("UPDATE tokens SET revoked = 1 WHERE id = ?")
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
            Ok(r.rows_affected() == 1)
        })
    }

    fn token_by_hash<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFut<'a, StoreResult<Option<TokenRecord>>> {
        Box::pin(async move {
            let sql = format!("{TOKEN_SELECT} WHERE t.token_hash = ?");
            let r = sqlx::query(&sql)
                .bind(&hash[..])
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
            Ok(r.as_ref().map(token_row))
        })
    }

    fn crate_by_name<'a>(&'a self, name: &'a str) -> BoxFut<'a, StoreResult<Option<CrateInfo>>> {
        Box::pin(async move {
            let r = sqlx::query("SELECT id, name, description FROM crates WHERE canon_name = ?")
                .bind(gantry_protocol::canonical_name(name))
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
            Ok(r.as_ref().map(crate_row))
        })
    }

    fn is_owner(&self, crate_id: i64, user_id: i64) -> BoxFut<'_, StoreResult<bool>> {
        Box::pin(async move {
            let r = sqlx::query("SELECT 1 FROM crate_owners WHERE crate_id = ? AND user_id = ?")
                .bind(crate_id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
            Ok(r.is_some())
        })
    }

    fn owners(&self, crate_id: i64) -> BoxFut<'_, StoreResult<Vec<User>>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT u.id, u.login FROM crate_owners o JOIN users u ON u.id = o.user_id WHERE o.crate_id = ? ORDER BY u.id",
            )
            .bind(crate_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
            Ok(rows
                .iter()
                .map(|r| User {
                    id: r.get("id"),
                    login: r.get("login"),
                })
                .collect())
        })
    }

    fn add_owner(&self, crate_id: i64, user_id: i64) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(async move {
            let _w = self.write.lock().await;
            sqlx::query("INSERT OR IGNORE INTO crate_owners (crate_id, user_id) VALUES (?, ?)")
                .bind(crate_id)
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
            Ok(())
        })
    }

    fn remove_owners<'a>(
        &'a self,
        crate_id: i64,
        user_ids: &'a [i64],
    ) -> BoxFut<'a, StoreResult<bool>> {
        Box::pin(async move {
            let _w = self.write.lock().await;
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
            for uid in user_ids {
                sqlx::query("DELETE FROM crate_owners WHERE crate_id = ? AND user_id = ?")
                    .bind(crate_id)
                    .bind(uid)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            let left: i64 =
                sqlx::query("SELECT COUNT(*) AS n FROM crate_owners WHERE crate_id = ?")
                    .bind(crate_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?
                    .get("n");
            if left == 0 {
                tx.rollback().await.map_err(db)?;
                return Ok(false);
            }
            tx.commit().await.map_err(db)?;
            Ok(true)
        })
    }

    fn version_exists<'a>(
        &'a self,
        crate_id: i64,
        num_no_build: &'a str,
    ) -> BoxFut<'a, StoreResult<bool>> {
        Box::pin(async move {
            let r = sqlx::query("SELECT 1 FROM versions WHERE crate_id = ? AND num_no_build = ?")
                .bind(crate_id)
                .bind(num_no_build)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
            Ok(r.is_some())
        })
    }

    fn publish<'a>(&'a self, rec: &'a PublishRecord) -> BoxFut<'a, Result<(), PublishConflict>> {
        Box::pin(async move {
            let _w = self.write.lock().await;
            // IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
            // writes gets SQLITE_BUSY at once (no busy wait) when another connection holds the lock.
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
            match publish_in_tx(&mut tx, rec).await {
                Ok(()) => {
                    tx.commit().await.map_err(db)?;
                    Ok(())
                }
                Err(e) => {
                    // Roll back now, while we hold the mutex, rather than when the pool gets to it.
                    let _ = tx.rollback().await;
                    Err(e)
                }
            }
        })
    }

    fn set_yanked<'a>(
        &'a self,
        crate_id: i64,
        num: &'a str,
        yanked: bool,
    ) -> BoxFut<'a, StoreResult<bool>> {
        Box::pin(async move {
            let _w = self.write.lock().await;
            let r = sqlx::query("UPDATE versions SET yanked = ? WHERE crate_id = ? AND num = ?")
                .bind(yanked)
                .bind(crate_id)
                .bind(num)
                .execute(&self.pool)
                .await
                .map_err(db)?;
            Ok(r.rows_affected() == 1)
        })
    }

    fn versions(&self, crate_id: i64) -> BoxFut<'_, StoreResult<Vec<VersionRow>>> {
        Box::pin(async move {
            let rows = sqlx::query("SELECT num, index_line, yanked, cksum FROM versions WHERE crate_id = ? ORDER BY id")
                .bind(crate_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
            Ok(rows
                .iter()
                .map(|r| VersionRow {
                    num: r.get("num"),
                    index_line: r.get("index_line"),
                    yanked: r.get::<i64, _>("yanked") != 0,
                    cksum: r.get("cksum"),
                })
                .collect())
        })
    }

    fn search<'a>(
        &'a self,
        query: &'a str,
        limit: u32,
    ) -> BoxFut<'a, StoreResult<(Vec<CrateInfo>, u64)>> {
        Box::pin(async move {
            let canon = gantry_protocol::canonical_name(query);
            let filter = "FROM crates WHERE instr(canon_name, ?) > 0 OR instr(lower(coalesce(description, '')), lower(?)) > 0";
            let total: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n {filter}"))
                .bind(&canon)
                .bind(query)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?
                .get("n");
            let rows = sqlx::query(&format!(
                "SELECT id, name, description {filter} ORDER BY (canon_name = ?) DESC, canon_name LIMIT ?"
            ))
            .bind(&canon)
            .bind(query)
            .bind(&canon)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
            Ok((rows.iter().map(crate_row).collect(), total.max(0) as u64))
        })
    }
}

async fn publish_in_tx(
    conn: &mut sqlx::SqliteConnection,
    rec: &PublishRecord,
) -> Result<(), PublishConflict> {
    let existing = sqlx::query("SELECT id, name, description FROM crates WHERE canon_name = ?")
        .bind(&rec.canon_name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    let crate_id: i64 = match existing {
        Some(row) => {
            let info = crate_row(&row);
            let owner =
                sqlx::query("SELECT 1 FROM crate_owners WHERE crate_id = ? AND user_id = ?")
                    .bind(info.id)
                    .bind(rec.user_id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db)?;
            if owner.is_none() {
                return Err(PublishConflict::NotOwner);
            }
            if info.name != rec.name {
                return Err(PublishConflict::NameMismatch(info.name));
            }
            sqlx::query("UPDATE crates SET description = ? WHERE id = ?")
                .bind(&rec.description)
                .bind(info.id)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
            info.id
        }
        None => {
            let id: i64 = sqlx::query(
                "INSERT INTO crates (name, canon_name, description, created_at) VALUES (?, ?, ?, ?) RETURNING id",
            )
            .bind(&rec.name)
            .bind(&rec.canon_name)
            .bind(&rec.description)
            .bind(rec.now)
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?
            .get("id");
            sqlx::query("INSERT INTO crate_owners (crate_id, user_id) VALUES (?, ?)")
                .bind(id)
                .bind(rec.user_id)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
            id
        }
    };
    let inserted = sqlx::query(
        "INSERT INTO versions (crate_id, num, num_no_build, cksum, index_line, published_by, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(crate_id)
    .bind(&rec.num)
    .bind(&rec.num_no_build)
    .bind(&rec.cksum)
    .bind(&rec.index_line)
    .bind(rec.user_id)
    .bind(rec.now)
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(PublishConflict::VersionExists),
        Err(e) => return Err(db(e).into()),
    }
    Ok(())
}
