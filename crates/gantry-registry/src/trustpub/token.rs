//! The temporary publish token an exchange issues: `gty_tp_` + 31 random alphanumerics + one
//! checksum character (so a mistyped or truncated token is refused without a database lookup),
//! stored only as its SHA-256. The prefix tells it apart from ordinary `gty…` tokens, which have no
//! `_`.

use axum::http::{HeaderMap, header};
use rand::Rng;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "gty_tp_";
const RAW_LEN: usize = 31;
const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// How long an issued token publishes, as on crates.io.
pub const LIFETIME_SECS: i64 = 30 * 60;

/// A fresh token.
pub fn generate() -> String {
    let mut rng = rand::rng();
    let raw: String = (0..RAW_LEN)
        .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
        .collect();
    let check = checksum(raw.as_bytes());
    format!("{PREFIX}{raw}{check}")
}

/// Whether `token` claims to be a trusted-publishing token (well-formed or not).
pub fn is_trusted(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// Whether `token` is a well-formed trusted-publishing token (its checksum included).
pub fn is_well_formed(token: &str) -> bool {
    let Some(rest) = token.strip_prefix(PREFIX) else {
        return false;
    };
    if rest.len() != RAW_LEN + 1 || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (raw, check) = rest.split_at(RAW_LEN);
    check.starts_with(checksum(raw.as_bytes()))
}

pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// One character derived from the random part: catches typos, not forgeries.
fn checksum(raw: &[u8]) -> char {
    let digest = Sha256::digest(raw);
    char::from(ALPHABET[usize::from(digest[0]) % ALPHABET.len()])
}

/// The token in `Authorization` (raw, or after `Bearer `), as the publish endpoint reads it.
pub fn presented(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => Some(rest.trim()),
        _ => Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_well_formed_and_typos_are_caught() {
        let t = generate();
        assert!(t.starts_with(PREFIX) && t.len() == PREFIX.len() + RAW_LEN + 1);
        assert!(t.bytes().all(|b| b.is_ascii_graphic()));
        assert!(is_well_formed(&t));
        assert!(is_trusted(&t));
        assert!(!is_well_formed(&t[..t.len() - 1]));
        // Changing one random character changes the checksum most of the time; changing the
        // checksum character itself always breaks it.
        let mut bad = t.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        assert!(!is_well_formed(std::str::from_utf8(&bad).unwrap()));
        assert!(!is_trusted("gtyABC") && !is_well_formed("gty_tp_short"));
        assert_ne!(hash(&t), hash(&generate()));
    }
}
