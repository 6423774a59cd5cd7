//! The crate and version endpoints trusted publishing shows through: `PATCH /api/v1/crates/{name}`
//! (`trustpub_only`), `GET /api/v1/crates/{name}` (with `trustpub_only` and the versions) and
//! `GET /api/v1/crates/{name}/{version}` (with `trustpub_data`: which CI run published it).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::configs::reject_legacy;
use super::json as shapes;
use crate::app::App;
use crate::auth::{self, ReadAccess, Scope};
use crate::error::ApiErr;
use crate::store::CrateInfo;
use crate::store::trustpub::VersionDetails;

async fn find(app: &App, name: &str) -> Result<CrateInfo, ApiErr> {
    app.store
        .crate_by_name(name)
        .await?
        .ok_or_else(|| ApiErr::not_found(format!("crate `{name}` does not exist")))
}

/// The crate object, with crates.io's version summary fields.
async fn crate_json(
    app: &App,
    info: &CrateInfo,
    versions: &[VersionDetails],
) -> Result<Value, ApiErr> {
    let parsed = |yanked: bool| {
        versions
            .iter()
            .filter(move |v| v.yanked == yanked)
            .filter_map(|v| semver::Version::parse(&v.num).ok())
            .max()
    };
    // crates.io's default version: the highest non-yanked, else the highest.
    let default = parsed(false).or_else(|| parsed(true));
    let default_yanked = default.as_ref().is_some_and(|d| {
        versions
            .iter()
            .any(|v| v.yanked && semver::Version::parse(&v.num).ok().as_ref() == Some(d))
    });
    Ok(json!({
        "id": info.id,
        "name": info.name,
        "description": info.description,
        "max_version": default.as_ref().map(ToString::to_string),
        "default_version": default.as_ref().map(ToString::to_string),
        "newest_version": versions.last().map(|v| v.num.clone()),
        "num_versions": versions.len(),
        "yanked": default_yanked,
        "trustpub_only": app.store.trustpub_only(info.id).await?,
    }))
}

/// `GET /api/v1/crates/{name}`: `{"crate": {…}, "versions": [{…, "trustpub_data"}]}`.
pub async fn get_crate(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    _: ReadAccess,
) -> Result<Response, ApiErr> {
    let info = find(&app, &name).await?;
    let versions = app.store.version_details(info.id).await?;
    let krate = crate_json(&app, &info, &versions).await?;
    let list: Vec<_> = versions
        .iter()
        .rev()
        .map(|v| shapes::version(&info.name, v))
        .collect();
    Ok(Json(json!({"crate": krate, "versions": list})).into_response())
}

/// `GET /api/v1/crates/{name}/{version}`: `{"version": {…, "trustpub_data"}}`.
pub async fn get_version(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, String)>,
    _: ReadAccess,
) -> Result<Response, ApiErr> {
    let info = find(&app, &name).await?;
    let versions = app.store.version_details(info.id).await?;
    let Some(v) = versions.iter().find(|v| v.num == version) else {
        return Err(ApiErr::not_found(format!(
            "crate `{}` does not have a version `{version}`",
            info.name
        )));
    };
    Ok(Json(json!({"version": shapes::version(&info.name, v)})).into_response())
}

#[derive(Deserialize)]
struct PatchRequest {
    #[serde(rename = "crate")]
    krate: PatchCrate,
}

#[derive(Deserialize)]
struct PatchCrate {
    #[serde(default)]
    trustpub_only: Option<bool>,
}

/// `PATCH /api/v1/crates/{name}` with `{"crate": {"trustpub_only": true}}`: owners with a scoped
/// token holding `trusted-publishing` only; answers `{"crate": {…}}`.
pub async fn patch_crate(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiErr> {
    let info = find(&app, &name).await?;
    let authed = auth::require_auth(app.store.as_ref(), &headers).await?;
    authed.authorize(Scope::TrustedPublishing, &info.name)?;
    reject_legacy(&authed)?;
    let req: PatchRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiErr::bad(format!("invalid json request: {e}")))?;
    if !app.store.is_owner(info.id, authed.user_id()).await? {
        return Err(ApiErr::forbidden(
            "only owners have permission to modify crate settings",
        ));
    }
    if let Some(only) = req.krate.trustpub_only
        && only != app.store.trustpub_only(info.id).await?
    {
        app.store.set_trustpub_only(info.id, only).await?;
        tracing::info!(
            krate = %info.name,
            user = %authed.token.user.login,
            trustpub_only = only,
            "crate setting changed"
        );
    }
    let versions = app.store.version_details(info.id).await?;
    let krate = crate_json(&app, &info, &versions).await?;
    Ok(Json(json!({ "crate": krate })).into_response())
}
