//! Everything the bench prepares before measuring: paths, release builds of the emulator and
//! the CLI, the Python and Node SDKs in `target/bench`, the machine's description, and the
//! `cargo xtask codegen --check` timing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::stats::Spread;

pub struct Paths {
    /// The workspace root.
    pub root: PathBuf,
    /// Cargo's target directory (`CARGO_TARGET_DIR` or `<root>/target`).
    pub target: PathBuf,
    /// `target/bench`: test files, SDK installs, emulator data, scratch.
    pub work: PathBuf,
}

impl Paths {
    pub fn discover() -> Paths {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => {
                let dir = PathBuf::from(dir);
                if dir.is_absolute() {
                    dir
                } else {
                    std::env::current_dir().unwrap_or_default().join(dir)
                }
            }
            _ => root.join("target"),
        };
        let work = target.join("bench");
        Paths { root, target, work }
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs a setup command, showing its output only if it fails.
fn run_quiet(command: &mut Command, what: &str) -> Result<String, String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(format!("{what} failed:\n{}", tail.join("\n")))
    }
}

/// `cargo build --release -p box-emulator`; the binary's path.
pub fn build_emulator(paths: &Paths) -> Result<PathBuf, String> {
    eprintln!("building box-emulator (release)...");
    run_quiet(
        Command::new(cargo())
            .args(["build", "--release", "-p", "box-emulator"])
            .current_dir(&paths.root),
        "cargo build --release -p box-emulator",
    )?;
    Ok(paths.target.join("release").join("box-emulator"))
}

/// `cargo build --release -p box-upload-cli --bin box-upload`; the binary's path.
pub fn build_cli(paths: &Paths) -> Result<PathBuf, String> {
    eprintln!("building box-upload (release)...");
    run_quiet(
        Command::new(cargo())
            .args([
                "build",
                "--release",
                "-p",
                "box-upload-cli",
                "--bin",
                "box-upload",
            ])
            .current_dir(&paths.root),
        "cargo build --release -p box-upload-cli --bin box-upload",
    )?;
    Ok(paths.target.join("release").join("box-upload"))
}

/// Box's Python SDK, installed in `target/bench/venv`.
pub struct PythonSdk {
    pub python: PathBuf,
    pub script: PathBuf,
    pub version: String,
    pub python_version: String,
}

/// The PyPI requirement: boxsdk 10.x (module `box_sdk_gen`), 10.18 or newer.
pub const BOXSDK_REQUIREMENT: &str = "boxsdk>=10.18,<11";

fn version_at_least(version: &str, major: u64, minor: u64) -> bool {
    let mut parts = version
        .trim()
        .split('.')
        .map(|p| p.parse::<u64>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor) && a == major
}

pub fn python_sdk(paths: &Paths) -> Result<PythonSdk, String> {
    python_venv(
        paths,
        "venv",
        BOXSDK_REQUIREMENT,
        |v| version_at_least(v, 10, 18),
        "boxsdk_upload.py",
        include_str!("boxsdk_upload.py"),
    )
}

/// The PyPI requirement of the legacy SDK measured on many small files: boxsdk 3.x (module
/// `boxsdk`), in a venv of its own.
pub const BOXSDK3_REQUIREMENT: &str = "boxsdk<4";

/// boxsdk 3.x in `target/bench/venv-boxsdk3`, with the small-files script.
pub fn python_sdk3(paths: &Paths) -> Result<PythonSdk, String> {
    let sdk = python_venv(
        paths,
        "venv-boxsdk3",
        BOXSDK3_REQUIREMENT,
        |v| v.trim().starts_with("3."),
        "boxsdk3_small_files.py",
        include_str!("boxsdk3_small_files.py"),
    )?;
    write_boxsdk3_client(paths)?;
    Ok(sdk)
}

/// The module both boxsdk 3.x scripts import, written beside them.
fn write_boxsdk3_client(paths: &Paths) -> Result<(), String> {
    let module = paths.work.join("boxsdk3_client.py");
    std::fs::write(&module, include_str!("boxsdk3_client.py"))
        .map_err(|e| format!("cannot write {}: {e}", module.display()))
}

