//! [`Secret`]: a string that never shows itself in `Debug` or `Display`.

use std::fmt;
use std::sync::Arc;

/// A credential (an access token, a client secret, a refresh token...) that never appears in
/// `Debug` or `Display` output. Generated models use it for fields the spec marks
/// `format: password`.
///
/// Serializing it writes the value itself: that is how it reaches the wire (a form body, a JSON
/// body). Cloning is cheap (the text is shared).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Keeps `value` out of `Debug` and `Display`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::from(value.into()))
    }

    /// The secret itself. Call sites are few and deliberate: the `authorization` header, a
    /// comparison with a rejected token, a request body.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("s3cr3t");
        let shown = format!("{secret:?} {secret} {:?}", Some(secret.clone()));
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn serde_round_trips_the_value() {
        let secret: Secret = serde_json::from_str("\"s3cr3t\"").expect("decodes");
        assert_eq!(secret.expose(), "s3cr3t");
        assert_eq!(
            serde_json::to_string(&secret).expect("encodes"),
            "\"s3cr3t\""
        );
    }
}
