//! The JSON shape of configs, as crates.io writes them, plus the fields gantry adds (`pending`,
//! `expires_at`, `pending_owner`), which crates.io clients ignore.

use serde_json::{Value, json};

use crate::store::trustpub::{ConfigCrate, Source, TrustConfig};
use crate::web::time::timestamp as rfc3339;

/// A config as `github_config` / `gitlab_config` objects show it.
pub fn config(c: &TrustConfig) -> Value {
    let mut v = match &c.source {
        Source::GitHub {
            repository_owner,
            repository_owner_id,
            repository_name,
            workflow_filename,
        } => json!({
            "id": c.id,
            "crate": c.krate.name(),
            "repository_owner": repository_owner,
            "repository_owner_id": repository_owner_id,
            "repository_name": repository_name,
            "workflow_filename": workflow_filename,
            "environment": c.environment,
            "created_at": rfc3339(c.created_at),
        }),
        Source::GitLab {
            namespace,
            namespace_id,
            project,
            workflow_filepath,
        } => json!({
            "id": c.id,
            "crate": c.krate.name(),
            "namespace": namespace,
            "namespace_id": namespace_id,
            "project": project,
            "workflow_filepath": workflow_filepath,
            "environment": c.environment,
            "created_at": rfc3339(c.created_at),
        }),
    };
    match &c.krate {
        ConfigCrate::Crate { .. } => {
            v["pending"] = json!(false);
        }
        ConfigCrate::Pending {
            owner, expires_at, ..
        } => {
            v["pending"] = json!(true);
            v["pending_owner"] = json!(owner.login);
            v["expires_at"] = json!(rfc3339(*expires_at));
        }
    }
    v
}
