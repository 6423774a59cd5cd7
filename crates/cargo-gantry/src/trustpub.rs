//! Trusted publishing for `cargo gantry publish` (issue 16): a CI job publishes with no stored
//! secret. When no token is configured for the target registry, the environment offers an OIDC ID
//! token (GitHub Actions' token request, or a variable named by `--oidc-token-env`) and the
//! registry offers the exchange (crates.io, or a registry whose `config.json` or 401 says so), the
//! run exchanges the ID token **once**, every request of the run uses the token it got, and the
//! token is revoked when the run ends, whatever the outcome (the [`Session`] revokes on drop, and
//! on SIGINT/SIGTERM before exiting).
//!
//! The exchange happens right after the registry is reached, before anything is packaged: the
//! moment `rust-lang/crates-io-auth-action` runs in a workflow (before `cargo publish`), so a
//! refusal comes before a build is spent. `--trusted-publishing` forces it (also over a
//! configured token, as a `trustpub_only` crate needs), `--no-trusted-publishing` turns it off.
//!
//! Neither token ever reaches a message, an event or the journal: both live in
//! `gantry_client::trustpub`'s redacted types until the publish token is handed to [`Auth`].
//!
//! [`Auth`]: gantry_client::auth::Auth

use std::sync::{Arc, Mutex};

use anyhow::{Context as _, anyhow, bail};
use clap::Args;
use gantry_client::auth::Op;
use gantry_client::http;
use gantry_client::trustpub::{
    self as tp, Audience, IdToken, IdTokenSource, Offer, PublishToken, Unavailable,
};
use gantry_package::Reporter;

use crate::context::Context;
use crate::remote::{self, Remote, Target};
use crate::shell::Shell;

/// The trusted-publishing flags of `cargo gantry publish`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct TrustedPublishingArgs {
    /// Exchange the CI job's OIDC token for a publish token, even when a token is configured
    #[arg(
        long = "trusted-publishing",
        conflicts_with_all = ["no_trusted_publishing", "token"],
        help_heading = "Trusted Publishing"
    )]
    pub trusted_publishing: bool,
    /// Never exchange an OIDC token, even when no token is configured
    #[arg(long = "no-trusted-publishing", help_heading = "Trusted Publishing")]
    pub no_trusted_publishing: bool,
    /// Read the OIDC ID token from this environment variable (GitLab CI's `id_tokens`, other CI)
    #[arg(
        long = "oidc-token-env",
        value_name = "VAR",
        conflicts_with = "no_trusted_publishing",
        help_heading = "Trusted Publishing"
    )]
    pub oidc_token_env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    /// When no token is configured and both the environment and the registry offer it.
    Auto,
    /// `--trusted-publishing`: anything that makes it impossible is an error.
    Forced,
}

/// The token a run got, and where to revoke it.
struct Issued {
    revoke_url: String,
    token: PublishToken,
    /// Exchanged because the index itself requires a token.
    for_index: bool,
}

/// One run's trusted publishing: at most one exchange, and the revocation when dropped.
pub(crate) struct Session {
    mode: Mode,
    dry_run: bool,
    variable: Option<String>,
    source: Result<IdTokenSource, Unavailable>,
    target: Target,
    shell: Shell,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    /// For the client the signal thread builds: a client's pooled connections belong to the
    /// runtime that opened them, which is not running while the run waits elsewhere.
    user_agent: String,
    timeout: std::time::Duration,
    /// Shared with the thread that revokes on Ctrl-C / SIGTERM.
    issued: Arc<Mutex<Option<Issued>>>,
}

impl Session {
    /// `token_flag`: `--token` was given (it wins, as it does over every configured credential).
    pub(crate) fn new(
        args: &TrustedPublishingArgs,
        ctx: &Context,
        target: &Target,
        token_flag: bool,
        dry_run: bool,
        shell: &Shell,
    ) -> anyhow::Result<Session> {
        let mode = if args.no_trusted_publishing || token_flag {
            Mode::Off
        } else if args.trusted_publishing {
            Mode::Forced
        } else {
            Mode::Auto
        };
        let env = |name: &str| ctx.config.env_var(name).map(str::to_owned);
        let source = IdTokenSource::from_env(env, args.oidc_token_env.as_deref());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("failed to start the async runtime")?;
        // A bad `[http]` value reads as it does when connecting (cargo's words: it fails there).
        let config_error = |e| remote::http_config_error(e, target);
        let user_agent = remote::user_agent(ctx).map_err(config_error)?;
        let timeout = remote::timeout(ctx).map_err(config_error)?;
        let client = http::plain_client(&user_agent, timeout)
            .map_err(anyhow::Error::from)
            .map_err(config_error)?;
        Ok(Session {
            mode,
            dry_run,
            variable: args.oidc_token_env.clone(),
            source,
            target: target.clone(),
            shell: shell.clone(),
            runtime,
            client,
            user_agent,
            timeout,
            issued: Arc::new(Mutex::new(None)),
        })
    }

