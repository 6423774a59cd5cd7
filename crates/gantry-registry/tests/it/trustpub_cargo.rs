//! Trusted publishing end to end with the real `cargo`: a CI job asks the test issuer's
//! GitHub-Actions-style endpoint for its OIDC token (as crates-io-auth-action does), exchanges it,
//! and `cargo publish` runs with the 30-minute token in `CARGO_REGISTRIES_GANTRY_TOKEN` and no
//! credentials file. Also: two `serve` processes configured by flags sharing JWT ids and tokens,
//! and `gantry-registry trust add|list|remove`.

use std::path::Path;
use std::process::Output;

use crate::common::*;
use crate::trustpub_common::*;
use gantry_test_support::cargo::CargoHome;
use gantry_test_support::{GitHubWorkflow, OidcIssuer};
use serde_json::json;

/// A CI job's cargo: its own `CARGO_HOME` knowing registry `gantry` and no credentials; the token
/// comes from the environment, as a workflow step hands it over.
struct CiCargo(CargoEnv);

impl CiCargo {
    fn new(index_url: &str) -> Self {
        CiCargo(CargoEnv::with_home(
            CargoHome::new()
                .registry("gantry", index_url)
                .config("[registry]\nglobal-credential-providers = [\"cargo:token\"]\n"),
        ))
    }

    fn run(&self, cwd: &Path, token: &str, args: &[&str]) -> Output {
        self.0
            .command(cwd, args)
            .env("CARGO_REGISTRIES_GANTRY_TOKEN", token)
            .output()
            .unwrap()
    }

    /// stdout + stderr of a cargo run that must succeed.
    fn ok(&self, cwd: &Path, token: &str, args: &[&str]) -> String {
        let out = self.run(cwd, token, args);
        let text = text(&out);
        assert!(out.status.success(), "cargo {args:?} failed:\n{text}");
        text
    }

