//! Tokens: generation, SHA-256 storage, constant-time comparison, endpoint scopes and crate
//! patterns; and the read rule of `--auth-required`, as the [`ReadAccess`] extractor.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::app::App;
use crate::error::ApiErr;
use crate::store::{MetaStore, PublishRights, TokenRecord, now};

pub const TOKEN_PREFIX: &str = "gty";
const TOKEN_RANDOM_LEN: usize = 32;

/// Endpoint scopes, as crates.io names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    PublishNew,
    PublishUpdate,
    Yank,
    ChangeOwners,
    /// Managing trusted-publishing configs and `trustpub_only`.
    TrustedPublishing,
}

impl Scope {
    pub const ALL: [&'static str; 5] = [
        "publish-new",
        "publish-update",
        "yank",
        "change-owners",
        "trusted-publishing",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::PublishNew => "publish-new",
            Scope::PublishUpdate => "publish-update",
            Scope::Yank => "yank",
            Scope::ChangeOwners => "change-owners",
            Scope::TrustedPublishing => "trusted-publishing",
        }
    }
}

/// A fresh token: prefix + 32 random alphanumerics (printable ASCII, as cargo requires).
pub fn generate_token() -> String {
    let mut rng = rand::rng();
    let tail: String = (0..TOKEN_RANDOM_LEN)
        .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
        .collect();
    format!("{TOKEN_PREFIX}{tail}")
}

pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether a crate pattern (`name`, `prefix*` or `*`) matches.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Authed {
    pub token: TokenRecord,
}

impl Authed {
    pub fn user_id(&self) -> i64 {
        self.token.user.id
    }

    /// The one authorisation rule for every action on a crate. Like crates.io, the endpoint scopes
    /// and the crate patterns are checked independently: a token without scopes may use every
    /// endpoint, a token without patterns may act on every crate, and a token that lists either
    /// is held to what it lists — also when it lists only the other.
    pub fn authorize(&self, scope: Scope, crate_name: &str) -> Result<(), ApiErr> {
        match self.permits(scope, crate_name) {
            true => Ok(()),
            false => Err(missing_scope()),
        }
    }

    /// What this token allows when publishing `crate_name`; the store decides, inside the publish
    /// transaction, which of the two the publish is.
    pub fn publish_rights(&self, crate_name: &str) -> PublishRights {
        PublishRights {
            new: self.permits(Scope::PublishNew, crate_name),
            update: self.permits(Scope::PublishUpdate, crate_name),
        }
    }

    fn permits(&self, scope: Scope, crate_name: &str) -> bool {
        let endpoint_ok = match &self.token.scopes {
            None => true,
            Some(scopes) => scopes.iter().any(|s| s == scope.as_str()),
        };
        let patterns = &self.token.crate_patterns;
        let crate_ok =
            patterns.is_empty() || patterns.iter().any(|p| pattern_matches(p, crate_name));
        endpoint_ok && crate_ok
    }
}

/// crates.io's refusal of an action the token's scopes or crate patterns do not cover.
pub fn missing_scope() -> ApiErr {
    ApiErr::forbidden("this token does not have the required permissions to perform this action")
}

/// Reads `Authorization` (raw token or `Bearer <token>`). `Ok(None)` when absent.
pub async fn authenticate(
    store: &dyn MetaStore,
    headers: &HeaderMap,
) -> Result<Option<Authed>, ApiErr> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = |why: &str| {
        ApiErr::new(
            StatusCode::UNAUTHORIZED,
            format!("Invalid `Authorization` header: {why}"),
        )
    };
    let value = value
        .to_str()
        .map_err(|_| malformed("not printable ASCII"))?
        .trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return Err(malformed("unsupported scheme")),
        None => value,
    };
    if token.is_empty() {
        return Err(malformed("empty token"));
    }
    if crate::trustpub::token::is_trusted(token) {
        return Err(ApiErr::forbidden(crate::trustpub::publish::ONLY_PUBLISHES));
    }
    let hash = hash_token(token);
    let failed = || ApiErr::forbidden("authentication failed");
    let Some(rec) = store.token_by_hash(&hash).await? else {
        return Err(failed());
    };
    // The lookup is by hash; compare again in constant time so no early-exit byte compare decides.
    if !bool::from(rec.hash.as_slice().ct_eq(&hash[..]))
        || rec.revoked
        || rec.expires_at.is_some_and(|e| e <= now())
    {
        return Err(failed());
    }
    Ok(Some(Authed { token: rec }))
}

