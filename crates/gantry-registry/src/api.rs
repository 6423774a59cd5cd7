//! Web API handlers (`/api/v1/…`, `/me`), thin: parse, authorise, call the store, answer in
//! crates.io's shapes and texts.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_protocol::api::{Owner, OwnersRequest, SearchCrate, SearchMeta, SearchResponse};
use gantry_protocol::body::MAX_METADATA_LEN;
use gantry_protocol::{
    BodyLimits, Checksum, NewCrate, OkResponse, OwnersResponse, PublishResponse, canonical_name,
    decode_publish_body, format_pubtime, index_entry_from_publish, is_reserved_name,
    validate_crate_name, validate_metadata, validate_version,
};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::auth::{self, ReadAccess, Scope};
use crate::blob::{Stored, crate_key};
use crate::error::ApiErr;
use crate::index_cache::Namespace;
use crate::ratelimit::Action;
use crate::store::{
    self, CrateInfo, PublishConflict, PublishKind, PublishRecord, PublishRights, now,
};
use crate::trustpub::{self, publish::TrustedCaller};

const NOT_OWNER: &str = "this crate exists but you don't seem to be an owner. If you believe this is a mistake, perhaps you need to accept an invitation to be an owner before publishing.";
const MAX_SEARCH_PER_PAGE: u32 = 100;

fn already_uploaded(v: &str) -> ApiErr {
    ApiErr::bad(format!("crate version `{v}` is already uploaded"))
}

