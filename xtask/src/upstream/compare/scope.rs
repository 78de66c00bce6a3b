//! Where a difference lands: the nodes of our spec the walk is inside (`Scope`), the note among
//! them that explains a difference, and where a note for an unexplained one would best go.

use super::Walker;
use crate::upstream::Difference;

/// A node of our spec that holds notes, and the difference path (relative to the
/// operation) at which the walk met it.
#[derive(Clone)]
pub(super) struct Scope {
    ptr: String,
    path: String,
}

impl Walker<'_> {
    /// `base` plus a scope at `path` for each of `ptrs`.
    pub(super) fn scopes(&self, base: &[Scope], ptrs: &[String], path: &str) -> Vec<Scope> {
        let mut out = base.to_vec();
        for ptr in ptrs {
            if !out.iter().any(|s| s.ptr == *ptr && s.path == path) {
                out.push(Scope {
                    ptr: ptr.clone(),
                    path: path.to_string(),
                });
            }
        }
        out
    }

    /// Records a difference at `path`, explained if a note in `scopes` names it.
    pub(super) fn emit(&mut self, scopes: &[Scope], path: &str, what: &str, detail: String) {
        let mut why = None;
        for scope in scopes.iter().rev() {
            let Some(rel) = relative(path, &scope.path) else {
                continue;
            };
            let key = if rel.is_empty() {
                what.to_string()
            } else {
                format!("{rel} {what}")
            };
            if let Some(reason) = self.notes.lookup(&scope.ptr, &key) {
                self.used.insert((scope.ptr.clone(), key));
                why = Some(reason.to_string());
                break;
            }
        }
        let anchor = anchor(scopes, path, what);
        self.out.push(Difference {
            anchor,
            group: self.group.clone(),
            subject: self.subject.clone(),
            path: path.to_string(),
            what: what.to_string(),
            detail,
            why,
        });
    }
}

/// Where a note for this difference would best go: on a property's own node for its presence
/// or requiredness (they belong to the object that lists it), else on the named component
/// that the innermost node belongs to (so one note serves every operation using it).
fn anchor(scopes: &[Scope], path: &str, what: &str) -> (String, String) {
    let Some(deepest) = scopes
        .iter()
        .filter_map(|s| relative(path, &s.path).map(|r| (s, r)))
        .min_by_key(|(_, r)| r.len())
        .map(|(s, _)| s.path.clone())
    else {
        return (String::new(), what.to_string());
    };
    let here: Vec<&Scope> = scopes.iter().filter(|s| s.path == deepest).collect();
    let is_component = |p: &str| p.starts_with("/components/") && p.matches('/').count() == 3;
    let on_property = here.first().is_some_and(|s| s.ptr.contains("/properties/"));
    let chosen = if matches!(what, "required" | "extra") && on_property {
        here.first()
    } else {
        here.iter().find(|s| is_component(&s.ptr)).or(here.last())
    };
    let ptr = chosen.map(|s| s.ptr.clone()).unwrap_or_default();
    let rel = relative(path, &deepest).unwrap_or("");
    let key = if rel.is_empty() {
        what.to_string()
    } else {
        format!("{rel} {what}")
    };
    (ptr, key)
}

/// `path` relative to `base` (both difference paths), if `path` is `base` or below it.
fn relative<'p>(path: &'p str, base: &str) -> Option<&'p str> {
    if base.is_empty() {
        return Some(path);
    }
    let rest = path.strip_prefix(base)?;
    if rest.is_empty() || rest.starts_with("[]") || rest.starts_with('(') {
        Some(rest)
    } else {
        rest.strip_prefix('.')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative("response.200.part.sha1", ""),
            Some("response.200.part.sha1")
        );
        assert_eq!(
            relative("response.200.part.sha1", "response.200"),
            Some("part.sha1")
        );
        assert_eq!(
            relative("response.200.entries[].sha1", "response.200.entries"),
            Some("[].sha1")
        );
        assert_eq!(relative("response.2001", "response.200"), None);
        assert_eq!(relative("response.200", "response.200"), Some(""));
    }
}
