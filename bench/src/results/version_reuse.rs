//! The one-changed-region new-version case's figures, saved in `results.json` as
//! `version_reuse`: the case's settings (file, changed region, profile) and each client's
//! version upload with the emulator's counters of it (or why it was skipped).

use serde::{Deserialize, Serialize};

use super::ClientRun;

const MIB: f64 = (1u64 << 20) as f64;

/// Client keys of the case, in the order they run.
pub const ENGINE_REUSE: &str = "engine-reuse";
pub const ENGINE_FULL: &str = "engine-full";
pub const BOXSDK10: &str = "boxsdk10";
pub const BOXSDK3: &str = "boxsdk3";

/// The figures of the case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionReuse {
    /// The command that measured them.
    pub command: String,
    pub date: String,
    /// The profile and the emulator's `--net` of it.
    pub profile: String,
    pub net: String,
    /// The profile's round trip, per-connection rate and link rate.
    pub rtt_ms: u64,
    pub conn_mib_s: f64,
    pub link_mib_s: f64,
    /// The file's size; the changed region's offset and length (changed in place).
    pub size: u64,
    pub changed_offset: u64,
    pub changed_len: u64,
    /// The session's part size, and the parts the changed region touches.
    pub part_size: u64,
    pub changed_parts: u64,
    pub emulator_data_dir: String,
    pub load_average_at_start: String,
    pub load_average_at_end: String,
    pub duration_s: f64,
    pub clients: Vec<VersionClient>,
}

/// One client's version upload (or why it was skipped).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VersionClient {
    /// Who the client is and whether it ran (`key`: `engine-reuse`, `engine-full`, `boxsdk10`, `boxsdk3`); the same JSON object.
    #[serde(flatten)]
    pub run: ClientRun,
    /// File content the emulator read from the client during the version upload
    /// (`file_bytes_received`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_sent: Option<u64>,
    /// Upload-part requests, plan requests, and the parts the plans answered as hits and misses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_requests: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_requests: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_hits: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_misses: Option<u64>,
    /// Parts (and their bytes) the commit took from the current version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts_reused: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_bytes_reused: Option<u64>,
    /// The engine: seconds from the start to its first reused part (the plan's answer), and
    /// from the start of its commit to the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_reused_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_s: Option<f64>,
    /// The machine's 1-minute load average when the version upload started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_avg_1m: Option<f64>,
    /// The stored version's SHA-1 equals the changed file's.
    pub intact: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rss_mib: Option<f64>,
}

/// `version_reuse` as saved: a list, or the one object of results of one profile.
pub fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<VersionReuse>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Saved {
        Many(Vec<VersionReuse>),
        One(Box<VersionReuse>),
    }
    Ok(match Saved::deserialize(d)? {
        Saved::Many(v) => v,
        Saved::One(v) => vec![*v],
    })
}

impl VersionReuse {
    /// A measured client's row (not skipped, finished intact).
    pub fn measured(&self, key: &str) -> Option<&VersionClient> {
        self.clients.iter().find(|c| {
            c.run.key == key && c.run.skipped.is_none() && c.run.ok && c.run.upload_s.is_some()
        })
    }

    /// A client's row, measured or not.
    pub fn client(&self, key: &str) -> Option<&VersionClient> {
        self.clients.iter().find(|c| c.run.key == key)
    }

    /// How many times faster the engine with reuse was than the client `key`.
    pub fn speedup_over(&self, key: &str) -> Option<f64> {
        let ours = self.measured(ENGINE_REUSE)?.run.upload_s?;
        let theirs = self.measured(key)?.run.upload_s?;
        (ours > 0.0).then(|| theirs / ours)
    }

    /// The least time a version upload can take here: the changed parts, each over one
    /// connection at `conn` (in parallel at best), and one round trip.
    pub fn least_reuse_s(&self) -> f64 {
        let per_part = self.part_size.min(self.size) as f64 / (self.conn_mib_s * MIB);
        per_part + self.rtt_ms as f64 / 1000.0
    }

    /// The least time a full upload can take here: the whole file at `link`.
    pub fn least_full_s(&self) -> f64 {
        self.size as f64 / (self.link_mib_s * MIB)
    }
}

impl VersionClient {
    pub fn not_measured(key: &str, label: &str, how: &str, reason: String) -> VersionClient {
        VersionClient {
            run: ClientRun::not_measured(key, label, how, reason),
            ..VersionClient::default()
        }
    }
}

