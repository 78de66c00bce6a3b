//! Spec names to Rust names: `File--Mini` -> `FileMini`, `content-md5` -> `content_md5`,
//! `type` -> `r#type`. Deterministic and total: every input gives a valid identifier.

use std::collections::BTreeSet;

/// Words of a name: split on anything not alphanumeric and on lower-to-upper case changes.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev: Option<char> = None;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev = None;
            continue;
        }
        if let Some(p) = prev {
            if c.is_ascii_uppercase()
                && (p.is_ascii_lowercase() || p.is_ascii_digit())
                && !current.is_empty()
            {
                words.push(std::mem::take(&mut current));
            }
        }
        current.push(c);
        prev = Some(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `upload_part--mini` -> `UploadPartMini`. Empty or digit-led names get a prefix.
pub fn pascal(name: &str) -> String {
    let mut out = String::new();
    for word in words(name) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    if out.is_empty() {
        out.push_str("Empty");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    if out == "Self" {
        out.push('_');
    }
    out
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while",
    "abstract", "become", "box", "do", "final", "gen", "macro", "override", "priv", "try",
    "typeof", "unsized", "virtual", "yield",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["self", "super", "crate", "extern", "_"];

/// `content-md5` -> `content_md5`, `petType` -> `pet_type`, `1st` -> `n_1st`. Returns the text of
/// the identifier; raw identifiers come back as `r#type`.
pub fn snake(name: &str) -> String {
    let mut out = words(name)
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    if out.is_empty() {
        out.push_str("value");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "n_");
    }
    if NOT_RAW.contains(&out.as_str()) {
        out.push('_');
    } else if KEYWORDS.contains(&out.as_str()) {
        out.insert_str(0, "r#");
    }
    out
}

/// An identifier token for a name produced by [`snake`] or [`pascal`].
pub fn ident(name: &str) -> proc_macro2::Ident {
    match name.strip_prefix("r#") {
        Some(raw) => proc_macro2::Ident::new_raw(raw, proc_macro2::Span::call_site()),
        None => proc_macro2::Ident::new(name, proc_macro2::Span::call_site()),
    }
}

/// Hands out unique names: a second `Foo` becomes `Foo2`.
#[derive(Debug, Default)]
pub struct Unique {
    taken: BTreeSet<String>,
}

impl Unique {
    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_string());
    }

    pub fn take(&mut self, name: &str) -> String {
        if self.taken.insert(name.to_string()) {
            return name.to_string();
        }
        let mut n = 2;
        loop {
            let candidate = if name.ends_with(|c: char| c.is_ascii_digit()) {
                format!("{name}_{n}")
            } else {
                format!("{name}{n}")
            };
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_names() {
        assert_eq!(pascal("File--Mini"), "FileMini");
        assert_eq!(pascal("upload_part--mini"), "UploadPartMini");
        assert_eq!(pascal("client_error"), "ClientError");
        assert_eq!(pascal("ASC"), "Asc");
        assert_eq!(pascal("in-progress"), "InProgress");
        assert_eq!(pascal("2x"), "V2x");
        assert_eq!(pascal(""), "Empty");
        assert_eq!(pascal("self"), "Self_");
    }

    #[test]
    fn snake_names() {
        assert_eq!(snake("content-md5"), "content_md5");
        assert_eq!(snake("petType"), "pet_type");
        assert_eq!(snake("type"), "r#type");
        assert_eq!(snake("self"), "self_");
        assert_eq!(snake("1st"), "n_1st");
        assert_eq!(snake("with-dash"), "with_dash");
        assert_eq!(snake("upload_session_id"), "upload_session_id");
    }

    #[test]
    fn unique_names() {
        let mut u = Unique::default();
        assert_eq!(u.take("Foo"), "Foo");
        assert_eq!(u.take("Foo"), "Foo2");
        assert_eq!(u.take("V2"), "V2");
        assert_eq!(u.take("V2"), "V2_2");
    }
}
