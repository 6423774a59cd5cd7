//! `POST /api/v1/trusted_publishing/tokens` (a CI job's OIDC token in, a 30-minute publish token
//! out) and `DELETE` of the same path (revoke), with crates.io's bodies, statuses and texts.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::jwt::{self, GitHubClaims, GitLabClaims, LEEWAY_SECS};
use super::keys::{KeyStore, VerifyingKey};
use super::token;
use crate::app::App;
use crate::error::{ApiErr, one_line};
use crate::store::now;
use crate::store::trustpub::{Exchange, ExchangeRefusal, Mismatch, Provider};

#[derive(Deserialize)]
struct ExchangeRequest {
    jwt: String,
}

#[derive(Serialize)]
struct ExchangeResponse {
    token: String,
}

/// What the provider-specific part hands to the common one.
struct Job {
    exchange: Exchange,
    /// How the JWT spells the repository, for messages and the log.
    repository: String,
    run: String,
}

fn failed_to_decode(e: impl std::fmt::Display) -> ApiErr {
    tracing::warn!(error = %e, "trusted publishing: JWT refused");
    ApiErr::bad("Failed to decode JWT")
}

/// `POST /api/v1/trusted_publishing/tokens` with `{"jwt": "…"}` → `{"token": "gty_tp_…"}`.
pub async fn exchange(State(app): State<Arc<App>>, body: Bytes) -> Result<Response, ApiErr> {
    let req: ExchangeRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiErr::bad(format!("invalid json request: {e}")))?;
    let unverified = jwt::peek(&req.jwt).map_err(failed_to_decode)?;
    let Some(store) = app.trustpub.by_issuer(&unverified.iss) else {
        return Err(ApiErr::bad(format!(
            "Unsupported JWT issuer: {}",
            unverified.iss
        )));
    };
    let Some(kid) = unverified.kid else {
        return Err(ApiErr::bad("Missing JWT key ID"));
    };
    let key = match store.key(&kid).await {
        Ok(Some(key)) => key,
        Ok(None) => return Err(ApiErr::bad("Invalid JWT key ID")),
        Err(e) => {
            tracing::warn!(issuer = %store.issuer, error = %one_line(&e), "Failed to load OIDC key set");
            return Err(ApiErr::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Failed to load OIDC key set",
            ));
        }
    };
    let token = token::generate();
    let job = match store.provider {
        Provider::GitHub => github_job(&app, store, &key, &req.jwt, &token)?,
        Provider::GitLab => gitlab_job(&app, store, &key, &req.jwt, &token)?,
    };
    if let Err(refusal) = app.store.exchange(&job.exchange).await {
        return Err(refused(&job, refusal));
    }
    tracing::info!(
        provider = store.provider.as_str(),
        repository = %job.repository,
        run = %job.run,
        "trusted publishing token issued"
    );
    Ok(Json(ExchangeResponse { token }).into_response())
}

/// The claims matching reads, whichever the provider.
struct Matched<'a> {
    owner: &'a str,
    repo: &'a str,
    identity_id: String,
    workflow: &'a str,
    environment: Option<String>,
}

/// The exchange to store: the JWT id (kept through the leeway window in which the JWT still
/// verifies), what matching reads, and the new token.
fn exchange_record(
    store: &KeyStore,
    (jti, exp): (String, u64),
    m: Matched<'_>,
    token: &str,
    data: serde_json::Value,
) -> Exchange {
    let now = now();
    let exp = i64::try_from(exp).unwrap_or(i64::MAX);
    Exchange {
        provider: store.provider,
        issuer: store.issuer.clone(),
        jti,
        jti_expires_at: exp.saturating_add(LEEWAY_SECS as i64),
        owner: m.owner.to_owned(),
        repo: m.repo.to_owned(),
        identity_id: m.identity_id,
        workflow: m.workflow.to_owned(),
        environment: m.environment,
        token_hash: token::hash(token),
        token_expires_at: now + token::LIFETIME_SECS,
        trustpub_data: data.to_string(),
        now,
    }
}

fn github_job(
    app: &App,
    store: &KeyStore,
    key: &VerifyingKey,
    jwt: &str,
    token: &str,
) -> Result<Job, ApiErr> {
    let c: GitHubClaims =
        jwt::verify(jwt, key, &store.issuer, &app.trustpub.audience).map_err(failed_to_decode)?;
    // These triggers run with the base repository's rights on behalf of others' pull requests.
    if matches!(
        c.event_name.as_str(),
        "pull_request_target" | "workflow_run"
    ) {
        return Err(ApiErr::bad(format!(
            "Trusted Publishing does not support the `{}` event trigger due to security \
             concerns. Please use a different trigger such as `push`, `release`, or \
             `workflow_dispatch`.",
            c.event_name
        )));
    }
    let Some((owner, repo)) = c.repository.split_once('/') else {
        return Err(ApiErr::bad("Unexpected `repository` value"));
    };
    let Some(workflow) = jwt::github_workflow_filename(&c.workflow_ref) else {
        return Err(ApiErr::bad("Unexpected `workflow_ref` value"));
    };
    let Ok(owner_id) = c.repository_owner_id.parse::<i64>() else {
        return Err(ApiErr::bad("Unexpected `repository_owner_id` value"));
    };
    let data = serde_json::json!({
        "provider": "github", "repository": c.repository, "run_id": c.run_id, "sha": c.sha,
    });
    let matched = Matched {
        owner,
        repo,
        identity_id: owner_id.to_string(),
        workflow,
        environment: c.environment.clone(),
    };
    Ok(Job {
        exchange: exchange_record(store, (c.jti.clone(), c.exp), matched, token, data),
        repository: c.repository.clone(),
        run: c.run_id.clone(),
    })
}

