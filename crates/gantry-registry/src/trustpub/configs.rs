//! `…/trusted_publishing/github_configs` and `…/gitlab_configs`: create, list, delete, as crates.io
//! has them (API tokens with the `trusted-publishing` scope, owners only, at most five per crate and
//! provider). Beyond crates.io, `"pending": true` on create registers a config for a crate that
//! does not exist yet (see the module documentation of `trustpub`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gantry_protocol::{canonical_name, is_reserved_name, validate_crate_name};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{MAX_CONFIGS_PER_CRATE, PENDING_LIFETIME_SECS, json, validate};
use crate::app::App;
use crate::auth::{self, Authed, Scope, pattern_matches};
use crate::error::ApiErr;
use crate::store::now;
use crate::store::trustpub::{
    ConfigCrate, ConfigFilter, CreateConfigError, NewConfigCrate, NewTrustConfig, Provider, Source,
};

const NOT_OWNER: &str = "You are not an owner of this crate";
const DEFAULT_PER_PAGE: u32 = 10;
const MAX_PER_PAGE: u32 = 100;

#[derive(Deserialize)]
struct NewGitHub {
    #[serde(rename = "crate")]
    krate: String,
    repository_owner: String,
    repository_name: String,
    workflow_filename: String,
    environment: Option<String>,
    /// Gantry: GitHub's id of the owner, which crates.io looks up itself. Without it the id of
    /// the first exchange is recorded.
    #[serde(default)]
    repository_owner_id: Option<i64>,
    /// Gantry: allow a config for a crate nobody has published yet.
    #[serde(default)]
    pending: bool,
}

#[derive(Deserialize)]
struct NewGitLab {
    #[serde(rename = "crate")]
    krate: String,
    namespace: String,
    project: String,
    workflow_filepath: String,
    environment: Option<String>,
    #[serde(default)]
    pending: bool,
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiErr> {
    serde_json::from_slice(body).map_err(|e| ApiErr::bad(format!("invalid json request: {e}")))
}

fn provider_name(p: Provider) -> &'static str {
    match p {
        Provider::GitHub => "GitHub",
        Provider::GitLab => "GitLab",
    }
}

