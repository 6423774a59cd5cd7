//! What accounts need from the database, written once for both engines: passwords and the admin
//! flag, browser sessions, sign-in throttling, OpenID Connect sign-ins under way and owner
//! invitations. Everything here is shared by every instance through the database.

use sqlx::{ColumnIndex, Decode, Encode, Executor, FromRow, IntoArguments, Type};

use super::sql::is_unique_violation;
use super::{BoxFut, Engine, SqlStore, StoreError, StoreResult, User};

/// A user as sign-in sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user: User,
    /// The argon2id PHC string; `None` when the user has no password (SSO only, or not set yet).
    pub password_hash: Option<String>,
    pub is_admin: bool,
}

/// A live browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub user: User,
    pub is_admin: bool,
    pub csrf_token: String,
    pub expires_at: i64,
}

/// A new browser session; only the hash of the cookie value is stored.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id_hash: [u8; 32],
    pub user_id: i64,
    pub csrf_token: String,
    pub expires_at: i64,
}

/// An OpenID Connect sign-in between the redirect to the provider and its callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOidcLogin {
    pub pkce_verifier: String,
    pub nonce: String,
    pub return_to: String,
    pub expires_at: i64,
}

/// A pending owner invitation, with the names pages and the API show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub crate_id: i64,
    pub crate_name: String,
    pub invitee: User,
    pub inviter: User,
    pub created_at: i64,
}

/// What inviting a user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteOutcome {
    Invited,
    /// An invitation that has not expired is already waiting.
    AlreadyPending,
    AlreadyOwner,
}

/// What answering an invitation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteAnswer {
    Accepted,
    Declined,
    /// The invitation was older than the expiry; it is removed. Holds its creation time.
    Expired(i64),
    NotFound,
}

pub trait AccountStore: Send + Sync {
    fn account<'a>(&'a self, login: &'a str) -> BoxFut<'a, StoreResult<Option<Account>>>;
    fn set_password<'a>(&'a self, user_id: i64, hash: &'a str) -> BoxFut<'a, StoreResult<bool>>;
    fn set_admin(&self, user_id: i64, admin: bool) -> BoxFut<'_, StoreResult<bool>>;
    /// The user signed in through `subject` (`<issuer> <sub>`), created as `login` (or `login-2`,
    /// `login-3` … when taken) on first sign-in; the admin flag is set to `admin` when given.
    fn oidc_user<'a>(
        &'a self,
        subject: &'a str,
        login: &'a str,
        admin: Option<bool>,
    ) -> BoxFut<'a, StoreResult<User>>;

    fn create_session<'a>(&'a self, s: &'a NewSession) -> BoxFut<'a, StoreResult<()>>;
    /// The session with this cookie hash, unless it expired by `now`.
    fn session<'a>(
        &'a self,
        id_hash: &'a [u8; 32],
        now: i64,
    ) -> BoxFut<'a, StoreResult<Option<SessionRecord>>>;
    fn delete_session<'a>(&'a self, id_hash: &'a [u8; 32]) -> BoxFut<'a, StoreResult<()>>;
    /// Removes expired sessions and OIDC sign-ins; returns how many rows went.
    fn delete_expired(&self, now: i64) -> BoxFut<'_, StoreResult<u64>>;

    /// Failed sign-ins for `login` in the window that started after `window_start`.
    fn login_failures<'a>(
        &'a self,
        login: &'a str,
        window_start: i64,
    ) -> BoxFut<'a, StoreResult<u32>>;
    /// Counts one failed sign-in; a window older than `window_start` starts again at `now`.
    fn record_login_failure<'a>(
        &'a self,
        login: &'a str,
        now: i64,
        window_start: i64,
    ) -> BoxFut<'a, StoreResult<()>>;
    fn clear_login_failures<'a>(&'a self, login: &'a str) -> BoxFut<'a, StoreResult<()>>;

    fn save_oidc_login<'a>(
        &'a self,
        state_hash: &'a [u8; 32],
        login: &'a PendingOidcLogin,
    ) -> BoxFut<'a, StoreResult<()>>;
    /// Removes and returns the sign-in under way for this state (each state is used once).
    fn take_oidc_login<'a>(
        &'a self,
        state_hash: &'a [u8; 32],
    ) -> BoxFut<'a, StoreResult<Option<PendingOidcLogin>>>;

    /// Invites `invitee`; an expired invitation (created before `expired_before`) is renewed.
    fn invite_owner(
        &self,
        crate_id: i64,
        invitee: i64,
        inviter: i64,
        now: i64,
        expired_before: i64,
    ) -> BoxFut<'_, StoreResult<InviteOutcome>>;
    /// Pending invitations for a user (`Some(user)`) or of a crate (`crate_id`).
    fn invitations(
        &self,
        invitee: Option<i64>,
        crate_id: Option<i64>,
    ) -> BoxFut<'_, StoreResult<Vec<Invitation>>>;
    /// Accepts (making the invitee an owner, in one transaction) or declines an invitation.
    fn answer_invitation(
        &self,
        crate_id: i64,
        invitee: i64,
        accept: bool,
        expired_before: i64,
    ) -> BoxFut<'_, StoreResult<InviteAnswer>>;
    /// Withdraws a pending invitation; false when there was none.
    fn cancel_invitation(&self, crate_id: i64, invitee: i64) -> BoxFut<'_, StoreResult<bool>>;
}

