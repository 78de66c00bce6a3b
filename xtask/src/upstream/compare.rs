//! The field-by-field walk: every operation of ours against Box's operation of the same
//! method and path, and every path of ours against Box's other operations on it.
//!
//! Difference paths are relative to the operation: `server`, `param.<name>`, `body`,
//! `response.<status>` (`response.<status>.header.<name>` for a header), then one segment per
//! property (`.<name>`) and `[]` per array item: `response.200.part.sha1`. After the path
//! comes the kind: `extra` (ours has it, Box's does not), `missing` (the other way round),
//! `type`, `format`, `nullable`, `enum`, `enum <value> extra|missing`, `required`, `in`,
//! `style`, `explode`, `properties`, `one-of`, `discriminator`, `media-type`,
//! `schema extra|missing`, `code <code> extra|missing`, `server` and `security`.
//!
//! What is compared, and what is not:
//! - Schemas are compared after resolving `$ref` and merging `allOf`; `oneOf`/`anyOf` are
//!   compared branch by branch when both sides have the same number of branches; when only
//!   one side has them, the mismatch is reported once and the walk goes on into the single
//!   branch of the other side's type, if there is one. Constraints (`minimum`, `maximum`,
//!   `pattern`, lengths), `default`, `readOnly`, descriptions and examples are not compared:
//!   they are prose or limits, not the shape of a request or an answer.
//! - A free-form object (no properties) against an object with properties is one
//!   `properties` difference; the walk does not go into the listed properties.
//! - Security is compared only as "needs a token or not": the two documents name their
//!   schemes differently.
//! - Error codes: ours are `x-error-codes`; Box's description has no such field, and names
//!   codes only in Markdown prose. The codes read from Box's side are the list items of a
//!   response's description that start with a code in backticks (`` * `item_name_invalid` ``)
//!   and the `code` of a response's examples. A code mentioned anywhere else (the operation's
//!   own description, a sentence, the generic `ClientError.code` enum) is not read, so a
//!   status whose codes Box gives only in a sentence compares as "Box names none". Codes are
//!   compared only where both sides declare the status; a status only one side declares is
//!   one difference, whatever codes it carries.

use std::collections::BTreeSet;

use serde_json::Value;

use super::doc::{normalise_path, pointer_key, Doc, Resolved, METHODS};
use super::notes::Notes;
use super::Difference;

/// A node of our spec that holds notes, and the difference path (relative to the
/// operation) at which the walk met it.
#[derive(Clone)]
struct Scope {
    ptr: String,
    path: String,
}

pub struct Walker<'a> {
    ours: &'a Doc,
    theirs: &'a Doc,
    notes: &'a Notes,
    pub out: Vec<Difference>,
    /// (pointer, diff) of every note that explained a difference.
    pub used: BTreeSet<(String, String)>,
    pub errors: Vec<String>,
    group: String,
    subject: String,
    /// (ours, Box) schema pointers being compared, against `$ref` cycles.
    stack: Vec<(String, String)>,
}

/// Deeper than this, a schema walk stops (both documents would have to nest this far).
const MAX_DEPTH: usize = 48;

impl<'a> Walker<'a> {
    pub fn new(ours: &'a Doc, theirs: &'a Doc, notes: &'a Notes) -> Self {
        Walker {
            ours,
            theirs,
            notes,
            out: Vec::new(),
            used: BTreeSet::new(),
            errors: Vec::new(),
            group: String::new(),
            subject: String::new(),
            stack: Vec::new(),
        }
    }

