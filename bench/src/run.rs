//! The benchmark run: options, the plan of cases, running them against fresh emulators, and
//! handing the figures to the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::emulator::{self, Emulator};
use crate::files::{self, human_size, parse_size, GIB, MIB};
use crate::measure::{self, Cmd, Method};
use crate::memory;
use crate::profile::{self, Profile};
use crate::report;
use crate::setup::{self, CodegenTiming, Machine, NodeSdk, Paths, PythonSdk};
use crate::small;
use crate::stats::Spread;

const USAGE: &str = "usage: cargo xtask bench [OPTIONS]
       (= cargo run --release -p box-uploads-bench -- [OPTIONS])

Starts box-emulator on 127.0.0.1, generates test files under target/bench/files (once), and
measures this project's engine (library and box-upload CLI), Box's Python SDKs (boxsdk 10.x
upload_big_file in target/bench/venv; boxsdk 3.x's chunked uploader, 5 threads, in
target/bench/venv-boxsdk3), Box's Node SDK (box-node-sdk 10.x uploadBigFile, in
target/bench/node) and a two-pass SHA-1 floor, under the network profiles: loopback (no
shaping), wan (--net rtt=40ms,conn=12MiB/s,link=120MiB/s, a 1 GiB file) and far (--net
rtt=150ms,conn=4MiB/s,link=40MiB/s, a 256 MiB file). Writes results.json and SVG plots into
bench/results/ and the report BENCHMARKS.md at the workspace root.

  --profile NAME        run only this profile: loopback, wan or far (repeatable; default all)
  --profile-size NAME=SIZE
                        the file of a shaped profile (default wan=1GiB, far=256MiB;
                        --quick: 64MiB each)
  --slow-runs N         runs of the sequential SDKs (boxsdk 10, box-node-sdk) on shaped
                        profiles (default 1: their time is the profile's conn rate)
  --plan                print the cases and an estimate of the duration; measure nothing
  --quick               small files (loopback 64 and 128 MiB; see --profile-size), one run
                        each, 100 small files, output under target/bench/quick/ (a smoke test)
  --runs N              runs of each case (default 3; --quick: 1)
  --big-runs N          runs of each case on files over 1 GiB (default: as --runs)
  --headline-size SIZE  the loopback file of the side-by-side comparison (default 1GiB)
  --sizes LIST          file sizes of the loopback size sweep (default 64MiB,256MiB,1GiB,4GiB)
  --concurrency LIST    loopback concurrency sweep of the engine (default 1,2,4,8)
  --part-sizes LIST     loopback part-size sweep of the engine (default 8MiB,32MiB,64MiB)
  --sdk-max-size SIZE   largest file given to Box's SDKs in the size sweep (default 4GiB)
  --skip-cli            do not measure the box-upload CLI
  --skip-boxsdk         do not measure boxsdk 10.x
  --skip-node           do not measure Box's Node SDK
  --skip-boxsdk3        do not measure boxsdk 3.x (chunked uploader, and on small files)
  --skip-codegen        do not time `xtask codegen` (our spec, and Box's whole API)
  --small-files         run only the many-small-files case (2,000 x 64 KiB under
                        rate-limit-uploads=20/1s and rate-limit=80/1s; part of the full run
                        with the loopback profile) and merge its figures into the existing
                        results.json and report
  --small-files-count N files of that case (default 2000; --quick: 100)
  --out DIR             where results.json and the SVGs go (default bench/results)
  --report FILE         the Markdown report (default BENCHMARKS.md)
  --emulator-data DIR   the emulator's data directory, emptied before every run (default: a
                        directory in /dev/shm when it has room for the largest upload twice,
                        else target/bench/emulator-data)
  --from-json FILE      measure nothing: rewrite the report and plots from an earlier
                        results.json (into its directory, unless --out)
  -h, --help            this help

Needs: python3 with venv and pip (PyPI), npm and node (npm registry; else the Node column is
skipped), and preferably GNU time (`apt-get install time`) for exact CPU and peak-RSS figures
(without it the bench polls /proc).";

/// Which client a case measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Client {
    Floor,
    Engine,
    Cli,
    Boxsdk,
    /// boxsdk 3.x's chunked uploader (its default 5 threads).
    Boxsdk3,
    Node,
}

impl Client {
    pub fn label(self) -> &'static str {
        match self {
            Client::Floor => "SHA-1 x2 floor",
            Client::Engine => "box-uploads (library)",
            Client::Cli => "box-upload CLI",
            Client::Boxsdk => "boxsdk (Python)",
            Client::Boxsdk3 => "boxsdk 3 chunked (Python)",
            Client::Node => "box-node-sdk",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            Client::Floor => "floor",
            Client::Engine => "engine",
            Client::Cli => "cli",
            Client::Boxsdk => "boxsdk",
            Client::Boxsdk3 => "boxsdk3",
            Client::Node => "node",
        }
    }

    /// This project's engine (library or CLI): its memory bound and settings apply.
    pub fn ours(self) -> bool {
        matches!(self, Client::Engine | Client::Cli)
    }

    /// Another project's uploader, the competition of the targets.
    pub fn peer(self) -> bool {
        matches!(self, Client::Boxsdk | Client::Boxsdk3 | Client::Node)
    }

    /// Uploads one part at a time: its time is the profile's `conn` rate, so it gets fewer
    /// runs on shaped profiles.
    pub fn sequential(self) -> bool {
        matches!(self, Client::Boxsdk | Client::Node)
    }
}

/// One case: a client, a file, and the settings.
#[derive(Debug, Clone)]
pub struct CaseSpec {
    /// [`profile::LOOPBACK`] or a shaped profile's name.
    pub profile: &'static str,
    pub client: Client,
    pub size: u64,
    /// Part size forced on the emulator (`--part-size`); `None`: the emulator's default.
    pub part_size: Option<u64>,
    /// Engine concurrency, pinned; `None`: the engine's default (adaptive).
    pub concurrency: Option<usize>,
    /// Engine memory cap; `None`: the engine's default.
    pub memory_cap: Option<u64>,
    pub runs: usize,
}

/// The concurrency the loopback sweeps vary around (and pin, so the sweeps measure what they
/// say).
pub const ENGINE_DEFAULT_CONCURRENCY: usize = 4;
/// The engine's default `memory_cap`, which the sweeps raise where it would lower their
/// concurrency.
pub const ENGINE_DEFAULT_MEMORY_CAP: u64 = 256 * MIB;

