//! A 100 MiB upload through every fault the emulator injects (500 before and after storing a
//! part, a dropped answer after storing, resets mid-body, 429 with retry-after, five 202s on
//! commit, one parts_mismatch) completes with the right content, and the emulator's counters
//! prove that each fault happened.

use crate::common::*;
use box_uploads::upload::{ProgressEvent, Upload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_upload_survives_every_injected_fault() {
    const SIZE: u64 = 100 * MIB;
    const PART: u64 = 4 * MIB;
    let emu = start(Config {
        part_size: Some(PART),
        min_chunked_size: 1,
        seed: 7,
        ..Default::default()
    })
    .await;
    emu.set_faults(FaultConfig {
        part_500_before_store: 0.12,
        part_500_after_store: 0.12,
        part_drop_after_store: 0.2,
        part_reset_mid_body: 0.08,
        commit_202: 5,
        commit_retry_after_secs: 0,
        commit_parts_mismatch_once: true,
        rate_limit: Some(RateLimit {
            max_requests: 12,
            window_ms: 1000,
        }),
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.bin");
    let data = test_data(SIZE, 42);
    std::fs::write(&path, &data).expect("write source");

    let handle =
        uploader(&emu, 50 * MIB).start_upload(Upload::new_file("0", "big.bin").from_path(&path));
    let mut events = handle.events();
    let progress = handle.progress();
    let file = match handle.join().await {
        Ok(file) => file,
        Err(e) => panic!("upload failed: {e} (counters {:?})", emu.counters()),
    };
    // Content.
    assert_eq!(file.size, Some(SIZE as i64));
    assert_eq!(file.sha1.as_deref(), Some(sha1_hex(&data).as_str()));
    assert_stored(&emu, &file.id, &data).await;

    // Every fault happened.
    let c = emu.counters();
    let i = &c.injected;
    assert!(i.part_500_before_store > 0, "{i:?}");
    assert!(i.part_500_after_store > 0, "{i:?}");
    assert!(i.part_drop_after_store > 0, "{i:?}");
    assert!(i.part_reset_mid_body > 0, "{i:?}");
    assert!(i.rate_limited > 0, "{i:?}");
    assert_eq!(i.commit_202, 5, "{i:?}");
    assert_eq!(i.commit_parts_mismatch, 1, "{i:?}");
    // One session, one file, every part stored once.
    assert_eq!(
        (c.sessions_created, c.sessions_committed, c.files_created),
        (1, 1, 1)
    );
    assert_eq!(c.parts_stored, SIZE / PART);
    // Parts stored but unanswered were found in list parts (or as overlaps), not stored twice.
    assert!(c.requests_for(Operation::ListParts) > 0);

    // The handle reported the retries and the 202 waits.
    let p = progress.borrow().clone();
    assert_eq!(p.commit_waits, 5);
    assert!(p.retries > 0);
    assert_eq!((p.parts_done, p.bytes_done), (SIZE / PART, SIZE));
    let mut reasons = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let ProgressEvent::Retry { reason, .. } = event {
            reasons.push(reason);
        }
    }
    assert!(reasons.iter().any(|r| r.contains("429")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("500")), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("parts_mismatch")),
        "{reasons:?}"
    );
}
