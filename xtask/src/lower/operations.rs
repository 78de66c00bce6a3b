//! Paths and operations -> `ir::Operation`s: names, servers, parameters, bodies, responses.

use std::collections::HashMap;

use indexmap::IndexMap;
use openapiv3::{
    OpenAPI, Operation as OaOperation, Parameter, ParameterSchemaOrContent, PathItem, QueryStyle,
    ReferenceOr, Response, StatusCode,
};

use super::scalar;
use super::types::{SRef, TypeLower};
use crate::diag::{join, Problems};
use crate::ir::{
    ErrorCode, ErrorStatus, MultipartPart, Operation, Param, ParamIn, ParamStyle, PathTemplate,
    RequestBody, ResponseHeader, RustIdent, Server, StatusMatch, Success, SuccessBody, Ty,
    TypeName,
};
use crate::names::{pascal, snake, Unique};

struct Ctx<'a, 't> {
    api: &'a OpenAPI,
    types: &'t mut TypeLower<'a>,
    problems: Problems,
    servers: IndexMap<String, Server>,
    server_keys: Unique,
}

pub fn lower_operations<'a>(
    api: &'a OpenAPI,
    types: &mut TypeLower<'a>,
) -> (Vec<Operation>, Vec<Server>, Problems) {
    let mut ctx = Ctx {
        api,
        types,
        problems: Problems::default(),
        servers: IndexMap::new(),
        server_keys: Unique::default(),
    };
    // The document's first server is the default; register it first so it keeps its key.
    if let Some(first) = api.servers.first() {
        ctx.server(first, "/servers/0", true);
    }
    let mut operations = Vec::new();
    let mut seen: HashMap<RustIdent, String> = HashMap::new();
    for (path, item) in api.paths.paths.iter() {
        let path_pointer = join("/paths", path);
        let item = match item {
            ReferenceOr::Item(item) => item,
            // `path_refs` replaced every reference (or reported it and dropped its path).
            ReferenceOr::Reference { .. } => continue,
        };
        for (method, op) in methods(item) {
            let pointer = format!("{path_pointer}/{method}");
            let lowered = ctx.operation(path, item, method, op, &pointer);
            if let Some(first) = seen.get(&lowered.name) {
                let field = if op.extensions.contains_key("x-rust-name") {
                    "x-rust-name"
                } else {
                    "operationId"
                };
                ctx.problems.push(
                    format!("{pointer}/{field}"),
                    format!(
                        "duplicate operation name `{}`: {first} already uses it",
                        lowered.name
                    ),
                );
                continue;
            }
            seen.insert(lowered.name.clone(), pointer);
            operations.push(lowered);
        }
    }
    let servers = ctx.servers.into_values().collect();
    (operations, servers, ctx.problems)
}

fn methods(item: &PathItem) -> Vec<(&'static str, &OaOperation)> {
    [
        ("get", &item.get),
        ("put", &item.put),
        ("post", &item.post),
        ("delete", &item.delete),
        ("options", &item.options),
        ("head", &item.head),
        ("patch", &item.patch),
        ("trace", &item.trace),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_ref().map(|op| (m, op)))
    .collect()
}

fn ext_str<'e>(extensions: &'e IndexMap<String, serde_json::Value>, key: &str) -> Option<&'e str> {
    extensions.get(key).and_then(|v| v.as_str())
}

/// Box-style reason phrases used to name status variants.
pub fn status_name(status: u16) -> String {
    match status {
        200 => "Ok",
        201 => "Created",
        202 => "Accepted",
        203 => "NonAuthoritative",
        204 => "NoContent",
        206 => "PartialContent",
        304 => "NotModified",
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        408 => "RequestTimeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "LengthRequired",
        412 => "PreconditionFailed",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        416 => "RangeNotSatisfiable",
        422 => "UnprocessableEntity",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        501 => "NotImplemented",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        other => return format!("Status{other}"),
    }
    .to_string()
}

enum Media {
    Json,
    OctetStream,
    Multipart,
    Form,
}

