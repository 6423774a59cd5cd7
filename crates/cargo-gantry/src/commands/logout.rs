//! `cargo gantry logout`: removes the stored token (spec §8.5), same messages as cargo.

use gantry_client::credentials::{self, CRATES_IO};
use gantry_package::report::Reporter;

use crate::cli::LogoutArgs;
use crate::context::Context;
use crate::remote;
use crate::shell::Shell;

pub fn run(args: &LogoutArgs, shell: &Shell) -> anyhow::Result<()> {
    let ctx = Context::new(&args.global)?;
    let target = remote::select(&ctx, args.registry.as_deref(), None)?;
    let name = target
        .credential_name(&ctx)
        .unwrap_or_else(|| target.display().to_owned());
    if !credentials::remove_token(ctx.config.cargo_home(), &name)? {
        shell.status("Logout", &format!("not currently logged in to `{name}`"));
        return Ok(());
    }
    shell.status(
        "Logout",
        &format!("token for `{name}` has been removed from local storage"),
    );
    let place = if name == CRATES_IO {
        "<https://crates.io/me>".to_owned()
    } else {
        format!("the `{name}` website")
    };
    shell.plain(&format!(
        "note: This does not revoke the token on the registry server.\n    If you need to revoke the token, visit {place} and follow the instructions there."
    ));
    Ok(())
}
