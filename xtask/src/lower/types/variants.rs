//! Types that are one of several things: string enums, and `oneOf`/`anyOf` unions, tagged by a
//! discriminator or untagged.

use openapiv3::{ReferenceOr, Schema, SchemaKind};

use super::shape::{shape, Shape};
use super::{SRef, TypeLower};
use crate::ir::{TaggedVariant, Ty, TypeDef, TypeName};
use crate::names::{pascal, Unique};

impl<'a> TypeLower<'a> {
    pub(super) fn define_enum(
        &mut self,
        pointer: &str,
        hint: &str,
        values: &[String],
        doc: Option<String>,
    ) -> TypeName {
        let (name, defined) = self.name_for(pointer, hint);
        if defined {
            return name;
        }
        let mut unique = Unique::default();
        unique.reserve("Unknown");
        let values = values
            .iter()
            .map(|v| (v.clone(), TypeName::new(unique.take(&pascal(v)))))
            .collect();
        self.fill(
            pointer,
            TypeDef::Enum {
                name: name.clone(),
                doc,
                values,
            },
        );
        name
    }

    pub(super) fn define_union(
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
        let Shape::OneOf(parts) = shape(schema) else {
            self.in_progress.remove(pointer);
            return name;
        };
        let keyword = match &schema.schema_kind {
            SchemaKind::AnyOf { .. } => "anyOf",
            SchemaKind::Any(any) if any.one_of.is_empty() => "anyOf",
            _ => "oneOf",
        };
        let doc = schema.schema_data.description.clone();
        let mut unique = Unique::default();
        unique.reserve("Unknown");
        let def = match &schema.schema_data.discriminator {
            Some(discriminator) => {
                let mut variants = Vec::new();
                for (i, part) in parts.iter().enumerate() {
                    let at = format!("{pointer}/{keyword}/{i}");
                    let ReferenceOr::Reference { reference } = part else {
                        self.problems.push(
                            at,
                            "a oneOf with a discriminator must list $refs to component schemas",
                        );
                        continue;
                    };
                    let Some((component_pointer, _)) = self.resolve(reference, &at) else {
                        continue;
                    };
                    let ty = self.names_by_pointer[&component_pointer].clone();
                    let schema_name = reference
                        .rsplit('/')
                        .next()
                        .unwrap_or(reference)
                        .to_string();
                    let mut tags: Vec<String> = discriminator
                        .mapping
                        .iter()
                        .filter(|(_, target)| *target == reference || **target == schema_name)
                        .map(|(tag, _)| tag.clone())
                        .collect();
                    if tags.is_empty() {
                        tags.push(schema_name);
                    }
                    variants.push(TaggedVariant {
                        name: TypeName::new(unique.take(ty.as_str())),
                        tags,
                        ty,
                        boxed: false,
                    });
                }
                TypeDef::Tagged {
                    name: name.clone(),
                    doc,
                    property: discriminator.property_name.clone(),
                    variants,
                }
            }
            None => {
                let mut variants = Vec::new();
                for (i, part) in parts.iter().enumerate() {
                    let at = format!("{pointer}/{keyword}/{i}");
                    let (ty, _) = self.ty(SRef::from(part), &at, &format!("{name}Variant{i}"));
                    variants.push((TypeName::new(unique.take(&variant_name(&ty))), ty));
                }
                TypeDef::Untagged {
                    name: name.clone(),
                    doc,
                    variants,
                }
            }
        };
        self.in_progress.remove(pointer);
        self.fill(pointer, def);
        name
    }
}

/// A variant name for an untagged union member, from its type.
fn variant_name(ty: &Ty) -> String {
    match ty {
        Ty::Named(n) => n.to_string(),
        Ty::Vec(inner) => format!("{}List", variant_name(inner)),
        Ty::String => "String".into(),
        Ty::I32 | Ty::I64 => "Integer".into(),
        Ty::F64 => "Number".into(),
        Ty::Bool => "Boolean".into(),
        Ty::DateTime => "DateTime".into(),
        Ty::Value => "Value".into(),
        Ty::Map => "Object".into(),
        Ty::Binary => "Binary".into(),
        Ty::Secret => "Secret".into(),
        Ty::Boxed(inner) => variant_name(inner),
    }
}
