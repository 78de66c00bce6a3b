//! The one `$ref` resolver for what operations use from `components`: parameters, request
//! bodies, responses, headers, examples, and the schema of a multipart body. (Schemas in
//! general go through `types`, which also follows aliases between schemas.)

use indexmap::IndexMap;
use openapiv3::{
    Components, Example, Header, OpenAPI, Parameter, ReferenceOr, RequestBody, Response, Schema,
};

use crate::diag::{join, Problems};

/// A kind of object that a section of `components` holds and a `$ref` can name.
pub trait Component: Sized {
    /// The section's key under `components`: `parameters`, `requestBodies`, ...
    const SECTION: &'static str;
    /// What messages call one, with its article: `a parameter`, `an example`.
    const A: &'static str;
    fn section(components: &Components) -> &IndexMap<String, ReferenceOr<Self>>;
}

macro_rules! component {
    ($ty:ty, $section:literal, $a:literal, $field:ident) => {
        impl Component for $ty {
            const SECTION: &'static str = $section;
            const A: &'static str = $a;
            fn section(components: &Components) -> &IndexMap<String, ReferenceOr<Self>> {
                &components.$field
            }
        }
    };
}

component!(Parameter, "parameters", "a parameter", parameters);
component!(
    RequestBody,
    "requestBodies",
    "a request body",
    request_bodies
);
component!(Response, "responses", "a response", responses);
component!(Header, "headers", "a header", headers);
component!(Example, "examples", "an example", examples);
component!(Schema, "schemas", "a schema", schemas);

/// `item` (found at `at`) itself, or the component its `$ref` names; with the pointer of what
/// was found. A `$ref` that names nothing, or names another `$ref`, is reported at `{at}/$ref`.
pub fn resolve<'a, T: Component>(
    api: &'a OpenAPI,
    problems: &mut Problems,
    item: &'a ReferenceOr<T>,
    at: &str,
) -> Option<(&'a T, String)> {
    match item {
        ReferenceOr::Item(found) => Some((found, at.to_string())),
        ReferenceOr::Reference { reference } => named(api, problems, reference, at),
    }
}

/// The component `reference` (a `$ref` found at `at`) names, with its pointer.
pub fn named<'a, T: Component>(
    api: &'a OpenAPI,
    problems: &mut Problems,
    reference: &str,
    at: &str,
) -> Option<(&'a T, String)> {
    let section = format!("/components/{}", T::SECTION);
    let found = reference
        .strip_prefix(format!("#{section}/").as_str())
        .and_then(|name| Some((name, T::section(api.components.as_ref()?).get(name)?)));
    let noun = T::A.split_once(' ').map_or(T::A, |(_, noun)| noun);
    match found {
        Some((name, ReferenceOr::Item(found))) => Some((found, join(&section, name))),
        Some((_, ReferenceOr::Reference { .. })) => {
            problems.push(
                format!("{at}/$ref"),
                format!("{a} $ref must point at {a}, not at another $ref", a = T::A),
            );
            None
        }
        None => {
            problems.push(
                format!("{at}/$ref"),
                format!("dangling $ref `{reference}`: there is no such {noun} in components"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> OpenAPI {
        serde_json::from_value(serde_json::json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {},
            "components": {
                "parameters": {
                    "page": {"name": "page", "in": "query", "schema": {"type": "integer"}},
                    "again": {"$ref": "#/components/parameters/page"}
                },
                "examples": {"one": {"value": 1}}
            }
        }))
        .unwrap_or_else(|e| panic!("test document: {e}"))
    }

    fn reference<T>(to: &str) -> ReferenceOr<T> {
        ReferenceOr::Reference {
            reference: to.to_string(),
        }
    }

    #[test]
    fn an_inline_item_is_itself_at_its_own_pointer() {
        let api = api();
        let mut problems = Problems::default();
        let item = ReferenceOr::Item(Example::default());
        let (_, at) = resolve(&api, &mut problems, &item, "/here").expect("inline");
        assert_eq!(at, "/here");
        assert!(problems.is_empty());
    }

    #[test]
    fn a_ref_resolves_to_the_component_at_its_pointer() {
        let api = api();
        let mut problems = Problems::default();
        let item = reference::<Parameter>("#/components/parameters/page");
        let (param, at) = resolve(&api, &mut problems, &item, "/here").expect("resolves");
        assert_eq!(param.parameter_data_ref().name, "page");
        assert_eq!(at, "/components/parameters/page");
        let (_, at) = named::<Example>(&api, &mut problems, "#/components/examples/one", "/x")
            .expect("resolves");
        assert_eq!(at, "/components/examples/one");
        assert!(problems.is_empty());
    }

    #[test]
    fn dangling_refs_and_refs_to_refs_are_reported_at_the_ref() {
        let api = api();
        let cases = [
            (
                "#/components/parameters/nope",
                "dangling $ref `#/components/parameters/nope`: there is no such parameter in components",
            ),
            (
                "#/components/parametersX/page",
                "dangling $ref `#/components/parametersX/page`: there is no such parameter in components",
            ),
            (
                "#/components/parameters/again",
                "a parameter $ref must point at a parameter, not at another $ref",
            ),
        ];
        for (to, message) in cases {
            let mut problems = Problems::default();
            let item = reference(to);
            let found = resolve::<Parameter>(&api, &mut problems, &item, "/op");
            assert!(found.is_none(), "{to}");
            let list = problems.list();
            assert_eq!(list.len(), 1, "{to}: {list:?}");
            assert_eq!(list[0].pointer, "/op/$ref");
            assert_eq!(list[0].message, message);
        }
        // Messages name the kind asked for, with its article.
        let mut problems = Problems::default();
        assert!(
            named::<Example>(&api, &mut problems, "#/components/examples/page", "/x").is_none()
        );
        assert_eq!(
            problems.list()[0].message,
            "dangling $ref `#/components/examples/page`: there is no such example in components"
        );
    }
}
