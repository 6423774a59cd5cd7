//! Shared test helpers: an in-process registry on 127.0.0.1:0 over either storage backend, a tiny
//! blocking HTTP/1.1 client, and builders for `.crate` files and publish bodies.
#![allow(dead_code)]

pub mod browser;
pub mod cargo_env;
#[macro_use]
pub mod delegate;
pub mod delegate_mirror;
pub mod hardening;
pub use gantry_test_support::services;

#[allow(unused_imports)]
pub use cargo_env::{CargoEnv, project};
#[allow(unused_imports)]
pub(crate) use delegate_mirror::delegate_mirror_store;
#[allow(unused_imports)]
pub(crate) use hardening::delegate_hardening_store;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use gantry_protocol::encode_publish_body;
use gantry_registry::auth::{generate_token, hash_token};
use gantry_registry::store::NewToken;
use gantry_registry::{Config, RunningServer};

/// Turns each listed `fn name(backend: Backend)` into two tests, `sqlite_local::name` and
/// `postgres_s3::name`: the whole suite runs against both storage backends with the same bodies.
#[allow(unused_macros)]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite_local {
            $(#[test] fn $name() { super::$name($crate::common::Backend::SqliteLocal) })*
        }
        mod postgres_s3 {
            $(#[test] fn $name() { super::$name($crate::common::Backend::PostgresS3) })*
        }
    };
}

/// Which metadata store and blob store a test registry runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite under the data dir + a local blob directory (the defaults).
    SqliteLocal,
    /// The shared test PostgreSQL (own database) + s3s-fs (own bucket).
    PostgresS3,
}

/// Concrete storage for one registry (or several instances sharing it).
#[derive(Debug, Clone)]
pub struct Storage {
    pub backend: Backend,
    pub data_dir: std::path::PathBuf,
    pub pg_s3: Option<services::PgS3>,
}

impl Storage {
    /// Fresh, empty storage: `data_dir` for SQLite+local, a new database and bucket otherwise.
    pub fn fresh(backend: Backend, data_dir: std::path::PathBuf) -> Self {
        let pg_s3 = match backend {
            Backend::SqliteLocal => None,
            Backend::PostgresS3 => Some(services::fresh()),
        };
        Storage {
            backend,
            data_dir,
            pg_s3,
        }
    }

    /// A config for this storage (listening on 127.0.0.1:0).
    pub fn config(&self) -> Config {
        let mut config = Config::new(&self.data_dir);
        config.listen = "127.0.0.1:0".parse().unwrap();
        if let Some(p) = &self.pg_s3 {
            config.database_url = Some(p.database_url.clone());
            config.storage_url = Some(p.storage_url.clone());
            config.s3 = gantry_registry::config::S3Settings {
                endpoint: Some(p.s3_endpoint.clone()),
                region: Some(services::S3_REGION.into()),
                access_key_id: Some(services::S3_ACCESS_KEY.into()),
                secret_access_key: Some(services::S3_SECRET_KEY.into()),
                allow_http: Some(true),
            };
        }
        config
    }

    /// `gantry-registry` global flags and environment for this storage.
    pub fn command(&self, bin: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new(bin);
        cmd.arg("--data-dir").arg(&self.data_dir);
        for k in [
            "GANTRY_DATABASE_URL",
            "GANTRY_STORAGE_URL",
            "AWS_ENDPOINT_URL",
            "AWS_REGION",
            "AWS_ALLOW_HTTP",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            cmd.env_remove(k);
        }
        if let Some(p) = &self.pg_s3 {
            cmd.args(["--database-url", &p.database_url])
                .args(["--storage-url", &p.storage_url])
                .args(["--s3-endpoint", &p.s3_endpoint])
                .args(["--s3-region", services::S3_REGION])
                .args(["--s3-allow-http", "true"])
                .env("AWS_ACCESS_KEY_ID", services::S3_ACCESS_KEY)
                .env("AWS_SECRET_ACCESS_KEY", services::S3_SECRET_KEY);
        }
        cmd
    }

