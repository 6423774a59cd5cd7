//! `cargo gantry yank`: `DELETE …/yank` or `PUT …/unyank` (spec §10), cargo's messages.

use anyhow::{Context as _, bail};
use gantry_client::auth::Op;
use gantry_package::report::Reporter;

use crate::cli::YankArgs;
use crate::context::Context;
use crate::remote::{self, Remote};
use crate::shell::Shell;

pub fn run(args: &YankArgs, shell: &Shell) -> anyhow::Result<()> {
    let ctx = Context::new(&args.global)?;
    let (krate, at_version) = match args.krate.as_deref().map(|k| k.split_once('@')) {
        Some(Some((k, v))) => (k.to_owned(), Some(v.to_owned())),
        Some(None) => (args.krate.clone().unwrap_or_default(), None),
        None => (super::owner::current_package(&ctx)?, None),
    };
    let version = match (at_version, args.version.clone()) {
        (Some(_), Some(_)) => bail!(
            "cannot specify both `@{}` and `--version`",
            args.krate
                .as_deref()
                .and_then(|k| k.split_once('@'))
                .map(|x| x.1)
                .unwrap_or("")
        ),
        (Some(v), None) | (None, Some(v)) => v,
        (None, None) => bail!("a version must be specified to yank"),
    };
    let target = remote::select(&ctx, args.registry.as_deref(), args.index.as_deref())?;
    if args.index.is_some() && args.token.is_none() {
        bail!("command-line argument --index requires --token to be specified");
    }
    let remote = Remote::connect(&ctx, target, args.token.as_deref(), shell)?;
    remote.api_url()?;
    let op = if args.undo {
        Op::Unyank {
            name: &krate,
            vers: &version,
        }
    } else {
        Op::Yank {
            name: &krate,
            vers: &version,
        }
    };
    let token = remote.token(op)?;
    let api = remote.web_api(Some(token))?;
    let spec = format!("{krate}@{version}");
    if args.undo {
        shell.status("Unyank", &spec);
        remote
            .runtime
            .block_on(api.unyank(&krate, &version))
            .with_context(|| format!("failed to undo a yank from the registry at {}", api.api()))?;
    } else {
        shell.status("Yank", &spec);
        remote
            .runtime
            .block_on(api.yank(&krate, &version))
            .with_context(|| format!("failed to yank from the registry at {}", api.api()))?;
    }
    Ok(())
}