/// The emulator's part size: `--part-size` if set, else 8 MiB, 32 MiB from 512 MiB, doubled
/// while a file would need more than 10,000 parts.
pub fn emulator_part_size(size: u64, fixed: Option<u64>) -> u64 {
    if let Some(p) = fixed {
        return p;
    }
    let mut p = if size >= 512 * MIB { 32 * MIB } else { 8 * MIB };
    while size.div_ceil(p) > 10_000 {
        p *= 2;
    }
    p
}

impl CaseSpec {
    pub fn effective_part_size(&self) -> u64 {
        emulator_part_size(self.size, self.part_size)
    }

    /// `auto` (the engine's default), the pinned number, or `-` for the other clients.
    fn concurrency_label(&self) -> String {
        match (self.client.ours(), self.concurrency) {
            (false, _) => "-".into(),
            (true, None) => "auto".into(),
            (true, Some(c)) => c.to_string(),
        }
    }

    /// Cases with the same key measure the same thing; a sweep reuses earlier figures.
    pub fn key(&self) -> String {
        let key = format!(
            "{}/{}/part={}/conc={}",
            self.client.short(),
            self.size,
            self.effective_part_size(),
            self.concurrency_label()
        );
        if self.profile == profile::LOOPBACK {
            key
        } else {
            format!("{}/{key}", self.profile)
        }
    }

    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} {} {} part {}",
            self.profile,
            self.client.short(),
            human_size(self.size),
            human_size(self.effective_part_size())
        );
        if self.client.ours() {
            s.push_str(&format!(" conc {}", self.concurrency_label()));
        }
        s
    }
}

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
}

fn loopback() -> String {
    profile::LOOPBACK.to_string()
}

impl CaseResult {
    fn new(spec: &CaseSpec) -> Self {
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
                .then(|| spec.memory_cap.unwrap_or(ENGINE_DEFAULT_MEMORY_CAP)),
            rss_bound_mib: None,
            runs: Vec::new(),
            failures: 0,
            throughput_mib_s: None,
            upload_s: None,
            cpu_s: None,
            cpu_s_per_gib: None,
            max_rss_mib: None,
            server_cpu_s_per_gib: None,
        }
    }

    fn summarise(&mut self) {
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
        if self.client.ours() {
            // The bound of the most parts the engine said it kept in flight, else of what it
            // was pinned to, else of the adaptive ceiling (the CLI does not report it), never
            // more than the file's parts.
            let parts = self.size.div_ceil(self.part_size).max(1);
            let in_flight = self
                .parts_in_flight
                .or(self.concurrency.map(|c| c as u64))
                .unwrap_or(box_uploads::upload::Concurrency::DEFAULT_MAX as u64)
                .clamp(1, parts);
            self.rss_bound_mib =
                Some(memory::rss_bound(in_flight, self.part_size) as f64 / MIB as f64);
        }
        let gib = self.size as f64 / GIB as f64;
        self.server_cpu_s_per_gib = Spread::of(
            &ok.iter()
                .filter_map(|r| r.server_cpu_s.map(|c| c / gib))
                .collect::<Vec<_>>(),
        );
    }
}

/// Everything the report needs.
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
    pub targets: Vec<report::Target>,
    /// The many-small-files case (absent from results of earlier versions of the bench).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub small_files: Option<small::SmallFiles>,
    /// The profiles measured (loopback: the groups `headline`, `size`...; a shaped profile:
    /// the group of its name). Absent from results of earlier versions: loopback only.
    #[serde(default)]
    pub profiles: Vec<ProfileRun>,
    /// `xtask codegen` on Box's whole published API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codegen_whole_api: Option<setup::WholeApiTiming>,
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
            }];
        }
        self.profiles.clone()
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
}

struct Options {
    quick: bool,
    runs: Option<usize>,
    big_runs: Option<usize>,
    headline: Option<u64>,
    sizes: Option<Vec<u64>>,
    concurrencies: Option<Vec<usize>>,
    part_sizes: Option<Vec<u64>>,
    sdk_max_size: u64,
    skip_cli: bool,
    skip_boxsdk: bool,
    skip_node: bool,
    skip_boxsdk3: bool,
    skip_codegen: bool,
    small_files: bool,
    small_files_count: u64,
    out: Option<PathBuf>,
    report: Option<PathBuf>,
    emulator_data: Option<PathBuf>,
    from_json: Option<PathBuf>,
    /// `--profile`, in the order given; empty: every profile.
    profiles: Vec<&'static str>,
    profile_sizes: BTreeMap<&'static str, u64>,
    slow_runs: Option<usize>,
    small_files_count_set: bool,
    /// `--plan`: print the cases and an estimate of the duration, measure nothing.
    plan_only: bool,
}

fn list<T>(s: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| parse(p.trim()))
        .collect()
}

impl Options {
    /// `None` for `--help`.
    fn parse(args: &[String]) -> Result<Option<Options>, String> {
        let mut o = Options {
            quick: false,
            runs: None,
            big_runs: None,
            headline: None,
            sizes: None,
            concurrencies: None,
            part_sizes: None,
            sdk_max_size: 4 * GIB,
            skip_cli: false,
            skip_boxsdk: false,
            skip_node: false,
            skip_boxsdk3: false,
            skip_codegen: false,
            small_files: false,
            small_files_count: small::FILES,
            out: None,
            report: None,
            emulator_data: None,
            from_json: None,
            profiles: Vec::new(),
            profile_sizes: BTreeMap::new(),
            slow_runs: None,
            small_files_count_set: false,
            plan_only: false,
        };
        let profile_name = |v: &str| -> Result<&'static str, String> {
            profile::names()
                .into_iter()
                .find(|n| *n == v)
                .ok_or_else(|| format!("unknown profile {v:?} ({})", profile::names().join(", ")))
        };
        let mut iter = args.iter();
        let count = |v: &str| -> Result<usize, String> {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("expected a positive number, got {v:?}"))
        };
        while let Some(arg) = iter.next() {
            let mut value = || {
                iter.next()
                    .cloned()
                    .ok_or_else(|| format!("{arg} needs a value\n\n{USAGE}"))
            };
            match arg.as_str() {
                "-h" | "--help" => {
                    println!("{USAGE}");
                    return Ok(None);
                }
                "--quick" => o.quick = true,
                "--runs" => o.runs = Some(count(&value()?)?),
                "--big-runs" => o.big_runs = Some(count(&value()?)?),
                "--headline-size" => o.headline = Some(parse_size(&value()?)?),
                "--sizes" => o.sizes = Some(list(&value()?, parse_size)?),
                "--concurrency" => o.concurrencies = Some(list(&value()?, count)?),
                "--part-sizes" => o.part_sizes = Some(list(&value()?, parse_size)?),
                "--sdk-max-size" => o.sdk_max_size = parse_size(&value()?)?,
                "--skip-cli" => o.skip_cli = true,
                "--skip-boxsdk" => o.skip_boxsdk = true,
                "--skip-node" => o.skip_node = true,
                "--skip-boxsdk3" => o.skip_boxsdk3 = true,
                "--skip-codegen" => o.skip_codegen = true,
                "--small-files" => o.small_files = true,
                "--small-files-count" => {
                    o.small_files_count = count(&value()?)? as u64;
                    o.small_files_count_set = true;
                }
                "--profile" => {
                    let name = profile_name(&value()?)?;
                    if !o.profiles.contains(&name) {
                        o.profiles.push(name);
                    }
                }
                "--profile-size" => {
                    let v = value()?;
                    let (name, size) = v
                        .split_once('=')
                        .ok_or_else(|| format!("--profile-size takes NAME=SIZE, got {v:?}"))?;
                    let name = profile_name(name)?;
                    if name == profile::LOOPBACK {
                        return Err("loopback's size is --headline-size".into());
                    }
                    o.profile_sizes.insert(name, parse_size(size)?);
                }
                "--slow-runs" => o.slow_runs = Some(count(&value()?)?),
                "--plan" => o.plan_only = true,
                "--out" => o.out = Some(PathBuf::from(value()?)),
                "--report" => o.report = Some(PathBuf::from(value()?)),
                "--emulator-data" => o.emulator_data = Some(PathBuf::from(value()?)),
                "--from-json" => o.from_json = Some(PathBuf::from(value()?)),
                other => return Err(format!("unknown option {other:?}\n\n{USAGE}")),
            }
        }
        if o.quick && !o.small_files_count_set {
            o.small_files_count = small::QUICK_FILES;
        }
        Ok(Some(o))
    }

    fn wants(&self, profile: &str) -> bool {
        self.profiles.is_empty() || self.profiles.contains(&profile)
    }
}

