//! One rendered index file as the cache holds it, and the HTTP answer built from it: the body and
//! its gzip form computed once, the ETag and header values precomputed, so a hit allocates nothing
//! but the response itself.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// Bodies shorter than this are sent as they are: gzip would save next to nothing.
const GZIP_MIN_LEN: usize = 512;

pub const INDEX_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// An index file's bytes and validators.
#[derive(Debug)]
pub struct Representation {
    pub body: Bytes,
    /// The gzip form, when it is smaller.
    pub gzip: Option<Bytes>,
    /// `"<sha256 hex of body>"`: the ETag the registry has always sent.
    pub etag: HeaderValue,
    /// `W/"…"`, sent with the gzip form (a different encoding of the same content).
    pub weak_etag: HeaderValue,
}

impl Representation {
    pub fn new(body: Bytes) -> Self {
        let hex = hex::encode(Sha256::digest(&body));
        let etag = HeaderValue::try_from(format!("\"{hex}\""))
            .expect("hex digits and quotes are a valid header value");
        let weak_etag = HeaderValue::try_from(format!("W/\"{hex}\""))
            .expect("hex digits and quotes are a valid header value");
        let gzip = (body.len() >= GZIP_MIN_LEN)
            .then(|| gzip(&body))
            .filter(|g| g.len() < body.len());
        Representation {
            body,
            gzip,
            etag,
            weak_etag,
        }
    }

    /// Bytes held in memory, for the cache's budget.
    pub fn weight(&self) -> usize {
        self.body.len() + self.gzip.as_ref().map_or(0, Bytes::len) + 256
    }
}

fn gzip(body: &[u8]) -> Bytes {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::default(),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(body);
    Bytes::from(enc.finish().unwrap_or_default())
}

/// A cache entry: a file, or the knowledge that there is none (404).
#[derive(Debug)]
pub struct CachedFile {
    pub file: Option<Representation>,
    /// Mirror entries: until when the copy may be served without asking the upstream. Hosted
    /// entries are valid until invalidated (`None`).
    pub fresh_until: Option<Instant>,
    /// Set on every hit, cleared by the eviction sweep (second-chance eviction).
    pub(super) referenced: AtomicBool,
    /// Mirror entries: version → checksum, parsed on the first download that needs it.
    versions: OnceLock<HashMap<String, String>>,
}

impl CachedFile {
    pub fn found(body: Bytes, fresh_until: Option<Instant>) -> Self {
        Self::with(Some(Representation::new(body)), fresh_until)
    }

    pub fn missing(fresh_until: Option<Instant>) -> Self {
        Self::with(None, fresh_until)
    }

    fn with(file: Option<Representation>, fresh_until: Option<Instant>) -> Self {
        CachedFile {
            file,
            fresh_until,
            // Unreferenced until its first hit: a file read once goes first.
            referenced: AtomicBool::new(false),
            versions: OnceLock::new(),
        }
    }

    pub fn is_fresh(&self, now: Instant) -> bool {
        self.fresh_until.is_none_or(|t| now < t)
    }

    pub fn weight(&self) -> usize {
        self.file.as_ref().map_or(256, Representation::weight)
    }

    /// The checksum of `version` according to this file's lines (`None` when it lists no such
    /// version). Lines that do not parse are skipped, as cargo skips them.
    pub fn cksum_of(&self, version: &str) -> Option<&str> {
        let map = self.versions.get_or_init(|| {
            let Some(f) = &self.file else {
                return HashMap::new();
            };
            #[derive(serde::Deserialize)]
            struct Line {
                vers: String,
                cksum: String,
            }
            f.body
                .split(|b| *b == b'\n')
                .filter_map(|l| serde_json::from_slice::<Line>(l).ok())
                .map(|l| (l.vers, l.cksum))
                .collect()
        });
        map.get(version).map(String::as_str)
    }
}

/// Whether `Accept-Encoding` allows gzip (a `gzip` token whose q is not 0).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q_zero = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0))
            });
            coding.eq_ignore_ascii_case("gzip") && !q_zero
        })
}

/// Whether `If-None-Match` names this ETag (weak comparison, as for GET) or is `*`.
pub fn etag_matches(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    // The strong form `"hex"`: compare each listed tag without its `W/`.
    let strong = etag.as_bytes();
    let strong = strong.strip_prefix(b"W/").unwrap_or(strong);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .any(|t| {
            let t = t.trim_ascii();
            t == b"*" || t.strip_prefix(b"W/").unwrap_or(t) == strong
        })
}

/// The answer to a GET of this file: 304 when the client's copy is current, else 200 with the
/// gzip form when the client accepts it. `Vary` is always sent, since the encoding depends on it.
pub fn respond(
    headers: &HeaderMap,
    file: &Representation,
    cache_control: &'static str,
) -> Response {
    let gz = file.gzip.as_ref().filter(|_| accepts_gzip(headers));
    let etag = match gz {
        Some(_) => &file.weak_etag,
        None => &file.etag,
    };
    let not_modified = etag_matches(headers, etag);
    let mut resp = match (not_modified, gz) {
        (true, _) => Response::new(Body::empty()),
        (false, Some(g)) => Response::new(Body::from(g.clone())),
        (false, None) => Response::new(Body::from(file.body.clone())),
    };
    let h = resp.headers_mut();
    h.insert(header::ETAG, etag.clone());
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if not_modified {
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        return resp;
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(INDEX_CONTENT_TYPE),
    );
    if gz.is_some() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn gzip_is_negotiated_like_http_says() {
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "deflate, gzip"
        )])));
        assert!(accepts_gzip(&headers(&[("accept-encoding", "GZIP;q=0.5")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "gzip;q=0")])));
        assert!(!accepts_gzip(&headers(&[(
            "accept-encoding",
            "br, x-gzip2"
        )])));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn etags_are_the_body_sha256_and_compare_weakly() {
        let r = Representation::new(Bytes::from_static(b"{}\n"));
        let hex = hex::encode(Sha256::digest(b"{}\n"));
        assert_eq!(r.etag.to_str().unwrap(), format!("\"{hex}\""));
        assert_eq!(r.weak_etag.to_str().unwrap(), format!("W/\"{hex}\""));
        let strong = format!("\"{hex}\"");
        let weak = format!("W/\"{hex}\"");
        for sent in [
            strong.as_str(),
            weak.as_str(),
            "\"x\", *",
            "\"a\" ,  W/\"b\"",
        ] {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(sent).unwrap());
            let expected = !sent.contains("\"a\"");
            assert_eq!(etag_matches(&h, &r.etag), expected, "{sent}");
            assert_eq!(etag_matches(&h, &r.weak_etag), expected, "{sent}");
        }
        assert!(r.gzip.is_none(), "tiny bodies stay uncompressed");
    }

    #[test]
    fn checksums_are_found_by_exact_version() {
        let body = "{\"name\":\"a\",\"vers\":\"1.0.0\",\"cksum\":\"aa\"}\nnot json\n\
                    {\"name\":\"a\",\"vers\":\"1.0.1+b\",\"cksum\":\"bb\"}\n";
        let f = CachedFile::found(Bytes::from(body), None);
        assert_eq!(f.cksum_of("1.0.0"), Some("aa"));
        assert_eq!(f.cksum_of("1.0.1+b"), Some("bb"));
        assert_eq!(f.cksum_of("1.0.1"), None);
        assert_eq!(CachedFile::missing(None).cksum_of("1.0.0"), None);
    }
}
