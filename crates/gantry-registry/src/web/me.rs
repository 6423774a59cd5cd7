//! `/me`, where `cargo login` sends people: the signed-in user's API tokens, a form to create one
//! (name, endpoint scopes, crate patterns, expiry) whose secret is shown once, and revocation.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::layout::{PageErr, page};
use super::session::{Session, SignedIn, check_csrf};
use super::time::date;
use crate::app::App;
use crate::auth::{Scope, generate_token, hash_token};
use crate::store::{NewToken, TokenRecord, now};

/// crates.io's limit of tokens per user.
pub const MAX_TOKENS: usize = 500;
const MAX_NAME: usize = 64;
/// Expiry choices offered, in days (`None`: never).
const EXPIRY_DAYS: [(Option<u32>, &str); 5] = [
    (Some(30), "30 days"),
    (Some(90), "90 days"),
    (Some(365), "1 year"),
    (Some(7), "7 days"),
    (None, "never"),
];

/// The tokens page, with a just-created token's secret when there is one.
pub async fn page_get(
    app: &App,
    s: &Session,
    new_token: Option<(&str, &str)>,
) -> Result<Response, PageErr> {
    let tokens = app.store.list_tokens(Some(s.user.id)).await?;
    let body = html! {
        h1 { "API tokens of " (s.user.login) }
        @if let Some((name, secret)) = new_token {
            div.notice #new-token-box role="status" {
                p { "Token " strong { (name) } " was created. Copy it now: it is shown only once." }
                pre { code #new-token { (secret) } }
                p { "Then run " code { "cargo login --registry " (app.config.web.registry_name) }
                    " and paste it." }
            }
        }
        (token_table(&tokens, &s.csrf))
        (create_form(&s.csrf))
        section.howto {
            h2 { "Using a token" }
            pre { code { "cargo login --registry " (app.config.web.registry_name) } }
            p { "with, in " code { "~/.cargo/config.toml" } ":" }
            pre { code { "[registries." (app.config.web.registry_name) "]\nindex = \"" (app.index_url()) "\"" } }
        }
    };
    Ok(page(app, Some(s), "Tokens", body))
}

/// `GET /me`.
pub async fn show(State(app): State<Arc<App>>, SignedIn(s): SignedIn) -> Result<Response, PageErr> {
    page_get(&app, &s, None).await
}

