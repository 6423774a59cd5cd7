//! Publish rules, auth/scopes, malformed input and races, through raw HTTP requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::*;
use gantry_registry::store::{
    BoxFut, CrateInfo, MetaStore, NewToken, PublishConflict, PublishRecord, StoreResult,
    TokenRecord, User, VersionRow,
};
use serde_json::json;
use sha2::{Digest, Sha256};

const NOT_OWNER: &str = "this crate exists but you don't seem to be an owner. If you believe this is a mistake, perhaps you need to accept an invitation to be an owner before publishing.";
const SCOPE: &str = "this token does not have the required permissions to perform this action";

/// Asserts a refused publish: status, exact detail (or prefix with a trailing `…`), nothing stored.
fn refused(reg: &TestRegistry, token: &str, body: &[u8], status: u16, detail: &str) {
    let blobs = reg.blob_count();
    let r = reg.publish(token, body);
    assert_eq!(r.status, status, "{}", r.text());
    let got = r.detail();
    match detail.strip_suffix('…') {
        Some(prefix) => assert!(
            got.starts_with(prefix),
            "got {got:?}, want prefix {prefix:?}"
        ),
        None => assert_eq!(got, detail),
    }
    assert_eq!(reg.blob_count(), blobs, "a refused publish stored a blob");
}

fn publish_index_download_and_conditional_get(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let tok = reg.token("alice");
    let tarball = crate_file("MyCrate", "1.0.0");
    let mut meta = metadata("MyCrate", "1.0.0");
    meta["features"] = json!({"a": ["dep:x"], "b": []});
    let r = reg.publish(&tok, &body(&meta, &tarball));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"warnings": {"invalid_categories": [], "invalid_badges": [], "other": []}})
    );

    let cfg = reg.http("GET", "/index/config.json", &[], b"");
    assert_eq!(cfg.status, 200);
    assert!(
        cfg.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let cfg = cfg.json();
    assert_eq!(cfg["api"], format!("http://{}", reg.addr));
    assert_eq!(cfg["auth-required"], false);
    // Advertised to gantry clients so a dry-run may use validate-only publishes.
    assert_eq!(cfg["gantry"]["validate-only"], true);
    assert_eq!(
        cfg["gantry"]["max-upload-size"],
        gantry_protocol::body::DEFAULT_MAX_UPLOAD_SIZE
    );

    let f = reg.index_file("MyCrate");
    assert_eq!(f.status, 200);
    assert!(f.header("content-type").unwrap().starts_with("text/plain"));
    assert!(f.header("cache-control").is_some());
    let line: serde_json::Value = serde_json::from_str(f.text().trim_end()).unwrap();
    let cksum = hex::encode(Sha256::digest(&tarball));
    assert_eq!(line["cksum"], cksum.as_str());
    assert_eq!(line["name"], "MyCrate");
    assert_eq!(line["features"], json!({"b": []}));
    assert_eq!(line["features2"], json!({"a": ["dep:x"]}));
    assert_eq!(line["v"], 2);
    assert!(line.get("links").is_none() && line.get("rust_version").is_none());

    let etag = f.header("etag").unwrap().to_owned();
    let r = reg.http(
        "GET",
        "/index/my/cr/mycrate",
        &[("If-None-Match", &etag)],
        b"",
    );
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(
        reg.http(
            "GET",
            "/index/my/cr/mycrate",
            &[("If-None-Match", "\"other\"")],
            b""
        )
        .status,
        200
    );
    // Wrong case or wrong directory is not a crate path.
    assert_eq!(
        reg.http("GET", "/index/My/Cr/MyCrate", &[], b"").status,
        404
    );
    assert_eq!(reg.http("GET", "/index/3/a/abc", &[], b"").status, 404);
    assert_eq!(reg.index_file("unknown-crate").status, 404);

    let dl = reg.http("GET", "/api/v1/crates/MyCrate/1.0.0/download", &[], b"");
    assert_eq!(dl.status, 200);
    assert_eq!(dl.body, tarball);
    assert_eq!(
        reg.http("GET", "/api/v1/crates/MyCrate/9.0.0/download", &[], b"")
            .status,
        404
    );

    // A yank changes the file and therefore the ETag.
    let y = reg.http(
        "DELETE",
        "/api/v1/crates/MyCrate/1.0.0/yank",
        &[("Authorization", &tok)],
        b"",
    );
    assert_eq!((y.status, y.json()), (200, json!({"ok": true})));
    let r = reg.http(
        "GET",
        "/index/my/cr/mycrate",
        &[("If-None-Match", &etag)],
        b"",
    );
    assert_eq!(r.status, 200);
    assert!(r.text().contains("\"yanked\":true"));
    // `/me` (cargo's login URL) is a page for signed-in users: others are sent to sign in first.
    let me = reg.http("GET", "/me", &[], b"");
    assert_eq!(
        (me.status, me.header("location")),
        (303, Some("/login?next=%2Fme"))
    );
}

fn crate_name_rules(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let tok = reg.token("alice");
    let cases: &[(&str, &str)] = &[
        (
            "1abc",
            "the name `1abc` cannot be used as a crate name, the name cannot start with a digit",
        ),
        (
            "_abc",
            "invalid character `_` in crate name: `_abc`, the first character must be an ASCII character",
        ),
        (
            "ab.cd",
            "invalid character `.` in crate name: `ab.cd`, characters must be an ASCII alphanumeric characters, `-`, or `_`",
        ),
        ("", "crate name cannot be empty"),
        ("nul", "cannot upload a crate with a reserved name"),
        ("Proc-Macro", "cannot upload a crate with a reserved name"),
    ];
    for (name, detail) in cases {
        refused(&reg, &tok, &publish_body(name, "0.1.0"), 400, detail);
    }
    let long = "a".repeat(65);
    refused(
        &reg,
        &tok,
        &publish_body(&long, "0.1.0"),
        400,
        &format!("the crate name `{long}` is too long (max 64 characters)"),
    );
    assert_eq!(reg.blob_count(), 0);
}

