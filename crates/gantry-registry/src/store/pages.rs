//! What the web pages and the download counter need from the database, written once for both
//! engines: listings, per-version details read from the `.crate` at publish, reverse dependencies
//! and per-day download counts.

use sqlx::{ColumnIndex, Decode, Encode, Executor, FromRow, IntoArguments, Type};

use super::{BoxFut, CrateInfo, Engine, SqlStore, StoreResult};

/// One version in a crate's version list: what the crate pages and the crate API show.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct VersionListing {
    pub id: i64,
    pub num: String,
    pub yanked: i64,
    pub cksum: String,
    pub created_at: i64,
    /// The id and login of the user who published it (`None` for a trusted publish, which no
    /// user makes).
    pub publisher_id: Option<i64>,
    pub published_by: Option<String>,
    pub downloads: i64,
    /// For a version published through trusted publishing: which CI run published it (JSON:
    /// `provider`, then `repository`/`run_id` or `project_path`/`job_id`, and `sha`).
    pub trustpub_data: Option<String>,
}

/// A crate in a list of recently published or updated crates.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RecentCrate {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub num: String,
    pub at: i64,
}

/// Totals for the home page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegistryCounts {
    pub crates: i64,
    pub versions: i64,
    pub downloads: i64,
}

/// A version of another crate that depends on the one shown.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ReverseDep {
    pub crate_name: String,
    pub num: String,
    pub req: String,
    pub kind: String,
}

/// A version's stored details: the README text and the package metadata as JSON.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct StoredDetails {
    pub readme: Option<String>,
    pub metadata: String,
}

/// A dependency on a crate of this registry, for reverse lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDep {
    pub canon_name: String,
    pub req: String,
    pub kind: String,
}

/// A version whose details are not stored yet (published before they were).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct MissingDetails {
    pub version_id: i64,
    pub name: String,
    pub num: String,
    pub cksum: String,
    pub index_line: String,
}

/// Downloads of one version on one day.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DayDownloads {
    pub version_id: i64,
    pub num: String,
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub downloads: i64,
}

/// Downloads counted in memory, to be added: (crate id, version, day, count).
pub type DownloadBatch = [(i64, String, i64, i64)];

pub trait PageStore: Send + Sync {
    fn registry_counts(&self) -> BoxFut<'_, StoreResult<RegistryCounts>>;
    /// Crates by creation (`updated` false) or by their newest version (`updated` true), newest first.
    fn recent_crates(&self, updated: bool, limit: u32)
    -> BoxFut<'_, StoreResult<Vec<RecentCrate>>>;
    /// Like `MetaStore::search` with an offset, for paged results.
    fn search_page<'a>(
        &'a self,
        query: &'a str,
        offset: u64,
        limit: u32,
    ) -> BoxFut<'a, StoreResult<(Vec<CrateInfo>, u64)>>;
    /// Every version of a crate in publish order, with publisher (user or CI run) and total
    /// downloads.
    fn version_listing(&self, crate_id: i64) -> BoxFut<'_, StoreResult<Vec<VersionListing>>>;
    fn version_id<'a>(
        &'a self,
        crate_id: i64,
        num: &'a str,
    ) -> BoxFut<'a, StoreResult<Option<i64>>>;
    fn version_details(&self, version_id: i64) -> BoxFut<'_, StoreResult<Option<StoredDetails>>>;
    /// Stores a version's details and local dependencies once (a second call changes nothing).
    fn save_version_details<'a>(
        &'a self,
        version_id: i64,
        details: &'a StoredDetails,
        deps: &'a [LocalDep],
    ) -> BoxFut<'a, StoreResult<()>>;
    fn versions_missing_details(&self, limit: u32) -> BoxFut<'_, StoreResult<Vec<MissingDetails>>>;
    /// Versions of other crates depending on `canon_name`, newest first.
    fn reverse_dependencies<'a>(
        &'a self,
        canon_name: &'a str,
        limit: u32,
    ) -> BoxFut<'a, StoreResult<Vec<ReverseDep>>>;
    /// Adds counted downloads in one transaction; versions that do not exist are skipped.
    fn add_downloads<'a>(&'a self, batch: &'a DownloadBatch) -> BoxFut<'a, StoreResult<()>>;
    /// Per-day downloads of a crate's versions from day `since` on, oldest first.
    fn daily_downloads(
        &self,
        crate_id: i64,
        since: i64,
    ) -> BoxFut<'_, StoreResult<Vec<DayDownloads>>>;
}

