//! Trusted publishing end to end: OIDC issuers started by the test (real keys, discovery, JWKS,
//! GitHub Actions' token request endpoint), a real gantry-registry accepting them, owners who
//! create configs through the API with their tokens, and CI jobs whose `cargo gantry publish` has
//! no token configured. The registry's own request metrics count the exchanges and revocations.
//!
//! The refusals of the exchange itself (expired JWT, another audience, unknown `kid`,
//! `pull_request_target`, wrong repository …) are checked at the API in gantry-registry's
//! `tests/trustpub.rs`; here: that they reach the user as crates.io words them, stop the run
//! before anything is packaged, and leave nothing to revoke.

mod trustpub_support;

use serde_json::json;
use trustpub_support::*;

/// A job in GitHub Actions with `permissions: id-token: write`.
fn actions(t: &Tp) -> Vec<(&'static str, String)> {
    t.github.actions_env().into_iter().collect()
}

const PUBLISH: &[&str] = &["publish", "--registry", "g", "--no-verify"];

#[test]
fn a_workspace_publishes_on_one_exchange_revoked_afterwards() {
    let t = Tp::start();
    let alice = t.owner("alice");
    let ci = Ci::new(&t.index_url());
    // The first release, by hand with alice's token; then she trusts the release workflow.
    let v1 = workspace(&ci.work, "tp-core", "tp-app", "0.1.0");
    let token = vec![("CARGO_REGISTRIES_G_TOKEN", alice.clone())];
    let out = ci.gantry(&v1, PUBLISH, &token);
    assert!(out.status.success(), "{}", text(&out));
    for krate in ["tp-core", "tp-app"] {
        let r = t.github_config(&alice, krate, None);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(t.exchange_traffic(), (0, 0));

    // Turned off: cargo's own refusal, and the registry saw no exchange.
    let v2 = workspace(&ci.work, "tp-core", "tp-app", "0.2.0");
    let mut off = PUBLISH.to_vec();
    off.push("--no-trusted-publishing");
    let out = ci.gantry(&v2, &off, &actions(&t));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("error: no token found for `g`"),
        "{}",
        text(&out)
    );
    assert_eq!(t.exchange_traffic(), (0, 0));

    // The CI job: no token anywhere, GitHub Actions' OIDC token request in the environment.
    let mut verbose = PUBLISH.to_vec();
    verbose.extend(["-v", "--message-format", "json"]);
    let out = ci.gantry(&v2, &verbose, &actions(&t));
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains(
            "Exchanging OIDC token from GitHub Actions for a trusted-publishing token of registry `g`"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("Revoking trusted-publishing token of registry `g`"),
        "{shown}"
    );
    assert_eq!(t.versions("tp-core"), ["0.1.0", "0.2.0"]);
    assert_eq!(t.versions("tp-app"), ["0.1.0", "0.2.0"]);
    // One ID token asked for this registry's audience, one exchange for both uploads, one
    // revocation.
    let asked: Vec<_> = t
        .github
        .requests()
        .into_iter()
        .filter(|r| r.query("audience").is_some())
        .collect();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].query("audience"), Some(t.audience()));
    assert_eq!(t.requests(EXCHANGE, "POST", 200), 1);
    assert_eq!(t.requests(EXCHANGE, "DELETE", 204), 1);
    assert_eq!(t.exchange_traffic(), (1, 1));
    // The versions record the run, not a user.
    let v = t.version("tp-app", "0.2.0");
    assert_eq!(v["trustpub_data"]["provider"], "github");
    assert_eq!(v["trustpub_data"]["repository"], REPO);
    assert_eq!(v["published_by"], json!(null));

    // Neither token reached the output (verbose, JSON events) or any file of the run (the
    // publish journal included).
    for secret in ["gty_tp_", "eyJ"] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
        assert_eq!(
            files_containing(&ci.work, secret),
            Vec::<std::path::PathBuf>::new()
        );
    }

    // What was published is real: the real cargo resolves and builds against it.
    let user = ci.work.join("user");
    write(
        &user,
        "Cargo.toml",
        "[package]\nname = \"user\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
         [dependencies]\ntp-app = { version = \"0.2.0\", registry = \"g\" }\n",
    );
    write(
        &user,
        "src/lib.rs",
        "pub fn three() -> u32 {\n    tp_app::two() + 1\n}\n",
    );
    let out = ci.cargo(&user, &["check", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn refusals_reach_the_user_in_crates_io_words_and_publish_nothing() {
    let t = Tp::start();
    let alice = t.owner("alice");
    let ci = Ci::new(&t.index_url());
    let v1 = workspace(&ci.work, "tp-guard", "tp-guarded", "0.1.0");
    let token = vec![("CARGO_REGISTRIES_G_TOKEN", alice.clone())];
    assert!(ci.gantry(&v1, PUBLISH, &token).status.success());
    for krate in ["tp-guard", "tp-guarded"] {
        assert_eq!(t.github_config(&alice, krate, Some("release")).status, 200);
    }
    let v2 = workspace(&ci.work, "tp-guard", "tp-guarded", "0.2.0");
    let refused = |workflow: gantry_test_support::GitHubWorkflow, expected: &str| {
        t.github.set_actions_workflow(workflow);
        let out = ci.gantry(&v2, PUBLISH, &actions(&t));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{}", text(&out));
        assert!(
            stderr.contains("trusted publishing with registry `g` failed"),
            "{stderr}"
        );
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
        assert!(!stderr.contains("Packaging"), "{stderr}");
        assert!(!stderr.contains("Revoking"), "{stderr}");
    };
    refused(
        run(),
        "The Trusted Publishing config for repository `octo-org/octo-repo` requires an \
         environment, but the JWT does not specify one. Expected environments: `release`",
    );
    refused(
        run().environment("staging"),
        "does not match the environment `staging` in the JWT. Expected environments: `release`",
    );
    let mut other = run().environment("release");
    other.workflow_file = "ci.yml".into();
    refused(
        other,
        "does not match the workflow filename `ci.yml` in the JWT. Expected workflow filenames: \
         `release.yml`",
    );
    let mut other = run().environment("release");
    other.repository = "octo-org/fork".into();
    refused(
        other,
        "No Trusted Publishing config found for repository `octo-org/fork`.",
    );
    refused(
        run().environment("release").event("pull_request_target"),
        "Trusted Publishing does not support the `pull_request_target` event trigger",
    );
    assert_eq!(t.versions("tp-guard"), ["0.1.0"]);
    assert_eq!(t.versions("tp-guarded"), ["0.1.0"]);
    assert_eq!(t.exchange_traffic(), (5, 0));

    // `--trusted-publishing` where it is impossible: a clear error, nothing sent.
    let mut forced = PUBLISH.to_vec();
    forced.push("--trusted-publishing");
    let out = ci.gantry(&v2, &forced, &[]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "trusted publishing is not possible: no OIDC ID token in the environment: in GitHub \
             Actions give the job `permissions: id-token: write`"
        ),
        "{}",
        text(&out)
    );
    // A dry run exchanges nothing, but says what a real run would do.
    let mut dry = forced.clone();
    dry.push("--dry-run");
    t.github.set_actions_workflow(run().environment("release"));
    let out = ci.gantry(&v2, &dry, &actions(&t));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "note: dry run: trusted publishing would exchange the OIDC token from GitHub Actions \
             at `http://{}/api/v1/trusted_publishing/tokens`; nothing was exchanged",
            t.addr
        )),
        "{}",
        text(&out)
    );
    let bare = Tp::start_with(|c| {
        c.trusted_publishing.github_issuer = None;
        c.trusted_publishing.gitlab_issuer = None;
    });
    let bare_ci = Ci::new(&bare.index_url());
    let out = bare_ci.gantry(&v2, &forced, &actions(&t));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "trusted publishing is not possible with registry `g`: its `config.json` does not \
             offer it"
        ),
        "{}",
        text(&out)
    );
    assert_eq!(t.exchange_traffic(), (5, 0));
}

