//! Schemas -> `TypeDef`s. Inline types are named after the place that defines them and
//! remembered by their JSON pointer, so an `allOf` chain reuses its parents' types instead of
//! copying them.
//!
//! `shape` reads what a schema says, whatever way the document spelled it; `structs` (objects
//! and `allOf`) and `variants` (string enums, `oneOf`/`anyOf`) define the types; `examples`
//! keeps every example met, for the generated example test.

mod examples;
mod shape;
mod structs;
mod variants;

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use openapiv3::{ReferenceOr, Schema};

use crate::diag::{join, Problems};
use crate::ir::{Example, Ty, TypeDef, TypeName};
use crate::names::{pascal, Unique};
use shape::{is_single_ref, is_trivial, nullable, shape, Shape};

/// A schema or a reference to one, whatever box it came in.
#[derive(Clone, Copy)]
pub enum SRef<'a> {
    Ref(&'a str),
    Item(&'a Schema),
}

impl<'a> From<&'a ReferenceOr<Schema>> for SRef<'a> {
    fn from(s: &'a ReferenceOr<Schema>) -> Self {
        match s {
            ReferenceOr::Reference { reference } => SRef::Ref(reference),
            ReferenceOr::Item(schema) => SRef::Item(schema),
        }
    }
}

impl<'a> From<&'a ReferenceOr<Box<Schema>>> for SRef<'a> {
    fn from(s: &'a ReferenceOr<Box<Schema>>) -> Self {
        match s {
            ReferenceOr::Reference { reference } => SRef::Ref(reference),
            ReferenceOr::Item(schema) => SRef::Item(schema),
        }
    }
}

/// Schemas to types. Owns the naming of every generated type.
pub struct TypeLower<'a> {
    components: Option<&'a IndexMap<String, ReferenceOr<Schema>>>,
    pub problems: Problems,
    /// Generated types by the pointer that defines them, in the order they were first named.
    slots: IndexMap<String, Option<TypeDef>>,
    names_by_pointer: HashMap<String, TypeName>,
    names: Unique,
    in_progress: HashSet<String>,
    /// Examples met so far, and their pointers (a schema is often lowered more than once).
    examples: Vec<Example>,
    example_pointers: HashSet<String>,
}

const MAX_DEPTH: usize = 64;

impl<'a> TypeLower<'a> {
    pub fn new(api: &'a openapiv3::OpenAPI) -> Self {
        let mut lower = TypeLower {
            components: api.components.as_ref().map(|c| &c.schemas),
            problems: Problems::default(),
            slots: IndexMap::new(),
            names_by_pointer: HashMap::new(),
            names: Unique::default(),
            in_progress: HashSet::new(),
            examples: Vec::new(),
            example_pointers: HashSet::new(),
        };
        // Hand-written and runtime names the generated code also uses.
        for reserved in [
            "Client", "Error", "Body", "FilePart", "ApiError", "Option", "Result", "String", "Vec",
        ] {
            lower.names.reserve(reserved);
        }
        // Components are named first, so that their names win over inline types' names.
        if let Some(schemas) = lower.components {
            for name in schemas.keys() {
                let pointer = join("/components/schemas", name);
                let rust = TypeName::new(lower.names.take(&pascal(name)));
                lower.names_by_pointer.insert(pointer.clone(), rust);
                lower.slots.insert(pointer, None);
            }
        }
        lower
    }

    /// Defines every component schema's type.
    pub fn lower_components(&mut self) {
        let Some(schemas) = self.components else {
            return;
        };
        for (name, schema) in schemas {
            let pointer = join("/components/schemas", name);
            let rust = self.names_by_pointer[&pointer].clone();
            match schema {
                ReferenceOr::Reference { reference } => {
                    let (ty, _) = self.ty(SRef::Ref(reference), &pointer, rust.as_str());
                    self.fill(
                        &pointer,
                        TypeDef::Alias {
                            name: rust,
                            doc: None,
                            ty,
                        },
                    );
                }
                ReferenceOr::Item(item) => self.define_named(item, &pointer, &rust),
            }
        }
    }

    /// The type defined under `name` so far (components are all defined before operations
    /// are lowered; an inline type as soon as its use site is).
    pub fn def(&self, name: &TypeName) -> Option<&TypeDef> {
        self.slots.values().flatten().find(|def| def.name() == name)
    }

    /// The generated types, in a stable order, with cycles broken (`recursion`), the problems
    /// found, and the examples met.
    pub fn finish(mut self) -> (Vec<TypeDef>, Problems, Vec<Example>) {
        let pointers: HashMap<TypeName, String> = self
            .names_by_pointer
            .iter()
            .map(|(pointer, name)| (name.clone(), pointer.clone()))
            .collect();
        let mut defs: Vec<TypeDef> = self.slots.into_values().flatten().collect();
        super::recursion::box_cycles(&mut defs);
        for name in super::recursion::alias_cycles(&defs) {
            let at = pointers.get(&name).cloned().unwrap_or_default();
            self.problems.push(
                at,
                format!(
                    "`{name}` contains itself only through aliases and arrays (a schema that is \
                     an array of itself, say): describe it as an object with a property instead"
                ),
            );
        }
        (defs, self.problems, self.examples)
    }

    fn fill(&mut self, pointer: &str, def: TypeDef) {
        self.slots.insert(pointer.to_string(), Some(def));
    }

