//! Reading CI job tokens: the unverified peek at `iss` and `kid` that picks the key, then the
//! verification crates.io makes (signature with the key's one algorithm; `iss`, `aud`, `exp`
//! required; `exp`, `nbf` and a future `iat` checked with 60 s leeway; `aud` a single string), and
//! the claims each provider's matching reads.

use jsonwebtoken::Validation;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::keys::VerifyingKey;

/// Clock skew tolerated on `exp`, `nbf` and `iat`; JWT ids are kept this much past `exp`.
pub const LEEWAY_SECS: u64 = 60;

/// What is read before the signature is checked, only to find the key.
pub struct Unverified {
    pub iss: String,
    pub kid: Option<String>,
}

/// `Err` when `jwt` is not a JWT with a string `iss`.
pub fn peek(jwt: &str) -> Result<Unverified, jsonwebtoken::errors::Error> {
    #[derive(Deserialize)]
    struct Iss {
        iss: String,
    }
    let data = jsonwebtoken::dangerous::insecure_decode::<Iss>(jwt)?;
    Ok(Unverified {
        iss: data.claims.iss,
        kid: data.header.kid,
    })
}

/// Why a token did not verify (the client only ever hears "Failed to decode JWT"; this goes to
/// the log).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Jwt(#[from] jsonwebtoken::errors::Error),
    #[error("`iat` is in the future")]
    IssuedInFuture,
}

/// The verified claims of `jwt`, signed by `key`, issued by `issuer` for `audience`.
pub fn verify<C: DeserializeOwned + IssuedAt>(
    jwt: &str,
    key: &VerifyingKey,
    issuer: &str,
    audience: &str,
) -> Result<C, VerifyError> {
    let mut v = Validation::new(key.alg);
    v.leeway = LEEWAY_SECS;
    v.required_spec_claims = ["iss", "exp", "aud"].map(String::from).into();
    v.validate_exp = true;
    v.validate_nbf = true;
    v.validate_aud = true;
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    let claims: C = jsonwebtoken::decode(jwt, &key.key, &v)?.claims;
    let now = jsonwebtoken::get_current_timestamp();
    if claims.iat() > now.saturating_add(LEEWAY_SECS) {
        return Err(VerifyError::IssuedInFuture);
    }
    Ok(claims)
}

pub trait IssuedAt {
    fn iat(&self) -> u64;
}

/// The claims of a GitHub Actions job token that trusted publishing reads. `aud` is a `String`,
/// so a token with an array audience does not deserialise.
#[derive(Debug, Deserialize)]
pub struct GitHubClaims {
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    pub repository_owner_id: String,
    /// `owner/name`.
    pub repository: String,
    /// `owner/name/.github/workflows/<file>@<ref>`, of the workflow that was started (the
    /// caller, for reusable workflows).
    pub workflow_ref: String,
    pub environment: Option<String>,
    pub event_name: String,
    pub run_id: String,
    pub sha: String,
}

impl IssuedAt for GitHubClaims {
    fn iat(&self) -> u64 {
        self.iat
    }
}

/// The claims of a GitLab CI `id_tokens` token that trusted publishing reads.
#[derive(Debug, Deserialize)]
pub struct GitLabClaims {
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    pub namespace_id: String,
    /// `namespace/project`, the namespace possibly with subgroups.
    pub project_path: String,
    /// `<host>/<project_path>//<ci file path>@<ref>`.
    pub ci_config_ref_uri: String,
    pub environment: Option<String>,
    pub job_id: String,
    pub sha: String,
}

impl IssuedAt for GitLabClaims {
    fn iat(&self) -> u64 {
        self.iat
    }
}

fn is_yaml(name: &str) -> bool {
    name.ends_with(".yml") || name.ends_with(".yaml")
}

