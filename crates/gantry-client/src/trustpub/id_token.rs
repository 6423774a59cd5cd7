//! Where a CI job's OIDC ID token comes from, and what it says (read without verifying: the
//! registry verifies; the client only looks, to explain a mismatch before sending anything).
//!
//! - **GitHub Actions** (`permissions: id-token: write`): `ACTIONS_ID_TOKEN_REQUEST_URL` and
//!   `ACTIONS_ID_TOKEN_REQUEST_TOKEN`. The token is asked for with the registry's audience as
//!   `@actions/core`'s `getIDToken` asks (which crates-io-auth-action calls):
//!   `GET {URL}&audience={encodeURIComponent(aud)}` with `Authorization: Bearer {TOKEN}` and
//!   `Accept: application/json`, answered `{"value": "<jwt>"}`.
//! - **A variable** named by `--oidc-token-env` (GitLab CI's `id_tokens`, any other CI system): the
//!   job fixed the audience when it asked, so it is checked against the registry's instead.

use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use super::secret::{IdToken, RunnerToken};

pub const GITHUB_REQUEST_URL_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
pub const GITHUB_REQUEST_TOKEN_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// How often the GitHub request is tried when the service is briefly unavailable.
const GITHUB_ATTEMPTS: u32 = 3;

/// Where this run's ID token comes from.
#[derive(Debug, Clone)]
pub enum IdTokenSource {
    GitHubActions {
        request_url: String,
        request_token: RunnerToken,
    },
    Variable {
        name: String,
        token: IdToken,
    },
}

/// Why the environment offers no ID token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error("the environment variable `{0}` (named by `--oidc-token-env`) is not set or empty")]
    VariableUnset(String),
    #[error(
        "`{GITHUB_REQUEST_URL_VAR}` is set but `{GITHUB_REQUEST_TOKEN_VAR}` is not; the job's token request cannot be authenticated"
    )]
    GitHubTokenMissing,
    #[error(
        "no OIDC ID token in the environment: in GitHub Actions give the job `permissions: id-token: write` (`{GITHUB_REQUEST_URL_VAR}` is not set); elsewhere put the ID token in a variable and name it with `--oidc-token-env`"
    )]
    Nothing,
}

#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error("failed to ask GitHub Actions for an OIDC ID token at `{url}`")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("GitHub Actions refused to issue an OIDC ID token (status {status}){}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Refused {
        status: u16,
        message: Option<String>,
    },
    #[error("GitHub Actions answered the ID token request without a token")]
    NoToken,
    #[error("`{GITHUB_REQUEST_TOKEN_VAR}` holds characters an HTTP header cannot carry")]
    InvalidRunnerToken,
}

impl IdTokenSource {
    /// What the environment offers: the variable `--oidc-token-env` names, else GitHub Actions'
    /// pair. Empty values count as unset (as `@actions/core` counts them).
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
        variable: Option<&str>,
    ) -> Result<IdTokenSource, Unavailable> {
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        if let Some(name) = variable {
            return match get(name) {
                Some(value) => Ok(IdTokenSource::Variable {
                    name: name.to_owned(),
                    token: IdToken::new(value.trim().to_owned()),
                }),
                None => Err(Unavailable::VariableUnset(name.to_owned())),
            };
        }
        let Some(request_url) = get(GITHUB_REQUEST_URL_VAR) else {
            return Err(Unavailable::Nothing);
        };
        let request_token = get(GITHUB_REQUEST_TOKEN_VAR).ok_or(Unavailable::GitHubTokenMissing)?;
        Ok(IdTokenSource::GitHubActions {
            request_url,
            request_token: RunnerToken::new(request_token),
        })
    }

    /// `GitHub Actions` / ``the variable `NAME` ``.
    pub fn describe(&self) -> String {
        match self {
            IdTokenSource::GitHubActions { .. } => "GitHub Actions".to_owned(),
            IdTokenSource::Variable { name, .. } => format!("the variable `{name}`"),
        }
    }

    /// The provider the token will come from, when the source says (a variable's token says it
    /// with its issuer).
    pub fn provider(&self) -> Option<&'static str> {
        match self {
            IdTokenSource::GitHubActions { .. } => Some("github"),
            IdTokenSource::Variable { .. } => None,
        }
    }

    /// The ID token for `audience`: asked of GitHub, or the variable's as it is.
    pub async fn get(
        &self,
        client: &reqwest::Client,
        audience: &str,
    ) -> Result<IdToken, IdTokenError> {
        match self {
            IdTokenSource::Variable { token, .. } => Ok(token.clone()),
            IdTokenSource::GitHubActions {
                request_url,
                request_token,
            } => github(client, request_url, request_token, audience).await,
        }
    }
}