fn token_table(tokens: &[TokenRecord], csrf: &str) -> Markup {
    let t = now();
    html! {
        section #tokens {
            h2 { "Your tokens" }
            @if tokens.is_empty() {
                p.muted { "You have no tokens yet." }
            } @else {
                table {
                    thead { tr { th { "Name" } th { "Scopes" } th { "Crates" } th { "Expires" } th { "State" } th { "" } } }
                    tbody {
                        @for tok in tokens.iter().rev() {
                            @let expired = tok.expires_at.is_some_and(|e| e <= t);
                            tr data-token-id=(tok.id) {
                                td.token-name { (tok.name) }
                                td { (tok.scopes.as_ref().map_or("all".to_owned(), |s| s.join(", "))) }
                                td { @if tok.crate_patterns.is_empty() { "all" } @else { (tok.crate_patterns.join(", ")) } }
                                td { (tok.expires_at.map_or("never".to_owned(), date)) }
                                td.state {
                                    @if tok.revoked { "revoked" } @else if expired { "expired" } @else { "active" }
                                }
                                td {
                                    @if !tok.revoked && !expired {
                                        form.inline method="post" action={ "/me/tokens/" (tok.id) "/revoke" } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            button.danger type="submit" { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn create_form(csrf: &str) -> Markup {
    html! {
        section #create-token {
            h2 { "New token" }
            form.stack method="post" action="/me/tokens" {
                input type="hidden" name="csrf" value=(csrf);
                label for="token-name" { "Name" }
                input #token-name type="text" name="name" maxlength=(MAX_NAME) required placeholder="e.g. laptop or CI";
                fieldset {
                    legend { "Scopes (none ticked: every scope)" }
                    @for s in Scope::ALL.iter() {
                        label.check { input type="checkbox" name="scope" value=(s); " " (s) }
                    }
                }
                label for="token-crates" { "Crates (patterns like " code { "name" } " or " code { "prefix*" } ", separated by spaces or commas; empty: all)" }
                input #token-crates type="text" name="crates";
                label for="token-expiry" { "Expires after" }
                select #token-expiry name="expiry" {
                    @for (days, label) in EXPIRY_DAYS {
                        option value=(days.map_or("never".to_owned(), |d| d.to_string())) { (label) }
                    }
                }
                button #create-token-button type="submit" { "Create token" }
            }
        }
    }
}

/// The token form, read by hand: `scope` repeats, which `serde_urlencoded` cannot collect.
struct TokenForm {
    csrf: String,
    name: String,
    scopes: Vec<String>,
    crates: Vec<String>,
    expiry_days: Option<u32>,
}

fn parse_form(body: &[u8]) -> Result<TokenForm, PageErr> {
    let mut f = TokenForm {
        csrf: String::new(),
        name: String::new(),
        scopes: Vec::new(),
        crates: Vec::new(),
        expiry_days: Some(30),
    };
    for (k, v) in url::form_urlencoded::parse(body) {
        match &*k {
            "csrf" => f.csrf = v.into_owned(),
            "name" => f.name = v.trim().to_owned(),
            "scope" => f.scopes.push(v.into_owned()),
            "crates" => {
                f.crates = v
                    .split([',', ' '])
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            "expiry" => {
                f.expiry_days = match &*v {
                    "never" => None,
                    d => Some(
                        d.parse()
                            .ok()
                            .filter(|d| (1..=3650).contains(d))
                            .ok_or_else(|| {
                                PageErr::bad(format!(
                                    "invalid expiry `{d}`: choose one of the list"
                                ))
                            })?,
                    ),
                }
            }
            _ => {}
        }
    }
    Ok(f)
}

fn check_form(f: &TokenForm) -> Result<(), PageErr> {
    if f.name.is_empty() || f.name.chars().count() > MAX_NAME {
        return Err(PageErr::bad(format!(
            "a token needs a name of 1 to {MAX_NAME} characters"
        )));
    }
    if let Some(s) = f.scopes.iter().find(|s| !Scope::ALL.contains(&s.as_str())) {
        return Err(PageErr::bad(format!(
            "unknown scope `{s}`; expected one of {}",
            Scope::ALL.join(", ")
        )));
    }
    for p in &f.crates {
        let stem = p.strip_suffix('*').unwrap_or(p);
        let valid = stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid || (stem.is_empty() && p != "*") {
            return Err(PageErr::bad(format!(
                "invalid crate pattern `{p}`: use a crate name, a prefix followed by `*`, or `*`"
            )));
        }
    }
    Ok(())
}

/// `POST /me/tokens`: creates the token and shows it once.
pub async fn create(
    State(app): State<Arc<App>>,
    SignedIn(s): SignedIn,
    body: Bytes,
) -> Result<Response, PageErr> {
    let f = parse_form(&body)?;
    check_csrf(&s, &f.csrf)?;
    check_form(&f)?;
    if app.store.list_tokens(Some(s.user.id)).await?.len() >= MAX_TOKENS {
        return Err(PageErr::bad(format!(
            "you have {MAX_TOKENS} tokens, the most one user may have; revoke some first"
        )));
    }
    let secret = generate_token();
    let new = NewToken {
        user_id: s.user.id,
        name: f.name.clone(),
        hash: hash_token(&secret),
        scopes: (!f.scopes.is_empty()).then_some(f.scopes),
        crate_patterns: f.crates,
        expires_at: f.expiry_days.map(|d| now() + i64::from(d) * 86_400),
    };
    let id = app.store.create_token(&new).await?;
    tracing::info!(user = %s.user.login, token = id, "token created on /me");
    page_get(&app, &s, Some((&f.name, &secret))).await
}

/// `POST /me/tokens/{id}/revoke`.
pub async fn revoke(
    State(app): State<Arc<App>>,
    SignedIn(s): SignedIn,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageErr> {
    let csrf = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    check_csrf(&s, &csrf)?;
    let mine = app.store.list_tokens(Some(s.user.id)).await?;
    if !mine.iter().any(|t| t.id == id) {
        return Err(PageErr::not_found("you have no token with that id"));
    }
    app.store.revoke_token(id).await?;
    tracing::info!(user = %s.user.login, token = id, "token revoked on /me");
    Ok(Redirect::to("/me").into_response())
}
