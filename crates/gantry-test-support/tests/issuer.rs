//! The issuer through HTTP, as a verifier, a CI job and a signing-in relying party see it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gantry_test_support::{
    GitHubWorkflow, GitLabJob, IssuerOptions, KeyAlgorithm, OAuthClient, OidcIssuer, SignInUser,
    paths,
};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get_json(c: &reqwest::Client, url: &str) -> Value {
    let r = c.get(url).send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

/// Verifies `jwt` against the issuer's published JWKS, as a relying party would.
async fn verify(c: &reqwest::Client, issuer: &OidcIssuer, jwt: &str, aud: &str) -> Value {
    let discovery = get_json(c, &format!("{}{}", issuer.url(), paths::DISCOVERY)).await;
    assert_eq!(discovery["issuer"], issuer.url());
    let jwks: JwkSet =
        serde_json::from_value(get_json(c, discovery["jwks_uri"].as_str().unwrap()).await).unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid in JWKS");
    let mut v = Validation::new(issuer.algorithm().jwt());
    v.set_audience(&[aud]);
    v.set_issuer(&[issuer.url()]);
    jsonwebtoken::decode::<Value>(jwt, &DecodingKey::from_jwk(jwk).unwrap(), &v)
        .unwrap()
        .claims
}

#[tokio::test]
async fn tokens_verify_with_the_discovered_jwks_through_rotation() {
    for alg in [KeyAlgorithm::Rs256, KeyAlgorithm::Es256] {
        let issuer = OidcIssuer::start_with(IssuerOptions { algorithm: alg }).unwrap();
        let c = client();
        let discovery = get_json(&c, &format!("{}{}", issuer.url(), paths::DISCOVERY)).await;
        assert_eq!(
            discovery["id_token_signing_alg_values_supported"][0],
            alg.name()
        );
        let run = GitHubWorkflow::new("octo-org/octo-repo", 65, "release.yml").environment("prod");
        let claims = verify(
            &c,
            &issuer,
            &issuer.github_token(&run, "reg.example"),
            "reg.example",
        )
        .await;
        assert_eq!(claims["repository"], "octo-org/octo-repo");
        assert_eq!(claims["repository_owner_id"], "65");
        assert_eq!(
            claims["workflow_ref"],
            "octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main"
        );
        assert_eq!(claims["environment"], "prod");
        assert_eq!(claims["sub"], "repo:octo-org/octo-repo:environment:prod");

        let old = issuer.active_kid();
        let new = issuer.rotate().unwrap();
        assert_ne!(old, new);
        let job = GitLabJob::new("group/sub/project", 72).ci_config_path("ci/release.yml");
        let jwt = issuer.gitlab_token(&job, "reg.example");
        assert_eq!(
            jsonwebtoken::decode_header(&jwt).unwrap().kid.as_deref(),
            Some(new.as_str())
        );
        let claims = verify(&c, &issuer, &jwt, "reg.example").await;
        assert_eq!(claims["namespace_path"], "group/sub");
        let host = issuer.url().trim_start_matches("http://");
        assert_eq!(
            claims["ci_config_ref_uri"],
            format!("{host}/group/sub/project//ci/release.yml@refs/heads/main")
        );
        let jwks = get_json(&c, &format!("{}{}", issuer.url(), paths::JWKS)).await;
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, [old.as_str(), new.as_str()]);
        issuer.retire(&old);
        let jwks = get_json(&c, &format!("{}{}", issuer.url(), paths::JWKS)).await;
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);

        let unknown = issuer.sign_with_unpublished_key(&run.claims(issuer.url(), "a"));
        let kid = jsonwebtoken::decode_header(&unknown).unwrap().kid.unwrap();
        assert!(!jwks["keys"].to_string().contains(&kid));
        assert!(
            jsonwebtoken::decode_header(issuer.sign_without_kid(&run.claims(issuer.url(), "a")))
                .unwrap()
                .kid
                .is_none()
        );
        assert_eq!(issuer.count(paths::JWKS), 4);
    }
}

