//! The `gantry-registry` binary: `serve`, `migrate`, `gc`, `mirror fetch`, and admin commands for
//! users and tokens.
#![allow(clippy::print_stdout, clippy::print_stderr)] // the binary is the terminal

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use gantry_registry::Config;
use gantry_registry::app::open_meta_store;
use gantry_registry::auth::{Scope, generate_token, hash_token};
use gantry_registry::config::S3Settings;
use gantry_registry::config::parse_duration;
use gantry_registry::gc::GcOptions;
use gantry_registry::index_cache::IndexCache;
use gantry_registry::mirror::config::CRATES_IO_SPARSE;
use gantry_registry::mirror::prefetch::{Outcome, fetch_all};
use gantry_registry::mirror::{Mirror, MirrorConfig, UpstreamUrl, lockfile};
use gantry_registry::store::{MetaStore, NewToken, now};

mod serve_cmd;
mod trust_cli;

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
    Serve(Box<serve_cmd::ServeArgs>),
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
    /// Manage trusted-publishing configs (which CI jobs may publish which crates).
    Trust {
        #[command(subcommand)]
        command: TrustCommand,
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
    Add {
        name: String,
        /// Read the user's password (for signing in to the web pages) from the first line of
        /// standard input; without it the user has no password (single sign-on, or set later with
        /// `user password`).
        #[arg(long)]
        password_stdin: bool,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Set a user's password from the first line of standard input.
    Password { name: String },
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

#[derive(Subcommand)]
enum TrustCommand {
    /// Let a GitHub Actions workflow or a GitLab CI file publish a crate.
    Add(TrustAddArgs),
    /// List configs (all, or one crate's).
    List {
        #[arg(long = "crate")]
        krate: Option<String>,
    },
    /// Remove a config: `trust remove github 3`.
    Remove {
        /// github or gitlab.
        provider: String,
        id: i64,
    },
}

#[derive(clap::Args)]
struct TrustAddArgs {
    #[arg(long = "crate")]
    krate: String,
    /// The GitHub repository, OWNER/REPO.
    #[arg(
        long,
        value_name = "OWNER/REPO",
        required_unless_present = "gitlab",
        conflicts_with = "gitlab"
    )]
    github: Option<String>,
    /// The GitLab project, NAMESPACE/PROJECT (the namespace may have subgroups).
    #[arg(long, value_name = "NAMESPACE/PROJECT")]
    gitlab: Option<String>,
    /// GitHub: the workflow's file name under .github/workflows/. GitLab: the CI file's path in
    /// the project (e.g. .gitlab-ci.yml).
    #[arg(long)]
    workflow: String,
    /// Only jobs running in this environment may publish.
    #[arg(long)]
    environment: Option<String>,
    /// GitHub's numeric id of the repository owner (recommended: otherwise the id the first
    /// exchange presents is recorded and required from then on).
    #[arg(long, value_name = "ID", conflicts_with = "gitlab")]
    owner_id: Option<i64>,
    /// For a crate nobody has published yet: the first trusted publish through this config
    /// creates it, owned by LOGIN (the config expires after 30 days unused).
    #[arg(long, value_name = "LOGIN")]
    pending_for: Option<String>,
}

#[derive(clap::Args)]
struct TokenNewArgs {
    #[arg(long)]
    user: String,
    /// publish-new, publish-update, yank, change-owners or trusted-publishing (repeatable).
    /// None: all.
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
        Command::Serve(args) => serve_cmd::serve(config, *args).await,
        Command::Migrate => migrate(&config).await,
        Command::User { command } => user(&config, command).await,
        Command::Token { command } => token(&config, command).await,
        Command::Trust { command } => trust_cli::run(&config, command).await,
        Command::Gc(args) => gc(&config, args).await,
        Command::Mirror {
            command: MirrorCommand::Fetch(args),
        } => mirror_fetch(&config, args).await,
    }
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
        UserCommand::Add {
            name,
            password_stdin,
            admin,
        } => {
            gantry_protocol::validate_crate_name(&name).map_err(|_| {
                anyhow::anyhow!("invalid login `{name}`: use ASCII letters, digits, `-`, `_`")
            })?;
            // Read and hash before creating, so a bad password leaves no half-made user.
            let hash = match password_stdin {
                true => Some(password_from_stdin()?),
                false => None,
            };
            let u = store.create_user(&name).await?;
            if let Some(hash) = hash {
                store.set_password(u.id, &hash).await?;
            }
            if admin {
                store.set_admin(u.id, true).await?;
            }
            let role = if admin { "administrator" } else { "user" };
            println!("created {role} `{}` (id {})", u.login, u.id);
        }
        UserCommand::Password { name } => {
            let u = store.user_by_login(&name).await?.with_context(|| {
                format!("no user `{name}`; run `gantry-registry user add {name}`")
            })?;
            store.set_password(u.id, &password_from_stdin()?).await?;
            println!("password of `{name}` set");
        }
        UserCommand::List => {
            for u in store.list_users().await? {
                println!("{}\t{}", u.id, u.login);
            }
        }
    }
    Ok(())
}

/// The first line of standard input, hashed with argon2id.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        bail!("no password on standard input (--password-stdin reads its first line)");
    }
    Ok(gantry_registry::accounts::hash_password(password)?)
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
