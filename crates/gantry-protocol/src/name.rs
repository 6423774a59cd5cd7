//! Crate names: crates.io's syntax rules, reserved names and the canonical form used for collisions.

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
pub fn validate_crate_name(name: &str) -> Result<(), NameError> {
    check(name, "crate name", false)
}

/// Syntax of a dependency's name: like a crate name, but a leading `_` is allowed.
pub fn validate_dependency_name(name: &str) -> Result<(), NameError> {
    check(name, "dependency name", true)
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
}
