//! Box's rarer answers, handled as Box means them
//! (<https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/>): the
//! "try later" 409s are waited out; a write whose answer was lost (a dropped connection, a 5xx
//! after the file was stored) is found by name and SHA-1 instead of failing or being stored
//! twice; a crash between the commit and the removal of the state file is recovered from the
//! recorded SHA-1; the file's dates go with it.

use crate::common::*;
use std::time::Duration;

use box_uploads::upload::{RetryPolicy, Upload};

fn faulty(seed: u64) -> Config {
    Config {
        seed,
        ..config(MIB)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_409s_are_waited_out() {
    let emu = start(faulty(11)).await;
    emu.set_faults(FaultConfig {
        name_temporarily_reserved: 0.4,
        operation_blocked: 0.4,
        ..Default::default()
    });
    let uploader = uploader(&emu, 2 * MIB);
    for (i, len) in [1000, 5000, 3 * MIB, 1, 4 * MIB + 7, 20_000]
        .into_iter()
        .enumerate()
    {
        let data = test_data(len, i as u64);
        let file = uploader
            .upload(Upload::new_file("0", format!("f{i}")).from_bytes(data.clone()))
            .await
            .unwrap_or_else(|e| panic!("upload {i}: {e} ({:?})", emu.counters().injected));
        assert_stored(&emu, &file.id, &data).await;
    }
    let c = emu.counters();
    assert!(c.injected.name_temporarily_reserved > 0, "{:?}", c.injected);
    assert!(c.injected.operation_blocked > 0, "{:?}", c.injected);
    assert_eq!(c.files_created, 6);
}

/// Every write is stored and its answer lost (a dropped commit, a 500 or a 503 after a direct
/// upload): each upload returns the one file it stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_after_the_write_are_found_not_repeated() {
    let cases: [(&str, u64, FaultConfig); 4] = [
        (
            "commit dropped",
            3 * MIB,
            FaultConfig {
                commit_drop_after_store: 1.0,
                ..Default::default()
            },
        ),
        (
            "direct 500",
            1000,
            FaultConfig {
                direct_500_after_store: 1.0,
                ..Default::default()
            },
        ),
        (
            "direct 503",
            1000,
            FaultConfig {
                write_503_after_store: 1.0,
                ..Default::default()
            },
        ),
        (
            "commit 503",
            3 * MIB,
            FaultConfig {
                write_503_after_store: 1.0,
                ..Default::default()
            },
        ),
    ];
    for (what, len, faults) in cases {
        let emu = start(faulty(3)).await;
        emu.set_faults(faults);
        let data = test_data(len, 5);
        let file = uploader(&emu, 2 * MIB)
            .upload(Upload::new_file("0", "once.bin").from_bytes(data.clone()))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            file.sha1.as_deref(),
            Some(sha1_hex(&data).as_str()),
            "{what}"
        );
        assert_stored(&emu, &file.id, &data).await;
        let c = emu.counters();
        assert_eq!(c.files_created, 1, "{what}: stored once");
        assert!(
            c.injected.commit_drop_after_store
                + c.injected.direct_500_after_store
                + c.injected.write_503_after_store
                > 0,
            "{what}: {:?}",
            c.injected
        );
    }
}

/// A new version sent with `if_match` is stored and its answer lost (a 500 or a 503 after a
/// direct upload, a dropped or 503 commit). Our own write changed the etag, so sending it again
/// would be answered 412: the upload reads the file (get-file-info), finds our SHA-1 and size,
/// and returns the new version instead of a precondition failure or a second version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_a_new_version_with_if_match_is_success_not_412() {
    let cases: [(&str, u64, FaultConfig); 4] = [
        (
            "direct 500",
            1000,
            FaultConfig {
                direct_500_after_store: 1.0,
                ..Default::default()
            },
        ),
        (
            "direct 503",
            1000,
            FaultConfig {
                write_503_after_store: 1.0,
                ..Default::default()
            },
        ),
        (
            "commit dropped",
            3 * MIB,
            FaultConfig {
                commit_drop_after_store: 1.0,
                ..Default::default()
            },
        ),
        (
            "commit 503",
            3 * MIB,
            FaultConfig {
                write_503_after_store: 1.0,
                ..Default::default()
            },
        ),
    ];
    for (what, len, faults) in cases {
        let emu = start(faulty(4)).await;
        let uploader = uploader(&emu, 2 * MIB);
        let first = uploader
            .upload(Upload::new_file("0", "v.bin").from_bytes(test_data(100, 1)))
            .await
            .expect("v1");
        let etag = first.etag.clone().expect("etag");
        let before = emu.counters();
        emu.set_faults(faults);
        let data = test_data(len, 6);
        let file = uploader
            .upload(
                Upload::new_version(&first.id)
                    .if_match(&etag)
                    .from_bytes(data.clone()),
            )
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(file.id, first.id, "{what}");
        assert_eq!(
            file.sha1.as_deref(),
            Some(sha1_hex(&data).as_str()),
            "{what}"
        );
        assert_eq!(file.size, Some(len as i64), "{what}");
        assert_ne!(file.etag.as_deref(), Some(etag.as_str()), "{what}");
        emu.set_faults(FaultConfig::default());
        assert_stored(&emu, &first.id, &data).await;
        let c = emu.counters();
        assert_eq!(
            c.file_versions_created - before.file_versions_created,
            1,
            "{what}: exactly one new version"
        );
        assert_eq!(c.files_created, before.files_created, "{what}: no new file");
        assert!(
            c.injected.commit_drop_after_store
                + c.injected.direct_500_after_store
                + c.injected.write_503_after_store
                > 0,
            "{what}: {:?}",
            c.injected
        );
    }
}

