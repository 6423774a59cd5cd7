//! READMEs to HTML on the server: Markdown through `pulldown-cmark`, then `ammonia`, which keeps
//! only harmless tags and attributes (no `<script>`, no `on…=` handlers, no `javascript:` URLs).
//! Relative links and images are resolved against the crate's repository where it is a known
//! forge (GitHub, GitLab, Codeberg …), at the commit the crate was packaged from when known; with
//! no repository they are dropped rather than left pointing into this registry.

use std::borrow::Cow;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};

use super::details::PackageMeta;

/// Where relative README links point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkBase {
    /// Prefix for links to files (`…/blob/<rev>/<dir>/`).
    pub blob: String,
    /// Prefix for images (`…/raw/<rev>/<dir>/`).
    pub raw: String,
    /// The repository root, for paths starting with `/`.
    pub root_blob: String,
    pub root_raw: String,
}

impl LinkBase {
    /// The base for a version's README, when its repository is an http(s) URL.
    pub fn for_package(meta: &PackageMeta) -> Option<LinkBase> {
        let repo = meta.repository.as_deref()?.trim();
        let url = url_without_git_suffix(repo)?;
        let rev = meta.vcs_sha1.as_deref().unwrap_or("HEAD");
        let mut dir = meta.path_in_vcs.clone().unwrap_or_default();
        if let Some(readme) = &meta.readme_path
            && let Some((parent, _)) = readme.rsplit_once('/')
        {
            dir = [dir.as_str(), parent]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("/");
        }
        let dir = match dir.is_empty() {
            true => String::new(),
            false => format!("{}/", dir.trim_matches('/')),
        };
        let host = url.split('/').nth(2).unwrap_or("").to_ascii_lowercase();
        let (blob, raw) = match host.as_str() {
            "github.com" | "codeberg.org" | "gitea.com" => {
                let (b, r) = match host.as_str() {
                    "github.com" => ("blob", "raw"),
                    _ => ("src/commit", "raw/commit"),
                };
                (format!("{url}/{b}/{rev}/"), format!("{url}/{r}/{rev}/"))
            }
            h if h == "gitlab.com" || h.starts_with("gitlab.") => (
                format!("{url}/-/blob/{rev}/"),
                format!("{url}/-/raw/{rev}/"),
            ),
            _ => (format!("{url}/"), format!("{url}/")),
        };
        Some(LinkBase {
            blob: format!("{blob}{dir}"),
            raw: format!("{raw}{dir}"),
            root_blob: blob,
            root_raw: raw,
        })
    }

    fn resolve(&self, link: &str, image: bool) -> Option<String> {
        if link.starts_with('#') || is_absolute(link) {
            return Some(link.to_owned());
        }
        let (base, root) = match image {
            true => (&self.raw, &self.root_raw),
            false => (&self.blob, &self.root_blob),
        };
        Some(match link.strip_prefix('/') {
            Some(from_root) => format!("{root}{from_root}"),
            None => format!("{base}{}", link.trim_start_matches("./")),
        })
    }
}

fn url_without_git_suffix(repo: &str) -> Option<String> {
    if !(repo.starts_with("https://") || repo.starts_with("http://")) {
        return None;
    }
    let url = repo.trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url);
    // Only the repository itself: `…/tree/main/sub` would make a wrong base.
    (!url.contains('?') && !url.contains('#')).then(|| url.to_owned())
}

fn is_absolute(link: &str) -> bool {
    link.starts_with("//")
        || link.split_once(':').is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        })
}

/// Renders a README (Markdown unless its path says it is plain text) to sanitised HTML.
pub fn render(text: &str, path: Option<&str>, base: Option<&LinkBase>) -> String {
    let markdown = path.is_none_or(|p| {
        let p = p.to_ascii_lowercase();
        p.ends_with(".md") || p.ends_with(".markdown") || !p.contains('.')
    });
    if !markdown {
        return maud::html! { pre { (text) } }.into_string();
    }
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    opts.insert(Options::ENABLE_FOOTNOTES);
    // Markdown links and images are resolved here, where links and images are told apart;
    // raw HTML ones (often `<img src=…>`) by the sanitiser below, as images.
    let events = Parser::new_ext(text, opts).map(|ev| match ev {
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: rewrite(dest_url, base, false),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: rewrite(dest_url, base, true),
            title,
            id,
        }),
        other => other,
    });
    let mut html = String::with_capacity(text.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    sanitise(&html, base)
}

