//! `cargo xtask bench index`: sparse-index throughput of gantry-registry beside nginx serving the
//! same files from disk, for hosted crates and for warm mirror entries. Both sides run back to
//! back on this machine under the same keep-alive load (wrk, rotating over every index file), and
//! req/s, p50 and p99 are printed side by side. Offline apart from loopback; asserts nothing.
//!
//! Needs Debian's `nginx-light` and `wrk` (`apt-get install -y nginx-light wrk`).

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Options {
    pub crates: usize,
    pub versions: usize,
    pub rounds: usize,
    pub seconds: u64,
    pub threads: usize,
    pub connections: usize,
    pub registry: Option<PathBuf>,
}

/// A child process stopped with SIGTERM (nginx's master takes its workers along) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

pub(crate) fn run(repo: &Path, opts: &Options) -> Result<(), String> {
    let nginx = find_tool(&["nginx", "/usr/sbin/nginx"])
        .ok_or("nginx not found; install Debian's nginx-light: `apt-get install -y nginx-light`")?;
    let wrk = find_tool(&["wrk"]).ok_or("wrk not found; install it: `apt-get install -y wrk`")?;
    let registry = registry_binary(repo, opts)?;
    let scratch = tempfile::Builder::new()
        .prefix("gantry-bench-index-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let s = scratch.path();

    eprintln!(
        "starting gantry-registry and publishing {} crates × {} versions …",
        opts.crates, opts.versions
    );
    let hosted_port = free_port()?;
    let (hosted, token) = start_registry(&registry, &s.join("hosted"), hosted_port, &[])?;
    let names: Vec<String> = (0..opts.crates)
        .map(|i| format!("bench-crate-{i:03}"))
        .collect();
    for name in &names {
        for v in 0..opts.versions {
            let body = publish_body(name, &format!("1.{v}.0"));
            let (status, text) = http(hosted_port, "PUT", "/api/v1/crates/new", &token, &body)?;
            if status != 200 {
                return Err(format!(
                    "publishing {name}: {status} {}",
                    String::from_utf8_lossy(&text)
                ));
            }
        }
    }
    // nginx serves exactly the bytes gantry serves.
    let www = s.join("www");
    let paths: Vec<String> = names.iter().map(|n| index_path(n)).collect();
    for p in &paths {
        let (status, body) = http(hosted_port, "GET", &format!("/index/{p}"), "", b"")?;
        if status != 200 {
            return Err(format!("GET /index/{p}: {status}"));
        }
        let file = www.join("index").join(p);
        fs::create_dir_all(file.parent().unwrap()).map_err(|e| e.to_string())?;
        fs::write(&file, body).map_err(|e| e.to_string())?;
    }
    let nginx_port = free_port()?;
    let _nginx = start_nginx(&nginx, s, &www, nginx_port)?;
    let hosted_paths: Vec<String> = paths.iter().map(|p| format!("/index/{p}")).collect();

    let mut table = Vec::new();
    let load = Load {
        wrk: &wrk,
        opts,
        dir: s,
    };
    table.push(load.compare(
        "hosted",
        nginx_port,
        &hosted_paths,
        hosted_port,
        &hosted_paths,
    )?);

    eprintln!("starting a mirror of that registry and warming it …");
    let mirror_port = free_port()?;
    let upstream = format!("sparse+http://127.0.0.1:{hosted_port}/index/");
    let (mirror, _) = start_registry(
        &registry,
        &s.join("mirror"),
        mirror_port,
        &[
            "--mirror",
            "--mirror-upstream",
            &upstream,
            "--mirror-ttl",
            "1h",
        ],
    )?;
    let mirror_paths: Vec<String> = paths.iter().map(|p| format!("/mirror/index/{p}")).collect();
    for (m, h) in mirror_paths.iter().zip(&hosted_paths) {
        let (status, body) = http(mirror_port, "GET", m, "", b"")?;
        let (_, upstream_body) = http(hosted_port, "GET", h, "", b"")?;
        if status != 200 || body != upstream_body {
            return Err(format!(
                "mirror answered {status} for {m}, or other bytes than upstream"
            ));
        }
    }
    // The upstream is not needed for warm entries; its process would only take CPU.
    drop(hosted);
    table.push(load.compare(
        "mirror (warm)",
        nginx_port,
        &hosted_paths,
        mirror_port,
        &mirror_paths,
    )?);
    drop(mirror);

    println!(
        "\nindex benchmark: {} crates × {} versions, wrk {} threads {} connections keep-alive, \
         {} s per run, {} rounds alternating nginx/gantry, medians; {} CPUs shared by server, wrk \
         and anything else running",
        opts.crates,
        opts.versions,
        opts.threads,
        opts.connections,
        opts.seconds,
        opts.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<15} {:>12} {:>10} {:>10} {:>12} {:>10} {:>10} {:>14}",
        "scenario", "nginx req/s", "p50", "p99", "gantry req/s", "p50", "p99", "gantry/nginx"
    );
    for row in table {
        println!("{row}");
    }
    Ok(())
}

struct Load<'a> {
    wrk: &'a Path,
    opts: &'a Options,
    dir: &'a Path,
}