    /// For [`Remote::connect_with`]: an auth-required registry's index needs a token before its
    /// `config.json` can be read; its 401's `login_url` names the exchange (see
    /// [`Offer::from_challenge`]).
    pub(crate) fn index_token(&self, login_url: Option<&str>) -> anyhow::Result<Option<String>> {
        if self.mode == Mode::Off || self.dry_run || !self.wanted()? {
            return Ok(None);
        }
        let offer =
            login_url.and_then(|login| Offer::from_challenge(&self.target.index_url, login));
        let Some(offer) = offer else {
            if self.mode == Mode::Forced {
                bail!(
                    "trusted publishing is not possible with {}: it requires authentication, and its answer names no trusted-publishing exchange on its own address",
                    remote::describe_source(&self.target)
                );
            }
            return Ok(None);
        };
        // Asked again (the packaged lockfiles' check reads the index too): one exchange per run.
        if let Some(issued) = &*lock(&self.issued) {
            return Ok(Some(issued.token.expose().to_owned()));
        }
        let token = self.exchange(&offer)?;
        if let Some(issued) = lock(&self.issued).as_mut() {
            issued.for_index = true;
        }
        Ok(Some(token))
    }

    /// The cargo that resolves the packaged lockfile and builds the verification reads the index
    /// too: when the index requires a token, it gets the run's token in the variable its
    /// `cargo:token` provider reads (which is also how crates-io-auth-action hands a token over).
    pub(crate) fn lend_to_cargo(&self, cargo: &mut gantry_package::CargoInvocation) {
        let issued = lock(&self.issued);
        let Some(issued) = issued.as_ref().filter(|i| i.for_index) else {
            return;
        };
        let var = match &self.target.name {
            _ if self.target.is_crates_io() => "CARGO_REGISTRY_TOKEN".to_owned(),
            Some(name) => format!(
                "CARGO_REGISTRIES_{}_TOKEN",
                name.to_ascii_uppercase().replace('-', "_")
            ),
            None => return,
        };
        cargo.env.0.push((var, issued.token.expose().to_owned()));
    }

    /// After connecting: decides, and exchanges unless already done for the index. From then on
    /// every operation of `remote` uses the publish token.
    pub(crate) fn begin(&self, remote: &Remote) -> anyhow::Result<()> {
        if let Some(issued) = &*lock(&self.issued) {
            remote
                .auth
                .use_trusted_publishing_token(issued.token.expose().to_owned());
            return Ok(());
        }
        if self.mode == Mode::Off {
            return Ok(());
        }
        // Nothing to offer in automatic mode: no question to the credential providers (cargo asks
        // them once for reading, and a provider that does not cache would be asked twice).
        if self.mode == Mode::Auto && self.source.is_err() && self.variable.is_none() {
            return Ok(());
        }
        if self.mode == Mode::Auto && (self.dry_run || remote.lookup(Op::Read)?.is_some()) {
            return Ok(());
        }
        if !self.wanted()? {
            return Ok(());
        }
        let Some(offer) = self.offer(remote)? else {
            return Ok(());
        };
        if self.dry_run {
            let source = self.source()?;
            if let IdTokenSource::Variable { name, token } = source {
                check_variable(name, token, &offer, &self.target)?;
            }
            self.shell.note(&format!(
                "dry run: trusted publishing would exchange the OIDC token from {} at `{}`; nothing was exchanged",
                source.describe(),
                offer.exchange_url
            ));
            return Ok(());
        }
        let token = self.exchange(&offer)?;
        remote.auth.use_trusted_publishing_token(token);
        Ok(())
    }

    /// Whether the environment has an ID token to offer; in forced mode its absence is an error,
    /// and so is a variable `--oidc-token-env` names but the environment lacks.
    fn wanted(&self) -> anyhow::Result<bool> {
        match &self.source {
            Ok(_) => Ok(true),
            Err(e) if self.mode == Mode::Forced || self.variable.is_some() => {
                Err(anyhow!("trusted publishing is not possible: {e}"))
            }
            Err(_) => Ok(false),
        }
    }