/// `PUT /api/v1/crates/new[?validate_only=true]`.
pub async fn publish(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiErr> {
    let validate_only = q
        .get("validate_only")
        .is_some_and(|v| v == "true" || v == "1");
    let publisher = Publisher::authenticate(&app, &headers).await?;

    let limits = BodyLimits {
        max_metadata_len: MAX_METADATA_LEN,
        max_upload_size: app.config.max_upload_size,
    };
    let max_body = 8 + limits.max_metadata_len as usize + limits.max_upload_size as usize;
    let bytes = axum::body::to_bytes(body, max_body)
        .await
        .map_err(|e| body_error(&e, limits.max_upload_size))?;
    let parts = decode_publish_body(&bytes, &limits).map_err(|e| {
        ApiErr::new(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            e.to_string(),
        )
    })?;
    let krate: NewCrate = serde_json::from_slice(parts.metadata_json)
        .map_err(|e| ApiErr::bad(format!("invalid upload request: {e}")))?;

    let name = validate_crate_name(&krate.name).map_err(|e| ApiErr::bad(e.to_string()))?;
    let version = validate_version(&krate.vers).map_err(|e| ApiErr::bad(e.to_string()))?;
    validate_metadata(&krate, &app.config.rules).map_err(|e| ApiErr::bad(e.to_string()))?;
    let kind = precheck(&app, &publisher, &krate.name, &version.without_build).await?;
    check_same_registry_deps(&app, &krate).await?;
    let tarball = Bytes::copy_from_slice(parts.tarball);
    verify_tarball(&app, &krate, tarball.clone()).await?;

    let response = Json(PublishResponse::default()).into_response();
    if validate_only {
        return Ok(response);
    }
    // Refused here, before anything is stored, when the bucket is already empty; the token is
    // taken inside the publish transaction, from the bucket of the kind that transaction decides.
    // Like crates.io, the per-user limits do not apply to trusted publishing: no user publishes.
    if let (Some(limits), Publisher::Token(authed)) = (app.config.rate_limits, &publisher) {
        let mut action = Action::publish(kind);
        let mut peek = app
            .store
            .peek_token(authed.user_id(), action, limits.bucket(action))
            .await?;
        // `precheck` saw no such crate, but a concurrent publish may have created it since (and
        // spent the new-crate token doing so): then this publish is an update, and only the
        // update bucket may refuse it early.
        if peek.is_err()
            && kind == PublishKind::New
            && app.store.crate_by_name(&krate.name).await?.is_some()
        {
            action = Action::publish(PublishKind::Update);
            peek = app
                .store
                .peek_token(authed.user_id(), action, limits.bucket(action))
                .await?;
        }
        peek.map_err(|at| rate_limited(action, at))?;
    }

    let cksum = Checksum::from_digest(Sha256::digest(&tarball).into());
    let published_at = now();
    let mut entry = index_entry_from_publish(&krate, &cksum);
    entry.vers = version.normalized.clone();
    entry.pubtime = Some(format_pubtime(published_at));
    store_blob(&app, cksum.as_str(), &tarball, published_at).await?;
    let rec = PublishRecord {
        name: krate.name.clone(),
        canon_name: name.canonical(),
        description: krate.description.clone(),
        publisher: publisher.record(),
        num: version.normalized.clone(),
        num_no_build: version.without_build.clone(),
        cksum: cksum.into_string(),
        index_line: entry.to_line(),
        now: published_at,
        rights: publisher.rights(&krate.name),
        rate_limits: app.config.rate_limits,
    };
    match app.store.publish(&rec).await {
        Ok(()) => {
            // Before answering 200: this instance must not serve the old file after that.
            app.index_cache
                .invalidate(Namespace::Hosted, &rec.canon_name);
            tracing::info!(krate = %rec.name, version = %rec.num, by = %publisher.describe(), "published");
            store_details(&app, &rec, tarball.to_vec()).await;
            Ok(response)
        }
        Err(c) if trustpub::publish::conflict(&c).is_some() => {
            Err(trustpub::publish::conflict(&c).unwrap_or_else(auth::missing_scope))
        }
        Err(PublishConflict::NotAllowed(_)) => Err(publisher.not_allowed()),
        Err(PublishConflict::NotOwner) => Err(ApiErr::forbidden(NOT_OWNER)),
        Err(PublishConflict::NameMismatch(orig)) => Err(previously_named(&orig)),
        Err(PublishConflict::VersionExists) => Err(already_uploaded(&version.without_build)),
        Err(PublishConflict::RateLimited { action, retry_at }) => {
            Err(rate_limited(action, retry_at))
        }
        Err(PublishConflict::Store(e)) => Err(e.into()),
        Err(c) => Err(ApiErr::internal(c)),
    }
}

/// Who publishes: a user with an API token, or a CI job with a trusted-publishing token.
enum Publisher {
    Token(auth::Authed),
    Trusted(TrustedCaller),
}

impl Publisher {
    async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Self, ApiErr> {
        match trustpub::publish::authenticate(app, headers).await? {
            Some(caller) => Ok(Publisher::Trusted(caller)),
            None => Ok(Publisher::Token(
                auth::require_auth(app.store.as_ref(), headers).await?,
            )),
        }
    }

    fn may_create(&self, name: &str) -> Result<(), ApiErr> {
        match self {
            Publisher::Token(authed) => authed.authorize(Scope::PublishNew, name),
            Publisher::Trusted(caller) => caller.may_create(name),
        }
    }

    async fn may_update(&self, app: &App, existing: &CrateInfo, name: &str) -> Result<(), ApiErr> {
        let authed = match self {
            Publisher::Token(authed) => authed,
            Publisher::Trusted(caller) => return caller.may_update(existing),
        };
        authed.authorize(Scope::PublishUpdate, name)?;
        if !app.store.is_owner(existing.id, authed.user_id()).await? {
            return Err(ApiErr::forbidden(NOT_OWNER));
        }
        if app.store.trustpub_only(existing.id).await? {
            return Err(trustpub::publish::trustpub_only());
        }
        Ok(())
    }

    /// The refusal when the transaction finds this publisher may not publish this kind.
    fn not_allowed(&self) -> ApiErr {
        match self {
            Publisher::Token(_) => auth::missing_scope(),
            Publisher::Trusted(_) => trustpub::publish::cannot_create(),
        }
    }

    fn rights(&self, name: &str) -> PublishRights {
        match self {
            Publisher::Token(authed) => authed.publish_rights(name),
            Publisher::Trusted(caller) => caller.rights(name),
        }
    }

    fn record(&self) -> store::Publisher {
        match self {
            Publisher::Token(authed) => store::Publisher::User(authed.user_id()),
            Publisher::Trusted(caller) => store::Publisher::Trusted(caller.record()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Publisher::Token(authed) => authed.token.user.login.clone(),
            Publisher::Trusted(caller) => caller.describe(),
        }
    }
}

/// Stores what the version's page shows. The version is committed already, so a failure here
/// only logs: the page fills the details in from the `.crate` when it is first shown.
async fn store_details(app: &App, rec: &PublishRecord, tarball: Vec<u8>) {
    let stored = async {
        let Some(krate) = app.store.crate_by_name(&rec.name).await? else {
            return Ok(());
        };
        let Some(id) = app.store.version_id(krate.id, &rec.num).await? else {
            return Ok(());
        };
        let (name, num) = (rec.name.clone(), rec.num.clone());
        crate::web::details::store(app.store.as_ref(), id, tarball, name, num, &rec.index_line)
            .await
    };
    if let Err(e) = stored.await {
        tracing::warn!(krate = %rec.name, version = %rec.num, error = %crate::error::one_line(&e), "storing page details");
    }
}

/// Why a publish body could not be read: too large (413), stalled (408), or cut off (400).
fn body_error(e: &axum::Error, max_upload_size: u32) -> ApiErr {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<tower_http::timeout::TimeoutError>() {
            return ApiErr::new(
                StatusCode::REQUEST_TIMEOUT,
                "timed out reading the request body: no data arrived for too long",
            );
        }
        if c.is::<http_body_util::LengthLimitError>() {
            return ApiErr::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("max upload size is: {max_upload_size}"),
            );
        }
        cause = c.source();
    }
    ApiErr::bad(format!("failed to read the request body: {e}"))
}

