//! Single sign-on with OpenID Connect (Keycloak, Entra ID, Google, GitLab, Authentik …): the
//! authorization code flow with PKCE, the provider found through its discovery document, the ID
//! token's signature checked against the provider's JWKS (with issuer, audience, expiry and nonce)
//! by `openidconnect`. A claim gives the login, optionally a group claim gives the admin flag.
//!
//! The provider is discovered again at every sign-in, so rotated keys are picked up without a
//! restart, and the sign-in under way (state → PKCE verifier, nonce) is kept in the database, so
//! the callback may reach any instance. The state is also bound to the browser by a cookie.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::layout::PageErr;
use super::session::{self, safe_return};
use crate::app::App;
use crate::store::accounts::PendingOidcLogin;
use crate::store::now;

/// How long a sign-in may take at the provider.
const PENDING_SECS: i64 = 600;
const STATE_COOKIE: &str = "gantry_sso_state";
/// Requests to the provider (discovery, JWKS, token) give up after this long.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// Single sign-on settings (`serve --sso-…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoConfig {
    /// The issuer; its discovery document is `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// The claim whose value becomes the login (`preferred_username`, `email` (its local part),
    /// `sub`, or any other string claim).
    pub login_claim: String,
    /// The claim listing the user's groups.
    pub groups_claim: String,
    /// Members of this group are administrators, others are not (re-checked at every sign-in);
    /// `None` leaves the admin flag alone.
    pub admin_group: Option<String>,
}

impl SsoConfig {
    pub fn new(issuer: &str, client_id: &str) -> Self {
        SsoConfig {
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret: None,
            scopes: vec!["profile".into(), "email".into()],
            login_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
            admin_group: None,
        }
    }
}

/// Why a single sign-on failed; shown to the user on an error page.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("single sign-on is not configured on this registry")]
    NotConfigured,
    #[error("cannot make an HTTP client for single sign-on: {0}")]
    Client(String),
    #[error("invalid --sso-issuer or public URL: {0}")]
    Url(String),
    #[error("cannot read the identity provider's discovery document at {issuer}: {why}")]
    Discovery { issuer: String, why: String },
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    #[error("this sign-in has expired or was already used; sign in again")]
    UnknownState,
    #[error("the identity provider did not accept the sign-in code: {0}")]
    Exchange(String),
    #[error("the identity provider sent no ID token")]
    NoIdToken,
    #[error("the ID token is not valid: {0}")]
    IdToken(String),
    #[error(
        "the identity provider sent no usable `{0}` claim for a login; set --sso-login-claim \
         to a claim it sends (e.g. preferred_username, email or sub)"
    )]
    NoLogin(String),
}