/// The parts of `part_size` that the bytes `[offset, offset + len)` touch.
pub fn parts_touched(offset: u64, len: u64, part_size: u64) -> u64 {
    if len == 0 || part_size == 0 {
        return 0;
    }
    (offset + len - 1) / part_size - offset / part_size + 1
}

/// Hand-made figures for the tests of the targets and the report.
#[cfg(test)]
pub mod sample {
    use super::*;

    pub fn client(key: &str, upload_s: Option<f64>, ok: bool) -> VersionClient {
        VersionClient {
            run: ClientRun {
                key: key.into(),
                ok,
                upload_s,
                ..ClientRun::default()
            },
            ..VersionClient::default()
        }
    }

    pub fn case(clients: Vec<VersionClient>) -> VersionReuse {
        VersionReuse {
            command: "cargo xtask bench --version-reuse".into(),
            date: "today".into(),
            profile: "wan".into(),
            net: "rtt=40ms,conn=12MiB/s,link=120MiB/s".into(),
            rtt_ms: 40,
            conn_mib_s: 12.0,
            link_mib_s: 120.0,
            size: 1 << 30,
            changed_offset: (512 << 20) - (3 << 19),
            changed_len: 3 << 20,
            part_size: 32 << 20,
            changed_parts: 2,
            emulator_data_dir: "/dev/shm/x".into(),
            load_average_at_start: "0.1".into(),
            load_average_at_end: "0.2".into(),
            duration_s: 60.0,
            clients,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sample::{case, client};
    use super::*;

    #[test]
    fn speedup_needs_both_measured() {
        let v = case(vec![
            client(ENGINE_REUSE, Some(2.0), true),
            client(ENGINE_FULL, Some(20.0), true),
            client(BOXSDK10, Some(9.0), false),
        ]);
        assert_eq!(v.speedup_over(ENGINE_FULL), Some(10.0));
        assert_eq!(v.speedup_over(BOXSDK10), None, "a failed run is no figure");
        assert_eq!(v.speedup_over(BOXSDK3), None);
    }

    #[test]
    fn parts_touched_counts_straddling_regions() {
        let mib = 1 << 20;
        assert_eq!(parts_touched(512 * mib - 3 * mib / 2, 3 * mib, 32 * mib), 2);
        assert_eq!(parts_touched(512 * mib, 3 * mib, 32 * mib), 1);
        assert_eq!(parts_touched(0, 32 * mib, 32 * mib), 1);
        assert_eq!(parts_touched(0, 32 * mib + 1, 32 * mib), 2);
        assert_eq!(parts_touched(5, 0, 32 * mib), 0);
    }

    #[test]
    fn least_times_follow_the_profile() {
        let v = case(Vec::new());
        // 32 MiB at 12 MiB/s and a 40 ms round trip; 1 GiB at 120 MiB/s.
        assert!((v.least_reuse_s() - (32.0 / 12.0 + 0.04)).abs() < 1e-9);
        assert!((v.least_full_s() - 1024.0 / 120.0).abs() < 1e-9);
    }

    #[test]
    fn saved_as_one_object_or_a_list_and_merged_by_profile() {
        #[derive(Deserialize)]
        struct Saved {
            #[serde(deserialize_with = "one_or_many")]
            v: Vec<VersionReuse>,
        }
        let wan = case(Vec::new());
        let one = serde_json::json!({ "v": wan });
        let read: Saved = serde_json::from_value(one).unwrap();
        assert_eq!(read.v.len(), 1);
        let far = VersionReuse {
            profile: "far".into(),
            ..wan.clone()
        };
        let many = serde_json::json!({ "v": [wan, far] });
        let read: Saved = serde_json::from_value(many).unwrap();
        let profiles: Vec<&str> = read.v.iter().map(|v| v.profile.as_str()).collect();
        assert_eq!(profiles, ["wan", "far"]);

        let mut r = crate::results::fixture::results(Vec::new());
        r.version_reuse = vec![far.clone(), wan.clone()];
        let again = VersionReuse {
            duration_s: 99.0,
            ..far
        };
        r.merge_version_reuse(vec![again]);
        let merged: Vec<(&str, f64)> = r
            .version_reuse
            .iter()
            .map(|v| (v.profile.as_str(), v.duration_s))
            .collect();
        assert_eq!(merged, [("wan", wan.duration_s), ("far", 99.0)]);
    }
}
