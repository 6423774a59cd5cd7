//! PostgreSQL implementation of [`MetaStore`] (sqlx, PostgreSQL 15+), for several registry processes
//! sharing one database.
//!
//! There is no process-local lock here: every race between instances is decided inside PostgreSQL.
//! A new crate is inserted with `ON CONFLICT (canon_name) DO NOTHING`, which waits for a concurrent
//! inserter of the same name to finish and then lets this transaction see its row (READ COMMITTED
//! takes a fresh snapshot per statement), so the loser of a new-crate race continues as an update of
//! the winner's crate (and is refused if it is not an owner). Versions are decided by the unique
//! (crate_id, num_no_build) constraint. Owner removals lock the crate row, so two concurrent removals
//! cannot together leave a crate without owners.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Connection, PgPool, Row};

use crate::config::redact_url;
use crate::store::*;

/// The reasoning above relies on READ COMMITTED (a fresh snapshot per statement); say so rather than
/// inherit a server whose `default_transaction_isolation` is stricter and would answer races with
/// serialization failures instead of clean conflicts.
const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

/// How long a request waits for a free pooled connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects, checks the server answers, and applies pending migrations.
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<Self> {
        let shown = redact_url(url);
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Db(format!("invalid --database-url `{shown}`: {e}")))?;
        let unreachable = |e: sqlx::Error| {
            StoreError::Db(format!(
                "cannot connect to PostgreSQL at `{shown}`: {e}; check that the server is running, \
                 the database exists and the user may log in (--database-url / GANTRY_DATABASE_URL)"
            ))
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
            .map_err(|e| StoreError::Db(format!("migrating PostgreSQL database `{shown}`: {e}")))?;
        Ok(PgStore { pool })
    }
}

fn json_list(s: Option<String>) -> Option<Vec<String>> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

fn token_row(r: &PgRow) -> TokenRecord {
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

fn crate_row(r: &PgRow) -> CrateInfo {
    CrateInfo {
        id: r.get("id"),
        name: r.get("name"),
        description: r.get("description"),
    }
}

fn user_row(r: &PgRow) -> User {
    User {
        id: r.get("id"),
        login: r.get("login"),
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

impl MetaStore for PgStore {
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
            let r =
                sqlx::query("INSERT INTO users (login, created_at) VALUES ($1, $2) RETURNING id")
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
            Ok(rows.iter().map(user_row).collect())
        })
    }

    fn user_by_login<'a>(&'a self, login: &'a str) -> BoxFut<'a, StoreResult<Option<User>>> {
        Box::pin(async move {
            let r = sqlx::query("SELECT id, login FROM users WHERE login = $1")
                .bind(login)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
            Ok(r.as_ref().map(user_row))
        })
    }

    fn create_token<'a>(&'a self, t: &'a NewToken) -> BoxFut<'a, StoreResult<i64>> {
        Box::pin(async move {
            let scopes = t
                .scopes
                .as_ref()
                .map(|s| serde_json::to_string(s).unwrap_or_default());
            let patterns = serde_json::to_string(&t.crate_patterns).unwrap_or_default();
            let r = sqlx::query(
                "INSERT INTO tokens (user_id, name, token_hash, scopes, crate_patterns, expires_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
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
            let sql = format!(
                "{TOKEN_SELECT} WHERE ($1::BIGINT IS NULL OR t.user_id = $1) ORDER BY t.id"
            );
            let rows = sqlx::query(&sql)
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
            Ok(rows.iter().map(token_row).collect())
        })
    }

    fn revoke_token(&self, id: i64) -> BoxFut<'_, StoreResult<bool>> {
        Box::pin(async move {
            let r = sqlx::query("UPDATE tokens SET revoked = 1 WHERE id = $1")
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
            let sql = format!("{TOKEN_SELECT} WHERE t.token_hash = $1");
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
            let r = sqlx::query("SELECT id, name, description FROM crates WHERE canon_name = $1")
                .bind(gantry_protocol::canonical_name(name))
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
            Ok(r.as_ref().map(crate_row))
        })
    }

    fn is_owner(&self, crate_id: i64, user_id: i64) -> BoxFut<'_, StoreResult<bool>> {
        Box::pin(async move {
            let r = sqlx::query("SELECT 1 FROM crate_owners WHERE crate_id = $1 AND user_id = $2")
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
                "SELECT u.id, u.login FROM crate_owners o JOIN users u ON u.id = o.user_id \
                 WHERE o.crate_id = $1 ORDER BY u.id",
            )
            .bind(crate_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
            Ok(rows.iter().map(user_row).collect())
        })
    }

    fn add_owner(&self, crate_id: i64, user_id: i64) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO crate_owners (crate_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
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
            let mut tx = self.pool.begin_with(BEGIN).await.map_err(db)?;
            // Serialises owner removals per crate: without it two removals of different owners
            // could each see the other's owner still present and together leave none.
            sqlx::query("SELECT id FROM crates WHERE id = $1 FOR UPDATE")
                .bind(crate_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            sqlx::query("DELETE FROM crate_owners WHERE crate_id = $1 AND user_id = ANY($2)")
                .bind(crate_id)
                .bind(user_ids)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            let left: i64 =
                sqlx::query("SELECT COUNT(*) AS n FROM crate_owners WHERE crate_id = $1")
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
            let r = sqlx::query("SELECT 1 FROM versions WHERE crate_id = $1 AND num_no_build = $2")
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
            let mut tx = self.pool.begin_with(BEGIN).await.map_err(db)?;
            match publish_in_tx(&mut tx, rec).await {
                Ok(()) => {
                    tx.commit().await.map_err(|e| {
                        if is_unique_violation(&e) {
                            PublishConflict::VersionExists
                        } else {
                            db(e).into()
                        }
                    })?;
                    Ok(())
                }
                Err(e) => {
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
            let r = sqlx::query("UPDATE versions SET yanked = $1 WHERE crate_id = $2 AND num = $3")
                .bind(i64::from(yanked))
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
            let rows = sqlx::query(
                "SELECT num, index_line, yanked, cksum FROM versions WHERE crate_id = $1 ORDER BY id",
            )
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
            // strpos, not LIKE: the query is a plain substring, `%` and `_` in it are literal.
            let filter = "FROM crates WHERE strpos(canon_name, $1) > 0 \
                          OR strpos(lower(coalesce(description, '')), lower($2)) > 0";
            let total: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n {filter}"))
                .bind(&canon)
                .bind(query)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?
                .get("n");
            let rows = sqlx::query(&format!(
                "SELECT id, name, description {filter} ORDER BY (canon_name = $1) DESC, canon_name LIMIT $3"
            ))
            .bind(&canon)
            .bind(query)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
            Ok((rows.iter().map(crate_row).collect(), total.max(0) as u64))
        })
    }
}

