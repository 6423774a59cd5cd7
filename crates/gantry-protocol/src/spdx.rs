//! The `license` rule: an SPDX license expression, parsed by the `spdx` crate with the leniencies
//! crates.io allows and no others. Accepted: `/` as a synonym of `OR`, a `+` after GPL
//! identifiers, deprecated identifiers (old crates use them). Refused: unknown or imprecise
//! identifiers (`Apache2`, `MIT license`), and operators in lower case (`MIT or Apache-2.0`) —
//! the `spdx` crate itself would take those, so they are refused here first.

const PARSE_MODE: ::spdx::ParseMode = ::spdx::ParseMode {
    allow_slash_as_or_operator: true,
    allow_imprecise_license_names: false,
    allow_postfix_plus_on_gpl: true,
    allow_deprecated: true,
    allow_unknown: false,
};

/// Whether `expr` uses an operator word in lower case (`and`, `or`, `with`).
fn has_lower_case_operator(expr: &str) -> bool {
    expr.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '/'))
        .any(|word| matches!(word, "and" | "or" | "with"))
}

/// Whether `expr` is a valid SPDX license expression under crates.io's rules.
pub fn is_valid_license_expression(expr: &str) -> bool {
    !has_lower_case_operator(expr) && ::spdx::Expression::parse_mode(expr, PARSE_MODE).is_ok()
}

#[cfg(test)]
mod tests {
    use super::is_valid_license_expression as ok;

    #[test]
    fn expressions() {
        for good in [
            "MIT",
            "MIT OR Apache-2.0",
            "MIT/Apache-2.0",
            "MIT / Apache-2.0",
            "(MIT OR Apache-2.0) AND BSD-3-Clause",
            "Apache-2.0 WITH LLVM-exception",
            "GPL-2.0+",
            "GPL-3.0-or-later",
            "LGPL-2.1-only OR MPL-2.0",
            "LicenseRef-Proprietary",
            // Identifiers far down the SPDX list, absent from the old hand-written one.
            "Zlib OR Unicode-3.0",
            "CERN-OHL-S-2.0",
            "Unlicense",
        ] {
            assert!(ok(good), "{good}");
        }
        for bad in [
            "",
            "Foo",
            "MIT OR",
            "(MIT",
            "MIT)",
            "MIT AND AND ISC",
            "MIT WITH Foo",
            "MIT; rm",
            // Lower-case operators and imprecise names: crates.io refuses them.
            "mit or apache-2.0",
            "MIT or Apache-2.0",
            "MIT and Apache-2.0",
            "Apache-2.0 with LLVM-exception",
            "Apache2",
            "MIT license",
            "GPLv3",
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }
}
