//! How an operation's answers are read: an operation whose success answer carries a secret (a
//! token answer, `format: password` in a model it returns) is read with the runtime's
//! `AnswerLimits::CREDENTIALS`: a small answer, never quoted in a decode error.

use std::collections::{HashMap, HashSet};

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::{Operation, SuccessBody, Ty, TypeDef};

/// The models that hold a secret (`format: password`), directly or through other models.
pub(super) struct SecretTypes(HashSet<String>);

impl SecretTypes {
    pub(super) fn new(types: &[TypeDef]) -> Self {
        let held: HashMap<&str, Vec<&Ty>> = types
            .iter()
            .map(|t| {
                let tys = match t {
                    TypeDef::Struct { fields, .. } => fields.iter().map(|f| &f.ty).collect(),
                    TypeDef::Untagged { variants, .. } => {
                        variants.iter().map(|(_, ty)| ty).collect()
                    }
                    TypeDef::Alias { ty, .. } => vec![ty],
                    TypeDef::Tagged { .. } | TypeDef::Enum { .. } => Vec::new(),
                };
                (t.name().as_str(), tys)
            })
            .collect();
        let tagged: HashMap<&str, Vec<&str>> = types
            .iter()
            .filter_map(|t| match t {
                TypeDef::Tagged { name, variants, .. } => Some((
                    name.as_str(),
                    variants.iter().map(|v| v.ty.as_str()).collect(),
                )),
                _ => None,
            })
            .collect();
        // Grow the set until no model is added: cycles of models end that way too.
        let mut secret: HashSet<String> = HashSet::new();
        loop {
            let before = secret.len();
            for (name, tys) in &held {
                if tys.iter().any(|ty| holds_secret(ty, &secret)) {
                    secret.insert((*name).to_string());
                }
            }
            for (name, variants) in &tagged {
                if variants.iter().any(|v| secret.contains(*v)) {
                    secret.insert((*name).to_string());
                }
            }
            if secret.len() == before {
                return SecretTypes(secret);
            }
        }
    }

    fn holds(&self, ty: &Ty) -> bool {
        holds_secret(ty, &self.0)
    }
}

fn holds_secret(ty: &Ty, secret_models: &HashSet<String>) -> bool {
    match ty {
        Ty::Secret => true,
        Ty::Named(name) => secret_models.contains(name.as_str()),
        Ty::Vec(inner) | Ty::Boxed(inner) => holds_secret(inner, secret_models),
        _ => false,
    }
}

/// How the operation's answers are read: with `rt::support::AnswerLimits::CREDENTIALS` (small,
/// never quoted in a decode error) when a success answer carries a secret (a token answer),
/// else `None` for the runtime's defaults.
pub(super) fn answer_limits(op: &Operation, secret: &SecretTypes) -> Option<TokenStream> {
    let carries_secret = op
        .successes
        .iter()
        .any(|s| matches!(&s.body, SuccessBody::Json(ty) if secret.holds(ty)));
    carries_secret.then(|| quote!(rt::support::AnswerLimits::CREDENTIALS))
}
