//! What one comparison found: each difference, explained by a note or not, and each note that
//! explains nothing; and the text `cargo xtask upstream-diff` prints of it.

use std::fmt::Write as _;

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
    /// The `info.version` of Box's description compared with (which notes apply).
    pub version: String,
    /// In the order the walk met them: our paths sorted, then method, server, parameters,
    /// body, responses.
    pub differences: Vec<Difference>,
    pub stale: Vec<StaleNote>,
    /// Notes left out because they name only other versions of Box's description.
    pub other_versions: usize,
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
        let _ = write!(
            out,
            "upstream-diff: {open} unexplained difference{}, {} stale note{} ({} of {total} differences explained by x-upstream notes",
            plural(open),
            self.stale.len(),
            plural(self.stale.len()),
            total - open,
        );
        if self.other_versions > 0 {
            let _ = write!(
                out,
                "; {} note{} for other versions of Box's description left out",
                self.other_versions,
                plural(self.other_versions),
            );
        }
        let _ = writeln!(out, ")");
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
