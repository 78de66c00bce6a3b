//! Helpers shared by the command-line tests: the `box-upload` binary as a command, and a
//! killed `put` waited out. What concerns the emulator alone (starting one, test data, reading
//! back what was stored) is `box_emulator::testing`, re-exported here.

use std::io::Read as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use box_emulator::testing::*;
pub use box_emulator::{Config, Emulator, FaultConfig, Operation};

/// Every environment variable `box-upload` reads credentials from.
pub const CREDENTIAL_VARS: [&str; 6] = [
    "BOX_TOKEN",
    "BOX_CLIENT_ID",
    "BOX_CLIENT_SECRET",
    "BOX_ENTERPRISE_ID",
    "BOX_USER_ID",
    "BOX_JWT_CONFIG",
];

/// The other environment variables `box-upload` reads: where Box is, which extra CA to trust,
/// and the log filter.
pub const OTHER_VARS: [&str; 5] = [
    "BOX_API_URL",
    "BOX_UPLOAD_URL",
    "BOX_TOKEN_URL",
    "BOX_CA_CERT",
    "RUST_LOG",
];

/// The `box-upload` binary with no input and none of the variables it reads from the test
/// run's environment (a developer's own `BOX_CLIENT_ID` would otherwise conflict with the
/// test's token, a `BOX_API_URL` send it elsewhere).
pub fn box_upload() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_box-upload"));
    cmd.stdin(Stdio::null());
    for var in CREDENTIAL_VARS.iter().chain(&OTHER_VARS) {
        cmd.env_remove(var);
    }
    cmd
}

/// `box-upload put FILE --state STATE --json` into the root folder of `emu` with `concurrency`
/// parts at a time, chunked above 1 MiB, the token in `BOX_TOKEN`, stdout and stderr piped.
pub fn put(emu: &Emulator, file: &Path, state: &Path, concurrency: u32) -> Command {
    put_into(emu, file, state, concurrency, &["--folder", "0"])
}

/// As [`put`], but a new version of the Box file `file_id` (`--version-of`).
pub fn put_version(
    emu: &Emulator,
    file: &Path,
    file_id: &str,
    state: &Path,
    concurrency: u32,
) -> Command {
    put_into(emu, file, state, concurrency, &["--version-of", file_id])
}

/// As [`put`], with `target` saying where the file goes.
fn put_into(
    emu: &Emulator,
    file: &Path,
    state: &Path,
    concurrency: u32,
    target: &[&str],
) -> Command {
    let mut cmd = box_upload();
    cmd.arg("put")
        .arg(file)
        .args(target)
        .arg("--json")
        .args(["--concurrency", &concurrency.to_string()])
        .arg("--state")
        .arg(state)
        .args([
            "--api-url",
            &emu.api_url(),
            "--upload-url",
            &emu.upload_url(),
        ])
        .args(["--chunked-cutoff", "1048576", "--min-chunked-size", "1"])
        .env("BOX_TOKEN", emu.token())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// `box-upload put FILE --folder 0` into `emu`, chunking above `cutoff`, the token
/// in `BOX_TOKEN`, stdout and stderr piped (no state file, no `--json`).
pub fn put_to(emu: &Emulator, file: &Path, cutoff: &str) -> Command {
    let mut cmd = box_upload();
    cmd.arg("put")
        .arg(file)
        .args([
            "--folder",
            "0",
            "--api-url",
            &emu.api_url(),
            "--upload-url",
            &emu.upload_url(),
            "--chunked-cutoff",
            cutoff,
            "--min-chunked-size",
            "1",
        ])
        .env("BOX_TOKEN", emu.token())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits (for at most two minutes) until `emu` has stored `parts` parts while `child` runs.
///
/// # Panics
///
/// If `child` ends first, or time runs out; `what` says which run it was.
pub async fn wait_for_parts(emu: &Emulator, child: &mut Child, parts: u64, what: &str) {
    let waited = emu
        .wait_for_counters(Duration::from_secs(120), |c| {
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                panic!("{what}: box-upload ended ({status}) before it was killed: {stderr}");
            }
            c.parts_stored >= parts
        })
        .await;
    if let Err(c) = waited {
        panic!("{what}: no progress: {c:?}");
    }
}

/// Runs a prepared `box-upload` command to its end, off the async runtime's threads.
pub async fn run(mut cmd: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("box-upload runs"))
        .await
        .expect("join")
}

/// A command's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What writing changes in the emulator: files, versions, folders, sessions created and
/// committed, file bytes received, parts stored. Equal before and after: nothing was written.
pub fn writes(emu: &Emulator) -> [u64; 7] {
    let c = emu.counters();
    [
        c.files_created,
        c.file_versions_created,
        c.folders_created,
        c.sessions_created,
        c.sessions_committed,
        c.file_bytes_received,
        c.parts_stored,
    ]
}
