//! A single new file's conflict policy against the emulator, for a small (one request) and a
//! chunked file: the same content is skipped whatever the policy with no byte sent, `Version`
//! makes a new version of the file holding the name, `Rename` run twice leaves one renamed
//! copy, `Skip` leaves the file, `Fail` names the file (id and name); a dry run
//! (`plan_upload`) says the same and sends nothing.

use crate::common::*;
use box_uploads::upload::{OnConflict, Upload, UploadErrorKind, UploadOutcome};

const POLICIES: [OnConflict; 4] = [
    OnConflict::Version,
    OnConflict::Skip,
    OnConflict::Fail,
    OnConflict::Rename,
];

/// The sizes tried: one request, and chunked (the uploader chunks above 200 KiB).
const SIZES: [(&str, u64); 2] = [("small", 10 * KIB), ("chunked", 600 * KIB)];

/// Nothing was written: no content received, no file, version or session made.
fn assert_nothing_written(emu: &Emulator, what: &str) {
    let c = emu.counters();
    assert_eq!(c.file_bytes_received, 0, "{what}: no byte sent");
    assert_eq!(
        (c.files_created, c.file_versions_created, c.sessions_created),
        (0, 0, 0),
        "{what}: nothing made"
    );
}

/// Writes `content` to a file in `dir` and returns an upload of it to `name` in the root.
fn upload_of(dir: &std::path::Path, name: &str, content: &[u8], policy: OnConflict) -> Upload {
    let path = dir.join(format!("{name}.{}", content.len()));
    std::fs::write(&path, content).expect("write");
    Upload::new_file("0", name)
        .on_conflict(policy)
        .from_path(path)
        .into()
}

/// The file a second upload meets: `test_data(size, 1)` uploaded as `name` under `policy`.
async fn first_upload(
    up: &Uploader,
    dir: &std::path::Path,
    name: &str,
    size: u64,
    policy: OnConflict,
) -> box_uploads::models::FileFull {
    up.upload(upload_of(dir, name, &test_data(size, 1), policy))
        .await
        .expect("first upload")
}

#[tokio::test]
async fn the_same_content_is_skipped_whatever_the_policy_with_no_byte_sent() {
    let emu = start(small_config()).await;
    let up = uploader(&emu, 200 * KIB);
    let dir = tempfile::tempdir().expect("tempdir");
    for (label, size) in SIZES {
        let name = format!("{label}.bin");
        let content = test_data(size, 1);
        let first = up
            .upload_with_outcome(upload_of(dir.path(), &name, &content, OnConflict::Version))
            .await
            .expect("first upload");
        assert_eq!(first.outcome, UploadOutcome::Uploaded, "{label}");
        for policy in POLICIES {
            emu.reset_counters();
            let again = up
                .upload_with_outcome(upload_of(dir.path(), &name, &content, policy))
                .await
                .unwrap_or_else(|e| panic!("{label} {policy:?}: {e}"));
            assert_eq!(
                again.outcome,
                UploadOutcome::SkippedIdentical,
                "{label} {policy:?}"
            );
            assert_eq!(again.file.id, first.file.id, "{label} {policy:?}");
            assert_nothing_written(&emu, &format!("{label} {policy:?}"));
            // The same from bytes in memory.
            let bytes = Upload::new_file("0", &name)
                .on_conflict(policy)
                .from_bytes(content.clone());
            let file = up.upload(bytes).await.expect("bytes skipped");
            assert_eq!(file.id, first.file.id);
            assert_nothing_written(&emu, &format!("{label} {policy:?} bytes"));
        }
    }
    let tree = emu.tree("0").await.expect("root");
    assert_eq!(tree.len(), 2, "one file per size: {tree:?}");
}

#[tokio::test]
async fn version_makes_a_new_version_of_the_file_holding_the_name() {
    let emu = start(small_config()).await;
    let up = uploader(&emu, 200 * KIB);
    let dir = tempfile::tempdir().expect("tempdir");
    for (label, size) in SIZES {
        let name = format!("{label}.bin");
        let first = first_upload(&up, dir.path(), &name, size, OnConflict::Version).await;
        emu.reset_counters();
        let changed = test_data(size, 2);
        let done = up
            .upload_with_outcome(upload_of(dir.path(), &name, &changed, OnConflict::Version))
            .await
            .expect("new version");
        assert_eq!(done.outcome, UploadOutcome::Versioned, "{label}");
        assert_eq!(done.file.id, first.id, "{label}: the same file");
        let c = emu.counters();
        assert_eq!(
            (c.files_created, c.file_versions_created),
            (0, 1),
            "{label}"
        );
        assert_stored(&emu, &first.id, &changed).await;
    }
}

