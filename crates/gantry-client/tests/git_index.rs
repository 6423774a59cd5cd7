//! The git index backend against real repositories made with the `git` program: it clones where
//! cargo clones, reads `config.json` and index files from the fetched commit (not a checkout), sees
//! new commits only after a refresh, follows force-pushed (squashed) history, reads an existing
//! clone offline, and fetches with the `git` program when asked to.

use std::path::Path;
use std::process::Command;

use gantry_client::git::{GitOptions, Verbosity, index_dir_name};
use gantry_client::index::{Index, IndexError};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@test.invalid"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An index repository with `config.json` and one line for crate `serde`.
fn registry(dir: &Path) {
    std::fs::create_dir_all(dir.join("se/rd")).unwrap();
    git(dir, &["init", "-q"]);
    std::fs::write(
        dir.join("config.json"),
        r#"{"dl":"http://d","api":"http://a"}"#,
    )
    .unwrap();
    std::fs::write(dir.join("se/rd/serde"), line("1.0.0", &"aa".repeat(32))).unwrap();
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "init"]);
}

fn line(vers: &str, cksum: &str) -> String {
    format!(
        "{{\"name\":\"serde\",\"vers\":\"{vers}\",\"deps\":[],\"cksum\":\"{cksum}\",\"features\":{{}},\"yanked\":false}}\n"
    )
}

fn options(home: &Path, cli: bool, offline: bool) -> GitOptions {
    GitOptions {
        cargo_home: home.to_owned(),
        fetch_with_cli: cli,
        offline,
        reuse_clone: false,
        verbosity: Verbosity::Normal,
        status: None,
    }
}

fn open(url: &str, opts: GitOptions) -> Index {
    let client =
        gantry_client::http::client("gantry-test", std::time::Duration::from_secs(10)).unwrap();
    Index::open(client, url, opts).unwrap()
}

fn versions(rt: &tokio::runtime::Runtime, index: &Index) -> Vec<String> {
    rt.block_on(index.entries("serde"))
        .unwrap()
        .into_iter()
        .map(|e| e.vers)
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn read_and_refresh(cli: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let reg = tmp.path().join("reg");
    registry(&reg);
    let home = tmp.path().join("home");
    let url = format!("file://{}", reg.display());
    let rt = runtime();
    let index = open(&url, options(&home, cli, false));
    assert!(index.is_git());

    let config = rt.block_on(index.config()).unwrap();
    assert_eq!(config.api.as_deref(), Some("http://a"));
    assert_eq!(versions(&rt, &index), ["1.0.0"]);
    assert!(rt.block_on(index.entries("nope")).unwrap().is_empty());

    // The clone is where cargo keeps it, and nothing is checked out into it.
    let clone = home
        .join("registry/index")
        .join(index_dir_name(&url::Url::parse(&url).unwrap()));
    assert!(clone.join(".git").is_dir(), "{}", clone.display());
    assert!(!clone.join("config.json").exists());

    // A new commit is seen after a refresh, not before.
    let mut text = std::fs::read_to_string(reg.join("se/rd/serde")).unwrap();
    text.push_str(&line("1.1.0", &"bb".repeat(32)));
    std::fs::write(reg.join("se/rd/serde"), &text).unwrap();
    git(&reg, &["commit", "-q", "-am", "1.1.0"]);
    assert_eq!(versions(&rt, &index), ["1.0.0"]);
    rt.block_on(index.refresh()).unwrap();
    assert_eq!(versions(&rt, &index), ["1.0.0", "1.1.0"]);

    // History squashed into a new root commit (as crates.io does) is followed.
    git(&reg, &["checkout", "-q", "--orphan", "squashed"]);
    git(&reg, &["commit", "-q", "-m", "squash"]);
    git(&reg, &["branch", "-q", "-D", "main"]);
    git(&reg, &["branch", "-q", "-m", "main"]);
    std::fs::write(reg.join("se/rd/serde"), line("2.0.0", &"cc".repeat(32))).unwrap();
    git(&reg, &["commit", "-q", "-am", "2.0.0"]);
    rt.block_on(index.refresh()).unwrap();
    assert_eq!(versions(&rt, &index), ["2.0.0"]);

    // Offline, a new reader reads the clone as it is.
    let offline = open(&url, options(&home, cli, true));
    assert_eq!(versions(&rt, &offline), ["2.0.0"]);
    rt.block_on(offline.refresh()).unwrap();
}

#[test]
fn a_git_index_is_read_from_the_fetched_commit_with_gitoxide() {
    read_and_refresh(false);
}

#[test]
fn a_git_index_is_read_from_the_fetched_commit_with_the_git_program() {
    read_and_refresh(true);
}

#[test]
fn offline_without_a_clone_names_the_index_and_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("file://{}/reg", tmp.path().display());
    let rt = runtime();
    let index = open(&url, options(&tmp.path().join("home"), false, true));
    let err = rt.block_on(index.config()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, IndexError::Git(_)), "{err:?}");
    assert!(
        text.contains(&format!("the index `{url}` has not been fetched yet")),
        "{text}"
    );
    assert!(
        text.contains("run the command once without `--offline`"),
        "{text}"
    );
}

#[test]
fn an_index_without_config_json_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = tmp.path().join("reg");
    std::fs::create_dir_all(&reg).unwrap();
    git(&reg, &["init", "-q"]);
    std::fs::write(reg.join("README"), "x").unwrap();
    git(&reg, &["add", "."]);
    git(&reg, &["commit", "-q", "-m", "init"]);
    let rt = runtime();
    let index = open(
        &format!("file://{}", reg.display()),
        options(&tmp.path().join("home"), false, false),
    );
    assert!(matches!(
        rt.block_on(index.config()),
        Err(IndexError::NoConfig)
    ));
}

#[test]
fn a_missing_repository_fails_with_its_url() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("file://{}/missing", tmp.path().display());
    let rt = runtime();
    let index = open(&url, options(&tmp.path().join("home"), false, false));
    let err = rt.block_on(index.config()).unwrap_err();
    assert_eq!(err.to_string(), format!("failed to fetch `{url}`"));
}
