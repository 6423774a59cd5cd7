//! Property tests of the decoders and rules the registry runs on untrusted input: the publish
//! body, the `.crate` archive, and the metadata, name, version and licence rules. None may panic,
//! and what they accept must hold what they promise.

use std::io::Write;

use gantry_protocol::spdx::is_valid_license_expression;
use gantry_protocol::tarball::{MIN_UNPACKED_LIMIT, TarballLimits, verify_with};
use gantry_protocol::{
    BodyLimits, MetadataRules, NewCrate, decode_publish_body, encode_publish_body,
    validate_crate_name, validate_metadata, validate_metadata_all, validate_version,
};
use proptest::prelude::*;

const MANIFEST: &[u8] = b"[package]\nname = \"x\"\nversion = \"0.1.0\"\n";

fn limits() -> BodyLimits {
    BodyLimits {
        max_metadata_len: 4096,
        max_upload_size: 4096,
    }
}

/// 1,024 cases from a fixed seed, so every run (and CI) checks the same cases and a failure
/// reproduces; `PROPTEST_RNG_SEED=N` explores other cases.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(1024);
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = proptest::test_runner::RngSeed::Fixed(0x0000_6761_6e74_7279);
    }
    config
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn body_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_publish_body(&bytes, &limits());
    }

    #[test]
    fn body_decoder_round_trips(
        meta in proptest::collection::vec(any::<u8>(), 0..512),
        tarball in proptest::collection::vec(any::<u8>(), 0..512),
        cut in any::<prop::sample::Index>(),
    ) {
        let body = encode_publish_body(&meta, &tarball);
        let parts = decode_publish_body(&body, &limits()).unwrap();
        prop_assert_eq!(parts.metadata_json, &meta[..]);
        prop_assert_eq!(parts.tarball, &tarball[..]);
        // Any truncation is refused, never misread.
        let short = &body[..cut.index(body.len())];
        prop_assert!(decode_publish_body(short, &limits()).is_err());
    }

    #[test]
    fn names_and_versions_never_panic(s in "\\PC{0,80}") {
        let _ = validate_crate_name(&s);
        if let Ok(v) = validate_version(&s) {
            prop_assert!(v.normalized.len() <= gantry_protocol::validate::MAX_VERSION_LENGTH);
            prop_assert!(!v.without_build.contains('+'));
        }
    }

    #[test]
    fn licence_rule_never_panics_and_refuses_lower_case_operators(
        words in proptest::collection::vec(
            prop::sample::select(vec![
                "MIT", "Apache-2.0", "GPL-2.0+", "GPL-3.0-or-later", "LLVM-exception", "OR",
                "AND", "WITH", "or", "and", "with", "(", ")", "/", "+", "LicenseRef-x", "Foo",
                "mit", "", " ",
            ]),
            0..8,
        ),
        joiner in prop::sample::select(vec![" ", "", "  ", "\t"]),
    ) {
        let expr = words.join(joiner);
        if is_valid_license_expression(&expr) {
            let lower = expr
                .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '/'))
                .any(|w| matches!(w, "or" | "and" | "with"));
            prop_assert!(!lower, "{expr}");
        }
    }

    #[test]
    fn metadata_rules_never_panic_and_agree(
        description in proptest::option::of("\\PC{0,40}"),
        license in proptest::option::of("[A-Za-z0-9 ./()+-]{0,30}"),
        keywords in proptest::collection::vec("\\PC{0,24}", 0..7),
        categories in proptest::collection::vec("[a-z:-]{0,20}", 0..7),
        features in proptest::collection::btree_map(
            "\\PC{0,10}",
            proptest::collection::vec("[a-z0-9?/:_-]{0,12}", 0..3),
            0..4,
        ),
        urls in proptest::collection::vec(proptest::option::of("\\PC{0,30}"), 3),
        rust_version in proptest::option::of("[0-9.a-z]{0,8}"),
        deps in proptest::collection::vec(("[a-zA-Z0-9_-]{0,10}", "\\PC{0,10}"), 0..4),
    ) {
        let deps: Vec<serde_json::Value> = deps
            .iter()
            .map(|(name, req)| serde_json::json!({"name": name, "version_req": req}))
            .collect();
        let json = serde_json::json!({
            "name": "x", "vers": "0.1.0", "description": description, "license": license,
            "keywords": keywords, "categories": categories, "features": features,
            "homepage": urls[0], "documentation": urls[1], "repository": urls[2],
            "rust_version": rust_version, "deps": deps,
        });
        let krate: NewCrate = serde_json::from_value(json).unwrap();
        let rules = MetadataRules::default();
        let all = validate_metadata_all(&krate, &rules);
        // The single answer is the first of all answers.
        prop_assert_eq!(validate_metadata(&krate, &rules).err(), all.first().cloned());
    }
}