/// A venv `target/bench/<venv>` holding `requirement` (installed unless a version `wanted`
/// accepts is there already), and `script` written beside it.
fn python_venv(
    paths: &Paths,
    venv: &str,
    requirement: &str,
    wanted: fn(&str) -> bool,
    script_name: &str,
    script_text: &str,
) -> Result<PythonSdk, String> {
    let venv = paths.work.join(venv);
    let python = venv.join("bin").join("python");
    if !python.exists() {
        let base = std::env::var("BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
        eprintln!("creating {} ({base} -m venv)...", venv.display());
        run_quiet(
            Command::new(&base).arg("-m").arg("venv").arg(&venv),
            "python3 -m venv",
        )?;
    }
    let installed = |python: &Path| {
        Command::new(python)
            .args([
                "-c",
                "import importlib.metadata as m; print(m.version('boxsdk'))",
            ])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let mut version = installed(&python);
    if !version.as_deref().is_some_and(wanted) {
        eprintln!("installing {requirement} into {}...", venv.display());
        run_quiet(
            Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                requirement,
            ]),
            &format!("pip install '{requirement}'"),
        )?;
        version = installed(&python);
    }
    let version = version
        .filter(|v| wanted(v))
        .ok_or_else(|| format!("boxsdk ({requirement}) is not importable after installing it"))?;
    let script = paths.work.join(script_name);
    std::fs::write(&script, script_text)
        .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let python_version = run_quiet(Command::new(&python).arg("--version"), "python --version")
        .unwrap_or_default()
        .trim()
        .to_string();
    Ok(PythonSdk {
        python,
        script,
        version,
        python_version,
    })
}

/// Box's Node SDK, installed in `target/bench/node`.
pub struct NodeSdk {
    pub script: PathBuf,
    pub version: String,
    pub node_version: String,
}

pub const NODE_REQUIREMENT: &str = "box-node-sdk@10";

