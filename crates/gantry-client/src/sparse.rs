//! The sparse index protocol (registry.md A1): `config.json` and per-crate files over HTTP, with
//! cargo's status handling and its error texts.

use std::sync::Arc;
use std::time::Duration;

use gantry_protocol::{IndexEntry, index_path};

use crate::http::parse_retry_after;
use crate::index::{FetchError, IndexError, RegistryConfig};

/// Bodies in error messages are cut here, as cargo cuts them.
const MAX_BODY_IN_ERROR: usize = 512;
/// cargo's `net.retry` default.
pub const DEFAULT_RETRIES: u32 = 3;
/// cargo's waits between tries: the first after 0.5 s plus up to 1 s of jitter, then 3.5 s, 6.5 s…,
/// never more than 10 s (also the cap on a `Retry-After`).
const FIRST_RETRY: Duration = Duration::from_millis(500);
const FIRST_RETRY_JITTER_MS: u64 = 1000;
const LATER_RETRY: Duration = Duration::from_millis(3500);
const RETRY_STEP: Duration = Duration::from_secs(3);
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// Where "spurious network error" warnings go.
pub type Warn = Arc<dyn Fn(&str) + Send + Sync>;

/// One sparse index, addressed by its URL without the `sparse+` prefix.
#[derive(Clone)]
pub struct SparseIndex {
    client: reqwest::Client,
    base: String,
    /// Sent with every request once the registry is known to require authentication.
    token: Option<String>,
    /// How often a spurious failure (no answer, 429, 5xx) is tried again, and where that is said.
    retries: u32,
    warn: Option<Warn>,
}

struct Answer {
    status: u16,
    ip: Option<String>,
    www_authenticate: Vec<String>,
    /// Every header as `name: value`.
    headers: Vec<String>,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

impl SparseIndex {
    /// `base` ends with `/` and has no `sparse+` prefix.
    pub fn new(client: reqwest::Client, base: &str) -> Self {
        SparseIndex {
            client,
            base: base.to_owned(),
            token: None,
            retries: 0,
            warn: None,
        }
    }

    /// Try spurious failures again up to `retries` times, saying so through `warn` (cargo's
    /// `net.retry` and its "spurious network error" warnings).
    pub fn with_retries(mut self, retries: u32, warn: Warn) -> Self {
        self.retries = retries;
        self.warn = Some(warn);
        self
    }

    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// One index file, tried again after spurious failures as cargo does.
    async fn get(&self, path: &str) -> Result<Answer, IndexError> {
        let mut tries_left = self.retries;
        let mut retried = 0;
        loop {
            let (spurious, wait) = match self.get_once(path).await {
                Ok(a) if a.status == 429 || a.status >= 500 => {
                    let wait = a.retry_after.filter(|_| a.status == 429 || a.status == 503);
                    (self.failed(path, a), wait)
                }
                Ok(a) => return Ok(a),
                Err(e) if is_spurious(&e) => (e, None),
                Err(e) => return Err(e),
            };
            if tries_left == 0 {
                return Err(spurious);
            }
            if let Some(warn) = &self.warn {
                let cause = match &spurious {
                    IndexError::Download { source, .. } => source.to_string(),
                    other => other.to_string(),
                };
                let s = if tries_left == 1 { "try" } else { "tries" };
                warn(&format!(
                    "spurious network error ({tries_left} {s} remaining): {cause}"
                ));
            }
            tokio::time::sleep(wait.map_or_else(|| retry_wait(retried), |w| w.min(MAX_RETRY_WAIT)))
                .await;
            tries_left -= 1;
            retried += 1;
        }
    }

    async fn get_once(&self, path: &str) -> Result<Answer, IndexError> {
        let url = format!("{}{path}", self.base);
        let transport = |source| IndexError::Download {
            path: path.to_owned(),
            source: FetchError::Transport {
                url: url.clone(),
                source,
            },
        };
        let mut req = self
            .client
            .get(&url)
            .header("accept", "text/plain")
            .header("cache-control", "no-cache")
            .header("pragma", "no-cache");
        if let Some(t) = &self.token {
            req = req.header("authorization", t);
        }
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let ip = resp.remote_addr().map(|a| a.ip().to_string());
        let www_authenticate = resp
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some(format!("{k}: {}", v.to_str().ok()?)))
            .collect();
        let body = resp.bytes().await.map_err(transport)?.to_vec();
        Ok(Answer {
            status,
            ip,
            www_authenticate,
            headers,
            retry_after,
            body,
        })
    }

    fn failed(&self, path: &str, a: Answer) -> IndexError {
        let url = format!("{}{path}", self.base);
        if a.status == 401 {
            return IndexError::Unauthorized {
                url,
                body: body_text(&a.body),
                login_url: a.www_authenticate.iter().find_map(|h| login_url(h)),
                headers: a.headers,
            };
        }
        IndexError::Download {
            path: path.to_owned(),
            source: FetchError::Status {
                url,
                ip: a.ip,
                status: a.status,
                body: body_text(&a.body),
            },
        }
    }

