//! Running the plan: the tools, the test files, every group of cases against fresh emulators,
//! the many-small-files case and the codegen timings, gathered into [`Results`]. Judging and
//! writing them is the caller's.

mod cases;
pub mod small_files;
mod tools;
pub mod version_reuse;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::files::{self, GIB};
use crate::options::{self, Options};
use crate::plan::{self, CaseSpec, Client, Plan, CLIENTS};
use crate::results::{ProfileRun, Results};
use crate::setup::{self, Paths};
use cases::Runner;
use tools::{first_line, Tools};

/// The full run: every group of the plan, then the many-small-files case (with loopback) and
/// the codegen timings.
pub fn run(paths: Paths, opts: &Options, plan: &Plan, args: &[String]) -> Result<Results, String> {
    let started = Instant::now();
    std::fs::create_dir_all(&paths.work)
        .map_err(|e| format!("cannot create {}: {e}", paths.work.display()))?;
    let machine = setup::machine(&paths);
    let tools = Tools::find(&paths, opts)?;

    eprintln!("test files under {}:", paths.work.join("files").display());
    let mut file_paths = BTreeMap::new();
    for size in plan.all_sizes() {
        file_paths.insert(size, files::ensure(&paths.work.join("files"), size)?);
    }
    clear_emulator_log(&paths);
    std::fs::create_dir_all(paths.work.join("scratch")).map_err(|e| e.to_string())?;

    let uploaders: Vec<Client> = CLIENTS.into_iter().filter(|c| tools.has(*c)).collect();
    let groups = plan.groups(&uploaders);
    let max_size = plan.all_sizes().last().copied().unwrap_or(GIB);
    let emulator_data = opts
        .emulator_data
        .clone()
        .unwrap_or_else(|| default_emulator_data(&paths, max_size));
    eprintln!("emulator data directory: {}", emulator_data.display());
    let total = plan::distinct_runs(&groups);
    eprintln!(
        "{total} measured runs; CPU and RSS by {}",
        tools.method.describe()
    );
    let mut runner = Runner::new(paths, emulator_data.clone(), tools, file_paths, total);
    if let Some(&smallest) = plan.all_sizes().first() {
        runner.warm_up(&uploaders, smallest);
    }
    let mut group_keys = BTreeMap::new();
    for (name, cases) in &groups {
        eprintln!("== {name}");
        runner.run_group(cases);
        group_keys.insert(name.to_string(), cases.iter().map(CaseSpec::key).collect());
    }
    let (cases, mut tools, paths) = runner.into_results();

    // A loopback case: it runs with the loopback profile.
    let small_files = if !plan.loopback {
        None
    } else {
        let ctx = small_files::Context {
            paths: &paths,
            method: tools.method,
            exe: &tools.exe,
            emulator: &tools.emulator,
            emulator_data: &emulator_data,
            cli: tools
                .cli
                .as_deref()
                .ok_or_else(|| "not built or --skip-cli".to_string()),
            boxsdk10: tools
                .python
                .as_ref()
                .ok_or_else(|| "not installed or --skip-boxsdk".to_string()),
            boxsdk3: tools.boxsdk3.as_ref().map_err(String::clone),
            files: opts.small_files_count,
            command: options::command_line(args),
        };
        match small_files::run(&ctx) {
            Ok(s) => Some(s),
            Err(e) => {
                tools
                    .notes
                    .push(format!("The many-small-files case could not run: {e}"));
                None
            }
        }
    };

    let codegen_runs = if opts.quick { 2 } else { 5 };
    let (codegen_check, codegen_whole_api) = if opts.skip_codegen {
        (None, None)
    } else {
        (
            Some(setup::codegen_timing(&paths, codegen_runs)),
            Some(setup::whole_api_timing(&paths, codegen_runs)),
        )
    };

    Ok(Results {
        command: options::command_line(args),
        quick: opts.quick,
        runs: plan.runs,
        big_runs: plan.runs_for(u64::MAX),
        machine,
        load_average_at_end: setup::load_average(),
        measurement: tools.method.describe(),
        emulator_data_dir: emulator_data.display().to_string(),
        duration_s: started.elapsed().as_secs_f64(),
        versions: tools.versions,
        headline_size: plan.headline,
        sweep_part_size: plan.sweep_part,
        sweep_concurrency: plan.sweep_conc,
        groups: group_keys,
        cases,
        codegen_check,
        notes: tools.notes,
        small_files,
        profiles: ProfileRun::planned(plan),
        codegen_whole_api,
        version_reuse: Vec::new(),
    })
}

/// `--small-files`: only the many-small-files case, merged into `saved` (the other figures
/// kept as they were), or into results holding only this case.
pub fn small_files_only(
    paths: &Paths,
    opts: &Options,
    args: &[String],
    saved: Option<Results>,
) -> Result<Results, String> {
    let (method, emulator) = one_case_setup(paths)?;
    let mut versions = BTreeMap::new();
    let cli = if opts.skip_cli {
        Err("--skip-cli".to_string())
    } else {
        setup::build_cli(paths).map_err(|e| format!("could not be built: {}", first_line(&e)))
    };
    let boxsdk10 = tools::boxsdk10_sdk(paths, opts, &mut versions);
    let boxsdk3 = tools::boxsdk3_sdk(paths, opts, &mut versions);
    let exe = tools::current_exe()?;
    let emulator_data = one_case_emulator_data(paths, opts, GIB);
    let ctx = small_files::Context {
        paths,
        method,
        exe: &exe,
        emulator: &emulator,
        emulator_data: &emulator_data,
        cli: cli.as_deref().map_err(String::clone),
        boxsdk10: boxsdk10.as_ref().map_err(String::clone),
        boxsdk3: boxsdk3.as_ref().map_err(String::clone),
        files: opts.small_files_count,
        command: options::command_line(args),
    };
    let figures = small_files::run(&ctx)?;
    let duration_s = figures.duration_s;
    let fresh = || fresh_results(paths, opts, args, method, &emulator_data, duration_s);
    let mut results = with_versions(saved.unwrap_or_else(fresh), versions);
    results.small_files = Some(figures);
    Ok(results)
}

