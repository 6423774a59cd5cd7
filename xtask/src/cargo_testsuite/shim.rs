//! The "cargo" that cargo's test suite spawns. cargo-test-support runs
//! `env!("CARGO_BIN_EXE_cargo")` — the `cargo` binary of the suite's own build, its path baked into
//! the test binary — so a small POSIX shell script is written over that file. It sends the six
//! publishing commands to `cargo-gantry gantry …` and everything else to the real cargo, and logs
//! every call so each test's commands (and any use of nightly features) can be told apart.
//!
//! A shell script rather than a compiled binary: it needs no build, is readable in place, and its
//! start-up (a few hundred microseconds) disappears next to the cargo process it execs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// What `cargo gantry` replaces.
pub(super) const GANTRY_COMMANDS: [&str; 6] =
    ["package", "publish", "login", "logout", "yank", "owner"];

/// Bumped when the script's behaviour or log format changes (part of the baseline cache key).
pub(super) const SHIM_VERSION: u32 = 1;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Mode {
    /// Everything goes to the real cargo: the baseline.
    Cargo,
    /// The six publishing commands go to cargo-gantry.
    Gantry,
}

pub(super) struct ShimPaths<'a> {
    pub real_cargo: &'a Path,
    pub gantry: &'a Path,
    pub log: &'a Path,
}

/// Writes the shim over `at` (atomically, so a half-written script is never run).
pub(super) fn install(at: &Path, mode: Mode, paths: &ShimPaths) -> Result<(), String> {
    let script = script(mode, paths)?;
    let tmp = at.with_extension("shim-tmp");
    fs::write(&tmp, script).map_err(|e| format!("{}: {e}", tmp.display()))?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    fs::rename(&tmp, at).map_err(|e| format!("{}: {e}", at.display()))
}

fn quoted(p: &Path) -> Result<String, String> {
    let s = p
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", p.display()))?;
    if s.contains('\'') {
        return Err(format!(
            "{s}: a path with a single quote cannot go into the shim"
        ));
    }
    Ok(format!("'{s}'"))
}

fn script(mode: Mode, paths: &ShimPaths) -> Result<String, String> {
    let real = quoted(paths.real_cargo)?;
    let gantry = quoted(paths.gantry)?;
    let log = quoted(paths.log)?;
    let dispatch = match mode {
        Mode::Cargo => String::new(),
        Mode::Gantry => format!(
            r#"case "$sub" in
  {commands})
    # `cargo -v publish …` becomes `cargo-gantry gantry publish … -v`: cargo-gantry takes the
    # global options after its subcommand. Gantry's own cargo calls go to the real cargo.
    while [ "$pre" -gt 0 ]; do set -- "$@" "$1"; shift; pre=$((pre - 1)); done
    CARGO="$real" exec "$gantry" gantry "$@" ;;
esac
"#,
            commands = GANTRY_COMMANDS.join("|")
        ),
    };
    Ok(format!(
        r#"#!/bin/sh
# Written by `cargo xtask cargo-testsuite` (shim v{SHIM_VERSION}, mode {mode:?}); rewritten every run.
real={real}
gantry={gantry}
log={log}
nightly=
for a in "$@"; do
  case "$a" in -Z*) nightly=Z ;; esac
done
[ "${{__CARGO_TEST_CHANNEL_OVERRIDE_DO_NOT_USE_THIS:-}}" = nightly ] && nightly="${{nightly}}N"
# The subcommand is the first argument that is neither a global option nor its value.
sub=
pre=0
skip=
for a in "$@"; do
  if [ -n "$skip" ]; then skip=; pre=$((pre + 1)); continue; fi
  case "$a" in
    --config|--color|-C|-Z|--explain) skip=1; pre=$((pre + 1)) ;;
    -*) pre=$((pre + 1)) ;;
    *) sub=$a; break ;;
  esac
done
printf '%s\t%s\t%s\t%s\n' "${{HOME:-}}" "$PWD" "$sub" "$nightly" >> "$log"
{dispatch}exec "$real" "$@"
"#
    ))
}

/// What one test made "cargo" do.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Calls {
    pub subcommands: BTreeSet<String>,
    /// It passed `-Z…` or masqueraded as nightly cargo.
    pub nightly: bool,
}

