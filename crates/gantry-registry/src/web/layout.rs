//! The frame every page shares (header with search and account links, the stylesheet), the
//! security headers pages carry, and error pages.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::session::Session;
use crate::app::App;
use crate::error::ApiErr;
use crate::store::StoreError;

/// The stylesheet, hand-written, served at [`STYLESHEET_PATH`].
pub const STYLESHEET: &str = include_str!("../../assets/style.css");
pub const STYLESHEET_PATH: &str = "/static/style.css";

/// No script may run, whatever a README holds; images may come from anywhere (READMEs link them),
/// forms only post here, and no other site may frame a page.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src https: http: data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A whole page: header, `body`, footer.
pub fn page(app: &App, viewer: Option<&Session>, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (registry_name(app)) }
                link rel="stylesheet" href=(STYLESHEET_PATH);
            }
            body {
                header.top {
                    a.brand href="/" { (registry_name(app)) }
                    form.search action="/search" method="get" role="search" {
                        input type="search" name="q" placeholder="Search crates" aria-label="Search crates";
                        button type="submit" { "Search" }
                    }
                    nav {
                        @match viewer {
                            Some(s) => {
                                a href="/me" { "Tokens" }
                                a href="/me/invitations" { "Invitations" }
                                span.who { (s.user.login) @if s.is_admin { " (admin)" } }
                                form.inline action="/logout" method="post" {
                                    input type="hidden" name="csrf" value=(s.csrf);
                                    button.link type="submit" { "Sign out" }
                                }
                            }
                            None => { a href="/login" { "Sign in" } }
                        }
                    }
                }
                main { (body) }
                footer { "Gantry registry · " code { (app.index_url()) } }
            }
        }
    };
    html_response(StatusCode::OK, markup.into_string())
}

/// The registry's display name: its public host.
pub fn registry_name(app: &App) -> String {
    let url = app.public_url.as_str();
    let host = url.split_once("://").map_or(url, |(_, rest)| rest);
    format!("Gantry · {}", host.trim_end_matches('/'))
}

/// HTML with the headers every page carries.
pub fn html_response(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // Pages can show a signed-in user's data: never let a shared cache keep them.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    resp
}

/// `GET /static/style.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// An error shown as a page (status and a sentence saying what to do).
#[derive(Debug)]
pub struct PageErr {
    pub status: StatusCode,
    pub message: String,
}

impl PageErr {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        PageErr {
            status,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
}

impl IntoResponse for PageErr {
    fn into_response(self) -> Response {
        let reason = self.status.canonical_reason().unwrap_or("Error");
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    title { (reason) }
                    link rel="stylesheet" href=(STYLESHEET_PATH);
                }
                body {
                    header.top { a.brand href="/" { "Gantry" } }
                    main {
                        h1 { (self.status.as_u16()) " " (reason) }
                        p.error { (self.message) }
                        p { a href="/" { "Back to the start page" } }
                    }
                }
            }
        };
        html_response(self.status, markup.into_string())
    }
}

impl From<StoreError> for PageErr {
    fn from(e: StoreError) -> Self {
        let e = ApiErr::internal(e);
        PageErr::new(e.status, e.detail)
    }
}

impl From<ApiErr> for PageErr {
    fn from(e: ApiErr) -> Self {
        PageErr::new(e.status, e.detail)
    }
}

/// A count with thousands separated by commas.
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    match n < 0 {
        true => format!("-{out}"),
        false => out,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts() {
        assert_eq!(super::count(0), "0");
        assert_eq!(super::count(999), "999");
        assert_eq!(super::count(1000), "1,000");
        assert_eq!(super::count(1_234_567), "1,234,567");
    }
}
