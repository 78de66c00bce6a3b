//! `operations.rs`: per operation a request type, a success type and an async method on `Client`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::answers::{answer_limits, SecretTypes};
use super::{doc, ty_tokens, Scope};
use crate::ir::{
    Operation, Param, ParamIn, ParamStyle, RequestBody, RustIdent, Segment, StatusMatch, Success,
    SuccessBody, Ty, TypeDef,
};

/// `types` are the models, to tell which success answers carry secrets.
pub fn emit(ops: &[Operation], types: &[TypeDef]) -> TokenStream {
    let secret = SecretTypes::new(types);
    let items = ops.iter().map(|op| emit_one(op, &secret));
    quote! {
        //! Operations: request types, success types and the methods that send them.
        // Overlapping arms are meant: documented statuses first, then any other 2xx.
        #![allow(clippy::large_enum_variant, clippy::too_many_arguments, clippy::doc_lazy_continuation, clippy::doc_overindented_list_items, clippy::match_overlapping_arm)]
        use box_uploads_runtime as rt;
        use super::client::Client;
        #(#items)*
    }
}

fn emit_one(op: &Operation, secret: &SecretTypes) -> TokenStream {
    let request = request_type(op, &request_fields(op));
    let (success_ty, success_def) = success_type(op);
    let method = client_method(op, &success_ty, &answer_limits(op, secret));
    quote! {
        #request
        #success_def
        #method
    }
}

// The request type: `{Name}Request`, its `new` and its `with_*` setters.

/// A field of a request type.
struct ReqField {
    rust: RustIdent,
    ty: TokenStream,
    /// The argument type of `new`/`with_*` (`impl Into<String>` for strings).
    arg: TokenStream,
    /// The argument converts with `.into()`.
    into: bool,
    required: bool,
    /// A streamed body or file part: the request cannot be cloned.
    streamed: bool,
    doc: Option<String>,
}