pub fn node_sdk(paths: &Paths) -> Result<NodeSdk, String> {
    let dir = paths.work.join("node");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let package = dir
        .join("node_modules")
        .join("box-node-sdk")
        .join("package.json");
    let read_version = || -> Option<String> {
        let text = std::fs::read_to_string(&package).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        json.get("version")?.as_str().map(str::to_string)
    };
    if !read_version().is_some_and(|v| v.starts_with("10.")) {
        eprintln!("installing {NODE_REQUIREMENT} into {}...", dir.display());
        run_quiet(
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                .arg(&dir)
                .arg(NODE_REQUIREMENT),
            "npm install box-node-sdk@10",
        )?;
    }
    let version = read_version().ok_or("box-node-sdk is not installed after npm install")?;
    let script = dir.join("upload.js");
    std::fs::write(&script, include_str!("node_upload.js"))
        .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let node_version = run_quiet(Command::new("node").arg("--version"), "node --version")?
        .trim()
        .to_string();
    Ok(NodeSdk {
        script,
        version,
        node_version,
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub nproc: String,
    pub cpu_model: String,
    pub memory: String,
    pub kernel: String,
    pub rustc: String,
    pub git: String,
    pub date: String,
    pub load_average_at_start: String,
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

pub fn load_average_1m() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

pub fn machine(paths: &Paths) -> Machine {
    let cpu_model = command_line("lscpu", &[])
        .lines()
        .find_map(|l| l.strip_prefix("Model name:"))
        .map(|m| m.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let kib: f64 = m
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(format!("{:.1} GiB", kib / (1024.0 * 1024.0)))
        })
        .unwrap_or_else(|| "unknown".into());
    let rev = command_line(
        "git",
        &[
            "-C",
            &paths.root.to_string_lossy(),
            "rev-parse",
            "--short",
            "HEAD",
        ],
    );
    let dirty = !command_line(
        "git",
        &["-C", &paths.root.to_string_lossy(), "status", "--porcelain"],
    )
    .is_empty();
    Machine {
        nproc: command_line("nproc", &[]),
        cpu_model,
        memory,
        kernel: command_line("uname", &["-srm"]),
        rustc: command_line("rustc", &["--version"]),
        git: if dirty {
            format!("{rev} with uncommitted changes")
        } else {
            rev
        },
        date: command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        load_average_at_start: load_average(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodegenTiming {
    /// `cargo xtask codegen --check`, as a user types it (cargo's freshness check included).
    pub cargo_xtask_s: Option<Spread>,
    /// The built `target/debug/xtask codegen --check` alone.
    pub binary_s: Option<Spread>,
    pub runs: usize,
    /// Whether every timed run passed (no drift).
    pub all_passed: bool,
    pub note: Option<String>,
}

/// Builds xtask (as `cargo xtask` does: dev profile) and times `codegen --check`.
pub fn codegen_timing(paths: &Paths, runs: usize) -> CodegenTiming {
    let failed = |note: String| CodegenTiming {
        cargo_xtask_s: None,
        binary_s: None,
        runs: 0,
        all_passed: false,
        note: Some(note),
    };
    eprintln!("building xtask and timing `cargo xtask codegen --check`...");
    if let Err(e) = run_quiet(
        Command::new(cargo())
            .args(["build", "--quiet", "-p", "xtask"])
            .current_dir(&paths.root),
        "cargo build -p xtask",
    ) {
        return failed(e);
    }
    let time = |command: &mut Command| -> Option<(f64, bool)> {
        let start = Instant::now();
        let status = command
            .current_dir(&paths.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        Some((start.elapsed().as_secs_f64(), status.success()))
    };
    let binary = paths.target.join("debug").join("xtask");
    let mut all_passed = true;
    let mut cargo_times = Vec::new();
    let mut binary_times = Vec::new();
    // One untimed warm-up of each, then interleaved timed runs.
    let _ = time(Command::new(cargo()).args(["xtask", "codegen", "--check"]));
    let _ = time(Command::new(&binary).args(["codegen", "--check"]));
    for _ in 0..runs {
        if let Some((t, ok)) = time(Command::new(cargo()).args(["xtask", "codegen", "--check"])) {
            cargo_times.push(t);
            all_passed &= ok;
        }
        if let Some((t, ok)) = time(Command::new(&binary).args(["codegen", "--check"])) {
            binary_times.push(t);
            all_passed &= ok;
        }
    }
    CodegenTiming {
        cargo_xtask_s: Spread::of(&cargo_times),
        binary_s: Spread::of(&binary_times),
        runs,
        all_passed,
        note: (!all_passed).then(|| {
            "some runs reported drift (the generated code did not match the spec at the time); \
             the time is still that of a full check"
                .to_string()
        }),
    }
}

/// boxsdk 3.x's chunked-upload script, written beside the small-files one (it runs on the
/// `target/bench/venv-boxsdk3` interpreter of [`python_sdk3`]).
pub fn boxsdk3_upload_script(paths: &Paths) -> Result<PathBuf, String> {
    let script = paths.work.join("boxsdk3_upload.py");
    std::fs::write(&script, include_str!("boxsdk3_upload.py"))
        .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    write_boxsdk3_client(paths)?;
    Ok(script)
}

/// `xtask codegen` on Box's whole published API description (`fetch.sh` puts it in place).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WholeApiTiming {
    /// The description, relative to the workspace root.
    pub spec: String,
    /// Operations in it (`paths.*.{get,put,post,delete,options,head,patch,trace}`).
    pub operations: usize,
    /// `target/release/xtask codegen --spec SPEC --out DIR`.
    pub generate_s: Option<Spread>,
    /// The same with `--check` (right after a generation: no drift).
    pub check_s: Option<Spread>,
    pub runs: usize,
    pub note: Option<String>,
}

/// Where `fetch.sh` puts Box's description.
pub const UPSTREAM_SPEC: &str = "xtask/tests/fixtures/upstream/box.com.json";

/// Builds the release xtask and times generating a crate from Box's whole API, and checking it.
pub fn whole_api_timing(paths: &Paths, runs: usize) -> WholeApiTiming {
    let mut t = WholeApiTiming {
        spec: UPSTREAM_SPEC.into(),
        operations: 0,
        generate_s: None,
        check_s: None,
        runs,
        note: None,
    };
    eprintln!("timing `xtask codegen` on Box's whole API...");
    let spec = paths.root.join(UPSTREAM_SPEC);
    if !spec.exists() {
        let fetch = paths.root.join("xtask/tests/fixtures/upstream/fetch.sh");
        if let Err(e) = run_quiet(Command::new("bash").arg(&fetch), "fetch.sh") {
            t.note = Some(format!(
                "Box's description is missing and could not be fetched: {}",
                e.lines().last().unwrap_or_default()
            ));
            return t;
        }
    }
    t.operations = count_operations(&spec);
    if let Err(e) = run_quiet(
        Command::new(cargo())
            .args(["build", "--quiet", "--release", "-p", "xtask"])
            .current_dir(&paths.root),
        "cargo build --release -p xtask",
    ) {
        t.note = Some(e);
        return t;
    }
    let binary = paths.target.join("release").join("xtask");
    let out = paths.work.join("box-whole-api");
    let time = |check: bool| -> Result<f64, String> {
        let mut command = Command::new(&binary);
        command
            .arg("codegen")
            .arg("--spec")
            .arg(&spec)
            .arg("--out")
            .arg(&out);
        if check {
            command.arg("--check");
        }
        let start = Instant::now();
        run_quiet(command.current_dir(&paths.root), "xtask codegen --spec")?;
        Ok(start.elapsed().as_secs_f64())
    };
    // One untimed generation first: the timed ones then rewrite an existing tree, and the
    // checks find it current.
    if let Err(e) = time(false) {
        t.note = Some(e);
        return t;
    }
    let (mut generate, mut check) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        match (time(false), time(true)) {
            (Ok(g), Ok(c)) => {
                generate.push(g);
                check.push(c);
            }
            (Err(e), _) | (_, Err(e)) => {
                t.note = Some(e);
                break;
            }
        }
    }
    t.generate_s = Spread::of(&generate);
    t.check_s = Spread::of(&check);
    t
}

/// HTTP operations of an OpenAPI description (JSON).
fn count_operations(spec: &Path) -> usize {
    let Some(doc) = std::fs::read_to_string(spec)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    else {
        return 0;
    };
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    doc["paths"].as_object().map_or(0, |paths| {
        paths
            .values()
            .filter_map(|item| item.as_object())
            .map(|item| {
                item.keys()
                    .filter(|k| METHODS.contains(&k.as_str()))
                    .count()
            })
            .sum()
    })
}
