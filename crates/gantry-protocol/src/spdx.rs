//! A small SPDX license-expression parser with a built-in identifier list (no network).
//!
//! Parsing is lax the way crates.io's is: operators in any case, `/` as `OR`, identifiers matched
//! case-insensitively, `+` suffix, parentheses, `WITH <exception>` and `LicenseRef-…`.

const LICENSE_IDS: &[&str] = &[
    "0BSD",
    "AAL",
    "AFL-1.1",
    "AFL-1.2",
    "AFL-2.0",
    "AFL-2.1",
    "AFL-3.0",
    "AGPL-1.0",
    "AGPL-1.0-only",
    "AGPL-1.0-or-later",
    "AGPL-3.0",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "Apache-1.0",
    "Apache-1.1",
    "Apache-2.0",
    "APSL-2.0",
    "Artistic-1.0",
    "Artistic-2.0",
    "BlueOak-1.0.0",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-2-Clause-Patent",
    "BSD-3-Clause",
    "BSD-3-Clause-Clear",
    "BSD-4-Clause",
    "BSL-1.0",
    "BUSL-1.1",
    "CAL-1.0",
    "CC-BY-1.0",
    "CC-BY-2.0",
    "CC-BY-3.0",
    "CC-BY-4.0",
    "CC-BY-SA-3.0",
    "CC-BY-SA-4.0",
    "CC-BY-NC-4.0",
    "CC-BY-NC-SA-4.0",
    "CC-BY-ND-4.0",
    "CC0-1.0",
    "CDDL-1.0",
    "CDDL-1.1",
    "CECILL-2.1",
    "CECILL-B",
    "CECILL-C",
    "CPAL-1.0",
    "CPL-1.0",
    "ECL-2.0",
    "EFL-2.0",
    "EPL-1.0",
    "EPL-2.0",
    "EUPL-1.1",
    "EUPL-1.2",
    "GFDL-1.3",
    "GFDL-1.3-only",
    "GFDL-1.3-or-later",
    "GPL-1.0",
    "GPL-1.0-only",
    "GPL-1.0-or-later",
    "GPL-2.0",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "HPND",
    "ICU",
    "IJG",
    "IPL-1.0",
    "ISC",
    "LGPL-2.0",
    "LGPL-2.0-only",
    "LGPL-2.0-or-later",
    "LGPL-2.1",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "Libpng",
    "libpng-2.0",
    "LPPL-1.3c",
    "MIT",
    "MIT-0",
    "MIT-CMU",
    "MirOS",
    "MPL-1.0",
    "MPL-1.1",
    "MPL-2.0",
    "MPL-2.0-no-copyleft-exception",
    "MS-PL",
    "MS-RL",
    "MulanPSL-2.0",
    "NCSA",
    "ODbL-1.0",
    "OFL-1.1",
    "OpenSSL",
    "OSL-3.0",
    "PHP-3.01",
    "PostgreSQL",
    "PSF-2.0",
    "Python-2.0",
    "Qhull",
    "RPL-1.5",
    "Ruby",
    "SGI-B-2.0",
    "SSPL-1.0",
    "Sleepycat",
    "Unicode-3.0",
    "Unicode-DFS-2015",
    "Unicode-DFS-2016",
    "Unlicense",
    "UPL-1.0",
    "Vim",
    "W3C",
    "WTFPL",
    "X11",
    "Xnet",
    "Zlib",
    "zlib-acknowledgement",
    "ZPL-2.0",
    "ZPL-2.1",
];

const EXCEPTION_IDS: &[&str] = &[
    "LLVM-exception",
    "Classpath-exception-2.0",
    "GCC-exception-2.0",
    "GCC-exception-3.1",
    "Autoconf-exception-3.0",
    "Bison-exception-2.2",
    "Font-exception-2.0",
    "OpenJDK-assembly-exception-1.0",
    "Qt-LGPL-exception-1.1",
    "WxWindows-exception-3.1",
    "u-boot-exception-2.0",
    "Swift-exception",
];

fn known(list: &[&str], id: &str) -> bool {
    list.iter().any(|l| l.eq_ignore_ascii_case(id))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    With,
    Id(String),
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Tok>| {
        if !word.is_empty() {
            let w = std::mem::take(word);
            out.push(match w.to_ascii_uppercase().as_str() {
                "AND" => Tok::And,
                "OR" => Tok::Or,
                "WITH" => Tok::With,
                _ => Tok::Id(w),
            });
        }
    };
    for c in s.chars() {
        match c {
            '(' | ')' | '/' => {
                flush(&mut word, &mut out);
                out.push(match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    _ => Tok::Or,
                });
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '+' | ':') => word.push(c),
            _ => return None,
        }
    }
    flush(&mut word, &mut out);
    Some(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    // or := and (OR and)*
    fn or(&mut self, depth: u32) -> bool {
        if depth > 64 || !self.and(depth) {
            return false;
        }
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            if !self.and(depth) {
                return false;
            }
        }
        true
    }

    // and := atom (AND atom)*
    fn and(&mut self, depth: u32) -> bool {
        if !self.atom(depth) {
            return false;
        }
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            if !self.atom(depth) {
                return false;
            }
        }
        true
    }

    // atom := '(' or ')' | license [WITH exception]
    fn atom(&mut self, depth: u32) -> bool {
        match self.next() {
            Some(Tok::Open) => self.or(depth + 1) && self.next() == Some(Tok::Close),
            Some(Tok::Id(id)) => {
                let base = id.strip_suffix('+').unwrap_or(&id);
                let ok = known(LICENSE_IDS, base)
                    || (id.starts_with("LicenseRef-") && id.len() > "LicenseRef-".len());
                if !ok {
                    return false;
                }
                if self.peek() == Some(&Tok::With) {
                    self.pos += 1;
                    return matches!(self.next(), Some(Tok::Id(e)) if known(EXCEPTION_IDS, &e));
                }
                true
            }
            _ => false,
        }
    }
}

/// Whether `expr` is a valid SPDX license expression made of known identifiers.
pub fn is_valid_license_expression(expr: &str) -> bool {
    let Some(toks) = tokenize(expr) else {
        return false;
    };
    if toks.is_empty() {
        return false;
    }
    let mut p = Parser { toks, pos: 0 };
    p.or(0) && p.pos == p.toks.len()
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
            "mit or apache-2.0",
            "(MIT OR Apache-2.0) AND BSD-3-Clause",
            "Apache-2.0 WITH LLVM-exception",
            "GPL-2.0+",
            "LicenseRef-Proprietary",
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
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }
}
