//! The upload handle: abort discards the session, progress reports bytes and parts, and the
//! concurrency is shared by the uploads of one uploader.

mod common;

use box_emulator::FaultConfig;
use box_uploads::upload::{Phase, Upload};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_stops_the_upload_and_discards_its_session() {
    let emu = emulator(256 * KIB).await;
    emu.set_faults(FaultConfig {
        latency_ms: 50,
        ..Default::default()
    });
    let uploader = uploader(&emu, MIB);
    let handle =
        uploader.start_upload(Upload::new_file("0", "aborted.bin").from_bytes(content(8 * MIB, 1)));
    let mut progress = handle.progress();
    progress
        .wait_for(|p| p.parts_done >= 2)
        .await
        .expect("progress");
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
    let emu = emulator(MIB).await;
    let uploader = uploader(&emu, MIB);
    let data = content(5 * MIB + 1, 2);
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
    let emu = emulator(512 * KIB).await;
    let uploader = uploader(&emu, MIB);
    let mut handles = Vec::new();
    let mut datas = Vec::new();
    for i in 0..4u64 {
        let data = content(3 * MIB + i, i + 10);
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
    let emu = emulator(256 * KIB).await;
    emu.set_faults(FaultConfig {
        latency_ms: 50,
        ..Default::default()
    });
    let uploader = uploader(&emu, MIB);
    let handle =
        uploader.start_upload(Upload::new_file("0", "dropped.bin").from_bytes(content(8 * MIB, 3)));
    let mut progress = handle.progress();
    progress
        .wait_for(|p| p.parts_done >= 1)
        .await
        .expect("progress");
    drop(handle);
    // The session is aborted in the background; wait (bounded) for it to go.
    for _ in 0..200 {
        if emu.open_sessions().is_empty() && emu.counters().sessions_aborted == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        emu.open_sessions().is_empty(),
        "{:?} {:?}",
        emu.open_sessions(),
        emu.counters()
    );
    let c = emu.counters();
    assert_eq!((c.sessions_aborted, c.files_created), (1, 0));
}
