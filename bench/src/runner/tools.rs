//! The programs a run measures with: the emulator and CLI builds, Box's SDKs in their own
//! environments, and how CPU and memory are read. What cannot be built or installed is
//! recorded as a note (and its client skipped), never a failure of the run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::emulator::{self, Emulator};
use crate::measure::{Cmd, Method};
use crate::options::Options;
use crate::plan::Client;
use crate::setup::{self, NodeSdk, Paths, PythonSdk};

/// The tools the run found.
pub struct Tools {
    pub method: Method,
    /// This bench's binary: its hidden subcommands are the library's clients and the floor.
    pub exe: PathBuf,
    pub emulator: PathBuf,
    pub cli: Option<PathBuf>,
    /// boxsdk 3.x's chunked-upload script and the venv's python.
    pub boxsdk3_upload: Option<(PathBuf, PathBuf)>,
    pub python: Option<PythonSdk>,
    pub node: Option<NodeSdk>,
    /// boxsdk 3.x for the many-small-files case, or why it is not measured.
    pub boxsdk3: Result<PythonSdk, String>,
    /// Versions of the SDKs and their runtimes, for the report.
    pub versions: BTreeMap<String, String>,
    /// What was not measured, and why.
    pub notes: Vec<String>,
}

impl Tools {
    /// Builds and installs what the options ask for.
    pub fn find(paths: &Paths, opts: &Options) -> Result<Tools, String> {
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
        let emulator = setup::build_emulator(paths)?;
        let cli = optional(
            opts.skip_cli,
            "The box-upload CLI was not measured (--skip-cli).",
            "The box-upload CLI could not be built, so it was not measured",
            &mut notes,
            || setup::build_cli(paths),
        );
        let python = optional(
            opts.skip_boxsdk,
            "Box's Python SDK was not measured (--skip-boxsdk).",
            "Box's Python SDK could not be installed, so it was not measured",
            &mut notes,
            || setup::python_sdk(paths),
        );
        if let Some(p) = &python {
            versions.insert("boxsdk".into(), p.version.clone());
            versions.insert("python".into(), p.python_version.clone());
        }
        let node = optional(
            opts.skip_node,
            "Box's Node SDK was not measured (--skip-node).",
            "Box's Node SDK could not be installed, so it was not measured",
            &mut notes,
            || setup::node_sdk(paths),
        );
        if let Some(n) = &node {
            versions.insert("box-node-sdk".into(), n.version.clone());
            versions.insert("node".into(), n.node_version.clone());
        }
        let boxsdk3 = boxsdk3_sdk(paths, opts, &mut versions);
        let boxsdk3_upload = match &boxsdk3 {
            Ok(_) => setup::boxsdk3_upload_script(paths).map_err(|e| {
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
        Ok(Tools {
            method,
            exe: current_exe()?,
            emulator,
            cli,
            boxsdk3_upload: boxsdk3_upload
                .ok()
                .zip(boxsdk3.as_ref().ok().map(|p| p.python.clone())),
            python,
            node,
            boxsdk3,
            versions,
            notes,
        })
    }

    /// Whether a client can be measured with what was found.
    pub fn has(&self, client: Client) -> bool {
        match client {
            Client::Floor | Client::Engine => true,
            Client::Cli => self.cli.is_some(),
            Client::Boxsdk => self.python.is_some(),
            Client::Boxsdk3 => self.boxsdk3_upload.is_some(),
            Client::Node => self.node.is_some(),
        }
    }
}

/// A tool that may be skipped (`skip`: the note `skipped`) or fail to set up (a warning, and
/// the note `failed: why`).
fn optional<T>(
    skip: bool,
    skipped: &str,
    failed: &str,
    notes: &mut Vec<String>,
    set_up: impl FnOnce() -> Result<T, String>,
) -> Option<T> {
    if skip {
        notes.push(skipped.into());
        return None;
    }
    match set_up() {
        Ok(t) => Some(t),
        Err(e) => {
            eprintln!("warning: {e}");
            notes.push(format!("{failed}: {}", first_line(&e)));
            None
        }
    }
}

/// boxsdk 10 (its version and Python's noted in `versions`), or why it is not measured.
pub fn boxsdk10_sdk(
    paths: &Paths,
    opts: &Options,
    versions: &mut BTreeMap<String, String>,
) -> Result<PythonSdk, String> {
    if opts.skip_boxsdk {
        return Err("--skip-boxsdk".to_string());
    }
    let p = setup::python_sdk(paths).map_err(|e| {
        format!(
            "could not be installed ({}): {}",
            setup::BOXSDK_REQUIREMENT,
            first_line(&e)
        )
    })?;
    versions.insert("boxsdk".to_string(), p.version.clone());
    versions.insert("python".to_string(), p.python_version.clone());
    Ok(p)
}

/// boxsdk 3.x, or why it is not measured.
pub fn boxsdk3_sdk(
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

/// This bench's `upload-one` (the engine's upload of one file) against `emu`, of `file`.
pub fn upload_one(exe: &Path, emu: &Emulator, file: &Path) -> Cmd {
    Cmd::new(exe)
        .arg("upload-one")
        .arg("--api")
        .arg(emu.api_url())
        .arg("--upload")
        .arg(emu.upload_url())
        .arg("--token")
        .arg(emulator::TOKEN)
        .arg("--file")
        .arg(file)
}

pub fn current_exe() -> Result<PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot find the bench binary: {e}"))
}

/// The first line of a setup error: the rest is in the warning on stderr.
pub fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
