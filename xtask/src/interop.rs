//! `cargo xtask interop kellnr [--gantry PATH]`: the real cargo and cargo gantry against a real
//! kellnr 6.13.0 (built once from crates.io into `target/interop/kellnr`), each tool with a kellnr
//! of its own on 127.0.0.1, the same steps in the same order (publish of a single crate and of a
//! 3-crate chain, re-runs, dry-run, yank/unyank, owners, login/logout, a crate without license).
//! Prints a table; both tools' outputs for every step are kept in `target/interop/kellnr-report/`.
//! Not part of the test suite: the build alone takes about 25 minutes.

mod build;
mod kellnr;
mod scenarios;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::common::{Tool, Tools};
use kellnr::Kellnr;
use scenarios::{STEPS, Side};

pub(crate) fn run(repo: &Path, peer: &str, gantry: Option<PathBuf>) -> Result<(), String> {
    if peer != "kellnr" {
        return Err(format!(
            "unknown peer `{peer}`; `cargo xtask interop kellnr` is the one there is"
        ));
    }
    let bin = build::ensure(repo)?;
    let tools = Tools::locate(gantry, repo)?;
    let scratch = tempfile::tempdir().map_err(|e| format!("creating a scratch directory: {e}"))?;
    let report = repo.join("target/interop/kellnr-report");
    let _ = std::fs::remove_dir_all(&report);
    std::fs::create_dir_all(&report).map_err(|e| format!("creating {}: {e}", report.display()))?;

    let mut sides = Vec::new();
    let mut servers = Vec::new();
    for tool in [Tool::Cargo, Tool::Gantry] {
        eprintln!("== starting kellnr for {}", tool.label());
        let dir = scratch.path().join(tool.label()).join("kellnr");
        servers.push(Kellnr::start(&bin, &dir)?);
    }
    for (tool, k) in [Tool::Cargo, Tool::Gantry].into_iter().zip(&servers) {
        let session = k.admin_session()?;
        let token = k.token(&session, "interop")?;
        k.add_user(&session, "bob")?;
        let side = Side {
            tool,
            kellnr: k,
            token,
            dir: scratch.path().join(tool.label()).join("work"),
        };
        side.prepare()?;
        sides.push(side);
    }

    let mut table = String::from(
        "| # | step | cargo exit | gantry exit | output |\n|---|------|-----------|-------------|--------|\n",
    );
    for (i, step) in STEPS.iter().enumerate() {
        eprintln!("== {}: {}", i + 1, step.name);
        let c = sides[0].run(&tools, step)?;
        let g = sides[1].run(&tools, step)?;
        let verdict = scenarios::verdict(&c, &g);
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} | {verdict} |",
            i + 1,
            step.name,
            code(c.code),
            code(g.code)
        );
        let file = report.join(format!("{:02}-{}.txt", i + 1, step.name.replace(' ', "-")));
        let text = format!(
            "== cargo (exit {})\n{}{}\n== gantry (exit {})\n{}{}",
            code(c.code),
            c.stdout,
            c.stderr,
            code(g.code),
            g.stdout,
            g.stderr
        );
        std::fs::write(&file, text).map_err(|e| format!("writing {}: {e}", file.display()))?;
    }
    for side in &sides {
        keep_crates(side, &report.join(format!("crates-{}", side.tool.label())))?;
    }
    for (k, tool) in servers.iter().zip([Tool::Cargo, Tool::Gantry]) {
        let log = report.join(format!("kellnr-{}.log", tool.label()));
        let _ = std::fs::write(log, k.log());
    }
    println!("{table}");
    println!(
        "each step's output (cargo, then gantry): {}",
        report.display()
    );
    Ok(())
}

fn code(c: Option<i32>) -> String {
    c.map_or_else(|| "signal".into(), |c| c.to_string())
}

/// Each side's packaged `.crate` files (under `target/package/`, at any depth), kept beside the
/// outputs so the two can be compared byte for byte after the scratch directory is gone.
fn keep_crates(side: &Side, dest: &Path) -> Result<(), String> {
    let mut dirs = vec![side.dir.join("target/package")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            let path = e.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "crate") {
                std::fs::create_dir_all(dest)
                    .map_err(|e| format!("creating {}: {e}", dest.display()))?;
                std::fs::copy(&path, dest.join(e.file_name()))
                    .map_err(|e| format!("copying {}: {e}", path.display()))?;
            }
        }
    }
    Ok(())
}