fn field(
    rust: &RustIdent,
    ty: &Ty,
    required: bool,
    doc: Option<String>,
    binary_as: Option<TokenStream>,
) -> ReqField {
    let streamed = *ty == Ty::Binary && binary_as.is_some();
    let (base, arg, into) = match (ty, binary_as) {
        (Ty::Binary, Some(t)) => (t.clone(), quote!(impl Into<#t>), true),
        (Ty::String, _) => (quote!(String), quote!(impl Into<String>), true),
        (Ty::Secret, _) => (quote!(rt::Secret), quote!(impl Into<rt::Secret>), true),
        (other, _) => {
            let t = ty_tokens(other, Scope::Sibling);
            (t.clone(), t, false)
        }
    };
    let ty = if required {
        base
    } else {
        quote!(Option<#base>)
    };
    ReqField {
        rust: rust.clone(),
        ty,
        arg,
        into,
        required,
        streamed,
        doc,
    }
}

/// The request type's fields, in order: parameters, body, endpoint.
fn request_fields(op: &Operation) -> Vec<ReqField> {
    let mut fields: Vec<ReqField> = op
        .params
        .iter()
        .map(|p| field(&p.rust, &p.ty, p.required, p.doc.clone(), None))
        .collect();
    let body = RustIdent::new("body");
    match &op.body {
        Some(RequestBody::Json { ty }) => {
            fields.push(field(&body, ty, true, Some("The JSON body.".into()), None))
        }
        Some(RequestBody::Form { ty }) => fields.push(field(
            &body,
            ty,
            true,
            Some("The form body (`application/x-www-form-urlencoded`).".into()),
            None,
        )),
        Some(RequestBody::OctetStream) => fields.push(field(
            &body,
            &Ty::Binary,
            true,
            Some("The body, streamed.".into()),
            Some(quote!(rt::Body)),
        )),
        Some(RequestBody::Multipart { parts }) => {
            fields.extend(parts.iter().map(|part| {
                field(
                    &part.rust,
                    &part.ty,
                    part.required,
                    part.doc.clone(),
                    Some(quote!(rt::FilePart)),
                )
            }));
        }
        None => {}
    }
    if op.absolute_url {
        fields.push(field(
            &RustIdent::new("endpoint"),
            &Ty::String,
            false,
            Some(
                "The whole URL to call, as returned by the API (it replaces the server and path)."
                    .into(),
            ),
            None,
        ));
    }
    fields
}

fn request_type(op: &Operation, fields: &[ReqField]) -> TokenStream {
    let req_name = op.type_name.suffixed("Request");
    let decls = fields.iter().map(|f| {
        let n = &f.rust;
        let t = &f.ty;
        // Every public item is documented (the generated crate denies missing docs).
        let fallback = format!("The `{}` parameter.", f.rust.as_str());
        let d = doc(f.doc.as_deref().or(Some(&fallback)));
        quote!(#d pub #n: #t,)
    });
    let required: Vec<_> = fields.iter().filter(|f| f.required).collect();
    let new_args = required.iter().map(|f| {
        let n = &f.rust;
        let a = &f.arg;
        quote!(#n: #a)
    });
    let new_inits = fields.iter().map(|f| {
        let n = &f.rust;
        if f.required && f.into {
            quote!(#n: #n.into(),)
        } else if f.required {
            quote!(#n,)
        } else {
            quote!(#n: None,)
        }
    });
    let setters = fields.iter().filter(|f| !f.required).map(setter);
    let default = if required.is_empty() {
        quote!(Default,)
    } else {
        quote!()
    };
    let derives = if fields.iter().any(|f| f.streamed) {
        quote!(#[derive(Debug, #default)])
    } else {
        quote!(#[derive(Debug, Clone, #default)])
    };
    let req_doc = format!(
        " The request of `{}` (`{} {}`).",
        op.name, op.method, op.path
    );
    quote! {
        #[doc = #req_doc]
        #derives
        pub struct #req_name {
            #(#decls)*
        }

        impl #req_name {
            /// A request with the required fields; optional ones are set with `with_*`.
            pub fn new(#(#new_args),*) -> Self {
                Self { #(#new_inits)* }
            }
            #(#setters)*
        }
    }
}

/// `with_name(value)` for an optional field.
fn setter(f: &ReqField) -> TokenStream {
    let n = &f.rust;
    let setter = f.rust.prefixed("with_");
    let a = &f.arg;
    let convert = if f.into {
        quote!(value.into())
    } else {
        quote!(value)
    };
    let d = format!(" Sets `{}`.", f.rust);
    quote! {
        #[doc = #d]
        pub fn #setter(mut self, value: #a) -> Self {
            self.#n = Some(#convert);
            self
        }
    }
}

// The method: URL, query, headers, body, then the answer sorted by status.

fn client_method(
    op: &Operation,
    success_ty: &TokenStream,
    limits: &Option<TokenStream>,
) -> TokenStream {
    let req_name = op.type_name.suffixed("Request");
    let err_name = op.type_name.suffixed("Error");
    let method_name = &op.name;
    let fallback = format!(
        "The `{}` operation ({} request).",
        op.name.as_str(),
        op.method.to_uppercase()
    );
    let method_doc = doc(op.doc.as_deref().or(Some(&fallback)));
    let url = url(op);
    let query = query_params(op);
    let headers = header_params(op);
    let body = request_body(op);
    let answer = match_answer(op, limits);
    let method_const = format_ident!("{}", op.method);
    // The token is attached (and renewed after a 401) when sending, unless the spec says the
    // operation takes no credentials.
    let send = if op.credentials {
        quote!(send)
    } else {
        quote!(send_without_credentials)
    };
    let mutable_builder =
        if op.params.iter().any(|p| p.location == ParamIn::Header) || op.body.is_some() {
            quote!(mut)
        } else {
            quote!()
        };
    // A request without fields is still taken, so that every method has the same shape.
    let request = if request_fields(op).is_empty() {
        quote!(_request)
    } else {
        quote!(request)
    };
    quote! {
        impl Client {
            #method_doc
            pub async fn #method_name(&self, #request: #req_name) -> Result<#success_ty, rt::Error<super::errors::#err_name>> {
                #url
                #(#query)*
                let #mutable_builder builder = self.core.request(rt::reqwest::Method::#method_const, url);
                #(#headers)*
                #body
                let response = self.core.#send::<super::errors::#err_name>(builder).await?;
                #answer
            }
        }
    }
}

/// `let url = ...`: the caller's absolute endpoint, or the server's base URL and the path template.
fn url(op: &Operation) -> TokenStream {
    let mut fmt = String::from("{}");
    let mut path_args = Vec::new();
    for segment in op.path.segments() {
        match segment {
            Segment::Literal(text) => fmt.push_str(&text.replace('{', "{{").replace('}', "}}")),
            Segment::Param(name) => {
                fmt.push_str("{}");
                path_args.push(path_arg(op, name));
            }
        }
    }
    let key = &op.server_key;
    let default = &op.server_default;
    let built_url = quote! {
        rt::support::parse_url(&format!(#fmt, rt::support::base_url(&self.core, #key, #default), #(#path_args),*))?
    };
    // The URL changes after it is built only to add query parameters.
    let url_mut = if op.params.iter().any(|p| p.location == ParamIn::Query) {
        quote!(mut)
    } else {
        quote!()
    };
    if op.absolute_url {
        quote! {
            let #url_mut url = match request.endpoint.as_deref() {
                Some(endpoint) => rt::support::absolute_url(endpoint)?,
                None => #built_url,
            };
        }
    } else {
        quote!(let #url_mut url = #built_url;)
    }
}

/// The encoded value of the path parameter `{name}`.
fn path_arg(op: &Operation, name: &str) -> TokenStream {
    match op
        .params
        .iter()
        .find(|p| p.location == ParamIn::Path && p.wire == name)
    {
        Some(p) => {
            let n = &p.rust;
            let value = param_to_string(p, quote!(request.#n));
            quote!(rt::support::encode_path(#value)?)
        }
        // `lower` reports a template without its parameter, so this is a generator bug: make
        // it loud in the generated crate rather than a wrong URL.
        None => {
            let message = format!("no path parameter `{name}`");
            quote!(compile_error!(#message))
        }
    }
}

fn query_params(op: &Operation) -> Vec<TokenStream> {
    op.params
        .iter()
        .filter(|p| p.location == ParamIn::Query)
        .map(|p| {
            let n = &p.rust;
            let wire = &p.wire;
            let append = |value: TokenStream| -> TokenStream {
                if p.style == ParamStyle::Repeat {
                    let item = scalar_to_string(&p.text_ty, quote!(item));
                    return quote! {
                        for item in #value.iter() {
                            url.query_pairs_mut().append_pair(#wire, #item);
                        }
                    };
                }
                let s = param_to_string(p, value);
                quote!(url.query_pairs_mut().append_pair(#wire, #s);)
            };
            if p.required {
                append(quote!(request.#n))
            } else {
                let inner = append(quote!(value));
                quote!(if let Some(value) = &request.#n { #inner })
            }
        })
        .collect()
}

fn header_params(op: &Operation) -> Vec<TokenStream> {
    op.params
        .iter()
        .filter(|p| p.location == ParamIn::Header)
        .map(|p| {
            let n = &p.rust;
            let wire = &p.wire;
            if p.required {
                let s = param_to_string(p, quote!(request.#n));
                quote!(builder = rt::support::header(builder, #wire, #s)?;)
            } else {
                let s = param_to_string(p, quote!(value));
                quote!(if let Some(value) = &request.#n { builder = rt::support::header(builder, #wire, #s)?; })
            }
        })
        .collect()
}

fn request_body(op: &Operation) -> TokenStream {
    match &op.body {
        None => quote!(),
        Some(RequestBody::Json { .. }) => quote!(builder = builder.json(&request.body);),
        Some(RequestBody::Form { .. }) => {
            quote!(builder = rt::support::form(builder, &request.body)?;)
        }
        Some(RequestBody::OctetStream) => {
            quote!(builder = rt::support::octet_stream(builder, request.body);)
        }
        Some(RequestBody::Multipart { parts }) => {
            let adds = parts.iter().map(|part| {
                let n = &part.rust;
                let wire = &part.wire;
                let add = if part.ty == Ty::Binary {
                    quote!(form = form.file_part(#wire, value)?;)
                } else {
                    quote!(form = form.json_part(#wire, &value)?;)
                };
                if part.required {
                    quote!({ let value = request.#n; #add })
                } else {
                    quote!(if let Some(value) = request.#n { #add })
                }
            });
            quote! {
                let mut form = rt::support::Multipart::new();
                #(#adds)*
                builder = form.apply(builder);
            }
        }
    }
}

/// The `match` on the status. Every 2xx answer is a success, documented or not: the server did
/// what was asked, so the caller must not see an error (and, say, upload again).
///
/// - No documented 2xx: any 2xx is `()`, its body discarded.
/// - One documented 2xx (or a `2XX` key): any 2xx is read as that success.
/// - Several: an arm per documented status, then any other 2xx is read as the
///   [`fallback_success`].
///
/// Anything else is the operation's error enum.
fn match_answer(op: &Operation, limits: &Option<TokenStream>) -> TokenStream {
    let err_name = op.type_name.suffixed("Error");
    let any_2xx = quote!(200..=299);
    let success_arms = match op.successes.as_slice() {
        [] => vec![quote!(#any_2xx => { rt::support::discard_body(response).await?; Ok(()) })],
        [only] => {
            let read = read_success(op, only, limits);
            vec![quote!(#any_2xx => #read)]
        }
        many => {
            // Listed statuses first; the `2XX` range, if documented, is the fallback arm.
            let mut arms: Vec<TokenStream> = many
                .iter()
                .filter(|s| matches!(s.status, StatusMatch::Code(_)))
                .map(|s| {
                    let status = status_pattern(s.status);
                    let read = read_success(op, s, limits);
                    quote!(#status => #read)
                })
                .collect();
            let read = read_success(op, fallback_success(many), limits);
            arms.push(quote!(#any_2xx => #read));
            arms
        }
    };
    let raw = match limits {
        Some(limits) => quote!(rt::support::raw_response_limited(response, #limits)),
        None => quote!(rt::support::raw_response(response)),
    };
    quote! {
        match response.status().as_u16() {
            #(#success_arms)*
            _ => Err(rt::Error::Api(super::errors::#err_name::from_raw(#raw.await?))),
        }
    }
}

/// The documented success an undocumented 2xx is read as, when there are several: the `2XX`
/// range when documented; else the lowest
/// status other than 202 that has a body, else the lowest other than 202, else the lowest.
/// 202 means "accepted, not done yet", which an undocumented status never says; a body is what a
/// caller most needs from a success (the stored file, say), so a body-less answer to it is a
/// decode error rather than a success with nothing in it.
fn fallback_success(many: &[Success]) -> &Success {
    // A documented `2XX` says what any other 2xx is.
    if let Some(range) = many.iter().find(|s| s.status == StatusMatch::Range(2)) {
        return range;
    }
    let lowest = |keep: &dyn Fn(&Success) -> bool| {
        many.iter()
            .filter(|s| keep(s))
            .min_by_key(|s| status_order(s.status))
    };
    let not_202 = |s: &Success| s.status != StatusMatch::Code(202);
    lowest(&|s| not_202(s) && s.body != SuccessBody::None)
        .or_else(|| lowest(&not_202))
        .or_else(|| lowest(&|_| true))
        .expect("several successes")
}

fn status_order(status: StatusMatch) -> u16 {
    match status {
        StatusMatch::Code(c) => c,
        StatusMatch::Range(r) => r * 100,
    }
}

/// The pattern of one documented status: `201`, or `200..=299` for `2XX`.
fn status_pattern(status: StatusMatch) -> TokenStream {
    match status {
        StatusMatch::Code(c) => {
            let c = proc_macro2::Literal::u16_unsuffixed(c);
            quote!(#c)
        }
        StatusMatch::Range(r) => {
            let lo = proc_macro2::Literal::u16_unsuffixed(r * 100);
            let hi = proc_macro2::Literal::u16_unsuffixed(r * 100 + 99);
            quote!(#lo..=#hi)
        }
    }
}

/// The parameter's text on the wire, as a `&str` expression.
fn param_to_string(p: &Param, value: TokenStream) -> TokenStream {
    match p.style {
        ParamStyle::Scalar => scalar_to_string(&p.text_ty, value),
        ParamStyle::Csv | ParamStyle::Repeat => match &p.text_ty {
            // `join_csv` writes each item with `Display`, which is the wire text for these.
            Ty::String | Ty::I32 | Ty::I64 | Ty::F64 | Ty::Bool | Ty::Named(_) => {
                quote!(rt::support::join_csv(#value).as_str())
            }
            Ty::DateTime => quote!(#value
                .iter()
                .map(|item| item.to_rfc3339())
                .collect::<Vec<_>>()
                .join(",")
                .as_str()),
            Ty::Secret => quote!(#value
                .iter()
                .map(|item| item.expose())
                .collect::<Vec<_>>()
                .join(",")
                .as_str()),
            // `lower` gives arrays of scalars only.
            _ => quote!(compile_error!("not an array of scalars")),
        },
        ParamStyle::Json => {
            let wire = format!("parameter {}: ", p.wire);
            quote!(rt::serde_json::to_string(&#value)
                .map_err(|e| rt::Error::InvalidRequest(format!("{}{e}", #wire)))?
                .as_str())
        }
    }
}

/// A scalar's text as a `&str` expression. `lower` checked that `ty` is a scalar (an enum's
/// `Display` is its wire value).
fn scalar_to_string(ty: &Ty, value: TokenStream) -> TokenStream {
    match ty {
        Ty::String => quote!(#value.as_str()),
        // `to_string()` would give the redacted text.
        Ty::Secret => quote!(#value.expose()),
        // `Display` is not RFC 3339 (it separates date and time with a space).
        Ty::DateTime => quote!(#value.to_rfc3339().as_str()),
        _ => quote!(#value.to_string().as_str()),
    }
}

// The success type and how each success answer is read into it.

/// The success type's tokens, and its definition when it is a `{Name}Response` enum.
fn success_type(op: &Operation) -> (TokenStream, TokenStream) {
    let body_ty = |b: &SuccessBody| match b {
        SuccessBody::None => None,
        SuccessBody::Json(t) => Some(ty_tokens(t, Scope::Sibling)),
        SuccessBody::Bytes => Some(quote!(rt::Bytes)),
    };
    match op.successes.as_slice() {
        [] => (quote!(()), quote!()),
        [only] => (body_ty(&only.body).unwrap_or(quote!(())), quote!()),
        many => {
            let name = op.type_name.suffixed("Response");
            let variants = many.iter().map(|s| {
                let v = &s.variant;
                let d = doc(Some(&format!(
                    "HTTP {}: {}",
                    s.status,
                    s.doc.as_deref().unwrap_or("")
                )));
                let body = body_ty(&s.body);
                if s.headers.is_empty() {
                    match body {
                        Some(t) => quote!(#d #v(#t),),
                        None => quote!(#d #v,),
                    }
                } else {
                    let body = body.map(|t| quote!(body: #t,));
                    let headers = s.headers.iter().map(|h| {
                        let n = &h.rust;
                        let t = ty_tokens(&h.ty, Scope::Sibling);
                        let fallback = format!("The `{}` header.", h.wire);
                        let hd = doc(h.doc.as_deref().or(Some(&fallback)));
                        quote!(#hd #n: Option<#t>,)
                    });
                    quote!(#d #v { #body #(#headers)* },)
                }
            });
            let enum_doc = format!(
                " The success answers of `{}`. Any other 2xx answer is read as `{}`.",
                op.name,
                fallback_success(many).variant
            );
            let def = quote! {
                #[doc = #enum_doc]
                #[derive(Debug, Clone, PartialEq)]
                pub enum #name {
                    #(#variants)*
                }
            };
            (quote!(#name), def)
        }
    }
}

/// The block that reads one success answer into the success type (the right side of its arm).
fn read_success(op: &Operation, s: &Success, limits: &Option<TokenStream>) -> TokenStream {
    let read_body = match (&s.body, limits) {
        (SuccessBody::None, _) => quote!(rt::support::discard_body(response).await?;),
        // An empty body is a decode error that names the status that came back.
        (SuccessBody::Json(_), None) => {
            quote!(let body = rt::support::decode_json(response).await?;)
        }
        (SuccessBody::Json(_), Some(limits)) => {
            quote!(let body = rt::support::decode_json_limited(response, #limits).await?;)
        }
        (SuccessBody::Bytes, _) => {
            quote!(let body = response.bytes().await.map_err(|e| rt::Error::Transport(e.into()))?;)
        }
    };
    let has_body = s.body != SuccessBody::None;
    if op.successes.len() == 1 {
        let value = if has_body { quote!(body) } else { quote!(()) };
        return quote!({ #read_body Ok(#value) });
    }
    let enum_name = op.type_name.suffixed("Response");
    let v = &s.variant;
    if s.headers.is_empty() {
        let value = if has_body {
            quote!(#enum_name::#v(body))
        } else {
            quote!(#enum_name::#v)
        };
        return quote!({ #read_body Ok(#value) });
    }
    let header_reads = s.headers.iter().map(|h| {
        let n = &h.rust;
        let wire = &h.wire;
        match h.ty {
            Ty::I64 => quote!(let #n = rt::support::header_i64(&response, #wire);),
            Ty::Bool => quote!(let #n = rt::support::header_string(&response, #wire).and_then(|v| v.trim().parse().ok());),
            _ => quote!(let #n = rt::support::header_string(&response, #wire);),
        }
    });
    let names = s.headers.iter().map(|h| &h.rust);
    let body_field = if has_body { quote!(body,) } else { quote!() };
    quote!({
        #(#header_reads)*
        #read_body
        Ok(#enum_name::#v { #body_field #(#names,)* })
    })
}
