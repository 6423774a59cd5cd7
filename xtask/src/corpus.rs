//! `cargo xtask corpus`: repackage real published crates with cargo and gantry and count the
//! byte-identical archives.

use crate::common::{self, Tool, Tools, Verdict};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Popular, mostly pure-Rust crates (no competing `links`), fetched with all their dependencies
/// for every target; the corpus is every `.crate` that lands in the cache.
const POPULAR: &[&str] = &[
    "ahash",
    "aho-corasick",
    "anstream",
    "anstyle",
    "anyhow",
    "arc-swap",
    "arrayvec",
    "async-trait",
    "backtrace",
    "base64",
    "bitflags",
    "bstr",
    "bumpalo",
    "byteorder",
    "bytes",
    "cfg-if",
    "chrono",
    "clap",
    "colored",
    "console",
    "crc32fast",
    "crossbeam",
    "crossbeam-channel",
    "crossbeam-deque",
    "crossbeam-epoch",
    "crossbeam-utils",
    "csv",
    "dashmap",
    "derive_more",
    "digest",
    "either",
    "encoding_rs",
    "env_logger",
    "fastrand",
    "filetime",
    "flate2",
    "fnv",
    "futures",
    "futures-channel",
    "futures-core",
    "futures-util",
    "generic-array",
    "getrandom",
    "glob",
    "globset",
    "hashbrown",
    "heck",
    "hex",
    "hmac",
    "http",
    "httparse",
    "humantime",
    "hyper",
    "idna",
    "ignore",
    "indexmap",
    "indicatif",
    "itertools",
    "itoa",
    "lazy_static",
    "libc",
    "lock_api",
    "log",
    "md-5",
    "memchr",
    "mime",
    "mio",
    "nom",
    "num-bigint",
    "num-integer",
    "num-traits",
    "num_cpus",
    "once_cell",
    "parking_lot",
    "paste",
    "percent-encoding",
    "pest",
    "petgraph",
    "pin-project",
    "pin-project-lite",
    "ppv-lite86",
    "pretty_assertions",
    "proc-macro2",
    "quote",
    "rand",
    "rand_chacha",
    "rand_core",
    "rayon",
    "regex",
    "regex-automata",
    "regex-syntax",
    "rustc_version",
    "rustc-demangle",
    "ryu",
    "same-file",
    "scopeguard",
    "semver",
    "serde",
    "serde_derive",
    "serde_json",
    "sha1",
    "sha2",
    "similar",
    "siphasher",
    "slab",
    "smallvec",
    "socket2",
    "static_assertions",
    "strsim",
    "strum",
    "subtle",
    "syn",
    "tempfile",
    "termcolor",
    "textwrap",
    "thiserror",
    "time",
    "tinyvec",
    "tokio",
    "tokio-util",
    "toml",
    "toml_edit",
    "tracing",
    "tracing-core",
    "tracing-subscriber",
    "typenum",
    "unicode-ident",
    "unicode-normalization",
    "unicode-segmentation",
    "unicode-width",
    "url",
    "uuid",
    "walkdir",
    "winnow",
    "zerocopy",
    "zeroize",
];

pub(crate) struct Options {
    pub count: usize,
    pub git: bool,
    pub online: bool,
    pub work: PathBuf,
    pub only: Option<String>,
}

pub(crate) fn fetch_corpus(tools: &Tools, work: &Path) -> Result<PathBuf, String> {
    let home = work.join("cargo-home");
    let proj = work.join("fetch-project");
    fs::create_dir_all(proj.join("src")).map_err(|e| e.to_string())?;
    let mut manifest = String::from(
        "[package]\nname = \"gantry-corpus-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[workspace]\n\n[dependencies]\n",
    );
    for name in POPULAR {
        manifest.push_str(&format!("{name} = \"*\"\n"));
    }
    fs::write(proj.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    fs::write(proj.join("src/lib.rs"), "").map_err(|e| e.to_string())?;
    eprintln!(
        "fetching {} crates and their dependencies into {} …",
        POPULAR.len(),
        home.display()
    );
    let st = Command::new(&tools.cargo)
        .arg("fetch")
        .current_dir(&proj)
        .env("CARGO_HOME", &home)
        .status()
        .map_err(|e| format!("cargo fetch: {e}"))?;
    if !st.success() {
        return Err("cargo fetch failed".into());
    }
    Ok(home)
}

fn cached_crates(home: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(home.join("registry/cache")) {
        for reg in rd.flatten() {
            if let Ok(rd) = fs::read_dir(reg.path()) {
                out.extend(
                    rd.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "crate")),
                );
            }
        }
    }
    out.sort();
    out
}

/// Unpacks `file` into `dest` and turns it back into a source tree: `Cargo.toml.orig` becomes
/// `Cargo.toml`; generated files go. Returns the package directory.
pub(crate) fn restore(file: &Path, dest: &Path) -> Result<PathBuf, String> {
    let bytes = fs::read(file).map_err(|e| e.to_string())?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    fs::create_dir_all(dest).map_err(|e| e.to_string())?;
    ar.unpack(dest)
        .map_err(|e| format!("unpack {}: {e}", file.display()))?;
    let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
    let dir = dest.join(&stem);
    let orig = dir.join("Cargo.toml.orig");
    if orig.exists() {
        fs::rename(&orig, dir.join("Cargo.toml")).map_err(|e| e.to_string())?;
    }
    for f in [".cargo_vcs_info.json", "Cargo.lock"] {
        let _ = fs::remove_file(dir.join(f));
    }
    Ok(dir)
}

