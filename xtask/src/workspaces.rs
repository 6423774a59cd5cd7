//! `cargo xtask corpus --workspaces`: realistic multi-crate workspaces with inheritance, packaged
//! with `--workspace --no-verify`. Building them from published crates is not possible (the
//! published manifests are already flattened), so they are generated here, modelled on common
//! layouts (a tokio/serde-style virtual workspace, a root package with `crates/*`, dev-dep
//! cycles). Registry dependencies come from the corpus `CARGO_HOME`, so resolution works offline.

use crate::common::{self, Tool, Tools, Verdict};
use std::fs;
use std::path::Path;

fn write(root: &Path, rel: &str, text: &str) -> Result<(), String> {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).map_err(|e| e.to_string())?;
    fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))
}

const WS_PACKAGE: &str = r#"[workspace.package]
version = "0.4.2"
authors = ["Gantry Tests <tests@example.com>"]
edition = "2021"
rust-version = "1.74"
license = "MIT OR Apache-2.0"
homepage = "https://example.com"
repository = "https://example.com/repo"
documentation = "https://docs.example.com"
keywords = ["async", "io"]
categories = ["asynchronous"]
readme = "README.md"
exclude = ["/benches/data", "*.bak"]
"#;

fn member(name: &str, deps: &str, extra_pkg: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion.workspace = true\nauthors.workspace = true\nedition.workspace = true\n\
         rust-version.workspace = true\nlicense.workspace = true\nhomepage.workspace = true\nrepository.workspace = true\n\
         documentation.workspace = true\nkeywords.workspace = true\ncategories.workspace = true\nreadme.workspace = true\n\
         exclude.workspace = true\ndescription = \"The {name} part\"\n{extra_pkg}\n{deps}\n[lints]\nworkspace = true\n"
    )
}

fn virtual_workspace(root: &Path) -> Result<(), String> {
    write(
        root,
        "Cargo.toml",
        &format!(
            "[workspace]\nmembers = [\"tk-*\"]\nresolver = \"2\"\n\n{WS_PACKAGE}\n[workspace.dependencies]\n\
             tk-core = {{ path = \"tk-core\", version = \"0.4.2\" }}\ntk-macros = {{ path = \"tk-macros\", version = \"=0.4.2\" }}\n\
             tk-util = {{ path = \"tk-util\", version = \"0.4\", default-features = false }}\n\
             serde = {{ version = \"1\", features = [\"derive\"] }}\nanyhow = \"1\"\nsyn = {{ version = \"2\", features = [\"full\"] }}\n\
             quote = \"1\"\nproc-macro2 = \"1\"\nlog = \"0.4\"\n\n[workspace.lints.rust]\nunsafe_code = \"deny\"\n\
             missing_docs = {{ level = \"warn\", priority = -1 }}\n\n[workspace.lints.clippy]\npedantic = \"warn\"\n\n\
             [profile.release]\nlto = \"thin\"\n"
        ),
    )?;
    write(root, "README.md", "# tk\n\nA workspace.\n")?;
    write(root, "LICENSE-MIT", "MIT\n")?;
    write(
        root,
        "tk-core/Cargo.toml",
        &member(
            "tk-core",
            "[dependencies]\nserde.workspace = true\nlog = { workspace = true, optional = true }\n\n[features]\ndefault = [\"trace\"]\ntrace = [\"dep:log\"]\n",
            "build = \"build.rs\"\n",
        ),
    )?;
    write(
        root,
        "tk-core/build.rs",
        "fn main() { println!(\"cargo:rerun-if-changed=build.rs\"); }\n",
    )?;
    write(
        root,
        "tk-core/src/lib.rs",
        "//! core\n#[derive(serde::Serialize)]\npub struct Core;\n",
    )?;
    write(root, "tk-core/src/io/mod.rs", "pub mod read;\n")?;
    write(root, "tk-core/src/io/read.rs", "pub fn read() {}\n")?;
    write(root, "tk-core/old.bak", "excluded\n")?;
    write(root, "tk-core/benches/data/big.txt", "excluded data\n")?;
    write(
        root,
        "tk-macros/Cargo.toml",
        &member(
            "tk-macros",
            "[lib]\nproc-macro = true\n\n[dependencies]\nsyn.workspace = true\nquote.workspace = true\nproc-macro2.workspace = true\n",
            "",
        ),
    )?;
    write(root, "tk-macros/src/lib.rs", "//! macros\n")?;
    write(
        root,
        "tk-util/Cargo.toml",
        &member(
            "tk-util",
            "[dependencies]\ntk-core = { workspace = true, features = [\"trace\"] }\nanyhow.workspace = true\n\n[dev-dependencies]\ntk-macros.workspace = true\n\n[features]\ndefault = [\"std\"]\nstd = []\n",
            "",
        ),
    )?;
    write(root, "tk-util/src/lib.rs", "//! util\n")?;
    write(root, "tk-util/tests/it.rs", "#[test]\nfn it() {}\n")?;
    write(
        root,
        "tk-app/Cargo.toml",
        &member(
            "tk-app",
            "[dependencies]\ntk = { package = \"tk-util\", path = \"../tk-util\", version = \"0.4.2\" }\ntk-core.workspace = true\n\n[[bin]]\nname = \"tk\"\npath = \"src/main.rs\"\n",
            "publish = true\ndefault-run = \"tk\"\n",
        ),
    )?;
    write(root, "tk-app/src/main.rs", "fn main() {}\n")?;
    write(root, "tk-app/examples/demo.rs", "fn main() {}\n")
}

