//! The configured OIDC issuers and their signing keys: each issuer's JWKS, found through its
//! discovery document, cached by `kid` in this process and fetched again when a token names an
//! unknown `kid`, but at most once per refetch interval (a minute by default, as crates.io), so
//! tokens with made-up key ids cannot make the registry hammer the issuer. Only public keys are
//! cached, and a refetch replaces the whole set, so a key the issuer retired stops verifying; the
//! cache needs no sharing between instances.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::config::TrustedPublishing;
use crate::store::trustpub::Provider;

/// Every request to an issuer gives up after this long (crates.io's figure).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Discovery documents and key sets are small; a larger answer is refused.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// A public key and the one algorithm it verifies.
pub struct VerifyingKey {
    pub key: DecodingKey,
    pub alg: Algorithm,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("setting up the HTTP client: {0}")]
    Client(String),
    #[error("fetching {url}")]
    Fetch {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url} sent more than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge { url: String },
    #[error("{url} is not the expected JSON")]
    Json {
        url: String,
        #[source]
        source: serde_json::Error,
    },
}

/// One issuer's keys.
pub struct KeyStore {
    pub provider: Provider,
    /// The `iss` its tokens carry (no trailing `/`).
    pub issuer: String,
    refetch_interval: Duration,
    keys: RwLock<HashMap<String, Arc<VerifyingKey>>>,
    /// When the key set was last fetched successfully; held while fetching, so concurrent misses
    /// wait for one fetch instead of each making their own.
    fetched: tokio::sync::Mutex<Option<Instant>>,
}

impl KeyStore {
    pub fn new(provider: Provider, issuer: &str, refetch_interval: Duration) -> Self {
        KeyStore {
            provider,
            issuer: issuer.trim_end_matches('/').to_owned(),
            refetch_interval,
            keys: RwLock::new(HashMap::new()),
            fetched: tokio::sync::Mutex::new(None),
        }
    }

    /// The key with id `kid`: from the cache, else from a fresh copy of the JWKS unless one was
    /// fetched less than the refetch interval ago. `Ok(None)`: the issuer has no such key.
    pub async fn key(&self, kid: &str) -> Result<Option<Arc<VerifyingKey>>, KeyStoreError> {
        if let Some(k) = self.cached(kid) {
            return Ok(Some(k));
        }
        let mut fetched = self.fetched.lock().await;
        if let Some(k) = self.cached(kid) {
            return Ok(Some(k));
        }
        if fetched.is_some_and(|at| at.elapsed() < self.refetch_interval) {
            return Ok(None);
        }
        let keys = self.fetch().await?;
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
        *fetched = Some(Instant::now());
        Ok(self.cached(kid))
    }

    fn cached(&self, kid: &str) -> Option<Arc<VerifyingKey>> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.get(kid).cloned()
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<VerifyingKey>>, KeyStoreError> {
        #[derive(serde::Deserialize)]
        struct Discovery {
            jwks_uri: String,
        }
        let discovery_url = format!("{}/.well-known/openid-configuration", self.issuer);
        let discovery: Discovery = get_json(&discovery_url).await?;
        // Each key on its own: one key of a kind this library does not know must not hide the
        // others.
        #[derive(serde::Deserialize)]
        struct RawSet {
            keys: Vec<serde_json::Value>,
        }
        let set: RawSet = get_json(&discovery.jwks_uri).await?;
        let mut keys = HashMap::new();
        for jwk in set
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
        {
            let jwk = &jwk;
            let (Some(kid), Some(alg)) = (&jwk.common.key_id, algorithm(jwk)) else {
                continue;
            };
            // A key this registry cannot use (another curve, a malformed modulus) is skipped;
            // tokens naming it are then refused as naming an unknown key.
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid.clone(), Arc::new(VerifyingKey { key, alg }));
            }
        }
        Ok(keys)
    }
}

/// RS256 for RSA keys and ES256 for P-256 keys, unless the JWK names another algorithm (then the
/// key is not used).
fn algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let declared = jwk.common.key_algorithm;
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) if declared.is_none_or(|a| a == KeyAlgorithm::RS256) => {
            Some(Algorithm::RS256)
        }
        AlgorithmParameters::EllipticCurve(ec)
            if ec.curve == EllipticCurve::P256
                && declared.is_none_or(|a| a == KeyAlgorithm::ES256) =>
        {
            Some(Algorithm::ES256)
        }
        _ => None,
    }
}