/// The manifest without its `[workspace]` / `[workspace.*]` tables, if it had any.
pub(crate) fn strip_workspace_table(manifest: &str) -> Option<String> {
    let mut out = String::new();
    let mut skipping = false;
    let mut found = false;
    for line in manifest.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') {
            skipping = t.starts_with("[workspace]") || t.starts_with("[workspace.");
            found |= skipping;
        }
        if !skipping {
            out.push_str(line);
        }
    }
    found.then_some(out)
}

pub(crate) fn uses_inheritance(manifest: &str) -> bool {
    manifest.lines().any(|l| {
        let l: String = l.chars().filter(|c| !c.is_whitespace()).collect();
        l.contains("workspace=true") || l.contains(".workspace=true")
    })
}

#[derive(Default)]
struct Tally {
    identical: usize,
    identical_no_lock: usize,
    both_failed: usize,
    mismatch: usize,
}

pub(crate) fn run(tools: &Tools, opts: &Options) -> Result<(), String> {
    let home = fetch_corpus(tools, &opts.work)?;
    let mut files = cached_crates(&home);
    if let Some(only) = &opts.only {
        files.retain(|f| {
            f.file_name()
                .unwrap()
                .to_string_lossy()
                .contains(only.as_str())
        });
    }
    let scratch = tempfile::Builder::new()
        .prefix("gantry-corpus-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let (t_cargo, t_gantry) = (
        scratch.path().join("t-cargo"),
        scratch.path().join("t-gantry"),
    );
    let mut tally = [Tally::default(), Tally::default()];
    let mut inherited = 0;
    let mut tried = 0;
    for file in &files {
        if tried >= opts.count {
            break;
        }
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let modes: &[bool] = if opts.git { &[false, true] } else { &[false] };
        let mut counted = false;
        for &git in modes {
            let dest = scratch
                .path()
                .join(if git { "git" } else { "plain" })
                .join(&name);
            let dir = match restore(file, &dest) {
                Ok(d) => d,
                Err(e) => {
                    println!("{name:<48} skip ({e})");
                    break;
                }
            };
            let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
            if uses_inheritance(&manifest) {
                inherited += 1;
                println!("{name:<48} skip (workspace inheritance)");
                let _ = fs::remove_dir_all(&dest);
                break;
            }
            if !counted {
                tried += 1;
                counted = true;
            }
            if git {
                common::git_commit_all(&dir)?;
            }
            let mut args = vec!["--no-verify", "--allow-dirty"];
            if !opts.online {
                args.push("--offline");
            }
            let mut verdict = compare(tools, &dir, &args, &home, &t_cargo, &t_gantry);
            let mut no_lock = false;
            // A published manifest may keep the `[workspace]` table of its repository, whose
            // members are not in the package: drop that table (in both tools' input alike).
            if let Verdict::BothFailed(e) = &verdict
                && e.contains("workspace member")
                && let Some(stripped) = strip_workspace_table(&manifest)
            {
                fs::write(dir.join("Cargo.toml"), stripped).map_err(|e| e.to_string())?;
                if git {
                    common::git_commit_all(&dir)?;
                }
                verdict = compare(tools, &dir, &args, &home, &t_cargo, &t_gantry);
            }
            if matches!(verdict, Verdict::BothFailed(_)) {
                args.push("--exclude-lockfile");
                verdict = compare(tools, &dir, &args, &home, &t_cargo, &t_gantry);
                no_lock = true;
            }
            let t = &mut tally[git as usize];
            let mode = if git { "git  " } else { "plain" };
            match verdict {
                Verdict::Identical(_) => {
                    if no_lock {
                        t.identical_no_lock += 1;
                        println!("{name:<48} {mode} match (with --exclude-lockfile)");
                    } else {
                        t.identical += 1;
                        println!("{name:<48} {mode} match");
                    }
                }
                Verdict::BothFailed(e) => {
                    t.both_failed += 1;
                    println!("{name:<48} {mode} both failed: {e}");
                }
                Verdict::Mismatch(why) => {
                    t.mismatch += 1;
                    println!("{name:<48} {mode} MISMATCH {why}");
                }
            }
            let _ = fs::remove_dir_all(&dest);
        }
    }
    println!("\n{tried} crates tried, {inherited} skipped for `workspace = true` inheritance");
    for (i, t) in tally.iter().enumerate() {
        if i == 1 && !opts.git {
            continue;
        }
        let packaged = t.identical + t.identical_no_lock + t.mismatch;
        let pct = if packaged == 0 {
            0.0
        } else {
            100.0 * (t.identical + t.identical_no_lock) as f64 / packaged as f64
        };
        println!(
            "{:<5}: {:.1}% byte-identical ({} identical, {} identical without lockfile, {} mismatched, {} failed in both tools)",
            if i == 1 { "git" } else { "plain" },
            pct,
            t.identical,
            t.identical_no_lock,
            t.mismatch,
            t.both_failed
        );
    }
    Ok(())
}

fn compare(tools: &Tools, dir: &Path, args: &[&str], home: &Path, tc: &Path, tg: &Path) -> Verdict {
    let c = common::run(tools, Tool::Cargo, dir, args, home, tc);
    let g = common::run(tools, Tool::Gantry, dir, args, home, tg);
    common::judge(&c, &g)
}
