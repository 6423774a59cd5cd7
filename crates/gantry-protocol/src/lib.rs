//! Wire formats shared by the Gantry client and the Gantry registry: the publish body codec, publish
//! metadata, index entries, API error bodies, and the crates.io name/version/metadata rules.
//!
//! Everything here is pure data and validation: no I/O, no HTTP, no storage (the `.crate` checks read
//! an archive from memory). A rule both sides enforce
//! lives here exactly once. Error texts match crates.io's, because users search for those words.

pub mod api;
pub mod body;
pub mod categories;
pub mod index;
pub mod metadata;
pub mod name;
pub mod spdx;
pub mod tarball;
pub mod validate;

pub use api::{ApiError, ErrorBody, OkResponse, OwnersResponse, PublishResponse, PublishWarnings};
pub use body::{BodyError, BodyLimits, PublishBody, decode_publish_body, encode_publish_body};
pub use index::{
    IndexDependency, IndexEntry, format_pubtime, index_entry_from_publish, index_path,
};
pub use metadata::{DependencyKind, NewCrate, NewCrateDependency};
pub use name::{
    NameError, canonical_name, is_reserved_name, validate_crate_name, validate_dependency_name,
};
pub use validate::{
    MetadataError, MetadataRules, ValidatedVersion, validate_metadata, validate_metadata_all,
    validate_version,
};
