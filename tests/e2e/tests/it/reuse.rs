//! Part reuse end to end (Box's plan): a large file changed in place and uploaded as a new
//! version sends only the parts the change touched, asks the plan in one or two requests, and
//! the emulator then holds exactly the new content; the same content again sends nothing.
//!
//! Size: the full 200 MiB file in 8 MiB parts (25 parts), changed in a 3 MiB region that
//! straddles a part boundary (two parts touched).

use std::io::{Seek as _, SeekFrom, Write as _};

use crate::common::*;
use box_emulator::Counters;
use box_uploads::upload::Upload;

const PART: u64 = 8 * MIB;
const SIZE: u64 = 200 * MIB;

fn delta(after: &Counters, before: &Counters, op: &str) -> u64 {
    after.requests.get(op).copied().unwrap_or(0) - before.requests.get(op).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_changed_in_place_sends_only_the_changed_parts() {
    let emu = start(config(PART)).await;
    let uploader = uploader(&emu, MIB);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.bin");
    let mut content = test_data(SIZE, 19);
    std::fs::write(&path, &content).expect("write");
    let first = uploader
        .upload(Upload::new_file("0", "big.bin").from_path(&path))
        .await
        .expect("the first version");

    // 3 MiB changed in place, across the boundary of parts 13 and 14 (110 MiB to 113 MiB).
    let (from, len) = (110 * MIB, 3 * MIB);
    let region = &mut content[from as usize..(from + len) as usize];
    for b in region.iter_mut() {
        *b ^= 0x5a;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    file.seek(SeekFrom::Start(from)).expect("seek");
    file.write_all(region).expect("rewrite the region");
    file.sync_all().expect("sync");
    drop(file);
    let changed_parts = 2;
    let changed_bytes = changed_parts * PART;

    let before = emu.counters();
    let handle = uploader.start_upload(Upload::new_version(&first.id).from_path(&path));
    let progress = handle.progress();
    let second = handle.join().await.expect("the new version");
    let after = emu.counters();

    let plans = after.plan_requests - before.plan_requests;
    assert!((1..=2).contains(&plans), "{plans} plan requests");
    assert_eq!(delta(&after, &before, "plan_upload_session"), plans);
    assert_eq!(after.plan_misses - before.plan_misses, changed_parts);
    assert_eq!(
        after.plan_hits - before.plan_hits,
        SIZE / PART - changed_parts
    );
    assert_eq!(delta(&after, &before, "upload_part"), changed_parts);
    assert!(after.part_bytes_stored - before.part_bytes_stored <= changed_bytes);
    assert_eq!(
        after.part_bytes_reused - before.part_bytes_reused,
        SIZE - changed_bytes
    );
    assert_eq!(
        after.file_versions_created - before.file_versions_created,
        1
    );

    let p = progress.borrow().clone();
    assert!(p.bytes_sent <= changed_bytes, "{} bytes sent", p.bytes_sent);
    assert_eq!(p.bytes_reused, SIZE - changed_bytes);
    assert_eq!(p.bytes_done, SIZE);

    // The emulator holds exactly the new content.
    let expected = sha1_hex(&content);
    assert_eq!(second.id, first.id);
    assert_eq!(second.sha1.as_deref(), Some(expected.as_str()));
    let stored = emu
        .file_content(&first.id, None)
        .await
        .expect("download the new version");
    assert_eq!(stored.len() as u64, SIZE);
    assert_eq!(sha1_hex(&stored), expected, "downloaded SHA-1");

    // The same content again: every part is a hit, nothing is sent, and the file ends holding
    // it (the emulator answers such a commit 201; Box's 10.18 SDKs read Box's 202 as unchanged).
    let before = emu.counters();
    let third = uploader
        .upload(Upload::new_version(&first.id).from_path(&path))
        .await
        .expect("an unchanged version");
    let after = emu.counters();
    assert_eq!(delta(&after, &before, "upload_part"), 0);
    assert_eq!(after.plan_misses - before.plan_misses, 0);
    assert_eq!(third.sha1.as_deref(), Some(expected.as_str()));
}

/// A folder tree run that versions a changed large file goes through the same uploader, so it
/// reuses the parts the change did not touch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_run_versioning_a_changed_file_reuses_its_unchanged_parts() {
    use box_uploads::tree::{OnConflict, TreeUpload};

    const TREE_PART: u64 = 64 * KIB;
    let emu = start(config(TREE_PART)).await;
    let uploader = uploader(&emu, 200 * KIB);
    let local = tempfile::tempdir().expect("tempdir");
    let path = local.path().join("big.bin");
    let mut content = test_data(16 * TREE_PART, 23);
    std::fs::write(&path, &content).expect("write");
    let tree = || TreeUpload::new(local.path(), "0").on_conflict(OnConflict::Version);
    uploader.upload_tree(tree()).await.expect("first run");

    // Ten bytes changed in place, inside part 4.
    let from = 4 * TREE_PART + 100;
    for b in &mut content[from as usize..from as usize + 10] {
        *b ^= 0xff;
    }
    std::fs::write(&path, &content).expect("rewrite");
    let before = emu.counters();
    let report = uploader.upload_tree(tree()).await.expect("second run");
    let after = emu.counters();
    assert_eq!(report.versioned(), 1);
    assert_eq!(after.plan_requests - before.plan_requests, 1);
    assert_eq!(after.plan_misses - before.plan_misses, 1);
    assert_eq!(delta(&after, &before, "upload_part"), 1);
    assert_eq!(after.parts_reused - before.parts_reused, 15);
    assert_tree_matches(&emu, "0", local.path()).await;
}
