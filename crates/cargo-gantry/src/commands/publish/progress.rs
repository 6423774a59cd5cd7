//! A progress bar for the upload phase on a terminal; nothing at all otherwise (tests and CI logs
//! get the plain status lines only). Status lines are printed "through" the bar so they never get
//! mixed with its redraws.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub(super) struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar of `total` crates when stderr is a terminal and output is not quiet, else a hidden one.
    pub(super) fn new(total: usize, enabled: bool) -> Progress {
        let shown = enabled && total > 1 && std::io::stderr().is_terminal();
        let bar = if shown {
            let bar = ProgressBar::with_draw_target(
                Some(u64::try_from(total).unwrap_or(u64::MAX)),
                ProgressDrawTarget::stderr(),
            );
            if let Ok(style) =
                ProgressStyle::with_template("{prefix:>12.cyan.bold} [{bar:27}] {pos}/{len}: {msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix("Publishing");
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress { bar }
    }

    /// Runs `f` (which prints) with the bar cleared, then redraws it.
    pub(super) fn print<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// One more crate settled (confirmed, failed or given up).
    pub(super) fn settled(&self) {
        self.bar.inc(1);
    }

    pub(super) fn message(&self, uploading: usize, waiting: usize) {
        self.bar.set_message(format!(
            "{uploading} uploading, {waiting} waiting for the index"
        ));
    }

    pub(super) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
