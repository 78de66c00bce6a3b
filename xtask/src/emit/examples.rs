//! `tests/examples.rs` of a generated crate (written on request): one test that decodes every
//! `example` of the spec into its generated type and names each one that does not decode.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::{ty_tokens, Scope};
use crate::ir::Example;

/// The test file for the crate `krate` (its Rust name, `box_api`).
pub fn emit(krate: &str, examples: &[Example]) -> TokenStream {
    let krate = Ident::new(krate, Span::call_site());
    let entries = examples.iter().map(|e| {
        let pointer = &e.pointer;
        // The value as the spec gave it, re-serialized: the test reads it as a client would.
        let json = e.value.to_string();
        let ty = ty_tokens(&e.ty, Scope::Sibling);
        let ty = if e.nullable { quote!(Option<#ty>) } else { ty };
        quote!((#pointer, #json, decode::<#ty>),)
    });
    let count = proc_macro2::Literal::usize_unsuffixed(examples.len());
    quote! {
        //! Every `example` in the spec (schemas, properties, parameters, request and response bodies) decodes
        //! into the type generated for it. A failure names the example by its JSON pointer.
        use #krate::models;

        mod examples {
            use box_uploads_runtime as rt;

            /// Decodes `json` as a `T`, keeping only the error.
            fn decode<T: ::serde::de::DeserializeOwned>(json: &str) -> Result<(), String> {
                match rt::serde_json::from_str::<T>(json) {
                    Ok(_) => Ok(()),
                    Err(e) => Err(e.to_string()),
                }
            }

            /// Decodes one example's JSON text as its type.
            type Decode = fn(&str) -> Result<(), String>;

            /// (where the example is, its JSON text, the decoder of its type)
            pub static ALL: [(&str, &str, Decode); #count] = [
                #(#entries)*
            ];
        }

        /// Prints `bad example at POINTER: ERROR` for each failure (a test over the whole API
        /// reads these lines to compare them with its list of known-bad examples).
        #[test]
        fn every_example_decodes_into_its_type() {
            let mut failures = Vec::new();
            for (pointer, json, decode) in &examples::ALL {
                if let Err(e) = decode(json) {
                    println!("bad example at {pointer}: {e}");
                    failures.push(pointer);
                }
            }
            // Short lines: prettyplease and rustfmt lay out a long macro call differently, and
            // the output must pass `cargo fmt --check` as written.
            let (bad, all) = (failures.len(), examples::ALL.len());
            if bad > 0 {
                panic!("{bad} of {all} examples do not decode: {failures:?}");
            }
        }
    }
}
