//! What the API tells about a crate and its versions, in crates.io's shapes:
//! `GET /api/v1/crates/{name}` (`{"crate": {…}, "versions": [{…}]}`) and
//! `GET /api/v1/crates/{name}/{version}` (`{"version": {…}}`). One handler per path serves what
//! two features add: download counts (the web side's batched counter) and, for versions a CI run
//! published through trusted publishing, `trustpub_data` plus the crate's `trustpub_only`.
//! `PATCH /api/v1/crates/{name}` (trusted publishing) answers with the same crate object.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::App;
use crate::auth::ReadAccess;
use crate::error::ApiErr;
use crate::store::CrateInfo;
use crate::store::pages::VersionListing;
use crate::web::time::timestamp;

pub async fn find(app: &App, name: &str) -> Result<CrateInfo, ApiErr> {
    app.store
        .crate_by_name(name)
        .await?
        .ok_or_else(|| ApiErr::not_found(format!("crate `{name}` does not exist")))
}

/// The highest version that is not yanked, else the highest (crates.io's default version).
pub fn default_version<'a>(versions: impl Iterator<Item = (&'a str, bool)> + Clone) -> String {
    highest(versions.clone(), |_| true, false)
        .or_else(|| highest(versions, |_| true, true))
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// The highest version with this yanked state that `keep` accepts.
fn highest<'a>(
    versions: impl Iterator<Item = (&'a str, bool)>,
    keep: impl Fn(&semver::Version) -> bool,
    yanked: bool,
) -> Option<semver::Version> {
    versions
        .filter(|(_, y)| *y == yanked)
        .filter_map(|(n, _)| semver::Version::parse(n).ok())
        .filter(|v| keep(v))
        .max()
}

/// The crate object. `max_version` is the highest version not yanked (`0.0.0` when all are, as
/// crates.io writes it), `max_stable_version` the same without pre-releases, `newest_version`
/// the one published last, `default_version` the one pages show.
pub async fn crate_json(
    app: &App,
    info: &CrateInfo,
    versions: &[VersionListing],
) -> Result<Value, ApiErr> {
    let nums = versions.iter().map(|v| (v.num.as_str(), v.yanked != 0));
    let default = default_version(nums.clone());
    let max = highest(nums.clone(), |_| true, false);
    let stable = highest(nums, |v| v.pre.is_empty(), false);
    let default_yanked = versions.iter().any(|v| v.num == default && v.yanked != 0);
    let total: i64 = versions.iter().map(|v| v.downloads).sum();
    let created = versions.first().map_or(0, |v| v.created_at);
    let updated = versions.last().map_or(0, |v| v.created_at);
    Ok(json!({
        "id": info.name,
        "name": info.name,
        "description": info.description,
        "default_version": (!default.is_empty()).then_some(&default),
        "max_version": max.map_or_else(|| "0.0.0".to_owned(), |v| v.to_string()),
        "max_stable_version": stable.map(|v| v.to_string()),
        "newest_version": versions.last().map(|v| v.num.clone()),
        "num_versions": versions.len(),
        "yanked": default_yanked,
        "downloads": total,
        "created_at": timestamp(created),
        "updated_at": timestamp(updated),
        "versions": versions.iter().rev().map(|v| v.id).collect::<Vec<_>>(),
        "trustpub_only": app.store.trustpub_only(info.id).await?,
    }))
}

/// One version object: who published it (a user, or no user and `trustpub_data` naming the CI
/// run), its downloads and checksum.
pub fn version_json(crate_name: &str, v: &VersionListing) -> Value {
    let published_by = v.publisher_id.zip(v.published_by.as_ref()).map(
        |(id, login)| json!({"id": id, "login": login, "name": null, "avatar": null, "url": null}),
    );
    let trustpub_data = v
        .trustpub_data
        .as_deref()
        .and_then(|d| serde_json::from_str::<Value>(d).ok());
    json!({
        "id": v.id,
        "crate": crate_name,
        "num": v.num,
        "dl_path": format!("/api/v1/crates/{crate_name}/{}/download", v.num),
        "yanked": v.yanked != 0,
        "created_at": timestamp(v.created_at),
        "updated_at": timestamp(v.created_at),
        "downloads": v.downloads,
        "checksum": v.cksum,
        "published_by": published_by,
        "trustpub_data": trustpub_data,
    })
}

/// `GET /api/v1/crates/{name}`.
pub async fn show(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    _: ReadAccess,
) -> Result<Response, ApiErr> {
    let info = find(&app, &name).await?;
    let versions = app.store.version_listing(info.id).await?;
    let krate = crate_json(&app, &info, &versions).await?;
    let list: Vec<_> = versions
        .iter()
        .rev()
        .map(|v| version_json(&info.name, v))
        .collect();
    Ok(Json(json!({"crate": krate, "versions": list})).into_response())
}

/// `GET /api/v1/crates/{name}/{version}`.
pub async fn version(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, String)>,
    _: ReadAccess,
) -> Result<Response, ApiErr> {
    let info = find(&app, &name).await?;
    let versions = app.store.version_listing(info.id).await?;
    let Some(v) = versions.iter().find(|v| v.num == version) else {
        return Err(ApiErr::not_found(format!(
            "crate `{}` does not have a version `{version}`",
            info.name
        )));
    };
    Ok(Json(json!({"version": version_json(&info.name, v)})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_version_prefers_the_highest_not_yanked() {
        let v = [("1.0.0", false), ("1.2.0", true), ("1.1.0", false)];
        assert_eq!(default_version(v.iter().copied()), "1.1.0");
        let all_yanked = [("1.0.0", true), ("0.9.0", true)];
        assert_eq!(default_version(all_yanked.iter().copied()), "1.0.0");
        assert_eq!(default_version([].iter().copied()), "");
        let pre = [("1.0.0", false), ("2.0.0-rc.1", false)];
        assert_eq!(
            highest(pre.iter().copied(), |v| v.pre.is_empty(), false)
                .unwrap()
                .to_string(),
            "1.0.0"
        );
    }
}
