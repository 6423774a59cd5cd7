//! Registry credentials the way cargo 1.95 gets them (spec §8.4–8.5): which credential providers
//! apply to a registry, asking them in turn for a token (`get`), and `login`/`logout` through them.
//!
//! - `--token` wins for every operation of the run, and no provider is asked; so does a
//!   trusted-publishing token once the command has exchanged one.
//! - Providers: the registry's `credential-provider` (a string or an array with arguments), else
//!   `registry.global-credential-providers` tried last-first, else `cargo:token`; a provider name
//!   may be an alias from `[credential-alias]`.
//! - A provider that answers "not found" or "URL not supported" passes to the next; any other
//!   failure stops with "credential provider `…` failed action `…`".
//! - Answers are cached for the run as the provider asks (`cache`, `operation_independent`).

mod builtin;
mod process;
mod providers;

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use cargo_credential::{
    Action, CacheControl, Credential, CredentialResponse, LoginOptions, Operation, RegistryInfo,
    Secret,
};

use crate::config::{CargoConfig, ConfigError};
use crate::credentials::{CRATES_IO, token_env_var};

pub use providers::BUILT_IN;

/// Where cargo's registry-authentication docs live (quoted in its errors).
const AUTH_DOCS: &str = "https://doc.rust-lang.org/cargo/reference/registry-authentication.html";

/// What the credential machinery reports to the user (the binary's shell implements it).
pub trait Console {
    fn status(&self, word: &str, message: &str);
    fn warning(&self, message: &str);
    fn note(&self, message: &str);
    /// A line on stderr as it is, without a prefix and whatever the verbosity: cargo's own
    /// credential process prints some lines so, and the library never prints by itself.
    fn plain(&self, line: &str);
    fn verbose(&self) -> bool;
}

/// The registry a credential is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRef {
    /// The index URL as configured (`sparse+…` kept); crates.io's canonical git URL for crates.io.
    pub index_url: String,
    /// The name it was selected by (`crates-io`, `--registry NAME`); None for `--index`.
    pub key: Option<String>,
    /// The name its credentials are stored under: the key, or the configured registry whose index
    /// is `index_url`.
    pub credential_name: Option<String>,
    /// Set when several configured registries have this index URL: cargo's error, raised when the
    /// credentials are first needed (as cargo raises it).
    pub ambiguous: Option<String>,
}

impl RegistryRef {
    pub fn is_crates_io(&self) -> bool {
        self.key.as_deref() == Some(CRATES_IO)
    }

    /// `crates-io`, the registry's name, or its URL (cargo's `display_registry_name`).
    pub fn display_name(&self) -> &str {
        self.key.as_deref().unwrap_or(&self.index_url)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Credentials(#[from] crate::credentials::CredentialsError),
    #[error(
        "authenticated registries require a credential-provider to be configured\nsee {AUTH_DOCS} for details"
    )]
    ProviderRequired,
    #[error("credential provider `{provider}` failed action `{action}`")]
    ProviderFailed {
        provider: String,
        action: String,
        #[source]
        source: cargo_credential::Error,
    },
    /// Several configured registries have the index URL given with `--index`.
    #[error("{0}")]
    Ambiguous(String),
    #[error("credential not found")]
    NotFound,
    #[error("no credential providers could handle the request")]
    NoProvider,
    #[error(transparent)]
    LibSecret(cargo_credential::Error),
    #[error("cargo:paseto requires -Zasymmetric-token")]
    PasetoUnstable,
    #[error("credential provider produced unexpected response for `{action}` request: {response}")]
    UnexpectedResponse { action: String, response: String },
    #[error(transparent)]
    Authorization(Box<AuthorizationError>),
}

impl From<AuthorizationError> for AuthError {
    fn from(e: AuthorizationError) -> Self {
        AuthError::Authorization(Box::new(e))
    }
}

/// Why a registry request lacked a usable token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationReason {
    TokenMissing,
    TokenRejected,
}

/// cargo's "no token found" / "token rejected" error, worded per registry kind.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render())]
pub struct AuthorizationError {
    pub registry: RegistryRef,
    pub reason: AuthorizationReason,
    /// Where a token can be had (a `WWW-Authenticate: Cargo login_url=…` challenge).
    pub login_url: Option<String>,
    /// Whether `cargo:token` is among the providers (else `cargo login` and the env var would not
    /// help, and cargo does not suggest them).
    pub cargo_token_available: bool,
    /// Whether `registry.default` is set (the crates.io hint then names `--registry crates-io`).
    pub default_registry_set: bool,
}

