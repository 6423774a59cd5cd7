//! [`RegistryName`]: the `NAME` of `[registries.NAME]`, `--registry NAME` and
//! `CARGO_REGISTRIES_NAME_TOKEN`, checked by cargo's rules and refused in cargo's words.
//!
//! Cargo checks a registry name like a package name with Unicode allowed: not empty, not starting
//! with a digit, a Unicode XID start character or `_` first, then XID continue characters or `-`.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A registry name cargo accepts. `crates-io` is one too: the name cargo gives crates.io.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistryName(String);

/// Cargo's refusals, word for word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryNameError {
    #[error("registry name cannot be empty")]
    Empty,
    #[error("invalid character `{ch}` in registry name: `{name}`, {}", .reason.text())]
    InvalidCharacter {
        ch: char,
        name: String,
        reason: InvalidReason,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidReason {
    StartsWithDigit,
    BadStart,
    BadChar,
}

impl InvalidReason {
    fn text(self) -> &'static str {
        match self {
            InvalidReason::StartsWithDigit => "the name cannot start with a digit",
            InvalidReason::BadStart => {
                "the first character must be a Unicode XID start character (most letters or `_`)"
            }
            InvalidReason::BadChar => {
                "characters must be Unicode XID characters (numbers, `-`, `_`, or most letters)"
            }
        }
    }
}

fn check(name: &str) -> Result<(), RegistryNameError> {
    let refuse = |ch, reason| RegistryNameError::InvalidCharacter {
        ch,
        name: name.to_owned(),
        reason,
    };
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(RegistryNameError::Empty);
    };
    if first.is_ascii_digit() {
        return Err(refuse(first, InvalidReason::StartsWithDigit));
    }
    if !(unicode_ident::is_xid_start(first) || first == '_') {
        return Err(refuse(first, InvalidReason::BadStart));
    }
    match chars.find(|&c| !(unicode_ident::is_xid_continue(c) || c == '-')) {
        Some(c) => Err(refuse(c, InvalidReason::BadChar)),
        None => Ok(()),
    }
}

impl RegistryName {
    pub fn new(name: impl Into<String>) -> Result<Self, RegistryNameError> {
        let name = name.into();
        check(&name)?;
        Ok(RegistryName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether this is crates.io's name, `crates-io`.
    pub fn is_crates_io(&self) -> bool {
        self.0 == crate::crates_io::REGISTRY_NAME
    }
}

impl fmt::Display for RegistryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RegistryName {
    type Err = RegistryNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RegistryName::new(s)
    }
}

impl AsRef<str> for RegistryName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Consistent with `Eq`/`Hash`: both are the exact spelling, as `String`'s are.
impl Borrow<str> for RegistryName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<RegistryName> for String {
    fn from(n: RegistryName) -> String {
        n.0
    }
}

impl PartialEq<str> for RegistryName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RegistryName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl Serialize for RegistryName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RegistryName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RegistryName::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_cargo_accepts() {
        for ok in [
            "crates-io",
            "my-registry",
            "my_registry",
            "_private",
            "Alt2",
            "a-",
            "a--b",
            "übung",
            "レジストリ",
            "x\u{0301}",
        ] {
            let n = RegistryName::new(ok).unwrap();
            assert_eq!(n.as_str(), ok);
            assert_eq!(n.to_string(), ok);
        }
        assert!(RegistryName::new("crates-io").unwrap().is_crates_io());
        assert!(!RegistryName::new("crates_io").unwrap().is_crates_io());
    }

    #[test]
    fn refuses_in_cargos_words() {
        let e = |s: &str| RegistryName::new(s).unwrap_err().to_string();
        assert_eq!(e(""), "registry name cannot be empty");
        assert_eq!(
            e("1st"),
            "invalid character `1` in registry name: `1st`, the name cannot start with a digit"
        );
        assert_eq!(
            e("-alt"),
            "invalid character `-` in registry name: `-alt`, the first character must be a Unicode XID start character (most letters or `_`)"
        );
        assert_eq!(
            e("my.registry"),
            "invalid character `.` in registry name: `my.registry`, characters must be Unicode XID characters (numbers, `-`, `_`, or most letters)"
        );
        for bad in ["a b", "a/b", "a+b", "a:b", "\u{0301}x", "a@b", "a\u{200b}"] {
            assert!(RegistryName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_is_the_bare_string() {
        let n = RegistryName::new("my-registry").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), r#""my-registry""#);
        assert_eq!(
            serde_json::from_str::<RegistryName>(r#""my-registry""#).unwrap(),
            n
        );
        assert!(serde_json::from_str::<RegistryName>(r#""my registry""#).is_err());
    }
}
