//! crates.io's category slugs, as data (built in: the registry never asks the network).
//!
//! Source: the file crates.io defines its categories in, `src/boot/categories.toml` in
//! rust-lang/crates.io, at commit 0099c08df88045e7844bab86a3c76698ad0fb64d (slugs and display
//! names; a subcategory's slug is `parent::child`). That was the newest copy of the file available
//! when this list was written; [`LATER_SLUGS`] are slugs crates.io added after it, carried over from
//! the previous hand-written list until they can be checked against the current file.

/// A category: its slug and crates.io's display name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    pub slug: &'static str,
    pub name: &'static str,
}

const fn c(slug: &'static str, name: &'static str) -> Category {
    Category { slug, name }
}

/// The categories of `src/boot/categories.toml` at the commit named above, in the file's order.
pub const CATEGORIES: &[Category] = &[
    c("algorithms", "Algorithms"),
    c("api-bindings", "API bindings"),
    c("asynchronous", "Asynchronous"),
    c("authentication", "Authentication"),
    c("caching", "Caching"),
    c("command-line-interface", "Command-line interface"),
    c("command-line-utilities", "Command line utilities"),
    c("compression", "Compression"),
    c("computer-vision", "Computer vision"),
    c("config", "Configuration"),
    c("concurrency", "Concurrency"),
    c("cryptography", "Cryptography"),
    c("cryptography::cryptocurrencies", "Cryptocurrencies"),
    c("database", "Database interfaces"),
    c("database-implementations", "Database implementations"),
    c("data-structures", "Data structures"),
    c("date-and-time", "Date and time"),
    c("development-tools", "Development tools"),
    c("development-tools::build-utils", "Build Utils"),
    c("development-tools::cargo-plugins", "Cargo plugins"),
    c("development-tools::debugging", "Debugging"),
    c("development-tools::ffi", "FFI"),
    c(
        "development-tools::procedural-macro-helpers",
        "Procedural macro helpers",
    ),
    c("development-tools::profiling", "Profiling"),
    c("development-tools::testing", "Testing"),
    c("email", "Email"),
    c("embedded", "Embedded development"),
    c("emulators", "Emulators"),
    c("encoding", "Encoding"),
    c("external-ffi-bindings", "External FFI bindings"),
    c("filesystem", "Filesystem"),
    c("game-engines", "Game engines"),
    c("game-development", "Game development"),
    c("games", "Games"),
    c("graphics", "Graphics"),
    c("gui", "GUI"),
    c("hardware-support", "Hardware support"),
    c("internationalization", "Internationalization (i18n)"),
    c("localization", "Localization (L10n)"),
    c("mathematics", "Mathematics"),
    c("memory-management", "Memory management"),
    c("multimedia", "Multimedia"),
    c("multimedia::audio", "Audio"),
    c("multimedia::video", "Video"),
    c("multimedia::images", "Images"),
    c("multimedia::encoding", "Encoding"),
    c("network-programming", "Network programming"),
    c("no-std", "No standard library"),
    c("os", "Operating systems"),
    c("os::linux-apis", "Linux APIs"),
    c("os::macos-apis", "macOS APIs"),
    c("os::unix-apis", "Unix APIs"),
    c("os::windows-apis", "Windows APIs"),
    c("parser-implementations", "Parser implementations"),
    c("parsing", "Parsing tools"),
    c("rendering", "Rendering"),
    c("rendering::engine", "Rendering engine"),
    c("rendering::graphics-api", "Graphics APIs"),
    c("rendering::data-formats", "Data formats"),
    c("rust-patterns", "Rust patterns"),
    c("science", "Science"),
    c("science::robotics", "Robotics"),
    c("simulation", "Simulation"),
    c("template-engine", "Template engine"),
    c("text-editors", "Text editors"),
    c("text-processing", "Text processing"),
    c("value-formatting", "Value formatting"),
    c("visualization", "Visualization"),
    c("wasm", "WebAssembly"),
    c("web-programming", "Web programming"),
    c("web-programming::http-client", "HTTP client"),
    c("web-programming::http-server", "HTTP server"),
    c("web-programming::websocket", "WebSocket"),
];

/// Slugs added on crates.io after that commit (their display names are not recorded here).
pub const LATER_SLUGS: &[&str] = &[
    "accessibility",
    "aerospace",
    "aerospace::drones",
    "aerospace::protocols",
    "aerospace::simulation",
    "aerospace::space-protocols",
    "aerospace::unmanned-aerial-vehicles",
    "compilers",
    "finance",
    "no-std::no-alloc",
    "os::android-apis",
    "os::freebsd-apis",
    "science::bioinformatics",
    "science::bioinformatics::genomics",
    "science::bioinformatics::proteomics",
    "science::bioinformatics::sequence-analysis",
    "science::geo",
    "science::neuroscience",
    "virtualization",
];

/// Whether `slug` is a known crates.io category slug (exact match, as crates.io compares).
pub fn is_known_category(slug: &str) -> bool {
    CATEGORIES.iter().any(|c| c.slug == slug) || LATER_SLUGS.contains(&slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_unique_and_well_formed() {
        let mut all: Vec<&str> = CATEGORIES.iter().map(|c| c.slug).collect();
        all.extend(LATER_SLUGS);
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "duplicate slugs");
        for slug in all {
            // A subcategory's parent is a category too.
            if let Some((parent, _)) = slug.rsplit_once("::") {
                assert!(is_known_category(parent), "{slug}");
            }
            assert!(
                slug.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'-'
                    || b == b':'),
                "{slug}"
            );
        }
        assert!(is_known_category("no-std"));
        assert!(is_known_category("development-tools::cargo-plugins"));
        assert!(!is_known_category("No-Std"));
        assert!(!is_known_category("cargo-plugins"));
    }
}
