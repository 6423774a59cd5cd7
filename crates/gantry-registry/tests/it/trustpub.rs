//! Trusted publishing through HTTP on both backends, with test OIDC issuers signing real tokens:
//! configs made through the API, the exchange and every refusal with crates.io's text (each
//! storing nothing), what the 30-minute token may and may not do, revocation, `trustpub_only`,
//! and pending configs for a first release.

use crate::common::*;
use crate::trustpub_common::*;
use gantry_test_support::unix_now;
use serde_json::json;

const CONFIGS: &str = "/api/v1/trusted_publishing/github_configs";

fn configs_are_managed_through_the_api_by_owners(backend: Backend) {
    let t = Trust::start(backend);
    let alice = t.owner("alice");
    let bob = t.owner("bob");
    assert_eq!(t.publish(&alice, "tp-demo", "0.1.0").status, 200);

    let r = t.github_config(&alice, "tp-demo", Some("release"));
    assert_eq!(r.status, 200, "{}", r.text());
    let c = &r.json()["github_config"];
    assert_eq!(c["crate"], "tp-demo");
    assert_eq!(c["repository_owner"], "octo-org");
    assert_eq!(c["repository_name"], "octo-repo");
    assert_eq!(c["workflow_filename"], WORKFLOW);
    assert_eq!(c["environment"], "release");
    assert_eq!(c["repository_owner_id"], json!(null));
    assert_eq!(c["pending"], false);
    assert!(c["created_at"].as_str().unwrap().ends_with('Z'));
    let first_id = c["id"].as_i64().unwrap();

    // crates.io's refusals, in its words.
    let r = t.github_config(&bob, "tp-demo", None);
    assert_eq!(
        (r.status, r.detail()),
        (400, "You are not an owner of this crate".into())
    );
    let r = t.github_config(&alice, "no-such-crate", None);
    assert_eq!(
        (r.status, r.detail()),
        (404, "crate `no-such-crate` does not exist".into())
    );
    let r = t.github_config(&alice, "tp-demo", Some(" release"));
    assert_eq!(r.detail(), "Environment name may not start with whitespace");
    let publish_only = t
        .reg
        .token_with("alice", Some(&["publish-update"]), &[], None);
    let r = t.github_config(&publish_only, "tp-demo", None);
    assert_eq!(r.status, 403);
    assert_eq!(
        r.detail(),
        "this token does not have the required permissions to perform this action"
    );
    let r = t.json(
        "POST",
        CONFIGS,
        Some(&alice),
        &json!({"github_config": {"crate": "tp-demo", "repository_owner": "octo-org",
            "repository_name": "octo-repo", "workflow_filename": ".github/workflows/x.yml"}}),
    );
    assert_eq!(
        r.detail(),
        "Workflow filename must be a filename only, without directories"
    );
    let r = t.json(
        "POST",
        "/api/v1/trusted_publishing/gitlab_configs",
        Some(&alice),
        &json!({"gitlab_config": {"crate": "tp-demo", "namespace": "group/sub",
            "project": "project.git", "workflow_filepath": ".gitlab-ci.yml"}}),
    );
    assert_eq!(
        r.detail(),
        "GitLab project name cannot end with .atom or .git"
    );

    // At most five per crate and provider.
    for env in ["a", "b", "c", "d"] {
        assert_eq!(t.github_config(&alice, "tp-demo", Some(env)).status, 200);
    }
    let r = t.github_config(&alice, "tp-demo", Some("e"));
    assert_eq!(r.status, 409);
    assert_eq!(
        r.detail(),
        "This crate already has the maximum number of GitHub Trusted Publishing configurations (5)"
    );

    // Listing: by crate with seek pagination, by user with a scoped token only.
    let r = t.reg.http(
        "GET",
        &format!("{CONFIGS}?crate=tp-demo&per_page=2"),
        &[("Authorization", &alice)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let page = r.json();
    assert_eq!(page["meta"]["total"], 5);
    assert_eq!(page["github_configs"].as_array().unwrap().len(), 2);
    let next = page["meta"]["next_page"].as_str().unwrap().to_owned();
    let mut seen = 2;
    let mut next = Some(next);
    while let Some(q) = next {
        let r = t.reg.http(
            "GET",
            &format!("{CONFIGS}{q}"),
            &[("Authorization", &alice)],
            b"",
        );
        let page = r.json();
        seen += page["github_configs"].as_array().unwrap().len();
        next = page["meta"]["next_page"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, 5);
    let r = t.reg.http(
        "GET",
        &format!("{CONFIGS}?crate=tp-demo"),
        &[("Authorization", &bob)],
        b"",
    );
    assert_eq!(r.detail(), "You are not an owner of this crate");
    let r = t
        .reg
        .http("GET", CONFIGS, &[("Authorization", &alice)], b"");
    assert_eq!(
        r.detail(),
        "Must specify either `crate` or `user_id` query parameter"
    );
    let legacy = t.reg.token_with("alice", None, &[], None);
    let r = t.reg.http(
        "GET",
        &format!("{CONFIGS}?user_id=1"),
        &[("Authorization", &legacy)],
        b"",
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        r.detail(),
        "This endpoint cannot be used with legacy API tokens. Use a scoped API token instead."
    );
    let r = t.reg.http(
        "GET",
        &format!("{CONFIGS}?user_id=1"),
        &[("Authorization", &alice)],
        b"",
    );
    assert_eq!(r.json()["meta"]["total"], 5, "{}", r.text());
    let r = t.reg.http(
        "GET",
        &format!("{CONFIGS}?user_id=1"),
        &[("Authorization", &bob)],
        b"",
    );
    assert_eq!(
        r.detail(),
        "this action requires authentication as the specified user"
    );

    // Deleting: owners only, 204, then gone.
    let path = format!("{CONFIGS}/{first_id}");
    let r = t.reg.http("DELETE", &path, &[("Authorization", &bob)], b"");
    assert_eq!(
        (r.status, r.detail()),
        (400, "You are not an owner of this crate".into())
    );
    assert_eq!(
        t.reg
            .http("DELETE", &path, &[("Authorization", &alice)], b"")
            .status,
        204
    );
    assert_eq!(
        t.reg
            .http("DELETE", &path, &[("Authorization", &alice)], b"")
            .status,
        404
    );
    let r = t.reg.http(
        "GET",
        &format!("{CONFIGS}?crate=tp-demo"),
        &[("Authorization", &alice)],
        b"",
    );
    assert_eq!(r.json()["meta"]["total"], 4);
}

fn exchange_publishes_and_each_refusal_stores_nothing(backend: Backend) {
    let t = Trust::start(backend);
    let alice = t.owner("alice");
    assert_eq!(t.publish(&alice, "tp-demo", "0.1.0").status, 200);
    assert_eq!(
        t.github_config(&alice, "tp-demo", Some("release")).status,
        200
    );
    let aud = t.audience();
    let good = run().environment("release");

    // Refusals before the database: crates.io's texts.
    let claims = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut c = good.claims(t.github.url(), &aud);
        f(&mut c);
        c
    };
    let expired = claims(&|c| {
        c["exp"] = json!(unix_now() - 3600);
        c["iat"] = json!(unix_now() - 4000);
        c["nbf"] = json!(unix_now() - 4000);
    });
    let other_audience = claims(&|c| c["aud"] = json!("crates.io"));
    let array_audience = claims(&|c| c["aud"] = json!([aud.clone(), "x"]));
    let future_iat = claims(&|c| c["iat"] = json!(unix_now() + 600));
    for jwt in [
        t.github.sign(&expired),
        t.github.sign(&other_audience),
        t.github.sign(&array_audience),
        t.github.sign(&future_iat),
        "not.a.jwt".to_owned(),
        // Signed by the other issuer's key under this issuer's name.
        t.gitlab.sign(&claims(&|_| {})),
    ] {
        assert_eq!(t.refused_twice(&jwt), "Failed to decode JWT");
    }
    let prt = run().environment("release").event("pull_request_target");
    assert_eq!(
        t.refused_twice(&t.github.github_token(&prt, &aud)),
        "Trusted Publishing does not support the `pull_request_target` event trigger due to \
         security concerns. Please use a different trigger such as `push`, `release`, or \
         `workflow_dispatch`."
    );
    let wr = run().environment("release").event("workflow_run");
    assert!(
        t.refused_twice(&t.github.github_token(&wr, &aud))
            .contains("`workflow_run`")
    );
    assert_eq!(
        t.refused_twice(&t.github.sign_with_unpublished_key(&claims(&|_| {}))),
        "Invalid JWT key ID"
    );
    assert_eq!(
        t.refused_twice(&t.github.sign_without_kid(&claims(&|_| {}))),
        "Missing JWT key ID"
    );
    let foreign = claims(&|c| c["iss"] = json!("https://token.example.com"));
    assert_eq!(
        t.refused_twice(&t.github.sign(&foreign)),
        "Unsupported JWT issuer: https://token.example.com"
    );

    // Refusals of the matching, decided in the exchange transaction and rolled back with it.
    let mut other_repo = run().environment("release");
    other_repo.repository = "octo-org/other-repo".into();
    assert_eq!(
        t.refused_twice(&t.github.github_token(&other_repo, &aud)),
        "No Trusted Publishing config found for repository `octo-org/other-repo`."
    );
    let mut other_workflow = run().environment("release");
    other_workflow.workflow_file = "ci.yml".into();
    assert_eq!(
        t.refused_twice(&t.github.github_token(&other_workflow, &aud)),
        "The Trusted Publishing config for repository `octo-org/octo-repo` does not match the \
         workflow filename `ci.yml` in the JWT. Expected workflow filenames: `release.yml`"
    );
    assert_eq!(
        t.refused_twice(&t.github.github_token(&run().environment("staging"), &aud)),
        "The Trusted Publishing config for repository `octo-org/octo-repo` does not match the \
         environment `staging` in the JWT. Expected environments: `release`"
    );
    assert_eq!(
        t.refused_twice(&t.github.github_token(&run(), &aud)),
        "The Trusted Publishing config for repository `octo-org/octo-repo` requires an \
         environment, but the JWT does not specify one. Expected environments: `release`"
    );
    // Nothing was published or changed by any of that.
    assert_eq!(t.reg.index_lines("tp-demo").len(), 1);

    // The exchange: owner and repository compare without case, the environment too.
    let mut shouting = run().environment("RELEASE");
    shouting.repository = "Octo-Org/OCTO-repo".into();
    let jwt = t.github.github_token(&shouting, &aud);
    let r = t.exchange(&jwt);
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("gty_tp_") && token.len() == 39, "{token}");
    // The owner id was learnt from that first exchange and is required from now on.
    let r = t.reg.http(
        "GET",
        &format!("{CONFIGS}?crate=tp-demo"),
        &[("Authorization", &alice)],
        b"",
    );
    assert_eq!(
        r.json()["github_configs"][0]["repository_owner_id"],
        OWNER_ID
    );
    let mut resurrected = run().environment("release");
    resurrected.repository_owner_id = "999".into();
    assert_eq!(
        t.refused_twice(&t.github.github_token(&resurrected, &aud)),
        "The Trusted Publishing config for repository `octo-org/octo-repo` does not match the \
         repository owner ID (999) in the JWT. Expected owner IDs: 65. Please recreate the \
         Trusted Publishing config to update the repository owner ID."
    );
    // Each JWT is exchanged once.
    let r = t.exchange(&jwt);
    assert_eq!(
        (r.status, r.detail()),
        (400, "JWT has already been used".into())
    );

    // The token publishes, as a raw or a Bearer credential, and the version records the run.
    assert_eq!(t.publish(&token, "tp-demo", "0.2.0").status, 200);
    let bearer = format!("Bearer {token}");
    assert_eq!(t.publish(&bearer, "tp-demo", "0.3.0").status, 200);
    let v = t.version("tp-demo", "0.2.0");
    assert_eq!(v["published_by"], json!(null));
    assert_eq!(v["trustpub_data"]["provider"], "github");
    assert_eq!(v["trustpub_data"]["repository"], "Octo-Org/OCTO-repo");
    assert_eq!(v["trustpub_data"]["run_id"], json!(shouting.run_id));
    assert_eq!(v["trustpub_data"]["sha"], json!(shouting.sha));
    assert_eq!(
        t.version("tp-demo", "0.1.0")["published_by"]["login"],
        "alice"
    );
    assert_eq!(t.version("tp-demo", "0.1.0")["trustpub_data"], json!(null));
}

fn the_temporary_token_only_publishes_the_matched_crates(backend: Backend) {
    let t = Trust::start(backend);
    let alice = t.owner("alice");
    for name in ["tp-a", "tp-b", "tp-other"] {
        assert_eq!(t.publish(&alice, name, "0.1.0").status, 200);
    }
    t.github_config(&alice, "tp-a", None);
    t.github_config(&alice, "tp-b", None);
    // One exchange covers every crate whose config matched: a workspace publishes on one token.
    let token = t.exchange_ok(&run());
    assert_eq!(t.publish(&token, "tp-a", "0.2.0").status, 200);
    assert_eq!(t.publish(&token, "tp-b", "0.2.0").status, 200);

    let r = t.publish(&token, "tp-other", "0.2.0");
    assert_eq!(
        (r.status, r.detail()),
        (
            403,
            "The provided access token is not valid for crate `tp-other`".into()
        )
    );
    let r = t.publish(&token, "tp-brand-new", "0.1.0");
    assert_eq!(
        (r.status, r.detail()),
        (
            403,
            "Trusted Publishing tokens do not support creating new crates. Publish the crate \
             manually, first"
                .into()
        )
    );
    let only = "Trusted Publishing tokens can only be used for publishing crates";
    let auth = [("Authorization", token.as_str())];
    let r = t
        .reg
        .http("DELETE", "/api/v1/crates/tp-a/0.2.0/yank", &auth, b"");
    assert_eq!((r.status, r.detail()), (403, only.into()));
    let owners = json!({"users": ["mallory"]}).to_string();
    let r = t.reg.http(
        "PUT",
        "/api/v1/crates/tp-a/owners",
        &auth,
        owners.as_bytes(),
    );
    assert_eq!((r.status, r.detail()), (403, only.into()));
    assert_eq!(t.github_config(&token, "tp-a", Some("x")).detail(), only);
    assert_eq!(t.owners("tp-a"), ["alice"]);
    assert!(
        !t.reg
            .index_lines("tp-a")
            .iter()
            .any(|l| l["yanked"] == true)
    );
    let r = t.publish("gty_tp_notachecksummedtoken0000000000", "tp-a", "0.3.0");
    assert_eq!(
        (r.status, r.detail()),
        (
            401,
            "Invalid `Authorization` header: Failed to parse token".into()
        )
    );

    // Revocation: 204, also when repeated; the token is dead everywhere afterwards.
    let revoke = |h: &[(&str, &str)]| {
        t.reg
            .http("DELETE", "/api/v1/trusted_publishing/tokens", h, b"")
    };
    let r = revoke(&[]);
    assert_eq!(
        (r.status, r.detail()),
        (401, "Missing authorization header".into())
    );
    let r = revoke(&[("Authorization", &token)]);
    assert_eq!(
        (r.status, r.detail()),
        (401, "Invalid authorization header".into())
    );
    assert_eq!(
        revoke(&[("Authorization", &format!("Bearer {token}"))]).status,
        204
    );
    assert_eq!(
        revoke(&[("Authorization", &format!("Bearer {token}"))]).status,
        204
    );
    let r = t.publish(&token, "tp-a", "0.3.0");
    assert_eq!(
        (r.status, r.detail()),
        (403, "Invalid authentication token".into())
    );
    assert_eq!(t.reg.index_lines("tp-a").len(), 2);
}

fn trustpub_only_refuses_ordinary_tokens(backend: Backend) {
    let t = Trust::start(backend);
    let alice = t.owner("alice");
    let bob = t.owner("bob");
    assert_eq!(t.publish(&alice, "tp-strict", "0.1.0").status, 200);
    t.github_config(&alice, "tp-strict", None);
    let patch = |token: &str, on: bool| {
        t.json(
            "PATCH",
            "/api/v1/crates/tp-strict",
            Some(token),
            &json!({"crate": {"trustpub_only": on}}),
        )
    };
    let legacy = t.reg.token_with("alice", None, &[], None);
    let r = patch(&legacy, true);
    assert_eq!(r.status, 403);
    assert!(
        r.detail()
            .starts_with("This endpoint cannot be used with legacy API tokens")
    );
    let r = patch(&bob, true);
    assert_eq!(
        (r.status, r.detail()),
        (
            403,
            "only owners have permission to modify crate settings".into()
        )
    );
    let r = patch(&alice, true);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["crate"]["trustpub_only"], true);
    assert_eq!(r.json()["crate"]["name"], "tp-strict");
    let r = t.reg.http("GET", "/api/v1/crates/tp-strict", &[], b"");
    assert_eq!(r.json()["crate"]["trustpub_only"], true);

    let r = t.publish(&alice, "tp-strict", "0.2.0");
    assert_eq!(
        (r.status, r.detail()),
        (
            403,
            "New versions of this crate can only be published using Trusted Publishing (see \
             https://crates.io/docs/trusted-publishing)."
                .into()
        )
    );
    let token = t.exchange_ok(&run());
    assert_eq!(t.publish(&token, "tp-strict", "0.2.0").status, 200);
    assert_eq!(patch(&alice, false).json()["crate"]["trustpub_only"], false);
    assert_eq!(t.publish(&alice, "tp-strict", "0.3.0").status, 200);
}

