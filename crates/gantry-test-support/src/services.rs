//! Real PostgreSQL 15 and a real S3-compatible server (s3s-fs) for the tests, started once per test
//! binary on free 127.0.0.1 ports in a temp dir. Each test gets its own database and bucket, so tests
//! run in parallel. A watchdog shell stops both servers and removes the temp dir once the test
//! process has exited, so `cargo test` leaves nothing running.
//!
//! Missing binaries are a test failure with instructions, never a silent skip. Which binaries, and
//! where they are looked for, is [`crate::tools`].

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use crate::tools::PG_BIN;
use crate::tools::{S3S_FS, ToolError};

pub const S3_ACCESS_KEY: &str = "GANTRYTESTKEY";
pub const S3_SECRET_KEY: &str = "gantry-test-secret-0123456789";
pub const S3_REGION: &str = "us-east-1";

pub struct Services {
    pub root: PathBuf,
    pub pg_port: u16,
    pub s3_port: u16,
    /// The directory s3s-fs serves; bucket `b` is `<s3_root>/b`.
    pub s3_root: PathBuf,
}

/// A fresh database and bucket for one test.
#[derive(Debug, Clone)]
pub struct PgS3 {
    pub database: String,
    pub database_url: String,
    pub bucket: String,
    pub storage_url: String,
    pub s3_endpoint: String,
    /// The bucket's directory on disk (s3s-fs keeps objects as files).
    pub bucket_dir: PathBuf,
}

static SERVICES: OnceLock<Result<Services, String>> = OnceLock::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The shared servers, started on first use; panics with instructions when they cannot start.
pub fn services() -> &'static Services {
    match SERVICES.get_or_init(start) {
        Ok(s) => s,
        Err(e) => panic!("PostgreSQL+S3 test services are unavailable: {e}"),
    }
}

/// A new empty database and bucket on the shared servers.
pub fn fresh() -> PgS3 {
    services().fresh()
}

impl Services {
    pub fn fresh(&self) -> PgS3 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tag = format!("t{}_{n}", std::process::id());
        let database = format!("gantry_{tag}");
        self.psql("postgres", &format!("CREATE DATABASE {database}"));
        let bucket = format!("gantry-{}", tag.replace('_', "-"));
        let bucket_dir = self.s3_root.join(&bucket);
        std::fs::create_dir_all(&bucket_dir)
            .unwrap_or_else(|e| panic!("creating bucket dir {}: {e}", bucket_dir.display()));
        PgS3 {
            database_url: self.database_url(&database),
            database,
            storage_url: format!("s3://{bucket}"),
            s3_endpoint: self.s3_endpoint(),
            bucket,
            bucket_dir,
        }
    }

    pub fn database_url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.pg_port)
    }

    pub fn s3_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// Runs one SQL command through `psql` (as superuser `postgres`, trust auth on loopback).
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(Path::new(PG_BIN).join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &self.pg_port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
            ])
            .args(["-c", sql])
            .output()
            .unwrap_or_else(|e| panic!("running psql: {e}"));
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a PostgreSQL client binary (`pg_dump`, `pg_restore`, …) against the shared server.
    pub fn pg_tool(&self, tool: &str) -> Command {
        let mut cmd = Command::new(Path::new(PG_BIN).join(tool));
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.pg_port.to_string(),
            "-U",
            "postgres",
        ]);
        cmd
    }
}

/// The s3s-fs binary (see [`crate::tools::find`]).
pub fn find_s3s_fs() -> Result<PathBuf, ToolError> {
    crate::tools::find(&S3S_FS)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}

