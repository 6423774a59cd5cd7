//! The store's part in durability and resource limits (issue 12): rate-limit buckets shared by
//! every instance, lookups of one version by key, and what `gc` needs (which blobs rows refer to,
//! and blob claims). Written once for both engines, like `sql.rs`.
//!
//! **Buckets.** One row per (user, action): whole tokens and the time of the last refill, in
//! milliseconds. Taking a token reads the row with a statement that also locks it (an upsert whose
//! `DO UPDATE` changes nothing), computes in Rust ([`Bucket::take`]), and writes the result, all in
//! one write transaction; so two instances never both spend the last token. A publish spends its
//! token inside the publish transaction, from the bucket of the kind (new crate or update) that
//! transaction decided.
//!
//! **Blob claims.** A publish whose `.crate` bytes are already stored (an earlier attempt's orphan,
//! say) does not write them again, so the object keeps its old age and `gc` could delete it between
//! that put and the commit. Such a publish first claims the blob (a row in `blob_claims`), then
//! puts it again; `gc` deletes an object only inside a transaction that holds the same row, after
//! seeing neither a version nor a recent claim. See `gc.rs` for the whole argument.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::sql::VersionDbRow;
use super::*;
use crate::blob::BlobError;
use crate::ratelimit::{Action, Bucket, BucketState, now_ms};

const BUCKET_LOCK: &str = "INSERT INTO rate_limit_buckets (user_id, action, tokens, last_refill) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, action) \
     DO UPDATE SET tokens = rate_limit_buckets.tokens RETURNING tokens, last_refill";
const BUCKET_READ: &str =
    "SELECT tokens, last_refill FROM rate_limit_buckets WHERE user_id = $1 AND action = $2";
const BUCKET_WRITE: &str = "UPDATE rate_limit_buckets SET tokens = $3, last_refill = $4 \
     WHERE user_id = $1 AND action = $2";
/// Looked up by the unique (crate_id, num) index: one row however many versions the crate has.
pub const VERSION_BY_NUM: &str = "SELECT num, index_line, yanked, cksum FROM versions \
     WHERE crate_id = $1 AND num = $2";
/// `gc`'s hold on one blob: inserts a claim dated 0 (or keeps and locks an existing one) and
/// returns its date. A publish claiming the same blob meanwhile waits for this transaction.
const CLAIM_HOLD: &str = "INSERT INTO blob_claims (cksum, claimed_at) VALUES ($1, 0) \
     ON CONFLICT (cksum) DO UPDATE SET claimed_at = blob_claims.claimed_at RETURNING claimed_at";
const CLAIM: &str = "INSERT INTO blob_claims (cksum, claimed_at) VALUES ($1, $2) \
     ON CONFLICT (cksum) DO UPDATE SET claimed_at = excluded.claimed_at";
/// Every checksum whose blob is in use: hosted versions, and the `.crate` files the pull-through
/// mirror fetched and verified (`mirror_crates`, migration 0004), which share the blob keys.
const REFERENCED: &str = "SELECT cksum FROM versions UNION SELECT cksum FROM mirror_crates";
/// Whether one checksum is in use, by the same two tables.
const IS_REFERENCED: &str = "SELECT 1 FROM versions WHERE cksum = $1 \
     UNION ALL SELECT 1 FROM mirror_crates WHERE cksum = $1 LIMIT 1";

/// What `gc` did with one unreferenced, old blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobVerdict {
    Removed,
    /// A version row refers to it now (published since the listing).
    Referenced,
    /// A publish claimed it within the grace period.
    Claimed,
}

/// Why removing one blob failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoveBlobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

impl From<sqlx::Error> for RemoveBlobError {
    fn from(e: sqlx::Error) -> Self {
        RemoveBlobError::Store(e.into())
    }
}

pub trait HardeningStore: Send + Sync {
    /// One version of a crate by its exact number (as indexed), without reading the others.
    fn version_by_num<'a>(
        &'a self,
        crate_id: i64,
        num: &'a str,
    ) -> BoxFut<'a, StoreResult<Option<VersionRow>>>;

    /// Takes a token from `user_id`'s bucket for `action`, or says when the next one is due.
    fn take_token(
        &self,
        user_id: i64,
        action: Action,
        bucket: Bucket,
    ) -> BoxFut<'_, StoreResult<Result<(), std::time::SystemTime>>>;

    /// Whether taking a token would succeed now, without taking it (lets a publish be refused
    /// before it stores anything; the publish transaction takes the token for real).
    fn peek_token(
        &self,
        user_id: i64,
        action: Action,
        bucket: Bucket,
    ) -> BoxFut<'_, StoreResult<Result<(), std::time::SystemTime>>>;

    /// The checksums whose blobs are in use: every version row's, and every mirrored crate's.
    fn referenced_cksums(&self) -> BoxFut<'_, StoreResult<std::collections::HashSet<String>>>;

    /// Records that a publish is about to rely on the stored blob `cksum` (see the module doc).
    fn claim_blob<'a>(&'a self, cksum: &'a str, now: i64) -> BoxFut<'a, StoreResult<()>>;

    /// `gc`'s step for one blob: holding its claim row, removes it with `delete` unless a version
    /// or a mirrored crate refers to it, or it was claimed after `claimed_before` (Unix seconds).
    fn remove_blob_if_unused<'a>(
        &'a self,
        cksum: &'a str,
        claimed_before: i64,
        delete: BoxFut<'a, Result<(), BlobError>>,
    ) -> BoxFut<'a, Result<BlobVerdict, RemoveBlobError>>;

    /// Forgets claims older than `before`: their publishes ended long ago.
    fn forget_claims(&self, before: i64) -> BoxFut<'_, StoreResult<u64>>;
}

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
    /// Takes a token inside the caller's write transaction (the row stays locked until it ends).
    pub(super) async fn take_token_in(
        conn: &mut DB::Connection,
        user_id: i64,
        action: Action,
        bucket: Bucket,
        now: i64,
    ) -> Result<Result<(), std::time::SystemTime>, sqlx::Error> {
        let fresh = bucket.full(now);
        let (tokens, last_refill): (i64, i64) = sqlx::query_as(BUCKET_LOCK)
            .bind(user_id)
            .bind(action.as_str())
            .bind(fresh.tokens)
            .bind(fresh.last_refill_ms)
            .fetch_one(&mut *conn)
            .await?;
        let (state, taken) = bucket.take(
            BucketState {
                tokens,
                last_refill_ms: last_refill,
            },
            now,
        );
        if taken.is_ok() {
            sqlx::query(BUCKET_WRITE)
                .bind(user_id)
                .bind(action.as_str())
                .bind(state.tokens)
                .bind(state.last_refill_ms)
                .execute(conn)
                .await?;
        }
        Ok(taken)
    }

    /// The publish's token, from the bucket of `kind`, when rate limits are on.
    pub(super) async fn charge_publish(
        conn: &mut DB::Connection,
        rec: &PublishRecord,
        kind: PublishKind,
    ) -> Result<(), PublishConflict> {
        let Some(limits) = rec.rate_limits else {
            return Ok(());
        };
        let action = Action::publish(kind);
        match Self::take_token_in(conn, rec.user_id, action, limits.bucket(action), now_ms())
            .await?
        {
            Ok(()) => Ok(()),
            Err(retry_at) => Err(PublishConflict::RateLimited { action, retry_at }),
        }
    }
}