/// One archive entry: raw path, type, data.
type Raw = (String, tar::EntryType, Vec<u8>);

fn component() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "x-0.1.0",
        "x-0.1.0",
        "x-0.1.0",
        ".",
        "",
        "..",
        "Cargo.toml",
        "cargo.toml",
        "CARGO.TOML",
        "src",
        "lib.rs",
        "a\\..\\b",
        "y-0.1.0",
    ])
    .prop_map(str::to_owned)
}

fn entry() -> impl Strategy<Value = Raw> {
    (
        proptest::collection::vec(component(), 1..5),
        prop::sample::select(vec![
            tar::EntryType::Regular,
            tar::EntryType::Regular,
            tar::EntryType::Directory,
            tar::EntryType::Symlink,
            tar::EntryType::Link,
        ]),
        prop_oneof![
            Just(MANIFEST.to_vec()),
            Just(b"[patch.crates-io]\n".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..40),
        ],
    )
        .prop_map(|(parts, kind, data)| (parts.join("/"), kind, data))
}

/// A gzipped tar of `entries`, paths written byte for byte (up to 100 bytes).
fn archive(entries: &[Raw]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(*kind);
        let bytes = path.as_bytes();
        let n = bytes.len().min(100);
        h.as_old_mut().name[..n].copy_from_slice(&bytes[..n]);
        h.set_cksum();
        b.append(&h, &data[..]).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

const TAR_LIMITS: TarballLimits = TarballLimits {
    max_unpacked: MIN_UNPACKED_LIMIT,
    max_entries: Some(64),
};

proptest! {
    #![proptest_config(config())]

    /// Whatever the entries, the check never panics; what it accepts has only files and
    /// directories, all under `x-0.1.0/`, no `..`, and exactly one root manifest.
    #[test]
    fn tarball_check_never_panics_and_accepts_only_clean_archives(
        entries in proptest::collection::vec(entry(), 0..6),
        with_manifest in any::<bool>(),
    ) {
        let mut entries = entries;
        if with_manifest {
            entries.insert(0, ("x-0.1.0/Cargo.toml".into(), tar::EntryType::Regular, MANIFEST.to_vec()));
        }
        let t = archive(&entries);
        if verify_with(&t, "x", "0.1.0", &TAR_LIMITS).is_ok() {
            let mut manifests = 0;
            for (path, kind, _) in &entries {
                prop_assert!(kind.is_file() || kind.is_dir(), "{path}");
                prop_assert!(path.starts_with("x-0.1.0/") || path == "x-0.1.0", "{path}");
                prop_assert!(!path.split(['/', '\\']).any(|c| c == ".."), "{path}");
                let rel: Vec<&str> = path.split('/').skip(1).filter(|c| !c.is_empty() && *c != ".").collect();
                if rel.len() == 1 && rel[0].eq_ignore_ascii_case("cargo.toml") {
                    manifests += 1;
                }
            }
            prop_assert_eq!(manifests, 1);
        }
    }

    /// Corrupted archives are refused or accepted, never a panic.
    #[test]
    fn corrupted_tarballs_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut t = archive(&[
            ("x-0.1.0/Cargo.toml".into(), tar::EntryType::Regular, MANIFEST.to_vec()),
            ("x-0.1.0/src/lib.rs".into(), tar::EntryType::Regular, b"fn f() {}".to_vec()),
        ]);
        for (i, b) in flips {
            let i = i.index(t.len());
            t[i] = b;
        }
        if let Some(c) = cut {
            t.truncate(c.index(t.len()));
        }
        let _ = verify_with(&t, "x", "0.1.0", &TAR_LIMITS);
    }
}
