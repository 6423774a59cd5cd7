//! The registry Web API (registry.md Part A): publish, yank/unyank, owners. Requests and error texts
//! are cargo's (spec §7.1, §7.3, §10): a body with `{"errors":[…]}` is an error whatever the status,
//! another non-2xx answer is reported with its headers and body.

use std::time::Duration;

use gantry_protocol::{ErrorBody, PublishResponse, encode_publish_body};
use reqwest::Method;
use serde::Deserialize;

use crate::http::{parse_retry_after, reason_phrase};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A `{"errors":[…]}` body; `status` is None for a 2xx.
    #[error("the remote server responded with an error{}: {detail}", status_part(*.status))]
    Remote {
        status: Option<u16>,
        detail: String,
        retry_after: Option<Duration>,
    },
    #[error("failed to get a 200 OK response, got {status}\nheaders:\n{}\nbody:\n{body}", headers.iter().map(|h| format!("\t{h}")).collect::<Vec<_>>().join("\n"))]
    Status {
        status: u16,
        headers: Vec<String>,
        body: String,
        retry_after: Option<Duration>,
    },
    #[error("invalid response body from server")]
    InvalidUtf8(#[source] std::string::FromUtf8Error),
    #[error("{0}")]
    Transport(#[source] reqwest::Error),
    #[error("invalid response from server\n\nCaused by:\n  {0}")]
    Json(String),
}

fn status_part(status: Option<u16>) -> String {
    match status {
        Some(s) => format!(" (status {s} {})", reason_phrase(s)),
        None => String::new(),
    }
}

impl ApiError {
    /// The HTTP status, when the server answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Remote { status, .. } => *status,
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Remote { retry_after, .. } | ApiError::Status { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// True when the request may or may not have reached the registry: no answer, or a 5xx.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            ApiError::Transport(_) => true,
            other => other.status().is_some_and(|s| s >= 500),
        }
    }
}

/// One owner as `GET …/owners` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OwnerEntry {
    #[serde(default)]
    pub id: Option<u64>,
    pub login: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

impl OwnerEntry {
    /// `login (name <email>)`, `login (name)`, `login (email)` or `login`, as cargo prints them.
    pub fn display_line(&self) -> String {
        match (&self.name, &self.email) {
            (Some(n), Some(e)) => format!("{} ({n} <{e}>)", self.login),
            (Some(s), None) | (None, Some(s)) => format!("{} ({s})", self.login),
            (None, None) => self.login.clone(),
        }
    }
}

#[derive(Deserialize)]
struct OwnersList {
    users: Vec<OwnerEntry>,
}

#[derive(Deserialize)]
struct OkMsg {
    #[serde(default)]
    msg: Option<String>,
}

/// A registry's API root (`api` of `config.json`), with an optional token.
#[derive(Clone)]
pub struct WebApi {
    client: reqwest::Client,
    api: String,
    token: Option<String>,
}

impl WebApi {
    pub fn new(client: reqwest::Client, api: &str, token: Option<String>) -> Self {
        WebApi {
            client,
            api: api.to_owned(),
            token,
        }
    }

    pub fn api(&self) -> &str {
        &self.api
    }

    /// `PUT {api}/api/v1/crates/new`: no Content-Type, as cargo sends it.
    pub async fn publish(
        &self,
        metadata_json: &[u8],
        tarball: &[u8],
    ) -> Result<PublishResponse, ApiError> {
        self.put_crate("/api/v1/crates/new", metadata_json, tarball)
            .await
    }

    /// `PUT {api}/api/v1/crates/new?validate_only=true`: every check of a publish, nothing stored.
    /// Send it only to a registry known to honour the flag: one that ignores it would publish.
    pub async fn validate_publish(
        &self,
        metadata_json: &[u8],
        tarball: &[u8],
    ) -> Result<PublishResponse, ApiError> {
        self.put_crate(
            "/api/v1/crates/new?validate_only=true",
            metadata_json,
            tarball,
        )
        .await
    }

    async fn put_crate(
        &self,
        path: &str,
        metadata_json: &[u8],
        tarball: &[u8],
    ) -> Result<PublishResponse, ApiError> {
        let body = encode_publish_body(metadata_json, tarball);
        let text = self.request(Method::PUT, path, Some(body), false).await?;
        if text.trim().is_empty() {
            return Ok(PublishResponse::default());
        }
        serde_json::from_str(&text).map_err(|e| ApiError::Json(e.to_string()))
    }

    /// `GET {api}/api/v1/me`: the login of the token's user, in crates.io's `{"user":{"login":…}}`.
    pub async fn me(&self) -> Result<String, ApiError> {
        #[derive(Deserialize)]
        struct Me {
            user: MeUser,
        }
        #[derive(Deserialize)]
        struct MeUser {
            login: String,
        }
        let text = self.request(Method::GET, "/api/v1/me", None, false).await?;
        let me: Me = serde_json::from_str(&text).map_err(|e| ApiError::Json(e.to_string()))?;
        Ok(me.user.login)
    }

