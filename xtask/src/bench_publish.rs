//! `cargo xtask bench publish-workspace`: publishes one generated workspace of compile-heavy,
//! inter-dependent crates twice — with `cargo publish --workspace` and with
//! `cargo gantry publish --workspace` — each to its own fresh `gantry-registry`, both verifying, and
//! prints both wall times, the ratio and when each tool reached each phase. Offline apart from the
//! two loopback registries; asserts nothing about timings.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Options {
    /// Number of crates in the generated workspace.
    pub crates: usize,
    /// Generated types per crate (each is ~12 lines with six derives and a trait impl).
    pub items: usize,
    pub gantry: Option<PathBuf>,
    pub registry: Option<PathBuf>,
}

/// Our own child process, killed by its handle when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const REGISTRY: &str = "bench";
const LAYERS: usize = 5;

pub(crate) fn run(repo: &Path, opts: &Options) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| "cargo".into());
    let (gantry, registry) = binaries(&cargo, repo, opts)?;
    let scratch = tempfile::Builder::new()
        .prefix("gantry-bench-publish-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    // GANTRY_BENCH_KEEP=1 leaves the workspaces, registries and target dirs for inspection.
    let (_scratch, s) = if std::env::var_os("GANTRY_BENCH_KEEP").is_some() {
        let kept = scratch.keep();
        eprintln!("keeping {}", kept.display());
        (None, kept)
    } else {
        let path = scratch.path().to_owned();
        (Some(scratch), path)
    };
    let s = s.as_path();
    eprintln!("generating {} crates in {} …", opts.crates, s.display());
    let lines = generate(&s.join("ws-cargo"), opts)?;
    generate(&s.join("ws-gantry"), opts)?;
    eprintln!(
        "{} crates in {LAYERS} layers, {lines} lines of Rust in total",
        opts.crates
    );

    let mut results = Vec::new();
    for (label, tool) in [("cargo", None), ("gantry", Some(gantry.as_path()))] {
        let reg = start_registry(&registry, &s.join(format!("registry-{label}")))?;
        let home = s.join(format!("home-{label}"));
        fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        fs::write(
            home.join("config.toml"),
            format!(
                "[registries.{REGISTRY}]\nindex = \"sparse+http://127.0.0.1:{}/index/\"\n",
                reg.port
            ),
        )
        .map_err(|e| e.to_string())?;
        fs::write(
            home.join("credentials.toml"),
            format!("[registries.{REGISTRY}]\ntoken = \"{}\"\n", reg.token),
        )
        .map_err(|e| e.to_string())?;
        let mut cmd = match tool {
            None => Command::new(&cargo),
            Some(g) => {
                let mut c = Command::new(g);
                c.arg("gantry").env("CARGO", &cargo);
                c
            }
        };
        cmd.args(["publish", "--workspace", "--registry", REGISTRY])
            .arg("--target-dir")
            .arg(s.join(format!("target-{label}")))
            .current_dir(s.join(format!("ws-{label}")))
            .env("CARGO_HOME", &home)
            .env("CARGO_TERM_COLOR", "never");
        scrub_env(&mut cmd);
        eprintln!("publishing with {label} …");
        let timed = timed_run(cmd)?;
        let published = count_published(reg.port, opts.crates);
        drop(reg);
        if !timed.success {
            return Err(format!(
                "{label} publish failed after {:.1}s; last output:\n{}",
                timed.elapsed.as_secs_f64(),
                timed.tail
            ));
        }
        if published != opts.crates {
            return Err(format!(
                "{label} reported success but the registry lists {published} of {} crates",
                opts.crates
            ));
        }
        results.push((label, timed));
    }

    let (c, g) = (&results[0].1, &results[1].1);
    println!(
        "\npublish-workspace: {} crates, {lines} lines, verification on, fresh target dirs",
        opts.crates
    );
    println!(
        "{:<8} {:>10} {:>12} {:>12} {:>12} {:>12} {:>9}",
        "tool", "wall", "1st Package", "1st Verify", "1st Upload", "last Publ.", "compiles"
    );
    for (label, t) in &results {
        println!(
            "{label:<8} {:>9.1}s {:>12} {:>12} {:>12} {:>12} {:>9}",
            t.elapsed.as_secs_f64(),
            at(t.first("Packaging")),
            at(t.first("Verifying")),
            at(t.first("Uploading")),
            at(t.last("Published").or(t.last("Uploaded"))),
            t.marks.iter().filter(|(_, w)| w == "Compiling").count(),
        );
    }
    println!(
        "ratio cargo/gantry: {:.2}x",
        c.elapsed.as_secs_f64() / g.elapsed.as_secs_f64().max(1e-9)
    );
    Ok(())
}

fn at(t: Option<Duration>) -> String {
    t.map(|d| format!("{:.1}s", d.as_secs_f64()))
        .unwrap_or_else(|| "-".into())
}