#[tokio::test]
async fn actions_endpoint_needs_the_request_token_and_honours_the_audience() {
    let issuer = OidcIssuer::start().unwrap();
    let c = client();
    issuer.set_actions_workflow(GitHubWorkflow::new("octo-org/octo-repo", 65, "release.yml"));
    let [(url_var, url), (token_var, token)] = issuer.actions_env();
    assert_eq!(
        (url_var, token_var),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
        )
    );
    assert!(url.contains("?api-version=2.0"), "{url}");

    let r = c
        .get(format!("{url}&audience=x"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(format!("{url}&audience=reg.example%3A8990"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let claims = verify(
        &c,
        &issuer,
        body["value"].as_str().unwrap(),
        "reg.example:8990",
    )
    .await;
    assert_eq!(claims["event_name"], "push");
    let r = c.get(&url).bearer_auth(&token).send().await.unwrap();
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    verify(
        &c,
        &issuer,
        body["value"].as_str().unwrap(),
        "https://github.com/octo-org",
    )
    .await;
    let asked = issuer
        .requests()
        .into_iter()
        .filter(|r| r.path() == paths::ACTIONS_TOKEN)
        .nth(1)
        .unwrap();
    assert_eq!(asked.query("audience").as_deref(), Some("reg.example:8990"));
}

fn pkce() -> (String, String) {
    let verifier = "v".repeat(20) + &"w".repeat(30);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

#[tokio::test]
async fn authorization_code_flow_with_pkce() {
    let issuer = OidcIssuer::start().unwrap();
    let c = client();
    let redirect = "http://127.0.0.1:1/cb";
    issuer.register_client(OAuthClient {
        client_id: "gantry".into(),
        client_secret: Some("s3cret".into()),
        redirect_uris: vec![redirect.into()],
    });
    issuer.add_user(SignInUser::new("alice"));
    issuer.add_user(SignInUser::new("bob").groups(&["admins"]));
    let (verifier, challenge) = pkce();
    let authorize = |hint: &str| {
        format!(
            "{}{}?response_type=code&client_id=gantry&redirect_uri={}&scope=openid%20email&state=st&nonce=n1&code_challenge={challenge}&code_challenge_method=S256&login_hint={hint}",
            issuer.url(),
            paths::AUTHORIZE,
            url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
        )
    };
    let r = c.get(authorize("bob")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "st");
    let code = q["code"].clone();

    let token_url = format!("{}{}", issuer.url(), paths::TOKEN);
    let form = |code: &str, verifier: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect)
            .append_pair("code_verifier", verifier)
            .finish()
    };
    let post = |body: String, secret: &str| {
        c.post(&token_url)
            .basic_auth("gantry", Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    assert_eq!(
        post(form(&code, &verifier), "nope").await.unwrap().status(),
        401
    );
    let r = post(form(&code, &verifier), "s3cret").await.unwrap();
    assert_eq!(r.status(), 200);
    let tokens: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let claims = verify(&c, &issuer, tokens["id_token"].as_str().unwrap(), "gantry").await;
    assert_eq!(
        (
            claims["preferred_username"].as_str(),
            claims["nonce"].as_str()
        ),
        (Some("bob"), Some("n1"))
    );
    assert_eq!(claims["groups"][0], "admins");
    let access = tokens["access_token"].as_str().unwrap();
    let at_hash = URL_SAFE_NO_PAD.encode(&Sha256::digest(access.as_bytes())[..16]);
    assert_eq!(claims["at_hash"], at_hash);
    // A code works once.
    let r = post(form(&code, &verifier), "s3cret").await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("invalid_grant"));
    let info = c
        .get(format!("{}{}", issuer.url(), paths::USERINFO))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let info: Value = serde_json::from_str(&info.text().await.unwrap()).unwrap();
    assert_eq!(info["email"], "bob@example.com");

    // A wrong verifier fails PKCE; a denial comes back as an error redirect.
    let r = c.get(authorize("")).send().await.unwrap();
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let r = post(form(&code, &"x".repeat(50)), "s3cret").await.unwrap();
    assert!(r.text().await.unwrap().contains("PKCE"));
    issuer.deny_next_authorization("access_denied");
    let r = c.get(authorize("alice")).send().await.unwrap();
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=access_denied")
    );
    let r = c
        .get(authorize("alice").replace("redirect_uri=", "redirect_uri=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
