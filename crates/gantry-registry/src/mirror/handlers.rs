//! The mirror's HTTP routes: its own `config.json` (downloads point back at this registry), index
//! files, `.crate` downloads, and a clear refusal of every write.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{MethodRouter, any, get};

use super::crates::Listed;
use super::metrics::bump;
use super::{Mirror, MirrorError, plausible_name};
use crate::app::App;
use crate::auth::ReadAccess;
use crate::blob::crate_key;
use crate::download::{crate_bytes_response, crate_response};
use crate::error::{ApiErr, one_line};
use crate::index::{cache_control, conditional};
use crate::index_cache::{name_in_index_path, respond};

/// The mirror's routes (mounted only with `--mirror`).
pub fn routes() -> Vec<(&'static str, MethodRouter<Arc<App>>)> {
    vec![
        ("/mirror/index/config.json", get(config_json)),
        ("/mirror/index/{*path}", get(index_file)),
        ("/mirror/crates/{name}/{version}/download", get(download)),
        ("/mirror/api/{*rest}", any(refuse_write)),
    ]
}

fn mirror(app: &App) -> Result<&Arc<Mirror>, ApiErr> {
    app.mirror
        .as_ref()
        .ok_or_else(|| ApiErr::not_found("this registry does not run a mirror"))
}

/// An upstream failure is a 502 that says what failed; a failure of our own storage is a 500.
fn failed(e: &MirrorError) -> ApiErr {
    if e.is_upstream() {
        ApiErr::new(StatusCode::BAD_GATEWAY, one_line(e))
    } else {
        ApiErr::internal(one_line(e))
    }
}

pub async fn config_json(
    State(app): State<Arc<App>>,
    _: ReadAccess,
    headers: HeaderMap,
) -> Result<Response, ApiErr> {
    mirror(&app)?;
    let body = serde_json::json!({
        "dl": format!("{}/mirror/crates", app.api_url()),
        // Present so that a publish aimed here gets the refusal below rather than cargo's
        // "does not support API commands".
        "api": format!("{}/mirror", app.api_url()),
        "auth-required": app.config.auth_required,
    })
    .to_string();
    Ok(conditional(
        &headers,
        body,
        "application/json",
        cache_control(&app),
    ))
}

pub async fn index_file(
    State(app): State<Arc<App>>,
    Path(path): Path<String>,
    _: ReadAccess,
    req: Request,
) -> Result<Response, ApiErr> {
    let mirror = mirror(&app)?;
    let headers = req.headers();
    // Only a crate's canonical lowercase path exists, as on the upstream.
    let Some(name) = name_in_index_path(&path).filter(|n| plausible_name(n)) else {
        return Err(ApiErr::not_found("not found"));
    };
    let file = mirror.index_file(name).await.map_err(|e| failed(&e))?;
    match &file.file {
        Some(f) => Ok(respond(headers, f, cache_control(&app))),
        None => Err(ApiErr::not_found(format!("crate `{name}` does not exist"))),
    }
}

pub async fn download(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, String)>,
    _: ReadAccess,
) -> Result<Response, ApiErr> {
    let mirror = mirror(&app)?;
    if !plausible_name(&name) || semver::Version::parse(&version).is_err() {
        return Err(ApiErr::not_found(format!(
            "crate `{name}` does not have a version `{version}`"
        )));
    }
    let lower = name.to_ascii_lowercase();
    let cksum = match mirror
        .listed(&lower, &version)
        .await
        .map_err(|e| failed(&e))?
    {
        Listed::Cksum(c) => c,
        Listed::NoVersion => {
            return Err(ApiErr::not_found(format!(
                "crate `{name}` does not have a version `{version}`"
            )));
        }
        Listed::NoCrate => {
            return Err(ApiErr::not_found(format!("crate `{name}` does not exist")));
        }
    };
    if cksum.len() == 64
        && let Some(reader) = app.blobs.open(&crate_key(&cksum)).await?
    {
        bump(&mirror.metrics.crate_hits);
        return Ok(crate_response(reader));
    }
    let bytes = mirror
        .fetch_crate(&name, &version, &cksum)
        .await
        .map_err(|e| failed(&e))?;
    Ok(crate_bytes_response(bytes))
}

/// Publish, yank, owners (anything under the mirror's API) are refused with the way to the hosted
/// registry.
pub async fn refuse_write(State(app): State<Arc<App>>) -> Result<Response, ApiErr> {
    let mirror = mirror(&app)?;
    Err(ApiErr::forbidden(format!(
        "this is a read-only mirror of {upstream}; it accepts no publish, yank or owner change. \
         Publish to the hosted registry instead: index {hosted} (e.g. `[registries.mine] index = \
         \"{hosted}\"` in .cargo/config.toml, then `cargo publish --registry mine`)",
        upstream = mirror.config.upstream.display(),
        hosted = app.index_url(),
    )))
}
