//! Talking to a registry for the API commands (spec §8.1–8.4): which registry, its index and
//! `config.json` (with cargo's 401 dance for registries that require authentication), and its
//! credentials, with cargo's wording for every refusal.

use anyhow::{Context as _, anyhow, bail};
use gantry_client::auth::{Auth, AuthError, AuthorizationReason, Op, RegistryRef};
use gantry_client::credentials::{self, CRATES_IO};
use gantry_client::git::{GitOptions, Verbosity as GitVerbosity};
use gantry_client::http;
use gantry_client::index::{Index, IndexError, RegistryConfig};
use gantry_client::webapi::WebApi;
use gantry_package::Reporter;

use crate::context::{Context, validate_index_url, validate_registry_name};
use crate::shell::{Shell, Verbosity};

/// The sparse index cargo talks to for crates.io.
pub(crate) const CRATES_IO_SPARSE: &str = gantry_protocol::crates_io::SPARSE_INDEX;
/// crates.io's canonical index URL (lockfiles, the `registry` field of upload deps).
pub(crate) const CRATES_IO_CANONICAL: &str = gantry_protocol::crates_io::GIT_INDEX;

/// The registry an API command talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// `crates-io`, a configured name, or None for a bare `--index`.
    pub name: Option<String>,
    /// The index URL as configured or given (may carry `sparse+`).
    pub index_url: String,
}

impl Target {
    pub(crate) fn is_crates_io(&self) -> bool {
        self.name.as_deref() == Some(CRATES_IO)
    }

    /// How messages name it: ``registry `crates-io` `` style names, or the URL (a `file://` URL
    /// as its path, as cargo shows it).
    pub(crate) fn display(&self) -> &str {
        match &self.name {
            Some(name) => name,
            None => file_url_path(&self.index_url).unwrap_or(&self.index_url),
        }
    }