#[derive(FromRow)]
struct AccountRow {
    id: i64,
    login: String,
    password_hash: Option<String>,
    is_admin: i64,
}

#[derive(FromRow)]
struct SessionRow {
    user_id: i64,
    login: String,
    is_admin: i64,
    csrf_token: String,
    expires_at: i64,
}

#[derive(FromRow)]
struct InvitationRow {
    crate_id: i64,
    crate_name: String,
    invitee_id: i64,
    invitee_login: String,
    inviter_id: i64,
    inviter_login: String,
    created_at: i64,
}

#[derive(FromRow)]
struct OidcRow {
    pkce_verifier: String,
    nonce: String,
    return_to: String,
    expires_at: i64,
}

const INVITATION_SELECT: &str = "SELECT i.crate_id, c.name AS crate_name, \
     i.invitee_id, ee.login AS invitee_login, i.inviter_id, er.login AS inviter_login, i.created_at \
     FROM crate_owner_invitations i JOIN crates c ON c.id = i.crate_id \
     JOIN users ee ON ee.id = i.invitee_id JOIN users er ON er.id = i.inviter_id";

impl<DB> AccountStore for SqlStore<DB>
where
    DB: Engine,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
    for<'q, 'r> i64: Encode<'q, DB> + Decode<'r, DB> + Type<DB>,
    for<'q, 'r> String: Encode<'q, DB> + Decode<'r, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
{
    fn account<'a>(&'a self, login: &'a str) -> BoxFut<'a, StoreResult<Option<Account>>> {
        Box::pin(async move {
            let row: Option<AccountRow> = sqlx::query_as(
                "SELECT id, login, password_hash, is_admin FROM users WHERE login = $1",
            )
            .bind(login)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.map(|r| Account {
                user: User {
                    id: r.id,
                    login: r.login,
                },
                password_hash: r.password_hash,
                is_admin: r.is_admin != 0,
            }))
        })
    }

    fn set_password<'a>(&'a self, user_id: i64, hash: &'a str) -> BoxFut<'a, StoreResult<bool>> {
        Box::pin(async move {
            let q = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(user_id);
            Ok(self.write_one(q).await? == 1)
        })
    }

    fn set_admin(&self, user_id: i64, admin: bool) -> BoxFut<'_, StoreResult<bool>> {
        Box::pin(async move {
            let q = sqlx::query("UPDATE users SET is_admin = $1 WHERE id = $2")
                .bind(i64::from(admin))
                .bind(user_id);
            Ok(self.write_one(q).await? == 1)
        })
    }

    fn oidc_user<'a>(
        &'a self,
        subject: &'a str,
        login: &'a str,
        admin: Option<bool>,
    ) -> BoxFut<'a, StoreResult<User>> {
        Box::pin(async move {
            let find = "SELECT id, login FROM users WHERE oidc_subject = $1";
            let existing: Option<User> = sqlx::query_as(find)
                .bind(subject)
                .fetch_optional(&self.pool)
                .await?;
            let user = match existing {
                Some(u) => u,
                None => self.create_oidc_user(subject, login).await?,
            };
            if let Some(admin) = admin {
                self.set_admin(user.id, admin).await?;
            }
            Ok(user)
        })
    }

    fn create_session<'a>(&'a self, s: &'a NewSession) -> BoxFut<'a, StoreResult<()>> {
        Box::pin(async move {
            let q = sqlx::query(
                "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&s.id_hash[..])
            .bind(s.user_id)
            .bind(&s.csrf_token)
            .bind(super::now())
            .bind(s.expires_at);
            self.write_one(q).await?;
            Ok(())
        })
    }

    fn session<'a>(
        &'a self,
        id_hash: &'a [u8; 32],
        now: i64,
    ) -> BoxFut<'a, StoreResult<Option<SessionRecord>>> {
        Box::pin(async move {
            let row: Option<SessionRow> = sqlx::query_as(
                "SELECT s.user_id, u.login, u.is_admin, s.csrf_token, s.expires_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.id_hash = $1 AND s.expires_at > $2",
            )
            .bind(&id_hash[..])
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.map(|r| SessionRecord {
                user: User {
                    id: r.user_id,
                    login: r.login,
                },
                is_admin: r.is_admin != 0,
                csrf_token: r.csrf_token,
                expires_at: r.expires_at,
            }))
        })
    }

    fn delete_session<'a>(&'a self, id_hash: &'a [u8; 32]) -> BoxFut<'a, StoreResult<()>> {
        Box::pin(async move {
            let q = sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(&id_hash[..]);
            self.write_one(q).await?;
            Ok(())
        })
    }

    fn delete_expired(&self, now: i64) -> BoxFut<'_, StoreResult<u64>> {
        Box::pin(async move {
            let a = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now);
            let b = sqlx::query("DELETE FROM oidc_logins WHERE expires_at <= $1").bind(now);
            Ok(self.write_one(a).await? + self.write_one(b).await?)
        })
    }

    fn login_failures<'a>(
        &'a self,
        login: &'a str,
        window_start: i64,
    ) -> BoxFut<'a, StoreResult<u32>> {
        Box::pin(async move {
            let n: Option<i64> = sqlx::query_scalar(
                "SELECT failures FROM login_failures WHERE login = $1 AND window_start > $2",
            )
            .bind(login)
            .bind(window_start)
            .fetch_optional(&self.pool)
            .await?;
            Ok(n.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
        })
    }

    fn record_login_failure<'a>(
        &'a self,
        login: &'a str,
        now: i64,
        window_start: i64,
    ) -> BoxFut<'a, StoreResult<()>> {
        Box::pin(async move {
            // One statement, so concurrent failures on several instances all count.
            let q = sqlx::query(
                "INSERT INTO login_failures (login, failures, window_start) VALUES ($1, 1, $2) \
                 ON CONFLICT (login) DO UPDATE SET \
                 failures = CASE WHEN login_failures.window_start > $3 \
                     THEN login_failures.failures + 1 ELSE 1 END, \
                 window_start = CASE WHEN login_failures.window_start > $3 \
                     THEN login_failures.window_start ELSE $2 END",
            )
            .bind(login)
            .bind(now)
            .bind(window_start);
            self.write_one(q).await?;
            Ok(())
        })
    }

    fn clear_login_failures<'a>(&'a self, login: &'a str) -> BoxFut<'a, StoreResult<()>> {
        Box::pin(async move {
            let q = sqlx::query("DELETE FROM login_failures WHERE login = $1").bind(login);
            self.write_one(q).await?;
            Ok(())
        })
    }

    fn save_oidc_login<'a>(
        &'a self,
        state_hash: &'a [u8; 32],
        l: &'a PendingOidcLogin,
    ) -> BoxFut<'a, StoreResult<()>> {
        Box::pin(async move {
            let q = sqlx::query(
                "INSERT INTO oidc_logins (state_hash, pkce_verifier, nonce, return_to, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&state_hash[..])
            .bind(&l.pkce_verifier)
            .bind(&l.nonce)
            .bind(&l.return_to)
            .bind(l.expires_at);
            self.write_one(q).await?;
            Ok(())
        })
    }

    fn take_oidc_login<'a>(
        &'a self,
        state_hash: &'a [u8; 32],
    ) -> BoxFut<'a, StoreResult<Option<PendingOidcLogin>>> {
        Box::pin(async move {
            let _lock = self.write_lock().await;
            // DELETE … RETURNING: of two callbacks with one state, only one gets the row.
            let row: Option<OidcRow> = sqlx::query_as(
                "DELETE FROM oidc_logins WHERE state_hash = $1 \
                 RETURNING pkce_verifier, nonce, return_to, expires_at",
            )
            .bind(&state_hash[..])
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.map(|r| PendingOidcLogin {
                pkce_verifier: r.pkce_verifier,
                nonce: r.nonce,
                return_to: r.return_to,
                expires_at: r.expires_at,
            }))
        })
    }

    fn invite_owner(
        &self,
        crate_id: i64,
        invitee: i64,
        inviter: i64,
        now: i64,
        expired_before: i64,
    ) -> BoxFut<'_, StoreResult<InviteOutcome>> {
        Box::pin(async move {
            let mut w = self.begin_write().await?;
            let owner =
                sqlx::query("SELECT 1 FROM crate_owners WHERE crate_id = $1 AND user_id = $2")
                    .bind(crate_id)
                    .bind(invitee)
                    .fetch_optional(&mut *w.tx)
                    .await?;
            if owner.is_some() {
                w.abandon().await;
                return Ok(InviteOutcome::AlreadyOwner);
            }
            // Insert, or renew an expired invitation; a live one stays as it is.
            let changed = sqlx::query(
                "INSERT INTO crate_owner_invitations (crate_id, invitee_id, inviter_id, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (crate_id, invitee_id) DO UPDATE SET \
                 inviter_id = $3, created_at = $4 \
                 WHERE crate_owner_invitations.created_at <= $5",
            )
            .bind(crate_id)
            .bind(invitee)
            .bind(inviter)
            .bind(now)
            .bind(expired_before)
            .execute(&mut *w.tx)
            .await?;
            w.tx.commit().await?;
            Ok(match DB::rows_affected(&changed) {
                0 => InviteOutcome::AlreadyPending,
                _ => InviteOutcome::Invited,
            })
        })
    }

    fn invitations(
        &self,
        invitee: Option<i64>,
        crate_id: Option<i64>,
    ) -> BoxFut<'_, StoreResult<Vec<Invitation>>> {
        Box::pin(async move {
            let sql = format!(
                "{INVITATION_SELECT} WHERE (CAST($1 AS BIGINT) IS NULL OR i.invitee_id = $1) \
                 AND (CAST($2 AS BIGINT) IS NULL OR i.crate_id = $2) ORDER BY i.created_at, c.name"
            );
            let rows: Vec<InvitationRow> = sqlx::query_as(&sql)
                .bind(invitee)
                .bind(crate_id)
                .fetch_all(&self.pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|r| Invitation {
                    crate_id: r.crate_id,
                    crate_name: r.crate_name,
                    invitee: User {
                        id: r.invitee_id,
                        login: r.invitee_login,
                    },
                    inviter: User {
                        id: r.inviter_id,
                        login: r.inviter_login,
                    },
                    created_at: r.created_at,
                })
                .collect())
        })
    }

    fn answer_invitation(
        &self,
        crate_id: i64,
        invitee: i64,
        accept: bool,
        expired_before: i64,
    ) -> BoxFut<'_, StoreResult<InviteAnswer>> {
        Box::pin(async move {
            let mut w = self.begin_write().await?;
            // Removing the row first decides a race between two answers: one of them finds it.
            let created: Option<i64> = sqlx::query_scalar(
                "DELETE FROM crate_owner_invitations WHERE crate_id = $1 AND invitee_id = $2 \
                 RETURNING created_at",
            )
            .bind(crate_id)
            .bind(invitee)
            .fetch_optional(&mut *w.tx)
            .await?;
            let answer = match created {
                None => InviteAnswer::NotFound,
                Some(at) if at <= expired_before => InviteAnswer::Expired(at),
                Some(_) if !accept => InviteAnswer::Declined,
                Some(_) => {
                    sqlx::query(
                        "INSERT INTO crate_owners (crate_id, user_id) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(crate_id)
                    .bind(invitee)
                    .execute(&mut *w.tx)
                    .await?;
                    InviteAnswer::Accepted
                }
            };
            w.tx.commit().await?;
            Ok(answer)
        })
    }

    fn cancel_invitation(&self, crate_id: i64, invitee: i64) -> BoxFut<'_, StoreResult<bool>> {
        Box::pin(async move {
            let q = sqlx::query(
                "DELETE FROM crate_owner_invitations WHERE crate_id = $1 AND invitee_id = $2",
            )
            .bind(crate_id)
            .bind(invitee);
            Ok(self.write_one(q).await? == 1)
        })
    }
}

