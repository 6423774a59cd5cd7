//! The `gantry-registry` binary: `serve`, `migrate`, `gc`, `mirror fetch`, and admin commands for
//! users and tokens.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use gantry_registry::Config;
use gantry_registry::app::open_meta_store;
use gantry_registry::auth::{Scope, generate_token, hash_token};
use gantry_registry::config::S3Settings;
use gantry_registry::config::{ConnLimits, parse_duration};
use gantry_registry::gc::GcOptions;
use gantry_registry::index_cache::IndexCache;
use gantry_registry::mirror::config::CRATES_IO_SPARSE;
use gantry_registry::mirror::prefetch::{Outcome, fetch_all};
use gantry_registry::mirror::{Mirror, MirrorConfig, UpstreamUrl, lockfile};
use gantry_registry::ratelimit::{Bucket, RateLimits, parse_bucket};
use gantry_registry::server::start_with_signal;
use gantry_registry::store::{MetaStore, NewToken, now};

#[derive(Parser)]
#[command(
    name = "gantry-registry",
    version,
    about = "A self-hosted Cargo registry"
)]
struct Cli {
    /// Directory holding the database and the .crate files.
    #[arg(long, global = true, default_value = "./gantry-data")]
    data_dir: PathBuf,
    /// Metadata database: sqlite://PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DB
    /// [env: GANTRY_DATABASE_URL] (default: SQLite at <data-dir>/registry.sqlite).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Where .crate files live: file:///ABSOLUTE/PATH or s3://BUCKET[/PREFIX]
    /// [env: GANTRY_STORAGE_URL] (default: <data-dir>/blobs).
    #[arg(long, global = true)]
    storage_url: Option<String>,
    /// S3 endpoint URL for S3-compatible servers [env: AWS_ENDPOINT_URL] (default: AWS).
    #[arg(long, global = true)]
    s3_endpoint: Option<String>,
    /// S3 region [env: AWS_REGION] (default: us-east-1).
    #[arg(long, global = true)]
    s3_region: Option<String>,
    /// Allow a plain http:// S3 endpoint [env: AWS_ALLOW_HTTP]. Keys come only from
    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    s3_allow_http: Option<bool>,
    /// Database connection pool size per process (default: 4 for SQLite, 10 for PostgreSQL).
    #[arg(long, global = true)]
    db_max_connections: Option<u32>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the sparse index and the Web API.
    Serve(ServeArgs),
    /// Apply pending database migrations and print the schema version (every other command also
    /// migrates when it opens the database).
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Remove .crate files no version and no mirrored crate refers to (left by publishes that
    /// failed after storing their file). Safe while the registry serves, as long as the grace
    /// period is longer than a publish can take.
    Gc(GcArgs),
    /// The pull-through mirror (`serve --mirror`).
    Mirror {
        #[command(subcommand)]
        command: MirrorCommand,
    },
}

#[derive(clap::Args)]
struct GcArgs {
    /// Only files older than this are removed: 90s, 15m, 24h, 7d (default: gc::DEFAULT_GRACE).
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    grace: Duration,
    /// List what would be removed; change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Subcommand)]
enum MirrorCommand {
    /// Fetch ahead of time every crate the lockfiles name from the mirrored registry (index files
    /// and verified .crate files, into this registry's database and blob store), so builds work
    /// while the upstream is out of reach. Prints one line per crate and a summary; exits non-zero
    /// when any crate could not be fetched.
    Fetch(MirrorFetchArgs),
}

#[derive(clap::Args)]
struct MirrorFetchArgs {
    /// A Cargo.lock to read (repeatable).
    #[arg(long = "lockfile", required = true, value_name = "PATH")]
    lockfiles: Vec<PathBuf>,
    #[command(flatten)]
    upstream: UpstreamArgs,
    /// Crates fetched at the same time.
    #[arg(long, default_value_t = 8)]
    jobs: usize,
}

/// The mirror's upstream, shared by `serve --mirror` and `mirror fetch`.
#[derive(clap::Args)]
struct UpstreamArgs {
    /// The sparse registry to mirror.
    #[arg(long, default_value = CRATES_IO_SPARSE, value_parser = UpstreamUrl::parse, value_name = "URL")]
    mirror_upstream: UpstreamUrl,
    /// Bound on each upstream request (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    mirror_upstream_timeout: Duration,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user (login name).
    Add { name: String },
    /// List users.
    List,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once, as the last line of output.
    New(TokenNewArgs),
    /// List tokens (never the secrets).
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by id.
    Revoke { id: i64 },
}

#[derive(clap::Args)]
struct ServeArgs {
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

#[derive(clap::Args)]
struct TokenNewArgs {
    #[arg(long)]
    user: String,
    /// publish-new, publish-update, yank or change-owners (repeatable). None: all.
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Crate name pattern: `name`, `prefix*` or `*` (repeatable). None: all crates.
    #[arg(long = "crate")]
    crates: Vec<String>,
    #[arg(long)]
    expires_in: Option<u32>,
    #[arg(long, default_value = "cli")]
    name: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(cli))
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

/// The flag's value, else the environment variable's (unset and empty both mean "not given").
fn flag_or_env(flag: Option<String>, var: &str) -> Option<String> {
    flag.or_else(|| std::env::var(var).ok().filter(|v| !v.is_empty()))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::new(&cli.data_dir);
    config.database_url = flag_or_env(cli.database_url, "GANTRY_DATABASE_URL");
    config.storage_url = flag_or_env(cli.storage_url, "GANTRY_STORAGE_URL");
    // Unset S3 fields fall back to AWS_ENDPOINT_URL / AWS_REGION / AWS_ALLOW_HTTP and the keys.
    config.s3 = S3Settings {
        endpoint: cli.s3_endpoint,
        region: cli.s3_region,
        access_key_id: None,
        secret_access_key: None,
        allow_http: cli.s3_allow_http,
    };
    config.db_max_connections = cli.db_max_connections;
    // Check both URLs before connecting anywhere, so a typo is reported as such.
    config.database()?;
    config.storage()?;
    match cli.command {
        Command::Serve(args) => serve(config, args).await,
        Command::Migrate => migrate(&config).await,
        Command::User { command } => user(&config, command).await,
        Command::Token { command } => token(&config, command).await,
        Command::Gc(args) => gc(&config, args).await,
        Command::Mirror {
            command: MirrorCommand::Fetch(args),
        } => mirror_fetch(&config, args).await,
    }
}

async fn serve(mut config: Config, args: ServeArgs) -> anyhow::Result<()> {
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

async fn gc(config: &Config, args: GcArgs) -> anyhow::Result<()> {
    let (store, blobs) = gantry_registry::app::open_storage(config).await?;
    if args.grace < std::time::Duration::from_secs(gantry_registry::config::REQUEST_TIMEOUT_SECS) {
        eprintln!(
            "warning: a grace period of {}s is shorter than a publish may take; run this only while \
             no publish is running",
            args.grace.as_secs()
        );
    }
    let opts = GcOptions {
        grace: args.grace,
        dry_run: args.dry_run,
    };
    let report = gantry_registry::gc::collect(
        store.as_ref(),
        blobs.as_ref(),
        opts,
        std::time::SystemTime::now(),
    )
    .await
    .context("garbage collection stopped; what it removed so far stays removed")?;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for key in &report.removed {
        println!("{verb} {key}");
    }
    println!(
        "{} .crate files: {} in use, {} unreferenced but younger than {}s, {} claimed by a \
         running publish or mirror fetch; {verb} {} ({} bytes); {} stale temp files removed",
        report.listed,
        report.referenced,
        report.young,
        args.grace.as_secs(),
        report.kept_in_use,
        report.removed.len(),
        report.removed_bytes,
        report.temp_files_removed
    );
    Ok(())
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = open_meta_store(config).await?;
    let version = store.schema_version().await?.unwrap_or(0);
    println!(
        "database {} is at schema version {version}",
        config.database()?.display()
    );
    Ok(())
}

async fn user(config: &Config, command: UserCommand) -> anyhow::Result<()> {
    let store = open_meta_store(config).await?;
    match command {
        UserCommand::Add { name } => {
            gantry_protocol::validate_crate_name(&name).map_err(|_| {
                anyhow::anyhow!("invalid login `{name}`: use ASCII letters, digits, `-`, `_`")
            })?;
            let u = store.create_user(&name).await?;
            println!("created user `{}` (id {})", u.login, u.id);
        }
        UserCommand::List => {
            for u in store.list_users().await? {
                println!("{}\t{}", u.id, u.login);
            }
        }
    }
    Ok(())
}

async fn token(config: &Config, command: TokenCommand) -> anyhow::Result<()> {
    let store = open_meta_store(config).await?;
    match command {
        TokenCommand::New(args) => token_new(store.as_ref(), args).await,
        TokenCommand::List { user } => token_list(store.as_ref(), user).await,
        TokenCommand::Revoke { id } => {
            if !store.revoke_token(id).await? {
                bail!("no token with id {id}");
            }
            println!("revoked token {id}");
            Ok(())
        }
    }
}

async fn token_new(store: &dyn MetaStore, args: TokenNewArgs) -> anyhow::Result<()> {
    let TokenNewArgs {
        user,
        scopes,
        crates,
        expires_in,
        name,
    } = args;
    let u = store
        .user_by_login(&user)
        .await?
        .with_context(|| format!("no user `{user}`; run `gantry-registry user add {user}`"))?;
    for s in &scopes {
        if !Scope::ALL.contains(&s.as_str()) {
            bail!(
                "unknown scope `{s}`; expected one of {}",
                Scope::ALL.join(", ")
            );
        }
    }
    let token = generate_token();
    let new = NewToken {
        user_id: u.id,
        name,
        hash: hash_token(&token),
        scopes: (!scopes.is_empty()).then_some(scopes),
        crate_patterns: crates,
        expires_at: expires_in.map(|days| now() + i64::from(days) * 86_400),
    };
    let id = store.create_token(&new).await?;
    println!("created token {id} for `{user}`; it is shown only once:");
    println!("{token}");
    Ok(())
}

async fn token_list(store: &dyn MetaStore, user: Option<String>) -> anyhow::Result<()> {
    let uid = match user {
        Some(l) => Some(
            store
                .user_by_login(&l)
                .await?
                .with_context(|| format!("no user `{l}`"))?
                .id,
        ),
        None => None,
    };
    for t in store.list_tokens(uid).await? {
        let scopes = t
            .scopes
            .map(|s| s.join(","))
            .unwrap_or_else(|| "all".into());
        let crates = if t.crate_patterns.is_empty() {
            "*".into()
        } else {
            t.crate_patterns.join(",")
        };
        let state = if t.revoked { "revoked" } else { "active" };
        let exp = t
            .expires_at
            .map(|e| e.to_string())
            .unwrap_or_else(|| "never".into());
        println!(
            "{}\t{}\t{}\tscopes={scopes}\tcrates={crates}\texpires={exp}\t{state}",
            t.id, t.user.login, t.name
        );
    }
    Ok(())
}

async fn mirror_fetch(config: &Config, args: MirrorFetchArgs) -> anyhow::Result<()> {
    let upstream = args.upstream.mirror_upstream;
    let mut packages = Vec::new();
    let mut skipped = 0;
    for path in &args.lockfiles {
        let set = lockfile::read(path, &upstream)?;
        skipped += set.skipped;
        packages.extend(set.packages);
    }
    packages.sort();
    packages.dedup();
    let (store, blobs) = gantry_registry::app::open_storage(config).await?;
    blobs.ping().await?;
    let mirror_config = MirrorConfig {
        upstream: upstream.clone(),
        upstream_timeout: args.upstream.mirror_upstream_timeout,
        ..MirrorConfig::default()
    };
    // No memory worth keeping in a one-shot command.
    let cache = Arc::new(IndexCache::new(0));
    let mirror = Arc::new(Mirror::new(mirror_config, store, blobs, cache)?);
    let total = packages.len();
    eprintln!(
        "fetching {total} crates from {} ({skipped} lockfile entries from elsewhere left alone)",
        upstream.display()
    );
    let mut done = 0;
    let width = total.to_string().len();
    let summary = fetch_all(mirror, packages, args.jobs, |p, outcome| {
        done += 1;
        let what = match outcome {
            Outcome::Fetched(n) => format!("fetched {} {} ({})", p.name, p.version, human(*n)),
            Outcome::Present => format!("present {} {}", p.name, p.version),
            Outcome::Failed(why) => format!("FAILED  {} {}: {why}", p.name, p.version),
        };
        eprintln!("[{done:>width$}/{total}] {what}");
    })
    .await;
    println!(
        "{} fetched ({}), {} already present, {} failed",
        summary.fetched,
        human(summary.fetched_bytes),
        summary.present,
        summary.failed
    );
    if summary.failed > 0 {
        bail!(
            "{} of {total} crates could not be fetched (see the lines marked FAILED above)",
            summary.failed
        );
    }
    Ok(())
}

fn human(bytes: u64) -> String {
    match bytes {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / f64::from(1 << 10)),
        n => format!("{n} B"),
    }
}
