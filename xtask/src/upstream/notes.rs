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

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::doc::pointer_key;

/// One explained difference: `diff` as written in the spec, `why` its reason.
#[derive(Debug, Clone)]
pub struct Note {
    pub diff: String,
    pub why: String,
}

/// Every note of our spec, by the pointer of the node that holds it.
#[derive(Default)]
pub struct Notes {
    by_node: HashMap<String, Vec<Note>>,
    /// (pointer, diff) in document order, for the stale-note report.
    all: Vec<(String, String)>,
}

impl Notes {
    /// Collects the notes of the whole document; a malformed note is an error.
    pub fn collect(root: &Value) -> Result<Notes, String> {
        let mut notes = Notes::default();
        let mut problems = Vec::new();
        walk(root, "", &mut notes, &mut problems);
        if problems.is_empty() {
            Ok(notes)
        } else {
            Err(problems.join("\n"))
        }
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

fn walk(value: &Value, ptr: &str, notes: &mut Notes, problems: &mut Vec<String>) {
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

fn read(value: &Value, owner: &str, at: &str, notes: &mut Notes, problems: &mut Vec<String>) {
    let shape = "x-upstream must be a list of {diff: <difference or list of them>, why: <reason>}";
    let Some(list) = value.as_array() else {
        problems.push(format!("our spec at {at}: {shape}"));
        return;
    };
    for (i, entry) in list.iter().enumerate() {
        let at = format!("{at}/{i}");
        let why = entry.get("why").and_then(Value::as_str).map(str::trim);
        let diffs: Option<Vec<&str>> = match entry.get("diff") {
            Some(Value::String(one)) => Some(vec![one.as_str()]),
            Some(Value::Array(many)) => many.iter().map(Value::as_str).collect(),
            _ => None,
        };
        let extra = entry
            .as_object()
            .and_then(|m| m.keys().find(|k| *k != "diff" && *k != "why"));
        match (diffs, why, extra) {
            (Some(diffs), Some(why), None) if !why.is_empty() && !diffs.is_empty() => {
                for diff in diffs {
                    let diff = diff.split_whitespace().collect::<Vec<_>>().join(" ");
                    if notes.all.iter().any(|(p, d)| p == owner && *d == diff) {
                        problems.push(format!("our spec at {at}: `{diff}` is noted twice"));
                        continue;
                    }
                    notes.all.push((owner.to_string(), diff.clone()));
                    notes
                        .by_node
                        .entry(owner.to_string())
                        .or_default()
                        .push(Note {
                            diff,
                            why: why.to_string(),
                        });
                }
            }
            _ => problems.push(format!("our spec at {at}: {shape}")),
        }
    }
}
