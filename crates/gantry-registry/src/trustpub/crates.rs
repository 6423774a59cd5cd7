//! `PATCH /api/v1/crates/{name}` with `trustpub_only`: a crate that only accepts trusted
//! publishing. The crate's `GET` endpoints, which show `trustpub_only` and each version's
//! `trustpub_data`, are [`crate::crate_info`]'s.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::configs::reject_legacy;
use crate::app::App;
use crate::auth::{self, Scope};
use crate::crate_info::{crate_json, find};
use crate::error::ApiErr;

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
    let versions = app.store.version_listing(info.id).await?;
    let krate = crate_json(&app, &info, &versions).await?;
    Ok(Json(json!({ "crate": krate })).into_response())
}
