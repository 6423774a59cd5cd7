//! Trusted publishing and its issuers, on both backends: GitLab's claims and namespace ids, the
//! JWKS cache (refetched on an unknown kid at most once per interval, replaced whole), ES256
//! issuers, an issuer that does not answer, and what `config.json` advertises.

use crate::common::*;
use crate::trustpub_common::*;
use gantry_test_support::paths;
use serde_json::json;

const CONFIGS: &str = "/api/v1/trusted_publishing/github_configs";

fn gitlab_configs_learn_the_namespace_id(backend: Backend) {
    let t = Trust::start(backend);
    let alice = t.owner("alice");
    assert_eq!(t.publish(&alice, "tp-lab", "0.1.0").status, 200);
    let r = t.json(
        "POST",
        "/api/v1/trusted_publishing/gitlab_configs",
        Some(&alice),
        &json!({"gitlab_config": {"crate": "tp-lab", "namespace": "group/sub",
            "project": "project", "workflow_filepath": ".gitlab-ci.yml", "environment": null}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["gitlab_config"]["namespace_id"], json!(null));
    let aud = t.audience();
    let r = t.exchange(&t.gitlab.gitlab_token(&job(), &aud));
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(t.publish(&token, "tp-lab", "0.2.0").status, 200);
    let v = t.version("tp-lab", "0.2.0");
    assert_eq!(v["trustpub_data"]["provider"], "gitlab");
    assert_eq!(v["trustpub_data"]["project_path"], GITLAB_PROJECT);

    let mut moved = job();
    moved.namespace_id = "73".into();
    assert_eq!(
        t.refused_twice(&t.gitlab.gitlab_token(&moved, &aud)),
        "The Trusted Publishing config for repository `group/sub/project` does not match the \
         namespace ID (73) in the JWT. Expected namespace IDs: 72. Please recreate the Trusted \
         Publishing config to update the namespace ID."
    );
    let other_file = job().ci_config_path("ci/release.yml");
    assert_eq!(
        t.refused_twice(&t.gitlab.gitlab_token(&other_file, &aud)),
        "The Trusted Publishing config for repository `group/sub/project` does not match the \
         workflow filepath `ci/release.yml` in the JWT. Expected workflow filepaths: `.gitlab-ci.yml`"
    );
    // A GitHub-shaped token from the GitLab issuer lacks GitLab's claims.
    let gh_claims = run().claims(t.gitlab.url(), &aud);
    assert_eq!(
        t.refused_twice(&t.gitlab.sign(&gh_claims)),
        "Failed to decode JWT"
    );
}

fn keys_are_cached_and_refetched_at_most_once_per_interval(backend: Backend) {
    // Default interval (a minute): an unknown kid right after a fetch does not fetch again.
    let t = Trust::start(backend);
    let alice = t.owner("alice");
    assert_eq!(t.publish(&alice, "tp-keys", "0.1.0").status, 200);
    t.github_config(&alice, "tp-keys", None);
    t.exchange_ok(&run());
    assert_eq!(t.github.count(paths::JWKS), 1);
    t.exchange_ok(&run());
    assert_eq!(
        t.github.count(paths::JWKS),
        1,
        "a known kid is served from the cache"
    );
    t.github.rotate().unwrap();
    let r = t.exchange(&t.github.github_token(&run(), &t.audience()));
    assert_eq!(r.detail(), "Invalid JWT key ID");
    assert_eq!(
        t.github.count(paths::JWKS),
        1,
        "refetched within the interval"
    );

    // With no minimum interval, an unknown kid fetches the rotated set and verifies.
    let t = Trust::start_with(backend, |c| {
        c.trusted_publishing.jwks_refetch_interval = std::time::Duration::ZERO
    });
    let alice = t.owner("alice");
    assert_eq!(t.publish(&alice, "tp-keys", "0.1.0").status, 200);
    t.github_config(&alice, "tp-keys", None);
    t.exchange_ok(&run());
    let old = t.github.active_kid();
    t.github.rotate().unwrap();
    t.exchange_ok(&run());
    assert_eq!(t.github.count(paths::JWKS), 2);
    // A refetch replaces the whole set: a key the issuer retired stops verifying.
    let by_current = t.github.github_token(&run(), &t.audience());
    let current = t.github.active_kid();
    t.github.rotate().unwrap();
    t.github.retire(&current);
    t.exchange_ok(&run());
    assert_eq!(t.github.count(paths::JWKS), 3);
    assert_ne!(old, current);
    assert_eq!(t.exchange(&by_current).detail(), "Invalid JWT key ID");

    // An issuer that does not answer: crates.io's 500. The listener stays bound (and never
    // accepts) until the end, so no other test's server can take its port and answer instead; the
    // registry gives up after its 5 s timeout.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    let t = Trust::start_with(backend, |c| {
        c.trusted_publishing.gitlab_issuer = Some(dead_url.clone())
    });
    let r = t.exchange(&t.gitlab.sign(&job().claims(&dead_url, &t.audience())));
    assert_eq!(
        (r.status, r.detail()),
        (500, "Failed to load OIDC key set".into())
    );
    drop(dead);
}

