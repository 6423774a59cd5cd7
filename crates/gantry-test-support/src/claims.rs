//! Claim sets shaped like the ID tokens GitHub Actions and GitLab CI issue to a running job, with
//! every claim those providers document (not only the ones a registry reads), so a verifier that
//! wrongly depends on an extra claim or trips over one is caught.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use crate::keys::random_string;

/// How long the providers' job tokens live (GitHub: about 5 minutes; GitLab: the job timeout).
const JOB_TOKEN_LIFETIME_SECS: u64 = 300;

static RUN_COUNTER: AtomicU64 = AtomicU64::new(4_000_000_000);

fn next_id() -> String {
    RUN_COUNTER.fetch_add(1, Ordering::Relaxed).to_string()
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A fresh 40-hex-digit commit id.
fn sha() -> String {
    let mut bytes = [0u8; 20];
    // Never fails on the platforms the tests run on; a fixed id would do as well.
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A GitHub Actions workflow run, as the claims of its OIDC tokens describe it.
#[derive(Debug, Clone)]
pub struct GitHubWorkflow {
    /// `owner/name`.
    pub repository: String,
    pub repository_owner_id: String,
    pub repository_id: String,
    /// The file under `.github/workflows/` of the workflow that runs (the caller's, for reusable
    /// workflows: that is what `workflow_ref` names).
    pub workflow_file: String,
    /// `refs/heads/main`, `refs/tags/v1.0.0`, …
    pub git_ref: String,
    pub environment: Option<String>,
    /// `push`, `release`, `workflow_dispatch`, `pull_request_target`, `workflow_run`, …
    pub event_name: String,
    pub run_id: String,
    pub sha: String,
    pub actor: String,
}

impl GitHubWorkflow {
    /// A `push` to `refs/heads/main` of `repository` (`owner/name`) running `workflow_file`.
    pub fn new(repository: &str, repository_owner_id: u64, workflow_file: &str) -> Self {
        GitHubWorkflow {
            repository: repository.to_owned(),
            repository_owner_id: repository_owner_id.to_string(),
            repository_id: (repository_owner_id + 1000).to_string(),
            workflow_file: workflow_file.to_owned(),
            git_ref: "refs/heads/main".to_owned(),
            environment: None,
            event_name: "push".to_owned(),
            run_id: next_id(),
            sha: sha(),
            actor: "octocat".to_owned(),
        }
    }

    pub fn environment(mut self, environment: &str) -> Self {
        self.environment = Some(environment.to_owned());
        self
    }

    pub fn event(mut self, event_name: &str) -> Self {
        self.event_name = event_name.to_owned();
        self
    }

    /// The full claim set of one token for `audience`, issued now by `issuer`, with a fresh `jti`.
    pub fn claims(&self, issuer: &str, audience: &str) -> Value {
        let now = unix_now();
        let owner = self.repository.split('/').next().unwrap_or("");
        let workflow_ref = format!(
            "{}/.github/workflows/{}@{}",
            self.repository, self.workflow_file, self.git_ref
        );
        let sub = match &self.environment {
            Some(env) => format!("repo:{}:environment:{env}", self.repository),
            None => format!("repo:{}:ref:{}", self.repository, self.git_ref),
        };
        let mut claims = json!({
            "jti": format!("{}-{}", random_string(8), random_string(12)),
            "sub": sub,
            "aud": audience,
            "ref": self.git_ref,
            "sha": self.sha,
            "repository": self.repository,
            "repository_owner": owner,
            "repository_owner_id": self.repository_owner_id,
            "repository_visibility": "private",
            "repository_id": self.repository_id,
            "run_id": self.run_id,
            "run_number": "7",
            "run_attempt": "1",
            "runner_environment": "github-hosted",
            "actor": self.actor,
            "actor_id": "583231",
            "workflow": "Release",
            "head_ref": "",
            "base_ref": "",
            "event_name": self.event_name,
            "ref_type": if self.git_ref.starts_with("refs/tags/") { "tag" } else { "branch" },
            "ref_protected": "true",
            "workflow_ref": workflow_ref,
            "workflow_sha": self.sha,
            "job_workflow_ref": workflow_ref,
            "job_workflow_sha": self.sha,
            "iss": issuer,
            "nbf": now,
            "exp": now + JOB_TOKEN_LIFETIME_SECS,
            "iat": now,
        });
        if let Some(env) = &self.environment {
            claims["environment"] = json!(env);
        }
        claims
    }
}

/// A GitLab CI job, as the claims of its `id_tokens` describe it.
#[derive(Debug, Clone)]
pub struct GitLabJob {
    /// `group` or `group/subgroup`.
    pub namespace_path: String,
    pub namespace_id: String,
    /// `namespace/project`.
    pub project_path: String,
    /// The CI file inside the project, `.gitlab-ci.yml` by default.
    pub ci_config_path: String,
    /// A branch name such as `main`.
    pub git_ref: String,
    pub environment: Option<String>,
    pub job_id: String,
    pub sha: String,
}

impl GitLabJob {
    /// A job on branch `main` of `project_path` (`namespace/project`, the namespace may have
    /// subgroups) running `.gitlab-ci.yml`.
    pub fn new(project_path: &str, namespace_id: u64) -> Self {
        let namespace = project_path.rsplit_once('/').map_or("", |(ns, _)| ns);
        GitLabJob {
            namespace_path: namespace.to_owned(),
            namespace_id: namespace_id.to_string(),
            project_path: project_path.to_owned(),
            ci_config_path: ".gitlab-ci.yml".to_owned(),
            git_ref: "main".to_owned(),
            environment: None,
            job_id: next_id(),
            sha: sha(),
        }
    }

    pub fn environment(mut self, environment: &str) -> Self {
        self.environment = Some(environment.to_owned());
        self
    }

    pub fn ci_config_path(mut self, path: &str) -> Self {
        self.ci_config_path = path.to_owned();
        self
    }

    /// The full claim set of one token for `audience`, issued now by `issuer` (whose host starts
    /// `ci_config_ref_uri`, as on a real instance), with a fresh `jti`.
    pub fn claims(&self, issuer: &str, audience: &str) -> Value {
        let now = unix_now();
        let host = issuer
            .split_once("://")
            .map_or(issuer, |(_, rest)| rest)
            .trim_end_matches('/');
        let ref_path = format!("refs/heads/{}", self.git_ref);
        let mut claims = json!({
            "namespace_id": self.namespace_id,
            "namespace_path": self.namespace_path,
            "project_id": "20",
            "project_path": self.project_path,
            "user_id": "1",
            "user_login": "release-bot",
            "user_email": "release-bot@example.com",
            "user_access_level": "maintainer",
            "pipeline_id": next_id(),
            "pipeline_source": "push",
            "job_id": self.job_id,
            "ref": self.git_ref,
            "ref_type": "branch",
            "ref_path": ref_path,
            "ref_protected": "true",
            "runner_id": 1,
            "runner_environment": "gitlab-hosted",
            "sha": self.sha,
            "project_visibility": "private",
            "ci_config_ref_uri": format!(
                "{host}/{}//{}@{ref_path}", self.project_path, self.ci_config_path
            ),
            "ci_config_sha": self.sha,
            "jti": format!("{}-{}", random_string(8), random_string(12)),
            "iss": issuer,
            "iat": now,
            "nbf": now - 5,
            "exp": now + JOB_TOKEN_LIFETIME_SECS,
            "sub": format!("project_path:{}:ref_type:branch:ref:{}", self.project_path, self.git_ref),
            "aud": audience,
        });
        if let Some(env) = &self.environment {
            claims["environment"] = json!(env);
            claims["environment_protected"] = json!("true");
            claims["deployment_tier"] = json!("production");
            claims["environment_action"] = json!("start");
        }
        claims
    }
}
