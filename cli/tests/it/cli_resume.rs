//! `box-upload put` killed with SIGKILL mid-upload and run again with the same state file
//! finishes, uploading only the missing parts; a source changed in between is refused.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::common::*;

const PART: u64 = 512 * KIB;
const PARTS: u64 = 16;
const CONCURRENCY: u32 = 2;

/// Starts an upload that the emulator slows down, and kills it with SIGKILL once a few parts
/// are stored. Returns how many parts the server holds once it has settled.
async fn start_and_kill(emu: &Emulator, file: &Path, state: &Path) -> u64 {
    emu.set_faults(FaultConfig {
        latency_ms: 150,
        ..Default::default()
    });
    let mut child = put(emu, file, state, CONCURRENCY)
        .spawn()
        .expect("start box-upload");
    wait_for_parts(emu, &mut child, 4, "the first run").await;
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert!(!status.success());
    // Requests already inside the server finish (or fail) on their own: wait until the count
    // of stored parts stops moving.
    let mut last = emu.counters().parts_stored;
    loop {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let now = emu.counters().parts_stored;
        if now == last {
            break;
        }
        last = now;
    }
    emu.set_faults(FaultConfig::default());
    last
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "box-upload failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints the file")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_upload_resumes_and_sends_only_the_missing_parts() {
    let emu = start(config(PART)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("movie.bin");
    let state = dir.path().join("movie.upload.json");
    let data = test_data(PARTS * PART - 123, 5);
    std::fs::write(&file, &data).expect("write");

    let stored = start_and_kill(&emu, &file, &state).await;
    assert!(
        stored < PARTS,
        "killed before the end ({stored} parts stored)"
    );
    assert_eq!(
        emu.open_sessions().len(),
        1,
        "the session is kept for resume"
    );
    let text = std::fs::read_to_string(&state).expect("the state file exists");
    let recorded: serde_json::Value = serde_json::from_str(&text).expect("state is JSON");
    assert_eq!(
        recorded["session_id"].as_str(),
        emu.open_sessions().first().map(String::as_str)
    );
    assert!(
        !text.contains(emu.token()),
        "the state file never holds the token"
    );

    emu.reset_counters();
    let mut cmd = put(&emu, &file, &state, CONCURRENCY);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run box-upload again"))
        .await
        .expect("join");
    let committed = stdout_json(&out);
    let c = emu.counters();
    assert_eq!(
        c.sessions_created, 0,
        "the session was resumed, not recreated"
    );
    assert_eq!(c.sessions_committed, 1);
    assert_eq!(
        c.parts_stored,
        PARTS - stored,
        "only the missing parts were stored"
    );
    assert_eq!(
        c.requests_for(Operation::UploadPart),
        PARTS - stored,
        "only the missing parts were sent"
    );
    let id = committed["id"].as_str().expect("file id").to_string();
    assert_stored(&emu, &id, &data).await;
    assert!(
        !state.exists(),
        "the state file is removed after the commit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_changed_between_crash_and_resume_is_refused() {
    let emu = start(config(PART)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("doc.bin");
    let state = dir.path().join("doc.upload.json");
    std::fs::write(&file, test_data(PARTS * PART, 6)).expect("write");

    start_and_kill(&emu, &file, &state).await;
    // Same size, other bytes (and a new mtime).
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&file, test_data(PARTS * PART, 7)).expect("rewrite");

    let mut cmd = put(&emu, &file, &state, CONCURRENCY);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run"))
        .await
        .expect("join");
    assert_eq!(out.status.code(), Some(7), "the source changed: exit 7");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("changed since the interrupted upload"),
        "{stderr}"
    );
    assert!(
        stderr.contains("upload session"),
        "names the session: {stderr}"
    );
    let c = emu.counters();
    assert_eq!(
        (c.sessions_committed, c.files_created),
        (0, 0),
        "nothing committed"
    );
}