/// Stores the `.crate` before the version row can commit, so a visible version always has its
/// file. When the bytes were already stored (an earlier, failed attempt left them), the blob is
/// claimed first and put again: `gc` may have been about to remove it as an orphan, and the claim
/// makes it either keep the object or finish removing it before the second put recreates it.
async fn store_blob(app: &App, cksum: &str, tarball: &Bytes, now: i64) -> Result<(), ApiErr> {
    let key = crate_key(cksum);
    if app.blobs.put(&key, tarball.to_vec()).await? == Stored::Existed {
        app.store.claim_blob(cksum, now).await?;
        app.blobs.put(&key, tarball.to_vec()).await?;
    }
    Ok(())
}

fn previously_named(name: &str) -> ApiErr {
    ApiErr::bad(format!("crate was previously named `{name}`"))
}

/// The publish's checks against the crate as it is now, so that a refused publish stores nothing
/// (not even its blob). The publish transaction makes the same decisions again from what it sees,
/// and those count: another publish may create the crate in between.
async fn precheck(
    app: &App,
    publisher: &Publisher,
    name: &str,
    num_no_build: &str,
) -> Result<PublishKind, ApiErr> {
    let Some(existing) = app.store.crate_by_name(name).await? else {
        publisher.may_create(name)?;
        if is_reserved_name(name) {
            return Err(ApiErr::bad("cannot upload a crate with a reserved name"));
        }
        return Ok(PublishKind::New);
    };
    publisher.may_update(app, &existing, name).await?;
    if existing.name != name {
        return Err(previously_named(&existing.name));
    }
    if app.store.version_exists(existing.id, num_no_build).await? {
        return Err(already_uploaded(num_no_build));
    }
    Ok(PublishKind::Update)
}

