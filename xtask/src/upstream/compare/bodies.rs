//! Request bodies (present or not, required or not), and the `content` of a body or a
//! response: its media types, then the schema of each media type both sides give.

use serde_json::Value;

use super::scope::Scope;
use super::{flag, last, required_word, Walker};
use crate::upstream::doc::pointer_key;

impl Walker<'_> {
    pub(super) fn request_body(
        &mut self,
        scopes: &[Scope],
        (op_ptr, op): (&str, &Value),
        (theirs_ptr, theirs_op): (&str, &Value),
    ) {
        let path = "body";
        let ours = match op
            .get("requestBody")
            .map(|b| self.ours.resolve(&format!("{op_ptr}/requestBody"), b))
            .transpose()
        {
            Ok(r) => r,
            Err(e) => return self.errors.push(e),
        };
        let theirs = match theirs_op
            .get("requestBody")
            .map(|b| self.theirs.resolve(&format!("{theirs_ptr}/requestBody"), b))
            .transpose()
        {
            Ok(r) => r,
            Err(e) => return self.errors.push(e),
        };
        match (ours, theirs) {
            (None, None) => {}
            (Some(o), None) => {
                let scopes = self.scopes(scopes, &o.ptrs, path);
                self.emit(
                    &scopes,
                    path,
                    "extra",
                    "Box's operation takes no body".into(),
                );
            }
            (None, Some(_)) => self.emit(
                scopes,
                path,
                "missing",
                "Box's operation takes a body".into(),
            ),
            (Some(o), Some(t)) => {
                let scopes = self.scopes(scopes, &o.ptrs, path);
                let (a, b) = (flag(o.value, "required"), flag(t.value, "required"));
                if a != b {
                    self.emit(
                        &scopes,
                        path,
                        "required",
                        format!("ours {}; Box {}", required_word(a), required_word(b)),
                    );
                }
                self.content(
                    &scopes,
                    path,
                    (last(&o.ptrs), o.value),
                    (last(&t.ptrs), t.value),
                );
            }
        }
    }

    /// Compares the `content` of a body or response: media types, then the schemas.
    pub(super) fn content(
        &mut self,
        scopes: &[Scope],
        path: &str,
        (optr, o): (&str, &Value),
        (tptr, t): (&str, &Value),
    ) {
        let empty = serde_json::Map::new();
        let oc = o
            .get("content")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let tc = t
            .get("content")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let (om, tm): (Vec<&String>, Vec<&String>) = (oc.keys().collect(), tc.keys().collect());
        if om != tm {
            let list = |l: &[&String]| {
                if l.is_empty() {
                    "none".to_string()
                } else {
                    l.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                }
            };
            self.emit(
                scopes,
                path,
                "media-type",
                format!("ours {}; Box {}", list(&om), list(&tm)),
            );
        }
        let mut pairs: Vec<(&String, &String)> = om
            .iter()
            .filter(|m| tm.contains(m))
            .map(|m| (*m, *m))
            .collect();
        if pairs.is_empty() {
            if let (Some(a), Some(b)) = (om.first(), tm.first()) {
                pairs.push((a, b));
            }
        }
        let several = pairs.len() > 1;
        for (a, b) in pairs {
            let spath = if several {
                format!("{path}({a})")
            } else {
                path.to_string()
            };
            let (os, ts) = (oc[a.as_str()].get("schema"), tc[b.as_str()].get("schema"));
            let (ap, bp) = (
                format!("{optr}/content/{}/schema", pointer_key(a)),
                format!("{tptr}/content/{}/schema", pointer_key(b)),
            );
            match (os, ts) {
                (Some(x), Some(y)) => self.schema(scopes, &spath, (&ap, x), (&bp, y), 0),
                (Some(_), None) => {
                    self.emit(scopes, &spath, "schema extra", "Box gives no schema".into())
                }
                (None, Some(_)) => self.emit(
                    scopes,
                    &spath,
                    "schema missing",
                    "Box gives a schema".into(),
                ),
                (None, None) => {}
            }
        }
    }
}