#[derive(Clone, Copy)]
struct Sample {
    rps: f64,
    p50: f64,
    p99: f64,
}

impl Load<'_> {
    /// Alternating runs against both servers; one line of the table.
    fn compare(
        &self,
        label: &str,
        nginx_port: u16,
        nginx_paths: &[String],
        gantry_port: u16,
        gantry_paths: &[String],
    ) -> Result<String, String> {
        eprintln!("{label}: warming up …");
        self.wrk_run(nginx_port, nginx_paths, 2)?;
        self.wrk_run(gantry_port, gantry_paths, 2)?;
        let (mut n, mut g) = (Vec::new(), Vec::new());
        for round in 1..=self.opts.rounds {
            let a = self.wrk_run(nginx_port, nginx_paths, self.opts.seconds)?;
            let b = self.wrk_run(gantry_port, gantry_paths, self.opts.seconds)?;
            eprintln!(
                "{label} round {round}: nginx {:.0} req/s, gantry {:.0} req/s",
                a.rps, b.rps
            );
            n.push(a);
            g.push(b);
        }
        // How the gantry side answered: its memory cache's counters after the runs.
        if let Ok((200, m)) = http(gantry_port, "GET", "/metrics", "", b"") {
            for l in String::from_utf8_lossy(&m)
                .lines()
                .filter(|l| l.starts_with("gantry_index_memory_cache_total"))
            {
                eprintln!("{label}: {l}");
            }
        }
        let (n, g) = (median(&n), median(&g));
        let mut line = String::new();
        let _ = write!(
            line,
            "{label:<15} {:>12.0} {:>8.2}ms {:>8.2}ms {:>12.0} {:>8.2}ms {:>8.2}ms {:>13.2}x",
            n.rps,
            n.p50,
            n.p99,
            g.rps,
            g.p50,
            g.p99,
            g.rps / n.rps.max(1e-9)
        );
        Ok(line)
    }

    fn wrk_run(&self, port: u16, paths: &[String], seconds: u64) -> Result<Sample, String> {
        let script = self.dir.join(format!("rotate-{port}.lua"));
        let list = paths
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(",");
        fs::write(
            &script,
            format!(
                "local paths = {{{list}}}\nlocal n = #paths\nlocal i = 0\n\
                 request = function()\n  i = (i % n) + 1\n  return wrk.format(\"GET\", paths[i])\nend\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        let out = Command::new(self.wrk)
            .args(["-t", &self.opts.threads.to_string()])
            .args(["-c", &self.opts.connections.to_string()])
            .args(["-d", &format!("{seconds}s")])
            .arg("--latency")
            .arg("-s")
            .arg(&script)
            .arg(format!("http://127.0.0.1:{port}"))
            .output()
            .map_err(|e| format!("running wrk: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() || text.contains("Non-2xx") || text.contains("Socket errors") {
            return Err(format!("wrk against port {port} reported errors:\n{text}"));
        }
        parse_wrk(&text).ok_or_else(|| format!("unexpected wrk output:\n{text}"))
    }
}

fn parse_wrk(text: &str) -> Option<Sample> {
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))?
        .trim()
        .parse()
        .ok()?;
    let pct = |p: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(p).map(str::trim))
            .and_then(millis)
    };
    Some(Sample {
        rps,
        p50: pct("50%")?,
        p99: pct("99%")?,
    })
}

