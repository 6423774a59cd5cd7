//! Talking to a registry for the API commands (spec §8.1–8.4): which registry, its index and
//! `config.json`, and the token, with cargo's wording for every refusal.

use anyhow::{Context as _, anyhow, bail};
use gantry_client::credentials::{self, CRATES_IO, token_env_var};
use gantry_client::http;
use gantry_client::sparse::{IndexError, RegistryConfig, SparseIndex};
use gantry_client::webapi::WebApi;
use gantry_package::report::Reporter;

use crate::context::Context;

/// The sparse index cargo talks to for crates.io.
pub const CRATES_IO_SPARSE: &str = "sparse+https://index.crates.io/";
/// crates.io's canonical index URL (lockfiles, the `registry` field of upload deps).
pub const CRATES_IO_CANONICAL: &str = "https://github.com/rust-lang/crates.io-index";

/// The registry an API command talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `crates-io`, a configured name, or None for a bare `--index`.
    pub name: Option<String>,
    /// The index URL as configured or given (may carry `sparse+`).
    pub index_url: String,
}

impl Target {
    pub fn is_crates_io(&self) -> bool {
        self.name.as_deref() == Some(CRATES_IO)
    }

    /// How messages name it: ``registry `crates-io` `` style names or the URL.
    pub fn display(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.index_url)
    }

    /// What `Updating …` says.
    pub fn describe(&self) -> String {
        if self.is_crates_io() {
            "crates.io index".to_owned()
        } else {
            format!("`{}` index", self.display())
        }
    }

    /// The name credentials are stored under, if any.
    pub fn credential_name(&self, ctx: &Context) -> Option<String> {
        self.name.clone().or_else(|| {
            ctx.registry_name(&self.index_url)
                .or_else(|| ctx.registry_name(self.index_url.trim_start_matches("sparse+")))
        })
    }

    /// The `registry` value deps on this registry would carry in upload metadata.
    pub fn canonical_url(&self) -> &str {
        if self.is_crates_io() {
            CRATES_IO_CANONICAL
        } else {
            &self.index_url
        }
    }
}

/// Resolves a named registry to a target.
pub fn named(ctx: &Context, name: &str) -> anyhow::Result<Target> {
    if name == CRATES_IO {
        return Ok(Target {
            name: Some(CRATES_IO.to_owned()),
            index_url: crates_io_index(ctx)?,
        });
    }
    let index = ctx
        .registry_index(name)
        .ok_or_else(|| anyhow!("registry index was not found in any configuration: `{name}`"))?;
    Ok(Target {
        name: Some(name.to_owned()),
        index_url: index,
    })
}

fn crates_io_index(ctx: &Context) -> anyhow::Result<String> {
    if ctx.config.get_string("registry.index")?.is_some() {
        bail!(
            "the `registry.index` config value is no longer supported\nUse `[source]` replacement to alter the default index for crates.io."
        );
    }
    // cargo's test hook: its test suite's stand-in for crates.io (see `crates_io_test_index`).
    if let Some(url) = ctx.config.crates_io_test_index() {
        return Ok(url.to_owned());
    }
    Ok(CRATES_IO_SPARSE.to_owned())
}

/// `--registry`, `--index`, `registry.default`, else crates.io (refused when `[source]` replaces it).
pub fn select(
    ctx: &Context,
    registry: Option<&str>,
    index: Option<&str>,
) -> anyhow::Result<Target> {
    if let Some(name) = registry {
        return named(ctx, name);
    }
    if let Some(url) = index {
        return Ok(Target {
            name: None,
            index_url: url.to_owned(),
        });
    }
    if let Some((name, _)) = ctx.config.get_string("registry.default")? {
        return named(ctx, &name);
    }
    check_replacement(ctx)?;
    named(ctx, CRATES_IO)
}

/// Without `--registry`, a `[source]` replacement of crates.io makes API commands ambiguous.
pub fn check_replacement(ctx: &Context) -> anyhow::Result<()> {
    let Some((with, _)) = ctx.config.crates_io_replace_with()? else {
        return Ok(());
    };
    let remote = ctx
        .config
        .get_string(&format!("source.{with}.registry"))?
        .is_some()
        || ctx.registry_index(&with).is_some();
    if remote {
        bail!(
            "crates-io is replaced with remote registry {with};\ninclude `--registry {with}` or `--registry crates-io`"
        );
    }
    let described = ctx.config.crates_io_replacement()?.unwrap_or(with);
    bail!(
        "crates-io is replaced with non-remote-registry source {described};\ninclude `--registry crates-io` to use crates.io"
    )
}

/// A connected registry: index reader, `config.json`, and (once asked) the Web API.
pub struct Remote {
    pub target: Target,
    pub runtime: tokio::runtime::Runtime,
    pub client: reqwest::Client,
    pub index: SparseIndex,
    pub config: RegistryConfig,
}

