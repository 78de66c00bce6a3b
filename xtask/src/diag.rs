//! Problems found in a spec, collected and reported together (serde_derive's `Ctxt` is the model):
//! one run of the generator lists every problem with its location instead of stopping at the first.

use std::fmt;

/// One problem, located by a JSON pointer into the spec (`/paths/~1files~1content/post`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "(document)"
        } else {
            &self.pointer
        };
        write!(f, "at {at}: {}", self.message)
    }
}

/// Every problem of one spec.
#[derive(Debug, Default, Clone)]
pub struct Problems {
    list: Vec<Problem>,
}

impl Problems {
    pub fn push(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.list.push(Problem {
            pointer: pointer.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn list(&self) -> &[Problem] {
        &self.list
    }

    /// Renders the report for `spec` (a path as the user gave it).
    pub fn report(&self, spec: &str) -> String {
        let mut out = format!(
            "error: {spec}: {} problem{} found\n",
            self.list.len(),
            if self.list.len() == 1 { "" } else { "s" }
        );
        for problem in &self.list {
            out.push_str(&format!("  - {problem}\n"));
        }
        out
    }
}

/// Escapes one JSON-pointer token (RFC 6901).
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// `base` + `/` + escaped `token`.
pub fn join(base: &str, token: &str) -> String {
    format!("{base}/{}", escape(token))
}

/// A `$ref` value (`#/components/schemas/X`) as a pointer (`/components/schemas/X`).
pub fn ref_pointer(reference: &str) -> Option<&str> {
    reference.strip_prefix('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_escape_slashes_and_tildes() {
        assert_eq!(join("/paths", "/files/{id}"), "/paths/~1files~1{id}");
        assert_eq!(escape("a~b"), "a~0b");
    }
}
