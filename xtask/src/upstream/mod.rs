//! `cargo xtask upstream-diff [FILE]`: compares our spec's operations with the same operations
//! in Box's published description, field by field, and reports every difference that our
//! spec does not explain with an `x-upstream` note (`notes`). `compare` says what is compared;
//! `doc` reads the two documents; `report` is what a comparison found and how it is printed;
//! `copies` says which copies of Box's description a checkout has, and which is the newest.

mod compare;
pub mod copies;
pub mod doc;
pub mod notes;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use doc::Doc;
use notes::Notes;
pub use report::{Difference, Report, StaleNote};

pub const USAGE: &str =
    "       cargo xtask upstream-diff [--explained] [--spec OURS] [--every-copy | FILE]

  upstream-diff [FILE]
                      compare spec/box-uploads.yaml (or OURS) with Box's published description
                      (default FILE: the newest copy present, ../shared/box-openapi/openapi.json
                      beside the clone, else xtask/tests/fixtures/upstream/box.com.json, which
                      fetch.sh there fetches); exit 1 on a difference no x-upstream note explains
                      or a note that explains nothing, 2 on bad input
  --every-copy        compare with each copy present, newest first; exit 1 if any is not clean
  --explained         also list the differences our notes explain, with their reasons";

/// Compares our spec (`ours`, YAML) with Box's description (`upstream`, JSON or YAML), with
/// the notes meant for that description's `info.version`.
/// An error is bad input: a document that does not parse, a dangling `$ref`, a malformed note.
pub fn diff(ours: &str, upstream: &str) -> Result<Report, String> {
    let ours = Doc::parse(ours, "our spec")?;
    let theirs = Doc::parse(upstream, "Box's description")?;
    let version = theirs.root["info"]["version"].as_str().unwrap_or_default();
    let notes = Notes::collect(&ours.root, version)?;
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
        version: version.to_string(),
        differences: walker.out,
        stale,
        other_versions: notes.other_versions,
    })
}

/// The command: `args` are those after `upstream-diff`.
pub fn main(args: &[String]) -> Result<ExitCode, String> {
    let root = crate::workspace_root();
    let (mut explained, mut every, mut spec, mut file) = (false, false, None, None);
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--explained" => explained = true,
            "--every-copy" => every = true,
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
    let files = match (file, every) {
        (Some(_), true) => {
            return Err(format!(
                "--every-copy compares with the copies present: no FILE with it\nusage:\n{USAGE}"
            ))
        }
        (Some(file), false) => vec![file],
        (None, false) => vec![copies::newest(&root)?.path],
        (None, true) => {
            copies::newest(&root)?;
            copies::present(&root).into_iter().map(|c| c.path).collect()
        }
    };
    let spec = spec.unwrap_or_else(|| root.join("spec/box-uploads.yaml"));
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let ours = read(&spec)?;
    let mut clean = true;
    for file in files {
        let report = diff(&ours, &read(&file)?)?;
        println!("== {} (info.version {})", file.display(), report.version);
        print!("{}", report.render(explained));
        clean &= report.is_clean();
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
