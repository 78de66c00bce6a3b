//! Paths and operations -> `ir::Operation`s: each operation's name, server, credentials and
//! path template here; its parameters (`params`), body (`bodies`) and answers (`responses`) in
//! their own modules, the servers they name in `servers`. `$ref`s go through `super::refs`.

mod bodies;
mod params;
mod responses;
mod servers;

pub use responses::status_name;

use std::collections::HashMap;

use indexmap::IndexMap;
use openapiv3::{OpenAPI, Operation as OaOperation, PathItem, ReferenceOr};

use super::refs::{self, Component};
use super::types::TypeLower;
use crate::diag::{join, Problems};
use crate::ir::{Operation, Param, ParamIn, PathTemplate, RustIdent, Server, TypeName};
use crate::names::{pascal, snake, Unique};

/// What lowering the operations carries along: the document, the types lowered so far, the
/// problems found and the servers met.
struct Ctx<'a, 't> {
    api: &'a OpenAPI,
    types: &'t mut TypeLower<'a>,
    problems: Problems,
    servers: IndexMap<String, Server>,
    server_keys: Unique,
}

/// Every operation of every path, with the servers they use and the problems found.
pub fn lower_operations<'a>(
    api: &'a OpenAPI,
    types: &mut TypeLower<'a>,
) -> (Vec<Operation>, Vec<Server>, Problems) {
    let mut ctx = Ctx {
        api,
        types,
        problems: Problems::default(),
        servers: IndexMap::new(),
        server_keys: Unique::default(),
    };
    // The document's first server is the default; register it first so it keeps its key.
    if let Some(first) = api.servers.first() {
        ctx.server(first, "/servers/0", true);
    }
    let mut operations = Vec::new();
    let mut seen: HashMap<RustIdent, String> = HashMap::new();
    for (path, item) in api.paths.paths.iter() {
        let path_pointer = join("/paths", path);
        let item = match item {
            ReferenceOr::Item(item) => item,
            // `path_refs` replaced every reference (or reported it and dropped its path).
            ReferenceOr::Reference { .. } => continue,
        };
        for (method, op) in methods(item) {
            let pointer = format!("{path_pointer}/{method}");
            let lowered = ctx.operation(path, item, method, op, &pointer);
            if let Some(first) = seen.get(&lowered.name) {
                let field = if op.extensions.contains_key("x-rust-name") {
                    "x-rust-name"
                } else {
                    "operationId"
                };
                ctx.problems.push(
                    format!("{pointer}/{field}"),
                    format!(
                        "duplicate operation name `{}`: {first} already uses it",
                        lowered.name
                    ),
                );
                continue;
            }
            seen.insert(lowered.name.clone(), pointer);
            operations.push(lowered);
        }
    }
    let servers = ctx.servers.into_values().collect();
    (operations, servers, ctx.problems)
}

/// A path item's operations, in the order they are generated.
fn methods(item: &PathItem) -> Vec<(&'static str, &OaOperation)> {
    [
        ("get", &item.get),
        ("put", &item.put),
        ("post", &item.post),
        ("delete", &item.delete),
        ("options", &item.options),
        ("head", &item.head),
        ("patch", &item.patch),
        ("trace", &item.trace),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_ref().map(|op| (m, op)))
    .collect()
}

/// A string extension (`x-rust-name`, ...), if present and a string.
fn ext_str<'e>(extensions: &'e IndexMap<String, serde_json::Value>, key: &str) -> Option<&'e str> {
    extensions.get(key).and_then(|v| v.as_str())
}

