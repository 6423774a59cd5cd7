//! Errors from loading and normalising manifests. `Display` is cargo's top line; the rest of
//! cargo's "Caused by:" chain is reachable through `source()`, so the CLI renders it the cargo way.

use std::path::PathBuf;

/// A plain-text cause in an error chain (cargo prints it under `Caused by:`), possibly with its
/// own cause.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Cause(pub String, #[source] pub Option<Box<Cause>>);

impl Cause {
    pub fn new(msg: impl Into<String>) -> Self {
        Cause(msg.into(), None)
    }

    /// Builds a chain from `"a\n\nCaused by:\n  b"`-style text, cargo's rendering of a chain.
    pub fn from_chain_text(text: &str) -> Self {
        let mut parts: Vec<String> = text
            .split("\n\nCaused by:\n")
            .map(|p| {
                p.lines()
                    .map(|l| l.strip_prefix("  ").unwrap_or(l))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect();
        let mut cause: Option<Box<Cause>> = None;
        while let Some(last) = parts.pop() {
            cause = Some(Box::new(Cause(last, cause)));
        }
        cause.map(|c| *c).unwrap_or_else(|| Cause::new(""))
    }
}

/// A TOML syntax or schema error, rendered like cargo 1.95 (a rustc-style snippet).
#[derive(Debug)]
pub struct TomlSyntax {
    pub path: PathBuf,
    pub message: String,
    /// 1-based line and column of the span start, the line's text and the caret count.
    pub line: usize,
    pub column: usize,
    pub line_text: String,
    pub carets: usize,
}

impl TomlSyntax {
    /// cargo shows the manifest path relative to the current directory when it is inside it.
    pub fn render(&self, cwd: Option<&std::path::Path>) -> String {
        let shown = cwd
            .and_then(|c| self.path.strip_prefix(c).ok())
            .unwrap_or(&self.path);
        let num = self.line.to_string();
        let pad = " ".repeat(num.len());
        let lead: String = self
            .line_text
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!(
            "{}\n{pad}--> {}:{}:{}\n{pad} |\n{num} | {}\n{pad} | {lead}{}",
            self.message,
            shown.display(),
            self.line,
            self.column,
            self.line_text,
            "^".repeat(self.carets.max(1))
        )
    }
}

impl std::fmt::Display for TomlSyntax {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(None))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// TOML syntax/schema error: cargo 1.95 prints the message with a source snippet as the
    /// top-level error (no "failed to parse manifest" line). Use [`TomlSyntax::render`] with the
    /// current directory to get cargo's relative path.
    #[error("{0}")]
    Syntax(Box<TomlSyntax>),
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
    /// A path dependency's manifest failed to load while discovering members.
    #[error("failed to load manifest for dependency `{name}`")]
    Dependency {
        name: String,
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
            cause: Cause::from_chain_text(&cause.into()),
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
