//! `/login` (password sign-in, and single sign-on when configured) and `/logout`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::layout::{PageErr, page};
use super::session::{self, SignedIn, check_csrf, check_login_csrf, safe_return};
use crate::accounts::{SignInError, password_sign_in};
use crate::app::App;

/// `GET /login[?next=/path]`.
pub async fn form(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    render(
        &app,
        q.get("next").map(String::as_str),
        "",
        None,
        StatusCode::OK,
    )
}

fn render(
    app: &App,
    next: Option<&str>,
    login: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (token, cookie) = session::login_csrf(app);
    let next = safe_return(next);
    let sso = app.config.web.sso.is_some();
    let body = html! {
        div.narrow {
            h1 { "Sign in" }
            @if let Some(e) = error { p.error #login-error role="alert" { (e) } }
            form.stack method="post" action="/login" {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="next" value=(next);
                label for="login" { "Login" }
                input #login type="text" name="login" value=(login) autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button #sign-in type="submit" { "Sign in" }
            }
            @if sso {
                p.or { "or" }
                // A link, not a form: the sign-in redirects to the provider, and the pages'
                // `form-action 'self'` policy would stop a form submission that leaves the site.
                p { a.button #sso href={ "/login/sso?next=" (encoded(&next)) } { "Sign in with single sign-on" } }
            }
        }
    };
    let mut resp = page(app, None, "Sign in", body);
    *resp.status_mut() = status;
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    resp
}

/// `value` percent-encoded for a query string.
fn encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

/// `POST /login`.
pub async fn submit(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, PageErr> {
    check_login_csrf(&app, &headers, &f.csrf)?;
    let login = f.login.trim();
    match password_sign_in(app.store.as_ref(), login, &f.password).await {
        Ok(account) => {
            let cookie = session::start(&app, account.user.id).await?;
            tracing::info!(user = %account.user.login, "signed in");
            let mut resp = Redirect::to(&safe_return(Some(&f.next))).into_response();
            resp.headers_mut().append(header::SET_COOKIE, cookie);
            Ok(resp)
        }
        Err(SignInError::Store(e)) => Err(e.into()),
        Err(e) => {
            let status = match e {
                SignInError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            tracing::info!(login, "sign-in refused: {e}");
            Ok(render(
                &app,
                Some(&f.next),
                login,
                Some(&e.to_string()),
                status,
            ))
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout` (a form, so another site cannot sign people out with a link).
pub async fn logout(
    State(app): State<Arc<App>>,
    SignedIn(s): SignedIn,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, PageErr> {
    check_csrf(&s, &f.csrf)?;
    let cookie = session::end(&app, &headers).await?;
    let mut resp = Redirect::to("/").into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(resp)
}
