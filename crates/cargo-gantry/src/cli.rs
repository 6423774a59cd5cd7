//! Command-line surface: the same flags and help texts as `cargo package` 1.95 (and, as they land,
//! the other commands), so `cargo gantry <cmd>` is a drop-in replacement.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// cargo's help colours: headings and usage bright green, flags bright cyan, values cyan.
const STYLES: clap::builder::Styles = {
    use anstyle::AnsiColor;
    clap::builder::Styles::styled()
        .header(AnsiColor::BrightGreen.on_default().bold())
        .usage(AnsiColor::BrightGreen.on_default().bold())
        .literal(AnsiColor::BrightCyan.on_default().bold())
        .placeholder(AnsiColor::Cyan.on_default())
        .error(AnsiColor::BrightRed.on_default().bold())
        .valid(AnsiColor::BrightCyan.on_default().bold())
        .invalid(AnsiColor::Yellow.on_default().bold())
};

/// cargo's closing line of a command's help, with cargo's colour codes (the command bright cyan
/// and bold).
macro_rules! more_help {
    ($cmd:literal) => {
        concat!(
            "Run `\x1b[96m\x1b[1mcargo help ",
            $cmd,
            "\x1b[39m\x1b[22m` for more detailed information."
        )
    };
}

// `bin_name = "cargo"`: each command's help and usage errors read as cargo's own (`cargo yank …`),
// since `cargo gantry <command>` takes exactly cargo's arguments; only the top level says
// `cargo gantry`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo-gantry",
    bin_name = "cargo",
    override_usage = "cargo gantry <COMMAND>",
    version,
    about = "Cargo's publishing pipeline, byte-identical and resumable",
    styles = STYLES
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Assemble the local package into a distributable tarball
    #[command(after_help = more_help!("package"))]
    Package(PackageArgs),
    /// Upload a package to the registry
    // cargo publish lists `--target`/`--target-dir` after `-j`/`--keep-going`.
    #[command(
        after_help = more_help!("publish"),
        mut_arg("target", |a| a.display_order(usize::MAX - 1)),
        mut_arg("target_dir", |a| a.display_order(usize::MAX)),
    )]
    Publish(PublishArgs),
    #[command(about = "Log in to a registry.", after_help = more_help!("login"))]
    Login(LoginArgs),
    /// Remove an API token from the registry locally
    #[command(after_help = more_help!("logout"))]
    Logout(LogoutArgs),
    /// Remove a pushed crate from the index
    #[command(after_help = more_help!("yank"))]
    Yank(YankArgs),
    /// Manage the owners of a crate on the registry
    #[command(after_help = more_help!("owner"))]
    Owner(OwnerArgs),
}

impl Command {
    pub(crate) fn global(&self) -> &GlobalArgs {
        match self {
            Command::Package(a) => &a.global,
            Command::Publish(a) => &a.global,
            Command::Login(a) => &a.global,
            Command::Logout(a) => &a.global,
            Command::Yank(a) => &a.global,
            Command::Owner(a) => &a.global,
        }
    }
}

