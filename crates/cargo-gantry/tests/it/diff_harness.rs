//! Tests of the comparison helper itself: given a real cargo archive and doctored copies, the
//! explanation must point at the entry and field that differ.

mod support;
use std::io::Write;
use support::archive::{explain_difference, gunzip, read_entries};
use support::*;

fn cargo_crate() -> Vec<u8> {
    let fx = Fixture::new();
    fx.basic("", "foo")
        .file(&format!("src/{}.rs", "l".repeat(120)), "long\n");
    let out = Case::new(&fx)
        .args(&["--no-verify", "--offline"])
        .run_side(Side::Cargo);
    assert!(out.ok(), "{}", out.stderr);
    out.crate_bytes("foo-0.1.0.crate").to_vec()
}

fn gzip(tar: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::GzBuilder::new()
        .filename("foo-0.1.0.crate")
        .write(Vec::new(), flate2::Compression::new(level));
    e.write_all(tar).unwrap();
    e.finish().unwrap()
}

fn fix_checksum(h: &mut [u8]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:07o}\0").as_bytes());
}

#[test]
fn identical_archives_have_no_explanation() {
    let c = cargo_crate();
    assert!(explain_difference(&c, &c).is_none());
}

#[test]
fn explains_gzip_layer_difference() {
    let c = cargo_crate();
    let other = gzip(&gunzip(&c).unwrap(), 6);
    let why = explain_difference(&c, &other).unwrap();
    assert!(why.contains("gzip layer differs"), "{why}");
}

#[test]
fn explains_header_and_content_differences() {
    let c = cargo_crate();
    let mut tar = gunzip(&c).unwrap();
    let (entries, _) = read_entries(&tar).unwrap();
    assert!(
        entries.iter().any(|e| e.long_name.is_some()),
        "fixture should need a LongLink"
    );
    // Flip the mode of src/lib.rs to 0755.
    let mut pos = 0;
    while pos + 512 <= tar.len() {
        let name = String::from_utf8_lossy(&tar[pos..pos + 100]).to_string();
        let size = usize::from_str_radix(
            std::str::from_utf8(&tar[pos + 124..pos + 135])
                .unwrap()
                .trim_matches('\0'),
            8,
        )
        .unwrap_or(0);
        if name.starts_with("foo-0.1.0/src/lib.rs") {
            tar[pos + 100..pos + 108].copy_from_slice(b"0000755\0");
            fix_checksum(&mut tar[pos..pos + 512]);
        }
        if name.starts_with("foo-0.1.0/Cargo.toml\0") {
            let data = &mut tar[pos + 512..pos + 512 + size];
            if let Some(i) = data.iter().position(|b| *b == b'"') {
                data[i + 1] = b'X';
            }
        }
        if tar[pos..pos + 512].iter().all(|b| *b == 0) {
            break;
        }
        pos += 512 + size.div_ceil(512) * 512;
    }
    let why = explain_difference(&c, &gzip(&tar, 9)).unwrap();
    assert!(
        why.contains("foo-0.1.0/src/lib.rs: header field `mode` differs"),
        "{why}"
    );
    assert!(
        why.contains("foo-0.1.0/Cargo.toml: content differs"),
        "{why}"
    );
}

#[test]
fn explains_missing_entries() {
    let c = cargo_crate();
    let tar = gunzip(&c).unwrap();
    // Keep only the first entry and the end blocks.
    let size = usize::from_str_radix(std::str::from_utf8(&tar[124..135]).unwrap(), 8).unwrap();
    let mut cut = tar[..512 + size.div_ceil(512) * 512].to_vec();
    cut.extend_from_slice(&[0u8; 1024]);
    let why = explain_difference(&c, &gzip(&cut, 9)).unwrap();
    assert!(
        why.contains("entries missing from gantry's archive"),
        "{why}"
    );
}

#[test]
fn normalisation_only_touches_private_dirs_and_timings() {
    let home = std::path::Path::new("/x/home-gantry");
    let target = std::path::Path::new("/x/target-gantry");
    let s = "   Compiling foo v0.1.0 (/x/target-gantry/package/foo-0.1.0)\n    Finished `dev` profile [unoptimized + debuginfo] target(s) in 0.51s\n    Blocking waiting for file lock on package cache\nerror: at /x/home-gantry/registry\n";
    assert_eq!(
        normalize(s, home, target, std::path::Path::new("/x")),
        "   Compiling foo v0.1.0 ([TARGET]/package/foo-0.1.0)\n    Finished `dev` profile [unoptimized + debuginfo] target(s) in [ELAPSED]\nerror: at [CARGO_HOME]/registry\n"
    );
}