/// What a one-case run (`--small-files`, `--version-reuse`) starts with: the work directory,
/// the way to measure, and the emulator built.
fn one_case_setup(paths: &Paths) -> Result<(crate::measure::Method, PathBuf), String> {
    std::fs::create_dir_all(&paths.work)
        .map_err(|e| format!("cannot create {}: {e}", paths.work.display()))?;
    let method = crate::measure::Method::detect();
    let emulator = setup::build_emulator(paths)?;
    Ok((method, emulator))
}

/// A one-case run's emulator data directory (`--emulator-data`, or the default for files of
/// `size`), with the emulator log started afresh.
fn one_case_emulator_data(paths: &Paths, opts: &Options, size: u64) -> PathBuf {
    let emulator_data = opts
        .emulator_data
        .clone()
        .unwrap_or_else(|| default_emulator_data(paths, size));
    clear_emulator_log(paths);
    emulator_data
}

/// `results` with the tool versions this run found added where they do not name one yet.
fn with_versions(mut results: Results, versions: BTreeMap<String, String>) -> Results {
    for (k, v) in versions {
        results.versions.entry(k).or_insert(v);
    }
    results
}

/// Results holding only the case that ran: without saved results, the figures of the plan's
/// defaults stand in for the rest.
fn fresh_results(
    paths: &Paths,
    opts: &Options,
    args: &[String],
    method: crate::measure::Method,
    emulator_data: &Path,
    duration_s: f64,
) -> Results {
    let plan = Plan::new(opts);
    Results {
        command: options::command_line(args),
        quick: opts.quick,
        runs: 1,
        big_runs: 1,
        load_average_at_end: setup::load_average(),
        machine: setup::machine(paths),
        measurement: method.describe(),
        emulator_data_dir: emulator_data.display().to_string(),
        duration_s,
        versions: BTreeMap::new(),
        headline_size: plan.headline,
        sweep_part_size: plan.sweep_part,
        sweep_concurrency: plan.sweep_conc,
        groups: BTreeMap::new(),
        cases: Vec::new(),
        codegen_check: None,
        notes: Vec::new(),
        small_files: None,
        profiles: Vec::new(),
        codegen_whole_api: None,
        version_reuse: Vec::new(),
    }
}

/// `--version-reuse`: only the new-version-with-one-changed-region case, on `wan` and `far`
/// (or the shaped profiles `--profile` names), merged into `saved` (the other figures kept as
/// they were, a profile's earlier figures replaced), or into results holding only this case.
pub fn version_reuse_only(
    paths: &Paths,
    opts: &Options,
    args: &[String],
    saved: Option<Results>,
) -> Result<Results, String> {
    let (method, emulator) = one_case_setup(paths)?;
    let mut versions = BTreeMap::new();
    let (boxsdk10_script, boxsdk3_script) = setup::version_scripts(paths)?;
    let boxsdk10 = tools::boxsdk10_sdk(paths, opts, &mut versions);
    let boxsdk3 = tools::boxsdk3_sdk(paths, opts, &mut versions);
    let exe = tools::current_exe()?;
    let profiles = opts.version_profiles();
    let largest = profiles.iter().map(|p| opts.version_size(p)).max();
    let emulator_data = one_case_emulator_data(paths, opts, largest.unwrap_or(GIB));
    let mut figures = Vec::new();
    for profile in profiles {
        let size = opts.version_size(&profile);
        let ctx = version_reuse::Context {
            paths,
            method,
            exe: &exe,
            emulator: &emulator,
            emulator_data: &emulator_data,
            boxsdk10: boxsdk10
                .as_ref()
                .map(|p| (p, boxsdk10_script.clone()))
                .map_err(String::clone),
            boxsdk3: boxsdk3
                .as_ref()
                .map(|p| (p, boxsdk3_script.clone()))
                .map_err(String::clone),
            profile,
            size,
            command: options::command_line(args),
        };
        figures.push(version_reuse::run(&ctx)?);
    }
    let duration_s = figures.iter().map(|f| f.duration_s).sum();
    let fresh = || fresh_results(paths, opts, args, method, &emulator_data, duration_s);
    let mut results = with_versions(saved.unwrap_or_else(fresh), versions);
    results.merge_version_reuse(figures);
    Ok(results)
}

/// Each run appends to one emulator log; a new run starts it afresh.
fn clear_emulator_log(paths: &Paths) {
    let log = paths.work.join("emulator.log");
    if let Err(e) = std::fs::write(&log, "") {
        eprintln!("warning: cannot clear {}: {e}", log.display());
    }
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
