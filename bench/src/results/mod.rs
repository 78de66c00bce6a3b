//! The measured data of a run, as saved in `results.json` and read back by `--from-json`: the
//! machine, every case with its runs, the groups that name them, the profiles, the many-small-
//! files case, the new version with one changed region and the codegen timings. The queries
//! the targets and the report share (a group, its best peer, the engine at its defaults) live
//! here too.

mod case;
mod client_run;
mod small_files;
pub mod version_reuse;

#[cfg(test)]
pub mod fixture;

pub use case::{CaseResult, RunRecord};
pub use client_run::ClientRun;
pub use small_files::{SmallClient, SmallFiles};
pub use version_reuse::{VersionClient, VersionReuse};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plan::{Client, Plan};
use crate::profile;
use crate::setup::{CodegenTiming, Machine, WholeApiTiming};

/// Everything a run measured. (`results.json` also holds the targets judged from it, beside
/// these fields: see `output`.)
#[derive(Debug, Serialize, Deserialize)]
pub struct Results {
    pub command: String,
    pub quick: bool,
    pub runs: usize,
    pub big_runs: usize,
    pub machine: Machine,
    pub load_average_at_end: String,
    pub measurement: String,
    pub emulator_data_dir: String,
    pub duration_s: f64,
    pub versions: BTreeMap<String, String>,
    pub headline_size: u64,
    pub sweep_part_size: u64,
    pub sweep_concurrency: usize,
    /// Case keys of each group, in order.
    pub groups: BTreeMap<String, Vec<String>>,
    pub cases: Vec<CaseResult>,
    pub codegen_check: Option<CodegenTiming>,
    pub notes: Vec<String>,
    /// The many-small-files case (absent from results of earlier versions of the bench).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub small_files: Option<SmallFiles>,
    /// The profiles measured (loopback: the groups `headline`, `size`...; a shaped profile:
    /// the group of its name). Absent from results of earlier versions: loopback only.
    #[serde(default)]
    pub profiles: Vec<ProfileRun>,
    /// `xtask codegen` on Box's whole published API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codegen_whole_api: Option<WholeApiTiming>,
    /// The new version with one changed region, one per profile it ran on (`--version-reuse`;
    /// absent from results of earlier versions of the bench, one object in those of one
    /// profile).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "version_reuse::one_or_many"
    )]
    pub version_reuse: Vec<VersionReuse>,
}

/// One profile of the run, as the report needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileRun {
    pub name: String,
    /// The emulator's `--net` (`None`: loopback, unshaped).
    pub net: Option<String>,
    pub rtt_ms: Option<u64>,
    pub conn_mib_s: Option<f64>,
    /// The physical limit, drawn on the profile's throughput plots.
    pub link_mib_s: Option<f64>,
    /// The file of the side-by-side comparison.
    pub size: u64,
    pub runs: usize,
    /// Runs of the sequential SDKs (fewer: they are the slow ones).
    pub slow_runs: usize,
    /// Why this size.
    pub size_reason: String,
    /// Over HTTPS (absent from results of earlier versions: plain HTTP).
    #[serde(default)]
    pub tls: bool,
}

impl Results {
    /// The profiles of this run; results of earlier versions were loopback only.
    pub fn profile_runs(&self) -> Vec<ProfileRun> {
        if self.profiles.is_empty() && !self.groups.is_empty() {
            return vec![ProfileRun {
                name: profile::LOOPBACK.into(),
                net: None,
                rtt_ms: None,
                conn_mib_s: None,
                link_mib_s: None,
                size: self.headline_size,
                runs: self.runs,
                slow_runs: self.runs,
                size_reason: String::new(),
                tls: false,
            }];
        }
        self.profiles.clone()
    }

    /// `fresh` new-version figures in place of the saved ones of the same profile.
    pub fn merge_version_reuse(&mut self, fresh: Vec<VersionReuse>) {
        self.version_reuse
            .retain(|v| !fresh.iter().any(|f| f.profile == v.profile));
        self.version_reuse.extend(fresh);
        // The order of the profiles (wan, then far).
        let rank = |v: &VersionReuse| profile::names().iter().position(|n| *n == v.profile);
        self.version_reuse.sort_by_key(rank);
    }

    pub fn has_loopback(&self) -> bool {
        self.profile_runs()
            .iter()
            .any(|p| p.name == profile::LOOPBACK)
    }

    pub fn case(&self, key: &str) -> Option<&CaseResult> {
        self.cases.iter().find(|c| c.key == key)
    }

    pub fn group(&self, name: &str) -> Vec<&CaseResult> {
        self.groups
            .get(name)
            .map(|keys| keys.iter().filter_map(|k| self.case(k)).collect())
            .unwrap_or_default()
    }

    /// The floor case of a file size.
    pub fn floor(&self, size: u64) -> Option<&CaseResult> {
        self.cases
            .iter()
            .find(|c| c.client == Client::Floor && c.size == size)
    }

    /// The machine's CPU count, when `nproc` gave one.
    pub fn cpus(&self) -> Option<f64> {
        self.machine.nproc.trim().parse().ok()
    }
}

impl ProfileRun {
    /// The profiles a plan runs, as the results record them.
    pub fn planned(plan: &Plan) -> Vec<ProfileRun> {
        let unshaped = |name: &str, size_reason: &str, tls: bool| ProfileRun {
            name: name.into(),
            net: None,
            rtt_ms: None,
            conn_mib_s: None,
            link_mib_s: None,
            size: plan.headline,
            runs: plan.runs,
            slow_runs: plan.runs,
            size_reason: size_reason.into(),
            tls,
        };
        let mut out = Vec::new();
        if plan.loopback {
            out.push(unshaped(
                profile::LOOPBACK,
                "the side-by-side file; the size sweep covers the others",
                false,
            ));
        }
        if plan.loopback_tls {
            out.push(unshaped(
                profile::LOOPBACK_TLS,
                "the side-by-side file over HTTPS",
                true,
            ));
        }
        for (p, size) in &plan.shaped {
            out.push(ProfileRun {
                name: p.name.into(),
                net: Some(p.net_spec()),
                rtt_ms: Some(p.rtt_ms),
                conn_mib_s: Some(p.conn_mib_s as f64),
                link_mib_s: Some(p.link_mib_s as f64),
                size: *size,
                runs: plan.runs,
                slow_runs: plan.slow_runs,
                size_reason: p.size_reason(*size),
                tls: p.tls,
            });
        }
        out
    }
}

/// The fastest peer of a group (median throughput), if any peer finished.
pub fn best_peer<'a>(cases: &[&'a CaseResult]) -> Option<(&'a CaseResult, f64)> {
    cases
        .iter()
        .filter(|c| c.client.peer())
        .filter_map(|c| c.throughput_mib_s.map(|t| (*c, t.median)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// The engine as a library at its default settings (not a pinned concurrency).
pub fn engine_default<'a>(cases: &[&'a CaseResult]) -> Option<&'a CaseResult> {
    cases
        .iter()
        .copied()
        .find(|c| c.client == Client::Engine && c.concurrency.is_none())
}

/// The CLI's case of a group.
pub fn cli<'a>(cases: &[&'a CaseResult]) -> Option<&'a CaseResult> {
    cases.iter().copied().find(|c| c.client == Client::Cli)
}
