//! [`Checksum`]: the SHA-256 of a `.crate` file as the index and lockfiles write it (`cksum`,
//! `checksum`): 64 lowercase hexadecimal characters.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Characters in a SHA-256 digest written in hex.
pub const CHECKSUM_LEN: usize = 64;

/// A `.crate` file's SHA-256, held as the lowercase hex string it travels as.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Checksum(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumError {
    #[error(
        "invalid checksum `{shown}`: expected {CHECKSUM_LEN} lowercase hexadecimal characters (a SHA-256 digest), found {len}"
    )]
    Length { shown: String, len: usize },
    #[error(
        "invalid checksum `{shown}`: `{ch}` at position {at} is not a lowercase hexadecimal digit (0-9, a-f)"
    )]
    Char { shown: String, ch: char, at: usize },
}

/// The value as an error shows it: whole when it is checksum-sized, cut short otherwise (a
/// malformed value can come from the network at any length).
fn shown(s: &str) -> String {
    match s.char_indices().nth(CHECKSUM_LEN) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

impl Checksum {
    /// Parses the hex form. Upper-case is refused rather than folded: the index is compared
    /// byte-for-byte by cargo, so a different spelling would be a different checksum on the wire.
    pub fn parse(s: &str) -> Result<Self, ChecksumError> {
        if let Some((at, ch)) = s
            .chars()
            .enumerate()
            .find(|(_, c)| !matches!(c, '0'..='9' | 'a'..='f'))
        {
            return Err(ChecksumError::Char {
                shown: shown(s),
                ch,
                at,
            });
        }
        if s.len() != CHECKSUM_LEN {
            return Err(ChecksumError::Length {
                shown: shown(s),
                len: s.len(),
            });
        }
        Ok(Checksum(s.to_owned()))
    }

    /// The checksum of a digest just computed (`Sha256::digest(bytes).into()`).
    pub fn from_digest(digest: [u8; 32]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(CHECKSUM_LEN);
        for b in digest {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        Checksum(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Checksum {
    type Err = ChecksumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Checksum::parse(s)
    }
}

impl AsRef<str> for Checksum {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<Checksum> for String {
    fn from(c: Checksum) -> String {
        c.0
    }
}

impl PartialEq<str> for Checksum {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Checksum {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Checksum {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<Checksum> for String {
    fn eq(&self, other: &Checksum) -> bool {
        *self == other.0
    }
}

impl Serialize for Checksum {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Checksum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Checksum::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sha256 of the empty input.
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_lowercase_hex_of_the_right_length() {
        let c = Checksum::parse(EMPTY).unwrap();
        assert_eq!(c.as_str(), EMPTY);
        assert_eq!(c.to_string(), EMPTY);
        assert_eq!(EMPTY.parse::<Checksum>().unwrap(), c);
        assert_eq!(c, EMPTY);
        assert_eq!(EMPTY.to_owned(), c);
    }

    #[test]
    fn from_digest_is_lowercase_hex() {
        let mut d = [0u8; 32];
        d[0] = 0xab;
        d[31] = 0x0f;
        let c = Checksum::from_digest(d);
        assert_eq!(c.as_str(), format!("ab{}0f", "0".repeat(60)));
        assert_eq!(Checksum::parse(c.as_str()).unwrap(), c);
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let e = |s: &str| Checksum::parse(s).unwrap_err().to_string();
        assert_eq!(
            e("ab12"),
            "invalid checksum `ab12`: expected 64 lowercase hexadecimal characters (a SHA-256 digest), found 4"
        );
        assert_eq!(
            e(""),
            "invalid checksum ``: expected 64 lowercase hexadecimal characters (a SHA-256 digest), found 0"
        );
        assert_eq!(
            e(&EMPTY.to_uppercase()),
            format!(
                "invalid checksum `{}`: `E` at position 0 is not a lowercase hexadecimal digit (0-9, a-f)",
                EMPTY.to_uppercase()
            )
        );
        assert!(e(&format!("{EMPTY}0")).ends_with("found 65"));
        assert!(e(&format!("{}g", &EMPTY[..63])).contains("`g` at position 63"));
        assert!(e("é").contains("`é` at position 0"));
        // A long value is cut short in the message.
        let long = "0".repeat(10_000);
        assert!(e(&long).starts_with(&format!("invalid checksum `{}…`", "0".repeat(64))));
    }

    #[test]
    fn serde_is_the_bare_hex_string() {
        let c = Checksum::parse(EMPTY).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, format!("\"{EMPTY}\""));
        assert_eq!(serde_json::from_str::<Checksum>(&json).unwrap(), c);
        let err = serde_json::from_str::<Checksum>("\"zz\"").unwrap_err();
        assert!(
            err.to_string().starts_with("invalid checksum `zz`"),
            "{err}"
        );
        assert!(serde_json::from_str::<Checksum>("12").is_err());
    }
}
