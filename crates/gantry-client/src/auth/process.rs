//! An external credential provider: a program started with `--cargo-plugin` that speaks cargo's
//! JSON-lines protocol (hello `{"v":[1]}`, one request, one response), with cargo's own message
//! types so the bytes on the pipe are cargo's.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use cargo_credential::{
    Action, Credential, CredentialHello, CredentialRequest, CredentialResponse, Error, RegistryInfo,
};

use super::builtin::chained;

pub struct ProcessCredential {
    program: String,
}

impl ProcessCredential {
    pub fn new(program: &str) -> Self {
        ProcessCredential {
            program: program.to_owned(),
        }
    }
}

/// A protocol message that could not be read, with serde's reason as its cause.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct BadMessage {
    message: &'static str,
    #[source]
    source: serde_json::Error,
}

fn bad(message: &'static str, source: serde_json::Error) -> Error {
    Error::from(Box::new(BadMessage { message, source }))
}

impl Credential for ProcessCredential {
    fn perform(
        &self,
        registry: &RegistryInfo<'_>,
        action: &Action<'_>,
        args: &[&str],
    ) -> Result<CredentialResponse, Error> {
        let mut child = Command::new(&self.program)
            .arg("--cargo-plugin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| chained("failed to spawn credential process", e))?;
        let (Some(mut to_child), Some(from_child)) = (child.stdin.take(), child.stdout.take())
        else {
            return Err("failed to spawn credential process: no pipes".into());
        };
        let mut from_child = BufReader::new(from_child);
        let mut line = String::new();
        from_child
            .read_line(&mut line)
            .map_err(|e| chained("failed to read hello from credential provider", e))?;
        let _hello: CredentialHello =
            serde_json::from_str(&line).map_err(|e| bad("failed to deserialize hello", e))?;
        let request = CredentialRequest {
            v: cargo_credential::PROTOCOL_VERSION_1,
            registry: registry.clone(),
            action: action.clone(),
            args: args.to_vec(),
        };
        let request =
            serde_json::to_string(&request).map_err(|e| bad("failed to serialize request", e))?;
        writeln!(to_child, "{request}")
            .map_err(|e| chained("failed to write to credential provider", e))?;
        line.clear();
        from_child
            .read_line(&mut line)
            .map_err(|e| chained("failed to read response from credential provider", e))?;
        let response: Result<CredentialResponse, Error> =
            serde_json::from_str(&line).map_err(|e| bad("failed to deserialize response", e))?;
        drop(to_child);
        let status = child
            .wait()
            .map_err(|e| chained("credential process never started", e))?;
        if !status.success() {
            return Err(format!(
                "credential process `{}` failed with status {status}`",
                self.program
            )
            .into());
        }
        response
    }
}
