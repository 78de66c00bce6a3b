//! Adaptive parallelism and parts read again from their file, against an emulator that shapes
//! its network: the parallelism grows past its start when each connection is the bound, a pinned
//! one is never exceeded (counted by the server), 429s make it back off, and a file changed after
//! it was hashed fails `SourceChanged` with nothing committed when a part still to be sent is
//! read again, while parts sent from the buffers they were hashed in go as they were hashed.

use std::path::Path;

use crate::common::*;
use box_emulator::NetConfig;
use box_uploads::upload::{Concurrency, Upload, UploadErrorKind};

/// An uploader chunking everything with `concurrency`.
fn chunking(emu: &Emulator, concurrency: Concurrency) -> Uploader {
    chunking_within(emu, concurrency, UploadConfig::default().memory_cap)
}

/// As [`chunking`], with `memory_cap`.
fn chunking_within(emu: &Emulator, concurrency: Concurrency, memory_cap: u64) -> Uploader {
    let mut config = UploadConfig::default();
    config.memory_cap = memory_cap;
    config.chunked_cutoff = 0;
    config.min_chunked_size = 1;
    config.retry = fast_retries();
    config.concurrency = concurrency;
    Uploader::with_config(client(emu), config)
}

/// An emulator with `part`-byte parts on a network of `rtt_ms` round trips and `conn` bytes/s
/// per connection (the link unlimited).
async fn shaped(part: u64, rtt_ms: u64, conn: u64) -> Emulator {
    let mut config = config(part);
    config.net = NetConfig {
        rtt_ms: Some(rtt_ms),
        conn_bytes_per_sec: Some(conn),
        ..Default::default()
    };
    start(config).await
}