/// Dependencies from this same registry must exist under exactly that name.
async fn check_same_registry_deps(app: &App, krate: &NewCrate) -> Result<(), ApiErr> {
    for dep in krate
        .deps
        .iter()
        .filter(|d| d.registry.as_deref().is_none_or(str::is_empty))
    {
        let known = app
            .store
            .crate_by_name(&dep.name)
            .await?
            .is_some_and(|c| c.name == dep.name);
        if !known {
            return Err(ApiErr::bad(format!("no known crate named `{}`", dep.name)));
        }
    }
    Ok(())
}

/// The `.crate` checks, off the async runtime (they decompress the whole archive).
async fn verify_tarball(app: &App, krate: &NewCrate, tarball: Bytes) -> Result<(), ApiErr> {
    let (name, vers, limit) = (
        krate.name.clone(),
        krate.vers.clone(),
        app.config.unpacked_limit(),
    );
    let limits = crate::tarball::TarballLimits {
        max_unpacked: limit,
        max_entries: app.config.max_tarball_entries,
    };
    tokio::task::spawn_blocking(move || {
        crate::tarball::verify_with(&tarball, &name, &vers, &limits)
    })
    .await
    .map_err(ApiErr::internal)?
    .map_err(|e| ApiErr::bad(e.to_string()))
}

/// crates.io's 429 for an empty bucket, with the date of the next token in `Retry-After`.
fn rate_limited(action: Action, at: std::time::SystemTime) -> ApiErr {
    // HTTP dates have whole seconds: round up, so a client that waits until the date we send
    // never comes back before the token is there (rounding down made clients retry early and
    // spend their retries on 429s within the last second).
    let at = crate::ratelimit::round_up_to_second(at);
    let mut e = ApiErr::new(StatusCode::TOO_MANY_REQUESTS, action.message(at));
    e.retry_after = Some(httpdate::fmt_http_date(at));
    e
}

async fn find_crate(app: &App, name: &str) -> Result<CrateInfo, ApiErr> {
    app.store
        .crate_by_name(name)
        .await?
        .ok_or_else(|| ApiErr::not_found(format!("crate `{name}` does not exist")))
}

async fn set_yank(
    app: Arc<App>,
    headers: HeaderMap,
    name: String,
    version: String,
    yanked: bool,
) -> Result<Response, ApiErr> {
    let authed = auth::require_auth(app.store.as_ref(), &headers).await?;
    let krate = find_crate(&app, &name).await?;
    authed.authorize(Scope::Yank, &krate.name)?;
    if !app.store.is_owner(krate.id, authed.user_id()).await? {
        return Err(ApiErr::forbidden(
            "must already be an owner to yank or unyank",
        ));
    }
    let num = semver::Version::parse(&version)
        .map(|v| v.to_string())
        .unwrap_or(version.clone());
    if let Some(limits) = app.config.rate_limits {
        let action = Action::YankUnyank;
        app.store
            .take_token(authed.user_id(), action, limits.bucket(action))
            .await?
            .map_err(|at| rate_limited(action, at))?;
    }
    if !app.store.set_yanked(krate.id, &num, yanked).await? {
        return Err(ApiErr::not_found(format!(
            "crate `{}` does not have a version `{version}`",
            krate.name
        )));
    }
    app.index_cache
        .invalidate(Namespace::Hosted, &canonical_name(&krate.name));
    tracing::info!(krate = %krate.name, version = %num, yanked, "yank state changed");
    Ok(Json(OkResponse {
        ok: true,
        msg: None,
    })
    .into_response())
}