impl<'a> Ctx<'a, '_> {
    /// `item` itself, or the component its `$ref` names (see [`refs::resolve`]).
    fn resolve<T: Component>(
        &mut self,
        item: &'a ReferenceOr<T>,
        at: &str,
    ) -> Option<(&'a T, String)> {
        refs::resolve(self.api, &mut self.problems, item, at)
    }

    /// Lowers one operation. Its problems go to `self.problems`; the operation is returned even
    /// then, so that the caller can check its name against the others.
    fn operation(
        &mut self,
        path: &str,
        item: &'a PathItem,
        method: &str,
        op: &'a OaOperation,
        pointer: &str,
    ) -> Operation {
        let name = match ext_str(&op.extensions, "x-rust-name").or(op.operation_id.as_deref()) {
            Some(name) if !name.trim().is_empty() => RustIdent::new(snake(name)),
            _ => {
                self.problems.push(
                    pointer,
                    format!(
                        "operation {} {path} has no name: add `x-rust-name` (or `operationId`)",
                        method.to_uppercase()
                    ),
                );
                // Keep going so that the rest of this operation is checked too.
                RustIdent::new(format!("unnamed_{}_{}", method, snake(path)))
            }
        };
        let type_name = TypeName::new(pascal(name.as_str()));
        let (server_key, server_default) = if let Some(s) = op.servers.first() {
            self.server(s, &format!("{pointer}/servers/0"), false)
        } else if let Some(s) = item.servers.first() {
            let path_pointer = pointer.rsplit_once('/').map(|(p, _)| p).unwrap_or(pointer);
            self.server(s, &format!("{path_pointer}/servers/0"), false)
        } else if let Some(s) = self.api.servers.first() {
            self.server(s, "/servers/0", true)
        } else {
            ("default".to_string(), String::new())
        };
        // `security: []` (or only empty requirements) means "no credentials"; no `security`
        // anywhere means the client's credentials, if it has any, are sent.
        let credentials = !op
            .security
            .as_ref()
            .or(self.api.security.as_ref())
            .is_some_and(|requirements| requirements.iter().all(|r| r.is_empty()));
        let absolute_url = op
            .extensions
            .get("x-accepts-absolute-url")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let doc = match (&op.summary, &op.description) {
            (Some(s), Some(d)) => Some(format!("{s}\n\n{d}")),
            (Some(s), None) => Some(s.clone()),
            (None, d) => d.clone(),
        };

        let mut field_names = Unique::default();
        for reserved in ["endpoint", "body"] {
            field_names.reserve(reserved);
        }
        let params = self.params(item, op, pointer, &type_name, &mut field_names);
        let template = match PathTemplate::parse(path) {
            Ok(template) => {
                self.check_path_template(&template, &params, pointer);
                template
            }
            Err(e) => {
                self.problems.push(pointer, format!("path `{path}` {e}"));
                // Never emitted (the IR is dropped when there are problems): the rest of the
                // operation is still checked.
                PathTemplate::default()
            }
        };
        let body = op.request_body.as_ref().and_then(|b| {
            self.body(
                b,
                &format!("{pointer}/requestBody"),
                &type_name,
                &mut field_names,
            )
        });
        let (successes, errors, default_error) =
            self.responses(op, &format!("{pointer}/responses"), &type_name);
        Operation {
            name,
            type_name,
            method: method.to_uppercase(),
            path: template,
            server_key,
            server_default,
            absolute_url,
            doc,
            params,
            body,
            credentials,
            successes,
            errors,
            default_error,
        }
    }

    /// Every `{name}` in the path needs a path parameter, and every path parameter a `{name}`.
    fn check_path_template(&mut self, path: &PathTemplate, params: &[Param], pointer: &str) {
        let in_template: Vec<&str> = path.params().collect();
        for name in &in_template {
            if !params
                .iter()
                .any(|p| p.location == ParamIn::Path && p.wire == *name)
            {
                self.problems.push(
                    pointer,
                    format!("path `{path}` uses `{{{name}}}` but no path parameter declares it"),
                );
            }
        }
        for p in params.iter().filter(|p| p.location == ParamIn::Path) {
            if !in_template.contains(&p.wire.as_str()) {
                self.problems.push(
                    pointer,
                    format!(
                        "path parameter `{}` does not appear in the path `{path}`",
                        p.wire
                    ),
                );
            }
        }
    }
}