fn wait_for_port(port: u16, what: &str, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{what} did not listen on 127.0.0.1:{port} within 60 s; log: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    ))
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// `cmd` as given, or wrapped in `runuser -u postgres --` when we are root (initdb and postgres
/// refuse to run as root).
fn pg_command(as_postgres: bool, bin: &str) -> Command {
    let path = Path::new(PG_BIN).join(bin);
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn start() -> Result<Services, String> {
    crate::tools::check_postgres().map_err(|e| e.to_string())?;
    let s3s = find_s3s_fs().map_err(|e| e.to_string())?;
    let as_postgres = is_root();

    // Not a TempDir: the watchdog removes it after this process is gone.
    let root = tempfile::Builder::new()
        .prefix("gantry-services-")
        .tempdir()
        .map_err(|e| format!("creating temp dir: {e}"))?
        .keep();
    let pg_data = root.join("pg");
    let pg_sock = root.join("pgsock");
    let s3_root = root.join("s3");
    for d in [&pg_data, &pg_sock, &s3_root] {
        std::fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
    }
    if as_postgres {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("chmod {}: {e}", root.display()))?;
        let mut c = Command::new("chown");
        c.args(["-R", "postgres:postgres"])
            .arg(&pg_data)
            .arg(&pg_sock);
        run(c, "chown of the PostgreSQL dirs to user postgres")?;
    }

    let mut c = pg_command(as_postgres, "initdb");
    c.args([
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--no-sync",
        "-D",
    ])
    .arg(&pg_data);
    run(c, "initdb")?;

    let pg_port = free_port();
    let pg_log = root.join("pg.log");
    let pg_log_file = std::fs::File::create(&pg_log).map_err(|e| e.to_string())?;
    if as_postgres {
        let mut c = Command::new("chown");
        c.arg("postgres:postgres").arg(&pg_log);
        run(c, "chown of the PostgreSQL log")?;
    }
    let mut c = pg_command(as_postgres, "postgres");
    c.arg("-D")
        .arg(&pg_data)
        .arg("-k")
        .arg(&pg_sock)
        .args(["-h", "127.0.0.1", "-p", &pg_port.to_string()])
        // Throw-away data: durability off, room for many parallel tests and registry pools.
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off", "-c", "max_connections=500"])
        .stdin(Stdio::null())
        .stdout(pg_log_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(pg_log_file);
    let pg = c.spawn().map_err(|e| format!("starting postgres: {e}"))?;

    let s3_port = free_port();
    let s3_log = root.join("s3s-fs.log");
    let s3_log_file = std::fs::File::create(&s3_log).map_err(|e| e.to_string())?;
    let s3 = Command::new(&s3s)
        .args(["--host", "127.0.0.1", "--port", &s3_port.to_string()])
        .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
        .arg(&s3_root)
        .stdin(Stdio::null())
        .stdout(s3_log_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(s3_log_file)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", s3s.display()))?;

    // The watchdog: once this test process is gone, stop postgres (fast shutdown through its
    // postmaster.pid, which works whether or not runuser sits in between), kill s3s-fs and the
    // runuser wrapper, then remove the temp dir.
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 1; done; \
         pm=$(head -n 1 '{data}/postmaster.pid' 2>/dev/null); \
         [ -n \"$pm\" ] && kill -INT \"$pm\" 2>/dev/null; \
         kill {s3} {pg} 2>/dev/null; \
         i=0; while [ -n \"$pm\" ] && kill -0 \"$pm\" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; \
         rm -rf '{root}'",
        me = std::process::id(),
        data = pg_data.display(),
        s3 = s3.id(),
        pg = pg.id(),
        root = root.display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the watchdog shell: {e}"))?;
    // The child handles are dropped without waiting; the watchdog reaps nothing but the servers
    // are stopped by it, and they are re-parented to init once we exit.
    drop(pg);
    drop(s3);

    wait_for_port(pg_port, "postgres", &pg_log)?;
    // Accepting TCP precedes accepting queries during startup; wait for a real answer.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ok = Command::new(Path::new(PG_BIN).join("pg_isready"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &pg_port.to_string(),
                "-U",
                "postgres",
            ])
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "postgres not ready after 60 s; log: {}",
                std::fs::read_to_string(&pg_log).unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_for_port(s3_port, "s3s-fs", &s3_log)?;
    Ok(Services {
        root,
        pg_port,
        s3_port,
        s3_root,
    })
}
