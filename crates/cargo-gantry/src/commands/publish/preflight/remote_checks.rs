//! Authentication and ownership, asked of the registry.
//!
//! A registry whose `config.json` advertises `"gantry": {"validate-only": true}` (gantry-registry)
//! gets the exact upload with `?validate_only=true`: it runs every rule a publish meets, ownership
//! and its own limits included, and stores nothing. Nothing else ever gets that request: a registry
//! that ignored the flag would publish. Any other registry gets read-only calls: `GET /api/v1/me`
//! for the token's user, then `GET /api/v1/crates/{name}/owners` for each existing crate.
//!
//! Those calls are not part of cargo's protocol, so many registries do not answer them usefully
//! (kellnr serves its web page for `/api/v1/me`; JFrog Artifactory answers 400). Such an answer is
//! said once, in one line, and the check is listed as not run. Only a definitive refusal from
//! crates.io or a registry that advertises its rules is a problem: anything else must not block a
//! publish that would succeed. So a real publish to a registry whose rules are unknown makes none
//! of these calls (as cargo makes none); its dry run does, for the advice.

use gantry_client::webapi::{ApiError, WebApi};

use super::{Preflight, PreflightInput, Problem, Rules, Upload, probe};

pub(super) fn run(input: &PreflightInput, uploads: &[Upload], out: &mut Preflight) {
    if uploads.is_empty() {
        return; // nothing will be uploaded, so nothing needs a token
    }
    if !input.dry_run && Rules::of(input.remote) == Rules::Unknown {
        // Nothing these calls find can stop a real publish here (only warnings), and cargo makes
        // no such calls: the upload's answer is the registry's verdict. A dry run still asks.
        return;
    }
    let Some(api) = input.api else {
        // A real publish has already stopped with cargo's "no token found"; a dry run goes on.
        out.not_run.push(format!(
            "authentication and ownership (no token for registry `{}`)",
            input.remote.target.display()
        ));
        return;
    };
    if validates_remotely(input) {
        // gantry-registry checks a trusted-publishing token there as it will for the upload.
        for u in uploads {
            validate_only(input, api, u, out);
        }
    } else if input.remote.auth.trusted_publishing() {
        // `/api/v1/me` and the owners list do not take a token that only publishes; the
        // exchange already matched these crates' configs.
        out.not_run.push(
            "authentication and ownership (a trusted-publishing token only publishes)".to_owned(),
        );
    } else {
        read_only(input, api, uploads, out);
    }
}

/// Whether the target honours `validate_only` — only when its `config.json` says so (gantry-registry
/// does); a registry that ignored the flag would publish. Never crates.io.
pub(super) fn validates_remotely(input: &PreflightInput) -> bool {
    !input.remote.target.is_crates_io()
        && input
            .remote
            .config
            .gantry
            .as_ref()
            .is_some_and(|g| g.validate_only)
}

fn is_auth(e: &ApiError) -> bool {
    matches!(e.status(), Some(401 | 403))
}

const AUTH_HELP: &str = "check the token (`cargo login`) and that its user owns the crate (`cargo owner --list`); a token scoped to other crates or actions is refused too";

fn validate_only(input: &PreflightInput, api: &WebApi, u: &Upload, out: &mut Preflight) {
    let c = u.krate;
    // Dependencies this plan publishes do not exist yet; the registry would call them unknown.
    let mut metadata = u.metadata.clone();
    metadata
        .deps
        .retain(|d| d.registry.is_some() || !input.all_versions.iter().any(|(n, _)| *n == d.name));
    let json = match serde_json::to_vec(&metadata) {
        Ok(j) => j,
        Err(e) => return out.warning(Some(c), format!("could not encode the metadata: {e}"), None),
    };
    let rt = &input.remote.runtime;
    let err = match rt.block_on(api.validate_publish(&json, &u.tarball)) {
        Ok(_) => return,
        Err(e) => e,
    };
    if is_auth(&err) {
        return out.problem(Some(c), err.detail(), Some(AUTH_HELP.to_owned()));
    }
    if err.outcome_unknown() || err.status().is_none() {
        out.not_run.push(format!(
            "the registry's validate-only check ({})",
            first_line(&err)
        ));
        return;
    }
    let text = err.detail();
    if !out.has(c, &text) {
        let help = if err.status() == Some(413) {
            format!(
                "the `.crate` is {} bytes; leave large files out with `package.exclude` (or `include`) in `{}`",
                u.tarball.len(),
                input.ws.members[c.member].manifest_path.display()
            )
        } else {
            "reported by the registry's validate-only check".to_owned()
        };
        out.problem(Some(c), text, Some(help));
    }
    // The refusal came before the ownership check: ask again with an upload that passes the rules.
    let (Ok(json), Ok(tarball)) = (
        probe::metadata(&c.name, &c.version),
        probe::tarball(&c.name, &c.version),
    ) else {
        return out.warning(Some(c), "could not build the ownership probe", None);
    };
    match rt.block_on(api.validate_publish(&json, &tarball)) {
        Err(e) if is_auth(&e) => out.problem(Some(c), e.detail(), Some(AUTH_HELP.to_owned())),
        Err(e) if e.outcome_unknown() => {
            out.not_run
                .push(format!("ownership of {} ({})", c.name, first_line(&e)))
        }
        _ => {}
    }
}

