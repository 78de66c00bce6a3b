//! The intermediate representation: what the emitters need, with every `$ref` resolved, `allOf`
//! flattened and names chosen. Built by `lower`, read by `emit`.

pub use crate::names::{RustIdent, TypeName};
pub use crate::template::{PathTemplate, Segment};

/// A Rust type as used in a field, parameter or body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    String,
    I32,
    I64,
    F64,
    Bool,
    DateTime,
    /// Any JSON value.
    Value,
    /// A free-form JSON object.
    Map,
    Vec(Box<Ty>),
    /// A generated type, by its Rust name.
    Named(TypeName),
    /// Binary content (`format: binary`): a streamed body or file part.
    Binary,
    /// A credential (`format: password`): a string kept out of `Debug` and `Display`.
    Secret,
    /// `Box<ty>`: a field or variant that closes a cycle of types holding each other by value,
    /// so that every type has a finite size (set by `lower::recursion`).
    Boxed(Box<Ty>),
}

#[derive(Debug, Clone)]
pub struct Field {
    /// The name in JSON.
    pub json: String,
    /// The Rust field name (`type` is emitted as `r#type`).
    pub rust: RustIdent,
    pub ty: Ty,
    /// `Option<ty>`: not required, or nullable.
    pub optional: bool,
    /// Absent from the output when `None` (not required).
    pub skip_none: bool,
    pub doc: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TaggedVariant {
    pub name: TypeName,
    /// Discriminator values that select this variant.
    pub tags: Vec<String>,
    pub ty: TypeName,
    /// Held as `Box<ty>` (see [`Ty::Boxed`]).
    pub boxed: bool,
}

#[derive(Debug, Clone)]
pub enum TypeDef {
    Struct {
        name: TypeName,
        doc: Option<String>,
        fields: Vec<Field>,
    },
    /// An open string enum: the values, with their variant names.
    Enum {
        name: TypeName,
        doc: Option<String>,
        values: Vec<(String, TypeName)>,
    },
    /// `oneOf` with a discriminator property.
    Tagged {
        name: TypeName,
        doc: Option<String>,
        property: String,
        variants: Vec<TaggedVariant>,
    },
    /// `oneOf`/`anyOf` without a discriminator: tried in order.
    Untagged {
        name: TypeName,
        doc: Option<String>,
        variants: Vec<(TypeName, Ty)>,
    },
    Alias {
        name: TypeName,
        doc: Option<String>,
        ty: Ty,
    },
}

impl TypeDef {
    pub fn name(&self) -> &TypeName {
        match self {
            TypeDef::Struct { name, .. }
            | TypeDef::Enum { name, .. }
            | TypeDef::Tagged { name, .. }
            | TypeDef::Untagged { name, .. }
            | TypeDef::Alias { name, .. } => name,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamIn {
    Path,
    Query,
    Header,
}

#[derive(Debug, Clone)]
pub struct Param {
    /// The name on the wire.
    pub wire: String,
    pub rust: RustIdent,
    pub location: ParamIn,
    pub ty: Ty,
    pub required: bool,
    /// How the value becomes text on the wire.
    pub style: ParamStyle,
    /// The type the text is made from, aliases followed: the scalar itself, or an array's item
    /// (so that an alias of a date-time is still sent as RFC 3339). `ty` itself for `Json`.
    pub text_ty: Ty,
    pub doc: Option<String>,
}

/// How a parameter's value becomes text on the wire, chosen by `lower` from its type and the
/// spec's `style`/`explode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamStyle {
    /// A scalar: its text (RFC 3339 for a date-time).
    Scalar,
    /// An array of scalars joined with `,` (query `explode: false`, path and header arrays).
    Csv,
    /// An array of scalars as one `name=value` pair per item (query, `explode: true`).
    Repeat,
    /// Any other value (an object, an array of objects) as one JSON text, percent-encoded like
    /// any query value. OpenAPI defines no encoding for an array of objects; JSON is what Box
    /// reads. The one such parameter in Box's description is `mdfilters` on `GET /search`, and
    /// Box's guide (https://developer.box.com/guides/search/metadata-filters) sends it as the
    /// whole array in JSON: `mdfilters=[{"scope":"enterprise","templateKey":"contract",
    /// "filters":{"category":"online"}}]`, URL-encoded, one parameter (not one per item).
    Json,
}

#[derive(Debug, Clone)]
pub struct MultipartPart {
    pub wire: String,
    pub rust: RustIdent,
    pub ty: Ty,
    pub required: bool,
    pub doc: Option<String>,
}

#[derive(Debug, Clone)]
pub enum RequestBody {
    Json {
        ty: Ty,
    },
    OctetStream,
    /// Non-binary parts come first (JSON text), binary parts last.
    Multipart {
        parts: Vec<MultipartPart>,
    },
    /// `application/x-www-form-urlencoded`: a struct whose fields are all scalars.
    Form {
        ty: Ty,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuccessBody {
    None,
    Json(Ty),
    Bytes,
}

#[derive(Debug, Clone)]
pub struct ResponseHeader {
    pub wire: String,
    pub rust: RustIdent,
    pub ty: Ty,
    pub doc: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Success {
    /// The documented status; `Range(2)` for a `2XX` key, which covers the 2xx statuses not
    /// listed beside it.
    pub status: StatusMatch,
    pub variant: TypeName,
    pub body: SuccessBody,
    pub headers: Vec<ResponseHeader>,
    pub doc: Option<String>,
}

/// Which statuses a response entry covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    Code(u16),
    /// `4XX`: the hundreds digit.
    Range(u16),
}

impl std::fmt::Display for StatusMatch {
    /// As the spec writes it: `201`, `2XX`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusMatch::Code(c) => write!(f, "{c}"),
            StatusMatch::Range(r) => write!(f, "{r}XX"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ErrorCode {
    pub code: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ErrorStatus {
    pub status: StatusMatch,
    /// The payload type of `ApiError<T>`.
    pub payload: Ty,
    pub name: Option<TypeName>,
    pub codes: Vec<ErrorCode>,
    pub doc: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Operation {
    /// snake_case method name.
    pub name: RustIdent,
    /// PascalCase prefix for the operation's types.
    pub type_name: TypeName,
    pub method: String,
    /// Parsed once by `lower`, which checks it against the path parameters.
    pub path: PathTemplate,
    pub server_key: String,
    pub server_default: String,
    pub absolute_url: bool,
    pub doc: Option<String>,
    pub params: Vec<Param>,
    pub body: Option<RequestBody>,
    /// Whether the request carries the client's credentials: false when the spec says
    /// `security: []` (a token endpoint, say).
    pub credentials: bool,
    pub successes: Vec<Success>,
    pub errors: Vec<ErrorStatus>,
    /// The `default` response's payload, if declared.
    pub default_error: Option<Ty>,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub key: String,
    pub default_url: String,
}

/// An `example` from the spec and the type it must decode into.
#[derive(Debug, Clone)]
pub struct Example {
    /// Where the example is (`/components/schemas/File/example`).
    pub pointer: String,
    pub ty: Ty,
    /// The schema is nullable there: the example may be `null`.
    pub nullable: bool,
    pub value: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct Api {
    pub title: String,
    pub types: Vec<TypeDef>,
    pub operations: Vec<Operation>,
    pub servers: Vec<Server>,
    /// Every schema and media-type example, in the order met.
    pub examples: Vec<Example>,
}
