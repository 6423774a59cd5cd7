//! [`MetaStore`] written once for both engines. Every statement uses `$N` placeholders (sqlx binds
//! them by number on SQLite too) and syntax both engines accept: `ON CONFLICT … DO NOTHING`,
//! `RETURNING`, `CAST($1 AS BIGINT)`. What really differs between SQLite and PostgreSQL is an
//! [`Engine`] constant, set in `sqlite.rs` / `postgres.rs`.
//!
//! Races are decided inside the database. A new crate is inserted with `ON CONFLICT (canon_name)
//! DO NOTHING`; on PostgreSQL that waits for a concurrent inserter of the same name and, READ
//! COMMITTED taking a fresh snapshot per statement, then lets this transaction see its row, so the
//! loser of a new-crate race continues as an update of the winner's crate (and is refused if it is
//! not an owner or its token may not update). Versions are decided by the unique (crate_id,
//! num_no_build) constraint, also when PostgreSQL reports it only at `COMMIT`.

use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, FromRow, IntoArguments, Pool, Transaction,
    Type,
};
use tokio::sync::{Mutex, MutexGuard};

use super::*;

/// What differs between the engines, and nothing else. Opening and migrating are each engine's
/// own constructor (`SqlStore::<Sqlite>::open_url`, `SqlStore::<Postgres>::open`).
pub trait Engine: Database {
    /// The engine's name in messages.
    const NAME: &'static str;
    /// Whether this process queues its own writers on a mutex before they begin.
    const PROCESS_WRITE_LOCK: bool;
    /// The statement beginning every write transaction.
    const BEGIN_WRITE: &'static str;
    /// The function giving the 1-based position of `$2` in `$1`, 0 when absent (a plain substring
    /// test: unlike `LIKE`, `%` and `_` in a search are literal).
    const POSITION_FN: &'static str;
    /// Run first when removing owners (`$1` = crate id), so that two removals of one crate cannot
    /// each see the other's owner still there and together leave none; `None` when beginning a
    /// write transaction already excludes every other writer.
    const OWNER_REMOVAL_LOCK: Option<&'static str>;
    /// How many rows a statement changed (sqlx has no driver-independent accessor).
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

pub struct SqlStore<DB: Database> {
    pub(super) pool: Pool<DB>,
    /// Held across a whole write when [`Engine::PROCESS_WRITE_LOCK`] asks for it.
    write: Mutex<()>,
}

/// A write transaction, and this process's write lock when the engine takes one.
pub(super) struct WriteTx<'a, DB: Database> {
    pub(super) tx: Transaction<'static, DB>,
    _lock: Option<MutexGuard<'a, ()>>,
}

impl<DB: Engine> SqlStore<DB> {
    pub(super) fn new(pool: Pool<DB>) -> Self {
        SqlStore {
            pool,
            write: Mutex::new(()),
        }
    }

    /// The pool, for the per-feature query files beside this one.
    pub(super) fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    pub(super) async fn write_lock(&self) -> Option<MutexGuard<'_, ()>> {
        match DB::PROCESS_WRITE_LOCK {
            true => Some(self.write.lock().await),
            false => None,
        }
    }

    pub(super) async fn begin_write(&self) -> Result<WriteTx<'_, DB>, sqlx::Error> {
        let lock = self.write_lock().await;
        let tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        Ok(WriteTx { tx, _lock: lock })
    }
}

impl<DB: Database> WriteTx<'_, DB> {
    /// Rolls back now, while the write lock is still held, rather than whenever the pool next
    /// uses the connection.
    pub(super) async fn abandon(self) {
        let _ = self.tx.rollback().await;
    }
}

const TOKEN_SELECT: &str = "SELECT t.id, t.user_id, u.login, t.name, t.token_hash, t.scopes, \
     t.crate_patterns, t.expires_at, t.revoked FROM tokens t JOIN users u ON u.id = t.user_id";
const CRATE_BY_CANON: &str = "SELECT id, name, description FROM crates WHERE canon_name = $1";
const IS_OWNER: &str = "SELECT 1 FROM crate_owners WHERE crate_id = $1 AND user_id = $2";
const ADD_OWNER: &str =
    "INSERT INTO crate_owners (crate_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";

#[derive(FromRow)]
struct TokenRow {
    id: i64,
    user_id: i64,
    login: String,
    name: String,
    token_hash: Vec<u8>,
    scopes: Option<String>,
    crate_patterns: Option<String>,
    expires_at: Option<i64>,
    revoked: i64,
}

