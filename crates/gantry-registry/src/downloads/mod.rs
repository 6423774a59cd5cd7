//! Download counts per version per UTC day. A download only bumps a counter in memory; the
//! counts are added to the database in one transaction every few seconds and when the server
//! stops ([`DownloadCounter::flush`]). Additions are `count = count + n`, so several instances
//! flushing their own counts never overwrite each other's.

pub mod api;

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::{MetaStore, StoreError, now};
use crate::web::time::day_of;

/// Counts not yet written, by (crate id, version, day).
#[derive(Default)]
pub struct DownloadCounter {
    pending: Mutex<HashMap<(i64, String, i64), i64>>,
}

impl DownloadCounter {
    /// Counts one download of `crate_id`@`num` now (no I/O).
    pub fn count(&self, crate_id: i64, num: &str) {
        let day = day_of(now());
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        *pending.entry((crate_id, num.to_owned(), day)).or_insert(0) += 1;
    }

    /// Downloads counted and not yet written.
    pub fn pending(&self) -> i64 {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.values().sum()
    }

    /// Writes the counted downloads; on failure they are kept for the next flush. Returns how
    /// many downloads were written.
    pub async fn flush(&self, store: &dyn MetaStore) -> Result<i64, StoreError> {
        let taken = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if taken.is_empty() {
            return Ok(0);
        }
        let mut batch: Vec<(i64, String, i64, i64)> = taken
            .iter()
            .map(|((c, n, d), k)| (*c, n.clone(), *d, *k))
            .collect();
        // A stable order keeps concurrent flushes from several instances from deadlocking on
        // PostgreSQL (rows are locked in the same order by everyone).
        batch.sort();
        match store.add_downloads(&batch).await {
            Ok(()) => Ok(batch.iter().map(|b| b.3).sum()),
            Err(e) => {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                for (key, n) in taken {
                    *pending.entry(key).or_insert(0) += n;
                }
                Err(e)
            }
        }
    }
}
