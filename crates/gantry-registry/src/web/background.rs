//! Work each instance does besides answering requests: writing counted downloads every few
//! seconds (and a last time when it stops), removing expired sessions, and filling in the page
//! details of versions published before they were stored.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::details;
use crate::app::App;
use crate::error::one_line;
use crate::store::now;

/// How often expired sessions and sign-ins are removed.
const CLEANUP_EVERY: Duration = Duration::from_secs(600);

/// The running background loop of one instance.
pub struct Background {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Starts the loop.
pub fn start(app: Arc<App>) -> Background {
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        match details::backfill(&app).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("stored page details of {n} older versions"),
            Err(e) => tracing::warn!(error = %one_line(&e), "filling in page details"),
        }
        // The first flush one period after start, not at once: nothing is counted yet, and a
        // tick that fired whenever the backfill above ended wrote counts at an unpredictable
        // moment (a test that flushes by hand saw them early on a slow machine).
        let period = app.config.web.downloads_flush;
        let mut flush = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let mut cleanup = tokio::time::interval(CLEANUP_EVERY);
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                _ = flush.tick() => flush_downloads(&app).await,
                _ = cleanup.tick() => {
                    if let Err(e) = app.store.delete_expired(now()).await {
                        tracing::warn!(error = %one_line(&e), "removing expired sessions");
                    }
                }
            }
        }
    });
    Background { stop, task }
}

async fn flush_downloads(app: &App) {
    if let Err(e) = app.web.downloads.flush(app.store.as_ref()).await {
        tracing::warn!(error = %one_line(&e), "writing download counts (kept for the next try)");
    }
}

impl Background {
    /// Stops the loop and writes the downloads counted since the last flush.
    pub async fn finish(self, app: &App) {
        let _ = self.stop.send(());
        let _ = self.task.await;
        flush_downloads(app).await;
    }
}
