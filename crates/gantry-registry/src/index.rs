//! The sparse index: `config.json` and per-crate files generated from the metadata store (never
//! appended), with ETag / `If-None-Match` revalidation and gzip. Generated files are kept in the
//! [`crate::index_cache`] until a publish or yank changes them.

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gantry_protocol::{IndexEntry, canonical_name};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::auth::ReadAccess;
use crate::error::ApiErr;
use crate::index_cache::{CachedFile, Namespace, name_in_index_path, prepare, respond};

pub fn cache_control(app: &App) -> &'static str {
    if app.config.auth_required {
        "private, no-cache"
    } else {
        "public, max-age=0, must-revalidate"
    }
}

pub async fn config_json(
    State(app): State<Arc<App>>,
    _: ReadAccess,
    headers: HeaderMap,
) -> Result<Response, ApiErr> {
    let body = serde_json::json!({
        "dl": format!("{}/api/v1/crates", app.api_url()),
        "api": app.api_url(),
        "auth-required": app.config.auth_required,
        // Capabilities for gantry clients (cargo ignores unknown keys): `validate-only` tells
        // `cargo gantry publish --dry-run` that `?validate_only=true` is honoured, so it may send
        // the real upload to be checked without it ever being stored.
        "gantry": {
            "validate-only": true,
            "max-upload-size": app.config.max_upload_size,
        },
    })
    .to_string();
    Ok(conditional(
        &headers,
        body,
        "application/json",
        cache_control(&app),
    ))
}

/// Builds a crate's index file from the store; `None` when the crate is unknown.
pub async fn render_index_file(app: &App, name: &str) -> Result<Option<String>, ApiErr> {
    let Some(krate) = app.store.crate_by_name(name).await? else {
        return Ok(None);
    };
    let rows = app.store.versions(krate.id).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut out = String::new();
    for row in rows {
        let mut entry: IndexEntry =
            serde_json::from_str(&row.index_line).map_err(ApiErr::internal)?;
        entry.yanked = row.yanked;
        out.push_str(&entry.to_line());
        out.push('\n');
    }
    Ok(Some(out))
}

/// The hot path: a cache hit reads no database and allocates only the response (the request's
/// headers are borrowed from the request rather than copied by the `HeaderMap` extractor).
pub async fn index_file(
    State(app): State<Arc<App>>,
    Path(path): Path<String>,
    _: ReadAccess,
    req: Request,
) -> Result<Response, ApiErr> {
    let headers = req.headers();
    // Only the canonical lowercase path of a crate exists.
    let Some(name) = name_in_index_path(&path) else {
        return Err(ApiErr::not_found("not found"));
    };
    // The path's name is lowercase: its canonical form differs only where it has a `-`.
    let canon: Cow<'_, str> = match name.contains('-') {
        true => Cow::Owned(canonical_name(name)),
        false => Cow::Borrowed(name),
    };
    let cached = match app.index_cache.get(Namespace::Hosted, &canon) {
        Some(hit) => hit,
        None => {
            let token = app.index_cache.token(Namespace::Hosted, &canon);
            let file = match render_index_file(&app, name).await? {
                Some(body) => prepare(Bytes::from(body), None).await,
                None => CachedFile::missing(None),
            };
            let file = Arc::new(file);
            app.index_cache
                .insert(Namespace::Hosted, &canon, file.clone(), token);
            file
        }
    };
    match &cached.file {
        Some(f) => Ok(respond(headers, f, cache_control(&app))),
        None => Err(ApiErr::not_found(format!("crate `{name}` does not exist"))),
    }
}

/// 200 with an ETag, or 304 when the client's `If-None-Match` already names this body.
pub(crate) fn conditional(
    headers: &HeaderMap,
    body: String,
    content_type: &'static str,
    cache: &'static str,
) -> Response {
    let etag = format!("\"{}\"", hex::encode(Sha256::digest(body.as_bytes())));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*")
        });
    let mut resp = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_response()
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if !matches {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    resp
}
