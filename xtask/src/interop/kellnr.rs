//! One kellnr on 127.0.0.1 with its data in a temp dir, and the few calls of its web API the
//! comparison needs: a session for admin/admin (`POST /api/v1/auth/login`, the cookie it sets), an
//! API token (`POST /api/v1/users/me/tokens`) and a second user (`POST /api/v1/users`), as
//! kellnr-web-ui 6.13.0's `user.rs` has them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(super) struct Kellnr {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

pub(super) struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Kellnr {
    /// Starts `bin` with its data in `dir` on a free port; waits until it answers.
    pub(super) fn start(bin: &Path, dir: &Path) -> Result<Kellnr, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("finding a free port: {e}"))?
            .port();
        let log = std::fs::File::create(dir.join("kellnr.log"))
            .map_err(|e| format!("creating kellnr.log: {e}"))?;
        let err_log = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .arg("start")
            .env("KELLNR_REGISTRY__DATA_DIR", dir.join("data"))
            .env("KELLNR_LOCAL__IP", "127.0.0.1")
            .env("KELLNR_LOCAL__PORT", port.to_string())
            .env("KELLNR_ORIGIN__HOSTNAME", "127.0.0.1")
            .env("KELLNR_ORIGIN__PORT", port.to_string())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let mut k = Kellnr {
            child,
            port,
            dir: dir.to_owned(),
        };
        k.wait_ready()?;
        Ok(k)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(a) = self.request("GET", "/api/v1/health", &[], "")
                && a.status == 200
            {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "kellnr exited ({status}) before it answered; its log:\n{}",
                    self.log()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "kellnr did not answer /api/v1/health within two minutes; its log:\n{}",
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    pub(super) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kellnr.log")).unwrap_or_default()
    }

    /// kellnr's sparse index.
    pub(super) fn index_url(&self) -> String {
        format!("sparse+http://127.0.0.1:{}/api/v1/crates/", self.port)
    }

    /// One HTTP/1.1 request (JSON body if any), answered in full.
    pub(super) fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Answer, String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\norigin: http://127.0.0.1:{port}\r\nconnection: close\r\ncontent-length: {}\r\n",
            body.len(),
            port = self.port
        );
        if !body.is_empty() {
            head.push_str("content-type: application/json\r\n");
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes())
            .and_then(|()| s.write_all(body.as_bytes()))
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
        parse_answer(&raw).ok_or_else(|| format!("{method} {path}: not an HTTP answer"))
    }

    /// A session cookie for admin/admin.
    pub(super) fn admin_session(&self) -> Result<String, String> {
        let a = self.request(
            "POST",
            "/api/v1/auth/login",
            &[],
            r#"{"user":"admin","pwd":"admin"}"#,
        )?;
        if a.status != 200 {
            return Err(format!(
                "logging in as admin/admin answered {}: {}",
                a.status, a.body
            ));
        }
        let cookies: Vec<String> = a
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next().map(str::to_owned))
            .collect();
        if cookies.is_empty() {
            return Err("kellnr's login set no session cookie".into());
        }
        Ok(cookies.join("; "))
    }

    /// A new API token for the user of `session`.
    pub(super) fn token(&self, session: &str, name: &str) -> Result<String, String> {
        let a = self.request(
            "POST",
            "/api/v1/users/me/tokens",
            &[("cookie", session)],
            &format!(r#"{{"name":"{name}"}}"#),
        )?;
        json_string(&a.body, "token").ok_or_else(|| {
            format!(
                "creating a token answered {} without a token: {}",
                a.status, a.body
            )
        })
    }

    /// A user that is not an admin (to add as an owner).
    pub(super) fn add_user(&self, session: &str, name: &str) -> Result<(), String> {
        let body =
            format!(r#"{{"name":"{name}","pwd1":"pw-{name}-0123","pwd2":"pw-{name}-0123"}}"#);
        for path in ["/api/v1/users", "/api/v1/users/"] {
            let a = self.request("POST", path, &[("cookie", session)], &body)?;
            if a.status == 200 {
                return Ok(());
            }
            if a.status != 404 && a.status != 405 {
                return Err(format!(
                    "adding user {name} answered {}: {}",
                    a.status, a.body
                ));
            }
        }
        Err(format!("kellnr has no user-creation route for {name}"))
    }
}

impl Drop for Kellnr {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect::<Vec<_>>();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Some(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The string value of `"key":"…"` in a flat JSON object (kellnr's answers are simple).
fn json_string(body: &str, key: &str) -> Option<String> {
    let start = body.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = body[start..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_tokens_are_read() {
        let a = parse_answer(
            b"HTTP/1.1 200 OK\r\nset-cookie: s=1; HttpOnly\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((a.status, a.body.as_str()), (200, "hello"));
        assert_eq!(
            json_string(r#"{"name":"x","token": "abc"}"#, "token").as_deref(),
            Some("abc")
        );
    }
}
