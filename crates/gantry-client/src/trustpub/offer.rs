//! Which registries offer the exchange, where it is, and which audience their ID tokens need.
//!
//! - crates.io: crates-io-auth-action's rule applied to the API URL from `config.json`: the
//!   audience is the URL without `https://` (`crates.io`), the exchange is
//!   `{url}/api/v1/trusted_publishing/tokens`; GitHub Actions and gitlab.com are accepted.
//! - gantry-registry says all of it in `config.json` (`gantry.trusted-publishing`), issuers
//!   included, since its issuers and audience are configuration.
//! - A registry that requires authentication keeps `config.json` behind its 401. Its challenge's
//!   `login_url` names `{api}/me` (gantry-registry's and crates.io's convention); on the index's own
//!   origin that gives the API, and the audience follows crates-io-auth-action's rule, which is
//!   gantry-registry's default. Any other origin is not followed: the ID token goes only to the
//!   registry the user configured.

use std::collections::BTreeMap;

use crate::index::TrustedPublishingAdvert;

use super::exchange::ENDPOINT_PATH;

/// The issuers crates.io accepts, by provider.
pub const CRATES_IO_ISSUERS: [(&str, &str); 2] = [
    ("github", "https://token.actions.githubusercontent.com"),
    ("gitlab", "https://gitlab.com"),
];

/// How an [`Offer`] was learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferSource {
    CratesIo,
    /// `gantry.trusted-publishing` in `config.json`.
    Advertised,
    /// The `login_url` of an auth-required registry's 401.
    Challenge,
}

/// A registry's trusted-publishing exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The `aud` the ID token must carry.
    pub audience: String,
    /// `POST` here to exchange, `DELETE` to revoke.
    pub exchange_url: String,
    /// Accepted providers (`github`, `gitlab`) and their issuers; empty when the registry did not
    /// say (a challenge), i.e. unknown.
    pub providers: BTreeMap<String, String>,
    pub source: OfferSource,
}

impl Offer {
    /// crates.io, from its `config.json` `api` (`https://crates.io`).
    pub fn crates_io(api: &str) -> Offer {
        let url = registry_url(api);
        Offer {
            audience: audience_for_url(url),
            exchange_url: format!("{url}{ENDPOINT_PATH}"),
            providers: CRATES_IO_ISSUERS
                .iter()
                .map(|(p, i)| ((*p).to_owned(), (*i).to_owned()))
                .collect(),
            source: OfferSource::CratesIo,
        }
    }

    /// What a gantry-registry's `config.json` advertises.
    pub fn advertised(advert: &TrustedPublishingAdvert) -> Offer {
        Offer {
            audience: advert.audience.clone(),
            exchange_url: advert.exchange.clone(),
            providers: advert.providers.clone(),
            source: OfferSource::Advertised,
        }
    }

    /// An auth-required registry whose index at `index_url` answered 401 with `login_url`; `None`
    /// unless `login_url` is `{api}/me` on the index's own scheme, host and port.
    pub fn from_challenge(index_url: &str, login_url: &str) -> Option<Offer> {
        let index = url::Url::parse(index_url.strip_prefix("sparse+").unwrap_or(index_url)).ok()?;
        let login = url::Url::parse(login_url).ok()?;
        if login.origin() != index.origin() || login.query().is_some() || login.fragment().is_some()
        {
            return None;
        }
        let api = login_url.strip_suffix("/me")?;
        let url = registry_url(api);
        Some(Offer {
            audience: audience_for_url(url),
            exchange_url: format!("{url}{ENDPOINT_PATH}"),
            providers: BTreeMap::new(),
            source: OfferSource::Challenge,
        })
    }

    /// Whether `provider` is accepted; `None` when the registry did not say.
    pub fn accepts(&self, provider: &str) -> Option<bool> {
        (!self.providers.is_empty()).then(|| self.providers.contains_key(provider))
    }

    /// The provider whose issuer is `iss`; `None` when none is (or the registry did not say).
    pub fn provider_for_issuer(&self, iss: &str) -> Option<&str> {
        let iss = iss.trim_end_matches('/');
        self.providers
            .iter()
            .find(|(_, issuer)| issuer.trim_end_matches('/') == iss)
            .map(|(p, _)| p.as_str())
    }

    /// `github (https://…), gitlab (https://…)`, for messages.
    pub fn describe_providers(&self) -> String {
        self.providers
            .iter()
            .map(|(p, i)| format!("{p} ({i})"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The registry URL as crates-io-auth-action takes its `url` input: one trailing `/` dropped.
fn registry_url(url: &str) -> &str {
    url.strip_suffix('/').unwrap_or(url)
}

/// crates-io-auth-action's audience for a registry URL: the URL without `https://` or `http://`
/// (`https://crates.io` → `crates.io`; a port or path stays).
pub fn audience_for_url(url: &str) -> String {
    let url = registry_url(url);
    url.strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crates_io_is_what_crates_io_auth_action_derives() {
        let o = Offer::crates_io("https://crates.io");
        assert_eq!(o.audience, "crates.io");
        assert_eq!(
            o.exchange_url,
            "https://crates.io/api/v1/trusted_publishing/tokens"
        );
        assert_eq!(o.accepts("github"), Some(true));
        assert_eq!(o.provider_for_issuer("https://gitlab.com/"), Some("gitlab"));
        assert_eq!(Offer::crates_io("https://crates.io/"), o);
    }

    #[test]
    fn audience_keeps_port_and_path() {
        assert_eq!(audience_for_url("http://127.0.0.1:8990"), "127.0.0.1:8990");
        assert_eq!(
            audience_for_url("https://reg.example/sub/"),
            "reg.example/sub"
        );
    }

    #[test]
    fn challenge_is_followed_only_on_the_index_origin() {
        let index = "sparse+http://127.0.0.1:8990/index/";
        let o = Offer::from_challenge(index, "http://127.0.0.1:8990/me").unwrap();
        assert_eq!(o.audience, "127.0.0.1:8990");
        assert_eq!(
            o.exchange_url,
            "http://127.0.0.1:8990/api/v1/trusted_publishing/tokens"
        );
        assert_eq!(o.accepts("github"), None);
        assert_eq!(
            Offer::from_challenge(index, "http://127.0.0.1:8990/reg/me")
                .unwrap()
                .audience,
            "127.0.0.1:8990/reg"
        );
        for other in [
            "http://evil.example/me",
            "https://127.0.0.1:8990/me",
            "http://127.0.0.1:8991/me",
            "http://127.0.0.1:8990/login",
            "http://127.0.0.1:8990/me?next=x",
            "not a url",
        ] {
            assert_eq!(Offer::from_challenge(index, other), None, "{other}");
        }
    }

    #[test]
    fn advertised_providers() {
        let o = Offer::advertised(&TrustedPublishingAdvert {
            audience: "reg.example".into(),
            exchange: "https://reg.example/api/v1/trusted_publishing/tokens".into(),
            providers: [(
                "github".to_owned(),
                "https://ghe.example/_services/token".to_owned(),
            )]
            .into(),
        });
        assert_eq!(o.accepts("gitlab"), Some(false));
        assert_eq!(
            o.provider_for_issuer("https://ghe.example/_services/token"),
            Some("github")
        );
        assert_eq!(o.provider_for_issuer("https://gitlab.com"), None);
        assert_eq!(
            o.describe_providers(),
            "github (https://ghe.example/_services/token)"
        );
    }
}
