//! Sparse/git index entries (one JSON line per version) and the index file path of a crate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metadata::{DependencyKind, NewCrate};

/// One dependency inside an index line. `name` is the name used in the TOML (the alias when renamed),
/// `package` the real crate name when renamed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IndexDependency {
    pub name: String,
    pub req: String,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default = "default_true")]
    pub default_features: bool,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub kind: Option<DependencyKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

fn default_true() -> bool {
    true
}

/// One index line. Optional fields are omitted when empty, as crates.io does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub name: String,
    pub vers: String,
    pub deps: Vec<IndexDependency>,
    pub cksum: String,
    pub features: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features2: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    pub yanked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rust_version: Option<String>,
    /// When the version was published, `yyyy-mm-ddThh:mm:ssZ` ([`format_pubtime`]); crates.io
    /// writes it before `v`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<u32>,
}

/// A Unix time as an index line's `pubtime`: UTC, whole seconds, `yyyy-mm-ddThh:mm:ssZ`.
pub fn format_pubtime(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    // Days since 1970-01-01 to a proleptic Gregorian date, counting in 400-year eras that start
    // on 0000-03-01 (so the leap day is the last day of a year).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

impl IndexEntry {
    /// The line as it appears in the index file (without the trailing newline).
    pub fn to_line(&self) -> String {
        // Serialising plain strings, maps and bools cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Path of a crate's index file relative to the index root: `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`,
/// always lowercase.
pub fn index_path(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.len() {
        0 => String::new(),
        1 => format!("1/{lower}"),
        2 => format!("2/{lower}"),
        3 => match lower.get(..1) {
            Some(first) => format!("3/{first}/{lower}"),
            None => format!("3/{lower}/{lower}"),
        },
        _ => match (lower.get(..2), lower.get(2..4)) {
            (Some(a), Some(b)) => format!("{a}/{b}/{lower}"),
            // Non-ASCII names are invalid anyway; keep the function total.
            _ => format!("{lower}/{lower}/{lower}"),
        },
    }
}

fn uses_new_feature_syntax(values: &[String]) -> bool {
    values
        .iter()
        .any(|v| v.starts_with("dep:") || v.contains("?/"))
}

/// Builds the index line for a publish request, as crates.io does: alias/package swap, sorted deps,
/// `features2` (and `v: 2`) only for features that use `dep:` or `?/`.
pub fn index_entry_from_publish(krate: &NewCrate, cksum: &str) -> IndexEntry {
    let mut deps: Vec<IndexDependency> = krate
        .deps
        .iter()
        .map(|d| {
            let (name, package) = match &d.explicit_name_in_toml {
                Some(alias) => (alias.clone(), Some(d.name.clone())),
                None => (d.name.clone(), None),
            };
            IndexDependency {
                name,
                req: d.version_req.clone(),
                features: d.features.clone(),
                optional: d.optional,
                default_features: d.default_features,
                target: d.target.clone(),
                kind: Some(d.kind),
                registry: d.registry.clone(),
                package,
            }
        })
        .collect();
    deps.sort();
    let (features2, features): (BTreeMap<_, _>, BTreeMap<_, _>) = krate
        .features
        .clone()
        .into_iter()
        .partition(|(_, v)| uses_new_feature_syntax(v));
    let has2 = !features2.is_empty();
    IndexEntry {
        name: krate.name.clone(),
        vers: krate.vers.clone(),
        deps,
        cksum: cksum.to_owned(),
        features,
        features2: has2.then_some(features2),
        yanked: false,
        links: krate.links.clone(),
        rust_version: krate.rust_version.clone(),
        v: has2.then_some(2),
        pubtime: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pubtime_is_utc_seconds() {
        assert_eq!(format_pubtime(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_pubtime(951782400), "2000-02-29T00:00:00Z");
        assert_eq!(format_pubtime(1709168461), "2024-02-29T01:01:01Z");
        assert_eq!(format_pubtime(4102444799), "2099-12-31T23:59:59Z");
        assert_eq!(format_pubtime(1796083199), "2026-11-30T23:59:59Z");
    }

    #[test]
    fn paths() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("AB"), "2/ab");
        assert_eq!(index_path("abc"), "3/a/abc");
        assert_eq!(index_path("cargo"), "ca/rg/cargo");
        assert_eq!(index_path("CapCrate"), "ca/pc/capcrate");
        // Total on any input (network paths reach this function).
        for odd in ["é", "éa", "aé", "ééé", "\u{10ffff}x"] {
            let _ = index_path(odd);
        }
    }

    #[test]
    fn omits_empty_optionals() {
        let k: NewCrate = serde_json::from_str(
            r#"{"name":"Foo","vers":"1.0.0","deps":[{"name":"real","version_req":"^1","explicit_name_in_toml":"alias"}],"features":{"a":["dep:real"],"b":[]}}"#,
        )
        .unwrap();
        let line = index_entry_from_publish(&k, "00").to_line();
        assert_eq!(
            line,
            r#"{"name":"Foo","vers":"1.0.0","deps":[{"name":"alias","req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","package":"real"}],"cksum":"00","features":{"b":[]},"features2":{"a":["dep:real"]},"yanked":false,"v":2}"#
        );
    }
}
