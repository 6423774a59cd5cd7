//! The checks a dry-run owes its users (issue 5, item 3): everything the registry would refuse,
//! found before any build or upload, and reported all at once. Which checks apply depends on the
//! registry (issue 11, item 2): a registry's rules are that registry's.
//!
//! - crates.io's request rules run locally with crates.io's own rules (`gantry_protocol`) for
//!   crates.io and for registries that advertise them (a gantry-registry's `config.json` carries
//!   a `gantry` object): name, version, metadata, upload size, the `.crate` checks, and "no known
//!   crate" for dependencies on this registry. Any other registry (kellnr, Artifactory, …) gets
//!   only what cargo itself checks, so a crate without description or license publishes there
//!   exactly as with cargo; its own rules are its answer to the upload.
//! - Inter-crate requirements: a path dependency on a crate of the plan must accept the version the
//!   plan publishes.
//! - Authentication and ownership: a registry that honours `validate_only` (gantry-registry) is
//!   asked with the exact upload; any other registry gets read-only calls (`/api/v1/me`, owners).
//! - crates.io's rate limits: the extra waiting a plan will meet, as a warning.
//!
//! Only definitive findings are problems (a refusal the real publish would meet). Advisory calls
//! that could not be made (network errors, 5xx, an API without `/me`) are warnings: they must not
//! block a publish that would succeed.

mod probe;
mod remote_checks;

use std::collections::BTreeMap;

use anyhow::Context as _;
use gantry_client::webapi::WebApi;
use gantry_package::PackagedCrate;
use gantry_package::Reporter;
use gantry_package::workspace::{DepKind, Workspace};
use gantry_protocol::body::{BodyError, DEFAULT_MAX_UPLOAD_SIZE, MAX_METADATA_LEN};
use gantry_protocol::tarball::{self, MIN_UNPACKED_LIMIT};
use gantry_protocol::{
    MetadataError, MetadataRules, NameError, NewCrate, is_reserved_name, validate_crate_name,
    validate_metadata_all, validate_version,
};

use crate::metadata::{self, RegistryContext};
use crate::remote::Remote;
use crate::shell::Shell;

/// One finding, naming the crate (when it is about one), what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Problem {
    pub krate: Option<(String, String)>,
    pub message: String,
    pub help: Option<String>,
}

impl Problem {
    fn new(
        krate: Option<&PackagedCrate>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Self {
        Problem {
            krate: krate.map(|c| (c.name.clone(), c.version.clone())),
            message: message.into(),
            help,
        }
    }

    /// `name v1.0.0: message` plus cargo's `= help:` footer.
    pub(super) fn render(&self) -> String {
        let mut out = match &self.krate {
            Some((n, v)) => format!("{n} v{v}: {}", self.message),
            None => self.message.clone(),
        };
        if let Some(help) = &self.help {
            out.push_str("\n  |\n  = help: ");
            out.push_str(help);
        }
        out
    }
}

pub(super) struct PreflightInput<'a> {
    pub ws: &'a Workspace,
    /// Only those that will be uploaded (not identical-skipped).
    pub crates: &'a [PackagedCrate],
    /// For each of `crates`: whether the registry knows its name already (read by the plan; the
    /// index is not asked twice).
    pub name_known: &'a [bool],
    /// (name, version) of every planned crate, skipped ones included.
    pub all_versions: &'a [(String, String)],
    pub remote: &'a Remote,
    /// None when no token is available: reported as a problem.
    pub api: Option<&'a WebApi>,
    pub reg: RegistryContext<'a>,
    /// `--dry-run`: advice cargo would not give is asked for and shown.
    pub dry_run: bool,
}

/// Problems stop a publish; warnings are advice (rate-limit waits, checks that could not be made).
#[derive(Debug, Default)]
pub(super) struct Preflight {
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
    /// Why a check could not be made, said by a dry run only: a real publish goes on exactly as
    /// cargo's would, and cargo says nothing about checks it does not make.
    pub unchecked: Vec<Problem>,
    /// Checks that could not run, and why (named in the dry-run's result).
    pub not_run: Vec<String>,
}

/// Whose publish rules a registry applies, as far as this client can know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rules {
    /// crates.io itself.
    CratesIo,
    /// A registry whose `config.json` advertises crates.io's rules (gantry-registry).
    Advertised,
    /// Anything else: its rules are unknown here; only cargo's own checks apply.
    Unknown,
}

