//! `x-upstream` notes: the differences from Box's description that our spec means, each with
//! its reason, recorded on the node of our spec where the difference shows.
//!
//! ```yaml
//! x-upstream:
//!   - diff: format                      # a difference at this node
//!     why: Box's int32 stops at 2 GiB.
//!   - diff: [lock_info missing, tags extra]   # several, below this node, one reason
//!     why: ...
//! ```
//!
//! A note's `diff` is what the report prints after the node's own path: the path below the
//! node (empty for the node itself), then the kind of difference. So the same difference can
//! be explained on the property (`format`), on its object (`size format`) or on the
//! operation (`body.size format`); a note on a shared component explains it in every
//! operation that uses the component. Notes at the document's top level apply to every
//! operation, with paths relative to the operation. A note that explains no difference is
//! reported, so notes cannot outlive the difference they explain.
//!
//! Box's copies of its description differ (`copies` lists those a checkout has). A note meant
//! for some of them names their `info.version` in `versions`; compared with a copy of another
//! version, it is left out: it explains nothing there and is not stale there. A note without
//! `versions` is for every copy.
//!
//! ```yaml
//! x-upstream:
//!   - diff: size required
//!     versions: ["2.0.0"]                # only Box's older description says it
//!     why: ...
//! ```
//!
//! The same `diff` may be noted twice on one node only for versions that do not overlap.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::doc::pointer_key;

/// One explained difference: `diff` as written in the spec, `why` its reason.
#[derive(Debug, Clone)]
pub struct Note {
    pub diff: String,
    pub why: String,
}

/// The notes of our spec that apply to one version of Box's description, by the pointer of
/// the node that holds them.
#[derive(Default)]
pub struct Notes {
    by_node: HashMap<String, Vec<Note>>,
    /// (pointer, diff) in document order, for the stale-note report.
    all: Vec<(String, String)>,
    /// How many notes name only other versions (left out of this comparison).
    pub other_versions: usize,
}

/// A note as written, before the version is applied: where, what, for which versions
/// (`None`: every one), and why.
struct Written {
    owner: String,
    diff: String,
    versions: Option<Vec<String>>,
    why: String,
}

impl Written {
    fn applies_to(&self, version: &str) -> bool {
        self.versions
            .as_ref()
            .is_none_or(|v| v.iter().any(|v| v == version))
    }

    /// Two notes of the same difference on the same node that could both apply.
    fn overlaps(&self, other: &Written) -> bool {
        self.owner == other.owner
            && self.diff == other.diff
            && match (&self.versions, &other.versions) {
                (Some(a), Some(b)) => a.iter().any(|v| b.contains(v)),
                _ => true,
            }
    }
}

impl Notes {
    /// Collects the notes of the whole document that apply to `version` (the `info.version`
    /// of Box's copy); a malformed note, or one noted twice for the same version, is an error.
    pub fn collect(root: &Value, version: &str) -> Result<Notes, String> {
        let mut written = Vec::new();
        let mut problems = Vec::new();
        walk(root, "", &mut written, &mut problems);
        if !problems.is_empty() {
            return Err(problems.join("\n"));
        }
        let mut notes = Notes::default();
        for note in written {
            if !note.applies_to(version) {
                notes.other_versions += 1;
                continue;
            }
            notes.all.push((note.owner.clone(), note.diff.clone()));
            notes.by_node.entry(note.owner).or_default().push(Note {
                diff: note.diff,
                why: note.why,
            });
        }
        Ok(notes)
    }

    pub fn has(&self, ptr: &str) -> bool {
        self.by_node.contains_key(ptr)
    }

    /// The reason recorded at `ptr` for `diff`, if any.
    pub fn lookup(&self, ptr: &str, diff: &str) -> Option<&str> {
        self.by_node
            .get(ptr)?
            .iter()
            .find(|n| n.diff == diff)
            .map(|n| n.why.as_str())
    }

    /// The notes not in `used`, in document order.
    pub fn unused<'a>(
        &'a self,
        used: &'a BTreeSet<(String, String)>,
    ) -> impl Iterator<Item = &'a (String, String)> + 'a {
        self.all.iter().filter(move |k| !used.contains(*k))
    }
}

fn walk(value: &Value, ptr: &str, notes: &mut Vec<Written>, problems: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_ptr = format!("{ptr}/{}", pointer_key(key));
                if key == "x-upstream" {
                    read(child, ptr, &child_ptr, notes, problems);
                } else {
                    walk(child, &child_ptr, notes, problems);
                }
            }
        }
        Value::Array(list) => {
            for (i, child) in list.iter().enumerate() {
                walk(child, &format!("{ptr}/{i}"), notes, problems);
            }
        }
        _ => {}
    }
}

/// A string or a non-empty list of strings, as a list.
fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(one) => Some(vec![one.clone()]),
        Value::Array(many) if !many.is_empty() => many
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

fn read(
    value: &Value,
    owner: &str,
    at: &str,
    notes: &mut Vec<Written>,
    problems: &mut Vec<String>,
) {
    let shape = "x-upstream must be a list of {diff: <difference or list of them>, why: <reason>, \
                 versions: <info.version or list of them, optional>}";
    let Some(list) = value.as_array() else {
        problems.push(format!("our spec at {at}: {shape}"));
        return;
    };
    for (i, entry) in list.iter().enumerate() {
        let at = format!("{at}/{i}");
        let why = entry.get("why").and_then(Value::as_str).map(str::trim);
        let diffs = entry.get("diff").and_then(strings);
        // Ok(None): for every version; Err: malformed.
        let versions = match entry.get("versions") {
            None => Ok(None),
            Some(v) => strings(v).map(Some).ok_or(()),
        };
        let extra = entry.as_object().and_then(|m| {
            m.keys()
                .find(|k| !["diff", "why", "versions"].contains(&k.as_str()))
        });
        match (diffs, why, versions, extra) {
            (Some(diffs), Some(why), Ok(versions), None) if !why.is_empty() => {
                for diff in diffs {
                    let note = Written {
                        owner: owner.to_string(),
                        diff: diff.split_whitespace().collect::<Vec<_>>().join(" "),
                        versions: versions.clone(),
                        why: why.to_string(),
                    };
                    if notes.iter().any(|n| n.overlaps(&note)) {
                        problems.push(format!(
                            "our spec at {at}: `{}` is noted twice for the same version",
                            note.diff
                        ));
                        continue;
                    }
                    notes.push(note);
                }
            }
            _ => problems.push(format!("our spec at {at}: {shape}")),
        }
    }
}
