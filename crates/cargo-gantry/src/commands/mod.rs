//! One module per `cargo gantry` command.

pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod owner;
pub(crate) mod package;
pub(crate) mod publish;
pub(crate) mod yank;
