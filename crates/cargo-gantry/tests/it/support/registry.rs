//! A read-only sparse registry on 127.0.0.1 for differential fixtures that need a registry both
//! tools resolve against and download from: index files and `.crate` files served from a temporary
//! directory (std threads, HTTP/1.1, one request per connection). Crates are published into it
//! directly, with real archives and checksums, so cargo can verify and build them.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct LocalRegistry {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    stop: Arc<AtomicBool>,
}

impl Default for LocalRegistry {
    fn default() -> Self {
        Self::start()
    }
}

impl LocalRegistry {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("gantry-registry-")
            .tempdir()
            .expect("tempdir");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        std::fs::create_dir_all(dir.path().join("index")).unwrap();
        std::fs::create_dir_all(dir.path().join("dl")).unwrap();
        std::fs::write(
            dir.path().join("index/config.json"),
            format!(r#"{{"dl":"http://{addr}/dl/{{crate}}-{{version}}.crate"}}"#),
        )
        .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (root, stopped) = (dir.path().to_path_buf(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let root = root.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &root);
                });
            }
        });
        LocalRegistry { addr, dir, stop }
    }

    /// `sparse+http://127.0.0.1:PORT/index/`
    pub fn index_url(&self) -> String {
        format!("sparse+http://{}/index/", self.addr)
    }

    /// A cargo config naming this registry `name`.
    pub fn config(&self, name: &str) -> String {
        format!("[registries.{name}]\nindex = \"{}\"\n", self.index_url())
    }

    /// Publishes `name@vers` with `lib.rs` as its library and `deps` (`name`, `req`) from this same
    /// registry; returns the archive's checksum.
    pub fn publish(&self, name: &str, vers: &str, deps: &[(&str, &str)], lib: &str) -> String {
        let mut manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"{vers}\"\nedition = \"2021\"\n\n[dependencies]\n"
        );
        for (dep, req) in deps {
            manifest.push_str(&format!("{dep} = \"{req}\"\n"));
        }
        let bytes = crate_bytes(
            name,
            vers,
            &[("Cargo.toml", &manifest), ("src/lib.rs", lib)],
        );
        let cksum = super::sha256(&bytes);
        std::fs::write(self.path(&format!("dl/{name}-{vers}.crate")), &bytes).unwrap();
        let deps: Vec<serde_json::Value> = deps
            .iter()
            .map(|(dep, req)| {
                serde_json::json!({"name": dep, "req": req, "features": [], "optional": false,
                    "default_features": true, "target": null, "kind": "normal"})
            })
            .collect();
        let line = serde_json::json!({"name": name, "vers": vers, "deps": deps, "cksum": cksum,
            "features": {}, "yanked": false});
        let index = self.path(&format!("index/{}", index_path(name)));
        std::fs::create_dir_all(index.parent().unwrap()).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(index)
            .unwrap();
        writeln!(file, "{line}").unwrap();
        cksum
    }

    /// Marks `name@vers` yanked in the index (as a registry's yank does); the archive stays.
    pub fn yank(&self, name: &str, vers: &str) {
        let index = self.path(&format!("index/{}", index_path(name)));
        let text = std::fs::read_to_string(&index).expect("crate is in the index");
        let mut out = String::new();
        for line in text.lines() {
            let mut entry: serde_json::Value = serde_json::from_str(line).unwrap();
            if entry["vers"] == vers {
                entry["yanked"] = serde_json::Value::Bool(true);
            }
            out.push_str(&format!("{entry}\n"));
        }
        std::fs::write(index, out).unwrap();
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn index_path(name: &str) -> String {
    let name = name.to_lowercase();
    match name.len() {
        1 => format!("1/{name}"),
        2 => format!("2/{name}"),
        3 => format!("3/{}/{name}", &name[..1]),
        _ => format!("{}/{}/{name}", &name[..2], &name[2..4]),
    }
}

fn crate_bytes(name: &str, vers: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (rel, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1);
        header.set_cksum();
        tar.append_data(&mut header, format!("{name}-{vers}/{rel}"), text.as_bytes())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn serve(conn: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let file = path
        .strip_prefix('/')
        .filter(|p| !p.split('/').any(|s| s == ".."))
        .map(|p| root.join(p));
    let mut out = conn;
    match file.and_then(|f| std::fs::read(f).ok()) {
        Some(body) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            out.write_all(&body)?;
        }
        None => write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?,
    }
    out.flush()
}
