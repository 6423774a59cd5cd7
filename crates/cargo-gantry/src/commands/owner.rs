//! `cargo gantry owner`: add, remove and list owners (spec §10), cargo's requests and messages.

use anyhow::{Context as _, anyhow, bail};
use gantry_client::auth::Op;
use gantry_package::Reporter;
use gantry_package::load_workspace;

use crate::cli::{ManifestArgs, OwnerArgs};
use crate::context::Context;
use crate::remote::{self, Remote};
use crate::shell::Shell;

pub(crate) fn run(args: &OwnerArgs, shell: &Shell) -> anyhow::Result<()> {
    let ctx = Context::new(&args.global)?;
    // `--registry`/`--index`/`registry.default` are checked as arguments, before anything is read.
    ctx.registry_request(args.registry.as_deref(), args.index.as_deref())?;
    let krate = match &args.krate {
        Some(k) => k.clone(),
        None => current_package(&ctx)?,
    };
    let target = remote::select(&ctx, args.registry.as_deref(), args.index.as_deref())?;
    if args.index.is_some() && args.token.is_none() {
        bail!("command-line argument --index requires --token to be specified");
    }
    let remote = Remote::connect(
        &ctx,
        target,
        args.token.as_deref(),
        args.net.offline || args.net.frozen,
        shell,
    )?;
    remote.api_url()?;
    let token = remote.token(Op::Owners { name: &krate })?;
    let api = remote.web_api(Some(token))?;
    let at = api.api().to_owned();
    if !args.add.is_empty() {
        let msg = remote
            .runtime
            .block_on(api.add_owners(&krate, &args.add))
            .with_context(|| {
                format!("failed to invite owners to crate `{krate}` on registry at {at}")
            })?;
        // A registry that answers `ok` without a message (not crates.io) still did the work.
        let msg = msg.unwrap_or_else(|| format!("added {:?} to crate {krate}", args.add));
        shell.status("Owner", &msg);
    }
    if !args.remove.is_empty() {
        shell.status(
            "Owner",
            &format!("removing {:?} from crate {krate}", args.remove),
        );
        remote
            .runtime
            .block_on(api.remove_owners(&krate, &args.remove))
            .with_context(|| {
                format!("failed to remove owners from crate `{krate}` on registry at {at}")
            })?;
    }
    if args.list {
        let owners = remote
            .runtime
            .block_on(api.list_owners(&krate))
            .with_context(|| {
                format!("failed to list owners of crate `{krate}` on registry at {at}")
            })?;
        for o in owners {
            shell.stdout_line(&o.display_line());
        }
    }
    Ok(())
}

/// The package in the current directory, for commands whose crate argument is optional.
pub(crate) fn current_package(ctx: &Context) -> anyhow::Result<String> {
    let manifest = ctx.manifest_path(&ManifestArgs::default())?;
    let ws = load_workspace(&manifest).map_err(|e| anyhow!(e))?;
    ws.members
        .iter()
        .find(|m| m.manifest_path == manifest)
        .map(|m| m.name.clone())
        .ok_or_else(|| {
            anyhow!(
                "a package name must be specified: `{}` is a virtual manifest",
                manifest.display()
            )
        })
}
