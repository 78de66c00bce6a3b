//! A schema as the comparison sees it: `$ref`s resolved and `allOf` merged into one `Flat`.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{flag, last, MAX_DEPTH};
use crate::upstream::doc::{pointer_key, Doc};

/// One definition of a schema: its pointer and node (maybe a `$ref`).
pub(super) type Def<'a> = (String, &'a Value);

/// A schema with its `$ref`s resolved and its `allOf` merged.
pub(super) struct Flat<'a> {
    /// The pointers of every node merged into it, for notes.
    pub(super) ptrs: Vec<String>,
    /// The node itself (after `$ref`), for walking into a `oneOf` branch.
    pub(super) value: &'a Value,
    pub(super) ty: Option<String>,
    pub(super) format: Option<String>,
    pub(super) nullable: bool,
    pub(super) enumv: Option<Vec<String>>,
    /// Each property with its definitions, in the order met.
    pub(super) props: Vec<(String, Vec<Def<'a>>)>,
    pub(super) required: BTreeSet<String>,
    pub(super) items: Option<(String, &'a Value)>,
    pub(super) one_of: Option<Vec<(String, &'a Value)>>,
    pub(super) discriminator: Option<String>,
}

/// One definition of a schema, flattened: `$ref` resolved, its `allOf` members merged in.
pub(super) fn flatten<'a>(
    doc: &'a Doc,
    ptr: &str,
    value: &'a Value,
    depth: usize,
) -> Result<Flat<'a>, String> {
    if depth > MAX_DEPTH {
        return Err(format!("{} at {ptr}: `allOf` nests too deep", doc.label));
    }
    let r = doc.resolve(ptr, value)?;
    let v = r.value;
    let at = last(&r.ptrs).to_string();
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let mut flat = Flat {
        ptrs: r.ptrs.clone(),
        value: v,
        ty: text("type"),
        format: text("format"),
        nullable: flag(v, "nullable"),
        enumv: v.get("enum").and_then(Value::as_array).map(|l| {
            l.iter()
                .filter(|x| !x.is_null())
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect()
        }),
        props: v
            .get("properties")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, p)| {
                        (
                            k.clone(),
                            vec![(format!("{at}/properties/{}", pointer_key(k)), p)],
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        required: v
            .get("required")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        items: v.get("items").map(|i| (format!("{at}/items"), i)),
        one_of: ["oneOf", "anyOf"].iter().find_map(|k| {
            v.get(*k).and_then(Value::as_array).map(|l| {
                l.iter()
                    .enumerate()
                    .map(|(i, b)| (format!("{at}/{k}/{i}"), b))
                    .collect()
            })
        }),
        discriminator: v
            .get("discriminator")
            .and_then(|d| d.get("propertyName"))
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    if let Some(members) = v.get("allOf").and_then(Value::as_array) {
        for (i, m) in members.iter().enumerate() {
            let m = flatten(doc, &format!("{at}/allOf/{i}"), m, depth + 1)?;
            merge(&mut flat, m);
        }
    }
    if flat.ty.is_none() && flat.one_of.is_none() {
        if !flat.props.is_empty() || v.get("additionalProperties").is_some() {
            flat.ty = Some("object".into());
        } else if flat.items.is_some() {
            flat.ty = Some("array".into());
        }
    }
    Ok(flat)
}

/// Merges `m` into `flat`, as `allOf` does: a property both define keeps both definitions.
fn merge<'a>(flat: &mut Flat<'a>, m: Flat<'a>) {
    flat.ptrs.extend(m.ptrs);
    flat.ty = flat.ty.take().or(m.ty);
    flat.format = flat.format.take().or(m.format);
    flat.nullable |= m.nullable;
    flat.enumv = flat.enumv.take().or(m.enumv);
    for (name, defs) in m.props {
        match flat.props.iter_mut().find(|(n, _)| *n == name) {
            Some((_, mine)) => mine.extend(defs),
            None => flat.props.push((name, defs)),
        }
    }
    flat.required.extend(m.required);
    flat.items = flat.items.take().or(m.items);
    flat.one_of = flat.one_of.take().or(m.one_of);
    flat.discriminator = flat.discriminator.take().or(m.discriminator);
}

/// Flattens several definitions of one schema into one.
pub(super) fn flatten_all<'a>(doc: &'a Doc, defs: &[Def<'a>]) -> Result<Flat<'a>, String> {
    let mut iter = defs.iter();
    let Some((ptr, value)) = iter.next() else {
        return Err(format!("{}: a schema without a definition", doc.label));
    };
    let mut flat = flatten(doc, ptr, value, 0)?;
    for (ptr, value) in iter {
        let more = flatten(doc, ptr, value, 0)?;
        merge(&mut flat, more);
    }
    if flat.ty.is_none() && flat.one_of.is_none() {
        if !flat.props.is_empty() {
            flat.ty = Some("object".into());
        } else if flat.items.is_some() {
            flat.ty = Some("array".into());
        }
    }
    Ok(flat)
}
