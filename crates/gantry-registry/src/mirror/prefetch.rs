//! `gantry-registry mirror fetch --lockfile …`: puts every crate a lockfile names from the
//! mirrored registry (index file and verified `.crate`) into the shared stores ahead of time, so
//! builds work with the upstream out of reach (air-gapped sites, CI warm-up).

use std::sync::Arc;

use futures_util::StreamExt;

use super::crates::Listed;
use super::lockfile::Locked;
use super::{Mirror, MirrorError};
use crate::error::one_line;

/// What happened to one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Fetched from the upstream, verified and stored (size in bytes).
    Fetched(u64),
    /// Already in the blob store.
    Present,
    /// Not fetched, and why.
    Failed(String),
}

/// Totals for the summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub fetched: usize,
    pub fetched_bytes: u64,
    pub present: usize,
    pub failed: usize,
}

impl Summary {
    pub fn add(&mut self, o: &Outcome) {
        match o {
            Outcome::Fetched(n) => {
                self.fetched += 1;
                self.fetched_bytes += n;
            }
            Outcome::Present => self.present += 1,
            Outcome::Failed(_) => self.failed += 1,
        }
    }
}

/// Fetches `packages` with up to `jobs` at a time, calling `report` as each finishes.
pub async fn fetch_all(
    mirror: Arc<Mirror>,
    packages: Vec<Locked>,
    jobs: usize,
    mut report: impl FnMut(&Locked, &Outcome),
) -> Summary {
    let mut summary = Summary::default();
    let mut results = futures_util::stream::iter(packages)
        .map(|p| {
            let mirror = mirror.clone();
            async move {
                let outcome = fetch_one(&mirror, &p).await;
                (p, outcome)
            }
        })
        .buffer_unordered(jobs.max(1));
    while let Some((p, outcome)) = results.next().await {
        summary.add(&outcome);
        report(&p, &outcome);
    }
    summary
}

async fn fetch_one(mirror: &Arc<Mirror>, p: &Locked) -> Outcome {
    let failed = |e: &MirrorError| Outcome::Failed(one_line(e));
    let lower = p.name.to_ascii_lowercase();
    if !super::plausible_name(&lower) {
        return Outcome::Failed(format!("`{}` is not a crate name", p.name));
    }
    let cksum = match mirror.listed(&lower, &p.version).await {
        Ok(Listed::Cksum(c)) => c,
        Ok(Listed::NoVersion) => {
            return Outcome::Failed(format!(
                "the upstream lists no version {} of `{}`",
                p.version, p.name
            ));
        }
        Ok(Listed::NoCrate) => {
            return Outcome::Failed(format!("the upstream has no crate `{}`", p.name));
        }
        Err(e) => return failed(&e),
    };
    if let Some(locked) = &p.checksum
        && *locked != cksum
    {
        return Outcome::Failed(format!(
            "the lockfile's checksum {locked} differs from the upstream index's {cksum}"
        ));
    }
    match mirror.has_crate(&cksum).await {
        Ok(true) => return Outcome::Present,
        Ok(false) => {}
        Err(e) => return failed(&e),
    }
    match mirror.fetch_crate(&p.name, &p.version, &cksum).await {
        Ok(bytes) => Outcome::Fetched(bytes.len() as u64),
        Err(e) => failed(&e),
    }
}