    fn source(&self) -> anyhow::Result<&IdTokenSource> {
        self.source
            .as_ref()
            .map_err(|e| anyhow!("trusted publishing is not possible: {e}"))
    }

    /// crates.io's exchange, or what the registry's `config.json` advertises.
    fn offer(&self, remote: &Remote) -> anyhow::Result<Option<Offer>> {
        if self.target.is_crates_io() {
            return Ok(Some(Offer::crates_io(&remote.api_url()?)));
        }
        let advert = remote
            .config
            .gantry
            .as_ref()
            .and_then(|g| g.trusted_publishing.as_ref());
        match advert {
            Some(a) => Ok(Some(Offer::advertised(a))),
            None if self.mode == Mode::Forced => bail!(
                "trusted publishing is not possible with {}: its `config.json` does not offer it",
                remote::describe_source(&self.target)
            ),
            None => Ok(None),
        }
    }

    /// Gets the ID token for `offer`'s audience and exchanges it; the publish token is kept for
    /// the revocation and returned for [`Auth`](gantry_client::auth::Auth).
    fn exchange(&self, offer: &Offer) -> anyhow::Result<String> {
        let source = self.source()?;
        let registry = remote::describe_source(&self.target);
        match source {
            IdTokenSource::GitHubActions { .. } => {
                if offer.accepts("github") == Some(false) {
                    bail!(
                        "trusted publishing is not possible: {registry} does not accept GitHub Actions' tokens (it accepts: {})",
                        offer.describe_providers()
                    );
                }
            }
            IdTokenSource::Variable { name, token } => {
                check_variable(name, token, offer, &self.target)?
            }
        }
        self.shell.status(
            "Exchanging",
            &format!(
                "OIDC token from {} for a trusted-publishing token of {registry}",
                source.describe()
            ),
        );
        let jwt = self
            .runtime
            .block_on(source.get(&self.client, &offer.audience))
            .with_context(|| {
                format!(
                    "trusted publishing: no OIDC token from {}",
                    source.describe()
                )
            })?;
        let token = self
            .runtime
            .block_on(tp::exchange(&self.client, &offer.exchange_url, &jwt))
            .with_context(|| format!("trusted publishing with {registry} failed"))?;
        let exposed = token.expose().to_owned();
        *lock(&self.issued) = Some(Issued {
            revoke_url: offer.exchange_url.clone(),
            token,
            for_index: false,
        });
        watch_signals(
            self.issued.clone(),
            (self.user_agent.clone(), self.timeout),
            self.shell.clone(),
            self.target.clone(),
        );
        Ok(exposed)
    }
}

impl Drop for Session {
    /// The revocation, whatever the run's outcome: a failure is a warning (the token expires by
    /// itself within 30 minutes), never a change of the run's result.
    fn drop(&mut self) {
        let issued = lock(&self.issued).take();
        if let Some(issued) = issued {
            revoke_now(
                &self.runtime,
                &self.client,
                &self.shell,
                &self.target,
                &issued,
            );
        }
    }
}

fn revoke_now(
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    shell: &Shell,
    target: &Target,
    issued: &Issued,
) {
    shell.status(
        "Revoking",
        &format!(
            "trusted-publishing token of {}",
            remote::describe_source(target)
        ),
    );
    let revoked = runtime.block_on(tp::revoke(client, &issued.revoke_url, &issued.token));
    if let Err(e) = revoked {
        shell.warning(&format!(
            "{:#}; the token stays valid until it expires (30 minutes after the exchange)",
            anyhow::Error::new(e)
        ));
    }
}

/// How long a revocation after a signal may take (GitHub Actions follows SIGINT with SIGTERM after
/// 7.5 s, then kills).
const SIGNAL_REVOKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// An interrupted run (Ctrl-C, or the SIGINT/SIGTERM a CI system sends when a job is cancelled)
/// revokes the token too, then exits as the signal would have ended it (130 / 143): nothing the
/// run did is lost by that, the journal records every step as it happens. A signal arriving in the
/// instant before the handler is in place ends the run as before, and the token expires by itself.
fn watch_signals(
    issued: Arc<Mutex<Option<Issued>>>,
    (user_agent, timeout): (String, std::time::Duration),
    shell: Shell,
    target: Target,
) {
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        let code = runtime.block_on(interrupted());
        let taken = lock(&issued).take();
        // A cancelled CI job is killed a few seconds after the signal: do not wait longer.
        let client = http::plain_client(&user_agent, timeout.min(SIGNAL_REVOKE_TIMEOUT));
        if let (Some(issued), Ok(client)) = (taken, client) {
            revoke_now(&runtime, &client, &shell, &target, &issued);
        }
        std::process::exit(code);
    });
}

