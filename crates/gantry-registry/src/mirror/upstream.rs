//! Requests to the upstream sparse registry: index files (conditional), its `config.json` (for the
//! download URL template) and `.crate` files, each bounded by the upstream timeout and a size limit.

use std::sync::Once;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use gantry_protocol::index_path;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, ETAG, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};

use super::MirrorError;
use super::config::MirrorConfig;

/// The largest index file accepted from the upstream (crates.io's biggest are a few MiB).
pub(super) const MAX_INDEX_FILE: u64 = 64 * 1024 * 1024;
/// The largest `.crate` accepted from the upstream (it is held in memory until verified).
pub(super) const MAX_CRATE_FILE: u64 = 256 * 1024 * 1024;
/// How long the upstream's `dl` template is trusted before `config.json` is read again.
const DL_TEMPLATE_TTL: Duration = Duration::from_secs(3600);

static PROVIDER: Once = Once::new();

/// What the upstream answered for an index file.
#[derive(Debug)]
pub(super) enum Fetched {
    NotModified,
    Body {
        body: Bytes,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    /// 404, 410 or 451: the crate does not exist there.
    Absent,
}

pub(super) struct Upstream {
    client: reqwest::Client,
    /// `https://host/path/`.
    base: String,
    dl: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl Upstream {
    pub(super) fn new(config: &MirrorConfig) -> Result<Self, MirrorError> {
        PROVIDER.call_once(|| {
            // Fails only if another provider was installed first, which is just as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let client = reqwest::Client::builder()
            .user_agent(concat!(
                "gantry-registry/",
                env!("CARGO_PKG_VERSION"),
                " (pull-through mirror)"
            ))
            .timeout(config.upstream_timeout)
            .connect_timeout(config.upstream_timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(MirrorError::Client)?;
        Ok(Upstream {
            client,
            base: config.upstream.base.clone(),
            dl: tokio::sync::Mutex::new(None),
        })
    }

    /// GETs `name`'s index file, conditionally when validators of a stored copy are given.
    pub(super) async fn index_file(
        &self,
        name: &str,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<Fetched, MirrorError> {
        let url = format!("{}{}", self.base, index_path(name));
        let mut req = self
            .client
            .get(&url)
            .header("cargo-protocol", "version=1")
            .header(ACCEPT, "text/plain");
        // As cargo does: the ETag when there is one, else the date.
        if let Some(e) = etag {
            req = req.header(IF_NONE_MATCH, e);
        } else if let Some(lm) = last_modified {
            req = req.header(IF_MODIFIED_SINCE, lm);
        }
        let resp = req
            .send()
            .await
            .map_err(|source| MirrorError::Unreachable {
                url: url.clone(),
                source,
            })?;
        match resp.status() {
            StatusCode::OK => {
                let header = |h| {
                    resp.headers()
                        .get(h)
                        .and_then(|v: &HeaderValue| v.to_str().ok())
                        .map(str::to_owned)
                };
                let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
                let body = read_limited(resp, &url, MAX_INDEX_FILE).await?;
                Ok(Fetched::Body {
                    body,
                    etag,
                    last_modified,
                })
            }
            StatusCode::NOT_MODIFIED if etag.is_some() || last_modified.is_some() => {
                Ok(Fetched::NotModified)
            }
            StatusCode::NOT_FOUND
            | StatusCode::GONE
            | StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS => Ok(Fetched::Absent),
            s => Err(MirrorError::Status {
                url,
                status: s.as_u16(),
            }),
        }
    }

    /// GETs a `.crate` (not verified here).
    pub(super) async fn crate_file(
        &self,
        name: &str,
        version: &str,
        cksum: &str,
    ) -> Result<Bytes, MirrorError> {
        let template = self.dl_template().await?;
        let url = download_url(&template, name, version, cksum);
        let resp =
            self.client
                .get(&url)
                .send()
                .await
                .map_err(|source| MirrorError::Unreachable {
                    url: url.clone(),
                    source,
                })?;
        if resp.status() != StatusCode::OK {
            return Err(MirrorError::Status {
                url,
                status: resp.status().as_u16(),
            });
        }
        read_limited(resp, &url, MAX_CRATE_FILE).await
    }

    /// The upstream's `dl` template, from its `config.json` (kept for an hour).
    async fn dl_template(&self) -> Result<String, MirrorError> {
        let mut slot = self.dl.lock().await;
        if let Some((t, at)) = &*slot
            && at.elapsed() < DL_TEMPLATE_TTL
        {
            return Ok(t.clone());
        }
        let url = format!("{}config.json", self.base);
        let resp = self
            .client
            .get(&url)
            .header("cargo-protocol", "version=1")
            .send()
            .await
            .map_err(|source| MirrorError::Unreachable {
                url: url.clone(),
                source,
            })?;
        if resp.status() != StatusCode::OK {
            return Err(MirrorError::Status {
                url,
                status: resp.status().as_u16(),
            });
        }
        let body = read_limited(resp, &url, 1024 * 1024).await?;
        #[derive(serde::Deserialize)]
        struct Config {
            dl: String,
        }
        let config: Config = serde_json::from_slice(&body).map_err(|e| MirrorError::Config {
            url: url.clone(),
            why: e.to_string(),
        })?;
        *slot = Some((config.dl.clone(), Instant::now()));
        Ok(config.dl)
    }
}

async fn read_limited(
    mut resp: reqwest::Response,
    url: &str,
    limit: u64,
) -> Result<Bytes, MirrorError> {
    let too_large = || MirrorError::TooLarge {
        url: url.to_owned(),
        limit,
    };
    let declared = resp.content_length();
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(16 * 1024).min(limit) as usize);
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|source| MirrorError::Unreachable {
            url: url.to_owned(),
            source,
        })?
    {
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Fills a `dl` template as cargo does: the markers `{crate}`, `{version}`, `{prefix}`,
/// `{lowerprefix}` and `{sha256-checksum}`, or `/{crate}/{version}/download` appended when it has
/// none of them.
pub(super) fn download_url(template: &str, name: &str, version: &str, cksum: &str) -> String {
    const MARKERS: [&str; 5] = [
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if !MARKERS.iter().any(|m| template.contains(m)) {
        return format!(
            "{}/{name}/{version}/download",
            template.trim_end_matches('/')
        );
    }
    let prefix = prefix(name);
    template
        .replace("{crate}", name)
        .replace("{version}", version)
        .replace("{prefix}", &prefix)
        .replace("{lowerprefix}", &prefix.to_lowercase())
        .replace("{sha256-checksum}", cksum)
}

/// The directory part of a crate's index path, in the name's own case.
fn prefix(name: &str) -> String {
    match name.len() {
        1 => "1".to_owned(),
        2 => "2".to_owned(),
        3 => format!("3/{}", &name[..1]),
        _ => format!("{}/{}", &name[..2], &name[2..4]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_urls_follow_cargos_template_rules() {
        assert_eq!(
            download_url("https://static.crates.io/crates", "serde", "1.0.0", "ab"),
            "https://static.crates.io/crates/serde/1.0.0/download"
        );
        assert_eq!(
            download_url("http://h/api/v1/crates/", "a", "0.1.0", "ab"),
            "http://h/api/v1/crates/a/0.1.0/download"
        );
        assert_eq!(
            download_url(
                "https://h/{prefix}/{lowerprefix}/{crate}-{version}.crate?s={sha256-checksum}",
                "MyCrate",
                "2.0.0",
                "ff"
            ),
            "https://h/My/Cr/my/cr/MyCrate-2.0.0.crate?s=ff"
        );
        assert_eq!(
            download_url("https://h/{prefix}/{crate}", "abc", "1", "x"),
            "https://h/3/a/abc"
        );
    }
}