/// Flags every command shares (cargo's global options).
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct GlobalArgs {
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
    /// Unstable (nightly-only) flags to Cargo, see 'cargo -Z help' for details
    #[arg(short = 'Z', value_name = "FLAG", global = true)]
    pub unstable: Vec<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ManifestArgs {
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
pub(crate) struct FeatureArgs {
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

impl FeatureArgs {
    /// `-F` values split on spaces and commas, as cargo accepts them.
    pub(crate) fn list(&self) -> Vec<String> {
        self.features
            .iter()
            .flat_map(|f| f.split([' ', ',']))
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct CompileArgs {
    /// Build for the target triple
    // The value is optional as in cargo (`--target [<TRIPLE>]`): a bare `--target` parses, and
    // `targets` turns it into cargo's pointer to the list of targets.
    #[arg(
        long = "target",
        value_name = "TRIPLE",
        num_args = 0..=1,
        help_heading = "Compilation Options"
    )]
    pub target: Option<Vec<String>>,
    /// Directory for all generated artifacts
    #[arg(
        long = "target-dir",
        value_name = "DIRECTORY",
        help_heading = "Compilation Options"
    )]
    pub target_dir: Option<PathBuf>,
    #[arg(
        help = "Number of parallel jobs, defaults to # of CPUs.",
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

impl CompileArgs {
    /// The `--target` values; `--target` given only without a value is refused as cargo refuses
    /// it, naming the command that lists the targets (rustup's when rustup is in use).
    pub(crate) fn targets(&self) -> anyhow::Result<Vec<String>> {
        match &self.target {
            Some(targets) if targets.is_empty() => {
                let list = if std::env::var_os("RUSTUP_HOME").is_some() {
                    "rustup target list"
                } else {
                    "rustc --print target-list"
                };
                anyhow::bail!(
                    "\"--target\" takes a target architecture as an argument.\n\nRun `{list}` to see possible targets."
                )
            }
            targets => Ok(targets.clone().unwrap_or_default()),
        }
    }

    /// What a verification build passes on to cargo: these options plus the feature selection.
    /// A bare `--target` has been refused by `targets` before this is asked for.
    pub(crate) fn build_flags(&self, features: &FeatureArgs) -> gantry_package::BuildFlags {
        gantry_package::BuildFlags {
            features: features.list(),
            all_features: features.all_features,
            no_default_features: features.no_default_features,
            targets: self.target.clone().unwrap_or_default(),
            jobs: self.jobs.clone(),
            keep_going: self.keep_going,
        }
    }
}

/// The package selection flags, in the wording of cargo's `package` or of its `publish`. The value
/// of `-p` is optional as in cargo (`-p [<SPEC>]`): cargo's package and publish accept a bare `-p`
/// and select as if it were not given.
// Skipped by rustfmt, which re-indents the attributes inside this macro on every run.
#[rustfmt::skip]
macro_rules! selection_args {
    ($name:ident, $package:literal, $workspace:literal, $exclude:literal) => {
        #[derive(Debug, Args, Clone, Default)]
        pub(crate) struct $name {
            #[arg(
                help = $package,
                short = 'p',
                long = "package",
                value_name = "SPEC",
                num_args = 0..=1,
                help_heading = "Package Selection"
            )]
            pub(crate) package: Vec<String>,
            #[arg(
                help = $workspace,
                long = "workspace",
                alias = "all",
                help_heading = "Package Selection"
            )]
            pub(crate) workspace: bool,
            #[arg(
                help = $exclude,
                long = "exclude",
                value_name = "SPEC",
                help_heading = "Package Selection"
            )]
            pub(crate) exclude: Vec<String>,
        }

        impl $name {
            /// The package selection, refusing `--exclude` without `--workspace` as cargo does.
            pub(crate) fn selection(&self) -> anyhow::Result<gantry_package::Selection> {
                selection(&self.package, self.workspace, &self.exclude)
            }
        }
    };
}

selection_args!(
    SelectionArgs,
    "Package(s) to assemble",
    "Assemble all packages in the workspace",
    "Don't assemble specified packages"
);
selection_args!(
    PublishSelectionArgs,
    "Package(s) to publish",
    "Publish all packages in the workspace",
    "Don't publish specified packages"
);