fn canonical_collisions_and_versions(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let alice = reg.token("alice");
    let bob = reg.token("bob");
    assert_eq!(
        reg.publish(&alice, &publish_body("Foo-bar", "1.0.0"))
            .status,
        200
    );
    refused(
        &reg,
        &bob,
        &publish_body("foo_bar", "2.0.0"),
        403,
        NOT_OWNER,
    );
    refused(
        &reg,
        &alice,
        &publish_body("foo_bar", "2.0.0"),
        400,
        "crate was previously named `Foo-bar`",
    );
    refused(
        &reg,
        &alice,
        &publish_body("Foo-bar", "1.0.0"),
        400,
        "crate version `1.0.0` is already uploaded",
    );
    refused(
        &reg,
        &alice,
        &publish_body("Foo-bar", "1.0.0+build.2"),
        400,
        "crate version `1.0.0` is already uploaded",
    );
    refused(
        &reg,
        &alice,
        &publish_body("Foo-bar", "1.0"),
        400,
        "\"1.0\" is an invalid semver version",
    );
    // Metadata and manifest must agree.
    let b = body(
        &metadata("Foo-bar", "3.0.0"),
        &crate_file("Foo-bar", "3.0.1"),
    );
    refused(
        &reg,
        &alice,
        &b,
        400,
        "invalid path found: Foo-bar-3.0.1/Cargo.toml",
    );
    let m = manifest("Foo-bar", "3.0.1");
    let t = tar_gz(&[Entry::File("Foo-bar-3.0.0/Cargo.toml", m.as_bytes())]);
    refused(
        &reg,
        &alice,
        &body(&metadata("Foo-bar", "3.0.0"), &t),
        400,
        "metadata version `3.0.0` does not match manifest version `3.0.1`",
    );
    let m = manifest("Foo-baz", "3.0.0");
    let t = tar_gz(&[Entry::File("Foo-bar-3.0.0/Cargo.toml", m.as_bytes())]);
    refused(
        &reg,
        &alice,
        &body(&metadata("Foo-bar", "3.0.0"), &t),
        400,
        "metadata name `Foo-bar` does not match manifest name `Foo-baz`",
    );
    assert_eq!(
        reg.publish(&alice, &publish_body("Foo-bar", "1.0.1+meta"))
            .status,
        200
    );
    let lines = reg.index_lines("foo-bar");
    let vers: Vec<_> = lines.iter().map(|l| l["vers"].as_str().unwrap()).collect();
    assert_eq!(vers, ["1.0.0", "1.0.1+meta"]);
}

fn metadata_rules(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let tok = reg.token("alice");
    assert_eq!(
        reg.publish(&tok, &publish_body("dep-a", "1.0.0")).status,
        200
    );
    let check = |edit: &dyn Fn(&mut serde_json::Value), detail: &str| {
        let mut meta = metadata("meta-crate", "0.1.0");
        edit(&mut meta);
        refused(
            &reg,
            &tok,
            &body(&meta, &crate_file("meta-crate", "0.1.0")),
            400,
            detail,
        );
    };
    check(
        &|m| {
            m["description"] = json!(null);
            m["license"] = json!(null);
        },
        "missing or empty metadata fields: description, license. Please see https://doc.rust-lang.org/cargo/reference/manifest.html for more information on configuring these fields",
    );
    check(
        &|m| m["description"] = json!("x".repeat(1001)),
        "The `description` is too long. A maximum of 1000 characters are currently allowed.",
    );
    check(
        &|m| m["license"] = json!("MIT OR Bogus-1.0"),
        "unknown or invalid license expression; see http://opensource.org/licenses for options…",
    );
    check(
        &|m| m["homepage"] = json!("ftp://example.com"),
        "URL for field `homepage` must begin with http:// or https:// (url: ftp://example.com)",
    );
    check(
        &|m| m["repository"] = json!("https://"),
        "`repository` is not a valid url: `https://`",
    );
    check(
        &|m| m["keywords"] = json!(["a", "b", "c", "d", "e", "f"]),
        "expected at most 5 keywords per crate",
    );
    check(
        &|m| m["keywords"] = json!(["x".repeat(21)]),
        &format!(
            "\"{}\" is an invalid keyword (keywords must have less than 20 characters)",
            "x".repeat(21)
        ),
    );
    check(
        &|m| m["keywords"] = json!(["-bad"]),
        "\"-bad\" is an invalid keyword",
    );
    check(
        &|m| m["categories"] = json!(["a", "b", "c", "d", "e", "f"]),
        "expected at most 5 categories per crate",
    );
    check(
        &|m| m["categories"] = json!(["no-such-category"]),
        "The following category slugs are not currently supported on crates.io: no-such-category\n\nSee https://crates.io/category_slugs for a list of supported slugs.",
    );
    check(
        &|m| m["rust_version"] = json!("1.x"),
        "failed to parse `Cargo.toml` manifest file\n\ninvalid `rust-version` value",
    );
    check(
        &|m| m["features"] = json!({"bad name": []}),
        "\"bad name\" is an invalid feature name…",
    );
    check(
        &|m| {
            let f: serde_json::Map<_, _> = (0..301).map(|i| (format!("f{i}"), json!([]))).collect();
            m["features"] = json!(f);
        },
        "crates.io only allows a maximum number of 300 features…",
    );
    let dep = |name: &str, req: &str| json!([{"optional": false, "default_features": true, "name": name, "features": [], "version_req": req, "target": null, "kind": "normal"}]);
    check(
        &|m| m["deps"] = dep("dep-a", "*"),
        "wildcard (`*`) dependency constraints are not allowed on crates.io. Crate with this problem: `dep-a`…",
    );
    check(
        &|m| m["deps"] = dep("dep-a", "not a req"),
        "\"not a req\" is an invalid version requirement",
    );
    check(
        &|m| m["deps"] = dep("dep_a", "^1"),
        "no known crate named `dep_a`",
    );
    check(
        &|m| m["deps"] = dep("1dep", "^1"),
        "the name `1dep` cannot be used as a dependency name, the name cannot start with a digit",
    );
    check(
        &|m| {
            let d: Vec<_> = (0..501)
                .map(|i| dep(&format!("d{i}"), "^1")[0].clone())
                .collect();
            m["deps"] = json!(d);
        },
        "crates.io only allows a maximum number of 500 dependencies.…",
    );
    // A dependency from another registry is allowed (e.g. crates.io); the same-registry one must exist.
    let mut meta = metadata("meta-crate", "0.1.0");
    meta["deps"] = json!([dep("dep-a", "^1")[0], {"name": "serde", "version_req": "^1", "registry": "https://github.com/rust-lang/crates.io-index"}]);
    meta["license"] = json!("MIT/Apache-2.0");
    meta["categories"] = json!(["development-tools::cargo-plugins"]);
    let r = reg.publish(&tok, &body(&meta, &crate_file("meta-crate", "0.1.0")));
    assert_eq!(r.status, 200, "{}", r.text());
    let line = &reg.index_lines("meta-crate")[0];
    assert_eq!(
        line["deps"][1]["registry"],
        "https://github.com/rust-lang/crates.io-index"
    );
}

