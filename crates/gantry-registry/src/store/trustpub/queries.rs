//! [`TrustPubStore`] for [`SqlStore`], once for both engines (same placeholder and syntax rules as
//! `sql.rs`), and the trusted-publishing steps of the publish transaction.

use sqlx::{ColumnIndex, Decode, Encode, Executor, FromRow, IntoArguments, Type};

use super::matching::{self, Candidate, Identity};
use super::*;
use crate::store::sql::{Engine, SqlStore, is_unique_violation};
use crate::store::{PublishConflict, now};

/// A provider's table and the names of its source columns.
struct Columns {
    table: &'static str,
    owner: &'static str,
    /// GitHub's is a BIGINT, GitLab's TEXT; both are read as text.
    identity: &'static str,
    repo: &'static str,
    workflow: &'static str,
}

fn columns(provider: Provider) -> Columns {
    match provider {
        Provider::GitHub => Columns {
            table: "trustpub_configs_github",
            owner: "repository_owner",
            identity: "repository_owner_id",
            repo: "repository_name",
            workflow: "workflow_filename",
        },
        Provider::GitLab => Columns {
            table: "trustpub_configs_gitlab",
            owner: "namespace",
            identity: "namespace_id",
            repo: "project",
            workflow: "workflow_filepath",
        },
    }
}

impl Columns {
    /// Every column of a config, with the crate's name and the pending owner's login.
    fn select(&self) -> String {
        format!(
            "SELECT t.id, t.crate_id, c.name AS crate_name, t.pending_name, t.pending_owner_id, \
             u.login AS pending_owner_login, t.pending_expires_at, t.{owner} AS src_owner, \
             CAST(t.{identity} AS TEXT) AS src_identity, t.{repo} AS src_repo, \
             t.{workflow} AS src_workflow, t.environment, t.created_at \
             FROM {table} t LEFT JOIN crates c ON c.id = t.crate_id \
             LEFT JOIN users u ON u.id = t.pending_owner_id",
            owner = self.owner,
            identity = self.identity,
            repo = self.repo,
            workflow = self.workflow,
            table = self.table,
        )
    }
}

#[derive(FromRow)]
struct ConfigRow {
    id: i64,
    crate_id: Option<i64>,
    crate_name: Option<String>,
    pending_name: Option<String>,
    pending_owner_id: Option<i64>,
    pending_owner_login: Option<String>,
    pending_expires_at: Option<i64>,
    src_owner: String,
    src_identity: Option<String>,
    src_repo: String,
    src_workflow: String,
    environment: Option<String>,
    created_at: i64,
}

impl ConfigRow {
    fn into_config(self, provider: Provider) -> TrustConfig {
        let krate = match (self.crate_id, self.crate_name) {
            (Some(id), Some(name)) => ConfigCrate::Crate { id, name },
            _ => ConfigCrate::Pending {
                name: self.pending_name.unwrap_or_default(),
                owner: User {
                    id: self.pending_owner_id.unwrap_or_default(),
                    login: self.pending_owner_login.unwrap_or_default(),
                },
                expires_at: self.pending_expires_at.unwrap_or_default(),
            },
        };
        let source = match provider {
            Provider::GitHub => Source::GitHub {
                repository_owner: self.src_owner,
                repository_owner_id: self.src_identity.and_then(|s| s.parse().ok()),
                repository_name: self.src_repo,
                workflow_filename: self.src_workflow,
            },
            Provider::GitLab => Source::GitLab {
                namespace: self.src_owner,
                namespace_id: self.src_identity,
                project: self.src_repo,
                workflow_filepath: self.src_workflow,
            },
        };
        TrustConfig {
            id: self.id,
            krate,
            source,
            environment: self.environment,
            created_at: self.created_at,
        }
    }
}

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

#[derive(FromRow)]
struct TokenRow {
    id: i64,
    expires_at: i64,
    crate_ids: String,
    pending: String,
    trustpub_data: String,
}

