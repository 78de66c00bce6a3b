//! `application/x-www-form-urlencoded` bodies: one level of `name=value` pairs, so the schema
//! must be an object whose properties are scalars. Anything deeper has no standard encoding
//! (and `serde_urlencoded` refuses it at run time): it is a spec problem, found here.

use super::scalar::{is_scalar, resolve};
use super::types::TypeLower;
use crate::diag::Problems;
use crate::ir::{Ty, TypeDef};

/// Checks that `ty`, the body type lowered from the schema at `at`, can be sent as a form.
pub fn check(types: &TypeLower<'_>, ty: &Ty, at: &str, problems: &mut Problems) {
    let fields = match resolve(types, ty) {
        Some(Ty::Named(name)) => match types.def(&name) {
            Some(TypeDef::Struct { fields, .. }) => fields,
            _ => return not_an_object(at, problems),
        },
        _ => return not_an_object(at, problems),
    };
    for field in fields {
        if !is_scalar(types, &field.ty) {
            problems.push(
                at,
                format!(
                    "form field `{}` is not a scalar: an application/x-www-form-urlencoded body \
                     holds only strings, numbers, booleans and string enums",
                    field.json
                ),
            );
        }
    }
}

fn not_an_object(at: &str, problems: &mut Problems) {
    problems.push(
        at,
        "an application/x-www-form-urlencoded body must be an object with properties \
         (one `name=value` pair each)",
    );
}
