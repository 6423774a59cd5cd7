//! The JSON shapes of configs, crates and versions, as crates.io writes them, plus the fields
//! gantry adds (`pending`, `expires_at`, `pending_owner`), which crates.io clients ignore.

use serde_json::{Value, json};

use crate::store::trustpub::{ConfigCrate, Source, TrustConfig, VersionDetails};

/// Unix seconds as RFC 3339 UTC (`2026-11-30T12:00:00Z`), the form crates.io's timestamps take.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

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

/// A version as `GET /api/v1/crates/{name}/{version}` shows it.
pub fn version(crate_name: &str, v: &VersionDetails) -> Value {
    let published_by = v
        .published_by
        .as_ref()
        .map(|u| json!({"id": u.id, "login": u.login, "name": null, "avatar": null, "url": null}));
    let trustpub_data = v
        .trustpub_data
        .as_deref()
        .and_then(|d| serde_json::from_str::<Value>(d).ok());
    json!({
        "id": v.id,
        "crate": crate_name,
        "num": v.num,
        "dl_path": format!("/api/v1/crates/{crate_name}/{}/download", v.num),
        "yanked": v.yanked,
        "created_at": rfc3339(v.created_at),
        "checksum": v.cksum,
        "published_by": published_by,
        "trustpub_data": trustpub_data,
    })
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_031_738), "2026-11-30T09:42:18Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
