//! External credential providers (spec §8.4): a process started with `--cargo-plugin` that speaks
//! cargo's JSON-lines protocol — hello `{"v":[1]}`, one request, one response.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("failed to spawn credential process `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("credential provider `{program}` failed action `{action}`\n\nCaused by:\n  {message}")]
    Failed {
        program: String,
        action: String,
        message: String,
    },
}

/// What the provider is asked for.
pub struct ProviderRequest<'a> {
    pub index_url: &'a str,
    pub registry_name: Option<&'a str>,
    /// `read`, `publish`, `yank`, `unyank`, `owners`.
    pub operation: &'a str,
    /// Crate name and version, for operations on one crate.
    pub krate: Option<(&'a str, &'a str)>,
    /// `.crate` sha256, for `publish`.
    pub cksum: Option<&'a str>,
}

/// Field order as cargo sends it.
#[derive(Serialize)]
struct WireRequest<'a> {
    v: u32,
    registry: WireRegistry<'a>,
    kind: &'a str,
    operation: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vers: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cksum: Option<&'a str>,
    args: &'a [String],
}

#[derive(Serialize)]
struct WireRegistry<'a> {
    #[serde(rename = "index-url")]
    index_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Deserialize)]
struct Hello {
    v: Vec<u32>,
}

#[derive(Deserialize)]
enum Response {
    Ok(OkBody),
    Err(ErrBody),
}

#[derive(Deserialize)]
struct OkBody {
    #[serde(default)]
    token: Option<String>,
}

#[derive(Deserialize)]
struct ErrBody {
    kind: String,
    #[serde(default)]
    message: Option<String>,
}

/// Asks `command` (program and args) for a token. `Ok(None)`: the provider has none for this
/// registry (`not-found` / `url-not-supported`).
pub fn get_token(
    command: &[String],
    req: &ProviderRequest,
) -> Result<Option<String>, ProviderError> {
    let program = command.first().cloned().unwrap_or_default();
    let fail = |message: String| ProviderError::Failed {
        program: program.clone(),
        action: "get".into(),
        message,
    };
    let mut child = Command::new(&program)
        .arg("--cargo-plugin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| ProviderError::Spawn {
            program: program.clone(),
            source,
        })?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(fail("no pipes to the credential process".into()));
    };
    let mut stdout = BufReader::new(stdout);
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .map_err(|e| fail(e.to_string()))?;
    let hello: Hello = serde_json::from_str(&line).map_err(|e| fail(format!("bad hello: {e}")))?;
    if !hello.v.contains(&1) {
        return Err(fail(format!(
            "no supported protocol version in {:?}",
            hello.v
        )));
    }
    let request = WireRequest {
        v: 1,
        registry: WireRegistry {
            index_url: req.index_url,
            name: req.registry_name,
        },
        kind: "get",
        operation: req.operation,
        name: req.krate.map(|k| k.0),
        vers: req.krate.map(|k| k.1).filter(|v| !v.is_empty()),
        cksum: req.cksum,
        args: &command[1..],
    };
    let request = serde_json::to_string(&request).map_err(|e| fail(e.to_string()))?;
    writeln!(stdin, "{request}").map_err(|e| fail(e.to_string()))?;
    line.clear();
    stdout
        .read_line(&mut line)
        .map_err(|e| fail(e.to_string()))?;
    drop(stdin);
    let _ = child.wait();
    let response: Response =
        serde_json::from_str(&line).map_err(|e| fail(format!("bad response: {e}")))?;
    match response {
        Response::Ok(ok) => Ok(ok.token),
        Response::Err(e) if e.kind == "not-found" || e.kind == "url-not-supported" => Ok(None),
        Response::Err(e) => Err(fail(e.message.unwrap_or(e.kind))),
    }
}