    pub async fn yank(&self, name: &str, version: &str) -> Result<(), ApiError> {
        let path = format!("/api/v1/crates/{name}/{version}/yank");
        self.request(Method::DELETE, &path, None, false).await?;
        Ok(())
    }

    pub async fn unyank(&self, name: &str, version: &str) -> Result<(), ApiError> {
        let path = format!("/api/v1/crates/{name}/{version}/unyank");
        self.request(Method::PUT, &path, Some(Vec::new()), true)
            .await?;
        Ok(())
    }

    /// Returns the registry's `msg`.
    pub async fn add_owners(&self, name: &str, users: &[String]) -> Result<String, ApiError> {
        self.owners_change(Method::PUT, name, users).await
    }

    pub async fn remove_owners(&self, name: &str, users: &[String]) -> Result<String, ApiError> {
        self.owners_change(Method::DELETE, name, users).await
    }

    async fn owners_change(
        &self,
        method: Method,
        name: &str,
        users: &[String],
    ) -> Result<String, ApiError> {
        let body = serde_json::to_vec(&serde_json::json!({ "users": users }))
            .map_err(|e| ApiError::Json(e.to_string()))?;
        let path = format!("/api/v1/crates/{name}/owners");
        let text = self.request(method, &path, Some(body), true).await?;
        let ok: OkMsg = serde_json::from_str(&text).map_err(|e| ApiError::Json(e.to_string()))?;
        Ok(ok.msg.unwrap_or_default())
    }

    pub async fn list_owners(&self, name: &str) -> Result<Vec<OwnerEntry>, ApiError> {
        let path = format!("/api/v1/crates/{name}/owners");
        let text = self.request(Method::GET, &path, None, false).await?;
        let list: OwnersList =
            serde_json::from_str(&text).map_err(|e| ApiError::Json(e.to_string()))?;
        Ok(list.users)
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        json_body: bool,
    ) -> Result<String, ApiError> {
        let url = format!("{}{path}", self.api);
        let mut req = self
            .client
            .request(method, &url)
            .header("accept", "application/json");
        if let Some(t) = &self.token {
            req = req.header("authorization", t);
        }
        if let Some(body) = body {
            if json_body {
                req = req.header("content-type", "application/json");
            }
            req = req.body(body);
        }
        let resp = req.send().await.map_err(ApiError::Transport)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let mut headers = vec![format!(
            "{:?} {} {}",
            resp.version(),
            status,
            resp.status().canonical_reason().unwrap_or("")
        )];
        for (k, v) in resp.headers() {
            if let Ok(v) = v.to_str() {
                headers.push(format!("{k}: {v}"));
            }
        }
        headers.push(String::new());
        let bytes = resp.bytes().await.map_err(ApiError::Transport)?;
        let text = String::from_utf8(bytes.to_vec()).map_err(ApiError::InvalidUtf8)?;
        let ok = (200..300).contains(&status);
        if let Ok(errors) = serde_json::from_str::<ErrorBody>(&text) {
            return Err(ApiError::Remote {
                status: (!ok).then_some(status),
                detail: errors.joined(),
                retry_after,
            });
        }
        if !ok {
            return Err(ApiError::Status {
                status,
                headers,
                body: text,
                retry_after,
            });
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts() {
        let e = ApiError::Remote {
            status: Some(400),
            detail: "crate is bad, second".into(),
            retry_after: None,
        };
        assert_eq!(
            e.to_string(),
            "the remote server responded with an error (status 400 Bad Request): crate is bad, second"
        );
        let e = ApiError::Remote {
            status: None,
            detail: "max upload size is 123".into(),
            retry_after: None,
        };
        assert_eq!(
            e.to_string(),
            "the remote server responded with an error: max upload size is 123"
        );
        let e = ApiError::Status {
            status: 500,
            headers: vec!["HTTP/1.1 500 Internal Server Error".into(), String::new()],
            body: "internal oops".into(),
            retry_after: None,
        };
        assert_eq!(
            e.to_string(),
            "failed to get a 200 OK response, got 500\nheaders:\n\tHTTP/1.1 500 Internal Server Error\n\t\nbody:\ninternal oops"
        );
    }

    #[test]
    fn owner_lines() {
        let o = |n: Option<&str>, e: Option<&str>| OwnerEntry {
            id: None,
            login: "al".into(),
            name: n.map(Into::into),
            email: e.map(Into::into),
        };
        assert_eq!(o(Some("Al"), Some("a@x")).display_line(), "al (Al <a@x>)");
        assert_eq!(o(None, Some("a@x")).display_line(), "al (a@x)");
        assert_eq!(o(None, None).display_line(), "al");
    }
}
