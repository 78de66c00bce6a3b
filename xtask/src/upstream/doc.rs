//! One OpenAPI document as plain JSON values, with what the diff needs to walk it: `$ref`
//! resolution that remembers every node passed through (notes may sit on any of them), the
//! effective servers of an operation, and path templates with their parameter names erased.

use serde_json::Value;

/// A parsed document (ours or Box's); `label` names it in messages.
pub struct Doc {
    pub root: Value,
    pub label: &'static str,
}

/// A node of a document and its JSON pointer (`/components/schemas/File--Full`).
#[derive(Clone, Copy)]
pub struct Node<'a> {
    pub ptr: &'a str,
    pub value: &'a Value,
}

/// A node reached by following `$ref`s: the pointers of every node on the way (the referring
/// node first, the target last) and the target itself.
pub struct Resolved<'a> {
    pub ptrs: Vec<String>,
    pub value: &'a Value,
}

/// `$ref` chains longer than this are treated as a cycle.
const MAX_REF_CHAIN: usize = 32;

impl Doc {
    /// Parses YAML or JSON (JSON is YAML) into a document.
    pub fn parse(text: &str, label: &'static str) -> Result<Doc, String> {
        let root: Value = serde_yaml::from_str(text)
            .map_err(|e| format!("{label}: not a YAML or JSON document: {e}"))?;
        if !root.get("paths").is_some_and(Value::is_object) {
            return Err(format!(
                "{label}: not an OpenAPI document (no `paths` object)"
            ));
        }
        Ok(Doc { root, label })
    }

    /// Follows `value`'s `$ref` chain (if any) to the node it names.
    pub fn resolve<'a>(&'a self, ptr: &str, value: &'a Value) -> Result<Resolved<'a>, String> {
        let mut ptrs = vec![ptr.to_string()];
        let mut value = value;
        while let Some(target) = value.get("$ref").and_then(Value::as_str) {
            let Some(pointer) = target.strip_prefix('#') else {
                return Err(format!(
                    "{} at {}: `$ref: {target}` is not a local reference",
                    self.label,
                    ptrs.last().map_or("", String::as_str)
                ));
            };
            value = self.root.pointer(pointer).ok_or_else(|| {
                format!(
                    "{} at {}: `$ref: {target}` names nothing",
                    self.label,
                    ptrs.last().map_or("", String::as_str)
                )
            })?;
            ptrs.push(pointer.to_string());
            if ptrs.len() > MAX_REF_CHAIN {
                return Err(format!("{}: `$ref` cycle through {target}", self.label));
            }
        }
        Ok(Resolved { ptrs, value })
    }

    /// The servers an operation is sent to (its own, else its path item's, else the
    /// document's), each URL with its variables replaced by their defaults: Box's
    /// description names hosts literally where ours has a `{box-upload-server}` variable.
    pub fn servers(&self, path_item: &Value, op: &Value) -> Vec<String> {
        let list = [op, path_item, &self.root]
            .into_iter()
            .find_map(|v| v.get("servers").and_then(Value::as_array))
            .cloned()
            .unwrap_or_default();
        let mut urls: Vec<String> = list.iter().filter_map(server_url).collect();
        urls.sort();
        urls.dedup();
        urls
    }

    /// Whether the operation needs credentials: a non-empty security requirement of its own
    /// or, failing that, of the document. Box's scheme names differ from ours, so only this
    /// is comparable.
    pub fn needs_auth(&self, op: &Value) -> bool {
        let security = op.get("security").or_else(|| self.root.get("security"));
        security.and_then(Value::as_array).is_some_and(|list| {
            list.iter()
                .any(|req| req.as_object().is_some_and(|m| !m.is_empty()))
        })
    }
}

fn server_url(server: &Value) -> Option<String> {
    let url = server.get("url")?.as_str()?;
    let vars = server.get("variables");
    let mut out = String::new();
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        let name = &rest[open + 1..open + close];
        match vars
            .and_then(|v| v.get(name))
            .and_then(|v| v.get("default"))
            .and_then(Value::as_str)
        {
            Some(default) => out.push_str(default),
            None => out.push_str(&rest[open..=open + close]),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Some(out.trim_end_matches('/').to_string())
}

/// `/files/{file_id}/content#frag` -> (`/files/{}/content`, `#frag`): Box's path templates may
/// name parameters differently, and Box gives a second description of an endpoint a
/// `#fragment` of its own (`/oauth2/token#refresh`).
pub fn normalise_path(path: &str) -> (String, &str) {
    let (path, fragment) = match path.find('#') {
        Some(i) => path.split_at(i),
        None => (path, ""),
    };
    let mut out = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    (out, fragment)
}

/// Escapes one key for a JSON pointer (RFC 6901).
pub fn pointer_key(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The methods of a path item, in a fixed order.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_compared_without_parameter_names_or_fragments() {
        assert_eq!(
            normalise_path("/files/{file_id}/content"),
            ("/files/{}/content".to_string(), "")
        );
        assert_eq!(
            normalise_path("/oauth2/token#refresh"),
            ("/oauth2/token".to_string(), "#refresh")
        );
    }

    #[test]
    fn server_variables_take_their_defaults() {
        let server = serde_json::json!({
            "url": "https://{host}/api/2.0/",
            "variables": {"host": {"default": "upload.box.com"}}
        });
        assert_eq!(
            server_url(&server).as_deref(),
            Some("https://upload.box.com/api/2.0")
        );
    }
}
