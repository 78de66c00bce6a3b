//! Box's SDKs, each in its own environment under `target/bench`: boxsdk 10.x and boxsdk 3.x in
//! Python virtual environments, box-node-sdk through npm, and the scripts that drive them.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{run_quiet, Paths};

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
    let sdk = python_venv(
        paths,
        "venv",
        BOXSDK_REQUIREMENT,
        |v| version_at_least(v, 10, 18),
        "boxsdk_upload.py",
        include_str!("../boxsdk_upload.py"),
    )?;
    write_script_modules(paths)?;
    Ok(sdk)
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
        include_str!("../boxsdk3_small_files.py"),
    )?;
    write_script_modules(paths)?;
    Ok(sdk)
}

/// The modules the Python scripts import, written beside them: each SDK's client, and the
/// timing and JSON line they share.
fn write_script_modules(paths: &Paths) -> Result<(), String> {
    for (name, text) in [
        ("boxsdk_client.py", include_str!("../boxsdk_client.py")),
        ("boxsdk3_client.py", include_str!("../boxsdk3_client.py")),
        ("sdk_measure.py", include_str!("../sdk_measure.py")),
    ] {
        let module = paths.work.join(name);
        std::fs::write(&module, text)
            .map_err(|e| format!("cannot write {}: {e}", module.display()))?;
    }
    Ok(())
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
    std::fs::write(&script, include_str!("../node_upload.js"))
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

/// boxsdk 3.x's chunked-upload script, written beside the small-files one (it runs on the
/// `target/bench/venv-boxsdk3` interpreter of [`python_sdk3`]).
pub fn boxsdk3_upload_script(paths: &Paths) -> Result<PathBuf, String> {
    let script = paths.work.join("boxsdk3_upload.py");
    std::fs::write(&script, include_str!("../boxsdk3_upload.py"))
        .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    write_script_modules(paths)?;
    Ok(script)
}

/// The new-version scripts, written beside the others: boxsdk 10.x's
/// `upload_big_file_version` (for the `target/bench/venv` interpreter) and boxsdk 3.x's chunked
/// uploader of a new version (for `target/bench/venv-boxsdk3`).
pub fn version_scripts(paths: &Paths) -> Result<(PathBuf, PathBuf), String> {
    let write = |name: &str, text: &str| -> Result<PathBuf, String> {
        let script = paths.work.join(name);
        std::fs::write(&script, text)
            .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
        Ok(script)
    };
    let boxsdk10 = write("boxsdk_version.py", include_str!("../boxsdk_version.py"))?;
    let boxsdk3 = write("boxsdk3_version.py", include_str!("../boxsdk3_version.py"))?;
    write_script_modules(paths)?;
    Ok((boxsdk10, boxsdk3))
}