/// The commit is stored but its answer lost, and the lookup cannot reach the API host: the
/// upload fails and keeps its state file (as after a crash). The next run finds the committed
/// file by the recorded SHA-1 instead of opening a session that would end in
/// `item_name_in_use`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_commit_is_recovered_on_the_next_run() {
    let emu = start(faulty(5)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("src.bin");
    let state = dir.path().join("state.json");
    let data = test_data(3 * MIB + 11, 8);
    std::fs::write(&path, &data).expect("write");

    // An API host that does not answer (the upload host is the emulator's).
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}/2.0", dead.local_addr().expect("addr"));
    drop(dead);
    let blind = ClientBuilder::new()
        .token(emu.token())
        .api_url(dead_url)
        .upload_url(emu.upload_url())
        .build()
        .expect("client");
    let mut config = UploadConfig::default();
    config.chunked_cutoff = 2 * MIB;
    config.min_chunked_size = 1;
    config.retry = RetryPolicy {
        max_attempts: 1,
        ..fast_retries()
    };
    emu.set_faults(FaultConfig {
        commit_drop_after_store: 1.0,
        ..Default::default()
    });
    let upload = || {
        Upload::new_file("0", "c.bin")
            .from_path(&path)
            .state_file(&state)
    };
    Uploader::with_config(blind, config)
        .upload(upload())
        .await
        .expect_err("the commit's answer was lost and the file could not be looked up");
    assert!(state.exists(), "kept for the next run");
    assert_eq!(emu.counters().files_created, 1);

    emu.set_faults(FaultConfig::default());
    let file = uploader(&emu, 2 * MIB)
        .upload(upload())
        .await
        .expect("the committed file");
    assert_stored(&emu, &file.id, &data).await;
    let c = emu.counters();
    assert_eq!(
        (c.sessions_created, c.files_created),
        (1, 1),
        "no new session"
    );
    assert!(!state.exists(), "removed");
}

/// A resumed upload whose session is gone starts a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_upload_whose_session_expired_starts_a_new_one() {
    let emu = start(faulty(6)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("src.bin");
    let state = dir.path().join("state.json");
    let data = test_data(3 * MIB, 9);
    std::fs::write(&path, &data).expect("write");
    emu.set_faults(FaultConfig {
        part_500_before_store: 1.0,
        ..Default::default()
    });
    let mut config = UploadConfig::default();
    config.chunked_cutoff = 2 * MIB;
    config.min_chunked_size = 1;
    config.retry = RetryPolicy {
        max_attempts: 1,
        ..fast_retries()
    };
    let upload = || {
        Upload::new_file("0", "r.bin")
            .from_path(&path)
            .state_file(&state)
    };
    Uploader::with_config(client(&emu), config)
        .upload(upload())
        .await
        .expect_err("every part fails");
    let sessions = emu.open_sessions();
    assert_eq!(sessions.len(), 1, "kept for resume");
    assert!(emu.expire_session(&sessions[0]));

    emu.set_faults(FaultConfig::default());
    let file = uploader(&emu, 2 * MIB)
        .upload(upload())
        .await
        .expect("a new session");
    assert_stored(&emu, &file.id, &data).await;
    assert_eq!(emu.counters().sessions_created, 2);
}

/// `if_match` with a stale etag: 412 on the direct and on the chunked path alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_if_match_is_412_on_both_paths() {
    let emu = start(faulty(7)).await;
    let uploader = uploader(&emu, 2 * MIB);
    let first = uploader
        .upload(Upload::new_file("0", "v.bin").from_bytes(test_data(100, 1)))
        .await
        .expect("v1");
    let stale = first.etag.clone().expect("etag");
    uploader
        .upload(Upload::new_version(&first.id).from_bytes(test_data(200, 2)))
        .await
        .expect("v2");
    for len in [1000, 3 * MIB] {
        let err = uploader
            .upload(
                Upload::new_version(&first.id)
                    .if_match(&stale)
                    .from_bytes(test_data(len, 3)),
            )
            .await
            .expect_err("stale");
        assert!(err.is_precondition_failed(), "len {len}: {err}");
        assert_eq!(err.code(), Some("precondition_failed"), "len {len}");
    }
    assert_stored(&emu, &first.id, &test_data(200, 2)).await;
}

/// A file's modification time is kept, on the direct and on the chunked path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_dates_are_kept() {
    let emu = start(faulty(8)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mtime = std::time::UNIX_EPOCH + Duration::from_secs(1_400_000_000);
    for len in [1000, 3 * MIB] {
        let path = dir.path().join(format!("d{len}"));
        std::fs::write(&path, test_data(len, 4)).expect("write");
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(mtime))
            .expect("mtime");
        let file = uploader(&emu, 2 * MIB)
            .upload(Upload::new_file("0", format!("d{len}")).from_path(&path))
            .await
            .expect("uploads");
        let modified = file.content_modified_at.expect("a date");
        assert_eq!(modified.timestamp(), 1_400_000_000, "len {len}");
    }
}
