//! Crate information and download counts in crates.io's API shapes: `GET /api/v1/crates/{name}`,
//! `GET /api/v1/crates/{name}/downloads` (per day for 90 days: the five newest versions one by
//! one, the others summed in `meta.extra_downloads`) and `GET /api/v1/crates/{name}/{version}/downloads`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::App;
use crate::auth::ReadAccess;
use crate::error::ApiErr;
use crate::store::{CrateInfo, now};
use crate::web::time::{date, day_of, day_to_date, timestamp};

/// How far back the per-day lists go.
pub const DAYS: i64 = 90;
/// Versions listed one by one in the crate's per-day list; older ones go to `extra_downloads`.
const VERSIONS_BY_NAME: usize = 5;

async fn find(app: &App, name: &str) -> Result<CrateInfo, ApiErr> {
    app.store
        .crate_by_name(name)
        .await?
        .ok_or_else(|| ApiErr::not_found(format!("crate `{name}` does not exist")))
}

/// The highest version that is not yanked, else the highest (crates.io's default version).
pub fn default_version<'a>(versions: impl Iterator<Item = (&'a str, bool)> + Clone) -> String {
    let best = |yanked: bool| {
        versions
            .clone()
            .filter(move |(_, y)| *y == yanked)
            .filter_map(|(n, _)| semver::Version::parse(n).ok())
            .max()
    };
    best(false)
        .or_else(|| best(true))
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// `GET /api/v1/crates/{name}`.
pub async fn crate_info(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    _: ReadAccess,
) -> Result<Response, ApiErr> {
    let krate = find(&app, &name).await?;
    let versions = app.store.version_listing(krate.id).await?;
    let newest = default_version(versions.iter().map(|v| (v.num.as_str(), v.yanked != 0)));
    let total: i64 = versions.iter().map(|v| v.downloads).sum();
    let created = versions.first().map_or(0, |v| v.created_at);
    let updated = versions.last().map_or(0, |v| v.created_at);
    let list: Vec<_> = versions
        .iter()
        .rev()
        .map(|v| {
            json!({
                "id": v.id, "crate": krate.name, "num": v.num, "yanked": v.yanked != 0,
                "downloads": v.downloads, "created_at": timestamp(v.created_at),
                "published_by": v.published_by.as_ref().map(|l| json!({ "login": l })),
                "dl_path": format!("/api/v1/crates/{}/{}/download", krate.name, v.num),
            })
        })
        .collect();
    Ok(Json(json!({
        "crate": {
            "id": krate.name, "name": krate.name, "description": krate.description,
            "max_version": newest, "newest_version": newest, "default_version": newest,
            "downloads": total, "created_at": timestamp(created), "updated_at": timestamp(updated),
            "versions": versions.iter().rev().map(|v| v.id).collect::<Vec<_>>(),
        },
        "versions": list,
    }))
    .into_response())
}

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
