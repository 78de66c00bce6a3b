//! `errors.rs`: one error enum per operation, a variant per documented (status, code) and per
//! documented status, and `Other` for everything else.

use proc_macro2::TokenStream;
use quote::quote;

use super::{doc, ty_tokens, Scope};
use crate::ir::{Operation, StatusMatch, Ty, TypeName};
use crate::lower::status_name;
use crate::names::{pascal, Unique};

/// One variant of an error enum and the answers it stands for.
struct Variant {
    name: TypeName,
    payload: Ty,
    /// (status, code) pairs, tried before any status-only match.
    codes: Vec<(StatusMatch, String)>,
    /// Statuses matched whatever the code.
    statuses: Vec<StatusMatch>,
    doc: String,
}

fn status_label(s: StatusMatch) -> String {
    match s {
        StatusMatch::Code(c) => c.to_string(),
        StatusMatch::Range(r) => format!("{r}XX"),
    }
}

fn variants(op: &Operation) -> Vec<Variant> {
    let mut names = Unique::default();
    let mut out: Vec<Variant> = Vec::new();
    // Status variants first: they own the plain names (`Conflict`, `BadRequest`).
    let mut status_index = Vec::new();
    for es in &op.errors {
        let base = match (&es.name, es.status) {
            (Some(name), _) => name.to_string(),
            (None, StatusMatch::Code(c)) => status_name(c),
            (None, StatusMatch::Range(r)) => format!("Status{r}xx"),
        };
        let name = TypeName::new(names.take(&base));
        status_index.push(out.len());
        out.push(Variant {
            name,
            payload: es.payload.clone(),
            codes: Vec::new(),
            statuses: vec![es.status],
            doc: format!(
                "HTTP {} with any other code{}",
                status_label(es.status),
                es.doc
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
        });
    }
    for (i, es) in op.errors.iter().enumerate() {
        for code in &es.codes {
            let wanted = pascal(&code.code);
            // A code named like its status (`bad_request` on 400) is that status's variant.
            let own = status_index[i];
            if out[own].name.as_str() == wanted {
                continue;
            }
            // The same code at two statuses with one body type is one variant.
            if let Some(existing) = out.iter_mut().find(|v| {
                v.payload == es.payload
                    && v.statuses.is_empty()
                    && v.codes.iter().any(|(_, c)| *c == code.code)
            }) {
                existing.codes.push((es.status, code.code.clone()));
                existing
                    .doc
                    .push_str(&format!(" Also HTTP {}.", status_label(es.status)));
                continue;
            }
            let name = TypeName::new(if names_taken(&out, &wanted) {
                names.take(&format!("{wanted}{}", status_label(es.status)))
            } else {
                names.take(&wanted)
            });
            out.push(Variant {
                name,
                payload: es.payload.clone(),
                codes: vec![(es.status, code.code.clone())],
                statuses: Vec::new(),
                doc: format!(
                    "HTTP {} `{}`{}",
                    status_label(es.status),
                    code.code,
                    code.description
                        .as_deref()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default()
                ),
            });
        }
    }
    let fallback = TypeName::new(names.take("Other"));
    out.push(Variant {
        name: fallback,
        payload: op.default_error.clone().unwrap_or(Ty::Value),
        codes: Vec::new(),
        statuses: Vec::new(),
        doc: "Any other answer: an undocumented status or code.".to_string(),
    });
    out
}

fn names_taken(out: &[Variant], name: &str) -> bool {
    out.iter().any(|v| v.name.as_str() == name)
}

fn status_pattern(s: StatusMatch) -> TokenStream {
    match s {
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

pub fn emit(ops: &[Operation]) -> TokenStream {
    let items = ops.iter().map(emit_one);
    quote! {
        //! Errors: one enum per operation, with a variant per documented status and error code.
        #![allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
        use box_uploads_runtime as rt;
        #(#items)*
    }
}

fn emit_one(op: &Operation) -> TokenStream {
    let enum_name = op.type_name.suffixed("Error");
    let op_name = op.name.as_str();
    let vs = variants(op);
    let decls = vs.iter().map(|v| {
        let name = &v.name;
        let payload = ty_tokens(&v.payload, Scope::Sibling);
        let d = doc(Some(&v.doc));
        quote!(#d #name(rt::ApiError<#payload>),)
    });
    let mut arms = Vec::new();
    for v in &vs {
        let name = &v.name;
        if !v.codes.is_empty() {
            let pats = v.codes.iter().map(|(s, c)| {
                let s = status_pattern(*s);
                quote!((#s, Some(#c)))
            });
            arms.push(quote!(#(#pats)|* => Self::#name(rt::ApiError::from_raw(raw)),));
        }
    }
    // Exact statuses before ranges, so `404` wins over `4XX`.
    for exact in [true, false] {
        for v in &vs {
            let name = &v.name;
            for s in &v.statuses {
                if matches!(s, StatusMatch::Code(_)) == exact {
                    let s = status_pattern(*s);
                    arms.push(quote!((#s, _) => Self::#name(rt::ApiError::from_raw(raw)),));
                }
            }
        }
    }
    // `variants` always ends with the fallback.
    let other = vs
        .last()
        .map(|v| v.name.clone())
        .unwrap_or_else(|| TypeName::new("Other"));
    let names: Vec<_> = vs.iter().map(|v| &v.name).collect();
    let sort = if arms.is_empty() {
        quote!(Self::#other(rt::ApiError::from_raw(raw)))
    } else {
        quote! {
            let code = rt::support::error_code(&raw.body);
            match (raw.status, code.as_deref()) {
                #(#arms)*
                _ => Self::#other(rt::ApiError::from_raw(raw)),
            }
        }
    };
    let enum_doc = doc(Some(&format!(
        "An error answer of `{op_name}`.\n\n\
         Its accessors (`status()`, `code()`, `message()`...) are those of\n\
         [`rt::OperationError`], which `prelude` re-exports."
    )));
    quote! {
        #enum_doc
        #[derive(Debug)]
        #[non_exhaustive]
        pub enum #enum_name {
            #(#decls)*
        }

        impl #enum_name {
            /// The operation this error belongs to.
            pub const OPERATION: &'static str = #op_name;

            /// Sorts an answer into its variant by status and error code.
            pub fn from_raw(raw: rt::support::RawResponse) -> Self {
                #sort
            }
        }

        impl std::fmt::Display for #enum_name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}: {}", Self::OPERATION, rt::OperationError::fields(self))
            }
        }

        impl std::error::Error for #enum_name {}

        // The one accessor generated per enum; the trait derives the others from it.
        impl rt::OperationError for #enum_name {
            fn fields(&self) -> &dyn rt::ApiErrorFields {
                match self {
                    #(Self::#names(e) => e,)*
                }
            }
        }
    }
}
