//! `cargo gantry yank`: `DELETE …/yank` or `PUT …/unyank` (spec §10), cargo's messages.

use anyhow::{Context as _, bail};
use gantry_client::auth::Op;
use gantry_package::Reporter;

use crate::cli::YankArgs;
use crate::context::Context;
use crate::remote::{self, Remote};
use crate::shell::Shell;

pub(crate) fn run(args: &YankArgs, shell: &Shell) -> anyhow::Result<()> {
    // Arguments first, as cargo checks them: nothing is read or fetched for a bad command line.
    let (krate, version) = resolve_args(args.krate.as_deref(), args.version.as_deref())?;
    let version = version.to_owned();
    let ctx = Context::new(&args.global)?;
    // `--registry`/`--index`/`registry.default` are checked as arguments, before anything is read.
    ctx.registry_request(args.registry.as_deref(), args.index.as_deref())?;
    let krate = match krate {
        Some(k) => k.to_owned(),
        None => super::owner::current_package(&ctx)?,
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

/// `CRATE[@VERSION]` and `--version` as cargo reads them: one version, given once, and a valid
/// SemVer version (a leading `v` gets cargo's hint to drop it).
fn resolve_args<'a>(
    krate: Option<&'a str>,
    version: Option<&'a str>,
) -> anyhow::Result<(Option<&'a str>, &'a str)> {
    let (krate, version) = match krate.and_then(|k| k.split_once('@')) {
        Some((_, v)) if version.is_some() => bail!("cannot specify both `@{v}` and `--version`"),
        // An argument starting with `@` names no crate.
        Some(("", v)) => bail!("missing crate name for `@{v}`"),
        Some((k, v)) => (Some(k), Some(v)),
        None => (krate, version),
    };
    let Some(version) = version else {
        bail!("`--version` is required");
    };
    check_version(version)?;
    Ok((krate, version))
}

fn check_version(text: &str) -> anyhow::Result<()> {
    semver::Version::parse(text).map(drop).map_err(|e| {
        let unprefixed = text.strip_prefix('v').filter(|v| semver::Version::parse(v).is_ok());
        let message = match unprefixed {
            Some(v) => format!(
                "the version provided, `{text}` is not a valid SemVer version\n\nhelp: try changing the version to `{v}`"
            ),
            None => format!("invalid version `{text}`"),
        };
        anyhow::Error::new(e).context(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(krate: Option<&str>, version: Option<&str>) -> String {
        format!("{:#}", resolve_args(krate, version).unwrap_err())
    }

    #[test]
    fn arguments_are_checked_as_cargo_checks_them() {
        let (k, v) = resolve_args(Some("foo@0.0.1"), None).unwrap();
        assert_eq!((k, v), (Some("foo"), "0.0.1"));
        let (k, v) = resolve_args(None, Some("1.2.3-rc.1")).unwrap();
        assert_eq!((k, v), (None, "1.2.3-rc.1"));
        assert_eq!(err(Some("foo"), None), "`--version` is required");
        assert_eq!(err(Some("@0.0.1"), None), "missing crate name for `@0.0.1`");
        assert_eq!(
            err(Some("foo@0.0.1"), Some("0.0.2")),
            "cannot specify both `@0.0.1` and `--version`"
        );
        assert_eq!(
            err(Some("foo@bar"), None),
            "invalid version `bar`: unexpected character 'b' while parsing major version number"
        );
        assert!(
            err(Some("foo@v0.0.1"), None)
                .starts_with("the version provided, `v0.0.1` is not a valid SemVer version\n\nhelp: try changing the version to `0.0.1`")
        );
    }
}