/// wrk's `620.00us` / `2.10ms` / `1.02s` in milliseconds.
fn millis(v: &str) -> Option<f64> {
    for (unit, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] {
        if let Some(n) = v.strip_suffix(unit) {
            return n.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    None
}

fn median(v: &[Sample]) -> Sample {
    let pick = |f: fn(&Sample) -> f64| {
        let mut x: Vec<f64> = v.iter().map(f).collect();
        x.sort_by(|a, b| a.total_cmp(b));
        x[x.len() / 2]
    };
    Sample {
        rps: pick(|s| s.rps),
        p50: pick(|s| s.p50),
        p99: pick(|s| s.p99),
    }
}

fn find_tool(candidates: &[&str]) -> Option<PathBuf> {
    for c in candidates {
        let p = Path::new(c);
        if p.is_absolute() {
            if p.is_file() {
                return Some(p.to_owned());
            }
            continue;
        }
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            if dir.join(c).is_file() {
                return Some(dir.join(c));
            }
        }
    }
    None
}

fn registry_binary(repo: &Path, opts: &Options) -> Result<PathBuf, String> {
    if let Some(r) = &opts.registry {
        return fs::canonicalize(r).map_err(|e| format!("`{}`: {e}", r.display()));
    }
    eprintln!("building gantry-registry (release) …");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .args(["build", "--release", "--locked", "-p", "gantry-registry"])
        .current_dir(repo)
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !st.success() {
        return Err("building gantry-registry failed".into());
    }
    Ok(repo.join("target/release/gantry-registry"))
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// A registry on `data` (SQLite + local blobs) listening on `port`, and a token for it.
fn start_registry(
    bin: &Path,
    data: &Path,
    port: u16,
    extra: &[&str],
) -> Result<(Proc, String), String> {
    let admin = |args: &[&str]| -> Result<String, String> {
        let out = Command::new(bin)
            .arg("--data-dir")
            .arg(data)
            .args(args)
            .output()
            .map_err(|e| format!("gantry-registry {args:?}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "gantry-registry {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    admin(&["user", "add", "bench"])?;
    let token = admin(&["token", "new", "--user", "bench"])?
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_owned();
    let child = Command::new(bin)
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting gantry-registry: {e}"))?;
    let proc = Proc(child);
    wait_for(port, "/index/config.json", "gantry-registry")?;
    Ok((proc, token))
}

fn start_nginx(nginx: &Path, dir: &Path, www: &Path, port: u16) -> Result<Proc, String> {
    let conf = dir.join("nginx.conf");
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    // As root nginx's workers would run as `nobody`, who cannot read the temp dir.
    let user = if is_root { "user root;\n" } else { "" };
    let tmp = dir.join("nginx-tmp");
    fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    // The same HTTP work as gantry does: keep-alive without a request cap, no access log (gantry
    // writes none per request either), ETags on, files from the page cache.
    fs::write(
        &conf,
        format!(
            "{user}worker_processes auto;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 10000000;\n\
               keepalive_timeout 65;\n  default_type text/plain;\n  etag on;\n\
               client_body_temp_path {t};\n\
               server {{\n    listen 127.0.0.1:{port};\n    root {w};\n  }}\n}}\n",
            d = dir.display(),
            t = tmp.display(),
            w = www.display(),
        ),
    )
    .map_err(|e| e.to_string())?;
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(dir.join("nginx-early.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting nginx: {e}"))?;
    let proc = Proc(child);
    let probe = fs::read_dir(www.join("index"))
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|_| ());
    probe.ok_or("no index files were written for nginx")?;
    wait_for(port, "/", "nginx").or_else(|e| {
        // A 403/404 on `/` still proves nginx listens; only a dead port is fatal.
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            Ok(())
        } else {
            Err(format!(
                "{e}; nginx log: {}",
                fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default()
            ))
        }
    })?;
    Ok(proc)
}

fn wait_for(port: u16, path: &str, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((200, _)) = http(port, "GET", path, "", b"") {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{what} did not answer on 127.0.0.1:{port} within 30 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One request over a fresh connection: (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !token.is_empty() {
        let _ = write!(req, "Authorization: {token}\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    s.write_all(body).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no header end")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("no status")?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let mut body = raw[end + 4..].to_vec();
    if chunked {
        body = dechunk(&body);
    }
    Ok((status, body))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = b.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&b[..pos])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || b.len() < pos + 2 + size {
            break;
        }
        out.extend_from_slice(&b[pos + 2..pos + 2 + size]);
        b = &b[(pos + 4 + size).min(b.len())..];
    }
    out
}

/// The sparse index path of a (lowercase ASCII) name of four or more characters.
fn index_path(name: &str) -> String {
    format!("{}/{}/{name}", &name[..2], &name[2..4])
}

/// A publish request body for a minimal crate: the registry checks the archive, so it is real.
fn publish_body(name: &str, vers: &str) -> Vec<u8> {
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"{vers}\"\nedition = \"2021\"\n\
         description = \"index benchmark crate\"\nlicense = \"MIT\"\n"
    );
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in [
        (format!("{name}-{vers}/Cargo.toml"), manifest.as_bytes()),
        (format!("{name}-{vers}/src/lib.rs"), &b"pub fn f() {}\n"[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, path, data).expect("in-memory tar");
    }
    let tar = tar.into_inner().expect("in-memory tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).expect("in-memory gzip");
    let tarball = gz.finish().expect("in-memory gzip");
    let meta = format!(
        "{{\"name\":\"{name}\",\"vers\":\"{vers}\",\"deps\":[],\"features\":{{}},\"authors\":[],\
         \"description\":\"index benchmark crate\",\"documentation\":null,\"homepage\":null,\
         \"readme\":null,\"readme_file\":null,\"keywords\":[],\"categories\":[],\"license\":\"MIT\",\
         \"license_file\":null,\"repository\":null,\"badges\":{{}},\"links\":null,\"rust_version\":null}}"
    );
    let mut body = Vec::new();
    body.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    body.extend_from_slice(meta.as_bytes());
    body.extend_from_slice(&(tarball.len() as u32).to_le_bytes());
    body.extend_from_slice(&tarball);
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_read() {
        let text = "Running 10s test @ http://127.0.0.1:1\n  Latency Distribution\n     50%  620.00us\n     75%    1.00ms\n     90%    1.50ms\n     99%    2.10ms\n  100 requests in 10.00s, 1.00MB read\nRequests/sec:  12345.67\nTransfer/sec:      1.00MB\n";
        let s = parse_wrk(text).unwrap();
        assert!((s.rps - 12345.67).abs() < 1e-6);
        assert!((s.p50 - 0.62).abs() < 1e-9);
        assert!((s.p99 - 2.1).abs() < 1e-9);
        assert_eq!(index_path("bench-crate-001"), "be/nc/bench-crate-001");
    }
}
