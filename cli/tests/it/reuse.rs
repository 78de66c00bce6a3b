//! Part reuse across a crash: `box-upload put --version-of ID --state S` of a file changed in
//! a few places, killed with SIGKILL after some of the changed parts were sent, and run again.
//! The stored version is the new content; only the changed parts were ever stored (none twice);
//! the plan was asked once, as the state file kept its answers for the second run; and the
//! JSON of the second run says how many bytes were reused and sent.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::*;

const PART: u64 = MIB;
/// 48 parts, the last one short.
const SIZE: u64 = 48 * PART - 7;
const CONCURRENCY: u32 = 2;

/// Runs `cmd` to its end off the runtime; panics with its stderr when it fails.
async fn run_ok(mut cmd: std::process::Command, what: &str) -> serde_json::Value {
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run box-upload"))
        .await
        .expect("join");
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints the file")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_killed_mid_reuse_resumes_sending_only_the_changed_parts_once() {
    const SEED: u64 = 0x2e05_e0ff;
    let emu = start(config(PART)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("reuse.bin");
    let mut data = test_data(SIZE, SEED);
    std::fs::write(&file, &data).expect("write source");

    // The first version, in parts.
    let first = run_ok(
        put(&emu, &file, &dir.path().join("first.upload.json"), 3),
        "the first upload",
    )
    .await;
    let id = first["id"].as_str().expect("file id").to_string();
    assert_stored(&emu, &id, &data).await;

    // A few regions changed in place (one across a part boundary, one in the short last part).
    let regions: [(u64, u64); 7] = [
        (3 * PART + 100, 64),
        (10 * PART - 32, 64),
        (17 * PART + 5000, 4096),
        (25 * PART, 1),
        (31 * PART + PART / 2, 1000),
        (40 * PART + 7, 10),
        (SIZE - 3, 3),
    ];
    for (offset, len) in regions {
        for b in &mut data[offset as usize..(offset + len) as usize] {
            *b ^= 0xff;
        }
    }
    std::fs::write(&file, &data).expect("rewrite source");
    let changed: BTreeSet<u64> = regions
        .iter()
        .flat_map(|&(offset, len)| offset / PART..=(offset + len - 1) / PART)
        .collect();
    assert_eq!(
        changed,
        BTreeSet::from([3, 9, 10, 17, 25, 31, 40, 47]),
        "the parts the regions touch"
    );
    let part_len = |index: u64| PART.min(SIZE - index * PART);
    let parts = SIZE.div_ceil(PART);
    let misses = changed.len() as u64;
    let changed_bytes: u64 = changed.iter().map(|&i| part_len(i)).sum();

    // The new version, slowed down so that the kill lands among the misses.
    emu.reset_counters();
    emu.set_faults(FaultConfig {
        latency_ms: 150,
        ..Default::default()
    });
    let state = dir.path().join("version.upload.json");
    let mut child = put_version(&emu, &file, &id, &state, CONCURRENCY)
        .spawn()
        .expect("start box-upload");
    wait_for_parts(&emu, &mut child, 2, "the version's first run").await;
    let finished = matches!(child.try_wait(), Ok(Some(_)));
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert!(!finished && !status.success(), "killed mid-upload");
    assert!(state.exists(), "the state file survives the kill");
    // Let requests still inside the server finish.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let killed = emu.counters();
    eprintln!(
        "killed after {} of {misses} misses stored",
        killed.parts_stored
    );
    assert!(
        killed.parts_stored < misses,
        "some misses were left for the second run: {killed:?}"
    );
    assert_eq!(
        (killed.plan_requests, killed.plan_hits, killed.plan_misses),
        (1, parts - misses, misses),
        "the whole file was asked about in one plan: {killed:?}"
    );

    // The same command again, without faults.
    emu.set_faults(FaultConfig::default());
    let doc = run_ok(
        put_version(&emu, &file, &id, &state, CONCURRENCY),
        "the resumed run",
    )
    .await;
    assert_eq!(doc["id"].as_str(), Some(id.as_str()), "{doc}");
    assert_eq!(
        doc["sha1"].as_str(),
        Some(sha1_hex(&data).as_str()),
        "{doc}"
    );
    assert_stored(&emu, &id, &data).await;
    assert!(
        !state.exists(),
        "the state file is removed after the commit"
    );

    let c = emu.counters();
    // No part was stored twice: across both runs, exactly the changed parts.
    assert_eq!(c.parts_stored, misses, "{c:?}");
    assert_eq!(c.part_bytes_stored, changed_bytes, "{c:?}");
    // Sent at most once more: the parts cut off by the kill.
    let part_requests = c.requests.get("upload_part").copied().unwrap_or(0);
    assert!(
        part_requests <= misses + u64::from(CONCURRENCY),
        "{part_requests} part uploads for {misses} misses: {c:?}"
    );
    // The second run asked no plan: the state file held every answer (the engine asks about a
    // file on disk in one batch and records the answers before any part is sent).
    assert_eq!(
        (c.plan_requests, c.plan_hits, c.plan_misses),
        (1, parts - misses, misses),
        "{c:?}"
    );
    assert_eq!(c.parts_reused, parts - misses, "{c:?}");
    assert_eq!(c.part_bytes_reused, SIZE - changed_bytes, "{c:?}");
    assert_eq!(
        (
            c.sessions_created,
            c.sessions_committed,
            c.file_versions_created
        ),
        (1, 1, 1),
        "one version session, resumed: {c:?}"
    );
    assert!(emu.open_sessions().is_empty(), "no session left open");

    // The JSON says what was reused and what was sent (by either run).
    assert_eq!(
        doc["bytes_reused"].as_u64(),
        Some(SIZE - changed_bytes),
        "{doc}"
    );
    assert_eq!(doc["bytes_sent"].as_u64(), Some(changed_bytes), "{doc}");
}
