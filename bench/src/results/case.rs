//! One case's measured data: each run's record, and the case's medians and spreads.

use serde::{Deserialize, Serialize};

use crate::defaults;
use crate::emulator::Traffic;
use crate::files::{human_size, GIB, MIB};
use crate::memory;
use crate::plan::{CaseSpec, Client};
use crate::profile;
use crate::stats::Spread;

/// One measured run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall time of the client process, start to exit.
    #[serde(deserialize_with = "f64_or_nan")]
    pub process_wall_s: f64,
    /// Time of the upload (or hashing) itself, measured inside the client around the call
    /// (the CLI: its process wall time).
    #[serde(deserialize_with = "f64_or_nan")]
    pub upload_s: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub user_s: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub sys_s: f64,
    /// user + sys of the client process.
    #[serde(deserialize_with = "f64_or_nan")]
    pub cpu_s: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub cpu_s_per_gib: f64,
    /// Peak RSS of the client process (GNU time's ru_maxrss, or VmHWM).
    #[serde(deserialize_with = "f64_or_nan")]
    pub max_rss_mib: f64,
    /// Peak RSS as the client saw it itself (VmHWM or getrusage), a cross-check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_max_rss_mib: Option<f64>,
    #[serde(deserialize_with = "f64_or_nan")]
    pub throughput_mib_s: f64,
    /// 1-minute load average when the run started (other work on the machine).
    #[serde(deserialize_with = "f64_or_nan")]
    pub load_avg_1m: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts_stored: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_requests: Option<u64>,
    /// Part size and concurrency the engine reported it used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_part_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_concurrency: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    /// The SDKs: CPU time spent inside the upload call, and the time to import the SDK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_call_cpu_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_s: Option<f64>,
    /// The engine: seconds from the start of the commit to the committed file (the server
    /// assembling the file from its parts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_s: Option<f64>,
    /// CPU seconds the emulator spent serving this run (it shares the machine's CPUs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_s: Option<f64>,
    /// The client's connections and requests per HTTP version, from the emulator's counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
}

