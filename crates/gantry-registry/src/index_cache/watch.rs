//! Follows the database's index change log and evicts what other instances (or this one) changed.
//!
//! PostgreSQL pushes a wake-up at each commit that logs a change (`LISTEN`), so other instances
//! evict within milliseconds; the log is also polled, which is all SQLite instances sharing one
//! file need and what catches anything a lost connection missed. While the log cannot be read for
//! longer than [`MAX_BLIND`], the cache is switched off (every request reads the database, as
//! without a cache), and it is switched back on, empty, by the next successful read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::{IndexCache, Namespace};
use crate::error::one_line;
use crate::store::{ChangeSignal, MetaStore, now};

/// Poll period without a push channel (SQLite, or PostgreSQL while `LISTEN` is down).
pub const POLL: Duration = Duration::from_millis(100);
/// Poll period as a safety net beside PostgreSQL's push channel.
pub const POLL_WITH_PUSH: Duration = Duration::from_secs(1);
/// How long the cache may go without reading the log before it stops serving.
pub const MAX_BLIND: Duration = Duration::from_secs(5);
/// Log entries older than this are deleted (by whichever instance gets there first).
const RETAIN_SECS: i64 = 24 * 3600;
const PRUNE_EVERY: Duration = Duration::from_secs(600);
const RELISTEN_EVERY: Duration = Duration::from_secs(30);
const BATCH: i64 = 1000;

/// Runs until the task is aborted (when the server stops).
pub async fn follow(store: Arc<dyn MetaStore>, cache: Arc<IndexCache>) {
    let mut cursor = loop {
        match store.index_generation().await {
            Ok(g) => break g,
            Err(e) => {
                cache.set_enabled(false);
                tracing::warn!(error = %one_line(&e), "cannot read the index change log; index cache off");
                tokio::time::sleep(POLL_WITH_PUSH).await;
            }
        }
    };
    // Anything cached before the cursor was read is dropped: it may predate a logged change.
    cache.clear();
    cache.set_enabled(true);
    let mut signal = listen(store.as_ref()).await;
    let mut last_ok = Instant::now();
    let mut last_prune: Option<Instant> = None;
    let mut last_listen = Instant::now();
    loop {
        wait(&mut signal).await;
        match apply(store.as_ref(), &cache, &mut cursor).await {
            Ok(()) => {
                if !cache.enabled() {
                    tracing::info!("index change log readable again; index cache on");
                    cache.set_enabled(true);
                }
                last_ok = Instant::now();
            }
            Err(e) if last_ok.elapsed() > MAX_BLIND && cache.enabled() => {
                tracing::warn!(error = %one_line(&e), "cannot read the index change log; index cache off");
                cache.set_enabled(false);
            }
            Err(_) => {}
        }
        if signal.is_none() && last_listen.elapsed() > RELISTEN_EVERY {
            last_listen = Instant::now();
            signal = listen(store.as_ref()).await;
        }
        if last_prune.is_none_or(|t| t.elapsed() > PRUNE_EVERY) {
            last_prune = Some(Instant::now());
            if let Err(e) = store.prune_index_changes(now() - RETAIN_SECS).await {
                tracing::debug!(error = %one_line(&e), "pruning the index change log");
            }
        }
    }
}

async fn listen(store: &dyn MetaStore) -> Option<ChangeSignal> {
    match store.index_change_signal().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %one_line(&e), "cannot listen for index changes; polling");
            None
        }
    }
}

/// Sleeps one poll period, or less when the push channel fires; drops a broken channel.
async fn wait(signal: &mut Option<ChangeSignal>) {
    let Some(s) = signal else {
        tokio::time::sleep(POLL).await;
        return;
    };
    tokio::select! {
        _ = tokio::time::sleep(POLL_WITH_PUSH) => {}
        item = s.next() => match item {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                tracing::warn!(error = %one_line(&e), "index change notifications lost; polling");
                *signal = None;
            }
            None => *signal = None,
        },
    }
}

/// Evicts every logged change after `cursor` and advances it.
pub async fn apply(
    store: &dyn MetaStore,
    cache: &IndexCache,
    cursor: &mut i64,
) -> Result<(), crate::store::StoreError> {
    loop {
        let changes = store.index_changes_since(*cursor, BATCH).await?;
        for c in &changes {
            let ns = match c.namespace.as_str() {
                "mirror" => Namespace::Mirror,
                _ => Namespace::Hosted,
            };
            cache.invalidate(ns, &c.name);
            *cursor = c.seq;
        }
        if (changes.len() as i64) < BATCH {
            return Ok(());
        }
    }
}
