//! Registry settings.

use std::net::SocketAddr;
use std::path::PathBuf;

use gantry_protocol::MetadataRules;
use gantry_protocol::body::DEFAULT_MAX_UPLOAD_SIZE;

use crate::ratelimit::RateLimits;

/// crates.io's floor for the decompressed size of a `.crate` (512 MiB).
pub const MIN_UNPACKED_LIMIT: u64 = 512 * 1024 * 1024;
/// Whole-request time limit.
pub const REQUEST_TIMEOUT_SECS: u64 = 120;

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
        }
    }

    pub fn unpacked_limit(&self) -> u64 {
        self.max_unpacked_size
            .unwrap_or(MIN_UNPACKED_LIMIT.max(u64::from(self.max_upload_size)))
    }
}
