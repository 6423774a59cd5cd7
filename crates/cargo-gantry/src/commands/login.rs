//! `cargo gantry login`: cargo's login (spec §8.5). The registry's `config.json` is read first
//! (`Updating …`; a registry without an API is refused), so the prompt can name the page that shows
//! the token (`<api>/me`, or the `login_url` of the registry's 401 challenge); the token is then
//! handed to the registry's credential provider, which stores it.

use std::io::{IsTerminal, Read};

use anyhow::Context as _;
use gantry_client::auth::{AuthError, AuthorizationError};
use gantry_package::Reporter;

use crate::cli::LoginArgs;
use crate::context::Context;
use crate::remote::{self, Remote};
use crate::shell::Shell;

pub(crate) fn run(args: &LoginArgs, shell: &Shell) -> anyhow::Result<()> {
    if args.token.is_some() {
        shell.warning(
            "`cargo login <token>` is deprecated in favor of reading `<token>` from stdin",
        );
    }
    let ctx = Context::new(&args.global)?;
    let target = remote::select(&ctx, args.registry.as_deref(), None)?;
    let offline = args.net.offline || args.net.frozen;
    let (remote, login_url) =
        match Remote::connect_for_login(&ctx, target, args.token.as_deref(), offline, shell) {
            Ok(remote) => {
                let url = format!("{}/me", remote.api_url()?);
                (Some(remote), Some(url))
            }
            // A registry that wants a token before it shows its `config.json` may have said where to
            // get one.
            // (A token that is missing or rejected is what login is for.)
            Err(e) => {
                let refusal = match e.downcast_ref::<AuthError>() {
                    Some(AuthError::Authorization(a)) => Some(a.as_ref()),
                    _ => e.downcast_ref::<AuthorizationError>(),
                };
                match refusal {
                    Some(a) => (None, a.login_url.clone()),
                    None => return Err(e),
                }
            }
        };
    let stdin_token = match &args.token {
        Some(_) => None,
        None if !std::io::stdin().is_terminal() => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("failed to read stdin")?;
            // Like cargo: the pasted line without its newline; only whitespace is no token, and
            // the provider then asks for one.
            let token = text.trim();
            (!token.is_empty()).then(|| token.to_owned())
        }
        None => None,
    };
    let token = args.token.as_deref().or(stdin_token.as_deref());
    let auth = match &remote {
        Some(r) => &r.auth,
        None => &remote::auth_for(&ctx, args.registry.as_deref(), shell)?,
    };
    auth.login(token, login_url.as_deref(), &args.args)?;
    Ok(())
}
