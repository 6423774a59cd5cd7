//! Registry Web API answers, read the way cargo 1.95 reads them (spec §7.3, registry.md A3). This
//! module is the one place that turns a status, headers and body into a result:
//!
//! - a body of the form `{"errors":[{"detail":…}]}` is an error whatever the status;
//! - any other non-2xx answer is an error that shows the status line, the headers and the body;
//! - a 2xx body is read leniently: `null`, missing and extra fields are fine, because registries
//!   other than crates.io answer with less (kellnr: `{"warnings":null}`) or more (crates.io: a
//!   `crate` object) than the documented shape.
//!
//! A 2xx body that is not JSON at all where a JSON answer is expected (a web UI's HTML page, say)
//! is reported with serde's own words, as cargo does: it is not an answer from the API.

use std::time::Duration;

use serde_json::Value;

use crate::http::reason_phrase;

/// One HTTP answer, as received.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// The status line, then each header as `name: value`, then an empty line (cargo's layout).
    pub headers: Vec<String>,
    pub body: Vec<u8>,
    pub retry_after: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A `{"errors":[…]}` body; `status` is None for a 2xx.
    #[error("the remote server responded with an error{}: {detail}", status_part(*.status))]
    Remote {
        status: Option<u16>,
        detail: String,
        retry_after: Option<Duration>,
    },
    /// A non-2xx answer without an error body.
    #[error("failed to get a 200 OK response, got {status}\nheaders:\n\t{}\nbody:\n{body}", headers.join("\n\t"))]
    Status {
        status: u16,
        headers: Vec<String>,
        body: String,
        retry_after: Option<Duration>,
    },
    #[error("invalid response body from server")]
    InvalidUtf8(#[source] std::string::FromUtf8Error),
    /// No answer at all (connection, TLS, timeout).
    #[error(transparent)]
    Transport(reqwest::Error),
    /// A 2xx answer whose body is not the JSON the request expects (for example an HTML page).
    #[error(transparent)]
    Json(serde_json::Error),
    /// crates.io only: a 503 after ~30 s is its load balancer giving up on a large upload.
    #[error(
        "Request timed out after 30 seconds. If you're trying to upload a crate it may be too large. If the crate is under 10MB in size, you can email help@crates.io for assistance.\nTotal size was {0}."
    )]
    Timeout(u64),
    /// A 2xx answer that says `"ok": false` and gives no reason.
    #[error("the registry answered `\"ok\": false` without saying why")]
    NotOk,
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
            ApiError::Transport(_) | ApiError::Timeout(_) => true,
            other => other.status().is_some_and(|s| s >= 500),
        }
    }

    /// True when the registry said yes (2xx, no error body) in a form this client cannot read: the
    /// request may well have done its work.
    pub fn unreadable_success(&self) -> bool {
        matches!(self, ApiError::Json(_) | ApiError::InvalidUtf8(_))
    }

    /// Only the registry's own words: the details of an error body, else the whole message.
    pub fn detail(&self) -> String {
        match self {
            ApiError::Remote { detail, .. } => detail.clone(),
            other => other.to_string(),
        }
    }
}

/// Cargo's classification of an answer: an error body, then the status, then the body as text.
pub fn classify(resp: RawResponse) -> Result<String, ApiError> {
    let RawResponse {
        status,
        headers,
        body,
        retry_after,
    } = resp;
    let text = String::from_utf8(body).map_err(ApiError::InvalidUtf8)?;
    let success = status == 0 || (200..300).contains(&status);
    if let Some(details) = error_details(&text) {
        return Err(ApiError::Remote {
            status: (!success).then_some(status),
            detail: details.join(", "),
            retry_after,
        });
    }
    if !success {
        return Err(ApiError::Status {
            status,
            headers,
            body: text,
            retry_after,
        });
    }
    Ok(text)
}

/// The `detail` strings of an error body; `None` when the body is not one. Like cargo, an
/// `errors` array whose entries lack `detail` (JFrog's `{"status":…,"message":…}`) is not an
/// error body: the answer is then judged by its status and shown whole.
fn error_details(text: &str) -> Option<Vec<String>> {
    let value: Value = serde_json::from_str(text).ok()?;
    value
        .get("errors")?
        .as_array()?
        .iter()
        .map(|e| e.get("detail")?.as_str().map(str::to_owned))
        .collect()
}

