//! `cargo gantry publish`: cargo 1.95's flow (spec §1.2, §7, §9) plus what cargo lacks: 429 waits
//! for `Retry-After`, an unknown upload outcome is settled by asking the index before retrying,
//! a configurable wait with a non-zero exit on timeout, and JSON events.
//!
//! [`publish`] reads as the flow: a [`PublishRun`] is selected, then each step is one method
//! (target → connect → package → plan → journal → preflight → verify → upload), and the report
//! decides the exit code. The decisions without I/O live in the `gantry-publish` library.

mod checks;
mod events;
mod messages;
mod preflight;
mod progress;
mod reel;
mod report;
mod target;
mod upload;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use gantry_client::auth::Op;
use gantry_package::Overlay;
use gantry_package::RegistryRequest;
use gantry_package::Reporter;
use gantry_package::{self as pkg, PackageOptions, PackagedCrate};
use gantry_package::{Workspace, load_workspace};
use gantry_publish::edges::upload_edges;
use gantry_publish::journal::{self, Journal, Previous, Step};
use gantry_publish::plan::{self, RegistryState};
use gantry_publish::schedule::Outcome;

use crate::cli::PublishArgs;
use crate::context::Context;
use crate::metadata::RegistryContext;
use crate::remote::{Remote, Target};
use crate::shell::Shell;
use crate::trustpub;
use crate::yanked::YankCheck;

pub(crate) use events::Events;
use progress::Progress;

/// Wait for the index this long unless `publish.timeout` / `--publish-timeout` say otherwise.
const DEFAULT_WAIT: Duration = Duration::from_secs(60);

pub(crate) fn run(args: &PublishArgs, shell: &Shell) -> anyhow::Result<()> {
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
    let Some(run) = PublishRun::select(args, shell, events)? else {
        return Ok(());
    };
    let target = run.target()?;
    // Trusted publishing: one exchange for the run, revoked when `trusted` drops (any outcome).
    let trusted = trustpub::Session::new(
        &args.trusted,
        &run.ctx,
        &target,
        args.token.is_some(),
        args.dry_run,
        shell,
    )?;
    let remote = run.connect(&target, &trusted)?;

    // Packaging is cheap: do it first, so the registry state can be decided by checksum.
    let registry_index = |name: &str| run.ctx.registry_index(name);
    let registry_name_of = |url: &str| run.ctx.registry_name(url);
    let list_sink = |line: &str| shell.stdout_line(line);
    let mut opts = run.package_options(&target, &registry_index, &registry_name_of, &list_sink)?;
    trusted.lend_to_cargo(&mut opts.cargo);
    // cargo checks each packaged Cargo.lock for yanked versions (with the run's token if the
    // index needs one).
    let index_token = |login_url: Option<&str>| trusted.index_token(login_url);
    let offline = args.manifest.offline || args.manifest.frozen;
    let yank_check = YankCheck::new(&run.ctx, offline, shell).with_index_token(&index_token);
    opts.lock_check = Some(&yank_check);
    let pkg::Packaged { crates, overlay } = run.package(&target, &opts)?;
    let planned = run.plan(crates, &remote, &target)?;
    let (journal, previous) = run.journal(&planned, &opts, &target);
    run.preflight(&planned, &remote, &target)?;
    run.verify(&planned, overlay.as_ref(), &opts, journal.as_ref())?;
    let wait = wait_timeout(args, &run.ctx)?;
    let outcomes = run.upload(&planned, &remote, &target, previous.as_ref(), journal, wait)?;
    report::report(
        &planned.crates,
        &planned.states,
        &planned.to_upload,
        &outcomes,
        shell,
        events,
        wait,
    )
}

/// One publish run: the arguments, the user's setup and the members selected, which every step
/// reads. What a step finds is returned to [`publish`], which hands it to the next.
struct PublishRun<'a> {
    args: &'a PublishArgs,
    shell: &'a Shell,
    events: &'a Events,
    ctx: Context,
    ws: Workspace,
    /// The members to publish, in packaging order; unpublishable ones already left out.
    selected: Vec<usize>,
}

/// The packaged crates and what the registry's index says about each.
struct Planned {
    crates: Vec<PackagedCrate>,
    states: Vec<RegistryState>,
    /// Versions already in the registry with other bytes (fatal except in a dry run).
    refusals: Vec<String>,
    /// Indices into `crates` of the crates to upload.
    to_upload: Vec<usize>,
    /// The crates to upload, in packaging order.
    uploads: Vec<PackagedCrate>,
    /// For each upload: whether the registry already knows the crate's name.
    name_known: Vec<bool>,
}

