//! Application state, router and the listening server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, any, delete, get, put};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::blob::{BlobStore, LocalBlobStore, S3BlobStore};
use crate::config::{Config, DatabaseTarget, REQUEST_TIMEOUT_SECS, StorageTarget};
use crate::metrics::Metrics;
use crate::store::{MetaStore, PgStore, SqliteStore};
use crate::{api, index, ops};

/// After a shutdown signal, in-flight requests get this long to finish before the server stops
/// anyway (a publish normally takes well under a second; 30 s is also what most orchestrators
/// allow between SIGTERM and SIGKILL).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Shared state behind every handler.
pub struct App {
    pub config: Config,
    /// `http://host:port` as clients see it (no trailing slash).
    pub public_url: String,
    pub store: Arc<dyn MetaStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub limiter: crate::ratelimit::RateLimiter,
    pub metrics: Metrics,
}

impl App {
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

pub fn router(app: Arc<App>) -> Router {
    let r =
        |path: &'static str, methods: MethodRouter<Arc<App>>| (path, tracked(&app, path, methods));
    let routes = [
        r("/index/config.json", get(index::config_json)),
        r("/index/{*path}", get(index::index_file)),
        r("/api/v1/crates/new", put(api::publish)),
        r("/api/v1/crates", get(api::search)),
        r("/api/v1/crates/{name}/{version}/yank", delete(api::yank)),
        r("/api/v1/crates/{name}/{version}/unyank", put(api::unyank)),
        r(
            "/api/v1/crates/{name}/{version}/download",
            get(api::download),
        ),
        r(
            "/api/v1/crates/{name}/owners",
            get(api::owners_list)
                .put(api::owners_add)
                .delete(api::owners_remove),
        ),
        r("/me", get(api::me)),
        r("/health", get(ops::health)),
        r("/ready", get(ops::ready)),
        r("/metrics", get(ops::metrics)),
    ];
    let mut router = Router::new();
    for (path, methods) in routes {
        router = router.route(path, methods);
    }
    router
        .fallback_service(
            tracked(
                &app,
                crate::metrics::UNMATCHED_ROUTE,
                any(|| async { StatusCode::NOT_FOUND }),
            )
            .with_state(app.clone()),
        )
        // Publish reads its body itself with its own limit; other JSON bodies are small.
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}

/// Wraps one route's handlers in the request timeout and, outside it, the metrics middleware,
/// which thereby knows the route template and also sees the timeout's 408.
fn tracked(
    app: &Arc<App>,
    route: &'static str,
    methods: MethodRouter<Arc<App>>,
) -> MethodRouter<Arc<App>> {
    methods
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(REQUEST_TIMEOUT_SECS),
        ))
        .layer(axum::middleware::from_fn_with_state(
            (app.clone(), route),
            ops::track,
        ))
}

/// A server running in the background (tests, benches) or in the foreground (the binary).
pub struct RunningServer {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    pub fn index_url(&self) -> String {
        self.app.index_url()
    }
    pub fn api_url(&self) -> String {
        self.app.api_url()
    }
    /// Stops accepting, lets in-flight requests finish.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
    /// Waits until the server ends (it ends when `signal` resolves).
    pub async fn wait(self) -> std::io::Result<()> {
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Binds, opens storage and starts serving. `shutdown_signal`, when given, stops the server.
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    start_with_signal(config, None::<std::future::Pending<()>>).await
}

pub async fn start_with_signal<F>(
    config: Config,
    signal: Option<F>,
) -> anyhow::Result<RunningServer>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (store, blobs) = open_storage(&config).await?;
    // Fail at start, with the store's own explanation, rather than on the first publish.
    blobs.ping().await.context("checking the blob store")?;
    start_with_storage(config, store, blobs, signal).await
}

/// Like [`start_with_signal`] with caller-provided storage (other engines, fault injection in tests).
pub async fn start_with_storage<F>(
    config: Config,
    store: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    signal: Option<F>,
) -> anyhow::Result<RunningServer>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("http://{addr}"));
    let limiter = crate::ratelimit::RateLimiter::new(config.rate_limits);
    let app = Arc::new(App {
        config,
        public_url,
        store,
        blobs,
        limiter,
        metrics: Metrics::default(),
    });
    let (tx, rx) = oneshot::channel::<()>();
    let router = router(app.clone());
    // Fires once the shutdown signal arrived, to start the grace period.
    let (stopping_tx, stopping_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
            match signal {
                Some(sig) => tokio::select! { _ = sig => {}, _ = rx => {} },
                None => {
                    let _ = rx.await;
                }
            }
            tracing::info!("no longer accepting connections; finishing in-flight requests");
            let _ = stopping_tx.send(());
        });
        let grace = async move {
            if stopping_rx.await.is_err() {
                // The server ended without a signal: nothing to bound.
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            r = std::future::IntoFuture::into_future(serve) => r,
            _ = grace => {
                tracing::warn!(
                    "requests still running {}s after the shutdown signal; stopping anyway",
                    SHUTDOWN_GRACE.as_secs()
                );
                Ok(())
            }
        }
    });
    Ok(RunningServer {
        addr,
        app,
        shutdown: Some(tx),
        task,
    })
}
