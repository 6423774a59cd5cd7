//! Bringing the local clone of a git index up to date (registry.md A2) as cargo does: the remote's
//! default branch fetched with `+HEAD:refs/remotes/origin/HEAD` (the `+` accepts the squashed
//! history registries publish), no tags, into a repository under `$CARGO_HOME/registry/index/`.
//! In-process with gitoxide by default; with the `git` program when `net.git-fetch-with-cli` is set,
//! which is what indexes served over git's plain ("dumb") HTTP need, and what uses git's own
//! credential and proxy setup.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

use super::GitError;

/// What cargo fetches: the remote's HEAD, force-updated.
pub(super) const REFSPEC: &str = "+HEAD:refs/remotes/origin/HEAD";
/// Where the fetched commit is recorded; the index is read from its tree.
pub(super) const FETCHED_REF: &str = "refs/remotes/origin/HEAD";

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchCause {
    #[error(transparent)]
    Gitoxide(Box<dyn std::error::Error + Send + Sync>),
    /// `git fetch` ran and failed (its own messages went to stderr, as with cargo).
    #[error("process didn't exit successfully: {command} ({status})")]
    Process {
        command: String,
        status: std::process::ExitStatus,
    },
    #[error("could not execute process {command} (never executed)")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
}

/// The clone at `dir`, or a new one made there as cargo makes it: a repository with a work tree
/// (older cargos checked files out into it) that nothing is ever checked out into.
pub(super) fn open_or_init(dir: &Path) -> Result<gix::ThreadSafeRepository, GitError> {
    if let Ok(repo) = open(dir) {
        return Ok(repo);
    }
    // Not a repository (or a broken one): start over, as cargo does.
    let init = |source: Box<dyn std::error::Error + Send + Sync>| GitError::Init {
        dir: dir.to_owned(),
        source,
    };
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| init(e.into()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| init(e.into()))?;
    gix::ThreadSafeRepository::init(
        dir,
        gix::create::Kind::WithWorktree,
        gix::create::Options::default(),
    )
    .map_err(|e| init(e.into()))?;
    open(dir).map_err(|e| init(e.into()))
}

/// Opens an existing clone with the configuration a user's git has (credential helpers, proxies,
/// `url.*.insteadOf`), as libgit2 and the git program would.
pub(super) fn open(dir: &Path) -> Result<gix::ThreadSafeRepository, Box<gix::open::Error>> {
    use gix::sec::trust::DefaultForLevel;
    let mut opts = gix::open::Options::default_for_level(gix::sec::Trust::Full);
    opts.permissions.config.git_binary = true;
    gix::ThreadSafeRepository::open_opts(dir, opts).map_err(Box::new)
}

/// Fetches `url` into `repo` in-process. `Err((cause, spurious))`: spurious failures (no answer, a
/// dropped connection) are worth another try.
pub(super) fn with_gitoxide(
    repo: &gix::ThreadSafeRepository,
    url: &str,
) -> Result<(), (FetchCause, bool)> {
    use gix::protocol::transport::IsSpuriousError;
    crate::http::install_crypto_provider();
    let mut repo = repo.to_thread_local();
    reflog_identity_fallback(&mut repo);
    let fail = |e: Box<dyn std::error::Error + Send + Sync>, spurious: bool| {
        (FetchCause::Gitoxide(e), spurious)
    };
    let remote = repo
        .remote_at(url)
        .map_err(|e| fail(e.into(), false))?
        .with_fetch_tags(gix::remote::fetch::Tags::None)
        .with_refspecs(Some(REFSPEC), gix::remote::Direction::Fetch)
        .map_err(|e| fail(e.into(), false))?;
    let connection = remote.connect(gix::remote::Direction::Fetch).map_err(|e| {
        let spurious = e.is_spurious();
        fail(e.into(), spurious)
    })?;
    let prepared = connection
        .prepare_fetch(gix::progress::Discard, Default::default())
        .map_err(|e| {
            let spurious = e.is_spurious();
            fail(e.into(), spurious)
        })?;
    prepared
        .receive(gix::progress::Discard, &AtomicBool::new(false))
        .map_err(|e| {
            let spurious = e.is_spurious();
            fail(e.into(), spurious)
        })?;
    Ok(())
}