/// What to run.
struct Plan {
    headline: u64,
    sizes: Vec<u64>,
    concurrencies: Vec<usize>,
    part_sizes: Vec<u64>,
    sweep_part: u64,
    sweep_conc: usize,
    runs: usize,
    big_runs: usize,
    sdk_max_size: u64,
    /// Whether the loopback groups run.
    loopback: bool,
    /// The shaped profiles to run, each with its file size.
    shaped: Vec<(Profile, u64)>,
    /// Runs of the sequential SDKs on shaped profiles.
    slow_runs: usize,
}

impl Plan {
    fn new(o: &Options) -> Plan {
        let (headline, sizes, concurrencies, part_sizes, sweep_part) = if o.quick {
            (
                128 * MIB,
                vec![64 * MIB, 128 * MIB],
                vec![1, 4],
                vec![8 * MIB, 32 * MIB],
                8 * MIB,
            )
        } else {
            (
                GIB,
                vec![64 * MIB, 256 * MIB, GIB, 4 * GIB],
                vec![1, 2, 4, 8],
                vec![8 * MIB, 32 * MIB, 64 * MIB],
                32 * MIB,
            )
        };
        let headline = o.headline.unwrap_or(headline);
        let runs = o.runs.unwrap_or(if o.quick { 1 } else { 3 });
        Plan {
            headline,
            sizes: o.sizes.clone().unwrap_or(sizes),
            concurrencies: o.concurrencies.clone().unwrap_or(concurrencies),
            part_sizes: o.part_sizes.clone().unwrap_or(part_sizes),
            sweep_part: if o.headline.is_some() {
                emulator_part_size(headline, None)
            } else {
                sweep_part
            },
            sweep_conc: ENGINE_DEFAULT_CONCURRENCY,
            runs,
            big_runs: o.big_runs.unwrap_or(runs),
            sdk_max_size: o.sdk_max_size,
            loopback: o.wants(profile::LOOPBACK),
            shaped: profile::SHAPED
                .iter()
                .filter(|p| o.wants(p.name))
                .map(|p| {
                    let size = o.profile_sizes.get(p.name).copied().unwrap_or(if o.quick {
                        p.quick_size
                    } else {
                        p.size
                    });
                    (*p, size)
                })
                .collect(),
            slow_runs: o.slow_runs.unwrap_or(1),
        }
    }

    /// Sizes of the loopback groups.
    fn loopback_sizes(&self) -> Vec<u64> {
        if !self.loopback {
            return Vec::new();
        }
        let mut s = self.sizes.clone();
        s.push(self.headline);
        s.sort_unstable();
        s.dedup();
        s
    }

    fn runs_for(&self, size: u64) -> usize {
        if size > GIB {
            self.big_runs
        } else {
            self.runs
        }
    }

    /// The profiles of this run, for the results.
    fn profile_runs(&self) -> Vec<ProfileRun> {
        let mut out = Vec::new();
        if self.loopback {
            out.push(ProfileRun {
                name: profile::LOOPBACK.into(),
                net: None,
                rtt_ms: None,
                conn_mib_s: None,
                link_mib_s: None,
                size: self.headline,
                runs: self.runs,
                slow_runs: self.runs,
                size_reason: "the side-by-side file; the size sweep covers the others".into(),
            });
        }
        for (p, size) in &self.shaped {
            out.push(ProfileRun {
                name: p.name.into(),
                net: Some(p.net_spec()),
                rtt_ms: Some(p.rtt_ms),
                conn_mib_s: Some(p.conn_mib_s as f64),
                link_mib_s: Some(p.link_mib_s as f64),
                size: *size,
                runs: self.runs,
                slow_runs: self.slow_runs,
                size_reason: p.size_reason(*size),
            });
        }
        out
    }

    /// Every file the run uploads.
    fn all_sizes(&self) -> Vec<u64> {
        let mut s = self.loopback_sizes();
        s.extend(self.shaped.iter().map(|(_, size)| *size));
        s.sort_unstable();
        s.dedup();
        s
    }

    fn case(&self, client: Client, size: u64) -> CaseSpec {
        CaseSpec {
            profile: profile::LOOPBACK,
            client,
            size,
            part_size: None,
            concurrency: None,
            memory_cap: None,
            runs: self.runs_for(size),
        }
    }
}

/// The tools the run found.
struct Tools {
    method: Method,
    exe: PathBuf,
    emulator: PathBuf,
    cli: Option<PathBuf>,
    /// boxsdk 3.x's upload script and the venv's python.
    boxsdk3_upload: Option<(PathBuf, PathBuf)>,
    python: Option<PythonSdk>,
    node: Option<NodeSdk>,
}

