//! Registry settings, and the parsing of the storage locations (`--database-url`, `--storage-url`)
//! into the engine they select.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use gantry_protocol::MetadataRules;
use gantry_protocol::body::DEFAULT_MAX_UPLOAD_SIZE;

use crate::mirror::MirrorConfig;
use crate::ratelimit::RateLimits;

/// crates.io's floor for the decompressed size of a `.crate`; one definition, shared with the client's
/// dry-run.
pub use gantry_protocol::tarball::MIN_UNPACKED_LIMIT;
/// Whole-request time limit.
pub const REQUEST_TIMEOUT_SECS: u64 = 120;
/// A client must send a request's whole head within this time once the connection is ready for
/// it (hyper starts the clock when it starts waiting for a request line), or the connection is
/// closed: slow-loris connections cannot pin a slot for long.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection with no request in progress and no byte moving either way for this long is closed
/// (idle keep-alive connections, and silence in the middle of a request head).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// A request body that makes no progress for this long is abandoned with 408 (the whole request
/// stays bounded by [`REQUEST_TIMEOUT_SECS`]).
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once per instance; more wait in the listen backlog until one closes.
pub const MAX_CONNECTIONS: usize = 1024;
/// Entries a `.crate` may hold (crates.io has no default; a bound keeps the per-upload
/// bookkeeping of paths small). The largest crates on crates.io hold a few ten thousand.
pub use gantry_protocol::tarball::DEFAULT_MAX_ENTRIES as DEFAULT_MAX_TARBALL_ENTRIES;
/// Pool size for the embedded SQLite database (one writer anyway; a few readers).
pub const SQLITE_DEFAULT_CONNECTIONS: u32 = 4;
/// Pool size per instance for PostgreSQL: several instances share one server, whose default
/// `max_connections` is 100.
pub const POSTGRES_DEFAULT_CONNECTIONS: u32 = 10;

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Base URL clients use (`http://host:port`); defaults to the bound address.
    pub public_url: Option<String>,
    pub auth_required: bool,
    pub max_upload_size: u32,
    /// Decompression bomb limit; defaults to max(512 MiB, upload limit).
    pub max_unpacked_size: Option<u64>,
    pub rules: MetadataRules,
    /// Per-user publish/yank token buckets; `None` (the default) disables them.
    pub rate_limits: Option<RateLimits>,
    /// `None`: SQLite at `<data_dir>/registry.sqlite`; else `sqlite://…` or `postgres://…`.
    pub database_url: Option<String>,
    /// `None`: `<data_dir>/blobs`; else `file:///abs/path` or `s3://BUCKET[/PREFIX]`.
    pub storage_url: Option<String>,
    pub s3: S3Settings,
    /// Database pool size; `None`: [`SQLITE_DEFAULT_CONNECTIONS`] / [`POSTGRES_DEFAULT_CONNECTIONS`].
    pub db_max_connections: Option<u32>,
    // Hardening (issue 12): connection limits and the tarball entry cap.
    pub limits: ConnLimits,
    /// `None`: no limit.
    pub max_tarball_entries: Option<u64>,
    // Pull-through mirror and index cache (issue 15).
    /// `Some`: also serve a read-only mirror of an upstream sparse registry at `/mirror/index/`.
    pub mirror: Option<MirrorConfig>,
    /// Memory budget for rendered index files in bytes (0: no cache).
    pub index_cache_bytes: usize,
}

/// How long a connection may wait or stall, and how many are served at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            body_idle_timeout: BODY_IDLE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// Parses `90`, `90s`, `15m`, `24h`, `7d` or `500ms` (seconds when no unit is given): every
/// duration flag (`gc --grace`, the connection timeouts, rate-limit periods, the mirror's TTL and
/// upstream timeout) takes the same forms.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || format!("`{s}` is not a duration (use e.g. 90s, 15m, 24h, 7d or 500ms)");
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = |mul: u64| n.checked_mul(mul).map(Duration::from_secs);
    match unit {
        "" | "s" => secs(1),
        "ms" => Some(Duration::from_millis(n)),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        _ => None,
    }
    .ok_or_else(bad)
}

