//! Support for the publish tests: a recording registry stub (std threads, HTTP/1.1, one request per
//! connection), isolated `CARGO_HOME`s, and runners for the real cargo and cargo-gantry.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use gantry_registry::auth::{generate_token, hash_token};
use gantry_registry::store::NewToken;
use gantry_registry::{Config, RunningServer};
use gantry_test_support::cargo::{CargoHome, isolate, reference_cargo};
use sha2::{Digest, Sha256};

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

    /// The metadata JSON bytes exactly as sent.
    pub fn raw_json(&self) -> Vec<u8> {
        let n = u32::from_le_bytes(self.body[0..4].try_into().unwrap()) as usize;
        self.body[4..4 + n].to_vec()
    }

    /// (metadata JSON, tarball) of a publish body.
    pub fn publish_parts(&self) -> (serde_json::Value, Vec<u8>) {
        let b = &self.body;
        let n = u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize;
        let json = serde_json::from_slice(&b[4..4 + n]).unwrap();
        let m = u32::from_le_bytes(b[4 + n..8 + n].try_into().unwrap()) as usize;
        (json, b[8 + n..8 + n + m].to_vec())
    }
}

#[derive(Default)]
pub struct Behaviour {
    /// Answer the next publish with 429 + `Retry-After: 1`.
    pub rate_limit_once: bool,
    /// Store the next publish, then answer 500.
    pub fail_after_store_once: bool,
    /// Never show published versions in the index.
    pub hide_published: bool,
    /// Refuse the first publish of this crate with a 400 (nothing stored).
    pub refuse_once: Option<String>,
    /// Answer the first publish of this crate with 429 and `Retry-After` of this many seconds.
    pub rate_limit_crate_once: Option<(String, u32)>,
    /// Never answer publishes of this crate (the request hangs until the stub stops).
    pub hang_on: Option<String>,
}

#[derive(Default)]
struct State {
    behaviour: Behaviour,
    seeded: BTreeMap<String, Vec<String>>,
    published: BTreeMap<String, Vec<String>>,
    /// Names in the order their publishes were stored.
    order: Vec<String>,
    requests: Vec<Request>,
}

pub struct Stub {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Stub {
    pub fn start(behaviour: Behaviour) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            behaviour,
            ..State::default()
        }));
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
                    let _ = handle(conn, addr, &s);
                });
            }
        });
        Stub { addr, state, stop }
    }

    pub fn index_url(&self) -> String {
        format!("sparse+http://{}/index/", self.addr)
    }

    /// Makes `name@vers` resolvable (for dependencies of fixtures).
    pub fn seed(&self, name: &str, vers: &str) {
        let line = serde_json::json!({"name": name, "vers": vers, "deps": [], "cksum": "0".repeat(64), "features": {"x": []}, "yanked": false}).to_string();
        self.state
            .lock()
            .unwrap()
            .seeded
            .entry(name.to_lowercase())
            .or_default()
            .push(line);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn api_requests(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with("/api/"))
            .collect()
    }

    pub fn publishes(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.path == "/api/v1/crates/new")
            .collect()
    }

    /// Crate names in the order the stub stored them.
    pub fn stored_order(&self) -> Vec<String> {
        self.state.lock().unwrap().order.clone()
    }

    pub fn set_hide_published(&self, hide: bool) {
        self.state.lock().unwrap().behaviour.hide_published = hide;
    }

    pub fn set_hang_on(&self, name: Option<&str>) {
        self.state.lock().unwrap().behaviour.hang_on = name.map(str::to_owned);
    }

    pub fn clear(&self) {
        let mut s = self.state.lock().unwrap();
        s.requests.clear();
        s.published.clear();
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn handle(conn: TcpStream, addr: SocketAddr, state: &Mutex<State>) -> std::io::Result<()> {
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
    let find = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let mut out = conn;
    if find("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let len: usize = find("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let req = Request {
        method,
        path,
        headers,
        body,
    };
    let hang = req.method == "PUT" && {
        let s = state.lock().unwrap();
        let name = s.behaviour.hang_on.clone();
        drop(s);
        name.is_some_and(|n| req.publish_parts().0["name"] == n.as_str())
    };
    if hang {
        state.lock().unwrap().requests.push(req);
        std::thread::sleep(std::time::Duration::from_secs(600));
        return Ok(());
    }
    let (status, extra, resp) = route(&req, addr, state);
    state.lock().unwrap().requests.push(req);
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        resp.len()
    );
    out.write_all(head.as_bytes())?;
    out.write_all(resp.as_bytes())?;
    out.flush()
}

fn route(req: &Request, addr: SocketAddr, state: &Mutex<State>) -> (u16, String, String) {
    let mut s = state.lock().unwrap();
    let ok = |b: &str| (200, String::new(), b.to_owned());
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/index/config.json") => ok(&format!(
            r#"{{"dl":"http://{addr}/dl","api":"http://{addr}"}}"#
        )),
        ("GET", p) if p.starts_with("/index/") => {
            let name = p.rsplit('/').next().unwrap_or("").to_owned();
            let mut lines = s.seeded.get(&name).cloned().unwrap_or_default();
            if !s.behaviour.hide_published {
                lines.extend(s.published.get(&name).cloned().unwrap_or_default());
            }
            if lines.is_empty() {
                (404, String::new(), "not found".into())
            } else {
                ok(&(lines.join("\n") + "\n"))
            }
        }
        ("PUT", "/api/v1/crates/new") => {
            if s.behaviour.rate_limit_once {
                s.behaviour.rate_limit_once = false;
                return (
                    429,
                    "Retry-After: 1\r\n".into(),
                    r#"{"errors":[{"detail":"too many requests"}]}"#.into(),
                );
            }
            let (json, tarball) = req.publish_parts();
            let name = json["name"].as_str().unwrap_or("").to_owned();
            if s.behaviour.refuse_once.as_deref() == Some(name.as_str()) {
                s.behaviour.refuse_once = None;
                return (
                    400,
                    String::new(),
                    r#"{"errors":[{"detail":"refused once on purpose"}]}"#.into(),
                );
            }
            if let Some((n, secs)) = s.behaviour.rate_limit_crate_once.clone()
                && n == name
            {
                s.behaviour.rate_limit_crate_once = None;
                return (
                    429,
                    format!("Retry-After: {secs}\r\n"),
                    r#"{"errors":[{"detail":"too many requests"}]}"#.into(),
                );
            }
            s.order.push(name.clone());
            let line = serde_json::json!({"name": name, "vers": json["vers"], "deps": [], "cksum": hex::encode(Sha256::digest(&tarball)), "features": {}, "yanked": false}).to_string();
            s.published
                .entry(name.to_lowercase())
                .or_default()
                .push(line);
            if s.behaviour.fail_after_store_once {
                s.behaviour.fail_after_store_once = false;
                return (500, String::new(), "internal oops".into());
            }
            ok("{}")
        }
        ("GET", p) if p.ends_with("/owners") => ok(
            r#"{"users":[{"id":1,"login":"alice","name":"Alice","email":"a@example.com"},{"id":2,"login":"bob","name":null}]}"#,
        ),
        ("PUT" | "DELETE", p) if p.ends_with("/owners") => {
            ok(r#"{"ok":true,"msg":"user bob has been invited to be an owner of crate qq"}"#)
        }
        _ if req.path.starts_with("/api/") => ok(r#"{"ok":true}"#),
        _ => (404, String::new(), "not found".into()),
    }
}