fn pending_configs_let_the_first_release_use_oidc(backend: Backend) {
    let t = Trust::start(backend);
    let alice = t.owner("alice");
    let bob = t.owner("bob");
    let (owner, repo) = REPO.split_once('/').unwrap();
    let pending = |token: &str, krate: &str, repository: &str| {
        t.json(
            "POST",
            CONFIGS,
            Some(token),
            &json!({"github_config": {"crate": krate, "repository_owner": owner,
                "repository_name": repository, "workflow_filename": WORKFLOW, "pending": true}}),
        )
    };
    let r = pending(&alice, "tp-fresh", repo);
    assert_eq!(r.status, 200, "{}", r.text());
    let c = r.json()["github_config"].clone();
    assert_eq!(
        (c["pending"].clone(), c["pending_owner"].clone()),
        (json!(true), json!("alice"))
    );
    assert!(c["expires_at"].as_str().is_some());
    let r = pending(&alice, "std", repo);
    assert_eq!(r.detail(), "cannot upload a crate with a reserved name");
    let r = t.reg.http(
        "GET",
        &format!("{CONFIGS}?crate=tp-fresh"),
        &[("Authorization", &alice)],
        b"",
    );
    assert_eq!(r.json()["meta"]["total"], 1, "{}", r.text());
    let r = t.reg.http(
        "GET",
        &format!("{CONFIGS}?crate=tp-fresh"),
        &[("Authorization", &bob)],
        b"",
    );
    assert_eq!(r.status, 404);

    // The first matching publish creates the crate, owned by alice; the config becomes ordinary.
    let token = t.exchange_ok(&run());
    let r = t.publish(&token, "tp-fresh", "0.1.0");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(t.owners("tp-fresh"), ["alice"]);
    let v = t.version("tp-fresh", "0.1.0");
    assert_eq!(
        (
            v["published_by"].clone(),
            v["trustpub_data"]["provider"].clone()
        ),
        (json!(null), json!("github"))
    );
    let r = t.reg.http(
        "GET",
        &format!("{CONFIGS}?crate=tp-fresh"),
        &[("Authorization", &alice)],
        b"",
    );
    assert_eq!(
        r.json()["github_configs"][0]["pending"],
        false,
        "{}",
        r.text()
    );
    let next = t.exchange_ok(&run());
    assert_eq!(t.publish(&next, "tp-fresh", "0.2.0").status, 200);

    // A pending config does not reserve the name: an ordinary publish by someone else takes it,
    // and the pending config can then never publish it.
    let r = pending(&bob, "tp-contested", "bobs-repo");
    let stale = format!("{CONFIGS}/{}", r.json()["github_config"]["id"]);
    assert_eq!(t.publish(&alice, "tp-contested", "0.1.0").status, 200);
    let mut bobs = run();
    bobs.repository = "octo-org/bobs-repo".into();
    let r = t.exchange(&t.github.github_token(&bobs, &t.audience()));
    assert_eq!(
        r.detail(),
        "No Trusted Publishing config found for repository `octo-org/bobs-repo`."
    );
    assert_eq!(t.owners("tp-contested"), ["alice"]);
    // Its user (only) may still delete it.
    let r = t
        .reg
        .http("DELETE", &stale, &[("Authorization", &alice)], b"");
    assert_eq!(r.detail(), "You are not an owner of this crate");
    assert_eq!(
        t.reg
            .http("DELETE", &stale, &[("Authorization", &bob)], b"")
            .status,
        204
    );
    // Unless its user took the name themselves: then it is simply that crate's config.
    let mut own = run();
    own.repository = "octo-org/own-repo".into();
    assert_eq!(pending(&bob, "tp-own", "own-repo").status, 200);
    assert_eq!(t.publish(&bob, "tp-own", "0.1.0").status, 200);
    let r = t.exchange(&t.github.github_token(&own, &t.audience()));
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(t.publish(&token, "tp-own", "0.2.0").status, 200);
}

backend_tests!(
    configs_are_managed_through_the_api_by_owners,
    exchange_publishes_and_each_refusal_stores_nothing,
    the_temporary_token_only_publishes_the_matched_crates,
    trustpub_only_refuses_ordinary_tokens,
    pending_configs_let_the_first_release_use_oidc,
);
