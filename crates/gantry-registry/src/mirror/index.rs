//! Mirror index files: from memory while fresh, else from the shared database row when another
//! instance checked it recently, else revalidated with the upstream; the stored copy is answered
//! when the upstream is slow or down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::metrics::bump;
use super::upstream::Fetched;
use super::{IndexFlight, Mirror, MirrorError};
use crate::error::one_line;
use crate::index_cache::{CachedFile, Namespace, prepare};
use crate::store::MirrorIndexRow;

/// A request holding a stale copy waits this long for the revalidation, then answers the copy
/// (the revalidation goes on and updates the copy for later requests).
pub(super) const STALE_WAIT: Duration = Duration::from_secs(1);
/// After a failed revalidation the stored copy is answered this long without asking again.
pub(super) const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// Unix milliseconds: the TTL is compared across instances through the stored check time, and
/// whole seconds would shorten a short TTL by up to one.
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Whether an answer came from a copy the upstream just confirmed or from one it could not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Freshness {
    Fresh,
    Stale,
}

impl Mirror {
    /// The file for `name` (a plausible lowercase crate name) as the mirror answers it now.
    pub async fn index_file(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<Arc<CachedFile>, Arc<MirrorError>> {
        let cached = self.cache.get(Namespace::Mirror, name);
        if let Some(f) = &cached
            && f.is_fresh(Instant::now())
        {
            bump(&self.metrics.index_hits);
            return Ok(f.clone());
        }
        let flight = self.refresh(name);
        let result = match cached {
            None => flight.await,
            Some(stale) => match tokio::time::timeout(STALE_WAIT, flight).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!(
                        krate = name,
                        "upstream slow; answering the stored index file"
                    );
                    Ok((stale, Freshness::Stale))
                }
            },
        };
        let (file, freshness) = result?;
        if freshness == Freshness::Stale {
            bump(&self.metrics.stale_answers);
        }
        Ok(file)
    }

    /// The file, refreshed from the upstream now whatever its age (used when a download names a
    /// version the stored copy does not list yet).
    pub async fn index_file_now(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<Arc<CachedFile>, Arc<MirrorError>> {
        self.refresh_with(name, true).await.map(|(f, _)| f)
    }

    async fn refresh(self: &Arc<Self>, name: &str) -> IndexFlight {
        self.refresh_with(name, false).await
    }

    async fn refresh_with(self: &Arc<Self>, name: &str, force: bool) -> IndexFlight {
        let this = self.clone();
        let owned = name.to_owned();
        let result = self
            .index_flights
            .run(
                format!("{name}\0{force}"),
                move || async move { this.refresh_now(&owned, force).await.map_err(Arc::new) },
                || bump(&self.metrics.coalesced),
            )
            .await;
        result.unwrap_or_else(|| Err(Arc::new(MirrorError::Lost)))
    }

    /// One refresh (run once at a time per name): database row, then the upstream if needed.
    async fn refresh_now(
        &self,
        name: &str,
        force: bool,
    ) -> Result<(Arc<CachedFile>, Freshness), MirrorError> {
        let token = self.cache.token(Namespace::Mirror, name);
        let row = self.store.mirror_index(name).await?;
        let ttl = i64::try_from(self.config.ttl.as_millis()).unwrap_or(i64::MAX);
        if let Some(r) = &row {
            let age = now_ms() - r.checked_at;
            if !force && age < ttl {
                // Another instance (or an earlier request) checked it within the TTL.
                bump(&self.metrics.index_hits);
                let left = Duration::from_millis((ttl - age.max(0)) as u64);
                let file = self
                    .remember(name, r.present, r.body.clone(), left, token)
                    .await;
                return Ok((file, Freshness::Fresh));
            }
        }
        let stored = row.as_ref().filter(|r| r.present);
        let answer = self
            .upstream
            .index_file(
                name,
                stored.and_then(|r| r.upstream_etag.as_deref()),
                stored.and_then(|r| r.upstream_last_modified.as_deref()),
            )
            .await;
        let checked_at = now_ms();
        let new_row = match answer {
            Ok(Fetched::NotModified) => {
                let r = row.ok_or(MirrorError::Lost)?;
                self.store.touch_mirror_index(name, checked_at).await?;
                bump(&self.metrics.revalidated_unchanged);
                let file = self
                    .remember(name, r.present, r.body, self.config.ttl, token)
                    .await;
                return Ok((file, Freshness::Fresh));
            }
            Ok(Fetched::Body {
                body,
                etag,
                last_modified,
            }) => {
                self.count_new_answer(row.as_ref());
                MirrorIndexRow {
                    name: name.to_owned(),
                    present: true,
                    body: body.to_vec(),
                    upstream_etag: etag,
                    upstream_last_modified: last_modified,
                    checked_at,
                }
            }
            Ok(Fetched::Absent) => {
                self.count_new_answer(row.as_ref());
                MirrorIndexRow {
                    name: name.to_owned(),
                    present: false,
                    body: Vec::new(),
                    upstream_etag: None,
                    upstream_last_modified: None,
                    checked_at,
                }
            }
            Err(e) => {
                bump(&self.metrics.upstream_errors_index);
                let Some(r) = row else {
                    tracing::warn!(krate = name, error = %one_line(&e), "upstream index fetch failed; nothing stored to answer with");
                    return Err(e);
                };
                tracing::warn!(krate = name, error = %one_line(&e), "upstream index revalidation failed; answering the stored copy");
                let file = self
                    .remember(name, r.present, r.body, RETRY_AFTER_FAILURE, token)
                    .await;
                return Ok((file, Freshness::Stale));
            }
        };
        self.store.put_mirror_index(&new_row).await?;
        let file = self
            .remember(name, new_row.present, new_row.body, self.config.ttl, token)
            .await;
        Ok((file, Freshness::Fresh))
    }

    fn count_new_answer(&self, before: Option<&MirrorIndexRow>) {
        match before {
            Some(_) => bump(&self.metrics.revalidated_changed),
            None => bump(&self.metrics.index_misses),
        }
    }

    /// Builds the memory entry for a stored file, fresh for `fresh_for`, and caches it.
    async fn remember(
        &self,
        name: &str,
        present: bool,
        body: Vec<u8>,
        fresh_for: Duration,
        token: crate::index_cache::FillToken,
    ) -> Arc<CachedFile> {
        let until = Some(Instant::now() + fresh_for);
        let file = match present {
            true => prepare(Bytes::from(body), until).await,
            false => CachedFile::missing(until),
        };
        let file = Arc::new(file);
        self.cache
            .insert(Namespace::Mirror, name, file.clone(), token);
        file
    }
}
