//! crates.io's version and metadata rules for a publish, with crates.io's error texts.
//! Checks that need the registry's state (ownership, existing versions, "no known crate") are the
//! registry's job; everything decidable from the request alone is here.

use crate::categories::is_known_category;
use crate::metadata::NewCrate;
use crate::name::{NameError, validate_dependency_name};
use crate::spdx::is_valid_license_expression;

pub const MAX_VERSION_LENGTH: usize = 150;
pub const MAX_DESCRIPTION_LENGTH: usize = 1000;
pub const MAX_KEYWORDS: usize = 5;
pub const MAX_KEYWORD_LENGTH: usize = 20;
pub const MAX_CATEGORIES: usize = 5;
pub const DEFAULT_MAX_FEATURES: usize = 300;
pub const DEFAULT_MAX_DEPENDENCIES: usize = 500;

/// A version that passed the rules, with the forms the registry stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedVersion {
    pub version: semver::Version,
    /// `to_string()` of the parsed version (what is stored and indexed).
    pub normalized: String,
    /// The version without build metadata: two versions equal here cannot coexist.
    pub without_build: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("\"{0}\" is an invalid semver version")]
    InvalidVersion(String),
    #[error("the version number is too long (max {MAX_VERSION_LENGTH} characters)")]
    VersionTooLong,
    #[error(
        "missing or empty metadata fields: {}. Please see https://doc.rust-lang.org/cargo/reference/manifest.html for more information on configuring these fields",
        .0.join(", ")
    )]
    MissingFields(Vec<&'static str>),
    #[error(
        "The `description` is too long. A maximum of {MAX_DESCRIPTION_LENGTH} characters are currently allowed."
    )]
    DescriptionTooLong,
    #[error(
        "unknown or invalid license expression; see http://opensource.org/licenses for options, and http://spdx.org/licenses/ for their identifiers\nNote: If you have a non-standard license that is not listed by SPDX, use the license-file field to specify the path to a file containing the text of the license.\nSee https://doc.rust-lang.org/cargo/reference/manifest.html for more information.\n{0}"
    )]
    InvalidLicense(String),
    #[error("URL for field `{field}` must begin with http:// or https:// (url: {url})")]
    UrlScheme { field: &'static str, url: String },
    #[error("`{field}` is not a valid url: `{url}`")]
    InvalidUrl { field: &'static str, url: String },
    #[error("failed to parse `Cargo.toml` manifest file\n\ninvalid `rust-version` value")]
    InvalidRustVersion,
    #[error("expected at most {MAX_KEYWORDS} keywords per crate")]
    TooManyKeywords,
    #[error(
        "\"{0}\" is an invalid keyword (keywords must have less than {MAX_KEYWORD_LENGTH} characters)"
    )]
    KeywordTooLong(String),
    #[error("\"{0}\" is an invalid keyword")]
    InvalidKeyword(String),
    #[error("expected at most {MAX_CATEGORIES} categories per crate")]
    TooManyCategories,
    #[error(
        "The following category slugs are not currently supported on crates.io: {}\n\nSee https://crates.io/category_slugs for a list of supported slugs.",
        .0.join(", ")
    )]
    UnknownCategories(Vec<String>),
    #[error(
        "crates.io only allows a maximum number of {max} features, but this crate has {count} features. If you have a use case that requires an increase of this limit, please contact the registry administrator."
    )]
    TooManyFeatures { max: usize, count: usize },
    #[error(
        "crates.io only allows a maximum number of {max} features or dependencies that another feature can enable, but the \"{feature}\" feature enables {count}."
    )]
    TooManyFeatureValues {
        max: usize,
        feature: String,
        count: usize,
    },
    #[error(
        "\"{0}\" is an invalid feature name (feature names must contain only Unicode XID characters, `+`, `-`, or `.`, and start with a Unicode XID start character, `_`, or a digit)"
    )]
    InvalidFeatureName(String),
    #[error(
        "crates.io only allows a maximum number of {0} dependencies.\n\nIf you have a use case that requires an increase of this limit, please contact the registry administrator."
    )]
    TooManyDependencies(usize),
    #[error(transparent)]
    DependencyName(#[from] NameError),
    #[error("\"{0}\" is an invalid version requirement")]
    InvalidVersionReq(String),
    #[error(
        "wildcard (`*`) dependency constraints are not allowed on crates.io. Crate with this problem: `{0}` See https://doc.rust-lang.org/cargo/faq.html#can-libraries-use--as-a-version-for-their-dependencies for more information"
    )]
    WildcardDependency(String),
    #[error(
        "Dependency `{0}` is hosted on another registry. Cross-registry dependencies are not permitted on crates.io."
    )]
    CrossRegistryDependency(String),
}

/// Per-registry switches for the rules crates.io applies unconditionally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataRules {
    pub max_features: usize,
    pub max_dependencies: usize,
    /// crates.io refuses any dependency with a `registry`; a private registry usually allows them
    /// (crates.io deps arrive with the crates.io index URL).
    pub allow_other_registries: bool,
}

