//! Path items given by `$ref`. OpenAPI 3.0 has no `components` section for path items, so a
//! reusable one lives in an extension (`x-path-items`, at the top level or in `components`) and
//! paths point at it: `/files/{id}: {$ref: '#/x-path-items/File'}`. A reference to another
//! entry of `paths` is read too, though it repeats that entry's operation names, which are then
//! reported as duplicates. References to other files are not read (the generator takes one
//! document).
//!
//! The references are replaced by the items they point at before anything else is lowered, so
//! the rest of `lower` sees only inline path items. Problems inside a referenced item are
//! located under the path that uses it.

use std::borrow::Cow;

use openapiv3::{OpenAPI, PathItem, ReferenceOr};

use crate::diag::{join, Problems};

/// A chain of references longer than this is a cycle.
const MAX_HOPS: usize = 8;

/// `api` with every path item `$ref` replaced by its target; unchanged (and not copied) when
/// there is none. Unresolvable references are reported and their paths dropped.
pub fn inline<'a>(api: &'a OpenAPI, problems: &mut Problems) -> Cow<'a, OpenAPI> {
    let has_refs = api
        .paths
        .paths
        .values()
        .any(|item| matches!(item, ReferenceOr::Reference { .. }));
    if !has_refs {
        return Cow::Borrowed(api);
    }
    let mut out = api.clone();
    out.paths.paths.retain(|path, item| {
        let ReferenceOr::Reference { reference } = item else {
            return true;
        };
        let at = format!("{}/$ref", join("/paths", path));
        match resolve(api, reference, 0) {
            Ok(target) => {
                *item = ReferenceOr::Item(target);
                true
            }
            Err(message) => {
                problems.push(at, message);
                false
            }
        }
    });
    Cow::Owned(out)
}

fn resolve(api: &OpenAPI, reference: &str, hops: usize) -> Result<PathItem, String> {
    if hops >= MAX_HOPS {
        return Err(format!(
            "path item $ref `{reference}` is circular or chained more than {MAX_HOPS} times"
        ));
    }
    let Some(pointer) = reference.strip_prefix('#') else {
        return Err(format!(
            "path item $ref `{reference}` points into another document: the generator reads \
             one document (define the item under `x-path-items` and point at it)"
        ));
    };
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let dangling = || format!("dangling path item $ref `{reference}`");
    let value = match tokens.as_slice() {
        [paths, path] if paths == "paths" => {
            return match api.paths.paths.get(path) {
                Some(ReferenceOr::Item(item)) => Ok(item.clone()),
                Some(ReferenceOr::Reference { reference }) => resolve(api, reference, hops + 1),
                None => Err(dangling()),
            };
        }
        [ext, rest @ ..] if ext.starts_with("x-") => {
            walk(api.extensions.get(ext.as_str()), rest).ok_or_else(dangling)?
        }
        [components, ext, rest @ ..] if components == "components" && ext.starts_with("x-") => {
            let found = api
                .components
                .as_ref()
                .and_then(|c| c.extensions.get(ext.as_str()));
            walk(found, rest).ok_or_else(dangling)?
        }
        _ => {
            return Err(format!(
                "unsupported path item $ref `{reference}`: point at `#/paths/...` or at an \
                 extension such as `#/x-path-items/Name`"
            ))
        }
    };
    if let Some(next) = value.get("$ref").and_then(|r| r.as_str()) {
        return resolve(api, next, hops + 1);
    }
    serde_json::from_value(value.clone())
        .map_err(|e| format!("path item $ref `{reference}` does not point at a path item: {e}"))
}

/// Follows JSON-pointer tokens down from `value`.
fn walk<'v>(
    value: Option<&'v serde_json::Value>,
    tokens: &[String],
) -> Option<&'v serde_json::Value> {
    let mut value = value?;
    for token in tokens {
        value = match value {
            serde_json::Value::Object(map) => map.get(token)?,
            serde_json::Value::Array(list) => list.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}