impl Calls {
    pub(super) fn runs_gantry_command(&self) -> bool {
        GANTRY_COMMANDS
            .iter()
            .any(|c| self.subcommands.contains(*c))
    }
}

/// Reads a shim log and attributes every call to the test whose scratch directory
/// (`<tmp>/cit/testsuite/<module…>/<fn>/`, cargo-test-support's layout) holds its `HOME` or its
/// working directory. Calls that belong to no known test are ignored.
pub(super) fn read_log(
    log: &Path,
    tests: &BTreeSet<String>,
) -> Result<BTreeMap<String, Calls>, String> {
    let text = match fs::read_to_string(log) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("{}: {e}", log.display())),
    };
    let mut calls: BTreeMap<String, Calls> = BTreeMap::new();
    for line in text.lines() {
        let mut fields = line.split('\t');
        let (Some(home), Some(pwd), Some(sub), Some(nightly)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Some(test) = owner(home, tests).or_else(|| owner(pwd, tests)) else {
            continue;
        };
        let entry = calls.entry(test).or_default();
        if !sub.is_empty() {
            entry.subcommands.insert(sub.to_owned());
        }
        entry.nightly |= !nightly.is_empty();
    }
    Ok(calls)
}

fn owner(path: &str, tests: &BTreeSet<String>) -> Option<String> {
    const MARK: &str = "/cit/testsuite/";
    let rest = &path[path.find(MARK)? + MARK.len()..];
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    (1..=parts.len())
        .rev()
        .map(|k| parts[..k].join("::"))
        .find(|name| tests.contains(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_attributed_by_home_then_cwd() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls.tsv");
        let root = "/t/tmp/cit/testsuite";
        fs::write(
            &log,
            format!(
                "{root}/publish/simple/home\t{root}/publish/simple/foo\tpublish\t\n\
                 /elsewhere\t{root}/cargo_add/dev/case/foo\tadd\t\n\
                 {root}/package/nightly_one/home\t/x\tpackage\tN\n\
                 {root}/unknown/test/home\t/x\tbuild\t\n"
            ),
        )
        .unwrap();
        let tests: BTreeSet<String> = [
            "publish::simple",
            "cargo_add::dev::case",
            "package::nightly_one",
        ]
        .map(String::from)
        .into();
        let calls = read_log(&log, &tests).unwrap();
        assert_eq!(calls.len(), 3);
        assert!(calls["publish::simple"].runs_gantry_command());
        assert!(!calls["publish::simple"].nightly);
        assert!(!calls["cargo_add::dev::case"].runs_gantry_command());
        assert!(calls["package::nightly_one"].nightly);
    }

    #[test]
    fn shim_routes_publishing_commands_and_reorders_global_options() {
        let dir = tempfile::tempdir().unwrap();
        let echo = |name: &str| {
            let p = dir.path().join(name);
            fs::write(&p, format!("#!/bin/sh\necho {name} \"$CARGO\" \"$@\"\n")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
            p
        };
        let (real, gantry) = (echo("real"), echo("gantry"));
        let shim = dir.path().join("cargo");
        let log = dir.path().join("log");
        let paths = ShimPaths {
            real_cargo: &real,
            gantry: &gantry,
            log: &log,
        };
        install(&shim, Mode::Gantry, &paths).unwrap();
        let run = |args: &[&str]| {
            let out = std::process::Command::new(&shim)
                .args(args)
                .env("CARGO", "outer")
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        let real_s = real.display().to_string();
        assert_eq!(
            run(&["-v", "--config", "a=1", "publish", "--no-verify"]),
            format!("gantry {real_s} gantry publish --no-verify -v --config a=1")
        );
        assert_eq!(
            run(&["build", "-p", "publish"]),
            "real outer build -p publish"
        );
        assert_eq!(
            run(&["-Zfoo", "package"]),
            format!("gantry {real_s} gantry package -Zfoo")
        );
        let log_text = fs::read_to_string(&log).unwrap();
        assert_eq!(log_text.lines().count(), 3);
        assert!(log_text.lines().last().unwrap().ends_with("\tpackage\tZ"));

        install(&shim, Mode::Cargo, &paths).unwrap();
        assert_eq!(run(&["publish"]), "real outer publish");
    }
}