#[tokio::test]
async fn rename_twice_leaves_one_renamed_copy() {
    let emu = start(small_config()).await;
    let up = uploader(&emu, 200 * KIB);
    let dir = tempfile::tempdir().expect("tempdir");
    for (label, size) in SIZES {
        let name = format!("{label}.bin");
        let copy = format!("{label} (1).bin");
        first_upload(&up, dir.path(), &name, size, OnConflict::Rename).await;
        let other = test_data(size, 3);
        let renamed = up
            .upload_with_outcome(upload_of(dir.path(), &name, &other, OnConflict::Rename))
            .await
            .expect("renamed");
        assert_eq!(
            renamed.outcome,
            UploadOutcome::Renamed { name: copy.clone() },
            "{label}"
        );
        assert_eq!(renamed.file.name.as_deref(), Some(copy.as_str()));
        assert_stored(&emu, &renamed.file.id, &other).await;

        emu.reset_counters();
        let planned = up
            .plan_upload(upload_of(dir.path(), &name, &other, OnConflict::Rename))
            .await
            .expect("plan");
        assert_eq!(
            planned.outcome,
            UploadOutcome::SkippedRenamedCopy { name: copy.clone() }
        );
        let again = up
            .upload_with_outcome(upload_of(dir.path(), &name, &other, OnConflict::Rename))
            .await
            .expect("renamed again");
        assert_eq!(
            again.outcome,
            UploadOutcome::SkippedRenamedCopy { name: copy.clone() },
            "{label}"
        );
        assert_eq!(again.file.id, renamed.file.id);
        assert_nothing_written(&emu, &format!("{label}: rename again"));
    }
    let tree = emu.tree("0").await.expect("root");
    let names: Vec<&str> = tree.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "chunked (1).bin",
            "chunked.bin",
            "small (1).bin",
            "small.bin"
        ],
        "one renamed copy each"
    );
}

#[tokio::test]
async fn fail_names_the_file_and_skip_leaves_it() {
    let emu = start(small_config()).await;
    let up = uploader(&emu, 200 * KIB);
    let dir = tempfile::tempdir().expect("tempdir");
    for (label, size) in SIZES {
        let name = format!("{label}.bin");
        let first = first_upload(&up, dir.path(), &name, size, OnConflict::Fail).await;
        emu.reset_counters();
        let other = test_data(size, 4);
        let err = up
            .upload(upload_of(dir.path(), &name, &other, OnConflict::Fail))
            .await
            .expect_err("fail");
        match err.kind() {
            UploadErrorKind::Conflict { existing, .. } => {
                assert_eq!(existing.id, first.id, "{label}");
                assert_eq!(existing.name, name, "{label}");
                assert_eq!(existing.kind, "file");
            }
            other => panic!("{label}: expected a conflict, got {other:?}"),
        }
        assert_eq!(
            err.conflict().map(|e| e.id.as_str()),
            Some(first.id.as_str())
        );
        let why = std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default();
        assert!(why.contains("OnConflict::Version"), "{label}: {why}");
        let plan = up
            .plan_upload(upload_of(dir.path(), &name, &other, OnConflict::Fail))
            .await
            .expect_err("a dry run fails alike");
        assert_eq!(
            plan.conflict().map(|e| e.id.as_str()),
            Some(first.id.as_str())
        );

        let skipped = up
            .upload_with_outcome(upload_of(dir.path(), &name, &other, OnConflict::Skip))
            .await
            .expect("skip");
        assert_eq!(skipped.outcome, UploadOutcome::Skipped, "{label}");
        assert_eq!(skipped.file.id, first.id);
        assert_nothing_written(&emu, &format!("{label}: fail and skip"));
    }
}

/// Without a policy, nothing is looked up and a name in use is Box's conflict, as before.
#[tokio::test]
async fn without_a_policy_a_name_in_use_is_a_conflict_even_for_the_same_content() {
    let emu = start(small_config()).await;
    let up = uploader(&emu, 200 * KIB);
    let content = test_data(10 * KIB, 5);
    let first = up
        .upload(Upload::new_file("0", "plain.bin").from_bytes(content.clone()))
        .await
        .expect("first upload");
    let err = up
        .upload(Upload::new_file("0", "plain.bin").from_bytes(content))
        .await
        .expect_err("conflict");
    assert_eq!(
        err.conflict().map(|e| e.id.as_str()),
        Some(first.id.as_str())
    );
    assert_eq!(err.status(), Some(409));
    assert_eq!(emu.counters().requests.get("preflight"), None);
}
