//! Interop with a real git-index registry nobody here wrote: ktra 0.7.0 (crates.io), run on
//! 127.0.0.1 with its file-based store (sled) and its index pushed to a bare git repository on disk,
//! which cargo and gantry fetch over `file://`. `cargo gantry` publishes a workspace chain, a re-run
//! skips it all, yank/unyank and owners compare with the real cargo's, and the real cargo builds a
//! consumer from what gantry published.
//!
//! ktra is found through `GANTRY_KTRA`, then `PATH`, then `<workspace>/target/test-tools/bin/ktra`
//! (`cargo xtask test` installs it there). Missing, the test fails with the install command; it is
//! never skipped.

mod git_support;
mod peer_support;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use peer_support::{Tool, text};

/// User `bob` as ktra names its users (its default `login_prefix`).
const BOB: &str = "ktra-secure-auth:bob";

/// ktra's pinned version and lookup are gantry-test-support's, shared with `cargo xtask test`.
fn find_ktra() -> PathBuf {
    gantry_test_support::tools::find(&gantry_test_support::tools::KTRA)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A running ktra with its index repository, crate files and database in a temp dir.
struct Ktra {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Ktra {
    fn start() -> Ktra {
        let bin = find_ktra();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let port = free_port();
        let bare = root.join("index.git");
        git(root, &["init", "-q", "--bare", "-b", "main", "index.git"]);
        let seed = root.join("seed");
        git(root, &["clone", "-q", bare.to_str().unwrap(), "seed"]);
        std::fs::write(
            seed.join("config.json"),
            format!(r#"{{"dl":"http://127.0.0.1:{port}/dl","api":"http://127.0.0.1:{port}"}}"#),
        )
        .unwrap();
        git(&seed, &["add", "config.json"]);
        git(&seed, &["commit", "-q", "-m", "config"]);
        git(&seed, &["push", "-q", "origin", "HEAD:main"]);
        let config = format!(
            "[index_config]\nremote_url = \"file://{}\"\nlocal_path = \"{}\"\nbranch = \"main\"\nname = \"ktra\"\nemail = \"ktra@test.invalid\"\n\n[crate_files_config]\ndl_dir_path = \"{}\"\n\n[db_config]\ndb_dir_path = \"{}\"\n\n[server_config]\naddress = [127, 0, 0, 1]\nport = {port}\n",
            bare.display(),
            root.join("work").display(),
            root.join("crates").display(),
            root.join("db").display(),
        );
        std::fs::write(root.join("ktra.toml"), config).unwrap();
        let log = std::fs::File::create(root.join("ktra.log")).unwrap();
        let child = Command::new(&bin)
            .arg("--config")
            .arg(root.join("ktra.toml"))
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let mut ktra = Ktra { child, port, dir };
        ktra.wait_ready();
        ktra
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("ktra exited ({status}) before it listened:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "ktra did not listen within a minute:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ktra.log")).unwrap_or_default()
    }

    fn index_url(&self) -> String {
        format!("file://{}", self.dir.path().join("index.git").display())
    }

    /// A user (ktra's own API) and the token it was given.
    fn new_user(&self, name: &str) -> String {
        let body = format!(r#"{{"password":"pw-{name}-0123456789"}}"#);
        let answer = http(
            self.port,
            "POST",
            &format!("/ktra/api/v1/new_user/{name}"),
            &body,
        );
        let json: serde_json::Value = serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("new_user answered {answer:?}: {e}\n{}", self.log()));
        json["token"].as_str().unwrap().to_owned()
    }

    /// The index lines of `name` on the branch ktra pushed.
    fn lines(&self, name: &str) -> Vec<serde_json::Value> {
        let out = Command::new("git")
            .arg("--git-dir")
            .arg(self.dir.path().join("index.git"))
            .args(["show", &format!("main:{}", git_support::index_path(name))])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn commits(&self) -> String {
        let out = Command::new("git")
            .arg("--git-dir")
            .arg(self.dir.path().join("index.git"))
            .args(["rev-parse", "main"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Ktra {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=seed", "-c", "user.email=seed@test.invalid"])
        .args(["-c", "commit.gpgsign=false"])
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

/// One HTTP/1.1 request with a JSON body; the answer's body.
fn http(port: u16, method: &str, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or(answer)
}

/// A scratch `CARGO_HOME` with registry `ktra`, the user's token in the environment.
struct Client<'a> {
    ktra: &'a Ktra,
    home: PathBuf,
    target: PathBuf,
    token: String,
    scratch: PathBuf,
}

impl Client<'_> {
    fn run(&self, tool: Tool, cwd: &Path, args: &[&str]) -> (Output, String) {
        let mut cmd = tool.command(args[0]);
        cmd.args(&args[1..])
            .current_dir(cwd)
            .env("CARGO_HOME", &self.home)
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_REGISTRIES_KTRA_TOKEN", &self.token);
        let out = cmd.output().unwrap();
        let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        for p in [self.scratch.clone(), self.ktra.dir.path().to_path_buf()] {
            stderr = stderr.replace(p.to_str().unwrap(), "[ROOT]");
        }
        stderr = stderr.replace(&self.ktra.port.to_string(), "[PORT]");
        (out, stderr)
    }

    fn ok(&self, tool: Tool, cwd: &Path, args: &[&str]) -> String {
        let (out, stderr) = self.run(tool, cwd, args);
        assert!(
            out.status.success(),
            "{} {args:?}: {}\n--- ktra log\n{}",
            tool.label(),
            text(&out),
            self.ktra.log()
        );
        stderr
    }
}

#[test]
fn ktra_takes_a_workspace_from_gantry_and_serves_it_to_cargo() {
    let ktra = Ktra::start();
    let token = ktra.new_user("alice");
    ktra.new_user("bob");
    let scratch = tempfile::tempdir().unwrap();
    let home = scratch.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("config.toml"),
        format!("[registries.ktra]\nindex = \"{}\"\n", ktra.index_url()),
    )
    .unwrap();
    let client = Client {
        ktra: &ktra,
        home,
        target: scratch.path().join("target"),
        token,
        scratch: scratch.path().to_path_buf(),
    };
    let ws = git_support::chain_workspace(scratch.path());
    for m in ["a", "b", "c"] {
        let toml = ws.join(m).join("Cargo.toml");
        let text = std::fs::read_to_string(&toml).unwrap();
        std::fs::write(&toml, text.replace("\"alt\"", "\"ktra\"")).unwrap();
    }

    // The whole chain in one run, each crate confirmed in the fetched index before its dependent.
    let publish = ["publish", "--workspace", "--registry", "ktra"];
    let first = client.ok(Tool::Gantry, &ws, &publish);
    for (n, deps) in [("a", 1), ("b", 1), ("c", 0)] {
        let lines = ktra.lines(n);
        assert_eq!(lines.len(), 1, "{n}: {lines:?}\n{first}");
        assert_eq!(lines[0]["vers"], "0.1.0");
        assert_eq!(lines[0]["deps"].as_array().unwrap().len(), deps, "{n}");
    }
    assert!(
        first.contains("   Published c v0.1.0 at registry `ktra`\n"),
        "{first}"
    );

    // Again: everything is there with our checksums; nothing is sent, nothing is pushed.
    let head = ktra.commits();
    let again = client.ok(Tool::Gantry, &ws, &publish);
    assert_eq!(
        again
            .matches("(already published, identical): skip")
            .count(),
        3,
        "{again}"
    );
    assert!(!again.contains("Uploading"), "{again}");
    assert_eq!(ktra.commits(), head);

    // Yank and unyank, then owners: each round by gantry, then by cargo from the same state (each
    // round ends where it started), compared command by command.
    let here = scratch.path();
    let rounds: [&[&[&str]]; 3] = [
        &[
            &["yank", "c@0.1.0", "--registry", "ktra"],
            &["yank", "--undo", "c@0.1.0", "--registry", "ktra"],
        ],
        // ktra's logins carry its `login_prefix` (`ktra-secure-auth:` by default).
        &[
            &["owner", "--add", BOB, "c", "--registry", "ktra"],
            &["owner", "--remove", BOB, "c", "--registry", "ktra"],
        ],
        &[&["owner", "--list", "c", "--registry", "ktra"]],
    ];
    for round in rounds {
        let mut gantry = Vec::new();
        for args in round {
            let (out, stderr) = client.run(Tool::Gantry, here, args);
            if args[0] == "yank" {
                let yanked = args[1] != "--undo";
                assert_eq!(ktra.lines("c")[0]["yanked"], yanked, "{args:?}: {stderr}");
            }
            gantry.push((out, stderr));
        }
        for (args, (g, gs)) in round.iter().zip(&gantry) {
            let (c, cs) = client.run(Tool::Cargo, here, args);
            assert_eq!(
                (c.status.code(), &cs, &c.stdout),
                (g.status.code(), gs, &g.stdout),
                "{args:?}: cargo and gantry differ\n--- cargo\n{}\n--- gantry\n{}",
                text(&c),
                text(g)
            );
            assert!(g.status.success(), "{args:?}: {}", text(g));
        }
    }
    assert_eq!(ktra.lines("c")[0]["yanked"], false);

    // The real cargo builds a consumer from what gantry published (ktra serves the downloads).
    let consumer = git_support::package(
        scratch.path(),
        "consumer",
        "a = { version = \"0.1\", registry = \"ktra\" }\n",
    );
    std::fs::write(
        consumer.join("src/lib.rs"),
        "pub fn n() -> u32 { a::a() }\n",
    )
    .unwrap();
    let built = client.ok(Tool::Cargo, &consumer, &["build"]);
    assert!(
        built.contains("Downloaded c v0.1.0 (registry `ktra`)"),
        "{built}"
    );
}