struct Runner {
    paths: Paths,
    emulator_data: PathBuf,
    tools: Tools,
    files: BTreeMap<u64, PathBuf>,
    expected_sha1: BTreeMap<u64, String>,
    results: BTreeMap<String, CaseResult>,
    order: Vec<String>,
    counter: usize,
    total: usize,
}

pub fn main(args: &[String]) -> Result<(), String> {
    let Some(opts) = Options::parse(args)? else {
        return Ok(());
    };
    let started = Instant::now();
    let paths = Paths::discover();
    if let Some(json) = &opts.from_json {
        return rewrite_report(&paths, &opts, json);
    }
    if opts.small_files {
        return small_files_only(&paths, &opts, args);
    }
    let plan = Plan::new(&opts);
    if opts.plan_only {
        return print_plan(&plan, &opts);
    }
    std::fs::create_dir_all(&paths.work)
        .map_err(|e| format!("cannot create {}: {e}", paths.work.display()))?;
    let (out_dir, report_path) = output_paths(&paths, &opts);
    let machine = setup::machine(&paths);
    let method = Method::detect();
    let mut notes = Vec::new();
    if !matches!(method, Method::GnuTime) {
        notes.push(
            "GNU time was not found (`apt-get install time`): CPU and peak RSS were read by \
             polling /proc."
                .to_string(),
        );
    }
    let mut versions = BTreeMap::new();
    let emulator = setup::build_emulator(&paths)?;
    let cli = if opts.skip_cli {
        notes.push("The box-upload CLI was not measured (--skip-cli).".into());
        None
    } else {
        match setup::build_cli(&paths) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("warning: {e}");
                notes.push(format!(
                    "The box-upload CLI could not be built, so it was not measured: {}",
                    first_line(&e)
                ));
                None
            }
        }
    };
    let python = if opts.skip_boxsdk {
        notes.push("Box's Python SDK was not measured (--skip-boxsdk).".into());
        None
    } else {
        match setup::python_sdk(&paths) {
            Ok(p) => {
                versions.insert("boxsdk".into(), p.version.clone());
                versions.insert("python".into(), p.python_version.clone());
                Some(p)
            }
            Err(e) => {
                eprintln!("warning: {e}");
                notes.push(format!(
                    "Box's Python SDK could not be installed, so it was not measured: {}",
                    first_line(&e)
                ));
                None
            }
        }
    };
    let node = if opts.skip_node {
        notes.push("Box's Node SDK was not measured (--skip-node).".into());
        None
    } else {
        match setup::node_sdk(&paths) {
            Ok(n) => {
                versions.insert("box-node-sdk".into(), n.version.clone());
                versions.insert("node".into(), n.node_version.clone());
                Some(n)
            }
            Err(e) => {
                eprintln!("warning: {e}");
                notes.push(format!(
                    "Box's Node SDK could not be installed, so it was not measured: {}",
                    first_line(&e)
                ));
                None
            }
        }
    };
    let boxsdk3 = boxsdk3_sdk(&paths, &opts, &mut versions);
    let boxsdk3_upload = match &boxsdk3 {
        Ok(_) => setup::boxsdk3_upload_script(&paths).map_err(|e| {
            eprintln!("warning: {e}");
            first_line(&e).to_string()
        }),
        Err(e) => Err(e.clone()),
    };
    if let Err(e) = &boxsdk3_upload {
        notes.push(format!(
            "boxsdk 3.x's chunked uploader was not measured: {e}"
        ));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the bench binary: {e}"))?;
    let tools = Tools {
        method,
        exe,
        emulator,
        cli,
        boxsdk3_upload: boxsdk3_upload
            .ok()
            .zip(boxsdk3.as_ref().ok().map(|p| p.python.clone())),
        python,
        node,
    };

    eprintln!("test files under {}:", paths.work.join("files").display());
    let mut file_paths = BTreeMap::new();
    for size in plan.all_sizes() {
        file_paths.insert(size, files::ensure(&paths.work.join("files"), size)?);
    }
    let _ = std::fs::write(paths.work.join("emulator.log"), "");
    std::fs::create_dir_all(paths.work.join("scratch")).map_err(|e| e.to_string())?;

    let available = |c: Client| match c {
        Client::Floor | Client::Engine => true,
        Client::Cli => tools.cli.is_some(),
        Client::Boxsdk => tools.python.is_some(),
        Client::Boxsdk3 => tools.boxsdk3_upload.is_some(),
        Client::Node => tools.node.is_some(),
    };
    let uploaders: Vec<Client> = CLIENTS.into_iter().filter(|c| available(*c)).collect();

    // The groups of cases.
    let mut groups: Vec<(String, Vec<CaseSpec>)> = Vec::new();
    if plan.loopback {
        groups.extend(loopback_groups(&plan, &uploaders));
    }
    for (p, size) in &plan.shaped {
        groups.push((
            p.name.to_string(),
            shaped_group(&plan, p, *size, &uploaders),
        ));
    }

    let max_size = plan.all_sizes().last().copied().unwrap_or(GIB);
    let emulator_data = opts
        .emulator_data
        .clone()
        .unwrap_or_else(|| default_emulator_data(&paths, max_size));
    eprintln!("emulator data directory: {}", emulator_data.display());
    let mut runner = Runner {
        emulator_data: emulator_data.clone(),
        paths,
        tools,
        files: file_paths,
        expected_sha1: BTreeMap::new(),
        results: BTreeMap::new(),
        order: Vec::new(),
        counter: 0,
        total: 0,
    };
    {
        let mut seen = std::collections::BTreeSet::new();
        for (_, cases) in &groups {
            for c in cases {
                if seen.insert(c.key()) {
                    runner.total += c.runs;
                }
            }
        }
    }
    eprintln!(
        "{} measured runs; CPU and RSS by {}",
        runner.total,
        runner.tools.method.describe()
    );
    runner.warm_up(&uploaders, plan.all_sizes()[0]);
    let mut group_keys = BTreeMap::new();
    for (name, cases) in &groups {
        eprintln!("== {name}");
        runner.run_group(cases);
        group_keys.insert(name.to_string(), cases.iter().map(CaseSpec::key).collect());
    }

    // A loopback case: it runs with the loopback profile.
    let small_files = if !plan.loopback {
        None
    } else {
        let ctx = small::Context {
            paths: &runner.paths,
            method: runner.tools.method,
            exe: &runner.tools.exe,
            emulator: &runner.tools.emulator,
            emulator_data: &runner.emulator_data,
            cli: runner
                .tools
                .cli
                .as_deref()
                .ok_or_else(|| "not built or --skip-cli".to_string()),
            boxsdk10: runner
                .tools
                .python
                .as_ref()
                .ok_or_else(|| "not installed or --skip-boxsdk".to_string()),
            boxsdk3: boxsdk3.as_ref().map_err(String::clone),
            files: opts.small_files_count,
            command: command_of(args),
        };
        match small::run(&ctx) {
            Ok(s) => Some(s),
            Err(e) => {
                notes.push(format!("The many-small-files case could not run: {e}"));
                None
            }
        }
    };

    let codegen_runs = if opts.quick { 2 } else { 5 };
    let (codegen_check, codegen_whole_api) = if opts.skip_codegen {
        (None, None)
    } else {
        (
            Some(setup::codegen_timing(&runner.paths, codegen_runs)),
            Some(setup::whole_api_timing(&runner.paths, codegen_runs)),
        )
    };

    let cases: Vec<CaseResult> = runner
        .order
        .iter()
        .filter_map(|k| runner.results.get(k).cloned())
        .collect();
    let mut results = Results {
        command: command_of(args),
        quick: opts.quick,
        runs: plan.runs,
        big_runs: plan.runs_for(u64::MAX),
        machine,
        load_average_at_end: setup::load_average(),
        measurement: runner.tools.method.describe(),
        emulator_data_dir: emulator_data.display().to_string(),
        duration_s: started.elapsed().as_secs_f64(),
        versions,
        headline_size: plan.headline,
        sweep_part_size: plan.sweep_part,
        sweep_concurrency: plan.sweep_conc,
        groups: group_keys,
        cases,
        codegen_check,
        notes,
        targets: Vec::new(),
        small_files,
        profiles: plan.profile_runs(),
        codegen_whole_api,
    };
    results.targets = report::targets(&results);
    report::write(&results, &out_dir, &report_path)?;
    eprintln!(
        "done in {:.0} s: {} and {}",
        results.duration_s,
        report_path.display(),
        out_dir.join("results.json").display()
    );
    for t in &results.targets {
        eprintln!("  {:<8} {}: {}", t.status.word(), t.name, t.measured);
    }
    Ok(())
}