/// What an answer to a probe says about the registry's API.
fn no_usable_api(e: &ApiError) -> String {
    match e {
        ApiError::Json(_) => "its answer is not the API's JSON".to_owned(),
        other => first_line(other),
    }
}

fn first_line(e: &ApiError) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

fn read_only(input: &PreflightInput, api: &WebApi, uploads: &[Upload], out: &mut Preflight) {
    let rt = &input.remote.runtime;
    let registry = input.remote.target.display();
    let definitive = Rules::of(input.remote) != Rules::Unknown;
    let login = match rt.block_on(api.me()) {
        Ok(login) => login,
        Err(e) if is_auth(&e) && definitive => {
            return out.problem(
                None,
                format!("the registry refused the token: {}", e.detail()),
                Some(AUTH_HELP.to_owned()),
            );
        }
        Err(e) if is_auth(&e) => {
            // Not definitive here: this registry may guard `/me` otherwise than publishing.
            out.unchecked.push(Problem::new(
                None,
                format!(
                    "registry `{registry}` refused the token for `/api/v1/me` ({}); ownership was not checked",
                    first_line(&e)
                ),
                Some(AUTH_HELP.to_owned()),
            ));
            out.not_run
                .push("ownership (the token was refused for `/api/v1/me`)".to_owned());
            return;
        }
        Err(e) => {
            // Most registries have no such endpoint (it is not cargo's protocol): nothing to warn
            // about, only a check that did not run (said with `--verbose`).
            out.not_run.push(format!(
                "ownership (no usable `/api/v1/me`: {})",
                no_usable_api(&e)
            ));
            return;
        }
    };
    for u in uploads.iter().filter(|u| u.exists == Some(true)) {
        let c = u.krate;
        match rt.block_on(api.list_owners(&c.name)) {
            Ok(owners) if owners.iter().any(|o| o.login == login) => {}
            // A team owner may include the user; only the registry can say.
            Ok(owners) if owners.iter().any(|o| o.login.contains(':')) => out.warning(
                Some(c),
                format!("`{login}` is not a direct owner; publishing relies on membership of a team owner"),
                None,
            ),
            Ok(owners) if definitive => {
                let names: Vec<&str> = owners.iter().map(|o| o.login.as_str()).collect();
                out.problem(
                    Some(c),
                    format!(
                        "`{login}` is not an owner of this crate (owners: {}), so the registry would refuse the publish",
                        names.join(", ")
                    ),
                    Some(format!("ask an owner to run `cargo owner --add {login} {}`", c.name)),
                );
            }
            Ok(owners) => {
                // Another registry may grant publishing otherwise (kellnr's admins, groups).
                let names: Vec<&str> = owners.iter().map(|o| o.login.as_str()).collect();
                out.warning(
                    Some(c),
                    format!(
                        "`{login}` is not listed among the owners ({}); registry `{registry}` may refuse the publish",
                        names.join(", ")
                    ),
                    None,
                );
            }
            Err(e) if is_auth(&e) && definitive => {
                out.problem(Some(c), e.detail(), Some(AUTH_HELP.to_owned()))
            }
            Err(e) => {
                out.unchecked.push(Problem::new(
                    None,
                    format!(
                        "registry `{registry}` has no usable owners API ({}); ownership was not checked",
                        no_usable_api(&e)
                    ),
                    None,
                ));
                out.not_run.push("ownership (no usable owners API)".to_owned());
                return;
            }
        }
    }
}