impl AuthorizationError {
    fn render(&self) -> String {
        let reason = match self.reason {
            AuthorizationReason::TokenMissing => "no token found",
            AuthorizationReason::TokenRejected => "token rejected",
        };
        let r = &self.registry;
        if r.is_crates_io() {
            let args = if self.default_registry_set {
                " --registry crates-io"
            } else {
                ""
            };
            let mut s = format!("{reason}, please run `cargo login{args}`");
            if self.cargo_token_available {
                s.push_str("\nor use environment variable CARGO_REGISTRY_TOKEN");
            }
            s
        } else if let Some(name) = &r.key {
            if self.cargo_token_available {
                format!(
                    "{reason} for `{name}`, please run `cargo login --registry {name}`\nor use environment variable {}",
                    token_env_var(name)
                )
            } else {
                format!(
                    "{reason} for `{name}`\nYou may need to log in using this registry's credential provider"
                )
            }
        } else if self.reason == AuthorizationReason::TokenMissing {
            format!(
                "{reason} for `{url}`\nconsider setting up an alternate registry in Cargo's configuration\nas described by https://doc.rust-lang.org/cargo/reference/registries.html\n\n[registries]\nmy-registry = {{ index = \"{url}\" }}\n",
                url = r.index_url
            )
        } else {
            format!("{reason} for `{}`", r.index_url)
        }
    }
}

/// What a token is asked for (cargo's credential `operation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op<'a> {
    Read,
    Publish {
        name: &'a str,
        vers: &'a str,
        cksum: &'a str,
    },
    Yank {
        name: &'a str,
        vers: &'a str,
    },
    Unyank {
        name: &'a str,
        vers: &'a str,
    },
    Owners {
        name: &'a str,
    },
}

impl<'a> Op<'a> {
    fn wire(self) -> Operation<'a> {
        match self {
            Op::Read => Operation::Read,
            Op::Publish { name, vers, cksum } => Operation::Publish { name, vers, cksum },
            Op::Yank { name, vers } => Operation::Yank { name, vers },
            Op::Unyank { name, vers } => Operation::Unyank { name, vers },
            Op::Owners { name } => Operation::Owners { name },
        }
    }
}

struct Cached {
    token: String,
    expires: Option<SystemTime>,
    operation_independent: bool,
}

/// Credentials for one registry during one command.
pub struct Auth {
    config: CargoConfig,
    registry: RegistryRef,
    console: Box<dyn Console + Send + Sync>,
    cli_token: Option<String>,
    /// A trusted-publishing token exchanged for this run: stands for every operation, as
    /// `--token` does.
    trusted: Mutex<Option<String>>,
    cache: Mutex<Option<Cached>>,
    /// Set once the registry answered 401 for its index: providers must then be configured.
    auth_required: Mutex<bool>,
    /// Whether the name found for an `--index` URL was announced (once, when first used).
    announced: Mutex<bool>,
}

/// A cached token is not used in its last minute (cargo's margin).
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

impl Auth {
    pub fn new(
        config: CargoConfig,
        registry: RegistryRef,
        cli_token: Option<String>,
        console: Box<dyn Console + Send + Sync>,
    ) -> Self {
        Auth {
            config,
            registry,
            console,
            cli_token,
            trusted: Mutex::new(None),
            cache: Mutex::new(None),
            auth_required: Mutex::new(false),
            announced: Mutex::new(false),
        }
    }

    pub fn registry(&self) -> &RegistryRef {
        &self.registry
    }

    pub fn config(&self) -> &CargoConfig {
        &self.config
    }

    /// The registry's index needs a token (it answered 401, or its `config.json` says so): from
    /// now on cargo insists on a configured credential provider.
    pub fn set_auth_required(&self) {
        *lock(&self.auth_required) = true;
    }

    /// From now on every operation gets `token` (a trusted-publishing token the command
    /// exchanged), and no provider is asked.
    pub fn use_trusted_publishing_token(&self, token: String) {
        *lock(&self.trusted) = Some(token);
    }

    /// Whether the run's token is a trusted-publishing token (it only publishes: checks that
    /// need another kind of token cannot be made with it).
    pub fn trusted_publishing(&self) -> bool {
        lock(&self.trusted).is_some()
    }

    /// The token for `op`, or `None` when every provider said it has none.
    pub fn token(&self, op: Op) -> Result<Option<String>, AuthError> {
        self.token_with(op, Vec::new())
    }