pub async fn yank(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiErr> {
    set_yank(app, headers, name, version, true).await
}

pub async fn unyank(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiErr> {
    set_yank(app, headers, name, version, false).await
}

pub async fn download(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, String)>,
    _: ReadAccess,
) -> Result<Response, ApiErr> {
    let krate = find_crate(&app, &name).await?;
    let Some(row) = app.store.version_by_num(krate.id, &version).await? else {
        return Err(ApiErr::not_found(format!(
            "crate `{}` does not have a version `{version}`",
            krate.name
        )));
    };
    let reader = app
        .blobs
        .open(&crate_key(&row.cksum))
        .await?
        .ok_or_else(|| {
            ApiErr::internal(format!(
                "the .crate of {} {version} ({}) is missing from the blob store",
                krate.name, row.cksum
            ))
        })?;
    app.web.downloads.count(krate.id, &row.num);
    Ok(crate::download::crate_response(reader))
}

pub async fn owners_list(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    _: ReadAccess,
) -> Result<Response, ApiErr> {
    let krate = find_crate(&app, &name).await?;
    let users = app
        .store
        .owners(krate.id)
        .await?
        .into_iter()
        .map(|u| Owner {
            id: u.id.try_into().unwrap_or(0),
            login: u.login,
            name: None,
        })
        .collect();
    Ok(Json(OwnersResponse { users }).into_response())
}

async fn owners_change(
    app: Arc<App>,
    headers: HeaderMap,
    name: String,
    body: Bytes,
    add: bool,
) -> Result<Response, ApiErr> {
    let authed = auth::require_auth(app.store.as_ref(), &headers).await?;
    let krate = find_crate(&app, &name).await?;
    authed.authorize(Scope::ChangeOwners, &krate.name)?;
    if !app.store.is_owner(krate.id, authed.user_id()).await? {
        return Err(ApiErr::forbidden(
            "only owners have permission to modify owners",
        ));
    }
    let req: OwnersRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiErr::bad(format!("invalid json request: {e}")))?;
    if req.users.len() > 10 {
        return Err(ApiErr::bad(
            "too many invites for this request - maximum 10",
        ));
    }
    let msg = if add {
        // Like crates.io: an invitation the user accepts (or declines) within 30 days.
        crate::accounts::invitations::invite(&app, &krate, &authed.token.user, &req.users).await?
    } else {
        let mut ids = Vec::new();
        for login in &req.users {
            let user =
                app.store.user_by_login(login).await?.ok_or_else(|| {
                    ApiErr::bad(format!("could not find user with login `{login}`"))
                })?;
            ids.push(user.id);
        }
        if !app.store.remove_owners(krate.id, &ids).await? {
            return Err(ApiErr::bad(
                "cannot remove all individual owners of a crate. Team member don't have permission to modify owners, so at least one individual owner is required.",
            ));
        }
        "owners successfully removed".to_owned()
    };
    tracing::info!(krate = %krate.name, add, "owners changed");
    Ok(Json(OkResponse {
        ok: true,
        msg: Some(msg),
    })
    .into_response())
}

pub async fn owners_add(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiErr> {
    owners_change(app, headers, name, body, true).await
}

pub async fn owners_remove(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiErr> {
    owners_change(app, headers, name, body, false).await
}

pub async fn search(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
    _: ReadAccess,
) -> Result<Response, ApiErr> {
    let query = q.get("q").map(String::as_str).unwrap_or("");
    let per_page = match q.get("per_page") {
        None => 10,
        Some(p) => p
            .parse::<u32>()
            .map_err(|_| ApiErr::bad("invalid value for `per_page`"))?,
    };
    if per_page > MAX_SEARCH_PER_PAGE {
        return Err(ApiErr::bad(format!(
            "cannot request more than {MAX_SEARCH_PER_PAGE} items"
        )));
    }
    let (found, total) = app.store.search(query, per_page).await?;
    let mut crates = Vec::new();
    for c in found {
        let versions = app.store.versions(c.id).await?;
        let parsed = |yanked: bool| {
            versions
                .iter()
                .filter(move |v| v.yanked == yanked)
                .filter_map(|v| semver::Version::parse(&v.num).ok())
                .max()
        };
        // Like crates.io's default version: the highest non-yanked, else the highest.
        let max = parsed(false)
            .or_else(|| parsed(true))
            .map(|v| v.to_string())
            .unwrap_or_default();
        crates.push(SearchCrate {
            name: c.name,
            max_version: max,
            description: c.description,
        });
    }
    Ok(Json(SearchResponse {
        crates,
        meta: SearchMeta { total },
    })
    .into_response())
}
