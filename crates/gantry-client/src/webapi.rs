//! The registry Web API (registry.md Part A3): publish, yank/unyank, owners, `/me`. Requests are
//! cargo's (spec §7.1, §10); every answer is read by [`crate::response`].

use std::time::{Duration, Instant};

use gantry_protocol::encode_publish_body;
use reqwest::Method;

use crate::file_api;
use crate::http::parse_retry_after;
use crate::response::{self, RawResponse};
pub use crate::response::{ApiError, OwnerEntry, PublishWarnings};

/// A 503 from crates.io after this long is its upload timeout, not an outage (spec §7.3).
const CRATES_IO_UPLOAD_TIMEOUT: Duration = Duration::from_secs(29);

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
    ) -> Result<PublishWarnings, ApiError> {
        self.put_crate("/api/v1/crates/new", metadata_json, tarball)
            .await
    }

    /// `PUT {api}/api/v1/crates/new?validate_only=true`: every check of a publish, nothing stored.
    /// Send it only to a registry known to honour the flag: one that ignores it would publish.
    pub async fn validate_publish(
        &self,
        metadata_json: &[u8],
        tarball: &[u8],
    ) -> Result<PublishWarnings, ApiError> {
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
    ) -> Result<PublishWarnings, ApiError> {
        let body = encode_publish_body(metadata_json, tarball);
        let started = Instant::now();
        let text = match self.request(Method::PUT, path, Some(body), false).await {
            Err(ApiError::Status { status: 503, .. })
                if started.elapsed() >= CRATES_IO_UPLOAD_TIMEOUT && self.is_crates_io() =>
            {
                return Err(ApiError::Timeout(tarball.len() as u64));
            }
            other => other?,
        };
        response::publish_warnings(&text)
    }

    fn is_crates_io(&self) -> bool {
        url::Url::parse(&self.api).is_ok_and(|u| u.host_str() == Some("crates.io"))
    }

    /// `GET {api}/api/v1/me`: the login of the token's user, in crates.io's `{"user":{"login":…}}`.
    pub async fn me(&self) -> Result<String, ApiError> {
        let text = self.request(Method::GET, "/api/v1/me", None, false).await?;
        response::me_login(&text)
    }

    pub async fn yank(&self, name: &str, version: &str) -> Result<(), ApiError> {
        let path = format!("/api/v1/crates/{name}/{version}/yank");
        let text = self.request(Method::DELETE, &path, None, false).await?;
        response::ok_answer(&text).map(drop)
    }

    pub async fn unyank(&self, name: &str, version: &str) -> Result<(), ApiError> {
        let path = format!("/api/v1/crates/{name}/{version}/unyank");
        let text = self
            .request(Method::PUT, &path, Some(Vec::new()), true)
            .await?;
        self.ok_answer(&text).map(drop)
    }

    /// Returns the registry's `msg`, if it sent one.
    pub async fn add_owners(
        &self,
        name: &str,
        users: &[String],
    ) -> Result<Option<String>, ApiError> {
        self.owners_change(Method::PUT, name, users).await
    }

    pub async fn remove_owners(
        &self,
        name: &str,
        users: &[String],
    ) -> Result<Option<String>, ApiError> {
        self.owners_change(Method::DELETE, name, users).await
    }

    async fn owners_change(
        &self,
        method: Method,
        name: &str,
        users: &[String],
    ) -> Result<Option<String>, ApiError> {
        let body =
            serde_json::to_vec(&serde_json::json!({ "users": users })).map_err(ApiError::Json)?;
        let path = format!("/api/v1/crates/{name}/owners");
        let text = self.request(method, &path, Some(body), true).await?;
        self.ok_answer(&text)
    }

    /// [`response::ok_answer`], except that a `file://` API's upload has no answer to be lenient
    /// about: like cargo, reading its empty body as JSON fails.
    fn ok_answer(&self, text: &str) -> Result<Option<String>, ApiError> {
        if self.is_file_api() && text.is_empty() {
            return serde_json::from_str::<serde_json::Value>(text)
                .map(|_| None)
                .map_err(ApiError::Json);
        }
        response::ok_answer(text)
    }

    fn is_file_api(&self) -> bool {
        file_api::is_file_url(&self.api)
    }

    pub async fn list_owners(&self, name: &str) -> Result<Vec<OwnerEntry>, ApiError> {
        let path = format!("/api/v1/crates/{name}/owners");
        let text = self.request(Method::GET, &path, None, false).await?;
        response::owners_list(&text)
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        json_body: bool,
    ) -> Result<String, ApiError> {
        let url = format!("{}{path}", self.api);
        if self.is_file_api() {
            let body = file_api::request(&url, body.as_deref()).map_err(ApiError::File)?;
            // No status: cargo reads the answer as a success unless it is an error body.
            return response::classify(RawResponse {
                status: 0,
                headers: Vec::new(),
                body,
                retry_after: None,
            });
        }
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
        let mut headers = vec![status_line(&resp)];
        // hyper hands over header names lowercased (cargo's curl shows them as sent).
        for (k, v) in resp.headers() {
            if let Ok(v) = v.to_str() {
                headers.push(format!("{k}: {v}"));
            }
        }
        headers.push(String::new());
        let body = resp.bytes().await.map_err(ApiError::Transport)?.to_vec();
        response::classify(RawResponse {
            status,
            headers,
            body,
            retry_after,
        })
    }
}

/// The status line as the server sent it, as cargo shows it: `HTTP/2 404`, `HTTP/1.1 400 Bad
/// Request`, or `HTTP/1.1 400` from a server that sent no reason phrase (hyper keeps a reason
/// only when it is not the canonical one).
fn status_line(resp: &reqwest::Response) -> String {
    let version = match resp.version() {
        reqwest::Version::HTTP_09 => "HTTP/0.9",
        reqwest::Version::HTTP_10 => "HTTP/1.0",
        reqwest::Version::HTTP_2 => "HTTP/2",
        reqwest::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    };
    let status = resp.status();
    let reason = match resp.extensions().get::<hyper::ext::ReasonPhrase>() {
        Some(r) => String::from_utf8_lossy(r.as_bytes()).into_owned(),
        None if resp.version() >= reqwest::Version::HTTP_2 => String::new(),
        None => status.canonical_reason().unwrap_or_default().to_owned(),
    };
    if reason.is_empty() {
        format!("{version} {}", status.as_u16())
    } else {
        format!("{version} {} {reason}", status.as_u16())
    }
}
