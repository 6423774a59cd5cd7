//! Trusted publishing: CI jobs publish with no stored secret. A job presents its OIDC ID token
//! (GitHub Actions or GitLab CI, from the issuers `--oidc-issuer` names) to
//! `POST /api/v1/trusted_publishing/tokens`; if the token verifies and the repository, workflow
//! and environment match a config an owner registered, the registry answers with a token that
//! lives 30 minutes, can only publish, and only the crates whose configs matched. The API, the
//! claim checks and the messages are crates.io's, so crates.io's clients (cargo with the token,
//! `rust-lang/crates-io-auth-action` with `url:`) work unchanged.
//!
//! Beyond crates.io:
//! - **Issuers are configuration**: GitHub Enterprise Server, self-managed GitLab, test issuers.
//! - **Pending configs** (PyPI's "pending publishers"): `"pending": true` when creating a config
//!   for a crate nobody has published yet; the first publish through it creates the crate, owned
//!   by the user who registered the config, and the config becomes an ordinary one. Pending
//!   configs expire after [`PENDING_LIFETIME_SECS`]. A pending config does **not** reserve the
//!   name: an ordinary publish by anyone may still take it first, and from then on the pending
//!   config can never publish (unless its user is an owner of the crate that took the name, in
//!   which case it simply becomes that crate's config). This is PyPI's rule, chosen for the same
//!   reasons: registering a pending config costs nothing, so reservations would let any account
//!   hold any number of names for the whole expiry period, and a publish refused because of a
//!   reservation nobody can see would surprise every other user; while the only thing the rule
//!   costs the config's user is the name, never control over somebody else's crate.
//! - `config.json` advertises trusted publishing under `"gantry"` (see [`advertised`]), so
//!   `cargo gantry publish` knows it may do the exchange and which audience to ask for.
//!
//! Modules: `token` (the temporary token), `keys` (issuers, JWKS cache), `jwt` (verification,
//! claims), `validate` (config fields), `json` (config shapes); the handlers `exchange`,
//! `configs`, `crates` (`trustpub_only`); and `publish`, what the publish endpoint asks of a trusted caller.

pub mod configs;
pub mod crates;
pub mod exchange;
pub mod json;
pub mod jwt;
pub mod keys;
pub mod publish;
pub mod token;
pub mod validate;

use std::sync::Arc;

use axum::routing::{MethodRouter, delete, get, post};
use serde_json::{Value, json};

use crate::app::App;

/// crates.io's limit of configs per crate and provider.
pub const MAX_CONFIGS_PER_CRATE: usize = 5;
/// How long a pending config waits for its first publish: as long as an owner invitation lasts.
pub const PENDING_LIFETIME_SECS: i64 = 30 * 24 * 60 * 60;

/// The trusted-publishing routes, for `router.rs` to wrap and mount (`PATCH /api/v1/crates/{name}`
/// is mounted there, beside the crate's `GET`).
pub fn routes() -> Vec<(&'static str, MethodRouter<Arc<App>>)> {
    vec![
        (
            "/api/v1/trusted_publishing/tokens",
            post(exchange::exchange).delete(exchange::revoke),
        ),
        (
            "/api/v1/trusted_publishing/github_configs",
            get(configs::list_github).post(configs::create_github),
        ),
        (
            "/api/v1/trusted_publishing/github_configs/{id}",
            delete(configs::delete_github),
        ),
        (
            "/api/v1/trusted_publishing/gitlab_configs",
            get(configs::list_gitlab).post(configs::create_gitlab),
        ),
        (
            "/api/v1/trusted_publishing/gitlab_configs/{id}",
            delete(configs::delete_gitlab),
        ),
    ]
}

/// The `"trusted-publishing"` entry of `config.json`'s `"gantry"` object: `null` when no issuer
/// is accepted, else
/// `{"audience": "<aud>", "exchange": "<api>/api/v1/trusted_publishing/tokens",
///   "providers": {"github": "<issuer>", "gitlab": "<issuer>"}}` (only the accepted providers).
pub fn advertised(app: &App) -> Value {
    if app.trustpub.stores.is_empty() {
        return Value::Null;
    }
    let providers: serde_json::Map<String, Value> = app
        .trustpub
        .stores
        .iter()
        .map(|s| (s.provider.as_str().to_owned(), json!(s.issuer)))
        .collect();
    json!({
        "audience": app.trustpub.audience,
        "exchange": format!("{}/api/v1/trusted_publishing/tokens", app.api_url()),
        "providers": providers,
    })
}
