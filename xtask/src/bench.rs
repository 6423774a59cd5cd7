//! `cargo xtask bench package`: times `cargo package --no-verify` against
//! `cargo gantry package --no-verify` on generated inputs. Reports medians; asserts nothing.

use crate::common::{self, Tool, Tools};
use std::fs;
use std::path::Path;
use std::time::Duration;

/// Deterministic xorshift64* generator: the same inputs on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "let", "fn", "match", "impl", "struct", "self", "value", "index", "buffer", "archive", "entry",
    "crate", "package", "manifest", "version", "registry", "return", "Some", "None", "Ok", "Err",
    "=>", "{", "}", "(", ")", ";", "&mut", "u64", "String", "Vec", "iter", "map", "collect",
];

fn text(rng: &mut Rng, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 16);
    let mut col = 0;
    while s.len() < bytes {
        let w = WORDS[rng.below(WORDS.len() as u64) as usize];
        s.push_str(w);
        col += w.len() + 1;
        if col > 80 {
            s.push('\n');
            col = 0;
        } else {
            s.push(' ');
        }
    }
    s.push('\n');
    s
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).expect("mkdir");
    fs::write(path, bytes).expect("write");
}

/// A large single crate: `files` text sources in nested directories plus incompressible blobs.
pub(crate) fn large_crate(root: &Path, files: usize, seed: u64) -> u64 {
    let mut rng = Rng(seed | 1);
    let mut total = 0u64;
    write(
        &root.join("Cargo.toml"),
        b"[package]\nname = \"bigcrate\"\nversion = \"1.0.0\"\nedition = \"2021\"\ndescription = \"benchmark input\"\nlicense = \"MIT\"\nrepository = \"https://example.com/big\"\n",
    );
    write(&root.join("src/lib.rs"), b"//! benchmark input\n");
    for i in 0..files {
        let (a, b) = (rng.below(16), rng.below(16));
        let size = 512 + rng.below(12 * 1024) as usize;
        let body = text(&mut rng, size);
        total += body.len() as u64;
        write(
            &root.join(format!("src/m{a:02}/n{b:02}/f{i:05}.rs")),
            body.as_bytes(),
        );
    }
    for i in 0..files / 200 {
        let size = 256 * 1024 + rng.below(512 * 1024) as usize;
        let blob: Vec<u8> = (0..size / 8)
            .flat_map(|_| rng.next().to_le_bytes())
            .collect();
        total += blob.len() as u64;
        write(&root.join(format!("assets/blob{i:03}.bin")), &blob);
    }
    total
}

/// A virtual workspace of `members` crates, each depending on the previous one.
pub(crate) fn workspace(root: &Path, members: usize, files_per_member: usize, seed: u64) {
    let mut rng = Rng(seed | 1);
    let names: Vec<String> = (0..members).map(|i| format!("member{i:02}")).collect();
    let list = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    write(
        &root.join("Cargo.toml"),
        format!(
            "[workspace]\nmembers = [{list}]\nresolver = \"2\"\n\n[workspace.package]\nversion = \"0.3.0\"\nedition = \"2021\"\nlicense = \"MIT\"\nrepository = \"https://example.com/ws\"\n"
        )
        .as_bytes(),
    );
    for (i, name) in names.iter().enumerate() {
        let dep = if i == 0 {
            String::new()
        } else {
            format!(
                "[dependencies]\n{0} = {{ path = \"../{0}\", version = \"0.3.0\" }}\n",
                names[i - 1]
            )
        };
        write(
            &root.join(name).join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion.workspace = true\nedition.workspace = true\nlicense.workspace = true\nrepository.workspace = true\ndescription = \"member\"\n\n{dep}"
            )
            .as_bytes(),
        );
        write(&root.join(name).join("src/lib.rs"), b"");
        for f in 0..files_per_member {
            let size = 256 + rng.below(4096) as usize;
            write(
                &root.join(name).join(format!("src/gen/f{f:03}.rs")),
                text(&mut rng, size).as_bytes(),
            );
        }
    }
}

