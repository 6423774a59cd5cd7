//! The trusted-publishing steps inside the publish transaction (`sql.rs` calls them): a trusted
//! token may still publish, covers the crate, or adopts the pending configs that let it create
//! one; an ordinary token meets `trustpub_only`; the CI run is recorded on the version.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::*;
use crate::store::sql::{Engine, SqlStore};
use crate::store::{PublishConflict, now};

// The same sqlx capabilities as `sql.rs` asks for.
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
    /// Inside the publish transaction: may this trusted publish add a version to `crate_id`?
    pub(in crate::store) async fn trusted_may_update(
        conn: &mut DB::Connection,
        t: &TrustedPublish,
        crate_id: i64,
        name: &str,
    ) -> Result<(), PublishConflict> {
        Self::trusted_token_live(conn, t).await?;
        match t.crate_ids.contains(&crate_id) {
            true => Ok(()),
            false => Err(PublishConflict::NotTrustedFor(name.to_owned())),
        }
    }

    /// A token revoked (or expired) after the publish began publishes nothing.
    async fn trusted_token_live(
        conn: &mut DB::Connection,
        t: &TrustedPublish,
    ) -> Result<(), PublishConflict> {
        let live = sqlx::query("SELECT 1 FROM trustpub_tokens WHERE id = $1 AND expires_at > $2")
            .bind(t.token_id)
            .bind(now())
            .fetch_optional(conn)
            .await?;
        match live {
            Some(_) => Ok(()),
            None => Err(PublishConflict::TrustedTokenGone),
        }
    }

    /// Inside the publish transaction: refuses an ordinary token's version of a crate that only
    /// accepts trusted publishing.
    pub(in crate::store) async fn refuse_if_trustpub_only(
        conn: &mut DB::Connection,
        crate_id: i64,
    ) -> Result<(), PublishConflict> {
        match Self::trustpub_only_in(conn, crate_id).await? {
            false => Ok(()),
            true => Err(PublishConflict::TrustpubOnly),
        }
    }

    pub(super) async fn trustpub_only_in(
        conn: &mut DB::Connection,
        crate_id: i64,
    ) -> Result<bool, sqlx::Error> {
        let only: Option<i64> =
            sqlx::query_scalar("SELECT trustpub_only FROM crates WHERE id = $1")
                .bind(crate_id)
                .fetch_optional(conn)
                .await?;
        Ok(only.is_some_and(|v| v != 0))
    }

    /// Inside the publish transaction, right after a trusted publish created crate `crate_id`
    /// (canonical name `canon`): turns the pending configs that allowed it into ordinary configs
    /// of the crate and returns their users, the crate's owners.
    pub(in crate::store) async fn adopt_pending(
        conn: &mut DB::Connection,
        t: &TrustedPublish,
        canon: &str,
        crate_id: i64,
    ) -> Result<Vec<i64>, PublishConflict> {
        Self::trusted_token_live(conn, t).await?;
        let mut owners = Vec::new();
        for grant in t.pending.iter().filter(|g| g.canon == canon) {
            if Self::adopt_config(conn, grant.provider, grant.config, crate_id).await? {
                owners.push(grant.owner);
            }
        }
        // Every pending config behind the token was deleted since the exchange.
        if owners.is_empty() {
            return Err(PublishConflict::TrustedCannotCreate);
        }
        owners.sort_unstable();
        owners.dedup();
        Ok(owners)
    }

    /// Inside the publish transaction: which CI run published this version.
    pub(in crate::store) async fn record_trusted_version(
        conn: &mut DB::Connection,
        t: &TrustedPublish,
        crate_id: i64,
        num_no_build: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO trustpub_versions (version_id, trustpub_data) \
             SELECT id, $3 FROM versions WHERE crate_id = $1 AND num_no_build = $2",
        )
        .bind(crate_id)
        .bind(num_no_build)
        .bind(&t.trustpub_data)
        .execute(conn)
        .await?;
        Ok(())
    }
}
