//! The two requests of trusted publishing, as crates-io-auth-action sends them
//! (`src/main.ts` `requestTrustedPublishingToken`, `src/post.ts` `revokeToken`, `src/utils.ts`):
//!
//! - exchange: `POST {registry}/api/v1/trusted_publishing/tokens`, `Content-Type:
//!   application/json`, body `JSON.stringify({jwt})` (`{"jwt":"…"}`, no spaces), no
//!   `Authorization`; answered `{"token": "…"}`.
//! - revoke: `DELETE` of the same URL with `Authorization: Bearer {token}`, no body; 2xx (204).
//!
//! Both carry the client's `User-Agent` (`cargo-gantry/VERSION`, as the action sends
//! `crates-io-auth-action/VERSION`: crates.io asks every client to name itself). Refusals are read
//! as crates.io writes them (`{"errors":[{"detail":…}]}`); a successful answer is never repeated
//! in an error, since it may hold a token.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::{Deserialize, Serialize};

use super::secret::{IdToken, PublishToken};

/// The exchange (and revoke) endpoint under a registry's API root.
pub const ENDPOINT_PATH: &str = "/api/v1/trusted_publishing/tokens";

/// How much of an unexpected error page is shown.
const MAX_BODY_SHOWN: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("failed to send the trusted-publishing exchange to `{url}`")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the registry refused the trusted-publishing exchange (status {status}): {detail}")]
    Refused { status: u16, detail: String },
    #[error(
        "the registry answered the trusted-publishing exchange with status {status}{}",
        shown(body)
    )]
    Status { status: u16, body: String },
    #[error("the registry's answer to the trusted-publishing exchange holds no token")]
    NoToken,
}

#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("failed to send the revocation to `{url}`")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the registry refused the revocation (status {status}): {detail}")]
    Refused { status: u16, detail: String },
    #[error(
        "the registry answered the revocation with status {status}{}",
        shown(body)
    )]
    Status { status: u16, body: String },
    #[error("the token holds characters an HTTP header cannot carry")]
    InvalidToken,
}

fn shown(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return String::new();
    }
    let mut end = body.len().min(MAX_BODY_SHOWN);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let more = if end < body.len() { " …" } else { "" };
    format!(":\n{}{more}", &body[..end])
}

/// The body of the exchange: `JSON.stringify({ jwt })`. serde_json writes the same bytes for a
/// string (no spaces; the same escapes, none of which a JWT's base64url and dots need).
#[derive(Serialize)]
struct ExchangeBody<'a> {
    jwt: &'a str,
}

/// Exchanges `jwt` at `url` (an [`Offer`](super::Offer)'s `exchange_url`) for a publish token.
pub async fn exchange(
    client: &reqwest::Client,
    url: &str,
    jwt: &IdToken,
) -> Result<PublishToken, ExchangeError> {
    let body = serde_json::to_vec(&ExchangeBody { jwt: jwt.expose() })
        .expect("a struct of one string always serializes");
    let response = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|source| ExchangeError::Transport {
            url: url.to_owned(),
            source,
        })?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap_or_default();
    if (200..300).contains(&status) {
        #[derive(Deserialize)]
        struct Answer {
            token: Option<String>,
        }
        return match serde_json::from_slice::<Answer>(&bytes) {
            Ok(Answer { token: Some(t) }) if !t.is_empty() => Ok(PublishToken::new(t)),
            _ => Err(ExchangeError::NoToken),
        };
    }
    Err(match details(&bytes) {
        Some(detail) => ExchangeError::Refused { status, detail },
        None => ExchangeError::Status {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        },
    })
}

/// Revokes `token` at `url`, so that even a leaked copy is useless from now on.
pub async fn revoke(
    client: &reqwest::Client,
    url: &str,
    token: &PublishToken,
) -> Result<(), RevokeError> {
    let mut bearer = HeaderValue::try_from(format!("Bearer {}", token.expose()))
        .map_err(|_| RevokeError::InvalidToken)?;
    bearer.set_sensitive(true);
    let response = client
        .delete(url)
        .header(AUTHORIZATION, bearer)
        .send()
        .await
        .map_err(|source| RevokeError::Transport {
            url: url.to_owned(),
            source,
        })?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let bytes = response.bytes().await.unwrap_or_default();
    Err(match details(&bytes) {
        Some(detail) => RevokeError::Refused { status, detail },
        None => RevokeError::Status {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        },
    })
}

/// The `detail`s of a crates.io error body, joined; `None` for any other body.
fn details(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<Detail>,
    }
    #[derive(Deserialize)]
    struct Detail {
        detail: String,
    }
    let errors = serde_json::from_slice::<Errors>(body).ok()?.errors;
    (!errors.is_empty()).then(|| {
        errors
            .into_iter()
            .map(|e| e.detail)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_json_stringify_of_the_jwt() {
        let jwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJhdWQiOiJjcmF0ZXMuaW8ifQ.c2ln-_";
        let body = serde_json::to_vec(&ExchangeBody { jwt }).unwrap();
        assert_eq!(body, format!("{{\"jwt\":\"{jwt}\"}}").into_bytes());
    }

    #[test]
    fn refusals_are_read_as_crates_io_writes_them() {
        assert_eq!(
            details(br#"{"errors":[{"detail":"Failed to decode JWT"}]}"#).as_deref(),
            Some("Failed to decode JWT")
        );
        assert_eq!(
            details(br#"{"errors":[{"detail":"a"},{"detail":"b"}]}"#).as_deref(),
            Some("a; b")
        );
        assert_eq!(details(br#"{"errors":[]}"#), None);
        assert_eq!(details(b"<html>bad gateway</html>"), None);
        let e = ExchangeError::Status {
            status: 502,
            body: "x".repeat(600),
        };
        assert!(e.to_string().ends_with(" …"), "{e}");
    }
}