impl From<SsoError> for PageErr {
    fn from(e: SsoError) -> Self {
        let status = match e {
            SsoError::NotConfigured => StatusCode::NOT_FOUND,
            SsoError::Discovery { .. } | SsoError::Exchange(_) => StatusCode::BAD_GATEWAY,
            SsoError::Url(_) | SsoError::Client(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        tracing::warn!("single sign-on failed: {e}");
        PageErr::new(status, e.to_string())
    }
}

/// The HTTP client `openidconnect` uses: ours, with redirects off (a provider answering with a
/// redirect must not send the registry elsewhere) and a timeout.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Reqwest(#[from] reqwest::Error),
    #[error("building the response: {0}")]
    Http(#[from] openidconnect::http::Error),
}

pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    // Fails only if another provider was installed first, which is just as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(HTTP_TIMEOUT)
        .build()
}

async fn send(
    client: reqwest::Client,
    req: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, HttpError> {
    let (parts, body) = req.into_parts();
    let resp = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut out = openidconnect::http::Response::builder().status(resp.status());
    for (k, v) in resp.headers() {
        out = out.header(k, v);
    }
    let body = resp.bytes().await?.to_vec();
    Ok(out.body(body)?)
}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Discovers the provider and makes the client for this registry's callback.
async fn client(app: &App, cfg: &SsoConfig, http: &reqwest::Client) -> Result<Client, SsoError> {
    let issuer = IssuerUrl::new(cfg.issuer.clone()).map_err(|e| SsoError::Url(e.to_string()))?;
    let call = |req| send(http.clone(), req);
    let meta = CoreProviderMetadata::discover_async(issuer, &call)
        .await
        .map_err(|e| SsoError::Discovery {
            issuer: cfg.issuer.clone(),
            why: crate::error::one_line(&e),
        })?;
    let redirect = RedirectUrl::new(format!("{}/login/sso/callback", app.public_url))
        .map_err(|e| SsoError::Url(e.to_string()))?;
    Ok(CoreClient::from_provider_metadata(
        meta,
        ClientId::new(cfg.client_id.clone()),
        cfg.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(redirect))
}

fn config(app: &App) -> Result<&SsoConfig, SsoError> {
    app.config.web.sso.as_ref().ok_or(SsoError::NotConfigured)
}

fn hash(state: &str) -> [u8; 32] {
    Sha256::digest(state.as_bytes()).into()
}

fn state_cookie(app: &App, value: &str, max_age: i64) -> HeaderValue {
    let secure = app.public_url.starts_with("https://");
    let name = match secure {
        true => format!("__Host-{STATE_COOKIE}"),
        false => STATE_COOKIE.to_owned(),
    };
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}");
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// `GET /login/sso[?next=/path]`: off to the provider.
pub async fn start(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageErr> {
    let cfg = config(&app)?;
    let http = app.web.sso_http()?;
    let client = client(&app, cfg, &http).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for s in &cfg.scopes {
        req = req.add_scope(Scope::new(s.clone()));
    }
    let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
    let pending = PendingOidcLogin {
        pkce_verifier: verifier.secret().clone(),
        nonce: nonce.secret().clone(),
        return_to: safe_return(q.get("next").map(String::as_str)),
        expires_at: now() + PENDING_SECS,
    };
    app.store
        .save_oidc_login(&hash(state.secret()), &pending)
        .await?;
    let mut resp = Redirect::to(url.as_str()).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        state_cookie(&app, state.secret(), PENDING_SECS),
    );
    Ok(resp)
}

/// `GET /login/sso/callback?code=…&state=…`: back from the provider.
pub async fn callback(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageErr> {
    let cfg = config(&app)?;
    if let Some(error) = q.get("error") {
        let detail = q.get("error_description").map(String::as_str).unwrap_or("");
        return Err(SsoError::Refused(format!("{error} {detail}").trim().to_owned()).into());
    }
    let state = q.get("state").map(String::as_str).unwrap_or("");
    let code = q.get("code").map(String::as_str).unwrap_or("");
    let cookie_name = match app.public_url.starts_with("https://") {
        true => format!("__Host-{STATE_COOKIE}"),
        false => STATE_COOKIE.to_owned(),
    };
    // The state must come back to the browser that started the sign-in.
    let bound = session::cookie(&headers, &cookie_name)
        .is_some_and(|c| !state.is_empty() && bool::from(c.as_bytes().ct_eq(state.as_bytes())));
    if !bound || code.is_empty() {
        return Err(SsoError::UnknownState.into());
    }
    let pending = app
        .store
        .take_oidc_login(&hash(state))
        .await?
        .filter(|p| p.expires_at > now())
        .ok_or(SsoError::UnknownState)?;
    let http = app.web.sso_http()?;
    let client = client(&app, cfg, &http).await?;
    let call = |req| send(http.clone(), req);
    let token = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| SsoError::Exchange(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
        .request_async(&call)
        .await
        .map_err(|e| SsoError::Exchange(crate::error::one_line(&e)))?;
    let id_token = token.id_token().ok_or(SsoError::NoIdToken)?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(pending.nonce))
        .map_err(|e| SsoError::IdToken(e.to_string()))?;
    let subject = format!("{} {}", claims.issuer().as_str(), claims.subject().as_str());
    // The signature is checked: the claims the library does not model are read from the same token.
    let raw = jwt_claims(&id_token.to_string())
        .ok_or_else(|| SsoError::IdToken("unreadable claims".into()))?;
    let login = login_from_claims(&raw, &cfg.login_claim)
        .ok_or_else(|| SsoError::NoLogin(cfg.login_claim.clone()))?;
    let admin = admin_from_claims(&raw, cfg);
    let user = app.store.oidc_user(&subject, &login, admin).await?;
    tracing::info!(user = %user.login, subject = %subject, "signed in with single sign-on");
    let cookie = session::start(&app, user.id).await?;
    let mut resp = Redirect::to(&pending.return_to).into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    resp.headers_mut()
        .append(header::SET_COOKIE, state_cookie(&app, "", 0));
    Ok(resp)
}

/// The claims (payload) of a compact JWT, undecoded of any check: only for a token already verified.
pub fn jwt_claims(jwt: &str) -> Option<serde_json::Value> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The login a claim gives: an email's local part, then only ASCII letters, digits, `-` and `_`
/// (others become `-`), at most 64 characters, starting with a letter or digit.
pub fn login_from_claims(claims: &serde_json::Value, claim: &str) -> Option<String> {
    let raw = claims.get(claim)?.as_str()?;
    let raw = match raw.split_once('@') {
        Some((local, _)) if claim == "email" || raw.contains('.') => local,
        _ => raw,
    };
    let cleaned: String = raw
        .chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => c,
            _ => '-',
        })
        .take(64)
        .collect();
    let cleaned = cleaned.trim_matches(|c| c == '-' || c == '_').to_owned();
    (!cleaned.is_empty()).then_some(cleaned)
}

/// Whether the groups claim lists the admin group (`None` when no admin group is configured).
pub fn admin_from_claims(claims: &serde_json::Value, cfg: &SsoConfig) -> Option<bool> {
    let group = cfg.admin_group.as_ref()?;
    let member = match claims.get(&cfg.groups_claim) {
        Some(serde_json::Value::Array(groups)) => {
            groups.iter().any(|g| g.as_str() == Some(group.as_str()))
        }
        Some(serde_json::Value::String(g)) => g == group,
        _ => false,
    };
    Some(member)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn logins_come_from_the_configured_claim() {
        let c = json!({"sub": "248289761001", "preferred_username": "Jane.Doe",
                       "email": "jane.doe@example.com", "name": "Jane Doe", "n": 5});
        assert_eq!(
            login_from_claims(&c, "preferred_username").as_deref(),
            Some("Jane-Doe")
        );
        assert_eq!(login_from_claims(&c, "email").as_deref(), Some("jane-doe"));
        assert_eq!(
            login_from_claims(&c, "sub").as_deref(),
            Some("248289761001")
        );
        assert_eq!(login_from_claims(&c, "name").as_deref(), Some("Jane-Doe"));
        assert_eq!(login_from_claims(&c, "missing"), None);
        assert_eq!(login_from_claims(&c, "n"), None, "not a string");
        assert_eq!(login_from_claims(&json!({"x": "@@@"}), "x"), None);
        let long = "a".repeat(100);
        assert_eq!(
            login_from_claims(&json!({ "x": long }), "x").unwrap().len(),
            64
        );
    }

    #[test]
    fn admin_follows_the_group_claim_only_when_configured() {
        let mut cfg = SsoConfig::new("https://idp.example/realms/x/", "gantry");
        assert_eq!(cfg.issuer, "https://idp.example/realms/x");
        let member = json!({"groups": ["devs", "registry-admins"]});
        assert_eq!(admin_from_claims(&member, &cfg), None);
        cfg.admin_group = Some("registry-admins".into());
        assert_eq!(admin_from_claims(&member, &cfg), Some(true));
        assert_eq!(
            admin_from_claims(&json!({"groups": ["devs"]}), &cfg),
            Some(false)
        );
        assert_eq!(admin_from_claims(&json!({}), &cfg), Some(false));
        cfg.groups_claim = "roles".into();
        assert_eq!(
            admin_from_claims(&json!({"roles": "registry-admins"}), &cfg),
            Some(true)
        );
    }

    #[test]
    fn jwt_payloads_are_read() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"1","groups":["a"]}"#);
        let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln");
        assert_eq!(jwt_claims(&jwt).unwrap()["groups"][0], "a");
        assert!(jwt_claims("not-a-jwt").is_none());
        assert!(jwt_claims("a.!!!.c").is_none());
    }
}
