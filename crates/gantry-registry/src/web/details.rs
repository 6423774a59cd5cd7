//! What a version's page shows beyond the index line, read from its `.crate`: the README (the file
//! `package.readme` names), the package metadata of the normalised `Cargo.toml`, and where the
//! package sits in its repository (`.cargo_vcs_info.json`). Stored once per version at publish,
//! and for versions published before, filled in from the stored `.crate` by [`backfill`].

use std::io::Read;

use gantry_protocol::{DependencyKind, IndexEntry, canonical_name};
use serde::{Deserialize, Serialize};

use crate::blob::crate_key;
use crate::store::pages::{LocalDep, StoredDetails};
use crate::store::{MetaStore, StoreError};

/// READMEs longer than this are cut (crates.io's rendered READMEs are far smaller in practice).
pub const MAX_README_BYTES: u64 = 512 * 1024;
/// `Cargo.toml` and `.cargo_vcs_info.json` are read up to this size.
const MAX_SMALL_FILE: u64 = 1024 * 1024;

/// The package metadata a page shows, as stored (JSON) per version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PackageMeta {
    pub description: Option<String>,
    pub license: Option<String>,
    pub license_file: Option<String>,
    pub homepage: Option<String>,
    pub documentation: Option<String>,
    pub repository: Option<String>,
    pub keywords: Vec<String>,
    pub categories: Vec<String>,
    pub authors: Vec<String>,
    pub edition: Option<String>,
    pub rust_version: Option<String>,
    /// The README's path inside the package, as `package.readme` gives it.
    pub readme_path: Option<String>,
    /// The package's directory in its repository (`path_in_vcs`), `""` at the root.
    pub path_in_vcs: Option<String>,
    /// The commit the package was made from.
    pub vcs_sha1: Option<String>,
    /// Size of the `.crate` in bytes.
    pub crate_size: u64,
}

/// Reads the details of `name`@`vers` from its `.crate`. A `.crate` that cannot be read yields what
/// could be read (pages then show less), never an error: it passed the publish checks already.
pub fn from_crate(tarball: &[u8], name: &str, vers: &str) -> (PackageMeta, Option<String>) {
    let root = format!("{name}-{vers}/");
    let files = read_files(tarball, &root, |p| {
        p == "Cargo.toml" || p == ".cargo_vcs_info.json"
    });
    let mut meta = PackageMeta {
        crate_size: tarball.len() as u64,
        ..PackageMeta::default()
    };
    for (path, bytes) in &files {
        match path.as_str() {
            "Cargo.toml" => {
                if let Ok(toml) = std::str::from_utf8(bytes) {
                    fill_from_manifest(&mut meta, toml);
                }
            }
            _ => fill_from_vcs_info(&mut meta, bytes),
        }
    }
    // The README's path is known only from the manifest, so it is a second pass.
    let candidates: Vec<String> = match meta.readme_path.take() {
        Some(p) if p.is_empty() => Vec::new(),
        Some(p) => vec![normalise(&p)],
        None => ["README.md", "README.txt", "README"]
            .map(String::from)
            .to_vec(),
    };
    let mut found = match candidates.is_empty() {
        true => Vec::new(),
        false => read_files(tarball, &root, |p| candidates.iter().any(|c| c == p)),
    };
    found.sort_by_key(|(p, _)| candidates.iter().position(|c| c == p));
    let readme = found.into_iter().next().map(|(path, bytes)| {
        meta.readme_path = Some(path);
        String::from_utf8_lossy(&bytes).into_owned()
    });
    (meta, readme)
}