impl Default for MetadataRules {
    fn default() -> Self {
        MetadataRules {
            max_features: DEFAULT_MAX_FEATURES,
            max_dependencies: DEFAULT_MAX_DEPENDENCIES,
            allow_other_registries: true,
        }
    }
}

/// Parses and normalises a version as crates.io does.
pub fn validate_version(vers: &str) -> Result<ValidatedVersion, MetadataError> {
    let version =
        semver::Version::parse(vers).map_err(|_| MetadataError::InvalidVersion(vers.to_owned()))?;
    let normalized = version.to_string();
    if normalized.len() > MAX_VERSION_LENGTH {
        return Err(MetadataError::VersionTooLong);
    }
    let mut bare = version.clone();
    bare.build = semver::BuildMetadata::EMPTY;
    Ok(ValidatedVersion {
        without_build: bare.to_string(),
        normalized,
        version,
    })
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.trim().is_empty())
}

fn check_url(field: &'static str, url: &Option<String>) -> Result<(), MetadataError> {
    let Some(url) = nonempty(url) else {
        return Ok(());
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| MetadataError::UrlScheme {
            field,
            url: url.to_owned(),
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(MetadataError::InvalidUrl {
            field,
            url: url.to_owned(),
        });
    }
    Ok(())
}

fn check_keyword(k: &str) -> Result<(), MetadataError> {
    if k.len() > MAX_KEYWORD_LENGTH {
        return Err(MetadataError::KeywordTooLong(k.to_owned()));
    }
    let mut chars = k.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'));
    if ok {
        Ok(())
    } else {
        Err(MetadataError::InvalidKeyword(k.to_owned()))
    }
}

// Approximates Unicode XID with `char::is_alphabetic`/`is_alphanumeric` (std has no XID tables).
fn is_valid_feature_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c.is_ascii_digit())
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'))
}

fn check_feature_value(value: &str) -> Result<(), MetadataError> {
    if let Some(dep) = value.strip_prefix("dep:") {
        return Ok(validate_dependency_name(dep)?);
    }
    if let Some((dep, feat)) = value.split_once('/') {
        validate_dependency_name(dep.strip_suffix('?').unwrap_or(dep))?;
        if !is_valid_feature_name(feat) {
            return Err(MetadataError::InvalidFeatureName(feat.to_owned()));
        }
        return Ok(());
    }
    if is_valid_feature_name(value) {
        Ok(())
    } else {
        Err(MetadataError::InvalidFeatureName(value.to_owned()))
    }
}

fn check_rust_version(rv: &Option<String>) -> Result<(), MetadataError> {
    match rv.as_deref() {
        None => Ok(()),
        Some(v)
            if !v.is_empty()
                && v.split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            Ok(())
        }
        Some(_) => Err(MetadataError::InvalidRustVersion),
    }
}

/// Every request-only rule on a publish's metadata, in crates.io's order. The first failure wins,
/// exactly as the registry answers; [`validate_metadata_all`] lists every failure.
pub fn validate_metadata(krate: &NewCrate, rules: &MetadataRules) -> Result<(), MetadataError> {
    match validate_metadata_all(krate, rules).into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Every failure of the request-only rules, in crates.io's order (the first one is the registry's
/// answer). A client's dry-run uses this to report all problems at once.
pub fn validate_metadata_all(krate: &NewCrate, rules: &MetadataRules) -> Vec<MetadataError> {
    let mut errors = Vec::new();
    let mut missing = Vec::new();
    if nonempty(&krate.description).is_none() {
        missing.push("description");
    }
    if nonempty(&krate.license).is_none() && nonempty(&krate.license_file).is_none() {
        missing.push("license");
    }
    if !missing.is_empty() {
        errors.push(MetadataError::MissingFields(missing));
    }
    if krate.description.as_deref().unwrap_or("").len() > MAX_DESCRIPTION_LENGTH {
        errors.push(MetadataError::DescriptionTooLong);
    }
    if let Some(license) = nonempty(&krate.license)
        && !is_valid_license_expression(license)
    {
        errors.push(MetadataError::InvalidLicense(license.to_owned()));
    }
    let checks = [
        check_url("homepage", &krate.homepage),
        check_url("documentation", &krate.documentation),
        check_url("repository", &krate.repository),
        check_rust_version(&krate.rust_version),
    ];
    errors.extend(checks.into_iter().filter_map(Result::err));
    if krate.keywords.len() > MAX_KEYWORDS {
        errors.push(MetadataError::TooManyKeywords);
    }
    errors.extend(krate.keywords.iter().filter_map(|k| check_keyword(k).err()));
    if krate.categories.len() > MAX_CATEGORIES {
        errors.push(MetadataError::TooManyCategories);
    }
    let unknown: Vec<String> = krate
        .categories
        .iter()
        .filter(|c| !is_known_category(c))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        errors.push(MetadataError::UnknownCategories(unknown));
    }
    check_features(krate, rules, &mut errors);
    check_dependencies(krate, rules, &mut errors);
    errors
}

