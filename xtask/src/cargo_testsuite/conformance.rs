//! `crates/cargo-gantry/CONFORMANCE.md`: the tests of cargo's suite that `cargo gantry` is allowed
//! to fail, one table row each (`` | `module::test` | reason | ``). The harness holds the run
//! against it both ways: a failure missing from the file and an entry whose test now passes are
//! both reported.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

pub(super) const PATH: &str = "crates/cargo-gantry/CONFORMANCE.md";

/// Test name → reason.
pub(super) fn read(repo: &Path) -> Result<BTreeMap<String, String>, String> {
    let path = repo.join(PATH);
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut entries = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let Some(row) = line.trim().strip_prefix('|') else {
            continue;
        };
        let mut cells = row.split('|').map(str::trim);
        let first = cells.next().unwrap_or_default();
        let Some(name) = first.strip_prefix('`').and_then(|c| c.strip_suffix('`')) else {
            // The header and the `---` separator.
            continue;
        };
        let reason = cells.next().unwrap_or_default();
        if reason.is_empty() {
            return Err(format!(
                "line {}: `{name}` has no reason; say why gantry deliberately differs",
                n + 1
            ));
        }
        if entries.insert(name.to_owned(), reason.to_owned()).is_some() {
            return Err(format!("line {}: `{name}` is listed twice", n + 1));
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_and_checked() {
        let text = "# t\n\n| Test | Reason |\n| --- | --- |\n\
                    | `publish::git_index` | waiting for git index support |\n";
        let got = parse(text).unwrap();
        assert_eq!(got["publish::git_index"], "waiting for git index support");
        assert!(parse("| `a::b` |  |\n").unwrap_err().contains("no reason"));
        assert!(
            parse("| `a::b` | x |\n| `a::b` | y |\n")
                .unwrap_err()
                .contains("twice")
        );
        assert!(parse("| Test | Reason |\n|---|---|\n").unwrap().is_empty());
    }
}