impl Rules {
    pub(super) fn of(remote: &Remote) -> Rules {
        // crates.io stood in for by cargo's test hook is a test registry, not crates.io: its rules
        // are unknown here, as cargo's test suite expects of every check cargo does not make.
        if remote.target.is_crates_io()
            && remote.target.index_url == crate::remote::CRATES_IO_SPARSE
        {
            Rules::CratesIo
        } else if remote.config.gantry.is_some() {
            Rules::Advertised
        } else {
            Rules::Unknown
        }
    }

    fn crates_io_rules(self) -> bool {
        self != Rules::Unknown
    }
}

impl Preflight {
    fn problem(&mut self, c: Option<&PackagedCrate>, msg: impl Into<String>, help: Option<String>) {
        self.problems.push(Problem::new(c, msg, help));
    }

    fn warning(&mut self, c: Option<&PackagedCrate>, msg: impl Into<String>, help: Option<String>) {
        self.warnings.push(Problem::new(c, msg, help));
    }

    /// Whether `c` already has a problem with exactly this message (a registry answer repeating a
    /// local finding is not reported twice).
    fn has(&self, c: &PackagedCrate, message: &str) -> bool {
        self.problems.iter().any(|p| {
            p.message == message
                && p.krate
                    .as_ref()
                    .is_some_and(|(n, v)| *n == c.name && *v == c.version)
        })
    }
}

/// One crate as it would be uploaded.
struct Upload<'a> {
    krate: &'a PackagedCrate,
    metadata: NewCrate,
    tarball: Vec<u8>,
    /// Whether the registry already has this crate (any version); None when the index failed.
    exists: Option<bool>,
}

pub(super) fn check_all(input: &PreflightInput) -> Preflight {
    let mut out = Preflight::default();
    let mut index = IndexCache::default();
    let mut uploads = Vec::new();
    for (i, c) in input.crates.iter().enumerate() {
        match prepare(input, c, input.name_known.get(i).copied()) {
            Ok(u) => uploads.push(u),
            Err(e) => out.problem(Some(c), format!("{e:#}"), None),
        }
    }
    if Rules::of(input.remote).crates_io_rules() {
        for u in &uploads {
            request_rules(input, u, &mut out);
            dependencies_known(input, u, &mut index, &mut out);
        }
    }
    inter_crate_requirements(input, &mut out);
    remote_checks::run(input, &uploads, &mut out);
    if Rules::of(input.remote) == Rules::CratesIo {
        rate_budget(&uploads, &mut out);
    }
    // Read crate by crate, in plan order; findings about the whole run first.
    let position = |p: &Problem| {
        p.krate.as_ref().map(|(n, v)| {
            input
                .crates
                .iter()
                .position(|c| c.name == *n && c.version == *v)
        })
    };
    out.problems.sort_by_key(&position);
    out.warnings.sort_by_key(&position);
    out
}

fn prepare<'a>(
    input: &PreflightInput,
    c: &'a PackagedCrate,
    exists: Option<bool>,
) -> anyhow::Result<Upload<'a>> {
    let metadata = metadata::new_crate(&c.tmp_path, &c.manifest, &c.name, &c.version, &input.reg)?;
    let tarball = std::fs::read(&c.tmp_path)
        .with_context(|| format!("failed to read `{}`", c.tmp_path.display()))?;
    Ok(Upload {
        krate: c,
        metadata,
        tarball,
        exists,
    })
}

/// Which `[package]` field a metadata rule is about, for the help line.
fn field_of(e: &MetadataError) -> &'static str {
    use MetadataError as E;
    match e {
        E::InvalidVersion(_) | E::VersionTooLong => "package.version",
        E::MissingFields(_) => "package.description` / `package.license",
        E::DescriptionTooLong => "package.description",
        E::InvalidLicense(_) => "package.license",
        E::UrlScheme { field, .. } | E::InvalidUrl { field, .. } => match *field {
            "homepage" => "package.homepage",
            "documentation" => "package.documentation",
            _ => "package.repository",
        },
        E::InvalidRustVersion => "package.rust-version",
        E::TooManyKeywords | E::KeywordTooLong(_) | E::InvalidKeyword(_) => "package.keywords",
        E::TooManyCategories | E::UnknownCategories(_) => "package.categories",
        E::TooManyFeatures { .. } | E::TooManyFeatureValues { .. } | E::InvalidFeatureName(_) => {
            "features"
        }
        _ => "dependencies",
    }
}

fn manifest_help(input: &PreflightInput, c: &PackagedCrate, field: &str) -> Option<String> {
    let path = input.ws.members[c.member].manifest_path.display();
    Some(format!("fix `{field}` in `{path}`"))
}

