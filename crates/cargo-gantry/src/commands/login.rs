//! `cargo gantry login`: the `cargo:token` provider's login (spec §8.5), same file and messages.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context as _, anyhow};
use gantry_client::credentials::{self, CredentialsError};
use gantry_package::report::Reporter;

use crate::cli::LoginArgs;
use crate::context::Context;
use crate::remote::{self, Remote};
use crate::shell::Shell;

pub fn run(args: &LoginArgs, shell: &Shell) -> anyhow::Result<()> {
    let ctx = Context::new(&args.global)?;
    let target = remote::select(&ctx, args.registry.as_deref(), None)?;
    let name = target
        .credential_name(&ctx)
        .unwrap_or_else(|| target.display().to_owned());
    let raw = match &args.token {
        Some(t) => {
            shell.warning(
                "`cargo login <token>` is deprecated in favor of reading `<token>` from stdin",
            );
            t.clone()
        }
        None if !std::io::stdin().is_terminal() => read_line()?,
        None => {
            let remote = Remote::connect(&ctx, target.clone(), &|| None, shell)?;
            let api = remote.api_url()?;
            eprintln!("please paste the token found on {api}/me below");
            read_line()?
        }
    };
    let token = raw.replace("cargo login", "").trim().to_owned();
    credentials::validate_token(&token).map_err(|e| {
        anyhow!(e).context("credential provider `cargo:token` failed action `login`")
    })?;
    credentials::save_token(ctx.config.cargo_home(), &name, &token).map_err(|e| match e {
        CredentialsError::EmptyToken | CredentialsError::InvalidToken => anyhow!(e),
        other => anyhow!(other),
    })?;
    shell.status("Login", &format!("token for `{name}` saved"));
    Ok(())
}

fn read_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("failed to read stdin")?;
    Ok(line.trim().to_owned())
}