/// NaN (a failed run's figures) is written to JSON as null; read it back as NaN.
fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A case with its runs and their median and spread (over successful runs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseResult {
    pub key: String,
    #[serde(default = "loopback")]
    pub profile: String,
    pub client: Client,
    pub client_label: String,
    pub size: u64,
    pub part_size: u64,
    pub part_size_forced: bool,
    /// The pinned concurrency (`None`: the client's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// Parts in flight, as the client reported it (the most over the runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts_in_flight: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_cap: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_bound_mib: Option<f64>,
    pub runs: Vec<RunRecord>,
    pub failures: usize,
    pub throughput_mib_s: Option<Spread>,
    pub upload_s: Option<Spread>,
    pub cpu_s: Option<Spread>,
    pub cpu_s_per_gib: Option<Spread>,
    pub max_rss_mib: Option<Spread>,
    pub server_cpu_s_per_gib: Option<Spread>,
    /// The connections and requests per HTTP version of a middle run (by connections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
}

fn loopback() -> String {
    profile::LOOPBACK.to_string()
}

impl RunRecord {
    /// A run that failed: `error` says why; every figure is NaN or absent.
    pub fn failed(error: String, load_avg_1m: f64) -> RunRecord {
        RunRecord {
            ok: false,
            error: Some(error),
            process_wall_s: f64::NAN,
            upload_s: f64::NAN,
            user_s: f64::NAN,
            sys_s: f64::NAN,
            cpu_s: f64::NAN,
            cpu_s_per_gib: f64::NAN,
            max_rss_mib: f64::NAN,
            self_max_rss_mib: None,
            throughput_mib_s: f64::NAN,
            load_avg_1m,
            parts_stored: None,
            part_requests: None,
            reported_part_size: None,
            reported_concurrency: None,
            retries: None,
            in_call_cpu_s: None,
            import_s: None,
            commit_s: None,
            server_cpu_s: None,
            traffic: None,
        }
    }
}

impl CaseResult {
    pub fn new(spec: &CaseSpec) -> Self {
        CaseResult {
            key: spec.key(),
            profile: spec.profile.to_string(),
            client: spec.client,
            client_label: spec.client.label().to_string(),
            size: spec.size,
            part_size: spec.effective_part_size(),
            part_size_forced: spec.part_size.is_some(),
            concurrency: spec.concurrency.filter(|_| spec.client.ours()),
            parts_in_flight: None,
            memory_cap: spec
                .client
                .ours()
                .then(|| spec.memory_cap.unwrap_or_else(defaults::engine_memory_cap)),
            rss_bound_mib: None,
            runs: Vec::new(),
            failures: 0,
            throughput_mib_s: None,
            upload_s: None,
            cpu_s: None,
            cpu_s_per_gib: None,
            max_rss_mib: None,
            server_cpu_s_per_gib: None,
            traffic: None,
        }
    }

    pub fn summarise(&mut self) {
        let ok: Vec<&RunRecord> = self.runs.iter().filter(|r| r.ok).collect();
        self.failures = self.runs.len() - ok.len();
        let of =
            |f: fn(&RunRecord) -> f64| Spread::of(&ok.iter().map(|r| f(r)).collect::<Vec<_>>());
        self.throughput_mib_s = of(|r| r.throughput_mib_s);
        self.upload_s = of(|r| r.upload_s);
        self.cpu_s = of(|r| r.cpu_s);
        self.cpu_s_per_gib = of(|r| r.cpu_s_per_gib);
        self.max_rss_mib = of(|r| r.max_rss_mib);
        self.parts_in_flight = ok.iter().filter_map(|r| r.reported_concurrency).max();
        let mut traffic: Vec<Traffic> = ok.iter().filter_map(|r| r.traffic).collect();
        traffic.sort_by_key(|t| (t.connections, t.http1 + t.http2));
        self.traffic = traffic.get(traffic.len() / 2).copied();
        if self.client.ours() {
            // The bound of the most parts the engine said it kept in flight, else of what it
            // was pinned to, else of the adaptive ceiling (the CLI does not report it), never
            // more than the file's parts.
            let parts = self.size.div_ceil(self.part_size).max(1);
            let in_flight = self
                .parts_in_flight
                .or(self.concurrency.map(|c| c as u64))
                .unwrap_or(defaults::engine_max_concurrency() as u64)
                .clamp(1, parts);
            let cap = self.memory_cap.unwrap_or_else(defaults::engine_memory_cap);
            let bound = memory::rss_bound(in_flight, self.part_size, parts, cap);
            self.rss_bound_mib = Some(bound as f64 / MIB as f64);
        }
        let gib = self.size as f64 / GIB as f64;
        self.server_cpu_s_per_gib = Spread::of(
            &ok.iter()
                .filter_map(|r| r.server_cpu_s.map(|c| c / gib))
                .collect::<Vec<_>>(),
        );
    }

    /// A case's name in tables and plots: the client, and a pinned concurrency.
    pub fn label(&self) -> String {
        match (self.client, self.concurrency) {
            (Client::Engine | Client::Cli, Some(n)) => format!("{} conc {n}", self.client.label()),
            _ => self.client.label().to_string(),
        }
    }

    /// The client, file, part size and a pinned concurrency, for notes.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} {} part {}",
            self.client.label(),
            human_size(self.size),
            human_size(self.part_size)
        );
        if let Some(n) = self.concurrency {
            s.push_str(&format!(" conc {n}"));
        }
        s
    }

    /// The highest peak RSS over the runs, MiB (0 when none was measured).
    pub fn worst_rss(&self) -> f64 {
        self.max_rss_mib.map_or(0.0, |s| s.max)
    }

    /// The median of an optional figure over the successful runs.
    pub fn spread_of(&self, f: impl Fn(&RunRecord) -> Option<f64>) -> Option<Spread> {
        Spread::of(
            &self
                .runs
                .iter()
                .filter(|r| r.ok)
                .filter_map(f)
                .collect::<Vec<_>>(),
        )
    }
}
