//! The upload handle: abort discards the session, progress reports bytes and parts, and the
//! concurrency is shared by the uploads of one uploader.

use crate::common::*;
use box_uploads::upload::{Phase, Upload, UploadHandle};
use std::time::Duration;

/// An 8 MiB upload of 256 KiB parts that the emulator slows down (50 ms a request), started
/// and waited for until `parts` parts are done. The emulator is returned with the handle.
async fn slow_upload_under_way(name: &str, seed: u64, parts: u64) -> (Emulator, UploadHandle) {
    let emu = start(config(256 * KIB)).await;
    emu.set_faults(FaultConfig {
        latency_ms: 50,
        ..Default::default()
    });
    let handle = uploader(&emu, MIB)
        .start_upload(Upload::new_file("0", name).from_bytes(test_data(8 * MIB, seed)));
    let mut progress = handle.progress();
    progress
        .wait_for(|p| p.parts_done >= parts)
        .await
        .expect("progress");
    (emu, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_stops_the_upload_and_discards_its_session() {
    let (emu, handle) = slow_upload_under_way("aborted.bin", 1, 2).await;
    let outcome = handle.abort().await.expect("abort");
    assert!(outcome.is_none(), "aborted before the commit");
    let c = emu.counters();
    assert_eq!((c.sessions_aborted, c.files_created), (1, 0));
    assert!(emu.open_sessions().is_empty());
    assert!(
        c.parts_stored < 32,
        "stopped early ({} parts)",
        c.parts_stored
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_ends_with_every_byte_and_part_done() {
    let emu = start(config(MIB)).await;
    let uploader = uploader(&emu, MIB);
    let data = test_data(5 * MIB + 1, 2);
    let handle = uploader.start_upload(Upload::new_file("0", "p.bin").from_bytes(data.clone()));
    let progress = handle.progress();
    let file = handle.join().await.expect("upload");
    let p = progress.borrow().clone();
    assert_eq!(p.phase, Phase::Done);
    assert_eq!(
        (p.total_bytes, p.bytes_done, p.bytes_sent),
        (data.len() as u64, data.len() as u64, data.len() as u64)
    );
    assert_eq!((p.parts_done, p.total_parts), (6, 6));
    assert!(p.session_id.is_some());
    assert_stored(&emu, &file.id, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_of_one_uploader_all_complete() {
    let emu = start(config(512 * KIB)).await;
    let uploader = uploader(&emu, MIB);
    let mut handles = Vec::new();
    let mut datas = Vec::new();
    for i in 0..4u64 {
        let data = test_data(3 * MIB + i, i + 10);
        handles.push(
            uploader
                .start_upload(Upload::new_file("0", format!("c{i}.bin")).from_bytes(data.clone())),
        );
        datas.push(data);
    }
    for (handle, data) in handles.into_iter().zip(datas) {
        let file = handle.join().await.expect("upload");
        assert_stored(&emu, &file.id, &data).await;
    }
    assert_eq!(emu.counters().sessions_committed, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_handle_cancels_and_discards_the_session() {
    let (emu, handle) = slow_upload_under_way("dropped.bin", 3, 1).await;
    drop(handle);
    // The session is aborted in the background; wait (bounded) for it to go.
    let _ = emu
        .wait_for_counters(Duration::from_secs(5), |c| c.sessions_aborted == 1)
        .await;
    assert!(
        emu.open_sessions().is_empty(),
        "{:?} {:?}",
        emu.open_sessions(),
        emu.counters()
    );
    let c = emu.counters();
    assert_eq!((c.sessions_aborted, c.files_created), (1, 0));
}
