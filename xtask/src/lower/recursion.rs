//! Recursive schemas: a struct that holds itself by value (directly, or through other structs
//! and unions) has no finite size in Rust. The fields and variants that close such cycles are
//! boxed; cycles through `Vec` or a map are already finite and stay as they are.
//!
//! A depth-first walk over the by-value edges (in the types' order, so the result is
//! deterministic) boxes every back edge: what remains is acyclic, and usually only one field per
//! cycle is boxed. Aliases are looked through (a field of alias type holds the alias's target),
//! since an alias cannot be boxed itself; a cycle made only of aliases cannot be written in Rust
//! at all and is reported by [`alias_cycles`].

use std::collections::HashMap;

use crate::ir::{Ty, TypeDef, TypeName};

/// Where an edge leaves its type: a struct field or an enum variant, by index.
type Slot = usize;

/// Alias chains are short; a longer one is a cycle, which [`alias_cycles`] reports.
const MAX_ALIASES: usize = 16;

/// Boxes the fields and variants that close by-value cycles.
pub fn box_cycles(defs: &mut [TypeDef]) {
    let index: HashMap<&TypeName, usize> = defs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name(), i))
        .collect();
    let edges: Vec<Vec<(Slot, usize)>> = defs.iter().map(|d| edges(d, defs, &index)).collect();
    let back = back_edges(&edges);
    for (owner, slot) in back {
        match &mut defs[owner] {
            TypeDef::Struct { fields, .. } => box_ty(&mut fields[slot].ty),
            TypeDef::Untagged { variants, .. } => box_ty(&mut variants[slot].1),
            TypeDef::Tagged { variants, .. } => variants[slot].boxed = true,
            TypeDef::Enum { .. } | TypeDef::Alias { .. } => {}
        }
    }
}

fn box_ty(ty: &mut Ty) {
    *ty = Ty::Boxed(Box::new(ty.clone()));
}

/// The types a definition holds by value, each with the slot that holds it.
fn edges(def: &TypeDef, defs: &[TypeDef], index: &HashMap<&TypeName, usize>) -> Vec<(Slot, usize)> {
    let tys: Vec<Ty> = match def {
        TypeDef::Struct { fields, .. } => fields.iter().map(|f| f.ty.clone()).collect(),
        TypeDef::Untagged { variants, .. } => variants.iter().map(|(_, t)| t.clone()).collect(),
        TypeDef::Tagged { variants, .. } => {
            variants.iter().map(|v| Ty::Named(v.ty.clone())).collect()
        }
        // An alias's target is attributed to whoever holds the alias.
        TypeDef::Enum { .. } | TypeDef::Alias { .. } => Vec::new(),
    };
    tys.iter()
        .enumerate()
        .flat_map(|(slot, ty)| by_value(ty, defs, index, 0).map(|target| (slot, target)))
        .collect()
}

/// The type a value of `ty` holds inline (aliases looked through), if it is a generated one.
fn by_value(
    ty: &Ty,
    defs: &[TypeDef],
    index: &HashMap<&TypeName, usize>,
    depth: usize,
) -> Option<usize> {
    let Ty::Named(name) = ty else {
        // Scalars hold no generated type; `Vec`, maps and `Box` hold theirs on the heap.
        return None;
    };
    let &i = index.get(name)?;
    match &defs[i] {
        TypeDef::Alias { ty, .. } if depth < MAX_ALIASES => by_value(ty, defs, index, depth + 1),
        TypeDef::Alias { .. } => None,
        _ => Some(i),
    }
}

/// The edges a depth-first walk finds pointing back at a type still on its path: removing them
/// leaves no cycle. In the order of the types, then of their slots.
fn back_edges(edges: &[Vec<(Slot, usize)>]) -> Vec<(usize, Slot)> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    fn walk(
        node: usize,
        edges: &[Vec<(Slot, usize)>],
        state: &mut [State],
        back: &mut Vec<(usize, Slot)>,
    ) {
        state[node] = State::OnPath;
        for &(slot, target) in &edges[node] {
            match state[target] {
                State::New => walk(target, edges, state, back),
                State::OnPath => back.push((node, slot)),
                State::Done => {}
            }
        }
        state[node] = State::Done;
    }
    let mut state = vec![State::New; edges.len()];
    let mut back = Vec::new();
    for start in 0..edges.len() {
        if state[start] == State::New {
            walk(start, edges, &mut state, &mut back);
        }
    }
    back.sort_unstable();
    back.dedup();
    back
}