/// Every uploader, in the order of the tables.
pub const CLIENTS: [Client; 5] = [
    Client::Engine,
    Client::Cli,
    Client::Boxsdk3,
    Client::Boxsdk,
    Client::Node,
];

/// The loopback groups: the floor, the side-by-side headline file, the size sweep and the
/// engine's concurrency and part-size sweeps.
fn loopback_groups(plan: &Plan, uploaders: &[Client]) -> Vec<(String, Vec<CaseSpec>)> {
    let mut groups = Vec::new();
    // The floor is cheap and, being a floor, worth a steadier median: two more runs.
    let floor_case = |size: u64| {
        let mut c = plan.case(Client::Floor, size);
        c.runs += 2;
        c
    };
    groups.push((
        "floor".to_string(),
        plan.loopback_sizes().into_iter().map(floor_case).collect(),
    ));
    groups.push((
        "headline".to_string(),
        std::iter::once(floor_case(plan.headline))
            .chain(uploaders.iter().map(|&c| plan.case(c, plan.headline)))
            .collect(),
    ));
    let mut size_cases = Vec::new();
    for &size in &plan.sizes {
        size_cases.push(floor_case(size));
        for &c in uploaders {
            if c.ours() || size <= plan.sdk_max_size {
                size_cases.push(plan.case(c, size));
            }
        }
    }
    groups.push(("size".to_string(), size_cases));
    groups.push((
        "concurrency".to_string(),
        plan.concurrencies
            .iter()
            .map(|&c| CaseSpec {
                part_size: Some(plan.sweep_part),
                concurrency: Some(c),
                memory_cap: Some(ENGINE_DEFAULT_MEMORY_CAP.max((c as u64 + 1) * plan.sweep_part)),
                ..plan.case(Client::Engine, plan.headline)
            })
            .collect(),
    ));
    groups.push((
        "part_size".to_string(),
        plan.part_sizes
            .iter()
            .map(|&p| CaseSpec {
                part_size: Some(p),
                concurrency: Some(plan.sweep_conc),
                memory_cap: Some(ENGINE_DEFAULT_MEMORY_CAP.max((plan.sweep_conc as u64 + 1) * p)),
                ..plan.case(Client::Engine, plan.headline)
            })
            .collect(),
    ));
    groups
}

/// A shaped profile's one group: every uploader at its defaults on the profile's file, and the
/// engine pinned at 4 parts in flight (the old default) to show what adaptivity buys. The
/// sequential SDKs run `slow_runs` times.
fn shaped_group(plan: &Plan, p: &Profile, size: u64, uploaders: &[Client]) -> Vec<CaseSpec> {
    let runs = |c: Client| {
        if c.sequential() {
            plan.slow_runs
        } else {
            plan.runs
        }
    };
    let mut cases = Vec::new();
    for &c in uploaders {
        cases.push(CaseSpec {
            profile: p.name,
            runs: runs(c),
            ..plan.case(c, size)
        });
        if c == Client::Engine {
            cases.push(CaseSpec {
                profile: p.name,
                concurrency: Some(PINNED_CONCURRENCY),
                runs: plan.runs,
                ..plan.case(c, size)
            });
        }
    }
    cases
}

/// The pinned concurrency measured beside the adaptive default on shaped profiles.
pub const PINNED_CONCURRENCY: usize = 4;

