//! Crate names: crates.io's syntax rules, reserved names and the canonical form used for collisions,
//! and [`CrateName`], a name that has passed them.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// crates.io's limit on crate name length.
pub const MAX_NAME_LENGTH: usize = 64;

/// Names crates.io seeds into `reserved_crate_names` (compared in canonical form).
const RESERVED_NAMES: &[&str] = &[
    "alloc",
    "arena",
    "ast",
    "builtins",
    "collections",
    "compiler-builtins",
    "compiler-rt",
    "compiletest",
    "core",
    "coretest",
    "debug",
    "driver",
    "flate",
    "fmt_macros",
    "grammar",
    "graphviz",
    "macro",
    "macros",
    "proc_macro",
    "rbml",
    "rust-installer",
    "rustbook",
    "rustc",
    "rustc_back",
    "rustc_borrowck",
    "rustc_driver",
    "rustc_llvm",
    "rustc_resolve",
    "rustc_trans",
    "rustc_typeck",
    "rustdoc",
    "rustllvm",
    "rustuv",
    "serialize",
    "std",
    "syntax",
    "test",
    "unicode",
    "nul",
    "con",
    "prn",
    "aux",
    "com0",
    "com1",
    "com2",
    "com3",
    "com4",
    "com5",
    "com6",
    "com7",
    "com8",
    "com9",
    "lpt0",
    "lpt1",
    "lpt2",
    "lpt3",
    "lpt4",
    "lpt5",
    "lpt6",
    "lpt7",
    "lpt8",
    "lpt9",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{what} cannot be empty")]
    Empty { what: &'static str },
    #[error("the {what} `{name}` is too long (max {MAX_NAME_LENGTH} characters)")]
    TooLong { what: &'static str, name: String },
    #[error("the name `{name}` cannot be used as a {what}, the name cannot start with a digit")]
    StartsWithDigit { what: &'static str, name: String },
    #[error(
        "invalid character `{ch}` in {what}: `{name}`, the first character must be an ASCII character{extra}"
    )]
    InvalidStart {
        what: &'static str,
        name: String,
        ch: char,
        extra: &'static str,
    },
    #[error(
        "invalid character `{ch}` in {what}: `{name}`, characters must be an ASCII alphanumeric characters, `-`, or `_`"
    )]
    InvalidChar {
        what: &'static str,
        name: String,
        ch: char,
    },
    #[error("cannot upload a crate with a reserved name")]
    Reserved,
}

/// `replace(lower(name), '-', '_')`: two names with the same canonical form are the same crate.
pub fn canonical_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

/// Whether crates.io reserves this name (any spelling that canonicalises to a reserved one).
pub fn is_reserved_name(name: &str) -> bool {
    let canon = canonical_name(name);
    RESERVED_NAMES.iter().any(|r| canonical_name(r) == canon)
}

fn check(name: &str, what: &'static str, allow_leading_underscore: bool) -> Result<(), NameError> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(NameError::Empty { what });
    };
    if name.chars().count() > MAX_NAME_LENGTH {
        return Err(NameError::TooLong {
            what,
            name: name.to_owned(),
        });
    }
    if first.is_ascii_digit() {
        return Err(NameError::StartsWithDigit {
            what,
            name: name.to_owned(),
        });
    }
    if !(first.is_ascii_alphabetic() || (allow_leading_underscore && first == '_')) {
        let extra = if allow_leading_underscore {
            ", or `_`"
        } else {
            ""
        };
        return Err(NameError::InvalidStart {
            what,
            name: name.to_owned(),
            ch: first,
            extra,
        });
    }
    if let Some(ch) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        return Err(NameError::InvalidChar {
            what,
            name: name.to_owned(),
            ch,
        });
    }
    Ok(())
}

/// Syntax of a crate name being published (reserved names are checked separately, on new crates).
pub fn validate_crate_name(name: &str) -> Result<CrateName, NameError> {
    CrateName::new(name)
}

/// Syntax of a dependency's name: like a crate name, but a leading `_` is allowed.
pub fn validate_dependency_name(name: &str) -> Result<(), NameError> {
    check(name, "dependency name", true)
}

/// A crate name with crates.io's syntax ([`validate_crate_name`]'s rules), spelt as its author
/// spelt it. Equality is by spelling: `Foo-Bar` and `foo_bar` are different names of the same crate,
/// which [`CrateName::canonical`] tells. Reserved names are not refused here: that rule applies
/// only to new crates, and is [`CrateName::is_reserved`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CrateName(String);

