//! `cargo-gantry`: cargo's publishing commands, byte-identical, plus what cargo lacks.
//! Invoked by cargo as `cargo-gantry gantry <command> …` or directly as `cargo-gantry <command> …`.

mod cli;
mod commands;
mod context;
mod metadata;
mod remote;
mod shell;
mod trustpub;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::shell::{Shell, Verbosity};

fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `cargo gantry x` runs `cargo-gantry gantry x`.
    if args.get(1).is_some_and(|a| a == "gantry") {
        args.remove(1);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let global = cli.command.global();
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
