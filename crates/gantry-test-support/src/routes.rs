//! The issuer's HTTP surface: discovery document, JWKS, the GitHub-Actions-style token request
//! endpoint, and (from `oauth.rs`) the sign-in endpoints; every request is recorded.

use std::sync::{Arc, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::json;

use crate::issuer::{RecordedRequest, State};
use crate::oauth;

pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/.well-known/jwks";
pub const ACTIONS_TOKEN_PATH: &str = "/_apis/actions/idtoken";
pub const AUTHORIZE_PATH: &str = "/oauth/authorize";
pub const TOKEN_PATH: &str = "/oauth/token";
pub const USERINFO_PATH: &str = "/oauth/userinfo";

/// Request bodies the issuer reads are small forms.
const MAX_BODY: usize = 64 * 1024;

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route(DISCOVERY_PATH, get(discovery))
        .route(JWKS_PATH, get(jwks))
        .route(ACTIONS_TOKEN_PATH, get(actions_token))
        .route(AUTHORIZE_PATH, get(oauth::authorize))
        .route(TOKEN_PATH, any(oauth::token))
        .route(USERINFO_PATH, any(oauth::userinfo))
        .layer(axum::middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

/// Records the request (with its body, which is then handed on unchanged).
async fn record(AxState(state): AxState<Arc<State>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    State::lock(&state.log).push(RecordedRequest {
        method: parts.method.to_string(),
        uri: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned()),
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    });
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn json_response(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        value.to_string(),
    )
        .into_response()
}

async fn discovery(AxState(state): AxState<Arc<State>>) -> Response {
    let base = &state.issuer;
    json_response(
        StatusCode::OK,
        json!({
            "issuer": base,
            "jwks_uri": format!("{base}{JWKS_PATH}"),
            "authorization_endpoint": format!("{base}{AUTHORIZE_PATH}"),
            "token_endpoint": format!("{base}{TOKEN_PATH}"),
            "userinfo_endpoint": format!("{base}{USERINFO_PATH}"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [state.algorithm.name()],
            "scopes_supported": ["openid", "profile", "email", "groups"],
            "token_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "name",
                "preferred_username", "email", "email_verified", "groups"
            ],
        }),
    )
}

async fn jwks(AxState(state): AxState<Arc<State>>) -> Response {
    let keys = state.keys.read().unwrap_or_else(PoisonError::into_inner);
    let list: Vec<_> = keys.published.iter().map(|k| &k.jwk).collect();
    json_response(StatusCode::OK, json!({ "keys": list }))
}

/// `GET {ACTIONS_ID_TOKEN_REQUEST_URL}&audience=…` with `Authorization: Bearer
/// {ACTIONS_ID_TOKEN_REQUEST_TOKEN}` → `{"value": "<jwt>"}`, as GitHub's runner service answers.
/// Without `audience` the token is for `https://github.com/<owner>`, GitHub's default.
async fn actions_token(
    AxState(state): AxState<Arc<State>>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    if bearer != Some(state.actions_request_token.as_str()) {
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({"message": "missing or wrong ACTIONS_ID_TOKEN_REQUEST_TOKEN"}),
        );
    }
    let Some(workflow) = State::lock(&state.actions).clone() else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"message": "no workflow configured: call OidcIssuer::set_actions_workflow"}),
        );
    };
    let audience = query.get("audience").cloned().unwrap_or_else(|| {
        let owner = workflow.repository.split('/').next().unwrap_or("");
        format!("https://github.com/{owner}")
    });
    let jwt = state.sign(&workflow.claims(&state.issuer, &audience));
    json_response(StatusCode::OK, json!({ "value": jwt }))
}
