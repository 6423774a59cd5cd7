//! A git-index registry on disk for tests, shaped like cargo's own test registry: the index is a git
//! repository (`file://` URL, or served over git's plain "dumb" HTTP at `/git` as
//! cargo-http-registry serves it), and a small HTTP API on 127.0.0.1 takes publishes, yanks and
//! owner changes, commits each change to the index with the `git` program, and serves the `.crate`
//! files for downloads. Any token is accepted.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub struct GitRegistry {
    /// The registry's own directory (index repository, `.crate` files); removed on drop.
    pub root: PathBuf,
    /// The index: a git repository with a work tree, as in cargo's test registry.
    pub index: PathBuf,
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Serialises changes to the index repository.
    lock: Arc<Mutex<()>>,
    /// The temp dir `root` is in, when [`GitRegistry::start`] made one.
    _tmp: Option<tempfile::TempDir>,
}

impl GitRegistry {
    /// A new registry in a temp dir (see [`GitRegistry::start_at`]).
    pub fn start() -> GitRegistry {
        let tmp = tempfile::tempdir().unwrap();
        let mut reg = GitRegistry::start_at(&tmp.path().join("registry"));
        reg._tmp = Some(tmp);
        reg
    }

    /// A new registry at `root` (replacing whatever was there) with an empty index whose
    /// `config.json` points at the API started here. Two registries made one after the other at
    /// the same path have the same index URL, so lockfiles naming it (and so `.crate` bytes) match.
    pub fn start_at(root: &Path) -> GitRegistry {
        let root = root.to_path_buf();
        let _ = std::fs::remove_dir_all(&root);
        let index = root.join("index");
        std::fs::create_dir_all(&index).unwrap();
        std::fs::create_dir_all(root.join("crates")).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        git(&index, &["init", "-q"]);
        std::fs::write(
            index.join("config.json"),
            format!(r#"{{"dl":"http://{addr}/dl","api":"http://{addr}"}}"#),
        )
        .unwrap();
        commit(&index, "config.json");
        let stop = Arc::new(AtomicBool::new(false));
        let lock = Arc::new(Mutex::new(()));
        let (st, lk, r) = (stop.clone(), lock.clone(), root.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (lk, r) = (lk.clone(), r.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &r, addr, &lk);
                });
            }
        });
        GitRegistry {
            root,
            index,
            addr,
            stop,
            lock,
            _tmp: None,
        }
    }

    /// The index as a `file://` URL.
    pub fn index_url(&self) -> String {
        format!("file://{}", self.index.display())
    }

    /// The index over git's plain ("dumb") HTTP protocol.
    pub fn http_index_url(&self) -> String {
        format!("http://{}/git", self.addr)
    }

    /// The index lines of `name`, as committed.
    pub fn lines(&self, name: &str) -> Vec<Value> {
        let path = self.index.join(index_path(name));
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// How many commits the index has (one per change, after the first).
    pub fn commits(&self) -> usize {
        let out = Command::new("git")
            .args(["rev-list", "--count", "HEAD"])
            .current_dir(&self.index)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }

    /// Puts a crate into the index directly (for a dependency that exists before the test runs).
    pub fn add_line(&self, line: Value) {
        let _guard = self.lock.lock().unwrap();
        let name = line["name"].as_str().unwrap().to_owned();
        append_line(&self.index, &name, &line);
    }

    /// Normalises this registry's paths, port and commit ids in `text`.
    pub fn normalize(&self, text: &str) -> String {
        let mut s = text.to_owned();
        for p in [self.root.clone(), self.root.canonicalize().unwrap()] {
            s = s.replace(p.to_str().unwrap(), "[REG]");
        }
        let s = s.replace(&self.addr.to_string(), "[ADDR]");
        // git's ref updates (`   50df2bf..3f6410e  HEAD -> origin/HEAD`) name commits, which
        // differ between two registries made from the same steps (times, ports).
        s.lines()
            .map(|l| {
                let revs = l
                    .split_whitespace()
                    .find(|w| is_rev_range(w))
                    .map(str::to_owned);
                match revs {
                    Some(r) => l.replace(&r, "[REVS]"),
                    None => l.to_owned(),
                }
            })
            .map(|l| l + "\n")
            .collect()
    }
}