fn size_limits(backend: Backend) {
    let reg = TestRegistry::start_with(backend, |c| c.max_upload_size = 2048);
    let tok = reg.token("alice");
    let mut meta = metadata("big", "0.1.0");
    meta["readme"] = json!("x".repeat(1024 * 1024 + 1));
    refused(
        &reg,
        &tok,
        &body(&meta, &crate_file("big", "0.1.0")),
        413,
        "JSON metadata blob too large",
    );
    refused(
        &reg,
        &tok,
        &body(&metadata("big", "0.1.0"), &vec![0x1f; 4096]),
        413,
        "max upload size is: 2048",
    );
    // A declared size over the limit is refused before the body is read.
    let mut b = 2u32.to_le_bytes().to_vec();
    b.extend_from_slice(b"{}");
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    refused(&reg, &tok, &b, 413, "max upload size is: 2048");
    assert_eq!(reg.http("GET", "/index/config.json", &[], b"").status, 200);
}

fn tarball_structure(backend: Backend) {
    let reg = TestRegistry::start_with(backend, |c| c.max_unpacked_size = Some(256 * 1024));
    let tok = reg.token("alice");
    let m = manifest("tb", "0.1.0");
    let mb = m.as_bytes();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"not gzip at all".to_vec(),
            "uploaded tarball is malformed or too large when decompressed",
        ),
        (
            gz(b"gzip but not a tar archive, just some text that is long enough"),
            "uploaded tarball is malformed",
        ),
        (
            tar_gz(&[
                Entry::File("tb-0.1.0/Cargo.toml", mb),
                Entry::RawPath(b"tb-0.1.0/../evil", b"x"),
            ]),
            "invalid path found: tb-0.1.0/../evil",
        ),
        (
            tar_gz(&[Entry::RawPath(b"/etc/passwd", b"x")]),
            "invalid path found: /etc/passwd",
        ),
        (
            tar_gz(&[Entry::File("other-0.1.0/Cargo.toml", mb)]),
            "invalid path found: other-0.1.0/Cargo.toml",
        ),
        (
            tar_gz(&[
                Entry::File("tb-0.1.0/Cargo.toml", mb),
                Entry::Symlink("tb-0.1.0/link", "/etc/passwd"),
            ]),
            "unexpected tar entry type `Symlink` found: tb-0.1.0/link\n…",
        ),
        (
            tar_gz(&[Entry::File("tb-0.1.0/src/lib.rs", b"")]),
            "uploaded tarball is missing a `Cargo.toml` manifest file",
        ),
        (
            tar_gz(&[
                Entry::File("tb-0.1.0/Cargo.toml", mb),
                Entry::File("tb-0.1.0/cargo.toml", mb),
            ]),
            "uploaded tarball contains more than one `Cargo.toml` manifest file: \
             tb-0.1.0/Cargo.toml, tb-0.1.0/cargo.toml",
        ),
        (
            tar_gz(&[Entry::File("tb-0.1.0/CARGO.toml", mb)]),
            "uploaded tarball contains an incorrectly cased `Cargo.toml` manifest file: tb-0.1.0/CARGO.toml",
        ),
        (
            tar_gz(&[Entry::File(
                "tb-0.1.0/Cargo.toml",
                format!("{m}\n[patch.crates-io]\nx = {{ path = \"x\" }}\n").as_bytes(),
            )]),
            "crates cannot be published with `[patch]` tables",
        ),
        (
            tar_gz(&[Entry::File(
                "tb-0.1.0/Cargo.toml",
                b"[package]\nname = \"tb\"\nversion.workspace = true\n",
            )]),
            "failed to parse `Cargo.toml` manifest file\n\nvalue from workspace hasn't been set",
        ),
        (
            tar_gz(&[Entry::File("tb-0.1.0/Cargo.toml", b"not = [toml")]),
            "failed to parse `Cargo.toml` manifest file…",
        ),
        // Decompression bomb: a few KiB that inflate past the limit.
        (
            tar_gz(&[
                Entry::File("tb-0.1.0/Cargo.toml", mb),
                Entry::File("tb-0.1.0/zeros", &vec![0u8; 2 * 1024 * 1024]),
            ]),
            "uploaded tarball is malformed or too large when decompressed",
        ),
    ];
    for (tarball, detail) in cases {
        refused(
            &reg,
            &tok,
            &body(&metadata("tb", "0.1.0"), &tarball),
            400,
            detail,
        );
    }
    assert_eq!(reg.index_file("tb").status, 404);
    assert_eq!(reg.publish(&tok, &publish_body("tb", "0.1.0")).status, 200);
}

/// Issue 12 defect 2: entry paths are compared the way an unpacker resolves them. A second
/// manifest spelled `./Cargo.toml` or `Cargo.toml/` would replace the checked one when cargo
/// unpacks the crate, so it is refused, naming both entries.
fn tarball_paths_are_compared_after_normalisation(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let tok = reg.token("alice");
    let m = manifest("tb", "0.1.0");
    let evil = format!("{m}[lib]\npath = \"evil.rs\"\n");
    let meta = metadata("tb", "0.1.0");
    for second in [
        "tb-0.1.0/./Cargo.toml",
        "tb-0.1.0/Cargo.toml/",
        "tb-0.1.0//Cargo.toml",
    ] {
        let t = tar_gz(&[
            Entry::File("tb-0.1.0/Cargo.toml", m.as_bytes()),
            Entry::RawPath(second.as_bytes(), evil.as_bytes()),
        ]);
        let detail = format!(
            "uploaded tarball contains more than one entry for `tb-0.1.0/Cargo.toml`: \
             `tb-0.1.0/Cargo.toml` and `{second}`"
        );
        refused(&reg, &tok, &body(&meta, &t), 400, &detail);
    }
    let t = tar_gz(&[
        Entry::File("tb-0.1.0/Cargo.toml", m.as_bytes()),
        Entry::RawPath(b"tb-0.1.0/./CARGO.TOML", evil.as_bytes()),
    ]);
    refused(
        &reg,
        &tok,
        &body(&meta, &t),
        400,
        "uploaded tarball contains more than one `Cargo.toml` manifest file: \
         tb-0.1.0/Cargo.toml, tb-0.1.0/./CARGO.TOML",
    );
    // A manifest spelled `./Cargo.toml` is the manifest, and is checked as such.
    let patched = format!("{m}[patch.crates-io]\nx = {{ path = \"x\" }}\n");
    let t = tar_gz(&[Entry::RawPath(b"tb-0.1.0/./Cargo.toml", patched.as_bytes())]);
    refused(
        &reg,
        &tok,
        &body(&meta, &t),
        400,
        "crates cannot be published with `[patch]` tables",
    );
    assert_eq!(reg.index_file("tb").status, 404);
    assert_eq!(reg.publish(&tok, &publish_body("tb", "0.1.0")).status, 200);
}