    /// Compares every path and operation of ours.
    pub fn run(&mut self) {
        let empty = serde_json::Map::new();
        let ours_paths = self.ours.root["paths"].as_object().unwrap_or(&empty);
        let theirs_paths = self.theirs.root["paths"].as_object().unwrap_or(&empty);
        let root_scopes = self.scopes(&[], &[String::new()], "");
        for (path, item) in ours_paths {
            let item_ptr = format!("/paths/{}", pointer_key(path));
            let item = match self.ours.resolve(&item_ptr, item) {
                Ok(r) => r.value,
                Err(e) => {
                    self.errors.push(e);
                    continue;
                }
            };
            let (norm, _) = normalise_path(path);
            // Box's operations on the same path, its `#fragment` variants included.
            let theirs_here: Vec<(&String, &str, &Value)> = theirs_paths
                .iter()
                .filter(|(p, _)| normalise_path(p).0 == norm)
                .flat_map(|(p, it)| {
                    METHODS
                        .iter()
                        .filter_map(move |m| it.get(*m).map(|op| (p, *m, op)))
                })
                .collect();
            for method in METHODS {
                let Some(op) = item.get(method) else {
                    continue;
                };
                let op_ptr = format!("{item_ptr}/{method}");
                let name = op
                    .get("x-rust-name")
                    .or_else(|| op.get("operationId"))
                    .and_then(Value::as_str)
                    .unwrap_or(method);
                self.group = format!("{name} ({} {path})", method.to_uppercase());
                self.subject = name.to_string();
                let scopes = self.scopes(&root_scopes, std::slice::from_ref(&op_ptr), "");
                let twin = theirs_here
                    .iter()
                    .find(|(p, m, _)| *m == method && normalise_path(p).1.is_empty());
                match twin {
                    Some((p, _, theirs_op)) => {
                        let theirs_item = &theirs_paths[p.as_str()];
                        let theirs_ptr = format!("/paths/{}/{method}", pointer_key(p));
                        // Box may name path parameters differently: they are compared by
                        // their place in the template, under our names.
                        let renames: Vec<(String, String)> = template_names(p)
                            .into_iter()
                            .zip(template_names(path))
                            .collect();
                        self.operation(
                            &scopes,
                            (&op_ptr, item, op),
                            (&theirs_ptr, theirs_item, theirs_op),
                            &renames,
                        );
                    }
                    None => self.emit(
                        &scopes,
                        "",
                        "extra",
                        format!("Box's description has no {} {path}", method.to_uppercase()),
                    ),
                }
            }
            // Box's operations on this path that we do not describe.
            self.group = format!("path {path}");
            self.subject = path.clone();
            let scopes = self.scopes(&root_scopes, std::slice::from_ref(&item_ptr), "");
            for (p, method, op) in &theirs_here {
                let fragment = normalise_path(p).1;
                if fragment.is_empty() && item.get(*method).is_some() {
                    continue;
                }
                let id = op.get("operationId").and_then(Value::as_str).unwrap_or("?");
                self.emit(
                    &scopes,
                    &format!("{method}{fragment}"),
                    "missing",
                    format!("Box describes {} {p} ({id})", method.to_uppercase()),
                );
            }
        }
    }