fn selection(
    packages: &[String],
    workspace: bool,
    exclude: &[String],
) -> anyhow::Result<gantry_package::Selection> {
    if !exclude.is_empty() && !workspace {
        anyhow::bail!("--exclude can only be used together with --workspace");
    }
    Ok(gantry_package::Selection {
        packages: packages.to_vec(),
        workspace,
        exclude: exclude.to_vec(),
    })
}

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct PackageArgs {
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

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct PublishArgs {
    /// Perform all checks without uploading
    #[arg(short = 'n', long = "dry-run")]
    pub dry_run: bool,
    /// Registry index URL to upload the package to
    #[arg(long = "index", value_name = "INDEX", conflicts_with = "registry")]
    pub index: Option<String>,
    /// Registry to upload the package to
    #[arg(long = "registry", value_name = "REGISTRY")]
    pub registry: Option<String>,
    /// Token to use when uploading
    #[arg(long = "token", value_name = "TOKEN", hide = true)]
    pub token: Option<String>,
    /// Don't verify the contents by building them
    #[arg(long = "no-verify")]
    pub no_verify: bool,
    /// Allow dirty working directories to be packaged
    #[arg(long = "allow-dirty")]
    pub allow_dirty: bool,
    /// Seconds to wait for the index to show the published version (0 = do not wait)
    #[arg(long = "publish-timeout", value_name = "SECS")]
    pub publish_timeout: Option<u64>,
    /// Output representation: human, or JSON lines of events
    #[arg(long = "message-format", value_name = "FMT", value_parser = ["human", "json"])]
    pub message_format: Option<String>,
    /// How many uploads may be in flight at once (crates whose dependencies are all in the index)
    #[arg(long = "upload-jobs", value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub upload_jobs: u16,
    #[command(flatten)]
    pub trusted: crate::trustpub::TrustedPublishingArgs,
    #[command(flatten)]
    pub selection: PublishSelectionArgs,
    #[command(flatten)]
    pub features: FeatureArgs,
    #[command(flatten)]
    pub compile: CompileArgs,
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// `--locked/--offline/--frozen` as the registry commands accept them.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct NetArgs {
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
pub(crate) struct LoginArgs {
    /// Registry to use
    #[arg(long = "registry", value_name = "REGISTRY")]
    pub registry: Option<String>,
    #[arg(value_name = "TOKEN", hide = true)]
    pub token: Option<String>,
    /// Additional arguments for the credential provider
    #[arg(last = true, value_name = "args", num_args = 0..)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub net: NetArgs,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct LogoutArgs {
    /// Registry to use
    #[arg(long = "registry", value_name = "REGISTRY")]
    pub registry: Option<String>,
    #[command(flatten)]
    pub net: NetArgs,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct YankArgs {
    #[arg(value_name = "CRATE")]
    pub krate: Option<String>,
    /// The version to yank or un-yank
    #[arg(long = "version", value_name = "VERSION")]
    pub version: Option<String>,
    /// Undo a yank, putting a version back into the index
    #[arg(long = "undo")]
    pub undo: bool,
    /// Registry index URL to yank from
    #[arg(long = "index", value_name = "INDEX", conflicts_with = "registry")]
    pub index: Option<String>,
    /// Registry to yank from
    #[arg(long = "registry", value_name = "REGISTRY")]
    pub registry: Option<String>,
    /// API token to use when authenticating
    #[arg(long = "token", value_name = "TOKEN")]
    pub token: Option<String>,
    #[command(flatten)]
    pub net: NetArgs,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct OwnerArgs {
    #[arg(value_name = "CRATE")]
    pub krate: Option<String>,
    /// Name of a user or team to invite as an owner
    #[arg(short = 'a', long = "add", value_name = "LOGIN", value_delimiter = ',')]
    pub add: Vec<String>,
    /// Name of a user or team to remove as an owner
    #[arg(
        short = 'r',
        long = "remove",
        value_name = "LOGIN",
        value_delimiter = ','
    )]
    pub remove: Vec<String>,
    /// List owners of a crate
    #[arg(short = 'l', long = "list")]
    pub list: bool,
    /// Registry index URL to modify owners for
    #[arg(long = "index", value_name = "INDEX", conflicts_with = "registry")]
    pub index: Option<String>,
    /// Registry to modify owners for
    #[arg(long = "registry", value_name = "REGISTRY")]
    pub registry: Option<String>,
    /// API token to use when authenticating
    #[arg(long = "token", value_name = "TOKEN")]
    pub token: Option<String>,
    #[command(flatten)]
    pub net: NetArgs,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
