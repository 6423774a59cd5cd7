//! Fixtures for the trusted-publishing tests of `cargo gantry publish`: two OIDC issuers started
//! by the test (real RS256 keys, discovery, JWKS; one in GitHub Actions' role with its token
//! request endpoint, one in GitLab's), a real gantry-registry configured to accept them (the
//! `--oidc-issuer github=URL gitlab=URL` settings), owners' API tokens, and a CI job's `cargo
//! gantry` with no credentials.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gantry_registry::auth::{generate_token, hash_token};
use gantry_registry::store::NewToken;
use gantry_registry::{Config, RunningServer};
use gantry_test_support::{GitHubWorkflow, OidcIssuer};
use serde_json::{Value, json};

pub const REPO: &str = "octo-org/octo-repo";
pub const OWNER_ID: u64 = 65;
pub const WORKFLOW: &str = "release.yml";
pub const EXCHANGE: &str = "/api/v1/trusted_publishing/tokens";
const CONFIGS: &str = "/api/v1/trusted_publishing/github_configs";

/// The default workflow run: [`WORKFLOW`] of [`REPO`] on a push.
pub fn run() -> GitHubWorkflow {
    GitHubWorkflow::new(REPO, OWNER_ID, WORKFLOW)
}

pub struct Tp {
    pub github: OidcIssuer,
    pub gitlab: OidcIssuer,
    pub addr: SocketAddr,
    rt: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    _dir: tempfile::TempDir,
}

/// An HTTP answer.
pub struct Resp {
    pub status: u16,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

impl Tp {
    pub fn start() -> Tp {
        Tp::start_with(|_| {})
    }

    pub fn start_with(tweak: impl FnOnce(&mut Config)) -> Tp {
        let github = OidcIssuer::start().unwrap();
        github.set_actions_workflow(run());
        let gitlab = OidcIssuer::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("data"));
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.trusted_publishing.github_issuer = Some(github.url().to_owned());
        config.trusted_publishing.gitlab_issuer = Some(gitlab.url().to_owned());
        tweak(&mut config);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(gantry_registry::start(config)).unwrap();
        Tp {
            github,
            gitlab,
            addr: server.addr,
            rt,
            server: Some(server),
            _dir: dir,
        }
    }

    pub fn index_url(&self) -> String {
        format!("sparse+http://{}/index/", self.addr)
    }

    /// The registry's audience by default: its URL without the scheme.
    pub fn audience(&self) -> String {
        self.addr.to_string()
    }

    /// A new user and an API token of theirs scoped as an owner's release automation is.
    pub fn owner(&self, login: &str) -> String {
        let store = self.server.as_ref().unwrap().app.store.clone();
        self.rt.block_on(async {
            if store.user_by_login(login).await.unwrap().is_none() {
                store.create_user(login).await.unwrap();
            }
            let user = store.user_by_login(login).await.unwrap().unwrap();
            let token = generate_token();
            let scopes = [
                "publish-new",
                "publish-update",
                "trusted-publishing",
                "yank",
            ];
            let new = NewToken {
                user_id: user.id,
                name: "owner".into(),
                hash: hash_token(&token),
                scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
                crate_patterns: vec![],
                expires_at: None,
            };
            store.create_token(&new).await.unwrap();
            token
        })
    }

