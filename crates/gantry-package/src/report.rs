//! How packaging talks to the user. The library emits events; the binary renders them the way cargo
//! does (right-aligned status words, `warning:` prefixes) or as JSON.

use std::sync::Mutex;

/// Receives everything packaging wants the user to see, in the order cargo would print it.
///
/// Messages are plain text without the `warning: `/`note: ` prefix. Multi-line "rich" warnings carry
/// their extra lines already laid out the cargo way (`\n  |\n  = note: …`).
pub trait Reporter: Sync {
    /// A status line such as `Packaging foo v0.1.0 (/path)`: `word` is right-aligned by the renderer.
    fn status(&self, word: &str, message: &str);
    /// `warning: <message>`
    fn warning(&self, message: &str);
    /// `note: <message>`
    fn note(&self, message: &str);
    /// Whether `-v` was given: some messages (e.g. `Archiving`) are only produced when verbose.
    fn verbose(&self) -> bool {
        false
    }
}

/// One recorded event, for tests and for callers that render later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Status { word: String, message: String },
    Warning(String),
    Note(String),
}

/// A reporter that records events in memory (used by unit tests and by JSON rendering).
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
    verbose: bool,
}

impl Recorder {
    pub fn new(verbose: bool) -> Self {
        Recorder {
            events: Mutex::new(Vec::new()),
            verbose,
        }
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    pub fn warnings(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Warning(w) => Some(w),
                _ => None,
            })
            .collect()
    }

    fn push(&self, event: Event) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}

impl Reporter for Recorder {
    fn status(&self, word: &str, message: &str) {
        self.push(Event::Status {
            word: word.to_owned(),
            message: message.to_owned(),
        });
    }
    fn warning(&self, message: &str) {
        self.push(Event::Warning(message.to_owned()));
    }
    fn note(&self, message: &str) {
        self.push(Event::Note(message.to_owned()));
    }
    fn verbose(&self) -> bool {
        self.verbose
    }
}
