//! [`Redacted`]: a URL as it may be printed — in an error, a log line, a `--verbose` trace — with
//! the parts that can be secrets replaced by `***`: the userinfo of an `http(s)` URL (a token is
//! often passed as the user name, e.g. `https://TOKEN@github.com/…`), any password, and the values
//! of token-like query parameters (`?token=`, `X-Amz-Signature=`, …).
//!
//! It works on the text, not on a parsed URL, so that what is printed is the user's own spelling
//! and a string that does not parse as a URL is redacted too.

use std::fmt;

/// Query parameter names (lower-cased, by substring) whose values are never printed.
const SECRET_PARAMS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "key",
    "sig",
    "auth",
    "credential",
    "session",
];

/// What replaces a secret.
const MASK: &str = "***";

/// A URL whose secrets are masked when displayed. See the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redacted<'a>(pub &'a str);

/// `url` ready to be printed without its secrets.
pub fn redacted(url: &str) -> Redacted<'_> {
    Redacted(url)
}

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let (scheme, rest) = match s.find("://") {
            Some(i) => (&s[..i], &s[i + 3..]),
            None => ("", s),
        };
        if !scheme.is_empty() {
            write!(f, "{scheme}://")?;
        }
        // The userinfo ends at the last `@` before the path: a password may hold `@`, `?` or `#`.
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let rest = match (scheme.is_empty(), rest[..authority_end].rfind('@')) {
            (false, Some(at)) => {
                write_userinfo(f, scheme, &rest[..at])?;
                &rest[at..]
            }
            _ => rest,
        };
        let (before_fragment, fragment) = match rest.find('#') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let Some((path, query)) = before_fragment.split_once('?') else {
            return f.write_str(rest);
        };
        write!(f, "{path}?")?;
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                f.write_str("&")?;
            }
            match pair.split_once('=') {
                Some((k, _)) if is_secret_param(k) => write!(f, "{k}={MASK}")?,
                _ => f.write_str(pair)?,
            }
        }
        f.write_str(fragment)
    }
}

/// An ssh user name is an account (`git@`), not a secret; anywhere else it may be a token.
fn write_userinfo(f: &mut fmt::Formatter<'_>, scheme: &str, userinfo: &str) -> fmt::Result {
    match userinfo.split_once(':') {
        Some((user, _)) if scheme.ends_with("ssh") => write!(f, "{user}:{MASK}"),
        None if scheme.ends_with("ssh") => f.write_str(userinfo),
        _ => f.write_str(MASK),
    }
}

fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|p| name.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        redacted(s).to_string()
    }

    #[test]
    fn plain_urls_are_unchanged() {
        for s in [
            "sparse+https://index.crates.io/",
            "https://github.com/rust-lang/crates.io-index",
            "file:///tmp/index",
            "ssh://git@github.com/o/r.git",
            "sparse+http://127.0.0.1:8080/index/?page=2#top",
            "not a url",
            "",
        ] {
            assert_eq!(r(s), s);
        }
    }

    #[test]
    fn userinfo_is_masked() {
        assert_eq!(
            r("https://user:hunter2@example.com/index"),
            "https://***@example.com/index"
        );
        assert_eq!(
            r("https://ghp_abc123@github.com/o/r"),
            "https://***@github.com/o/r"
        );
        assert_eq!(
            r("sparse+https://u:p@r.example/index/"),
            "sparse+https://***@r.example/index/"
        );
        assert_eq!(
            r("ssh://git:hunter2@example.com/r"),
            "ssh://git:***@example.com/r"
        );
        // An `@` in the path is not userinfo.
        assert_eq!(r("https://h/a@b"), "https://h/a@b");
        // The last `@` of the authority ends the userinfo (a password may contain `@`).
        assert_eq!(r("https://u:p@ss@h/x"), "https://***@h/x");
        assert_eq!(r("https://u:p?x#y@h/x"), "https://***@h/x");
        assert_eq!(r("https://u:p@h"), "https://***@h");
        // Without a scheme there is no userinfo to find (scp-like git addresses).
        assert_eq!(r("git@github.com:o/r.git"), "git@github.com:o/r.git");
    }

    #[test]
    fn token_like_query_values_are_masked() {
        assert_eq!(
            r("https://h/x?token=abc&page=2"),
            "https://h/x?token=***&page=2"
        );
        assert_eq!(
            r(
                "https://b.s3.amazonaws.com/k?X-Amz-Credential=AK%2F1&X-Amz-Signature=f00&X-Amz-Expires=60"
            ),
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Expires=60"
        );
        assert_eq!(
            r("https://h/?api_key=1#frag"),
            "https://h/?api_key=***#frag"
        );
        assert_eq!(r("https://h/?flag&auth=1"), "https://h/?flag&auth=***");
        assert_eq!(r("https://h?token=1"), "https://h?token=***");
    }
}