    /// The name for the type defined at `pointer`, choosing one from `hint` the first time.
    fn name_for(&mut self, pointer: &str, hint: &str) -> (TypeName, bool) {
        if let Some(name) = self.names_by_pointer.get(pointer) {
            let defined = matches!(self.slots.get(pointer), Some(Some(_)))
                || self.in_progress.contains(pointer);
            return (name.clone(), defined);
        }
        let name = TypeName::new(self.names.take(&pascal(hint)));
        self.names_by_pointer
            .insert(pointer.to_string(), name.clone());
        self.slots.insert(pointer.to_string(), None);
        (name, false)
    }

    fn define_named(&mut self, schema: &'a Schema, pointer: &str, name: &TypeName) {
        let doc = schema.schema_data.description.clone();
        match shape(schema) {
            Shape::Object { props, .. } if !props.is_empty() => {
                self.define_struct(schema, pointer, name.as_str());
            }
            Shape::AllOf { parts, props } if props.is_some() || !is_single_ref(parts) => {
                self.define_struct(schema, pointer, name.as_str());
            }
            Shape::Str { values, .. } if !values.is_empty() => {
                self.define_enum(pointer, name.as_str(), &values, doc);
            }
            Shape::OneOf(_) => {
                self.define_union(schema, pointer, name.as_str());
            }
            _ => {
                self.in_progress.insert(pointer.to_string());
                let (ty, _) = self.ty_of_item(schema, pointer, &format!("{name}Value"));
                self.in_progress.remove(pointer);
                self.fill(
                    pointer,
                    TypeDef::Alias {
                        name: name.clone(),
                        doc,
                        ty,
                    },
                );
            }
        }
        let ty = Ty::Named(name.clone());
        self.record_schema_examples(schema, pointer, &ty, schema.schema_data.nullable);
    }

    /// The type of a schema used at `pointer`, and whether it is nullable there.
    pub fn ty(&mut self, s: SRef<'a>, pointer: &str, hint: &str) -> (Ty, bool) {
        match s {
            SRef::Ref(reference) => match self.resolve(reference, pointer) {
                Some((component_pointer, schema)) => {
                    let name = self.names_by_pointer[&component_pointer].clone();
                    (Ty::Named(name), nullable(SRef::from(schema)))
                }
                None => (Ty::Value, false),
            },
            SRef::Item(schema) => self.ty_of_item(schema, pointer, hint),
        }
    }

    fn ty_of_item(&mut self, schema: &'a Schema, pointer: &str, hint: &str) -> (Ty, bool) {
        let mut is_nullable = schema.schema_data.nullable;
        let ty = match shape(schema) {
            Shape::Str { values, .. } if !values.is_empty() => Ty::Named(self.define_enum(
                pointer,
                hint,
                &values,
                schema.schema_data.description.clone(),
            )),
            Shape::Str {
                format: Some("date-time"),
                ..
            } => Ty::DateTime,
            Shape::Str {
                format: Some("binary"),
                ..
            } => Ty::Binary,
            Shape::Str {
                format: Some("password"),
                ..
            } => Ty::Secret,
            Shape::Str { .. } => Ty::String,
            Shape::Int {
                format: Some("int32"),
            } => Ty::I32,
            Shape::Int { .. } => Ty::I64,
            Shape::Num => Ty::F64,
            Shape::Bool => Ty::Bool,
            Shape::Array(items) => match items {
                Some(items) => {
                    let (item, _) = self.ty(
                        SRef::from(items),
                        &format!("{pointer}/items"),
                        &format!("{hint}Item"),
                    );
                    Ty::Vec(Box::new(item))
                }
                None => Ty::Vec(Box::new(Ty::Value)),
            },
            Shape::Object {
                props,
                free_form: true,
                ..
            } if props.is_empty() => Ty::Map,
            Shape::Object { .. } => Ty::Named(self.define_struct(schema, pointer, hint)),
            Shape::AllOf { parts, props } => {
                let structural: Vec<(usize, &ReferenceOr<Schema>)> = parts
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| !is_trivial(SRef::from(*p)))
                    .collect();
                is_nullable |= parts.iter().any(|p| nullable(SRef::from(p)));
                match (structural.as_slice(), props) {
                    ([], None) => Ty::Value,
                    ([(i, only)], None) => {
                        let (ty, inner_nullable) =
                            self.ty(SRef::from(*only), &format!("{pointer}/allOf/{i}"), hint);
                        is_nullable |= inner_nullable;
                        ty
                    }
                    _ => Ty::Named(self.define_struct(schema, pointer, hint)),
                }
            }
            Shape::OneOf(_) => Ty::Named(self.define_union(schema, pointer, hint)),
            Shape::Free => Ty::Value,
            Shape::Not => {
                self.problems.push(
                    pointer,
                    "`not` schemas are not supported: describe the accepted shape instead",
                );
                Ty::Value
            }
        };
        self.record_schema_examples(schema, pointer, &ty, is_nullable);
        (ty, is_nullable)
    }

    /// Resolves `#/components/schemas/X` (following component aliases); reports a dangling or
    /// unsupported reference at `pointer`.
    fn resolve(
        &mut self,
        reference: &str,
        pointer: &str,
    ) -> Option<(String, &'a ReferenceOr<Schema>)> {
        let at = format!("{pointer}/$ref");
        let Some(name) = reference.strip_prefix("#/components/schemas/") else {
            self.problems.push(
                at,
                format!("unsupported $ref `{reference}`: only references to #/components/schemas/... are supported here"),
            );
            return None;
        };
        let name = name.replace("~1", "/").replace("~0", "~");
        match self.components.and_then(|c| c.get(&name)) {
            Some(schema) => Some((join("/components/schemas", &name), schema)),
            None => {
                self.problems.push(
                    at,
                    format!(
                        "dangling $ref `{reference}`: there is no schema `{name}` in components"
                    ),
                );
                None
            }
        }
    }
}