fn media_kind(media: &str) -> Option<Media> {
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
    fn server(
        &mut self,
        server: &openapiv3::Server,
        pointer: &str,
        document_default: bool,
    ) -> (String, String) {
        let mut url = server.url.clone();
        let mut missing = Vec::new();
        let mut rest = server.url.as_str();
        while let Some(start) = rest.find('{') {
            let Some(end) = rest[start..].find('}') else {
                break;
            };
            let var = &rest[start + 1..start + end];
            match server.variables.as_ref().and_then(|v| v.get(var)) {
                Some(v) => url = url.replace(&format!("{{{var}}}"), &v.default),
                None => missing.push(var.to_string()),
            }
            rest = &rest[start + end + 1..];
        }
        for var in missing {
            self.problems.push(
                pointer,
                format!("server URL uses variable `{var}` that `variables` does not define"),
            );
        }
        while url.ends_with('/') {
            url.pop();
        }
        if let Some(existing) = self.servers.get(&server.url) {
            return (existing.key.clone(), existing.default_url.clone());
        }
        let key = match ext_str(&server.extensions, "x-rust-name") {
            Some(name) => self.server_keys.take(&snake(name)),
            None if document_default => self.server_keys.take("default"),
            None => {
                let n = self.servers.len();
                self.server_keys.take(&format!("server_{n}"))
            }
        };
        self.servers.insert(
            server.url.clone(),
            Server {
                key: key.clone(),
                default_url: url.clone(),
            },
        );
        (key, url)
    }

    /// Lowers one operation. Its problems go to `self.problems`; the operation is returned even
    /// then, so that the caller can check its name against the others.
    fn operation(
        &mut self,
        path: &str,
        item: &'a PathItem,
        method: &str,
        op: &'a OaOperation,
        pointer: &str,
    ) -> Operation {
        let name = match ext_str(&op.extensions, "x-rust-name").or(op.operation_id.as_deref()) {
            Some(name) if !name.trim().is_empty() => RustIdent::new(snake(name)),
            _ => {
                self.problems.push(
                    pointer,
                    format!(
                        "operation {} {path} has no name: add `x-rust-name` (or `operationId`)",
                        method.to_uppercase()
                    ),
                );
                // Keep going so that the rest of this operation is checked too.
                RustIdent::new(format!("unnamed_{}_{}", method, snake(path)))
            }
        };
        let type_name = TypeName::new(pascal(name.as_str()));
        let (server_key, server_default) = if let Some(s) = op.servers.first() {
            self.server(s, &format!("{pointer}/servers/0"), false)
        } else if let Some(s) = item.servers.first() {
            let path_pointer = pointer.rsplit_once('/').map(|(p, _)| p).unwrap_or(pointer);
            self.server(s, &format!("{path_pointer}/servers/0"), false)
        } else if let Some(s) = self.api.servers.first() {
            self.server(s, "/servers/0", true)
        } else {
            ("default".to_string(), String::new())
        };
        // `security: []` (or only empty requirements) means "no credentials"; no `security`
        // anywhere means the client's credentials, if it has any, are sent.
        let credentials = !op
            .security
            .as_ref()
            .or(self.api.security.as_ref())
            .is_some_and(|requirements| requirements.iter().all(|r| r.is_empty()));
        let absolute_url = op
            .extensions
            .get("x-accepts-absolute-url")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let doc = match (&op.summary, &op.description) {
            (Some(s), Some(d)) => Some(format!("{s}\n\n{d}")),
            (Some(s), None) => Some(s.clone()),
            (None, d) => d.clone(),
        };

        let mut field_names = Unique::default();
        for reserved in ["endpoint", "body"] {
            field_names.reserve(reserved);
        }
        let params = self.params(item, op, pointer, &type_name, &mut field_names);
        let template = match PathTemplate::parse(path) {
            Ok(template) => {
                self.check_path_template(&template, &params, pointer);
                template
            }
            Err(e) => {
                self.problems.push(pointer, format!("path `{path}` {e}"));
                // Never emitted (the IR is dropped when there are problems): the rest of the
                // operation is still checked.
                PathTemplate::default()
            }
        };
        let body = op.request_body.as_ref().and_then(|b| {
            self.body(
                b,
                &format!("{pointer}/requestBody"),
                &type_name,
                &mut field_names,
            )
        });
        let (successes, errors, default_error) =
            self.responses(op, &format!("{pointer}/responses"), &type_name);
        Operation {
            name,
            type_name,
            method: method.to_uppercase(),
            path: template,
            server_key,
            server_default,
            absolute_url,
            doc,
            params,
            body,
            credentials,
            successes,
            errors,
            default_error,
        }
    }

    /// Every `{name}` in the path needs a path parameter, and every path parameter a `{name}`.
    fn check_path_template(&mut self, path: &PathTemplate, params: &[Param], pointer: &str) {
        let in_template: Vec<&str> = path.params().collect();
        for name in &in_template {
            if !params
                .iter()
                .any(|p| p.location == ParamIn::Path && p.wire == *name)
            {
                self.problems.push(
                    pointer,
                    format!("path `{path}` uses `{{{name}}}` but no path parameter declares it"),
                );
            }
        }
        for p in params.iter().filter(|p| p.location == ParamIn::Path) {
            if !in_template.contains(&p.wire.as_str()) {
                self.problems.push(
                    pointer,
                    format!(
                        "path parameter `{}` does not appear in the path `{path}`",
                        p.wire
                    ),
                );
            }
        }
    }

    fn params(
        &mut self,
        item: &'a PathItem,
        op: &'a OaOperation,
        pointer: &str,
        type_name: &TypeName,
        names: &mut Unique,
    ) -> Vec<Param> {
        let path_pointer = pointer
            .rsplit_once('/')
            .map(|(p, _)| p.to_string())
            .unwrap_or_default();
        let mut by_key: IndexMap<(String, &'static str), Param> = IndexMap::new();
        let lists = [
            (&item.parameters, format!("{path_pointer}/parameters")),
            (&op.parameters, format!("{pointer}/parameters")),
        ];
        for (list, list_pointer) in lists {
            for (i, param) in list.iter().enumerate() {
                let at = format!("{list_pointer}/{i}");
                let Some((param, at)) = self.resolve_param(param, &at) else {
                    continue;
                };
                let (location, query_style) = match param {
                    Parameter::Path { .. } => (ParamIn::Path, None),
                    Parameter::Query { style, .. } => (ParamIn::Query, Some(style)),
                    Parameter::Header { .. } => (ParamIn::Header, None),
                    Parameter::Cookie { .. } => {
                        self.problems
                            .push(&at, "cookie parameters are not supported");
                        continue;
                    }
                };
                let data = param.parameter_data_ref();
                let ty = match &data.format {
                    ParameterSchemaOrContent::Schema(schema) => {
                        let hint = format!("{type_name}{}", pascal(&data.name));
                        let (ty, _) =
                            self.types
                                .ty(SRef::from(schema), &format!("{at}/schema"), &hint);
                        ty
                    }
                    ParameterSchemaOrContent::Content(_) => {
                        self.problems.push(
                            &at,
                            "parameters described by `content` are not supported; use `schema`",
                        );
                        continue;
                    }
                };
                let kind = match location {
                    ParamIn::Path => "path",
                    ParamIn::Query => "query",
                    ParamIn::Header => "header",
                };
                // A parameter's example is its value, not its wire text: an array is an array.
                if let Some(value) = &data.example {
                    self.types
                        .record_example(format!("{at}/example"), &ty, !data.required, value);
                }
                let explode = data.explode.unwrap_or(location == ParamIn::Query);
                let Some((style, text_ty)) =
                    self.param_style(&ty, location, query_style, explode, &at)
                else {
                    continue;
                };
                let key = (data.name.to_ascii_lowercase(), kind);
                let rust = match by_key.get(&key) {
                    Some(existing) => existing.rust.clone(),
                    None => RustIdent::new(names.take(&snake(&data.name))),
                };
                let wire = if location == ParamIn::Header {
                    data.name.to_ascii_lowercase()
                } else {
                    data.name.clone()
                };
                by_key.insert(
                    key,
                    Param {
                        wire,
                        rust,
                        location,
                        ty,
                        required: data.required || location == ParamIn::Path,
                        style,
                        text_ty,
                        doc: data.description.clone(),
                    },
                );
            }
        }
        by_key.into_values().collect()
    }

    /// How a parameter of type `ty` is written, with the type its text comes from (see
    /// [`Param::text_ty`]), or `None` (with the problem reported at `at`) when the generator has
    /// no encoding for it.
    fn param_style(
        &mut self,
        ty: &Ty,
        location: ParamIn,
        query_style: Option<&QueryStyle>,
        explode: bool,
        at: &str,
    ) -> Option<(ParamStyle, Ty)> {
        let unsupported = match query_style {
            Some(QueryStyle::SpaceDelimited) => Some("spaceDelimited"),
            Some(QueryStyle::PipeDelimited) => Some("pipeDelimited"),
            Some(QueryStyle::DeepObject) => Some("deepObject"),
            Some(QueryStyle::Form) | None => None,
        };
        if let Some(style) = unsupported {
            self.problems.push(
                at,
                format!(
                    "query parameter style `{style}` is not supported: use `form` (the default)"
                ),
            );
            return None;
        }
        let resolved = scalar::resolve(self.types, ty);
        let item = match &resolved {
            Some(Ty::Vec(item)) => scalar::resolve(self.types, item),
            _ => None,
        };
        let shape = match (resolved, item) {
            (Some(Ty::Binary) | None, _) => None,
            (Some(t), _) if scalar::is_scalar(self.types, &t) => Some((ParamStyle::Scalar, t)),
            (Some(Ty::Vec(_)), Some(item)) if scalar::is_scalar(self.types, &item) => {
                let style = if explode && location == ParamIn::Query {
                    ParamStyle::Repeat
                } else {
                    ParamStyle::Csv
                };
                Some((style, item))
            }
            (Some(other), _) => Some((ParamStyle::Json, other)),
        };
        match (shape, location) {
            (Some((ParamStyle::Json, t)), ParamIn::Query) => Some((ParamStyle::Json, t)),
            (Some((style @ (ParamStyle::Scalar | ParamStyle::Csv | ParamStyle::Repeat), t)), _) => {
                Some((style, t))
            }
            _ => {
                self.problems.push(
                    at,
                    "this parameter's schema has no supported encoding: path and header parameters \
                     must be scalars or arrays of scalars, query parameters must not be binary",
                );
                None
            }
        }
    }

    fn resolve_param(
        &mut self,
        param: &'a ReferenceOr<Parameter>,
        at: &str,
    ) -> Option<(&'a Parameter, String)> {
        match param {
            ReferenceOr::Item(p) => Some((p, at.to_string())),
            ReferenceOr::Reference { reference } => {
                let found = reference
                    .strip_prefix("#/components/parameters/")
                    .and_then(|name| {
                        self.api
                            .components
                            .as_ref()?
                            .parameters
                            .get(name)
                            .map(|p| (name, p))
                    });
                match found {
                    Some((name, ReferenceOr::Item(p))) => {
                        Some((p, join("/components/parameters", name)))
                    }
                    Some((_, ReferenceOr::Reference { .. })) => {
                        self.problems.push(
                            format!("{at}/$ref"),
                            "a parameter $ref must point at a parameter, not at another $ref",
                        );
                        None
                    }
                    None => {
                        self.problems.push(
                            format!("{at}/$ref"),
                            format!("dangling $ref `{reference}`: there is no such parameter in components"),
                        );
                        None
                    }
                }
            }
        }
    }

    fn body(
        &mut self,
        body: &'a ReferenceOr<openapiv3::RequestBody>,
        pointer: &str,
        type_name: &TypeName,
        names: &mut Unique,
    ) -> Option<RequestBody> {
        let (body, pointer) = match body {
            ReferenceOr::Item(b) => (b, pointer.to_string()),
            ReferenceOr::Reference { reference } => {
                let found = reference
                    .strip_prefix("#/components/requestBodies/")
                    .and_then(|name| {
                        self.api
                            .components
                            .as_ref()?
                            .request_bodies
                            .get(name)
                            .map(|b| (name, b))
                    });
                match found {
                    Some((name, ReferenceOr::Item(b))) => {
                        (b, join("/components/requestBodies", name))
                    }
                    _ => {
                        self.problems.push(
                            format!("{pointer}/$ref"),
                            format!("dangling $ref `{reference}`: there is no such request body in components"),
                        );
                        return None;
                    }
                }
            }
        };
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
                super::form::check(self.types, &ty, &schema_at, &mut self.problems);
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
                let name = reference.strip_prefix("#/components/schemas/");
                match name
                    .and_then(|n| self.api.components.as_ref()?.schemas.get(n).map(|s| (n, s)))
                {
                    Some((n, ReferenceOr::Item(s))) => (s, join("/components/schemas", n)),
                    _ => {
                        self.problems.push(
                            format!("{pointer}/$ref"),
                            format!("dangling $ref `{reference}`"),
                        );
                        return None;
                    }
                }
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
    fn media_examples(
        &mut self,
        content: &openapiv3::MediaType,
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
            let (example, value_at) = match example {
                ReferenceOr::Item(e) => (e, format!("{example_at}/value")),
                ReferenceOr::Reference { reference } => {
                    let found = reference
                        .strip_prefix("#/components/examples/")
                        .and_then(|n| Some((n, self.api.components.as_ref()?.examples.get(n)?)));
                    match found {
                        Some((n, ReferenceOr::Item(e))) => {
                            (e, format!("{}/value", join("/components/examples", n)))
                        }
                        _ => {
                            self.problems.push(
                                format!("{example_at}/$ref"),
                                format!("dangling $ref `{reference}`: there is no such example in components"),
                            );
                            continue;
                        }
                    }
                }
            };
            // An example given by `externalValue` lives elsewhere: there is nothing to check here.
            if let Some(value) = &example.value {
                self.types.record_example(value_at, ty, nullable, value);
            }
        }
    }

    fn resolve_response(
        &mut self,
        r: &'a ReferenceOr<Response>,
        at: &str,
    ) -> Option<(&'a Response, String)> {
        match r {
            ReferenceOr::Item(resp) => Some((resp, at.to_string())),
            ReferenceOr::Reference { reference } => {
                let found = reference
                    .strip_prefix("#/components/responses/")
                    .and_then(|name| {
                        self.api
                            .components
                            .as_ref()?
                            .responses
                            .get(name)
                            .map(|r| (name, r))
                    });
                match found {
                    Some((name, ReferenceOr::Item(resp))) => {
                        Some((resp, join("/components/responses", name)))
                    }
                    _ => {
                        self.problems.push(
                            format!("{at}/$ref"),
                            format!("dangling $ref `{reference}`: there is no such response in components"),
                        );
                        None
                    }
                }
            }
        }
    }

    /// The JSON schema type of a response, if it has a JSON body (the first media type decides).
    fn response_body(&mut self, resp: &'a Response, at: &str, hint: &str) -> SuccessBody {
        let Some((media, content)) = resp.content.first() else {
            return SuccessBody::None;
        };
        if !matches!(media_kind(media), Some(Media::Json)) {
            return SuccessBody::Bytes;
        }
        match &content.schema {
            Some(schema) => {
                let media_at = join(&format!("{at}/content"), media);
                let (ty, nullable) =
                    self.types
                        .ty(SRef::from(schema), &format!("{media_at}/schema"), hint);
                self.media_examples(content, &media_at, &ty, nullable);
                SuccessBody::Json(ty)
            }
            None => SuccessBody::Json(Ty::Value),
        }
    }

    #[allow(clippy::type_complexity)]
    fn responses(
        &mut self,
        op: &'a OaOperation,
        pointer: &str,
        type_name: &TypeName,
    ) -> (Vec<Success>, Vec<ErrorStatus>, Option<Ty>) {
        let mut successes = Vec::new();
        let mut errors = Vec::new();
        let mut success_names = Unique::default();
        // Successes documented, a `2XX` range included: with more than one, each gets a type
        // named after its variant.
        let two_xx = op
            .responses
            .responses
            .keys()
            .filter(|s| match s {
                StatusCode::Code(c) => (200..300).contains(c),
                StatusCode::Range(r) => *r == 2,
            })
            .count();
        for (status, response) in &op.responses.responses {
            let key = match status {
                StatusCode::Code(c) => c.to_string(),
                StatusCode::Range(r) => format!("{r}XX"),
            };
            let at = join(pointer, &key);
            let Some((resp, resp_at)) = self.resolve_response(response, &at) else {
                continue;
            };
            let rust_name = ext_str(&resp.extensions, "x-rust-name").map(pascal);
            match *status {
                StatusCode::Code(code) if (200..300).contains(&code) => {
                    let variant = TypeName::new(
                        success_names.take(&rust_name.unwrap_or_else(|| status_name(code))),
                    );
                    let hint = if two_xx > 1 {
                        format!("{type_name}{variant}")
                    } else {
                        format!("{type_name}Response")
                    };
                    let body = self.response_body(resp, &resp_at, &hint);
                    let headers = self.response_headers(resp, &resp_at, &hint);
                    successes.push(Success {
                        status: StatusMatch::Code(code),
                        variant,
                        body,
                        headers,
                        doc: Some(resp.description.clone()),
                    });
                }
                // `2XX` covers every 2xx status not listed beside it (all of them when alone).
                StatusCode::Range(2) => {
                    let variant = TypeName::new(
                        success_names.take(&rust_name.unwrap_or_else(|| "Success".to_string())),
                    );
                    let hint = if two_xx > 1 {
                        format!("{type_name}{variant}")
                    } else {
                        format!("{type_name}Response")
                    };
                    let body = self.response_body(resp, &resp_at, &hint);
                    let headers = self.response_headers(resp, &resp_at, &hint);
                    successes.push(Success {
                        status: StatusMatch::Range(2),
                        variant,
                        body,
                        headers,
                        doc: Some(resp.description.clone()),
                    });
                }
                StatusCode::Code(code) if code < 200 => {
                    self.problems.push(&at, "1xx responses are not supported");
                }
                _ => {
                    let status_match = match *status {
                        StatusCode::Code(c) => StatusMatch::Code(c),
                        StatusCode::Range(r) => StatusMatch::Range(r),
                    };
                    let hint = format!("{type_name}Error{key}");
                    let payload = match self.response_body(resp, &resp_at, &hint) {
                        SuccessBody::Json(ty) => ty,
                        _ => Ty::Value,
                    };
                    let codes = self.error_codes(resp, &resp_at);
                    errors.push(ErrorStatus {
                        status: status_match,
                        payload,
                        name: rust_name.map(TypeName::new),
                        codes,
                        doc: Some(resp.description.clone()),
                    });
                }
            }
        }
        let default_error = op.responses.default.as_ref().and_then(|d| {
            let at = format!("{pointer}/default");
            let (resp, resp_at) = self.resolve_response(d, &at)?;
            match self.response_body(resp, &resp_at, &format!("{type_name}DefaultError")) {
                SuccessBody::Json(ty) => Some(ty),
                _ => Some(Ty::Value),
            }
        });
        (successes, errors, default_error)
    }

    fn response_headers(
        &mut self,
        resp: &'a Response,
        at: &str,
        hint: &str,
    ) -> Vec<ResponseHeader> {
        let mut out = Vec::new();
        let mut names = Unique::default();
        for (name, header) in &resp.headers {
            let header_at = join(&format!("{at}/headers"), name);
            let header = match header {
                ReferenceOr::Item(h) => h,
                ReferenceOr::Reference { reference } => {
                    let found = reference
                        .strip_prefix("#/components/headers/")
                        .and_then(|n| self.api.components.as_ref()?.headers.get(n));
                    match found {
                        Some(ReferenceOr::Item(h)) => h,
                        _ => {
                            self.problems.push(
                                format!("{header_at}/$ref"),
                                format!("dangling $ref `{reference}`"),
                            );
                            continue;
                        }
                    }
                }
            };
            let ty = match &header.format {
                ParameterSchemaOrContent::Schema(schema) => {
                    let (ty, _) = self.types.ty(
                        SRef::from(schema),
                        &format!("{header_at}/schema"),
                        &format!("{hint}{}", pascal(name)),
                    );
                    match ty {
                        Ty::I32 | Ty::I64 => Ty::I64,
                        Ty::Bool => Ty::Bool,
                        _ => Ty::String,
                    }
                }
                ParameterSchemaOrContent::Content(_) => Ty::String,
            };
            out.push(ResponseHeader {
                wire: name.to_ascii_lowercase(),
                rust: RustIdent::new(names.take(&snake(name))),
                ty,
                doc: header.description.clone(),
            });
        }
        out
    }

    fn error_codes(&mut self, resp: &Response, at: &str) -> Vec<ErrorCode> {
        let Some(value) = resp.extensions.get("x-error-codes") else {
            return Vec::new();
        };
        let at = format!("{at}/x-error-codes");
        let Some(list) = value.as_array() else {
            self.problems
                .push(&at, "x-error-codes must be a list of {code, description}");
            return Vec::new();
        };
        let mut codes = Vec::new();
        for (i, entry) in list.iter().enumerate() {
            match entry.get("code").and_then(|c| c.as_str()) {
                Some(code) if !code.is_empty() => codes.push(ErrorCode {
                    code: code.to_string(),
                    description: entry
                        .get("description")
                        .and_then(|d| d.as_str())
                        .map(str::to_owned),
                }),
                _ => self.problems.push(
                    format!("{at}/{i}"),
                    "each x-error-codes entry needs a non-empty string `code`",
                ),
            }
        }
        codes
    }
}