/// The rules the registry applies to the request alone, with the registry's code and texts.
fn request_rules(input: &PreflightInput, u: &Upload, out: &mut Preflight) {
    let c = u.krate;
    let m = &u.metadata;
    if let Err(e) = validate_crate_name(&m.name) {
        out.problem(
            Some(c),
            e.to_string(),
            manifest_help(input, c, "package.name"),
        );
    }
    if u.exists == Some(false) && is_reserved_name(&m.name) {
        let help = Some("choose another name; crates.io reserves this one".to_owned());
        out.problem(Some(c), NameError::Reserved.to_string(), help);
    }
    if let Err(e) = validate_version(&m.vers) {
        out.problem(
            Some(c),
            e.to_string(),
            manifest_help(input, c, "package.version"),
        );
    }
    for e in validate_metadata_all(m, &rules_for(input)) {
        let help = manifest_help(input, c, field_of(&e));
        out.problem(Some(c), e.to_string(), help);
    }
    let json_len = serde_json::to_vec(m).map_or(0, |j| j.len());
    if json_len > MAX_METADATA_LEN as usize {
        let help = Some("shorten the readme or the description".to_owned());
        out.problem(Some(c), BodyError::MetadataTooLarge.to_string(), help);
    }
    size_limit(input, u, out);
    if let Err(e) = tarball::verify(&u.tarball, &m.name, &m.vers, MIN_UNPACKED_LIMIT) {
        out.problem(Some(c), e.to_string(), None);
    }
}

/// crates.io's rules are known; another registry's own limits are checked by its validate-only
/// endpoint when it has one (see `remote_checks`).
fn rules_for(input: &PreflightInput) -> MetadataRules {
    MetadataRules {
        allow_other_registries: !input.remote.target.is_crates_io(),
        ..MetadataRules::default()
    }
}

/// crates.io's limit, or the one a gantry-registry advertises (its validate-only answer says the
/// same, but this also works against one that does not offer validate-only).
fn size_limit(input: &PreflightInput, u: &Upload, out: &mut Preflight) {
    let advertised = input
        .remote
        .config
        .gantry
        .as_ref()
        .and_then(|g| g.max_upload_size)
        .and_then(|m| u32::try_from(m).ok());
    let max = advertised.unwrap_or(DEFAULT_MAX_UPLOAD_SIZE);
    if u.tarball.len() <= max as usize || remote_checks::validates_remotely(input) {
        return;
    }
    let msg = BodyError::TarballTooLarge { max }.to_string();
    let help = Some(format!(
        "the `.crate` is {} bytes; exclude large files with `package.exclude` in `{}`",
        u.tarball.len(),
        input.ws.members[u.krate.member].manifest_path.display()
    ));
    out.problem(Some(u.krate), msg, help);
}

/// Dependencies on the target registry must name crates it knows, unless this plan publishes them.
fn dependencies_known(
    input: &PreflightInput,
    u: &Upload,
    index: &mut IndexCache,
    out: &mut Preflight,
) {
    for dep in u.metadata.deps.iter().filter(|d| d.registry.is_none()) {
        if input.all_versions.iter().any(|(n, _)| *n == dep.name) {
            continue;
        }
        match index.has_exact(input.remote, &dep.name) {
            Ok(true) => {}
            Ok(false) => out.problem(
                Some(u.krate),
                format!("no known crate named `{}`", dep.name),
                Some(format!(
                    "publish `{}` to this registry first, or take the dependency from where it lives (`registry = …`)",
                    dep.name
                )),
            ),
            Err(e) => out.warning(
                Some(u.krate),
                format!("could not check that dependency `{}` exists: {e:#}", dep.name),
                None,
            ),
        }
    }
}

/// A path dependency on a crate of this plan must accept the version being published: otherwise the
/// published crate resolves to another (older, already published) version than the one it was
/// developed against, or to nothing.
fn inter_crate_requirements(input: &PreflightInput, out: &mut Preflight) {
    let planned: BTreeMap<&str, &str> = input
        .all_versions
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    for c in input.crates {
        let member = &input.ws.members[c.member];
        for dep in &member.dependencies {
            let (Some(path), Some(req)) = (&dep.path, &dep.version_req) else {
                continue;
            };
            let Some(target) = input.ws.member_by_root(path) else {
                continue;
            };
            let target = &input.ws.members[target];
            let Some(&version) = planned.get(target.name.as_str()) else {
                continue;
            };
            let (Ok(parsed_req), Ok(parsed_version)) = (
                semver::VersionReq::parse(req),
                semver::Version::parse(version),
            ) else {
                continue; // unparseable requirements are reported by the metadata rules
            };
            if !parsed_req.matches(&parsed_version) {
                let kind = match dep.kind {
                    DepKind::Normal => "",
                    DepKind::Build => "build-",
                    DepKind::Dev => "dev-",
                };
                out.problem(
                    Some(c),
                    format!(
                        "{kind}dependency `{}` requires version `{req}`, but this publish contains `{}` v{version}",
                        dep.name_in_toml, target.name
                    ),
                    Some(format!(
                        "change the requirement in `{}` to accept {version} (for example `version = \"{version}\"`)",
                        member.manifest_path.display()
                    )),
                );
            }
        }
    }
}

