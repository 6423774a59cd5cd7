//! Owner management for people: `/crates/{name}/owners` (owners and administrators invite,
//! cancel invitations, remove owners) and `/me/invitations` (the invitee accepts or declines).

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::layout::{PageErr, page};
use super::session::{Session, SignedIn, check_csrf};
use super::time::date;
use crate::accounts::invitations::{INVITATION_TTL_SECS, answer_error, expired_before, invite};
use crate::app::App;
use crate::store::{CrateInfo, now};

async fn owned_crate(app: &App, s: &Session, name: &str) -> Result<CrateInfo, PageErr> {
    let krate = app.store.crate_by_name(name).await?.ok_or_else(|| {
        PageErr::not_found(format!("there is no crate `{name}` in this registry"))
    })?;
    // Administrators may manage every crate's owners (e.g. when its only owner has left).
    if !s.is_admin && !app.store.is_owner(krate.id, s.user.id).await? {
        return Err(PageErr::forbidden(format!(
            "only owners of `{}` (and administrators) may manage its owners",
            krate.name
        )));
    }
    Ok(krate)
}

/// `GET /crates/{name}/owners`.
pub async fn manage(
    State(app): State<Arc<App>>,
    SignedIn(s): SignedIn,
    Path(name): Path<String>,
) -> Result<Response, PageErr> {
    render(&app, &s, &name, None).await
}

