//! `cargo gantry publish`: cargo 1.95's flow (spec §1.2, §7, §9) plus what cargo lacks: 429 waits
//! for `Retry-After`, an unknown upload outcome is settled by asking the index before retrying,
//! a configurable wait with a non-zero exit on timeout, and JSON events.

mod events;
mod preflight;
mod upload;

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use gantry_package::package::{self as pkg, PackageOptions, PackagedCrate};
use gantry_package::registry::{self, PublishSetting, RegistryRequest};
use gantry_package::report::Reporter;
use gantry_package::select;
use gantry_package::verify::BuildFlags;
use gantry_package::workspace::load_workspace;

use crate::cli::PublishArgs;
use crate::context::Context;
use crate::remote::{self, Remote, Target};
use crate::shell::Shell;

pub use events::Events;

/// Wait for the index this long unless `publish.timeout` / `--publish-timeout` say otherwise.
const DEFAULT_WAIT: Duration = Duration::from_secs(60);

pub fn run(args: &PublishArgs, shell: &Shell) -> anyhow::Result<()> {
    let events = Events::new(args.message_format.as_deref() == Some("json"));
    let result = publish(args, shell, &events);
    if let Err(e) = &result {
        events.error(&format!("{e:#}"));
    }
    result
}

fn publish(args: &PublishArgs, shell: &Shell, events: &Events) -> anyhow::Result<()> {
    if args.token.is_some() {
        shell.warning(
            "`cargo publish --token` is deprecated in favor of using `cargo login` and environment variables",
        );
    }
    let selection = args.selection.selection()?;
    let ctx = Context::new(&args.global)?;
    let manifest_path = ctx.manifest_path(&args.manifest)?;
    let ws =
        load_workspace(&manifest_path).map_err(|e| super::package::manifest_error(e, &ctx.cwd))?;
    for warning in ws.load_warnings() {
        shell.warning(&warning);
    }
    let selected = selection.resolve(&ws)?;
    let explicit = selection.is_explicit(&ws);
    let Some(selected) = split_unpublishable(&ws, &selected, explicit, shell)? else {
        return Ok(());
    };

    // Which registry (§8.3), then the handle to it (§8.1–8.2).
    let request = ctx.registry_request(args.registry.as_deref(), args.index.as_deref())?;
    let settings: Vec<PublishSetting> = selected
        .iter()
        .map(|&i| PublishSetting {
            name: &ws.members[i].name,
            publish: ws.members[i].publish.as_deref(),
        })
        .collect();
    let index_of = |name: &str| ctx.registry_index(name);
    let resolved = registry::resolve_target(
        &request,
        &settings,
        &index_of,
        ctx.config.crates_io_replacement()?.as_deref(),
        "published",
    )?;
    let target = match (&request, &resolved.name) {
        (RegistryRequest::Index(url), _) => {
            if settings
                .iter()
                .any(|s| s.publish.is_some_and(|l| !l.is_empty()))
            {
                shell.warning("`--index` will ignore registries set by `package.publish` in Cargo.toml, and may cause unexpected push to prohibited registry\n  |\n  = help: use `--registry` instead or set `publish = true` in Cargo.toml to suppress this warning");
            }
            Target {
                name: None,
                index_url: url.clone(),
            }
        }
        (_, Some(name)) => {
            if request == RegistryRequest::None && name != registry::CRATES_IO {
                shell.note(&format!(
                    "found `{name}` as only allowed registry. Publishing to it automatically."
                ));
            }
            remote::named(&ctx, name)?
        }
        (_, None) => remote::named(&ctx, registry::CRATES_IO)?,
    };
    if args.index.is_some() && args.token.is_none() && !args.dry_run {
        bail!("command-line argument --index requires --token to be specified");
    }
    let remote =
        Remote::connect_with_token_flag(&ctx, target.clone(), args.token.as_deref(), shell)?;
    let api = remote.api_url()?;
    // Missing-token errors come before any packaging (cargo does the same).
    let token = if args.dry_run {
        None
    } else {
        Some(remote::token(
            &ctx,
            &target,
            args.token.as_deref(),
            remote::Operation::READ,
        )?)
    };
    for &i in &selected {
        let m = &ws.members[i];
        let version = m.version.to_string();
        if remote
            .runtime
            .block_on(remote.index.find(&m.name, &version))?
            .is_some()
        {
            let msg = format!(
                "crate {}@{} already exists on {}",
                m.name,
                version,
                target.describe()
            );
            if args.dry_run {
                shell.warning(&msg);
            } else {
                bail!(msg);
            }
        }
    }

    if target.is_crates_io() {
        for &i in &selected {
            check_no_foreign_deps(&ws.members[i])?;
        }
    }
    let crates = package_all(args, shell, &ctx, &ws, &selected, &target, events)?;
    // --- preflight (branch `preflight`): dry-run checks until the plan flow calls them itself.
    if args.dry_run {
        let token = args.token.as_deref();
        preflight::dry_run(&ctx, &ws, &crates, &remote, &target, token, shell)?;
    }
    // --- end preflight
    let edges = select::local_edges(&ws, &selected);
    let wait = wait_timeout(args, &ctx)?;
    let api_client = remote.web_api(token)?;
    let plan = upload::Plan {
        crates: &crates,
        edges: &edges,
        remote: &remote,
        api: &api_client,
        api_url: &api,
        dry_run: args.dry_run,
        wait,
        reg: crate::metadata::RegistryContext {
            target_index: target.canonical_url(),
            target_is_crates_io: target.is_crates_io(),
        },
        ws: &ws,
    };
    upload::run(&plan, shell, events)
}