/// Waits for SIGINT or (on Unix) SIGTERM; the exit code a shell reports for it. A signal that
/// cannot be watched is never reported.
async fn interrupted() -> i32 {
    let int = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = int => 130,
                _ = term.recv() => 143,
            };
        }
    }
    int.await;
    130
}

/// What can be told from a variable's token before it is sent: that it is a JWT, for this
/// registry's audience, from an issuer the registry accepts, and not expired.
fn check_variable(
    name: &str,
    token: &IdToken,
    offer: &Offer,
    target: &Target,
) -> anyhow::Result<()> {
    let registry = remote::describe_source(target);
    let claims = tp::peek_claims(token).ok_or_else(|| {
        anyhow!("trusted publishing: the variable `{name}` does not hold an OIDC ID token (a JWT)")
    })?;
    let help = format!(
        "\n  = help: ask for the ID token with the audience `{}` (GitLab CI: `id_tokens: {name}: aud: {}`)",
        offer.audience, offer.audience
    );
    match &claims.aud {
        Some(Audience::One(aud)) if *aud == offer.audience => {}
        Some(Audience::One(aud)) => bail!(
            "trusted publishing: the ID token in `{name}` is for the audience `{aud}`, but {registry} expects `{}`{help}",
            offer.audience
        ),
        Some(Audience::Many(_)) | None => bail!(
            "trusted publishing: the ID token in `{name}` must name exactly one audience, `{}`{help}",
            offer.audience
        ),
    }
    if let Some(iss) = &claims.iss
        && !offer.providers.is_empty()
        && offer.provider_for_issuer(iss).is_none()
    {
        bail!(
            "trusted publishing: the ID token in `{name}` was issued by `{iss}`, which {registry} does not accept (it accepts: {})",
            offer.describe_providers()
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    // The registry allows 60 s of clock skew; so does this check.
    if let Some(exp) = claims.exp
        && exp + 60 < now
    {
        bail!(
            "trusted publishing: the ID token in `{name}` expired {} seconds ago; the job must ask for a fresh one",
            now - exp
        );
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    fn target() -> Target {
        Target {
            name: Some("g".into()),
            index_url: "sparse+https://reg.example/index/".into(),
        }
    }

    fn offer() -> Offer {
        Offer::advertised(&gantry_client::index::TrustedPublishingAdvert {
            audience: "reg.example".into(),
            exchange: "https://reg.example/api/v1/trusted_publishing/tokens".into(),
            providers: [("gitlab".to_owned(), "https://gitlab.example".to_owned())].into(),
        })
    }

    fn jwt(claims: serde_json::Value) -> IdToken {
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
        IdToken::new(format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln"))
    }

    fn check(claims: serde_json::Value) -> Result<(), String> {
        check_variable("ID", &jwt(claims), &offer(), &target()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_variable_s_token_is_explained_before_it_is_sent() {
        let far = 4_000_000_000_i64;
        let iss = "https://gitlab.example";
        assert_eq!(
            check(serde_json::json!({"iss": iss, "aud": "reg.example", "exp": far})),
            Ok(())
        );
        let e = check(serde_json::json!({"iss": iss, "aud": "crates.io", "exp": far})).unwrap_err();
        assert!(
            e.contains("is for the audience `crates.io`, but registry `g` expects `reg.example`")
                && e.contains("`id_tokens: ID: aud: reg.example`"),
            "{e}"
        );
        let e = check(serde_json::json!({"iss": iss, "aud": ["reg.example", "x"]})).unwrap_err();
        assert!(e.contains("must name exactly one audience"), "{e}");
        let e = check(serde_json::json!({"iss": "https://gitlab.com", "aud": "reg.example"}))
            .unwrap_err();
        assert!(
            e.contains("issued by `https://gitlab.com`, which registry `g` does not accept (it accepts: gitlab (https://gitlab.example))"),
            "{e}"
        );
        let e =
            check(serde_json::json!({"iss": iss, "aud": "reg.example", "exp": 1000})).unwrap_err();
        assert!(e.contains("expired") && e.contains("fresh one"), "{e}");
        let e = check_variable("ID", &IdToken::new("secret".into()), &offer(), &target())
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not hold an OIDC ID token"), "{e}");
        assert!(!e.contains("secret"), "{e}");
    }
}
