//! A registry Web API at a `file://` URL, answered as cargo's HTTP library answers one: a request
//! without a body reads the file at the URL's path (the answer is its contents), a request with a
//! body writes the body there and gets no answer. There is no HTTP status either way. Cargo's own
//! test registries use this (`"api": "file:///…"` in `config.json`); no server is involved.

use std::path::PathBuf;

/// Why a `file://` request failed.
#[derive(Debug, thiserror::Error)]
pub enum FileApiError {
    #[error("`{url}` is not a usable file URL")]
    Url { url: String },
    #[error("couldn't read a file:// file ({})", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("couldn't write a file:// file ({})", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// True for the URLs this module serves.
pub fn is_file_url(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("file://"))
}

/// Performs one request against `url` (a `file://` URL; a query string is ignored). Returns the
/// answer's body: the file's bytes for a read, nothing for a write.
pub fn request(url: &str, body: Option<&[u8]>) -> Result<Vec<u8>, FileApiError> {
    let path = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.to_file_path().ok())
        .ok_or_else(|| FileApiError::Url {
            url: url.to_owned(),
        })?;
    match body {
        None => std::fs::read(&path).map_err(|source| FileApiError::Read { path, source }),
        Some(body) => match std::fs::write(&path, body) {
            Ok(()) => Ok(Vec::new()),
            Err(source) => Err(FileApiError::Write { path, source }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_answer_with_the_file_and_writes_store_the_body() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("owners");
        std::fs::write(&file, r#"{"users":[]}"#).unwrap();
        let url = reqwest::Url::from_file_path(&file).unwrap().to_string();
        assert!(is_file_url(&url));
        assert_eq!(request(&url, None).unwrap(), br#"{"users":[]}"#);
        assert_eq!(request(&url, Some(b"{\"users\":[\"a\"]}")).unwrap(), b"");
        assert_eq!(std::fs::read(&file).unwrap(), b"{\"users\":[\"a\"]}");
        let missing = format!("{url}-missing?validate_only=true");
        assert!(matches!(
            request(&missing, None),
            Err(FileApiError::Read { .. })
        ));
        assert!(!is_file_url("http://127.0.0.1/api"));
    }
}
