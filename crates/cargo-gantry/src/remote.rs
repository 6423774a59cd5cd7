//! Talking to a registry for the API commands (spec §8.1–8.4): which registry, its index and
//! `config.json` (with cargo's 401 dance for registries that require authentication), and its
//! credentials, with cargo's wording for every refusal.

use anyhow::{Context as _, anyhow, bail};
use gantry_client::auth::{Auth, AuthError, AuthorizationReason, Op, RegistryRef};
use gantry_client::credentials::{self, CRATES_IO};
use gantry_client::http;
use gantry_client::index::{Index, IndexError, RegistryConfig};
use gantry_client::webapi::WebApi;
use gantry_package::report::Reporter;

use crate::context::Context;
use crate::shell::Shell;

/// The sparse index cargo talks to for crates.io.
pub const CRATES_IO_SPARSE: &str = gantry_protocol::crates_io::SPARSE_INDEX;
/// crates.io's canonical index URL (lockfiles, the `registry` field of upload deps).
pub const CRATES_IO_CANONICAL: &str = gantry_protocol::crates_io::GIT_INDEX;

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

    /// The name credentials are stored under: the registry's own name, or for `--index` the
    /// configured registry with that index URL (cargo's lookup: `CARGO_REGISTRIES_<NAME>_INDEX`
    /// variables first, then `registries.*.index`; several matches are an error).
    fn credential_name(&self, ctx: &Context) -> Result<Option<String>, String> {
        if let Some(name) = &self.name {
            return Ok(Some(name.clone()));
        }
        let want = same_index(&self.index_url);
        let mut names: Vec<String> = ctx
            .config
            .env_vars()
            .filter_map(|(k, v)| {
                let name = k
                    .strip_prefix("CARGO_REGISTRIES_")?
                    .strip_suffix("_INDEX")?;
                (same_index(v) == want).then(|| name.to_lowercase())
            })
            .collect();
        if names.is_empty() {
            names = ctx
                .config
                .registry_names()
                .into_iter()
                .filter(|n| {
                    ctx.registry_index(n)
                        .is_some_and(|u| same_index(&u) == want)
                })
                .collect();
        }
        names.sort();
        names.dedup();
        match names.len() {
            0 => Ok(None),
            1 => Ok(names.pop()),
            _ => Err(format!(
                "multiple registries are configured with the same index url '{}': {}",
                self.index_url,
                names.join(", ")
            )),
        }
    }

    /// The registry as its credentials know it: crates.io by its canonical URL, others by the
    /// index URL as configured.
    pub fn registry_ref(&self, ctx: &Context) -> RegistryRef {
        let (credential_name, ambiguous) = match self.credential_name(ctx) {
            Ok(name) => (name, None),
            Err(msg) => (None, Some(msg)),
        };
        RegistryRef {
            index_url: self.canonical_url().to_owned(),
            key: self.name.clone(),
            credential_name,
            ambiguous,
        }
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

/// Index URLs compare as cargo's canonical form does here: without a trailing slash, scheme and
/// host in lower case.
fn same_index(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            format!(
                "{}://{}/{path}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            )
        }
        None => url.to_owned(),
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

/// A connected registry: index reader, `config.json`, credentials, and (once asked) the Web API.
pub struct Remote {
    pub target: Target,
    pub runtime: tokio::runtime::Runtime,
    pub client: reqwest::Client,
    pub index: Index,
    pub config: RegistryConfig,
    pub auth: Auth,
    /// Where a token can be had, when the index's 401 challenge said so.
    pub login_url: Option<String>,
}

pub fn user_agent(ctx: &Context) -> String {
    ctx.config
        .get_string("http.user-agent")
        .ok()
        .flatten()
        .map(|(v, _)| v)
        .unwrap_or_else(|| format!("cargo-gantry/{}", env!("CARGO_PKG_VERSION")))
}

/// The shell as the credential machinery's console.
struct ShellConsole(Shell);

impl gantry_client::auth::Console for ShellConsole {
    fn status(&self, word: &str, message: &str) {
        Reporter::status(&self.0, word, message);
    }
    fn warning(&self, message: &str) {
        Reporter::warning(&self.0, message);
    }
    fn note(&self, message: &str) {
        Reporter::note(&self.0, message);
    }
    fn verbose(&self) -> bool {
        Reporter::verbose(&self.0)
    }
}

impl Remote {
    /// Prints `Updating …` and reads `config.json`. A registry that answers 401 (or whose
    /// `config.json` says `auth-required`) is asked again with a token from the credential
    /// providers, as cargo does; `token_flag` (`--token`) then stands for every operation.
    pub fn connect(
        ctx: &Context,
        target: Target,
        token_flag: Option<&str>,
        shell: &Shell,
    ) -> anyhow::Result<Remote> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("failed to start the async runtime")?;
        let client = http::client(&user_agent(ctx), timeout(ctx)?)?;
        let auth = Auth::new(
            ctx.config.clone(),
            target.registry_ref(ctx),
            token_flag.map(str::to_owned),
            Box::new(ShellConsole(shell.clone())),
        );
        let retries = ctx
            .config
            .get_u32("net.retry")?
            .unwrap_or(gantry_client::sparse::DEFAULT_RETRIES);
        let warn_shell = shell.clone();
        let mut index = Index::open(client.clone(), &target.index_url)?.with_retries(
            retries,
            std::sync::Arc::new(move |m: &str| Reporter::warning(&warn_shell, m)),
        );
        shell.status("Updating", &target.describe());
        let mut login_url = None;
        let config = match runtime.block_on(index.config()) {
            Ok(config) if !config.auth_required => config,
            Ok(config) => {
                auth.set_auth_required();
                let token = auth.require_token(Op::Read, None)?;
                index = index.with_token(Some(token));
                config
            }
            // Like cargo, ask for credentials only once the registry says it needs them.
            Err(IndexError::Unauthorized {
                login_url: url,
                headers,
                ..
            }) => {
                auth.set_auth_required();
                login_url = url;
                let token = auth.index_token(headers, login_url.as_deref())?;
                index = index.with_token(Some(token));
                match runtime.block_on(index.config()) {
                    Err(e @ IndexError::Unauthorized { .. }) => {
                        let rejected = auth.authorization_error(
                            AuthorizationReason::TokenRejected,
                            login_url.as_deref(),
                        )?;
                        return Err(anyhow::Error::new(e).context(rejected));
                    }
                    other => other?,
                }
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Remote {
            target,
            runtime,
            client,
            index,
            config,
            auth,
            login_url,
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

    /// The token for `op` (`--token`, else the credential providers), or cargo's "no token found".
    pub fn token(&self, op: Op) -> anyhow::Result<String> {
        let token = self
            .auth
            .require_token(op, self.login_url.as_deref())
            .map_err(auth_error)?;
        credentials::validate_token(&token)?;
        Ok(token)
    }

    /// The token for `op` if there is one, without failing when there is none.
    pub fn lookup(&self, op: Op) -> anyhow::Result<Option<String>> {
        self.auth.token(op).map_err(auth_error)
    }
}

/// The credentials of the registry `--registry` (or the default) names, without going to it.
pub fn auth_for(ctx: &Context, registry: Option<&str>, shell: &Shell) -> anyhow::Result<Auth> {
    let target = select(ctx, registry, None)?;
    Ok(Auth::new(
        ctx.config.clone(),
        target.registry_ref(ctx),
        None,
        Box::new(ShellConsole(shell.clone())),
    ))
}

fn auth_error(e: AuthError) -> anyhow::Error {
    anyhow::Error::new(e)
}

fn timeout(ctx: &Context) -> anyhow::Result<std::time::Duration> {
    Ok(ctx
        .config
        .get_string("http.timeout")?
        .and_then(|(v, _)| v.parse().ok())
        .or_else(|| {
            ctx.config
                .env_var("HTTP_TIMEOUT")
                .and_then(|v| v.parse().ok())
        })
        .map(std::time::Duration::from_secs)
        .unwrap_or(http::DEFAULT_TIMEOUT))
}

/// How cargo names a registry source in messages: ``registry `crates-io` `` / ``registry `NAME` ``.
pub fn describe_source(target: &Target) -> String {
    if target.is_crates_io() {
        "registry `crates-io`".to_owned()
    } else {
        format!("registry `{}`", target.display())
    }
}

#[cfg(test)]
mod tests {
    use super::same_index;

    #[test]
    fn index_urls_compare_without_trailing_slash_and_case_of_host() {
        assert_eq!(
            same_index("sparse+HTTP://Reg.Example/index/"),
            same_index("sparse+http://reg.example/index")
        );
        assert_ne!(
            same_index("sparse+http://reg.example/Index/"),
            same_index("sparse+http://reg.example/index/")
        );
        assert_ne!(
            same_index("sparse+http://reg.example/a/"),
            same_index("http://reg.example/a/")
        );
    }
}
