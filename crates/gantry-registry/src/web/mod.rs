//! The registry for people: server-rendered pages (maud templates, one hand-written stylesheet, no
//! JavaScript), browser sessions and sign-in, token self-service on `/me`, owner invitations, and
//! the crate information and download APIs the pages are built from.
//!
//! Handlers here are thin like the API's: read the session, ask the store, render. Nothing a
//! second instance must know is kept in process memory except download counts waiting for their
//! next flush (see [`crate::downloads`]).

pub mod background;
pub mod crate_page;
pub mod details;
pub mod home;
pub mod layout;
pub mod login;
pub mod me;
pub mod owners;
pub mod publisher;
pub mod readme;
pub mod session;
pub mod sso;
pub mod time;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{MethodRouter, get, post, put};

use crate::accounts::invitations;
use crate::app::App;
use crate::downloads::{self, DownloadCounter};
use crate::store::pages::RegistryCounts;
use crate::store::{MetaStore, StoreError};

/// Settings of the web side (flags of `serve`).
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// How long a browser session lasts.
    pub session_ttl_secs: i64,
    /// How often counted downloads are written to the database.
    pub downloads_flush: Duration,
    /// The name pages use for this registry in `cargo add --registry NAME` and `Cargo.toml`
    /// snippets (the `[registries.NAME]` users are told to configure).
    pub registry_name: String,
    /// Single sign-on; `None`: password sign-in only.
    pub sso: Option<sso::SsoConfig>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            session_ttl_secs: 12 * 3600,
            downloads_flush: Duration::from_secs(10),
            registry_name: "gantry".to_owned(),
            sso: None,
        }
    }
}

/// What the web side keeps per process.
#[derive(Default)]
pub struct WebState {
    pub downloads: DownloadCounter,
    /// The client for the identity provider, made on first use.
    sso_http: std::sync::OnceLock<reqwest::Client>,
    /// The start page's totals and when they were counted: counting 100,000 versions and their
    /// download rows on every visit costs more than totals a few seconds old are worth.
    counts: std::sync::Mutex<Option<(std::time::Instant, RegistryCounts)>>,
}

/// How long the start page's totals are reused.
pub const COUNTS_TTL: Duration = Duration::from_secs(10);

impl WebState {
    /// The registry's totals, counted at most every [`COUNTS_TTL`] by this instance.
    pub async fn counts(&self, store: &dyn MetaStore) -> Result<RegistryCounts, StoreError> {
        let cached = *self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, c)) = cached
            && at.elapsed() < COUNTS_TTL
        {
            return Ok(c);
        }
        let fresh = store.registry_counts().await?;
        *self.counts.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((std::time::Instant::now(), fresh));
        Ok(fresh)
    }

    pub fn sso_http(&self) -> Result<reqwest::Client, sso::SsoError> {
        if let Some(c) = self.sso_http.get() {
            return Ok(c.clone());
        }
        let c = sso::http_client().map_err(|e| sso::SsoError::Client(e.to_string()))?;
        Ok(self.sso_http.get_or_init(|| c).clone())
    }
}

/// Every route of the web side, for `router.rs`.
pub fn routes() -> Vec<(&'static str, MethodRouter<Arc<App>>)> {
    vec![
        ("/", get(home::home)),
        ("/search", get(home::search)),
        (layout::STYLESHEET_PATH, get(layout::stylesheet)),
        ("/crates/{name}", get(crate_page::newest)),
        ("/crates/{name}/{version}", get(crate_page::version)),
        (
            "/crates/{name}/owners",
            get(owners::manage).post(owners::change),
        ),
        ("/login", get(login::form).post(login::submit)),
        ("/logout", post(login::logout)),
        ("/login/sso", get(sso::start)),
        ("/login/sso/callback", get(sso::callback)),
        ("/me", get(me::show)),
        ("/me/tokens", post(me::create)),
        ("/me/tokens/{id}/revoke", post(me::revoke)),
        (
            "/me/invitations",
            get(owners::invitations_page).post(owners::answer),
        ),
        ("/api/v1/me/crate_owner_invitations", get(invitations::list)),
        (
            "/api/v1/me/crate_owner_invitations/{crate_id}",
            put(invitations::answer),
        ),
        (
            "/api/v1/crates/{name}/downloads",
            get(downloads::api::crate_downloads),
        ),
        (
            "/api/v1/crates/{name}/{version}/downloads",
            get(downloads::api::version_downloads),
        ),
    ]
}
