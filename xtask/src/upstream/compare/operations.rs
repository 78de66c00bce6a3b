//! The walk's top: every path and operation of ours against Box's operations on the same
//! path, and per operation its server and security before its parameters, body and responses.

use serde_json::Value;

use super::scope::Scope;
use super::Walker;
use crate::upstream::doc::{normalise_path, pointer_key, METHODS};

impl Walker<'_> {
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
}

/// The parameter names of a path template, in order, lower-cased.
fn template_names(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect()
}