    /// The token for reading the index after it answered 401 (`headers` are that answer's, which
    /// cargo hands to the providers), or cargo's "no token found".
    pub fn index_token(
        &self,
        headers: Vec<String>,
        login_url: Option<&str>,
    ) -> Result<String, AuthError> {
        match self.token_with(Op::Read, headers)? {
            Some(t) => Ok(t),
            None => Err(self
                .authorization_error(AuthorizationReason::TokenMissing, login_url)?
                .into()),
        }
    }

    fn token_with(&self, op: Op, headers: Vec<String>) -> Result<Option<String>, AuthError> {
        if let Some(t) = &self.cli_token {
            return Ok(Some(t.clone()));
        }
        if let Some(t) = lock(&self.trusted).clone() {
            return Ok(Some(t));
        }
        if let Some(t) = self.cached(op) {
            return Ok(Some(t));
        }
        let require = *lock(&self.auth_required);
        let response = match self.perform(&Action::Get(op.wire()), &[], require, headers) {
            Ok(r) => r,
            Err(Failure::NotFound) => return Ok(None),
            Err(Failure::Error(e)) => return Err(e),
        };
        let CredentialResponse::Get {
            token,
            cache,
            operation_independent,
        } = response
        else {
            return Err(unexpected("get", &response));
        };
        let token = token.expose();
        let expires = match cache {
            CacheControl::Session => None,
            CacheControl::Expires { expiration } => Some(
                SystemTime::UNIX_EPOCH
                    + Duration::from_secs(expiration.unix_timestamp().max(0) as u64),
            ),
            _ => return Ok(Some(token)),
        };
        *lock(&self.cache) = Some(Cached {
            token: token.clone(),
            expires,
            operation_independent,
        });
        Ok(Some(token))
    }

    /// Like [`token`](Self::token), but a missing token is cargo's "no token found" error.
    pub fn require_token(&self, op: Op, login_url: Option<&str>) -> Result<String, AuthError> {
        match self.token(op)? {
            Some(t) => Ok(t),
            None => Err(self
                .authorization_error(AuthorizationReason::TokenMissing, login_url)?
                .into()),
        }
    }

    /// cargo's wording for a missing or rejected token on this registry.
    pub fn authorization_error(
        &self,
        reason: AuthorizationReason,
        login_url: Option<&str>,
    ) -> Result<AuthorizationError, AuthError> {
        let list = providers::for_registry(&self.config, &self.registry, false, &|_| {})?;
        Ok(AuthorizationError {
            registry: self.registry.clone(),
            reason,
            login_url: login_url.map(str::to_owned),
            cargo_token_available: list
                .iter()
                .any(|p| p.first().map(String::as_str) == Some("cargo:token")),
            default_registry_set: self.config.get_string("registry.default")?.is_some(),
        })
    }

    fn cached(&self, op: Op) -> Option<String> {
        let mut cache = lock(&self.cache);
        let c = cache.as_ref()?;
        if c.expires
            .is_some_and(|e| SystemTime::now() + EXPIRY_MARGIN >= e)
        {
            *cache = None;
            return None;
        }
        (c.operation_independent || op == Op::Read).then(|| c.token.clone())
    }

