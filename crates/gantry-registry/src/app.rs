//! The application state every handler reads ([`App`]), and opening the storage it holds.

use std::sync::Arc;

use crate::blob::{BlobError, BlobStore, LocalBlobStore, S3BlobStore};
use crate::config::{Config, ConfigError, DatabaseTarget, StorageTarget};
use crate::index_cache::IndexCache;
use crate::metrics::Metrics;
use crate::mirror::{Mirror, MirrorError};
use crate::store::{MetaStore, PgStore, SqliteStore, StoreError};

/// Shared state behind every handler.
pub struct App {
    pub config: Config,
    /// `http://host:port` as clients see it (no trailing slash).
    pub public_url: String,
    pub store: Arc<dyn MetaStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub metrics: Metrics,
    // Index cache and pull-through mirror (issue 15).
    /// Rendered index files (hosted and mirrored), kept until a change evicts them.
    pub index_cache: Arc<IndexCache>,
    /// Set by the server at start when `config.mirror` asks for one.
    pub mirror: Option<Arc<Mirror>>,
}

impl App {
    /// State for a registry that clients reach at `public_url` (a trailing `/` is dropped).
    pub fn new(
        config: Config,
        public_url: &str,
        store: Arc<dyn MetaStore>,
        blobs: Arc<dyn BlobStore>,
    ) -> Self {
        let index_cache = Arc::new(IndexCache::new(config.index_cache_bytes));
        App {
            config,
            public_url: public_url.trim_end_matches('/').to_owned(),
            store,
            blobs,
            metrics: Metrics::default(),
            index_cache,
            mirror: None,
        }
    }

    pub fn api_url(&self) -> String {
        self.public_url.clone()
    }

    pub fn index_url(&self) -> String {
        format!("sparse+{}/index/", self.public_url)
    }
}

/// Why the registry could not open its storage or start serving.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("creating data directory {}", path.display())]
    DataDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The blob store was opened but does not answer (checked before serving).
    #[error("checking the blob store")]
    BlobCheck(#[source] BlobError),
    #[error("cannot listen on {addr}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("setting up the mirror")]
    Mirror(#[source] MirrorError),
}

/// Opens the metadata store and blob store the settings select (SQLite + `<data_dir>/blobs` by
/// default; PostgreSQL and/or S3 when configured), applying pending database migrations.
pub async fn open_storage(
    config: &Config,
) -> Result<(Arc<dyn MetaStore>, Arc<dyn BlobStore>), StartError> {
    let store = open_meta_store(config).await?;
    let blobs: Arc<dyn BlobStore> = match config.storage()? {
        StorageTarget::Local(dir) => Arc::new(LocalBlobStore::new(&dir)?),
        StorageTarget::S3 { bucket, prefix } => {
            Arc::new(S3BlobStore::new(&bucket, prefix.as_deref(), &config.s3)?)
        }
    };
    Ok((store, blobs))
}

/// Opens (and migrates) only the metadata store: what `migrate`, `user` and `token` need.
pub async fn open_meta_store(config: &Config) -> Result<Arc<dyn MetaStore>, StartError> {
    let target = config.database()?;
    let pool = config.pool_size(&target)?;
    Ok(match target {
        DatabaseTarget::Sqlite(url) => {
            if config.database_url.is_none() {
                std::fs::create_dir_all(&config.data_dir).map_err(|source| {
                    StartError::DataDir {
                        path: config.data_dir.clone(),
                        source,
                    }
                })?;
            }
            Arc::new(SqliteStore::open_url(&url, pool).await?)
        }
        DatabaseTarget::Postgres(url) => Arc::new(PgStore::open(&url, pool).await?),
    })
}
