//! [`TrustPubStore`] for [`SqlStore`], once for both engines (same placeholder and syntax rules as
//! `sql.rs`): configs, tokens, crate flags. The exchange transaction is in
//! `exchange.rs`, the publish-transaction steps in `publish.rs`.

use sqlx::{ColumnIndex, Decode, Encode, Executor, FromRow, IntoArguments, Type};

use super::exchange::identity_placeholder;
use super::*;
use crate::store::now;
use crate::store::sql::{Engine, SqlStore, is_unique_violation};

/// A provider's table and the names of its source columns.
pub(super) struct Columns {
    pub table: &'static str,
    pub owner: &'static str,
    /// GitHub's is a BIGINT, GitLab's TEXT; both are read as text.
    pub identity: &'static str,
    pub repo: &'static str,
    pub workflow: &'static str,
}

pub(super) fn columns(provider: Provider) -> Columns {
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

#[derive(FromRow)]
struct TokenRow {
    id: i64,
    expires_at: i64,
    crate_ids: String,
    pending: String,
    trustpub_data: String,
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
}
