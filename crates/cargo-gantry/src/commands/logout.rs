//! `cargo gantry logout`: the registry's credential provider forgets its token (spec §8.5), with
//! cargo's messages. Nothing is asked of the registry itself.

use gantry_package::Reporter;

use crate::cli::LogoutArgs;
use crate::context::Context;
use crate::remote;
use crate::shell::Shell;

pub(crate) fn run(args: &LogoutArgs, shell: &Shell) -> anyhow::Result<()> {
    let ctx = Context::new(&args.global)?;
    let auth = remote::auth_for(&ctx, args.registry.as_deref(), shell)?;
    if !auth.logout()? {
        let name = auth.registry().display_name().to_owned();
        shell.status("Logout", &format!("not currently logged in to `{name}`"));
    }
    Ok(())
}