/// Updating a ref writes a reflog entry, which gitoxide refuses to write without a committer
/// (`reflog messages need a committer which isn't set`). libgit2, and so cargo, signs such entries
/// `unknown <unknown>` when git has no identity configured (a CI user, a fresh container); the same
/// fallback here, used only where git's own `user.*`/`committer.*`/`GIT_COMMITTER_*` give none.
fn reflog_identity_fallback(repo: &mut gix::Repository) {
    use gix::config::tree::gitoxide::Committer;
    if repo.committer().is_some() {
        return;
    }
    let mut fallback = gix::config::File::new(gix::config::file::Metadata::api());
    for key in [&Committer::NAME_FALLBACK, &Committer::EMAIL_FALLBACK] {
        // Both keys are gitoxide's own, statically valid: setting them cannot fail.
        let _ = fallback.set_raw_value(key, "unknown");
    }
    repo.config_snapshot_mut().append(fallback);
}

/// How much `git fetch` says: cargo passes its own `--quiet`/`--verbose` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// The `git fetch` cargo runs for `net.git-fetch-with-cli`, in the clone's git dir.
pub(super) fn cli_command(git_dir: &Path, url: &str, verbosity: Verbosity) -> Command {
    let mut cmd = Command::new("git");
    cmd.args(cli_args(url, verbosity))
        // A `git` that started us (say, `exec` in a rebase) set these for its own repository.
        .env("GIT_DIR", git_dir)
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES")
        .current_dir(git_dir);
    cmd
}

fn cli_args(url: &str, verbosity: Verbosity) -> Vec<&str> {
    let mut args = vec!["fetch", "--no-tags"];
    match verbosity {
        Verbosity::Quiet => args.push("--quiet"),
        Verbosity::Normal => {}
        Verbosity::Verbose => args.push("--verbose"),
    }
    args.extend(["--force", "--update-head-ok", url, REFSPEC]);
    args
}

/// How cargo shows the command in messages: `` `git fetch … 'url' '+HEAD:…'` ``.
pub(super) fn cli_display(url: &str, verbosity: Verbosity) -> String {
    let args: Vec<String> = cli_args(url, verbosity)
        .iter()
        .map(|a| shell_escape(a))
        .collect();
    format!("`git {}`", args.join(" "))
}

/// Runs `git fetch`; git's own output goes to our stderr, as it does under cargo.
pub(super) fn with_cli(
    git_dir: &Path,
    url: &str,
    verbosity: Verbosity,
) -> Result<(), (FetchCause, bool)> {
    let command = cli_display(url, verbosity);
    let status = cli_command(git_dir, url, verbosity)
        .status()
        .map_err(|source| {
            (
                FetchCause::Spawn {
                    command: command.clone(),
                    source,
                },
                false,
            )
        })?;
    if status.success() {
        Ok(())
    } else {
        // cargo tries a failed `git fetch` again: most failures are the network's.
        Err((FetchCause::Process { command, status }, true))
    }
}

/// The repository's git dir (`<dir>/.git`).
pub(super) fn git_dir(dir: &Path) -> PathBuf {
    dir.join(".git")
}

/// A word as a POSIX shell would need it quoted (cargo prints commands this way).
fn shell_escape(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_=/,.+".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_owned();
    }
    let mut out = String::from("'");
    for c in word.chars() {
        if c == '\'' || c == '!' {
            out.push_str("'\\");
            out.push(c);
            out.push('\'');
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_reads_as_cargo_prints_it() {
        assert_eq!(
            cli_display("file:///tmp/gx/nonexist", Verbosity::Normal),
            "`git fetch --no-tags --force --update-head-ok 'file:///tmp/gx/nonexist' '+HEAD:refs/remotes/origin/HEAD'`"
        );
        assert_eq!(
            cli_display("file:///r", Verbosity::Verbose),
            "`git fetch --no-tags --verbose --force --update-head-ok 'file:///r' '+HEAD:refs/remotes/origin/HEAD'`"
        );
        assert_eq!(shell_escape("it's"), "'it'\\''s'");
        assert_eq!(shell_escape(""), "''");
    }
}
