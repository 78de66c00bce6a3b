//! An operation's parameters, matched by lower-case name: location, requiredness, style and
//! explode, then their schemas.

use serde_json::Value;

use super::scope::Scope;
use super::{flag, last, required_word, Walker};
use crate::upstream::doc::{Doc, Resolved};

impl Walker<'_> {
    pub(super) fn parameters(
        &mut self,
        scopes: &[Scope],
        ours: (&str, &Value, &Value),
        theirs: (&str, &Value, &Value),
        renames: &[(String, String)],
    ) {
        let Some(ours) = self.params_of(self.ours, ours) else {
            return;
        };
        let Some(mut theirs) = self.params_of(self.theirs, theirs) else {
            return;
        };
        for (name, p) in &mut theirs {
            let in_path = p.value.get("in").and_then(Value::as_str) == Some("path");
            if let Some((_, ours_name)) = renames.iter().find(|(t, _)| in_path && t == name) {
                name.clone_from(ours_name);
            }
        }
        for (name, o) in &ours {
            let path = format!("param.{name}");
            let scopes = self.scopes(scopes, &o.ptrs, &path);
            let Some((_, t)) = theirs.iter().find(|(n, _)| n == name) else {
                self.emit(
                    &scopes,
                    &path,
                    "extra",
                    format!("Box has no such parameter ({})", param_summary(o.value)),
                );
                continue;
            };
            let (ov, tv) = (o.value, t.value);
            let location = |v: &Value| {
                v.get("in")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            if location(ov) != location(tv) {
                self.emit(
                    &scopes,
                    &path,
                    "in",
                    format!("ours {}; Box {}", location(ov), location(tv)),
                );
            }
            if flag(ov, "required") != flag(tv, "required") {
                self.emit(
                    &scopes,
                    &path,
                    "required",
                    format!(
                        "ours {}; Box {}",
                        required_word(flag(ov, "required")),
                        required_word(flag(tv, "required"))
                    ),
                );
            }
            let (os, ts) = (style(ov), style(tv));
            if os.0 != ts.0 {
                self.emit(
                    &scopes,
                    &path,
                    "style",
                    format!("ours {}; Box {}", os.0, ts.0),
                );
            }
            if os.1 != ts.1 {
                self.emit(
                    &scopes,
                    &path,
                    "explode",
                    format!("ours {}; Box {}", os.1, ts.1),
                );
            }
            if let (Some(a), Some(b)) = (ov.get("schema"), tv.get("schema")) {
                let (ap, bp) = (
                    format!("{}/schema", last(&o.ptrs)),
                    format!("{}/schema", last(&t.ptrs)),
                );
                self.schema(&scopes, &path, (&ap, a), (&bp, b), 0);
            }
        }
        for (name, t) in &theirs {
            if !ours.iter().any(|(n, _)| n == name) {
                self.emit(
                    scopes,
                    &format!("param.{name}"),
                    "missing",
                    format!("Box: {}", param_summary(t.value)),
                );
            }
        }
    }

    /// An operation's parameters (its path item's, overridden by its own), by lower-case name.
    fn params_of<'d>(
        &mut self,
        doc: &'d Doc,
        (op_ptr, item, op): (&str, &'d Value, &'d Value),
    ) -> Option<Vec<(String, Resolved<'d>)>> {
        let item_ptr = op_ptr.rsplit_once('/').map_or("", |(p, _)| p);
        let mut out: Vec<(String, Resolved<'d>)> = Vec::new();
        for (owner_ptr, owner) in [(item_ptr, item), (op_ptr, op)] {
            let Some(list) = owner.get("parameters").and_then(Value::as_array) else {
                continue;
            };
            for (i, p) in list.iter().enumerate() {
                let r = match doc.resolve(&format!("{owner_ptr}/parameters/{i}"), p) {
                    Ok(r) => r,
                    Err(e) => {
                        self.errors.push(e);
                        return None;
                    }
                };
                let Some(name) = r.value.get("name").and_then(Value::as_str) else {
                    self.errors.push(format!(
                        "{} at {}: a parameter without a name",
                        doc.label,
                        last(&r.ptrs)
                    ));
                    return None;
                };
                let name = name.to_ascii_lowercase();
                out.retain(|(n, _)| *n != name);
                out.push((name, r));
            }
        }
        Some(out)
    }
}

/// A parameter's effective (style, explode), with OpenAPI's defaults per location.
fn style(p: &Value) -> (String, bool) {
    let location = p.get("in").and_then(Value::as_str).unwrap_or("");
    let default = if matches!(location, "query" | "cookie") {
        "form"
    } else {
        "simple"
    };
    let style = p
        .get("style")
        .and_then(Value::as_str)
        .unwrap_or(default)
        .to_string();
    let explode = p
        .get("explode")
        .and_then(Value::as_bool)
        .unwrap_or(style == "form");
    (style, explode)
}

fn param_summary(p: &Value) -> String {
    let location = p.get("in").and_then(Value::as_str).unwrap_or("?");
    format!("in {location}, {}", required_word(flag(p, "required")))
}
