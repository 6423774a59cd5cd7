//! [`IndexUrl`]: a registry's index URL as cargo accepts it in `[registries.NAME] index`,
//! `--index` and `registry.index`: `sparse+http(s)://…` for a sparse index, or an `http(s)`, `ssh`,
//! `git` or `file` URL of a git index. Two spellings of one index compare equal by the canonical
//! form cargo compares them in; printing one never shows a secret ([`crate::redact`]).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

use crate::redact::Redacted;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexKind {
    Sparse,
    Git,
}

/// A parsed index URL, kept in the spelling it was given (that is what goes back on the wire).
#[derive(Debug, Clone)]
pub struct IndexUrl {
    raw: String,
    kind: IndexKind,
    /// Without the `sparse+` prefix.
    url: Url,
    canonical: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexUrlError {
    /// Cargo's wording (the URL itself is not repeated: it holds the password).
    #[error("registry URLs may not contain passwords")]
    Password,
    #[error("invalid url `{}`: {source}", Redacted(.raw))]
    Invalid {
        raw: String,
        #[source]
        source: url::ParseError,
    },
    #[error("invalid url `{}`: cannot-be-a-base-URLs are not supported", Redacted(.raw))]
    CannotBeABase { raw: String },
    #[error(
        "unsupported index URL `{}`: a sparse index is `sparse+https://…` or `sparse+http://…`",
        Redacted(.raw)
    )]
    SparseScheme { raw: String },
    #[error(
        "unsupported index URL `{}`: expected `sparse+https://…` (sparse) or an `https`, `http`, `ssh`, `git` or `file` URL (git)",
        Redacted(.raw)
    )]
    Scheme { raw: String },
}

impl IndexUrl {
    pub fn parse(raw: &str) -> Result<Self, IndexUrlError> {
        let invalid = |source| IndexUrlError::Invalid {
            raw: raw.to_owned(),
            source,
        };
        let (kind, inner) = match raw.strip_prefix("sparse+") {
            Some(inner) => (IndexKind::Sparse, inner),
            None => (IndexKind::Git, raw),
        };
        let url = Url::parse(inner).map_err(invalid)?;
        let scheme_ok = match kind {
            IndexKind::Sparse => matches!(url.scheme(), "http" | "https"),
            IndexKind::Git => matches!(url.scheme(), "http" | "https" | "ssh" | "git" | "file"),
        };
        if url.password().is_some() {
            return Err(IndexUrlError::Password);
        }
        if url.cannot_be_a_base() {
            return Err(IndexUrlError::CannotBeABase {
                raw: raw.to_owned(),
            });
        }
        if !scheme_ok {
            return Err(match kind {
                IndexKind::Sparse => IndexUrlError::SparseScheme {
                    raw: raw.to_owned(),
                },
                IndexKind::Git => IndexUrlError::Scheme {
                    raw: raw.to_owned(),
                },
            });
        }
        let canonical = match kind {
            IndexKind::Sparse => canonical_sparse(&url),
            IndexKind::Git => canonical_git(&url),
        };
        Ok(IndexUrl {
            raw: raw.to_owned(),
            kind,
            url,
            canonical,
        })
    }

    /// As given: the string to write back into config, lockfiles and publish requests.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn kind(&self) -> IndexKind {
        self.kind
    }

    pub fn is_sparse(&self) -> bool {
        self.kind == IndexKind::Sparse
    }

    /// The URL fetched from: without `sparse+`.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The form two spellings of one index share: for a sparse index `sparse+` and the URL with
    /// one trailing `/` (cargo fetches `…/config.json` below it); for a git index the URL without a
    /// trailing `/` or `.git`, and on github.com in `https` and lower case, as cargo's
    /// `CanonicalUrl` does.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// Whether this is crates.io's index, in either protocol.
    pub fn is_crates_io(&self) -> bool {
        use crate::crates_io::{GIT_INDEX, SPARSE_INDEX};
        self.canonical == SPARSE_INDEX || self.canonical == GIT_INDEX
    }

    /// For messages: the URL with its secrets masked. `Display` does the same.
    pub fn redacted(&self) -> Redacted<'_> {
        Redacted(&self.raw)
    }
}

fn canonical_sparse(url: &Url) -> String {
    let mut u = url.clone();
    if !u.path().ends_with('/') {
        let path = format!("{}/", u.path());
        u.set_path(&path);
    }
    format!("sparse+{u}")
}

fn canonical_git(url: &Url) -> String {
    let mut u = url.clone();
    if u.path().ends_with('/')
        && let Ok(mut segments) = u.path_segments_mut()
    {
        segments.pop_if_empty();
    }
    // GitHub treats paths case-insensitively and serves every protocol over https.
    if u.host_str() == Some("github.com") {
        if let Ok(https) = Url::parse(&format!("https{}", &u[url::Position::AfterScheme..])) {
            u = https;
        }
        let lower = u.path().to_lowercase();
        u.set_path(&lower);
    }
    if let Some(stripped) = u.path().strip_suffix(".git") {
        let stripped = stripped.to_owned();
        u.set_path(&stripped);
    }
    u.to_string()
}

impl PartialEq for IndexUrl {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}

