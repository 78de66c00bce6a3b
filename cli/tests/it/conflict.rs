//! `put FILE` when Box holds the name: the same file twice exits 0 and writes nothing (small
//! and chunked), `--on-conflict rename` twice leaves one renamed copy, `fail` exits 6 naming
//! the file's id and name and the option that goes ahead, `--no-reuse` sends every part of a
//! new version; `put DIR --as-folder` uploads into a folder named after the directory (made
//! once, then reused), and the summary says what went where.

use crate::common::*;

/// Parts of 256 KiB; files above 512 KiB go chunked.
const PART: u64 = 256 * KIB;
const CUTOFF: &str = "512KiB";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_file_twice_exits_0_and_writes_nothing() {
    let emu = start(config(PART)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, size) in [("small.bin", 10 * KIB), ("chunked.bin", 3 * PART + 5)] {
        let file = dir.path().join(name);
        std::fs::write(&file, test_data(size, 1)).expect("write");
        let out = run(put_to(&emu, &file, CUTOFF)).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let before = writes(&emu);
        for policy in ["version", "skip", "fail", "rename"] {
            let mut cmd = put_to(&emu, &file, CUTOFF);
            cmd.args(["--on-conflict", policy]);
            let out = run(cmd).await;
            assert_eq!(
                out.status.code(),
                Some(0),
                "{name} {policy}: {}",
                text(&out.stderr)
            );
            let stdout = text(&out.stdout);
            assert!(stdout.contains("skipped"), "{name} {policy}: {stdout}");
            assert!(stdout.contains("nothing was sent"), "{stdout}");
            assert_eq!(writes(&emu), before, "{name} {policy}: nothing written");
        }
        // And with the default policy, as JSON: the file Box holds, and what was done.
        let mut cmd = put_to(&emu, &file, CUTOFF);
        cmd.arg("--json");
        let out = run(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(json["outcome"], "skipped_same_content", "{json}");
        assert_eq!(json["name"], name, "{json}");
        assert_eq!(writes(&emu), before, "{name}: nothing written");
    }
    assert_eq!(emu.tree("0").await.expect("root").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_twice_leaves_one_renamed_copy_and_fail_exits_6_naming_the_file() {
    let emu = start(config(PART)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, b"first").expect("write");
    let out = run(put_to(&emu, &file, CUTOFF)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let tree = emu.tree("0").await.expect("root");
    assert_eq!(tree.len(), 1);

    std::fs::write(&file, b"second, other content").expect("rewrite");
    // fail: exit 6, the file's id and name, and the option that goes ahead; nothing written.
    let before = writes(&emu);
    let mut cmd = put_to(&emu, &file, CUTOFF);
    cmd.args(["--on-conflict", "fail"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let mut cmd = put_to(&emu, &file, CUTOFF);
    cmd.args(["--on-conflict", "fail", "--json"]);
    let json_out = run(cmd).await;
    assert_eq!(json_out.status.code(), Some(6));
    let err: serde_json::Value = serde_json::from_slice(&json_out.stdout).expect("json");
    let message = err["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let id = message
        .split("as file ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the file's id in the message")
        .to_string();
    assert!(stderr.contains(&format!("file {id}")), "{stderr}");
    assert!(stderr.contains("notes.txt"), "{stderr}");
    assert!(stderr.contains("--on-conflict version"), "{stderr}");
    assert_eq!(writes(&emu), before, "fail wrote nothing");

    // rename, twice: one copy.
    for run_no in 0..2 {
        let mut cmd = put_to(&emu, &file, CUTOFF);
        cmd.args(["--on-conflict", "rename"]);
        let out = run(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        if run_no == 0 {
            assert!(stdout.contains("notes (1).txt"), "{stdout}");
        } else {
            assert!(stdout.contains("skipped"), "{stdout}");
        }
    }
    let names: Vec<String> = emu.tree("0").await.expect("root").into_keys().collect();
    assert_eq!(names, ["notes (1).txt", "notes.txt"], "one renamed copy");

    // The default policy: a new version of the file, with the id fail named.
    let mut cmd = put_to(&emu, &file, CUTOFF);
    cmd.arg("--json");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["outcome"], "versioned", "{json}");
    assert_eq!(json["id"], id.as_str(), "{json}");
    assert_stored(&emu, &id, b"second, other content").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_reuse_sends_every_part_of_a_new_version() {
    let emu = start(config(PART)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("big.bin");
    let parts = 8u64;
    let mut content = test_data(parts * PART, 3);
    std::fs::write(&file, &content).expect("write");
    let out = run(put_to(&emu, &file, CUTOFF)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // One part changed: a new version with --no-reuse sends every part, asking no plan.
    content[10] ^= 0xff;
    std::fs::write(&file, &content).expect("rewrite");
    emu.reset_counters();
    let mut cmd = put_to(&emu, &file, CUTOFF);
    cmd.args(["--no-reuse", "--json"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["outcome"], "versioned", "{json}");
    let c = emu.counters();
    assert_eq!(c.plan_requests, 0, "no plan asked");
    assert_eq!(c.parts_stored, parts, "every part sent");
    assert_eq!(c.file_versions_created, 1);

    // Without it, another change: Box is asked which parts it holds, and only the changed one
    // is sent.
    content[10] ^= 0x0f;
    std::fs::write(&file, &content).expect("rewrite");
    emu.reset_counters();
    let out = run(put_to(&emu, &file, CUTOFF)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let c = emu.counters();
    assert!(c.plan_requests >= 1, "{c:?}");
    assert_eq!(c.parts_stored, 1, "only the changed part");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_folder_uploads_into_a_folder_named_after_the_directory() {
    let emu = start(config(PART)).await;
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("photos");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("a.jpg"), b"a").expect("write");

    // The contents into --folder: one file, said so.
    let out = run(put_to(&emu, &dir, CUTOFF)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 file from the contents of"), "{stdout}");
    assert!(stdout.contains("into folder 0"), "{stdout}");
    assert!(!stdout.contains("1 files"), "{stdout}");
    assert_eq!(
        emu.tree("0")
            .await
            .expect("root")
            .into_keys()
            .collect::<Vec<_>>(),
        ["a.jpg"]
    );

    // --as-folder: a dry run first (nothing made), then twice for real (made once, reused).
    let mut cmd = put_to(&emu, &dir, CUTOFF);
    cmd.args(["--as-folder", "--dry-run"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("would create folder photos"));
    assert_eq!(emu.counters().folders_created, 0);
    for _ in 0..2 {
        let mut cmd = put_to(&emu, &dir, CUTOFF);
        cmd.arg("--as-folder");
        let out = run(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("into folder photos ("),
            "{}",
            text(&out.stdout)
        );
    }
    assert_eq!(emu.counters().folders_created, 1, "made once, then reused");
    let tree = emu.tree("0").await.expect("root");
    assert_eq!(
        tree.into_keys().collect::<Vec<_>>(),
        ["a.jpg", "photos/a.jpg"]
    );
    // A dry run now finds the folder and plans the tree in it.
    let mut cmd = put_to(&emu, &dir, CUTOFF);
    cmd.args(["--as-folder", "--dry-run"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("dry run, 1 file from the contents of"));

    // --as-folder is for a directory only.
    let mut cmd = put_to(&emu, &dir.join("a.jpg"), CUTOFF);
    cmd.arg("--as-folder");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
