//! The publish metadata JSON (`NewCrate`). Field order is cargo 1.95's, so serialising one of these
//! with `serde_json::to_string` gives the exact bytes cargo sends.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Metadata part of a publish request. Unknown fields are ignored when decoding, as the book asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCrate {
    pub name: String,
    pub vers: String,
    #[serde(default)]
    pub deps: Vec<NewCrateDependency>,
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub documentation: Option<String>,
    #[serde(default)]
    pub homepage: Option<String>,
    /// The readme's content, not its path.
    #[serde(default)]
    pub readme: Option<String>,
    #[serde(default)]
    pub readme_file: Option<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub license: Option<String>,
    #[serde(default)]
    pub license_file: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub badges: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    pub links: Option<String>,
    #[serde(default)]
    pub rust_version: Option<String>,
}

/// `normal`, `build` or `dev`, as cargo writes it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum DependencyKind {
    #[default]
    Normal,
    Build,
    Dev,
}

fn default_true() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One dependency in the publish metadata. `name` is the real package name; a renamed dependency
/// carries its TOML key in `explicit_name_in_toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCrateDependency {
    #[serde(default)]
    pub optional: bool,
    #[serde(default = "default_true")]
    pub default_features: bool,
    pub name: String,
    #[serde(default)]
    pub features: Vec<String>,
    pub version_req: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub kind: DependencyKind,
    /// Index URL of another registry; absent means "the registry being published to".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explicit_name_in_toml: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bindep_target: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub lib: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_like_cargo() {
        let json = r#"{"name":"bar","vers":"1.2.3","deps":[],"features":{"x":[]},"authors":[],"description":"bar","documentation":null,"homepage":null,"readme":null,"readme_file":null,"keywords":[],"categories":[],"license":"MIT","license_file":null,"repository":null,"badges":{},"links":null,"rust_version":null}"#;
        let krate: NewCrate = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&krate).unwrap(), json);
    }

    #[test]
    fn dependency_order_and_optional_keys() {
        let json = r#"{"optional":false,"default_features":true,"name":"dep","features":[],"version_req":"^1.0","target":null,"kind":"normal","explicit_name_in_toml":"d"}"#;
        let dep: NewCrateDependency = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&dep).unwrap(), json);
    }
}
