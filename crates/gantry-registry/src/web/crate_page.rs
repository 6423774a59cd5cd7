//! A crate's page, `/crates/{name}` (its default version) and `/crates/{name}/{version}`: what
//! crates.io's crate page shows — the README rendered on the server, description, license, links,
//! how to depend on it, versions with dates, downloads and yanked state, features, dependencies
//! (linked when they live here), reverse dependencies and owners, and who published the version
//! (a user, or the CI run of a trusted publish).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use gantry_protocol::{DependencyKind, IndexEntry, canonical_name};
use maud::{Markup, PreEscaped, html};

use super::details::{self, PackageMeta, kind_name};
use super::layout::{PageErr, count, page};
use super::publisher;
use super::readme::{LinkBase, render};
use super::session::{Session, Viewer};
use super::time::date;
use crate::app::App;
use crate::blob::crate_key;
use crate::crate_info::default_version;
use crate::store::pages::{ReverseDep, StoredDetails, VersionListing};
use crate::store::{CrateInfo, User};

/// Reverse dependencies shown at most.
const MAX_REVERSE: u32 = 100;

/// `GET /crates/{name}`.
pub async fn newest(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Viewer(viewer): Viewer,
) -> Result<Response, PageErr> {
    show(&app, viewer, &name, None).await
}

/// `GET /crates/{name}/{version}`.
pub async fn version(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, String)>,
    Viewer(viewer): Viewer,
) -> Result<Response, PageErr> {
    show(&app, viewer, &name, Some(&version)).await
}

/// Everything one version's page shows.
struct View {
    krate: CrateInfo,
    versions: Vec<VersionListing>,
    shown: VersionListing,
    entry: IndexEntry,
    meta: PackageMeta,
    readme_html: Option<String>,
    owners: Vec<User>,
    reverse: Vec<ReverseDep>,
}

async fn show(
    app: &App,
    viewer: Option<Session>,
    name: &str,
    version: Option<&str>,
) -> Result<Response, PageErr> {
    let view = load(app, name, version).await?;
    let title = format!("{} {}", view.krate.name, view.shown.num);
    let is_owner = viewer
        .as_ref()
        .is_some_and(|s| s.is_admin || view.owners.iter().any(|o| o.id == s.user.id));
    let body = render_view(app, &view, is_owner);
    Ok(page(app, viewer.as_ref(), &title, body))
}

async fn load(app: &App, name: &str, version: Option<&str>) -> Result<View, PageErr> {
    let missing = || PageErr::not_found(format!("there is no crate `{name}` in this registry"));
    let krate = app.store.crate_by_name(name).await?.ok_or_else(missing)?;
    let versions = app.store.version_listing(krate.id).await?;
    let num = match version {
        Some(v) => v.to_owned(),
        None => default_version(versions.iter().map(|v| (v.num.as_str(), v.yanked != 0))),
    };
    let shown = versions
        .iter()
        .find(|v| v.num == num)
        .cloned()
        .ok_or_else(|| {
            PageErr::not_found(format!("crate `{}` has no version `{num}`", krate.name))
        })?;
    let line = app
        .store
        .versions(krate.id)
        .await?
        .into_iter()
        .find(|v| v.num == num)
        .map(|v| v.index_line)
        .ok_or_else(missing)?;
    let entry: IndexEntry = serde_json::from_str(&line).map_err(crate::error::ApiErr::internal)?;
    let stored = stored_details(app, &krate, &shown, &entry).await?;
    let meta: PackageMeta = serde_json::from_str(&stored.metadata).unwrap_or_default();
    let readme_html = stored.readme.as_deref().map(|text| {
        let base = LinkBase::for_package(&meta);
        render(text, meta.readme_path.as_deref(), base.as_ref())
    });
    let owners = app.store.owners(krate.id).await?;
    let reverse = app
        .store
        .reverse_dependencies(&canonical_name(&krate.name), MAX_REVERSE)
        .await?;
    Ok(View {
        krate,
        versions,
        shown,
        entry,
        meta,
        readme_html,
        owners,
        reverse,
    })
}

