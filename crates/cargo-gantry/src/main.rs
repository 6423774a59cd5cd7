//! `cargo-gantry`: cargo's publishing commands, byte-identical, plus what cargo lacks.
//! Invoked by cargo as `cargo-gantry gantry <command> …` or directly as `cargo-gantry <command> …`.

mod cli;
mod commands;
mod context;
mod metadata;
mod remote;
mod shell;
mod trustpub;
mod yanked;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command};
use crate::shell::{Shell, Verbosity};

/// Parses the command line, with help and usage errors coloured as `--color` or
/// `CARGO_TERM_COLOR` say (cargo's help is coloured the same way).
fn parse(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
    let mut color = std::env::var("CARGO_TERM_COLOR").ok();
    let mut rest = args.iter().filter_map(|a| a.to_str());
    while let Some(arg) = rest.next() {
        if arg == "--" {
            break;
        }
        if let Some(v) = arg.strip_prefix("--color=") {
            color = Some(v.to_owned());
        } else if arg == "--color" {
            color = rest.next().map(str::to_owned);
        }
    }
    let choice = match color.as_deref() {
        Some("always") => clap::ColorChoice::Always,
        Some("never") => clap::ColorChoice::Never,
        _ => clap::ColorChoice::Auto,
    };
    let matches = Cli::command().color(choice).try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

// Two refusals come before the shell exists (`-Z`, a bad `--color`): plain stderr, as cargo.
#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `cargo gantry x` runs `cargo-gantry gantry x`.
    if args.get(1).is_some_and(|a| a == "gantry") {
        args.remove(1);
    }
    let cli = match parse(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let global = cli.command.global();
    if !global.unstable.is_empty() {
        // This is the stable channel's behaviour; gantry has no unstable features of its own.
        eprintln!(
            "error: the `-Z` flag is only accepted on the nightly channel of Cargo, but this is the `stable` channel\nSee https://doc.rust-lang.org/book/appendix-07-nightly-rust.html for more information about Rust release channels."
        );
        return ExitCode::from(101);
    }
    let verbosity = if global.quiet {
        Verbosity::Quiet
    } else if global.verbose > 0 {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let color = match Shell::color_choice(global.color.as_deref()) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("error: {msg}");
            return ExitCode::from(101);
        }
    };
    let shell = Shell::new(verbosity, color);
    let result = match &cli.command {
        Command::Package(a) => commands::package::run(a, &shell),
        Command::Publish(a) => commands::publish::run(a, &shell),
        Command::Login(a) => commands::login::run(a, &shell),
        Command::Logout(a) => commands::logout::run(a, &shell),
        Command::Yank(a) => commands::yank::run(a, &shell),
        Command::Owner(a) => commands::owner::run(a, &shell),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            shell.error(&e);
            ExitCode::from(101)
        }
    }
}