fn rewrite<'a>(url: CowStr<'a>, base: Option<&LinkBase>, image: bool) -> CowStr<'a> {
    match base.and_then(|b| b.resolve(&url, image)) {
        Some(u) => CowStr::from(u),
        None => url,
    }
}

/// Relative URLs left in raw HTML: fragments stay, the rest resolve as images or go.
struct Relative(Option<LinkBase>);

impl<'a> ammonia::UrlRelativeEvaluate<'a> for Relative {
    fn evaluate<'url>(&self, url: &'url str) -> Option<Cow<'url, str>> {
        if url.starts_with('#') {
            return Some(Cow::Borrowed(url));
        }
        self.0
            .as_ref()
            .and_then(|b| b.resolve(url, true))
            .map(Cow::Owned)
    }
}

fn sanitise(html: &str, base: Option<&LinkBase>) -> String {
    ammonia::Builder::default()
        .url_relative(ammonia::UrlRelative::Custom(Box::new(Relative(
            base.cloned(),
        ))))
        .clean(html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(repo: &str) -> PackageMeta {
        PackageMeta {
            repository: Some(repo.into()),
            readme_path: Some("README.md".into()),
            ..PackageMeta::default()
        }
    }

    #[test]
    fn scripts_handlers_and_javascript_urls_never_survive() {
        let md = "# Title\n\n<script>alert(1)</script>\n\n<img src=x onerror=\"alert(2)\">\n\n\
                  [click](javascript:alert(3)) <a href=\"javascript:alert(4)\">x</a>\n\n\
                  <iframe src=\"https://evil.example\"></iframe><style>body{}</style>";
        let html = render(md, Some("README.md"), None);
        for bad in [
            "<script",
            "alert(1)",
            "onerror",
            "javascript:",
            "<iframe",
            "<style",
        ] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        assert!(html.contains("<h1>Title</h1>"), "{html}");
    }

    #[test]
    fn relative_links_and_images_resolve_against_the_repository() {
        let mut m = meta("https://github.com/o/r.git");
        m.path_in_vcs = Some("crates/x".into());
        m.vcs_sha1 = Some("0123456789abcdef0123456789abcdef01234567".into());
        let base = LinkBase::for_package(&m).unwrap();
        let html = render(
            "[guide](docs/guide.md) ![logo](./logo.png) [top](/LICENSE) [here](#usage) \
             [abs](https://example.com/x) <img src=\"img/a.svg\">",
            Some("README.md"),
            Some(&base),
        );
        let sha = "0123456789abcdef0123456789abcdef01234567";
        for want in [
            format!("href=\"https://github.com/o/r/blob/{sha}/crates/x/docs/guide.md\""),
            format!("src=\"https://github.com/o/r/raw/{sha}/crates/x/logo.png\""),
            format!("href=\"https://github.com/o/r/blob/{sha}/LICENSE\""),
            "href=\"#usage\"".to_owned(),
            "href=\"https://example.com/x\"".to_owned(),
            format!("src=\"https://github.com/o/r/raw/{sha}/crates/x/img/a.svg\""),
        ] {
            assert!(html.contains(&want), "{want} not in {html}");
        }
    }

    #[test]
    fn without_a_repository_relative_urls_are_dropped() {
        let html = render("[a](docs/a.md) ![b](b.png)", Some("README.md"), None);
        assert!(
            !html.contains("docs/a.md") && !html.contains("b.png"),
            "{html}"
        );
        let gitlab = LinkBase::for_package(&meta("https://gitlab.com/g/p")).unwrap();
        assert_eq!(gitlab.blob, "https://gitlab.com/g/p/-/blob/HEAD/");
        assert!(LinkBase::for_package(&meta("git@github.com:o/r.git")).is_none());
    }

    #[test]
    fn plain_text_readmes_are_escaped() {
        let html = render("<b>x</b>", Some("README.txt"), None);
        assert_eq!(html, "<pre>&lt;b&gt;x&lt;/b&gt;</pre>");
    }
}