/// The version's stored details; for a version published before they were stored, read from its
/// `.crate` now and stored for next time.
async fn stored_details(
    app: &App,
    krate: &CrateInfo,
    v: &VersionListing,
    entry: &IndexEntry,
) -> Result<StoredDetails, PageErr> {
    if let Some(d) = app.store.version_details(v.id).await? {
        return Ok(d);
    }
    let tarball = app
        .blobs
        .get(&crate_key(entry.cksum.as_str()))
        .await
        .map_err(crate::error::ApiErr::from)?
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let line = entry.to_line();
    details::store(
        app.store.as_ref(),
        v.id,
        tarball,
        krate.name.clone(),
        v.num.clone(),
        &line,
    )
    .await?;
    Ok(app
        .store
        .version_details(v.id)
        .await?
        .unwrap_or(StoredDetails {
            readme: None,
            metadata: "{}".into(),
        }))
}

fn render_view(app: &App, v: &View, is_owner: bool) -> Markup {
    let name = &v.krate.name;
    let total: i64 = v.versions.iter().map(|x| x.downloads).sum();
    let description = v.meta.description.as_ref().or(v.krate.description.as_ref());
    html! {
        div.crate-head {
            h1 { (name) " " span.version #shown-version { (v.shown.num) } }
            @if v.shown.yanked != 0 { span.badge.yanked { "yanked" } }
            @if let Some(d) = description { p.desc #description { (d) } }
            @if !v.meta.keywords.is_empty() {
                ul.keywords { @for k in &v.meta.keywords { li { "#" (k) } } }
            }
        }
        div.crate-layout {
            div.crate-main {
                section #readme {
                    @match &v.readme_html {
                        Some(h) => { article.readme { (PreEscaped(h)) } }
                        None => { p.muted { "This version has no README." } }
                    }
                }
                (versions_section(name, &v.versions, &v.shown.num))
                (features_section(&v.entry))
                (dependencies_section(&v.entry))
                (reverse_section(&v.reverse))
            }
            aside.crate-side {
                (install_box(app, name, &v.shown.num))
                (metadata_box(app, v))
                section #downloads {
                    h3 { "Downloads" }
                    p { strong #total-downloads { (count(total)) } " all versions" }
                    p { strong #version-downloads { (count(v.shown.downloads)) } " this version" }
                }
                section #owners {
                    h3 { "Owners" }
                    ul { @for o in &v.owners { li { (o.login) } } }
                    @if is_owner { a href={ "/crates/" (name) "/owners" } { "Manage owners" } }
                }
            }
        }
    }
}

fn install_box(app: &App, name: &str, num: &str) -> Markup {
    let registry = &app.config.web.registry_name;
    html! {
        section #install {
            h3 { "Install" }
            p { "Run in your project:" }
            pre { code #cargo-add { "cargo add --registry " (registry) " " (name) "@" (num) } }
            p { "Or add to " code { "Cargo.toml" } ":" }
            pre { code #toml-snippet { (name) " = { version = \"" (num) "\", registry = \"" (registry) "\" }" } }
        }
    }
}

fn metadata_box(app: &App, v: &View) -> Markup {
    let m = &v.meta;
    let link = |label: &'static str, url: &Option<String>| {
        html! {
            @if let Some(u) = url.as_ref().filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
                li { a href=(u) rel="nofollow noopener" { (label) } }
            }
        }
    };
    html! {
        section #metadata {
            h3 { "Metadata" }
            dl {
                dt { "Published" } dd { (date(v.shown.created_at))
                    (publisher::published_by(&v.shown, &app.config.trusted_publishing)) }
                @if let Some(l) = &m.license { dt { "License" } dd #license { (l) } }
                @if let (None, Some(f)) = (&m.license, &m.license_file) {
                    dt { "License file" } dd { (f) }
                }
                @if let Some(e) = &m.edition { dt { "Edition" } dd { (e) } }
                @if let Some(r) = v.entry.rust_version.as_ref().or(m.rust_version.as_ref()) {
                    dt { "Rust version" } dd { "v" (r) }
                }
                @if m.crate_size > 0 { dt { "Size" } dd { (size(m.crate_size)) } }
                @if !m.categories.is_empty() { dt { "Categories" } dd { (m.categories.join(", ")) } }
                @if !m.authors.is_empty() { dt { "Authors" } dd { (m.authors.join(", ")) } }
            }
            ul.links {
                (link("Repository", &m.repository))
                (link("Homepage", &m.homepage))
                (link("Documentation", &m.documentation))
            }
        }
    }
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    }
}