    pub async fn config(&self) -> Result<RegistryConfig, IndexError> {
        let a = self.get("config.json").await?;
        match a.status {
            200 => {}
            404 | 410 | 451 => return Err(IndexError::NoConfig),
            _ => return Err(self.failed("config.json", a)),
        }
        serde_json::from_slice(&a.body).map_err(|source| IndexError::Parse {
            url: format!("{}config.json", self.base),
            source,
        })
    }

    /// Every parseable entry of `name`'s index file; not found is an empty list. JFrog Artifactory
    /// answers 400 for a crate it does not have (rust-lang/cargo#15028); that is read as "not
    /// found" too, so a first publish to it works (cargo ≥ 1.83 stops there).
    pub async fn entries(&self, name: &str) -> Result<Vec<IndexEntry>, IndexError> {
        let path = index_path(name);
        let a = self.get(&path).await?;
        match a.status {
            200 => {}
            400 | 404 | 410 | 451 => return Ok(Vec::new()),
            _ => return Err(self.failed(&path, a)),
        }
        let text = String::from_utf8_lossy(&a.body);
        // Lines this client cannot read (newer schema) are skipped, as cargo does.
        Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str::<IndexEntry>(l).ok())
            .collect())
    }
}

/// A failure to get any answer that may well not happen again (connection, timeout, cut body).
fn is_spurious(e: &IndexError) -> bool {
    match e {
        IndexError::Download {
            source: FetchError::Transport { source, .. },
            ..
        } => !(source.is_builder() || source.is_redirect() || source.is_decode()),
        _ => false,
    }
}

/// The wait before retry number `retried` (0-based).
fn retry_wait(retried: u32) -> Duration {
    if retried == 0 {
        // Jitter spreads clients that failed together; the clock's nanoseconds are random enough.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()));
        FIRST_RETRY + Duration::from_millis(nanos % FIRST_RETRY_JITTER_MS)
    } else {
        (LATER_RETRY + RETRY_STEP * (retried - 1)).min(MAX_RETRY_WAIT)
    }
}

/// A body as cargo shows it in errors: text cut at 512 characters, or a byte count.
fn body_text(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(s) if s.chars().count() > MAX_BODY_IN_ERROR => {
            let cut: String = s.chars().take(MAX_BODY_IN_ERROR).collect();
            format!("{cut}...")
        }
        Ok(s) => s.to_owned(),
        Err(_) => format!("[{} non-utf8 bytes]", body.len()),
    }
}

/// The `login_url` parameter of a `Cargo` challenge in a `WWW-Authenticate` header value (other
/// schemes, such as kellnr's `Basic, Bearer`, carry none).
fn login_url(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(i) = find_ci(rest, "cargo") {
        let after = &rest[i + 5..];
        let boundary_before = i == 0 || rest[..i].ends_with([' ', ',']);
        if boundary_before && after.starts_with(' ') {
            return param(after, "login_url");
        }
        rest = after;
    }
    None
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack.to_ascii_lowercase().find(needle)
}

/// `name="value"` or `name=value` among a challenge's parameters.
fn param(params: &str, name: &str) -> Option<String> {
    let lower = params.to_ascii_lowercase();
    let i = lower.find(&format!("{name}="))?;
    let value = &params[i + name.len() + 1..];
    if let Some(quoted) = value.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.extend(chars.next()),
                '"' => return Some(out),
                c => out.push(c),
            }
        }
        None
    } else {
        Some(
            value
                .split([',', ' '])
                .next()
                .unwrap_or_default()
                .to_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_challenges_give_the_login_url() {
        assert_eq!(
            login_url(r#"Cargo login_url="https://example.test/me""#).as_deref(),
            Some("https://example.test/me")
        );
        assert_eq!(
            login_url(r#"Basic realm="x", Cargo login_url="https://r.test/t\"ok\"""#).as_deref(),
            Some(r#"https://r.test/t"ok""#)
        );
        assert_eq!(
            login_url("cargo login_url=https://a.test/me, Basic").as_deref(),
            Some("https://a.test/me")
        );
        // kellnr's challenge (kellnr crates/auth/src/auth_req_token.rs) names no login page.
        assert_eq!(login_url("Basic, Bearer"), None);
        assert_eq!(login_url("Cargo"), None);
    }

    #[test]
    fn retry_waits_grow_like_cargos() {
        let first = retry_wait(0);
        assert!(first >= FIRST_RETRY && first < FIRST_RETRY + Duration::from_secs(1));
        assert_eq!(retry_wait(1), Duration::from_millis(3500));
        assert_eq!(retry_wait(2), Duration::from_millis(6500));
        assert_eq!(retry_wait(3), Duration::from_millis(9500));
        assert_eq!(retry_wait(9), MAX_RETRY_WAIT);
    }

    #[test]
    fn error_bodies_are_cut_like_cargo() {
        assert_eq!(body_text(b"short"), "short");
        let long = "x".repeat(600);
        assert_eq!(body_text(long.as_bytes()).len(), 515);
        assert_eq!(body_text(&[0xff, 0xfe]), "[2 non-utf8 bytes]");
    }
}
