//! `cargo xtask upstream-diff [FILE]`: compares our spec's operations with the same operations
//! in Box's published description, field by field, and reports every difference that our
//! spec does not explain with an `x-upstream` note (`notes`). `compare` says what is compared;
//! `doc` reads the two documents.
//!
//! Box's description is not committed: `xtask/tests/fixtures/upstream/fetch.sh` fetches the
//! pinned copy (SOURCE.md there says from where).

mod compare;
pub mod doc;
pub mod notes;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use doc::Doc;
use notes::Notes;

pub const USAGE: &str = "       cargo xtask upstream-diff [--explained] [--spec OURS] [FILE]

  upstream-diff [FILE]
                      compare spec/box-uploads.yaml (or OURS) with Box's published description
                      (default FILE: xtask/tests/fixtures/upstream/box.com.json, fetched by
                      fetch.sh there); exit 1 on a difference no x-upstream note explains or a
                      note that explains nothing, 2 on bad input
  --explained         also list the differences our notes explain, with their reasons";

/// One difference between our description of an operation and Box's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The heading it is listed under: `upload_part (PUT /files/upload_sessions/{upload_session_id})`,
    /// or `path /files/{file_id}` for Box's operations that we do not describe.
    pub group: String,
    /// The operation's name (or the path) that starts its line.
    pub subject: String,
    /// Where, relative to the operation: `response.200.part.sha1` (empty: the operation).
    pub path: String,
    /// What differs: `type`, `extra`, `code item_name_in_use extra`, ...
    pub what: String,
    /// Ours against Box's.
    pub detail: String,
    /// The reason an `x-upstream` note gives, when one explains it.
    pub why: Option<String>,
    /// Where a note could explain it: the pointer of a node of our spec, and the note's `diff`.
    pub anchor: (String, String),
}

impl Difference {
    /// `upload_part.response.200.part.sha1 type`: what the report prints before the detail.
    pub fn key(&self) -> String {
        if self.path.is_empty() {
            format!("{} {}", self.subject, self.what)
        } else if !self.subject.starts_with('/') {
            format!("{}.{} {}", self.subject, self.path, self.what)
        } else {
            format!("{} {} {}", self.subject, self.path, self.what)
        }
    }
}

/// An `x-upstream` note that explains no difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleNote {
    /// The JSON pointer of the node in our spec that holds it.
    pub at: String,
    pub diff: String,
}

/// Everything one comparison found.
#[derive(Debug, Default)]
pub struct Report {
    /// In the order the walk met them: our paths sorted, then method, server, parameters,
    /// body, responses.
    pub differences: Vec<Difference>,
    pub stale: Vec<StaleNote>,
}

impl Report {
    pub fn unexplained(&self) -> impl Iterator<Item = &Difference> {
        self.differences.iter().filter(|d| d.why.is_none())
    }

    pub fn is_clean(&self) -> bool {
        self.unexplained().next().is_none() && self.stale.is_empty()
    }

    /// One line per difference under its operation's heading; `explained` adds the ones our
    /// notes explain, marked `=` and followed by the reason.
    pub fn render(&self, explained: bool) -> String {
        let mut out = String::new();
        let mut heading = "";
        for d in &self.differences {
            if d.why.is_some() && !explained {
                continue;
            }
            if d.group != heading {
                heading = &d.group;
                let _ = writeln!(out, "{heading}");
            }
            let mark = if d.why.is_some() { "=" } else { " " };
            let _ = writeln!(out, " {mark} {}: {}", d.key(), d.detail);
            match &d.why {
                Some(why) => {
                    let why = why.split_whitespace().collect::<Vec<_>>().join(" ");
                    let _ = writeln!(out, "      why: {why}");
                }
                None => {
                    let (at, diff) = &d.anchor;
                    let at = if at.is_empty() { "(document)" } else { at };
                    let _ = writeln!(
                        out,
                        "      (a note for it: x-upstream at {at}, diff: {diff})"
                    );
                }
            }
        }
        if !self.stale.is_empty() {
            let _ = writeln!(out, "x-upstream notes that explain no difference");
            for s in &self.stale {
                let at = if s.at.is_empty() { "(document)" } else { &s.at };
                let _ = writeln!(out, "    at {at}: {}", s.diff);
            }
        }
        let total = self.differences.len();
        let open = self.unexplained().count();
        let _ = writeln!(
            out,
            "upstream-diff: {open} unexplained difference{}, {} stale note{} ({} of {total} differences explained by x-upstream notes)",
            plural(open),
            self.stale.len(),
            plural(self.stale.len()),
            total - open,
        );
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

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
