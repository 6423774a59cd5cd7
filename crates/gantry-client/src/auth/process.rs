//! An external credential provider: a program started with `--cargo-plugin` that speaks cargo's
//! JSON-lines protocol (hello `{"v":[1]}`, one request, one response), with cargo's own message
//! types so the bytes on the pipe are cargo's.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use cargo_credential::{
    Action, Credential, CredentialHello, CredentialRequest, CredentialResponse, Error, RegistryInfo,
};

use super::builtin::chained;

pub(super) struct ProcessCredential {
    program: String,
}

impl ProcessCredential {
    pub(super) fn new(program: &str) -> Self {
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
        let hello: CredentialHello =
            serde_json::from_str(&line).map_err(|e| bad("failed to deserialize hello", e))?;
        // A provider that speaks none of our protocol versions gets no request: it is stopped
        // (it may be waiting for one) and named with what it does speak, as cargo does.
        if !hello.v.contains(&cargo_credential::PROTOCOL_VERSION_1) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "credential provider supports protocol versions {:?}, while Cargo supports {:?}",
                hello.v,
                [cargo_credential::PROTOCOL_VERSION_1]
            )
            .into());
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_provider_without_our_protocol_version_gets_no_request() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let request = dir.path().join("request");
        let script = dir.path().join("provider");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '{{\"v\":[998,999]}}\\n'\nread -r line\nprintf '%s' \"$line\" > '{}'\n",
                request.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let registry = RegistryInfo {
            index_url: "https://example.invalid/index",
            name: Some("alt"),
            headers: Vec::new(),
        };
        let err = ProcessCredential::new(script.to_str().unwrap())
            .perform(&registry, &Action::Logout, &[])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "credential provider supports protocol versions [998, 999], while Cargo supports [1]"
        );
        assert!(!request.exists(), "no request was sent");
    }
}