/// Issue 12 defect 3: a `Cargo.toml` over 10 MiB is refused; it used to be checked on its first
/// 10 MiB only, so `[patch]` (or broken TOML) after a long comment passed.
fn oversized_manifest_is_refused(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let tok = reg.token("alice");
    let limit = gantry_protocol::tarball::MAX_MANIFEST_SIZE as usize;
    let mut m = manifest("big-toml", "0.1.0").into_bytes();
    m.push(b'#');
    m.resize(limit, b' ');
    m.extend_from_slice(b"\n[patch.crates-io]\nx = { path = \"x\" }\n");
    let t = tar_gz(&[Entry::File("big-toml-0.1.0/Cargo.toml", &m)]);
    refused(
        &reg,
        &tok,
        &body(&metadata("big-toml", "0.1.0"), &t),
        400,
        &format!(
            "the `Cargo.toml` manifest file big-toml-0.1.0/Cargo.toml is larger than the limit \
             of {limit} bytes"
        ),
    );
    assert_eq!(reg.index_file("big-toml").status, 404);
}

fn malformed_bodies_keep_the_server_serving(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let tok = reg.token("alice");
    let good = publish_body("mal", "0.1.0");
    for n in [0, 3, 4, 10, good.len() - 1] {
        let r = reg.publish(&tok, &good[..n]);
        assert_eq!(r.status, 400, "prefix {n}: {}", r.text());
        assert!(
            r.detail().starts_with("invalid metadata length")
                || r.detail().starts_with("invalid tarball length"),
            "{}",
            r.detail()
        );
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(reg.publish(&tok, &trailing).status, 400);
    let mut bigger = 100u32.to_le_bytes().to_vec();
    bigger.extend_from_slice(b"{}");
    refused(
        &reg,
        &tok,
        &bigger,
        400,
        "invalid metadata length for remaining payload: 100",
    );
    refused(
        &reg,
        &tok,
        &gantry_protocol::encode_publish_body(&[0xff, 0xfe, b'{'], b"x"),
        400,
        "invalid upload request: …",
    );
    refused(
        &reg,
        &tok,
        &gantry_protocol::encode_publish_body(b"{\"name\":", b"x"),
        400,
        "invalid upload request: …",
    );
    refused(
        &reg,
        &tok,
        &gantry_protocol::encode_publish_body(b"[1,2]", b"x"),
        400,
        "invalid upload request: …",
    );
    // Garbage that is not even HTTP, then a normal request.
    {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(reg.addr).unwrap();
        let _ = s.write_all(b"\x00\x01\x02 garbage\r\n\r\n");
    }
    assert_eq!(reg.http("GET", "/index/config.json", &[], b"").status, 200);
    assert_eq!(reg.publish(&tok, &good).status, 200);
}

fn authentication_and_scopes(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    reg.user("alice");
    reg.user("bob");
    let all = reg.token_with("alice", None, &[], None);
    let body_a = publish_body("scoped", "0.1.0");
    let r = reg.http("PUT", "/api/v1/crates/new", &[], &body_a);
    assert_eq!(
        (r.status, r.detail().as_str()),
        (403, "this action requires authentication")
    );
    refused(
        &reg,
        "gtyNOTAREALTOKEN",
        &body_a,
        403,
        "authentication failed",
    );
    refused(
        &reg,
        "Basic abc def",
        &body_a,
        401,
        "Invalid `Authorization` header: unsupported scheme",
    );
    let expired = reg.token_with("alice", None, &[], Some(1));
    refused(&reg, &expired, &body_a, 403, "authentication failed");
    let update_only = reg.token_with("alice", Some(&["publish-update"]), &[], None);
    refused(&reg, &update_only, &body_a, 403, SCOPE);
    let wrong_crate = reg.token_with("alice", Some(&["publish-new"]), &["other-*"], None);
    refused(&reg, &wrong_crate, &body_a, 403, SCOPE);
    let new_only = reg.token_with("alice", Some(&["publish-new"]), &["scop*"], None);
    assert_eq!(
        reg.publish(&format!("Bearer {new_only}"), &body_a).status,
        200
    );
    refused(
        &reg,
        &new_only,
        &publish_body("scoped", "0.2.0"),
        403,
        SCOPE,
    );
    assert_eq!(
        reg.publish(&update_only, &publish_body("scoped", "0.2.0"))
            .status,
        200
    );

    // Yank needs the yank scope and ownership.
    let y = |tok: &str| {
        reg.http(
            "DELETE",
            "/api/v1/crates/scoped/0.1.0/yank",
            &[("Authorization", tok)],
            b"",
        )
    };
    assert_eq!(
        (y(&update_only).status, y(&update_only).detail()),
        (403, SCOPE.to_owned())
    );
    let bob = reg.token_with("bob", None, &[], None);
    assert_eq!(
        y(&bob).detail(),
        "must already be an owner to yank or unyank"
    );
    assert_eq!(
        reg.http("DELETE", "/api/v1/crates/scoped/0.1.0/yank", &[], b"")
            .status,
        403
    );
    assert_eq!(y(&all).status, 200);
    let r = reg.http(
        "DELETE",
        "/api/v1/crates/scoped/9.9.9/yank",
        &[("Authorization", &all)],
        b"",
    );
    assert_eq!(
        (r.status, r.detail().as_str()),
        (404, "crate `scoped` does not have a version `9.9.9`")
    );
    let r = reg.http(
        "DELETE",
        "/api/v1/crates/nope/1.0.0/yank",
        &[("Authorization", &all)],
        b"",
    );
    assert_eq!(
        (r.status, r.detail().as_str()),
        (404, "crate `nope` does not exist")
    );
    let u = reg.http(
        "PUT",
        "/api/v1/crates/scoped/0.1.0/unyank",
        &[("Authorization", &all)],
        b"",
    );
    assert_eq!(u.status, 200);
    assert!(
        reg.index_lines("scoped")
            .iter()
            .all(|l| l["yanked"] == false)
    );

    // Owners: change-owners scope and ownership.
    let owners_body = json!({"users": ["bob"]}).to_string();
    let o = |tok: &str, m: &str| {
        reg.http(
            m,
            "/api/v1/crates/scoped/owners",
            &[("Authorization", tok), ("Content-Type", "application/json")],
            owners_body.as_bytes(),
        )
    };
    assert_eq!(o(&update_only, "PUT").detail(), SCOPE);
    assert_eq!(
        o(&bob, "PUT").detail(),
        "only owners have permission to modify owners"
    );
    let r = reg.http(
        "PUT",
        "/api/v1/crates/scoped/owners",
        &[("Authorization", &all)],
        br#"{"users":["nobody"]}"#,
    );
    assert_eq!(
        (r.status, r.detail().as_str()),
        (400, "could not find user with login `nobody`")
    );
    let r = o(&all, "PUT");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"ok": true, "msg": "user bob has been invited to be an owner of crate scoped"})
    );
    // Bob owns it once he accepts the invitation.
    let invites = reg.http(
        "GET",
        "/api/v1/me/crate_owner_invitations",
        &[("Authorization", &bob)],
        b"",
    );
    let id = invites.json()["crate_owner_invitations"][0]["crate_id"].clone();
    let accept = reg.http(
        "PUT",
        &format!("/api/v1/me/crate_owner_invitations/{id}"),
        &[("Authorization", &bob)],
        json!({"crate_owner_invite": {"crate_id": id, "accepted": true}})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(accept.status, 200, "{}", accept.text());
    let list = reg
        .http("GET", "/api/v1/crates/scoped/owners", &[], b"")
        .json();
    let logins: Vec<_> = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["login"].as_str().unwrap())
        .collect();
    assert_eq!(logins, ["alice", "bob"]);
    assert_eq!(
        reg.publish(&bob, &publish_body("scoped", "0.3.0")).status,
        200
    );
    let r = reg.http(
        "DELETE",
        "/api/v1/crates/scoped/owners",
        &[("Authorization", &all)],
        br#"{"users":["alice","bob"]}"#,
    );
    assert_eq!(r.status, 400);
    assert!(
        r.detail()
            .starts_with("cannot remove all individual owners of a crate.")
    );
    let r = reg.http(
        "DELETE",
        "/api/v1/crates/scoped/owners",
        &[("Authorization", &all)],
        br#"{"users":["bob"]}"#,
    );
    assert_eq!(
        r.json(),
        json!({"ok": true, "msg": "owners successfully removed"})
    );
    refused(&reg, &bob, &publish_body("scoped", "0.4.0"), 403, NOT_OWNER);

    // Search.
    let s = reg
        .http("GET", "/api/v1/crates?q=scop&per_page=5", &[], b"")
        .json();
    assert_eq!(s["meta"]["total"], 1);
    assert_eq!(s["crates"][0]["name"], "scoped");
    assert_eq!(s["crates"][0]["max_version"], "0.3.0");
    let r = reg.http("GET", "/api/v1/crates?q=x&per_page=101", &[], b"");
    assert_eq!(
        (r.status, r.detail().as_str()),
        (400, "cannot request more than 100 items")
    );
}

