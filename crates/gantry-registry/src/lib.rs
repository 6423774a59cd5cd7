//! `gantry-registry`: a Cargo registry that the real `cargo` publishes to and builds from.
//!
//! Sparse index generated from the metadata store (never appended), crates.io-compatible Web API,
//! crates.io's publish rules (from `gantry-protocol`), scoped tokens stored only as SHA-256.
//! Storage sits behind two traits ([`store::MetaStore`], [`blob::BlobStore`]): SQLite + a local
//! directory by default, PostgreSQL + S3 for several instances serving one registry. It must never panic on network input, never log a token, and
//! never overwrite or delete a published version.
//!
//! Modules stack without circles: `server` → `conn` → `router` → handlers (`api`, `index`, `ops`,
//! `mirror::handlers`) → `auth` → `app` → `mirror`, `index_cache` → storage (`store`, `blob`) and
//! `config` (whose mirror settings are the leaf `mirror::config`); `gc` works on storage alone.

pub mod api;
pub mod app;
pub mod auth;
pub mod blob;
pub mod config;
pub mod conn;
pub mod download;
pub mod error;
pub mod gc;
pub mod index;
pub mod index_cache;
pub mod metrics;
pub mod migrate;
pub mod mirror;
pub mod ops;
pub mod ratelimit;
pub mod router;
pub mod server;
pub mod store;
pub mod tarball;

pub use app::{App, StartError};
pub use config::Config;
pub use server::{RunningServer, start};

/// The boxed future the storage traits return, so they stay object-safe (`Arc<dyn MetaStore>`).
pub type BoxFut<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
