//! The codegen timings: `cargo xtask codegen --check` on our spec, and the release generator on
//! Box's whole published API.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{cargo, run_quiet, Paths};
use crate::stats::Spread;

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