pub(crate) struct Options {
    pub runs: usize,
    pub files: usize,
}

enum Scratch {
    Temp(tempfile::TempDir),
    Kept(std::path::PathBuf),
}

impl Scratch {
    fn path(&self) -> &Path {
        match self {
            Scratch::Temp(t) => t.path(),
            Scratch::Kept(p) => p,
        }
    }
}

pub(crate) fn run(tools: &Tools, opts: &Options) -> Result<(), String> {
    let scratch = tempfile::Builder::new()
        .prefix("gantry-bench-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    // GANTRY_BENCH_KEEP=1 leaves the generated inputs and both tools' outputs for inspection.
    let scratch = if std::env::var_os("GANTRY_BENCH_KEEP").is_some() {
        let kept = scratch.keep();
        eprintln!("keeping {}", kept.display());
        Scratch::Kept(kept)
    } else {
        Scratch::Temp(scratch)
    };
    let s = scratch.path();
    eprintln!("generating inputs in {} …", s.display());
    let bytes = large_crate(&s.join("big"), opts.files, 0x9E37_79B9_7F4A_7C15);
    large_crate(&s.join("big-git"), opts.files, 0x9E37_79B9_7F4A_7C15);
    common::git_commit_all(&s.join("big-git"))?;
    workspace(&s.join("ws"), 20, 40, 42);
    eprintln!(
        "large crate: {} files, {:.1} MiB of content",
        opts.files + opts.files / 200 + 2,
        bytes as f64 / 1048576.0
    );

    let scenarios: [(&str, &str, &[&str]); 3] = [
        ("large crate (walk)", "big", &["--no-verify", "--offline"]),
        (
            "large crate (git)",
            "big-git",
            &["--no-verify", "--offline"],
        ),
        (
            "workspace, 20 members",
            "ws",
            &["--no-verify", "--offline", "--workspace"],
        ),
    ];
    println!(
        "{:<24} {:>14} {:>14} {:>14}  same bytes",
        "scenario", "cargo median", "gantry median", "gantry/cargo"
    );
    for (label, dir, args) in scenarios {
        let cwd = s.join(dir);
        let mut times = [Vec::new(), Vec::new()];
        let mut last = [None, None];
        let sides = [Tool::Cargo, Tool::Gantry].map(|tool| {
            let home = s.join(format!("home-{}", tool.label()));
            let target = s.join(format!("target-{}-{dir}", tool.label()));
            (tool, home, target)
        });
        // One warm-up run each (page cache, lazily created directories), then alternate the
        // timed runs so that drift on a busy machine hits both tools alike.
        for (tool, home, target) in &sides {
            let warm = common::run(tools, *tool, &cwd, args, home, target);
            if warm.code != Some(0) {
                println!(
                    "{label:<24} {} failed: {}",
                    tool.label(),
                    common::first_error(&warm.stderr)
                );
            }
        }
        for _ in 0..opts.runs {
            for (i, (tool, home, target)) in sides.iter().enumerate() {
                let r = common::run(tools, *tool, &cwd, args, home, target);
                times[i].push(r.elapsed);
                last[i] = Some(r);
            }
        }
        let (c, g) = (
            common::median(times[0].clone()),
            common::median(times[1].clone()),
        );
        let same = match (&last[0], &last[1]) {
            (Some(c), Some(g)) => match common::judge(c, g) {
                common::Verdict::Identical(_) => true,
                common::Verdict::Mismatch(why) | common::Verdict::BothFailed(why) => {
                    println!("{label:<24} differs: {why}");
                    false
                }
            },
            _ => false,
        };
        println!(
            "{label:<24} {:>14} {:>14} {:>13.2}x  {}",
            fmt(c),
            fmt(g),
            g.as_secs_f64() / c.as_secs_f64().max(1e-9),
            if same { "yes" } else { "NO" }
        );
    }
    Ok(())
}

fn fmt(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}