/// `--plan`: the cases of the run and an estimate of its duration, from rough rates of each
/// client (loopback: as measured on the 2-core machine of BENCHMARKS.md; shaped: what the
/// profile allows a client of its parallelism).
fn print_plan(plan: &Plan, opts: &Options) -> Result<(), String> {
    let mut uploaders: Vec<Client> = CLIENTS.to_vec();
    uploaders.retain(|c| match c {
        Client::Cli => !opts.skip_cli,
        Client::Boxsdk => !opts.skip_boxsdk,
        Client::Boxsdk3 => !opts.skip_boxsdk3,
        Client::Node => !opts.skip_node,
        _ => true,
    });
    let mut groups: Vec<(String, Vec<CaseSpec>)> = Vec::new();
    if plan.loopback {
        groups.extend(loopback_groups(plan, &uploaders));
    }
    for (p, size) in &plan.shaped {
        groups.push((p.name.to_string(), shaped_group(plan, p, *size, &uploaders)));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut total_s = 0.0;
    let mut total_runs = 0;
    for (name, cases) in &groups {
        let mut group_s = 0.0;
        println!("== {name}");
        for c in cases {
            if !seen.insert(c.key()) {
                continue;
            }
            let each = estimate_run_s(c);
            group_s += each * c.runs as f64;
            total_runs += c.runs;
            println!("  {:<44} x{}  ~{:.0} s each", c.describe(), c.runs, each);
        }
        println!("  group: ~{:.1} min", group_s / 60.0);
        total_s += group_s;
    }
    if plan.loopback {
        // Each client in turn at the 20 files/s ceiling, plus setup.
        let small = (opts.small_files_count as f64 / 20.0 + 10.0) * 4.0;
        println!("== small files: ~{:.1} min", small / 60.0);
        total_s += small;
    }
    if !opts.skip_codegen {
        println!("== codegen timings: ~1 min (builds excluded)");
        total_s += 60.0;
    }
    println!(
        "{total_runs} measured runs; estimated ~{:.0} min on an idle 2-core machine, builds and \
         SDK installs excluded",
        total_s / 60.0
    );
    Ok(())
}

/// Rough seconds of one run of a case (start-up included), for `--plan`.
fn estimate_run_s(c: &CaseSpec) -> f64 {
    let mib = c.size as f64 / MIB as f64;
    let startup = match c.client {
        Client::Boxsdk | Client::Boxsdk3 | Client::Node => 2.0,
        _ => 0.5,
    };
    let rate = match profile::shaped(c.profile) {
        None => match c.client {
            Client::Floor => 500.0,
            Client::Node => 70.0,
            Client::Boxsdk | Client::Boxsdk3 => 120.0,
            _ => 150.0,
        },
        Some(p) => {
            let (conn, link) = (p.conn_mib_s as f64, p.link_mib_s as f64);
            let parts = c.size.div_ceil(c.effective_part_size()) as f64;
            let rtts = parts * p.rtt_ms as f64 / 1000.0;
            let parallel = match c.client {
                Client::Boxsdk | Client::Node => 1.0,
                Client::Boxsdk3 => 5.0,
                _ => c.concurrency.map_or(link / conn, |n| n as f64),
            };
            let transfer = mib / (parallel * conn).min(link);
            return startup + transfer + rtts / parallel;
        }
    };
    startup + mib / rate
}

fn command_of(args: &[String]) -> String {
    let mut command = String::from("cargo xtask bench");
    for a in args {
        command.push(' ');
        command.push_str(a);
    }
    command
}

/// boxsdk 3.x for the small-files case, or why it is not measured.
fn boxsdk3_sdk(
    paths: &Paths,
    opts: &Options,
    versions: &mut BTreeMap<String, String>,
) -> Result<PythonSdk, String> {
    if opts.skip_boxsdk3 {
        return Err("--skip-boxsdk3".into());
    }
    match setup::python_sdk3(paths) {
        Ok(p) => {
            versions.insert("boxsdk 3.x".into(), p.version.clone());
            Ok(p)
        }
        Err(e) => {
            eprintln!("warning: {e}");
            Err(format!(
                "could not be installed or imported ({} on {}): {}",
                setup::BOXSDK3_REQUIREMENT,
                std::env::var("BENCH_PYTHON").unwrap_or_else(|_| "python3".into()),
                first_line(&e)
            ))
        }
    }
}

/// Where the figures and the report go: `--out`/`--report`, else `bench/results/` and
/// `BENCHMARKS.md` (under `target/bench/quick/` with `--quick`).
fn output_paths(paths: &Paths, opts: &Options) -> (PathBuf, PathBuf) {
    let (results, report) = if opts.quick {
        let q = paths.work.join("quick");
        (q.join("results"), q.join("BENCHMARKS.md"))
    } else {
        (
            paths.root.join("bench").join("results"),
            paths.root.join("BENCHMARKS.md"),
        )
    };
    (
        opts.out.clone().unwrap_or(results),
        opts.report.clone().unwrap_or(report),
    )
}

/// `--small-files`: only the many-small-files case; its figures go into the existing
/// results.json (the other figures kept as saved) and the report is written again.
fn small_files_only(paths: &Paths, opts: &Options, args: &[String]) -> Result<(), String> {
    std::fs::create_dir_all(&paths.work)
        .map_err(|e| format!("cannot create {}: {e}", paths.work.display()))?;
    let (out_dir, report_path) = output_paths(paths, opts);
    let json_path = out_dir.join("results.json");
    // Read the saved figures first: a results.json that cannot be read stops the run before
    // anything is measured.
    let saved: Option<Results> = match std::fs::read_to_string(&json_path) {
        Ok(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| format!("cannot read {}: {e}", json_path.display()))?,
        ),
        Err(_) => None,
    };
    let method = Method::detect();
    let emulator = setup::build_emulator(paths)?;
    let mut versions = BTreeMap::new();
    let cli = if opts.skip_cli {
        Err("--skip-cli".to_string())
    } else {
        setup::build_cli(paths).map_err(|e| format!("could not be built: {}", first_line(&e)))
    };
    let boxsdk10 = if opts.skip_boxsdk {
        Err("--skip-boxsdk".to_string())
    } else {
        setup::python_sdk(paths).map_err(|e| {
            format!(
                "could not be installed ({}): {}",
                setup::BOXSDK_REQUIREMENT,
                first_line(&e)
            )
        })
    };
    if let Ok(p) = &boxsdk10 {
        versions.insert("boxsdk".to_string(), p.version.clone());
        versions.insert("python".to_string(), p.python_version.clone());
    }
    let boxsdk3 = boxsdk3_sdk(paths, opts, &mut versions);
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the bench binary: {e}"))?;
    let emulator_data = opts
        .emulator_data
        .clone()
        .unwrap_or_else(|| default_emulator_data(paths, GIB));
    let _ = std::fs::write(paths.work.join("emulator.log"), "");
    let ctx = small::Context {
        paths,
        method,
        exe: &exe,
        emulator: &emulator,
        emulator_data: &emulator_data,
        cli: cli.as_deref().map_err(String::clone),
        boxsdk10: boxsdk10.as_ref().map_err(String::clone),
        boxsdk3: boxsdk3.as_ref().map_err(String::clone),
        files: opts.small_files_count,
        command: command_of(args),
    };
    let figures = small::run(&ctx)?;
    let mut results = match saved {
        Some(r) => r,
        None => {
            eprintln!(
                "no {} yet: the report will hold only this case",
                json_path.display()
            );
            let machine = setup::machine(paths);
            Results {
                command: command_of(args),
                quick: opts.quick,
                runs: 1,
                big_runs: 1,
                load_average_at_end: setup::load_average(),
                machine,
                measurement: method.describe(),
                emulator_data_dir: emulator_data.display().to_string(),
                duration_s: figures.duration_s,
                versions: BTreeMap::new(),
                headline_size: GIB,
                sweep_part_size: 32 * MIB,
                sweep_concurrency: ENGINE_DEFAULT_CONCURRENCY,
                groups: BTreeMap::new(),
                cases: Vec::new(),
                codegen_check: None,
                notes: Vec::new(),
                targets: Vec::new(),
                small_files: None,
                profiles: Vec::new(),
                codegen_whole_api: None,
            }
        }
    };
    for (k, v) in versions {
        results.versions.entry(k).or_insert(v);
    }
    results.small_files = Some(figures);
    results.targets = report::targets(&results);
    report::write(&results, &out_dir, &report_path)?;
    eprintln!(
        "merged into {} and rewrote {}",
        json_path.display(),
        report_path.display()
    );
    if let Some(t) = results.targets.iter().find(|t| t.name.contains("small")) {
        eprintln!("  {:<8} {}: {}", t.status.word(), t.name, t.measured);
    }
    Ok(())
}

