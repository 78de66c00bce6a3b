//! What a schema says, as the generator reads it: `Shape` folds the many spellings of
//! `openapiv3` (typed or `Any`) into the few cases that decide a type.

use indexmap::IndexMap;
use openapiv3::{
    AdditionalProperties, ReferenceOr, Schema, SchemaKind, StringFormat, Type,
    VariantOrUnknownOrEmpty,
};

use super::SRef;

pub(super) type Props = IndexMap<String, ReferenceOr<Box<Schema>>>;

/// The parts of a schema the generator cares about, whatever way the document spelled it.
pub(super) enum Shape<'a> {
    Object {
        props: &'a Props,
        required: &'a [String],
        free_form: bool,
    },
    AllOf {
        parts: &'a [ReferenceOr<Schema>],
        props: Option<(&'a Props, &'a [String])>,
    },
    OneOf(&'a [ReferenceOr<Schema>]),
    Str {
        format: Option<&'a str>,
        values: Vec<String>,
    },
    Int {
        format: Option<&'a str>,
    },
    Num,
    Bool,
    Array(Option<&'a ReferenceOr<Box<Schema>>>),
    Free,
    Not,
}

/// A `format` as text, known or not.
fn format_str<T: Copy>(
    f: &VariantOrUnknownOrEmpty<T>,
    known: impl Fn(T) -> &'static str,
) -> Option<&str> {
    match f {
        VariantOrUnknownOrEmpty::Item(v) => Some(known(*v)),
        VariantOrUnknownOrEmpty::Unknown(s) => Some(s.as_str()),
        VariantOrUnknownOrEmpty::Empty => None,
    }
}

fn string_format(f: StringFormat) -> &'static str {
    match f {
        StringFormat::Date => "date",
        StringFormat::DateTime => "date-time",
        StringFormat::Password => "password",
        StringFormat::Byte => "byte",
        StringFormat::Binary => "binary",
    }
}

pub(super) fn shape(schema: &Schema) -> Shape<'_> {
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(s)) => Shape::Str {
            format: format_str(&s.format, string_format),
            values: s.enumeration.iter().flatten().cloned().collect(),
        },
        SchemaKind::Type(Type::Integer(i)) => Shape::Int {
            format: format_str(&i.format, |f| match f {
                openapiv3::IntegerFormat::Int32 => "int32",
                openapiv3::IntegerFormat::Int64 => "int64",
            }),
        },
        SchemaKind::Type(Type::Number(_)) => Shape::Num,
        SchemaKind::Type(Type::Boolean(_)) => Shape::Bool,
        SchemaKind::Type(Type::Array(a)) => Shape::Array(a.items.as_ref()),
        SchemaKind::Type(Type::Object(o)) => Shape::Object {
            props: &o.properties,
            required: &o.required,
            free_form: o.properties.is_empty()
                || !matches!(
                    o.additional_properties,
                    None | Some(AdditionalProperties::Any(false))
                ),
        },
        SchemaKind::OneOf { one_of } => Shape::OneOf(one_of),
        SchemaKind::AnyOf { any_of } => Shape::OneOf(any_of),
        SchemaKind::AllOf { all_of } => Shape::AllOf {
            parts: all_of,
            props: None,
        },
        SchemaKind::Not { .. } => Shape::Not,
        SchemaKind::Any(any) => {
            if !any.all_of.is_empty() {
                let props = (!any.properties.is_empty())
                    .then_some((&any.properties, any.required.as_slice()));
                Shape::AllOf {
                    parts: &any.all_of,
                    props,
                }
            } else if !any.one_of.is_empty() {
                Shape::OneOf(&any.one_of)
            } else if !any.any_of.is_empty() {
                Shape::OneOf(&any.any_of)
            } else if any.not.is_some() {
                Shape::Not
            } else {
                match any.typ.as_deref() {
                    Some("string") => Shape::Str {
                        format: any.format.as_deref(),
                        values: any
                            .enumeration
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect(),
                    },
                    Some("integer") => Shape::Int {
                        format: any.format.as_deref(),
                    },
                    Some("number") => Shape::Num,
                    Some("boolean") => Shape::Bool,
                    Some("array") => Shape::Array(any.items.as_ref()),
                    _ if !any.properties.is_empty() => Shape::Object {
                        props: &any.properties,
                        required: &any.required,
                        free_form: false,
                    },
                    Some("object") => Shape::Object {
                        props: &any.properties,
                        required: &any.required,
                        free_form: true,
                    },
                    _ => Shape::Free,
                }
            }
        }
    }
}

/// A schema that says nothing about structure (only a description, `nullable`, an example...):
/// Box's `allOf: [{$ref: X}, {description: ...}]` idiom uses these to annotate a reference.
pub(super) fn is_trivial(s: SRef<'_>) -> bool {
    matches!(s, SRef::Item(schema) if matches!(shape(schema), Shape::Free))
}

/// `allOf` whose only structural member is a `$ref`: an annotated reference, not a new type.
pub(super) fn is_single_ref(parts: &[ReferenceOr<Schema>]) -> bool {
    let mut structural = parts.iter().filter(|p| !is_trivial(SRef::from(*p)));
    matches!(
        (structural.next(), structural.next()),
        (Some(ReferenceOr::Reference { .. }), None)
    )
}

/// Whether `s` is an inline schema marked `nullable` (a `$ref` says nothing by itself).
pub(super) fn nullable(s: SRef<'_>) -> bool {
    matches!(s, SRef::Item(schema) if schema.schema_data.nullable)
}
