//! Differential: what `cargo gantry publish` sends for trusted publishing against crates.io equals
//! what `rust-lang/crates-io-auth-action` sends, so crates.io sees nothing new. The reference is
//! the action's source (read, not copied):
//!
//! - `src/registry_url.ts` (`getRegistryUrl`, `getAudienceFromUrl`): the registry URL without a
//!   trailing `/`; the audience is that URL without `https://`/`http://`.
//! - `src/main.ts` (`requestTrustedPublishingToken`): `fetch(POST {url}/api/v1/trusted_publishing/tokens)`
//!   with headers `Content-Type: application/json` and `User-Agent` (from `src/utils.ts`
//!   `getUserAgent`: `<package name>/<version>`), body `JSON.stringify({ jwt })`.
//! - `src/post.ts` (`revokeToken`): `fetch(DELETE` of the same URL) with
//!   `Authorization: Bearer <token>` and the same `User-Agent`, no body.
//! - The ID token, through `@actions/core` `getIDToken` (actions/toolkit
//!   `packages/core/src/oidc-utils.ts`): `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=` +
//!   `encodeURIComponent(audience)` with `Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`
//!   and `Accept: application/json`.
//!
//! Header by header, the action's own headers are compared by value; the `User-Agent` names the
//! tool (`cargo-gantry/VERSION` where the action says `crates-io-auth-action/VERSION`), as
//! crates.io asks every client to. Node's `fetch` adds headers of the Fetch standard on its own
//! (`accept-language: *`, `sec-fetch-mode: cors`, `accept-encoding`, `connection`): those belong
//! to the JavaScript runtime, not to the action, and are deliberately not imitated; the test
//! checks that nothing beyond the action's headers and HTTP's own framing is sent. The body is
//! compared byte for byte.
//!
//! The registry here is a recorder standing in for crates.io through cargo's crates.io test hook:
//! it answers `config.json`, the exchange (200 with a token), refuses the upload (so the run ends
//! with an error) and records the revocation that follows whatever the outcome.

mod trustpub_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use gantry_test_support::OidcIssuer;
use trustpub_support::{Ci, run, text, workspace};

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    /// Names in lower case, in the order sent.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn names(&self) -> Vec<&str> {
        let mut n: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        n.sort_unstable();
        n
    }
}

const PUBLISH_TOKEN: &str = "cio_tp_0123456789abcdefghijklmnopqrstu0";

/// Stands in for crates.io: records every request.
struct Recorder {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
    /// `hang_uploads`: uploads are never answered (the run is then interrupted).
    fn start(hang_uploads: bool) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let l = l.clone();
                std::thread::spawn(move || serve(conn, addr, &l, hang_uploads));
            }
        });
        Recorder { addr, log }
    }

    fn requests(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .cloned()
            .collect()
    }
}

