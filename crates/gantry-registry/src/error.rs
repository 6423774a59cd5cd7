//! API errors: `{"errors":[{"detail":…}]}` with crates.io's status codes; and how an error with
//! causes is rendered on one line for logs and probes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gantry_protocol::ErrorBody;

#[derive(Debug)]
pub struct ApiErr {
    pub status: StatusCode,
    pub detail: String,
    /// `WWW-Authenticate` challenge for 401s on the index.
    pub challenge: Option<String>,
    /// `Retry-After` (HTTP date) for 429s.
    pub retry_after: Option<String>,
}

impl ApiErr {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiErr {
            status,
            detail: detail.into(),
            challenge: None,
            retry_after: None,
        }
    }
    pub fn bad(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }
    /// A 500 whose cause (with its whole chain) goes to the log, never to the client.
    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        tracing::error!(error = %one_line(&*e.into()), "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&ErrorBody::new(self.detail)).unwrap_or_default();
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body,
        )
            .into_response();
        if let Some(c) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, c);
        }
        if let Some(v) = self
            .retry_after
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// An error and its causes on one line, `outer: cause: root cause`.
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl From<crate::store::StoreError> for ApiErr {
    fn from(e: crate::store::StoreError) -> Self {
        ApiErr::internal(e)
    }
}

impl From<crate::blob::BlobError> for ApiErr {
    fn from(e: crate::blob::BlobError) -> Self {
        ApiErr::internal(e)
    }
}
