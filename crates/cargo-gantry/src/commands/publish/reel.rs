//! The order upload messages are shown in. Cargo uploads one crate at a time, so its output reads
//! `Uploading a`, `Uploaded a`, `Uploading b`, `Uploaded b`. Gantry may have several uploads in
//! flight; their lines are held back so that each crate's lines appear together, in the order the
//! uploads started — the same text cargo prints, with the speed of concurrent uploads.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use gantry_package::Reporter;

use crate::shell::Shell;

/// One line of an upload's story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Line {
    Status(&'static str, String),
    Warning(String),
    Note(String),
}

impl Line {
    pub(super) fn print(&self, shell: &Shell) {
        match self {
            Line::Status(word, msg) => shell.status(word, msg),
            Line::Warning(msg) => shell.warning(msg),
            Line::Note(msg) => shell.note(msg),
        }
    }
}

/// Uploads (by index) whose lines are being shown or held, in start order.
#[derive(Debug, Default)]
pub(super) struct Reel {
    order: VecDeque<usize>,
    held: BTreeMap<usize, Vec<Line>>,
    ended: BTreeSet<usize>,
}

impl Reel {
    /// An upload starts: its lines come after those of every upload started before it.
    pub(super) fn begin(&mut self, i: usize) {
        if !self.order.contains(&i) {
            self.order.push_back(i);
        }
    }

    /// `line` of upload `i`; `last` when the attempt is over (answered, failed, or to be retried).
    /// Returns the lines that may be shown now, in order.
    pub(super) fn line(&mut self, i: usize, line: Option<Line>, last: bool) -> Vec<Line> {
        if !self.order.contains(&i) {
            return line.into_iter().collect();
        }
        self.held.entry(i).or_default().extend(line);
        if last {
            self.ended.insert(i);
        }
        let mut out = Vec::new();
        while let Some(&front) = self.order.front() {
            out.extend(self.held.remove(&front).unwrap_or_default());
            if !self.ended.remove(&front) {
                break;
            }
            self.order.pop_front();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(word: &'static str, what: &str) -> Line {
        Line::Status(word, what.to_owned())
    }

    #[test]
    fn concurrent_uploads_read_as_sequential_ones() {
        let mut reel = Reel::default();
        reel.begin(0);
        assert_eq!(
            reel.line(0, Some(st("Uploading", "a")), false),
            [st("Uploading", "a")]
        );
        reel.begin(1);
        assert!(reel.line(1, Some(st("Uploading", "b")), false).is_empty());
        // b answers first: held until a is done.
        assert!(reel.line(1, Some(st("Uploaded", "b")), true).is_empty());
        assert_eq!(
            reel.line(0, Some(st("Uploaded", "a")), true),
            [
                st("Uploaded", "a"),
                st("Uploading", "b"),
                st("Uploaded", "b")
            ]
        );
        // Nothing in flight: lines of unknown uploads pass straight through.
        assert_eq!(
            reel.line(7, Some(Line::Note("n".into())), false),
            [Line::Note("n".into())]
        );
    }

    #[test]
    fn an_attempt_ending_without_a_line_releases_the_next() {
        let mut reel = Reel::default();
        reel.begin(0);
        reel.line(0, Some(st("Uploading", "a")), false);
        reel.begin(1);
        reel.line(1, Some(st("Uploading", "b")), false);
        assert_eq!(reel.line(0, None, true), [st("Uploading", "b")]);
        assert!(reel.line(0, None, true).is_empty());
    }
}
