//! Two schemas compared, recursively: `oneOf`/`anyOf` branches, type, format, nullable, enum,
//! properties (presence and requiredness) and array items.

use serde_json::Value;

use super::flat::{flatten, flatten_all, Def, Flat};
use super::scope::Scope;
use super::{last, nullable_word, or_none, required_word, Walker, MAX_DEPTH};

impl Walker<'_> {
    /// Compares two schemas, recursively.
    pub(super) fn schema(
        &mut self,
        scopes: &[Scope],
        path: &str,
        (optr, o): (&str, &Value),
        (tptr, t): (&str, &Value),
        depth: usize,
    ) {
        self.schemas(
            scopes,
            path,
            &[(optr.to_string(), o)],
            &[(tptr.to_string(), t)],
            depth,
        );
    }

    /// Compares two schemas, each given as the definitions that `allOf` merges into it (a
    /// property that two `allOf` members both define has two).
    fn schemas(&mut self, scopes: &[Scope], path: &str, o: &[Def], t: &[Def], depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let (o, t) = match (flatten_all(self.ours, o), flatten_all(self.theirs, t)) {
            (Ok(o), Ok(t)) => (o, t),
            (Err(e), _) | (_, Err(e)) => return self.errors.push(e),
        };
        let key = (last(&o.ptrs).to_string(), last(&t.ptrs).to_string());
        if self.stack.contains(&key) {
            return;
        }
        self.stack.push(key);
        let scopes = self.scopes(scopes, &o.ptrs, path);
        self.flat(&scopes, path, &o, &t, depth);
        self.stack.pop();
    }

    fn flat(&mut self, scopes: &[Scope], path: &str, o: &Flat, t: &Flat, depth: usize) {
        match (&o.one_of, &t.one_of) {
            (None, None) => {}
            (Some(a), Some(b)) => {
                if a.len() != b.len() {
                    self.emit(
                        scopes,
                        path,
                        "one-of",
                        format!("ours {} branches; Box {}", a.len(), b.len()),
                    );
                } else {
                    for (i, j) in pair_branches(a, b) {
                        let ((ap, av), (bp, bv)) = (&a[i], &b[j]);
                        self.schema(
                            scopes,
                            &format!("{path}.oneOf[{i}]"),
                            (ap, *av),
                            (bp, *bv),
                            depth + 1,
                        );
                    }
                }
                if o.discriminator != t.discriminator {
                    self.emit(
                        scopes,
                        path,
                        "discriminator",
                        format!(
                            "ours {}; Box {}",
                            or_none(&o.discriminator),
                            or_none(&t.discriminator)
                        ),
                    );
                }
                return;
            }
            (Some(branches), None) | (None, Some(branches)) => {
                let (ours_side, other) = if o.one_of.is_some() {
                    (true, t)
                } else {
                    (false, o)
                };
                let detail = if ours_side {
                    format!(
                        "ours one of {} schemas; Box {}",
                        branches.len(),
                        or_none(&other.ty)
                    )
                } else {
                    format!(
                        "ours {}; Box one of {} schemas",
                        or_none(&other.ty),
                        branches.len()
                    )
                };
                self.emit(scopes, path, "one-of", detail);
                // Go on into the one branch of the other side's type, if there is one.
                let doc = if ours_side { self.ours } else { self.theirs };
                let same: Vec<&(String, &Value)> = branches
                    .iter()
                    .filter(|(p, v)| flatten(doc, p, v, 0).is_ok_and(|f| f.ty == other.ty))
                    .collect();
                if let [(bp, bv)] = same[..] {
                    let (bp, bv) = (bp.clone(), *bv);
                    let other_ptr = last(&other.ptrs).to_string();
                    let other_value = other.value;
                    if ours_side {
                        self.schema(
                            scopes,
                            path,
                            (&bp, bv),
                            (&other_ptr, other_value),
                            depth + 1,
                        );
                    } else {
                        self.schema(
                            scopes,
                            path,
                            (&other_ptr, other_value),
                            (&bp, bv),
                            depth + 1,
                        );
                    }
                }
                return;
            }
        }
        if let (Some(a), Some(b)) = (&o.ty, &t.ty) {
            if a != b {
                self.emit(scopes, path, "type", format!("ours {a}; Box {b}"));
                return;
            }
        }
        if o.format != t.format {
            self.emit(
                scopes,
                path,
                "format",
                format!("ours {}; Box {}", or_none(&o.format), or_none(&t.format)),
            );
        }
        if o.nullable != t.nullable {
            self.emit(
                scopes,
                path,
                "nullable",
                format!(
                    "ours {}; Box {}",
                    nullable_word(o.nullable),
                    nullable_word(t.nullable)
                ),
            );
        }
        match (&o.enumv, &t.enumv) {
            (Some(a), Some(b)) => {
                for v in a.iter().filter(|v| !b.contains(v)) {
                    self.emit(
                        scopes,
                        path,
                        &format!("enum {v} extra"),
                        "Box does not list this value".into(),
                    );
                }
                for v in b.iter().filter(|v| !a.contains(v)) {
                    self.emit(
                        scopes,
                        path,
                        &format!("enum {v} missing"),
                        "Box lists this value".into(),
                    );
                }
            }
            (Some(a), None) => self.emit(
                scopes,
                path,
                "enum",
                format!("ours one of {}; Box any value", a.join(", ")),
            ),
            (None, Some(b)) => self.emit(
                scopes,
                path,
                "enum",
                format!("ours any value; Box one of {} values", b.len()),
            ),
            (None, None) => {}
        }
        let is_object = |f: &Flat| f.ty.as_deref() == Some("object");
        if is_object(o) && is_object(t) {
            if o.props.is_empty() != t.props.is_empty() {
                let says = |f: &Flat| {
                    if f.props.is_empty() {
                        "free-form".to_string()
                    } else {
                        format!("lists {} properties", f.props.len())
                    }
                };
                self.emit(
                    scopes,
                    path,
                    "properties",
                    format!("ours {}; Box {}", says(o), says(t)),
                );
            } else {
                self.properties(scopes, path, o, t, depth);
            }
        }
        if let (Some((ap, av)), Some((bp, bv))) = (&o.items, &t.items) {
            self.schema(scopes, &format!("{path}[]"), (ap, av), (bp, bv), depth + 1);
        }
    }

    fn properties(&mut self, scopes: &[Scope], path: &str, o: &Flat, t: &Flat, depth: usize) {
        for (name, defs) in &o.props {
            let ppath = format!("{path}.{name}");
            // The property's own nodes, for notes on the property itself.
            let own: Vec<String> = defs
                .iter()
                .flat_map(|(p, v)| self.ours.resolve(p, v).map(|r| r.ptrs).unwrap_or_default())
                .collect();
            let pscopes = self.scopes(scopes, &own, &ppath);
            let Some((_, tdefs)) = t.props.iter().find(|(n, _)| n == name) else {
                self.emit(&pscopes, &ppath, "extra", "Box does not list it".into());
                continue;
            };
            let (a, b) = (o.required.contains(name), t.required.contains(name));
            if a != b {
                self.emit(
                    &pscopes,
                    &ppath,
                    "required",
                    format!("ours {}; Box {}", required_word(a), required_word(b)),
                );
            }
            self.schemas(scopes, &ppath, defs, tdefs, depth + 1);
        }
        for (name, tdefs) in &t.props {
            if !o.props.iter().any(|(n, _)| n == name) {
                let ty = flatten_all(self.theirs, tdefs)
                    .ok()
                    .and_then(|f| f.ty)
                    .unwrap_or_else(|| "schema".into());
                self.emit(
                    scopes,
                    &format!("{path}.{name}"),
                    "missing",
                    format!("Box lists it ({ty})"),
                );
            }
        }
    }
}

/// Which branch of Box's `oneOf` each of ours is compared with, as (ours, Box's) indexes: by
/// the schema each names when both sides name the same schemas, in any order (the order of
/// `oneOf` branches means nothing); else by position.
fn pair_branches(ours: &[(String, &Value)], theirs: &[(String, &Value)]) -> Vec<(usize, usize)> {
    let names = |branches: &[(String, &Value)]| -> Option<Vec<String>> {
        branches
            .iter()
            .map(|(_, v)| {
                let target = v.get("$ref")?.as_str()?;
                Some(target.rsplit('/').next()?.to_string())
            })
            .collect()
    };
    if let (Some(a), Some(b)) = (names(ours), names(theirs)) {
        let pairs: Vec<(usize, usize)> = a
            .iter()
            .enumerate()
            .filter_map(|(i, name)| Some((i, b.iter().position(|n| n == name)?)))
            .collect();
        let mut seen: Vec<usize> = pairs.iter().map(|&(_, j)| j).collect();
        seen.sort_unstable();
        seen.dedup();
        if pairs.len() == a.len() && seen.len() == b.len() {
            return pairs;
        }
    }
    (0..ours.len().min(theirs.len())).map(|i| (i, i)).collect()
}
