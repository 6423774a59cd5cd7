//! Stub registries on 127.0.0.1 that answer as peer registries do, each quirk cited from the peer's
//! source or an issue, for tests that run the real `cargo` and `cargo gantry` against the same stub.
//! HTTP/1.1, one request per connection, std threads; published crates appear in the sparse index
//! at once (with the uploaded checksum), so both tools' waits end.
#![allow(dead_code)]

pub mod diff;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// Which peer a stub imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// kellnr 6.x: publish answers `{"warnings":null}` (its `PubDataSuccess` has
    /// `warnings: Option<Warnings>`, kellnr `crates/registry/src/pub_success.rs`); `/api/v1/me` is
    /// not an API route, the web UI's fallback serves its HTML page with 200 (issue 11, observed
    /// with kellnr 6.13.0; kellnr `crates/kellnr/src/routes/mod.rs` has no `/api/v1/me`); owners
    /// are listed as `{"id","login","name":null}` and changed with `{"ok":true,"msg":"Added owners
    /// to crate."}` (kellnr `crates/registry/src/kellnr_api.rs`, `owner.rs`).
    Kellnr,
    /// JFrog Artifactory: an index file of a crate it does not have answers 400 with a JSON body
    /// in its own error shape, which stops cargo ≥ 1.83's pre-publish check
    /// (https://github.com/rust-lang/cargo/issues/15028, body quoted there). Its owners path
    /// answers the same 400 for a crate it does not know (same issue, same handler).
    Artifactory,
    /// A registry that requires authentication and challenges with `WWW-Authenticate: Basic,
    /// Bearer` and an empty 401 body, as kellnr does with `auth_required`
    /// (kellnr `crates/auth/src/auth_req_token.rs`; registry.md Part B): no `Cargo login_url`.
    BasicBearer,
    /// Like `BasicBearer`, but with cargo's own challenge `Cargo login_url="…"` (the cargo book,
    /// registry authentication) and a body on the 401.
    CargoChallenge,
}

/// The token the authenticated peers accept.
pub const GOOD_TOKEN: &str = "good-token";

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    published: BTreeMap<String, Vec<String>>,
    requests: Vec<Request>,
    /// Answer publishes with this status and body instead of storing them.
    refuse_publish: Option<(u16, String)>,
    /// Answer the first index request after each reset with this status and body.
    flaky_index: Option<(u16, String)>,
    flaked: bool,
}

pub struct PeerStub {
    pub peer: Peer,
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl PeerStub {
    pub fn start(peer: Peer) -> PeerStub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = handle(conn, peer, addr, &s);
                });
            }
        });
        PeerStub {
            peer,
            addr,
            state,
            stop,
        }
    }

    pub fn index_url(&self) -> String {
        format!("sparse+http://{}/index/", self.addr)
    }

    pub fn api(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Crate names stored by publishes, in order.
    pub fn published(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .published
            .keys()
            .cloned()
            .collect()
    }

    /// Forgets what was published and asked (between the cargo run and the gantry run).
    pub fn reset(&self) {
        let mut s = self.state.lock().unwrap();
        s.published.clear();
        s.requests.clear();
        s.flaked = false;
    }

    /// The first index request after each reset fails with `status` (a load balancer's 503).
    pub fn flaky_index(&self, status: u16, body: &str) {
        self.state.lock().unwrap().flaky_index = Some((status, body.to_owned()));
    }

    pub fn refuse_publish(&self, status: u16, body: &str) {
        self.state.lock().unwrap().refuse_publish = Some((status, body.to_owned()));
    }
}

impl Drop for PeerStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn answer(status: u16, body: impl Into<String>) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
        body: body.into(),
    }
}

fn handle(
    conn: TcpStream,
    peer: Peer,
    addr: SocketAddr,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let mut out = conn;
    let req = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if req
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let len: usize = req
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let req = Request { body, ..req };
    let a = route(&req, peer, addr, state);
    state.lock().unwrap().requests.push(req);
    let reason = match a.status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-length: {}\r\nconnection: close\r\n",
        a.status,
        a.body.len()
    );
    for (k, v) in &a.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(a.body.as_bytes())?;
    out.flush()
}

const JFROG_400: &str =
    "{\n  \"errors\" : [ {\n    \"status\" : 400,\n    \"message\" : \"Bad Request\"\n  } ]\n}";