/// The workflow file name in a `workflow_ref`: in the first `/`-separated segment that has one,
/// the longest non-empty prefix ending in `.yml`/`.yaml` that is followed by `@` and at least one
/// more character (so `a.yml@b.yml@refs/…` names `a.yml@b.yml`, as crates.io reads it).
pub fn github_workflow_filename(workflow_ref: &str) -> Option<&str> {
    let mut start = 0;
    for segment in workflow_ref.split('/') {
        let after_segment = &workflow_ref[start + segment.len()..];
        let found = segment
            .match_indices('@')
            .rev()
            .map(|(at, _)| at)
            .find(|&at| {
                let name = &segment[..at];
                let rest = &segment[at + 1..];
                let more = rest.chars().next().or_else(|| after_segment.chars().next());
                is_yaml(name)
                    && !matches!(name, ".yml" | ".yaml")
                    && more.is_some_and(|c| c != '\n')
            });
        if let Some(at) = found {
            return Some(&segment[..at]);
        }
        start += segment.len() + 1;
    }
    None
}

/// The CI file path in a `ci_config_ref_uri`: between the first `//` and the last `@`, ending in
/// `.yml`/`.yaml` with a non-empty file name. Plain string scanning, linear in the input.
pub fn gitlab_workflow_filepath(uri: &str) -> Option<&str> {
    let after = &uri[uri.find("//")? + 2..];
    let path = &after[..after.rfind('@')?];
    let file = path.rsplit('/').next()?;
    (is_yaml(path) && !matches!(file, ".yml" | ".yaml")).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_filenames_from_workflow_refs() {
        let w = "foo/bar/.github/workflows/";
        for (tail, want) in [
            ("basic.yml@refs/heads/main", Some("basic.yml")),
            ("basic.yaml@refs/heads/main", Some("basic.yaml")),
            (
                "has..periods..yml@refs/heads/main",
                Some("has..periods..yml"),
            ),
            ("nested@evil.yml@refs/heads/main", Some("nested@evil.yml")),
            (
                "nested.yml@evil.yml@refs/heads/main",
                Some("nested.yml@evil.yml"),
            ),
            (
                "basic.yml@refs/heads/misleading@branch.yml",
                Some("basic.yml"),
            ),
            ("foo.yml.yml@refs/heads/main", Some("foo.yml.yml")),
            ("basic.wrongsuffix@refs/heads/main", None),
            ("@refs/heads/main", None),
            ("nosuffix@refs/heads/main", None),
            (".yml@refs/heads/main", None),
            (".yaml@refs/heads/main", None),
            ("main.yml", None),
            ("main.yml@", None),
        ] {
            assert_eq!(
                github_workflow_filename(&format!("{w}{tail}")),
                want,
                "{tail}"
            );
        }
        // `@` as the last character of a segment, the ref after the `/`.
        assert_eq!(
            github_workflow_filename("o/r/.github/workflows/a.yml@/x"),
            Some("a.yml")
        );
    }

    #[test]
    fn workflow_filepaths_from_ci_config_ref_uris() {
        let p = "gitlab.com/foo/bar//";
        for (tail, want) in [
            ("notnested.yml@/some/ref", Some("notnested.yml")),
            (
                "more/nested/example.yml@/some/ref",
                Some("more/nested/example.yml"),
            ),
            (
                "too//many//slashes.yml@/some/ref",
                Some("too//many//slashes.yml"),
            ),
            ("has-@.yml@/some/ref", Some("has-@.yml")),
            ("foo.yml@bar.yml@/some/ref", Some("foo.yml@bar.yml")),
            (".gitlab-ci.yml@refs/heads/main", Some(".gitlab-ci.yml")),
            ("notnested.wrongsuffix@/some/ref", None),
            ("@/some/ref", None),
            (".yml@/some/ref", None),
            ("somedir/.yaml@/some/ref", None),
        ] {
            assert_eq!(
                gitlab_workflow_filepath(&format!("{p}{tail}")),
                want,
                "{tail}"
            );
        }
        assert_eq!(gitlab_workflow_filepath("no-double-slash.yml@x"), None);
        // Linear on hostile input.
        let long = ".yml@//".repeat(200_000) + ".yml@/\n//\x00.yml@y";
        let _ = gitlab_workflow_filepath(&long);
        let _ = github_workflow_filename(&long);
    }
}
