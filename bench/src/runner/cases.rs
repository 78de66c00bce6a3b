//! Running cases: each run of a case against a fresh emulator, one client process measured,
//! the emulator's counters and the stored SHA-1 checked, in rounds over a group's cases.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::tools::{upload_one, Tools};
use crate::emulator::{self, Emulator};
use crate::files::{GIB, MIB};
use crate::measure::{self, Cmd};
use crate::plan::{CaseSpec, Client};
use crate::profile;
use crate::results::{CaseResult, RunRecord};
use crate::setup::{self, Paths, Trust};

/// Runs cases and keeps their results, each case once, in the order first run.
pub struct Runner {
    paths: Paths,
    emulator_data: PathBuf,
    tools: Tools,
    /// The test file of each size.
    files: BTreeMap<u64, PathBuf>,
    /// Each file's SHA-1, as the floor computed it: every upload must store the same.
    expected_sha1: BTreeMap<u64, String>,
    results: BTreeMap<String, CaseResult>,
    order: Vec<String>,
    /// The HTTPS profiles' certificates, made on first use (or why they could not be).
    trust: Option<Result<Trust, String>>,
    counter: usize,
    /// Runs of the whole run, for the progress lines.
    total: usize,
}

impl Runner {
    pub fn new(
        paths: Paths,
        emulator_data: PathBuf,
        tools: Tools,
        files: BTreeMap<u64, PathBuf>,
        total: usize,
    ) -> Runner {
        Runner {
            paths,
            emulator_data,
            tools,
            files,
            expected_sha1: BTreeMap::new(),
            results: BTreeMap::new(),
            order: Vec::new(),
            trust: None,
            counter: 0,
            total,
        }
    }

    /// The cases' results, in the order they first ran.
    pub fn into_results(mut self) -> (Vec<CaseResult>, Tools, Paths) {
        let cases = self
            .order
            .iter()
            .filter_map(|k| self.results.remove(k))
            .collect();
        (cases, self.tools, self.paths)
    }

    /// One untimed upload per client on the smallest file: warms the page cache, Python's
    /// bytecode cache and the binaries.
    pub fn warm_up(&mut self, uploaders: &[Client], size: u64) {
        eprintln!("== warm-up (not measured)");
        for &c in uploaders {
            let record = self.run_once(&CaseSpec::new(c, size, 1), "warmup");
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
    pub fn run_group(&mut self, cases: &[CaseSpec]) {
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
        self.try_run_once(spec, name)
            .unwrap_or_else(|e| RunRecord::failed(e, setup::load_average_1m()))
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
        let tls = if profile::is_tls(spec.profile) {
            Some(self.trust()?)
        } else {
            None
        };
        let emu = Emulator::start_with(
            &self.tools.emulator,
            &self.emulator_data,
            spec.part_size,
            tls.as_ref(),
            &net,
            &self.paths.work.join("emulator.log"),
        )?;
        let cmd = self.upload_command(spec, &emu, &file, name, tls.as_ref())?;
        let m = measure::run(self.tools.method, &cmd, &scratch);
        let counters = emu.counters();
        let traffic = counters.as_ref().ok().and_then(|c| emu.traffic(c));
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
        r.traffic = traffic;
        Ok(r)
    }

    /// The run's certificates, made once (a failure is remembered: every HTTPS case fails
    /// with it).
    fn trust(&mut self) -> Result<Trust, String> {
        let dir = self.paths.work.join("tls");
        self.trust.get_or_insert_with(|| Trust::make(&dir)).clone()
    }

    fn upload_command(
        &self,
        spec: &CaseSpec,
        emu: &Emulator,
        file: &Path,
        name: &str,
        tls: Option<&Trust>,
    ) -> Result<Cmd, String> {
        let cmd = match spec.client {
            Client::Floor => unreachable!("the floor uploads nothing"),
            Client::Engine => {
                let mut cmd = upload_one(&self.tools.exe, emu, file)
                    .arg("--name")
                    .arg(name);
                if let Some(c) = spec.concurrency {
                    cmd = cmd.arg("--concurrency").arg(c.to_string());
                }
                if let Some(m) = spec.memory_cap {
                    cmd = cmd.arg("--memory-cap").arg(m.to_string());
                }
                if let Some(t) = tls {
                    cmd = cmd.arg("--ca-cert").arg(&t.ca);
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
                if let Some(t) = tls {
                    cmd = cmd.arg("--ca-cert").arg(&t.ca);
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
        };
        // The SDKs trust the CA through their environment.
        Ok(match tls {
            Some(t) => t.trusted_env(cmd),
            None => cmd,
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
        traffic: None,
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
