//! `cargo gantry publish`: cargo 1.95's flow (spec §1.2, §7, §9) plus what cargo lacks: 429 waits
//! for `Retry-After`, an unknown upload outcome is settled by asking the index before retrying,
//! a configurable wait with a non-zero exit on timeout, and JSON events.

mod events;
mod messages;
mod preflight;
mod progress;
mod reel;
mod report;
mod upload;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use gantry_package::package::{self as pkg, PackageOptions, PackagedCrate};
use gantry_package::registry::{self, PublishSetting, RegistryRequest};
use gantry_package::report::Reporter;
use gantry_package::workspace::load_workspace;

use crate::cli::PublishArgs;
use crate::context::Context;
use crate::remote::{self, Remote, Target};
use crate::shell::Shell;
use gantry_client::auth::Op;

pub use events::Events;
use gantry_publish::edges::upload_edges;
use gantry_publish::journal::{self, Journal, Step};
use gantry_publish::plan::{self, RegistryState};
use progress::Progress;

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
    // The registry arguments are checked as arguments, before the workspace is read (as cargo).
    ctx.registry_request(args.registry.as_deref(), args.index.as_deref())?;
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
    let resolved = match registry::resolve_target(
        &request,
        &settings,
        &index_of,
        ctx.config.crates_io_replacement()?.as_deref(),
        "published",
    ) {
        Ok(resolved) => resolved,
        // The API commands' words: a replacement by a remote registry names `--registry` choices.
        Err(e @ registry::RegistryError::CratesIoReplaced(_)) => {
            return Err(remote::check_replacement(&ctx)
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
                shell.warning("`--index` will ignore registries set by `package.publish` in Cargo.toml, and may cause unexpected push to prohibited registry\nhelp: use `--registry` instead or set `publish = true` in Cargo.toml to suppress this warning");
            }
            remote::index_target(&ctx, url)
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
    // Trusted publishing: one exchange for the run, revoked when `trusted` drops (any outcome).
    let trusted = crate::trustpub::Session::new(
        &args.trusted,
        &ctx,
        &target,
        args.token.is_some(),
        args.dry_run,
        shell,
    )?;
    let remote = Remote::connect_with(
        &ctx,
        target.clone(),
        args.token.as_deref(),
        args.manifest.offline || args.manifest.frozen,
        shell,
        Some(&|login_url| trusted.index_token(login_url)),
    )?;
    trusted.begin(&remote)?;
    let api = remote.api_url()?;
    // Missing-token errors come before any packaging (cargo does the same).
    if !args.dry_run {
        remote.require_token(Op::Read)?;
    }
    if args.dry_run {
        warn_existing_versions(&ws, &selected, &remote, &target, shell);
    }
    if target.is_crates_io() {
        for &i in &selected {
            check_no_foreign_deps(&ws.members[i])?;
        }
    }

    // Packaging is cheap: do it first, so the registry state can be decided by checksum.
    let registry_index = |name: &str| ctx.registry_index(name);
    let registry_name_of = |url: &str| ctx.registry_name(url);
    let list_sink = |line: &str| shell.stdout_line(line);
    let mut opts = package_options(
        args,
        shell,
        &ctx,
        &ws,
        &target,
        &registry_index,
        &registry_name_of,
        &list_sink,
    )?;
    trusted.lend_to_cargo(&mut opts.cargo);
    // Connecting said `Updating …` for the target's index: a git index is not fetched again.
    opts.names.show_index_update(&target.describe());
    let started = Instant::now();
    let pkg::Packaged { crates, overlay } = pkg::package(&ws, &selected, &opts, shell)?;
    for c in &crates {
        events.step(
            "packaged",
            &c.name,
            &c.version,
            Some(&c.checksum),
            started.elapsed(),
        );
    }
    let states = plan::read_states(&remote.runtime, &remote.index, &crates)
        .with_context(|| format!("failed to read {}", target.describe()))?;
    let registry_name = target.display().to_owned();
    report::show_plan(&crates, &states, &registry_name, shell, events);
    let refusals: Vec<String> = crates
        .iter()
        .zip(&states)
        .filter_map(|(c, s)| plan::refusal(c, s, &target.describe()))
        .collect();
    // A real run stops here. A dry run goes on as cargo's does: it has already warned in cargo's
    // words that the version exists; the checksums are shown with `--verbose`.
    if !refusals.is_empty() && !args.dry_run {
        bail!("{}", refusals.join("\n\n"));
    }
    if shell.verbose() {
        for r in &refusals {
            shell.warning(r);
        }
    }

    // Like everything else publish writes, the journal lives in the build dir (cargo's publish
    // leaves the target dir alone; the build dir is the target dir unless configured).
    let journal_path = journal::path_for(&opts.build_dir, &ws.root_dir, &target.index_url);
    let planned: Vec<(String, String, String)> = crates
        .iter()
        .map(|c| (c.name.clone(), c.version.clone(), c.checksum.clone()))
        .collect();
    let previous = match journal::load(&journal_path) {
        Ok(p) => p,
        Err(why) => {
            shell.warning(&format!("{why}; starting a fresh journal"));
            None
        }
    };
    let previous = previous.map(|p| journal::compare(&p, &planned));
    for note in previous.iter().flat_map(|p| &p.notes) {
        shell.note(note);
    }
    // A dry run checks a crate the registry would refuse as it checks the others (cargo's does).
    let to_upload: Vec<usize> = (0..crates.len())
        .filter(|&i| match states[i] {
            RegistryState::Absent { .. } => true,
            RegistryState::Identical => false,
            RegistryState::Different { .. } | RegistryState::BuildTwin { .. } => args.dry_run,
        })
        .collect();
    // A dry run leaves the journal of a real run alone.
    let journal = if args.dry_run {
        None
    } else {
        let journal = Journal::start(
            journal_path,
            &registry_name,
            &planned
                .iter()
                .map(|(n, v, c)| (n.clone(), v.clone(), Some(c.clone())))
                .collect::<Vec<_>>(),
            Box::new(|m: &str| shell.warning(m)),
        );
        for (c, s) in crates.iter().zip(&states) {
            journal.record(&c.name, &c.version, Step::Packaged, None);
            if *s == RegistryState::Identical {
                journal.record(&c.name, &c.version, Step::Skipped, None);
            }
        }
        Some(journal)
    };

    let upload: Vec<PackagedCrate> = to_upload.iter().map(|&i| crates[i].clone()).collect();
    let name_known: Vec<bool> = to_upload
        .iter()
        .map(|&i| !matches!(states[i], RegistryState::Absent { name_known: false }))
        .collect();
    // A dry run warned about the refusals above; they do not fail it (cargo's only warns).
    let fatal: &[String] = if args.dry_run { &[] } else { &refusals };
    run_preflight(
        args,
        &ws,
        &crates,
        (&upload, &name_known),
        &remote,
        &target,
        fatal,
        shell,
    )?;
    if !args.no_verify && !upload.is_empty() {
        let started = Instant::now();
        pkg::verify_packaged(&ws, &upload, overlay.as_ref(), &opts, shell)?;
        for c in &upload {
            events.step(
                "verified",
                &c.name,
                &c.version,
                Some(&c.checksum),
                started.elapsed(),
            );
            if let Some(j) = &journal {
                j.record(&c.name, &c.version, Step::Verified, None);
            }
        }
    }
    let recheck: BTreeSet<usize> = upload
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            previous.as_ref().is_some_and(|p| {
                p.recheck
                    .iter()
                    .any(|(n, v)| *n == c.name && *v == c.version)
            })
        })
        .map(|(i, _)| i)
        .collect();
    let edges = upload_edges(&ws, &selected);
    let wait = wait_timeout(args, &ctx)?;
    // Asked per upload, so a provider issuing short-lived or per-crate tokens answers each one.
    let token_for = |c: &PackagedCrate| {
        remote.token(Op::Publish {
            name: &c.name,
            vers: &c.version,
            cksum: &c.checksum,
        })
    };
    let plan = upload::Plan {
        crates: &upload,
        name_known: &name_known,
        recheck: &recheck,
        edges: &edges,
        remote: &remote,
        api_url: &api,
        token: &token_for,
        dry_run: args.dry_run,
        wait,
        jobs: usize::from(args.upload_jobs),
        reg: crate::metadata::RegistryContext {
            target_index: target.canonical_url(),
            target_is_crates_io: target.is_crates_io(),
        },
        ws: &ws,
    };
    let quiet_journal;
    let journal = match &journal {
        Some(j) => j,
        None => {
            // Dry run: steps go nowhere.
            quiet_journal = Journal::discard();
            &quiet_journal
        }
    };
    let progress = Progress::new(upload.len(), !args.global.quiet);
    let outcomes = upload::run(&plan, shell, events, journal, &progress);
    report::report(&crates, &states, &to_upload, &outcomes, shell, events, wait)
}