/// `--gantry`/`--registry-bin` if given, else both built here in release mode.
fn binaries(cargo: &Path, repo: &Path, opts: &Options) -> Result<(PathBuf, PathBuf), String> {
    // Both run from other directories, so relative paths are made absolute first.
    let absolute = |p: &PathBuf| fs::canonicalize(p).map_err(|e| format!("`{}`: {e}", p.display()));
    if let (Some(g), Some(r)) = (&opts.gantry, &opts.registry) {
        return Ok((absolute(g)?, absolute(r)?));
    }
    eprintln!("building cargo-gantry and gantry-registry (release) …");
    let st = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "cargo-gantry",
            "-p",
            "gantry-registry",
        ])
        .current_dir(repo)
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !st.success() {
        return Err("building the release binaries failed".into());
    }
    let bin = repo.join("target/release");
    Ok((
        match &opts.gantry {
            Some(g) => absolute(g)?,
            None => bin.join("cargo-gantry"),
        },
        match &opts.registry {
            Some(r) => absolute(r)?,
            None => bin.join("gantry-registry"),
        },
    ))
}

/// Removes what the outer cargo (running xtask) set, so both publishers see a plain environment.
fn scrub_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if (k.starts_with("CARGO") && k != "CARGO" && k != "CARGO_HOME")
            || k.starts_with("__CARGO")
            || k.starts_with("RUSTC")
            || k == "RUSTFLAGS"
        {
            cmd.env_remove(k);
        }
    }
}

struct RunningRegistry {
    port: u16,
    token: String,
    _server: Server,
}

fn start_registry(bin: &Path, data: &Path) -> Result<RunningRegistry, String> {
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
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = Command::new(bin)
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting gantry-registry: {e}"))?;
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_get(port, "/index/config.json").is_none() {
        if Instant::now() > deadline {
            return Err("gantry-registry did not come up within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(RunningRegistry {
        port,
        token,
        _server: server,
    })
}

/// The body of a 200 answer to `GET path`, or None.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    if !resp.starts_with("HTTP/1.1 200") {
        return None;
    }
    resp.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())
}

/// How many of the generated crates the registry's index lists.
fn count_published(port: u16, crates: usize) -> usize {
    (0..crates)
        .filter(|&i| {
            let name = crate_name(i);
            // Names of four or more characters live under `ab/cd/name`.
            let path = format!("/index/{}/{}/{name}", &name[..2], &name[2..4]);
            http_get(port, &path).is_some_and(|b| b.contains("\"vers\":\"0.1.0\""))
        })
        .count()
}

struct Timed {
    success: bool,
    elapsed: Duration,
    /// (seconds since start, status word) for every cargo-style status line.
    marks: Vec<(Duration, String)>,
    tail: String,
}

impl Timed {
    fn first(&self, word: &str) -> Option<Duration> {
        self.marks.iter().find(|(_, w)| w == word).map(|(t, _)| *t)
    }
    fn last(&self, word: &str) -> Option<Duration> {
        self.marks
            .iter()
            .rev()
            .find(|(_, w)| w == word)
            .map(|(t, _)| *t)
    }
}