impl CrateName {
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        check(&name, "crate name", false)?;
        Ok(CrateName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The form crates.io compares names in: lower-case, `-` as `_` ([`canonical_name`]).
    pub fn canonical(&self) -> String {
        canonical_name(&self.0)
    }

    /// The crate's index file, relative to the index root ([`crate::index_path`]).
    pub fn index_path(&self) -> String {
        crate::index::index_path(&self.0)
    }

    /// Whether crates.io refuses this name for a new crate ([`is_reserved_name`]).
    pub fn is_reserved(&self) -> bool {
        is_reserved_name(&self.0)
    }
}

impl fmt::Display for CrateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CrateName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CrateName::new(s)
    }
}

impl AsRef<str> for CrateName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Consistent with `Eq`/`Hash`: both are the exact spelling, as `String`'s are.
impl Borrow<str> for CrateName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<CrateName> for String {
    fn from(n: CrateName) -> String {
        n.0
    }
}

impl PartialEq<str> for CrateName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for CrateName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for CrateName {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl Serialize for CrateName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Validates: a name read from outside is checked where it is read.
impl<'de> Deserialize<'de> for CrateName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CrateName::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        let e = |n| validate_crate_name(n).unwrap_err().to_string();
        assert_eq!(e(""), "crate name cannot be empty");
        assert_eq!(
            e("1abc"),
            "the name `1abc` cannot be used as a crate name, the name cannot start with a digit"
        );
        assert_eq!(
            e("_abc"),
            "invalid character `_` in crate name: `_abc`, the first character must be an ASCII character"
        );
        assert_eq!(
            e("ab/cd"),
            "invalid character `/` in crate name: `ab/cd`, characters must be an ASCII alphanumeric characters, `-`, or `_`"
        );
        assert_eq!(
            e(&"a".repeat(65)),
            format!(
                "the crate name `{}` is too long (max 64 characters)",
                "a".repeat(65)
            )
        );
        assert!(validate_crate_name(&"a".repeat(64)).is_ok());
        assert!(validate_dependency_name("_abc").is_ok());
    }

    #[test]
    fn canonical_and_reserved() {
        assert_eq!(canonical_name("Foo-Bar"), "foo_bar");
        assert!(is_reserved_name("NUL"));
        assert!(is_reserved_name("proc-macro"));
        assert!(is_reserved_name("compiler_builtins"));
        assert!(!is_reserved_name("serde"));
    }

    #[test]
    fn crate_name_follows_the_crates_io_rules() {
        for ok in [
            "a",
            "serde",
            "Serde_json",
            "foo-bar",
            "a1",
            "x_-_y",
            &"a".repeat(64),
        ] {
            let n = CrateName::new(ok).unwrap();
            assert_eq!(n.as_str(), ok);
            assert_eq!(n.to_string(), ok);
            assert_eq!(ok.parse::<CrateName>().unwrap(), n);
        }
        for bad in [
            "", "1abc", "_abc", "-abc", "ab/cd", "ab cd", "ab.cd", "é", "aé", "a+b",
        ] {
            let e = CrateName::new(bad).unwrap_err();
            assert_eq!(Err(e.clone()), validate_crate_name(bad).map(|_| ()));
            assert_eq!(bad.parse::<CrateName>().unwrap_err(), e);
        }
        assert!(CrateName::new("a".repeat(65)).is_err());
        // Reserved names are valid syntax; whether one may be registered is the caller's rule.
        assert!(CrateName::new("std").unwrap().is_reserved());
        assert!(!CrateName::new("serde").unwrap().is_reserved());
    }

    #[test]
    fn crate_name_canonical_and_index_path() {
        let n = CrateName::new("Foo-Bar").unwrap();
        assert_eq!(n.canonical(), "foo_bar");
        assert_eq!(n.index_path(), "fo/o-/foo-bar");
        assert_eq!(CrateName::new("AB").unwrap().index_path(), "2/ab");
        // Equality is by spelling; the canonical form tells collisions.
        let m = CrateName::new("foo_bar").unwrap();
        assert_ne!(n, m);
        assert_eq!(n.canonical(), m.canonical());
        let set: std::collections::HashSet<CrateName> = [n.clone()].into();
        assert!(set.contains("Foo-Bar"));
        assert!(!set.contains("foo_bar"));
    }

    #[test]
    fn crate_name_serde_is_the_bare_string_and_validates() {
        let n = CrateName::new("Foo-Bar").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), r#""Foo-Bar""#);
        assert_eq!(
            serde_json::from_str::<CrateName>(r#""Foo-Bar""#).unwrap(),
            n
        );
        let err = serde_json::from_str::<CrateName>(r#""1abc""#).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "the name `1abc` cannot be used as a crate name, the name cannot start with a digit"
            ),
            "{err}"
        );
        assert!(serde_json::from_str::<CrateName>("7").is_err());
    }
}
