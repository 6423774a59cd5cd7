//! Support for the dry-run tests: the publish tests' in-process `gantry-registry` with an upload
//! limit, an isolated `CARGO_HOME` knowing it as `g`, and the cargo / cargo-gantry runners.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gantry_test_support::cargo::{isolate, reference_cargo};

pub use crate::publish_support::Registry;

/// A registry whose upload limit is `max_upload_size` bytes.
pub fn registry(max_upload_size: u32) -> Registry {
    Registry::start_with(|c| c.max_upload_size = max_upload_size)
}

/// A fresh `CARGO_HOME` knowing registry `g`.
pub fn cargo_home(dir: &Path, index_url: &str) -> PathBuf {
    crate::publish_support::cargo_home(dir, &[("g", index_url)])
}

/// `cargo gantry <args>` in `dir` with its own `CARGO_HOME` and, if given, the token for `g`.
pub fn gantry(dir: &Path, home: &Path, token: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cargo-gantry"));
    c.arg("gantry").args(args);
    run_with(c, dir, home, token)
}

/// The installed cargo with the same environment as [`gantry`] (its own `CARGO_HOME`).
pub fn cargo(dir: &Path, home: &Path, token: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(reference_cargo());
    c.args(args);
    run_with(c, dir, home, token)
}

fn run_with(mut c: Command, dir: &Path, home: &Path, token: Option<&str>) -> Output {
    isolate(&mut c).env("CARGO_HOME", home).current_dir(dir);
    if let Some(t) = token {
        c.env("CARGO_REGISTRIES_G_TOKEN", t);
    }
    c.output().unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn text(o: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        stderr(o)
    )
}

pub fn write(root: &Path, rel: &str, contents: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, contents).unwrap();
}

/// A library package `name` under `root` with a valid description and license unless `extra`
/// (more `[package]` keys, then other tables) says otherwise.
pub fn package(root: &Path, name: &str, version: &str, package_keys: &str, tables: &str) {
    let dir = root.join(name);
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n{package_keys}\n{tables}"
    );
    let manifest = if package_keys.contains("description") {
        manifest
    } else {
        manifest.replacen("edition", "description = \"d\"\nedition", 1)
    };
    let manifest = if package_keys.contains("license") {
        manifest
    } else {
        manifest.replacen("edition", "license = \"MIT\"\nedition", 1)
    };
    write(&dir, "Cargo.toml", manifest.as_bytes());
    write(&dir, "src/lib.rs", b"pub fn f() -> u32 {\n    1\n}\n");
}

/// Bytes that do not compress (a fixed linear congruential sequence), to make a large `.crate`.
pub fn incompressible(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x2545_f491;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

/// A registry that is not gantry-registry (so it gets read-only calls only): `taken` exists and is
/// owned by `alice`; token `bob-token` is bob's, any other token is refused. Records every request.
pub struct ReadOnlyStub {
    pub addr: std::net::SocketAddr,
    requests: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl ReadOnlyStub {
    pub fn start() -> ReadOnlyStub {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let _ = serve(conn, addr, &seen);
            }
        });
        ReadOnlyStub { addr, requests }
    }

    pub fn index_url(&self) -> String {
        format!("sparse+http://{}/index/", self.addr)
    }

    /// (method, path) of every request so far.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(
    conn: std::net::TcpStream,
    addr: std::net::SocketAddr,
    seen: &std::sync::Mutex<Vec<(String, String)>>,
) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let (mut len, mut auth) = (0usize, String::new());
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap_or(0),
                "authorization" => auth = v.trim().to_owned(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    seen.lock().unwrap().push((method.clone(), path.clone()));
    let taken = r#"{"name":"taken","vers":"0.1.0","deps":[],"cksum":"0000000000000000000000000000000000000000000000000000000000000000","features":{},"yanked":false}"#;
    let (status, resp) = match (method.as_str(), path.as_str()) {
        ("GET", "/index/config.json") => (
            200,
            format!(r#"{{"dl":"http://{addr}/dl","api":"http://{addr}"}}"#),
        ),
        ("GET", "/index/ta/ke/taken") => (200, format!("{taken}\n")),
        ("GET", "/api/v1/me") if auth == "bob-token" => (200, r#"{"user":{"login":"bob"}}"#.into()),
        ("GET", "/api/v1/me") => (
            403,
            r#"{"errors":[{"detail":"authentication failed"}]}"#.into(),
        ),
        ("GET", "/api/v1/crates/taken/owners") => (
            200,
            r#"{"users":[{"id":1,"login":"alice","name":null}]}"#.into(),
        ),
        ("GET", "/me") => (200, "a registry".into()),
        _ => (404, r#"{"errors":[{"detail":"not found"}]}"#.into()),
    };
    let mut out = conn;
    write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{resp}",
        resp.len()
    )?;
    out.flush()
}