/// Warnings a registry attaches to a successful publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishWarnings {
    pub invalid_categories: Vec<String>,
    pub invalid_badges: Vec<String>,
    pub other: Vec<String>,
}

impl PublishWarnings {
    /// Each warning as cargo prints it (title, then its `= note`/`= help` lines).
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.invalid_categories.is_empty() {
            out.push(format!(
                "the following are not valid category slugs and were ignored: {}\n  |\n  = help: please see <https://crates.io/category_slugs> for the list of all category slugs",
                self.invalid_categories.join(", ")
            ));
        }
        if !self.invalid_badges.is_empty() {
            out.push(format!(
                "the following are not valid badges and were ignored: {}\n  |\n  = note: either the badge type specified is unknown or a required attribute is missing\n  = help: please see <https://doc.rust-lang.org/cargo/reference/manifest.html#package-metadata> for valid badge types and their required attributes",
                self.invalid_badges.join(", ")
            ));
        }
        out.extend(self.other.iter().cloned());
        out
    }
}

/// A publish answer: empty means no warnings; otherwise any JSON value, from which only string
/// arrays under `warnings` are taken (`null`, other types and unknown keys are ignored).
pub fn publish_warnings(text: &str) -> Result<PublishWarnings, ApiError> {
    if text.trim().is_empty() {
        return Ok(PublishWarnings::default());
    }
    let value: Value = serde_json::from_str(text).map_err(ApiError::Json)?;
    let list = |key: &str| -> Vec<String> {
        value
            .get("warnings")
            .and_then(|w| w.get(key))
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(PublishWarnings {
        invalid_categories: list("invalid_categories"),
        invalid_badges: list("invalid_badges"),
        other: list("other"),
    })
}

/// A `{"ok":true,…}` answer (yank, unyank, owner changes): an empty body or a missing `ok` is taken
/// as the success the status already says; an explicit `"ok": false` is not. Returns `msg` when it
/// is a string.
pub fn ok_answer(text: &str) -> Result<Option<String>, ApiError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(text).map_err(ApiError::Json)?;
    if value.get("ok").and_then(Value::as_bool) == Some(false) {
        return Err(ApiError::NotOk);
    }
    Ok(value.get("msg").and_then(Value::as_str).map(str::to_owned))
}

/// One owner as `GET …/owners` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerEntry {
    pub id: Option<u64>,
    pub login: String,
    pub name: Option<String>,
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

/// `{"users":[{"id","login","name","email"}]}`: entries without a string `login` are skipped, every
/// other field is optional. A body without a `users` array is not an owners answer.
pub fn owners_list(text: &str) -> Result<Vec<OwnerEntry>, ApiError> {
    let value: Value = serde_json::from_str(text).map_err(ApiError::Json)?;
    let Some(users) = value.get("users").and_then(Value::as_array) else {
        return Err(ApiError::Json(missing_field("users")));
    };
    let string = |u: &Value, k: &str| u.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(users
        .iter()
        .filter_map(|u| {
            Some(OwnerEntry {
                id: u.get("id").and_then(Value::as_u64),
                login: string(u, "login")?,
                name: string(u, "name"),
                email: string(u, "email"),
            })
        })
        .collect())
}

