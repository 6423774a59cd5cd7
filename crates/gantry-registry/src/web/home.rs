//! The start page (counts, recently published and updated crates, a search box) and search
//! results with pagination.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};

use super::layout::{PageErr, count, page};
use super::session::Viewer;
use super::time::date;
use crate::app::App;
use crate::crate_info::default_version;
use crate::store::pages::RecentCrate;

/// Results per search page.
pub const PER_PAGE: u32 = 20;
const RECENT: u32 = 10;
/// Searches may not page past this many results (deep OFFSETs cost the database, not the user).
const MAX_OFFSET: u64 = 10_000;

/// `GET /`.
pub async fn home(
    State(app): State<Arc<App>>,
    Viewer(viewer): Viewer,
) -> Result<Response, PageErr> {
    let counts = app.web.counts(app.store.as_ref()).await?;
    let new = app.store.recent_crates(false, RECENT).await?;
    let updated = app.store.recent_crates(true, RECENT).await?;
    let body = html! {
        section.hero {
            h1 { "Crates of " (app.public_url) }
            form.search-big action="/search" method="get" role="search" {
                input type="search" name="q" placeholder="Search crates" aria-label="Search crates" autofocus;
                button type="submit" { "Search" }
            }
            ul.stats {
                li { strong #crate-count { (count(counts.crates)) } " crates" }
                li { strong { (count(counts.versions)) } " versions" }
                li { strong { (count(counts.downloads)) } " downloads" }
            }
        }
        div.columns {
            section #new-crates {
                h2 { "Recently published" }
                (recent_list(&new))
            }
            section #updated-crates {
                h2 { "Recently updated" }
                (recent_list(&updated))
            }
        }
        section.howto {
            h2 { "Use this registry" }
            p { "In " code { "~/.cargo/config.toml" } ":" }
            pre { code { "[registries.gantry]\nindex = \"" (app.index_url()) "\"" } }
            p { "Then get a token on " a href="/me" { "your tokens page" } " and run "
                code { "cargo login --registry gantry" } "." }
        }
    };
    Ok(page(&app, viewer.as_ref(), "Home", body))
}

fn recent_list(crates: &[RecentCrate]) -> Markup {
    html! {
        @if crates.is_empty() {
            p.muted { "Nothing published yet." }
        } @else {
            ul.crate-list {
                @for c in crates {
                    li {
                        a.name href={ "/crates/" (c.name) } { (c.name) }
                        " " span.version { (c.num) }
                        span.date { (date(c.at)) }
                        @if let Some(d) = &c.description { p.desc { (d) } }
                    }
                }
            }
        }
    }
}

/// `GET /search?q=…&page=…`.
pub async fn search(
    State(app): State<Arc<App>>,
    Viewer(viewer): Viewer,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, PageErr> {
    let q = params.get("q").map(|s| s.trim()).unwrap_or("").to_owned();
    let page_no: u64 = match params.get("page") {
        None => 1,
        Some(p) => p
            .parse()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| PageErr::bad(format!("invalid page `{p}`: use a number from 1")))?,
    };
    let offset = (page_no - 1).saturating_mul(u64::from(PER_PAGE));
    if offset > MAX_OFFSET {
        return Err(PageErr::bad(
            "that page is too far; narrow the search instead",
        ));
    }
    let (found, total) = app.store.search_page(&q, offset, PER_PAGE).await?;
    let mut rows = Vec::new();
    for c in found {
        let versions = app.store.versions(c.id).await?;
        let newest = default_version(versions.iter().map(|v| (v.num.as_str(), v.yanked)));
        rows.push((c, newest));
    }
    let pages = total.div_ceil(u64::from(PER_PAGE)).max(1);
    let link = |p: u64| {
        let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        format!("/search?q={q}&page={p}")
    };
    let body = html! {
        h1 { "Search" }
        form.search-big action="/search" method="get" role="search" {
            input type="search" name="q" value=(q) aria-label="Search crates";
            button type="submit" { "Search" }
        }
        p #result-count { (count(i64::try_from(total).unwrap_or(i64::MAX))) " crates match "
            @if !q.is_empty() { "“" (q) "”" } }
        ul.crate-list #results {
            @for (c, newest) in &rows {
                li {
                    a.name href={ "/crates/" (c.name) } { (c.name) }
                    " " span.version { (newest) }
                    @if let Some(d) = &c.description { p.desc { (d) } }
                }
            }
        }
        @if pages > 1 {
            nav.pages aria-label="Result pages" {
                @if page_no > 1 { a rel="prev" href=(link(page_no - 1)) { "← Previous" } }
                span { "Page " (page_no) " of " (pages) }
                @if page_no < pages { a rel="next" href=(link(page_no + 1)) { "Next →" } }
            }
        }
    };
    Ok(page(&app, viewer.as_ref(), "Search", body))
}
