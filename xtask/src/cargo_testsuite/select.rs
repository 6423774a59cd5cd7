//! Which of the suite's ~4000 tests are worth running: a cheap reading of `tests/testsuite/**.rs`
//! picks the tests that may run `cargo package|publish|login|logout|yank|owner`. It errs on the
//! generous side; the shim's log of the baseline run then says which tests really ran one.
//!
//! A test is a candidate when its text (from its `#[cargo_test]` to the next one) names one of the
//! six commands as the start of a string literal (`p.cargo("publish --no-verify")`,
//! `cargo_process("login")`, `.arg("owner")`), or calls a function of the same file whose text
//! does. Whole files named for a command (`publish.rs`, `cargo_yank/…`) are candidates too.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use super::shim::GANTRY_COMMANDS;

/// Modules that are about the six commands as a whole: every test in them is a candidate.
const PUBLISHING_MODULES: &[&str] = &[
    "package",
    "publish",
    "publish_lockfile",
    "login",
    "logout",
    "yank",
    "owner",
    "credential_process",
    "registry_auth",
    "cross_publish",
    "package_message_format",
    "cargo_package",
    "cargo_publish",
    "cargo_login",
    "cargo_logout",
    "cargo_yank",
    "cargo_owner",
];

/// The candidates among `all` (the test binary's `--list`), read from the suite's sources.
pub(super) fn candidates(
    testsuite: &Path,
    all: &BTreeSet<String>,
) -> Result<BTreeSet<String>, String> {
    let mut by_module: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for name in all {
        if let Some((module, _)) = name.rsplit_once("::") {
            by_module.entry(module.to_owned()).or_default().push(name);
        }
    }
    let mut picked = BTreeSet::new();
    for (rel, text) in sources(testsuite)? {
        let module = module_path(&rel);
        let whole = PUBLISHING_MODULES.contains(&module.split("::").next().unwrap_or_default());
        let chosen = if whole {
            None
        } else {
            Some(tests_naming_commands(&text))
        };
        // Tests of this file, including any in inline `mod` blocks below it.
        let nested = format!("{module}::");
        let own = by_module
            .iter()
            .filter(|(m, _)| **m == module || m.starts_with(&nested));
        for (_, names) in own {
            for name in names {
                let func = name.rsplit("::").next().unwrap_or_default();
                if chosen.as_ref().is_none_or(|c| c.contains(func)) {
                    picked.insert((*name).clone());
                }
            }
        }
    }
    Ok(picked)
}

/// `publish.rs` → `publish`; `cargo_add/dev/mod.rs` → `cargo_add::dev`.
fn module_path(rel: &str) -> String {
    let trimmed = rel.trim_end_matches(".rs");
    let trimmed = trimmed.strip_suffix("/mod").unwrap_or(trimmed);
    trimmed.replace('/', "::")
}

/// Every `.rs` file below `dir`, with its path relative to it (`/`-separated).
fn sources(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))? {
            let path = entry.map_err(|e| format!("{}: {e}", d.display()))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text =
                    fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                out.push((rel.to_string_lossy().replace('\\', "/"), text));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Names of the `#[cargo_test]` functions in `text` that may run one of the commands.
fn tests_naming_commands(text: &str) -> BTreeSet<String> {
    let helpers: Vec<String> = fn_chunks(text)
        .filter(|(_, chunk)| names_command(chunk))
        .map(|(name, _)| name)
        .collect();
    let mut tests = BTreeSet::new();
    for chunk in text.split("#[cargo_test").skip(1) {
        let Some(name) = first_fn_name(chunk) else {
            continue;
        };
        let calls_helper = helpers
            .iter()
            .any(|h| h != &name && chunk.contains(&format!("{h}(")));
        if names_command(chunk) || calls_helper {
            tests.insert(name);
        }
    }
    tests
}

/// `(name, text up to the next fn)` for every `fn` in the file.
fn fn_chunks(text: &str) -> impl Iterator<Item = (String, &str)> {
    text.split("fn ")
        .skip(1)
        .filter_map(|chunk| Some((ident_prefix(chunk)?, chunk)))
}

fn first_fn_name(chunk: &str) -> Option<String> {
    let at = chunk.find("fn ")?;
    ident_prefix(&chunk[at + 3..])
}

fn ident_prefix(s: &str) -> Option<String> {
    let name: String = s
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// A string literal that reads as a command line running one of the commands: its first word that
/// is not an option (`-v`, `-Zfoo`, `--config=…`) is the command. Every stretch between two quotes
/// is tried, so a quote inside a raw string cannot hide one; extra matches only cost a baseline run.
fn names_command(text: &str) -> bool {
    text.split('"').skip(1).any(|literal| {
        literal
            .split_whitespace()
            .find(|w| !w.starts_with('-'))
            .is_some_and(|w| GANTRY_COMMANDS.contains(&w))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tests_are_picked_by_their_commands_and_helpers() {
        let text = r#"
fn publish_it(p: &Project) { p.cargo("publish --no-verify").run(); }
fn unrelated() { let s = "packages"; }

#[cargo_test]
fn direct() { p.cargo("package -l").run(); }

#[cargo_test(nightly, reason = "x")]
fn via_helper() { publish_it(&p); }

#[cargo_test]
fn builds_only() { p.cargo("build").run(); unrelated(); }

#[cargo_test]
fn ui() { snapbox::cmd::Command::cargo_ui().arg("owner").arg("--help"); }

#[cargo_test]
fn unstable() { p.cargo("-Zbuild-dir-new-layout publish").run(); }

#[cargo_test]
fn words() { p.cargo("build").with_stderr("packaged the package").run(); }
"#;
        let got = tests_naming_commands(text);
        let want: BTreeSet<String> = ["direct", "via_helper", "ui", "unstable"]
            .map(String::from)
            .into();
        assert_eq!(got, want);
    }

    #[test]
    fn module_paths_follow_the_file_layout() {
        assert_eq!(module_path("publish.rs"), "publish");
        assert_eq!(module_path("cargo_add/dev/mod.rs"), "cargo_add::dev");
        assert_eq!(module_path("script/cargo.rs"), "script::cargo");
    }

    #[test]
    fn whole_publishing_modules_and_picked_tests_of_others() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("cargo_yank/help")).unwrap();
        fs::write(
            dir.path().join("cargo_yank/help/mod.rs"),
            "#[cargo_test]\nfn case() {}\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("git.rs"),
            "#[cargo_test]\nfn a() { p.cargo(\"publish\"); }\n#[cargo_test]\nfn b() {}\n",
        )
        .unwrap();
        let all: BTreeSet<String> = ["cargo_yank::help::case", "git::a", "git::b", "other::c"]
            .map(String::from)
            .into();
        let got = candidates(dir.path(), &all).unwrap();
        let want: BTreeSet<String> = ["cargo_yank::help::case", "git::a"]
            .map(String::from)
            .into();
        assert_eq!(got, want);
    }
}
