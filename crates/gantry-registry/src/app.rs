//! The application state every handler reads ([`App`]), and opening the storage it holds.

use std::sync::Arc;

use anyhow::Context;

use crate::blob::{BlobStore, LocalBlobStore, S3BlobStore};
use crate::config::{Config, DatabaseTarget, StorageTarget};
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::store::{MetaStore, PgStore, SqliteStore};

/// Shared state behind every handler.
pub struct App {
    pub config: Config,
    /// `http://host:port` as clients see it (no trailing slash).
    pub public_url: String,
    pub store: Arc<dyn MetaStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub limiter: RateLimiter,
    pub metrics: Metrics,
}

impl App {
    /// State for a registry that clients reach at `public_url` (a trailing `/` is dropped).
    pub fn new(
        config: Config,
        public_url: &str,
        store: Arc<dyn MetaStore>,
        blobs: Arc<dyn BlobStore>,
    ) -> Self {
        let limiter = RateLimiter::new(config.rate_limits);
        App {
            config,
            public_url: public_url.trim_end_matches('/').to_owned(),
            store,
            blobs,
            limiter,
            metrics: Metrics::default(),
        }
    }

    pub fn api_url(&self) -> String {
        self.public_url.clone()
    }

    pub fn index_url(&self) -> String {
        format!("sparse+{}/index/", self.public_url)
    }
}

/// Opens the metadata store and blob store the settings select (SQLite + `<data_dir>/blobs` by
/// default; PostgreSQL and/or S3 when configured), applying pending database migrations.
pub async fn open_storage(
    config: &Config,
) -> anyhow::Result<(Arc<dyn MetaStore>, Arc<dyn BlobStore>)> {
    let store = open_meta_store(config).await?;
    let blobs: Arc<dyn BlobStore> = match config.storage()? {
        StorageTarget::Local(dir) => Arc::new(
            LocalBlobStore::new(&dir)
                .with_context(|| format!("opening blob directory {}", dir.display()))?,
        ),
        StorageTarget::S3 { bucket, prefix } => {
            Arc::new(S3BlobStore::new(&bucket, prefix.as_deref(), &config.s3)?)
        }
    };
    Ok((store, blobs))
}

/// Opens (and migrates) only the metadata store: what `migrate`, `user` and `token` need.
pub async fn open_meta_store(config: &Config) -> anyhow::Result<Arc<dyn MetaStore>> {
    let target = config.database()?;
    let pool = config.pool_size(&target)?;
    Ok(match target {
        DatabaseTarget::Sqlite(url) => {
            if config.database_url.is_none() {
                std::fs::create_dir_all(&config.data_dir).with_context(|| {
                    format!("creating data directory {}", config.data_dir.display())
                })?;
            }
            Arc::new(SqliteStore::open_url(&url, pool).await?)
        }
        DatabaseTarget::Postgres(url) => Arc::new(PgStore::open(&url, pool).await?),
    })
}
