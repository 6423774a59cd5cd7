//! The metadata store contract. Handlers only see [`MetaStore`]; [`SqlStore`] implements it once
//! for both engines (`sql.rs`), and `sqlite.rs` / `postgres.rs` hold what really differs between
//! them ([`Engine`]). An implementation must make `publish` atomic and let unique constraints
//! (canonical crate name; crate + version without build metadata) decide races, also between
//! several registry processes sharing one database.

mod hardening;
mod mirror;
mod postgres;
mod sql;
mod sqlite;

pub use crate::BoxFut;
pub use hardening::{BlobVerdict, HardeningStore, RemoveBlobError, VERSION_BY_NUM};
pub use mirror::{ChangeSignal, IndexChange, MirrorIndexRow, MirrorStore, MirroredCrate};
pub use sql::{Engine, SqlStore};

/// The metadata store on the embedded SQLite database.
pub type SqliteStore = SqlStore<sqlx::Sqlite>;
/// The metadata store on PostgreSQL (several instances may share it).
pub type PgStore = SqlStore<sqlx::Postgres>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Db(#[from] sqlx::Error),
    /// The database cannot be reached or opened; `what` names it and what to check.
    #[error("{what}")]
    Open {
        what: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migrating {engine} database `{url}`")]
    Migrate {
        engine: &'static str,
        /// Without its password.
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("cannot create directory {}", path.display())]
    CreateDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} already exists")]
    Exists(String),
    #[error("crate `{0}` was created and removed during this publish; retry")]
    CrateVanished(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The current time in Unix seconds, as every timestamp column holds it.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub login: String,
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub user_id: i64,
    pub name: String,
    pub hash: [u8; 32],
    /// `None`: every endpoint scope.
    pub scopes: Option<Vec<String>>,
    pub crate_patterns: Vec<String>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: i64,
    pub user: User,
    pub name: String,
    pub hash: Vec<u8>,
    pub scopes: Option<Vec<String>>,
    pub crate_patterns: Vec<String>,
    pub expires_at: Option<i64>,
    pub revoked: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CrateInfo {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct VersionRow {
    pub num: String,
    pub index_line: String,
    pub yanked: bool,
    pub cksum: String,
}

/// Whether a publish creates a crate or adds a version to an existing one (crates.io's
/// `publish-new` and `publish-update` scopes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishKind {
    New,
    Update,
}

/// Everything one publish writes, in one transaction.
#[derive(Debug, Clone)]
pub struct PublishRecord {
    pub name: String,
    pub canon_name: String,
    pub description: Option<String>,
    pub user_id: i64,
    pub num: String,
    pub num_no_build: String,
    pub cksum: String,
    pub index_line: String,
    pub now: i64,
    /// What the publisher's token allows for this crate. Which kind this publish is gets decided
    /// inside the transaction, from the crate as the transaction sees it.
    pub rights: PublishRights,
    /// When set, the transaction also takes a token from the publisher's bucket for that kind.
    pub rate_limits: Option<crate::ratelimit::RateLimits>,
}

/// The kinds of publish a token allows for one crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishRights {
    pub new: bool,
    pub update: bool,
}

impl PublishRights {
    pub fn allow(self, kind: PublishKind) -> Result<(), PublishConflict> {
        let allowed = match kind {
            PublishKind::New => self.new,
            PublishKind::Update => self.update,
        };
        if allowed {
            Ok(())
        } else {
            Err(PublishConflict::NotAllowed(kind))
        }
    }
}

/// Why a publish transaction refused to commit.
#[derive(Debug, thiserror::Error)]
pub enum PublishConflict {
    #[error("the token does not allow this {0:?} publish")]
    NotAllowed(PublishKind),
    #[error("not an owner")]
    NotOwner,
    #[error("crate was previously named `{0}`")]
    NameMismatch(String),
    #[error("version exists")]
    VersionExists,
    #[error("rate limited until {retry_at:?}")]
    RateLimited {
        action: crate::ratelimit::Action,
        retry_at: std::time::SystemTime,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for PublishConflict {
    fn from(e: sqlx::Error) -> Self {
        PublishConflict::Store(e.into())
    }
}

pub trait MetaStore: HardeningStore + MirrorStore + Send + Sync {
    /// A trivial round trip to the database (readiness probe).
    fn ping(&self) -> BoxFut<'_, StoreResult<()>>;
    /// The newest applied migration version (`None` on an empty database).
    fn schema_version(&self) -> BoxFut<'_, StoreResult<Option<i64>>>;

    fn create_user<'a>(&'a self, login: &'a str) -> BoxFut<'a, StoreResult<User>>;
    fn list_users(&self) -> BoxFut<'_, StoreResult<Vec<User>>>;
    fn user_by_login<'a>(&'a self, login: &'a str) -> BoxFut<'a, StoreResult<Option<User>>>;

    fn create_token<'a>(&'a self, token: &'a NewToken) -> BoxFut<'a, StoreResult<i64>>;
    fn list_tokens<'a>(&'a self, user_id: Option<i64>)
    -> BoxFut<'a, StoreResult<Vec<TokenRecord>>>;
    fn revoke_token(&self, id: i64) -> BoxFut<'_, StoreResult<bool>>;
    fn token_by_hash<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFut<'a, StoreResult<Option<TokenRecord>>>;

    /// Looks a crate up by canonical name (any spelling).
    fn crate_by_name<'a>(&'a self, name: &'a str) -> BoxFut<'a, StoreResult<Option<CrateInfo>>>;
    fn is_owner(&self, crate_id: i64, user_id: i64) -> BoxFut<'_, StoreResult<bool>>;
    fn owners(&self, crate_id: i64) -> BoxFut<'_, StoreResult<Vec<User>>>;
    fn add_owner(&self, crate_id: i64, user_id: i64) -> BoxFut<'_, StoreResult<()>>;
    /// Removes owners unless that would leave none; returns false (and changes nothing) then.
    fn remove_owners<'a>(
        &'a self,
        crate_id: i64,
        user_ids: &'a [i64],
    ) -> BoxFut<'a, StoreResult<bool>>;

    fn version_exists<'a>(
        &'a self,
        crate_id: i64,
        num_no_build: &'a str,
    ) -> BoxFut<'a, StoreResult<bool>>;
    fn publish<'a>(&'a self, rec: &'a PublishRecord) -> BoxFut<'a, Result<(), PublishConflict>>;
    /// Sets the yanked flag of an exact version; false when the version does not exist.
    fn set_yanked<'a>(
        &'a self,
        crate_id: i64,
        num: &'a str,
        yanked: bool,
    ) -> BoxFut<'a, StoreResult<bool>>;
    /// All versions of a crate in publish order.
    fn versions(&self, crate_id: i64) -> BoxFut<'_, StoreResult<Vec<VersionRow>>>;
    /// Crates whose canonical name or description contains `query`; (page, total).
    fn search<'a>(
        &'a self,
        query: &'a str,
        limit: u32,
    ) -> BoxFut<'a, StoreResult<(Vec<CrateInfo>, u64)>>;
}