impl<DB> PageStore for SqlStore<DB>
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
    fn registry_counts(&self) -> BoxFut<'_, StoreResult<RegistryCounts>> {
        Box::pin(async move {
            let (crates, versions, downloads): (i64, i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM crates), (SELECT COUNT(*) FROM versions), \
                 CAST(COALESCE((SELECT SUM(downloads) FROM version_downloads), 0) AS BIGINT)",
            )
            .fetch_one(&self.pool)
            .await?;
            Ok(RegistryCounts {
                crates,
                versions,
                downloads,
            })
        })
    }

    fn recent_crates(
        &self,
        updated: bool,
        limit: u32,
    ) -> BoxFut<'_, StoreResult<Vec<RecentCrate>>> {
        Box::pin(async move {
            // Both lists walk an index from the newest end: crates by creation, or versions by id
            // (publish order), keeping each crate's newest.
            let sql = match updated {
                false => {
                    "SELECT c.id, c.name, c.description, v.num, c.created_at AS at FROM crates c \
                     JOIN versions v ON v.id = (SELECT MAX(id) FROM versions WHERE crate_id = c.id) \
                     ORDER BY c.id DESC LIMIT $1"
                }
                true => {
                    "SELECT c.id, c.name, c.description, v.num, v.created_at AS at FROM versions v \
                     JOIN crates c ON c.id = v.crate_id \
                     WHERE v.id = (SELECT MAX(id) FROM versions WHERE crate_id = v.crate_id) \
                     ORDER BY v.id DESC LIMIT $1"
                }
            };
            let rows = sqlx::query_as(sql)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
            Ok(rows)
        })
    }

    fn search_page<'a>(
        &'a self,
        query: &'a str,
        offset: u64,
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
                 ORDER BY (canon_name = $1) DESC, canon_name LIMIT $3 OFFSET $4"
            ))
            .bind(&canon)
            .bind(query)
            .bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
            Ok((page, u64::try_from(total).unwrap_or(0)))
        })
    }

    fn version_listing(&self, crate_id: i64) -> BoxFut<'_, StoreResult<Vec<VersionListing>>> {
        Box::pin(async move {
            let rows = sqlx::query_as(
                "SELECT v.id, v.num, v.yanked, v.cksum, v.created_at, u.id AS publisher_id, \
                 u.login AS published_by, \
                 CAST(COALESCE((SELECT SUM(d.downloads) FROM version_downloads d \
                     WHERE d.version_id = v.id), 0) AS BIGINT) AS downloads, \
                 tv.trustpub_data \
                 FROM versions v LEFT JOIN users u ON u.id = v.published_by \
                 LEFT JOIN trustpub_versions tv ON tv.version_id = v.id \
                 WHERE v.crate_id = $1 ORDER BY v.id",
            )
            .bind(crate_id)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        })
    }

    fn version_id<'a>(
        &'a self,
        crate_id: i64,
        num: &'a str,
    ) -> BoxFut<'a, StoreResult<Option<i64>>> {
        Box::pin(async move {
            let id = sqlx::query_scalar("SELECT id FROM versions WHERE crate_id = $1 AND num = $2")
                .bind(crate_id)
                .bind(num)
                .fetch_optional(&self.pool)
                .await?;
            Ok(id)
        })
    }

    fn version_details(&self, version_id: i64) -> BoxFut<'_, StoreResult<Option<StoredDetails>>> {
        Box::pin(async move {
            let row = sqlx::query_as(
                "SELECT readme, metadata FROM version_details WHERE version_id = $1",
            )
            .bind(version_id)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row)
        })
    }

    fn save_version_details<'a>(
        &'a self,
        version_id: i64,
        details: &'a StoredDetails,
        deps: &'a [LocalDep],
    ) -> BoxFut<'a, StoreResult<()>> {
        Box::pin(async move {
            let mut w = self.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO version_details (version_id, readme, metadata) VALUES ($1, $2, $3) \
                 ON CONFLICT (version_id) DO NOTHING",
            )
            .bind(version_id)
            .bind(&details.readme)
            .bind(&details.metadata)
            .execute(&mut *w.tx)
            .await?;
            if DB::rows_affected(&inserted) == 1 {
                for d in deps {
                    sqlx::query(
                        "INSERT INTO dependencies (version_id, dep_canon_name, req, kind) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    )
                    .bind(version_id)
                    .bind(&d.canon_name)
                    .bind(&d.req)
                    .bind(&d.kind)
                    .execute(&mut *w.tx)
                    .await?;
                }
            }
            w.tx.commit().await?;
            Ok(())
        })
    }

    fn versions_missing_details(&self, limit: u32) -> BoxFut<'_, StoreResult<Vec<MissingDetails>>> {
        Box::pin(async move {
            let rows = sqlx::query_as(
                "SELECT v.id AS version_id, c.name, v.num, v.cksum, v.index_line FROM versions v \
                 JOIN crates c ON c.id = v.crate_id \
                 WHERE NOT EXISTS (SELECT 1 FROM version_details d WHERE d.version_id = v.id) \
                 ORDER BY v.id LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        })
    }

    fn reverse_dependencies<'a>(
        &'a self,
        canon_name: &'a str,
        limit: u32,
    ) -> BoxFut<'a, StoreResult<Vec<ReverseDep>>> {
        Box::pin(async move {
            // The newest version of each dependent that still depends on it, yanked ones skipped.
            let rows = sqlx::query_as(
                "SELECT c.name AS crate_name, v.num, d.req, d.kind FROM dependencies d \
                 JOIN versions v ON v.id = d.version_id JOIN crates c ON c.id = v.crate_id \
                 WHERE d.dep_canon_name = $1 AND v.yanked = 0 AND v.id = (SELECT MAX(v2.id) \
                     FROM versions v2 WHERE v2.crate_id = v.crate_id AND v2.yanked = 0) \
                 ORDER BY c.canon_name, d.kind LIMIT $2",
            )
            .bind(canon_name)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        })
    }

    fn add_downloads<'a>(&'a self, batch: &'a DownloadBatch) -> BoxFut<'a, StoreResult<()>> {
        Box::pin(async move {
            if batch.is_empty() {
                return Ok(());
            }
            let mut w = self.begin_write().await?;
            for (crate_id, num, day, count) in batch {
                // Additive, so instances flushing at the same time never lose each other's counts.
                sqlx::query(
                    "INSERT INTO version_downloads (version_id, day, downloads) \
                     SELECT id, $3, $4 FROM versions WHERE crate_id = $1 AND num = $2 \
                     ON CONFLICT (version_id, day) \
                     DO UPDATE SET downloads = version_downloads.downloads + excluded.downloads",
                )
                .bind(*crate_id)
                .bind(num.as_str())
                .bind(*day)
                .bind(*count)
                .execute(&mut *w.tx)
                .await?;
            }
            w.tx.commit().await?;
            Ok(())
        })
    }

    fn daily_downloads(
        &self,
        crate_id: i64,
        since: i64,
    ) -> BoxFut<'_, StoreResult<Vec<DayDownloads>>> {
        Box::pin(async move {
            let rows = sqlx::query_as(
                "SELECT d.version_id, v.num, d.day, d.downloads FROM version_downloads d \
                 JOIN versions v ON v.id = d.version_id \
                 WHERE v.crate_id = $1 AND d.day >= $2 ORDER BY d.day, d.version_id",
            )
            .bind(crate_id)
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        })
    }
}
