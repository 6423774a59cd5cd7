//! The queries of issue 15, written once for both engines: the index change log every instance
//! polls to evict cached index files (filled by triggers, see `migrations/*/0004_mirror.sql`), and
//! the pull-through mirror's shared state (upstream index files, mirrored `.crate` files).

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, FromRow, IntoArguments, Pool, Type};

use super::{BoxFut, Engine, SqlStore, StoreError, StoreResult};

/// PostgreSQL channel the change-log triggers notify at commit.
pub(super) const CHANGE_CHANNEL: &str = "gantry_index_changes";

/// One logged change to what an index file shows.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct IndexChange {
    /// Position in the log (the `gen` column).
    pub seq: i64,
    /// `hosted` or `mirror`.
    pub namespace: String,
    /// Canonical name (hosted), lowercase name (mirror), or `*` for "every file".
    pub name: String,
}

/// An upstream index file as the mirror keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorIndexRow {
    /// Lowercase crate name, as in the index path.
    pub name: String,
    /// False when the upstream said the crate does not exist.
    pub present: bool,
    pub body: Vec<u8>,
    pub upstream_etag: Option<String>,
    pub upstream_last_modified: Option<String>,
    /// Unix milliseconds of the upstream's last answer.
    pub checked_at: i64,
}

/// A `.crate` the mirror fetched, verified and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredCrate {
    pub cksum: String,
    pub name: String,
    pub version: String,
    pub size: i64,
    pub fetched_at: i64,
}

/// Wakes when the change log may have grown (PostgreSQL `LISTEN`); each item is one wake-up.
pub type ChangeSignal = BoxStream<'static, StoreResult<()>>;

pub trait MirrorStore: Send + Sync {
    /// The newest change-log position (0 before any change).
    fn index_generation(&self) -> BoxFut<'_, StoreResult<i64>>;
    /// Changes after position `after`, oldest first, at most `limit`.
    fn index_changes_since(
        &self,
        after: i64,
        limit: i64,
    ) -> BoxFut<'_, StoreResult<Vec<IndexChange>>>;
    /// Drops log entries older than `before` (Unix seconds); returns how many.
    fn prune_index_changes(&self, before: i64) -> BoxFut<'_, StoreResult<u64>>;
    /// A push channel for changes where the engine has one (PostgreSQL); `None` means poll only.
    fn index_change_signal(&self) -> BoxFut<'_, StoreResult<Option<ChangeSignal>>>;

    fn mirror_index<'a>(&'a self, name: &'a str)
    -> BoxFut<'a, StoreResult<Option<MirrorIndexRow>>>;
    /// Inserts or replaces a file (a changed body or presence is logged as a change).
    fn put_mirror_index<'a>(&'a self, row: &'a MirrorIndexRow) -> BoxFut<'a, StoreResult<()>>;
    /// Records that the upstream confirmed the stored copy (304) at `checked_at`.
    fn touch_mirror_index<'a>(
        &'a self,
        name: &'a str,
        checked_at: i64,
    ) -> BoxFut<'a, StoreResult<()>>;
    /// Records a stored `.crate` (a second record of one checksum is a no-op).
    fn record_mirrored_crate<'a>(&'a self, c: &'a MirroredCrate) -> BoxFut<'a, StoreResult<()>>;
}

#[derive(FromRow)]
struct MirrorIndexDbRow {
    name: String,
    present: i64,
    body: Vec<u8>,
    upstream_etag: Option<String>,
    upstream_last_modified: Option<String>,
    checked_at: i64,
}

impl From<MirrorIndexDbRow> for MirrorIndexRow {
    fn from(r: MirrorIndexDbRow) -> Self {
        MirrorIndexRow {
            name: r.name,
            present: r.present != 0,
            body: r.body,
            upstream_etag: r.upstream_etag,
            upstream_last_modified: r.upstream_last_modified,
            checked_at: r.checked_at,
        }
    }
}

