//! Reading a sparse index (registry.md Part A): `config.json` and per-crate files, with cargo's
//! "try anonymously, on 401 retry with the token" dance for `auth-required` registries.

use gantry_protocol::{IndexEntry, index_path};
use serde::Deserialize;

/// `config.json` of a registry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RegistryConfig {
    pub dl: String,
    #[serde(default)]
    pub api: Option<String>,
    #[serde(default, rename = "auth-required")]
    pub auth_required: bool,
    /// What a gantry-registry advertises beyond cargo's keys; `None` for other registries.
    #[serde(default)]
    pub gantry: Option<GantryCapabilities>,
}

/// The `gantry` object of a gantry-registry's `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GantryCapabilities {
    /// `PUT /api/v1/crates/new?validate_only=true` runs every publish rule and stores nothing.
    #[serde(default, rename = "validate-only")]
    pub validate_only: bool,
    #[serde(default, rename = "max-upload-size")]
    pub max_upload_size: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("failed to fetch `{url}`")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("failed to get successful HTTP response from `{url}`, got {status}\nbody:\n{body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("failed to parse `{url}`: {message}")]
    Parse { url: String, message: String },
    #[error("no token found for `{0}`, the registry requires authentication")]
    AuthRequired(String),
}

/// One sparse index, addressed by its URL without the `sparse+` prefix.
#[derive(Clone)]
pub struct SparseIndex {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl SparseIndex {
    /// `url` may carry the `sparse+` prefix; a trailing slash is added when missing.
    pub fn new(client: reqwest::Client, url: &str) -> Self {
        let mut base = url.strip_prefix("sparse+").unwrap_or(url).to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        SparseIndex {
            client,
            base,
            token: None,
        }
    }

    /// Token to send after the registry answered 401 (cargo's auth-required dance).
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn get(&self, url: &str) -> Result<(u16, Vec<u8>), IndexError> {
        let transport = |source| IndexError::Transport {
            url: url.to_owned(),
            source,
        };
        let send = |token: Option<&str>| {
            let mut req = self
                .client
                .get(url)
                .header("cache-control", "no-cache")
                .header("pragma", "no-cache");
            if let Some(t) = token {
                req = req.header("authorization", t);
            }
            req.send()
        };
        let mut resp = send(None).await.map_err(transport)?;
        if resp.status().as_u16() == 401 {
            let Some(token) = &self.token else {
                return Err(IndexError::AuthRequired(self.base.clone()));
            };
            resp = send(Some(token)).await.map_err(transport)?;
        }
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(transport)?;
        Ok((status, body.to_vec()))
    }

    pub async fn config(&self) -> Result<RegistryConfig, IndexError> {
        let url = format!("{}config.json", self.base);
        let (status, body) = self.get(&url).await?;
        if status != 200 {
            return Err(status_error(url, status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| IndexError::Parse {
            url,
            message: e.to_string(),
        })
    }

    /// Every parseable entry of `name`'s index file; not found (404/410/451) is an empty list.
    pub async fn entries(&self, name: &str) -> Result<Vec<IndexEntry>, IndexError> {
        let url = format!("{}{}", self.base, index_path(name));
        let (status, body) = self.get(&url).await?;
        match status {
            200 => {}
            404 | 410 | 451 => return Ok(Vec::new()),
            _ => return Err(status_error(url, status, &body)),
        }
        let text = String::from_utf8_lossy(&body);
        // Lines this client cannot read (newer schema) are skipped, as cargo does.
        Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str::<IndexEntry>(l).ok())
            .collect())
    }

    /// The entry for exactly `version`, if the index lists it.
    pub async fn find(&self, name: &str, version: &str) -> Result<Option<IndexEntry>, IndexError> {
        let want = semver::Version::parse(version).ok();
        Ok(self.entries(name).await?.into_iter().find(|e| {
            e.vers == version || (want.is_some() && semver::Version::parse(&e.vers).ok() == want)
        }))
    }
}

fn status_error(url: String, status: u16, body: &[u8]) -> IndexError {
    IndexError::Status {
        url,
        status,
        body: String::from_utf8_lossy(body).into_owned(),
    }
}
