//! The library as a service uses it: a name already in use is read from the error's kind (the
//! existing file's id and name, for a small and a chunked upload alike), a paused upload resumes
//! in the same session, and an aborted one leaves no session behind.

use crate::common::*;
use box_uploads::upload::{Upload, UploadErrorKind};
use std::time::Duration;

/// A name in use answers 409 `item_name_in_use`; the kind names the file that holds it.
#[tokio::test]
async fn a_name_in_use_names_the_existing_file_for_a_small_and_a_chunked_upload() {
    let emu = start(small_config()).await;
    let uploader = uploader(&emu, 200 * KIB);
    for (name, size) in [("small.bin", 10 * KIB), ("chunked.bin", 600 * KIB)] {
        let first = uploader
            .upload(Upload::new_file("0", name).from_bytes(test_data(size, 1)))
            .await
            .expect("first upload");
        let err = uploader
            .upload(Upload::new_file("0", name).from_bytes(test_data(size, 2)))
            .await
            .expect_err("the name is in use");
        match err.kind() {
            UploadErrorKind::Conflict {
                existing,
                operation,
                ..
            } => {
                assert_eq!(existing.id, first.id, "{name}: {operation}");
                assert_eq!(existing.name, name);
                assert_eq!(existing.kind, "file");
            }
            other => panic!("{name}: expected a conflict, got {other:?}"),
        }
        assert_eq!(
            err.conflict().map(|e| e.id.as_str()),
            Some(first.id.as_str())
        );
        // The raw answer stays reachable.
        assert_eq!(err.status(), Some(409));
        assert_eq!(err.code(), Some("item_name_in_use"));

        // What a service does next: a new version of the file the error names.
        let existing = err.conflict().expect("conflict").id.clone();
        let v2 = uploader
            .upload(Upload::new_version(&existing).from_bytes(test_data(size, 2)))
            .await
            .expect("new version");
        assert_eq!(v2.id, first.id);
    }
}

/// A missing folder is `NotFound` naming the folder.
#[tokio::test]
async fn a_missing_folder_is_named() {
    let emu = start(small_config()).await;
    let err = uploader(&emu, 200 * KIB)
        .upload(Upload::new_file("987654", "x.bin").from_bytes(test_data(KIB, 3)))
        .await
        .expect_err("no such folder");
    assert!(
        matches!(
            err.kind(),
            UploadErrorKind::NotFound { missing: box_uploads::upload::Missing::Folder { id }, .. }
                if id == "987654"
        ),
        "{err:?}"
    );
}

/// An upload of 256 KiB parts slowed down by the emulator, under way with a state file.
async fn slow_emulator() -> Emulator {
    let emu = start(config(256 * KIB)).await;
    emu.set_faults(FaultConfig {
        latency_ms: 50,
        ..Default::default()
    });
    emu
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_upload_resumes_in_the_same_session() {
    let emu = slow_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("paused.upload");
    let content = test_data(8 * MIB, 11);
    let upload = || {
        Upload::new_file("0", "paused.bin")
            .from_bytes(content.clone())
            .state_file(&state)
    };
    let uploader = uploader(&emu, MIB);
    let handle = uploader.start_upload(upload());
    let mut progress = handle.progress();
    progress
        .wait_for(|p| p.parts_done >= 2)
        .await
        .expect("progress");
    assert!(
        handle.pause().await.expect("pause").is_none(),
        "paused before the commit"
    );

    let sessions = emu.open_sessions();
    assert_eq!(sessions.len(), 1, "the session is kept: {sessions:?}");
    assert!(state.exists(), "the state file is kept");
    let c = emu.counters();
    assert_eq!((c.sessions_aborted, c.files_created), (0, 0));
    let stored_before = c.parts_stored;
    assert!(stored_before < 32, "stopped early ({stored_before} parts)");

    emu.set_faults(FaultConfig::default());
    let file = uploader.upload(upload()).await.expect("resumed");
    assert_eq!(file.size, Some(8 * MIB as i64));
    let c = emu.counters();
    assert_eq!(
        c.sessions_created, 1,
        "resumed in the same session, {sessions:?}"
    );
    assert_eq!(c.sessions_aborted, 0);
    assert_eq!(c.parts_stored, 32, "only the missing parts were sent again");
    assert!(emu.open_sessions().is_empty());
    assert!(!state.exists(), "removed after the commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_upload_leaves_no_session_nor_state_file() {
    let emu = slow_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("aborted.upload");
    let handle = uploader(&emu, MIB).start_upload(
        Upload::new_file("0", "aborted.bin")
            .from_bytes(test_data(8 * MIB, 12))
            .state_file(&state),
    );
    let mut progress = handle.progress();
    progress
        .wait_for(|p| p.parts_done >= 2)
        .await
        .expect("progress");
    assert!(handle.abort().await.expect("abort").is_none());
    let _ = emu
        .wait_for_counters(Duration::from_secs(5), |c| c.sessions_aborted == 1)
        .await;
    assert!(emu.open_sessions().is_empty(), "{:?}", emu.open_sessions());
    let c = emu.counters();
    assert_eq!(
        (c.sessions_created, c.sessions_aborted, c.files_created),
        (1, 1, 0)
    );
    assert!(!state.exists(), "an abort removes the state file");
}