pub fn user_agent(ctx: &Context) -> String {
    ctx.config
        .get_string("http.user-agent")
        .ok()
        .flatten()
        .map(|(v, _)| v)
        .unwrap_or_else(|| format!("cargo-gantry/{}", env!("CARGO_PKG_VERSION")))
}

impl Remote {
    /// [`connect`](Self::connect) for the commands with a `--token` flag: that token if given,
    /// else the one configured for reading this registry.
    pub fn connect_with_token_flag(
        ctx: &Context,
        target: Target,
        token_flag: Option<&str>,
        reporter: &dyn Reporter,
    ) -> anyhow::Result<Remote> {
        let lookup_target = target.clone();
        let token = || {
            token_flag
                .map(str::to_owned)
                .or_else(|| lookup(ctx, &lookup_target, Operation::READ).ok().flatten())
        };
        Remote::connect(ctx, target, &token, reporter)
    }

    /// Prints `Updating …` and reads `config.json`. `token` is asked for only if the index answers
    /// 401.
    pub fn connect(
        ctx: &Context,
        target: Target,
        token: &dyn Fn() -> Option<String>,
        reporter: &dyn Reporter,
    ) -> anyhow::Result<Remote> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("failed to start the async runtime")?;
        let timeout = ctx
            .config
            .get_string("http.timeout")?
            .and_then(|(v, _)| v.parse().ok())
            .or_else(|| {
                ctx.config
                    .env_var("HTTP_TIMEOUT")
                    .and_then(|v| v.parse().ok())
            })
            .map(std::time::Duration::from_secs)
            .unwrap_or(http::DEFAULT_TIMEOUT);
        let client = http::client(&user_agent(ctx), timeout)?;
        if !target.index_url.starts_with("sparse+") {
            bail!(
                "`{}` is a git index; cargo-gantry speaks only the sparse protocol (use a `sparse+` URL)",
                target.index_url
            );
        }
        reporter.status("Updating", &target.describe());
        let mut index = SparseIndex::new(client.clone(), &target.index_url);
        let config = match runtime.block_on(index.config()) {
            // Like cargo, ask for credentials only once the registry says it needs them.
            Err(IndexError::AuthRequired(_)) => {
                index = index.with_token(token());
                runtime.block_on(index.config())
            }
            other => other,
        }
        .with_context(|| format!("failed to update {}", describe_source(&target)))?;
        Ok(Remote {
            target,
            runtime,
            client,
            index,
            config,
        })
    }

    /// The API root, or cargo's refusal for an index without one.
    pub fn api_url(&self) -> anyhow::Result<String> {
        self.config.api.clone().ok_or_else(|| {
            anyhow!(
                "{} does not support API commands",
                describe_source(&self.target)
            )
        })
    }

    pub fn web_api(&self, token: Option<String>) -> anyhow::Result<WebApi> {
        Ok(WebApi::new(self.client.clone(), &self.api_url()?, token))
    }
}

fn describe_source(target: &Target) -> String {
    if target.is_crates_io() {
        "registry `crates-io`".to_owned()
    } else {
        format!("registry `{}`", target.display())
    }
}

/// The token for `target`: `--token`, else the `cargo:token` lookup (env, credentials, config),
/// else cargo's "no token found" error.
pub fn token(
    ctx: &Context,
    target: &Target,
    cli: Option<&str>,
    operation: Operation,
) -> anyhow::Result<String> {
    let token = match cli {
        Some(t) => t.to_owned(),
        None => match lookup(ctx, target, operation)? {
            Some(t) => t,
            None => return Err(missing_token(ctx, target)),
        },
    };
    credentials::validate_token(&token)?;
    Ok(token)
}

/// The stored token, if any, without failing when there is none.
pub fn lookup(
    ctx: &Context,
    target: &Target,
    operation: Operation,
) -> anyhow::Result<Option<String>> {
    lookup_with_checksum(ctx, target, operation, None)
}

/// The token for one upload: `--token`, else the provider asked for operation `publish` with the
/// crate's name, version and checksum (cargo's credential protocol), so a provider issuing
/// short-lived or per-crate tokens can answer each upload afresh.
pub fn publish_token(
    ctx: &Context,
    target: &Target,
    cli: Option<&str>,
    krate: (&str, &str),
    cksum: &str,
) -> anyhow::Result<String> {
    let op = Operation {
        name: "publish",
        krate: Some(krate),
    };
    let token = match cli {
        Some(t) => t.to_owned(),
        None => match lookup_with_checksum(ctx, target, op, Some(cksum))? {
            Some(t) => t,
            None => return Err(missing_token(ctx, target)),
        },
    };
    credentials::validate_token(&token)?;
    Ok(token)
}