/// `abc1234..def5678` (or with `...`).
fn is_rev_range(word: &str) -> bool {
    let hex = |s: &str| s.len() >= 7 && s.chars().all(|c| c.is_ascii_hexdigit());
    word.split_once("...")
        .or_else(|| word.split_once(".."))
        .is_some_and(|(a, b)| hex(a) && hex(b))
}

impl Drop for GitRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// cargo's index layout: `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`.
pub fn index_path(name: &str) -> String {
    let n = name.to_lowercase();
    match n.len() {
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=registry",
            "-c",
            "user.email=registry@test.invalid",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Commits `path` and refreshes what dumb-HTTP clients read (`info/refs`).
fn commit(index: &Path, path: &str) {
    git(index, &["add", path]);
    git(index, &["commit", "-q", "-m", &format!("Update {path}")]);
    git(index, &["update-server-info"]);
}

fn append_line(index: &Path, name: &str, line: &Value) {
    let rel = index_path(name);
    let path = index.join(&rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push_str(&line.to_string());
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    commit(index, &rel);
}

/// Rewrites the `yanked` flag of `name@vers`; false when there is no such version.
fn set_yanked(index: &Path, name: &str, vers: &str, yanked: bool) -> bool {
    let rel = index_path(name);
    let path = index.join(&rel);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return false;
    };
    let mut found = false;
    let mut out = String::new();
    for l in text.lines() {
        let mut v: Value = serde_json::from_str(l).unwrap();
        if v["vers"] == vers {
            v["yanked"] = json!(yanked);
            found = true;
        }
        out.push_str(&v.to_string());
        out.push('\n');
    }
    if found {
        std::fs::write(&path, out).unwrap();
        commit(index, &rel);
    }
    found
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn serve(conn: TcpStream, root: &Path, addr: SocketAddr, lock: &Mutex<()>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut len = 0;
    let mut expect = false;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
            if k.eq_ignore_ascii_case("expect") {
                expect = true;
            }
        }
    }
    let mut out = conn;
    if expect {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let req = Request { method, path, body };
    let (status, bytes) = route(&req, root, addr, lock);
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Not Found",
    };
    write!(
        out,
        "HTTP/1.1 {status} {reason}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        bytes.len()
    )?;
    out.write_all(&bytes)?;
    out.flush()
}

fn ok(body: impl Into<String>) -> (u16, Vec<u8>) {
    (200, body.into().into_bytes())
}

fn route(req: &Request, root: &Path, _addr: SocketAddr, lock: &Mutex<()>) -> (u16, Vec<u8>) {
    let index = root.join("index");
    // A dumb-HTTP server serves `info/refs` whatever the query (`?service=…` asks for the smart
    // protocol, which this server does not speak; git then falls back to plain files).
    let path = req.path.split('?').next().unwrap_or("");
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method.as_str(), segs.as_slice()) {
        ("GET", ["git", rest @ ..]) => match std::fs::read(index.join(".git").join(rest.join("/")))
        {
            Ok(bytes) => (200, bytes),
            Err(_) => (404, b"not found".to_vec()),
        },
        ("GET", ["dl", name, vers, "download"]) => {
            match std::fs::read(root.join("crates").join(format!("{name}-{vers}.crate"))) {
                Ok(bytes) => (200, bytes),
                Err(_) => (404, b"not found".to_vec()),
            }
        }
        ("PUT", ["api", "v1", "crates", "new"]) => {
            let _guard = lock.lock().unwrap();
            publish(&index, root, &req.body)
        }
        (
            "DELETE" | "PUT",
            [
                "api",
                "v1",
                "crates",
                name,
                vers,
                action @ ("yank" | "unyank"),
            ],
        ) => {
            let _guard = lock.lock().unwrap();
            if set_yanked(&index, name, vers, *action == "yank") {
                ok(r#"{"ok":true}"#)
            } else {
                (
                    404,
                    format!(r#"{{"errors":[{{"detail":"crate `{name}` does not have a version `{vers}`"}}]}}"#)
                        .into_bytes(),
                )
            }
        }
        ("GET", ["api", "v1", "me"]) => ok(r#"{"user":{"id":1,"login":"alice","name":"Alice"}}"#),
        ("GET", ["api", "v1", "crates", _, "owners"]) => {
            ok(r#"{"users":[{"id":1,"login":"alice","name":"Alice"}]}"#)
        }
        ("PUT", ["api", "v1", "crates", name, "owners"]) => {
            let users: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let who = users["users"][0].as_str().unwrap_or("").to_owned();
            ok(json!({"ok": true, "msg": format!("user {who} has been invited to be an owner of crate {name}")}).to_string())
        }
        ("DELETE", ["api", "v1", "crates", _, "owners"]) => {
            ok(r#"{"ok":true,"msg":"owners successfully removed"}"#)
        }
        _ => (404, b"not found".to_vec()),
    }
}

/// Stores an upload and commits its index line, as a registry does.
fn publish(index: &Path, root: &Path, body: &[u8]) -> (u16, Vec<u8>) {
    let (meta, tarball) = publish_parts(body);
    let name = meta["name"].as_str().unwrap_or("").to_owned();
    let vers = meta["vers"].as_str().unwrap_or("").to_owned();
    let existing = std::fs::read_to_string(index.join(index_path(&name))).unwrap_or_default();
    if existing
        .lines()
        .any(|l| serde_json::from_str::<Value>(l).unwrap()["vers"] == vers.as_str())
    {
        return (
            400,
            format!(r#"{{"errors":[{{"detail":"crate version `{vers}` is already uploaded"}}]}}"#)
                .into_bytes(),
        );
    }
    std::fs::write(
        root.join("crates").join(format!("{name}-{vers}.crate")),
        &tarball,
    )
    .unwrap();
    append_line(index, &name, &index_line(&meta, &tarball));
    ok(r#"{"warnings":{"invalid_categories":[],"invalid_badges":[],"other":[]}}"#)
}

/// The index line for an upload's metadata: dependencies renamed as the index spells them.
fn index_line(meta: &Value, tarball: &[u8]) -> Value {
    let deps: Vec<Value> = meta["deps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|d| {
            let renamed = d["explicit_name_in_toml"].as_str().map(str::to_owned);
            json!({
                "name": renamed.clone().unwrap_or_else(|| d["name"].as_str().unwrap().to_owned()),
                "req": d["version_req"],
                "features": d["features"],
                "optional": d["optional"],
                "default_features": d["default_features"],
                "target": d["target"],
                "kind": d["kind"],
                "registry": d["registry"],
                "package": renamed.map(|_| d["name"].clone()),
            })
        })
        .collect();
    json!({
        "name": meta["name"],
        "vers": meta["vers"],
        "deps": deps,
        "cksum": hex::encode(Sha256::digest(tarball)),
        "features": meta["features"],
        "yanked": false,
        "links": meta["links"],
    })
}

/// (metadata JSON, tarball) of a publish body.
pub fn publish_parts(b: &[u8]) -> (Value, Vec<u8>) {
    let n = u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize;
    let json = serde_json::from_slice(&b[4..4 + n]).unwrap_or_default();
    let m = u32::from_le_bytes(b[4 + n..8 + n].try_into().unwrap()) as usize;
    (json, b[8 + n..8 + n + m].to_vec())
}

/// Scenario state per tool: its own registry (at `<scratch>/registry`, the same path for both
/// tools, so only one side lives at a time), scratch dir and `CARGO_HOME`.
pub struct Side {
    pub label: &'static str,
    pub reg: GitRegistry,
    pub dir: PathBuf,
    pub home: PathBuf,
}

impl Side {
    /// A registry `alt` at `index_url(reg)` in a fresh `CARGO_HOME` whose config also has `config`.
    pub fn new(
        scratch: &Path,
        label: &'static str,
        config: &str,
        index_url: impl Fn(&GitRegistry) -> String,
    ) -> Side {
        let reg = GitRegistry::start_at(&scratch.join("registry"));
        let dir = scratch.join(label);
        let home = gantry_test_support::cargo::CargoHome::new()
            .registry("alt", &index_url(&reg))
            .config(config)
            .write(&dir.join("home"))
            .unwrap();
        Side {
            label,
            reg,
            dir,
            home,
        }
    }

    /// stderr with this side's scratch dir, registry paths, port, commit ids and build times
    /// replaced.
    pub fn normalize(&self, stderr: &[u8]) -> String {
        let mut s = String::from_utf8_lossy(stderr).into_owned();
        s = self.reg.normalize(&s);
        for p in [
            self.dir.clone(),
            self.dir.canonicalize().unwrap_or_default(),
        ] {
            if let Some(p) = p.to_str().filter(|p| !p.is_empty()) {
                s = s.replace(p, "[ROOT]");
            }
        }
        // Build times differ from run to run.
        s.lines()
            .map(|l| match l.find(" target(s) in ") {
                Some(i) if l.trim_start().starts_with("Finished ") => {
                    format!("{} target(s) in [ELAPSED]\n", &l[..i])
                }
                _ => format!("{l}\n"),
            })
            .collect()
    }
}

/// Members of a workspace chain `a → b → c` (each a path dependency with a version).
pub fn chain_workspace(dir: &Path) -> PathBuf {
    let ws = dir.join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(
        ws.join("Cargo.toml"),
        "[workspace]\nmembers = [\"a\", \"b\", \"c\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    for (name, dep) in [("a", Some("b")), ("b", Some("c")), ("c", None)] {
        let m = ws.join(name);
        std::fs::create_dir_all(m.join("src")).unwrap();
        let mut toml = format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = [\"alt\"]\n"
        );
        let mut lib = String::new();
        if let Some(dep) = dep {
            toml.push_str(&format!(
                "\n[dependencies]\n{dep} = {{ path = \"../{dep}\", version = \"0.1.0\", registry = \"alt\" }}\n"
            ));
            lib.push_str(&format!(
                "pub fn {name}() -> u32 {{ {dep}::{dep}() + 1 }}\n"
            ));
        } else {
            lib.push_str(&format!("pub fn {name}() -> u32 {{ 1 }}\n"));
        }
        std::fs::write(m.join("Cargo.toml"), toml).unwrap();
        std::fs::write(m.join("src/lib.rs"), lib).unwrap();
    }
    ws
}

/// A single package `name` with `deps` (TOML lines under `[dependencies]`).
pub fn package(dir: &Path, name: &str, deps: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.join("src")).unwrap();
    std::fs::write(
        p.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\ndescription = \"d\"\nlicense = \"MIT\"\n\n[dependencies]\n{deps}"
        ),
    )
    .unwrap();
    std::fs::write(p.join("src/lib.rs"), "").unwrap();
    p
}

/// The index line of a crate that exists in the registry before a test (its `.crate` is never
/// downloaded by the tests that use it).
pub fn existing_crate(name: &str, vers: &str) -> Value {
    json!({
        "name": name, "vers": vers, "deps": [], "cksum": "0".repeat(64),
        "features": {}, "yanked": false, "links": null
    })
}

/// A map of crate name → versions listed in `reg`'s index.
pub fn versions(reg: &GitRegistry, names: &[&str]) -> BTreeMap<String, Vec<String>> {
    names
        .iter()
        .map(|n| {
            let vs = reg
                .lines(n)
                .iter()
                .map(|l| l["vers"].as_str().unwrap().to_owned())
                .collect();
            ((*n).to_owned(), vs)
        })
        .collect()
}