impl<DB> SqlStore<DB>
where
    DB: Engine,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
    for<'q, 'r> i64: Encode<'q, DB> + Decode<'r, DB> + Type<DB>,
    for<'q, 'r> String: Encode<'q, DB> + Decode<'r, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
{
    /// Creates the account of a first SSO sign-in under the first free login of `login`,
    /// `login-2`, `login-3` …; a concurrent first sign-in of the same subject wins cleanly.
    async fn create_oidc_user(&self, subject: &str, login: &str) -> StoreResult<User> {
        for n in 1..=100u32 {
            let candidate = match n {
                1 => login.to_owned(),
                n => format!("{login}-{n}"),
            };
            let _lock = self.write_lock().await;
            let inserted = sqlx::query_scalar(
                "INSERT INTO users (login, created_at, oidc_subject) VALUES ($1, $2, $3) \
                 RETURNING id",
            )
            .bind(&candidate)
            .bind(super::now())
            .bind(subject)
            .fetch_one(&self.pool)
            .await;
            match inserted {
                Ok(id) => {
                    return Ok(User {
                        id,
                        login: candidate,
                    });
                }
                Err(e) if is_unique_violation(&e) => {
                    let by_subject: Option<User> =
                        sqlx::query_as("SELECT id, login FROM users WHERE oidc_subject = $1")
                            .bind(subject)
                            .fetch_optional(&self.pool)
                            .await?;
                    if let Some(u) = by_subject {
                        return Ok(u);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Exists(format!(
            "every login from `{login}` to `{login}-100`"
        )))
    }
}