/// `LISTEN` on PostgreSQL; SQLite has no push channel (instances sharing one file poll).
async fn listen<DB: Database>(pool: &Pool<DB>) -> StoreResult<Option<ChangeSignal>> {
    let Some(pg) = (pool as &dyn std::any::Any).downcast_ref::<Pool<sqlx::Postgres>>() else {
        return Ok(None);
    };
    let mut listener = sqlx::postgres::PgListener::connect_with(pg).await?;
    listener.listen(CHANGE_CHANNEL).await?;
    let stream = listener
        .into_stream()
        .map(|n| n.map(|_| ()).map_err(StoreError::from));
    Ok(Some(stream.boxed()))
}

// The same capabilities as the `MetaStore` impl in `sql.rs` (which needs this impl as its
// supertrait), so that impl's bounds prove this one's.
impl<DB> MirrorStore for SqlStore<DB>
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
    fn index_generation(&self) -> BoxFut<'_, StoreResult<i64>> {
        Box::pin(async move {
            let current = sqlx::query_scalar("SELECT gen FROM index_generation WHERE id = 1")
                .fetch_one(self.pool())
                .await?;
            Ok(current)
        })
    }

    fn index_changes_since(
        &self,
        after: i64,
        limit: i64,
    ) -> BoxFut<'_, StoreResult<Vec<IndexChange>>> {
        Box::pin(async move {
            let rows = sqlx::query_as(
                "SELECT gen AS seq, namespace, name FROM index_changes WHERE gen > $1 \
                 ORDER BY gen LIMIT $2",
            )
            .bind(after)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
            Ok(rows)
        })
    }

    fn prune_index_changes(&self, before: i64) -> BoxFut<'_, StoreResult<u64>> {
        Box::pin(async move {
            let _lock = self.write_lock().await;
            let r = sqlx::query("DELETE FROM index_changes WHERE changed_at < $1")
                .bind(before)
                .execute(self.pool())
                .await?;
            Ok(DB::rows_affected(&r))
        })
    }

    fn index_change_signal(&self) -> BoxFut<'_, StoreResult<Option<ChangeSignal>>> {
        Box::pin(listen(self.pool()))
    }

    fn mirror_index<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFut<'a, StoreResult<Option<MirrorIndexRow>>> {
        Box::pin(async move {
            let row: Option<MirrorIndexDbRow> = sqlx::query_as(
                "SELECT name, present, body, upstream_etag, upstream_last_modified, checked_at \
                 FROM mirror_index WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
            Ok(row.map(MirrorIndexRow::from))
        })
    }

    fn put_mirror_index<'a>(&'a self, row: &'a MirrorIndexRow) -> BoxFut<'a, StoreResult<()>> {
        Box::pin(async move {
            let _lock = self.write_lock().await;
            sqlx::query(
                "INSERT INTO mirror_index \
                 (name, present, body, upstream_etag, upstream_last_modified, checked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET \
                 present = excluded.present, body = excluded.body, \
                 upstream_etag = excluded.upstream_etag, \
                 upstream_last_modified = excluded.upstream_last_modified, \
                 checked_at = excluded.checked_at",
            )
            .bind(&row.name)
            .bind(i64::from(row.present))
            .bind(&row.body[..])
            .bind(&row.upstream_etag)
            .bind(&row.upstream_last_modified)
            .bind(row.checked_at)
            .execute(self.pool())
            .await?;
            Ok(())
        })
    }

    fn touch_mirror_index<'a>(
        &'a self,
        name: &'a str,
        checked_at: i64,
    ) -> BoxFut<'a, StoreResult<()>> {
        Box::pin(async move {
            let _lock = self.write_lock().await;
            // Never moves the time back (another instance may have answered later).
            sqlx::query(
                "UPDATE mirror_index SET checked_at = $1 WHERE name = $2 AND checked_at < $1",
            )
            .bind(checked_at)
            .bind(name)
            .execute(self.pool())
            .await?;
            Ok(())
        })
    }

    fn record_mirrored_crate<'a>(&'a self, c: &'a MirroredCrate) -> BoxFut<'a, StoreResult<()>> {
        Box::pin(async move {
            let _lock = self.write_lock().await;
            sqlx::query(
                "INSERT INTO mirror_crates (cksum, name, version, size, fetched_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (cksum) DO NOTHING",
            )
            .bind(&c.cksum)
            .bind(&c.name)
            .bind(&c.version)
            .bind(c.size)
            .bind(c.fetched_at)
            .execute(self.pool())
            .await?;
            Ok(())
        })
    }
}