fn write_file(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).expect("write the source file");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adaptive_file_upload_grows_past_its_start_when_connections_are_the_bound() {
    // 40 parts of 1 MiB at 4 MiB/s a connection: 4 parts move 16 MiB/s, each one more adds 4.
    let emu = shaped(MIB, 10, 4 * MIB).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = test_data(40 * MIB, 12);
    let path = write_file(dir.path(), "grow.bin", &data);
    let uploader = chunking(&emu, Concurrency::default());
    let start = Concurrency::default().initial();

    let handle = uploader.start_upload(Upload::new_file("0", "grow.bin").from_path(&path));
    let progress = handle.progress();
    let file = handle.join().await.expect("upload");
    assert_stored(&emu, &file.id, &data).await;
    assert_eq!(file.sha1.as_deref(), Some(sha1_hex(&data).as_str()));

    let engine_peak = progress.borrow().max_parts_in_flight;
    let stats = uploader.parallelism();
    let c = emu.counters();
    assert!(
        engine_peak > start as u64 && stats.peak_limit > start,
        "the upload went past {start} parts at once: {engine_peak}, {stats:?}"
    );
    assert!(
        c.part_uploads_max_in_flight > start as u64,
        "the server saw more than {start} parts at once: {}",
        c.part_uploads_max_in_flight
    );
    assert!(stats.peak_in_flight <= Concurrency::DEFAULT_MAX);
    assert_eq!(
        c.part_uploads_without_length, 0,
        "every part read again from the file carries its content-length"
    );
    assert_eq!(c.parts_stored, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_concurrency_is_never_exceeded() {
    let emu = shaped(256 * KIB, 5, 4 * MIB).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = test_data(24 * 256 * KIB + 1000, 13);
    let path = write_file(dir.path(), "fixed.bin", &data);
    let uploader = chunking(&emu, Concurrency::Fixed(3));
    // A file (read again), bytes in memory (slices) and a reader (pooled buffers).
    let uploads = [
        Upload::new_file("0", "fixed-file.bin").from_path(&path),
        Upload::new_file("0", "fixed-bytes.bin").from_bytes(data.clone()),
        Upload::new_file("0", "fixed-reader.bin")
            .from_reader(std::io::Cursor::new(data.clone()), data.len() as u64),
    ];
    let handles: Vec<_> = uploads
        .into_iter()
        .map(|u| uploader.start_upload(u))
        .collect();
    for handle in handles {
        let file = handle.join().await.expect("upload");
        assert_stored(&emu, &file.id, &data).await;
    }
    let c = emu.counters();
    let stats = uploader.parallelism();
    assert!(
        c.part_uploads_max_in_flight <= 3 && stats.peak_in_flight <= 3,
        "three uploads of one uploader share 3 places: server {}, engine {stats:?}",
        c.part_uploads_max_in_flight
    );
    assert_eq!((stats.limit, stats.backoffs), (3, 0));
    assert_eq!(c.part_uploads_without_length, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_changed_after_hashing_fails_source_changed_and_commits_nothing() {
    // One part at a time at 1 MiB/s: the file is hashed long before its second part is sent.
    let emu = shaped(256 * KIB, 5, MIB).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let size = 10 * 256 * KIB;
    let original = test_data(size, 14);
    let other = test_data(size, 15);
    // Rewritten (a new modification time), and rewritten with its modification time put back
    // (only the part's digest, refused by the server, gives it away).
    for restore_mtime in [false, true] {
        let name = format!("changed-{restore_mtime}.bin");
        let path = write_file(dir.path(), &name, &original);
        let mtime = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime");
        // Memory for two parts beside the reader's: parts 0 and 1 go from the buffers they were
        // hashed in, the others are read again when they are sent.
        let uploader = chunking_within(&emu, Concurrency::Fixed(1), 3 * 256 * KIB);
        let handle = uploader.start_upload(Upload::new_file("0", name.as_str()).from_path(&path));
        until_a_part_is_done(&handle).await;
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, &other).expect("rewrite");
        if restore_mtime {
            let file = std::fs::File::options()
                .write(true)
                .open(&path)
                .expect("open");
            file.set_modified(mtime).expect("put the mtime back");
        }
        let err = handle.join().await.expect_err("a changed file must fail");
        assert!(
            matches!(err.kind(), UploadErrorKind::SourceChanged { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("nothing was committed"), "{err}");
    }
    let c = emu.counters();
    assert_eq!((c.files_created, c.sessions_committed), (0, 0));
    assert_eq!(c.sessions_aborted, 2, "both sessions are discarded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_changed_after_its_parts_were_read_is_not_committed_even_from_memory() {
    // As above, with the default memory cap: all ten parts are held in the buffers they were
    // hashed in and the file is never read again, yet a file changed before the commit is
    // not committed (what was read may be half old, half new, and is no longer the file).
    let emu = shaped(256 * KIB, 5, MIB).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let size = 10 * 256 * KIB;
    let original = test_data(size, 16);
    let path = write_file(dir.path(), "held.bin", &original);
    let uploader = chunking(&emu, Concurrency::Fixed(1));
    let handle = uploader.start_upload(Upload::new_file("0", "held.bin").from_path(&path));
    until_a_part_is_done(&handle).await;
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&path, test_data(size, 17)).expect("rewrite");
    let err = handle.join().await.expect_err("a changed file must fail");
    assert!(
        matches!(err.kind(), UploadErrorKind::SourceChanged { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("held.bin"),
        "names the file: {err}"
    );
    let c = emu.counters();
    assert_eq!((c.files_created, c.sessions_committed), (0, 0));
    assert_eq!(c.sessions_aborted, 1, "the session is discarded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_make_the_parallelism_back_off() {
    let emu = shaped(256 * KIB, 5, 4 * MIB).await;
    // Every API request counts: at most 8 in any 300 ms.
    emu.set_faults(FaultConfig {
        rate_limit: Some(RateLimit {
            max_requests: 8,
            window_ms: 300,
        }),
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let data = test_data(24 * 256 * KIB, 16);
    let path = write_file(dir.path(), "limited.bin", &data);
    let uploader = chunking(&emu, Concurrency::default());
    let file = uploader
        .upload(Upload::new_file("0", "limited.bin").from_path(&path))
        .await
        .expect("upload despite the 429s");
    assert_stored(&emu, &file.id, &data).await;
    let c = emu.counters();
    assert!(c.responses.get("429").copied().unwrap_or(0) > 0, "{c:?}");
    let stats = uploader.parallelism();
    assert!(stats.backoffs >= 1, "429s lowered the limit: {stats:?}");
}

/// Waits until the upload has sent its first part.
async fn until_a_part_is_done<T>(handle: &box_uploads::upload::UploadHandle<T>) {
    let mut events = handle.events();
    loop {
        match events.recv().await.expect("events until the first part") {
            box_uploads::upload::ProgressEvent::PartDone { .. } => return,
            _ => continue,
        }
    }
}
