//! A static file server laid out as a sparse registry, standing in for an upstream the mirror tests
//! need to misbehave (a `.crate` that does not match its index line) or to hold (a slow download):
//! a thread per connection on 127.0.0.1, files from a directory, `ETag` / `If-None-Match`, a
//! request count per path, and an optional gate that holds answers for chosen paths.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub struct StaticUpstream {
    pub addr: SocketAddr,
    pub root: PathBuf,
    state: Arc<State>,
    _dir: tempfile::TempDir,
}

#[derive(Default)]
struct State {
    hits: Mutex<HashMap<String, usize>>,
    /// Paths whose answers wait until the gate opens.
    held: Mutex<Vec<String>>,
    open: Mutex<bool>,
    opened: Condvar,
    stopped: AtomicBool,
}

impl StaticUpstream {
    /// Serves an empty registry whose `config.json` sends downloads to `/crates/{crate}-{version}.crate`.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::fs::write(
            root.join("config.json"),
            format!("{{\"dl\":\"http://{addr}/crates/{{crate}}-{{version}}.crate\"}}"),
        )
        .unwrap();
        let state = Arc::new(State::default());
        let (st, rt) = (state.clone(), root.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (st, rt) = (st.clone(), rt.clone());
                std::thread::spawn(move || serve(conn, &st, &rt));
            }
        });
        StaticUpstream {
            addr,
            root,
            state,
            _dir: dir,
        }
    }

    pub fn index_url(&self) -> String {
        format!("sparse+http://{}/", self.addr)
    }

    /// Writes a file under the served root (`rel` like `3/a/abc` or `crates/x-1.0.0.crate`).
    pub fn put(&self, rel: &str, bytes: &[u8]) {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    /// Adds a crate version: its index line (with `cksum` as given) and the `.crate` served.
    pub fn add(&self, name: &str, vers: &str, cksum: &str, served: &[u8]) {
        let rel = gantry_protocol::index_path(name);
        let line = serde_json::json!({
            "name": name, "vers": vers, "deps": [], "cksum": cksum, "features": {}, "yanked": false
        });
        let p = self.root.join(&rel);
        let mut text = std::fs::read_to_string(&p).unwrap_or_default();
        text.push_str(&line.to_string());
        text.push('\n');
        self.put(&rel, text.as_bytes());
        self.put(&format!("crates/{name}-{vers}.crate"), served);
    }

    /// Requests received for `path` (e.g. `/crates/x-1.0.0.crate`).
    pub fn hits(&self, path: &str) -> usize {
        self.state
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Holds answers for `path` until [`StaticUpstream::release`].
    pub fn hold(&self, path: &str) {
        *self.state.open.lock().unwrap() = false;
        self.state.held.lock().unwrap().push(path.to_owned());
    }

    pub fn release(&self) {
        *self.state.open.lock().unwrap() = true;
        self.state.opened.notify_all();
    }

    /// Stops accepting connections (the next connection attempt wakes the accept loop).
    pub fn stop(&self) {
        self.state.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(mut conn: TcpStream, st: &State, root: &std::path::Path) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_owned();
        let mut if_none_match = None;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("if-none-match")
            {
                if_none_match = Some(v.trim().to_owned());
            }
        }
        if st.stopped.load(Ordering::SeqCst) {
            return;
        }
        *st.hits.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
        if st.held.lock().unwrap().contains(&path) {
            let mut open = st.open.lock().unwrap();
            while !*open {
                open = st.opened.wait(open).unwrap();
            }
        }
        let file = root.join(path.trim_start_matches('/'));
        let resp = match std::fs::read(&file) {
            Ok(body) if file.is_file() => {
                use sha2::Digest;
                let etag = format!("\"{}\"", hex::encode(sha2::Sha256::digest(&body)));
                if if_none_match.as_deref() == Some(etag.as_str()) {
                    format!(
                        "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nContent-Length: 0\r\n\r\n"
                    )
                    .into_bytes()
                } else {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nETag: {etag}\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(&body);
                    r
                }
            }
            _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
        };
        if conn.write_all(&resp).is_err() {
            return;
        }
    }
}