/// S3 connection settings; every unset field falls back to the usual AWS environment variable.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub allow_http: Option<bool>,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8990)),
            public_url: None,
            auth_required: false,
            max_upload_size: DEFAULT_MAX_UPLOAD_SIZE,
            max_unpacked_size: None,
            rules: MetadataRules::default(),
            rate_limits: None,
            database_url: None,
            storage_url: None,
            s3: S3Settings::default(),
            db_max_connections: None,
            limits: ConnLimits::default(),
            max_tarball_entries: Some(DEFAULT_MAX_TARBALL_ENTRIES),
            mirror: None,
            index_cache_bytes: crate::index_cache::DEFAULT_BUDGET,
        }
    }

    pub fn unpacked_limit(&self) -> u64 {
        self.max_unpacked_size
            .unwrap_or(MIN_UNPACKED_LIMIT.max(u64::from(self.max_upload_size)))
    }

    /// Which database engine and location these settings select.
    pub fn database(&self) -> Result<DatabaseTarget, ConfigError> {
        match &self.database_url {
            None => Ok(DatabaseTarget::Sqlite(format!(
                "sqlite://{}",
                self.data_dir.join("registry.sqlite").display()
            ))),
            Some(url) => DatabaseTarget::parse(url),
        }
    }

    /// Which blob store and location these settings select.
    pub fn storage(&self) -> Result<StorageTarget, ConfigError> {
        match &self.storage_url {
            None => Ok(StorageTarget::Local(self.data_dir.join("blobs"))),
            Some(url) => StorageTarget::parse(url),
        }
    }

    /// Pool size: the configured one, else the engine's default.
    pub fn pool_size(&self, target: &DatabaseTarget) -> Result<u32, ConfigError> {
        match self.db_max_connections {
            Some(0) => Err(ConfigError::NoConnections),
            Some(n) => Ok(n),
            None => Ok(match target {
                DatabaseTarget::Sqlite(_) => SQLITE_DEFAULT_CONNECTIONS,
                DatabaseTarget::Postgres(_) => POSTGRES_DEFAULT_CONNECTIONS,
            }),
        }
    }
}

/// A setting that cannot be used; the message names the flag and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("--db-max-connections must be at least 1")]
    NoConnections,
    #[error(
        "invalid --database-url `{shown}`: accepted forms are sqlite://PATH, \
         postgres://USER@HOST[:PORT]/DB and postgresql://…; leave it unset for SQLite in the data \
         directory"
    )]
    DatabaseUrl {
        /// The URL without its password.
        shown: String,
    },
    #[error(
        "invalid --storage-url `{url}`: {why}; accepted forms are file:///ABSOLUTE/PATH and \
         s3://BUCKET[/PREFIX]; leave it unset for <data-dir>/blobs"
    )]
    StorageUrl { url: String, why: String },
    #[error("invalid --s3-endpoint `{0}`: expected an http:// or https:// URL")]
    S3Endpoint(String),
    #[error(
        "--s3-endpoint `{0}` is plain HTTP: pass --s3-allow-http (or AWS_ALLOW_HTTP=true) to allow \
         it, or use https://"
    )]
    S3PlainHttp(String),
    #[error("AWS_ALLOW_HTTP=`{0}` is not a boolean: use true or false")]
    AllowHttp(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// An sqlx SQLite URL (`sqlite://path`).
    Sqlite(String),
    /// A libpq-style URL (`postgres://user:password@host:port/db?…`).
    Postgres(String),
}

impl DatabaseTarget {
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("sqlite") if url.len() > "sqlite://".len() => {
                Ok(DatabaseTarget::Sqlite(url.to_owned()))
            }
            Some("postgres" | "postgresql") => Ok(DatabaseTarget::Postgres(url.to_owned())),
            _ => Err(ConfigError::DatabaseUrl {
                shown: redact_url(url),
            }),
        }
    }

    /// The URL with any password replaced, for messages and logs.
    pub fn display(&self) -> String {
        match self {
            DatabaseTarget::Sqlite(u) | DatabaseTarget::Postgres(u) => redact_url(u),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageTarget {
    Local(PathBuf),
    S3 {
        bucket: String,
        /// Key prefix without leading or trailing `/`.
        prefix: Option<String>,
    },
}

impl StorageTarget {
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let bad = |why: &str| ConfigError::StorageUrl {
            url: url.to_owned(),
            why: why.to_owned(),
        };
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad("no scheme"));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                // `file:///abs` and `file://localhost/abs`; nothing else names a local path.
                let path = rest.strip_prefix("localhost").unwrap_or(rest);
                if !path.starts_with('/') {
                    return Err(bad("the path must be absolute"));
                }
                let decoded = percent_decode(path).ok_or_else(|| bad("bad %-escape"))?;
                Ok(StorageTarget::Local(PathBuf::from(decoded)))
            }
            "s3" => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(bad("the bucket name is missing"));
                }
                if !bucket
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
                {
                    return Err(bad(
                        "the bucket name may hold only letters, digits, `-`, `.` and `_`",
                    ));
                }
                let prefix = prefix.trim_matches('/');
                if prefix.split('/').any(|s| s == "." || s == "..") || prefix.contains("//") {
                    return Err(bad(
                        "the prefix may not contain `.`, `..` or empty segments",
                    ));
                }
                Ok(StorageTarget::S3 {
                    bucket: bucket.to_owned(),
                    prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
                })
            }
            _ => Err(bad(&format!("unknown scheme `{scheme}`"))),
        }
    }
}