fn route(req: &Request, peer: Peer, addr: SocketAddr, state: &Mutex<State>) -> Answer {
    let authenticated = req.header("authorization") == Some(GOOD_TOKEN);
    if matches!(peer, Peer::BasicBearer | Peer::CargoChallenge) && !authenticated {
        let mut a = answer(401, "");
        match peer {
            Peer::BasicBearer => a.headers.push(("www-authenticate", "Basic, Bearer".into())),
            _ => {
                a.headers.push((
                    "www-authenticate",
                    format!("Cargo login_url=\"http://{addr}/me\""),
                ));
                a.body = "Unauthorized message from server.".into();
            }
        }
        return a;
    }
    let mut s = state.lock().unwrap();
    if req.path.starts_with("/index/")
        && !s.flaked
        && let Some((status, body)) = s.flaky_index.clone()
    {
        s.flaked = true;
        return answer(status, body);
    }
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/index/config.json") => {
            let auth = matches!(peer, Peer::BasicBearer | Peer::CargoChallenge);
            answer(
                200,
                format!(
                    r#"{{"dl":"http://{addr}/dl","api":"http://{addr}","auth-required":{auth}}}"#
                ),
            )
        }
        ("GET", p) if p.starts_with("/index/") => {
            let name = p.rsplit('/').next().unwrap_or("").to_owned();
            match s.published.get(&name) {
                Some(lines) => answer(200, lines.join("\n") + "\n"),
                None if peer == Peer::Artifactory => answer(400, JFROG_400),
                None => answer(404, "not found"),
            }
        }
        ("PUT", "/api/v1/crates/new") => {
            if let Some((status, body)) = s.refuse_publish.clone() {
                return answer(status, body);
            }
            let (json, tarball) = publish_parts(&req.body);
            let name = json["name"].as_str().unwrap_or("").to_owned();
            let line = serde_json::json!({"name": name, "vers": json["vers"], "deps": [], "cksum": hex::encode(Sha256::digest(&tarball)), "features": {}, "yanked": false}).to_string();
            s.published
                .entry(name.to_lowercase())
                .or_default()
                .push(line);
            match peer {
                Peer::Kellnr => answer(200, r#"{"warnings":null}"#),
                _ => answer(
                    200,
                    r#"{"warnings":{"invalid_categories":[],"invalid_badges":[],"other":[]}}"#,
                ),
            }
        }
        ("GET", "/api/v1/me") if peer == Peer::Kellnr => answer(
            200,
            "<!DOCTYPE html><html lang=\"en\"><head><title>kellnr</title></head><body><div id=\"app\"></div></body></html>",
        ),
        ("GET", "/api/v1/me") => answer(200, r#"{"user":{"id":1,"login":"admin","name":null}}"#),
        (_, p) if p.ends_with("/owners") => {
            let name = p.split('/').nth(4).unwrap_or("").to_lowercase();
            if peer == Peer::Artifactory && !s.published.contains_key(&name) {
                return answer(400, JFROG_400);
            }
            match req.method.as_str() {
                "GET" => answer(200, r#"{"users":[{"id":1,"login":"admin","name":null}]}"#),
                "PUT" => answer(200, r#"{"ok":true,"msg":"Added owners to crate."}"#),
                _ => answer(200, r#"{"ok":true,"msg":"Removed owners from crate."}"#),
            }
        }
        _ if req.path.starts_with("/api/") => answer(200, r#"{"ok":true}"#),
        _ => answer(404, "not found"),
    }
}

/// (metadata JSON, tarball) of a publish body.
pub fn publish_parts(b: &[u8]) -> (serde_json::Value, Vec<u8>) {
    let n = u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize;
    let json = serde_json::from_slice(&b[4..4 + n]).unwrap_or_default();
    let m = u32::from_le_bytes(b[4 + n..8 + n].try_into().unwrap()) as usize;
    (json, b[8 + n..8 + n + m].to_vec())
}

/// The two tools a differential test runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Cargo,
    Gantry,
}

impl Tool {
    pub const BOTH: [Tool; 2] = [Tool::Cargo, Tool::Gantry];

    pub fn label(self) -> &'static str {
        match self {
            Tool::Cargo => "cargo",
            Tool::Gantry => "gantry",
        }
    }

    /// `cargo SUBCOMMAND` or `cargo-gantry gantry SUBCOMMAND`, with a clean environment.
    pub fn command(self, subcommand: &str) -> Command {
        let mut c = match self {
            Tool::Cargo => Command::new(gantry_test_support::cargo::reference_cargo()),
            Tool::Gantry => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_cargo-gantry"));
                c.arg("gantry");
                c
            }
        };
        c.arg(subcommand);
        gantry_test_support::cargo::isolate(&mut c).stdin(Stdio::null());
        c
    }
}

/// A fresh `CARGO_HOME` whose `config.toml` is `config` (plus `[registries.NAME]` for `stub`).
pub fn home(dir: &Path, registry: Option<(&str, &PeerStub)>, config: &str) -> PathBuf {
    let mut home = gantry_test_support::cargo::CargoHome::new();
    if let Some((name, stub)) = registry {
        home = home.registry(name, &stub.index_url());
    }
    home.config(config).write(dir).unwrap()
}

/// A package without description or license (what cargo accepts for private registries).
pub fn bare_package(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    dir
}

/// stderr with the scratch paths and the stub's port replaced, so the two tools' runs compare.
pub fn normalized_stderr(out: &Output, scratch: &Path, stub: Option<&PeerStub>) -> String {
    let mut s = String::from_utf8_lossy(&out.stderr).into_owned();
    for p in [
        scratch.to_path_buf(),
        scratch.canonicalize().unwrap_or_default(),
    ] {
        if let Some(p) = p.to_str().filter(|p| !p.is_empty()) {
            s = s.replace(p, "[ROOT]");
        }
    }
    if let Some(stub) = stub {
        s = s.replace(&stub.addr.to_string(), "[ADDR]");
    }
    // Each tool ran in its own scratch dir (`[ROOT]/cargo/…`, `[ROOT]/gantry/…`).
    s.replace("[ROOT]/cargo/", "[ROOT]/")
        .replace("[ROOT]/gantry/", "[ROOT]/")
}

pub fn text(o: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The lines gantry adds around cargo's output (its plan, summary and advice), removed where a
/// test compares the rest with cargo's output line by line.
pub fn without_gantry_additions(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("Planned ")
                || t.starts_with("Skipping ")
                || t.starts_with("Summary ")
                || t.starts_with("= help: run the same command again"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}
