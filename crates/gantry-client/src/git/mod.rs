//! A git index (registry.md A2): cargo's own clone under `$CARGO_HOME/registry/index/<dir>` (the
//! same directory cargo uses, so the two share it), fetched when first read and again on
//! [`GitIndex::refresh`], and read from the tree of the fetched commit — never from a checkout.
//! Offline (`--offline`, `net.offline`) the clone is read as it is.

mod dir;
mod fetch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gantry_protocol::{IndexEntry, index_path};

pub use dir::index_dir_name;
pub use fetch::{FetchCause, Verbosity};

use crate::index::{IndexError, RegistryConfig, parse_entries};
use crate::sparse::Warn;

/// Where status lines go: (`Blocking`, message), and (`Running`, the git command) when verbose.
pub type Status = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// How git indexes are reached; from cargo's configuration.
#[derive(Clone)]
pub struct GitOptions {
    pub cargo_home: PathBuf,
    /// `net.git-fetch-with-cli`: fetch with the `git` program.
    pub fetch_with_cli: bool,
    /// `--offline`/`net.offline`: read the clone as it is, never fetch.
    pub offline: bool,
    /// Read a clone that was already fetched as it is, fetching only when there is none: cargo's
    /// `login`, which reads `config.json` without forcing an index update.
    pub reuse_clone: bool,
    /// cargo's `-q`/`-v`, passed on to `git fetch`.
    pub verbosity: Verbosity,
    pub status: Option<Status>,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("failed to fetch `{url}`{}", hint.as_deref().map(|h| format!("\n{h}")).unwrap_or_default())]
    Fetch {
        url: String,
        /// What to try, where there is something to try.
        hint: Option<String>,
        #[source]
        source: FetchCause,
    },
    #[error("failed to initialize index git repository at `{}`", dir.display())]
    Init {
        dir: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "the index `{url}` has not been fetched yet (no clone at `{}`) and the network is off (`--offline` or `net.offline`)\nhelp: run the command once without `--offline` to fetch it",
        dir.display()
    )]
    NotFetched { url: String, dir: PathBuf },
    #[error("the clone of `{url}` at `{}` has no fetched commit ({})", dir.display(), fetch::FETCHED_REF)]
    NoHead {
        url: String,
        dir: PathBuf,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("failed to read `{path}` from the clone of `{url}` at `{}`", dir.display())]
    Read {
        path: String,
        url: String,
        dir: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("failed to lock the package cache at `{}`", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid url `{url}`")]
    Url {
        url: String,
        #[source]
        source: url::ParseError,
    },
}

/// One git index.
#[derive(Clone)]
pub struct GitIndex {
    url: String,
    /// The clone: `$CARGO_HOME/registry/index/<host>-<hash>`.
    dir: PathBuf,
    opts: GitOptions,
    retries: u32,
    warn: Option<Warn>,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    repo: Option<gix::ThreadSafeRepository>,
    /// The tree of the commit the index is read from; `None` until fetched (or found offline).
    tree: Option<gix::ObjectId>,
}

impl GitIndex {
    /// The git index at `url` (as configured: no `sparse+`), kept where cargo keeps it.
    pub fn new(url: &str, opts: GitOptions) -> Result<GitIndex, GitError> {
        let parsed = url::Url::parse(url).map_err(|source| GitError::Url {
            url: url.to_owned(),
            source,
        })?;
        let dir = opts
            .cargo_home
            .join("registry/index")
            .join(index_dir_name(&parsed));
        Ok(GitIndex {
            url: url.to_owned(),
            dir,
            opts,
            retries: 0,
            warn: None,
            state: Arc::default(),
        })
    }

    /// Try spurious fetch failures again (cargo's `net.retry`), warning through `warn`.
    pub fn with_retries(mut self, retries: u32, warn: Warn) -> Self {
        self.retries = retries;
        self.warn = Some(warn);
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where the clone is.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `config.json` from the fetched commit.
    pub async fn config(&self) -> Result<RegistryConfig, IndexError> {
        let Some(bytes) = self.read("config.json".to_owned()).await? else {
            return Err(IndexError::NoConfig);
        };
        serde_json::from_slice(&bytes).map_err(|source| IndexError::Parse {
            url: format!("{}/config.json", self.url.trim_end_matches('/')),
            source,
        })
    }

    /// Every readable entry of `name`'s index file in the fetched commit; none when it has none.
    pub async fn entries(&self, name: &str) -> Result<Vec<IndexEntry>, IndexError> {
        Ok(match self.read(index_path(name)).await? {
            Some(bytes) => parse_entries(&String::from_utf8_lossy(&bytes)),
            None => Vec::new(),
        })
    }

    /// Fetches again now (offline: nothing to do), so later reads see what the registry has
    /// pushed since; used while waiting for a publish to show.
    pub async fn refresh(&self) -> Result<(), IndexError> {
        let this = self.clone();
        blocking(move || {
            let mut state = this.state.lock().unwrap_or_else(|e| e.into_inner());
            if this.opts.offline && state.tree.is_some() {
                return Ok(());
            }
            this.update(&mut state).map_err(Into::into)
        })
        .await
    }

    /// The file at `path` in the fetched commit, fetching first if nothing was fetched yet.
    async fn read(&self, path: String) -> Result<Option<Vec<u8>>, IndexError> {
        let this = self.clone();
        blocking(move || {
            let mut state = this.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.tree.is_none() {
                this.update(&mut state)?;
            }
            let (Some(repo), Some(tree)) = (&state.repo, state.tree) else {
                return Err(this.no_head(None).into());
            };
            this.read_blob(repo, tree, &path).map_err(Into::into)
        })
        .await
    }

    /// Whether the first read will fetch (cargo then says `Updating …`).
    pub fn fetches_on_first_read(&self) -> bool {
        let reused = self.opts.reuse_clone && self.fetched_clone().is_some();
        !(self.opts.offline || reused)
    }

    /// The clone and its fetched tree, when a fetch has happened before.
    fn fetched_clone(&self) -> Option<(gix::ThreadSafeRepository, gix::ObjectId)> {
        let repo = fetch::open(&self.dir).ok()?;
        let tree = self.fetched_tree(&repo).ok()?;
        Some((repo, tree))
    }

    /// Fetches (unless offline) and records the fetched commit's tree.
    fn update(&self, state: &mut State) -> Result<(), GitError> {
        if self.opts.reuse_clone
            && !self.opts.offline
            && state.tree.is_none()
            && let Some((repo, tree)) = self.fetched_clone()
        {
            state.tree = Some(tree);
            state.repo = Some(repo);
            return Ok(());
        }
        let repo = if self.opts.offline {
            match (&state.repo, fetch::open(&self.dir)) {
                (Some(repo), _) => repo.clone(),
                (None, Ok(repo)) => repo,
                (None, Err(_)) => {
                    return Err(GitError::NotFetched {
                        url: self.url.clone(),
                        dir: self.dir.clone(),
                    });
                }
            }
        } else {
            let _lock = self.lock_package_cache()?;
            let repo = match &state.repo {
                Some(repo) => repo.clone(),
                None => fetch::open_or_init(&self.dir)?,
            };
            self.fetch_with_retries(&repo)?;
            repo
        };
        state.tree = Some(self.fetched_tree(&repo)?);
        state.repo = Some(repo);
        Ok(())
    }

    fn fetch_with_retries(&self, repo: &gix::ThreadSafeRepository) -> Result<(), GitError> {
        let mut tries_left = self.retries;
        let mut retried = 0;
        loop {
            let result = if self.opts.fetch_with_cli {
                let git_dir = fetch::git_dir(&self.dir);
                let verbosity = self.opts.verbosity;
                if verbosity == Verbosity::Verbose {
                    self.status("Running", &fetch::cli_display(&self.url, verbosity));
                }
                fetch::with_cli(&git_dir, &self.url, verbosity)
            } else {
                fetch::with_gitoxide(repo, &self.url)
            };
            let (cause, spurious) = match result {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if !spurious || tries_left == 0 {
                return Err(GitError::Fetch {
                    url: self.url.clone(),
                    hint: self.hint(),
                    source: cause,
                });
            }
            if let Some(warn) = &self.warn {
                let s = if tries_left == 1 { "try" } else { "tries" };
                warn(&format!(
                    "spurious network error ({tries_left} {s} remaining): {}",
                    innermost(&cause)
                ));
            }
            std::thread::sleep(crate::sparse::retry_wait(retried));
            tries_left -= 1;
            retried += 1;
        }
    }

    /// What to try when gitoxide cannot fetch a remote index: the git program speaks git's plain
    /// ("dumb") HTTP, which some registries serve their index with, and uses git's own
    /// credentials and proxy settings — as with cargo, `net.git-fetch-with-cli` switches to it.
    fn hint(&self) -> Option<String> {
        let remote = !self.url.starts_with("file:");
        (remote && !self.opts.fetch_with_cli).then(|| {
            "help: if `git fetch` can fetch this URL (git also speaks plain \"dumb\" HTTP and uses its own credentials and proxy settings), set `net.git-fetch-with-cli = true`".to_owned()
        })
    }

    fn fetched_tree(&self, repo: &gix::ThreadSafeRepository) -> Result<gix::ObjectId, GitError> {
        let repo = repo.to_thread_local();
        let boxed = |e: Box<dyn std::error::Error + Send + Sync>| self.no_head(Some(e));
        let mut reference = repo
            .find_reference(fetch::FETCHED_REF)
            .map_err(|e| boxed(e.into()))?;
        let commit = reference.peel_to_commit().map_err(|e| boxed(e.into()))?;
        commit
            .tree_id()
            .map(|id| id.detach())
            .map_err(|e| boxed(e.into()))
    }

    fn read_blob(
        &self,
        repo: &gix::ThreadSafeRepository,
        tree: gix::ObjectId,
        path: &str,
    ) -> Result<Option<Vec<u8>>, GitError> {
        let fail = |source: Box<dyn std::error::Error + Send + Sync>| GitError::Read {
            path: path.to_owned(),
            url: self.url.clone(),
            dir: self.dir.clone(),
            source,
        };
        let repo = repo.to_thread_local();
        let tree = repo.find_tree(tree).map_err(|e| fail(e.into()))?;
        let Some(entry) = tree
            .lookup_entry_by_path(path)
            .map_err(|e| fail(e.into()))?
        else {
            return Ok(None);
        };
        if !entry.mode().is_blob() {
            return Ok(None);
        }
        let object = entry.object().map_err(|e| fail(e.into()))?;
        Ok(Some(object.detach().data))
    }

    fn no_head(&self, source: Option<Box<dyn std::error::Error + Send + Sync>>) -> GitError {
        GitError::NoHead {
            url: self.url.clone(),
            dir: self.dir.clone(),
            source,
        }
    }

    fn status(&self, word: &str, message: &str) {
        if let Some(status) = &self.opts.status {
            status(word, message);
        }
    }

    /// cargo's package-cache lock (`$CARGO_HOME/.package-cache`), held while the clone changes so a
    /// cargo running beside us never sees it half-fetched.
    fn lock_package_cache(&self) -> Result<std::fs::File, GitError> {
        let path = self.opts.cargo_home.join(".package-cache");
        let fail = |source| GitError::Lock {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.opts.cargo_home).map_err(fail)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(fail)?;
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::Error(e)) => return Err(fail(e)),
            Err(std::fs::TryLockError::WouldBlock) => {}
        }
        self.status("Blocking", "waiting for file lock on package cache");
        file.lock().map_err(fail)?;
        Ok(file)
    }
}

/// The last cause in `e`'s chain: what cargo's "spurious network error" warning names.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// Git work blocks; it runs off the async runtime's thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IndexError> + Send + 'static,
) -> Result<T, IndexError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| IndexError::Task(e.to_string()))?
}