/// Issue 12 defect 1: a token given crate patterns but no scopes may use every endpoint, but only
/// on the crates its patterns match (before the fix it could act on every crate).
fn crate_patterns_bind_tokens_without_scopes(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let all = reg.token("alice");
    reg.user("bob");
    assert_eq!(
        reg.publish(&all, &publish_body("mine", "0.1.0")).status,
        200
    );
    let other_only = reg.token_with("alice", None, &["other-*"], None);

    refused(
        &reg,
        &other_only,
        &publish_body("mine-new", "0.1.0"),
        403,
        SCOPE,
    );
    refused(
        &reg,
        &other_only,
        &publish_body("mine", "0.2.0"),
        403,
        SCOPE,
    );
    let auth = [("Authorization", other_only.as_str())];
    let r = reg.http("DELETE", "/api/v1/crates/mine/0.1.0/yank", &auth, b"");
    assert_eq!((r.status, r.detail().as_str()), (403, SCOPE));
    let r = reg.http("PUT", "/api/v1/crates/mine/0.1.0/unyank", &auth, b"");
    assert_eq!((r.status, r.detail().as_str()), (403, SCOPE));
    let owners = br#"{"users":["bob"]}"#;
    for method in ["PUT", "DELETE"] {
        let r = reg.http(method, "/api/v1/crates/mine/owners", &auth, owners);
        assert_eq!((r.status, r.detail().as_str()), (403, SCOPE), "{method}");
    }
    assert_eq!(reg.index_lines("mine").len(), 1);
    assert!(reg.index_lines("mine").iter().all(|l| l["yanked"] == false));
    assert_eq!(reg.index_file("mine-new").status, 404);

    // On a matching crate the same token may do everything.
    assert_eq!(
        reg.publish(&other_only, &publish_body("other-x", "0.1.0"))
            .status,
        200
    );
    assert_eq!(
        reg.publish(&other_only, &publish_body("other-x", "0.2.0"))
            .status,
        200
    );
    let r = reg.http("DELETE", "/api/v1/crates/other-x/0.1.0/yank", &auth, b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = reg.http("PUT", "/api/v1/crates/other-x/owners", &auth, owners);
    assert_eq!(r.status, 200, "{}", r.text());
}

fn validate_only_runs_every_check_and_stores_nothing(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let alice = reg.token("alice");
    let bob = reg.token("bob");
    let path = "/api/v1/crates/new?validate_only=true";
    let r = reg.http(
        "PUT",
        path,
        &[("Authorization", &alice)],
        &publish_body("vo", "0.1.0"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(reg.index_file("vo").status, 404);
    assert_eq!(reg.blob_count(), 0);
    assert_eq!(
        reg.http("PUT", path, &[], &publish_body("vo", "0.1.0"))
            .status,
        403
    );
    assert_eq!(
        reg.http(
            "PUT",
            path,
            &[("Authorization", &alice)],
            &publish_body("nul", "0.1.0")
        )
        .status,
        400
    );
    assert_eq!(
        reg.publish(&alice, &publish_body("vo", "0.1.0")).status,
        200
    );
    let r = reg.http(
        "PUT",
        path,
        &[("Authorization", &bob)],
        &publish_body("vo", "0.2.0"),
    );
    assert_eq!((r.status, r.detail().as_str()), (403, NOT_OWNER));
    let r = reg.http(
        "PUT",
        path,
        &[("Authorization", &alice)],
        &publish_body("vo", "0.1.0+x"),
    );
    assert_eq!(r.detail(), "crate version `0.1.0` is already uploaded");
    assert_eq!(reg.index_lines("vo").len(), 1);
    assert_eq!(reg.blob_count(), 1);
}

fn auth_required_guards_index_downloads_and_search(backend: Backend) {
    let reg = TestRegistry::start(backend, true);
    let tok = reg.token("alice");
    let r = reg.http("GET", "/index/config.json", &[], b"");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate").unwrap(),
        format!("Cargo login_url=\"http://{}/me\"", reg.addr)
    );
    let r = reg.http("GET", "/index/config.json", &[("Authorization", &tok)], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["auth-required"], true);
    assert_eq!(
        reg.http(
            "GET",
            "/index/config.json",
            &[("Authorization", "gtywrong")],
            b""
        )
        .status,
        401
    );
    assert_eq!(
        reg.publish(&tok, &publish_body("priv", "0.1.0")).status,
        200
    );
    assert_eq!(reg.http("GET", "/index/pr/iv/priv", &[], b"").status, 401);
    assert_eq!(
        reg.http("GET", "/index/pr/iv/priv", &[("Authorization", &tok)], b"")
            .status,
        200
    );
    assert_eq!(
        reg.http("GET", "/api/v1/crates/priv/0.1.0/download", &[], b"")
            .status,
        401
    );
    assert_eq!(
        reg.http(
            "GET",
            "/api/v1/crates/priv/0.1.0/download",
            &[("Authorization", &tok)],
            b""
        )
        .status,
        200
    );
    assert_eq!(
        reg.http("GET", "/api/v1/crates?q=priv", &[], b"").status,
        401
    );
    assert_eq!(
        reg.http(
            "GET",
            "/api/v1/crates?q=priv",
            &[("Authorization", &tok)],
            b""
        )
        .status,
        200
    );
}

fn concurrent_duplicate_publishes_have_exactly_one_winner(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let tok = reg.token("alice");
    let addr = reg.addr;
    let run = |bodies: Vec<Vec<u8>>| -> Vec<(u16, String)> {
        let handles: Vec<_> = bodies
            .into_iter()
            .map(|b| {
                let tok = tok.clone();
                std::thread::spawn(move || {
                    let r = http(
                        addr,
                        "PUT",
                        "/api/v1/crates/new",
                        &[("Authorization", &tok)],
                        &b,
                    );
                    let d = if r.status == 200 {
                        String::new()
                    } else {
                        r.detail()
                    };
                    (r.status, d)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    };
    // Same name and version, 8 times.
    let results = run((0..8).map(|_| publish_body("race", "1.0.0")).collect());
    assert_eq!(
        results.iter().filter(|r| r.0 == 200).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .filter(|r| r.0 != 200)
            .all(|r| r.1 == "crate version `1.0.0` is already uploaded"),
        "{results:?}"
    );
    assert_eq!(reg.index_lines("race").len(), 1);

    // `-`/`_` spellings of a new crate, and `+build` twins.
    let results = run((0..8)
        .map(|i| {
            if i % 2 == 0 {
                publish_body("twin-name", "1.0.0")
            } else {
                publish_body("twin_name", "1.0.0")
            }
        })
        .collect());
    assert_eq!(
        results.iter().filter(|r| r.0 == 200).count(),
        1,
        "{results:?}"
    );
    let lines = reg.index_lines("twin-name");
    assert_eq!(lines.len(), 1);
    let winner = lines[0]["name"].as_str().unwrap().to_owned();
    for (status, detail) in results.iter().filter(|r| r.0 != 200) {
        assert_eq!(*status, 400);
        assert!(
            detail == "crate version `1.0.0` is already uploaded"
                || *detail == format!("crate was previously named `{winner}`"),
            "{detail}"
        );
    }
    let results = run((0..8)
        .map(|i| publish_body("race", &format!("2.0.0+b{i}")))
        .collect());
    assert_eq!(
        results.iter().filter(|r| r.0 == 200).count(),
        1,
        "{results:?}"
    );
    assert_eq!(reg.index_lines("race").len(), 2);

    // Different versions at once: none lost.
    let results = run((0..8)
        .map(|i| publish_body("race", &format!("3.0.{i}")))
        .collect());
    assert!(results.iter().all(|r| r.0 == 200), "{results:?}");
    assert_eq!(reg.index_lines("race").len(), 10);
}

/// A blob store whose writes fail: the publish must fail and leave no visible version.
struct FailingBlobs;

impl gantry_registry::blob::BlobStore for FailingBlobs {
    fn put<'a>(
        &'a self,
        _: &'a str,
        _: Vec<u8>,
    ) -> gantry_registry::blob::BoxFut<
        'a,
        Result<gantry_registry::blob::Stored, gantry_registry::blob::BlobError>,
    > {
        Box::pin(async {
            Err(gantry_registry::blob::BlobError::Store {
                context: "storing a .crate".into(),
                source: object_store::Error::Generic {
                    store: "test",
                    source: "disk full".into(),
                },
            })
        })
    }
    fn get<'a>(
        &'a self,
        _: &'a str,
    ) -> gantry_registry::blob::BoxFut<'a, Result<Option<Vec<u8>>, gantry_registry::blob::BlobError>>
    {
        Box::pin(async { Ok(None) })
    }
    fn list_crates(
        &self,
    ) -> gantry_registry::blob::BoxFut<
        '_,
        Result<Vec<gantry_registry::blob::BlobMeta>, gantry_registry::blob::BlobError>,
    > {
        Box::pin(async { Ok(vec![]) })
    }
    fn delete<'a>(
        &'a self,
        _: &'a str,
    ) -> gantry_registry::blob::BoxFut<'a, Result<(), gantry_registry::blob::BlobError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Creates `login` and a token for it with the given scopes (None: all), straight in the store.
async fn user_and_token(store: &dyn MetaStore, login: &str, scopes: Option<&[&str]>) -> String {
    let user = store.create_user(login).await.unwrap();
    let token = gantry_registry::auth::generate_token();
    let new = NewToken {
        user_id: user.id,
        name: "t".into(),
        hash: gantry_registry::auth::hash_token(&token),
        scopes: scopes.map(|s| s.iter().map(|s| s.to_string()).collect()),
        crate_patterns: vec![],
        expires_at: None,
    };
    store.create_token(&new).await.unwrap();
    token
}

fn failed_blob_write_publishes_nothing(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::fresh(backend, dir.path().join("data"));
    let config = storage.config();
    let rt = runtime();
    // The backend's real metadata store, with a blob store that always fails.
    let (store, _) = rt
        .block_on(gantry_registry::app::open_storage(&config))
        .unwrap();
    let token = rt.block_on(user_and_token(store.as_ref(), "alice", None));
    let server = rt
        .block_on(gantry_registry::server::start_with_storage(
            config,
            store,
            std::sync::Arc::new(FailingBlobs),
            None::<std::future::Pending<()>>,
        ))
        .unwrap();
    let addr = server.addr;
    let r = http(
        addr,
        "PUT",
        "/api/v1/crates/new",
        &[("Authorization", &token)],
        &publish_body("lost", "0.1.0"),
    );
    assert_eq!(r.status, 500);
    assert_eq!(r.detail(), "internal server error");
    assert_eq!(http(addr, "GET", "/index/lo/st/lost", &[], b"").status, 404);
    // The version was not half-created: a later publish is not "already uploaded" but fails the same way.
    let r = http(
        addr,
        "PUT",
        "/api/v1/crates/new",
        &[("Authorization", &token)],
        &publish_body("lost", "0.1.0"),
    );
    assert_eq!(r.status, 500);
    rt.block_on(server.stop()).unwrap();
}

/// The backend's real store, except that the first `n` crate lookups (the publish pre-checks of
/// `n` racing publishes) wait until all `n` have been answered: each request then decides from a
/// world where the crate does not exist yet, as requests arriving at the same moment would. Then
/// one of them goes on alone, and the others wait until its publish has finished: what they do
/// after their lookup meets a store the first publish has already changed, in every run.
pub(crate) struct LookupsMeet {
    inner: Arc<dyn MetaStore>,
    n: usize,
    lookups: AtomicUsize,
    barrier: tokio::sync::Barrier,
    first_published: tokio::sync::watch::Sender<bool>,
}

impl LookupsMeet {
    pub(crate) fn new(inner: Arc<dyn MetaStore>, n: usize) -> Self {
        LookupsMeet {
            inner,
            n,
            lookups: AtomicUsize::new(0),
            barrier: tokio::sync::Barrier::new(n),
            first_published: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl MetaStore for LookupsMeet {
    fn crate_by_name<'a>(&'a self, name: &'a str) -> BoxFut<'a, StoreResult<Option<CrateInfo>>> {
        Box::pin(async move {
            let found = self.inner.crate_by_name(name).await;
            if self.lookups.fetch_add(1, Ordering::SeqCst) < self.n
                && !self.barrier.wait().await.is_leader()
            {
                let mut done = self.first_published.subscribe();
                done.wait_for(|published| *published).await.ok();
            }
            found
        })
    }
    fn ping(&self) -> BoxFut<'_, StoreResult<()>> {
        self.inner.ping()
    }
    fn schema_version(&self) -> BoxFut<'_, StoreResult<Option<i64>>> {
        self.inner.schema_version()
    }
    fn create_user<'a>(&'a self, login: &'a str) -> BoxFut<'a, StoreResult<User>> {
        self.inner.create_user(login)
    }
    fn list_users(&self) -> BoxFut<'_, StoreResult<Vec<User>>> {
        self.inner.list_users()
    }
    fn user_by_login<'a>(&'a self, login: &'a str) -> BoxFut<'a, StoreResult<Option<User>>> {
        self.inner.user_by_login(login)
    }
    fn create_token<'a>(&'a self, token: &'a NewToken) -> BoxFut<'a, StoreResult<i64>> {
        self.inner.create_token(token)
    }
    fn list_tokens<'a>(
        &'a self,
        user_id: Option<i64>,
    ) -> BoxFut<'a, StoreResult<Vec<TokenRecord>>> {
        self.inner.list_tokens(user_id)
    }
    fn revoke_token(&self, id: i64) -> BoxFut<'_, StoreResult<bool>> {
        self.inner.revoke_token(id)
    }
    fn token_by_hash<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFut<'a, StoreResult<Option<TokenRecord>>> {
        self.inner.token_by_hash(hash)
    }
    fn is_owner(&self, crate_id: i64, user_id: i64) -> BoxFut<'_, StoreResult<bool>> {
        self.inner.is_owner(crate_id, user_id)
    }
    fn owners(&self, crate_id: i64) -> BoxFut<'_, StoreResult<Vec<User>>> {
        self.inner.owners(crate_id)
    }
    fn add_owner(&self, crate_id: i64, user_id: i64) -> BoxFut<'_, StoreResult<()>> {
        self.inner.add_owner(crate_id, user_id)
    }
    fn remove_owners<'a>(
        &'a self,
        crate_id: i64,
        user_ids: &'a [i64],
    ) -> BoxFut<'a, StoreResult<bool>> {
        self.inner.remove_owners(crate_id, user_ids)
    }
    fn version_exists<'a>(
        &'a self,
        crate_id: i64,
        num_no_build: &'a str,
    ) -> BoxFut<'a, StoreResult<bool>> {
        self.inner.version_exists(crate_id, num_no_build)
    }
    fn publish<'a>(&'a self, rec: &'a PublishRecord) -> BoxFut<'a, Result<(), PublishConflict>> {
        Box::pin(async move {
            let result = self.inner.publish(rec).await;
            self.first_published.send_replace(true);
            result
        })
    }
    fn set_yanked<'a>(
        &'a self,
        crate_id: i64,
        num: &'a str,
        yanked: bool,
    ) -> BoxFut<'a, StoreResult<bool>> {
        self.inner.set_yanked(crate_id, num, yanked)
    }
    fn versions(&self, crate_id: i64) -> BoxFut<'_, StoreResult<Vec<VersionRow>>> {
        self.inner.versions(crate_id)
    }
    fn search<'a>(
        &'a self,
        query: &'a str,
        limit: u32,
    ) -> BoxFut<'a, StoreResult<(Vec<CrateInfo>, u64)>> {
        self.inner.search(query, limit)
    }
}