async fn publish_in_tx(
    conn: &mut sqlx::PgConnection,
    rec: &PublishRecord,
) -> Result<(), PublishConflict> {
    let crate_id = match find_crate(conn, &rec.canon_name).await? {
        Some(info) => update_crate(conn, info, rec).await?,
        None => {
            let inserted = sqlx::query(
                "INSERT INTO crates (name, canon_name, description, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (canon_name) DO NOTHING RETURNING id",
            )
            .bind(&rec.name)
            .bind(&rec.canon_name)
            .bind(&rec.description)
            .bind(rec.now)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
            match inserted {
                Some(row) => {
                    let id: i64 = row.get("id");
                    sqlx::query("INSERT INTO crate_owners (crate_id, user_id) VALUES ($1, $2)")
                        .bind(id)
                        .bind(rec.user_id)
                        .execute(&mut *conn)
                        .await
                        .map_err(db)?;
                    id
                }
                // Another instance created this crate meanwhile and has committed: this publish
                // is now an update of that crate, with the owner and name checks that implies.
                None => match find_crate(conn, &rec.canon_name).await? {
                    Some(info) => update_crate(conn, info, rec).await?,
                    None => {
                        return Err(StoreError::Db(format!(
                            "crate `{}` was created and removed during this publish; retry",
                            rec.name
                        ))
                        .into());
                    }
                },
            }
        }
    };
    let inserted = sqlx::query(
        "INSERT INTO versions (crate_id, num, num_no_build, cksum, index_line, published_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (crate_id, num_no_build) DO NOTHING",
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
        Ok(r) if r.rows_affected() == 1 => Ok(()),
        Ok(_) => Err(PublishConflict::VersionExists),
        Err(e) if is_unique_violation(&e) => Err(PublishConflict::VersionExists),
        Err(e) => Err(db(e).into()),
    }
}

async fn find_crate(
    conn: &mut sqlx::PgConnection,
    canon_name: &str,
) -> Result<Option<CrateInfo>, PublishConflict> {
    let row = sqlx::query("SELECT id, name, description FROM crates WHERE canon_name = $1")
        .bind(canon_name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    Ok(row.as_ref().map(crate_row))
}

/// Checks ownership and spelling of an existing crate and updates its description; returns its id.
async fn update_crate(
    conn: &mut sqlx::PgConnection,
    info: CrateInfo,
    rec: &PublishRecord,
) -> Result<i64, PublishConflict> {
    let owner = sqlx::query("SELECT 1 FROM crate_owners WHERE crate_id = $1 AND user_id = $2")
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
    sqlx::query("UPDATE crates SET description = $1 WHERE id = $2")
        .bind(&rec.description)
        .bind(info.id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(info.id)
}
