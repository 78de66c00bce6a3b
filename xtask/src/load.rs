//! Stage 1: text -> `openapiv3::OpenAPI`, refusing what is not OpenAPI 3.0.x.

use crate::diag::Problems;

/// Parses `text` as an OpenAPI 3.0.x document. On failure, every problem found is returned.
pub fn load(text: &str) -> Result<openapiv3::OpenAPI, Problems> {
    let mut problems = Problems::default();
    // serde_yaml's Value keeps the document's key order (serde_json's would sort it), so the
    // generated fields, types and operations come out in the order the spec lists them.
    let value: serde_yaml::Value = match serde_yaml::from_str(text) {
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
    let Some(object) = value.as_mapping() else {
        problems.push(
            "",
            "the document is not a mapping: an OpenAPI description is an object at the top level",
        );
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
            problems.push(
                "/openapi",
                "missing `openapi` version field; the generator reads OpenAPI 3.0.x",
            );
            return Err(problems);
        }
        Some(serde_yaml::Value::String(v)) if v.starts_with("3.0.") || v == "3.0" => {}
        Some(other) => {
            problems.push(
                "/openapi",
                format!(
                    "OpenAPI version {} is not supported; the generator reads 3.0.x",
                    display_value(other)
                ),
            );
            return Err(problems);
        }
    }
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(value.clone(), &mut track);
    match <openapiv3::OpenAPI as serde::Deserialize>::deserialize(de) {
        Ok(api) => Ok(api),
        Err(e) => {
            let pointer = path_to_pointer(&track.path());
            let (pointer, message) = refine(object, &pointer).unwrap_or((pointer, e.to_string()));
            problems.push(
                pointer,
                format!("not a valid OpenAPI 3.0 document here: {message}"),
            );
            Err(problems)
        }
    }
}

/// openapiv3 flattens `paths` and `components` maps, which hides the failing entry from
/// serde_path_to_error; decoding the entries one by one finds it.
fn refine(document: &serde_yaml::Mapping, pointer: &str) -> Option<(String, String)> {
    fn first_failure<T: serde::de::DeserializeOwned>(
        map: &serde_yaml::Mapping,
        base: &str,
    ) -> Option<(String, String)> {
        for (key, value) in map {
            let key = key.as_str()?;
            if key.starts_with("x-") {
                continue;
            }
            let mut track = serde_path_to_error::Track::new();
            let de = serde_path_to_error::Deserializer::new(value.clone(), &mut track);
            if let Err(e) = T::deserialize(de) {
                let inner = path_to_pointer(&track.path());
                return Some((
                    format!("{}{inner}", crate::diag::join(base, key)),
                    e.to_string(),
                ));
            }
        }
        None
    }
    let section = |name: &str| document.get(name).and_then(|v| v.as_mapping());
    if pointer == "/paths" || pointer.starts_with("/paths/") {
        return first_failure::<openapiv3::PathItem>(section("paths")?, "/paths");
    }
    if pointer.starts_with("/components") {
        let components = section("components")?;
        let schemas = components.get("schemas").and_then(|v| v.as_mapping())?;
        return first_failure::<openapiv3::ReferenceOr<openapiv3::Schema>>(
            schemas,
            "/components/schemas",
        );
    }
    None
}

fn display_value(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
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
        assert!(problems.list()[0]
            .message
            .starts_with("not a YAML or JSON document (line"));
    }

    #[test]
    fn rejects_other_versions() {
        let problems =
            load("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n").expect_err("3.1");
        assert_eq!(problems.list()[0].pointer, "/openapi");
        let problems = load("swagger: '2.0'\n").expect_err("swagger");
        assert_eq!(problems.list()[0].pointer, "/swagger");
    }

    #[test]
    fn structural_errors_are_located() {
        let text = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses: 7\n";
        let problems = load(text).expect_err("bad responses");
        assert!(
            problems.list()[0].pointer.starts_with("/paths/~1a/get"),
            "{:?}",
            problems
        );
    }
}
