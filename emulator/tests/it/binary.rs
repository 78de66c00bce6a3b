//! The `box-emulator` binary: start-up line, flags, HTTP counters, bounded memory.

use crate::common::*;
use serde_json::{json, Value};
use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};

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

fn spawn(extra: &[&str]) -> Running {
    let dir = std::env::temp_dir().join(format!(
        "box-emulator-bin-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_box-emulator"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .args(["--token", "bin-token"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn box-emulator");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    Running { child, base, dir }
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn binary_serves_uploads_and_counters() {
    let bin = spawn(&[
        "--part-size",
        "1024",
        "--min-chunked-size",
        "1",
        "--folder",
        "5",
        "--fault",
        "commit-202=1@0s",
    ]);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let d = data(2500, 1);
    let s: Value = http
        .post(format!("{}/api/2.0/files/upload_sessions", bin.base))
        .bearer_auth("bin-token")
        .json(&json!({"folder_id": "5", "file_name": "x", "file_size": 2500}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["part_size"], 1024);
    let url = s["session_endpoints"]["upload_part"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/api/2.0/", bin.base)));
    let mut parts = Vec::new();
    for (i, c) in d.chunks(1024).enumerate() {
        let v: Value = http
            .put(url)
            .bearer_auth("bin-token")
            .header("digest", digest(c))
            .header(
                "content-range",
                format!("bytes {}-{}/2500", i * 1024, i * 1024 + c.len() - 1),
            )
            .body(c.to_vec())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        parts.push(v["part"].clone());
    }
    let commit = s["session_endpoints"]["commit"].as_str().unwrap();
    let send = || {
        http.post(commit)
            .bearer_auth("bin-token")
            .header("digest", digest(&d))
            .json(&json!({"parts": parts}))
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 202);
    assert_eq!(send().await.unwrap().status(), 201);
    let c: Value = http
        .get(format!("{}/_emulator/counters", bin.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c["parts_stored"], 3);
    assert_eq!(c["sessions_committed"], 1);
    assert_eq!(c["injected"]["commit_202"], 1);
    assert_eq!(c["requests"]["commit_upload_session"], 2);
}

#[test]
fn binary_help_and_bad_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_box-emulator"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--fault SPEC") && text.contains("part-500=P"));
    let out = Command::new(env!("CARGO_BIN_EXE_box-emulator"))
        .args(["--fault", "nonsense=1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A stream of `total` bytes made of repeats of `block`, without holding them all.
fn repeated(block: bytes::Bytes, count: usize) -> reqwest::Body {
    let chunks = (0..count).map(move |_| Ok::<_, std::io::Error>(block.clone()));
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

/// `b` as a stream of `piece`-sized slices (no copies).
fn pieces(b: bytes::Bytes, piece: usize) -> reqwest::Body {
    let n = b.len().div_ceil(piece);
    let chunks = (0..n)
        .map(move |k| Ok::<_, std::io::Error>(b.slice(k * piece..((k + 1) * piece).min(b.len()))));
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

/// Uploads 96 MiB in 8 MiB parts and 32 MiB directly; the emulator's peak memory stays
/// far below the data size.
#[tokio::test]
async fn memory_stays_bounded() {
    const MIB: usize = 1 << 20;
    let bin = spawn(&["--min-chunked-size", "1"]);
    let pid = bin.child.id();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let part = bytes::Bytes::from(data(8 * MIB, 3));
    let parts_n = 12usize;
    let total = (parts_n * 8 * MIB) as u64;

    let s: Value = http
        .post(format!("{}/api/2.0/files/upload_sessions", bin.base))
        .bearer_auth("bin-token")
        .json(&json!({"folder_id": "0", "file_name": "big", "file_size": total}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["part_size"], 8 * MIB);
    let url = s["session_endpoints"]["upload_part"].as_str().unwrap();
    let part_digest = digest(&part);
    let mut whole = sha1::Sha1::default();
    let mut parts = Vec::new();
    for i in 0..parts_n {
        use sha1::Digest as _;
        whole.update(&part);
        let first = i * 8 * MIB;
        let resp = http
            .put(url)
            .bearer_auth("bin-token")
            .header("digest", &part_digest)
            .header(
                "content-range",
                format!("bytes {first}-{}/{total}", first + 8 * MIB - 1),
            )
            // Sent in 1 MiB pieces, chunked transfer encoding.
            .body(pieces(part.clone(), MIB))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        parts.push(v["part"].clone());
    }
    use sha1::Digest as _;
    let whole_digest = format!(
        "sha={}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, whole.finalize())
    );
    let resp = http
        .post(s["session_endpoints"]["commit"].as_str().unwrap())
        .bearer_auth("bin-token")
        .header("digest", whole_digest)
        .json(&json!({"parts": parts}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    // Direct upload of 32 MiB, streamed.
    let block = bytes::Bytes::from(data(MIB, 4));
    let form = reqwest::multipart::Form::new()
        .text(
            "attributes",
            json!({"name": "direct", "parent": {"id": "0"}}).to_string(),
        )
        .part(
            "file",
            reqwest::multipart::Part::stream_with_length(repeated(block, 32), 32 * MIB as u64)
                .file_name("direct"),
        );
    let resp = http
        .post(format!("{}/api/2.0/files/content", bin.base))
        .bearer_auth("bin-token")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let peak = peak_rss_kib(pid);
    eprintln!("emulator peak RSS: {peak} KiB");
    if peak > 0 {
        // 128 MiB went through; allow for the runtime, buffers and the debug build.
        assert!(peak < 48 * 1024, "peak RSS {peak} KiB");
    }
}
