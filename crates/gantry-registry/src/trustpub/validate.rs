//! The field rules of trusted-publishing configs, with crates.io's messages: permissive enough for
//! every real GitHub and GitLab value, strict enough to refuse what no job token can carry.

const MAX_FIELD_LENGTH: usize = 255;

fn too_long(what: &str) -> String {
    format!("{what} is too long (maximum is {MAX_FIELD_LENGTH} characters)")
}

fn is_yaml(s: &str) -> bool {
    s.ends_with(".yml") || s.ends_with(".yaml")
}

pub fn github_owner(owner: &str) -> Result<(), String> {
    let what = "GitHub repository owner name";
    let mut chars = owner.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-');
    if owner.is_empty() {
        Err(format!("{what} may not be empty"))
    } else if owner.len() > MAX_FIELD_LENGTH {
        Err(too_long(what))
    } else if !valid {
        Err("Invalid GitHub repository owner name".into())
    } else {
        Ok(())
    }
}

pub fn github_repo(repo: &str) -> Result<(), String> {
    let what = "GitHub repository name";
    if repo.is_empty() {
        Err(format!("{what} may not be empty"))
    } else if repo.len() > MAX_FIELD_LENGTH {
        Err(too_long(what))
    } else if !repo
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Err("Invalid GitHub repository name".into())
    } else {
        Ok(())
    }
}

pub fn github_workflow_filename(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("Workflow filename may not be empty".into())
    } else if name.len() > MAX_FIELD_LENGTH {
        Err(too_long("Workflow filename"))
    } else if !is_yaml(name) {
        Err("Workflow filename must end with `.yml` or `.yaml`".into())
    } else if name.contains('/') {
        Err("Workflow filename must be a filename only, without directories".into())
    } else {
        Ok(())
    }
}

pub fn github_environment(env: &str) -> Result<(), String> {
    let forbidden =
        |c: char| c.is_ascii_control() || matches!(c, '\'' | '"' | '`' | ',' | ';' | '\\');
    if env.is_empty() {
        Err("Environment name may not be empty (use `null` to omit)".into())
    } else if env.len() > MAX_FIELD_LENGTH {
        Err(too_long("Environment name"))
    } else if env.starts_with(' ') {
        Err("Environment name may not start with whitespace".into())
    } else if env.ends_with(' ') {
        Err("Environment name may not end with whitespace".into())
    } else if env.chars().any(forbidden) {
        Err(r#"Environment name must not contain non-printable characters or the characters "'", """, "`", ",", ";", "\""#.into())
    } else {
        Ok(())
    }
}

/// A GitLab path part: alphanumerics at both ends, `_ . -` (and `/` in namespaces) between.
fn gitlab_path(s: &str, slash: bool) -> bool {
    let inner =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') || (slash && c == '/');
    let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    ends(s.chars().next()) && ends(s.chars().last()) && s.chars().all(inner)
}

fn gitlab_name(value: &str, what: &str, invalid: &str, slash: bool) -> Result<(), String> {
    if value.is_empty() {
        Err(format!("{what} may not be empty"))
    } else if value.len() > MAX_FIELD_LENGTH {
        Err(too_long(what))
    } else if value.ends_with(".atom") || value.ends_with(".git") {
        Err(format!("{what} cannot end with .atom or .git"))
    } else if !gitlab_path(value, slash) {
        Err(invalid.into())
    } else {
        Ok(())
    }
}

pub fn gitlab_namespace(ns: &str) -> Result<(), String> {
    gitlab_name(ns, "GitLab namespace", "Invalid GitLab namespace", true)
}

pub fn gitlab_project(project: &str) -> Result<(), String> {
    gitlab_name(
        project,
        "GitLab project name",
        "Invalid GitLab project name",
        false,
    )
}

pub fn gitlab_workflow_filepath(path: &str) -> Result<(), String> {
    if path.is_empty() {
        Err("Workflow filepath may not be empty".into())
    } else if path.len() > MAX_FIELD_LENGTH {
        Err(too_long("Workflow filepath"))
    } else if path.starts_with('/') {
        Err("Workflow filepath cannot start with /".into())
    } else if path.ends_with('/') {
        Err("Workflow filepath cannot end with /".into())
    } else if !is_yaml(path) {
        Err("Workflow filepath must end with `.yml` or `.yaml`".into())
    } else {
        Ok(())
    }
}

pub fn gitlab_environment(env: &str) -> Result<(), String> {
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '/' | '$' | '{' | '}');
    if env.is_empty() {
        Err("Environment name may not be empty (use `null` to omit)".into())
    } else if env.len() > MAX_FIELD_LENGTH {
        Err(too_long("Environment name"))
    } else if !env.chars().all(allowed) {
        Err("Environment name contains invalid characters".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_fields() {
        assert_eq!(
            github_owner("").unwrap_err(),
            "GitHub repository owner name may not be empty"
        );
        assert!(
            github_owner(&"x".repeat(256))
                .unwrap_err()
                .contains("maximum is 255")
        );
        assert_eq!(
            github_owner("bad_owner@").unwrap_err(),
            "Invalid GitHub repository owner name"
        );
        assert!(github_owner("-x").is_err() && github_owner("rust-lang").is_ok());
        assert_eq!(
            github_repo("$x#").unwrap_err(),
            "Invalid GitHub repository name"
        );
        assert!(github_repo("foo_bar.rs-2").is_ok());
        assert_eq!(
            github_workflow_filename("/slash").unwrap_err(),
            "Workflow filename must end with `.yml` or `.yaml`"
        );
        assert_eq!(
            github_workflow_filename("/slash.yml").unwrap_err(),
            "Workflow filename must be a filename only, without directories"
        );
        for bad in ["'", "\"", "`", ",", ";", "\\", "\x00", "\x1f", "\x7f", "\t"] {
            assert!(
                github_environment(bad)
                    .unwrap_err()
                    .contains("non-printable"),
                "{bad:?}"
            );
        }
        assert!(
            github_environment(" x")
                .unwrap_err()
                .contains("start with whitespace")
        );
        assert!(
            github_environment("x ")
                .unwrap_err()
                .contains("end with whitespace")
        );
        assert!(github_environment("release candidate").is_ok());
    }

    #[test]
    fn gitlab_fields() {
        for bad in ["-", "_", "-start", "end-", "a@b", "foo+bar"] {
            assert_eq!(
                gitlab_namespace(bad).unwrap_err(),
                "Invalid GitLab namespace",
                "{bad}"
            );
        }
        assert!(
            gitlab_namespace("foo.git")
                .unwrap_err()
                .contains(".atom or .git")
        );
        for ok in ["a", "foo-bar", "foo_bar", "foo.bar", "foo/bar/baz"] {
            assert!(gitlab_namespace(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            gitlab_project("a/b").unwrap_err(),
            "Invalid GitLab project name"
        );
        assert!(
            gitlab_workflow_filepath("/x.yml")
                .unwrap_err()
                .contains("start with /")
        );
        assert!(
            gitlab_workflow_filepath("x/")
                .unwrap_err()
                .contains("end with /")
        );
        assert!(gitlab_workflow_filepath(".gitlab/ci/publish.yml").is_ok());
        assert_eq!(
            gitlab_environment("a.b").unwrap_err(),
            "Environment name contains invalid characters"
        );
        assert!(gitlab_environment("path/to/env with space").is_ok());
    }
}
