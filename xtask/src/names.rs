//! Spec names to Rust names: `File--Mini` -> `FileMini`, `content-md5` -> `content_md5`,
//! `type` -> `r#type`. Deterministic and total: every input gives a valid identifier.
//!
//! Names travel through the IR as [`RustIdent`] and [`TypeName`]: the plain text (`type`, for
//! docs, setters and serde renames) and, in one place, the token (`r#type` where it is a keyword).

use std::collections::BTreeSet;
use std::fmt;

use proc_macro2::{Ident, Span, TokenStream};
use quote::ToTokens;

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

/// `content-md5` -> `content_md5`, `petType` -> `pet_type`, `1st` -> `n_1st`. Returns the plain
/// text: a keyword stays `type` here and becomes `r#type` only as a token ([`RustIdent::ident`]).
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
    }
    out
}

/// The one place where a name becomes a token: raw (`r#type`) when the text is a keyword.
fn to_ident(text: &str) -> Ident {
    if KEYWORDS.contains(&text) {
        Ident::new_raw(text, Span::call_site())
    } else {
        Ident::new(text, Span::call_site())
    }
}

/// A snake_case name: a field, parameter, header or method. Holds the plain text (`type`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RustIdent(String);

impl RustIdent {
    /// `text` must come from [`snake`] (possibly made unique by [`Unique`]).
    pub fn new(text: impl Into<String>) -> Self {
        RustIdent(text.into())
    }

    /// The plain text, never `r#`: for docs, `with_*` setters and comparisons with JSON names.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identifier token.
    pub fn ident(&self) -> Ident {
        to_ident(&self.0)
    }

    /// `with_type`: a prefixed name is never a keyword, so never raw.
    pub fn prefixed(&self, prefix: &str) -> Ident {
        to_ident(&format!("{prefix}{}", self.0))
    }
}

/// A PascalCase name: a type or a variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeName(String);

impl TypeName {
    /// `text` must come from [`pascal`] (possibly made unique by [`Unique`], or suffixed).
    pub fn new(text: impl Into<String>) -> Self {
        TypeName(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn ident(&self) -> Ident {
        to_ident(&self.0)
    }

    /// `UploadPart` -> `UploadPartRequest`.
    pub fn suffixed(&self, suffix: &str) -> TypeName {
        TypeName(format!("{}{suffix}", self.0))
    }
}

macro_rules! name_traits {
    ($($t:ty),*) => {$(
        impl ToTokens for $t {
            fn to_tokens(&self, tokens: &mut TokenStream) {
                self.ident().to_tokens(tokens);
            }
        }

        /// The plain text, as a person reads it in docs and messages.
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

name_traits!(RustIdent, TypeName);

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
        assert_eq!(snake("type"), "type");
        assert_eq!(snake("self"), "self_");
        assert_eq!(snake("1st"), "n_1st");
        assert_eq!(snake("with-dash"), "with_dash");
        assert_eq!(snake("upload_session_id"), "upload_session_id");
    }

    #[test]
    fn keywords_become_raw_only_as_tokens() {
        let ty = RustIdent::new(snake("type"));
        assert_eq!(ty.as_str(), "type");
        assert_eq!(ty.ident().to_string(), "r#type");
        assert_eq!(ty.prefixed("with_").to_string(), "with_type");
        assert_eq!(RustIdent::new(snake("self")).ident().to_string(), "self_");
        assert_eq!(TypeName::new(pascal("self")).ident().to_string(), "Self_");
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
