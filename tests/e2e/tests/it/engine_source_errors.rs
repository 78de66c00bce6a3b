//! A source that yields fewer or more bytes than declared fails with a clear error, and no file
//! is committed; the chunked session is aborted.

use crate::common::*;
use box_uploads::upload::{Upload, UploadErrorKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_or_long_source_fails_and_commits_nothing() {
    let emu = start(config(MIB)).await;
    let uploader = uploader(&emu, 2 * MIB);
    // (actual bytes, declared bytes): chunked and direct, short and long.
    let cases = [
        (5 * MIB - 10, 5 * MIB),
        (5 * MIB + 1, 5 * MIB),
        (1000, 1001),
        (1001, 1000),
        (0, 1),
    ];
    for (actual, declared) in cases {
        let data = test_data(actual, actual);
        let err = uploader
            .upload(
                Upload::new_file("0", format!("bad-{actual}-{declared}"))
                    .from_reader(std::io::Cursor::new(data), declared),
            )
            .await
            .expect_err("a source of the wrong length must fail");
        let text = err.to_string();
        if actual < declared {
            assert!(
                matches!(err.kind(), UploadErrorKind::SourceTooShort { got, .. } if *got == actual),
                "{text}"
            );
            assert!(
                text.contains(&format!(
                    "after {actual} bytes but {declared} were declared"
                )),
                "{text}"
            );
        } else {
            assert!(
                matches!(err.kind(), UploadErrorKind::SourceTooLong { .. }),
                "{text}"
            );
        }
        assert!(text.contains("nothing was committed"), "{text}");
        assert!(err.is_source_error());
        if declared > 2 * MIB {
            assert!(
                err.session_id().is_some(),
                "a chunked failure names its session: {text}"
            );
        }
    }
    let c = emu.counters();
    assert_eq!(
        (c.files_created, c.sessions_committed, c.direct_uploads),
        (0, 0, 0)
    );
    assert!(
        emu.open_sessions().is_empty(),
        "sessions aborted: {:?}",
        emu.open_sessions()
    );
    assert_eq!(c.sessions_aborted, c.sessions_created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_shrinks_during_the_upload_is_refused() {
    // 12 parts of 256 KiB, slowed down, and a memory cap that holds no part beside the
    // reader's: the file is hashed ahead of the uploads and each part is read again to be
    // sent: truncating the file after the first part always cuts parts
    // still to be sent (found when they are read again: the source changed), or, should the
    // hashing reader still be behind, what it has still to read (the source is too short).
    let emu = start(config(256 * KIB)).await;
    emu.set_faults(FaultConfig {
        latency_ms: 100,
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("shrinks.bin");
    std::fs::write(&path, test_data(3 * MIB, 7)).expect("write");
    let mut config = UploadConfig::default();
    config.chunked_cutoff = MIB;
    config.min_chunked_size = 1;
    config.retry = fast_retries();
    config.memory_cap = 256 * KIB;
    let uploader = Uploader::with_config(client(&emu), config);
    let handle = uploader.start_upload(Upload::new_file("0", "shrinks.bin").from_path(&path));
    let mut progress = handle.progress();
    progress
        .wait_for(|p| p.parts_done >= 1)
        .await
        .expect("progress");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open")
        .set_len(MIB / 2 + 5)
        .expect("truncate");
    let err = handle.join().await.expect_err("the file shrank");
    assert!(
        matches!(err.kind(), UploadErrorKind::SourceTooShort { declared, .. } if *declared == 3 * MIB)
            || matches!(err.kind(), UploadErrorKind::SourceChanged { .. }),
        "{err}"
    );
    assert!(err.is_source_error());
    let c = emu.counters();
    assert_eq!((c.files_created, c.sessions_committed), (0, 0));
    assert!(emu.open_sessions().is_empty(), "session aborted");
}
