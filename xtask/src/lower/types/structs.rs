//! Objects and `allOf` chains -> struct types: fields gathered from every member, a parent's
//! fields (and its inline types) reused through its `$ref`.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use openapiv3::Schema;

use super::shape::{shape, Props, Shape};
use super::{SRef, TypeLower, MAX_DEPTH};
use crate::diag::join;
use crate::ir::{Field, RustIdent, Ty, TypeDef, TypeName};
use crate::names::{pascal, snake, Unique};

/// The fields an object or `allOf` chain has gathered so far: type, nullable and doc by JSON
/// name, and the names some member requires.
#[derive(Default)]
struct FieldAcc {
    fields: IndexMap<String, (Ty, bool, Option<String>)>,
    required: BTreeSet<String>,
}

impl<'a> TypeLower<'a> {
    pub(super) fn define_struct(
        &mut self,
        schema: &'a Schema,
        pointer: &str,
        hint: &str,
    ) -> TypeName {
        let (name, defined) = self.name_for(pointer, hint);
        if defined {
            return name;
        }
        self.in_progress.insert(pointer.to_string());
        let mut acc = FieldAcc::default();
        self.collect_fields(SRef::Item(schema), pointer, name.as_str(), &mut acc, 0);
        self.in_progress.remove(pointer);
        let mut unique = Unique::default();
        let fields = acc
            .fields
            .into_iter()
            .map(|(json, (ty, is_nullable, doc))| {
                let required = acc.required.contains(&json);
                Field {
                    rust: RustIdent::new(unique.take(&snake(&json))),
                    json,
                    ty,
                    optional: !required || is_nullable,
                    skip_none: !required,
                    doc,
                }
            })
            .collect();
        let doc = schema.schema_data.description.clone();
        self.fill(
            pointer,
            TypeDef::Struct {
                name: name.clone(),
                doc,
                fields,
            },
        );
        name
    }

    fn collect_fields(
        &mut self,
        s: SRef<'a>,
        pointer: &str,
        owner: &str,
        acc: &mut FieldAcc,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            self.problems
                .push(pointer, "allOf chain is circular or deeper than 64 levels");
            return;
        }
        let schema = match s {
            SRef::Ref(reference) => {
                let Some((component_pointer, component)) = self.resolve(reference, pointer) else {
                    return;
                };
                let component_name = self.names_by_pointer[&component_pointer].clone();
                // Inline types of the parent are named after the parent and defined once.
                self.collect_fields(
                    SRef::from(component),
                    &component_pointer,
                    component_name.as_str(),
                    acc,
                    depth + 1,
                );
                return;
            }
            SRef::Item(schema) => schema,
        };
        match shape(schema) {
            Shape::Object {
                props, required, ..
            } => self.collect_props(props, required, pointer, owner, acc),
            Shape::AllOf { parts, props } => {
                for (i, part) in parts.iter().enumerate() {
                    self.collect_fields(
                        SRef::from(part),
                        &format!("{pointer}/allOf/{i}"),
                        owner,
                        acc,
                        depth + 1,
                    );
                }
                if let Some((props, required)) = props {
                    self.collect_props(props, required, pointer, owner, acc);
                }
            }
            Shape::Free => {}
            _ => self.problems.push(
                pointer,
                "an allOf member must be an object schema (or a $ref to one); this one is not",
            ),
        }
    }

    fn collect_props(
        &mut self,
        props: &'a Props,
        required: &[String],
        pointer: &str,
        owner: &str,
        acc: &mut FieldAcc,
    ) {
        for (prop, schema) in props {
            let at = join(&format!("{pointer}/properties"), prop);
            let s = SRef::from(schema);
            let (ty, is_nullable) = self.ty(s, &at, &format!("{owner}{}", pascal(prop)));
            let doc = match s {
                SRef::Item(item) => item.schema_data.description.clone(),
                SRef::Ref(_) => None,
            };
            acc.fields.insert(prop.clone(), (ty, is_nullable, doc));
        }
        acc.required.extend(required.iter().cloned());
    }
}
