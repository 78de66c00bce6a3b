//! Stage 1: text -> `openapiv3::OpenAPI`, refusing what is not OpenAPI 3.0.x.

use crate::diag::Problems;

/// Parses `text` as an OpenAPI 3.0.x document. On failure, every problem found is returned.
pub fn load(text: &str) -> Result<openapiv3::OpenAPI, Problems> {
    let mut problems = Problems::default();
    let value: serde_json::Value = match serde_yaml::from_str(text) {
        Ok(value) => value,
        Err(e) => {
            let at = e
                .location()
                .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
                .unwrap_or_default();
            problems.push("", format!("not a YAML or JSON document{at}: {e}"));
            return Err(problems);
        }
    };
    let Some(object) = value.as_object() else {
        problems.push("", "the document is not a mapping: an OpenAPI description is an object at the top level");
        return Err(problems);
    };
    if let Some(swagger) = object.get("swagger") {
        problems.push(
            "/swagger",
            format!(
                "this is a Swagger {} document; the generator reads OpenAPI 3.0.x (convert it first)",
                display_value(swagger)
            ),
        );
        return Err(problems);
    }
    match object.get("openapi") {
        None => {
            problems.push("/openapi", "missing `openapi` version field; the generator reads OpenAPI 3.0.x");
            return Err(problems);
        }
        Some(serde_json::Value::String(v)) if v.starts_with("3.0.") || v == "3.0" => {}
        Some(other) => {
            problems.push(
                "/openapi",
                format!("OpenAPI version {} is not supported; the generator reads 3.0.x", display_value(other)),
            );
            return Err(problems);
        }
    }
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(value, &mut track);
    match <openapiv3::OpenAPI as serde::Deserialize>::deserialize(de) {
        Ok(api) => Ok(api),
        Err(e) => {
            problems.push(path_to_pointer(&track.path()), format!("not a valid OpenAPI 3.0 document here: {e}"));
            Err(problems)
        }
    }
}

fn display_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => out = crate::diag::join(&out, key),
            Segment::Enum { variant } => out = crate::diag::join(&out, variant),
            Segment::Unknown => out.push_str("/?"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_yaml_with_a_location() {
        let problems = load("openapi: [unclosed").expect_err("not yaml");
        assert!(problems.list()[0].message.starts_with("not a YAML or JSON document (line"));
    }

    #[test]
    fn rejects_other_versions() {
        let problems = load("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n").expect_err("3.1");
        assert_eq!(problems.list()[0].pointer, "/openapi");
        let problems = load("swagger: '2.0'\n").expect_err("swagger");
        assert_eq!(problems.list()[0].pointer, "/swagger");
    }

    #[test]
    fn structural_errors_are_located() {
        let text = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses: 7\n";
        let problems = load(text).expect_err("bad responses");
        assert!(problems.list()[0].pointer.starts_with("/paths/~1a/get"), "{:?}", problems);
    }
}
