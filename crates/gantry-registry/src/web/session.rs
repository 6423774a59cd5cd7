//! Browser sessions: a random cookie (`HttpOnly`, `SameSite=Lax`, `Secure` and the `__Host-`
//! prefix when the public URL is https) whose SHA-256 names a row in the database, so every
//! instance knows every session. Each session carries a CSRF token that every form posts back;
//! the sign-in form, which comes before any session, uses a cookie-bound token instead.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::layout::PageErr;
use crate::accounts::random_secret;
use crate::app::App;
use crate::store::accounts::NewSession;
use crate::store::{User, now};

const SESSION_COOKIE: &str = "gantry_session";
const LOGIN_CSRF_COOKIE: &str = "gantry_login_csrf";

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub is_admin: bool,
    /// The token every form of this session posts back.
    pub csrf: String,
}

fn secure(app: &App) -> bool {
    app.public_url.starts_with("https://")
}

/// The cookie's name; `__Host-` makes browsers refuse it unless Secure, host-only and `Path=/`.
fn cookie_name(app: &App, base: &str) -> String {
    match secure(app) {
        true => format!("__Host-{base}"),
        false => base.to_owned(),
    }
}

/// The value of cookie `name` in the request.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
fn set_cookie(app: &App, base: &str, value: &str, max_age: i64) -> HeaderValue {
    let mut c = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}",
        cookie_name(app, base)
    );
    if secure(app) {
        c.push_str("; Secure");
    }
    // Names and values are ASCII alphanumerics.
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

fn hash(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

/// The session the request's cookie names, if it is live.
pub async fn current(app: &App, headers: &HeaderMap) -> Result<Option<Session>, PageErr> {
    let Some(value) = cookie(headers, &cookie_name(app, SESSION_COOKIE)) else {
        return Ok(None);
    };
    let found = app.store.session(&hash(value), now()).await?;
    Ok(found.map(|s| Session {
        user: s.user,
        is_admin: s.is_admin,
        csrf: s.csrf_token,
    }))
}

/// Starts a session for `user_id` and returns its `Set-Cookie` header value.
pub async fn start(app: &App, user_id: i64) -> Result<HeaderValue, PageErr> {
    let value = random_secret();
    let ttl = app.config.web.session_ttl_secs;
    app.store
        .create_session(&NewSession {
            id_hash: hash(&value),
            user_id,
            csrf_token: random_secret(),
            expires_at: now() + ttl,
        })
        .await?;
    Ok(set_cookie(app, SESSION_COOKIE, &value, ttl))
}

/// Ends the request's session (in the database, so on every instance) and returns the
/// `Set-Cookie` that removes the cookie.
pub async fn end(app: &App, headers: &HeaderMap) -> Result<HeaderValue, PageErr> {
    if let Some(value) = cookie(headers, &cookie_name(app, SESSION_COOKIE)) {
        app.store.delete_session(&hash(value)).await?;
    }
    Ok(set_cookie(app, SESSION_COOKIE, "", 0))
}

/// Refuses a form whose CSRF token is not the session's.
pub fn check_csrf(session: &Session, posted: &str) -> Result<(), PageErr> {
    match bool::from(session.csrf.as_bytes().ct_eq(posted.as_bytes())) {
        true => Ok(()),
        false => Err(csrf_refused()),
    }
}

fn csrf_refused() -> PageErr {
    PageErr::forbidden(
        "this form has expired or did not come from this site; reload the page and try again",
    )
}

/// A fresh token for the sign-in form and the cookie holding it.
pub fn login_csrf(app: &App) -> (String, HeaderValue) {
    let token = random_secret();
    let cookie = set_cookie(app, LOGIN_CSRF_COOKIE, &token, 3600);
    (token, cookie)
}

/// Refuses a sign-in form whose token does not match its cookie.
pub fn check_login_csrf(app: &App, headers: &HeaderMap, posted: &str) -> Result<(), PageErr> {
    let name = cookie_name(app, LOGIN_CSRF_COOKIE);
    match cookie(headers, &name) {
        Some(c) if !posted.is_empty() && bool::from(c.as_bytes().ct_eq(posted.as_bytes())) => {
            Ok(())
        }
        _ => Err(csrf_refused()),
    }
}

/// Where to go after signing in: only a path on this site (no `//host`, no scheme).
pub fn safe_return(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn login_redirect(parts: &Parts) -> Response {
    let next = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    Redirect::to(&format!("/login?next={encoded}")).into_response()
}

/// Who is looking at a page: anyone on an open registry (maybe signed in), only a signed-in user
/// with `--auth-required` (others are sent to `/login`).
pub struct Viewer(pub Option<Session>);

impl FromRequestParts<Arc<App>> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let session = current(app, &parts.headers)
            .await
            .map_err(IntoResponse::into_response)?;
        if session.is_none() && app.config.auth_required {
            return Err(login_redirect(parts));
        }
        Ok(Viewer(session))
    }
}

/// A page or form for signed-in users only; others are sent to `/login` and back.
pub struct SignedIn(pub Session);

impl FromRequestParts<Arc<App>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        match current(app, &parts.headers).await {
            Ok(Some(s)) => Ok(SignedIn(s)),
            Ok(None) if parts.method == axum::http::Method::GET => Err(login_redirect(parts)),
            Ok(None) => Err(PageErr::new(
                StatusCode::UNAUTHORIZED,
                "your session has ended; sign in again",
            )
            .into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_on_this_site() {
        assert_eq!(safe_return(Some("/crates/x?y=1")), "/crates/x?y=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "x",
            "/a b",
        ] {
            assert_eq!(safe_return(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_return(None), "/");
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; gantry_session_x=2; gantry_session=abc"),
        );
        assert_eq!(cookie(&h, "gantry_session"), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
    }
}
