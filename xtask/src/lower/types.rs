//! Schemas -> `TypeDef`s. Inline types are named after the place that defines them and
//! remembered by their JSON pointer, so an `allOf` chain reuses its parents' types instead of
//! copying them.

use std::collections::{BTreeSet, HashMap, HashSet};

use indexmap::IndexMap;
use openapiv3::{
    AdditionalProperties, ReferenceOr, Schema, SchemaKind, StringFormat, Type,
    VariantOrUnknownOrEmpty,
};

use crate::diag::{join, Problems};
use crate::ir::{Example, Field, RustIdent, TaggedVariant, Ty, TypeDef, TypeName};
use crate::names::{pascal, snake, Unique};

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

type Props = IndexMap<String, ReferenceOr<Box<Schema>>>;

/// The parts of a schema the generator cares about, whatever way the document spelled it.
enum Shape<'a> {
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

fn shape(schema: &Schema) -> Shape<'_> {
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
fn is_trivial(s: SRef<'_>) -> bool {
    matches!(s, SRef::Item(schema) if matches!(shape(schema), Shape::Free))
}

/// `allOf` whose only structural member is a `$ref`: an annotated reference, not a new type.
fn is_single_ref(parts: &[ReferenceOr<Schema>]) -> bool {
    let mut structural = parts.iter().filter(|p| !is_trivial(SRef::from(*p)));
    matches!(
        (structural.next(), structural.next()),
        (Some(ReferenceOr::Reference { .. }), None)
    )
}

fn nullable(s: SRef<'_>) -> bool {
    matches!(s, SRef::Item(schema) if schema.schema_data.nullable)
}

#[derive(Default)]
struct FieldAcc {
    fields: IndexMap<String, (Ty, bool, Option<String>)>,
    required: BTreeSet<String>,
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
    fn record_schema_examples(&mut self, schema: &Schema, pointer: &str, ty: &Ty, nullable: bool) {
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

    fn define_struct(&mut self, schema: &'a Schema, pointer: &str, hint: &str) -> TypeName {
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

    fn define_enum(
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

    fn define_union(&mut self, schema: &'a Schema, pointer: &str, hint: &str) -> TypeName {
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
