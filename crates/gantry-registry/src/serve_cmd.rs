//! `gantry-registry serve`: its flags, one block per feature, and how they become a [`Config`].

use std::net::SocketAddr;
use std::time::Duration;

use gantry_registry::Config;
use gantry_registry::config::{ConnLimits, parse_duration};
use gantry_registry::mirror::MirrorConfig;
use gantry_registry::ratelimit::{Bucket, RateLimits, parse_bucket};
use gantry_registry::server::start_with_signal;

use crate::{UpstreamArgs, flag_or_env};

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:8990")]
    listen: SocketAddr,
    /// Base URL clients use, e.g. https://crates.example.com (defaults to the listen address).
    #[arg(long)]
    public_url: Option<String>,
    /// Require a token for the index and downloads too.
    #[arg(long)]
    auth_required: bool,
    /// Maximum .crate size in bytes.
    #[arg(long, default_value_t = gantry_protocol::body::DEFAULT_MAX_UPLOAD_SIZE)]
    max_upload_size: u32,
    // Hardening (issue 12): rate limits, connection limits, tarball entries.
    /// Apply per-user rate limits, shared by all instances on one database; crates.io's numbers
    /// unless overridden below (new crates 5 then 1/10 min, updates 30 then 1/min, yanks 100 then
    /// 1/min).
    #[arg(long)]
    rate_limit: bool,
    /// Bucket for publishing new crates, BURST/PERIOD (e.g. 5/10m); implies --rate-limit.
    #[arg(long, value_name = "BURST/PERIOD", value_parser = parse_bucket)]
    rate_limit_new: Option<Bucket>,
    /// Bucket for new versions of existing crates (e.g. 30/1m); implies --rate-limit.
    #[arg(long, value_name = "BURST/PERIOD", value_parser = parse_bucket)]
    rate_limit_update: Option<Bucket>,
    /// Bucket for yanks and unyanks (e.g. 100/1m); implies --rate-limit.
    #[arg(long, value_name = "BURST/PERIOD", value_parser = parse_bucket)]
    rate_limit_yank: Option<Bucket>,
    /// Close a connection whose request head has not fully arrived this long after the
    /// connection became ready for it (slow-loris defence).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    header_read_timeout: Duration,
    /// Close a connection with no request in progress and no data moving for this long.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Answer 408 when a request body makes no progress for this long.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    body_timeout: Duration,
    /// Connections served at once; further ones wait until one closes.
    #[arg(long, default_value_t = gantry_registry::config::MAX_CONNECTIONS)]
    max_connections: usize,
    /// Most entries a .crate may hold; 0 for no limit.
    #[arg(long, default_value_t = gantry_registry::config::DEFAULT_MAX_TARBALL_ENTRIES)]
    max_tarball_entries: u64,
    // Pull-through mirror and index cache (issue 15).
    /// Also serve a read-only pull-through mirror of --mirror-upstream at /mirror/index/ (point
    /// `[source.crates-io] replace-with` at it). Downloads go through this registry and are
    /// verified and kept; the hosted registry keeps working beside it.
    #[arg(long)]
    mirror: bool,
    #[command(flatten)]
    upstream: UpstreamArgs,
    /// How long a mirrored index file is answered without asking the upstream (e.g. 300, 5m);
    /// older files are revalidated, and answered as they are while the upstream is slow or down.
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    mirror_ttl: Duration,
    /// Memory for rendered index files, hosted and mirrored (bytes, or with K, M or G); 0 turns
    /// the cache off.
    #[arg(long, default_value = "128M", value_parser = parse_size, value_name = "SIZE")]
    index_cache_size: usize,
    // Web pages, accounts and single sign-on (issue 14), then trusted publishing (issue 16).
    /// How long a browser sign-in lasts, in hours.
    #[arg(long, default_value_t = 12, value_name = "HOURS")]
    session_hours: u32,
    /// Seconds between writes of counted downloads to the database (each instance counts in
    /// memory and also writes when it stops).
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    downloads_flush_secs: u32,
    /// The registry name pages put in `cargo add --registry NAME` and `Cargo.toml` snippets.
    #[arg(long, default_value = "gantry", value_name = "NAME")]
    registry_name: String,
    /// Single sign-on for the web pages: the OpenID Connect issuer URL of your identity provider
    /// (its discovery document is `<URL>/.well-known/openid-configuration`); register
    /// `<public-url>/login/sso/callback` as the redirect URI there. (Trusted publishing's CI
    /// issuers are --oidc-issuer.)
    #[arg(long, value_name = "URL", requires = "sso_client_id")]
    sso_issuer: Option<String>,
    /// The registry's client id at the identity provider.
    #[arg(long, value_name = "ID", requires = "sso_issuer")]
    sso_client_id: Option<String>,
    /// The client secret [env: GANTRY_SSO_CLIENT_SECRET] (prefer the environment: flags show in
    /// process lists). Leave unset for a public client (PKCE only).
    #[arg(long, value_name = "SECRET")]
    sso_client_secret: Option<String>,
    /// Scopes to ask for besides `openid` (repeatable; default: profile, email).
    #[arg(long = "sso-scope", value_name = "SCOPE")]
    sso_scopes: Vec<String>,
    /// The ID token claim whose value becomes the login (preferred_username, email, sub …).
    #[arg(long, default_value = "preferred_username", value_name = "CLAIM")]
    sso_login_claim: String,
    /// The ID token claim listing the user's groups.
    #[arg(long, default_value = "groups", value_name = "CLAIM")]
    sso_groups_claim: String,
    /// Members of this group become administrators, others stop being ones (checked at every
    /// single sign-on); unset: single sign-on leaves the admin flag alone.
    #[arg(long, value_name = "GROUP")]
    sso_admin_group: Option<String>,
    /// Trusted publishing: where a CI provider's OIDC tokens come from, as PROVIDER=ISSUER_URL
    /// (repeatable). github=https://HOST/_services/token for GitHub Enterprise Server,
    /// gitlab=https://HOST for a self-managed GitLab, PROVIDER=off to refuse a provider.
    /// Defaults: github=https://token.actions.githubusercontent.com, gitlab=https://gitlab.com.
    #[arg(long = "oidc-issuer", value_name = "PROVIDER=URL")]
    oidc_issuers: Vec<String>,
    /// The audience (`aud`) trusted-publishing tokens must be issued for. Default: --public-url
    /// without its scheme (e.g. crates.example.com), which is what crates-io-auth-action and
    /// cargo gantry request for that registry URL.
    #[arg(long, value_name = "AUDIENCE")]
    trusted_publishing_audience: Option<String>,
}

