//! Path templates (`/files/{file_id}/content`), parsed once by `lower` into segments that both
//! the parameter check and the URL emitter read.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Text sent as it is.
    Literal(String),
    /// `{name}`: a path parameter, by its name on the wire.
    Param(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathTemplate {
    segments: Vec<Segment>,
}

/// Why a path is not a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// A `{` without its `}`.
    Unclosed,
    /// `{}`, or a `{` inside a parameter name.
    BadName(String),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Unclosed => f.write_str("has an unclosed `{`"),
            TemplateError::BadName(name) => write!(f, "has an invalid parameter `{{{name}}}`"),
        }
    }
}

impl PathTemplate {
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut segments = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            if start > 0 {
                segments.push(Segment::Literal(rest[..start].to_string()));
            }
            let after = &rest[start + 1..];
            let end = after.find('}').ok_or(TemplateError::Unclosed)?;
            let name = &after[..end];
            if name.is_empty() || name.contains('{') {
                return Err(TemplateError::BadName(name.to_string()));
            }
            segments.push(Segment::Param(name.to_string()));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest.to_string()));
        }
        Ok(PathTemplate { segments })
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The parameter names, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }
}

/// The template as the spec wrote it.
impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.segments {
            match s {
                Segment::Literal(text) => f.write_str(text)?,
                Segment::Param(name) => write!(f, "{{{name}}}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_literals_and_params() {
        let t = PathTemplate::parse("/files/{file_id}/versions/{v}").expect("parses");
        assert_eq!(
            t.segments(),
            [
                Segment::Literal("/files/".into()),
                Segment::Param("file_id".into()),
                Segment::Literal("/versions/".into()),
                Segment::Param("v".into()),
            ]
        );
        assert_eq!(t.params().collect::<Vec<_>>(), ["file_id", "v"]);
        assert_eq!(t.to_string(), "/files/{file_id}/versions/{v}");
    }

    #[test]
    fn rejects_broken_templates() {
        assert_eq!(PathTemplate::parse("/a/{id"), Err(TemplateError::Unclosed));
        assert_eq!(
            PathTemplate::parse("/a/{}"),
            Err(TemplateError::BadName(String::new()))
        );
        assert_eq!(
            PathTemplate::parse("/a/{x{y}"),
            Err(TemplateError::BadName("x{y".into()))
        );
    }

    #[test]
    fn a_stray_closing_brace_is_literal() {
        let t = PathTemplate::parse("/a}b").expect("parses");
        assert_eq!(t.segments(), [Segment::Literal("/a}b".into())]);
    }
}
