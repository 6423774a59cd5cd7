//! Mirror `.crate` files: found by the checksum of the upstream's index line, fetched once from the
//! upstream, verified against that checksum, and stored write-once in the blob store.

use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::metrics::bump;
use super::{Mirror, MirrorError};
use crate::blob::crate_key;
use crate::error::one_line;
use crate::store::{MirroredCrate, now};

/// What the mirror knows of `name@version` from the upstream's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// The index line's checksum (64 lowercase hex digits).
    Cksum(String),
    /// The crate exists, but not this version.
    NoVersion,
    /// The upstream has no such crate.
    NoCrate,
}

/// Whether an upstream `cksum` is a SHA-256 in hex (it becomes part of a blob key).
fn valid_cksum(c: &str) -> bool {
    c.len() == 64 && c.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Mirror {
    /// Looks `name@version` up: in whatever copy is at hand first (a published version's checksum
    /// never changes), then in a copy refreshed from the upstream.
    pub async fn listed(
        self: &Arc<Self>,
        name: &str,
        version: &str,
    ) -> Result<Listed, Arc<MirrorError>> {
        let from = |f: &crate::index_cache::CachedFile| -> Option<Listed> {
            f.file.as_ref()?;
            f.cksum_of(version).map(|c| Listed::Cksum(c.to_owned()))
        };
        if let Some(f) = self.cache.get(crate::index_cache::Namespace::Mirror, name)
            && let Some(l) = from(&f)
        {
            return Ok(l);
        }
        let f = self.index_file(name).await?;
        if let Some(l) = from(&f) {
            return Ok(l);
        }
        let f = self.index_file_now(name).await?;
        Ok(match (&f.file, from(&f)) {
            (_, Some(l)) => l,
            (None, None) => Listed::NoCrate,
            (Some(_), None) => Listed::NoVersion,
        })
    }

    /// The verified bytes of a `.crate` the blob store does not hold yet: one upstream request per
    /// checksum however many ask at once; stored before anyone receives them.
    pub async fn fetch_crate(
        self: &Arc<Self>,
        name: &str,
        version: &str,
        cksum: &str,
    ) -> Result<Bytes, Arc<MirrorError>> {
        let this = self.clone();
        let (n, v, c) = (name.to_owned(), version.to_owned(), cksum.to_owned());
        let result = self
            .crate_flights
            .run(
                cksum.to_owned(),
                move || async move { this.fetch_crate_now(&n, &v, &c).await.map_err(Arc::new) },
                || bump(&self.metrics.coalesced),
            )
            .await;
        result.unwrap_or_else(|| Err(Arc::new(MirrorError::Lost)))
    }

    async fn fetch_crate_now(
        &self,
        name: &str,
        version: &str,
        cksum: &str,
    ) -> Result<Bytes, MirrorError> {
        if !valid_cksum(cksum) {
            bump(&self.metrics.upstream_errors_crate);
            return Err(MirrorError::Checksum {
                name: name.to_owned(),
                version: version.to_owned(),
                expected: format!("{cksum:?} (not a SHA-256)"),
                got: "not computed".to_owned(),
            });
        }
        let bytes = match self.upstream.crate_file(name, version, cksum).await {
            Ok(b) => b,
            Err(e) => {
                bump(&self.metrics.upstream_errors_crate);
                tracing::warn!(krate = name, version, error = %one_line(&e), "upstream .crate fetch failed");
                return Err(e);
            }
        };
        let bytes_for_hash = bytes.clone();
        let got = tokio::task::spawn_blocking(move || hex::encode(Sha256::digest(&bytes_for_hash)))
            .await
            .map_err(|_| MirrorError::Lost)?;
        if got != cksum {
            bump(&self.metrics.checksum_mismatches);
            let e = MirrorError::Checksum {
                name: name.to_owned(),
                version: version.to_owned(),
                expected: cksum.to_owned(),
                got,
            };
            tracing::error!(krate = name, version, error = %e, "refused an upstream .crate");
            return Err(e);
        }
        // Claimed before it is stored: until `record_mirrored_crate` below, nothing refers to the
        // blob, and a `gc` in between would remove it (or an old orphan with these bytes that the
        // put found and left alone). The claim keeps it whatever `--grace` (see `gc.rs`); a fetch
        // is rare and waits on the upstream anyway, so the extra write costs nothing noticeable.
        self.store.claim_blob(cksum, now()).await?;
        self.blobs.put(&crate_key(cksum), bytes.to_vec()).await?;
        self.store
            .record_mirrored_crate(&MirroredCrate {
                cksum: cksum.to_owned(),
                name: name.to_owned(),
                version: version.to_owned(),
                size: bytes.len() as i64,
                fetched_at: now(),
            })
            .await?;
        bump(&self.metrics.crate_misses);
        tracing::info!(krate = name, version, size = bytes.len(), "mirrored");
        Ok(bytes)
    }

    /// Whether the blob store holds this checksum's `.crate`.
    pub async fn has_crate(&self, cksum: &str) -> Result<bool, MirrorError> {
        Ok(self.blobs.open(&crate_key(cksum)).await?.is_some())
    }

    pub fn blobs(&self) -> &dyn crate::blob::BlobStore {
        self.blobs.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hex_sha256_checksums_become_keys() {
        assert!(valid_cksum(&"ab".repeat(32)));
        assert!(!valid_cksum(&"AB".repeat(32)));
        assert!(!valid_cksum("../../etc/passwd"));
        assert!(!valid_cksum(&"a".repeat(63)));
    }
}
