//! Which lowered types are scalars (one piece of text on the wire): form fields and parameters
//! accept them, and need other encodings, or a problem report, for anything else.

use super::types::TypeLower;
use crate::ir::{Ty, TypeDef};

/// Alias chains are short; a longer one is a cycle, which `types` reports.
const MAX_ALIASES: usize = 16;

/// `ty` with component aliases followed.
pub fn resolve(types: &TypeLower<'_>, ty: &Ty) -> Option<Ty> {
    let mut ty = ty.clone();
    for _ in 0..MAX_ALIASES {
        match &ty {
            Ty::Named(name) => match types.def(name) {
                Some(TypeDef::Alias { ty: target, .. }) => ty = target.clone(),
                _ => return Some(ty),
            },
            _ => return Some(ty),
        }
    }
    None
}

pub fn is_scalar(types: &TypeLower<'_>, ty: &Ty) -> bool {
    match resolve(types, ty) {
        Some(Ty::String | Ty::Secret | Ty::I32 | Ty::I64 | Ty::F64 | Ty::Bool | Ty::DateTime) => {
            true
        }
        Some(Ty::Named(name)) => matches!(types.def(&name), Some(TypeDef::Enum { .. })),
        _ => false,
    }
}
