//! The listening server: binds, serves the router (through `conn.rs`), and stops gracefully.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::app::{App, StartError, open_storage};
use crate::blob::BlobStore;
use crate::config::Config;
use crate::index_cache::watch;
use crate::mirror::Mirror;
use crate::router::router;
use crate::store::MetaStore;

pub use crate::conn::SHUTDOWN_GRACE;

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

/// Aborts a background task when the server's own task ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Binds, opens storage and starts serving.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    start_with_signal(config, None::<std::future::Pending<()>>).await
}

/// Like [`start`]; `signal`, when given, stops the server when it resolves.
pub async fn start_with_signal<F>(
    config: Config,
    signal: Option<F>,
) -> Result<RunningServer, StartError>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (store, blobs) = open_storage(&config).await?;
    // Fail at start, with the store's own explanation, rather than on the first publish.
    blobs.ping().await.map_err(StartError::BlobCheck)?;
    start_with_storage(config, store, blobs, signal).await
}

/// Like [`start_with_signal`] with caller-provided storage (other engines, fault injection in tests).
pub async fn start_with_storage<F>(
    config: Config,
    store: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    signal: Option<F>,
) -> Result<RunningServer, StartError>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let listen_error = |source| StartError::Listen {
        addr: config.listen,
        source,
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(listen_error)?;
    let addr = listener.local_addr().map_err(listen_error)?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let mut app = App::new(config, &public_url, store, blobs);
    if let Some(m) = app.config.mirror.clone() {
        let mirror = Mirror::new(
            m,
            app.store.clone(),
            app.blobs.clone(),
            app.index_cache.clone(),
        )
        .map_err(StartError::Mirror)?;
        app.mirror = Some(Arc::new(mirror));
    }
    let app = Arc::new(app);
    // Evicts cached index files that any instance changed; ends with the server.
    let follower = tokio::spawn(watch::follow(app.store.clone(), app.index_cache.clone()));
    let (tx, rx) = oneshot::channel::<()>();
    let router = router(app.clone());
    let serving = app.clone();
    let task = tokio::spawn(async move {
        let stop = async move {
            match signal {
                Some(sig) => tokio::select! { _ = sig => {}, _ = rx => {} },
                None => {
                    let _ = rx.await;
                }
            }
        };
        let _follower = AbortOnDrop(follower);
        crate::conn::serve(listener, router, serving, stop).await;
        Ok(())
    });
    Ok(RunningServer {
        addr,
        app,
        shutdown: Some(tx),
        task,
    })
}
