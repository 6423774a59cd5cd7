//! The core of a workspace publish, as plain data and step functions: each packaged crate's state
//! in the registry ([`plan`]), the order the uploads must keep ([`edges`]), the upload schedule
//! with its retries and rate-limit pauses ([`schedule`]), and the resumable journal ([`journal`]).
//!
//! This crate never prints: the `cargo-gantry` binary drives it and renders what it returns (a
//! journal that cannot be written is reported through the callback the binary hands in). Time
//! is passed in as `Instant`s, so the schedule's decisions are testable without a clock.

pub mod edges;
pub mod journal;
pub mod plan;
pub mod schedule;
