//! Cargo-style terminal output: right-aligned bold status words, `warning:`/`error:` prefixes,
//! error chains with `Caused by:` blocks, colour only where the user wants it.

use std::io::Write;

use anstream::{AutoStream, ColorChoice};
use anstyle::{AnsiColor, Style};
use gantry_package::Reporter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

#[derive(Clone)]
pub(crate) struct Shell {
    verbosity: Verbosity,
    color: ColorChoice,
}

const STATUS: Style = AnsiColor::Green.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const ERROR: Style = AnsiColor::Red.on_default().bold();
const NOTE: Style = AnsiColor::Cyan.on_default().bold();

impl Shell {
    pub(crate) fn new(verbosity: Verbosity, color: ColorChoice) -> Self {
        Shell { verbosity, color }
    }

    pub(crate) fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// Parses `--color` (or `term.color`) values.
    pub(crate) fn color_choice(value: Option<&str>) -> Result<ColorChoice, String> {
        match value {
            None | Some("auto") => Ok(ColorChoice::Auto),
            Some("always") => Ok(ColorChoice::Always),
            Some("never") => Ok(ColorChoice::Never),
            Some(other) => Err(format!(
                "argument for --color must be auto, always, or never, but found `{other}`"
            )),
        }
    }

    pub(crate) fn color_arg(&self) -> Option<&'static str> {
        match self.color {
            ColorChoice::Always | ColorChoice::AlwaysAnsi => Some("always"),
            ColorChoice::Never => Some("never"),
            ColorChoice::Auto => None,
        }
    }

    fn stderr(&self) -> AutoStream<std::io::Stderr> {
        AutoStream::new(std::io::stderr(), self.color)
    }

    fn prefixed(&self, style: Style, label: &str, message: &str) {
        let mut err = self.stderr();
        // Output errors are ignored on purpose: a closed stderr must not turn into a panic.
        let _ = writeln!(err, "{style}{label}{style:#}: {message}");
    }

    pub(crate) fn error(&self, err: &anyhow::Error) {
        let mut text = err.to_string();
        for cause in err.chain().skip(1) {
            text.push_str("\n\nCaused by:");
            for line in cause.to_string().lines() {
                text.push('\n');
                if !line.is_empty() {
                    text.push_str("  ");
                    text.push_str(line);
                }
            }
        }
        self.prefixed(ERROR, "error", &text);
    }

    pub(crate) fn stdout_line(&self, line: &str) {
        let mut out = AutoStream::new(std::io::stdout(), self.color);
        let _ = writeln!(out, "{line}");
    }

    /// `line` on stderr, unprefixed and whatever the verbosity.
    pub(crate) fn stderr_line(&self, line: &str) {
        let _ = writeln!(self.stderr(), "{line}");
    }
}

impl Reporter for Shell {
    fn status(&self, word: &str, message: &str) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let mut err = self.stderr();
        let _ = writeln!(err, "{STATUS}{word:>12}{STATUS:#} {message}");
    }

    fn warning(&self, message: &str) {
        if self.verbosity != Verbosity::Quiet {
            self.prefixed(WARNING, "warning", message);
        }
    }

    fn note(&self, message: &str) {
        if self.verbosity != Verbosity::Quiet {
            self.prefixed(NOTE, "note", message);
        }
    }

    fn verbose(&self) -> bool {
        self.verbosity == Verbosity::Verbose
    }
}
