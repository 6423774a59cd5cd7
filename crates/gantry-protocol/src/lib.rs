//! Wire formats shared by the Gantry client and the Gantry registry: the publish body codec, publish
//! metadata, index entries, API error bodies, and the crates.io name/version/metadata rules.
//!
//! Everything here is pure data and validation: no I/O, no HTTP, no storage. A rule both sides enforce
//! lives here exactly once.