/// `POST …/github_configs` with `{"github_config": {…}}`.
pub async fn create_github(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiErr> {
    #[derive(Deserialize)]
    struct Req {
        github_config: NewGitHub,
    }
    let c = parse::<Req>(&body)?.github_config;
    validate::github_owner(&c.repository_owner).map_err(ApiErr::bad)?;
    validate::github_repo(&c.repository_name).map_err(ApiErr::bad)?;
    validate::github_workflow_filename(&c.workflow_filename).map_err(ApiErr::bad)?;
    if let Some(env) = &c.environment {
        validate::github_environment(env).map_err(ApiErr::bad)?;
    }
    let source = Source::GitHub {
        repository_owner: c.repository_owner,
        repository_owner_id: c.repository_owner_id,
        repository_name: c.repository_name,
        workflow_filename: c.workflow_filename,
    };
    create(&app, &headers, c.krate, source, c.environment, c.pending).await
}

/// `POST …/gitlab_configs` with `{"gitlab_config": {…}}`.
pub async fn create_gitlab(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiErr> {
    #[derive(Deserialize)]
    struct Req {
        gitlab_config: NewGitLab,
    }
    let c = parse::<Req>(&body)?.gitlab_config;
    validate::gitlab_namespace(&c.namespace).map_err(ApiErr::bad)?;
    validate::gitlab_project(&c.project).map_err(ApiErr::bad)?;
    validate::gitlab_workflow_filepath(&c.workflow_filepath).map_err(ApiErr::bad)?;
    if let Some(env) = &c.environment {
        validate::gitlab_environment(env).map_err(ApiErr::bad)?;
    }
    let source = Source::GitLab {
        namespace: c.namespace,
        namespace_id: None,
        project: c.project,
        workflow_filepath: c.workflow_filepath,
    };
    create(&app, &headers, c.krate, source, c.environment, c.pending).await
}

fn crate_missing(name: &str) -> ApiErr {
    ApiErr::not_found(format!("crate `{name}` does not exist"))
}

async fn create(
    app: &App,
    headers: &HeaderMap,
    name: String,
    source: Source,
    environment: Option<String>,
    pending: bool,
) -> Result<Response, ApiErr> {
    let authed = auth::require_auth(app.store.as_ref(), headers).await?;
    authed.authorize(Scope::TrustedPublishing, &name)?;
    let krate = match app.store.crate_by_name(&name).await? {
        Some(info) => {
            if !app.store.is_owner(info.id, authed.user_id()).await? {
                return Err(ApiErr::bad(NOT_OWNER));
            }
            NewConfigCrate::Crate(info.id)
        }
        None if pending => {
            validate_crate_name(&name).map_err(|e| ApiErr::bad(e.to_string()))?;
            if is_reserved_name(&name) {
                return Err(ApiErr::bad("cannot upload a crate with a reserved name"));
            }
            NewConfigCrate::Pending {
                name: name.clone(),
                owner_id: authed.user_id(),
                expires_at: now() + PENDING_LIFETIME_SECS,
            }
        }
        None => return Err(crate_missing(&name)),
    };
    let provider = source.provider();
    let new = NewTrustConfig {
        krate,
        source,
        environment,
        now: now(),
    };
    let config = match app
        .store
        .create_trust_config(&new, MAX_CONFIGS_PER_CRATE)
        .await
    {
        Ok(c) => c,
        Err(CreateConfigError::TooMany { max }) => {
            return Err(ApiErr::new(
                StatusCode::CONFLICT,
                format!(
                    "This crate already has the maximum number of {} Trusted Publishing \
                     configurations ({max})",
                    provider_name(provider)
                ),
            ));
        }
        Err(CreateConfigError::Store(e)) => return Err(e.into()),
    };
    tracing::info!(
        krate = %config.krate.name(),
        provider = provider.as_str(),
        repository = %config.source.repository(),
        user = %authed.token.user.login,
        pending = matches!(config.krate, ConfigCrate::Pending { .. }),
        "trusted publishing config created"
    );
    let key = format!("{}_config", provider.as_str());
    Ok(Json(serde_json::json!({ key: json::config(&config) })).into_response())
}

pub async fn list_github(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiErr> {
    list(&app, Provider::GitHub, &q, &headers).await
}

pub async fn list_gitlab(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiErr> {
    list(&app, Provider::GitLab, &q, &headers).await
}

/// `GET …?crate=NAME` or `?user_id=ID`, with seek pagination (`per_page`, `seek`).
async fn list(
    app: &App,
    provider: Provider,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, ApiErr> {
    let per_page = match q.get("per_page") {
        None => DEFAULT_PER_PAGE,
        Some(p) => p
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ApiErr::bad("invalid value for `per_page`"))?,
    };
    if per_page > MAX_PER_PAGE {
        return Err(ApiErr::bad(format!(
            "cannot request more than {MAX_PER_PAGE} items"
        )));
    }
    // The seek value is opaque to clients: they pass on `meta.next_page`.
    let after = match q.get("seek") {
        None => 0,
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| ApiErr::bad("invalid seek parameter"))?,
    };
    let (filter, scope_param) = match (q.get("crate"), q.get("user_id")) {
        (Some(name), None) => (
            crate_filter(app, headers, name).await?,
            ("crate", name.clone()),
        ),
        (None, Some(id)) => (
            user_filter(app, headers, id).await?,
            ("user_id", id.clone()),
        ),
        (Some(_), Some(_)) => {
            return Err(ApiErr::bad(
                "Cannot specify both `crate` and `user_id` query parameters",
            ));
        }
        (None, None) => {
            return Err(ApiErr::bad(
                "Must specify either `crate` or `user_id` query parameter",
            ));
        }
    };
    let page = app
        .store
        .trust_configs(provider, &filter, after, per_page)
        .await?;
    if let ("crate", name) = (scope_param.0, &scope_param.1)
        && filter.crate_ids.is_empty()
        && page.total == 0
    {
        return Err(crate_missing(name));
    }
    let next_page = match page.configs.last() {
        Some(last) if page.configs.len() == per_page as usize => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(scope_param.0, &scope_param.1)
                .append_pair("per_page", &per_page.to_string())
                .append_pair("seek", &last.id.to_string())
                .finish();
            Some(format!("?{query}"))
        }
        _ => None,
    };
    let list: Vec<_> = page.configs.iter().map(json::config).collect();
    let key = format!("{}_configs", provider.as_str());
    let body =
        serde_json::json!({ key: list, "meta": {"total": page.total, "next_page": next_page} });
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// The configs of crate `name` (its owners only), or, while nobody has published it, the caller's
/// pending configs for that name.
async fn crate_filter(app: &App, headers: &HeaderMap, name: &str) -> Result<ConfigFilter, ApiErr> {
    let authed = auth::require_auth(app.store.as_ref(), headers).await?;
    authed.authorize(Scope::TrustedPublishing, name)?;
    Ok(match app.store.crate_by_name(name).await? {
        Some(info) => {
            if !app.store.is_owner(info.id, authed.user_id()).await? {
                return Err(ApiErr::bad(NOT_OWNER));
            }
            ConfigFilter {
                crate_ids: vec![info.id],
                ..ConfigFilter::default()
            }
        }
        None => ConfigFilter {
            pending_owner: Some(authed.user_id()),
            pending_canons: Some(vec![canonical_name(name)]),
            ..ConfigFilter::default()
        },
    })
}

/// The configs of every crate the caller owns and of its pending configs, narrowed to the crates
/// the token's patterns cover.
async fn user_filter(app: &App, headers: &HeaderMap, id: &str) -> Result<ConfigFilter, ApiErr> {
    let authed = auth::require_auth(app.store.as_ref(), headers).await?;
    reject_legacy(&authed)?;
    // Any crate pattern will do here: the listing is narrowed to the patterns below.
    let scoped = authed.token.scopes.iter().flatten();
    if !scoped
        .into_iter()
        .any(|s| s == Scope::TrustedPublishing.as_str())
    {
        return Err(auth::missing_scope());
    }
    if id.parse::<i64>().ok() != Some(authed.user_id()) {
        return Err(ApiErr::forbidden(
            "this action requires authentication as the specified user",
        ));
    }
    let patterns = &authed.token.crate_patterns;
    let covered =
        |name: &str| patterns.is_empty() || patterns.iter().any(|p| pattern_matches(p, name));
    let crate_ids = app
        .store
        .owned_crates(authed.user_id())
        .await?
        .into_iter()
        .filter(|c| covered(&c.name))
        .map(|c| c.id)
        .collect();
    let pending_canons = app
        .store
        .pending_names(authed.user_id())
        .await?
        .into_iter()
        .filter(|n| covered(n))
        .map(|n| canonical_name(&n))
        .collect();
    Ok(ConfigFilter {
        crate_ids,
        pending_owner: Some(authed.user_id()),
        pending_canons: Some(pending_canons),
        everything: false,
    })
}

/// crates.io's refusal of tokens without endpoint scopes where it wants scoped ones.
pub fn reject_legacy(authed: &Authed) -> Result<(), ApiErr> {
    match authed.token.scopes {
        Some(_) => Ok(()),
        None => Err(ApiErr::forbidden(
            "This endpoint cannot be used with legacy API tokens. Use a scoped API token instead.",
        )),
    }
}

pub async fn delete_github(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiErr> {
    delete(&app, Provider::GitHub, &id, &headers).await
}

pub async fn delete_gitlab(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiErr> {
    delete(&app, Provider::GitLab, &id, &headers).await
}

/// `DELETE …/{id}`: 204; the crate's owners (or the pending config's user) only.
async fn delete(
    app: &App,
    provider: Provider,
    id: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiErr> {
    let not_found = || ApiErr::not_found("Not Found");
    let id = id.parse::<i64>().map_err(|_| not_found())?;
    let config = app
        .store
        .trust_config(provider, id)
        .await?
        .ok_or_else(not_found)?;
    let authed = auth::require_auth(app.store.as_ref(), headers).await?;
    authed.authorize(Scope::TrustedPublishing, config.krate.name())?;
    let allowed = match &config.krate {
        ConfigCrate::Crate { id, .. } => app.store.is_owner(*id, authed.user_id()).await?,
        ConfigCrate::Pending { owner, .. } => owner.id == authed.user_id(),
    };
    if !allowed {
        return Err(ApiErr::bad(NOT_OWNER));
    }
    app.store.delete_trust_config(provider, id).await?;
    tracing::info!(
        krate = %config.krate.name(),
        provider = provider.as_str(),
        id,
        user = %authed.token.user.login,
        "trusted publishing config deleted"
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}