/// crates.io's published limits (registry.md, rate limits): new crates and new versions.
const NEW_CRATE_BURST: usize = 5;
const NEW_CRATE_REFILL_MINUTES: usize = 10;
const NEW_VERSION_BURST: usize = 30;
const NEW_VERSION_REFILL_MINUTES: usize = 1;

/// Minutes of waiting beyond the bursts, assuming full buckets. The two buckets refill in parallel,
/// so the longer wait is the estimate.
fn extra_wait_minutes(new_crates: usize, new_versions: usize) -> usize {
    let new = new_crates.saturating_sub(NEW_CRATE_BURST) * NEW_CRATE_REFILL_MINUTES;
    let upd = new_versions.saturating_sub(NEW_VERSION_BURST) * NEW_VERSION_REFILL_MINUTES;
    new.max(upd)
}

fn rate_budget(uploads: &[Upload], out: &mut Preflight) {
    let new_crates = uploads.iter().filter(|u| u.exists == Some(false)).count();
    let new_versions = uploads.iter().filter(|u| u.exists == Some(true)).count();
    let minutes = extra_wait_minutes(new_crates, new_versions);
    if minutes == 0 {
        return;
    }
    out.warning(
        None,
        format!(
            "this plan publishes {new_crates} new crate(s) and {new_versions} new version(s); crates.io allows bursts of {NEW_CRATE_BURST} new crates (then 1 per {NEW_CRATE_REFILL_MINUTES} minutes) and {NEW_VERSION_BURST} new versions (then 1 per minute), so expect about {minutes} minute(s) of waiting for rate limits"
        ),
        Some("the upload waits for `Retry-After` and resumes by itself; nothing to do unless that is too long".to_owned()),
    );
}

/// Index lookups, each crate fetched once: the exact names its index file lists (the file is shared
/// by every capitalisation of a name).
#[derive(Default)]
struct IndexCache {
    names: BTreeMap<String, Vec<String>>,
}

impl IndexCache {
    fn names(&mut self, remote: &Remote, name: &str) -> anyhow::Result<&[String]> {
        let key = name.to_ascii_lowercase();
        if !self.names.contains_key(&key) {
            let entries = remote.runtime.block_on(remote.index.entries(name))?;
            let mut names: Vec<String> = entries.into_iter().map(|e| e.name).collect();
            names.dedup();
            self.names.insert(key.clone(), names);
        }
        Ok(self.names.get(&key).map_or(&[], Vec::as_slice))
    }

    /// Whether the registry has a crate of exactly this name (what a dependency must name).
    fn has_exact(&mut self, remote: &Remote, name: &str) -> anyhow::Result<bool> {
        Ok(self.names(remote, name)?.iter().any(|n| n == name))
    }
}

/// Warnings first, then each problem as an `error:` line.
pub(super) fn report(found: &Preflight, dry_run: bool, shell: &Shell) {
    let unchecked = found.unchecked.iter().filter(|_| dry_run);
    for w in found.warnings.iter().chain(unchecked) {
        shell.warning(&w.render());
    }
    for p in &found.problems {
        shell.error(&anyhow::anyhow!(p.render()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_budget_estimate() {
        assert_eq!(extra_wait_minutes(5, 30), 0);
        assert_eq!(extra_wait_minutes(6, 0), 10);
        assert_eq!(extra_wait_minutes(0, 32), 2);
        assert_eq!(extra_wait_minutes(8, 40), 30);
        assert_eq!(extra_wait_minutes(6, 45), 15);
    }

    #[test]
    fn problems_render_with_crate_and_help() {
        let p = Problem {
            krate: Some(("a".into(), "1.0.0".into())),
            message: "bad".into(),
            help: Some("fix it".into()),
        };
        assert_eq!(p.render(), "a v1.0.0: bad\n  |\n  = help: fix it");
        let p = Problem {
            krate: None,
            message: "no token".into(),
            help: None,
        };
        assert_eq!(p.render(), "no token");
    }
}
