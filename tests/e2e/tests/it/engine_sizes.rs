//! Every awkward size goes through the engine from a path, a reader and bytes, and the emulator
//! stores exactly the source's bytes: 0 and 1 byte, just under and over the chunked cutoff, an
//! exact multiple of the part size, one byte over a multiple, and a part size that is not a
//! power of two.

use crate::common::*;
use box_uploads::upload::Upload;

#[derive(Clone, Copy, Debug)]
enum From {
    Path,
    Reader,
    Bytes,
}

const PART: u64 = MIB;
const CUTOFF: u64 = 2 * MIB;

/// (size, chunked?) for 1 MiB parts and a 2 MiB cutoff.
const SIZES: &[(u64, bool)] = &[
    (0, false),
    (1, false),
    (CUTOFF - 1, false),
    (CUTOFF, false),
    (CUTOFF + 1, true),
    (4 * PART, true),
    (4 * PART + 1, true),
];

async fn upload_all(emu: &Emulator, from: From, sizes: &[(u64, bool)], cutoff: u64) {
    let uploader = uploader(emu, cutoff);
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, &(size, chunked)) in sizes.iter().enumerate() {
        let data = test_data(size, i as u64 + 1);
        let name = format!("{from:?}-{size}.bin");
        let upload = Upload::new_file("0", &name);
        let upload = match from {
            From::Path => {
                let path = dir.path().join(&name);
                std::fs::write(&path, &data).expect("write source");
                upload.from_path(path)
            }
            From::Reader => upload.from_reader(std::io::Cursor::new(data.clone()), size),
            From::Bytes => upload.from_bytes(data.clone()),
        };
        let before = emu.counters();
        let file = match uploader.upload(upload).await {
            Ok(file) => file,
            Err(e) => panic!("{from:?} upload of {size} bytes failed: {e}"),
        };
        let after = emu.counters();
        assert_eq!(file.size, Some(size as i64), "{from:?} {size}");
        assert_eq!(
            file.sha1.as_deref(),
            Some(sha1_hex(&data).as_str()),
            "{from:?} {size}"
        );
        assert_eq!(file.name.as_deref(), Some(name.as_str()));
        let sessions = after.sessions_committed - before.sessions_committed;
        let directs = after.direct_uploads - before.direct_uploads;
        assert_eq!(
            (sessions, directs),
            if chunked { (1, 0) } else { (0, 1) },
            "{from:?} {size}: chunked = {chunked}"
        );
        assert_stored(emu, &file.id, &data).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_from_a_path_are_stored_exactly() {
    let emu = start(config(PART)).await;
    upload_all(&emu, From::Path, SIZES, CUTOFF).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_from_a_reader_are_stored_exactly() {
    let emu = start(config(PART)).await;
    upload_all(&emu, From::Reader, SIZES, CUTOFF).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_from_bytes_are_stored_exactly() {
    let emu = start(config(PART)).await;
    upload_all(&emu, From::Bytes, SIZES, CUTOFF).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_size_that_is_not_a_power_of_two_works_from_every_source() {
    const ODD: u64 = 1_000_003;
    let emu = start(config(ODD)).await;
    let sizes = [(3 * ODD, true), (3 * ODD + 1, true), (2 * ODD - 1, true)];
    for from in [From::Path, From::Reader, From::Bytes] {
        upload_all(&emu, from, &sizes, MIB).await;
    }
    assert_eq!(emu.counters().parts_stored, 3 * (3 + 4 + 2));
}
