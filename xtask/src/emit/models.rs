//! `models.rs`: one type per schema.

use proc_macro2::TokenStream;
use quote::quote;

use super::{doc, ty_tokens, Scope};
use crate::ir::{Field, TypeDef, TypeName};

pub fn emit(types: &[TypeDef]) -> TokenStream {
    let items = types.iter().map(emit_type);
    quote! {
        //! Models: one type per schema of the spec.
        #![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
        use box_uploads_runtime as rt;
        #(#items)*
    }
}

fn emit_type(def: &TypeDef) -> TokenStream {
    match def {
        TypeDef::Struct {
            name,
            doc: d,
            fields,
        } => emit_struct(name, d.as_deref(), fields),
        TypeDef::Enum {
            name,
            doc: d,
            values,
        } => emit_enum(name, d.as_deref(), values),
        TypeDef::Tagged {
            name,
            doc: d,
            property,
            variants,
        } => {
            let d = type_doc(d.as_deref(), name);
            let names: Vec<_> = variants.iter().map(|v| &v.name).collect();
            let vdocs: Vec<_> = variants
                .iter()
                .map(|v| format!(" The `{}` variant.", v.name.as_str()))
                .collect();
            let tys: Vec<_> = variants
                .iter()
                .map(|v| {
                    let ty = &v.ty;
                    if v.boxed {
                        quote!(Box<#ty>)
                    } else {
                        quote!(#ty)
                    }
                })
                .collect();
            // How a decoded variant value becomes the enum (boxed where it closes a cycle).
            let wraps: Vec<_> = variants
                .iter()
                .map(|v| {
                    let name = &v.name;
                    if v.boxed {
                        quote!(|v| Self::#name(Box::new(v)))
                    } else {
                        quote!(Self::#name)
                    }
                })
                .collect();
            let tags: Vec<_> = variants
                .iter()
                .map(|v| {
                    let tags = &v.tags;
                    quote!(#(Some(#tags))|*)
                })
                .collect();
            quote! {
                #d
                #[derive(Debug, Clone, PartialEq)]
                #[non_exhaustive]
                pub enum #name {
                    #(#[doc = #vdocs] #names(#tys),)*
                    /// A variant this client does not know, kept as it came.
                    Unknown(rt::serde_json::Value),
                }
                impl ::serde::Serialize for #name {
                    fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                        match self {
                            #(Self::#names(value) => ::serde::Serialize::serialize(value, serializer),)*
                            Self::Unknown(value) => ::serde::Serialize::serialize(value, serializer),
                        }
                    }
                }
                impl<'de> ::serde::Deserialize<'de> for #name {
                    fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                        let value = <rt::serde_json::Value as ::serde::Deserialize>::deserialize(deserializer)?;
                        let tag = value.get(#property).and_then(|t| t.as_str()).map(str::to_owned);
                        match tag.as_deref() {
                            #(#tags => rt::serde_json::from_value(value).map(#wraps).map_err(::serde::de::Error::custom),)*
                            _ => Ok(Self::Unknown(value)),
                        }
                    }
                }
            }
        }
        TypeDef::Untagged {
            name,
            doc: d,
            variants,
        } => {
            let d = type_doc(d.as_deref(), name);
            let names = variants.iter().map(|(n, _)| n);
            let vdocs = variants
                .iter()
                .map(|(n, _)| format!(" The `{}` variant.", n.as_str()));
            let tys = variants.iter().map(|(_, t)| ty_tokens(t, Scope::Models));
            quote! {
                #d
                #[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
                #[serde(untagged)]
                pub enum #name {
                    #(#[doc = #vdocs] #names(#tys),)*
                }
            }
        }
        TypeDef::Alias { name, doc: d, ty } => {
            let d = type_doc(d.as_deref(), name);
            let ty = ty_tokens(ty, Scope::Models);
            quote! {
                #d
                pub type #name = #ty;
            }
        }
    }
}

/// The doc of a type: the spec's description, else the schema's name (the generated crate
/// denies missing docs).
fn type_doc(d: Option<&str>, name: &TypeName) -> TokenStream {
    let fallback = format!("The `{}` schema.", name.as_str());
    doc(d.or(Some(&fallback)))
}

fn emit_struct(name: &TypeName, d: Option<&str>, fields: &[Field]) -> TokenStream {
    let d = type_doc(d, name);
    let all_optional = fields.iter().all(|f| f.optional);
    let default = if all_optional {
        quote!(Default,)
    } else {
        quote!()
    };
    let fields = fields.iter().map(|f| {
        let fname = &f.rust;
        let ty = ty_tokens(&f.ty, Scope::Models);
        // Every public item is documented (the generated crate denies missing docs): a
        // property the spec does not describe is named by its wire name.
        let fallback = format!("The `{}` property.", f.json);
        let fdoc = doc(f.doc.as_deref().or(Some(&fallback)));
        let json = &f.json;
        let mut serde_args = Vec::new();
        if f.rust.as_str() != json {
            serde_args.push(quote!(rename = #json));
        }
        if f.optional {
            serde_args.push(quote!(default));
        }
        if f.skip_none {
            serde_args.push(quote!(skip_serializing_if = "Option::is_none"));
        }
        let serde_attr = if serde_args.is_empty() {
            quote!()
        } else {
            quote!(#[serde(#(#serde_args),*)])
        };
        let ty = if f.optional { quote!(Option<#ty>) } else { ty };
        quote! {
            #fdoc
            #serde_attr
            pub #fname: #ty,
        }
    });
    quote! {
        #d
        #[derive(Debug, Clone, PartialEq, #default ::serde::Serialize, ::serde::Deserialize)]
        pub struct #name {
            #(#fields)*
        }
    }
}

fn emit_enum(name: &TypeName, d: Option<&str>, values: &[(String, TypeName)]) -> TokenStream {
    let d = type_doc(d, name);
    let variants: Vec<_> = values.iter().map(|(_, v)| v).collect();
    let wire: Vec<_> = values.iter().map(|(w, _)| w).collect();
    quote! {
        #d
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum #name {
            #(#[doc = #wire] #variants,)*
            /// A value this client does not know, kept as it came.
            Unknown(String),
        }
        impl #name {
            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #(Self::#variants => #wire,)*
                    Self::Unknown(value) => value,
                }
            }
        }
        impl From<&str> for #name {
            fn from(value: &str) -> Self {
                match value {
                    #(#wire => Self::#variants,)*
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }
        impl std::fmt::Display for #name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                Ok(Self::from(value.as_str()))
            }
        }
    }
}
