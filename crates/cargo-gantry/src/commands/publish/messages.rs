//! The texts the upload driver prints, most of them cargo's own words (kept byte for byte), so
//! that the driver reads as control flow and the wording can be checked in one place.

use std::fmt::Display;

use gantry_client::webapi::ApiError;
use gantry_package::PackagedCrate;

use super::join_list;

/// `name vX.Y.Z`, as cargo names a crate in its upload lines.
pub(super) fn label(c: &PackagedCrate) -> String {
    format!("{} v{}", c.name, c.version)
}

/// The context of every error that stops one crate's upload.
pub(super) fn failed_to_publish(c: &PackagedCrate, api_url: &str) -> String {
    format!(
        "failed to publish {} v{} to registry at {api_url}",
        c.name, c.version
    )
}

/// The `Uploaded` status line's text.
pub(super) fn uploaded(c: &PackagedCrate, registry: &str) -> String {
    format!("{} to registry `{registry}`", label(c))
}

/// The `Published` status line's text: every crate found in one index poll.
pub(super) fn published(mut labels: Vec<String>, registry: &str) -> String {
    labels.sort();
    format!("{} at registry `{registry}`", join_list(&labels, "and"))
}

/// cargo's note while only the index holds things up: `remaining` crates are still to be sent.
pub(super) fn waiting_for(mut labels: Vec<String>, remaining: usize, registry: &str) -> String {
    labels.sort();
    let list = join_list(&labels, "or");
    if remaining == 0 {
        format!(
            "waiting for {list} to be available at registry `{registry}`\nhelp: you may press ctrl-c to skip waiting; the {} available shortly",
            if labels.len() == 1 {
                "crate should be"
            } else {
                "crates should be"
            }
        )
    } else {
        format!(
            "waiting for {list} to be available at registry `{registry}`.\n      {remaining} remaining crate{} to be published",
            if remaining == 1 { "" } else { "s" }
        )
    }
}

/// cargo's warning when the index did not show an upload within the publish timeout.
pub(super) fn timed_out(c: &PackagedCrate, registry: &str) -> String {
    format!(
        "timed out waiting for {} to be available in registry `{registry}`\n  |\n  = note: the registry may have a backlog that is delaying making the crate available. The crate should be available soon.\n  = help: run the same command again to finish the publish once it is",
        label(c)
    )
}

/// The index lists this version with another checksum: someone published other sources.
pub(super) fn listed_with_other_checksum(c: &PackagedCrate, listed: &impl Display) -> String {
    format!(
        "{} is in the index with a different checksum ({listed}, ours {}); it was published from other sources",
        label(c),
        c.checksum
    )
}

/// The registry refused, but an earlier try of ours had landed.
pub(super) fn landed_despite_error(c: &PackagedCrate) -> String {
    format!(
        "the registry answered with an error, but {} is in the index with this checksum",
        label(c)
    )
}

/// An earlier run's upload that the index never listed.
pub(super) fn sending_again(c: &PackagedCrate) -> String {
    format!(
        "{} was uploaded by an earlier run but the index does not list it; sending it again",
        label(c)
    )
}

/// Why a crate waits: a 429 for its bucket (`new crates` / `new versions`), or an upload whose
/// outcome is unknown, whose first line is `error`.
pub(super) fn retrying(why: &str, c: &PackagedCrate, delay_secs: u64) -> String {
    format!(
        "{why}; retrying {} in {delay_secs}s (other uploads continue)",
        label(c)
    )
}

pub(super) fn rate_limited(kind: &str) -> String {
    format!("the registry is rate limiting uploads of {kind}")
}

pub(super) fn upload_failed(first_line: &str) -> String {
    format!("upload failed ({first_line})")
}

/// Not attempted: a dependency in this run failed, timed out or was not attempted itself.
pub(super) fn dependency_not_published(dep: &str) -> String {
    format!("its dependency `{dep}` was not published in this run")
}

pub(super) const DEPENDENCY_CYCLE: &str =
    "its in-workspace dependencies could not be ordered (dependency cycle)";

pub(super) const TIMED_OUT_EVENT: &str = "uploaded, but not yet visible in the index";

pub(super) const DRY_RUN_ABORT: &str = "aborting upload due to dry run";

/// The first line of an upload error, for the one-line `Waiting` status.
pub(super) fn first_line(e: &ApiError) -> String {
    e.to_string().lines().next().unwrap_or("").to_owned()
}

/// `context`, then the error's causes under `Caused by:` as cargo prints a chain: the reason a
/// registry gave (a 403's detail, say) stays on its own line under the step that failed.
pub(super) fn chain(context: String, err: impl Into<anyhow::Error>) -> String {
    render(err.into().context(context))
}

/// `err` and its causes under `Caused by:`, as cargo prints an error chain.
pub(super) fn render(err: anyhow::Error) -> String {
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
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_go_under_caused_by_with_blank_lines_kept_bare() {
        let err = anyhow::anyhow!("the registry said no\n\nbecause").context("403");
        assert_eq!(
            chain("failed to publish a v1.0.0".into(), err),
            "failed to publish a v1.0.0\n\nCaused by:\n  403\n\nCaused by:\n  the registry said no\n\n  because"
        );
    }

    #[test]
    fn waiting_notes_in_cargo_words() {
        let labels = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            waiting_for(labels(&["b v1.0.0", "a v1.0.0"]), 0, "g"),
            "waiting for a v1.0.0 or b v1.0.0 to be available at registry `g`\nhelp: you may press ctrl-c to skip waiting; the crates should be available shortly"
        );
        assert_eq!(
            waiting_for(labels(&["a v1.0.0"]), 1, "g"),
            "waiting for a v1.0.0 to be available at registry `g`.\n      1 remaining crate to be published"
        );
        assert_eq!(
            published(labels(&["c v1", "a v1", "b v1"]), "g"),
            "a v1, b v1, and c v1 at registry `g`"
        );
    }
}
