//! Accounts: argon2id passwords, password sign-in with throttling, and the random values browser
//! sessions are made of. Everything a second instance must see lives in the database.

pub mod invitations;

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;

use crate::store::accounts::Account;
use crate::store::{MetaStore, StoreError, now};

/// Failed password sign-ins allowed per login within [`THROTTLE_WINDOW_SECS`].
pub const MAX_FAILURES: u32 = 5;
/// The throttling window: after [`MAX_FAILURES`] failures the login is refused until the window
/// that began with the first failure ends.
pub const THROTTLE_WINDOW_SECS: i64 = 15 * 60;
/// Passwords shorter than this are refused when set.
pub const MIN_PASSWORD_LEN: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("passwords need at least {MIN_PASSWORD_LEN} characters")]
    TooShort,
    #[error("hashing the password")]
    Hash(#[source] argon2::password_hash::Error),
}

/// An argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) with a fresh salt; argon2's
/// defaults are OWASP's recommended minimum.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(PasswordError::Hash)
}

/// Whether `password` matches the PHC string (the parameters come from the string, so hashes made
/// with older parameters keep working).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Verified against when the login does not exist or has no password, so that answering takes as
/// long as for a real account and does not tell which logins exist.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("not the password of anyone").unwrap_or_default());

/// Why a password sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("invalid login or password")]
    Invalid,
    #[error(
        "too many failed sign-ins for this login; try again after {}",
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(*until).unwrap_or(0)))
    )]
    Throttled { until: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a login and password, counting failures in the database (so the limit holds across
/// instances); a throttled login is refused even with the right password.
pub async fn password_sign_in(
    store: &dyn MetaStore,
    login: &str,
    password: &str,
) -> Result<Account, SignInError> {
    let t = now();
    let window_start = t - THROTTLE_WINDOW_SECS;
    if store.login_failures(login, window_start).await? >= MAX_FAILURES {
        return Err(SignInError::Throttled {
            until: t + THROTTLE_WINDOW_SECS,
        });
    }
    let account = store.account(login).await?;
    let phc = account
        .as_ref()
        .and_then(|a| a.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .unwrap_or(false);
    match account {
        Some(a) if ok && a.password_hash.is_some() => {
            store.clear_login_failures(login).await?;
            Ok(a)
        }
        _ => {
            store.record_login_failure(login, t, window_start).await?;
            Err(SignInError::Invalid)
        }
    }
}

/// A random URL- and cookie-safe value of 43 alphanumerics (~256 bits).
pub fn random_secret() -> String {
    let mut rng = rand::rng();
    (0..43)
        .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsf", &h));
        assert!(!verify_password("x", "not a phc string"));
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort)
        ));
        assert_ne!(h, hash_password("correct horse").unwrap(), "salted");
    }

    #[test]
    fn secrets_are_long_and_distinct() {
        let (a, b) = (random_secret(), random_secret());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