delegate_feature_stores!(LookupsMeet, inner);

crate::common::delegate_hardening_store!(LookupsMeet);
crate::common::delegate_mirror_store!(LookupsMeet);

/// Issue 12 defect 4: whether a publish creates a crate or updates it is decided inside its
/// transaction. Three publishes of a new crate racing with a `publish-new`-only token: one creates
/// it, the other two would be updates and are refused (before the fix, all three were published).
fn racing_new_crate_publishes_never_update_without_the_scope(backend: Backend) {
    const RACERS: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::fresh(backend, dir.path().join("data"));
    let config = storage.config();
    let rt = runtime();
    let (store, blobs) = rt
        .block_on(gantry_registry::app::open_storage(&config))
        .unwrap();
    let token = rt.block_on(user_and_token(
        store.as_ref(),
        "alice",
        Some(&["publish-new"]),
    ));
    let store = Arc::new(LookupsMeet::new(store, RACERS));
    let server = rt
        .block_on(gantry_registry::server::start_with_storage(
            config,
            store,
            blobs,
            None::<std::future::Pending<()>>,
        ))
        .unwrap();
    let addr = server.addr;
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let token = token.clone();
            std::thread::spawn(move || {
                let body = publish_body("new-race", &format!("0.{i}.0"));
                let r = http(
                    addr,
                    "PUT",
                    "/api/v1/crates/new",
                    &[("Authorization", &token)],
                    &body,
                );
                let detail = if r.status == 200 {
                    String::new()
                } else {
                    r.detail()
                };
                (r.status, detail)
            })
        })
        .collect();
    let mut results: Vec<_> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    results.sort();
    let mut want = vec![(403, SCOPE.to_owned()); RACERS - 1];
    want.insert(0, (200, String::new()));
    assert_eq!(results, want);
    let index = http(addr, "GET", "/index/ne/w-/new-race", &[], b"");
    assert_eq!(index.text().lines().count(), 1, "{}", index.text());
    rt.block_on(server.stop()).unwrap();
}