    /// `cargo login`: the providers' `login` action. `token` came from the command line or stdin;
    /// without it a provider prompts (`please paste the token found on <login_url> below`).
    pub fn login(
        &self,
        token: Option<&str>,
        login_url: Option<&str>,
        args: &[String],
    ) -> Result<(), AuthError> {
        let options = LoginOptions {
            token: token.map(Secret::from),
            login_url,
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match self.perform(&Action::Login(options), &args, false, Vec::new()) {
            Ok(CredentialResponse::Login) => Ok(()),
            Ok(other) => Err(unexpected("login", &other)),
            Err(Failure::NotFound) => Err(AuthError::NotFound),
            Err(Failure::Error(e)) => Err(e),
        }
    }

    /// `cargo logout`: the providers' `logout` action. `Ok(false)`: nothing was stored.
    pub fn logout(&self) -> Result<bool, AuthError> {
        match self.perform(&Action::Logout, &[], false, Vec::new()) {
            Ok(CredentialResponse::Logout) => Ok(true),
            Ok(other) => Err(unexpected("logout", &other)),
            Err(Failure::NotFound) => Ok(false),
            Err(Failure::Error(e)) => Err(e),
        }
    }

    /// Runs `action` through the providers in order.
    fn perform(
        &self,
        action: &Action,
        extra_args: &[&str],
        require_config: bool,
        headers: Vec<String>,
    ) -> Result<CredentialResponse, Failure> {
        self.check_name().map_err(Failure::Error)?;
        let warn = |m: String| self.console.warning(&m);
        let list = providers::for_registry(&self.config, &self.registry, require_config, &warn)
            .map_err(Failure::Error)?;
        let info = RegistryInfo {
            index_url: &self.registry.index_url,
            name: self.registry.key.as_deref(),
            headers,
        };
        let mut any_not_found = false;
        for argv in list {
            let mut argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            argv.extend_from_slice(extra_args);
            if self.console.verbose() {
                self.console.status(
                    "Credential",
                    &format!(
                        "{} {action} {}",
                        argv.join(" "),
                        self.registry.display_name()
                    ),
                );
            }
            let provider = self.provider(argv[0]).map_err(Failure::Error)?;
            match provider.perform(&info, action, &argv[1..]) {
                Ok(r) => return Ok(r),
                Err(cargo_credential::Error::UrlNotSupported) => {}
                Err(cargo_credential::Error::NotFound) => any_not_found = true,
                Err(source) => {
                    return Err(Failure::Error(AuthError::ProviderFailed {
                        provider: argv.join(" "),
                        action: action.to_string(),
                        source,
                    }));
                }
            }
        }
        if any_not_found {
            Err(Failure::NotFound)
        } else {
            Err(Failure::Error(AuthError::NoProvider))
        }
    }

    /// An `--index` URL's configuration is looked up by URL: say which registry it turned out to
    /// be (cargo's note), or refuse when several claim it.
    fn check_name(&self) -> Result<(), AuthError> {
        if let Some(msg) = &self.registry.ambiguous {
            return Err(AuthError::Ambiguous(msg.clone()));
        }
        let mut announced = lock(&self.announced);
        if let (None, Some(name), false) = (
            &self.registry.key,
            &self.registry.credential_name,
            *announced,
        ) {
            self.console.note(&format!(
                "name of alternative registry `{}` set to `{name}`",
                self.registry.index_url
            ));
            *announced = true;
        }
        Ok(())
    }

    fn provider(&self, program: &str) -> Result<Box<dyn Credential + '_>, AuthError> {
        Ok(match program {
            "cargo:token" => Box::new(builtin::TokenCredential {
                config: &self.config,
                registry: &self.registry,
                console: self.console.as_ref(),
            }),
            "cargo:token-from-stdout" => Box::new(builtin::TokenFromStdout),
            "cargo:paseto" => return Err(AuthError::PasetoUnstable),
            // Loading the library fails before any action, and cargo reports that failure bare.
            #[cfg(target_os = "linux")]
            "cargo:libsecret" => Box::new(builtin::LibSecret(
                cargo_credential_libsecret::LibSecretCredential::new()
                    .map_err(AuthError::LibSecret)?,
            )),
            name if BUILT_IN.contains(&name) => Box::new(cargo_credential::UnsupportedCredential),
            path => Box::new(process::ProcessCredential::new(path)),
        })
    }
}

enum Failure {
    NotFound,
    Error(AuthError),
}

fn unexpected(action: &str, response: &CredentialResponse) -> AuthError {
    AuthError::UnexpectedResponse {
        action: action.to_owned(),
        response: format!("{response:?}"),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked mid-update of a cache; its value is
    // still a valid cache entry or none.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(key: Option<&str>, reason: AuthorizationReason, cargo_token: bool) -> String {
        AuthorizationError {
            registry: RegistryRef {
                index_url: "sparse+http://127.0.0.1:1/index/".into(),
                key: key.map(str::to_owned),
                credential_name: key.map(str::to_owned),
                ambiguous: None,
            },
            reason,
            login_url: None,
            cargo_token_available: cargo_token,
            default_registry_set: false,
        }
        .to_string()
    }

    #[test]
    fn authorization_errors_read_as_cargo_writes_them() {
        use AuthorizationReason::*;
        assert_eq!(
            error(Some("crates-io"), TokenMissing, true),
            "no token found, please run `cargo login`\nor use environment variable CARGO_REGISTRY_TOKEN"
        );
        assert_eq!(
            error(Some("my-reg"), TokenRejected, true),
            "token rejected for `my-reg`, please run `cargo login --registry my-reg`\nor use environment variable CARGO_REGISTRIES_MY_REG_TOKEN"
        );
        assert_eq!(
            error(Some("alt"), TokenMissing, false),
            "no token found for `alt`\nYou may need to log in using this registry's credential provider"
        );
        assert!(
            error(None, TokenMissing, true).starts_with(
                "no token found for `sparse+http://127.0.0.1:1/index/`\nconsider setting up an alternate registry"
            )
        );
        assert_eq!(
            error(None, TokenRejected, true),
            "token rejected for `sparse+http://127.0.0.1:1/index/`"
        );
    }
}
