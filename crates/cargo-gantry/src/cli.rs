//! Command-line surface: the same flags and help texts as `cargo package` 1.95 (and, as they land,
//! the other commands), so `cargo gantry <cmd>` is a drop-in replacement.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cargo-gantry",
    bin_name = "cargo gantry",
    version,
    about = "Cargo's publishing pipeline, byte-identical and resumable",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Assemble the local package into a distributable tarball
    Package(PackageArgs),
}

/// Flags every command shares (cargo's global options).
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Use verbose output (-vv very verbose/build.rs output)
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Do not print cargo log messages
    #[arg(short = 'q', long = "quiet", global = true)]
    pub quiet: bool,
    /// Coloring
    #[arg(long = "color", value_name = "WHEN", value_parser = ["auto", "always", "never"], global = true)]
    pub color: Option<String>,
    /// Override a configuration value
    #[arg(long = "config", value_name = "KEY=VALUE|PATH", global = true)]
    pub config: Vec<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ManifestArgs {
    /// Path to Cargo.toml
    #[arg(
        long = "manifest-path",
        value_name = "PATH",
        help_heading = "Manifest Options"
    )]
    pub manifest_path: Option<PathBuf>,
    /// Assert that `Cargo.lock` will remain unchanged
    #[arg(long, help_heading = "Manifest Options")]
    pub locked: bool,
    /// Run without accessing the network
    #[arg(long, help_heading = "Manifest Options")]
    pub offline: bool,
    /// Equivalent to specifying both --locked and --offline
    #[arg(long, help_heading = "Manifest Options")]
    pub frozen: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct FeatureArgs {
    /// Space or comma separated list of features to activate
    #[arg(
        short = 'F',
        long = "features",
        value_name = "FEATURES",
        help_heading = "Feature Selection"
    )]
    pub features: Vec<String>,
    /// Activate all available features
    #[arg(long = "all-features", help_heading = "Feature Selection")]
    pub all_features: bool,
    /// Do not activate the `default` feature
    #[arg(long = "no-default-features", help_heading = "Feature Selection")]
    pub no_default_features: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct CompileArgs {
    /// Build for the target triple
    #[arg(
        long = "target",
        value_name = "TRIPLE",
        help_heading = "Compilation Options"
    )]
    pub target: Vec<String>,
    /// Directory for all generated artifacts
    #[arg(
        long = "target-dir",
        value_name = "DIRECTORY",
        help_heading = "Compilation Options"
    )]
    pub target_dir: Option<PathBuf>,
    /// Number of parallel jobs, defaults to # of CPUs.
    #[arg(
        short = 'j',
        long = "jobs",
        value_name = "N",
        allow_hyphen_values = true,
        help_heading = "Compilation Options"
    )]
    pub jobs: Option<String>,
    /// Do not abort the build as soon as there is an error
    #[arg(long = "keep-going", help_heading = "Compilation Options")]
    pub keep_going: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct SelectionArgs {
    /// Package(s) to assemble
    #[arg(
        short = 'p',
        long = "package",
        value_name = "SPEC",
        help_heading = "Package Selection"
    )]
    pub package: Vec<String>,
    /// Assemble all packages in the workspace
    #[arg(long = "workspace", alias = "all", help_heading = "Package Selection")]
    pub workspace: bool,
    /// Don't assemble specified packages
    #[arg(
        long = "exclude",
        value_name = "SPEC",
        help_heading = "Package Selection"
    )]
    pub exclude: Vec<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct PackageArgs {
    /// Registry index URL to prepare the package for
    #[arg(long = "index", value_name = "INDEX", conflicts_with = "registry")]
    pub index: Option<String>,
    /// Registry to prepare the package for
    #[arg(long = "registry", value_name = "REGISTRY")]
    pub registry: Option<String>,
    /// Print files included in a package without making one
    #[arg(short = 'l', long = "list")]
    pub list: bool,
    /// Don't verify the contents by building them
    #[arg(long = "no-verify")]
    pub no_verify: bool,
    /// Ignore warnings about a lack of human-usable metadata
    #[arg(long = "no-metadata")]
    pub no_metadata: bool,
    /// Allow dirty working directories to be packaged
    #[arg(long = "allow-dirty")]
    pub allow_dirty: bool,
    /// Don't include the lock file when packaging
    #[arg(long = "exclude-lockfile")]
    pub exclude_lockfile: bool,
    /// Output representation (unstable)
    #[arg(long = "message-format", value_name = "FMT", value_parser = ["human", "json"])]
    pub message_format: Option<String>,
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub features: FeatureArgs,
    #[command(flatten)]
    pub compile: CompileArgs,
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub global: GlobalArgs,
}