/// crates.io cannot hold a crate whose dependencies live in another registry (spec §8.3).
fn check_no_foreign_deps(m: &gantry_package::workspace::Package) -> anyhow::Result<()> {
    use gantry_package::workspace::DepKind;
    for dep in &m.dependencies {
        if dep.kind == DepKind::Dev && dep.version_req.is_none() {
            continue; // stripped from the published manifest
        }
        if let Some(reg) = dep
            .registry
            .as_deref()
            .filter(|r| *r != registry::CRATES_IO)
        {
            return Err(anyhow::anyhow!(
                "crates cannot be published to crates.io with dependencies sourced from other\nregistries. `{}` needs to be published to crates.io before publishing this crate.\n(crate `{}` is pulled from registry `{reg}`)",
                dep.package,
                dep.package
            )
            .context(format!(
                "failed to verify manifest at `{}`",
                m.manifest_path.display()
            )));
        }
    }
    Ok(())
}

/// Drops `publish = false` (and versionless) packages; errors when the user named them.
fn split_unpublishable(
    ws: &gantry_package::workspace::Workspace,
    selected: &[usize],
    explicit: bool,
    shell: &Shell,
) -> anyhow::Result<Option<Vec<usize>>> {
    let unpublishable = |i: &usize| {
        let m = &ws.members[*i];
        !m.version_declared || m.publish.as_ref().is_some_and(Vec::is_empty)
    };
    let (blocked, ok): (Vec<usize>, Vec<usize>) = selected.iter().partition(|i| unpublishable(i));
    if !blocked.is_empty() && explicit {
        let names: Vec<String> = blocked
            .iter()
            .map(|&i| format!("`{}`", ws.members[i].name))
            .collect();
        bail!(
            "{} cannot be published.\n`package.publish` must be set to `true` or a non-empty list in Cargo.toml to publish.",
            names.join(", ")
        );
    }
    if ok.is_empty() {
        let n = blocked.len();
        shell.warning(&format!(
            "nothing to publish, but found {n} unpublishable package{}\n  |\n  = help: to publish packages, set `package.publish` to `true` or a non-empty list",
            if n == 1 { "" } else { "s" }
        ));
        return Ok(None);
    }
    Ok(Some(ok))
}

fn package_all(
    args: &PublishArgs,
    shell: &Shell,
    ctx: &Context,
    ws: &gantry_package::workspace::Workspace,
    selected: &[usize],
    target: &Target,
    events: &Events,
) -> anyhow::Result<Vec<PackagedCrate>> {
    let target_dir = ctx.target_dir(args.compile.target_dir.as_deref(), &ws.root_dir)?;
    let build_dir = ctx.build_dir(&target_dir, &ws.root_dir)?;
    let features = args.features.list();
    let registry_index = |name: &str| ctx.registry_index(name);
    let registry_name = |url: &str| ctx.registry_name(url);
    let list_sink = |line: &str| shell.stdout_line(line);
    let registry = match &target.name {
        Some(n) => RegistryRequest::Name(n.clone()),
        None => RegistryRequest::Index(target.index_url.clone()),
    };
    let opts = PackageOptions {
        list: false,
        verify: !args.no_verify,
        check_metadata: true,
        allow_dirty: args.allow_dirty,
        include_lockfile: true,
        registry,
        registry_index: &registry_index,
        registry_name: &registry_name,
        crates_io_replacement: None,
        verify_dir: super::package::verify_dir(&ws.root_dir),
        target_dir,
        build_dir,
        build: BuildFlags {
            features,
            all_features: args.features.all_features,
            no_default_features: args.features.no_default_features,
            targets: args.compile.target.clone(),
            jobs: args.compile.jobs.clone(),
            keep_going: args.compile.keep_going,
        },
        cargo: ctx.cargo(&args.global, &args.manifest, shell.color_arg()),
        cwd: ctx.cwd.clone(),
        publishing: true,
        list_sink: &list_sink,
    };
    let started = Instant::now();
    let crates = pkg::package(ws, selected, &opts, shell)?;
    let elapsed = started.elapsed();
    for c in &crates {
        events.step("packaged", &c.name, &c.version, Some(&c.checksum), elapsed);
        if !args.no_verify {
            events.step("verified", &c.name, &c.version, Some(&c.checksum), elapsed);
        }
    }
    Ok(crates)
}

/// `--publish-timeout`, else `publish.timeout` (seconds; 0 = do not wait), else 60 s.
fn wait_timeout(args: &PublishArgs, ctx: &Context) -> anyhow::Result<Duration> {
    if let Some(secs) = args.publish_timeout {
        return Ok(Duration::from_secs(secs));
    }
    match ctx.config.get_string("publish.timeout")? {
        Some((v, _)) => {
            let secs: u64 = v
                .parse()
                .with_context(|| format!("invalid `publish.timeout` value `{v}`"))?;
            Ok(Duration::from_secs(secs))
        }
        None => Ok(DEFAULT_WAIT),
    }
}

/// `a`, `a or b`, `a, b, or c` (cargo's lists in waiting messages).
pub(crate) fn join_list(items: &[String], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} {word} {b}"),
        [rest @ .., last] => format!("{}, {word} {last}", rest.join(", ")),
    }
}