impl From<TokenRow> for TokenRecord {
    fn from(r: TokenRow) -> Self {
        let list = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
        TokenRecord {
            id: r.id,
            user: User {
                id: r.user_id,
                login: r.login,
            },
            name: r.name,
            hash: r.token_hash,
            scopes: list(r.scopes),
            crate_patterns: list(r.crate_patterns).unwrap_or_default(),
            expires_at: r.expires_at,
            revoked: r.revoked != 0,
        }
    }
}

#[derive(FromRow)]
pub(super) struct VersionDbRow {
    num: String,
    index_line: String,
    yanked: i64,
    cksum: String,
}

impl From<VersionDbRow> for VersionRow {
    fn from(r: VersionDbRow) -> Self {
        VersionRow {
            num: r.num,
            index_line: r.index_line,
            yanked: r.yanked != 0,
            cksum: r.cksum,
        }
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

// The sqlx capabilities the statements below use, the same for the inherent helpers and the trait
// impl: connections and pools as executors, and the column types (i64, text, bytes) both ways.
impl<DB> SqlStore<DB>
where
    DB: Engine,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
    for<'q, 'r> i64: Encode<'q, DB> + Decode<'r, DB> + Type<DB>,
    for<'q, 'r> String: Encode<'q, DB> + Decode<'r, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
{
    async fn find_crate(
        conn: &mut DB::Connection,
        canon_name: &str,
    ) -> Result<Option<CrateInfo>, sqlx::Error> {
        sqlx::query_as(CRATE_BY_CANON)
            .bind(canon_name)
            .fetch_optional(conn)
            .await
    }

    async fn owns(
        conn: &mut DB::Connection,
        crate_id: i64,
        user_id: i64,
    ) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(IS_OWNER)
            .bind(crate_id)
            .bind(user_id)
            .fetch_optional(conn)
            .await?;
        Ok(row.is_some())
    }

    /// Checks that this publish may update `info` and updates its description; returns its id.
    async fn update_crate(
        conn: &mut DB::Connection,
        info: CrateInfo,
        rec: &PublishRecord,
    ) -> Result<i64, PublishConflict> {
        rec.rights.allow(PublishKind::Update)?;
        if !Self::owns(conn, info.id, rec.user_id).await? {
            return Err(PublishConflict::NotOwner);
        }
        if info.name != rec.name {
            return Err(PublishConflict::NameMismatch(info.name));
        }
        sqlx::query("UPDATE crates SET description = $1 WHERE id = $2")
            .bind(&rec.description)
            .bind(info.id)
            .execute(conn)
            .await?;
        Ok(info.id)
    }

    /// Creates the crate, or finds that another publish just did; returns its id and which of the
    /// two this publish turned out to be.
    async fn create_crate(
        conn: &mut DB::Connection,
        rec: &PublishRecord,
    ) -> Result<(i64, PublishKind), PublishConflict> {
        rec.rights.allow(PublishKind::New)?;
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO crates (name, canon_name, description, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (canon_name) DO NOTHING RETURNING id",
        )
        .bind(&rec.name)
        .bind(&rec.canon_name)
        .bind(&rec.description)
        .bind(rec.now)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(id) = inserted {
            sqlx::query(ADD_OWNER)
                .bind(id)
                .bind(rec.user_id)
                .execute(conn)
                .await?;
            return Ok((id, PublishKind::New));
        }
        // Another publish created this crate meanwhile and has committed: this publish is now an
        // update of that crate, with the scope, owner and name checks that implies.
        match Self::find_crate(conn, &rec.canon_name).await? {
            Some(info) => Ok((
                Self::update_crate(conn, info, rec).await?,
                PublishKind::Update,
            )),
            None => Err(StoreError::CrateVanished(rec.name.clone()).into()),
        }
    }

    async fn publish_in(
        conn: &mut DB::Connection,
        rec: &PublishRecord,
    ) -> Result<(), PublishConflict> {
        let (crate_id, kind) = match Self::find_crate(conn, &rec.canon_name).await? {
            Some(info) => (
                Self::update_crate(conn, info, rec).await?,
                PublishKind::Update,
            ),
            None => Self::create_crate(conn, rec).await?,
        };
        let inserted = sqlx::query(
            "INSERT INTO versions \
             (crate_id, num, num_no_build, cksum, index_line, published_by, created_at) \
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
            Ok(r) if DB::rows_affected(&r) == 1 => {}
            Ok(_) => return Err(PublishConflict::VersionExists),
            Err(e) if is_unique_violation(&e) => return Err(PublishConflict::VersionExists),
            Err(e) => return Err(e.into()),
        }
        // The bucket of the kind this transaction decided, in this transaction: a publish refused
        // for any reason (its rollback) uses up nothing.
        Self::charge_publish(conn, rec, kind).await
    }

    /// One statement that writes, under this process's write lock when the engine takes one.
    pub(super) async fn write_one<'q>(
        &self,
        query: sqlx::query::Query<'q, DB, DB::Arguments<'q>>,
    ) -> Result<u64, sqlx::Error> {
        let _lock = self.write_lock().await;
        Ok(DB::rows_affected(&query.execute(&self.pool).await?))
    }
}

