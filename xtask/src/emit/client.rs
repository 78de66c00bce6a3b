//! `client.rs` and `mod.rs`: the `Client` type, the server table and the module tree.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::Api;

pub fn emit_client(api: &Api) -> TokenStream {
    let keys = api.servers.iter().map(|s| &s.key);
    let urls = api.servers.iter().map(|s| &s.default_url);
    let title = format!(" A client for {}.", api.title);
    quote! {
        //! The client and the servers it talks to.
        use box_uploads_runtime as rt;

        /// Server keys and their default base URLs, as the spec declares them. Override one with
        /// `Core::builder().server(key, url)`.
        pub const SERVERS: &[(&str, &str)] = &[#((#keys, #urls)),*];

        #[doc = #title]
        ///
        /// Cheap to clone: clones share one connection pool.
        #[derive(Clone, Debug)]
        pub struct Client {
            pub(crate) core: rt::Core,
        }

        impl Client {
            /// A client sending its requests through `core`.
            pub fn new(core: rt::Core) -> Self {
                Client { core }
            }

            /// The HTTP core: connection pool, credentials and base-URL overrides.
            pub fn core(&self) -> &rt::Core {
                &self.core
            }

            /// The base URL used for server `key`: the override if one is set, else the spec's.
            pub fn base_url(&self, key: &str) -> Option<&str> {
                let default = SERVERS.iter().find(|(k, _)| *k == key).map(|(_, url)| *url);
                self.core.server_override(key).or(default)
            }
        }
    }
}

pub fn emit_mod() -> TokenStream {
    quote! {
        //! Code generated from the API description: models, errors, operations and the client.
        // Spec prose is Markdown for people, not rustdoc: `@[id:name]` is not a link to an item.
        #![allow(rustdoc::broken_intra_doc_links)]
        pub mod client;
        pub mod errors;
        pub mod models;
        pub mod operations;

        pub use client::{Client, SERVERS};

        /// The traits whose methods callers use on the generated errors (`status()`, `code()`,
        /// `is_retryable()`...): `use` this module's contents with a glob.
        pub mod prelude {
            pub use box_uploads_runtime::{ApiErrorFields, OperationError};
        }
    }
}
