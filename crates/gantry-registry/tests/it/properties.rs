//! Property test through HTTP, on both backends: publish bodies mutated at random (framing,
//! metadata, archive bytes) are answered, never crash the server, and a refusal stores nothing:
//! no blob, no index change.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Cases per backend (each is one HTTP publish and a look at the stores).
const CASES: u32 = 64;

#[derive(Debug, Clone)]
enum Mutation {
    /// Bytes of no particular shape.
    Garbage(Vec<u8>),
    /// A valid body with bytes overwritten at random places (framing, JSON or gzip).
    Flip(Vec<(prop::sample::Index, u8)>),
    /// A valid body cut short.
    Cut(prop::sample::Index),
    /// A metadata field replaced by a random JSON string.
    Field(&'static str, String),
    /// The archive's bytes overwritten at random places, framing intact.
    ArchiveFlip(Vec<(prop::sample::Index, u8)>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let flips = || proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6);
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Mutation::Garbage),
        flips().prop_map(Mutation::Flip),
        any::<prop::sample::Index>().prop_map(Mutation::Cut),
        (
            prop::sample::select(vec![
                "name",
                "vers",
                "license",
                "description",
                "homepage",
                "rust_version"
            ]),
            "\\PC{0,20}"
        )
            .prop_map(|(f, v)| Mutation::Field(f, v)),
        flips().prop_map(Mutation::ArchiveFlip),
    ]
}

fn apply(m: &Mutation, vers: &str) -> Vec<u8> {
    let mut meta = metadata("prop", vers);
    let mut tarball = crate_file("prop", vers);
    let flip = |bytes: &mut Vec<u8>, flips: &[(prop::sample::Index, u8)]| {
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] = *b;
        }
    };
    match m {
        Mutation::Garbage(bytes) => bytes.clone(),
        Mutation::Flip(flips) => {
            let mut b = body(&meta, &tarball);
            flip(&mut b, flips);
            b
        }
        Mutation::Cut(at) => {
            let b = body(&meta, &tarball);
            b[..at.index(b.len())].to_vec()
        }
        Mutation::Field(field, value) => {
            meta[*field] = value.clone().into();
            body(&meta, &tarball)
        }
        Mutation::ArchiveFlip(flips) => {
            flip(&mut tarball, flips);
            body(&meta, &tarball)
        }
    }
}

fn refused_publishes_store_nothing(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let tok = reg.token("alice");
    assert_eq!(
        reg.publish(&tok, &publish_body("prop", "0.0.0")).status,
        200
    );
    let counter = AtomicUsize::new(1);
    let (accepted, refusals) = (AtomicUsize::new(0), AtomicUsize::new(0));
    // A fixed seed: every run checks the same cases and a failure reproduces;
    // `PROPTEST_RNG_SEED=N` explores others.
    let rng_seed = match std::env::var_os("PROPTEST_RNG_SEED") {
        Some(_) => Config::default().rng_seed,
        None => proptest::test_runner::RngSeed::Fixed(0x0000_6761_6e74_7279),
    };
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        rng_seed,
        ..Config::default()
    });
    runner
        .run(&mutation(), |m| {
            let vers = format!("0.0.{}", counter.fetch_add(1, Ordering::Relaxed));
            let (blobs, index) = (reg.blob_count(), reg.index_file("prop").text());
            let r = reg.publish(&tok, &apply(&m, &vers));
            prop_assert!(r.status < 500, "{m:?}: {} {}", r.status, r.text());
            if r.status == 200 {
                accepted.fetch_add(1, Ordering::Relaxed);
            } else {
                refusals.fetch_add(1, Ordering::Relaxed);
                prop_assert!(!r.detail().is_empty());
                prop_assert_eq!(reg.blob_count(), blobs, "{:?} stored a blob", m);
                prop_assert_eq!(reg.index_file("prop").text(), index, "{:?}", m);
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(reg.http("GET", "/health", &[], b"").status, 200);
    eprintln!(
        "publish-body properties on {backend:?}: {CASES} cases, {} refused, {} accepted",
        refusals.into_inner(),
        accepted.into_inner()
    );
}

backend_tests!(refused_publishes_store_nothing);
