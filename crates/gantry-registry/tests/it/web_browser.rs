//! The pages in a real browser (Debian's Chromium through chromedriver), against a registry the
//! test starts on each storage backend: sign in, search, read a crate's README (its `<script>`
//! never reaches the page), create a token on `/me`, publish with it through the real `cargo`,
//! revoke it and see cargo refused. Single sign-on against the test OIDC issuer of
//! `gantry-test-support` (real keys, discovery, JWKS, authorization code with PKCE): sign in, land
//! on `/me`, create a token there and publish with it through cargo, then see a version published
//! through trusted publishing credited to its CI run on the crate page. With
//! `GANTRY_UPDATE_SCREENSHOTS=1` the screenshots of the start page, a crate page and `/me` are
//! written to `docs/screenshots/`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::browser::Browser;
use crate::common::*;
use fantoccini::Locator;
use gantry_test_support::{GitHubWorkflow, OAuthClient, OidcIssuer, SignInUser, paths};
use serde_json::json;

const README: &str = "# readme-demo\n\n\
A small crate that shows what a crate page looks like: this README is rendered on the server \
from the `.crate`, with *Markdown*, tables and code.\n\n\
```rust\nlet answer = readme_demo::answer();\n```\n\n\
| feature | what it does |\n|---|---|\n| `fast` | the quick path |\n\n\
See the [guide](docs/guide.md).\n\n\
<script>document.title = 'pwned'; window.pwned = true;</script>\n";

/// A package on disk with a README, a repository and features.
fn package(root: &Path, name: &str, version: &str, deps: &[(&str, &str)]) -> PathBuf {
    let dir = root.join(format!("{name}-{version}"));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let mut toml = format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
         description = \"{name}: a crate published by the browser test\"\nlicense = \"MIT OR Apache-2.0\"\n\
         repository = \"https://github.com/example/{name}\"\nkeywords = [\"demo\", \"pages\"]\n\
         readme = \"README.md\"\n\n[features]\ndefault = [\"fast\"]\nfast = []\n\n[dependencies]\n"
    );
    for (dep, req) in deps {
        toml.push_str(&format!(
            "{dep} = {{ version = \"{req}\", registry = \"gantry\" }}\n"
        ));
    }
    std::fs::write(dir.join("Cargo.toml"), toml).unwrap();
    std::fs::write(dir.join("README.md"), README.replace("readme-demo", name)).unwrap();
    std::fs::write(dir.join("src/lib.rs"), "pub fn answer() -> u32 { 42 }\n").unwrap();
    dir
}

