//! `operations.rs`: per operation a request type, a success type and an async method on `Client`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{doc, ty_tokens, Scope};
use crate::ir::{Operation, Param, ParamIn, RequestBody, Success, SuccessBody, Ty};
use crate::names::ident;

pub fn emit(ops: &[Operation]) -> TokenStream {
    let items = ops.iter().map(emit_one);
    quote! {
        //! Operations: request types, success types and the methods that send them.
        #![allow(clippy::large_enum_variant, clippy::too_many_arguments, clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
        use box_uploads_runtime as rt;
        use super::client::Client;
        #(#items)*
    }
}

/// A field of a request type.
struct ReqField {
    rust: String,
    ty: TokenStream,
    /// The argument type of `new`/`with_*` (`impl Into<String>` for strings).
    arg: TokenStream,
    /// The argument converts with `.into()`.
    into: bool,
    required: bool,
    doc: Option<String>,
}

fn field(
    rust: &str,
    ty: &Ty,
    required: bool,
    doc: Option<String>,
    binary_as: Option<TokenStream>,
) -> ReqField {
    let (base, arg, into) = match (ty, binary_as) {
        (Ty::Binary, Some(t)) => (t.clone(), quote!(impl Into<#t>), true),
        (Ty::String, _) => (quote!(String), quote!(impl Into<String>), true),
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
        rust: rust.to_string(),
        ty,
        arg,
        into,
        required,
        doc,
    }
}

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
            let name = format_ident!("{}Response", op.type_name);
            let variants = many.iter().map(|s| {
                let v = ident(&s.variant);
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
                        let n = ident(&h.rust);
                        let t = ty_tokens(&h.ty, Scope::Sibling);
                        let hd = doc(h.doc.as_deref());
                        quote!(#hd #n: Option<#t>,)
                    });
                    quote!(#d #v { #body #(#headers)* },)
                }
            });
            let enum_doc = format!(" The success answers of `{}`.", op.name);
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

/// Reads one success answer into the success type.
fn success_arm(op: &Operation, s: &Success) -> TokenStream {
    let status = proc_macro2::Literal::u16_unsuffixed(s.status);
    let read_body = match &s.body {
        SuccessBody::None => quote!(rt::support::discard_body(response).await?;),
        SuccessBody::Json(_) => quote!(let body = rt::support::decode_json(response).await?;),
        SuccessBody::Bytes => {
            quote!(let body = response.bytes().await.map_err(|e| rt::Error::Transport(e.into()))?;)
        }
    };
    let has_body = s.body != SuccessBody::None;
    if op.successes.len() == 1 {
        let value = if has_body { quote!(body) } else { quote!(()) };
        return quote!(#status => { #read_body Ok(#value) });
    }
    let enum_name = format_ident!("{}Response", op.type_name);
    let v = ident(&s.variant);
    if s.headers.is_empty() {
        let value = if has_body {
            quote!(#enum_name::#v(body))
        } else {
            quote!(#enum_name::#v)
        };
        return quote!(#status => { #read_body Ok(#value) });
    }
    let header_reads = s.headers.iter().map(|h| {
        let n = ident(&h.rust);
        let wire = &h.wire;
        match h.ty {
            Ty::I64 => quote!(let #n = rt::support::header_i64(&response, #wire);),
            Ty::Bool => quote!(let #n = rt::support::header_string(&response, #wire).and_then(|v| v.trim().parse().ok());),
            _ => quote!(let #n = rt::support::header_string(&response, #wire);),
        }
    });
    let names = s.headers.iter().map(|h| ident(&h.rust));
    let body_field = if has_body { quote!(body,) } else { quote!() };
    quote!(#status => {
        #(#header_reads)*
        #read_body
        Ok(#enum_name::#v { #body_field #(#names,)* })
    })
}

fn param_to_string(p: &Param, value: TokenStream) -> TokenStream {
    match &p.ty {
        Ty::String => quote!(#value.as_str()),
        Ty::Vec(_) => quote!(rt::support::join_csv(#value).as_str()),
        _ => quote!(#value.to_string().as_str()),
    }
}

fn emit_one(op: &Operation) -> TokenStream {
    let req_name = format_ident!("{}Request", op.type_name);
    let err_name = format_ident!("{}Error", op.type_name);
    let method_name = ident(&op.name);
    let method_doc = doc(op.doc.as_deref());

    // The request type's fields, in order: parameters, body, endpoint.
    let mut fields: Vec<ReqField> = op
        .params
        .iter()
        .map(|p| field(&p.rust, &p.ty, p.required, p.doc.clone(), None))
        .collect();
    let mut has_binary = false;
    match &op.body {
        Some(RequestBody::Json { ty }) => {
            fields.push(field("body", ty, true, Some("The JSON body.".into()), None))
        }
        Some(RequestBody::OctetStream) => {
            has_binary = true;
            fields.push(field(
                "body",
                &Ty::Binary,
                true,
                Some("The body, streamed.".into()),
                Some(quote!(rt::Body)),
            ));
        }
        Some(RequestBody::Multipart { parts }) => {
            for part in parts {
                has_binary |= part.ty == Ty::Binary;
                fields.push(field(
                    &part.rust,
                    &part.ty,
                    part.required,
                    part.doc.clone(),
                    Some(quote!(rt::FilePart)),
                ));
            }
        }
        None => {}
    }
    if op.absolute_url {
        fields.push(field(
            "endpoint",
            &Ty::String,
            false,
            Some(
                "The whole URL to call, as returned by the API (it replaces the server and path)."
                    .into(),
            ),
            None,
        ));
    }

    let decls = fields.iter().map(|f| {
        let n = ident(&f.rust);
        let t = &f.ty;
        let d = doc(f.doc.as_deref());
        quote!(#d pub #n: #t,)
    });
    let required: Vec<_> = fields.iter().filter(|f| f.required).collect();
    let new_args = required.iter().map(|f| {
        let n = ident(&f.rust);
        let a = &f.arg;
        quote!(#n: #a)
    });
    let new_inits = fields.iter().map(|f| {
        let n = ident(&f.rust);
        if f.required && f.into {
            quote!(#n: #n.into(),)
        } else if f.required {
            quote!(#n,)
        } else {
            quote!(#n: None,)
        }
    });
    let setters = fields.iter().filter(|f| !f.required).map(|f| {
        let n = ident(&f.rust);
        let setter = format_ident!("with_{}", f.rust.trim_start_matches("r#"));
        let a = &f.arg;
        let convert = if f.into {
            quote!(value.into())
        } else {
            quote!(value)
        };
        let d = format!(" Sets `{}`.", f.rust.trim_start_matches("r#"));
        quote! {
            #[doc = #d]
            pub fn #setter(mut self, value: #a) -> Self {
                self.#n = Some(#convert);
                self
            }
        }
    });
    let default = if required.is_empty() {
        quote!(Default,)
    } else {
        quote!()
    };
    let derives = if has_binary {
        quote!(#[derive(Debug, #default)])
    } else {
        quote!(#[derive(Debug, Clone, #default)])
    };
    let req_doc = format!(
        " The request of `{}` (`{} {}`).",
        op.name, op.method, op.path
    );

    // URL: the caller's absolute endpoint, or the server's base URL and the path template.
    let mut fmt = String::from("{}");
    let mut path_args = Vec::new();
    let mut rest = op.path.as_str();
    while let Some(start) = rest.find('{') {
        fmt.push_str(&rest[..start].replace('}', "}}"));
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .unwrap_or(rest.len() - 1);
        let name = &rest[start + 1..end];
        fmt.push_str("{}");
        match op
            .params
            .iter()
            .find(|p| p.location == ParamIn::Path && p.wire == name)
        {
            Some(p) => {
                let n = ident(&p.rust);
                let value = param_to_string(p, quote!(request.#n));
                path_args.push(quote!(rt::support::encode_path(#value)?));
            }
            None => path_args.push(quote!("")),
        }
        rest = &rest[end + 1..];
    }
    fmt.push_str(&rest.replace('{', "{{").replace('}', "}}"));
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
    let url = if op.absolute_url {
        quote! {
            let #url_mut url = match request.endpoint.as_deref() {
                Some(endpoint) => rt::support::absolute_url(endpoint)?,
                None => #built_url,
            };
        }
    } else {
        quote!(let #url_mut url = #built_url;)
    };

    let query = op
        .params
        .iter()
        .filter(|p| p.location == ParamIn::Query)
        .map(|p| {
            let n = ident(&p.rust);
            let wire = &p.wire;
            let append = |value: TokenStream| -> TokenStream {
                if p.explode {
                    if let Ty::Vec(_) = p.ty {
                        return quote! {
                            for item in #value.iter() {
                                url.query_pairs_mut().append_pair(#wire, &item.to_string());
                            }
                        };
                    }
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
        });
    let headers = op.params.iter().filter(|p| p.location == ParamIn::Header).map(|p| {
        let n = ident(&p.rust);
        let wire = &p.wire;
        if p.required {
            let s = param_to_string(p, quote!(request.#n));
            quote!(builder = rt::support::header(builder, #wire, #s)?;)
        } else {
            let s = param_to_string(p, quote!(value));
            quote!(if let Some(value) = &request.#n { builder = rt::support::header(builder, #wire, #s)?; })
        }
    });
    let body = match &op.body {
        None => quote!(),
        Some(RequestBody::Json { .. }) => quote!(builder = builder.json(&request.body);),
        Some(RequestBody::OctetStream) => {
            quote!(builder = rt::support::octet_stream(builder, request.body);)
        }
        Some(RequestBody::Multipart { parts }) => {
            let adds = parts.iter().map(|part| {
                let n = ident(&part.rust);
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
    };
    let method_const = format_ident!("{}", op.method);
    let (success_ty, success_def) = success_type(op);
    let success_arms: Vec<_> = op.successes.iter().map(|s| success_arm(op, s)).collect();
    let fallback_success = if op.successes.is_empty() {
        quote!(200..=299 => { rt::support::discard_body(response).await?; Ok(()) })
    } else {
        quote!()
    };
    let mutable_builder =
        if op.params.iter().any(|p| p.location == ParamIn::Header) || op.body.is_some() {
            quote!(mut)
        } else {
            quote!()
        };

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

        #success_def

        impl Client {
            #method_doc
            pub async fn #method_name(&self, request: #req_name) -> Result<#success_ty, rt::Error<super::errors::#err_name>> {
                #url
                #(#query)*
                let #mutable_builder builder = self.core.request(rt::reqwest::Method::#method_const, url);
                #(#headers)*
                #body
                let response = rt::support::send(builder).await?;
                match response.status().as_u16() {
                    #(#success_arms)*
                    #fallback_success
                    _ => Err(rt::Error::Api(super::errors::#err_name::from_raw(rt::support::raw_response(response).await?))),
                }
            }
        }
    }
}