fn root_package_workspace(root: &Path) -> Result<(), String> {
    write(
        root,
        "Cargo.toml",
        &format!(
            "[package]\nname = \"rootpkg\"\nversion.workspace = true\nedition.workspace = true\nlicense.workspace = true\n\
             description = \"root package\"\nrepository.workspace = true\nreadme = \"README.md\"\ninclude = [\"src/**/*\", \"README.md\", \"LICENSE*\"]\n\n\
             [workspace]\nmembers = [\"crates/*\"]\n\n{WS_PACKAGE}\n[workspace.dependencies]\n\
             rp-parse = {{ path = \"crates/rp-parse\", version = \"0.4.2\" }}\nrp-fmt = {{ path = \"crates/rp-fmt\", version = \"0.4.2\" }}\n\
             thiserror = \"2\"\n\n[dependencies]\nrp-parse.workspace = true\nrp-fmt = {{ workspace = true, optional = true }}\n\n\
             [features]\ndefault = [\"fmt\"]\nfmt = [\"dep:rp-fmt\"]\n\n[lints]\nworkspace = true\n\n[workspace.lints.rust]\nunused = \"warn\"\n"
        ),
    )?;
    write(root, "README.md", "root readme\n")?;
    write(root, "LICENSE-APACHE", "apache\n")?;
    write(root, "src/lib.rs", "pub use rp_parse::*;\n")?;
    write(root, "src/bin/rp.rs", "fn main() {}\n")?;
    write(root, "tests/t.rs", "")?;
    write(
        root,
        "crates/rp-parse/Cargo.toml",
        &member(
            "rp-parse",
            "[dependencies]\nthiserror.workspace = true\n",
            "license-file = \"../../LICENSE-APACHE\"\n",
        ),
    )?;
    write(root, "crates/rp-parse/src/lib.rs", "")?;
    write(
        root,
        "crates/rp-fmt/Cargo.toml",
        &member(
            "rp-fmt",
            "[dependencies]\nrp-parse.workspace = true\n\n[dev-dependencies]\nrootpkg = { path = \"../..\" }\n",
            "",
        ),
    )?;
    write(root, "crates/rp-fmt/src/lib.rs", "")
}

pub(crate) fn run(tools: &Tools, home: &Path) -> Result<(), String> {
    let scratch = tempfile::Builder::new()
        .prefix("gantry-ws-corpus-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let (tc, tg) = (
        scratch.path().join("t-cargo"),
        scratch.path().join("t-gantry"),
    );
    type Gen = fn(&Path) -> Result<(), String>;
    let gens: [(&str, Gen); 2] = [
        ("virtual-tk", virtual_workspace),
        ("root-package", root_package_workspace),
    ];
    let (mut same, mut total) = (0, 0);
    for (name, generate) in gens {
        for git in [false, true] {
            let root = scratch
                .path()
                .join(format!("{name}-{}", if git { "git" } else { "plain" }));
            generate(&root)?;
            if git {
                fs::write(root.join(".gitignore"), "/target\n").map_err(|e| e.to_string())?;
                common::git_commit_all(&root)?;
            }
            let args = ["--workspace", "--no-verify", "--offline"];
            let c = common::run(tools, Tool::Cargo, &root, &args, home, &tc);
            let g = common::run(tools, Tool::Gantry, &root, &args, home, &tg);
            total += 1;
            let mode = if git { "git  " } else { "plain" };
            match common::judge(&c, &g) {
                Verdict::Identical(n) => {
                    same += 1;
                    println!("{name:<16} {mode} match ({n} crates)");
                }
                Verdict::BothFailed(e) => println!("{name:<16} {mode} both failed: {e}"),
                Verdict::Mismatch(why) => println!("{name:<16} {mode} MISMATCH {why}"),
            }
        }
    }
    println!("\n{same}/{total} workspace runs byte-identical");
    Ok(())
}
