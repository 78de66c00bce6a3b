//! Stage 3: IR -> token streams, one small emitter per kind of output.

mod answers;
pub mod client;
pub mod errors;
pub mod examples;
pub mod models;
pub mod operations;

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::Ty;

/// Where the generated models live, seen from the file being emitted.
#[derive(Clone, Copy)]
pub enum Scope {
    /// Inside `models.rs`.
    Models,
    /// In a sibling module.
    Sibling,
}

/// The Rust type for `ty`. `Binary` is a streamed body.
pub fn ty_tokens(ty: &Ty, scope: Scope) -> TokenStream {
    match ty {
        Ty::String => quote!(String),
        Ty::I32 => quote!(i32),
        Ty::I64 => quote!(i64),
        Ty::F64 => quote!(f64),
        Ty::Bool => quote!(bool),
        Ty::DateTime => quote!(rt::chrono::DateTime<rt::chrono::FixedOffset>),
        Ty::Value => quote!(rt::serde_json::Value),
        Ty::Map => quote!(rt::serde_json::Map<String, rt::serde_json::Value>),
        Ty::Vec(inner) => {
            let inner = ty_tokens(inner, scope);
            quote!(Vec<#inner>)
        }
        Ty::Named(name) => match scope {
            Scope::Models => quote!(#name),
            Scope::Sibling => quote!(super::models::#name),
        },
        Ty::Binary => quote!(rt::Body),
        Ty::Secret => quote!(rt::Secret),
        Ty::Boxed(inner) => {
            let inner = ty_tokens(inner, scope);
            quote!(Box<#inner>)
        }
    }
}

/// A `#[doc]` attribute from spec prose. Lines are dedented and code fences marked `text`, so
/// that nothing in a description is ever compiled as a doctest.
pub fn doc(text: Option<&str>) -> TokenStream {
    let Some(text) = text else { return quote!() };
    let mut out = Vec::new();
    let mut in_fence = false;
    for line in text.trim().lines() {
        let line = line.trim();
        if line.starts_with("```") {
            out.push(if in_fence { "```" } else { "```text" }.to_string());
            in_fence = !in_fence;
        } else {
            out.push(line.to_string());
        }
    }
    if in_fence {
        out.push("```".to_string());
    }
    let lines = out.into_iter().map(|l| format!(" {l}"));
    quote!(#(#[doc = #lines])*)
}