    /// What `Updating …` says.
    pub(crate) fn describe(&self) -> String {
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
    pub(crate) fn registry_ref(&self, ctx: &Context) -> RegistryRef {
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
    pub(crate) fn canonical_url(&self) -> &str {
        if self.is_crates_io() {
            CRATES_IO_CANONICAL
        } else {
            &self.index_url
        }
    }
}

/// The path of a `file://` URL (cargo shows local indexes by path).
fn file_url_path(url: &str) -> Option<&str> {
    url.strip_prefix("file://").filter(|p| p.starts_with('/'))
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

/// An `--index` URL's target: crates.io when it is crates.io's index (cargo compares index URLs,
/// so naming crates.io's index names crates.io, with its rules and messages), else an unnamed
/// registry.
pub(crate) fn index_target(ctx: &Context, url: &str) -> Target {
    let crates_io = [CRATES_IO_SPARSE, CRATES_IO_CANONICAL]
        .into_iter()
        .chain(ctx.config.crates_io_test_index())
        .any(|c| same_index(c) == same_index(url));
    Target {
        name: crates_io.then(|| CRATES_IO.to_owned()),
        index_url: url.to_owned(),
    }
}

/// Resolves a named registry to a target.
pub(crate) fn named(ctx: &Context, name: &str) -> anyhow::Result<Target> {
    if name == CRATES_IO {
        return Ok(Target {
            name: Some(CRATES_IO.to_owned()),
            index_url: crates_io_index(ctx)?,
        });
    }
    let index = ctx
        .registry_index(name)
        .ok_or_else(|| anyhow!("registry index was not found in any configuration: `{name}`"))?;
    reject_password(ctx, name, &index)?;
    Ok(Target {
        name: Some(name.to_owned()),
        index_url: index,
    })
}

fn crates_io_index(ctx: &Context) -> anyhow::Result<String> {
    reject_registry_index(ctx)?;
    // cargo's test hook: its test suite's stand-in for crates.io (see `crates_io_test_index`).
    if let Some(url) = ctx.config.crates_io_test_index() {
        return Ok(url.to_owned());
    }
    // `registries.crates-io.protocol = "git"`: cargo then reads crates.io's git index.
    if ctx.crates_io_git()? {
        return Ok(CRATES_IO_CANONICAL.to_owned());
    }
    Ok(CRATES_IO_SPARSE.to_owned())
}

/// cargo's pre-1.x setting for crates.io's index: refused with what to use instead, before anything
/// else is said about crates.io.
fn reject_registry_index(ctx: &Context) -> anyhow::Result<()> {
    if ctx.config.get_string("registry.index")?.is_some() {
        bail!(
            "the `registry.index` config value is no longer supported\nUse `[source]` replacement to alter the default index for crates.io."
        );
    }
    Ok(())
}

/// A configured index URL with a password is refused (cargo would otherwise show it in messages
/// and store it in lockfiles).
fn reject_password(ctx: &Context, name: &str, index: &str) -> anyhow::Result<()> {
    let bare = index.strip_prefix("sparse+").unwrap_or(index);
    if !reqwest::Url::parse(bare).is_ok_and(|u| u.password().is_some()) {
        return Ok(());
    }
    let origin = match ctx.config.get_string(&format!("registries.{name}.index"))? {
        Some((_, gantry_client::config::Origin::File(path))) => path.display().to_string(),
        Some((_, other)) => other.to_string(),
        None => "configuration".to_owned(),
    };
    Err(
        anyhow!("registry URLs may not contain passwords").context(format!(
            "invalid index URL for registry `{name}` defined in {origin}"
        )),
    )
}

/// `--registry`, `--index`, `registry.default`, else crates.io (refused when `[source]` replaces it).
pub(crate) fn select(
    ctx: &Context,
    registry: Option<&str>,
    index: Option<&str>,
) -> anyhow::Result<Target> {
    if let Some(name) = registry {
        validate_registry_name(name)?;
        return named(ctx, name);
    }
    if let Some(url) = index {
        validate_index_url(url)?;
        return Ok(index_target(ctx, url));
    }
    if let Some((name, _)) = ctx.config.get_string("registry.default")? {
        validate_registry_name(&name)?;
        return named(ctx, &name);
    }
    reject_registry_index(ctx)?;
    check_replacement(ctx)?;
    named(ctx, CRATES_IO)
}

/// Without `--registry`, a `[source]` replacement of crates.io makes API commands ambiguous.
pub(crate) fn check_replacement(ctx: &Context) -> anyhow::Result<()> {
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
pub(crate) struct Remote {
    pub target: Target,
    pub runtime: tokio::runtime::Runtime,
    pub client: reqwest::Client,
    pub index: Index,
    pub config: RegistryConfig,
    pub auth: Auth,
    /// Where a token can be had, when the index's 401 challenge said so.
    pub login_url: Option<String>,
    /// The read token once a provider has given it: cargo asks for it once per command, and a
    /// provider that does not cache (or prompts) must not be asked again for gantry's own checks.
    read_token: std::sync::OnceLock<String>,
}

/// The client as cargo's `[http]` settings shape it: `user-agent`, `timeout` (or `HTTP_TIMEOUT`),
/// `proxy`; each of the wrong type is an error, as with cargo.
fn http_client(ctx: &Context) -> anyhow::Result<reqwest::Client> {
    let proxy = ctx.config.get_string("http.proxy")?.map(|(v, _)| v);
    Ok(http::client_via(
        &user_agent(ctx)?,
        timeout(ctx)?,
        proxy.as_deref(),
    )?)
}

/// `http.user-agent`, else `cargo-gantry/VERSION`.
pub(crate) fn user_agent(ctx: &Context) -> anyhow::Result<String> {
    Ok(match ctx.config.get_string("http.user-agent")? {
        Some((v, _)) => v,
        None => format!("cargo-gantry/{}", env!("CARGO_PKG_VERSION")),
    })
}

/// `http.timeout` (an integer, as cargo reads it), else `HTTP_TIMEOUT`, else the default.
pub(crate) fn timeout(ctx: &Context) -> anyhow::Result<std::time::Duration> {
    Ok(match ctx.config.get_u64("http.timeout")? {
        Some(secs) => Some(secs),
        None => ctx
            .config
            .env_var("HTTP_TIMEOUT")
            .and_then(|v| v.parse().ok()),
    }
    .map(std::time::Duration::from_secs)
    .unwrap_or(http::DEFAULT_TIMEOUT))
}

/// A bad `[http]` value as cargo reports it for `target`'s index: a git index's update fails with
/// it as cause, a sparse index's error is the value's alone.
pub(crate) fn http_config_error(e: anyhow::Error, target: &Target) -> anyhow::Error {
    if target.index_url.starts_with("sparse+") {
        e
    } else {
        e.context(format!("failed to update {}", describe_source(target)))
    }
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
    fn plain(&self, line: &str) {
        self.0.stderr_line(line);
    }
    fn verbose(&self) -> bool {
        Reporter::verbose(&self.0)
    }
}

/// How [`Remote::open`] treats the index.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Update it (fetch a git index) and say so.
    Update,
    /// Read a git index's clone as it is when there is one (cargo's `login`); say so when fetching.
    ReuseClone,
    /// Read entries for a check: update it and say so, as `Update`, without the credential
    /// settings' warnings.
    Read,
    /// `Read`, for an index already updated in this run: read a git clone as it is, say nothing.
    ReadUpdated,
}

impl Mode {
    /// Whether cargo reads the registry's credential settings here (and warns about unused ones).
    fn reads_credentials(self) -> bool {
        matches!(self, Mode::Update | Mode::ReuseClone)
    }
}

/// Asked for the index's token when the registry requires one and no credential provider has it
/// (a publish's trusted-publishing exchange), with the 401's `login_url`; `None`: no token either.
pub(crate) type IndexFallback<'a> = dyn Fn(Option<&str>) -> anyhow::Result<Option<String>> + 'a;

impl Remote {
    /// Prints `Updating …` and reads `config.json`. A registry that answers 401 (or whose
    /// `config.json` says `auth-required`) is asked again with a token from the credential
    /// providers, as cargo does; `token_flag` (`--token`) then stands for every operation.
    pub(crate) fn connect(
        ctx: &Context,
        target: Target,
        token_flag: Option<&str>,
        offline: bool,
        shell: &Shell,
    ) -> anyhow::Result<Remote> {
        Self::open(ctx, target, token_flag, offline, Mode::Update, shell, None)
    }

    /// [`Remote::connect`] as cargo's `login` connects: a git index already fetched is read as it
    /// is (cargo does not force an update there), so there is no `Updating` line.
    pub(crate) fn connect_for_login(
        ctx: &Context,
        target: Target,
        token_flag: Option<&str>,
        offline: bool,
        shell: &Shell,
    ) -> anyhow::Result<Remote> {
        Self::open(
            ctx,
            target,
            token_flag,
            offline,
            Mode::ReuseClone,
            shell,
            None,
        )
    }

    /// [`connect`](Self::connect), with `fallback` asked when the index needs a token that no
    /// credential provider has.
    pub(crate) fn connect_with(
        ctx: &Context,
        target: Target,
        token_flag: Option<&str>,
        offline: bool,
        shell: &Shell,
        fallback: Option<&IndexFallback>,
    ) -> anyhow::Result<Remote> {
        Self::open(
            ctx,
            target,
            token_flag,
            offline,
            Mode::Update,
            shell,
            fallback,
        )
    }

    /// Opens an index only to read entries for a check of another step (the packaged lockfile's
    /// yanked versions): no warnings about the registry's configuration (cargo reads it for
    /// credentials, which a public index does not need). `fresh`: update it and say `Updating`
    /// as [`Remote::connect`] does; otherwise this run already did, so a git index's clone is
    /// read as it is and a sparse index is asked again without a second `Updating` line.
    /// `fallback` is asked, as in [`Remote::connect_with`], when the index needs a token no
    /// credential provider has.
    pub(crate) fn connect_to_read(
        ctx: &Context,
        target: Target,
        offline: bool,
        fresh: bool,
        shell: &Shell,
        fallback: Option<&IndexFallback>,
    ) -> anyhow::Result<Remote> {
        let mode = if fresh { Mode::Read } else { Mode::ReadUpdated };
        Self::open(ctx, target, None, offline, mode, shell, fallback)
    }

    fn open(
        ctx: &Context,
        target: Target,
        token_flag: Option<&str>,
        offline: bool,
        mode: Mode,
        shell: &Shell,
        fallback: Option<&IndexFallback>,
    ) -> anyhow::Result<Remote> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("failed to start the async runtime")?;
        // cargo configures its HTTP handle when it first updates the index, so a bad `[http]`
        // value fails there: inside "failed to update" for a git index, as it is for a sparse
        // one (whose handle cargo makes before it says which registry it updates).
        let client = http_client(ctx).map_err(|e| http_config_error(e, &target))?;
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
        let git = GitOptions {
            reuse_clone: matches!(mode, Mode::ReuseClone | Mode::ReadUpdated),
            ..git_options(ctx, offline, shell)?
        };
        let mut index = Index::open(client.clone(), &target.index_url, git)?.with_retries(
            retries,
            std::sync::Arc::new(move |m: &str| Reporter::warning(&warn_shell, m)),
        );
        // cargo says so only where it goes to the network (a git clone read offline, or for
        // `login`, is not updated).
        if index.goes_to_network() && mode != Mode::ReadUpdated {
            shell.status("Updating", &target.describe());
        }
        let mut login_url = None;
        let config = runtime.block_on(index.config());
        if let Some(name) = target.name.as_ref().filter(|_| mode.reads_credentials()) {
            for (key, definition) in ctx.config.registry_unused_keys(name) {
                shell.warning(&format!("unused config key `{key}` in `{definition}`"));
            }
        }
        let config = match config {
            Ok(config) if !config.auth_required => config,
            Ok(config) => {
                auth.set_auth_required();
                let token = or_fallback(auth.require_token(Op::Read, None), None, fallback)?;
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
                let token = or_fallback(
                    auth.index_token(headers, login_url.as_deref()),
                    login_url.as_deref(),
                    fallback,
                )?;
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
            Err(e @ IndexError::Git(_)) => {
                let what = describe_source(&target);
                return Err(anyhow::Error::new(e).context(format!("failed to update {what}")));
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
            read_token: std::sync::OnceLock::new(),
        })
    }

    /// The API root, or cargo's refusal for an index without one.
    pub(crate) fn api_url(&self) -> anyhow::Result<String> {
        self.config.api.clone().ok_or_else(|| {
            anyhow!(
                "{} does not support API commands",
                describe_source(&self.target)
            )
        })
    }

    pub(crate) fn web_api(&self, token: Option<String>) -> anyhow::Result<WebApi> {
        Ok(WebApi::new(self.client.clone(), &self.api_url()?, token))
    }

    /// The token for `op` (`--token`, else the credential providers), or cargo's "no token found".
    pub(crate) fn token(&self, op: Op) -> anyhow::Result<String> {
        let token = self
            .auth
            .require_token(op, self.login_url.as_deref())
            .map_err(auth_error)?;
        credentials::validate_token(&token)?;
        Ok(token)
    }

    /// cargo's "no token found" when there is no token for `op`; the token itself is checked
    /// only where it is used (cargo rejects a malformed token at the upload, not before).
    pub(crate) fn require_token(&self, op: Op) -> anyhow::Result<()> {
        if self.remembers(op) && self.read_token.get().is_some() {
            return Ok(());
        }
        let token = self
            .auth
            .require_token(op, self.login_url.as_deref())
            .map_err(auth_error)?;
        if self.remembers(op) {
            let _ = self.read_token.set(token);
        }
        Ok(())
    }

    /// Whether `op`'s token is the remembered read token: not while trusted publishing lends the
    /// run its own token, which the credentials must not stand in for.
    fn remembers(&self, op: Op) -> bool {
        op == Op::Read && !self.auth.trusted_publishing()
    }

    /// The token for `op` if there is one, without failing when there is none.
    pub(crate) fn lookup(&self, op: Op) -> anyhow::Result<Option<String>> {
        if self.remembers(op)
            && let Some(token) = self.read_token.get()
        {
            return Ok(Some(token.clone()));
        }
        let token = self.auth.token(op).map_err(auth_error)?;
        if let Some(t) = token.as_ref().filter(|_| self.remembers(op)) {
            let _ = self.read_token.set(t.clone());
        }
        Ok(token)
    }
}

/// The providers' token, else (when they have none) the fallback's, else the providers' error.
fn or_fallback(
    providers: Result<String, AuthError>,
    login_url: Option<&str>,
    fallback: Option<&IndexFallback>,
) -> anyhow::Result<String> {
    match (providers, fallback) {
        (Err(AuthError::Authorization(e)), Some(f))
            if e.reason == AuthorizationReason::TokenMissing =>
        {
            f(login_url)?.ok_or_else(|| AuthError::Authorization(e).into())
        }
        (result, _) => Ok(result?),
    }
}

/// The credentials of the registry `--registry` (or the default) names, without going to it.
pub(crate) fn auth_for(
    ctx: &Context,
    registry: Option<&str>,
    shell: &Shell,
) -> anyhow::Result<Auth> {
    let target = select(ctx, registry, None)?;
    Ok(Auth::new(
        ctx.config.clone(),
        target.registry_ref(ctx),
        None,
        Box::new(ShellConsole(shell.clone())),
    ))
}

/// How git indexes are fetched: cargo's clone directory, `net.git-fetch-with-cli`, offline-ness,
/// and the shell for `Blocking`/`Running` lines. `offline` is the command's `--offline`/`--frozen`.
fn git_options(ctx: &Context, offline: bool, shell: &Shell) -> anyhow::Result<GitOptions> {
    let status_shell = shell.clone();
    Ok(GitOptions {
        cargo_home: ctx.config.cargo_home().to_owned(),
        fetch_with_cli: ctx
            .config
            .get_bool("net.git-fetch-with-cli")?
            .unwrap_or(false),
        offline: offline || ctx.config.get_bool("net.offline")?.unwrap_or(false),
        reuse_clone: false,
        verbosity: match shell.verbosity() {
            Verbosity::Quiet => GitVerbosity::Quiet,
            Verbosity::Normal => GitVerbosity::Normal,
            Verbosity::Verbose => GitVerbosity::Verbose,
        },
        status: Some(std::sync::Arc::new(move |word: &str, msg: &str| {
            status_shell.status(word, msg)
        })),
    })
}

fn auth_error(e: AuthError) -> anyhow::Error {
    anyhow::Error::new(e)
}

/// How cargo names a registry source in messages: ``registry `crates-io` `` / ``registry `NAME` ``.
pub(crate) fn describe_source(target: &Target) -> String {
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
