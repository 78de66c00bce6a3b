//! `cargo xtask upstream-diff [FILE]`: compares our spec's operations with the same operations
//! in Box's published description, field by field, and reports every difference that our
//! spec does not explain with an `x-upstream` note (`notes`). `compare` says what is compared;
//! `doc` reads the two documents; `report` is what a comparison found and how it is printed.
//!
//! Box's description is not committed: `xtask/tests/fixtures/upstream/fetch.sh` fetches the
//! pinned copy (SOURCE.md there says from where).

mod compare;
pub mod doc;
pub mod notes;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use doc::Doc;
use notes::Notes;
pub use report::{Difference, Report, StaleNote};

pub const USAGE: &str = "       cargo xtask upstream-diff [--explained] [--spec OURS] [FILE]

  upstream-diff [FILE]
                      compare spec/box-uploads.yaml (or OURS) with Box's published description
                      (default FILE: xtask/tests/fixtures/upstream/box.com.json, fetched by
                      fetch.sh there); exit 1 on a difference no x-upstream note explains or a
                      note that explains nothing, 2 on bad input
  --explained         also list the differences our notes explain, with their reasons";

/// Compares our spec (`ours`, YAML) with Box's description (`upstream`, JSON or YAML).
/// An error is bad input: a document that does not parse, a dangling `$ref`, a malformed note.
pub fn diff(ours: &str, upstream: &str) -> Result<Report, String> {
    let ours = Doc::parse(ours, "our spec")?;
    let theirs = Doc::parse(upstream, "Box's description")?;
    let notes = Notes::collect(&ours.root)?;
    let mut walker = compare::Walker::new(&ours, &theirs, &notes);
    walker.run();
    if !walker.errors.is_empty() {
        return Err(walker.errors.join("\n"));
    }
    let stale = notes
        .unused(&walker.used)
        .map(|(at, diff)| StaleNote {
            at: at.clone(),
            diff: diff.clone(),
        })
        .collect();
    Ok(Report {
        differences: walker.out,
        stale,
    })
}

/// Where `fetch.sh` puts Box's description.
pub fn default_upstream(root: &Path) -> PathBuf {
    root.join("xtask/tests/fixtures/upstream/box.com.json")
}

/// The command: `args` are those after `upstream-diff`.
pub fn main(args: &[String]) -> Result<ExitCode, String> {
    let root = crate::workspace_root();
    let (mut explained, mut spec, mut file) = (false, None, None);
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--explained" => explained = true,
            "--spec" => spec = Some(PathBuf::from(iter.next().ok_or("--spec needs a file")?)),
            "-h" | "--help" => {
                println!("usage:\n{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            other if other.starts_with('-') => {
                return Err(format!("unknown option `{other}`\nusage:\n{USAGE}"))
            }
            other if file.is_none() => file = Some(PathBuf::from(other)),
            other => {
                return Err(format!(
                    "one FILE only (`{other}` is a second)\nusage:\n{USAGE}"
                ))
            }
        }
    }
    let spec = spec.unwrap_or_else(|| root.join("spec/box-uploads.yaml"));
    let file = match file {
        Some(file) => file,
        None => {
            let file = default_upstream(&root);
            if !file.exists() {
                return Err(format!(
                    "{} is missing: fetch Box's description first with\n    bash xtask/tests/fixtures/upstream/fetch.sh",
                    file.display()
                ));
            }
            file
        }
    };
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let report = diff(&read(&spec)?, &read(&file)?)?;
    print!("{}", report.render(explained));
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
