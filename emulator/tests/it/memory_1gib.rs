//! A 1 GiB upload session against the `box-emulator` binary: the emulator's peak resident
//! memory (VmHWM of the child process) stays under 64 MiB plus one part, while the whole file
//! goes through it (parts received and hashed, assembled at commit, downloaded back).
//!
//! The data is generated, never held: every 1 MiB chunk is one shared pseudo-random block
//! with the chunk's index written over its first 8 bytes, sent as two zero-copy pieces.

use crate::common::{http, Process};
use box_emulator::testing::{digest_of, hex, test_data, MIB};
use bytes::Bytes;
use futures_util::StreamExt as _;
use serde_json::{json, Value};
use sha1::{Digest as _, Sha1};

const TOTAL: u64 = 1 << 30;
const TOKEN: &str = "memory-token";

/// The file: 1024 chunks of 1 MiB; chunk `k` is `block` with `k` (little-endian u64) in its
/// first 8 bytes.
#[derive(Clone)]
struct Data {
    block: Bytes,
}

impl Data {
    fn new() -> Self {
        Data {
            block: Bytes::from(test_data(MIB, 1)),
        }
    }

    /// The pieces of `[first, first + len)` (both multiples of 1 MiB), in order, zero-copy.
    fn pieces(&self, first: u64, len: u64) -> impl Iterator<Item = Bytes> + Send + 'static {
        let block = self.block.clone();
        (first / MIB..(first + len) / MIB)
            .flat_map(move |k| [Bytes::copy_from_slice(&k.to_le_bytes()), block.slice(8..)])
    }

    /// Checks `got` against the file's bytes at `offset`.
    fn check(&self, offset: u64, got: &[u8]) {
        let mut pos = offset;
        let mut rest = got;
        while !rest.is_empty() {
            let k = pos / MIB;
            let within = (pos % MIB) as usize;
            let take = rest.len().min(MIB as usize - within);
            let mut chunk_head = [0u8; 8];
            chunk_head.copy_from_slice(&k.to_le_bytes());
            for (i, b) in rest[..take].iter().enumerate() {
                let at = within + i;
                let want = if at < 8 {
                    chunk_head[at]
                } else {
                    self.block[at]
                };
                if *b != want {
                    panic!("downloaded byte {} differs", pos + i as u64);
                }
                if at >= 8 {
                    // The rest of this chunk is a plain slice of the block.
                    let n = take - i;
                    assert!(
                        rest[i..take] == self.block[at..at + n],
                        "downloaded bytes differ in chunk {k}"
                    );
                    break;
                }
            }
            rest = &rest[take..];
            pos += take as u64;
        }
    }
}

/// VmHWM (peak resident set) of the binary, in bytes.
fn peak_rss(bin: &Process) -> u64 {
    bin.peak_rss_kib().expect("VmHWM in /proc/PID/status") * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_session_keeps_the_emulator_under_64_mib_plus_one_part() {
    let bin = Process::spawn(TOKEN, &[]);
    let http = http();
    let data = Data::new();
    let baseline = peak_rss(&bin);

    let s = bin.create_session("0", "one-gib.bin", TOTAL).await;
    let part_size = s["part_size"].as_u64().expect("part_size");
    let total_parts = s["total_parts"].as_u64().expect("total_parts");
    assert_eq!(part_size, 32 * MIB, "Box's part size for a 1 GiB file");
    assert_eq!(total_parts, TOTAL / part_size);
    let upload_url = s["session_endpoints"]["upload_part"].as_str().unwrap();

    let mut whole = Sha1::new();
    let mut parts = Vec::new();
    for i in 0..total_parts {
        let first = i * part_size;
        let mut h = Sha1::new();
        for piece in data.pieces(first, part_size) {
            h.update(&piece);
            whole.update(&piece);
        }
        let part_sha: [u8; 20] = h.finalize().into();
        let body = reqwest::Body::wrap_stream(futures_util::stream::iter(
            data.pieces(first, part_size).map(Ok::<_, std::io::Error>),
        ));
        let resp = http
            .put(upload_url)
            .bearer_auth(TOKEN)
            .header("digest", digest_of(&part_sha))
            .header(
                "content-range",
                format!("bytes {first}-{}/{TOTAL}", first + part_size - 1),
            )
            .header("content-length", part_size)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "part {i}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["part"]["offset"], first);
        parts.push(v["part"].clone());
    }
    let whole: [u8; 20] = whole.finalize().into();
    let whole_hex = hex(&whole);

    let resp = http
        .post(s["session_endpoints"]["commit"].as_str().unwrap())
        .bearer_auth(TOKEN)
        .header("digest", digest_of(&whole))
        .json(&json!({ "parts": parts }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let files: Value = resp.json().await.unwrap();
    let file = &files["entries"][0];
    assert_eq!(file["size"], TOTAL);
    assert_eq!(file["sha1"], whole_hex.as_str());
    let file_id = file["id"].as_str().unwrap().to_string();

    // Read it all back, streamed: bytes and SHA-1.
    let resp = http
        .get(format!("{}/2.0/files/{file_id}/content", bin.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let mut h = Sha1::new();
    let mut offset = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("download");
        data.check(offset, &chunk);
        h.update(&chunk);
        offset += chunk.len() as u64;
    }
    assert_eq!(offset, TOTAL);
    assert_eq!(<[u8; 20]>::from(h.finalize()), whole);

    let c = bin.counters().await;
    assert_eq!(c["parts_stored"], total_parts);
    assert_eq!(c["part_bytes_stored"], TOTAL);
    assert_eq!(c["committed_bytes"], TOTAL);

    let peak = peak_rss(&bin);
    let limit = 64 * MIB + part_size;
    eprintln!(
        "box-emulator peak RSS (VmHWM) over a 1 GiB session: {:.1} MiB (at start {:.1} MiB, limit {} MiB)",
        peak as f64 / MIB as f64,
        baseline as f64 / MIB as f64,
        limit / MIB
    );
    assert!(
        peak < limit,
        "peak RSS {peak} bytes is not under 64 MiB + one part ({limit} bytes)"
    );
}