async fn render(
    app: &App,
    s: &Session,
    name: &str,
    message: Option<&str>,
) -> Result<Response, PageErr> {
    let krate = owned_crate(app, s, name).await?;
    let owners = app.store.owners(krate.id).await?;
    let cutoff = expired_before(now());
    let pending = app.store.invitations(None, Some(krate.id)).await?;
    let body = html! {
        h1 { "Owners of " a href={ "/crates/" (krate.name) } { (krate.name) } }
        @if let Some(m) = message { p.notice #owners-message role="status" { (m) } }
        table #owner-list {
            tbody {
                @for o in &owners {
                    tr {
                        td { (o.login) }
                        td {
                            @if owners.len() > 1 {
                                form.inline method="post" {
                                    input type="hidden" name="csrf" value=(s.csrf);
                                    input type="hidden" name="action" value="remove";
                                    input type="hidden" name="login" value=(o.login);
                                    button.danger type="submit" { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Invitations" }
        @if pending.is_empty() { p.muted { "No pending invitations." } }
        ul #pending-invitations {
            @for i in &pending {
                li {
                    (i.invitee.login) " — invited by " (i.inviter.login) " on " (date(i.created_at))
                    @if i.created_at <= cutoff { " " span.badge.yanked { "expired" } }
                    form.inline method="post" {
                        input type="hidden" name="csrf" value=(s.csrf);
                        input type="hidden" name="action" value="cancel";
                        input type="hidden" name="login" value=(i.invitee.login);
                        button.link type="submit" { "Cancel" }
                    }
                }
            }
        }
        form.stack method="post" {
            input type="hidden" name="csrf" value=(s.csrf);
            input type="hidden" name="action" value="invite";
            label for="invite-login" { "Invite a user to become an owner" }
            input #invite-login type="text" name="login" required placeholder="login";
            button #invite-button type="submit" { "Invite" }
            p.muted { "They become an owner once they accept on their invitations page (within "
                (INVITATION_TTL_SECS / 86_400) " days)." }
        }
    };
    Ok(page(
        app,
        Some(s),
        &format!("Owners of {}", krate.name),
        body,
    ))
}

#[derive(Deserialize)]
pub struct OwnersForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    login: String,
}

/// `POST /crates/{name}/owners`.
pub async fn change(
    State(app): State<Arc<App>>,
    SignedIn(s): SignedIn,
    Path(name): Path<String>,
    Form(f): Form<OwnersForm>,
) -> Result<Response, PageErr> {
    check_csrf(&s, &f.csrf)?;
    let krate = owned_crate(&app, &s, &name).await?;
    let login = f.login.trim().to_owned();
    let message = match f.action.as_str() {
        "invite" => invite(&app, &krate, &s.user, std::slice::from_ref(&login)).await?,
        "cancel" => {
            let user = app.store.user_by_login(&login).await?;
            match user {
                Some(u) if app.store.cancel_invitation(krate.id, u.id).await? => {
                    format!("the invitation of {login} was cancelled")
                }
                _ => {
                    return Err(PageErr::not_found(format!(
                        "{login} has no pending invitation"
                    )));
                }
            }
        }
        "remove" => {
            let user = app.store.user_by_login(&login).await?.ok_or_else(|| {
                PageErr::not_found(format!("could not find user with login `{login}`"))
            })?;
            if !app.store.remove_owners(krate.id, &[user.id]).await? {
                return Err(PageErr::bad("a crate keeps at least one owner"));
            }
            tracing::info!(krate = %krate.name, removed = %login, by = %s.user.login, "owner removed");
            if user.id == s.user.id {
                return Ok(Redirect::to(&format!("/crates/{}", krate.name)).into_response());
            }
            format!("{login} is no longer an owner")
        }
        other => return Err(PageErr::bad(format!("unknown action `{other}`"))),
    };
    render(&app, &s, &name, Some(&message)).await
}

/// `GET /me/invitations`.
pub async fn invitations_page(
    State(app): State<Arc<App>>,
    SignedIn(s): SignedIn,
) -> Result<Response, PageErr> {
    render_invitations(&app, &s, None).await
}

async fn render_invitations(
    app: &App,
    s: &Session,
    message: Option<&str>,
) -> Result<Response, PageErr> {
    let cutoff = expired_before(now());
    let pending: Vec<_> = app
        .store
        .invitations(Some(s.user.id), None)
        .await?
        .into_iter()
        .filter(|i| i.created_at > cutoff)
        .collect();
    let body = html! {
        h1 { "Owner invitations" }
        @if let Some(m) = message { p.notice #invitations-message role="status" { (m) } }
        @if pending.is_empty() { p.muted #no-invitations { "You have no pending invitations." } }
        ul #invitations {
            @for i in &pending {
                li data-crate=(i.crate_name) {
                    a href={ "/crates/" (i.crate_name) } { (i.crate_name) }
                    " — from " (i.inviter.login) ", expires " (date(i.created_at + INVITATION_TTL_SECS)) " "
                    form.inline method="post" {
                        input type="hidden" name="csrf" value=(s.csrf);
                        input type="hidden" name="crate_id" value=(i.crate_id);
                        button name="accept" value="true" type="submit" { "Accept" }
                        " "
                        button.link name="accept" value="false" type="submit" { "Decline" }
                    }
                }
            }
        }
    };
    Ok(page(app, Some(s), "Invitations", body))
}

#[derive(Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    csrf: String,
    crate_id: i64,
    accept: bool,
}

/// `POST /me/invitations`.
pub async fn answer(
    State(app): State<Arc<App>>,
    SignedIn(s): SignedIn,
    Form(f): Form<AnswerForm>,
) -> Result<Response, PageErr> {
    check_csrf(&s, &f.csrf)?;
    let name = app
        .store
        .invitations(Some(s.user.id), Some(f.crate_id))
        .await?
        .into_iter()
        .next()
        .map(|i| i.crate_name)
        .unwrap_or_default();
    let result = app
        .store
        .answer_invitation(f.crate_id, s.user.id, f.accept, expired_before(now()))
        .await?;
    if let Some(e) = answer_error(result, &name) {
        return Err(e.into());
    }
    let message = match f.accept {
        true => format!("you are now an owner of {name}"),
        false => format!("you declined to own {name}"),
    };
    render_invitations(&app, &s, Some(&message)).await
}