fn rate_limits_answer_429_with_retry_after(backend: Backend) {
    use gantry_registry::ratelimit::{Bucket, RateLimits};
    use std::time::Duration;
    let reg = TestRegistry::start_with(backend, |c| {
        c.rate_limits = Some(RateLimits {
            publish_new: Bucket {
                refill: Duration::from_secs(600),
                burst: 2,
            },
            ..RateLimits::CRATES_IO
        })
    });
    let tok = reg.token("alice");
    // validate_only and refused publishes do not use up the bucket.
    for _ in 0..3 {
        reg.http(
            "PUT",
            "/api/v1/crates/new?validate_only=true",
            &[("Authorization", &tok)],
            &publish_body("rl-x", "0.1.0"),
        );
    }
    assert_eq!(
        reg.publish(&tok, &publish_body("rl-a", "0.1.0")).status,
        200
    );
    assert_eq!(
        reg.publish(&tok, &publish_body("rl-b", "0.1.0")).status,
        200
    );
    let r = reg.publish(&tok, &publish_body("rl-c", "0.1.0"));
    assert_eq!(r.status, 429);
    assert!(r.detail().starts_with(
        "You have published too many new crates in a short period of time. Please try again after "
    ));
    assert!(httpdate::parse_http_date(r.header("retry-after").unwrap()).is_ok());
    assert_eq!(reg.index_file("rl-c").status, 404);
    // Updates have their own bucket.
    assert_eq!(
        reg.publish(&tok, &publish_body("rl-a", "0.2.0")).status,
        200
    );
}

