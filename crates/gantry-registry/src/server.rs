//! Application state, router and the listening server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::blob::{BlobStore, LocalBlobStore};
use crate::config::{Config, REQUEST_TIMEOUT_SECS};
use crate::sqlite::SqliteStore;
use crate::store::MetaStore;
use crate::{api, index};

/// Shared state behind every handler.
pub struct App {
    pub config: Config,
    /// `http://host:port` as clients see it (no trailing slash).
    pub public_url: String,
    pub store: Arc<dyn MetaStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub limiter: crate::ratelimit::RateLimiter,
}

impl App {
    pub fn api_url(&self) -> String {
        self.public_url.clone()
    }
    pub fn index_url(&self) -> String {
        format!("sparse+{}/index/", self.public_url)
    }
}

/// Opens the default embedded storage (SQLite + local directory) under `data_dir`.
pub async fn open_storage(
    config: &Config,
) -> anyhow::Result<(Arc<dyn MetaStore>, Arc<dyn BlobStore>)> {
    std::fs::create_dir_all(&config.data_dir)?;
    let store = SqliteStore::open(&config.data_dir.join("registry.sqlite")).await?;
    let blobs = LocalBlobStore::new(&config.data_dir.join("blobs"))?;
    Ok((Arc::new(store), Arc::new(blobs)))
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/index/config.json", get(index::config_json))
        .route("/index/{*path}", get(index::index_file))
        .route("/api/v1/crates/new", put(api::publish))
        .route("/api/v1/crates", get(api::search))
        .route("/api/v1/crates/{name}/{version}/yank", delete(api::yank))
        .route("/api/v1/crates/{name}/{version}/unyank", put(api::unyank))
        .route(
            "/api/v1/crates/{name}/{version}/download",
            get(api::download),
        )
        .route(
            "/api/v1/crates/{name}/owners",
            get(api::owners_list)
                .put(api::owners_add)
                .delete(api::owners_remove),
        )
        .route("/me", get(api::me))
        // Publish reads its body itself with its own limit; other JSON bodies are small.
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(REQUEST_TIMEOUT_SECS),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
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
    });
    let (tx, rx) = oneshot::channel::<()>();
    let router = router(app.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                match signal {
                    Some(sig) => tokio::select! { _ = sig => {}, _ = rx => {} },
                    None => {
                        let _ = rx.await;
                    }
                }
            })
            .await
    });
    Ok(RunningServer {
        addr,
        app,
        shutdown: Some(tx),
        task,
    })
}
