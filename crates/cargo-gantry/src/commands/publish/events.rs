//! `--message-format json`: one JSON object per line on stdout for each step of each crate.

use std::io::Write;
use std::time::Duration;

pub(crate) struct Events {
    enabled: bool,
}

impl Events {
    pub(crate) fn new(enabled: bool) -> Self {
        Events { enabled }
    }

    fn emit(&self, value: serde_json::Value) {
        if self.enabled {
            let mut out = std::io::stdout().lock();
            // A closed stdout must not abort the publish.
            let _ = writeln!(out, "{value}");
        }
    }

    /// `packaged`, `verified`, `skipped`, `uploaded`, `confirmed`.
    pub(crate) fn step(
        &self,
        event: &str,
        krate: &str,
        version: &str,
        checksum: Option<&str>,
        took: Duration,
    ) {
        self.emit(serde_json::json!({
            "event": event,
            "crate": krate,
            "version": version,
            "checksum": checksum,
            "duration_ms": u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        }));
    }

    /// A crate that did not make it: `failed` (with the reason) or `not-attempted` (with why).
    pub(crate) fn settled_badly(&self, event: &str, krate: &str, version: &str, message: &str) {
        self.emit(serde_json::json!({
            "event": event,
            "crate": krate,
            "version": version,
            "message": message,
        }));
    }

    /// The whole plan, before any slow work: every crate with its registry state and action.
    pub(crate) fn plan(&self, registry: &str, crates: Vec<serde_json::Value>) {
        self.emit(serde_json::json!({
            "event": "plan",
            "registry": registry,
            "crates": crates,
        }));
    }

    /// The last line: what happened to every planned crate, and whether the run succeeded.
    pub(crate) fn summary(&self, summary: serde_json::Value) {
        let mut value = summary;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("event".into(), "summary".into());
        }
        self.emit(value);
    }

    pub(crate) fn warning(&self, krate: Option<(&str, &str)>, message: &str) {
        self.emit(serde_json::json!({
            "event": "warning",
            "crate": krate.map(|k| k.0),
            "version": krate.map(|k| k.1),
            "message": message,
        }));
    }

    pub(crate) fn error(&self, message: &str) {
        self.emit(serde_json::json!({ "event": "error", "message": message }));
    }
}
