//! One module per `cargo gantry` command.

pub mod package;