/// `gantry-registry user add LOGIN --password-stdin` on the registry's storage.
fn add_user_with_password(reg: &TestRegistry, login: &str, password: &str) {
    let mut child = reg
        .storage
        .command(env!("CARGO_BIN_EXE_gantry-registry"))
        .args(["user", "add", login, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn publish(env: &CargoEnv, dir: &Path) -> std::process::Output {
    env.cargo(dir, &["publish", "--no-verify", "--registry", "gantry"])
}

fn browse_sign_in_read_search_and_publish_with_a_token_from_me(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    add_user_with_password(&reg, "alice", "correct horse battery");
    let seed = reg.token_with("alice", None, &[], None);
    let work = tempfile::tempdir().unwrap();
    let seeding = CargoEnv::new(&reg.index_url(), &seed, false);
    for (name, deps) in [
        ("readme-demo", vec![]),
        ("uses-demo", vec![("readme-demo", "1")]),
    ] {
        let out = publish(&seeding, &package(work.path(), name, "1.0.0", &deps));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dl = reg.http("GET", "/api/v1/crates/readme-demo/1.0.0/download", &[], b"");
    assert_eq!(dl.status, 200);
    let app = reg.server.as_ref().unwrap().app.clone();
    reg.rt
        .block_on(app.web.downloads.flush(app.store.as_ref()))
        .unwrap();

    let base = format!("http://{}", reg.addr);
    let token = reg.rt.block_on(async {
        let b = Browser::start().await;
        let c = &b.client;

        // Sign in.
        c.goto(&format!("{base}/login")).await.unwrap();
        b.fill("#login", "alice").await;
        b.fill("#password", "correct horse battery").await;
        b.click("#sign-in").await;
        assert_eq!(b.text("header .who").await, "alice");
        assert_eq!(b.text("#crate-count").await, "2");
        b.screenshot("home").await;

        // Search from the header and open the crate.
        b.fill("header input[name=q]", "readme").await;
        b.click("header form.search button").await;
        b.wait_for_url("/search?q=readme").await;
        assert_eq!(b.text("#results a.name").await, "readme-demo");
        b.click("#results a.name").await;

        // The README, rendered on the server, and nothing of its script.
        assert_eq!(b.text("article.readme h1").await, "readme-demo");
        assert_eq!(b.text("article.readme table td code").await, "fast");
        assert!(c.find_all(Locator::Css("script")).await.unwrap().is_empty());
        assert!(!b.source().await.contains("pwned"));
        assert_ne!(c.title().await.unwrap(), "pwned");
        let pwned = c
            .execute("return window.pwned === true", vec![])
            .await
            .unwrap();
        assert_eq!(pwned, serde_json::json!(false));
        assert_eq!(b.text("#total-downloads").await, "1");
        assert_eq!(b.text("#reverse-dependencies a").await, "uses-demo 1.0.0");
        assert!(
            b.text("#cargo-add")
                .await
                .contains("cargo add --registry gantry readme-demo@1.0.0")
        );
        b.screenshot("crate").await;

        // A token from /me, shown once.
        c.goto(&format!("{base}/me")).await.unwrap();
        b.fill("#token-name", "laptop").await;
        b.click("input[name=scope][value=publish-new]").await;
        b.click("input[name=scope][value=publish-update]").await;
        b.click("#create-token-button").await;
        let token = b.text("#new-token").await;
        assert!(token.starts_with("gty"), "{token}");
        b.screenshot("me").await;
        b.close().await;
        token
    });

    // The real cargo publishes with it ...
    let env = CargoEnv::new(&reg.index_url(), &token, false);
    let fresh = package(work.path(), "from-browser", "0.1.0", &[]);
    let out = publish(&env, &fresh);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // ... until it is revoked on /me.
    reg.rt.block_on(async {
        let b = Browser::start().await;
        let c = &b.client;
        c.goto(&format!("{base}/login?next=/me")).await.unwrap();
        b.fill("#login", "alice").await;
        b.fill("#password", "correct horse battery").await;
        b.click("#sign-in").await;
        assert!(b.url().await.ends_with("/me"));
        let row = c
            .find(Locator::XPath("//tr[td[@class='token-name' and text()='laptop']]"))
            .await
            .unwrap();
        row.find(Locator::Css("button.danger")).await.unwrap().click().await.unwrap();
        // The form posts and the browser loads /me again: wait for the new page's row.
        c.wait()
            .at_most(std::time::Duration::from_secs(30))
            .for_element(Locator::XPath(
                "//tr[td[@class='token-name' and text()='laptop']]/td[@class='state' and text()='revoked']",
            ))
            .await
            .expect("the laptop token is shown as revoked");
        b.close().await;
    });
    let next = package(work.path(), "from-browser", "0.2.0", &[]);
    let out = publish(&env, &next);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("403") && err.contains("authentication failed"),
        "{err}"
    );
}

/// Single sign-on end to end: the identity provider is `gantry-test-support`'s issuer, started for
/// real; the registry discovers it, sends the browser there with PKCE, and checks the signed ID
/// token against its JWKS. The user it creates gets a token on `/me` that the real cargo publishes
/// with; the same token registers a trusted-publishing config, and the version a CI run then
/// publishes through it (real cargo, the exchanged token) names that run on the crate page.
fn sign_in_with_single_sign_on_then_publish_with_cargo(backend: Backend) {
    let idp = OidcIssuer::start().unwrap();
    let actions = OidcIssuer::start().unwrap();
    let reg = TestRegistry::start_with(backend, |c| {
        let mut sso = gantry_registry::web::sso::SsoConfig::new(idp.url(), "gantry");
        sso.client_secret = Some("sso-secret".into());
        sso.admin_group = Some("registry-admins".into());
        c.web.sso = Some(sso);
        c.trusted_publishing.github_issuer = Some(actions.url().to_owned());
    });
    let base = format!("http://{}", reg.addr);
    idp.register_client(OAuthClient {
        client_id: "gantry".into(),
        client_secret: Some("sso-secret".into()),
        redirect_uris: vec![format!("{base}/login/sso/callback")],
    });
    idp.add_user(SignInUser::new("carol").groups(&["staff", "registry-admins"]));

    let token = reg.rt.block_on(async {
        let b = Browser::start().await;
        let c = &b.client;
        c.goto(&format!("{base}/login?next=/me")).await.unwrap();
        b.click("#sso").await;
        // Off to the provider and back through the callback: the browser follows the redirects.
        let landed = c
            .wait()
            .at_most(std::time::Duration::from_secs(30))
            .for_url(&url::Url::parse(&format!("{base}/me")).unwrap())
            .await;
        if landed.is_err() {
            panic!(
                "single sign-on did not end on /me but on {}:\n{}",
                b.url().await,
                b.source().await
            );
        }
        // The account is created from the ID token; its groups claim makes carol an admin.
        assert_eq!(b.text("header .who").await, "carol (admin)");
        b.fill("#token-name", "from-sso").await;
        for scope in ["publish-new", "publish-update", "trusted-publishing"] {
            b.click(&format!("input[name=scope][value={scope}]")).await;
        }
        b.click("#create-token-button").await;
        let token = b.text("#new-token").await;
        assert!(token.starts_with("gty"), "{token}");
        b.close().await;
        token
    });
    // The registry authenticated as a confidential client and redeemed one code.
    let redeem: Vec<_> = idp
        .requests()
        .into_iter()
        .filter(|r| r.path() == paths::TOKEN)
        .collect();
    assert_eq!(redeem.len(), 1);
    assert!(
        redeem[0]
            .header("authorization")
            .is_some_and(|a| a.starts_with("Basic "))
    );
    assert!(
        redeem[0].body.contains("code_verifier="),
        "{}",
        redeem[0].body
    );

    let work = tempfile::tempdir().unwrap();
    let env = CargoEnv::new(&reg.index_url(), &token, false);
    let out = publish(&env, &package(work.path(), "sso-demo", "1.0.0", &[]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A CI run publishes the next version through trusted publishing.
    let config = json!({"github_config": {
        "crate": "sso-demo", "repository_owner": "octo-org", "repository_name": "octo-repo",
        "workflow_filename": "release.yml", "repository_owner_id": 65,
    }});
    let r = reg.http(
        "POST",
        "/api/v1/trusted_publishing/github_configs",
        &[
            ("Authorization", &token),
            ("Content-Type", "application/json"),
        ],
        config.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let run = GitHubWorkflow::new("octo-org/octo-repo", 65, "release.yml");
    let jwt = actions.github_token(&run, &reg.addr.to_string());
    let r = reg.http(
        "POST",
        "/api/v1/trusted_publishing/tokens",
        &[("Content-Type", "application/json")],
        json!({ "jwt": jwt }).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let ci = CargoEnv::new(&reg.index_url(), r.json()["token"].as_str().unwrap(), false);
    let out = publish(&ci, &package(work.path(), "sso-demo", "1.1.0", &[]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    reg.rt.block_on(async {
        let b = Browser::start().await;
        let c = &b.client;
        c.goto(&format!("{base}/crates/sso-demo")).await.unwrap();
        assert_eq!(b.text("#shown-version").await, "1.1.0");
        assert_eq!(b.text("#trusted-publisher").await, "GitHub Actions");
        let ci_run = b.text("#metadata .ci-run").await;
        let short: String = run.sha.chars().take(7).collect();
        assert_eq!(
            ci_run,
            format!("octo-org/octo-repo, run {}, commit {short}", run.run_id)
        );
        // The issuer names no web host (it is not GitHub's): the run is shown, not linked.
        assert!(c.find(Locator::Css("#metadata .ci-run a")).await.is_err());
        c.goto(&format!("{base}/crates/sso-demo/1.0.0"))
            .await
            .unwrap();
        let published = b.text("#metadata dd").await;
        assert!(published.ends_with(" by carol"), "{published}");
        assert!(c.find(Locator::Css("#trusted-publisher")).await.is_err());
        b.close().await;
    });
}

backend_tests!(
    browse_sign_in_read_search_and_publish_with_a_token_from_me,
    sign_in_with_single_sign_on_then_publish_with_cargo,
);
