//! What a client's row holds in every case that measures clients one by one (many small
//! files, a new version): who the client is, what was run, and whether and how long it ran.
//! Each case's row holds it flattened, beside the case's own figures, in one JSON object.

use serde::{Deserialize, Serialize};

/// A client's identity and outcome in one case.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientRun {
    /// The client's key in its case.
    pub key: String,
    pub label: String,
    /// What was run, for the report.
    pub how: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why the client was not measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Seconds of the upload, measured inside the client (the many-small-files case: the
    /// upload loop, the CLI's being its process's wall time; a new version: around the call).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_wall_s: Option<f64>,
}

impl ClientRun {
    /// A client about to run.
    pub fn new(key: &str, label: &str, how: &str, version: Option<String>) -> ClientRun {
        ClientRun {
            key: key.into(),
            label: label.into(),
            how: how.into(),
            version,
            ..ClientRun::default()
        }
    }

    /// A client that was not run, and why.
    pub fn not_measured(key: &str, label: &str, how: &str, reason: String) -> ClientRun {
        ClientRun {
            skipped: Some(reason),
            ..ClientRun::new(key, label, how, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::results::{ClientRun, SmallClient};

    #[test]
    fn flattened_into_the_row_json() {
        let c = SmallClient {
            run: ClientRun {
                ok: true,
                upload_s: Some(2.5),
                ..ClientRun::new("engine", "box-uploads", "upload_tree", None)
            },
            requests: Some(7),
            ..SmallClient::default()
        };
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["key"], "engine");
        assert_eq!(json["upload_s"], 2.5);
        assert_eq!(json["requests"], 7);
        assert!(json.get("run").is_none());
        assert!(json.get("version").is_none());
        let back: SmallClient = serde_json::from_str(
            r#"{"key":"cli","label":"l","how":"h","ok":true,"upload_s":3,"requests":4}"#,
        )
        .unwrap();
        assert_eq!(back.run.key, "cli");
        assert_eq!(back.run.upload_s, Some(3.0));
        assert_eq!(back.requests, Some(4));
    }
}
