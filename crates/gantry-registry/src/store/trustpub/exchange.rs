//! The token exchange as one transaction: forget what expired, record the JWT id (a replay fails
//! on its unique key, also across instances), load the repository's configs, adopt pending
//! configs whose name an owner took meanwhile, learn unknown owner/namespace ids, match, and store
//! the token. Any refusal rolls all of it back.

use sqlx::{ColumnIndex, Decode, Encode, Executor, FromRow, IntoArguments, Type};

use super::matching::{self, Candidate, Identity};
use super::queries::columns;
use super::*;
use crate::store::sql::{Engine, SqlStore, is_unique_violation};

/// A config of the exchanged repository, with what the exchange needs to know about its crate.
#[derive(FromRow)]
struct CandidateRow {
    id: i64,
    crate_id: Option<i64>,
    pending_name: Option<String>,
    pending_canon: Option<String>,
    pending_owner_id: Option<i64>,
    identity: Option<String>,
    workflow: String,
    environment: Option<String>,
    /// For a pending config: the crate that meanwhile took its name.
    existing_id: Option<i64>,
    /// Whether the pending owner owns that crate.
    owns: i64,
}

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
    /// Forgets what has expired: JWT ids, tokens and pending configs.
    async fn purge_expired(conn: &mut DB::Connection, now: i64) -> Result<(), sqlx::Error> {
        for sql in [
            "DELETE FROM trustpub_used_jtis WHERE expires_at <= $1",
            "DELETE FROM trustpub_tokens WHERE expires_at <= $1",
            "DELETE FROM trustpub_configs_github WHERE crate_id IS NULL AND pending_expires_at <= $1",
            "DELETE FROM trustpub_configs_gitlab WHERE crate_id IS NULL AND pending_expires_at <= $1",
        ] {
            sqlx::query(sql).bind(now).execute(&mut *conn).await?;
        }
        Ok(())
    }

    pub(super) async fn exchange_in(
        conn: &mut DB::Connection,
        ex: &Exchange,
    ) -> Result<(), ExchangeRefusal> {
        Self::purge_expired(conn, ex.now).await?;
        let inserted = sqlx::query(
            "INSERT INTO trustpub_used_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&ex.issuer)
        .bind(&ex.jti)
        .bind(ex.jti_expires_at)
        .execute(&mut *conn)
        .await;
        match inserted {
            Ok(r) if DB::rows_affected(&r) == 1 => {}
            Ok(_) => return Err(ExchangeRefusal::Replayed),
            Err(e) if is_unique_violation(&e) => return Err(ExchangeRefusal::Replayed),
            Err(e) => return Err(e.into()),
        }
        let cols = columns(ex.provider);
        let rows: Vec<CandidateRow> = sqlx::query_as(&format!(
            "SELECT t.id, t.crate_id, t.pending_name, t.pending_canon, t.pending_owner_id, \
             CAST(t.{i} AS TEXT) AS identity, t.{w} AS workflow, t.environment, \
             c.id AS existing_id, (SELECT COUNT(*) FROM crate_owners o \
             WHERE o.crate_id = c.id AND o.user_id = t.pending_owner_id) AS owns \
             FROM {table} t LEFT JOIN crates c ON t.crate_id IS NULL AND c.canon_name = t.pending_canon \
             WHERE lower(t.{o}) = lower($1) AND lower(t.{r}) = lower($2) \
             AND (t.crate_id IS NOT NULL OR t.pending_expires_at > $3) ORDER BY t.id",
            i = cols.identity,
            w = cols.workflow,
            o = cols.owner,
            r = cols.repo,
            table = cols.table,
        ))
        .bind(&ex.owner)
        .bind(&ex.repo)
        .bind(ex.now)
        .fetch_all(&mut *conn)
        .await?;
        let mut candidates = Vec::new();
        let mut pending = Vec::new();
        for row in rows {
            let mut crate_id = row.crate_id;
            match (row.crate_id, row.existing_id, row.pending_canon) {
                (Some(_), _, _) => {}
                // The name was taken meanwhile: a pending config of one of its owners simply
                // becomes that crate's config; anyone else's can never publish it.
                (None, Some(existing), _) if row.owns > 0 => {
                    Self::adopt_config(conn, ex.provider, row.id, existing).await?;
                    crate_id = Some(existing);
                }
                (None, Some(_), _) => continue,
                (None, None, Some(canon)) => pending.push(PendingGrant {
                    provider: ex.provider,
                    config: row.id,
                    name: row.pending_name.unwrap_or_default(),
                    canon,
                    owner: row.pending_owner_id.unwrap_or_default(),
                }),
                (None, None, None) => continue,
            }
            if row.identity.is_none() {
                Self::learn_identity(conn, ex.provider, row.id, &ex.identity_id).await?;
            }
            candidates.push(Candidate {
                config_id: row.id,
                crate_id,
                identity_id: row.identity,
                workflow: row.workflow,
                environment: row.environment,
            });
        }
        if candidates.is_empty() {
            return Err(ExchangeRefusal::NoConfig);
        }
        let job = Identity {
            id: &ex.identity_id,
            workflow: &ex.workflow,
            environment: ex.environment.as_deref(),
        };
        let selected = matching::select(candidates, job).map_err(ExchangeRefusal::Mismatch)?;
        let mut crate_ids: Vec<i64> = selected.iter().filter_map(|c| c.crate_id).collect();
        crate_ids.sort_unstable();
        crate_ids.dedup();
        pending.retain(|g| {
            selected
                .iter()
                .any(|c| c.crate_id.is_none() && c.config_id == g.config)
        });
        // Lists of plain values always serialise.
        let crate_ids = serde_json::to_string(&crate_ids).unwrap_or_default();
        let pending = serde_json::to_string(&pending).unwrap_or_default();
        sqlx::query(
            "INSERT INTO trustpub_tokens \
             (token_hash, expires_at, crate_ids, pending, trustpub_data, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&ex.token_hash[..])
        .bind(ex.token_expires_at)
        .bind(crate_ids)
        .bind(pending)
        .bind(&ex.trustpub_data)
        .bind(ex.now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Makes config `id` an ordinary config of crate `crate_id`; false if it is no longer pending.
    pub(super) async fn adopt_config(
        conn: &mut DB::Connection,
        provider: Provider,
        id: i64,
        crate_id: i64,
    ) -> Result<bool, sqlx::Error> {
        let r = sqlx::query(&format!(
            "UPDATE {} SET crate_id = $1, pending_name = NULL, pending_canon = NULL, \
             pending_owner_id = NULL, pending_expires_at = NULL WHERE id = $2 AND crate_id IS NULL",
            columns(provider).table
        ))
        .bind(crate_id)
        .bind(id)
        .execute(conn)
        .await?;
        Ok(DB::rows_affected(&r) == 1)
    }

    /// Records the owner/namespace id the first exchange presented (trust on first use).
    async fn learn_identity(
        conn: &mut DB::Connection,
        provider: Provider,
        id: i64,
        identity: &str,
    ) -> Result<(), sqlx::Error> {
        let cols = columns(provider);
        sqlx::query(&format!(
            "UPDATE {table} SET {i} = {v} WHERE id = $2 AND {i} IS NULL",
            table = cols.table,
            i = cols.identity,
            v = identity_placeholder(provider, 1),
        ))
        .bind(identity)
        .bind(id)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// The placeholder `$n` for an identity value bound as text: GitHub's column is a BIGINT.
pub(super) fn identity_placeholder(provider: Provider, n: usize) -> String {
    match provider {
        Provider::GitHub => format!("CAST(${n} AS BIGINT)"),
        Provider::GitLab => format!("${n}"),
    }
}