/// `1048576`, `512K`, `128M`, `1G` → bytes.
fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1 << 10),
        Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("`{s}` is not a size; use e.g. 134217728, 128M or 1G"))
}

pub(crate) async fn serve(mut config: Config, args: ServeArgs) -> anyhow::Result<()> {
    config.listen = args.listen;
    config.public_url = args.public_url;
    config.auth_required = args.auth_required;
    config.max_upload_size = args.max_upload_size;
    let buckets = [
        args.rate_limit_new,
        args.rate_limit_update,
        args.rate_limit_yank,
    ];
    config.rate_limits = (args.rate_limit || buckets.iter().any(Option::is_some)).then(|| {
        let d = RateLimits::CRATES_IO;
        RateLimits {
            publish_new: args.rate_limit_new.unwrap_or(d.publish_new),
            publish_update: args.rate_limit_update.unwrap_or(d.publish_update),
            yank: args.rate_limit_yank.unwrap_or(d.yank),
        }
    });
    config.limits = ConnLimits {
        header_read_timeout: args.header_read_timeout,
        idle_timeout: args.idle_timeout,
        body_idle_timeout: args.body_timeout,
        max_connections: args.max_connections.max(1),
    };
    config.max_tarball_entries = (args.max_tarball_entries > 0).then_some(args.max_tarball_entries);
    config.mirror = args.mirror.then_some(MirrorConfig {
        upstream: args.upstream.mirror_upstream,
        ttl: args.mirror_ttl,
        upstream_timeout: args.upstream.mirror_upstream_timeout,
    });
    config.index_cache_bytes = args.index_cache_size;
    config.web.session_ttl_secs = i64::from(args.session_hours.max(1)) * 3600;
    config.web.downloads_flush =
        std::time::Duration::from_secs(args.downloads_flush_secs.max(1).into());
    config.web.registry_name = args.registry_name;
    if let (Some(issuer), Some(client_id)) = (args.sso_issuer, args.sso_client_id) {
        let mut sso = gantry_registry::web::sso::SsoConfig::new(&issuer, &client_id);
        sso.client_secret = flag_or_env(args.sso_client_secret, "GANTRY_SSO_CLIENT_SECRET");
        if !args.sso_scopes.is_empty() {
            sso.scopes = args.sso_scopes;
        }
        sso.login_claim = args.sso_login_claim;
        sso.groups_claim = args.sso_groups_claim;
        sso.admin_group = args.sso_admin_group;
        config.web.sso = Some(sso);
    }
    for spec in &args.oidc_issuers {
        config.trusted_publishing.set_issuer(spec)?;
    }
    config.trusted_publishing.audience = args.trusted_publishing_audience;
    let server = start_with_signal(config, Some(shutdown_signal())).await?;
    println!("gantry-registry listening on {}", server.addr);
    println!("index: {}", server.index_url());
    println!("api: {}", server.api_url());
    if server.app.mirror.is_some() {
        println!("mirror: sparse+{}/mirror/index/", server.api_url());
    }
    server.wait().await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