async fn github(
    client: &reqwest::Client,
    request_url: &str,
    request_token: &RunnerToken,
    audience: &str,
) -> Result<IdToken, IdTokenError> {
    // The variable already carries a query (`?api-version=2.0`), hence `&`, as @actions/core adds it.
    let url = format!("{request_url}&audience={}", encode_uri_component(audience));
    let mut bearer =
        reqwest::header::HeaderValue::try_from(format!("Bearer {}", request_token.expose()))
            .map_err(|_| IdTokenError::InvalidRunnerToken)?;
    bearer.set_sensitive(true);
    let mut attempt = 1;
    loop {
        let sent = client
            .get(&url)
            .header(reqwest::header::AUTHORIZATION, bearer.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await;
        let retry = match &sent {
            Err(e) => !e.is_builder(),
            Ok(r) => matches!(r.status().as_u16(), 502..=504),
        };
        if retry && attempt < GITHUB_ATTEMPTS {
            tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
            attempt += 1;
            continue;
        }
        let response = sent.map_err(|source| IdTokenError::Transport {
            url: url.clone(),
            source,
        })?;
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(IdTokenError::Refused {
                status,
                message: github_message(&body),
            });
        }
        #[derive(Deserialize)]
        struct Answer {
            value: Option<String>,
        }
        return match serde_json::from_slice::<Answer>(&body) {
            Ok(Answer { value: Some(v) }) if !v.is_empty() => Ok(IdToken::new(v)),
            _ => Err(IdTokenError::NoToken),
        };
    }
}

/// GitHub's error bodies say `{"message": …}`; anything else is not repeated (it is not ours to show).
fn github_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Message {
        message: String,
    }
    serde_json::from_slice::<Message>(body)
        .ok()
        .map(|m| m.message)
}

/// JavaScript's `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` is
/// percent-encoded as UTF-8 bytes (upper-case hex), as @actions/core encodes the audience.
pub fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A JWT's `aud`: crates.io accepts only a single string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

/// What an ID token claims, read without checking its signature.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct UnverifiedClaims {
    pub iss: Option<String>,
    pub aud: Option<Audience>,
    pub exp: Option<i64>,
    /// GitHub: `owner/repo`.
    pub repository: Option<String>,
    /// GitHub: `owner/repo/.github/workflows/file.yml@ref`.
    pub workflow_ref: Option<String>,
    /// GitLab: `group/project`.
    pub project_path: Option<String>,
}

/// The claims of `jwt`, or `None` when it is not a JWT (three base64url parts, a JSON payload).
pub fn peek_claims(jwt: &IdToken) -> Option<UnverifiedClaims> {
    let mut parts = jwt.expose().split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn sources_from_the_environment() {
        let gh = [
            (GITHUB_REQUEST_URL_VAR, "http://x/idtoken?api-version=2.0"),
            (GITHUB_REQUEST_TOKEN_VAR, "r"),
        ];
        let s = IdTokenSource::from_env(env(&gh), None).unwrap();
        assert_eq!(s.provider(), Some("github"));
        assert_eq!(s.describe(), "GitHub Actions");
        // A named variable wins over GitHub's pair.
        let mut both = gh.to_vec();
        both.push(("CI_ID_TOKEN", "a.b.c"));
        let s = IdTokenSource::from_env(env(&both), Some("CI_ID_TOKEN")).unwrap();
        assert_eq!(s.describe(), "the variable `CI_ID_TOKEN`");
        assert_eq!(
            IdTokenSource::from_env(env(&gh), Some("CI_ID_TOKEN")).unwrap_err(),
            Unavailable::VariableUnset("CI_ID_TOKEN".into())
        );
        assert_eq!(
            IdTokenSource::from_env(env(&[(GITHUB_REQUEST_URL_VAR, "u")]), None).unwrap_err(),
            Unavailable::GitHubTokenMissing
        );
        assert_eq!(
            IdTokenSource::from_env(env(&[(GITHUB_REQUEST_URL_VAR, "")]), None).unwrap_err(),
            Unavailable::Nothing
        );
    }

    #[test]
    fn audience_is_encoded_as_encode_uri_component_does() {
        assert_eq!(encode_uri_component("crates.io"), "crates.io");
        assert_eq!(
            encode_uri_component("127.0.0.1:8990/a b"),
            "127.0.0.1%3A8990%2Fa%20b"
        );
        assert_eq!(encode_uri_component("!~*'()-_."), "!~*'()-_.");
        assert_eq!(encode_uri_component("é+&="), "%C3%A9%2B%26%3D");
    }

    #[test]
    fn claims_are_read_without_verifying() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            br#"{"iss":"https://gitlab.com","aud":"crates.io","exp":5,"project_path":"g/p"}"#,
        );
        let jwt = IdToken::new(format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln"));
        let c = peek_claims(&jwt).unwrap();
        assert_eq!(c.iss.as_deref(), Some("https://gitlab.com"));
        assert_eq!(c.aud, Some(Audience::One("crates.io".into())));
        assert_eq!(c.project_path.as_deref(), Some("g/p"));
        let many = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"aud":["a","b"]}"#);
        let c = peek_claims(&IdToken::new(format!("h.{many}.s"))).unwrap();
        assert_eq!(c.aud, Some(Audience::Many(vec!["a".into(), "b".into()])));
        assert_eq!(peek_claims(&IdToken::new("not-a-jwt".into())), None);
        assert_eq!(peek_claims(&IdToken::new("a.b.c.d".into())), None);
    }
}
