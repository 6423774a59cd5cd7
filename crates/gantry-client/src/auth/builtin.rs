//! The credential providers built into cargo that cargo-gantry runs itself: `cargo:token` (tokens
//! in `credentials.toml`, config and environment), `cargo:token-from-stdout` (a command that prints
//! the token). `cargo:libsecret` is cargo's own provider crate, used as is (see `LibSecret`),
//! so a token stored by cargo in the desktop keyring is found by cargo-gantry and the other way round.

use std::io::Read;
use std::process::{Command, Stdio};

use cargo_credential::{
    Action, CacheControl, Credential, CredentialResponse, Error, RegistryInfo, Secret,
};

use super::{Console, RegistryRef};
use crate::config::CargoConfig;
use crate::credentials;

/// `cargo:token`: the token cargo stores (`cargo login`) or the user configures.
pub(super) struct TokenCredential<'a> {
    pub config: &'a CargoConfig,
    pub registry: &'a RegistryRef,
    pub console: &'a dyn Console,
}

impl TokenCredential<'_> {
    fn name(&self) -> Result<&str, Error> {
        // A registry reached by URL only has no place in `credentials.toml`; cargo then knows no
        // token for it either.
        self.registry
            .credential_name
            .as_deref()
            .ok_or(Error::NotFound)
    }
}

impl Credential for TokenCredential<'_> {
    fn perform(
        &self,
        registry: &RegistryInfo<'_>,
        action: &Action<'_>,
        _args: &[&str],
    ) -> Result<CredentialResponse, Error> {
        let display = self.registry.display_name();
        match action {
            Action::Get(_) => {
                let name = self.name()?;
                // cargo says this once per process, when it first reads the credentials.
                if let (_, Some(warning)) = credentials::credentials_path(self.config.cargo_home())
                {
                    static WARNED: std::sync::atomic::AtomicBool =
                        std::sync::atomic::AtomicBool::new(false);
                    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                        self.console.warning(&warning);
                    }
                }
                let (token, _) = credentials::find_token(self.config, name)
                    .map_err(boxed)?
                    .ok_or(Error::NotFound)?;
                Ok(CredentialResponse::Get {
                    token: Secret::from(token),
                    cache: CacheControl::Session,
                    operation_independent: true,
                })
            }
            Action::Login(options) => {
                let name = self.registry.credential_name.as_deref().unwrap_or(display);
                // A pasted `cargo login <token>` line from `<api>/me` works as is.
                let token = cargo_credential::read_token(options, registry)?
                    .expose()
                    .replace("cargo login", "")
                    .trim()
                    .to_owned();
                credentials::validate_token(&token).map_err(boxed)?;
                credentials::save_token(self.config.cargo_home(), name, &token).map_err(boxed)?;
                self.console
                    .status("Login", &format!("token for `{display}` saved"));
                Ok(CredentialResponse::Login)
            }
            Action::Logout => {
                let name = self.name()?;
                if !credentials::remove_token(self.config.cargo_home(), name).map_err(boxed)? {
                    return Err(Error::NotFound);
                }
                self.console.status(
                    "Logout",
                    &format!("token for `{display}` has been removed from local storage"),
                );
                let place = if self.registry.is_crates_io() {
                    "<https://crates.io/me>".to_owned()
                } else {
                    format!("the `{display}` website")
                };
                // Plain stderr, not a `note:` of the shell: cargo prints it so.
                self.console.plain(&format!(
                    "note: This does not revoke the token on the registry server.\n    If you need to revoke the token, visit {place} and follow the instructions there."
                ));
                Ok(CredentialResponse::Logout)
            }
            _ => Err(Error::OperationNotSupported),
        }
    }
}

fn boxed(e: credentials::CredentialsError) -> Error {
    Error::Other(Box::new(e))
}

/// `cargo:token-from-stdout <command> [args…]`: runs the command (with `{index_url}` in its
/// arguments replaced) and takes the one line it prints as the token.
pub(super) struct TokenFromStdout;

impl Credential for TokenFromStdout {
    fn perform(
        &self,
        registry: &RegistryInfo<'_>,
        action: &Action<'_>,
        args: &[&str],
    ) -> Result<CredentialResponse, Error> {
        let Action::Get(_) = action else {
            return Err(Error::OperationNotSupported);
        };
        let (program, args) = args.split_first().ok_or(
            "The first argument to `cargo:token-from-stdout` must be a command that prints a token on stdout",
        )?;
        let mut cmd = Command::new(program);
        cmd.args(
            args.iter()
                .map(|a| a.replace("{index_url}", registry.index_url)),
        )
        .env("CARGO_REGISTRY_INDEX_URL", registry.index_url)
        .stdout(Stdio::piped());
        if let Some(name) = registry.name {
            cmd.env("CARGO_REGISTRY_NAME_OPT", name);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| chained("failed to spawn credential process", e))?;
        let mut out = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            stdout
                .read_to_string(&mut out)
                .map_err(|e| chained("failed to read from credential provider", e))?;
        }
        if let Some(end) = out.find('\n') {
            if out.len() > end + 1 {
                return Err(format!(
                    "process `{program}` returned more than one line of output; expected a single token"
                )
                .into());
            }
            out.truncate(end);
        }
        let status = child
            .wait()
            .map_err(|e| chained("credential process never started", e))?;
        if !status.success() {
            return Err(format!("process `{program}` failed with status `{status}`").into());
        }
        Ok(CredentialResponse::Get {
            token: Secret::from(out),
            cache: CacheControl::Session,
            operation_independent: true,
        })
    }
}

/// A step of a provider that failed, with the I/O error as its cause.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(super) struct StepFailed {
    message: String,
    #[source]
    source: std::io::Error,
}

/// `message`, caused by `source` (kept as a source, not flattened into the text).
pub(super) fn chained(message: &str, source: std::io::Error) -> Error {
    Error::from(Box::new(StepFailed {
        message: message.to_owned(),
        source,
    }))
}

/// `cargo:libsecret`: cargo's own provider, holding the loaded `libsecret-1.so.0`.
#[cfg(target_os = "linux")]
pub(super) struct LibSecret(pub cargo_credential_libsecret::LibSecretCredential);

#[cfg(target_os = "linux")]
impl Credential for LibSecret {
    fn perform(
        &self,
        registry: &RegistryInfo<'_>,
        action: &Action<'_>,
        args: &[&str],
    ) -> Result<CredentialResponse, Error> {
        (&self.0).perform(registry, action, args)
    }
}