impl<'a> PublishRun<'a> {
    /// Reads the workspace and picks the members to publish; `None` when nothing is publishable
    /// (after cargo's warning).
    fn select(
        args: &'a PublishArgs,
        shell: &'a Shell,
        events: &'a Events,
    ) -> anyhow::Result<Option<Self>> {
        let selection = args.selection.selection()?;
        let ctx = Context::new(&args.global)?;
        // The registry arguments are checked as arguments, before the workspace is read (as cargo).
        ctx.registry_request(args.registry.as_deref(), args.index.as_deref())?;
        let manifest_path = ctx.manifest_path(&args.manifest)?;
        let ws = load_workspace(&manifest_path)
            .map_err(|e| super::package::manifest_error(e, &ctx.cwd))?;
        for warning in ws.load_warnings() {
            shell.warning(&warning);
        }
        args.compile.targets()?;
        let selected = selection.resolve(&ws)?;
        let explicit = selection.is_explicit(&ws);
        let Some(selected) = checks::split_unpublishable(&ws, &selected, explicit, shell)? else {
            return Ok(None);
        };
        Ok(Some(PublishRun {
            args,
            shell,
            events,
            ctx,
            ws,
            selected,
        }))
    }

    /// cargo publish's packaging options; verification is a separate step ([`Self::verify`]), run
    /// after the plan and the preflight checks, for the crates that will be uploaded.
    fn package_options<'o>(
        &self,
        target: &Target,
        registry_index: &'o dyn Fn(&str) -> Option<String>,
        registry_name: &'o dyn Fn(&str) -> Option<String>,
        list_sink: &'o dyn Fn(&str),
    ) -> anyhow::Result<PackageOptions<'o>> {
        let (args, ctx, ws) = (self.args, &self.ctx, &self.ws);
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
            cargo: ctx.cargo(&args.global, &args.manifest, self.shell.color_arg()),
            cwd: ctx.cwd.clone(),
            publishing: true,
            dry_run: args.dry_run,
            names: ctx.registry_names(),
            list_sink,
            lock_check: None,
        })
    }

    /// Packages every selected member (no verification yet).
    fn package(&self, target: &Target, opts: &PackageOptions) -> anyhow::Result<pkg::Packaged> {
        // Connecting said `Updating …` for the target's index: a git index is not fetched again.
        opts.names.show_index_update(&target.describe());
        let started = Instant::now();
        let packaged = pkg::package(&self.ws, &self.selected, opts, self.shell)?;
        for c in &packaged.crates {
            self.events.step(
                "packaged",
                &c.name,
                &c.version,
                Some(&c.checksum),
                started.elapsed(),
            );
        }
        Ok(packaged)
    }

    /// Each crate's state in the registry, by checksum; shows the plan. A version the registry
    /// holds with other bytes stops a real run here.
    fn plan(
        &self,
        crates: Vec<PackagedCrate>,
        remote: &Remote,
        target: &Target,
    ) -> anyhow::Result<Planned> {
        let (args, shell) = (self.args, self.shell);
        let states = plan::read_states(&remote.runtime, &remote.index, &crates)
            .with_context(|| format!("failed to read {}", target.describe()))?;
        report::show_plan(&crates, &states, target.display(), shell, self.events);
        let refusals: Vec<String> = crates
            .iter()
            .zip(&states)
            .filter_map(|(c, s)| plan::refusal(c, s, &target.describe()))
            .collect();
        // A real run stops here. A dry run goes on as cargo's does: it has already warned in
        // cargo's words that the version exists; the checksums are shown with `--verbose`.
        if !refusals.is_empty() && !args.dry_run {
            bail!("{}", refusals.join("\n\n"));
        }
        if shell.verbose() {
            for r in &refusals {
                shell.warning(r);
            }
        }
        // A dry run checks a crate the registry would refuse as it checks the others (cargo's does).
        let to_upload: Vec<usize> = (0..crates.len())
            .filter(|&i| match states[i] {
                RegistryState::Absent { .. } => true,
                RegistryState::Identical => false,
                RegistryState::Different { .. } | RegistryState::BuildTwin { .. } => args.dry_run,
            })
            .collect();
        let uploads = to_upload.iter().map(|&i| crates[i].clone()).collect();
        let name_known = to_upload
            .iter()
            .map(|&i| !matches!(states[i], RegistryState::Absent { name_known: false }))
            .collect();
        Ok(Planned {
            crates,
            states,
            refusals,
            to_upload,
            uploads,
            name_known,
        })
    }

    /// What the previous run left (its notes are shown), and this run's journal (none in a dry
    /// run, which leaves the journal of a real run alone).
    fn journal(
        &self,
        planned: &Planned,
        opts: &PackageOptions,
        target: &Target,
    ) -> (Option<Journal<'a>>, Option<Previous>) {
        let shell = self.shell;
        // Like everything else publish writes, the journal lives in the build dir (cargo's publish
        // leaves the target dir alone; the build dir is the target dir unless configured).
        let journal_path = journal::path_for(&opts.build_dir, &self.ws.root_dir, &target.index_url);
        let previous = match journal::load(&journal_path) {
            Ok(p) => p,
            Err(why) => {
                shell.warning(&format!("{why}; starting a fresh journal"));
                None
            }
        };
        let planned_crates = journal::planned(&planned.crates);
        let previous = previous.map(|p| journal::compare(&p, &planned_crates));
        for note in previous.iter().flat_map(|p| &p.notes) {
            shell.note(note);
        }
        if self.args.dry_run {
            return (None, previous);
        }
        let journal = Journal::start(
            journal_path,
            target.display(),
            &planned_crates,
            Box::new(move |m: &str| shell.warning(m)),
        );
        for (c, s) in planned.crates.iter().zip(&planned.states) {
            journal.record(&c.name, &c.version, Step::Packaged, None);
            if *s == RegistryState::Identical {
                journal.record(&c.name, &c.version, Step::Skipped, None);
            }
        }
        (Some(journal), previous)
    }

    /// The registry's rules, inter-crate requirements, authentication and ownership, checked
    /// before any build or upload (spec: issue 5 item 3). Every problem is printed; any problem
    /// stops the run.
    fn preflight(&self, planned: &Planned, remote: &Remote, target: &Target) -> anyhow::Result<()> {
        let (args, shell) = (self.args, self.shell);
        // A dry run warned about the refusals above; they do not fail it (cargo's only warns).
        let refusals: &[String] = if args.dry_run { &[] } else { &planned.refusals };
        let all_versions: Vec<(String, String)> = planned
            .crates
            .iter()
            .map(|c| (c.name.clone(), c.version.clone()))
            .collect();
        let token = self.preflight_token(remote, target)?;
        let api = token.map(|t| remote.web_api(Some(t))).transpose()?;
        let input = preflight::PreflightInput {
            ws: &self.ws,
            crates: &planned.uploads,
            name_known: &planned.name_known,
            all_versions: &all_versions,
            remote,
            api: api.as_ref(),
            reg: RegistryContext::of(target),
            dry_run: args.dry_run,
        };
        let found = if planned.uploads.is_empty() {
            preflight::Preflight::default()
        } else {
            preflight::check_all(&input)
        };
        for r in refusals {
            shell.error(&anyhow::anyhow!("{r}"));
        }
        preflight::report(&found, args.dry_run, shell);
        // Checks a dry run could not make (cargo's makes none) are worth a line only beside
        // findings, or when asked for detail.
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

    /// The token the preflight's remote checks use, if they run at all.
    fn preflight_token(&self, remote: &Remote, target: &Target) -> anyhow::Result<Option<String>> {
        let args = self.args;
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
        match remote_checks.then(|| remote.lookup(Op::Read)).transpose() {
            Ok(t) => Ok(t.flatten()),
            Err(e) if args.dry_run => {
                self.shell.warning(&format!(
                    "no token to check authentication and ownership with: {}",
                    e.to_string().lines().next().unwrap_or_default()
                ));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// One verification build of the crates to upload, unless `--no-verify`.
    fn verify(
        &self,
        planned: &Planned,
        overlay: Option<&Overlay>,
        opts: &PackageOptions,
        journal: Option<&Journal>,
    ) -> anyhow::Result<()> {
        let upload = &planned.uploads;
        if self.args.no_verify || upload.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        pkg::verify_packaged(&self.ws, upload, overlay, opts, self.shell)?;
        for c in upload {
            self.events.step(
                "verified",
                &c.name,
                &c.version,
                Some(&c.checksum),
                started.elapsed(),
            );
            if let Some(j) = journal {
                j.record(&c.name, &c.version, Step::Verified, None);
            }
        }
        Ok(())
    }

    /// Uploads in dependency order and waits for the index; one outcome per upload.
    fn upload(
        &self,
        planned: &Planned,
        remote: &Remote,
        target: &Target,
        previous: Option<&Previous>,
        journal: Option<Journal>,
        wait: Duration,
    ) -> anyhow::Result<Vec<Outcome>> {
        let upload = &planned.uploads;
        let recheck: BTreeSet<usize> = upload
            .iter()
            .enumerate()
            .filter(|(_, c)| previous.is_some_and(|p| p.wants_recheck(&c.name, &c.version)))
            .map(|(i, _)| i)
            .collect();
        let edges = upload_edges(&self.ws, &self.selected);
        let api = remote.api_url()?;
        // Asked per upload, so a provider issuing short-lived or per-crate tokens answers each one.
        let token_for = |c: &PackagedCrate| {
            remote.token(Op::Publish {
                name: &c.name,
                vers: &c.version,
                cksum: &c.checksum,
            })
        };
        let plan = upload::Plan {
            crates: upload,
            name_known: &planned.name_known,
            recheck: &recheck,
            edges: &edges,
            remote,
            api_url: &api,
            token: &token_for,
            dry_run: self.args.dry_run,
            wait,
            jobs: usize::from(self.args.upload_jobs),
            reg: RegistryContext::of(target),
            ws: &self.ws,
        };
        // A dry run's steps go nowhere.
        let journal = journal.unwrap_or_else(Journal::discard);
        let progress = Progress::new(upload.len(), !self.args.global.quiet);
        Ok(upload::run(
            &plan,
            self.shell,
            self.events,
            &journal,
            &progress,
        ))
    }
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