impl Eq for IndexUrl {}

impl Hash for IndexUrl {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.canonical.hash(state);
    }
}

/// Redacted: an index URL printed anywhere never shows a token.
impl fmt::Display for IndexUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.redacted().fmt(f)
    }
}

impl FromStr for IndexUrl {
    type Err = IndexUrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IndexUrl::parse(s)
    }
}

impl AsRef<str> for IndexUrl {
    fn as_ref(&self) -> &str {
        &self.raw
    }
}

impl Serialize for IndexUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for IndexUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        IndexUrl::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        IndexUrl::parse(s).unwrap().canonical().to_owned()
    }

    #[test]
    fn accepts_sparse_and_git_urls() {
        let s = IndexUrl::parse("sparse+https://index.crates.io/").unwrap();
        assert_eq!(s.kind(), IndexKind::Sparse);
        assert_eq!(s.url().as_str(), "https://index.crates.io/");
        assert!(s.is_crates_io());
        for git in [
            "https://github.com/rust-lang/crates.io-index",
            "http://127.0.0.1:8080/git/index",
            "ssh://git@example.com/index.git",
            "git://example.com/index",
            "file:///tmp/index",
        ] {
            let u = IndexUrl::parse(git).unwrap();
            assert_eq!(u.kind(), IndexKind::Git, "{git}");
            assert_eq!(u.as_str(), git);
        }
        assert!(
            IndexUrl::parse("sparse+http://127.0.0.1:1/index/")
                .unwrap()
                .is_sparse()
        );
    }

    #[test]
    fn canonical_forms_match_cargos_comparison() {
        assert_eq!(
            canon("sparse+https://r.example/index"),
            "sparse+https://r.example/index/"
        );
        assert_eq!(
            canon("sparse+https://R.example/index/"),
            "sparse+https://r.example/index/"
        );
        assert_eq!(
            canon("sparse+https://r.example"),
            "sparse+https://r.example/"
        );
        assert_eq!(
            canon("https://example.com/index.git"),
            "https://example.com/index"
        );
        assert_eq!(
            canon("https://example.com/index/"),
            "https://example.com/index"
        );
        assert_eq!(
            canon("https://example.com/Index"),
            "https://example.com/Index"
        );
        assert_eq!(
            canon("https://github.com/Rust-Lang/crates.io-index.git"),
            crate::crates_io::GIT_INDEX
        );
        assert_eq!(
            canon("http://github.com/rust-lang/crates.io-index/"),
            crate::crates_io::GIT_INDEX
        );
        assert_eq!(
            canon("ssh://git@github.com/o/R.git"),
            "https://git@github.com/o/r"
        );
        let a = IndexUrl::parse("https://github.com/rust-lang/crates.io-index.git").unwrap();
        let b = IndexUrl::parse(crate::crates_io::GIT_INDEX).unwrap();
        assert_eq!(a, b);
        assert!(a.is_crates_io());
        // The protocols stay apart: a sparse and a git index are different sources to cargo.
        let c = IndexUrl::parse("sparse+https://example.com/index/").unwrap();
        let d = IndexUrl::parse("https://example.com/index/").unwrap();
        assert_ne!(c, d);
    }

    #[test]
    fn refusals() {
        let e = |s: &str| IndexUrl::parse(s).unwrap_err().to_string();
        assert_eq!(
            e("https://user:hunter2@example.com/index"),
            "registry URLs may not contain passwords"
        );
        assert_eq!(
            e("sparse+https://u:p@example.com/index/"),
            "registry URLs may not contain passwords"
        );
        assert_eq!(
            e("index.crates.io"),
            "invalid url `index.crates.io`: relative URL without a base"
        );
        assert_eq!(
            e("sparse+ssh://example.com/index/"),
            "unsupported index URL `sparse+ssh://example.com/index/`: a sparse index is `sparse+https://…` or `sparse+http://…`"
        );
        assert!(e("ftp://example.com/index").starts_with("unsupported index URL `ftp://"));
        assert!(e("registry+https://example.com/index").starts_with("unsupported index URL"));
        assert_eq!(
            e("ssh:example.com"),
            "invalid url `ssh:example.com`: cannot-be-a-base-URLs are not supported"
        );
        // A refused URL's token is not repeated in the message.
        let msg = e("ftp://tok123@example.com/x?token=abc");
        assert!(!msg.contains("tok123") && !msg.contains("abc"), "{msg}");
    }

    #[test]
    fn display_is_redacted_and_serde_is_verbatim() {
        let raw = "sparse+https://ghp_secret@r.example/index/?token=abc";
        let u = IndexUrl::parse(raw).unwrap();
        assert_eq!(
            u.to_string(),
            "sparse+https://***@r.example/index/?token=***"
        );
        assert_eq!(u.as_str(), raw);
        let json = serde_json::to_string(&u).unwrap();
        assert_eq!(json, serde_json::to_string(raw).unwrap());
        let back: IndexUrl = serde_json::from_str(&json).unwrap();
        assert_eq!(back.as_str(), raw);
        assert!(serde_json::from_str::<IndexUrl>(r#""https://a:b@h/""#).is_err());
    }
}