fn lookup_with_checksum(
    ctx: &Context,
    target: &Target,
    operation: Operation,
    cksum: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let Some(name) = target.credential_name(ctx) else {
        return Ok(None);
    };
    match provider(ctx, &name)? {
        Provider::Token => Ok(credentials::find_token(&ctx.config, &name)?.map(|(t, _)| t)),
        Provider::FromStdout(cmd) => token_from_stdout(&cmd, target, &name).map(Some),
        Provider::Process(cmd) => {
            let req = gantry_client::provider::ProviderRequest {
                index_url: &target.index_url,
                registry_name: Some(&name),
                operation: operation.name,
                krate: operation.krate,
                cksum,
            };
            match gantry_client::provider::get_token(&cmd, &req)? {
                Some(t) => Ok(Some(t)),
                // Cargo falls back to the providers listed before; `cargo:token` is the default.
                None => Ok(credentials::find_token(&ctx.config, &name)?.map(|(t, _)| t)),
            }
        }
    }
}

/// What a credential provider is told the token is for.
#[derive(Clone, Copy)]
pub struct Operation<'a> {
    pub name: &'a str,
    pub krate: Option<(&'a str, &'a str)>,
}

impl Operation<'static> {
    pub const READ: Operation<'static> = Operation {
        name: "read",
        krate: None,
    };
}

enum Provider {
    Token,
    FromStdout(Vec<String>),
    Process(Vec<String>),
}

/// The registry's `credential-provider`, else `registry.global-credential-providers` (only its
/// last entry: cargo tries that one first), else `cargo:token`. `[credential-alias]` names resolve.
fn provider(ctx: &Context, name: &str) -> anyhow::Result<Provider> {
    let key = if name == CRATES_IO {
        "registry.credential-provider".to_owned()
    } else {
        format!("registries.{name}.credential-provider")
    };
    let value = match ctx.config.get_string(&key)? {
        Some((v, _)) => Some(v),
        None => ctx
            .config
            .get_string_list("registry.global-credential-providers")?
            .and_then(|l| l.last().cloned()),
    };
    let Some(value) = value else {
        return Ok(Provider::Token);
    };
    let mut words: Vec<String> = value.split_whitespace().map(str::to_owned).collect();
    if words.len() == 1
        && !words[0].starts_with("cargo:")
        && let Some((alias, _)) = ctx
            .config
            .get_string(&format!("credential-alias.{}", words[0]))?
    {
        words = alias.split_whitespace().map(str::to_owned).collect();
    }
    match words.first().map(String::as_str) {
        Some("cargo:token") | None => Ok(Provider::Token),
        Some("cargo:token-from-stdout") if words.len() > 1 => {
            Ok(Provider::FromStdout(words[1..].to_vec()))
        }
        Some(other) if other.starts_with("cargo:") => {
            bail!("credential provider `{other}` is not supported by cargo-gantry")
        }
        Some(_) => Ok(Provider::Process(words)),
    }
}

fn token_from_stdout(cmd: &[String], target: &Target, name: &str) -> anyhow::Result<String> {
    let index_url = target.index_url.as_str();
    let args: Vec<String> = cmd[1..]
        .iter()
        .map(|a| a.replace("{index_url}", index_url))
        .collect();
    let output = std::process::Command::new(&cmd[0])
        .args(&args)
        .env("CARGO_REGISTRY_INDEX_URL", index_url)
        .env("CARGO_REGISTRY_NAME_OPT", name)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("failed to execute `{}`", cmd[0]))?;
    if !output.status.success() {
        bail!("process `{}` returned status {}", cmd[0], output.status);
    }
    let text = String::from_utf8(output.stdout)
        .with_context(|| format!("process `{}` returned invalid UTF-8", cmd[0]))?;
    let mut lines = text.lines();
    let token = lines.next().unwrap_or("").trim().to_owned();
    if lines.next().is_some() {
        bail!(
            "process `{}` returned more than one line of output; expected a single token",
            cmd[0]
        );
    }
    Ok(token)
}

fn missing_token(ctx: &Context, target: &Target) -> anyhow::Error {
    match target.credential_name(ctx) {
        Some(name) if name == CRATES_IO => {
            let login = if ctx
                .config
                .get_string("registry.default")
                .ok()
                .flatten()
                .is_some()
            {
                "cargo login --registry crates-io"
            } else {
                "cargo login"
            };
            anyhow!(
                "no token found, please run `{login}`\nor use environment variable CARGO_REGISTRY_TOKEN"
            )
        }
        Some(name) => anyhow!(
            "no token found for `{name}`, please run `cargo login --registry {name}`\nor use environment variable {}",
            token_env_var(&name)
        ),
        None => anyhow!(
            "no token found for `{}`\nconsider setting up an alternate registry in Cargo's configuration\nas described by https://doc.rust-lang.org/cargo/reference/registries.html\n\n[registries]\nmy-registry = {{ index = \"{}\" }}\n",
            target.index_url,
            target.index_url
        ),
    }
}