    /// `base` plus a scope at `path` for each of `ptrs`.
    fn scopes(&self, base: &[Scope], ptrs: &[String], path: &str) -> Vec<Scope> {
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
    fn emit(&mut self, scopes: &[Scope], path: &str, what: &str, detail: String) {
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

    fn operation(
        &mut self,
        scopes: &[Scope],
        (op_ptr, item, op): (&str, &Value, &Value),
        (theirs_ptr, theirs_item, theirs_op): (&str, &Value, &Value),
        renames: &[(String, String)],
    ) {
        let (ours_servers, theirs_servers) = (
            self.ours.servers(item, op),
            self.theirs.servers(theirs_item, theirs_op),
        );
        if ours_servers != theirs_servers {
            self.emit(
                scopes,
                "",
                "server",
                format!(
                    "ours {}; Box {}",
                    ours_servers.join(", "),
                    theirs_servers.join(", ")
                ),
            );
        }
        let (a, b) = (self.ours.needs_auth(op), self.theirs.needs_auth(theirs_op));
        if a != b {
            let says = |t: bool| if t { "needs a token" } else { "needs none" };
            self.emit(
                scopes,
                "",
                "security",
                format!("ours {}; Box {}", says(a), says(b)),
            );
        }
        self.parameters(
            scopes,
            (op_ptr, item, op),
            (theirs_ptr, theirs_item, theirs_op),
            renames,
        );
        self.request_body(scopes, (op_ptr, op), (theirs_ptr, theirs_op));
        self.responses(scopes, (op_ptr, op), (theirs_ptr, theirs_op));
    }

    fn parameters(
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

    fn request_body(
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

    fn responses(
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

    /// Compares the `content` of a body or response: media types, then the schemas.
    fn content(
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

    /// Compares two schemas, recursively.
    fn schema(
        &mut self,
        scopes: &[Scope],
        path: &str,
        (optr, o): (&str, &Value),
        (tptr, t): (&str, &Value),
        depth: usize,
    ) {
        self.schemas(
            scopes,
            path,
            &[(optr.to_string(), o)],
            &[(tptr.to_string(), t)],
            depth,
        );
    }

    /// Compares two schemas, each given as the definitions that `allOf` merges into it (a
    /// property that two `allOf` members both define has two).
    fn schemas(&mut self, scopes: &[Scope], path: &str, o: &[Def], t: &[Def], depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let (o, t) = match (flatten_all(self.ours, o), flatten_all(self.theirs, t)) {
            (Ok(o), Ok(t)) => (o, t),
            (Err(e), _) | (_, Err(e)) => return self.errors.push(e),
        };
        let key = (last(&o.ptrs).to_string(), last(&t.ptrs).to_string());
        if self.stack.contains(&key) {
            return;
        }
        self.stack.push(key);
        let scopes = self.scopes(scopes, &o.ptrs, path);
        self.flat(&scopes, path, &o, &t, depth);
        self.stack.pop();
    }

    fn flat(&mut self, scopes: &[Scope], path: &str, o: &Flat, t: &Flat, depth: usize) {
        match (&o.one_of, &t.one_of) {
            (None, None) => {}
            (Some(a), Some(b)) => {
                if a.len() != b.len() {
                    self.emit(
                        scopes,
                        path,
                        "one-of",
                        format!("ours {} branches; Box {}", a.len(), b.len()),
                    );
                } else {
                    for (i, ((ap, av), (bp, bv))) in a.iter().zip(b).enumerate() {
                        self.schema(
                            scopes,
                            &format!("{path}.oneOf[{i}]"),
                            (ap, av),
                            (bp, bv),
                            depth + 1,
                        );
                    }
                }
                if o.discriminator != t.discriminator {
                    self.emit(
                        scopes,
                        path,
                        "discriminator",
                        format!(
                            "ours {}; Box {}",
                            or_none(&o.discriminator),
                            or_none(&t.discriminator)
                        ),
                    );
                }
                return;
            }
            (Some(branches), None) | (None, Some(branches)) => {
                let (ours_side, other) = if o.one_of.is_some() {
                    (true, t)
                } else {
                    (false, o)
                };
                let detail = if ours_side {
                    format!(
                        "ours one of {} schemas; Box {}",
                        branches.len(),
                        or_none(&other.ty)
                    )
                } else {
                    format!(
                        "ours {}; Box one of {} schemas",
                        or_none(&other.ty),
                        branches.len()
                    )
                };
                self.emit(scopes, path, "one-of", detail);
                // Go on into the one branch of the other side's type, if there is one.
                let doc = if ours_side { self.ours } else { self.theirs };
                let same: Vec<&(String, &Value)> = branches
                    .iter()
                    .filter(|(p, v)| flatten(doc, p, v, 0).is_ok_and(|f| f.ty == other.ty))
                    .collect();
                if let [(bp, bv)] = same[..] {
                    let (bp, bv) = (bp.clone(), *bv);
                    let other_ptr = last(&other.ptrs).to_string();
                    let other_value = other.value;
                    if ours_side {
                        self.schema(
                            scopes,
                            path,
                            (&bp, bv),
                            (&other_ptr, other_value),
                            depth + 1,
                        );
                    } else {
                        self.schema(
                            scopes,
                            path,
                            (&other_ptr, other_value),
                            (&bp, bv),
                            depth + 1,
                        );
                    }
                }
                return;
            }
        }
        if let (Some(a), Some(b)) = (&o.ty, &t.ty) {
            if a != b {
                self.emit(scopes, path, "type", format!("ours {a}; Box {b}"));
                return;
            }
        }
        if o.format != t.format {
            self.emit(
                scopes,
                path,
                "format",
                format!("ours {}; Box {}", or_none(&o.format), or_none(&t.format)),
            );
        }
        if o.nullable != t.nullable {
            self.emit(
                scopes,
                path,
                "nullable",
                format!(
                    "ours {}; Box {}",
                    nullable_word(o.nullable),
                    nullable_word(t.nullable)
                ),
            );
        }
        match (&o.enumv, &t.enumv) {
            (Some(a), Some(b)) => {
                for v in a.iter().filter(|v| !b.contains(v)) {
                    self.emit(
                        scopes,
                        path,
                        &format!("enum {v} extra"),
                        "Box does not list this value".into(),
                    );
                }
                for v in b.iter().filter(|v| !a.contains(v)) {
                    self.emit(
                        scopes,
                        path,
                        &format!("enum {v} missing"),
                        "Box lists this value".into(),
                    );
                }
            }
            (Some(a), None) => self.emit(
                scopes,
                path,
                "enum",
                format!("ours one of {}; Box any value", a.join(", ")),
            ),
            (None, Some(b)) => self.emit(
                scopes,
                path,
                "enum",
                format!("ours any value; Box one of {} values", b.len()),
            ),
            (None, None) => {}
        }
        let is_object = |f: &Flat| f.ty.as_deref() == Some("object");
        if is_object(o) && is_object(t) {
            if o.props.is_empty() != t.props.is_empty() {
                let says = |f: &Flat| {
                    if f.props.is_empty() {
                        "free-form".to_string()
                    } else {
                        format!("lists {} properties", f.props.len())
                    }
                };
                self.emit(
                    scopes,
                    path,
                    "properties",
                    format!("ours {}; Box {}", says(o), says(t)),
                );
            } else {
                self.properties(scopes, path, o, t, depth);
            }
        }
        if let (Some((ap, av)), Some((bp, bv))) = (&o.items, &t.items) {
            self.schema(scopes, &format!("{path}[]"), (ap, av), (bp, bv), depth + 1);
        }
    }

    fn properties(&mut self, scopes: &[Scope], path: &str, o: &Flat, t: &Flat, depth: usize) {
        for (name, defs) in &o.props {
            let ppath = format!("{path}.{name}");
            // The property's own nodes, for notes on the property itself.
            let own: Vec<String> = defs
                .iter()
                .flat_map(|(p, v)| self.ours.resolve(p, v).map(|r| r.ptrs).unwrap_or_default())
                .collect();
            let pscopes = self.scopes(scopes, &own, &ppath);
            let Some((_, tdefs)) = t.props.iter().find(|(n, _)| n == name) else {
                self.emit(&pscopes, &ppath, "extra", "Box does not list it".into());
                continue;
            };
            let (a, b) = (o.required.contains(name), t.required.contains(name));
            if a != b {
                self.emit(
                    &pscopes,
                    &ppath,
                    "required",
                    format!("ours {}; Box {}", required_word(a), required_word(b)),
                );
            }
            self.schemas(scopes, &ppath, defs, tdefs, depth + 1);
        }
        for (name, tdefs) in &t.props {
            if !o.props.iter().any(|(n, _)| n == name) {
                let ty = flatten_all(self.theirs, tdefs)
                    .ok()
                    .and_then(|f| f.ty)
                    .unwrap_or_else(|| "schema".into());
                self.emit(
                    scopes,
                    &format!("{path}.{name}"),
                    "missing",
                    format!("Box lists it ({ty})"),
                );
            }
        }
    }
}

/// One definition of a schema: its pointer and node (maybe a `$ref`).
type Def<'a> = (String, &'a Value);

/// A schema with its `$ref`s resolved and its `allOf` merged.
struct Flat<'a> {
    /// The pointers of every node merged into it, for notes.
    ptrs: Vec<String>,
    /// The node itself (after `$ref`), for walking into a `oneOf` branch.
    value: &'a Value,
    ty: Option<String>,
    format: Option<String>,
    nullable: bool,
    enumv: Option<Vec<String>>,
    /// Each property with its definitions, in the order met.
    props: Vec<(String, Vec<Def<'a>>)>,
    required: BTreeSet<String>,
    items: Option<(String, &'a Value)>,
    one_of: Option<Vec<(String, &'a Value)>>,
    discriminator: Option<String>,
}

fn flatten<'a>(
    doc: &'a Doc,
    ptr: &str,
    value: &'a Value,
    depth: usize,
) -> Result<Flat<'a>, String> {
    if depth > MAX_DEPTH {
        return Err(format!("{} at {ptr}: `allOf` nests too deep", doc.label));
    }
    let r = doc.resolve(ptr, value)?;
    let v = r.value;
    let at = last(&r.ptrs).to_string();
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let mut flat = Flat {
        ptrs: r.ptrs.clone(),
        value: v,
        ty: text("type"),
        format: text("format"),
        nullable: flag(v, "nullable"),
        enumv: v.get("enum").and_then(Value::as_array).map(|l| {
            l.iter()
                .filter(|x| !x.is_null())
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect()
        }),
        props: v
            .get("properties")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, p)| {
                        (
                            k.clone(),
                            vec![(format!("{at}/properties/{}", pointer_key(k)), p)],
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        required: v
            .get("required")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        items: v.get("items").map(|i| (format!("{at}/items"), i)),
        one_of: ["oneOf", "anyOf"].iter().find_map(|k| {
            v.get(*k).and_then(Value::as_array).map(|l| {
                l.iter()
                    .enumerate()
                    .map(|(i, b)| (format!("{at}/{k}/{i}"), b))
                    .collect()
            })
        }),
        discriminator: v
            .get("discriminator")
            .and_then(|d| d.get("propertyName"))
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    if let Some(members) = v.get("allOf").and_then(Value::as_array) {
        for (i, m) in members.iter().enumerate() {
            let m = flatten(doc, &format!("{at}/allOf/{i}"), m, depth + 1)?;
            merge(&mut flat, m);
        }
    }
    if flat.ty.is_none() && flat.one_of.is_none() {
        if !flat.props.is_empty() || v.get("additionalProperties").is_some() {
            flat.ty = Some("object".into());
        } else if flat.items.is_some() {
            flat.ty = Some("array".into());
        }
    }
    Ok(flat)
}

/// Merges `m` into `flat`, as `allOf` does: a property both define keeps both definitions.
fn merge<'a>(flat: &mut Flat<'a>, m: Flat<'a>) {
    flat.ptrs.extend(m.ptrs);
    flat.ty = flat.ty.take().or(m.ty);
    flat.format = flat.format.take().or(m.format);
    flat.nullable |= m.nullable;
    flat.enumv = flat.enumv.take().or(m.enumv);
    for (name, defs) in m.props {
        match flat.props.iter_mut().find(|(n, _)| *n == name) {
            Some((_, mine)) => mine.extend(defs),
            None => flat.props.push((name, defs)),
        }
    }
    flat.required.extend(m.required);
    flat.items = flat.items.take().or(m.items);
    flat.one_of = flat.one_of.take().or(m.one_of);
    flat.discriminator = flat.discriminator.take().or(m.discriminator);
}

/// Flattens several definitions of one schema into one.
fn flatten_all<'a>(doc: &'a Doc, defs: &[Def<'a>]) -> Result<Flat<'a>, String> {
    let mut iter = defs.iter();
    let Some((ptr, value)) = iter.next() else {
        return Err(format!("{}: a schema without a definition", doc.label));
    };
    let mut flat = flatten(doc, ptr, value, 0)?;
    for (ptr, value) in iter {
        let more = flatten(doc, ptr, value, 0)?;
        merge(&mut flat, more);
    }
    if flat.ty.is_none() && flat.one_of.is_none() {
        if !flat.props.is_empty() {
            flat.ty = Some("object".into());
        } else if flat.items.is_some() {
            flat.ty = Some("array".into());
        }
    }
    Ok(flat)
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

/// The parameter names of a path template, in order, lower-cased.
fn template_names(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect()
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

/// The `x-error-codes` of one of our responses.
fn our_codes(response: &Value) -> BTreeSet<String> {
    response
        .get("x-error-codes")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|c| c.get("code")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The codes Box's description names for one response (see the module's comment).
pub(super) fn box_codes(response: &Value) -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    let description = response
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    for line in description.lines() {
        let line = line.trim_start();
        let Some(item) = line.strip_prefix("* ").or_else(|| line.strip_prefix("- ")) else {
            continue;
        };
        let Some(rest) = item.trim_start().strip_prefix('`') else {
            continue;
        };
        if let Some(code) = rest.split('`').next().filter(|c| is_code(c)) {
            codes.insert(code.to_string());
        }
    }
    let examples = response
        .get("content")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
        .flat_map(|media| {
            let one = media.get("example").into_iter();
            let many = media
                .get("examples")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|m| m.values())
                .filter_map(|e| e.get("value"));
            one.chain(many)
        });
    for example in examples {
        if let Some(code) = example
            .get("code")
            .and_then(Value::as_str)
            .filter(|c| is_code(c))
        {
            codes.insert(code.to_string());
        }
    }
    codes
}

fn is_code(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
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

fn required_word(required: bool) -> &'static str {
    if required {
        "required"
    } else {
        "optional"
    }
}

fn nullable_word(nullable: bool) -> &'static str {
    if nullable {
        "nullable"
    } else {
        "not nullable"
    }
}

fn or_none(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("none")
}

fn last(ptrs: &[String]) -> &str {
    ptrs.last().map_or("", String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_from_list_items_and_examples() {
        let response = serde_json::json!({
            "description": "Bad.\n\n* `missing_destination`: no folder\n* `item_name_invalid` when\n  the name is `bad_name` here\nAlso `not_a_list_item`.",
            "content": {"application/json": {"example": {"code": "from_example"}}}
        });
        let codes: Vec<String> = box_codes(&response).into_iter().collect();
        assert_eq!(
            codes,
            ["from_example", "item_name_invalid", "missing_destination"]
        );
    }

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
