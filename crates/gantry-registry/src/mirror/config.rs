//! The mirror's settings (`serve --mirror …`, `mirror fetch …`) and the upstream's URL.

use std::time::Duration;

/// crates.io's sparse index, the default upstream.
pub const CRATES_IO_SPARSE: &str = "sparse+https://index.crates.io/";
/// How long an index file is served without asking the upstream (`--mirror-ttl`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// Bound on every upstream request (`--mirror-upstream-timeout`).
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct MirrorConfig {
    pub upstream: UpstreamUrl,
    pub ttl: Duration,
    pub upstream_timeout: Duration,
}

impl Default for MirrorConfig {
    fn default() -> Self {
        MirrorConfig {
            upstream: UpstreamUrl::parse(CRATES_IO_SPARSE).expect("the default upstream parses"),
            ttl: DEFAULT_TTL,
            upstream_timeout: DEFAULT_UPSTREAM_TIMEOUT,
        }
    }
}

/// A sparse registry's index URL: `sparse+https://host/path/` (the `sparse+` may be left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUrl {
    /// `https://host/path/`: index files are fetched from here.
    pub base: String,
}

impl UpstreamUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        let plain = s.strip_prefix("sparse+").unwrap_or(s);
        if s.starts_with("registry+") || s.starts_with("git+") || s.starts_with("ssh://") {
            return Err(format!(
                "`{s}` is a git index; the mirror reads sparse registries only (e.g. {CRATES_IO_SPARSE})"
            ));
        }
        let Some((scheme, rest)) = plain.split_once("://") else {
            return Err(format!(
                "`{s}` is not a URL; expected sparse+https://HOST/PATH/ (e.g. {CRATES_IO_SPARSE})"
            ));
        };
        if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.starts_with('/') {
            return Err(format!(
                "`{s}`: expected sparse+https://HOST/PATH/ or sparse+http://HOST/PATH/"
            ));
        }
        if plain.contains(['?', '#', ' ']) {
            return Err(format!(
                "`{s}`: a query, fragment or space has no place in an index URL"
            ));
        }
        let mut base = plain.to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(UpstreamUrl { base })
    }

    /// As cargo writes it: `sparse+…/`.
    pub fn display(&self) -> String {
        format!("sparse+{}", self.base)
    }

    /// Whether a lockfile's `source` is one the mirror serves: crates.io (either spelling, git or
    /// sparse — the mirror stands in for it through `[source.crates-io] replace-with`, whatever
    /// upstream it reads from, e.g. a crates.io mirror), or the upstream itself.
    pub fn is_source(&self, source: &str) -> bool {
        let source = source.split('#').next().unwrap_or(source);
        source == self.display()
            || matches!(
                source,
                "registry+https://github.com/rust-lang/crates.io-index"
                    | "sparse+https://index.crates.io/"
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls() {
        let u = UpstreamUrl::parse("sparse+https://index.crates.io/").unwrap();
        assert_eq!(u.base, "https://index.crates.io/");
        assert_eq!(u.display(), CRATES_IO_SPARSE);
        assert!(u.is_source("registry+https://github.com/rust-lang/crates.io-index"));
        assert!(u.is_source("sparse+https://index.crates.io/"));
        assert!(!u.is_source("sparse+http://127.0.0.1:1/index/"));
        let l = UpstreamUrl::parse("http://127.0.0.1:8990/index").unwrap();
        assert_eq!(l.base, "http://127.0.0.1:8990/index/");
        assert!(l.is_source("sparse+http://127.0.0.1:8990/index/"));
        assert!(l.is_source("registry+https://github.com/rust-lang/crates.io-index"));
        assert!(!l.is_source("sparse+http://127.0.0.1:8991/index/"));
        for bad in [
            "registry+https://github.com/rust-lang/crates.io-index",
            "index.crates.io",
            "ftp://x/",
            "https:///x",
            "https://x/?a",
        ] {
            assert!(UpstreamUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