    /// stderr of a cargo run that must fail.
    fn fails(&self, cwd: &Path, token: &str, args: &[&str]) -> String {
        let out = self.run(cwd, token, args);
        assert!(
            !out.status.success(),
            "cargo {args:?} succeeded:\n{}",
            text(&out)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What a GitHub Actions step does: GET `$ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` with
/// `Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`, then read `value`.
fn actions_id_token(issuer: &OidcIssuer, audience: &str) -> String {
    let [(_, url), (_, token)] = issuer.actions_env();
    let aud: String = url::form_urlencoded::byte_serialize(audience.as_bytes()).collect();
    let path = url.strip_prefix(issuer.url()).unwrap();
    let bearer = format!("Bearer {token}");
    let r = http(
        issuer.addr(),
        "GET",
        &format!("{path}&audience={aud}"),
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["value"].as_str().unwrap().to_owned()
}

const PUBLISH: &[&str] = &["publish", "--no-verify", "--registry", "gantry"];

fn cargo_publishes_with_the_exchanged_token(backend: Backend) {
    // With --auth-required, cargo also reads the index with the temporary token.
    let t = Trust::start_with(backend, |c| c.auth_required = true);
    let alice = t.owner("alice");
    let work = tempfile::tempdir().unwrap();
    let root = work.path();
    let owner_env = CargoEnv::new(&t.reg.index_url(), &alice, true);
    let v1 = project(root, "tp-real", "0.1.0", &[], "pub fn v() -> u32 { 1 }\n");
    owner_env.ok(&v1, PUBLISH);
    assert_eq!(
        t.github_config(&alice, "tp-real", Some("release")).status,
        200
    );

    // The CI job: OIDC token from the runner, exchanged for a publish token.
    let ci = CiCargo::new(&t.reg.index_url());
    t.github.set_actions_workflow(run().environment("release"));
    let jwt = actions_id_token(&t.github, &t.audience());
    let r = t.exchange(&jwt);
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_owned();
    let v2 = project(root, "tp-real", "0.2.0", &[], "pub fn v() -> u32 { 2 }\n");
    let out = ci.ok(&v2, &token, PUBLISH);
    assert!(out.contains("Published tp-real v0.2.0"), "{out}");
    let auth = [("Authorization", alice.as_str())];
    let v = t
        .reg
        .http("GET", "/api/v1/crates/tp-real/0.2.0", &auth, b"")
        .json();
    assert_eq!(v["version"]["trustpub_data"]["repository"], REPO, "{v}");

    // It can do nothing else.
    let only = "Trusted Publishing tokens can only be used for publishing crates";
    let err = ci.fails(
        root,
        &token,
        &["yank", "tp-real@0.2.0", "--registry", "gantry"],
    );
    assert!(err.contains(only), "{err}");
    let err = ci.fails(
        root,
        &token,
        &[
            "owner",
            "--add",
            "mallory",
            "tp-real",
            "--registry",
            "gantry",
        ],
    );
    assert!(err.contains(only), "{err}");

    // trustpub_only: the owner's own token is refused, the CI job's accepted.
    let r = t.json(
        "PATCH",
        "/api/v1/crates/tp-real",
        Some(&alice),
        &json!({"crate": {"trustpub_only": true}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v3 = project(root, "tp-real", "0.3.0", &[], "pub fn v() -> u32 { 3 }\n");
    let err = owner_env.cargo(&v3, PUBLISH);
    let err = String::from_utf8_lossy(&err.stderr).into_owned();
    assert!(
        err.contains("New versions of this crate can only be published using Trusted Publishing"),
        "{err}"
    );
    ci.ok(&v3, &token, PUBLISH);

    // Revoked, the token is refused, by the index too.
    let bearer = format!("Bearer {token}");
    let r = t.reg.http(
        "DELETE",
        "/api/v1/trusted_publishing/tokens",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(r.status, 204);
    let v4 = project(root, "tp-real", "0.4.0", &[], "pub fn v() -> u32 { 4 }\n");
    let err = ci.fails(&v4, &token, PUBLISH);
    assert!(err.contains("Invalid authentication token"), "{err}");

    // A first release through a pending config: the crate is created, alice owns it.
    let r = t.json(
        "POST",
        "/api/v1/trusted_publishing/github_configs",
        Some(&alice),
        &json!({"github_config": {"crate": "tp-newborn", "repository_owner": "octo-org",
            "repository_name": "octo-repo", "workflow_filename": WORKFLOW, "pending": true}}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let token = t.exchange_ok(&run().environment("release"));
    let newborn = project(root, "tp-newborn", "0.1.0", &[], "pub fn n() {}\n");
    let out = ci.ok(&newborn, &token, PUBLISH);
    assert!(out.contains("Published tp-newborn v0.1.0"), "{out}");
    let out = owner_env.ok(
        root,
        &["owner", "--list", "tp-newborn", "--registry", "gantry"],
    );
    assert!(out.contains("alice"), "{out}");
    // And a consumer builds against both crates.
    let app = project(
        root,
        "tp-app",
        "0.1.0",
        &[("tp-real", "0.3"), ("tp-newborn", "0.1")],
        "pub fn a() -> u32 { tp_real::v() }\n",
    );
    owner_env.ok(&app, &["build"]);
}

fn instances_share_jwt_ids_and_tokens_and_admins_manage_configs(backend: Backend) {
    let issuer = OidcIssuer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::fresh(backend, dir.path().join("data"));
    admin(&storage, &["migrate"]);
    admin(&storage, &["user", "add", "alice"]);
    let out = admin(
        &storage,
        &[
            "token",
            "new",
            "--user",
            "alice",
            "--scope",
            "publish-new",
            "--scope",
            "trusted-publishing",
        ],
    );
    let alice = out.lines().last().unwrap().trim().to_owned();
    let flags = [
        "--oidc-issuer",
        &format!("github={}/", issuer.url()),
        "--oidc-issuer",
        "gitlab=off",
        "--trusted-publishing-audience",
        "crates.example.com",
    ];
    let a = ServeProcess::start(&storage, &flags);
    let b = ServeProcess::start(&storage, &flags);
    let r = a.http(
        "PUT",
        "/api/v1/crates/new",
        &[("Authorization", &alice)],
        &publish_body("tp-multi", "0.1.0"),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // Configs from the shell.
    let err = storage
        .command(env!("CARGO_BIN_EXE_gantry-registry"))
        .args([
            "trust",
            "add",
            "--crate",
            "tp-unborn",
            "--github",
            REPO,
            "--workflow",
            WORKFLOW,
        ])
        .output()
        .unwrap();
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("pass --pending-for LOGIN"));
    let out = admin(
        &storage,
        &[
            "trust",
            "add",
            "--crate",
            "tp-multi",
            "--github",
            REPO,
            "--workflow",
            WORKFLOW,
            "--owner-id",
            "65",
        ],
    );
    assert!(
        out.starts_with("added github\t1\ttp-multi\tocto-org/octo-repo\trelease.yml"),
        "{out}"
    );
    let out = admin(
        &storage,
        &[
            "trust",
            "add",
            "--crate",
            "tp-unborn",
            "--gitlab",
            "group/project",
            "--workflow",
            ".gitlab-ci.yml",
            "--pending-for",
            "alice",
        ],
    );
    assert!(out.contains("pending for alice until"), "{out}");
    let list = admin(&storage, &["trust", "list"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains("owner-id=65\tactive"), "{list}");
    admin(&storage, &["trust", "remove", "gitlab", "1"]);
    assert_eq!(
        admin(&storage, &["trust", "list", "--crate", "tp-multi"])
            .lines()
            .count(),
        1
    );

    // config.json says what the flags set, on every instance.
    let cfg = b.http("GET", "/index/config.json", &[], b"").json();
    assert_eq!(
        cfg["gantry"]["trusted-publishing"]["providers"],
        json!({"github": issuer.url()})
    );
    assert_eq!(
        cfg["gantry"]["trusted-publishing"]["audience"],
        "crates.example.com"
    );

    // Exchanged on one instance: the JWT is spent on all, the token good on all.
    let jwt = issuer.github_token(
        &GitHubWorkflow::new(REPO, OWNER_ID, WORKFLOW),
        "crates.example.com",
    );
    let exchange = |inst: &ServeProcess| {
        inst.http(
            "POST",
            "/api/v1/trusted_publishing/tokens",
            &[],
            json!({ "jwt": jwt }).to_string().as_bytes(),
        )
    };
    let r = exchange(&a);
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_owned();
    let r = exchange(&b);
    assert_eq!(
        (r.status, r.detail()),
        (400, "JWT has already been used".into())
    );
    let r = b.http(
        "PUT",
        "/api/v1/crates/new",
        &[("Authorization", &token)],
        &publish_body("tp-multi", "0.2.0"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let bearer = format!("Bearer {token}");
    assert_eq!(
        b.http(
            "DELETE",
            "/api/v1/trusted_publishing/tokens",
            &[("Authorization", &bearer)],
            b""
        )
        .status,
        204
    );
    let r = a.http(
        "PUT",
        "/api/v1/crates/new",
        &[("Authorization", &token)],
        &publish_body("tp-multi", "0.3.0"),
    );
    assert_eq!(
        (r.status, r.detail()),
        (403, "Invalid authentication token".into())
    );
    // A token for another audience is refused by both.
    let other = issuer.github_token(&GitHubWorkflow::new(REPO, OWNER_ID, WORKFLOW), "127.0.0.1");
    let r = b.http(
        "POST",
        "/api/v1/trusted_publishing/tokens",
        &[],
        json!({ "jwt": other }).to_string().as_bytes(),
    );
    assert_eq!(r.detail(), "Failed to decode JWT");
}

backend_tests!(
    cargo_publishes_with_the_exchanged_token,
    instances_share_jwt_ids_and_tokens_and_admins_manage_configs,
);