#[test]
fn gitlab_jobs_name_their_id_token_variable() {
    let t = Tp::start();
    let alice = t.owner("alice");
    let ci = Ci::new(&t.index_url());
    let v1 = workspace(&ci.work, "tp-lab", "tp-lab-app", "0.1.0");
    let token = vec![("CARGO_REGISTRIES_G_TOKEN", alice.clone())];
    assert!(ci.gantry(&v1, PUBLISH, &token).status.success());
    for krate in ["tp-lab", "tp-lab-app"] {
        let r = t.json_call(
            "POST",
            "/api/v1/trusted_publishing/gitlab_configs",
            Some(&alice),
            &json!({"gitlab_config": {"crate": krate, "namespace": "group",
                "project": "project", "workflow_filepath": ".gitlab-ci.yml"}}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let job = gantry_test_support::GitLabJob::new("group/project", 72);
    let mut args = PUBLISH.to_vec();
    args.extend(["--oidc-token-env", "GANTRY_ID_TOKEN"]);

    // A token for another audience is explained before anything is sent.
    let elsewhere = vec![("GANTRY_ID_TOKEN", t.gitlab.gitlab_token(&job, "crates.io"))];
    let v2 = workspace(&ci.work, "tp-lab", "tp-lab-app", "0.2.0");
    let out = ci.gantry(&v2, &args, &elsewhere);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the ID token in `GANTRY_ID_TOKEN` is for the audience `crates.io`, but registry `g` \
             expects `{}`",
            t.audience()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "id_tokens: GANTRY_ID_TOKEN: aud: {}",
            t.audience()
        )),
        "{stderr}"
    );
    let out = ci.gantry(&v2, &args, &[]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "the environment variable `GANTRY_ID_TOKEN` (named by `--oidc-token-env`) is not set"
        ),
        "{}",
        text(&out)
    );
    assert_eq!(t.exchange_traffic(), (0, 0));

    // The job's token for this registry publishes the workspace; the same token again is a replay.
    let id_token = vec![(
        "GANTRY_ID_TOKEN",
        t.gitlab.gitlab_token(&job, &t.audience()),
    )];
    let out = ci.gantry(&v2, &args, &id_token);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Exchanging OIDC token from the variable `GANTRY_ID_TOKEN`"),
        "{}",
        text(&out)
    );
    assert_eq!(t.versions("tp-lab-app"), ["0.1.0", "0.2.0"]);
    assert_eq!(
        t.version("tp-lab", "0.2.0")["trustpub_data"]["provider"],
        "gitlab"
    );
    let v3 = workspace(&ci.work, "tp-lab", "tp-lab-app", "0.3.0");
    let out = ci.gantry(&v3, &args, &id_token);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("JWT has already been used"),
        "{}",
        text(&out)
    );
    assert_eq!(t.versions("tp-lab"), ["0.1.0", "0.2.0"]);
    assert_eq!(t.exchange_traffic(), (2, 1));
}