fn es256_issuers_and_config_json(backend: Backend) {
    use gantry_test_support::{IssuerOptions, KeyAlgorithm, OidcIssuer};
    let es = OidcIssuer::start_with(IssuerOptions {
        algorithm: KeyAlgorithm::Es256,
    })
    .unwrap();
    let reg = TestRegistry::start_with(backend, |c| {
        c.trusted_publishing.github_issuer = Some(es.url().to_owned());
        c.trusted_publishing.gitlab_issuer = None;
        c.trusted_publishing.audience = Some("registry.test".into());
    });
    let cfg = reg.http("GET", "/index/config.json", &[], b"").json();
    let tp = &cfg["gantry"]["trusted-publishing"];
    assert_eq!(tp["audience"], "registry.test");
    assert_eq!(tp["providers"], json!({"github": es.url()}));
    assert_eq!(
        tp["exchange"],
        format!("http://{}/api/v1/trusted_publishing/tokens", reg.addr)
    );
    reg.user("alice");
    let alice = reg.token_with("alice", Some(TP_SCOPES), &[], None);
    assert_eq!(
        reg.publish(&alice, &publish_body("tp-es", "0.1.0")).status,
        200
    );
    let (owner, repo) = REPO.split_once('/').unwrap();
    let body = json!({"github_config": {"crate": "tp-es", "repository_owner": owner,
        "repository_name": repo, "workflow_filename": WORKFLOW, "repository_owner_id": OWNER_ID}});
    let r = reg.http(
        "POST",
        CONFIGS,
        &[("Authorization", &alice)],
        body.to_string().as_bytes(),
    );
    assert_eq!(r.json()["github_config"]["repository_owner_id"], OWNER_ID);
    let jwt = es.github_token(&run(), "registry.test");
    assert_eq!(
        jsonwebtoken::decode_header(&jwt).unwrap().alg,
        jsonwebtoken::Algorithm::ES256
    );
    let r = reg.http(
        "POST",
        "/api/v1/trusted_publishing/tokens",
        &[],
        json!({ "jwt": jwt }).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // GitLab was turned off: its issuer is unknown, and config.json says so.
    let off = TestRegistry::start_with(backend, |c| {
        c.trusted_publishing.github_issuer = None;
        c.trusted_publishing.gitlab_issuer = None;
    });
    let cfg = off.http("GET", "/index/config.json", &[], b"").json();
    assert_eq!(cfg["gantry"]["trusted-publishing"], json!(null));
}

backend_tests!(
    gitlab_configs_learn_the_namespace_id,
    keys_are_cached_and_refetched_at_most_once_per_interval,
    es256_issuers_and_config_json,
);
