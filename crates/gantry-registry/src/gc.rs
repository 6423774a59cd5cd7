//! `gantry-registry gc`: removes `.crate` objects that no version refers to and that are older than
//! a grace period, on either blob store, while the registry keeps serving.
//!
//! The pull-through mirror keeps the crates.io files it fetched in the same store, under the same
//! keys (`crates/xx/<sha256>.crate`); its `mirror_crates` rows refer to them as version rows do,
//! so `gc` never removes a mirrored crate. A mirror fetch claims its blob before storing it and
//! records the row after, so the claim covers the moment in between, as for a publish.
//!
//! Orphans come from publishes that stored their blob and then did not commit (refused inside the
//! transaction, rate-limited, the process killed, the database unreachable): the blob is written
//! first on purpose, so that a committed version always has its file.
//!
//! **Why this is safe while publishes run.** A publish writes its blob, then commits its version
//! row; the whole request is bounded by the request timeout (minutes). `gc` lists the objects
//! first and reads the rows afterwards, so an object it considers was written before that read:
//! * a fresh blob whose row is not committed yet is younger than the grace period (24 h by
//!   default, far longer than any publish can take) and is left alone;
//! * an old orphan may be *reused* by a publish of byte-identical `.crate` (a retry of a failed
//!   publish): its put finds the object and writes nothing, so its age stays old. Such a publish
//!   claims the blob in the database before it relies on it, and `gc` removes each object inside a
//!   transaction that holds that same claim row and checks, in that transaction, that no version
//!   refers to the blob and nobody claimed it recently. A claim made before `gc`'s check stops the
//!   removal; one made after it waits until the removal committed, and the publish then puts the
//!   object again.
//!
//! A claim protects its blob for [`CLAIM_PROTECTION`] whatever the grace period. Fresh blobs have
//! only the grace period, so one shorter than the longest publish is unsafe while publishes run
//! (`--grace 0s` is for a registry that is not serving). Only keys of the form `crates/xx/<sha256>.crate` are
//! ever considered; a feature that stores other objects keeps them under another prefix, and one
//! that stores `.crate` objects for other reasons must add its references to
//! `HardeningStore::referenced_cksums` and `remove_blob_if_unused` (as the mirror does).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::blob::{BlobError, BlobStore, STALE_TEMP_AGE, cksum_of_key};
use crate::store::{BlobVerdict, MetaStore, RemoveBlobError, StoreError};

/// How old an unreferenced blob must be before `gc` removes it, unless `--grace` says otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);
/// A claim keeps its blob at least this long: twice the longest a publish request may run.
pub const CLAIM_PROTECTION: Duration = Duration::from_secs(2 * crate::config::REQUEST_TIMEOUT_SECS);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcOptions {
    pub grace: Duration,
    /// Report what would be removed; change nothing.
    pub dry_run: bool,
}

/// What one run found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// `.crate` objects in the store.
    pub listed: usize,
    /// Kept: a version or a mirrored crate refers to them.
    pub referenced: usize,
    /// Kept: unreferenced but younger than the grace period.
    pub young: usize,
    /// Kept: claimed by a publish or mirror fetch within the grace period, or referenced by the
    /// time of removal.
    pub kept_in_use: usize,
    /// Removed (or, in a dry run, would be): their keys and total size.
    pub removed: Vec<String>,
    pub removed_bytes: u64,
    /// Temp files of interrupted writes removed (local directory only).
    pub temp_files_removed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("reading which checksums are in use")]
    Store(#[from] StoreError),
    #[error("listing or cleaning the blob store")]
    Blob(#[from] BlobError),
    #[error("removing `{key}`")]
    Remove {
        key: String,
        #[source]
        source: RemoveBlobError,
    },
}

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// One collection pass at time `now`.
pub async fn collect(
    store: &dyn MetaStore,
    blobs: &dyn BlobStore,
    opts: GcOptions,
    now: SystemTime,
) -> Result<GcReport, GcError> {
    // Listing first, rows second: see the module doc.
    let listing = blobs.list_crates().await?;
    let referenced = store.referenced_cksums().await?;
    let cutoff = now.checked_sub(opts.grace).unwrap_or(UNIX_EPOCH);
    let claim_cutoff = cutoff.min(now.checked_sub(CLAIM_PROTECTION).unwrap_or(UNIX_EPOCH));
    let mut report = GcReport {
        listed: listing.len(),
        ..GcReport::default()
    };
    for blob in listing {
        let Some(cksum) = cksum_of_key(&blob.key) else {
            continue;
        };
        if referenced.contains(cksum) {
            report.referenced += 1;
            continue;
        }
        if blob.last_modified > cutoff {
            report.young += 1;
            continue;
        }
        if !opts.dry_run {
            let delete = blobs.delete(&blob.key);
            let verdict = store
                .remove_blob_if_unused(cksum, unix_secs(claim_cutoff), delete)
                .await
                .map_err(|source| GcError::Remove {
                    key: blob.key.clone(),
                    source,
                })?;
            if verdict != BlobVerdict::Removed {
                report.kept_in_use += 1;
                continue;
            }
        }
        report.removed_bytes += blob.size;
        report.removed.push(blob.key);
    }
    if !opts.dry_run {
        report.temp_files_removed = blobs.remove_stale_temp(STALE_TEMP_AGE).await?;
        store.forget_claims(unix_secs(claim_cutoff)).await?;
    }
    Ok(report)
}