#[test]
fn trustpub_only_crates_and_what_the_publish_token_cannot_do() {
    let t = Tp::start();
    let alice = t.owner("alice");
    t.owner("bob");
    let ci = Ci::new(&t.index_url());
    let v1 = workspace(&ci.work, "tp-strict", "tp-strict-app", "0.1.0");
    let token = vec![("CARGO_REGISTRIES_G_TOKEN", alice.clone())];
    assert!(ci.gantry(&v1, PUBLISH, &token).status.success());
    for krate in ["tp-strict", "tp-strict-app"] {
        assert_eq!(t.github_config(&alice, krate, None).status, 200);
        let r = t.json_call(
            "PATCH",
            &format!("/api/v1/crates/{krate}"),
            Some(&alice),
            &json!({"crate": {"trustpub_only": true}}),
        );
        assert_eq!(r.json()["crate"]["trustpub_only"], true, "{}", r.body);
    }

    // Alice's ordinary token is refused, and a configured token is what a run uses by default…
    let v2 = workspace(&ci.work, "tp-strict", "tp-strict-app", "0.2.0");
    let mut job = token.clone();
    job.extend(actions(&t));
    let out = ci.gantry(&v2, PUBLISH, &job);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("New versions of this crate can only be published using Trusted Publishing"),
        "{}",
        text(&out)
    );
    assert_eq!(t.exchange_traffic(), (0, 0));
    // … so `--trusted-publishing` makes the job exchange anyway.
    let mut forced = PUBLISH.to_vec();
    forced.push("--trusted-publishing");
    let out = ci.gantry(&v2, &forced, &job);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(t.versions("tp-strict-app"), ["0.1.0", "0.2.0"]);
    assert_eq!(t.exchange_traffic(), (1, 1));

    // A publish token handed to the other commands: the registry refuses it for yanking and
    // owners, as crates.io does.
    let tp_token = t.exchange(&run());
    let only = "Trusted Publishing tokens can only be used for publishing crates";
    let out = ci.gantry(
        &ci.work,
        &[
            "yank",
            "--registry",
            "g",
            "--token",
            &tp_token,
            "tp-strict@0.2.0",
        ],
        &[],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(only),
        "{}",
        text(&out)
    );
    let out = ci.gantry(
        &ci.work,
        &[
            "owner",
            "--registry",
            "g",
            "--token",
            &tp_token,
            "--add",
            "bob",
            "tp-strict",
        ],
        &[],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(only),
        "{}",
        text(&out)
    );
    assert_eq!(t.owners("tp-strict"), ["alice"]);
    assert_eq!(t.versions("tp-strict"), ["0.1.0", "0.2.0"]);
    let r = t.http("GET", "/index/tp/-s/tp-strict", None, b"");
    assert!(!r.body.contains("\"yanked\":true"), "{}", r.body);
}