/// Files under `root` whose relative path passes `wanted` (only small ones, READMEs capped).
fn read_files(tarball: &[u8], root: &str, wanted: impl Fn(&str) -> bool) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let gz = flate2::read::GzDecoder::new(tarball);
    let mut archive = tar::Archive::new(gz);
    let Ok(entries) = archive.entries() else {
        return out;
    };
    for entry in entries {
        let Ok(entry) = entry else { break };
        let Ok(path) = entry.path() else { continue };
        let Some(rel) = path
            .to_str()
            .and_then(|p| p.strip_prefix(root))
            .map(str::to_owned)
        else {
            continue;
        };
        if !entry.header().entry_type().is_file() || !wanted(&rel) {
            continue;
        }
        // A README past the limit is cut; a manifest that large is not one cargo made.
        let limit = match rel.as_str() {
            "Cargo.toml" | ".cargo_vcs_info.json" if entry.size() > MAX_SMALL_FILE => continue,
            "Cargo.toml" | ".cargo_vcs_info.json" => MAX_SMALL_FILE,
            _ => MAX_README_BYTES,
        };
        let mut buf = Vec::new();
        if entry.take(limit).read_to_end(&mut buf).is_ok() {
            out.push((rel, buf));
        }
    }
    out
}

/// `./docs/../README.md` → `README.md`; backslashes as cargo accepts them on Windows.
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split(['/', '\\']) {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

fn fill_from_manifest(meta: &mut PackageMeta, text: &str) {
    let Ok(doc) = text.parse::<toml::Table>() else {
        return;
    };
    let Some(pkg) = doc.get("package").and_then(toml::Value::as_table) else {
        return;
    };
    let s = |k: &str| pkg.get(k).and_then(toml::Value::as_str).map(str::to_owned);
    let list = |k: &str| -> Vec<String> {
        pkg.get(k)
            .and_then(toml::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    meta.description = s("description");
    meta.license = s("license");
    meta.license_file = s("license-file");
    meta.homepage = s("homepage");
    meta.documentation = s("documentation");
    meta.repository = s("repository");
    meta.keywords = list("keywords");
    meta.categories = list("categories");
    meta.authors = list("authors");
    meta.edition = s("edition");
    meta.rust_version = s("rust-version");
    // `readme = false` turns the README off; a string names it.
    match pkg.get("readme") {
        Some(toml::Value::String(p)) => meta.readme_path = Some(p.clone()),
        Some(toml::Value::Boolean(false)) => meta.readme_path = Some(String::new()),
        _ => {}
    }
}

fn fill_from_vcs_info(meta: &mut PackageMeta, bytes: &[u8]) {
    #[derive(Deserialize)]
    struct Git {
        sha1: Option<String>,
    }
    #[derive(Deserialize)]
    struct VcsInfo {
        git: Option<Git>,
        path_in_vcs: Option<String>,
    }
    if let Ok(v) = serde_json::from_slice::<VcsInfo>(bytes) {
        meta.path_in_vcs = v.path_in_vcs;
        meta.vcs_sha1 = v
            .git
            .and_then(|g| g.sha1)
            .filter(|s| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}

/// The dependencies of an index line on crates of this same registry, for reverse lookups.
pub fn local_deps(entry: &IndexEntry) -> Vec<LocalDep> {
    let mut out: Vec<LocalDep> = entry
        .deps
        .iter()
        .filter(|d| d.registry.as_deref().is_none_or(str::is_empty))
        .map(|d| LocalDep {
            canon_name: canonical_name(d.package.as_deref().unwrap_or(&d.name)),
            req: d.req.clone(),
            kind: kind_name(d.kind.unwrap_or_default()).to_owned(),
        })
        .collect();
    // One row per (crate, kind): a crate may appear twice for two targets.
    out.sort_by(|a, b| (&a.canon_name, &a.kind).cmp(&(&b.canon_name, &b.kind)));
    out.dedup_by(|a, b| a.canon_name == b.canon_name && a.kind == b.kind);
    out
}

pub fn kind_name(kind: DependencyKind) -> &'static str {
    match kind {
        DependencyKind::Normal => "normal",
        DependencyKind::Build => "build",
        DependencyKind::Dev => "dev",
    }
}

/// Reads and stores the details of one published version.
pub async fn store(
    store: &dyn MetaStore,
    version_id: i64,
    tarball: Vec<u8>,
    name: String,
    vers: String,
    index_line: &str,
) -> Result<(), StoreError> {
    let (meta, readme) = tokio::task::spawn_blocking(move || from_crate(&tarball, &name, &vers))
        .await
        .unwrap_or_default();
    let deps = serde_json::from_str::<IndexEntry>(index_line)
        .map(|e| local_deps(&e))
        .unwrap_or_default();
    let details = StoredDetails {
        readme: readme.filter(|r| !r.trim().is_empty()),
        // Plain strings and lists always serialise.
        metadata: serde_json::to_string(&meta).unwrap_or_default(),
    };
    store
        .save_version_details(version_id, &details, &deps)
        .await
}

/// Fills in the details of versions published before they were stored, from their `.crate`
/// files, in batches; returns how many versions it filled. Safe on several instances at once
/// (storing is idempotent).
pub async fn backfill(app: &crate::App) -> Result<usize, StoreError> {
    let mut done = 0;
    loop {
        let batch = app.store.versions_missing_details(50).await?;
        if batch.is_empty() {
            return Ok(done);
        }
        for v in batch {
            let tarball = match app.blobs.get(&crate_key(&v.cksum)).await {
                Ok(Some(b)) => b.to_vec(),
                // Without its file the version gets empty details, so it is not retried forever.
                Ok(None) => Vec::new(),
                Err(e) => {
                    tracing::warn!(krate = %v.name, version = %v.num, error = %crate::error::one_line(&e), "reading .crate for its details");
                    return Ok(done);
                }
            };
            store(
                app.store.as_ref(),
                v.version_id,
                tarball,
                v.name,
                v.num,
                &v.index_line,
            )
            .await?;
            done += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (p, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, p, data.as_bytes()).unwrap();
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &b.into_inner().unwrap()).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn reads_manifest_readme_and_vcs_info() {
        let t = tarball(&[
            (
                "x-1.0.0/Cargo.toml",
                "[package]\nname = \"x\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\
                 description = \"An x\"\nlicense = \"MIT\"\nrepository = \"https://github.com/o/r\"\n\
                 keywords = [\"a\", \"b\"]\nreadme = \"docs/../README.md\"\n",
            ),
            ("x-1.0.0/README.md", "# Hello\n"),
            (
                "x-1.0.0/.cargo_vcs_info.json",
                "{\"git\":{\"sha1\":\"0123456789abcdef0123456789abcdef01234567\"},\"path_in_vcs\":\"crates/x\"}",
            ),
        ]);
        let (meta, readme) = from_crate(&t, "x", "1.0.0");
        assert_eq!(readme.as_deref(), Some("# Hello\n"));
        assert_eq!(meta.description.as_deref(), Some("An x"));
        assert_eq!(meta.keywords, ["a", "b"]);
        assert_eq!(meta.readme_path.as_deref(), Some("README.md"));
        assert_eq!(meta.path_in_vcs.as_deref(), Some("crates/x"));
        assert_eq!(
            meta.vcs_sha1.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(meta.edition.as_deref(), Some("2021"));
    }

    #[test]
    fn readme_false_and_garbage_are_harmless() {
        let t = tarball(&[
            ("x-1.0.0/Cargo.toml", "[package]\nreadme = false\n"),
            ("x-1.0.0/README.md", "# not this\n"),
        ]);
        assert_eq!(from_crate(&t, "x", "1.0.0").1, None);
        assert_eq!(from_crate(b"not a tarball", "x", "1.0.0").1, None);
        assert_eq!(from_crate(&[], "x", "1.0.0").0.crate_size, 0);
    }

    #[test]
    fn local_deps_skip_other_registries_and_use_the_real_name() {
        let entry: IndexEntry = serde_json::from_str(
            r#"{"name":"x","vers":"1.0.0","cksum":"0000000000000000000000000000000000000000000000000000000000000000","features":{},"deps":[
            {"name":"renamed","package":"Real-Dep","req":"^1","kind":"dev"},
            {"name":"serde","req":"^1","registry":"https://github.com/rust-lang/crates.io-index"},
            {"name":"local","req":"^0.2"}]}"#,
        )
        .unwrap();
        let deps = local_deps(&entry);
        assert_eq!(deps.len(), 2);
        assert_eq!(deps[0].canon_name, "local");
        assert_eq!(deps[0].kind, "normal");
        assert_eq!(deps[1].canon_name, "real_dep");
        assert_eq!(deps[1].kind, "dev");
    }
}