/// Like [`authenticate`] but a missing header is crates.io's 403.
pub async fn require_auth(store: &dyn MetaStore, headers: &HeaderMap) -> Result<Authed, ApiErr> {
    authenticate(store, headers)
        .await?
        .ok_or_else(|| ApiErr::forbidden("this action requires authentication"))
}

/// Proof that the caller may read the index, downloads, owners and search: anyone when the
/// registry is open, a valid token with `--auth-required`. A handler that reads takes it as an
/// argument; the refusal is a 401 carrying the `Cargo login_url` challenge cargo reads on
/// `config.json`.
pub struct ReadAccess;

impl FromRequestParts<Arc<App>> for ReadAccess {
    type Rejection = ApiErr;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiErr> {
        if !app.config.auth_required {
            return Ok(ReadAccess);
        }
        let challenge = format!("Cargo login_url=\"{}/me\"", app.api_url());
        // cargo reads the index with the publish token around a trusted publish.
        match crate::trustpub::publish::grants_read(app, &parts.headers).await {
            Ok(true) => return Ok(ReadAccess),
            Ok(false) => {}
            Err(mut e) => {
                e.status = StatusCode::UNAUTHORIZED;
                e.challenge = Some(challenge);
                return Err(e);
            }
        }
        match authenticate(app.store.as_ref(), &parts.headers).await {
            Ok(Some(_)) => Ok(ReadAccess),
            Ok(None) => Err(ApiErr {
                status: StatusCode::UNAUTHORIZED,
                detail: "this registry requires authentication: pass a token in the \
                         `Authorization` header"
                    .into(),
                challenge: Some(challenge),
                retry_after: None,
            }),
            Err(mut e) => {
                e.status = StatusCode::UNAUTHORIZED;
                e.challenge = Some(challenge);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(pattern_matches("*", "x"));
        assert!(pattern_matches("serde-*", "serde-json"));
        assert!(!pattern_matches("serde-*", "serde"));
        assert!(pattern_matches("foo", "foo"));
        assert!(!pattern_matches("foo", "foo2"));
    }

    fn authed(scopes: Option<&[&str]>, patterns: &[&str]) -> Authed {
        Authed {
            token: TokenRecord {
                id: 1,
                user: crate::store::User {
                    id: 1,
                    login: "alice".into(),
                },
                name: "t".into(),
                hash: vec![],
                scopes: scopes.map(|s| s.iter().map(|s| s.to_string()).collect()),
                crate_patterns: patterns.iter().map(|s| s.to_string()).collect(),
                expires_at: None,
                revoked: false,
            },
        }
    }

    #[test]
    fn scopes_and_patterns_are_checked_independently() {
        let all = [
            Scope::PublishNew,
            Scope::PublishUpdate,
            Scope::Yank,
            Scope::ChangeOwners,
        ];
        let legacy = authed(None, &[]);
        let patterns_only = authed(None, &["other-*"]);
        let scopes_only = authed(Some(&["yank"]), &[]);
        let both = authed(Some(&["yank"]), &["other-*"]);
        for scope in all {
            assert!(legacy.permits(scope, "mine"));
            assert!(!patterns_only.permits(scope, "mine"), "{scope:?}");
            assert!(patterns_only.permits(scope, "other-x"), "{scope:?}");
            let yank = scope == Scope::Yank;
            assert_eq!(scopes_only.permits(scope, "mine"), yank, "{scope:?}");
            assert!(!both.permits(scope, "mine"), "{scope:?}");
            assert_eq!(both.permits(scope, "other-x"), yank, "{scope:?}");
        }
    }

    #[test]
    fn tokens_are_printable() {
        let t = generate_token();
        assert!(
            t.starts_with(TOKEN_PREFIX)
                && t.len() == 35
                && t.bytes().all(|b| b.is_ascii_alphanumeric())
        );
    }
}