fn gitlab_job(
    app: &App,
    store: &KeyStore,
    key: &VerifyingKey,
    jwt: &str,
    token: &str,
) -> Result<Job, ApiErr> {
    let c: GitLabClaims =
        jwt::verify(jwt, key, &store.issuer, &app.trustpub.audience).map_err(failed_to_decode)?;
    // Subgroups belong to the namespace: `a/b/c` is project `c` of namespace `a/b`.
    let Some((namespace, project)) = c.project_path.rsplit_once('/') else {
        return Err(ApiErr::bad("Unexpected `project_path` value"));
    };
    let Some(workflow) = jwt::gitlab_workflow_filepath(&c.ci_config_ref_uri) else {
        return Err(ApiErr::bad("Unexpected `ci_config_ref_uri` value"));
    };
    let data = serde_json::json!({
        "provider": "gitlab", "project_path": c.project_path, "job_id": c.job_id, "sha": c.sha,
    });
    let matched = Matched {
        owner: namespace,
        repo: project,
        identity_id: c.namespace_id.clone(),
        workflow,
        environment: c.environment.clone(),
    };
    Ok(Job {
        exchange: exchange_record(store, (c.jti.clone(), c.exp), matched, token, data),
        repository: c.project_path.clone(),
        run: c.job_id.clone(),
    })
}

/// crates.io's 400 for each way matching can fail.
fn refused(job: &Job, refusal: ExchangeRefusal) -> ApiErr {
    let repo = &job.repository;
    let github = job.exchange.provider == Provider::GitHub;
    let message = match refusal {
        ExchangeRefusal::Replayed => {
            tracing::warn!(repository = %repo, "attempted JWT reuse");
            "JWT has already been used".to_owned()
        }
        ExchangeRefusal::NoConfig => {
            format!("No Trusted Publishing config found for repository `{repo}`.")
        }
        ExchangeRefusal::Mismatch(Mismatch::Identity { expected }) => {
            let (what, plural) = match github {
                true => ("repository owner ID", "owner IDs"),
                false => ("namespace ID", "namespace IDs"),
            };
            format!(
                "The Trusted Publishing config for repository `{repo}` does not match the {what} \
                 ({}) in the JWT. Expected {plural}: {}. Please recreate the Trusted Publishing \
                 config to update the {what}.",
                job.exchange.identity_id,
                expected.join(", ")
            )
        }
        ExchangeRefusal::Mismatch(Mismatch::Workflow { expected }) => {
            let what = match github {
                true => "filename",
                false => "filepath",
            };
            format!(
                "The Trusted Publishing config for repository `{repo}` does not match the \
                 workflow {what} `{}` in the JWT. Expected workflow {what}s: {}",
                job.exchange.workflow,
                expected.join(", ")
            )
        }
        ExchangeRefusal::Mismatch(Mismatch::Environment { expected }) => {
            match &job.exchange.environment {
                Some(env) => format!(
                    "The Trusted Publishing config for repository `{repo}` does not match the \
                 environment `{env}` in the JWT. Expected environments: {}",
                    expected.join(", ")
                ),
                None => format!(
                    "The Trusted Publishing config for repository `{repo}` requires an environment, \
                 but the JWT does not specify one. Expected environments: {}",
                    expected.join(", ")
                ),
            }
        }
        ExchangeRefusal::Store(e) => return e.into(),
    };
    ApiErr::bad(message)
}

/// `DELETE /api/v1/trusted_publishing/tokens` with `Authorization: Bearer <token>`: 204 whether or
/// not the token still existed.
pub async fn revoke(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiErr> {
    let unauthorized = |m: &str| ApiErr::new(StatusCode::UNAUTHORIZED, m);
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(unauthorized("Missing authorization header"));
    };
    let Some(token) = value
        .as_bytes()
        .strip_prefix(b"Bearer ")
        .and_then(|t| std::str::from_utf8(t).ok())
        .filter(|t| token::is_well_formed(t))
    else {
        return Err(unauthorized("Invalid authorization header"));
    };
    if app.store.revoke_trusted_token(&token::hash(token)).await? {
        tracing::info!("trusted publishing token revoked");
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