/// `--from-json`: the report and plots again from saved figures (the targets are judged anew).
fn rewrite_report(paths: &Paths, opts: &Options, json: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(json)
        .map_err(|e| format!("cannot read {}: {e}", json.display()))?;
    let mut results: Results =
        serde_json::from_str(&text).map_err(|e| format!("cannot read {}: {e}", json.display()))?;
    results.targets = report::targets(&results);
    let out_dir = opts.out.clone().unwrap_or_else(|| {
        json.parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    });
    let report_path = opts.report.clone().unwrap_or_else(|| {
        if results.quick {
            paths.work.join("quick").join("BENCHMARKS.md")
        } else {
            paths.root.join("BENCHMARKS.md")
        }
    });
    report::write(&results, &out_dir, &report_path)?;
    eprintln!("rewrote {} from {}", report_path.display(), json.display());
    Ok(())
}

/// A RAM-backed directory when there is room for the largest upload twice (its parts, then the
/// assembled file) with 4 GiB to spare: on a virtual disk the emulator's writes, not the
/// clients, would set the pace. Otherwise `target/bench/emulator-data`.
fn default_emulator_data(paths: &Paths, max_size: u64) -> PathBuf {
    let available_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0);
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && available_kib * 1024 > 2 * max_size + 4 * GIB {
        shm.join(format!("box-uploads-bench-{}", std::process::id()))
    } else {
        paths.work.join("emulator-data")
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

impl Runner {
    /// One untimed upload per client on the smallest file: warms the page cache, Python's
    /// bytecode cache and the binaries.
    fn warm_up(&mut self, uploaders: &[Client], size: u64) {
        eprintln!("== warm-up (not measured)");
        for &c in uploaders {
            let spec = CaseSpec {
                profile: profile::LOOPBACK,
                client: c,
                size,
                part_size: None,
                concurrency: None,
                memory_cap: None,
                runs: 1,
            };
            let record = self.run_once(&spec, "warmup");
            if !record.ok {
                eprintln!(
                    "  warm-up of {} failed: {}",
                    c.label(),
                    record.error.unwrap_or_default()
                );
            }
        }
    }

    /// Runs the group's new cases in rounds (run 1 of every case, then run 2...), so that
    /// whatever else loads the machine spreads over the clients alike.
    fn run_group(&mut self, cases: &[CaseSpec]) {
        let mut fresh: Vec<&CaseSpec> = Vec::new();
        for c in cases {
            let key = c.key();
            if !self.results.contains_key(&key) && !fresh.iter().any(|f| f.key() == key) {
                fresh.push(c);
            }
        }
        for c in &fresh {
            self.results.insert(c.key(), CaseResult::new(c));
            self.order.push(c.key());
        }
        let rounds = fresh.iter().map(|c| c.runs).max().unwrap_or(0);
        for round in 0..rounds {
            for c in &fresh {
                if round >= c.runs {
                    continue;
                }
                self.counter += 1;
                let name = format!("bench-{}-{}-{}.bin", c.client.short(), c.size, self.counter);
                let record = self.run_once(c, &name);
                eprintln!(
                    "  [{}/{}] {} run {}/{}: {}",
                    self.counter,
                    self.total,
                    c.describe(),
                    round + 1,
                    c.runs,
                    summary_line(&record)
                );
                if let Some(r) = self.results.get_mut(&c.key()) {
                    r.runs.push(record);
                    r.summarise();
                }
            }
        }
    }

    fn run_once(&mut self, spec: &CaseSpec, name: &str) -> RunRecord {
        match self.try_run_once(spec, name) {
            Ok(r) => r,
            Err(e) => RunRecord {
                ok: false,
                error: Some(e),
                process_wall_s: f64::NAN,
                upload_s: f64::NAN,
                user_s: f64::NAN,
                sys_s: f64::NAN,
                cpu_s: f64::NAN,
                cpu_s_per_gib: f64::NAN,
                max_rss_mib: f64::NAN,
                self_max_rss_mib: None,
                throughput_mib_s: f64::NAN,
                load_avg_1m: setup::load_average_1m(),
                parts_stored: None,
                part_requests: None,
                reported_part_size: None,
                reported_concurrency: None,
                retries: None,
                in_call_cpu_s: None,
                import_s: None,
                commit_s: None,
                server_cpu_s: None,
            },
        }
    }

    fn try_run_once(&mut self, spec: &CaseSpec, name: &str) -> Result<RunRecord, String> {
        let file = self
            .files
            .get(&spec.size)
            .cloned()
            .ok_or_else(|| format!("no test file of {} bytes", spec.size))?;
        let scratch = self.paths.work.join("scratch");
        let load = setup::load_average_1m();
        if spec.client == Client::Floor {
            let cmd = Cmd::new(&self.tools.exe)
                .arg("hash-floor")
                .arg("--file")
                .arg(&file)
                .arg("--part-size")
                .arg(spec.effective_part_size().to_string());
            let m = measure::run(self.tools.method, &cmd, &scratch)?;
            let json = checked_json(&m)?;
            let sha1 = json["sha1"].as_str().unwrap_or_default().to_string();
            self.expected_sha1.entry(spec.size).or_insert(sha1);
            let secs = json["secs"].as_f64().unwrap_or(m.wall_s);
            return Ok(record(spec, &m, secs, &json, load, None));
        }

        let net: Vec<String> = profile::shaped(spec.profile)
            .map(|p| vec!["--net".to_string(), p.net_spec()])
            .unwrap_or_default();
        let emu = Emulator::start_with(
            &self.tools.emulator,
            &self.emulator_data,
            spec.part_size,
            &net,
            &self.paths.work.join("emulator.log"),
        )?;
        let cmd = self.upload_command(spec, &emu, &file, name)?;
        let m = measure::run(self.tools.method, &cmd, &scratch);
        let counters = emu.counters();
        let server_cpu_s = emu.cpu_s();
        emu.stop();
        let m = m?;
        let json = checked_json(&m).or_else(|e| {
            // The CLI need not print JSON: its success and the emulator's counters decide.
            if spec.client == Client::Cli && m.success {
                Ok(serde_json::Value::Null)
            } else {
                Err(e)
            }
        })?;
        let counters = counters?;
        let committed = counters["sessions_committed"].as_u64().unwrap_or(0);
        let committed_bytes = counters["committed_bytes"].as_u64().unwrap_or(0);
        if committed != 1 || committed_bytes != spec.size {
            return Err(format!(
                "the emulator committed {committed} sessions and {committed_bytes} bytes, \
                 expected 1 session of {} bytes",
                spec.size
            ));
        }
        if let (Some(got), Some(want)) = (json["sha1"].as_str(), self.expected_sha1.get(&spec.size))
        {
            if !got.eq_ignore_ascii_case(want) {
                return Err(format!("stored SHA-1 {got}, the file's is {want}"));
            }
        }
        let upload_s = match spec.client {
            Client::Cli => m.wall_s,
            _ => json["upload_s"].as_f64().unwrap_or(m.wall_s),
        };
        let mut r = record(spec, &m, upload_s, &json, load, Some(&counters));
        r.server_cpu_s = server_cpu_s;
        Ok(r)
    }

    fn upload_command(
        &self,
        spec: &CaseSpec,
        emu: &Emulator,
        file: &Path,
        name: &str,
    ) -> Result<Cmd, String> {
        Ok(match spec.client {
            Client::Floor => unreachable!("the floor uploads nothing"),
            Client::Engine => {
                let mut cmd = Cmd::new(&self.tools.exe)
                    .arg("upload-one")
                    .arg("--api")
                    .arg(emu.api_url())
                    .arg("--upload")
                    .arg(emu.upload_url())
                    .arg("--token")
                    .arg(emulator::TOKEN)
                    .arg("--file")
                    .arg(file)
                    .arg("--name")
                    .arg(name);
                if let Some(c) = spec.concurrency {
                    cmd = cmd.arg("--concurrency").arg(c.to_string());
                }
                if let Some(m) = spec.memory_cap {
                    cmd = cmd.arg("--memory-cap").arg(m.to_string());
                }
                cmd
            }
            Client::Cli => {
                let cli = self.tools.cli.as_ref().ok_or("the CLI is not built")?;
                // The CLI takes its token from BOX_TOKEN (never from the command line).
                let mut cmd = Cmd::new(cli)
                    .arg("put")
                    .arg(file)
                    .arg("--folder")
                    .arg("0")
                    .arg("--name")
                    .arg(name)
                    .arg("--api-url")
                    .arg(emu.api_url())
                    .arg("--upload-url")
                    .arg(emu.upload_url())
                    .arg("--json")
                    .env("BOX_TOKEN", emulator::TOKEN);
                if let Some(c) = spec.concurrency {
                    cmd = cmd.arg("--concurrency").arg(c.to_string());
                }
                cmd
            }
            Client::Boxsdk => {
                let py = self
                    .tools
                    .python
                    .as_ref()
                    .ok_or("boxsdk is not installed")?;
                Cmd::new(&py.python)
                    .arg(&py.script)
                    .arg(&emu.base)
                    .arg(emu.sdk_upload_url())
                    .arg(emulator::TOKEN)
                    .arg(file)
                    .arg(name)
            }
            Client::Boxsdk3 => {
                let (script, python) = self
                    .tools
                    .boxsdk3_upload
                    .as_ref()
                    .ok_or("boxsdk 3.x is not installed")?;
                Cmd::new(python)
                    .arg(script)
                    .arg(&emu.base)
                    .arg(emulator::TOKEN)
                    .arg(file)
                    .arg(name)
            }
            Client::Node => {
                let node = self
                    .tools
                    .node
                    .as_ref()
                    .ok_or("box-node-sdk is not installed")?;
                let dir = node.script.parent().unwrap_or(Path::new("."));
                Cmd::new("node")
                    .arg(&node.script)
                    .arg(&emu.base)
                    .arg(emu.sdk_upload_url())
                    .arg(emulator::TOKEN)
                    .arg(file)
                    .arg(name)
                    .cwd(dir)
            }
        })
    }
}

/// The child's JSON line, or why the run failed.
fn checked_json(m: &measure::Measured) -> Result<serde_json::Value, String> {
    if !m.success {
        let tail: Vec<&str> = m.stderr.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!("the client failed: {}", tail.join(" | ")));
    }
    m.json()
        .ok_or_else(|| format!("the client printed no JSON line: {}", m.stdout.trim()))
}