/// The registry's rules, inter-crate requirements, authentication and ownership, checked before
/// any build or upload (spec: issue 5 item 3). Every problem is printed; any problem stops the run.
#[allow(clippy::too_many_arguments)]
fn run_preflight(
    args: &PublishArgs,
    ws: &gantry_package::workspace::Workspace,
    all: &[PackagedCrate],
    (upload, name_known): (&[PackagedCrate], &[bool]),
    remote: &Remote,
    target: &Target,
    refusals: &[String],
    shell: &Shell,
) -> anyhow::Result<()> {
    let all_versions: Vec<(String, String)> = all
        .iter()
        .map(|c| (c.name.clone(), c.version.clone()))
        .collect();
    // A real publish already has its token; a dry run (which cargo runs without one) only uses
    // it for advice, so a provider that cannot give one is not a reason to stop.
    // A real publish to a registry whose rules are unknown makes no remote checks (cargo makes
    // none), so its credential provider is not asked again for them.
    // A dry run to a bare `--index` without `--token` has no credentials to look up by name.
    let remote_checks = if args.dry_run {
        !(target.name.is_none() && args.token.is_none())
    } else {
        preflight::Rules::of(remote) != preflight::Rules::Unknown
    };
    let token = match remote_checks.then(|| remote.lookup(Op::Read)).transpose() {
        Ok(t) => t.flatten(),
        Err(e) if args.dry_run => {
            shell.warning(&format!(
                "no token to check authentication and ownership with: {}",
                e.to_string().lines().next().unwrap_or_default()
            ));
            None
        }
        Err(e) => return Err(e),
    };
    let api = token.map(|t| remote.web_api(Some(t))).transpose()?;
    let input = preflight::PreflightInput {
        ws,
        crates: upload,
        name_known,
        all_versions: &all_versions,
        remote,
        api: api.as_ref(),
        reg: crate::metadata::RegistryContext {
            target_index: target.canonical_url(),
            target_is_crates_io: target.is_crates_io(),
        },
        dry_run: args.dry_run,
    };
    let found = if upload.is_empty() {
        preflight::Preflight::default()
    } else {
        preflight::check_all(&input)
    };
    for r in refusals {
        shell.error(&anyhow::anyhow!("{r}"));
    }
    preflight::report(&found, args.dry_run, shell);
    // Checks a dry run could not make (cargo's makes none) are worth a line only beside findings,
    // or when asked for detail.
    let anything_said = !found.warnings.is_empty()
        || !found.unchecked.is_empty()
        || !found.problems.is_empty()
        || !refusals.is_empty();
    if args.dry_run && !found.not_run.is_empty() && (anything_said || shell.verbose()) {
        shell.note(&format!(
            "dry run: checks that could not run: {}",
            found.not_run.join("; ")
        ));
    }
    let n = found.problems.len() + refusals.len();
    if n > 0 {
        let s = if n == 1 { "" } else { "s" };
        if args.dry_run {
            bail!(
                "dry run found {n} problem{s} that the registry would refuse; nothing was uploaded"
            );
        }
        bail!(
            "found {n} problem{s} that the registry would refuse; nothing was built or uploaded\n  = help: `--dry-run` lists the same checks without publishing"
        );
    }
    Ok(())
}

