//! Differential: `cargo gantry <command> --help` prints exactly what `cargo <command> --help`
//! prints, coloured (`CARGO_TERM_COLOR=always`) and plain, for `package` and the registry
//! commands; a usage error names the command as cargo does; and the flags whose value cargo
//! makes optional (`-p [<SPEC>]`, `--target [<TRIPLE>]`) behave as cargo's when given bare.

use std::process::{Command, Output};

fn run(gantry: bool, args: &[&str], color: &str, home: &std::path::Path) -> Output {
    run_in(gantry, args, color, home, &std::env::current_dir().unwrap())
}

fn run_in(
    gantry: bool,
    args: &[&str],
    color: &str,
    home: &std::path::Path,
    dir: &std::path::Path,
) -> Output {
    let mut cmd = if gantry {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cargo-gantry"));
        c.arg("gantry");
        c
    } else {
        Command::new(gantry_test_support::cargo::reference_cargo())
    };
    gantry_test_support::cargo::isolate(&mut cmd);
    cmd.args(args)
        .current_dir(dir)
        .env("CARGO_HOME", home)
        .env("CARGO_TERM_COLOR", color)
        .output()
        .unwrap()
}

#[test]
fn registry_commands_help_is_cargos() {
    let home = tempfile::tempdir().unwrap();
    for command in ["package", "yank", "owner", "login", "logout"] {
        for color in ["always", "never"] {
            let args = [command, "--help"];
            let c = run(false, &args, color, home.path());
            let g = run(true, &args, color, home.path());
            assert!(c.status.success(), "cargo {command} --help");
            assert_eq!(
                String::from_utf8_lossy(&g.stdout),
                String::from_utf8_lossy(&c.stdout),
                "`{command} --help` with CARGO_TERM_COLOR={color}"
            );
            assert_eq!(g.status.code(), c.status.code());
        }
    }
}

#[test]
fn usage_errors_name_the_command_as_cargo_does() {
    let home = tempfile::tempdir().unwrap();
    let args = ["yank", "--no-such-flag"];
    let c = run(false, &args, "never", home.path());
    let g = run(true, &args, "never", home.path());
    assert_eq!(
        String::from_utf8_lossy(&g.stderr),
        String::from_utf8_lossy(&c.stderr)
    );
    assert_eq!(g.status.code(), c.status.code());
}

#[test]
fn unstable_flags_are_refused_as_stable_cargo_refuses_them() {
    let home = tempfile::tempdir().unwrap();
    let args = ["yank", "-Zsome-flag", "foo@1.0.0"];
    let c = run(false, &args, "never", home.path());
    let g = run(true, &args, "never", home.path());
    assert_eq!(
        String::from_utf8_lossy(&g.stderr),
        String::from_utf8_lossy(&c.stderr)
    );
    assert_eq!(g.status.code(), c.status.code());
}

/// A virtual workspace of two library crates, `a` and `b`, outside any git repository.
fn two_member_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    for name in ["a", "b"] {
        std::fs::create_dir_all(root.join(name).join("src")).unwrap();
        std::fs::write(
            root.join(name).join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"d\"\n"
            ),
        )
        .unwrap();
        std::fs::write(root.join(name).join("src/lib.rs"), "").unwrap();
    }
    dir
}

#[test]
fn bare_package_and_target_flags_behave_as_cargos() {
    let home = tempfile::tempdir().unwrap();
    let ws = two_member_workspace();
    let cases: [&[&str]; 5] = [
        // A bare `-p` selects as if it were absent: every member here, only `a` beside `-p a`.
        &["package", "--list", "-p"],
        &["package", "--list", "-p", "a", "-p"],
        // A bare `--target` is refused, pointing at the list of targets.
        &["package", "--list", "--target"],
        &["package", "--no-verify", "--target"],
        &["publish", "--dry-run", "--target"],
    ];
    for args in cases {
        let c = run_in(false, args, "never", home.path(), ws.path());
        let g = run_in(true, args, "never", home.path(), ws.path());
        assert_eq!(
            String::from_utf8_lossy(&g.stdout),
            String::from_utf8_lossy(&c.stdout),
            "stdout of {args:?}"
        );
        assert_eq!(
            String::from_utf8_lossy(&g.stderr),
            String::from_utf8_lossy(&c.stderr),
            "stderr of {args:?}"
        );
        assert_eq!(g.status.code(), c.status.code(), "exit code of {args:?}");
    }
    // What the cases above claim, so that the comparison cannot pass by both tools failing alike.
    let listed = run_in(
        false,
        &["package", "--list", "-p", "a", "-p"],
        "never",
        home.path(),
        ws.path(),
    );
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "Cargo.lock\nCargo.toml\nCargo.toml.orig\nsrc/lib.rs\n"
    );
    let refused = run_in(
        false,
        &["package", "--list", "--target"],
        "never",
        home.path(),
        ws.path(),
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("\"--target\" takes a target architecture")
    );
}