    /// One HTTP/1.0 request (so the answer is never chunked) to the registry.
    pub fn http(&self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Resp {
        http(self.addr, method, path, token, body)
    }

    pub fn json_call(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Resp {
        self.http(method, path, token, body.to_string().as_bytes())
    }

    /// The owner's GitHub config for `krate`: [`REPO`], [`WORKFLOW`], `environment`.
    pub fn github_config(&self, token: &str, krate: &str, environment: Option<&str>) -> Resp {
        let (owner, repo) = REPO.split_once('/').unwrap();
        self.json_call(
            "POST",
            CONFIGS,
            Some(token),
            &json!({"github_config": {"crate": krate, "repository_owner": owner,
                "repository_name": repo, "workflow_filename": WORKFLOW,
                "environment": environment}}),
        )
    }

    /// A pending config: for a crate nobody has published yet.
    pub fn pending_config(&self, token: &str, krate: &str) -> Resp {
        let (owner, repo) = REPO.split_once('/').unwrap();
        self.json_call(
            "POST",
            CONFIGS,
            Some(token),
            &json!({"github_config": {"crate": krate, "repository_owner": owner,
                "repository_name": repo, "workflow_filename": WORKFLOW, "pending": true}}),
        )
    }

    /// A publish token from the API, exchanged as a CI step would.
    pub fn exchange(&self, workflow: &GitHubWorkflow) -> String {
        let jwt = self.github.github_token(workflow, &self.audience());
        let r = self.json_call("POST", EXCHANGE, None, &json!({ "jwt": jwt }));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["token"].as_str().unwrap().to_owned()
    }

    /// `gantry_http_requests_total` of the registry's own metrics for one route/method/status.
    pub fn requests(&self, route: &str, method: &str, status: u16) -> u64 {
        let series = format!(
            "gantry_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
        );
        let text = self.http("GET", "/metrics", None, b"").body;
        text.lines()
            .find_map(|l| l.strip_prefix(&series).and_then(|v| v.strip_prefix(' ')))
            .map_or(0, |v| v.trim().parse().unwrap())
    }

    /// Exchanges and revocations the registry answered, any status.
    pub fn exchange_traffic(&self) -> (u64, u64) {
        let text = self.http("GET", "/metrics", None, b"").body;
        let count = |method: &str| -> u64 {
            let prefix =
                format!("gantry_http_requests_total{{route=\"{EXCHANGE}\",method=\"{method}\",");
            text.lines()
                .filter_map(|l| l.strip_prefix(&prefix))
                .filter_map(|rest| rest.rsplit(' ').next())
                .map(|v| v.trim().parse::<u64>().unwrap())
                .sum()
        };
        (count("POST"), count("DELETE"))
    }

    /// The versions the index lists for `name`.
    pub fn versions(&self, name: &str) -> Vec<String> {
        let path = match name.len() {
            1 => format!("1/{name}"),
            2 => format!("2/{name}"),
            3 => format!("3/{}/{name}", &name[..1]),
            _ => format!("{}/{}/{name}", &name[..2], &name[2..4]),
        };
        let r = self.http("GET", &format!("/index/{path}"), None, b"");
        if r.status == 404 {
            return Vec::new();
        }
        r.body
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["vers"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    pub fn version(&self, name: &str, vers: &str) -> Value {
        let r = self.http("GET", &format!("/api/v1/crates/{name}/{vers}"), None, b"");
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["version"].clone()
    }

    pub fn owners(&self, name: &str) -> Vec<String> {
        let r = self.http("GET", &format!("/api/v1/crates/{name}/owners"), None, b"");
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["login"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for Tp {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = self.rt.block_on(s.stop());
        }
    }
}

pub fn http(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    if let Some(t) = token {
        head.push_str(&format!("Authorization: {t}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Resp {
        status,
        body: body.to_owned(),
    }
}

/// A CI job: its own `CARGO_HOME` knowing registry `g` and holding no credentials.
pub struct Ci {
    pub home: PathBuf,
    pub work: PathBuf,
    _dir: tempfile::TempDir,
}

impl Ci {
    pub fn new(index_url: &str) -> Ci {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("cargo-home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(
            home.join("config.toml"),
            // A registry that requires authentication needs a provider configured (cargo's rule);
            // `cargo:token` is the default anyway.
            format!(
                "[registries.g]\nindex = \"{index_url}\"\n\n[net]\nretry = 0\n\n\
                 [registry]\nglobal-credential-providers = [\"cargo:token\"]\n"
            ),
        )
        .unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        Ci {
            home,
            work,
            _dir: dir,
        }
    }

    /// `cargo gantry ARGS` in `cwd` with `env` (and nothing of the caller's cargo environment).
    pub fn gantry(&self, cwd: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
        self.command(cwd, args, env).output().unwrap()
    }

    /// The `cargo gantry ARGS` command, to spawn.
    pub fn command(&self, cwd: &Path, args: &[&str], env: &[(&str, String)]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cargo-gantry"));
        c.arg("gantry").args(args).current_dir(cwd);
        self.env(&mut c, env);
        c
    }

    /// The real cargo, in the same job.
    pub fn cargo(&self, cwd: &Path, args: &[&str]) -> Output {
        let mut c = Command::new(gantry_test_support::cargo::reference_cargo());
        c.args(args).current_dir(cwd);
        self.env(&mut c, &[]);
        c.output().unwrap()
    }

    fn env(&self, c: &mut Command, env: &[(&str, String)]) {
        gantry_test_support::cargo::isolate(c)
            .env("CARGO_HOME", &self.home)
            .env("CARGO_TARGET_DIR", self.work.join("target"));
        for (k, v) in env {
            c.env(k, v);
        }
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn write(root: &Path, rel: &str, contents: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, contents).unwrap();
}

/// A workspace of `tp-core` and `tp-app` (which depends on `tp-core` from registry `g`), both at
/// `version`, under `root`.
pub fn workspace(root: &Path, core: &str, app: &str, version: &str) -> PathBuf {
    let dir = root.join(format!("ws-{version}"));
    write(
        &dir,
        "Cargo.toml",
        &format!("[workspace]\nmembers = [\"{core}\", \"{app}\"]\nresolver = \"2\"\n"),
    );
    let package = |name: &str, deps: &str| {
        format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
             description = \"d\"\nlicense = \"MIT\"\npublish = [\"g\"]\n\n[dependencies]\n{deps}"
        )
    };
    write(&dir, &format!("{core}/Cargo.toml"), &package(core, ""));
    write(
        &dir,
        &format!("{core}/src/lib.rs"),
        "pub fn one() -> u32 {\n    1\n}\n",
    );
    write(
        &dir,
        &format!("{app}/Cargo.toml"),
        &package(
            app,
            &format!(
                "{core} = {{ path = \"../{core}\", version = \"{version}\", registry = \"g\" }}\n"
            ),
        ),
    );
    write(
        &dir,
        &format!("{app}/src/lib.rs"),
        &format!(
            "pub fn two() -> u32 {{\n    {}::one() + 1\n}}\n",
            core.replace('-', "_")
        ),
    );
    dir
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
            {
                found.push(p);
            }
        }
    }
    found
}
