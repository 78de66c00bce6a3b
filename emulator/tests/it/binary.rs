//! The `box-emulator` binary: start-up line, flags, HTTP counters, bounded memory.

use crate::common::*;
use serde_json::{json, Value};
use std::process::Command;

#[tokio::test]
async fn binary_serves_uploads_and_counters() {
    let bin = Process::spawn(
        "bin-token",
        &[
            "--part-size",
            "1024",
            "--min-chunked-size",
            "1",
            "--folder",
            "5",
            "--fault",
            "commit-202=1@0s",
        ],
    );
    let http = http();
    let d = test_data(2500, 1);
    let s = bin.create_session("5", "x", 2500).await;
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
    let c = bin.counters().await;
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
    assert!(text.contains("--fault <SPEC>") && text.contains("part-500=P"));
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
    let bin = Process::spawn("bin-token", &["--min-chunked-size", "1"]);
    let http = http();
    let part = bytes::Bytes::from(test_data(8 * MIB as u64, 3));
    let parts_n = 12usize;
    let total = (parts_n * 8 * MIB) as u64;

    let s = bin.create_session("0", "big", total).await;
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
    let whole_digest = digest_of(&whole.finalize().into());
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
    let block = bytes::Bytes::from(test_data(MIB as u64, 4));
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

    let peak = bin.peak_rss_kib();
    eprintln!("emulator peak RSS: {peak:?} KiB");
    if let Some(peak) = peak {
        // 128 MiB went through; allow for the runtime, buffers and the debug build.
        assert!(peak < 48 * 1024, "peak RSS {peak} KiB");
    }
}
