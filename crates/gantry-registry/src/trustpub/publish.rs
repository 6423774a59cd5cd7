//! What a trusted-publishing token may do at the publish endpoint (and nowhere else): add versions
//! to the crates whose configs matched at the exchange, and create a crate a matched pending config
//! names. The checks here run before anything is stored; the publish transaction repeats them.

use axum::http::{HeaderMap, StatusCode};
use gantry_protocol::canonical_name;

use super::token;
use crate::app::App;
use crate::error::ApiErr;
use crate::store::trustpub::TrustedToken;
use crate::store::{CrateInfo, PublishConflict, PublishRights, TrustedPublish};

/// crates.io's answer when such a token is used anywhere but the publish endpoint.
pub const ONLY_PUBLISHES: &str = "Trusted Publishing tokens can only be used for publishing crates";

/// A publish authenticated by a live trusted-publishing token.
#[derive(Debug, Clone)]
pub struct TrustedCaller {
    pub token: TrustedToken,
}

/// `Ok(Some(_))` when `Authorization` carries a live trusted-publishing token, `Ok(None)` when it
/// carries anything else (or nothing), an error for a malformed, expired or revoked one.
pub async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Option<TrustedCaller>, ApiErr> {
    let Some(presented) = token::presented(headers).filter(|t| token::is_trusted(t)) else {
        return Ok(None);
    };
    if !token::is_well_formed(presented) {
        return Err(ApiErr::new(
            StatusCode::UNAUTHORIZED,
            "Invalid `Authorization` header: Failed to parse token",
        ));
    }
    match app.store.trusted_token(&token::hash(presented)).await? {
        Some(token) => Ok(Some(TrustedCaller { token })),
        None => Err(ApiErr::forbidden("Invalid authentication token")),
    }
}

/// Whether `headers` carry a live trusted-publishing token: enough to read the index and download
/// (what cargo does around a publish) on a registry with `--auth-required`.
pub async fn grants_read(app: &App, headers: &HeaderMap) -> Result<bool, ApiErr> {
    Ok(authenticate(app, headers).await?.is_some())
}

pub fn cannot_create() -> ApiErr {
    ApiErr::forbidden(
        "Trusted Publishing tokens do not support creating new crates. Publish the crate \
         manually, first",
    )
}

pub fn not_valid_for(name: &str) -> ApiErr {
    ApiErr::forbidden(format!(
        "The provided access token is not valid for crate `{name}`"
    ))
}

/// An ordinary token publishing a crate whose owners switched `trustpub_only` on.
pub fn trustpub_only() -> ApiErr {
    ApiErr::forbidden(
        "New versions of this crate can only be published using Trusted Publishing (see \
         https://crates.io/docs/trusted-publishing).",
    )
}

/// The answers to the publish transaction's trusted-publishing refusals.
pub fn conflict(c: &PublishConflict) -> Option<ApiErr> {
    Some(match c {
        PublishConflict::TrustpubOnly => trustpub_only(),
        PublishConflict::NotTrustedFor(name) => not_valid_for(name),
        PublishConflict::TrustedCannotCreate => cannot_create(),
        PublishConflict::TrustedTokenGone => ApiErr::forbidden("Invalid authentication token"),
        _ => return None,
    })
}

impl TrustedCaller {
    fn may_create_canon(&self, canon: &str) -> bool {
        self.token.pending.iter().any(|g| g.canon == canon)
    }

    /// A new crate: only through a pending config the exchange matched.
    pub fn may_create(&self, name: &str) -> Result<(), ApiErr> {
        match self.may_create_canon(&canonical_name(name)) {
            true => Ok(()),
            false => Err(cannot_create()),
        }
    }

    /// A new version: only of a crate whose config the exchange matched.
    pub fn may_update(&self, existing: &CrateInfo) -> Result<(), ApiErr> {
        match self.token.crate_ids.contains(&existing.id) {
            true => Ok(()),
            false => Err(not_valid_for(&existing.name)),
        }
    }

    pub fn rights(&self, name: &str) -> PublishRights {
        PublishRights {
            new: self.may_create_canon(&canonical_name(name)),
            update: true,
        }
    }

    /// What the publish transaction checks again and records.
    pub fn record(&self) -> TrustedPublish {
        TrustedPublish {
            token_id: self.token.id,
            crate_ids: self.token.crate_ids.clone(),
            pending: self.token.pending.clone(),
            trustpub_data: self.token.trustpub_data.clone(),
        }
    }

    /// The CI run, for the log (`github owner/repo run 123`).
    pub fn describe(&self) -> String {
        let d: serde_json::Value =
            serde_json::from_str(&self.token.trustpub_data).unwrap_or_default();
        let s = |k: &str| d[k].as_str().unwrap_or("").to_owned();
        match s("provider").as_str() {
            "gitlab" => format!("gitlab {} job {}", s("project_path"), s("job_id")),
            p => format!("{p} {} run {}", s("repository"), s("run_id")),
        }
    }
}
