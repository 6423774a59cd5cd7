//! `cargo xtask demo`: the quick start, end to end. Builds gantry, starts `gantry-registry` on a free
//! loopback port with a fresh data dir, publishes `examples/hello` and `examples/greeter` with
//! `cargo gantry publish`, builds a consumer with the real cargo, yanks a version and shows that a
//! fresh resolution moves off it. Every cargo gets the demo's own temp `CARGO_HOME`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        // Our own child, by its handle.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn step(n: u32, what: &str) {
    println!("\n== step {n}: {what}");
}

fn run_ok(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({})\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(from).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name();
        if name == "target" || name == "Cargo.lock" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if src.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn wait_until_up(port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let req = "GET /index/config.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
            if s.write_all(req.as_bytes()).is_ok() {
                let mut resp = String::new();
                let _ = s.read_to_string(&mut resp);
                if resp.starts_with("HTTP/1.1 200") {
                    return Ok(());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("gantry-registry did not come up within 30 s".into())
}

fn locked_version(lock: &Path, name: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(lock).map_err(|e| e.to_string())?;
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if l == format!("name = \"{name}\"")
            && let Some(v) = lines.next().and_then(|v| v.strip_prefix("version = "))
        {
            return Ok(v.trim_matches('"').to_owned());
        }
    }
    Err(format!("{name} is not in {}", lock.display()))
}

pub(crate) fn run(repo: &Path) -> Result<(), String> {
    let started = Instant::now();
    step(1, "build cargo-gantry and gantry-registry");
    run_ok(
        Command::new("cargo")
            .args(["build", "-p", "cargo-gantry", "-p", "gantry-registry"])
            .current_dir(repo),
        "cargo build",
    )?;
    let bin = repo.join("target/debug");
    let (gantry, registry) = (bin.join("cargo-gantry"), bin.join("gantry-registry"));

    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let t = tmp.path();
    let data = t.join("data");
    step(
        2,
        "start gantry-registry with a fresh data dir, create a user and a token",
    );
    run_ok(
        Command::new(&registry)
            .arg("--data-dir")
            .arg(&data)
            .args(["user", "add", "demo"]),
        "user add",
    )?;
    let out = run_ok(
        Command::new(&registry)
            .arg("--data-dir")
            .arg(&data)
            .args(["token", "new", "--user", "demo"]),
        "token new",
    )?;
    let token = out.lines().last().unwrap_or("").trim().to_owned();
    let port = free_port()?;
    let child = Command::new(&registry)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting gantry-registry: {e}"))?;
    let _server = Server(child);
    wait_until_up(port)?;
    let index = format!("sparse+http://127.0.0.1:{port}/index/");
    println!("registry up: {index}");

    let home = t.join("cargo-home");
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    std::fs::write(
        home.join("config.toml"),
        format!("[registries.demo]\nindex = \"{index}\"\n"),
    )
    .map_err(|e| e.to_string())?;
    let cargo = |dir: &Path| {
        let mut c = Command::new("cargo");
        c.current_dir(dir)
            .env("CARGO_HOME", &home)
            .env_remove("CARGO_TARGET_DIR");
        c
    };
    let gantry_cmd = |dir: &Path| {
        let mut c = Command::new(&gantry);
        c.arg("gantry")
            .current_dir(dir)
            .env("CARGO_HOME", &home)
            .env_remove("CARGO_TARGET_DIR");
        c
    };

    step(3, "cargo gantry login (token from stdin)");
    let mut login = gantry_cmd(t)
        .args(["login", "--registry", "demo"])
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = login.stdin.take() {
        writeln!(stdin, "{token}").map_err(|e| e.to_string())?;
    }
    if !login.wait().map_err(|e| e.to_string())?.success() {
        return Err("login failed".into());
    }

    let src = t.join("src");
    for ex in ["hello", "greeter"] {
        copy_dir(&repo.join("examples").join(ex), &src.join(ex))?;
    }
    step(
        4,
        "publish hello 0.1.0 and greeter 0.1.0 with cargo gantry publish",
    );
    for ex in ["hello", "greeter"] {
        run_ok(
            gantry_cmd(&src.join(ex)).args(["publish", "--registry", "demo"]),
            &format!("publish {ex}"),
        )?;
    }
    step(5, "publish hello 0.1.1");
    let manifest = src.join("hello/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| e.to_string())?;
    std::fs::write(
        &manifest,
        text.replace("version = \"0.1.0\"", "version = \"0.1.1\""),
    )
    .map_err(|e| e.to_string())?;
    run_ok(
        gantry_cmd(&src.join("hello")).args(["publish", "--registry", "demo", "--no-verify"]),
        "publish hello 0.1.1",
    )?;

    step(6, "build and run a consumer with the real cargo");
    let consumer = t.join("consumer");
    std::fs::create_dir_all(consumer.join("src")).map_err(|e| e.to_string())?;
    std::fs::write(
        consumer.join("Cargo.toml"),
        "[package]\nname = \"consumer\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\ngreeter = { version = \"0.1\", registry = \"demo\" }\nhello = { version = \"0.1\", registry = \"demo\" }\n",
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(
        consumer.join("src/main.rs"),
        "fn main() {\n    println!(\"{}\", greeter::greet_world());\n}\n",
    )
    .map_err(|e| e.to_string())?;
    let out = run_ok(cargo(&consumer).args(["run", "-q"]), "consumer cargo run")?;
    print!("consumer says: {out}");
    if out.trim() != "Hello, world!" {
        return Err(format!("unexpected consumer output {out:?}"));
    }
    let lock = consumer.join("Cargo.lock");
    let before = locked_version(&lock, "hello")?;
    println!("consumer resolved hello {before}");
    if before != "0.1.1" {
        return Err(format!("expected hello 0.1.1, got {before}"));
    }

    step(7, "yank hello 0.1.1 and resolve afresh");
    run_ok(
        gantry_cmd(t).args(["yank", "--registry", "demo", "hello@0.1.1"]),
        "yank",
    )?;
    std::fs::remove_file(&lock).map_err(|e| e.to_string())?;
    run_ok(
        cargo(&consumer).arg("generate-lockfile"),
        "generate-lockfile",
    )?;
    let after = locked_version(&lock, "hello")?;
    println!("after the yank a fresh resolution picks hello {after}");
    if after != "0.1.0" {
        return Err(format!("expected hello 0.1.0 after the yank, got {after}"));
    }
    step(8, "stop the registry");
    drop(_server);
    println!("\ndemo finished in {:.0?}", started.elapsed());
    Ok(())
}