#[test]
fn the_first_release_goes_through_pending_configs() {
    let t = Tp::start();
    let alice = t.owner("alice");
    let ci = Ci::new(&t.index_url());
    for krate in ["tp-newborn", "tp-newborn-app"] {
        let r = t.pending_config(&alice, krate);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let v1 = workspace(&ci.work, "tp-newborn", "tp-newborn-app", "0.1.0");
    let out = ci.gantry(&v1, PUBLISH, &actions(&t));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(t.versions("tp-newborn"), ["0.1.0"]);
    assert_eq!(t.versions("tp-newborn-app"), ["0.1.0"]);
    assert_eq!(t.owners("tp-newborn"), ["alice"]);
    assert_eq!(t.owners("tp-newborn-app"), ["alice"]);
    assert_eq!(t.exchange_traffic(), (1, 1));
}

#[test]
fn a_registry_that_requires_authentication_is_read_with_the_exchanged_token() {
    let t = Tp::start_with(|c| c.auth_required = true);
    let alice = t.owner("alice");
    let ci = Ci::new(&t.index_url());
    let v1 = workspace(&ci.work, "tp-private", "tp-private-app", "0.1.0");
    let token = vec![("CARGO_REGISTRIES_G_TOKEN", alice.clone())];
    let out = ci.gantry(&v1, PUBLISH, &token);
    assert!(out.status.success(), "{}", text(&out));
    for krate in ["tp-private", "tp-private-app"] {
        assert_eq!(t.github_config(&alice, krate, None).status, 200);
    }
    // Its `config.json` is behind the 401; the challenge's `login_url` names the exchange.
    let v2 = workspace(&ci.work, "tp-private", "tp-private-app", "0.2.0");
    let out = ci.gantry(&v2, PUBLISH, &actions(&t));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(t.exchange_traffic(), (1, 1));
    let r = t.http("GET", "/index/tp/-p/tp-private", Some(&alice), b"");
    assert_eq!(r.body.lines().count(), 2, "{}", r.body);
}
