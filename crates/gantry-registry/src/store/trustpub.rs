//! The trusted-publishing records and their storage ([`TrustPubStore`], written once for both
//! engines): GitHub and GitLab configs (ordinary and pending), the token exchange as one
//! transaction, the temporary tokens, `trustpub_only`, and what a trusted publish records on its
//! version. The publish transaction in `sql.rs` calls the `pub(super)` helpers at the end.

mod exchange;
mod matching;
mod publish;
mod queries;

use serde::{Deserialize, Serialize};

pub use matching::{Candidate, Identity, Mismatch};

use super::{BoxFut, StoreError, StoreResult, User};

/// The CI systems whose OIDC tokens the registry accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    #[serde(rename = "github")]
    GitHub,
    #[serde(rename = "gitlab")]
    GitLab,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Provider::GitHub, Provider::GitLab];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::GitLab => "gitlab",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Provider::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Where a config's publishes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    GitHub {
        repository_owner: String,
        /// GitHub's numeric owner id; `None` until given or learnt from the first exchange.
        repository_owner_id: Option<i64>,
        repository_name: String,
        /// A file name under `.github/workflows/`.
        workflow_filename: String,
    },
    GitLab {
        /// The group path, subgroups included.
        namespace: String,
        /// `None` until learnt from the first exchange.
        namespace_id: Option<String>,
        project: String,
        /// The CI file's path inside the project.
        workflow_filepath: String,
    },
}

impl Source {
    pub fn provider(&self) -> Provider {
        match self {
            Source::GitHub { .. } => Provider::GitHub,
            Source::GitLab { .. } => Provider::GitLab,
        }
    }

    /// `owner/repo` or `namespace/project`, as the JWT spells its repository.
    pub fn repository(&self) -> String {
        match self {
            Source::GitHub {
                repository_owner,
                repository_name,
                ..
            } => format!("{repository_owner}/{repository_name}"),
            Source::GitLab {
                namespace, project, ..
            } => format!("{namespace}/{project}"),
        }
    }

    pub fn workflow(&self) -> &str {
        match self {
            Source::GitHub {
                workflow_filename, ..
            } => workflow_filename,
            Source::GitLab {
                workflow_filepath, ..
            } => workflow_filepath,
        }
    }
}

/// The crate a config publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigCrate {
    Crate {
        id: i64,
        name: String,
    },
    /// Not created yet: the first matching publish creates `name`, owned by `owner`.
    Pending {
        name: String,
        owner: User,
        /// Unix seconds.
        expires_at: i64,
    },
}

