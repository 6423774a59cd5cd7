//! Owner invitations as crates.io has them: adding an owner invites them, the invitee accepts or
//! declines (`/api/v1/me/crate_owner_invitations`, or the `/me/invitations` page), and an
//! invitation not answered within 30 days expires.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::auth;
use crate::error::ApiErr;
use crate::store::accounts::{InviteAnswer, InviteOutcome};
use crate::store::{CrateInfo, User, now};
use crate::web::time::timestamp;

/// How long an invitation can be accepted.
pub const INVITATION_TTL_SECS: i64 = 30 * 86_400;

/// Invitations created at or before this time have expired.
pub fn expired_before(now: i64) -> i64 {
    now - INVITATION_TTL_SECS
}

/// Invites each login to own `krate`; the message is crates.io's, one part per login, joined with
/// `,`. Nothing is changed when a login is unknown or already an owner.
pub async fn invite(
    app: &App,
    krate: &CrateInfo,
    inviter: &User,
    logins: &[String],
) -> Result<String, ApiErr> {
    let mut users = Vec::new();
    for login in logins {
        let user = app
            .store
            .user_by_login(login)
            .await?
            .ok_or_else(|| ApiErr::bad(format!("could not find user with login `{login}`")))?;
        if app.store.is_owner(krate.id, user.id).await? {
            return Err(ApiErr::bad(format!("`{login}` is already an owner")));
        }
        users.push(user);
    }
    let t = now();
    let mut msgs = Vec::new();
    for user in users {
        let outcome = app
            .store
            .invite_owner(krate.id, user.id, inviter.id, t, expired_before(t))
            .await?;
        msgs.push(match outcome {
            InviteOutcome::Invited => format!(
                "user {} has been invited to be an owner of crate {}",
                user.login, krate.name
            ),
            InviteOutcome::AlreadyPending => format!(
                "user {} already has a pending invitation to be an owner of crate {}",
                user.login, krate.name
            ),
            // Accepted between the check above and now.
            InviteOutcome::AlreadyOwner => format!("`{}` is already an owner", user.login),
        });
    }
    tracing::info!(krate = %krate.name, inviter = %inviter.login, "owners invited");
    Ok(msgs.join(","))
}

/// The outcome of answering an invitation, as an API error where it is one.
pub fn answer_error(answer: InviteAnswer, crate_name: &str) -> Option<ApiErr> {
    match answer {
        InviteAnswer::Accepted | InviteAnswer::Declined => None,
        InviteAnswer::NotFound => Some(ApiErr::not_found(
            "no pending invitation to be an owner of this crate",
        )),
        InviteAnswer::Expired(at) => {
            let days = (now() - at - INVITATION_TTL_SECS).max(0) / 86_400;
            Some(ApiErr::new(
                StatusCode::GONE,
                format!(
                    "The invitation to become an owner of the {crate_name} crate expired {days} \
                     days ago. Please reach out to an owner of the crate to request a new \
                     invitation."
                ),
            ))
        }
    }
}

#[derive(Serialize)]
struct InvitationJson {
    invitee_id: i64,
    inviter_id: i64,
    invited_by_username: String,
    crate_name: String,
    crate_id: i64,
    created_at: String,
    expires_at: String,
}

#[derive(Serialize)]
struct UserJson {
    id: i64,
    login: String,
    name: Option<String>,
}

/// A token with endpoint scopes may only use the endpoints its scopes name; like crates.io, none
/// covers these.
async fn api_user(app: &App, headers: &HeaderMap) -> Result<User, ApiErr> {
    let authed = auth::require_auth(app.store.as_ref(), headers).await?;
    if authed.token.scopes.is_some() || !authed.token.crate_patterns.is_empty() {
        return Err(auth::missing_scope());
    }
    Ok(authed.token.user)
}

/// `GET /api/v1/me/crate_owner_invitations`.
pub async fn list(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiErr> {
    let me = api_user(&app, &headers).await?;
    let cutoff = expired_before(now());
    let pending: Vec<_> = app
        .store
        .invitations(Some(me.id), None)
        .await?
        .into_iter()
        .filter(|i| i.created_at > cutoff)
        .collect();
    let mut users: Vec<UserJson> = Vec::new();
    for u in pending.iter().flat_map(|i| [&i.invitee, &i.inviter]) {
        if !users.iter().any(|x| x.id == u.id) {
            users.push(UserJson {
                id: u.id,
                login: u.login.clone(),
                name: None,
            });
        }
    }
    let invitations: Vec<InvitationJson> = pending
        .into_iter()
        .map(|i| InvitationJson {
            invitee_id: i.invitee.id,
            inviter_id: i.inviter.id,
            invited_by_username: i.inviter.login,
            crate_name: i.crate_name,
            crate_id: i.crate_id,
            created_at: timestamp(i.created_at),
            expires_at: timestamp(i.created_at + INVITATION_TTL_SECS),
        })
        .collect();
    Ok(Json(serde_json::json!({
        "crate_owner_invitations": invitations,
        "users": users,
    }))
    .into_response())
}

#[derive(Deserialize)]
struct AnswerBody {
    crate_owner_invite: AnswerInner,
}

#[derive(Deserialize)]
struct AnswerInner {
    crate_id: i64,
    accepted: bool,
}

/// `PUT /api/v1/me/crate_owner_invitations/{crate_id}` with
/// `{"crate_owner_invite":{"crate_id":…,"accepted":true|false}}`.
pub async fn answer(
    State(app): State<Arc<App>>,
    Path(crate_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiErr> {
    let me = api_user(&app, &headers).await?;
    let req: AnswerBody = serde_json::from_slice(&body)
        .map_err(|e| ApiErr::bad(format!("invalid json request: {e}")))?;
    let AnswerInner {
        crate_id: body_id,
        accepted,
    } = req.crate_owner_invite;
    if body_id != crate_id {
        return Err(ApiErr::bad("crate ID mismatch"));
    }
    let name = app
        .store
        .invitations(Some(me.id), Some(crate_id))
        .await?
        .into_iter()
        .next()
        .map(|i| i.crate_name)
        .unwrap_or_default();
    let result = app
        .store
        .answer_invitation(crate_id, me.id, accepted, expired_before(now()))
        .await?;
    if let Some(e) = answer_error(result, &name) {
        return Err(e);
    }
    tracing::info!(krate = %name, user = %me.login, accepted, "owner invitation answered");
    Ok(Json(serde_json::json!({
        "crate_owner_invitation": { "crate_id": crate_id, "accepted": accepted }
    }))
    .into_response())
}
