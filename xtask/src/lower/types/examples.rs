//! Examples met while lowering (a schema's, its `allOf` annotations', and those operations
//! record for parameters and media types), each once, with the type it should decode into.

use openapiv3::{ReferenceOr, Schema};

use super::shape::{is_trivial, shape, Shape};
use super::{SRef, TypeLower};
use crate::ir::{Example, Ty};

impl TypeLower<'_> {
    /// Records `value`, found at `pointer`, as an example of `ty` (once per pointer). Binary
    /// content has no JSON form, so its examples are not checked.
    pub fn record_example(
        &mut self,
        pointer: String,
        ty: &Ty,
        nullable: bool,
        value: &serde_json::Value,
    ) {
        if matches!(ty, Ty::Binary) || !self.example_pointers.insert(pointer.clone()) {
            return;
        }
        self.examples.push(Example {
            pointer,
            ty: ty.clone(),
            nullable,
            value: value.clone(),
        });
    }

    /// A schema's `example`, and those of the annotation members of its `allOf`
    /// (`allOf: [{$ref: X}, {example: ...}]` is an example of the whole).
    pub(super) fn record_schema_examples(
        &mut self,
        schema: &Schema,
        pointer: &str,
        ty: &Ty,
        nullable: bool,
    ) {
        if let Some(value) = &schema.schema_data.example {
            self.record_example(format!("{pointer}/example"), ty, nullable, value);
        }
        if let Shape::AllOf { parts, .. } = shape(schema) {
            for (i, part) in parts.iter().enumerate() {
                if let ReferenceOr::Item(part) = part {
                    if let (true, Some(value)) =
                        (is_trivial(SRef::Item(part)), &part.schema_data.example)
                    {
                        let at = format!("{pointer}/allOf/{i}/example");
                        self.record_example(at, ty, nullable, value);
                    }
                }
            }
        }
    }
}
