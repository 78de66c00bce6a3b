//! Everything the bench prepares before measuring: paths, release builds of the emulator and
//! the CLI, the Python and Node SDKs in `target/bench` ([`sdks`]), the machine's description
//! ([`machine`]), the HTTPS profiles' certificates ([`tls`]), and the codegen timings
//! ([`codegen`]).

mod codegen;
mod machine;
mod sdks;
mod tls;

pub use codegen::{codegen_timing, whole_api_timing, CodegenTiming, WholeApiTiming};
pub use machine::{load_average, load_average_1m, machine, Machine};
pub use sdks::{
    boxsdk3_upload_script, node_sdk, python_sdk, python_sdk3, version_scripts, NodeSdk, PythonSdk,
    BOXSDK3_REQUIREMENT, BOXSDK_REQUIREMENT, NODE_REQUIREMENT,
};
pub use tls::Trust;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