/// The process's client for issuer requests (rustls with the `ring` provider, as the client
/// crates use), built on first use.
fn client() -> Result<&'static reqwest::Client, KeyStoreError> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            // Fails only if another provider was installed first, which is just as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .user_agent(concat!("gantry-registry/", env!("CARGO_PKG_VERSION")))
                .timeout(FETCH_TIMEOUT)
                .build()
                .map_err(|e| crate::error::one_line(&e))
        })
        .as_ref()
        .map_err(|e| KeyStoreError::Client(e.clone()))
}

async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, KeyStoreError> {
    let fetch = |source| KeyStoreError::Fetch {
        url: url.to_owned(),
        source,
    };
    let resp = client()?.get(url).send().await.map_err(fetch)?;
    if !resp.status().is_success() {
        return Err(KeyStoreError::Status {
            url: url.to_owned(),
            status: resp.status().as_u16(),
        });
    }
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(KeyStoreError::TooLarge {
            url: url.to_owned(),
        });
    }
    let body = resp.bytes().await.map_err(fetch)?;
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(KeyStoreError::TooLarge {
            url: url.to_owned(),
        });
    }
    serde_json::from_slice(&body).map_err(|source| KeyStoreError::Json {
        url: url.to_owned(),
        source,
    })
}

/// The issuers trusted publishing accepts, and the audience their tokens must name.
pub struct Issuers {
    pub audience: String,
    pub stores: Vec<KeyStore>,
}

impl Issuers {
    /// From the settings; the audience defaults to `public_url` without its scheme (what
    /// crates-io-auth-action requests when given that URL).
    pub fn new(settings: &TrustedPublishing, public_url: &str) -> Self {
        // The RustCrypto backend even if some other crate in the build enables aws-lc-rs (with
        // both, jsonwebtoken would have no default). Fails only when one is installed already.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
        );
        let audience = settings.audience.clone().unwrap_or_else(|| {
            let url = public_url.trim_end_matches('/');
            url.split_once("://")
                .map_or(url, |(_, rest)| rest)
                .to_owned()
        });
        let stores = [
            (Provider::GitHub, &settings.github_issuer),
            (Provider::GitLab, &settings.gitlab_issuer),
        ]
        .into_iter()
        .filter_map(|(p, url)| {
            url.as_deref()
                .map(|u| KeyStore::new(p, u, settings.jwks_refetch_interval))
        })
        .collect();
        Issuers { audience, stores }
    }

    /// The key store whose issuer is exactly `iss`.
    pub fn by_issuer(&self, iss: &str) -> Option<&KeyStore> {
        self.stores.iter().find(|s| s.issuer == iss)
    }

    pub fn by_provider(&self, provider: Provider) -> Option<&KeyStore> {
        self.stores.iter().find(|s| s.provider == provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_and_audience_from_the_settings() {
        let mut s = TrustedPublishing::default();
        let i = Issuers::new(&s, "https://crates.example.com/");
        assert_eq!(i.audience, "crates.example.com");
        assert_eq!(
            i.by_provider(Provider::GitHub).map(|k| k.issuer.as_str()),
            Some("https://token.actions.githubusercontent.com")
        );
        assert!(i.by_issuer("https://gitlab.com").is_some());
        assert!(i.by_issuer("https://gitlab.com/").is_none());

        s.set_issuer("github=https://ghe.example.com/_services/token/")
            .unwrap();
        s.set_issuer("gitlab=off").unwrap();
        let i = Issuers::new(&s, "http://127.0.0.1:8990");
        assert_eq!(i.audience, "127.0.0.1:8990");
        assert_eq!(i.stores.len(), 1);
        assert!(
            i.by_issuer("https://ghe.example.com/_services/token")
                .is_some()
        );
        for bad in ["github", "bitbucket=https://x", "gitlab=ftp://x", "github="] {
            let e = s.set_issuer(bad).unwrap_err().to_string();
            assert!(e.contains("--oidc-issuer") && e.contains(bad), "{e}");
        }
        s.audience = Some("aud".into());
        assert_eq!(Issuers::new(&s, "http://x").audience, "aud");
    }
}
