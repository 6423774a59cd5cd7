//! `cargo package` for a set of workspace members (spec §1.1): per package, in dependency order —
//! metadata warning, file listing, VCS check, entry plan, then (unless `--list`) the publish-form
//! manifest, lockfile and archive; then verification of every archive; then the copy into
//! `<target-dir>/package/`. Archives are written to a temporary name and renamed, so a failure never
//! leaves a partial `.crate` behind.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::archive::{self, ArchiveError, ArchiveStats};
use crate::cargo_cmd::CargoInvocation;
use crate::entries::{self, EntryError, EntryInputs, EntryPlan, ReferencedFile};
use crate::files::{self, FilesError, ListOptions};
use crate::human::human_bytes;
use crate::lock_check::{LockCheck, LockCheckError, PackagedLock, UpdateRecorder};
use crate::lockfile::{self, LockError, LockRequest};
use crate::normalize::{self, PublishInputs};
use crate::overlay::{Overlay, OverlayError, Upstream};
use crate::registry::{self, PublishSetting, RegistryError, RegistryRequest, TargetRegistry};
use crate::registry_names::RegistryNames;
use crate::report::{Event, Recorder, Reporter};
use crate::select::{self};
use crate::vcs::{self, VcsOptions};
use crate::verify::{self, BuildFlags, VerifyError, VerifyRequest};
use crate::verify_all::{self, AllError, AllRequest, Archive};
use crate::workspace::{ManifestError, Package, Workspace};

pub struct PackageOptions<'a> {
    pub list: bool,
    pub verify: bool,
    pub check_metadata: bool,
    pub allow_dirty: bool,
    pub include_lockfile: bool,
    pub registry: RegistryRequest,
    /// Registry name → configured index URL.
    pub registry_index: &'a dyn Fn(&str) -> Option<String>,
    /// Index URL → registry name, for messages (cargo names configured registries).
    pub registry_name: &'a dyn Fn(&str) -> Option<String>,
    /// How `[source]` replaces crates.io, if it does (see [`registry::resolve_target`]).
    pub crates_io_replacement: Option<String>,
    pub target_dir: PathBuf,
    /// `build.build-dir` (the target dir unless configured): scratch files, the overlay registry
    /// and verification live in its `package/`, as cargo's do.
    pub build_dir: PathBuf,
    /// crates.io as this run reaches it: the source cargo layers the overlay over is its sparse
    /// index, its git index (`registries.crates-io.protocol = "git"`), or the stand-in cargo's test
    /// suite names (see [`Upstream::crates_io_at`]).
    pub crates_io: Upstream,
    pub build: BuildFlags,
    pub cargo: CargoInvocation,
    pub cwd: PathBuf,
    /// `cargo publish` wording ("when publishing") instead of `cargo package`'s.
    pub publishing: bool,
    /// `cargo publish --dry-run`: overlay crates may stand in for same-version registry ones.
    pub dry_run: bool,
    /// The configured registries, by index URL (see [`RegistryNames`]).
    pub names: RegistryNames,
    /// Receives `--list` output lines (stdout in the CLI).
    pub list_sink: &'a dyn Fn(&str),
    /// Looks at each packaged `Cargo.lock` between `Packaging` and `Packaged` (cargo's check for
    /// yanked packages there needs the registries, which this crate does not reach).
    pub lock_check: Option<&'a dyn LockCheck>,
}

