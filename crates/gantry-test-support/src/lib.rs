//! Test-only helpers for Gantry (never published), used by every crate's tests and by xtask:
//!
//! * [`tools`]: the outside programs the tests run as real servers (s3s-fs, ktra, PostgreSQL 15),
//!   their pinned versions, where they are looked for and how they are installed. Always built;
//!   the only part xtask uses (`default-features = false`).
//! * [`cargo`]: the real cargo (and cargo-gantry) as tests run them: the developer's environment
//!   scrubbed, a `CARGO_HOME` of the test's own. Always built; std only.
//! * `services` (feature `services`): a throw-away PostgreSQL 15 (initdb) and s3s-fs on free
//!   127.0.0.1 ports, started once per test binary, with a fresh database and bucket per test.
//! * `OidcIssuer` (feature `oidc`): an OpenID Connect provider that a test starts on `127.0.0.1`,
//!   with real keys (RSA-2048 for RS256 or P-256 for ES256, from the OS random source), a real
//!   discovery document and JWKS, key rotation, and the two ways CI systems hand ID tokens to jobs.
//!   It never reaches the network, and it must never be used outside tests: it signs whatever it
//!   is asked to.
//!
//! # What it serves (all under [`OidcIssuer::url`], which is also the `iss` claim)
//!
//! | path | what |
//! |---|---|
//! | `GET /.well-known/openid-configuration` | discovery: `issuer`, `jwks_uri`, `authorization_endpoint`, `token_endpoint`, `userinfo_endpoint`, supported algorithms (the issuer's one), `code_challenge_methods_supported: ["S256"]` |
//! | `GET /.well-known/jwks` | `{"keys": [JWK…]}`: every published key, with `kid`, `alg`, `use: "sig"` |
//! | `GET /_apis/actions/idtoken?api-version=2.0&audience=AUD` | GitHub Actions' token request endpoint: needs `Authorization: Bearer <ACTIONS_ID_TOKEN_REQUEST_TOKEN>`, answers `{"value": "<jwt>"}` for the workflow set with [`OidcIssuer::set_actions_workflow`]; without `audience` the token is for `https://github.com/<owner>`, as on GitHub |
//! | `GET /oauth/authorize` | authorization-code flow: `response_type=code`, `client_id`, `redirect_uri` (registered exactly), `scope` with `openid`, `state`, `nonce`, `code_challenge` + `code_challenge_method=S256` (required), optional `login_hint=<preferred_username>`. Signs the user in at once and redirects (302) to `redirect_uri?code=…&state=…`, or with `error=…` (`unsupported_response_type`, `invalid_scope`, `invalid_request`, `login_required`, or what [`OidcIssuer::deny_next_authorization`] set). An unknown client or unregistered redirect URI gets a plain 400, never a redirect |
//! | `POST /oauth/token` | `grant_type=authorization_code`, `code`, `redirect_uri`, `code_verifier`; client by HTTP Basic, `client_secret` in the form, or none (public clients). Answers `{access_token, token_type: "Bearer", expires_in, id_token, scope}`; errors are RFC 6749 JSON (`invalid_client` 401, `invalid_grant` 400 for unknown/used/expired codes, a different redirect URI or a failed PKCE check) |
//! | `GET/POST /oauth/userinfo` | with `Authorization: Bearer <access_token>`: the user's claims |
//!
//! ID tokens from the sign-in flow carry `iss`, `sub`, `aud` (= client id), `azp`, `iat`,
//! `auth_time`, `exp`, `at_hash`, `nonce` (when sent), `preferred_username`, `name`, `email`,
//! `email_verified` and `groups`.
//!
//! # Using it
//!
//! ```no_run
//! use gantry_test_support::{GitHubWorkflow, OAuthClient, OidcIssuer, SignInUser};
//!
//! let issuer = OidcIssuer::start().unwrap();
//!
//! // CI tokens, signed directly …
//! let run = GitHubWorkflow::new("octo-org/octo-repo", 65, "release.yml").environment("release");
//! let jwt = issuer.github_token(&run, "registry.example.com");
//! // … or fetched by the code under test through the Actions endpoint.
//! issuer.set_actions_workflow(run.clone());
//! let [(url_var, url), (token_var, token)] = issuer.actions_env();
//!
//! // Variations: edit the claims, sign them yourself.
//! let mut claims = run.claims(issuer.url(), "registry.example.com");
//! claims["exp"] = serde_json::json!(1);
//! let expired = issuer.sign(&claims);
//! let unknown_kid = issuer.sign_with_unpublished_key(&run.claims(issuer.url(), "aud"));
//! let new_kid = issuer.rotate().unwrap();
//!
//! // SSO sign-in (authorization code + PKCE).
//! issuer.register_client(OAuthClient {
//!     client_id: "gantry".into(),
//!     client_secret: Some("s3cret".into()),
//!     redirect_uris: vec!["http://127.0.0.1:8990/login/callback".into()],
//! });
//! issuer.add_user(SignInUser::new("alice").groups(&["registry-admins"]));
//! ```
//!
//! [`OidcIssuer::requests`] lists every request served (method, path and query, headers, body), so
//! a test can check what a client sent; [`OidcIssuer::count`] counts requests to one path (e.g.
//! how often a verifier fetched the JWKS).

pub mod cargo;
pub mod tools;

#[cfg(feature = "services")]
pub mod services;

#[cfg(feature = "oidc")]
mod claims;
#[cfg(feature = "oidc")]
mod issuer;
#[cfg(feature = "oidc")]
mod keys;
#[cfg(feature = "oidc")]
mod oauth;
#[cfg(feature = "oidc")]
mod routes;

#[cfg(feature = "oidc")]
pub use claims::{GitHubWorkflow, GitLabJob, unix_now};
#[cfg(feature = "oidc")]
pub use issuer::{IssuerOptions, OidcIssuer, RecordedRequest};
#[cfg(feature = "oidc")]
pub use keys::KeyAlgorithm;
#[cfg(feature = "oidc")]
pub use oauth::{OAuthClient, SignInUser};

/// Paths the issuer serves, for assertions with [`OidcIssuer::count`].
#[cfg(feature = "oidc")]
pub mod paths {
    pub use crate::routes::{
        ACTIONS_TOKEN_PATH as ACTIONS_TOKEN, AUTHORIZE_PATH as AUTHORIZE,
        DISCOVERY_PATH as DISCOVERY, JWKS_PATH as JWKS, TOKEN_PATH as TOKEN,
        USERINFO_PATH as USERINFO,
    };
}

/// Why the issuer could not start or make a key.
#[cfg(feature = "oidc")]
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("generating an RSA key")]
    Rsa(#[source] rsa::Error),
    #[error("encoding an RSA key as PKCS#1")]
    RsaEncode(#[source] rsa::pkcs1::Error),
    #[error("encoding a P-256 key as PKCS#8")]
    EcEncode(#[source] p256::pkcs8::Error),
    #[error("reading the operating system's random source")]
    Random(#[source] getrandom::Error),
    #[error("building a JWK")]
    Jwt(#[source] jsonwebtoken::errors::Error),
    #[error("serving the test issuer on 127.0.0.1")]
    Io(#[source] std::io::Error),
}
