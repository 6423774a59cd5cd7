//! Errors from loading and normalising manifests. `Display` is cargo's top line; the rest of
//! cargo's "Caused by:" chain is reachable through `source()`, so the CLI renders it the cargo way.

use std::path::PathBuf;

/// A plain-text cause in an error chain (cargo prints it under `Caused by:`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Cause(pub String);

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A manifest (or the file a `package.workspace` pointer names) cannot be read.
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax or schema error, or a semantic error cargo reports at parse time.
    #[error("failed to parse manifest at `{}`", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        cause: Cause,
    },
    /// A workspace member's manifest failed to load.
    #[error(
        "failed to load manifest for workspace member `{}`\nreferenced by workspace at `{}`",
        member.display(),
        root.display()
    )]
    Member {
        member: PathBuf,
        root: PathBuf,
        #[source]
        source: Box<ManifestError>,
    },
    /// Workspace structure problems (not a member, two roots, bad default-members ...): the full
    /// cargo message is the display text.
    #[error("{0}")]
    Workspace(String),
    /// §3.5/§11.5 dependency checks before packaging/publishing.
    #[error("failed to verify manifest at `{}`", path.display())]
    Verify {
        path: PathBuf,
        #[source]
        cause: Cause,
    },
    #[error("cannot publish with `open-namespaces`")]
    OpenNamespaces,
    /// The normalised manifest could not be serialised (should not happen for parsed input).
    #[error("failed to serialize the normalized manifest for `{name}`")]
    Serialize {
        name: String,
        #[source]
        cause: Cause,
    },
}

impl ManifestError {
    pub(crate) fn parse(path: &std::path::Path, cause: impl Into<String>) -> Self {
        ManifestError::Parse {
            path: path.to_path_buf(),
            cause: Cause(cause.into()),
        }
    }

    /// The full cargo-style chain: the top line, then each cause (for tests and simple renderers).
    pub fn chain(&self) -> Vec<String> {
        let mut out = vec![self.to_string()];
        let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(self);
        while let Some(e) = cur {
            out.push(e.to_string());
            cur = e.source();
        }
        out
    }
}