fn ops_endpoints_health_ready_metrics(backend: Backend) {
    let reg = TestRegistry::start(backend, true);
    let r = reg.http("GET", "/health", &[], b"");
    assert_eq!((r.status, r.text().trim()), (200, "ok"));
    let r = reg.http("GET", "/ready", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let tok = reg.token("alice");
    assert_eq!(
        reg.publish(&tok, &publish_body("ops-a", "0.1.0")).status,
        200
    );
    // Probes and metrics need no token, even with auth required.
    let r = reg.http("GET", "/metrics", &[], b"");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type").unwrap().starts_with("text/plain"),
        "{:?}",
        r.header("content-type")
    );
    let text = r.text();
    assert!(text.contains("gantry_http_requests_total{"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("gantry_publish_duration_seconds_count") && !l.ends_with(" 0")),
        "{text}"
    );

    // A broken dependency takes the instance out of rotation, naming what failed.
    match &reg.storage.pg_s3 {
        Some(p) => {
            std::fs::remove_dir_all(&p.bucket_dir).unwrap();
            let r = reg.http("GET", "/ready", &[], b"");
            assert_eq!(r.status, 503, "{}", r.text());
            assert!(r.text().starts_with("storage: "), "{}", r.text());
            services::services().psql(
                "postgres",
                &format!("DROP DATABASE {} WITH (FORCE)", p.database),
            );
            let r = reg.http("GET", "/ready", &[], b"");
            assert_eq!(r.status, 503, "{}", r.text());
            assert!(r.text().contains("database: "), "{}", r.text());
            assert_eq!(reg.http("GET", "/health", &[], b"").status, 200);
        }
        None => {
            let blobs = reg.storage.blob_dir();
            std::fs::remove_dir_all(&blobs).unwrap();
            std::fs::write(&blobs, b"not a directory").unwrap();
            let r = reg.http("GET", "/ready", &[], b"");
            assert_eq!(r.status, 503, "{}", r.text());
            assert!(r.text().starts_with("storage: "), "{}", r.text());
            assert_eq!(reg.http("GET", "/health", &[], b"").status, 200);
        }
    }
}

backend_tests!(
    publish_index_download_and_conditional_get,
    crate_name_rules,
    canonical_collisions_and_versions,
    metadata_rules,
    size_limits,
    tarball_structure,
    tarball_paths_are_compared_after_normalisation,
    oversized_manifest_is_refused,
    malformed_bodies_keep_the_server_serving,
    authentication_and_scopes,
    crate_patterns_bind_tokens_without_scopes,
    validate_only_runs_every_check_and_stores_nothing,
    auth_required_guards_index_downloads_and_search,
    concurrent_duplicate_publishes_have_exactly_one_winner,
    failed_blob_write_publishes_nothing,
    racing_new_crate_publishes_never_update_without_the_scope,
    rate_limits_answer_429_with_retry_after,
    ops_endpoints_health_ready_metrics,
);
