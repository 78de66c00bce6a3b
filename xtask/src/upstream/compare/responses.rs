//! Responses, status by status: a status only one side declares, and for the others their
//! headers, content and error codes.

use serde_json::Value;

use super::codes::{box_codes, our_codes};
use super::scope::Scope;
use super::{last, Walker};
use crate::upstream::doc::pointer_key;

impl Walker<'_> {
    pub(super) fn responses(
        &mut self,
        scopes: &[Scope],
        (op_ptr, op): (&str, &Value),
        (theirs_ptr, theirs_op): (&str, &Value),
    ) {
        let empty = serde_json::Map::new();
        let ours = op
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let theirs = theirs_op
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let mut statuses: Vec<&String> = ours.keys().chain(theirs.keys()).collect();
        statuses.sort_by_key(|s| (s.parse::<u16>().map_or(1, |_| 0), s.as_str()));
        statuses.dedup();
        for status in statuses {
            let path = format!("response.{status}");
            let o = ours
                .get(status)
                .map(|r| {
                    self.ours
                        .resolve(&format!("{op_ptr}/responses/{}", pointer_key(status)), r)
                })
                .transpose();
            let t = theirs
                .get(status)
                .map(|r| {
                    self.theirs.resolve(
                        &format!("{theirs_ptr}/responses/{}", pointer_key(status)),
                        r,
                    )
                })
                .transpose();
            let (o, t) = match (o, t) {
                (Ok(o), Ok(t)) => (o, t),
                (Err(e), _) | (_, Err(e)) => {
                    self.errors.push(e);
                    continue;
                }
            };
            match (o, t) {
                (None, None) => {}
                (Some(o), None) => {
                    let scopes = self.scopes(scopes, &o.ptrs, &path);
                    let codes = our_codes(o.value);
                    let detail = if codes.is_empty() {
                        "Box does not declare it".to_string()
                    } else {
                        format!(
                            "Box does not declare it (ours names {})",
                            codes.into_iter().collect::<Vec<_>>().join(", ")
                        )
                    };
                    self.emit(&scopes, &path, "extra", detail);
                }
                (None, Some(t)) => {
                    let codes = box_codes(t.value);
                    let detail = if codes.is_empty() {
                        "Box declares it".to_string()
                    } else {
                        format!(
                            "Box declares it, naming {}",
                            codes.into_iter().collect::<Vec<_>>().join(", ")
                        )
                    };
                    self.emit(scopes, &path, "missing", detail);
                }
                (Some(o), Some(t)) => {
                    let scopes = self.scopes(scopes, &o.ptrs, &path);
                    self.response(
                        &scopes,
                        &path,
                        (last(&o.ptrs), o.value),
                        (last(&t.ptrs), t.value),
                    );
                }
            }
        }
    }

    fn response(
        &mut self,
        scopes: &[Scope],
        path: &str,
        (optr, o): (&str, &Value),
        (tptr, t): (&str, &Value),
    ) {
        // Headers, by lower-case name.
        let headers = |v: &Value| -> Vec<(String, String, Value)> {
            v.get("headers")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, h)| (k.to_ascii_lowercase(), pointer_key(k), h.clone()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (oh, th) = (headers(o), headers(t));
        for (name, key, h) in &oh {
            let hpath = format!("{path}.header.{name}");
            let hptr = format!("{optr}/headers/{key}");
            let r = match self.ours.resolve(&hptr, h) {
                Ok(r) => r,
                Err(e) => return self.errors.push(e),
            };
            let hscopes = self.scopes(scopes, &r.ptrs, &hpath);
            match th.iter().find(|(n, _, _)| n == name) {
                None => self.emit(
                    &hscopes,
                    &hpath,
                    "extra",
                    "Box does not declare this header".into(),
                ),
                Some((_, tkey, th)) => {
                    let tr = match self.theirs.resolve(&format!("{tptr}/headers/{tkey}"), th) {
                        Ok(r) => r,
                        Err(e) => return self.errors.push(e),
                    };
                    if let (Some(a), Some(b)) = (r.value.get("schema"), tr.value.get("schema")) {
                        let (ap, bp) = (
                            format!("{}/schema", last(&r.ptrs)),
                            format!("{}/schema", last(&tr.ptrs)),
                        );
                        // The header values are cloned; their schemas are compared by value.
                        let (a, b) = (a.clone(), b.clone());
                        self.schema(&hscopes, &hpath, (&ap, &a), (&bp, &b), 0);
                    }
                }
            }
        }
        for (name, _, _) in &th {
            if !oh.iter().any(|(n, _, _)| n == name) {
                self.emit(
                    scopes,
                    &format!("{path}.header.{name}"),
                    "missing",
                    "Box declares this header".into(),
                );
            }
        }
        self.content(scopes, path, (optr, o), (tptr, t));
        let (ours, theirs) = (our_codes(o), box_codes(t));
        for code in ours.difference(&theirs) {
            let detail = if theirs.is_empty() {
                "Box names no code here".to_string()
            } else {
                format!(
                    "Box names {}",
                    theirs.iter().cloned().collect::<Vec<_>>().join(", ")
                )
            };
            self.emit(scopes, path, &format!("code {code} extra"), detail);
        }
        for code in theirs.difference(&ours) {
            self.emit(
                scopes,
                path,
                &format!("code {code} missing"),
                "Box names it here; ours does not".into(),
            );
        }
    }
}