/// One finished archive.
#[derive(Debug, Clone)]
pub struct PackagedCrate {
    pub member: usize,
    pub name: String,
    pub version: String,
    /// `<build-dir>/package/tmp-crate/<name>-<version>.crate`
    pub tmp_path: PathBuf,
    /// `<target-dir>/package/<name>-<version>.crate` once uplifted (`cargo package` only).
    pub path: PathBuf,
    pub checksum: String,
    pub stats: ArchiveStats,
    /// The publish-form `Cargo.toml` inside the archive.
    pub manifest: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error(transparent)]
    Select(#[from] select::SelectError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    WorkspaceLock(#[from] LockError),
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error(transparent)]
    Vcs(#[from] vcs::VcsError),
    #[error(transparent)]
    Entries(#[from] EntryError),
    #[error("failed to prepare local package for uploading")]
    Prepare(#[source] PrepareError),
    #[error("failed to verify package tarball")]
    Verify(#[source] VerifyError),
    /// The build failed and cargo has already shown why, so there is no cause to add.
    #[error("failed to verify package tarball")]
    VerifyBuild,
    /// Verification of several archives at once ([`verify_packaged`]) failed; `crates` are the
    /// `name vX.Y.Z` blamed (empty when cargo's output named none).
    #[error("failed to verify package tarball{}", of_crates(.crates))]
    VerifyFailed {
        crates: Vec<String>,
        #[source]
        source: Option<VerifyError>,
    },
    #[error("failed to write `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn of_crates(crates: &[String]) -> String {
    match crates {
        [] => String::new(),
        [one] => format!(" of `{one}`"),
        many => format!(
            "s of {}",
            many.iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Overlay(#[from] OverlayError),
    #[error(transparent)]
    LockCheck(LockCheckError),
}

/// What [`package`] produced.
#[derive(Debug)]
pub struct Packaged {
    /// The archives in packaging order (empty for `--list`).
    pub crates: Vec<PackagedCrate>,
    /// The overlay registry the archives were added to, when siblings needed one; verification
    /// after packaging ([`verify_packaged`]) resolves through it.
    pub overlay: Option<Overlay>,
}

/// Packages `selected` (member indices).
pub fn package(
    ws: &Workspace,
    selected: &[usize],
    opts: &PackageOptions,
    reporter: &dyn Reporter,
) -> Result<Packaged, PackageError> {
    let edges = select::local_edges(ws, selected);
    let order = select::packaging_order(ws, selected, &edges);
    let needs_registry = !opts.list
        && ((!edges.is_empty() && (opts.include_lockfile || opts.verify))
            || opts.registry != RegistryRequest::None);
    let target = if needs_registry {
        Some(target_registry(ws, selected, opts)?)
    } else {
        None
    };
    let metadata_applies = match &opts.registry {
        RegistryRequest::None => true,
        RegistryRequest::Name(n) => n == registry::CRATES_IO,
        RegistryRequest::Index(_) => false,
    };
    let package_dir = opts.build_dir.join("package");
    // Cargo layers its overlay over the crates-io source id, but a replaced crates-io is queried
    // through its replacement, so siblings stay unresolvable (even with `--registry crates-io`).
    let crates_io_replaced = opts.crates_io_replacement.is_some();
    let mut overlay = match &target {
        Some(t) if t.is_crates_io && crates_io_replaced => None,
        Some(t) => Some(new_overlay(t, opts, &package_dir)?),
        None => None,
    };

    // cargo publish checks every selected crate's dependencies before packaging any (so before
    // the metadata warnings); `cargo package` checks each as it packages it.
    if opts.publishing {
        for &member in &order {
            normalize::check_dependency_versions(&ws.members[member], true)?;
        }
    }

    // Like cargo, resolve the real workspace first when it has a lockfile: that surfaces a broken
    // lockfile as its own error, refreshes a stale one, and is where `--locked` is enforced.
    let ws_lock = ws.lockfile_path();
    if opts.include_lockfile && ws_lock.is_file() {
        lockfile::resolve_workspace(&ws.root_manifest, &opts.cargo, &opts.names, reporter)?;
    }

    let mut done = Vec::new();
    for &member in &order {
        let pkg = &ws.members[member];
        if opts.check_metadata && metadata_applies {
            metadata_warning(pkg, reporter);
        }
        if !pkg.include.is_empty() && !pkg.exclude.is_empty() {
            reporter.warning(
                "both package.include and package.exclude are specified; the exclude list will be ignored",
            );
        }
        let listing = files::list_files(
            &ListOptions {
                pkg_root: &pkg.root,
                include: &pkg.include,
                exclude: &pkg.exclude,
            },
            reporter,
        )?;
        let extra_paths: Vec<PathBuf> = [&pkg.readme, &pkg.license_file]
            .into_iter()
            .flatten()
            .map(|p| p.abs.clone())
            .collect();
        let vcs_info = vcs::check_vcs(
            &VcsOptions {
                pkg_root: &pkg.root,
                manifest_path: &pkg.manifest_path,
                workspace_manifest: &ws.root_manifest,
                files: &listing.files,
                extra_paths: &extra_paths,
                allow_dirty: opts.allow_dirty,
                cwd: &opts.cwd,
            },
            reporter,
        )?;
        let plan = plan(
            pkg,
            &listing.files,
            opts.include_lockfile,
            vcs_info.is_some(),
            reporter,
        )?;
        if opts.list {
            for rel in plan.rel_paths() {
                (opts.list_sink)(rel);
            }
            continue;
        }
        // Its error already reads "failed to verify manifest at …", as cargo's does.
        normalize::check_dependency_versions(pkg, opts.publishing)?;
        reporter.status("Packaging", &pkg_id(pkg));
        let packaged = write_archive(
            ws,
            member,
            plan,
            vcs_info.as_ref().map(|v| v.to_json()),
            overlay.as_ref(),
            &target,
            opts,
            &package_dir,
            reporter,
        )?;
        reporter.status(
            "Packaged",
            &format!(
                "{} files, {} ({} compressed)",
                packaged.stats.files,
                human_bytes(packaged.stats.uncompressed),
                human_bytes(packaged.stats.compressed)
            ),
        );
        if let Some(o) = overlay.as_mut()
            && pkg.publish.as_ref().is_none_or(|l| !l.is_empty())
        {
            o.add(
                &packaged.name,
                &packaged.version,
                &packaged.tmp_path,
                &packaged.checksum,
                &packaged.manifest,
            )
            .map_err(|e| PackageError::Prepare(e.into()))?;
        }
        done.push(packaged);
    }

    // Each lockfile's scratch workspace is removed as soon as it is read; this drops their parent.
    let _ = fs::remove_dir(package_dir.join("gantry-lock"));

    if opts.verify {
        for packaged in &done {
            let pkg = &ws.members[packaged.member];
            reporter.status("Verifying", &pkg_id(pkg));
            verify::verify(&VerifyRequest {
                crate_file: &packaged.tmp_path,
                name: &packaged.name,
                version: &packaged.version,
                build_dir: &opts.build_dir,
                overlay: overlay.as_ref().filter(|o| !o.is_empty()),
                cargo: &opts.cargo,
                flags: &opts.build,
                names: &opts.names,
            })
            .map_err(verify_error)?;
        }
    }
    Ok(Packaged {
        crates: done,
        overlay,
    })
}

/// The registry the packages go to; checked in member order, as cargo reports the first offender
/// among the selection.
fn target_registry(
    ws: &Workspace,
    selected: &[usize],
    opts: &PackageOptions,
) -> Result<TargetRegistry, PackageError> {
    let settings: Vec<PublishSetting> = selected
        .iter()
        .map(|&i| PublishSetting {
            name: &ws.members[i].name,
            publish: ws.members[i].publish.as_deref(),
        })
        .collect();
    Ok(registry::resolve_target(
        &opts.registry,
        &settings,
        opts.registry_index,
        opts.crates_io_replacement.as_deref(),
        "packaged",
    )?)
}

/// Cargo shows a compilation failure as it happens, and then only "failed to verify package
/// tarball"; any other verification error is that message's cause.
fn verify_error(e: VerifyError) -> PackageError {
    match e {
        VerifyError::BuildShown { .. } => PackageError::VerifyBuild,
        other => PackageError::Verify(other),
    }
}

/// Cargo's `<build-dir>/package/tmp-registry` for the target registry.
fn new_overlay(
    target: &TargetRegistry,
    opts: &PackageOptions,
    package_dir: &Path,
) -> Result<Overlay, PackageError> {
    let upstream = if target.is_crates_io {
        opts.crates_io.clone()
    } else {
        target.upstream.clone()
    };
    Overlay::new(upstream, package_dir.join("tmp-registry"))
        .map_err(|e| PackageError::Prepare(e.into()))
}

/// Verifies already-packaged crates (from [`package`] with `opts.verify == false`), siblings among
/// them resolving through `overlay` as in packaging. One crate is verified exactly as cargo verifies
/// it; several share one cargo build (see [`crate::verify_all`]), except those whose manifest has
/// tables a workspace member cannot have (`[profile]`, …), which are verified on their own so that
/// what is built is what cargo builds. A failure names the crate. Emits one `Verifying` status per
/// crate before the builds start.
pub fn verify_packaged(
    ws: &Workspace,
    crates: &[PackagedCrate],
    overlay: Option<&Overlay>,
    opts: &PackageOptions,
    reporter: &dyn Reporter,
) -> Result<(), PackageError> {
    let overlay = overlay.filter(|o| !o.is_empty());
    let verify_one = |c: &PackagedCrate| {
        verify::verify(&VerifyRequest {
            crate_file: &c.tmp_path,
            name: &c.name,
            version: &c.version,
            build_dir: &opts.build_dir,
            overlay,
            cargo: &opts.cargo,
            flags: &opts.build,
            names: &opts.names,
        })
    };
    if let [only] = crates {
        reporter.status("Verifying", &pkg_id(&ws.members[only.member]));
        return verify_one(only).map(drop).map_err(verify_error);
    }
    for c in crates {
        reporter.status("Verifying", &pkg_id(&ws.members[c.member]));
    }
    let (alone, together): (Vec<&PackagedCrate>, Vec<&PackagedCrate>) = crates
        .iter()
        .partition(|c| verify_all::needs_own_build(&c.manifest));
    for c in alone {
        verify_one(c).map_err(|e| PackageError::VerifyFailed {
            crates: vec![format!("{} v{}", c.name, c.version)],
            source: (!matches!(e, VerifyError::BuildShown { .. })).then_some(e),
        })?;
    }
    if together.is_empty() {
        return Ok(());
    }
    let archives: Vec<Archive> = together
        .iter()
        .map(|c| Archive {
            name: &c.name,
            version: &c.version,
            crate_file: &c.tmp_path,
        })
        .collect();
    let ws_lock = ws.lockfile_path();
    let result = verify_all::verify_all(&AllRequest {
        archives: &archives,
        build_dir: &opts.build_dir,
        resolver: &ws.resolver,
        overlay,
        dry_run: opts.dry_run,
        workspace_lock: ws_lock.is_file().then_some(ws_lock.as_path()),
        cargo: &opts.cargo,
        flags: &opts.build,
        names: &opts.names,
    });
    match result {
        Ok(_) => Ok(()),
        Err(AllError::Setup(e)) => Err(PackageError::Verify(e)),
        Err(AllError::Build { crates, error }) => Err(PackageError::VerifyFailed {
            crates,
            source: error,
        }),
        Err(AllError::SourceModified { krate, report }) => Err(PackageError::VerifyFailed {
            crates: vec![krate],
            source: Some(VerifyError::SourceModified(report)),
        }),
    }
}

/// Copies each archive to `<target-dir>/package/` (what `cargo package` leaves for the user).
pub fn uplift(crates: &mut [PackagedCrate], target_dir: &Path) -> Result<(), PackageError> {
    write_cachedir_tag(target_dir)?;
    let dest_dir = target_dir.join("package");
    fs::create_dir_all(&dest_dir).map_err(|source| PackageError::Io {
        path: dest_dir.clone(),
        source,
    })?;
    for c in crates {
        let dest = dest_dir.join(format!("{}-{}.crate", c.name, c.version));
        if dest != c.tmp_path {
            let bytes = fs::read(&c.tmp_path).map_err(|source| PackageError::Io {
                path: c.tmp_path.clone(),
                source,
            })?;
            write_atomically(&dest, |f| f.write_all(&bytes))?;
        }
        c.path = dest;
    }
    Ok(())
}

/// Shows what `recorded` holds (and nothing when it holds nothing).
fn replay(recorded: &Recorder, reporter: &dyn Reporter) {
    for event in recorded.events() {
        match event {
            Event::Status { word, message } => reporter.status(&word, &message),
            Event::Warning(message) => reporter.warning(&message),
            Event::Note(message) => reporter.note(&message),
        }
    }
}

/// `name vX.Y.Z (/path)` as cargo displays path packages.
pub fn pkg_id(pkg: &Package) -> String {
    format!("{} v{} ({})", pkg.name, pkg.version, pkg.root.display())
}

fn metadata_warning(pkg: &Package, reporter: &dyn Reporter) {
    let m = &pkg.metadata;
    let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    let mut missing = Vec::new();
    if !present(&m.description) {
        missing.push("description");
    }
    if !present(&m.license) && !present(&m.license_file) {
        missing.extend(["license", "license-file"]);
    }
    if !present(&m.documentation) && !present(&m.homepage) && !present(&m.repository) {
        missing.extend(["documentation", "homepage", "repository"]);
    }
    if missing.is_empty() {
        return;
    }
    let list = match missing.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => (*last).to_owned(),
        None => String::new(),
    };
    reporter.warning(&format!(
        "manifest has no {list}\n  |\n  = note: see https://doc.rust-lang.org/cargo/reference/manifest.html#package-metadata for more info"
    ));
}

fn plan(
    pkg: &Package,
    files: &[PathBuf],
    include_lockfile: bool,
    has_vcs_info: bool,
    reporter: &dyn Reporter,
) -> Result<EntryPlan, EntryError> {
    let referenced = |p: &Option<crate::workspace::ManifestPath>| {
        p.as_ref().map(|p| (p.value.clone(), p.abs.clone()))
    };
    let license = referenced(&pkg.license_file);
    let readme = referenced(&pkg.readme);
    let build_scripts: Vec<PathBuf> = pkg.build_script.iter().cloned().collect();
    entries::plan_entries(
        &EntryInputs {
            name: &pkg.name,
            root: &pkg.root,
            manifest_path: &pkg.manifest_path,
            files,
            include_lockfile,
            has_vcs_info,
            license_file: license
                .as_ref()
                .map(|(v, a)| ReferencedFile { value: v, abs: a }),
            readme: readme
                .as_ref()
                .map(|(v, a)| ReferencedFile { value: v, abs: a }),
            build_scripts: &build_scripts,
        },
        reporter,
    )
}

#[allow(clippy::too_many_arguments)]
fn write_archive(
    ws: &Workspace,
    member: usize,
    plan: EntryPlan,
    vcs_json: Option<String>,
    overlay: Option<&Overlay>,
    target: &Option<TargetRegistry>,
    opts: &PackageOptions,
    package_dir: &Path,
    reporter: &dyn Reporter,
) -> Result<PackagedCrate, PackageError> {
    let pkg = &ws.members[member];
    let prepare = PackageError::Prepare;
    let included = plan.on_disk_paths();
    let index_of = |name: &str| (opts.registry_index)(name);
    let publish = normalize::publish_manifest(
        ws,
        pkg,
        &PublishInputs {
            included: &included,
            registry_index: &index_of,
        },
        reporter,
    )
    .map_err(|e| prepare(e.into()))?;
    let version = pkg.version.to_string();
    // With `-v` cargo prints `Archiving Cargo.lock` and only then resolves the packaged lockfile,
    // so what the resolution says (index updates, notes) follows that line. Ours is resolved before
    // the archive is written; its messages are held until that line is shown.
    let verbose = reporter.verbose();
    let lock_messages = Recorder::new(verbose);
    let lock_reporter: &dyn Reporter = if verbose { &lock_messages } else { reporter };
    let lock = if opts.include_lockfile {
        let ws_lock = ws.lockfile_path();
        let scratch = package_dir
            .join("gantry-lock")
            .join(format!("{}-{version}", pkg.name));
        let recorder = UpdateRecorder::new(lock_reporter);
        let text = lockfile::generate(
            &LockRequest {
                name: &pkg.name,
                version: &version,
                rust_version: pkg.rust_version.as_deref(),
                pkg_root: &pkg.root,
                publish_manifest: &publish.text,
                workspace_lock: ws_lock.is_file().then_some(ws_lock.as_path()),
                scratch: &scratch,
                overlay: overlay.filter(|o| target.is_some() && !o.is_empty()),
                dry_run: opts.dry_run,
                cargo: &opts.cargo,
                names: &opts.names,
            },
            &recorder,
        )
        .map_err(|e| {
            replay(&lock_messages, reporter);
            let e = relocate_lock_error(e, &scratch, &pkg.root);
            prepare(name_registries(e, opts.registry_name).into())
        })?;
        if verbose && let Ok(orig) = fs::read_to_string(&ws_lock) {
            let paths = ws.path_packages();
            let current = (pkg.name.as_str(), version.as_str());
            for note in lockfile::resolve_notes(&orig, &text, current, &paths, &opts.names) {
                lock_reporter.note(&note);
            }
        }
        // cargo checks the new lock for yanked versions right after those notes, so with `-v`
        // what the check says also follows `Archiving Cargo.lock`.
        if let Some(check) = opts.lock_check {
            let lock = PackagedLock {
                text: &text,
                names: &opts.names,
                updated: &recorder.into_updated(),
            };
            check.check(&lock, lock_reporter).map_err(|e| {
                replay(&lock_messages, reporter);
                prepare(PrepareError::LockCheck(e))
            })?;
        }
        Some(text)
    } else {
        None
    };
    let entries = plan.into_entries(&publish.text, lock.as_deref(), vcs_json.as_deref());
    let manifest = publish.text;
    let file_name = format!("{}-{version}.crate", pkg.name);
    let tmp_dir = package_dir.join("tmp-crate");
    // The build dir holds scratch work only; cargo tags it for backup tools like a target dir. Only
    // now, after the file list: a build dir inside an unversioned package is listed like any file.
    if let Some(build_dir) = package_dir.parent() {
        write_cachedir_tag(build_dir)?;
    }
    fs::create_dir_all(&tmp_dir).map_err(|source| PackageError::Io {
        path: tmp_dir.clone(),
        source,
    })?;
    let tmp_path = tmp_dir.join(&file_name);
    let mut stats = None;
    let mut checksum = String::new();
    let mut archive_error = None;
    write_atomically(&tmp_path, |file| {
        let mut on_entry = |rel: &str| {
            if verbose {
                reporter.status("Archiving", rel);
                if rel == "Cargo.lock" {
                    replay(&lock_messages, reporter);
                }
            }
        };
        // Hash on the way out rather than re-reading the archive afterwards.
        let out = HashingWriter {
            inner: BufWriter::new(file),
            hasher: Sha256::new(),
        };
        match archive::write_crate(out, &pkg.name, &version, &entries, &mut on_entry) {
            Ok((mut w, s)) => {
                stats = Some(s);
                w.flush()?;
                checksum = hex::encode(w.hasher.finalize());
                Ok(())
            }
            Err(e) => {
                archive_error = Some(e);
                Err(io::Error::other("archive failed"))
            }
        }
    })
    .map_err(|e| match archive_error.take() {
        Some(a) => prepare(a.into()),
        None => e,
    })?;
    Ok(PackagedCrate {
        member,
        name: pkg.name.clone(),
        version,
        path: tmp_path.clone(),
        tmp_path,
        checksum,
        manifest,
        stats: stats.unwrap_or(ArchiveStats {
            files: 0,
            uncompressed: 0,
            compressed: 0,
        }),
    })
}

/// Cargo reports resolution errors against the package's real path, not our scratch copy; and it
/// builds the publish-form manifest in memory, so a problem with it (say, every target excluded)
/// has no "failed to parse manifest" wrapper around it.
fn relocate_lock_error(e: LockError, scratch: &Path, root: &Path) -> LockError {
    let LockError::Resolve(text) = e else {
        return e;
    };
    let wrapper = format!(
        "failed to parse manifest at `{}`\n\nCaused by:\n",
        scratch.join("Cargo.toml").display()
    );
    let text = match text.strip_prefix(&wrapper) {
        Some(inner) => inner
            .lines()
            .map(|l| l.strip_prefix("  ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n"),
        None => text,
    };
    LockError::Resolve(text.replace(&scratch.display().to_string(), &root.display().to_string()))
}

/// Our scratch manifest names other registries by index URL (`registry-index`); cargo, which still
/// knows the `registry = "name"` they came from, says `` `name` index ``.
fn name_registries(e: LockError, registry_name: &dyn Fn(&str) -> Option<String>) -> LockError {
    let LockError::Resolve(text) = e else {
        return e;
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(end) = rest.find("` index") {
        let Some(start) = rest[..end].rfind('`') else {
            break;
        };
        let url = &rest[start + 1..end];
        out.push_str(&rest[..=start]);
        out.push_str(&registry_name(url).unwrap_or_else(|| url.to_owned()));
        out.push_str("` index");
        rest = &rest[end + "` index".len()..];
    }
    out.push_str(rest);
    LockError::Resolve(out)
}

/// Writes through a temporary sibling and renames, so readers never see a partial file and a failed
/// run leaves nothing behind.
fn write_atomically(
    dest: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), PackageError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let io_err = |source| PackageError::Io {
        path: dest.to_owned(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".gantry-tmp-")
        .tempfile_in(dir)
        .map_err(io_err)?;
    write(tmp.as_file_mut()).map_err(io_err)?;
    tmp.persist(dest).map_err(|e| io_err(e.error))?;
    Ok(())
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by cargo.\n# For information about cache directory tags see https://bford.info/cachedir/\n";

fn write_cachedir_tag(target_dir: &Path) -> Result<(), PackageError> {
    let io_err = |source| PackageError::Io {
        path: target_dir.to_owned(),
        source,
    };
    fs::create_dir_all(target_dir).map_err(io_err)?;
    let tag = target_dir.join("CACHEDIR.TAG");
    if !tag.exists() {
        fs::write(&tag, CACHEDIR_TAG).map_err(|source| PackageError::Io { path: tag, source })?;
    }
    Ok(())
}
