//! Download counts per day in crates.io's API shapes (the totals are in [`crate::crate_info`]'s
//! crate and version objects): `GET /api/v1/crates/{name}/downloads` (per day for 90 days: the
//! five newest versions one by one, the others summed in `meta.extra_downloads`) and
//! `GET /api/v1/crates/{name}/{version}/downloads`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::App;
use crate::auth::ReadAccess;
use crate::crate_info::find;
use crate::error::ApiErr;
use crate::store::now;
use crate::web::time::{date, day_of, day_to_date};

/// How far back the per-day lists go.
pub const DAYS: i64 = 90;
/// Versions listed one by one in the crate's per-day list; older ones go to `extra_downloads`.
const VERSIONS_BY_NAME: usize = 5;

/// `GET /api/v1/crates/{name}/downloads`.
pub async fn crate_downloads(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    _: ReadAccess,
) -> Result<Response, ApiErr> {
    let krate = find(&app, &name).await?;
    let since = day_of(now()) - DAYS + 1;
    let days = app.store.daily_downloads(krate.id, since).await?;
    let mut ids: Vec<i64> = app
        .store
        .version_listing(krate.id)
        .await?
        .iter()
        .map(|v| v.id)
        .collect();
    ids.reverse();
    ids.truncate(VERSIONS_BY_NAME);
    let mut by_version = Vec::new();
    let mut extra: BTreeMap<i64, i64> = BTreeMap::new();
    for d in days {
        if ids.contains(&d.version_id) {
            by_version.push(json!({
                "version": d.version_id, "downloads": d.downloads, "date": day_to_date(d.day),
            }));
        } else {
            *extra.entry(d.day).or_insert(0) += d.downloads;
        }
    }
    let extra: Vec<_> = extra
        .into_iter()
        .map(|(day, n)| json!({ "date": day_to_date(day), "downloads": n }))
        .collect();
    Ok(Json(json!({
        "version_downloads": by_version,
        "meta": { "extra_downloads": extra },
    }))
    .into_response())
}

/// `GET /api/v1/crates/{name}/{version}/downloads`.
pub async fn version_downloads(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, String)>,
    _: ReadAccess,
) -> Result<Response, ApiErr> {
    let krate = find(&app, &name).await?;
    let Some(id) = app.store.version_id(krate.id, &version).await? else {
        return Err(ApiErr::not_found(format!(
            "crate `{}` does not have a version `{version}`",
            krate.name
        )));
    };
    let since = day_of(now()) - DAYS + 1;
    let list: Vec<_> = app
        .store
        .daily_downloads(krate.id, since)
        .await?
        .into_iter()
        .filter(|d| d.version_id == id)
        .map(|d| json!({ "version": id, "downloads": d.downloads, "date": day_to_date(d.day) }))
        .collect();
    Ok(Json(json!({ "version_downloads": list })).into_response())
}

/// Today's date as the per-day lists write it (for tests and pages).
pub fn today() -> String {
    date(now())
}
