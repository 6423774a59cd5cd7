//! Building kellnr once into `target/interop/kellnr` (about 25 minutes on 2 cores). First as
//! published (`cargo install --locked`); if its lockfile cannot be used as it is (6.13.0 pins
//! `webpki-roots 1.0.11`, which a registry mirror may not carry), from the unpacked crate with that
//! one package moved to 1.0.10. Both tries share a target dir, so the second reuses what the first
//! compiled.

use std::path::{Path, PathBuf};
use std::process::Command;

pub(super) const KELLNR_VERSION: &str = "6.13.0";
/// The features the issue asks for: system OpenSSL instead of a vendored build.
const FEATURES: [&str; 3] = ["--no-default-features", "--features", "openssl"];

/// The kellnr binary, built first if it is not there yet.
pub(super) fn ensure(repo: &Path) -> Result<PathBuf, String> {
    let base = repo.join("target/interop");
    let root = base.join("kellnr");
    let bin = root.join("bin/kellnr");
    if bin.is_file() {
        return Ok(bin);
    }
    let target_dir = base.join("kellnr-build");
    eprintln!(
        "== building kellnr {KELLNR_VERSION} into {} (once; about 25 minutes on 2 cores)",
        root.display()
    );
    let published = cargo()
        .args(["install", "kellnr", "--version"])
        .arg(format!("={KELLNR_VERSION}"))
        .args(FEATURES)
        .arg("--locked")
        .arg("--root")
        .arg(&root)
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .map_err(|e| format!("could not run `cargo install kellnr`: {e}"))?;
    if published.success() && bin.is_file() {
        return Ok(bin);
    }
    eprintln!(
        "== kellnr {KELLNR_VERSION} did not build with its own lockfile ({published}); trying again \
         with webpki-roots 1.0.10 in it"
    );
    let src = unpack(&base)?;
    let manifest = src.join("Cargo.toml");
    detach_from_workspace(&manifest)?;
    let updated = cargo()
        .args([
            "update",
            "-p",
            "webpki-roots",
            "--precise",
            "1.0.10",
            "--manifest-path",
        ])
        .arg(&manifest)
        .status()
        .map_err(|e| format!("could not run `cargo update`: {e}"))?;
    if !updated.success() {
        return Err(format!(
            "`cargo update -p webpki-roots --precise 1.0.10` failed in {} ({updated}); see above",
            src.display()
        ));
    }
    let patched = cargo()
        .arg("install")
        .arg("--path")
        .arg(&src)
        .args(FEATURES)
        .arg("--locked")
        .arg("--root")
        .arg(&root)
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .map_err(|e| format!("could not run `cargo install --path`: {e}"))?;
    if patched.success() && bin.is_file() {
        return Ok(bin);
    }
    Err(format!(
        "building kellnr {KELLNR_VERSION} failed ({patched}); the compiler's messages are above. \
         The build needs crates.io, a C compiler and OpenSSL's headers (Debian: `apt-get install \
         libssl-dev pkg-config`). Partial results stay in {} for the next try",
        target_dir.display()
    ))
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The published crate, unpacked under `base` (taken from cargo's download cache, where the first
/// `cargo install` left it).
fn unpack(base: &Path) -> Result<PathBuf, String> {
    let file = format!("kellnr-{KELLNR_VERSION}.crate");
    let cached = cached_crate(&file).ok_or_else(|| {
        format!(
            "{file} is not in cargo's download cache, so the first `cargo install` could not even \
             download it; check that crates.io can be reached"
        )
    })?;
    let dest = base.join("kellnr-src");
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::create_dir_all(&dest).map_err(|e| format!("creating {}: {e}", dest.display()))?;
    let bytes = std::fs::read(&cached).map_err(|e| format!("reading {}: {e}", cached.display()))?;
    tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()))
        .unpack(&dest)
        .map_err(|e| format!("unpacking {}: {e}", cached.display()))?;
    Ok(dest.join(format!("kellnr-{KELLNR_VERSION}")))
}

/// Marks the unpacked package as a workspace of its own: it sits under this repository's
/// `target/`, and without its own `[workspace]` table cargo would take the repository's root
/// manifest for its workspace and refuse to work on a package that is not a member of it.
fn detach_from_workspace(manifest: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("reading {}: {e}", manifest.display()))?;
    if text.lines().any(|l| l.trim() == "[workspace]") {
        return Ok(());
    }
    std::fs::write(manifest, format!("{text}\n[workspace]\n"))
        .map_err(|e| format!("writing {}: {e}", manifest.display()))
}

/// `$CARGO_HOME/registry/cache/<registry>/<file>`, whichever registry directory has it.
fn cached_crate(file: &str) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    std::fs::read_dir(home.join("registry/cache"))
        .ok()?
        .filter_map(Result::ok)
        .map(|d| d.path().join(file))
        .find(|p| p.is_file())
}