impl std::fmt::Display for StorageTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageTarget::Local(p) => write!(f, "{}", p.display()),
            StorageTarget::S3 {
                bucket,
                prefix: None,
            } => write!(f, "s3://{bucket}"),
            StorageTarget::S3 {
                bucket,
                prefix: Some(p),
            } => write!(f, "s3://{bucket}/{p}"),
        }
    }
}

impl S3Settings {
    /// Fills every unset field from the environment (`AWS_ENDPOINT_URL`, `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`).
    pub fn resolve(&self) -> Result<S3Settings, ConfigError> {
        self.resolve_with(|k| std::env::var(k).ok())
    }

    pub fn resolve_with(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<S3Settings, ConfigError> {
        let env = |k: &str| env(k).filter(|v| !v.is_empty());
        let allow_http = match self.allow_http {
            Some(b) => Some(b),
            None => match env("AWS_ALLOW_HTTP") {
                None => None,
                Some(v) => Some(parse_bool(&v).ok_or(ConfigError::AllowHttp(v))?),
            },
        };
        let endpoint = self.endpoint.clone().or_else(|| env("AWS_ENDPOINT_URL"));
        if let Some(e) = &endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(ConfigError::S3Endpoint(e.clone()));
            }
            if e.starts_with("http://") && allow_http != Some(true) {
                return Err(ConfigError::S3PlainHttp(e.clone()));
            }
        }
        Ok(S3Settings {
            endpoint,
            region: self
                .region
                .clone()
                .or_else(|| env("AWS_REGION"))
                .or_else(|| env("AWS_DEFAULT_REGION")),
            access_key_id: self
                .access_key_id
                .clone()
                .or_else(|| env("AWS_ACCESS_KEY_ID")),
            secret_access_key: self
                .secret_access_key
                .clone()
                .or_else(|| env("AWS_SECRET_ACCESS_KEY")),
            allow_http,
        })
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Replaces the password of `scheme://user:password@host…` with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration(" 5m ").unwrap(), Duration::from_secs(300));
        for bad in [
            "",
            "h",
            "m",
            "1.5h",
            "3w",
            "-1s",
            "5 minutes",
            "99999999999999999999d",
            "999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_are_sqlite_and_local_under_the_data_dir() {
        let c = Config::new("/srv/reg");
        assert_eq!(
            c.database().unwrap(),
            DatabaseTarget::Sqlite("sqlite:///srv/reg/registry.sqlite".into())
        );
        assert_eq!(
            c.storage().unwrap(),
            StorageTarget::Local("/srv/reg/blobs".into())
        );
        let db = c.database().unwrap();
        assert_eq!(c.pool_size(&db).unwrap(), SQLITE_DEFAULT_CONNECTIONS);
    }

    #[test]
    fn database_urls_select_the_engine() {
        for u in [
            "postgres://u@h/db",
            "postgresql://u:p@h:5433/db?sslmode=disable",
        ] {
            assert_eq!(
                DatabaseTarget::parse(u).unwrap(),
                DatabaseTarget::Postgres(u.into())
            );
        }
        assert_eq!(
            DatabaseTarget::parse("sqlite:///tmp/x.db").unwrap(),
            DatabaseTarget::Sqlite("sqlite:///tmp/x.db".into())
        );
        let mut c = Config::new("/d");
        c.database_url = Some("postgres://h/db".into());
        let db = c.database().unwrap();
        assert_eq!(c.pool_size(&db).unwrap(), POSTGRES_DEFAULT_CONNECTIONS);
        c.db_max_connections = Some(3);
        assert_eq!(c.pool_size(&db).unwrap(), 3);
        c.db_max_connections = Some(0);
        assert!(
            c.pool_size(&db)
                .unwrap_err()
                .to_string()
                .contains("--db-max-connections")
        );
    }

    #[test]
    fn unknown_database_schemes_name_the_flag_and_hide_the_password() {
        let e = DatabaseTarget::parse("mysql://root:hunter2@db/reg")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--database-url"), "{e}");
        assert!(e.contains("postgres://") && e.contains("sqlite://"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("mysql://root:***@db/reg"), "{e}");
        assert!(DatabaseTarget::parse("registry.sqlite").is_err());
        assert!(DatabaseTarget::parse("sqlite://").is_err());
    }

    #[test]
    fn redaction_keeps_everything_but_the_password() {
        assert_eq!(
            redact_url("postgres://u:s3cr%40t@h:5432/db?x=1"),
            "postgres://u:***@h:5432/db?x=1"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("postgres://h/db?a=b@c"), "postgres://h/db?a=b@c");
        assert_eq!(
            DatabaseTarget::parse("postgres://a:b@h/d")
                .unwrap()
                .display(),
            "postgres://a:***@h/d"
        );
    }

    #[test]
    fn storage_urls() {
        assert_eq!(
            StorageTarget::parse("file:///var/lib/gantry%20blobs").unwrap(),
            StorageTarget::Local("/var/lib/gantry blobs".into())
        );
        assert_eq!(
            StorageTarget::parse("file://localhost/x").unwrap(),
            StorageTarget::Local("/x".into())
        );
        assert_eq!(
            StorageTarget::parse("s3://crates").unwrap(),
            StorageTarget::S3 {
                bucket: "crates".into(),
                prefix: None
            }
        );
        let t = StorageTarget::parse("s3://crates/prod/eu/").unwrap();
        assert_eq!(
            t,
            StorageTarget::S3 {
                bucket: "crates".into(),
                prefix: Some("prod/eu".into())
            }
        );
        assert_eq!(t.to_string(), "s3://crates/prod/eu");
        for bad in [
            "file://relative/path",
            "s3://",
            "s3:///prefix",
            "s3://bu cket",
            "s3://b/../x",
            "gs://bucket",
            "/plain/path",
            "file:///bad%zz",
        ] {
            let e = StorageTarget::parse(bad).unwrap_err().to_string();
            assert!(
                e.contains("--storage-url") && e.contains("s3://BUCKET"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn s3_settings_fall_back_to_aws_environment() {
        let env = |k: &str| match k {
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:9000".to_owned()),
            "AWS_REGION" => Some("eu-west-1".to_owned()),
            "AWS_ACCESS_KEY_ID" => Some("AK".to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some("SK".to_owned()),
            "AWS_ALLOW_HTTP" => Some("true".to_owned()),
            _ => None,
        };
        let r = S3Settings::default().resolve_with(env).unwrap();
        assert_eq!(r.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(r.region.as_deref(), Some("eu-west-1"));
        assert_eq!(r.access_key_id.as_deref(), Some("AK"));
        assert_eq!(r.secret_access_key.as_deref(), Some("SK"));
        assert_eq!(r.allow_http, Some(true));

        let explicit = S3Settings {
            region: Some("us-west-2".into()),
            endpoint: Some("https://s3.example".into()),
            ..S3Settings::default()
        };
        let r = explicit.resolve_with(env).unwrap();
        assert_eq!(r.region.as_deref(), Some("us-west-2"));
        assert_eq!(r.endpoint.as_deref(), Some("https://s3.example"));
    }

    #[test]
    fn plain_http_endpoints_need_allow_http() {
        let s = S3Settings {
            endpoint: Some("http://127.0.0.1:9000".into()),
            ..S3Settings::default()
        };
        let e = s.resolve_with(|_| None).unwrap_err().to_string();
        assert!(e.contains("--s3-allow-http"), "{e}");
        let e = S3Settings::default()
            .resolve_with(|k| (k == "AWS_ALLOW_HTTP").then(|| "maybe".to_owned()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("AWS_ALLOW_HTTP"), "{e}");
        let e = S3Settings {
            endpoint: Some("127.0.0.1:9000".into()),
            ..S3Settings::default()
        }
        .resolve_with(|_| None)
        .unwrap_err()
        .to_string();
        assert!(e.contains("--s3-endpoint"), "{e}");
    }
}
