//! One module per `cargo gantry` command.

pub mod login;
pub mod logout;
pub mod owner;
pub mod package;
pub mod publish;
pub mod yank;
