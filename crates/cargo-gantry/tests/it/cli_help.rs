//! Differential: `cargo gantry <command> --help` prints exactly what `cargo <command> --help`
//! prints, coloured (`CARGO_TERM_COLOR=always`) and plain, for the registry commands; and a usage
//! error names the command as cargo does.

use std::process::{Command, Output};

fn run(gantry: bool, args: &[&str], color: &str, home: &std::path::Path) -> Output {
    let mut cmd = if gantry {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cargo-gantry"));
        c.arg("gantry");
        c
    } else {
        Command::new(gantry_test_support::cargo::reference_cargo())
    };
    gantry_test_support::cargo::isolate(&mut cmd);
    cmd.args(args)
        .env("CARGO_HOME", home)
        .env("CARGO_TERM_COLOR", color)
        .output()
        .unwrap()
}

#[test]
fn registry_commands_help_is_cargos() {
    let home = tempfile::tempdir().unwrap();
    for command in ["yank", "owner", "login", "logout"] {
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