    /// Where `.crate` objects end up on disk (the local blob dir, or the s3s-fs bucket dir).
    pub fn blob_dir(&self) -> std::path::PathBuf {
        match &self.pg_s3 {
            None => self.data_dir.join("blobs"),
            Some(p) => p.bucket_dir.clone(),
        }
    }

    /// Number of stored `.crate` objects.
    pub fn blob_count(&self) -> usize {
        walk(&self.blob_dir())
            .into_iter()
            .filter(|p| p.ends_with(".crate"))
            .count()
    }
}

/// A real `gantry-registry serve` process on `storage`, listening on 127.0.0.1:0; stopped with
/// SIGTERM (and waited for) on drop.
pub struct ServeProcess {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    pub index_url: String,
}

impl ServeProcess {
    pub fn start(storage: &Storage, extra: &[&str]) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = storage
            .command(env!("CARGO_BIN_EXE_gantry-registry"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            // Warnings and errors only: several instances per test would drown the output.
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("starting gantry-registry serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut index_url = String::new();
        let mut api = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(u) = line.strip_prefix("index: ") {
                index_url = u.to_owned();
            }
            if let Some(u) = line.strip_prefix("api: ") {
                api = Some(u.to_owned());
                break;
            }
        }
        let Some(api) = api else {
            let status = child.wait();
            panic!("gantry-registry serve exited before printing its address: {status:?}");
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let addr = api
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected api line {api:?}"));
        ServeProcess {
            child,
            addr,
            index_url,
        }
    }

    pub fn http(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        http(self.addr, method, path, headers, body)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Runs a `gantry-registry` admin command on `storage`; returns stdout, panics with stderr on failure.
pub fn admin(storage: &Storage, args: &[&str]) -> String {
    let out = storage
        .command(env!("CARGO_BIN_EXE_gantry-registry"))
        .args(args)
        .output()
        .expect("running gantry-registry");
    assert!(
        out.status.success(),
        "gantry-registry {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Creates `login` and returns a fresh all-powerful token for it, through the admin CLI.
pub fn admin_token(storage: &Storage, login: &str) -> String {
    admin(storage, &["user", "add", login]);
    let out = admin(storage, &["token", "new", "--user", login]);
    out.lines().last().unwrap().trim().to_owned()
}

pub struct TestRegistry {
    pub rt: tokio::runtime::Runtime,
    pub server: Option<RunningServer>,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub storage: Storage,
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

impl TestRegistry {
    pub fn start(backend: Backend, auth_required: bool) -> Self {
        Self::start_with(backend, |c| c.auth_required = auth_required)
    }

    pub fn start_with(backend: Backend, f: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::fresh(backend, dir.path().join("data"));
        Self::start_on(storage, dir, f)
    }

    /// A registry on existing storage (e.g. restored from a backup); `dir` is kept alive with it.
    pub fn start_on(storage: Storage, dir: tempfile::TempDir, f: impl FnOnce(&mut Config)) -> Self {
        let mut config = storage.config();
        f(&mut config);
        let rt = runtime();
        let server = rt.block_on(gantry_registry::start(config)).unwrap();
        let addr = server.addr;
        TestRegistry {
            rt,
            server: Some(server),
            addr,
            dir,
            storage,
        }
    }

    pub fn index_url(&self) -> String {
        format!("sparse+http://{}/index/", self.addr)
    }

    pub fn user(&self, login: &str) {
        let store = self.server.as_ref().unwrap().app.store.clone();
        self.rt.block_on(store.create_user(login)).unwrap();
    }

    /// A token for `login` with the given scopes (None: legacy, all) and crate patterns.
    pub fn token_with(
        &self,
        login: &str,
        scopes: Option<&[&str]>,
        crates: &[&str],
        expires_at: Option<i64>,
    ) -> String {
        let store = self.server.as_ref().unwrap().app.store.clone();
        let user = self
            .rt
            .block_on(store.user_by_login(login))
            .unwrap()
            .unwrap();
        let token = generate_token();
        let new = NewToken {
            user_id: user.id,
            name: "test".into(),
            hash: hash_token(&token),
            scopes: scopes.map(|s| s.iter().map(|s| s.to_string()).collect()),
            crate_patterns: crates.iter().map(|s| s.to_string()).collect(),
            expires_at,
        };
        self.rt.block_on(store.create_token(&new)).unwrap();
        token
    }

    /// Creates the user if needed and returns an all-powerful token.
    pub fn token(&self, login: &str) -> String {
        let store = self.server.as_ref().unwrap().app.store.clone();
        if self
            .rt
            .block_on(store.user_by_login(login))
            .unwrap()
            .is_none()
        {
            self.user(login);
        }
        self.token_with(login, None, &[], None)
    }

    pub fn http(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        http(self.addr, method, path, headers, body)
    }

    pub fn publish(&self, token: &str, body: &[u8]) -> Resp {
        self.http(
            "PUT",
            "/api/v1/crates/new",
            &[("Authorization", token)],
            body,
        )
    }

    pub fn index_file(&self, name: &str) -> Resp {
        self.http(
            "GET",
            &format!("/index/{}", gantry_protocol::index_path(name)),
            &[],
            b"",
        )
    }

    /// Lines of a crate's index file (empty if 404).
    pub fn index_lines(&self, name: &str) -> Vec<serde_json::Value> {
        let r = self.index_file(name);
        if r.status == 404 {
            return vec![];
        }
        assert_eq!(r.status, 200);
        r.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Number of stored `.crate` blobs.
    pub fn blob_count(&self) -> usize {
        self.storage.blob_count()
    }
}

pub fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = vec![];
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = self.rt.block_on(s.stop());
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    /// The joined `errors[].detail`.
    pub fn detail(&self) -> String {
        let v = self.json();
        v["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors: {}", self.text()))
            .iter()
            .map(|e| e["detail"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One request over a fresh connection (`Connection: close`), response read to EOF.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    // The server may answer (e.g. 413) before reading the whole body; ignore write errors then.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> Resp {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    while let Some(pos) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..pos]).unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[pos + 2..pos + 2 + size]);
        b = &b[pos + 2 + size + 2..];
    }
    out
}

/// A tar entry to put in a test `.crate`.
pub enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    /// Raw path bytes written into the header (bypasses the tar crate's path checks).
    RawPath(&'a [u8], &'a [u8]),
}

pub fn manifest(name: &str, vers: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"{vers}\"\nedition = \"2021\"\ndescription = \"d\"\nlicense = \"MIT\"\n"
    )
}

pub fn tar_gz(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        match e {
            Entry::File(path, data) => {
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_entry_type(tar::EntryType::Regular);
                builder.append_data(&mut h, path, *data).unwrap();
            }
            Entry::Symlink(path, target) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Symlink);
                builder.append_link(&mut h, path, target).unwrap();
            }
            Entry::RawPath(path, data) => {
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_entry_type(tar::EntryType::Regular);
                let name = &mut h.as_old_mut().name;
                name[..path.len()].copy_from_slice(path);
                h.set_cksum();
                builder.append(&h, *data).unwrap();
            }
        }
    }
    let tar = builder.into_inner().unwrap();
    gz(&tar)
}

pub fn gz(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A valid `.crate` for `name`@`vers`.
pub fn crate_file(name: &str, vers: &str) -> Vec<u8> {
    let m = manifest(name, vers);
    let p = format!("{name}-{vers}");
    tar_gz(&[
        Entry::File(&format!("{p}/Cargo.toml"), m.as_bytes()),
        Entry::File(&format!("{p}/src/lib.rs"), b""),
    ])
}

pub fn metadata(name: &str, vers: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name, "vers": vers, "deps": [], "features": {}, "authors": [],
        "description": "a test crate", "documentation": null, "homepage": null, "readme": null,
        "readme_file": null, "keywords": [], "categories": [], "license": "MIT", "license_file": null,
        "repository": null, "badges": {}, "links": null, "rust_version": null
    })
}

pub fn body(meta: &serde_json::Value, tarball: &[u8]) -> Vec<u8> {
    encode_publish_body(meta.to_string().as_bytes(), tarball)
}

/// A complete, valid publish body.
pub fn publish_body(name: &str, vers: &str) -> Vec<u8> {
    body(&metadata(name, vers), &crate_file(name, vers))
}
