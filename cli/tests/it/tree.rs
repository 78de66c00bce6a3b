//! `box-upload put DIR`: a dry run does nothing, then the tree goes into a folder, excludes and
//! symlinks left out, a second run sends nothing, `--on-conflict fail` exits non-zero naming the file.

use std::path::Path;
use std::process::Output;

use crate::common::*;

async fn run(emu: &Emulator, dir: &Path, state: &Path, extra: &[&str]) -> Output {
    let mut cmd = put(emu, dir, state, 4);
    cmd.args(["--exclude", "*.tmp"]).args(extra);
    tokio::task::spawn_blocking(move || cmd.output().expect("run"))
        .await
        .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_dir_uploads_the_tree_then_skips_it_and_reports_conflicts() {
    let emu = start(config(MIB)).await;
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("site");
    for i in 0..24u64 {
        let sub = dir.join(format!("p{}/q{}", i % 3, i % 2));
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::write(sub.join(format!("f{i}.txt")), test_data(i * 100, i)).expect("write");
    }
    std::fs::write(dir.join("big.bin"), test_data(MIB + 3, 99)).expect("write");
    std::fs::write(dir.join("p0/scratch.tmp"), b"left out").expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("big.bin"), dir.join("link.bin")).expect("symlink");
    let state = work.path().join("site.journal");

    // A dry run says what it would do and does nothing, not even start the journal.
    let out = run(&emu, &dir, &state, &["--dry-run"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let planned = json["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| f["result"] == "planned" && f["action"] == "upload")
        .count();
    assert_eq!(planned, 25);
    assert_eq!(
        emu.counters().files_created + emu.counters().folders_created,
        0
    );
    assert!(!state.exists());

    let out = run(&emu, &dir, &state, &[]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["uploaded"], 25);
    assert_eq!(json["failed"], 0);
    let results: Vec<&str> = json["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["result"].as_str().expect("result"))
        .collect();
    #[cfg(unix)]
    assert!(json["files"]
        .as_array()
        .expect("files")
        .iter()
        .any(|f| f["path"] == "link.bin" && f["reason"] == "symlink"));
    assert_eq!(results.iter().filter(|r| **r == "uploaded").count(), 25);
    let mut expected = local_tree(&dir);
    expected.remove("p0/scratch.tmp");
    assert_eq!(emu.tree("0").await.expect("root"), expected);
    assert_eq!(emu.counters().sessions_committed, 1, "big.bin went chunked");

    // Again, without the journal: every file is found in Box and skipped, no byte sent.
    emu.reset_counters();
    let out = run(
        &emu,
        &dir,
        &work.path().join("other.journal"),
        &["--on-conflict", "skip"],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["skipped"], 26, "25 files and the link");
    assert_eq!(emu.counters().file_bytes_received, 0);

    // A changed file with --on-conflict fail: exit 1, the file named on stderr.
    std::fs::write(dir.join("p1/q1/f1.txt"), b"changed").expect("write");
    let out = run(
        &emu,
        &dir,
        &work.path().join("third.journal"),
        &["--on-conflict", "fail"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("p1/q1/f1.txt"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["failed"], 1);
}

/// A journal kept inside the tree it records (`--state DIR/journal`) is never uploaded: not on
/// the run that creates it, and not on the next, when it exists and has grown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_kept_inside_the_tree_is_never_uploaded() {
    let emu = start(config(MIB)).await;
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("docs");
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    std::fs::write(dir.join("a.txt"), test_data(300, 1)).expect("write");
    std::fs::write(dir.join("sub/b.txt"), test_data(700, 2)).expect("write");
    let state = dir.join("journal.jsonl");

    for round in 0..2 {
        let out = run(&emu, &dir, &state, &[]).await;
        assert!(
            out.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(state.exists(), "round {round}: the journal is written");
        let mut expected = local_tree(&dir);
        expected.remove("journal.jsonl");
        let stored = emu.tree("0").await.expect("root");
        assert!(
            !stored.contains_key("journal.jsonl"),
            "round {round}: {stored:?}"
        );
        assert_eq!(stored, expected, "round {round}");
    }
    assert_eq!(emu.counters().files_created, 2, "a.txt and sub/b.txt only");
}