fn record(
    spec: &CaseSpec,
    m: &measure::Measured,
    upload_s: f64,
    json: &serde_json::Value,
    load: f64,
    counters: Option<&serde_json::Value>,
) -> RunRecord {
    let cpu_s = m.user_s + m.sys_s;
    let gib = spec.size as f64 / GIB as f64;
    RunRecord {
        ok: true,
        error: None,
        process_wall_s: m.wall_s,
        upload_s,
        user_s: m.user_s,
        sys_s: m.sys_s,
        cpu_s,
        cpu_s_per_gib: cpu_s / gib,
        max_rss_mib: m.max_rss_kib as f64 / 1024.0,
        self_max_rss_mib: json["self_max_rss_kib"].as_f64().map(|k| k / 1024.0),
        throughput_mib_s: spec.size as f64 / MIB as f64 / upload_s,
        load_avg_1m: load,
        parts_stored: counters.and_then(|c| c["parts_stored"].as_u64()),
        part_requests: counters.and_then(|c| c["requests"]["upload_part"].as_u64()),
        reported_part_size: json["part_size"].as_u64(),
        reported_concurrency: json["concurrency"].as_u64(),
        retries: json["retries"].as_u64(),
        in_call_cpu_s: json["upload_cpu_s"].as_f64(),
        import_s: json["import_s"].as_f64(),
        commit_s: json["commit_s"].as_f64(),
        server_cpu_s: None,
    }
}

fn summary_line(r: &RunRecord) -> String {
    if !r.ok {
        return format!("FAILED: {}", r.error.as_deref().unwrap_or("?"));
    }
    format!(
        "{:.0} MiB/s, {:.2} s, CPU {:.2} s/GiB, RSS {:.0} MiB (load {:.1})",
        r.throughput_mib_s, r.upload_s, r.cpu_s_per_gib, r.max_rss_mib, r.load_avg_1m
    )
}