fn serve(conn: TcpStream, addr: SocketAddr, log: &Mutex<Vec<Recorded>>, hang_uploads: bool) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.push((k.to_ascii_lowercase(), v.trim().to_owned()));
        }
        let len = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let r = Recorded {
            method,
            path,
            headers,
            body,
        };
        let (status, answer) = answer(&r, addr);
        let hang = r.method == "PUT" && hang_uploads;
        log.lock().unwrap().push(r);
        if hang {
            loop {
                std::thread::park();
            }
        }
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        );
        if conn.write_all(head.as_bytes()).is_err() || conn.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn answer(r: &Recorded, addr: SocketAddr) -> (&'static str, String) {
    const TOKENS: &str = "/api/v1/trusted_publishing/tokens";
    match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/index/config.json") => (
            "200 OK",
            format!(r#"{{"dl":"http://{addr}/dl","api":"http://{addr}"}}"#),
        ),
        ("POST", TOKENS) => ("200 OK", format!(r#"{{"token":"{PUBLISH_TOKEN}"}}"#)),
        ("DELETE", TOKENS) => ("204 No Content", String::new()),
        ("PUT", "/api/v1/crates/new") => (
            "403 Forbidden",
            r#"{"errors":[{"detail":"the recorder stores nothing"}]}"#.to_owned(),
        ),
        _ => (
            "404 Not Found",
            r#"{"errors":[{"detail":"Not Found"}]}"#.to_owned(),
        ),
    }
}

#[test]
fn the_exchange_and_revocation_are_what_crates_io_auth_action_sends() {
    let issuer = OidcIssuer::start().unwrap();
    issuer.set_actions_workflow(run());
    let crates_io = Recorder::start(false);
    let ci = Ci::new("sparse+http://unused.invalid/index/");
    let ws = workspace(&ci.work, "wire-core", "wire-app", "0.1.0");
    // Publishing to crates.io, which the test hook points at the recorder.
    std::fs::write(
        ws.join("wire-core/Cargo.toml"),
        "[package]\nname = \"wire-core\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
         description = \"d\"\nlicense = \"MIT\"\n",
    )
    .unwrap();
    let mut env: Vec<(&str, String)> = issuer.actions_env().into_iter().collect();
    env.push((
        "__CARGO_TEST_CRATES_IO_URL_DO_NOT_USE_THIS",
        format!("sparse+http://{}/index/", crates_io.addr),
    ));
    let out = ci.gantry(&ws.join("wire-core"), &["publish", "--no-verify"], &env);
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("the recorder stores nothing"), "{shown}");

    // registry_url.ts: the audience is the registry URL without its scheme.
    let audience = crates_io.addr.to_string();
    let asked: Vec<_> = issuer
        .requests()
        .into_iter()
        .filter(|r| r.query("audience").is_some())
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    let id_request = &asked[0];
    assert_eq!(id_request.method, "GET");
    // `&audience=` + encodeURIComponent(audience): `:` is escaped, `.` is not.
    let encoded = audience.replace(':', "%3A");
    assert!(
        id_request
            .uri
            .ends_with(&format!("?api-version=2.0&audience={encoded}")),
        "{}",
        id_request.uri
    );
    assert_eq!(
        id_request.header("authorization"),
        Some(format!("Bearer {}", issuer.actions_request_token()).as_str())
    );
    assert_eq!(id_request.header("accept"), Some("application/json"));

    // main.ts: the exchange.
    let exchanges = crates_io.requests("POST", "/api/v1/trusted_publishing/tokens");
    assert_eq!(exchanges.len(), 1);
    let ex = &exchanges[0];
    let jwt = {
        let body: serde_json::Value = serde_json::from_slice(&ex.body).unwrap();
        body["jwt"].as_str().unwrap().to_owned()
    };
    // JSON.stringify({ jwt }): no spaces, the token as it came (base64url and dots need no escape).
    assert_eq!(ex.body, format!("{{\"jwt\":\"{jwt}\"}}").into_bytes());
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], audience.as_str());
    assert_eq!(claims["iss"], issuer.url());
    let user_agent = format!("cargo-gantry/{}", env!("CARGO_PKG_VERSION"));
    let expected: BTreeMap<&str, String> = [
        ("host", audience.clone()),
        ("content-type", "application/json".to_owned()),
        ("content-length", ex.body.len().to_string()),
        ("user-agent", user_agent.clone()),
    ]
    .into();
    for (name, value) in &expected {
        assert_eq!(ex.header(name), Some(value.as_str()), "{name}: {ex:?}");
    }
    // Nothing else, except `accept: */*`, which fetch sends too.
    let extra: Vec<&str> = ex
        .names()
        .into_iter()
        .filter(|n| !expected.contains_key(n))
        .collect();
    assert!(extra.is_empty() || extra == ["accept"], "{extra:?}");
    if extra == ["accept"] {
        assert_eq!(ex.header("accept"), Some("*/*"));
    }

    // post.ts: the revocation, although the run failed.
    let revokes = crates_io.requests("DELETE", "/api/v1/trusted_publishing/tokens");
    assert_eq!(revokes.len(), 1);
    let rv = &revokes[0];
    assert!(rv.body.is_empty());
    let expected: BTreeMap<&str, String> = [
        ("host", audience.clone()),
        ("authorization", format!("Bearer {PUBLISH_TOKEN}")),
        ("user-agent", user_agent),
    ]
    .into();
    for (name, value) in &expected {
        assert_eq!(rv.header(name), Some(value.as_str()), "{name}: {rv:?}");
    }
    let extra: Vec<&str> = rv
        .names()
        .into_iter()
        .filter(|n| !expected.contains_key(n))
        .collect();
    assert!(extra.is_empty() || extra == ["accept"], "{extra:?}");

    // The upload between them used the exchanged token, as cargo sends a crates.io token.
    let uploads = crates_io.requests("PUT", "/api/v1/crates/new");
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].header("authorization"), Some(PUBLISH_TOKEN));
    assert!(
        !shown.contains(PUBLISH_TOKEN) && !shown.contains(&jwt),
        "{shown}"
    );
}

#[test]
#[cfg(unix)]
fn an_interrupted_run_revokes_its_token() {
    let issuer = OidcIssuer::start().unwrap();
    issuer.set_actions_workflow(run());
    let crates_io = Recorder::start(true);
    let ci = Ci::new("sparse+http://unused.invalid/index/");
    let dir = ci.work.join("solo");
    trustpub_support::write(
        &dir,
        "Cargo.toml",
        "[package]\nname = \"solo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
         description = \"d\"\nlicense = \"MIT\"\n",
    );
    trustpub_support::write(&dir, "src/lib.rs", "");
    let mut env: Vec<(&str, String)> = issuer.actions_env().into_iter().collect();
    env.push((
        "__CARGO_TEST_CRATES_IO_URL_DO_NOT_USE_THIS",
        format!("sparse+http://{}/index/", crates_io.addr),
    ));
    let mut child = ci
        .command(&dir, &["publish", "--no-verify"], &env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The upload is in flight (and never answered): now the job is cancelled.
    let mut waited = 0;
    while crates_io.requests("PUT", "/api/v1/crates/new").is_empty() {
        assert!(waited < 1200, "no upload arrived");
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += 1;
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("Revoking trusted-publishing token"),
        "{stderr}"
    );
    let revokes = crates_io.requests("DELETE", "/api/v1/trusted_publishing/tokens");
    assert_eq!(revokes.len(), 1, "{stderr}");
    assert_eq!(
        revokes[0].header("authorization"),
        Some(format!("Bearer {PUBLISH_TOKEN}").as_str())
    );
}