/// Runs `cmd`, timestamping each status line on its stderr (the phases) and keeping the last lines
/// for the error report.
fn timed_run(mut cmd: Command) -> Result<Timed, String> {
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
    let mut marks = Vec::new();
    let mut tail: Vec<String> = Vec::new();
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines() {
            let line = line.map_err(|e| e.to_string())?;
            if let Some(word) = line.split_whitespace().next()
                && word.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && line.starts_with(' ')
            {
                marks.push((started.elapsed(), word.to_owned()));
            }
            tail.push(line);
            if tail.len() > 40 {
                tail.remove(0);
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    Ok(Timed {
        success: status.success(),
        elapsed: started.elapsed(),
        marks,
        tail: tail.join("\n"),
    })
}

fn crate_name(i: usize) -> String {
    format!("bench-l{}-c{i:02}", layer_of(i))
}

fn layer_of(i: usize) -> usize {
    i % LAYERS
}

/// Dependencies of crate `i`: up to three crates of the layer below (several crates share them, so
/// the graph has diamonds), and for every other crate also one two layers down (longer chains).
fn deps_of(i: usize, crates: usize) -> Vec<usize> {
    let layer = layer_of(i);
    if layer == 0 {
        return Vec::new();
    }
    let in_layer = |l: usize| -> Vec<usize> { (0..crates).filter(|&j| layer_of(j) == l).collect() };
    let below = in_layer(layer - 1);
    let mut deps: Vec<usize> = (0..3.min(below.len()))
        .map(|k| below[(i / LAYERS + k) % below.len()])
        .collect();
    if layer >= 2 && i.is_multiple_of(2) {
        let further = in_layer(layer - 2);
        deps.push(further[(i / LAYERS) % further.len()]);
    }
    deps.sort();
    deps.dedup();
    deps
}

/// Writes the workspace; returns its number of lines of Rust.
fn generate(root: &Path, opts: &Options) -> Result<usize, String> {
    let io = |e: std::io::Error| e.to_string();
    let names: Vec<String> = (0..opts.crates).map(crate_name).collect();
    let members = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    fs::create_dir_all(root).map_err(io)?;
    fs::write(
        root.join("Cargo.toml"),
        format!("[workspace]\nmembers = [{members}]\nresolver = \"2\"\n"),
    )
    .map_err(io)?;
    let mut lines = 0;
    for (i, name) in names.iter().enumerate() {
        let deps = deps_of(i, opts.crates);
        let mut manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"generated benchmark crate\"\nrepository = \"https://example.com/bench\"\n\n[dependencies]\n"
        );
        for &d in &deps {
            let _ = writeln!(
                manifest,
                "{0} = {{ path = \"../{0}\", version = \"0.1.0\", registry = \"{REGISTRY}\" }}",
                names[d]
            );
        }
        let dir = root.join(name);
        fs::create_dir_all(dir.join("src")).map_err(io)?;
        fs::write(dir.join("Cargo.toml"), manifest).map_err(io)?;
        let source = crate_source(i, &deps, &names, opts.items);
        lines += source.lines().count();
        fs::write(dir.join("src/lib.rs"), source).map_err(io)?;
    }
    Ok(lines)
}

/// Generic- and macro-heavy code: many derived types, a trait implemented through a macro, and
/// generic functions instantiated at every type, so rustc has real work in type checking, trait
/// resolution, monomorphisation and codegen.
fn crate_source(i: usize, deps: &[usize], names: &[String], items: usize) -> String {
    let mut s = String::new();
    s.push_str("//! Generated benchmark crate.\n#![allow(dead_code, clippy::all)]\n\n");
    s.push_str(
        "pub trait Score {\n    fn score(&self) -> u64;\n    fn label(&self) -> String {\n        format!(\"{}\", self.score())\n    }\n}\n\n",
    );
    s.push_str(
        "macro_rules! scored {\n    ($($t:ident => $k:expr),* $(,)?) => {\n        $(impl Score for $t {\n            fn score(&self) -> u64 {\n                let mut acc = $k as u64;\n                for (n, c) in self.tags.iter().enumerate() {\n                    acc = acc.wrapping_mul(31).wrapping_add(*c as u64 + n as u64);\n                }\n                match &self.next {\n                    Some(b) => acc ^ b.score(),\n                    None => acc.rotate_left(self.id as u32 % 63),\n                }\n            }\n        })*\n    };\n}\n\n",
    );
    s.push_str(
        "pub fn summarize<T: Score + Clone + Ord + std::fmt::Debug + std::hash::Hash + Default>(xs: &[T]) -> (u64, usize, String) {\n    use std::hash::{Hash, Hasher};\n    let mut v: Vec<T> = xs.to_vec();\n    v.push(T::default());\n    v.sort();\n    v.dedup();\n    let mut h = std::collections::hash_map::DefaultHasher::new();\n    v.hash(&mut h);\n    let total = v.iter().map(Score::score).fold(h.finish(), u64::wrapping_add);\n    (total, v.len(), format!(\"{:?}\", v.first()))\n}\n\n",
    );
    let mut impls = Vec::new();
    for k in 0..items {
        let t = format!("T{i}x{k}");
        let _ = write!(
            s,
            "#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]\npub struct {t} {{\n    pub id: u64,\n    pub name: String,\n    pub tags: Vec<u8>,\n    pub pairs: Vec<(u32, String)>,\n    pub next: Option<Box<{t}>>,\n}}\n\n"
        );
        impls.push(format!("{t} => {}", k * 7 + i));
    }
    let _ = write!(s, "scored! {{\n    {}\n}}\n\n", impls.join(",\n    "));
    s.push_str("pub fn entry() -> u64 {\n    let mut total = 0u64;\n");
    for k in 0..items {
        let _ = writeln!(
            s,
            "    total = total.wrapping_add(summarize(&[T{i}x{k} {{ id: {k}, ..Default::default() }}]).0);"
        );
    }
    for &d in deps {
        let _ = writeln!(
            s,
            "    total = total.wrapping_add({}::entry());",
            names[d].replace('-', "_")
        );
    }
    s.push_str("    total\n}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_has_layers_diamonds_and_no_cycles() {
        let n = 30;
        for i in 0..n {
            for d in deps_of(i, n) {
                assert!(layer_of(d) < layer_of(i), "{i} -> {d} is not downward");
            }
        }
        // A diamond: two crates of one layer sharing a dependency that both reach.
        let shared = (0..n).any(|a| {
            (a + 1..n).any(|b| {
                layer_of(a) == layer_of(b)
                    && deps_of(a, n).iter().any(|d| deps_of(b, n).contains(d))
            })
        });
        assert!(shared);
        assert_eq!(crate_name(7), "bench-l2-c07");
    }
}
