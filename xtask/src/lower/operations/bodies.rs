//! Request bodies by media type (JSON, octet-stream, form, multipart), and the examples of any
//! JSON media type, bodies' and responses' alike.

use openapiv3::{ReferenceOr, Schema};

use super::Ctx;
use crate::diag::join;
use crate::ir::{MultipartPart, RequestBody, RustIdent, Ty, TypeName};
use crate::lower::refs;
use crate::lower::types::SRef;
use crate::names::{pascal, snake, Unique};

/// The media types the generator knows how to send or read.
pub(super) enum Media {
    Json,
    OctetStream,
    Multipart,
    Form,
}

/// Which of those `media` is (parameters and case ignored), if any.
pub(super) fn media_kind(media: &str) -> Option<Media> {
    let base = media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if base == "application/json" || (base.starts_with("application/") && base.ends_with("+json")) {
        Some(Media::Json)
    } else if base == "application/octet-stream" {
        Some(Media::OctetStream)
    } else if base == "multipart/form-data" {
        Some(Media::Multipart)
    } else if base == "application/x-www-form-urlencoded" {
        Some(Media::Form)
    } else {
        None
    }
}

impl<'a> Ctx<'a, '_> {
    /// The request body, by its first supported media type; `None` when it has none (or a
    /// problem was reported).
    pub(super) fn body(
        &mut self,
        body: &'a ReferenceOr<openapiv3::RequestBody>,
        pointer: &str,
        type_name: &TypeName,
        names: &mut Unique,
    ) -> Option<RequestBody> {
        let (body, pointer) = self.resolve(body, pointer)?;
        let mut chosen = None;
        for (media, content) in &body.content {
            let at = join(&format!("{pointer}/content"), media);
            match media_kind(media) {
                Some(kind) if chosen.is_none() => chosen = Some((kind, content, at)),
                Some(_) => {}
                None => self.problems.push(
                    at,
                    format!(
                        "unsupported media type `{media}`: request bodies may be application/json, \
                         application/octet-stream, multipart/form-data or \
                         application/x-www-form-urlencoded"
                    ),
                ),
            }
        }
        let (kind, content, at) = chosen?;
        match kind {
            Media::OctetStream => Some(RequestBody::OctetStream),
            Media::Json => {
                let Some(schema) = &content.schema else {
                    return Some(RequestBody::Json { ty: Ty::Value });
                };
                let (ty, nullable) = self.types.ty(
                    SRef::from(schema),
                    &format!("{at}/schema"),
                    &format!("{type_name}Body"),
                );
                self.media_examples(content, &at, &ty, nullable);
                Some(RequestBody::Json { ty })
            }
            Media::Form => {
                let Some(schema) = &content.schema else {
                    self.problems.push(
                        &at,
                        "an application/x-www-form-urlencoded body needs a schema listing its fields",
                    );
                    return None;
                };
                let schema_at = format!("{at}/schema");
                let (ty, _) =
                    self.types
                        .ty(SRef::from(schema), &schema_at, &format!("{type_name}Body"));
                crate::lower::form::check(self.types, &ty, &schema_at, &mut self.problems);
                Some(RequestBody::Form { ty })
            }
            Media::Multipart => {
                let Some(schema) = &content.schema else {
                    self.problems.push(
                        &at,
                        "a multipart/form-data body needs a schema listing its parts",
                    );
                    return None;
                };
                self.multipart(
                    SRef::from(schema),
                    &format!("{at}/schema"),
                    type_name,
                    names,
                )
            }
        }
    }

    /// A multipart body's parts, one per property of its (object) schema.
    fn multipart(
        &mut self,
        schema: SRef<'a>,
        pointer: &str,
        type_name: &TypeName,
        names: &mut Unique,
    ) -> Option<RequestBody> {
        let (schema, pointer) = match schema {
            SRef::Item(s) => (s, pointer.to_string()),
            SRef::Ref(reference) => {
                refs::named::<Schema>(self.api, &mut self.problems, reference, pointer)?
            }
        };
        let (props, required) = match &schema.schema_kind {
            openapiv3::SchemaKind::Type(openapiv3::Type::Object(o)) => (&o.properties, &o.required),
            openapiv3::SchemaKind::Any(a) if !a.properties.is_empty() => {
                (&a.properties, &a.required)
            }
            _ => {
                self.problems.push(
                    &pointer,
                    "a multipart/form-data schema must be an object with properties",
                );
                return None;
            }
        };
        let mut parts = Vec::new();
        for (prop, prop_schema) in props {
            let at = join(&format!("{pointer}/properties"), prop);
            let hint = format!("{type_name}{}", pascal(prop));
            let (ty, _) = self.types.ty(SRef::from(prop_schema), &at, &hint);
            let doc = match prop_schema {
                ReferenceOr::Item(s) => s.schema_data.description.clone(),
                ReferenceOr::Reference { .. } => None,
            };
            parts.push(MultipartPart {
                wire: prop.clone(),
                rust: RustIdent::new(names.take(&snake(prop))),
                ty,
                required: required.contains(prop),
                doc,
            });
        }
        // Non-binary parts (metadata) first, binary parts last: servers such as Box require the
        // metadata before the content, and a streamed file part must not be followed by more.
        parts.sort_by_key(|p| p.ty == Ty::Binary);
        Some(RequestBody::Multipart { parts })
    }

    /// A JSON media type's `example` and `examples`, as examples of its body type `ty`.
    pub(super) fn media_examples(
        &mut self,
        content: &'a openapiv3::MediaType,
        at: &str,
        ty: &Ty,
        nullable: bool,
    ) {
        if let Some(value) = &content.example {
            self.types
                .record_example(format!("{at}/example"), ty, nullable, value);
        }
        for (name, example) in &content.examples {
            let example_at = join(&format!("{at}/examples"), name);
            let Some((example, example_at)) = self.resolve(example, &example_at) else {
                continue;
            };
            // An example given by `externalValue` lives elsewhere: there is nothing to check here.
            if let Some(value) = &example.value {
                self.types
                    .record_example(format!("{example_at}/value"), ty, nullable, value);
            }
        }
    }
}