/// Aliases that contain themselves through other aliases only (`type A = Vec<A>`): Rust has no
/// way to write them. Each cycle is named once, by the alias that closes it.
pub fn alias_cycles(defs: &[TypeDef]) -> Vec<TypeName> {
    let index: HashMap<&TypeName, usize> = defs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name(), i))
        .collect();
    let edges: Vec<Vec<(Slot, usize)>> = defs
        .iter()
        .map(|def| match def {
            TypeDef::Alias { ty, .. } => {
                let mut names = Vec::new();
                named_in(ty, &mut names);
                names
                    .into_iter()
                    .filter_map(|n| index.get(n).copied())
                    .filter(|&i| matches!(defs[i], TypeDef::Alias { .. }))
                    .map(|i| (0, i))
                    .collect()
            }
            _ => Vec::new(),
        })
        .collect();
    back_edges(&edges)
        .into_iter()
        .map(|(owner, _)| defs[owner].name().clone())
        .collect()
}

/// Every generated type named anywhere in `ty`.
fn named_in<'t>(ty: &'t Ty, out: &mut Vec<&'t TypeName>) {
    match ty {
        Ty::Named(name) => out.push(name),
        Ty::Vec(inner) | Ty::Boxed(inner) => named_in(inner, out),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Field, RustIdent};

    fn field(name: &str, ty: Ty) -> Field {
        Field {
            json: name.into(),
            rust: RustIdent::new(name),
            ty,
            optional: true,
            skip_none: true,
            doc: None,
        }
    }

    fn named(n: &str) -> Ty {
        Ty::Named(TypeName::new(n))
    }

    fn strukt(name: &str, fields: Vec<Field>) -> TypeDef {
        TypeDef::Struct {
            name: TypeName::new(name),
            doc: None,
            fields,
        }
    }

    fn field_ty(def: &TypeDef, i: usize) -> &Ty {
        match def {
            TypeDef::Struct { fields, .. } => &fields[i].ty,
            _ => panic!("not a struct"),
        }
    }

    #[test]
    fn a_self_reference_is_boxed_and_a_list_of_itself_is_not() {
        let mut defs = vec![strukt(
            "Node",
            vec![
                field("parent", named("Node")),
                field("children", Ty::Vec(Box::new(named("Node")))),
            ],
        )];
        box_cycles(&mut defs);
        assert_eq!(*field_ty(&defs[0], 0), Ty::Boxed(Box::new(named("Node"))));
        assert_eq!(*field_ty(&defs[0], 1), Ty::Vec(Box::new(named("Node"))));
    }

    #[test]
    fn a_mutual_cycle_through_an_alias_is_boxed_once() {
        let mut defs = vec![
            strukt("A", vec![field("b", named("BRef"))]),
            TypeDef::Alias {
                name: TypeName::new("BRef"),
                doc: None,
                ty: named("B"),
            },
            strukt("B", vec![field("a", named("A")), field("n", Ty::I64)]),
        ];
        box_cycles(&mut defs);
        assert_eq!(*field_ty(&defs[0], 0), named("BRef"));
        assert_eq!(*field_ty(&defs[2], 0), Ty::Boxed(Box::new(named("A"))));
        assert!(alias_cycles(&defs).is_empty());
    }

    #[test]
    fn an_alias_of_a_list_of_itself_is_a_cycle() {
        let defs = vec![TypeDef::Alias {
            name: TypeName::new("Tree"),
            doc: None,
            ty: Ty::Vec(Box::new(named("Tree"))),
        }];
        assert_eq!(alias_cycles(&defs), vec![TypeName::new("Tree")]);
    }
}