impl<DB> HardeningStore for SqlStore<DB>
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
    fn version_by_num<'a>(
        &'a self,
        crate_id: i64,
        num: &'a str,
    ) -> BoxFut<'a, StoreResult<Option<VersionRow>>> {
        Box::pin(async move {
            let row: Option<VersionDbRow> = sqlx::query_as(VERSION_BY_NUM)
                .bind(crate_id)
                .bind(num)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.map(VersionRow::from))
        })
    }

    fn take_token(
        &self,
        user_id: i64,
        action: Action,
        bucket: Bucket,
    ) -> BoxFut<'_, StoreResult<Result<(), std::time::SystemTime>>> {
        Box::pin(async move {
            let mut w = self.begin_write().await?;
            let taken = Self::take_token_in(&mut w.tx, user_id, action, bucket, now_ms()).await?;
            w.tx.commit().await?;
            Ok(taken)
        })
    }

    fn peek_token(
        &self,
        user_id: i64,
        action: Action,
        bucket: Bucket,
    ) -> BoxFut<'_, StoreResult<Result<(), std::time::SystemTime>>> {
        Box::pin(async move {
            let row: Option<(i64, i64)> = sqlx::query_as(BUCKET_READ)
                .bind(user_id)
                .bind(action.as_str())
                .fetch_optional(&self.pool)
                .await?;
            let now = now_ms();
            Ok(match row {
                None => Ok(()),
                Some((tokens, last_refill_ms)) => {
                    bucket
                        .take(
                            BucketState {
                                tokens,
                                last_refill_ms,
                            },
                            now,
                        )
                        .1
                }
            })
        })
    }

    fn referenced_cksums(&self) -> BoxFut<'_, StoreResult<std::collections::HashSet<String>>> {
        Box::pin(async move {
            let rows: Vec<String> = sqlx::query_scalar(REFERENCED).fetch_all(&self.pool).await?;
            Ok(rows.into_iter().collect())
        })
    }

    fn claim_blob<'a>(&'a self, cksum: &'a str, now: i64) -> BoxFut<'a, StoreResult<()>> {
        Box::pin(async move {
            self.write_one(sqlx::query(CLAIM).bind(cksum).bind(now))
                .await?;
            Ok(())
        })
    }

    fn remove_blob_if_unused<'a>(
        &'a self,
        cksum: &'a str,
        claimed_before: i64,
        delete: BoxFut<'a, Result<(), BlobError>>,
    ) -> BoxFut<'a, Result<BlobVerdict, RemoveBlobError>> {
        Box::pin(async move {
            let mut w = self.begin_write().await?;
            let claimed_at: i64 = sqlx::query_scalar(CLAIM_HOLD)
                .bind(cksum)
                .fetch_one(&mut *w.tx)
                .await?;
            let referenced = sqlx::query(IS_REFERENCED)
                .bind(cksum)
                .fetch_optional(&mut *w.tx)
                .await?
                .is_some();
            let verdict = if referenced {
                BlobVerdict::Referenced
            } else if claimed_at >= claimed_before {
                BlobVerdict::Claimed
            } else {
                BlobVerdict::Removed
            };
            if verdict != BlobVerdict::Removed {
                w.abandon().await;
                return Ok(verdict);
            }
            if let Err(e) = delete.await {
                w.abandon().await;
                return Err(e.into());
            }
            sqlx::query("DELETE FROM blob_claims WHERE cksum = $1")
                .bind(cksum)
                .execute(&mut *w.tx)
                .await?;
            w.tx.commit().await?;
            Ok(BlobVerdict::Removed)
        })
    }

    fn forget_claims(&self, before: i64) -> BoxFut<'_, StoreResult<u64>> {
        Box::pin(async move {
            let q = sqlx::query("DELETE FROM blob_claims WHERE claimed_at < $1").bind(before);
            Ok(self.write_one(q).await?)
        })
    }
}