/// `GET /api/v1/me`: crates.io's `{"user":{"login":…}}`.
pub fn me_login(text: &str) -> Result<String, ApiError> {
    let value: Value = serde_json::from_str(text).map_err(ApiError::Json)?;
    value
        .get("user")
        .and_then(|u| u.get("login"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::Json(missing_field("user.login")))
}

fn missing_field(name: &'static str) -> serde_json::Error {
    serde::de::Error::missing_field(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status,
            headers: vec![
                format!("HTTP/1.1 {status} {}", reason_phrase(status)),
                String::new(),
            ],
            body: body.as_bytes().to_vec(),
            retry_after: None,
        }
    }

    #[test]
    fn error_bodies_win_over_the_status() {
        let e = classify(raw(
            400,
            r#"{"errors":[{"detail":"crate is bad"},{"detail":"second"}]}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the remote server responded with an error (status 400 Bad Request): crate is bad, second"
        );
        // ktra answers refusals with 200 (registry.md Part B).
        let e = classify(raw(
            200,
            r#"{"errors":[{"detail":"max upload size is 123"}]}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the remote server responded with an error: max upload size is 123"
        );
        let e = classify(raw(
            403,
            r#"{"errors":[{"detail":"not an owner","status":"403"}]}"#,
        ))
        .unwrap_err();
        assert_eq!(e.detail(), "not an owner");
    }

    #[test]
    fn other_failures_show_status_headers_and_body() {
        let e = classify(raw(500, "internal oops")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to get a 200 OK response, got 500\nheaders:\n\tHTTP/1.1 500 Internal Server Error\n\t\nbody:\ninternal oops"
        );
        // JFrog's error shape has no `detail`: shown whole, as cargo does (cargo#15028).
        let body = r#"{"errors":[{"status":400,"message":"Bad Request"}]}"#;
        assert!(matches!(
            classify(raw(400, body)),
            Err(ApiError::Status { status: 400, .. })
        ));
        let bad = RawResponse {
            body: vec![0xff, 0xfe],
            ..raw(200, "")
        };
        assert_eq!(
            classify(bad).unwrap_err().to_string(),
            "invalid response body from server"
        );
    }

    #[test]
    fn publish_answers_are_read_leniently() {
        for body in [
            "",
            "  ",
            "{}",
            r#"{"warnings":null}"#,
            r#"{"warnings":{"invalid_categories":null}}"#,
            r#"{"crate":{"name":"x"},"warnings":{"invalid_categories":[],"invalid_badges":[],"other":[]}}"#,
            "[]",
        ] {
            assert_eq!(
                publish_warnings(body).unwrap(),
                PublishWarnings::default(),
                "{body}"
            );
        }
        let w = publish_warnings(
            r#"{"warnings":{"invalid_categories":["bad-cat",3],"invalid_badges":["b"],"other":["o1","o2"],"new":1}}"#,
        )
        .unwrap();
        assert_eq!(w.invalid_categories, ["bad-cat"]);
        assert_eq!(w.messages().len(), 4);
        // An HTML page is not an answer from the API; cargo reports serde's words.
        let e = publish_warnings("<!DOCTYPE html><html></html>").unwrap_err();
        assert_eq!(e.to_string(), "expected value at line 1 column 1");
        assert!(e.unreadable_success());
    }

    #[test]
    fn ok_answers() {
        assert_eq!(ok_answer(r#"{"ok":true}"#).unwrap(), None);
        assert_eq!(ok_answer("").unwrap(), None);
        assert_eq!(
            ok_answer(r#"{"ok":true,"msg":"Added owners to crate."}"#).unwrap(),
            Some("Added owners to crate.".into())
        );
        assert_eq!(ok_answer(r#"{"msg":null}"#).unwrap(), None);
        assert!(matches!(ok_answer(r#"{"ok":false}"#), Err(ApiError::NotOk)));
        assert!(matches!(ok_answer("<html>"), Err(ApiError::Json(_))));
    }

    #[test]
    fn owners_lists() {
        // kellnr's shape: `name` null, no email (kellnr crates/registry/src/owner.rs).
        let o = owners_list(
            r#"{"users":[{"id":1,"login":"admin","name":null},{"login":"x","extra":[]},{"id":3}]}"#,
        )
        .unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].display_line(), "admin");
        assert!(owners_list(r#"{"users":null}"#).is_err());
        let e = OwnerEntry {
            id: None,
            login: "al".into(),
            name: Some("Al".into()),
            email: Some("a@x".into()),
        };
        assert_eq!(e.display_line(), "al (Al <a@x>)");
    }

    #[test]
    fn me_answers() {
        assert_eq!(
            me_login(r#"{"user":{"login":"al","id":1},"owned_crates":[]}"#).unwrap(),
            "al"
        );
        assert!(me_login("<html>").is_err());
        assert!(me_login("{}").is_err());
    }
}
