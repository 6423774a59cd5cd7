//! OpenID Connect sign-in: the authorization-code flow with PKCE (S256), as a relying party such as
//! a registry's SSO login drives it. The authorization endpoint signs the chosen user in at once
//! (no login page), so a browser test follows plain redirects.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::claims::unix_now;
use crate::issuer::State;
use crate::keys::random_string;

/// Authorization codes are single-use and short-lived, as RFC 6749 §4.1.2 recommends.
const CODE_LIFETIME_SECS: u64 = 60;
const ACCESS_TOKEN_LIFETIME_SECS: u64 = 3600;

/// A registered relying party.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub client_id: String,
    /// `None`: a public client (PKCE only, no secret).
    pub client_secret: Option<String>,
    /// Exact redirect URIs the client may use.
    pub redirect_uris: Vec<String>,
}

/// Someone who can sign in, and the claims the ID token and userinfo carry about them.
#[derive(Debug, Clone)]
pub struct SignInUser {
    /// The stable subject identifier (`sub`).
    pub subject: String,
    pub preferred_username: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub groups: Vec<String>,
}

impl SignInUser {
    /// A user `username` with subject `sub-<username>`, email `<username>@example.com` (verified)
    /// and no groups.
    pub fn new(username: &str) -> Self {
        SignInUser {
            subject: format!("sub-{username}"),
            preferred_username: username.to_owned(),
            name: username.to_owned(),
            email: format!("{username}@example.com"),
            email_verified: true,
            groups: vec![],
        }
    }

    pub fn groups(mut self, groups: &[&str]) -> Self {
        self.groups = groups.iter().map(|g| g.to_string()).collect();
        self
    }

    fn claims(&self) -> serde_json::Value {
        json!({
            "sub": self.subject,
            "preferred_username": self.preferred_username,
            "name": self.name,
            "email": self.email,
            "email_verified": self.email_verified,
            "groups": self.groups,
        })
    }
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    user: SignInUser,
    nonce: Option<String>,
    code_challenge: String,
    scope: String,
    issued_at: u64,
}

#[derive(Default)]
pub(crate) struct OAuthState {
    pub clients: HashMap<String, OAuthClient>,
    pub users: Vec<SignInUser>,
    pub deny_next: Option<String>,
    codes: HashMap<String, Grant>,
    access_tokens: HashMap<String, SignInUser>,
}

/// A redirect back to the client carrying `params` (RFC 6749 §4.1.2 / §4.1.2.1).
fn redirect(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let mut url = redirect_uri.to_owned();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().filter(|(_, v)| !v.is_empty()))
        .finish();
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(&query);
    (StatusCode::FOUND, [(header::LOCATION, url)]).into_response()
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, message.to_owned()).into_response()
}

/// `GET /oauth/authorize?response_type=code&client_id&redirect_uri&scope&state&nonce
/// &code_challenge&code_challenge_method=S256[&login_hint]`.
pub(crate) async fn authorize(
    AxState(state): AxState<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let mut oauth = State::lock(&state.oauth);
    // Errors about the client or its redirect URI are never redirected (RFC 6749 §4.1.2.1).
    let Some(client) = oauth.clients.get(get("client_id")).cloned() else {
        return bad_request("unknown client_id");
    };
    let redirect_uri = get("redirect_uri");
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        return bad_request("redirect_uri is not registered for this client");
    }
    let client_state = get("state");
    let fail = |error: &str, description: &str| {
        redirect(
            redirect_uri,
            &[
                ("error", error),
                ("error_description", description),
                ("state", client_state),
            ],
        )
    };
    if get("response_type") != "code" {
        return fail("unsupported_response_type", "only `code` is supported");
    }
    if !get("scope").split(' ').any(|s| s == "openid") {
        return fail("invalid_scope", "the `openid` scope is required");
    }
    if get("code_challenge").is_empty() || get("code_challenge_method") != "S256" {
        return fail(
            "invalid_request",
            "PKCE with code_challenge_method=S256 is required",
        );
    }
    if let Some(error) = oauth.deny_next.take() {
        return fail(&error, "refused by the test");
    }
    let hint = get("login_hint");
    let user = match hint {
        "" => oauth.users.first(),
        h => oauth.users.iter().find(|u| u.preferred_username == h),
    };
    let Some(user) = user.cloned() else {
        return fail("login_required", "no such user: call OidcIssuer::add_user");
    };
    let code = random_string(32);
    oauth.codes.insert(
        code.clone(),
        Grant {
            client_id: client.client_id,
            redirect_uri: redirect_uri.to_owned(),
            user,
            nonce: q.get("nonce").cloned(),
            code_challenge: get("code_challenge").to_owned(),
            scope: get("scope").to_owned(),
            issued_at: unix_now(),
        },
    );
    redirect(redirect_uri, &[("code", &code), ("state", client_state)])
}

fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut resp = (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Basic realm=\"oidc-issuer\""),
        );
    }
    resp
}

/// The client id and secret from HTTP Basic (form-urlencoded parts, RFC 6749 §2.3.1) or the body.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("basic"))
        .and_then(|(_, b64)| STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    if let Some(pair) = basic {
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        let (id, secret) = pair.split_once(':').unwrap_or((&pair, ""));
        return (decode(id), decode(secret));
    }
    (
        form.get("client_id").cloned(),
        form.get("client_secret").cloned(),
    )
}

/// `POST /oauth/token` (form): `grant_type=authorization_code&code&redirect_uri&code_verifier`,
/// client authenticated by Basic, by `client_secret` in the body, or not at all for public clients.
pub(crate) async fn token(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let (client_id, secret) = client_credentials(&headers, &form);
    let mut oauth = State::lock(&state.oauth);
    let client = client_id.and_then(|id| oauth.clients.get(&id).cloned());
    let authenticated = match &client {
        Some(c) => c.client_secret.is_none() || c.client_secret == secret,
        None => false,
    };
    let Some(client) = client.filter(|_| authenticated) else {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    };
    if get("grant_type") != "authorization_code" {
        return token_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code",
        );
    }
    // A code is consumed by its first redemption, whether that succeeds or not.
    let Some(grant) = oauth.codes.remove(get("code")) else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or used code",
        );
    };
    if grant.client_id != client.client_id || grant.redirect_uri != get("redirect_uri") {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "client or redirect_uri differs",
        );
    }
    if unix_now() > grant.issued_at + CODE_LIFETIME_SECS {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant", "code expired");
    }
    let verifier = get("code_verifier");
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if !(43..=128).contains(&verifier.len()) || computed != grant.code_challenge {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "PKCE verification failed",
        );
    }
    let access_token = random_string(40);
    oauth
        .access_tokens
        .insert(access_token.clone(), grant.user.clone());
    drop(oauth);
    let id_token = state.sign(&id_token_claims(&state, &client, &grant, &access_token));
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME_SECS,
            "id_token": id_token,
            "scope": grant.scope,
        })
        .to_string(),
    )
        .into_response()
}

fn id_token_claims(
    state: &State,
    client: &OAuthClient,
    grant: &Grant,
    access_token: &str,
) -> serde_json::Value {
    let now = unix_now();
    // OIDC Core §3.1.3.6: the left half of the SHA-256 of the access token (RS256 and ES256 both
    // hash with SHA-256).
    let digest = Sha256::digest(access_token.as_bytes());
    let mut claims = grant.user.claims();
    claims["iss"] = json!(state.issuer);
    claims["aud"] = json!(client.client_id);
    claims["azp"] = json!(client.client_id);
    claims["iat"] = json!(now);
    claims["auth_time"] = json!(grant.issued_at);
    claims["exp"] = json!(now + ACCESS_TOKEN_LIFETIME_SECS);
    claims["at_hash"] = json!(URL_SAFE_NO_PAD.encode(&digest[..16]));
    if let Some(nonce) = &grant.nonce {
        claims["nonce"] = json!(nonce);
    }
    claims
}

/// `GET|POST /oauth/userinfo` with `Authorization: Bearer <access token>`.
pub(crate) async fn userinfo(AxState(state): AxState<Arc<State>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let user = token.and_then(|t| State::lock(&state.oauth).access_tokens.get(&t).cloned());
    match user {
        Some(u) => (
            [(header::CONTENT_TYPE, "application/json")],
            u.claims().to_string(),
        )
            .into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response(),
    }
}
