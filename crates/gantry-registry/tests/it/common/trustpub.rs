//! Trusted-publishing fixtures (included by the `trustpub*` test files with `#[path]`, after
//! `mod common`): a registry that accepts tokens from two test OIDC issuers (one in GitHub's role,
//! one in GitLab's), real keys, and the requests a CI job and an owner make.
#![allow(dead_code)]

use gantry_registry::Config;
use gantry_test_support::{GitHubWorkflow, GitLabJob, OidcIssuer};
use serde_json::{Value, json};

use crate::common::{Backend, Resp, TestRegistry, publish_body};

pub const REPO: &str = "octo-org/octo-repo";
pub const OWNER_ID: u64 = 65;
pub const WORKFLOW: &str = "release.yml";
pub const GITLAB_PROJECT: &str = "group/sub/project";
pub const NAMESPACE_ID: u64 = 72;

/// The scopes an owner's automation token has for trusted publishing.
pub const TP_SCOPES: &[&str] = &["publish-new", "publish-update", "trusted-publishing"];

pub struct Trust {
    pub github: OidcIssuer,
    pub gitlab: OidcIssuer,
    pub reg: TestRegistry,
}

/// The default workflow run: a push to main of [`REPO`] running [`WORKFLOW`].
pub fn run() -> GitHubWorkflow {
    GitHubWorkflow::new(REPO, OWNER_ID, WORKFLOW)
}

pub fn job() -> GitLabJob {
    GitLabJob::new(GITLAB_PROJECT, NAMESPACE_ID)
}

impl Trust {
    pub fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {})
    }

    pub fn start_with(backend: Backend, f: impl FnOnce(&mut Config)) -> Self {
        let github = OidcIssuer::start().unwrap();
        let gitlab = OidcIssuer::start().unwrap();
        let reg = TestRegistry::start_with(backend, |c| {
            c.trusted_publishing.github_issuer = Some(github.url().to_owned());
            c.trusted_publishing.gitlab_issuer = Some(gitlab.url().to_owned());
            f(c);
        });
        Trust {
            github,
            gitlab,
            reg,
        }
    }

    /// The default audience: the registry's URL without its scheme.
    pub fn audience(&self) -> String {
        self.reg.addr.to_string()
    }

    /// A user with a token holding [`TP_SCOPES`].
    pub fn owner(&self, login: &str) -> String {
        self.reg.user(login);
        self.reg.token_with(login, Some(TP_SCOPES), &[], None)
    }

    pub fn json(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Resp {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(t) = token {
            headers.push(("Authorization", t));
        }
        self.reg
            .http(method, path, &headers, body.to_string().as_bytes())
    }

    /// Publishes `name@vers` (a minimal valid crate) with `token`.
    pub fn publish(&self, token: &str, name: &str, vers: &str) -> Resp {
        self.reg.publish(token, &publish_body(name, vers))
    }

    /// Creates the standard GitHub config for `krate` (REPO, WORKFLOW, `environment`).
    pub fn github_config(&self, token: &str, krate: &str, environment: Option<&str>) -> Resp {
        let (owner, repo) = REPO.split_once('/').unwrap();
        self.json(
            "POST",
            "/api/v1/trusted_publishing/github_configs",
            Some(token),
            &json!({"github_config": {
                "crate": krate, "repository_owner": owner, "repository_name": repo,
                "workflow_filename": WORKFLOW, "environment": environment,
            }}),
        )
    }

    pub fn exchange(&self, jwt: &str) -> Resp {
        self.json(
            "POST",
            "/api/v1/trusted_publishing/tokens",
            None,
            &json!({ "jwt": jwt }),
        )
    }

    /// Exchanges a token of `run` for this registry's audience; returns the publish token.
    pub fn exchange_ok(&self, run: &GitHubWorkflow) -> String {
        let r = self.exchange(&self.github.github_token(run, &self.audience()));
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["token"].as_str().unwrap().to_owned()
    }

    /// `detail` of a 400 answer to exchanging `jwt`, asserting it is the same when sent again
    /// (so the refusal stored nothing: a recorded JWT id would make the second answer
    /// "JWT has already been used").
    pub fn refused_twice(&self, jwt: &str) -> String {
        let first = self.exchange(jwt);
        assert_eq!(first.status, 400, "{}", first.text());
        let second = self.exchange(jwt);
        assert_eq!(second.status, 400, "{}", second.text());
        assert_eq!(first.detail(), second.detail());
        first.detail()
    }

    pub fn version(&self, name: &str, vers: &str) -> Value {
        let r = self
            .reg
            .http("GET", &format!("/api/v1/crates/{name}/{vers}"), &[], b"");
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["version"].clone()
    }

    pub fn owners(&self, name: &str) -> Vec<String> {
        let r = self
            .reg
            .http("GET", &format!("/api/v1/crates/{name}/owners"), &[], b"");
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["login"].as_str().unwrap().to_owned())
            .collect()
    }
}