fn check_features(krate: &NewCrate, rules: &MetadataRules, errors: &mut Vec<MetadataError>) {
    if krate.features.len() > rules.max_features {
        errors.push(MetadataError::TooManyFeatures {
            max: rules.max_features,
            count: krate.features.len(),
        });
    }
    for (name, values) in &krate.features {
        if !is_valid_feature_name(name) {
            errors.push(MetadataError::InvalidFeatureName(name.clone()));
        }
        if values.len() > rules.max_features {
            errors.push(MetadataError::TooManyFeatureValues {
                max: rules.max_features,
                feature: name.clone(),
                count: values.len(),
            });
        }
        errors.extend(values.iter().filter_map(|v| check_feature_value(v).err()));
    }
}

fn check_dependencies(krate: &NewCrate, rules: &MetadataRules, errors: &mut Vec<MetadataError>) {
    if krate.deps.len() > rules.max_dependencies {
        errors.push(MetadataError::TooManyDependencies(rules.max_dependencies));
    }
    for dep in &krate.deps {
        if let Err(e) = validate_dependency_name(&dep.name) {
            errors.push(e.into());
        }
        if let Some(alias) = &dep.explicit_name_in_toml
            && let Err(e) = validate_dependency_name(alias)
        {
            errors.push(e.into());
        }
        if dep.registry.as_deref().is_some_and(|r| !r.is_empty()) && !rules.allow_other_registries {
            errors.push(MetadataError::CrossRegistryDependency(dep.name.clone()));
        }
        match semver::VersionReq::parse(&dep.version_req) {
            Err(_) => errors.push(MetadataError::InvalidVersionReq(dep.version_req.clone())),
            Ok(req) if req == semver::VersionReq::STAR => {
                errors.push(MetadataError::WildcardDependency(dep.name.clone()));
            }
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> NewCrate {
        serde_json::from_str(r#"{"name":"a","vers":"1.0.0","description":"d","license":"MIT"}"#)
            .unwrap()
    }

    fn err(k: &NewCrate) -> String {
        validate_metadata(k, &MetadataRules::default())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn versions() {
        assert_eq!(
            validate_version("1.0").unwrap_err().to_string(),
            "\"1.0\" is an invalid semver version"
        );
        let v = validate_version("1.0.0+build").unwrap();
        assert_eq!(
            (v.normalized.as_str(), v.without_build.as_str()),
            ("1.0.0+build", "1.0.0")
        );
    }

    #[test]
    fn metadata_rules() {
        assert!(validate_metadata(&base(), &MetadataRules::default()).is_ok());
        let mut k = base();
        k.description = None;
        k.license = None;
        assert!(
            err(&k).starts_with("missing or empty metadata fields: description, license. Please")
        );
        let mut k = base();
        k.keywords = vec!["a".repeat(21)];
        assert!(err(&k).contains("keywords must have less than 20"));
        k.keywords = vec!["a".repeat(20)];
        assert!(validate_metadata(&k, &MetadataRules::default()).is_ok());
        let mut k = base();
        k.categories = vec!["nope".into()];
        assert!(err(&k).starts_with(
            "The following category slugs are not currently supported on crates.io: nope"
        ));
        let mut k = base();
        k.homepage = Some("ftp://x".into());
        assert_eq!(
            err(&k),
            "URL for field `homepage` must begin with http:// or https:// (url: ftp://x)"
        );
        let mut k = base();
        k.license = Some("Nope-1.0".into());
        assert!(err(&k).starts_with("unknown or invalid license expression"));
    }

    /// The all-errors variant lists every failure, and its first is the registry's single answer.
    #[test]
    fn all_failures_in_registry_order() {
        let mut k = base();
        k.description = Some("x".repeat(MAX_DESCRIPTION_LENGTH + 1));
        k.license = Some("Nope-1.0".into());
        k.keywords = vec!["ok".into(), "not ok".into(), "a".repeat(21)];
        k.categories = vec!["nope".into(), "also-nope".into()];
        let all = validate_metadata_all(&k, &MetadataRules::default());
        let texts: Vec<String> = all.iter().map(ToString::to_string).collect();
        assert_eq!(all.len(), 5, "{texts:#?}");
        assert_eq!(all[0], MetadataError::DescriptionTooLong);
        assert!(matches!(all[1], MetadataError::InvalidLicense(_)));
        assert_eq!(all[2], MetadataError::InvalidKeyword("not ok".into()));
        assert_eq!(all[3], MetadataError::KeywordTooLong("a".repeat(21)));
        assert_eq!(
            all[4],
            MetadataError::UnknownCategories(vec!["nope".into(), "also-nope".into()])
        );
        assert_eq!(
            validate_metadata(&k, &MetadataRules::default()),
            Err(all[0].clone())
        );
    }
}