impl<DB> MetaStore for SqlStore<DB>
where
    DB: Engine,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
    for<'q, 'r> i64: Encode<'q, DB> + Decode<'r, DB> + Type<DB>,
    for<'q, 'r> String: Encode<'q, DB> + Decode<'r, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
{
    fn ping(&self) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
    }

    fn schema_version(&self) -> BoxFut<'_, StoreResult<Option<i64>>> {
        Box::pin(async move {
            let v = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
            Ok(v)
        })
    }

    fn create_user<'a>(&'a self, login: &'a str) -> BoxFut<'a, StoreResult<User>> {
        Box::pin(async move {
            let _lock = self.write_lock().await;
            let id = sqlx::query_scalar(
                "INSERT INTO users (login, created_at) VALUES ($1, $2) RETURNING id",
            )
            .bind(login)
            .bind(now())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| match is_unique_violation(&e) {
                true => StoreError::Exists(format!("user `{login}`")),
                false => e.into(),
            })?;
            Ok(User {
                id,
                login: login.to_owned(),
            })
        })
    }

    fn list_users(&self) -> BoxFut<'_, StoreResult<Vec<User>>> {
        Box::pin(async move {
            let users = sqlx::query_as("SELECT id, login FROM users ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
            Ok(users)
        })
    }

    fn user_by_login<'a>(&'a self, login: &'a str) -> BoxFut<'a, StoreResult<Option<User>>> {
        Box::pin(async move {
            let user = sqlx::query_as("SELECT id, login FROM users WHERE login = $1")
                .bind(login)
                .fetch_optional(&self.pool)
                .await?;
            Ok(user)
        })
    }

    fn create_token<'a>(&'a self, t: &'a NewToken) -> BoxFut<'a, StoreResult<i64>> {
        Box::pin(async move {
            // Lists of strings always serialise.
            let json = |l: &Vec<String>| serde_json::to_string(l).unwrap_or_default();
            let _lock = self.write_lock().await;
            let id = sqlx::query_scalar(
                "INSERT INTO tokens \
                 (user_id, name, token_hash, scopes, crate_patterns, expires_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(t.user_id)
            .bind(&t.name)
            .bind(&t.hash[..])
            .bind(t.scopes.as_ref().map(json))
            .bind(json(&t.crate_patterns))
            .bind(t.expires_at)
            .bind(now())
            .fetch_one(&self.pool)
            .await?;
            Ok(id)
        })
    }

    fn list_tokens<'a>(
        &'a self,
        user_id: Option<i64>,
    ) -> BoxFut<'a, StoreResult<Vec<TokenRecord>>> {
        Box::pin(async move {
            let sql = format!(
                "{TOKEN_SELECT} WHERE CAST($1 AS BIGINT) IS NULL OR t.user_id = $1 ORDER BY t.id"
            );
            let rows: Vec<TokenRow> = sqlx::query_as(&sql)
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
            Ok(rows.into_iter().map(TokenRecord::from).collect())
        })
    }

    fn revoke_token(&self, id: i64) -> BoxFut<'_, StoreResult<bool>> {
        Box::pin(async move {
            let q = sqlx::query("UPDATE tokens SET revoked = 1 WHERE id = $1").bind(id);
            Ok(self.write_one(q).await? == 1)
        })
    }

    fn token_by_hash<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFut<'a, StoreResult<Option<TokenRecord>>> {
        Box::pin(async move {
            let sql = format!("{TOKEN_SELECT} WHERE t.token_hash = $1");
            let row: Option<TokenRow> = sqlx::query_as(&sql)
                .bind(&hash[..])
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.map(TokenRecord::from))
        })
    }

    fn crate_by_name<'a>(&'a self, name: &'a str) -> BoxFut<'a, StoreResult<Option<CrateInfo>>> {
        Box::pin(async move {
            let info = sqlx::query_as(CRATE_BY_CANON)
                .bind(gantry_protocol::canonical_name(name))
                .fetch_optional(&self.pool)
                .await?;
            Ok(info)
        })
    }

    fn is_owner(&self, crate_id: i64, user_id: i64) -> BoxFut<'_, StoreResult<bool>> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?;
            Ok(Self::owns(&mut conn, crate_id, user_id).await?)
        })
    }

    fn owners(&self, crate_id: i64) -> BoxFut<'_, StoreResult<Vec<User>>> {
        Box::pin(async move {
            let users = sqlx::query_as(
                "SELECT u.id, u.login FROM crate_owners o JOIN users u ON u.id = o.user_id \
                 WHERE o.crate_id = $1 ORDER BY u.id",
            )
            .bind(crate_id)
            .fetch_all(&self.pool)
            .await?;
            Ok(users)
        })
    }

    fn add_owner(&self, crate_id: i64, user_id: i64) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(async move {
            let q = sqlx::query(ADD_OWNER).bind(crate_id).bind(user_id);
            self.write_one(q).await?;
            Ok(())
        })
    }

    fn remove_owners<'a>(
        &'a self,
        crate_id: i64,
        user_ids: &'a [i64],
    ) -> BoxFut<'a, StoreResult<bool>> {
        Box::pin(async move {
            let mut w = self.begin_write().await?;
            if let Some(lock) = DB::OWNER_REMOVAL_LOCK {
                sqlx::query(lock).bind(crate_id).execute(&mut *w.tx).await?;
            }
            for user_id in user_ids {
                sqlx::query("DELETE FROM crate_owners WHERE crate_id = $1 AND user_id = $2")
                    .bind(crate_id)
                    .bind(user_id)
                    .execute(&mut *w.tx)
                    .await?;
            }
            let left: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM crate_owners WHERE crate_id = $1")
                    .bind(crate_id)
                    .fetch_one(&mut *w.tx)
                    .await?;
            if left == 0 {
                w.abandon().await;
                return Ok(false);
            }
            w.tx.commit().await?;
            Ok(true)
        })
    }

    fn version_exists<'a>(
        &'a self,
        crate_id: i64,
        num_no_build: &'a str,
    ) -> BoxFut<'a, StoreResult<bool>> {
        Box::pin(async move {
            let row =
                sqlx::query("SELECT 1 FROM versions WHERE crate_id = $1 AND num_no_build = $2")
                    .bind(crate_id)
                    .bind(num_no_build)
                    .fetch_optional(&self.pool)
                    .await?;
            Ok(row.is_some())
        })
    }

    fn publish<'a>(&'a self, rec: &'a PublishRecord) -> BoxFut<'a, Result<(), PublishConflict>> {
        Box::pin(async move {
            let mut w = self.begin_write().await.map_err(StoreError::from)?;
            if let Err(e) = Self::publish_in(&mut w.tx, rec).await {
                w.abandon().await;
                return Err(e);
            }
            // A unique constraint checked at COMMIT decides a version race the same way.
            w.tx.commit()
                .await
                .map_err(|e| match is_unique_violation(&e) {
                    true => PublishConflict::VersionExists,
                    false => e.into(),
                })
        })
    }

    fn set_yanked<'a>(
        &'a self,
        crate_id: i64,
        num: &'a str,
        yanked: bool,
    ) -> BoxFut<'a, StoreResult<bool>> {
        Box::pin(async move {
            let q = sqlx::query("UPDATE versions SET yanked = $1 WHERE crate_id = $2 AND num = $3")
                .bind(i64::from(yanked))
                .bind(crate_id)
                .bind(num);
            Ok(self.write_one(q).await? == 1)
        })
    }

    fn versions(&self, crate_id: i64) -> BoxFut<'_, StoreResult<Vec<VersionRow>>> {
        Box::pin(async move {
            let rows: Vec<VersionDbRow> = sqlx::query_as(
                "SELECT num, index_line, yanked, cksum FROM versions \
                 WHERE crate_id = $1 ORDER BY id",
            )
            .bind(crate_id)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows.into_iter().map(VersionRow::from).collect())
        })
    }

    fn search<'a>(
        &'a self,
        query: &'a str,
        limit: u32,
    ) -> BoxFut<'a, StoreResult<(Vec<CrateInfo>, u64)>> {
        Box::pin(async move {
            let canon = gantry_protocol::canonical_name(query);
            let filter = format!(
                "FROM crates WHERE {pos}(canon_name, $1) > 0 \
                 OR {pos}(lower(coalesce(description, '')), lower($2)) > 0",
                pos = DB::POSITION_FN
            );
            let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {filter}"))
                .bind(&canon)
                .bind(query)
                .fetch_one(&self.pool)
                .await?;
            let page = sqlx::query_as(&format!(
                "SELECT id, name, description {filter} \
                 ORDER BY (canon_name = $1) DESC, canon_name LIMIT $3"
            ))
            .bind(&canon)
            .bind(query)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            Ok((page, u64::try_from(total).unwrap_or(0)))
        })
    }
}
