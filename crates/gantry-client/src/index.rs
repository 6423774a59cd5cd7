//! A registry's index, whatever protocol serves it: the one seam every reader goes through
//! (`config.json`, a crate's entries, one version). A `sparse+` URL is read over HTTP
//! ([`crate::sparse`]); any other URL is a git index, read from cargo's clone of it
//! ([`crate::git`]).

use gantry_protocol::IndexEntry;
use serde::Deserialize;

use crate::git::{GitError, GitIndex, GitOptions};
use crate::sparse::SparseIndex;

/// `config.json` of a registry. Unknown keys are ignored, as cargo ignores them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RegistryConfig {
    #[serde(default)]
    pub dl: Option<String>,
    #[serde(default)]
    pub api: Option<String>,
    #[serde(default, rename = "auth-required")]
    pub auth_required: bool,
    /// What a gantry-registry advertises beyond cargo's keys; `None` for other registries.
    #[serde(default)]
    pub gantry: Option<GantryCapabilities>,
}

/// The `gantry` object of a gantry-registry's `config.json`. Its presence says the registry
/// applies crates.io's publish rules (gantry-registry shares them through `gantry-protocol`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GantryCapabilities {
    /// `PUT /api/v1/crates/new?validate_only=true` runs every publish rule and stores nothing.
    #[serde(default, rename = "validate-only")]
    pub validate_only: bool,
    #[serde(default, rename = "max-upload-size")]
    pub max_upload_size: Option<u64>,
    /// Trusted publishing: where to exchange a CI job's OIDC token and for which audience; `None`
    /// (also for `null`) when the registry accepts no issuer.
    #[serde(default, rename = "trusted-publishing")]
    pub trusted_publishing: Option<TrustedPublishingAdvert>,
}

/// `gantry.trusted-publishing` of a gantry-registry's `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TrustedPublishingAdvert {
    /// The `aud` ID tokens must be issued for.
    pub audience: String,
    /// `POST` (exchange) and `DELETE` (revoke) go here.
    pub exchange: String,
    /// Accepted providers (`github`, `gitlab`) and the issuer each one's tokens must come from.
    #[serde(default)]
    pub providers: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("download of {path} failed")]
    Download {
        path: String,
        #[source]
        source: FetchError,
    },
    #[error("config.json not found in registry")]
    NoConfig,
    #[error("failed to parse `{url}`")]
    Parse {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    /// A 401: the registry wants a token (or refused the one sent).
    #[error("failed to get successful HTTP response from `{url}`, got 401\nbody:\n{body}")]
    Unauthorized {
        url: String,
        body: String,
        /// From a `WWW-Authenticate: Cargo login_url="…"` challenge.
        login_url: Option<String>,
        /// Every header of the answer as `name: value`, for the credential provider (cargo
        /// hands them over with the `read` request).
        headers: Vec<String>,
    },
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("sparse registry url must end in a slash `/`: {0}")]
    NoTrailingSlash(String),
    /// A concurrent read could not finish (a bug, reported rather than taken for "no entries").
    #[error("index read task failed: {0}")]
    Task(String),
}

/// Why one index file could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("failed to download from `{url}`")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("failed to get successful HTTP response from `{url}`{}, got {status}\nbody:\n{body}", ip.as_ref().map(|ip| format!(" ({ip})")).unwrap_or_default())]
    Status {
        url: String,
        ip: Option<String>,
        status: u16,
        body: String,
    },
}

/// One registry index.
#[derive(Clone)]
pub struct Index {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sparse(SparseIndex),
    Git(GitIndex),
}

impl Index {
    /// The index at `url` as configured: `sparse+http(s)://…/`, or a git index's URL (whose clone
    /// lives where `git` says).
    pub fn open(client: reqwest::Client, url: &str, git: GitOptions) -> Result<Index, IndexError> {
        let Some(rest) = url.strip_prefix("sparse+") else {
            return Ok(Index {
                backend: Backend::Git(GitIndex::new(url, git)?),
            });
        };
        if !rest.ends_with('/') {
            return Err(IndexError::NoTrailingSlash(url.to_owned()));
        }
        Ok(Index {
            backend: Backend::Sparse(SparseIndex::new(client, rest)),
        })
    }

    /// Send this token with every request (the registry requires authentication). A git index is
    /// fetched with git's own credentials, as cargo fetches it.
    pub fn with_token(self, token: Option<String>) -> Self {
        match self.backend {
            Backend::Sparse(s) => Index {
                backend: Backend::Sparse(s.with_token(token)),
            },
            git @ Backend::Git(_) => Index { backend: git },
        }
    }

    /// Try spurious failures again (cargo's `net.retry`), warning through `warn` each time.
    pub fn with_retries(self, retries: u32, warn: crate::sparse::Warn) -> Self {
        let backend = match self.backend {
            Backend::Sparse(s) => Backend::Sparse(s.with_retries(retries, warn)),
            Backend::Git(g) => Backend::Git(g.with_retries(retries, warn)),
        };
        Index { backend }
    }

    /// The URL requests go to (without the `sparse+` prefix).
    pub fn url(&self) -> &str {
        match &self.backend {
            Backend::Sparse(s) => s.base(),
            Backend::Git(g) => g.url(),
        }
    }

    /// Whether this is a git index (each refresh is a fetch, so it is polled less often).
    pub fn is_git(&self) -> bool {
        matches!(self.backend, Backend::Git(_))
    }

    /// Whether reading it goes to the network (a sparse index always asks; a git clone may be read
    /// as it is, offline or for `login`).
    pub fn goes_to_network(&self) -> bool {
        match &self.backend {
            Backend::Sparse(_) => true,
            Backend::Git(g) => g.fetches_on_first_read(),
        }
    }

    pub async fn config(&self) -> Result<RegistryConfig, IndexError> {
        match &self.backend {
            Backend::Sparse(s) => s.config().await,
            Backend::Git(g) => g.config().await,
        }
    }

    /// Every readable entry of `name`'s index file; a crate the registry does not know is an empty
    /// list. A sparse index is asked afresh each time; a git index is read from the commit fetched
    /// last (see [`Index::refresh`]).
    pub async fn entries(&self, name: &str) -> Result<Vec<IndexEntry>, IndexError> {
        match &self.backend {
            Backend::Sparse(s) => s.entries(name).await,
            Backend::Git(g) => g.entries(name).await,
        }
    }

    /// Makes later reads see what the registry published since the last one: a new fetch of a git
    /// index; nothing for a sparse one, which is read afresh anyway.
    pub async fn refresh(&self) -> Result<(), IndexError> {
        match &self.backend {
            Backend::Sparse(_) => Ok(()),
            Backend::Git(g) => g.refresh().await,
        }
    }

    /// The entry for exactly `version` (build metadata ignored, as cargo's check does), if listed.
    pub async fn find(&self, name: &str, version: &str) -> Result<Option<IndexEntry>, IndexError> {
        let want = semver::Version::parse(version).ok();
        Ok(self.entries(name).await?.into_iter().find(|e| {
            e.vers == version || (want.is_some() && semver::Version::parse(&e.vers).ok() == want)
        }))
    }
}

/// The entries of an index file; lines this client cannot read (a newer schema) are skipped, as
/// cargo skips them.
pub(crate) fn parse_entries(text: &str) -> Vec<IndexEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<IndexEntry>(l).ok())
        .collect()
}