/// A fresh `CARGO_HOME` with `[registries]` entries.
pub fn cargo_home(dir: &Path, registries: &[(&str, &str)]) -> PathBuf {
    let mut home = CargoHome::new();
    for (name, url) in registries {
        home = home.registry(name, url);
    }
    home.config("[net]\ngit-fetch-with-cli = false\n")
        .write(dir)
        .unwrap()
}

pub fn gantry() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cargo-gantry"));
    c.arg("gantry");
    isolate(&mut c);
    c
}

pub fn cargo() -> Command {
    let mut c = Command::new(reference_cargo());
    isolate(&mut c);
    c
}

pub fn text(o: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn write(root: &Path, rel: &str, contents: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, contents).unwrap();
}

/// A real `gantry-registry` in-process, on 127.0.0.1, with its data in a temp dir.
pub struct Registry {
    rt: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        Registry::start_with(|_| {})
    }

    /// Starts with a config adjusted by `tweak` (rate limits, rules…).
    pub fn start_with(tweak: impl FnOnce(&mut Config)) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("data"));
        config.listen = "127.0.0.1:0".parse().unwrap();
        tweak(&mut config);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(gantry_registry::start(config)).unwrap();
        Registry {
            rt,
            server: Some(server),
            _dir: dir,
        }
    }

    pub fn index_url(&self) -> String {
        format!(
            "sparse+http://{}/index/",
            self.server.as_ref().unwrap().addr
        )
    }

    pub fn token(&self, login: &str) -> String {
        let store = self.server.as_ref().unwrap().app.store.clone();
        self.rt.block_on(async {
            let user = match store.user_by_login(login).await.unwrap() {
                Some(u) => u,
                None => {
                    store.create_user(login).await.unwrap();
                    store.user_by_login(login).await.unwrap().unwrap()
                }
            };
            let token = generate_token();
            let new = NewToken {
                user_id: user.id,
                name: "t".into(),
                hash: hash_token(&token),
                scopes: None,
                crate_patterns: vec![],
                expires_at: None,
            };
            store.create_token(&new).await.unwrap();
            token
        })
    }

    /// The versions the registry holds for `name`, sorted (empty when the crate is unknown).
    pub fn versions(&self, name: &str) -> Vec<String> {
        let store = self.server.as_ref().unwrap().app.store.clone();
        self.rt.block_on(async {
            match store.crate_by_name(name).await.unwrap() {
                None => Vec::new(),
                Some(c) => {
                    let mut v: Vec<String> = store
                        .versions(c.id)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|r| r.num)
                        .collect();
                    v.sort();
                    v
                }
            }
        })
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = self.rt.block_on(s.stop());
        }
    }
}