#[derive(FromRow)]
struct VersionRow {
    id: i64,
    num: String,
    yanked: i64,
    cksum: String,
    created_at: i64,
    user_id: Option<i64>,
    login: Option<String>,
    trustpub_data: Option<String>,
}

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The SQL condition of a filter. Binds: `$1` now, `$2` the pending owner, then the crate ids,
/// then the pending names; every filter references `$1` and `$2`, so the bind list has the same
/// shape whatever the filter.
fn filter_sql(f: &ConfigFilter) -> String {
    if f.everything {
        return "(1 = 1 OR t.pending_owner_id = $2 OR t.pending_expires_at > $1)".to_owned();
    }
    let n = f.crate_ids.len();
    let crates = match n {
        0 => "1 = 0".to_owned(),
        n => format!("t.crate_id IN ({})", placeholders(3, n)),
    };
    let names = match &f.pending_canons {
        None => "1 = 1".to_owned(),
        Some(c) if c.is_empty() => "1 = 0".to_owned(),
        Some(c) => format!("t.pending_canon IN ({})", placeholders(3 + n, c.len())),
    };
    format!(
        "({crates} OR (t.crate_id IS NULL AND t.pending_owner_id = $2 \
         AND t.pending_expires_at > $1 AND {names}))"
    )
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
    /// `sql` with the binds of [`filter_sql`].
    fn filtered<'q>(
        sql: &'q str,
        filter: &'q ConfigFilter,
    ) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>> {
        let mut q = sqlx::query(sql).bind(now()).bind(filter.pending_owner);
        for id in &filter.crate_ids {
            q = q.bind(*id);
        }
        for canon in filter.pending_canons.iter().flatten() {
            q = q.bind(canon.as_str());
        }
        q
    }

    async fn config_in(
        conn: &mut DB::Connection,
        provider: Provider,
        id: i64,
    ) -> Result<Option<TrustConfig>, sqlx::Error> {
        let cols = columns(provider);
        let row: Option<ConfigRow> = sqlx::query_as(&format!("{} WHERE t.id = $1", cols.select()))
            .bind(id)
            .fetch_optional(conn)
            .await?;
        Ok(row.map(|r| r.into_config(provider)))
    }

    async fn create_config_in(
        conn: &mut DB::Connection,
        new: &NewTrustConfig,
        max: usize,
    ) -> Result<TrustConfig, CreateConfigError> {
        let provider = new.source.provider();
        let cols = columns(provider);
        let (crate_id, pending) = match &new.krate {
            NewConfigCrate::Crate(id) => (Some(*id), None),
            NewConfigCrate::Pending {
                name,
                owner_id,
                expires_at,
            } => (None, Some((name, *owner_id, *expires_at))),
        };
        let canon = pending.map(|(n, _, _)| gantry_protocol::canonical_name(n));
        let existing: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {} WHERE crate_id = $1 OR (pending_canon = $2 \
             AND pending_owner_id = $3 AND pending_expires_at > $4)",
            cols.table
        ))
        .bind(crate_id)
        .bind(&canon)
        .bind(pending.map(|p| p.1))
        .bind(new.now)
        .fetch_one(&mut *conn)
        .await?;
        if usize::try_from(existing).unwrap_or(usize::MAX) >= max {
            return Err(CreateConfigError::TooMany { max });
        }
        let (owner, identity, repo) = match &new.source {
            Source::GitHub {
                repository_owner,
                repository_owner_id,
                repository_name,
                ..
            } => (
                repository_owner,
                repository_owner_id.map(|i| i.to_string()),
                repository_name,
            ),
            Source::GitLab {
                namespace,
                namespace_id,
                project,
                ..
            } => (namespace, namespace_id.clone(), project),
        };
        let id: i64 = sqlx::query_scalar(&format!(
            "INSERT INTO {table} (crate_id, pending_name, pending_canon, pending_owner_id, \
             pending_expires_at, {o}, {i}, {r}, {w}, environment, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, {ident}, $8, $9, $10, $11) RETURNING id",
            table = cols.table,
            o = cols.owner,
            i = cols.identity,
            r = cols.repo,
            w = cols.workflow,
            ident = identity_placeholder(provider, 7),
        ))
        .bind(crate_id)
        .bind(pending.map(|p| p.0.clone()))
        .bind(&canon)
        .bind(pending.map(|p| p.1))
        .bind(pending.map(|p| p.2))
        .bind(owner)
        .bind(identity)
        .bind(repo)
        .bind(new.source.workflow())
        .bind(&new.environment)
        .bind(new.now)
        .fetch_one(&mut *conn)
        .await?;
        // The row was inserted by this transaction.
        let config = Self::config_in(conn, provider, id).await?;
        Ok(config.ok_or(sqlx::Error::RowNotFound)?)
    }

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

    async fn exchange_in(conn: &mut DB::Connection, ex: &Exchange) -> Result<(), ExchangeRefusal> {
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
    async fn adopt_config(
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

    async fn trustpub_only_in(
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

/// The placeholder `$n` for an identity value bound as text: GitHub's column is a BIGINT.
fn identity_placeholder(provider: Provider, n: usize) -> String {
    match provider {
        Provider::GitHub => format!("CAST(${n} AS BIGINT)"),
        Provider::GitLab => format!("${n}"),
    }
}

impl<DB> TrustPubStore for SqlStore<DB>
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
    fn create_trust_config<'a>(
        &'a self,
        new: &'a NewTrustConfig,
        max: usize,
    ) -> BoxFut<'a, Result<TrustConfig, CreateConfigError>> {
        Box::pin(async move {
            let mut w = self.begin_write().await?;
            match Self::create_config_in(&mut w.tx, new, max).await {
                Ok(c) => {
                    w.tx.commit().await?;
                    Ok(c)
                }
                Err(e) => {
                    w.abandon().await;
                    Err(e)
                }
            }
        })
    }

    fn trust_configs<'a>(
        &'a self,
        provider: Provider,
        filter: &'a ConfigFilter,
        after: i64,
        limit: u32,
    ) -> BoxFut<'a, StoreResult<ConfigPage>> {
        Box::pin(async move {
            let cols = columns(provider);
            let cond = filter_sql(filter);
            let after_n =
                3 + filter.crate_ids.len() + filter.pending_canons.as_ref().map_or(0, Vec::len);
            let count_sql = format!("SELECT COUNT(*) FROM {} t WHERE {cond}", cols.table);
            let page_sql = format!(
                "{} WHERE {cond} AND t.id > ${after_n} ORDER BY t.id LIMIT ${}",
                cols.select(),
                after_n + 1
            );
            let total: i64 = {
                let row = Self::filtered(&count_sql, filter)
                    .fetch_one(&self.pool)
                    .await?;
                sqlx::Row::try_get(&row, 0usize)?
            };
            let rows = Self::filtered(&page_sql, filter)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
            let configs = rows
                .iter()
                .map(|r| ConfigRow::from_row(r).map(|c| c.into_config(provider)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ConfigPage {
                configs,
                total: u64::try_from(total).unwrap_or(0),
            })
        })
    }

    fn trust_config(
        &self,
        provider: Provider,
        id: i64,
    ) -> BoxFut<'_, StoreResult<Option<TrustConfig>>> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?;
            Ok(Self::config_in(&mut conn, provider, id).await?)
        })
    }

    fn delete_trust_config(&self, provider: Provider, id: i64) -> BoxFut<'_, StoreResult<bool>> {
        Box::pin(async move {
            let sql = format!("DELETE FROM {} WHERE id = $1", columns(provider).table);
            Ok(self.write_one(sqlx::query(&sql).bind(id)).await? == 1)
        })
    }

    fn exchange<'a>(&'a self, ex: &'a Exchange) -> BoxFut<'a, Result<(), ExchangeRefusal>> {
        Box::pin(async move {
            let mut w = self.begin_write().await.map_err(StoreError::from)?;
            if let Err(e) = Self::exchange_in(&mut w.tx, ex).await {
                w.abandon().await;
                return Err(e);
            }
            // Two exchanges of one JWT racing on PostgreSQL: the loser's unique violation may
            // surface only here.
            w.tx.commit()
                .await
                .map_err(|e| match is_unique_violation(&e) {
                    true => ExchangeRefusal::Replayed,
                    false => e.into(),
                })
        })
    }

    fn trusted_token<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFut<'a, StoreResult<Option<TrustedToken>>> {
        Box::pin(async move {
            let row: Option<TokenRow> = sqlx::query_as(
                "SELECT id, expires_at, crate_ids, pending, trustpub_data FROM trustpub_tokens \
                 WHERE token_hash = $1 AND expires_at > $2",
            )
            .bind(&hash[..])
            .bind(now())
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.map(|r| TrustedToken {
                id: r.id,
                expires_at: r.expires_at,
                crate_ids: serde_json::from_str(&r.crate_ids).unwrap_or_default(),
                pending: serde_json::from_str(&r.pending).unwrap_or_default(),
                trustpub_data: r.trustpub_data,
            }))
        })
    }

    fn revoke_trusted_token<'a>(&'a self, hash: &'a [u8; 32]) -> BoxFut<'a, StoreResult<bool>> {
        Box::pin(async move {
            let q =
                sqlx::query("DELETE FROM trustpub_tokens WHERE token_hash = $1").bind(&hash[..]);
            Ok(self.write_one(q).await? > 0)
        })
    }

    fn trustpub_only(&self, crate_id: i64) -> BoxFut<'_, StoreResult<bool>> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?;
            Ok(Self::trustpub_only_in(&mut conn, crate_id).await?)
        })
    }

    fn set_trustpub_only(&self, crate_id: i64, only: bool) -> BoxFut<'_, StoreResult<()>> {
        Box::pin(async move {
            let q = sqlx::query("UPDATE crates SET trustpub_only = $1 WHERE id = $2")
                .bind(i64::from(only))
                .bind(crate_id);
            self.write_one(q).await?;
            Ok(())
        })
    }

    fn owned_crates(&self, user_id: i64) -> BoxFut<'_, StoreResult<Vec<crate::store::CrateInfo>>> {
        Box::pin(async move {
            let crates = sqlx::query_as(
                "SELECT c.id, c.name, c.description FROM crates c \
                 JOIN crate_owners o ON o.crate_id = c.id WHERE o.user_id = $1 ORDER BY c.id",
            )
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
            Ok(crates)
        })
    }

    fn pending_names(&self, user_id: i64) -> BoxFut<'_, StoreResult<Vec<String>>> {
        Box::pin(async move {
            let names = sqlx::query_scalar(
                "SELECT pending_name FROM trustpub_configs_github \
                 WHERE pending_owner_id = $1 AND pending_expires_at > $2 \
                 UNION SELECT pending_name FROM trustpub_configs_gitlab \
                 WHERE pending_owner_id = $1 AND pending_expires_at > $2",
            )
            .bind(user_id)
            .bind(now())
            .fetch_all(&self.pool)
            .await?;
            Ok(names)
        })
    }

    fn version_details(&self, crate_id: i64) -> BoxFut<'_, StoreResult<Vec<VersionDetails>>> {
        Box::pin(async move {
            let rows: Vec<VersionRow> = sqlx::query_as(
                "SELECT v.id, v.num, v.yanked, v.cksum, v.created_at, u.id AS user_id, u.login, \
                 tv.trustpub_data FROM versions v LEFT JOIN users u ON u.id = v.published_by \
                 LEFT JOIN trustpub_versions tv ON tv.version_id = v.id \
                 WHERE v.crate_id = $1 ORDER BY v.id",
            )
            .bind(crate_id)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| VersionDetails {
                    id: r.id,
                    num: r.num,
                    yanked: r.yanked != 0,
                    cksum: r.cksum,
                    created_at: r.created_at,
                    published_by: r.user_id.zip(r.login).map(|(id, login)| User { id, login }),
                    trustpub_data: r.trustpub_data,
                })
                .collect())
        })
    }
}
