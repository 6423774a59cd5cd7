//! The publish run's registry: which one the arguments and `package.publish` choose (§8.3), and
//! the connection to it (§8.1–8.2) with the checks cargo makes before packaging.

use anyhow::bail;
use gantry_client::auth::Op;
use gantry_package::Reporter;
use gantry_package::{PublishSetting, RegistryRequest};

use super::{PublishRun, checks};
use crate::remote::{self, Remote, Target};
use crate::trustpub;

impl PublishRun<'_> {
    /// Which registry (§8.3): `--registry`/`--index`, `registry.default`, or `package.publish`.
    pub(super) fn target(&self) -> anyhow::Result<Target> {
        let (args, ctx, ws) = (self.args, &self.ctx, &self.ws);
        let request = ctx.registry_request(args.registry.as_deref(), args.index.as_deref())?;
        let settings: Vec<PublishSetting> = self
            .selected
            .iter()
            .map(|&i| PublishSetting {
                name: &ws.members[i].name,
                publish: ws.members[i].publish.as_deref(),
            })
            .collect();
        let index_of = |name: &str| ctx.registry_index(name);
        let resolved = match gantry_package::resolve_target(
            &request,
            &settings,
            &index_of,
            ctx.config.crates_io_replacement()?.as_deref(),
            "published",
        ) {
            Ok(resolved) => resolved,
            // The API commands' words: a replacement by a remote registry names `--registry` choices.
            Err(e @ gantry_package::RegistryError::CratesIoReplaced(_)) => {
                return Err(remote::check_replacement(ctx)
                    .err()
                    .unwrap_or_else(|| e.into()));
            }
            Err(e) => return Err(e.into()),
        };
        let target = match (&request, &resolved.name) {
            (RegistryRequest::Index(url), _) => {
                if settings
                    .iter()
                    .any(|s| s.publish.is_some_and(|l| !l.is_empty()))
                {
                    self.shell.warning("`--index` will ignore registries set by `package.publish` in Cargo.toml, and may cause unexpected push to prohibited registry\nhelp: use `--registry` instead or set `publish = true` in Cargo.toml to suppress this warning");
                }
                remote::index_target(ctx, url)
            }
            (_, Some(name)) => {
                if request == RegistryRequest::None && name != gantry_package::CRATES_IO {
                    self.shell.note(&format!(
                        "found `{name}` as only allowed registry. Publishing to it automatically."
                    ));
                }
                remote::named(ctx, name)?
            }
            (_, None) => remote::named(ctx, gantry_package::CRATES_IO)?,
        };
        if args.index.is_some() && args.token.is_none() && !args.dry_run {
            bail!("command-line argument --index requires --token to be specified");
        }
        Ok(target)
    }

    /// The handle to the registry (§8.1–8.2), and the checks cargo makes before packaging.
    pub(super) fn connect(
        &self,
        target: &Target,
        trusted: &trustpub::Session,
    ) -> anyhow::Result<Remote> {
        let args = self.args;
        let remote = Remote::connect_with(
            &self.ctx,
            target.clone(),
            args.token.as_deref(),
            args.manifest.offline || args.manifest.frozen,
            self.shell,
            Some(&|login_url| trusted.index_token(login_url)),
        )?;
        trusted.begin(&remote)?;
        remote.api_url()?;
        // Missing-token errors come before any packaging (cargo does the same).
        if !args.dry_run {
            remote.require_token(Op::Read)?;
        }
        if args.dry_run {
            checks::warn_existing_versions(&self.ws, &self.selected, &remote, target, self.shell);
        }
        if target.is_crates_io() {
            for &i in &self.selected {
                checks::check_no_foreign_deps(&self.ws.members[i])?;
            }
        }
        Ok(remote)
    }
}
