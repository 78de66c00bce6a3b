//! Hostile bodies against the `box-emulator` binary run as a child process, whose peak
//! resident memory (VmHWM in /proc/PID/status) must stay small: very wide JSON (sent many at
//! once), a commit body of millions of values, an endless JSON body, a 64 MiB `attributes`
//! part, a part body 64 MiB longer than its range, a 64 MiB ignored form field and deeply
//! nested JSON. Each gets Box's error (or, for the ignored field, a stored file), and the
//! emulator then still serves a normal upload.

use crate::common::Process;
use crate::raw::*;
use box_emulator::testing::digest;
use serde_json::json;

const TOKEN: &str = "hostile-token";
const MIB: usize = 1024 * 1024;
/// Peak memory allowed for the emulator after all of it. Without the limits on JSON values
/// the wide bodies alone take several hundred MiB.
const PEAK_LIMIT_KIB: u64 = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_keep_the_binary_small() {
    // 1-byte parts: a 10,000-byte file is a 10,000-part session, whose commit may carry
    // about 6 MiB of JSON.
    let bin = Process::spawn(TOKEN, &["--part-size", "1", "--min-chunked-size", "1"]);
    let addr = bin.addr();
    let start_kib = bin.peak_rss_kib();

    // 1. Sixteen 1 MiB bodies of about 500,000 values each, at once.
    let wide = json!({"folder_id": "0", "file_name": "wide", "file_size": 10}).to_string();
    let wide = format!(
        "{}, \"x\": [{}0]}}",
        &wide[..wide.len() - 1],
        "0,".repeat(500_000)
    );
    assert!(wide.len() < MIB);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let body = wide.clone();
            tokio::spawn(async move {
                request(
                    addr,
                    "POST",
                    "/api/2.0/files/upload_sessions",
                    Some(TOKEN),
                    &[],
                    body.as_bytes(),
                )
                .await
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").box_error(400, "bad_request");
    }

    // 2. A commit of a 10,000-part session carrying 3,000,000 values.
    let sess = create_session(addr, TOKEN, "many-parts", 10_000).await;
    let body = format!("{{\"parts\":[{}0]}}", "0,".repeat(3_000_000));
    let r = request(
        addr,
        "POST",
        &format!("{sess}/commit"),
        Some(TOKEN),
        &[("digest", &digest(b"whatever"))],
        body.as_bytes(),
    )
    .await;
    r.box_error(400, "bad_request");
    // Deeply nested JSON to the commit and in an attributes part.
    let deep = format!(
        "{{\"parts\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    request(
        addr,
        "POST",
        &format!("{sess}/commit"),
        Some(TOKEN),
        &[("digest", &digest(b"whatever"))],
        deep.as_bytes(),
    )
    .await
    .box_error(400, "bad_request");
    let mp = ("content-type", "multipart/form-data; boundary=mem");
    request(
        addr,
        "POST",
        "/api/2.0/files/content",
        Some(TOKEN),
        &[mp],
        &multipart("mem", &deep, "f", b"x"),
    )
    .await
    .box_error(400, "bad_request");

    // 3. An endless JSON body.
    let r = endless(
        addr,
        &head(
            "POST",
            "/api/2.0/files/upload_sessions",
            Some(TOKEN),
            &[("transfer-encoding", "chunked")],
        ),
        b"{\"x\":[".to_vec(),
        b"0,".repeat(32 * 1024),
        None,
    )
    .await
    .expect("answer to an endless body");
    r.box_error(413, "request_entity_too_large");

    // 4. A 64 MiB attributes part.
    let mut body =
        b"--mem\r\ncontent-disposition: form-data; name=\"attributes\"\r\n\r\n{\"name\":\""
            .to_vec();
    body.resize(body.len() + 64 * MIB, b'a');
    body.extend_from_slice(b"\"}\r\n--mem--\r\n");
    request(
        addr,
        "POST",
        "/api/2.0/files/content",
        Some(TOKEN),
        &[mp],
        &body,
    )
    .await
    .box_error(400, "bad_request");

    // 5. A 1-byte part followed by 64 MiB more.
    let part_sess = create_session(addr, TOKEN, "one-byte-parts", 10).await;
    let r = endless(
        addr,
        &head(
            "PUT",
            &part_sess,
            Some(TOKEN),
            &[
                ("digest", &digest(b"x")),
                ("content-range", "bytes 0-0/10"),
                ("transfer-encoding", "chunked"),
            ],
        ),
        Vec::new(),
        vec![b'x'; 64 * 1024],
        Some(64 * MIB as u64),
    )
    .await
    .expect("answer to an overlong part");
    r.box_error(400, "request_size_mismatch");

    // 6. A 64 MiB form field before the attributes: any part but `attributes` is the file (as
    // on Box), so it is streamed to disk as the file and the attributes after it are refused.
    let mut body = b"--mem\r\ncontent-disposition: form-data; name=\"ignored\"\r\n\r\n".to_vec();
    body.resize(body.len() + 64 * MIB, b'i');
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(&multipart(
        "mem",
        r#"{"name":"after-ignored.txt","parent":{"id":"0"}}"#,
        "f",
        b"kept",
    ));
    request(
        addr,
        "POST",
        "/api/2.0/files/content",
        Some(TOKEN),
        &[mp],
        &body,
    )
    .await
    .box_error(400, "metadata_after_file_contents");
    let r = request(
        addr,
        "POST",
        "/api/2.0/files/content",
        Some(TOKEN),
        &[mp],
        &multipart(
            "mem",
            r#"{"name":"after-ignored.txt","parent":{"id":"0"}}"#,
            "f",
            b"kept",
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["entries"][0]["id"].as_str().unwrap().to_string();
    let r = download(addr, &format!("/2.0/files/{id}/content"), Some(TOKEN), &[]).await;
    assert_eq!(r.body, b"kept");

    let peak = bin.peak_rss_kib();
    eprintln!("emulator peak RSS: {start_kib:?} KiB at start, {peak:?} KiB after");
    if let Some(peak) = peak {
        assert!(
            peak < PEAK_LIMIT_KIB,
            "peak RSS {peak} KiB (limit {PEAK_LIMIT_KIB} KiB)"
        );
    }
}