fn versions_section(name: &str, versions: &[VersionListing], shown: &str) -> Markup {
    html! {
        section #versions {
            h2 { "Versions" }
            table {
                thead { tr { th { "Version" } th { "Published" } th.num { "Downloads" } th { "" } } }
                tbody {
                    @for v in versions.iter().rev() {
                        tr.current[v.num == shown] {
                            td { a href={ "/crates/" (name) "/" (v.num) } { (v.num) } }
                            td { (date(v.created_at)) }
                            td.num { (count(v.downloads)) }
                            td { @if v.yanked != 0 { span.badge.yanked { "yanked" } } }
                        }
                    }
                }
            }
        }
    }
}

fn features_section(entry: &IndexEntry) -> Markup {
    let mut features: Vec<(&String, &Vec<String>)> = entry.features.iter().collect();
    if let Some(f2) = &entry.features2 {
        features.extend(f2.iter());
    }
    features.sort();
    html! {
        section #features {
            h2 { "Features" }
            @if features.is_empty() {
                p.muted { "No features." }
            } @else {
                dl.features {
                    @for (f, enables) in features {
                        dt { code { (f) } }
                        dd { @if enables.is_empty() { span.muted { "enables nothing" } }
                             @else { (enables.join(", ")) } }
                    }
                }
            }
        }
    }
}

fn dependencies_section(entry: &IndexEntry) -> Markup {
    let kinds = [
        (DependencyKind::Normal, "Dependencies"),
        (DependencyKind::Build, "Build dependencies"),
        (DependencyKind::Dev, "Dev dependencies"),
    ];
    html! {
        section #dependencies {
            h2 { "Dependencies" }
            @if entry.deps.is_empty() { p.muted { "No dependencies." } }
            @for (kind, title) in kinds {
                @let deps: Vec<_> = entry.deps.iter().filter(|d| d.kind.unwrap_or_default() == kind).collect();
                @if !deps.is_empty() {
                    h3 { (title) }
                    ul.deps data-kind=(kind_name(kind)) {
                        @for d in deps {
                            @let real = d.package.as_deref().unwrap_or(&d.name);
                            li {
                                @if d.registry.as_deref().is_none_or(str::is_empty) {
                                    a href={ "/crates/" (real) } { (real) }
                                } @else {
                                    span title=(d.registry.as_deref().unwrap_or("")) { (real) }
                                    " " span.muted { "(other registry)" }
                                }
                                " " code { (d.req) }
                                @if d.optional { " " span.badge { "optional" } }
                                @if let Some(t) = &d.target { " " span.muted { "for " (t) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn reverse_section(reverse: &[ReverseDep]) -> Markup {
    html! {
        section #reverse-dependencies {
            h2 { "Used by" }
            @if reverse.is_empty() {
                p.muted { "No crate in this registry depends on it." }
            } @else {
                ul {
                    @for r in reverse {
                        li {
                            a href={ "/crates/" (r.crate_name) "/" (r.num) } { (r.crate_name) " " (r.num) }
                            " " code { (r.req) }
                            @if r.kind != "normal" { " " span.muted { "(" (r.kind) ")" } }
                        }
                    }
                }
            }
        }
    }
}