impl ConfigCrate {
    pub fn name(&self) -> &str {
        match self {
            ConfigCrate::Crate { name, .. } | ConfigCrate::Pending { name, .. } => name,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustConfig {
    /// Unique per provider.
    pub id: i64,
    pub krate: ConfigCrate,
    pub source: Source,
    pub environment: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub enum NewConfigCrate {
    Crate(i64),
    Pending {
        name: String,
        owner_id: i64,
        expires_at: i64,
    },
}

#[derive(Debug, Clone)]
pub struct NewTrustConfig {
    pub krate: NewConfigCrate,
    pub source: Source,
    pub environment: Option<String>,
    pub now: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateConfigError {
    /// The crate (or, for pending configs, the user's configs for that name) already has `max`.
    #[error("the crate already has {max} configs of this provider")]
    TooMany { max: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CreateConfigError {
    fn from(e: sqlx::Error) -> Self {
        CreateConfigError::Store(e.into())
    }
}

/// Which configs a listing returns: those of `crate_ids`, plus the live pending configs of
/// `pending_owner` (only those for the canonical names in `pending_canons` when given); or every
/// config.
#[derive(Debug, Clone, Default)]
pub struct ConfigFilter {
    pub crate_ids: Vec<i64>,
    pub pending_owner: Option<i64>,
    pub pending_canons: Option<Vec<String>>,
    pub everything: bool,
}

/// One page of a listing, by increasing id.
#[derive(Debug, Clone)]
pub struct ConfigPage {
    pub configs: Vec<TrustConfig>,
    pub total: u64,
}

/// A crate a pending config lets a token create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingGrant {
    pub provider: Provider,
    pub config: i64,
    pub name: String,
    pub canon: String,
    pub owner: i64,
}

/// Everything one successful exchange writes, and the JWT facts its matching needs.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub provider: Provider,
    pub issuer: String,
    pub jti: String,
    /// When the JWT id may be forgotten (the JWT's `exp` plus the leeway).
    pub jti_expires_at: i64,
    /// GitHub owner / GitLab namespace, and repository / project (matched without case).
    pub owner: String,
    pub repo: String,
    /// GitHub `repository_owner_id` / GitLab `namespace_id`.
    pub identity_id: String,
    pub workflow: String,
    pub environment: Option<String>,
    pub token_hash: [u8; 32],
    pub token_expires_at: i64,
    /// JSON describing the CI run, copied onto the versions the token publishes.
    pub trustpub_data: String,
    pub now: i64,
}

/// Why an exchange wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeRefusal {
    #[error("JWT has already been used")]
    Replayed,
    #[error("no config for the repository")]
    NoConfig,
    #[error("no config matched")]
    Mismatch(Mismatch),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ExchangeRefusal {
    fn from(e: sqlx::Error) -> Self {
        ExchangeRefusal::Store(e.into())
    }
}

/// A live trusted-publishing token, as the publish endpoint needs it.
#[derive(Debug, Clone)]
pub struct TrustedToken {
    pub id: i64,
    pub expires_at: i64,
    pub crate_ids: Vec<i64>,
    pub pending: Vec<PendingGrant>,
    pub trustpub_data: String,
}

/// What a trusted publish may do, checked again inside the publish transaction.
#[derive(Debug, Clone)]
pub struct TrustedPublish {
    pub token_id: i64,
    pub crate_ids: Vec<i64>,
    pub pending: Vec<PendingGrant>,
    pub trustpub_data: String,
}

pub trait TrustPubStore: Send + Sync {
    /// Creates a config unless its crate (or the pending owner's configs for that name) already
    /// has `max` of this provider.
    fn create_trust_config<'a>(
        &'a self,
        new: &'a NewTrustConfig,
        max: usize,
    ) -> BoxFut<'a, Result<TrustConfig, CreateConfigError>>;
    /// Configs of one provider matching `filter`, `limit` at most, with ids above `after`.
    fn trust_configs<'a>(
        &'a self,
        provider: Provider,
        filter: &'a ConfigFilter,
        after: i64,
        limit: u32,
    ) -> BoxFut<'a, StoreResult<ConfigPage>>;
    fn trust_config(
        &self,
        provider: Provider,
        id: i64,
    ) -> BoxFut<'_, StoreResult<Option<TrustConfig>>>;
    fn delete_trust_config(&self, provider: Provider, id: i64) -> BoxFut<'_, StoreResult<bool>>;
    /// Records the JWT id, matches the repository's configs and stores the token, all in one
    /// transaction: a refusal writes nothing.
    fn exchange<'a>(&'a self, ex: &'a Exchange) -> BoxFut<'a, Result<(), ExchangeRefusal>>;
    /// The unexpired token with this hash.
    fn trusted_token<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFut<'a, StoreResult<Option<TrustedToken>>>;
    /// Deletes the token with this hash; false when there was none.
    fn revoke_trusted_token<'a>(&'a self, hash: &'a [u8; 32]) -> BoxFut<'a, StoreResult<bool>>;
    fn trustpub_only(&self, crate_id: i64) -> BoxFut<'_, StoreResult<bool>>;
    fn set_trustpub_only(&self, crate_id: i64, only: bool) -> BoxFut<'_, StoreResult<()>>;
    /// The crates `user_id` owns.
    fn owned_crates(&self, user_id: i64) -> BoxFut<'_, StoreResult<Vec<super::CrateInfo>>>;
    /// The names of the live pending configs `user_id` registered (either provider).
    fn pending_names(&self, user_id: i64) -> BoxFut<'_, StoreResult<Vec<String>>>;
}