/// cargo's dry-run warning, before packaging, for each selected version already in the index (by
/// version alone; the checksum comparison comes after packaging). An index that cannot be read
/// here is read again, with its error, after packaging.
fn warn_existing_versions(
    ws: &gantry_package::workspace::Workspace,
    selected: &[usize],
    remote: &Remote,
    target: &Target,
    shell: &Shell,
) {
    for &i in selected {
        let m = &ws.members[i];
        let version = m.version.to_string();
        if let Ok(Some(_)) = remote
            .runtime
            .block_on(remote.index.find(&m.name, &version))
        {
            shell.warning(&format!(
                "crate {}@{version} already exists on {}",
                m.name,
                target.describe()
            ));
        }
    }
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

/// cargo publish's packaging options; verification is a separate step ([`pkg::verify_packaged`]),
/// run after the plan and the preflight checks, for the crates that will be uploaded.
#[allow(clippy::too_many_arguments)]
fn package_options<'a>(
    args: &PublishArgs,
    shell: &Shell,
    ctx: &Context,
    ws: &gantry_package::workspace::Workspace,
    target: &Target,
    registry_index: &'a dyn Fn(&str) -> Option<String>,
    registry_name: &'a dyn Fn(&str) -> Option<String>,
    list_sink: &'a dyn Fn(&str),
) -> anyhow::Result<PackageOptions<'a>> {
    let target_dir = ctx.target_dir(args.compile.target_dir.as_deref(), &ws.root_dir)?;
    let build_dir = ctx.build_dir(&target_dir, &ws.root_dir)?;
    let registry = match &target.name {
        Some(n) => RegistryRequest::Name(n.clone()),
        None => RegistryRequest::Index(target.index_url.clone()),
    };
    Ok(PackageOptions {
        list: false,
        verify: false,
        check_metadata: true,
        allow_dirty: args.allow_dirty,
        include_lockfile: true,
        registry,
        registry_index,
        registry_name,
        crates_io_replacement: None,
        target_dir,
        build_dir,
        crates_io: ctx.crates_io_upstream()?,
        build: args.compile.build_flags(&args.features),
        cargo: ctx.cargo(&args.global, &args.manifest, shell.color_arg()),
        cwd: ctx.cwd.clone(),
        publishing: true,
        dry_run: args.dry_run,
        names: ctx.registry_names(),
        list_sink,
    })
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
