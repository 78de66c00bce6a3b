//! The many-small-files case's figures, saved in `results.json` as `small_files`: the case's
//! settings and each client's run (or why it was skipped).

use serde::{Deserialize, Serialize};

use super::ClientRun;

/// The figures of the case, saved in `results.json` as `small_files`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SmallFiles {
    /// The command that measured them.
    pub command: String,
    pub date: String,
    pub files: u64,
    pub file_size: u64,
    /// `N/DUR` of the emulator's `rate-limit-uploads` and `rate-limit`.
    pub upload_limit: String,
    pub request_limit: String,
    /// Files a second the upload limit allows at most.
    pub ceiling_files_per_s: f64,
    pub max_429_fraction: f64,
    pub emulator_data_dir: String,
    pub load_average_at_start: String,
    pub load_average_at_end: String,
    pub duration_s: f64,
    pub clients: Vec<SmallClient>,
}

/// One client's run (or why it was skipped).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SmallClient {
    /// Who the client is and whether it ran (`key`: `engine`, `cli`, `boxsdk10`, `boxsdk3`); the same JSON object.
    #[serde(flatten)]
    pub run: ClientRun,
    /// Files that arrived intact / `upload_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio_to_ceiling: Option<f64>,
    /// API requests the emulator received (429s included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// 429s answered by the upload limit and by the request limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limited_uploads: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limited_requests: Option<u64>,
    /// Files the client says it uploaded, and the 429s it says it saw (the engine and CLI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uploaded: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_throttled: Option<u64>,
    /// Files in the folder afterwards, and of them those whose name, size and SHA-1 match a
    /// local file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_arrived: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_intact: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rss_mib: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_avg_1m: Option<f64>,
}

impl SmallClient {
    pub fn rate_limited(&self) -> Option<u64> {
        Some(self.rate_limited_uploads? + self.rate_limited_requests?)
    }

    /// 429s / requests.
    pub fn fraction_429(&self) -> Option<f64> {
        let r = self.requests?;
        (r > 0).then(|| self.rate_limited().unwrap_or(0) as f64 / r as f64)
    }

    /// Every file there, none other, each intact.
    pub fn all_intact(&self, files: u64) -> bool {
        self.files_arrived == Some(files) && self.files_intact == Some(files)
    }

    pub fn not_measured(key: &str, label: &str, how: &str, reason: String) -> SmallClient {
        SmallClient {
            run: ClientRun::not_measured(key, label, how, reason),
            ..SmallClient::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_and_intact() {
        let c = SmallClient {
            requests: Some(4000),
            rate_limited_uploads: Some(30),
            rate_limited_requests: Some(10),
            files_arrived: Some(2000),
            files_intact: Some(2000),
            ..SmallClient::default()
        };
        assert_eq!(c.rate_limited(), Some(40));
        assert!((c.fraction_429().unwrap() - 0.01).abs() < 1e-12);
        assert!(c.all_intact(2000));
        assert!(!c.all_intact(2001));
    }
}
