//! A 1 GiB upload session against the `box-emulator` binary: the emulator's peak resident
//! memory (VmHWM of the child process) stays under 64 MiB plus one part, while the whole file
//! goes through it (parts received and hashed, assembled at commit, downloaded back).
//!
//! The data is generated, never held: every 1 MiB chunk is one shared pseudo-random block
//! with the chunk's index written over its first 8 bytes, sent as two zero-copy pieces.

use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt as _;
use serde_json::{json, Value};
use sha1::{Digest as _, Sha1};
use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};

const MIB: u64 = 1 << 20;
const TOTAL: u64 = 1 << 30;
const TOKEN: &str = "memory-token";

struct Running {
    child: Child,
    base: String,
    dir: std::path::PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn() -> Running {
    let dir = std::env::temp_dir().join(format!(
        "box-emulator-1gib-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_box-emulator"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .args(["--token", TOKEN])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn box-emulator");
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while stdout.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    let base = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Running { child, base, dir }
}

/// VmHWM (peak resident set) of a process, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib * 1024
}

/// The file: 1024 chunks of 1 MiB; chunk `k` is `block` with `k` (little-endian u64) in its
/// first 8 bytes.
#[derive(Clone)]
struct Data {
    block: Bytes,
}

impl Data {
    fn new() -> Self {
        let mut x: u64 = 0x0123_4567_89AB_CDEF;
        let block: Vec<u8> = (0..MIB)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        Data {
            block: Bytes::from(block),
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

fn b64(raw: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_session_keeps_the_emulator_under_64_mib_plus_one_part() {
    let bin = spawn();
    let pid = bin.child.id();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let data = Data::new();
    let baseline = peak_rss(pid);

    let s: Value = http
        .post(format!("{}/api/2.0/files/upload_sessions", bin.base))
        .bearer_auth(TOKEN)
        .json(&json!({"folder_id": "0", "file_name": "one-gib.bin", "file_size": TOTAL}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
            .header("digest", format!("sha={}", b64(&part_sha)))
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
    let whole_hex: String = whole.iter().map(|b| format!("{b:02x}")).collect();

    let resp = http
        .post(s["session_endpoints"]["commit"].as_str().unwrap())
        .bearer_auth(TOKEN)
        .header("digest", format!("sha={}", b64(&whole)))
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

    let c: Value = http
        .get(format!("{}/_emulator/counters", bin.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c["parts_stored"], total_parts);
    assert_eq!(c["part_bytes_stored"], TOTAL);
    assert_eq!(c["committed_bytes"], TOTAL);

    let peak = peak_rss(pid);
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
