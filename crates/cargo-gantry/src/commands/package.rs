//! `cargo gantry package`: the same flags, files and messages as `cargo package` 1.95.

use anyhow::bail;
use gantry_package::Reporter;
use gantry_package::{self as pkg, PackageOptions};
use gantry_package::{ManifestError, load_workspace};

use crate::cli::PackageArgs;
use crate::context::Context;
use crate::shell::Shell;
use crate::yanked::YankCheck;

pub(crate) fn run(args: &PackageArgs, shell: &Shell) -> anyhow::Result<()> {
    if args.message_format.is_some() {
        bail!(
            "the `--message-format` flag is unstable, and only available on the nightly channel of Cargo, but this is the `stable` channel\nSee https://doc.rust-lang.org/book/appendix-07-nightly-rust.html for more information about Rust release channels.\nSee https://github.com/rust-lang/cargo/issues/15353 for more information about the `--message-format` flag."
        );
    }
    let selection = args.selection.selection()?;
    let ctx = Context::new(&args.global)?;
    let registry = ctx.registry_request(args.registry.as_deref(), args.index.as_deref())?;
    let manifest_path = ctx.manifest_path(&args.manifest)?;
    let ws = load_workspace(&manifest_path).map_err(|e| manifest_error(e, &ctx.cwd))?;
    for warning in ws.load_warnings() {
        shell.warning(&warning);
    }
    args.compile.targets()?;
    let selected = selection.resolve(&ws)?;
    let target_dir = ctx.target_dir(args.compile.target_dir.as_deref(), &ws.root_dir)?;
    let build_dir = ctx.build_dir(&target_dir, &ws.root_dir)?;
    let registry_index = |name: &str| ctx.registry_index(name);
    let registry_name = |url: &str| ctx.registry_name(url);
    let list_sink = |line: &str| shell.stdout_line(line);
    let offline = args.manifest.offline || args.manifest.frozen;
    let yank_check = YankCheck::new(&ctx, offline, shell);
    let opts = PackageOptions {
        list: args.list,
        verify: !args.no_verify,
        check_metadata: !args.no_metadata,
        allow_dirty: args.allow_dirty,
        include_lockfile: !args.exclude_lockfile,
        registry,
        registry_index: &registry_index,
        registry_name: &registry_name,
        crates_io_replacement: ctx.config.crates_io_replacement()?,
        target_dir: target_dir.clone(),
        build_dir,
        crates_io: ctx.crates_io_upstream()?,
        build: args.compile.build_flags(&args.features),
        cargo: ctx.cargo(&args.global, &args.manifest, shell.color_arg()),
        cwd: ctx.cwd.clone(),
        publishing: false,
        dry_run: false,
        names: ctx.registry_names(),
        list_sink: &list_sink,
        lock_check: Some(&yank_check),
    };
    let mut packaged = pkg::package(&ws, &selected, &opts, shell)?;
    if !args.list {
        pkg::uplift(&mut packaged.crates, &target_dir)?;
    }
    Ok(())
}

/// Cargo shows TOML syntax errors with the manifest path relative to the current directory.
pub(crate) fn manifest_error(e: ManifestError, cwd: &std::path::Path) -> anyhow::Error {
    match e {
        ManifestError::Syntax(syntax) => anyhow::anyhow!(syntax.render(Some(cwd))),
        other => other.into(),
    }
}
