//! Chunked uploads: the happy paths.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn chunked_upload_end_to_end() {
    let ctx = Ctx::small().await;
    let d = test_data(3500, 10);
    let s = ctx.new_session("0", "big.bin", d.len() as u64).await;
    assert_eq!(s["type"], "upload_session");
    assert_eq!(s["part_size"], 1024);
    assert_eq!(s["total_parts"], 4);
    assert_eq!(s["num_parts_processed"], 0);
    let sid = s["id"].as_str().unwrap();
    let exp =
        chrono::DateTime::parse_from_rfc3339(s["session_expires_at"].as_str().unwrap()).unwrap();
    let days = (exp.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "{days}");
    let ep = &s["session_endpoints"];
    let base = format!("{}/files/upload_sessions/{sid}", ctx.emu.upload_url());
    assert_eq!(ep["upload_part"], base);
    assert_eq!(ep["status"], base);
    assert_eq!(ep["abort"], base);
    assert_eq!(ep["commit"], format!("{base}/commit"));
    assert_eq!(ep["list_parts"], format!("{base}/parts"));
    assert_eq!(ep["log_event"], format!("{base}/log"));

    // Parts in any order.
    let mut parts = vec![Value::Null; 4];
    for i in [2usize, 0, 3, 1] {
        let chunk = &d[i * 1024..((i + 1) * 1024).min(d.len())];
        let v = expect_status(
            ctx.put_part(&s, (i * 1024) as u64, chunk, d.len() as u64)
                .await,
            200,
        )
        .await;
        let p = &v["part"];
        assert_eq!(p["offset"], i * 1024);
        assert_eq!(p["size"], chunk.len());
        assert_eq!(p["sha1"], sha1_hex(chunk));
        assert!(p["part_id"].as_str().unwrap().len() >= 8);
        parts[i] = p.clone();
    }
    let st = body_json(ctx.get_json(ep["status"].as_str().unwrap()).await).await;
    assert_eq!(st["num_parts_processed"], 4);
    assert_eq!(st["id"], sid);

    let list = body_json(
        ctx.get_json(&format!(
            "{}?offset=1&limit=2",
            ep["list_parts"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    assert_eq!(list["total_count"], 4);
    assert_eq!(list["offset"], 1);
    assert_eq!(list["limit"], 2);
    assert_eq!(list["entries"].as_array().unwrap(), &parts[1..3].to_vec());
    let list = body_json(ctx.get_json(ep["list_parts"].as_str().unwrap()).await).await;
    assert_eq!(list["entries"].as_array().unwrap(), &parts);

    let v = expect_status(ctx.commit(&s, &parts, &d).await, 201).await;
    assert_eq!(v["total_count"], 1);
    let f = &v["entries"][0];
    assert_eq!(f["name"], "big.bin");
    assert_eq!(f["size"], 3500);
    assert_eq!(f["sha1"], sha1_hex(&d));
    assert_eq!(f["version_number"], "1");
    let id = f["id"].as_str().unwrap();
    assert_eq!(ctx.download(id, None).await, d);

    // The session is done: its status is gone, and so is a repeated commit (Box deletes a
    // session when it commits it; the emulator no longer replays the 201).
    expect_error(
        ctx.get_json(ep["status"].as_str().unwrap()).await,
        404,
        "not_found",
    )
    .await;
    expect_error(ctx.commit(&s, &parts, &d).await, 404, "not_found").await;
    assert!(ctx.emu.open_sessions().is_empty());

    let c = ctx.emu.counters();
    assert_eq!(c.sessions_created, 1);
    assert_eq!(c.sessions_committed, 1);
    assert_eq!(c.parts_stored, 4);
    assert_eq!(c.part_bytes_stored, 3500);
    assert_eq!(c.committed_bytes, 3500);
    assert_eq!(c.files_created, 1);
}

#[tokio::test]
async fn chunked_new_version_with_if_match() {
    let ctx = Ctx::small().await;
    let v1 = test_data(500, 1);
    let v2 = test_data(2100, 2);
    let f = ctx.put_file("0", "x.bin", &v1).await;
    let id = f["id"].as_str().unwrap();
    let s = expect_status(
        ctx.req(
            Method::POST,
            &ctx.upload(&format!("/files/{id}/upload_sessions")),
        )
        .json(&json!({"file_size": v2.len(), "file_name": "renamed.bin"}))
        .send()
        .await
        .unwrap(),
        201,
    )
    .await;
    let parts = ctx.put_all_parts(&s, &v2).await;
    let resp = ctx
        .commit_with(
            &s,
            json!({"parts": parts}),
            &digest(&v2),
            &[("if-match", "7")],
        )
        .await;
    expect_error(resp, 412, "precondition_failed").await;
    let resp = ctx
        .commit_with(
            &s,
            json!({"parts": parts}),
            &digest(&v2),
            &[("if-match", "0")],
        )
        .await;
    let v = expect_status(resp, 201).await;
    let f2 = &v["entries"][0];
    assert_eq!(f2["id"], id);
    assert_eq!(f2["name"], "renamed.bin");
    assert_eq!(f2["version_number"], "2");
    assert_eq!(f2["etag"], "1");
    assert_ne!(f2["file_version"]["id"], f["file_version"]["id"]);
    assert_eq!(ctx.download(id, None).await, v2);
    assert_eq!(ctx.download(id, f["file_version"]["id"].as_str()).await, v1);
    assert_eq!(ctx.emu.counters().file_versions_created, 1);
}

#[tokio::test]
async fn commit_attributes_rename_the_file() {
    let ctx = Ctx::small().await;
    let d = test_data(1500, 3);
    let s = ctx.new_session("0", "tmp.bin", d.len() as u64).await;
    let parts = ctx.put_all_parts(&s, &d).await;
    let resp = ctx
        .commit_with(
            &s,
            json!({"parts": parts, "attributes": {"name": "final.bin", "content_modified_at": "2021-05-06T07:08:09Z"}}),
            &digest(&d),
            &[],
        )
        .await;
    let v = expect_status(resp, 201).await;
    assert_eq!(v["entries"][0]["name"], "final.bin");
    assert_eq!(
        v["entries"][0]["content_modified_at"],
        "2021-05-06T07:08:09+00:00"
    );
}

#[tokio::test]
async fn abort_discards_the_session() {
    let ctx = Ctx::small().await;
    let d = test_data(2048, 4);
    let s = ctx.new_session("0", "a", 2048).await;
    expect_status(ctx.put_part(&s, 0, &d[..1024], 2048).await, 200).await;
    assert_eq!(ctx.emu.open_sessions().len(), 1);
    let abort = s["session_endpoints"]["abort"].as_str().unwrap();
    let resp = ctx.req(Method::DELETE, abort).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    expect_error(
        ctx.req(Method::DELETE, abort).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    expect_error(ctx.get_json(abort).await, 404, "not_found").await;
    expect_error(
        ctx.put_part(&s, 1024, &d[1024..], 2048).await,
        404,
        "not_found",
    )
    .await;
    assert!(ctx.emu.open_sessions().is_empty());
    assert_eq!(ctx.emu.counters().sessions_aborted, 1);
    let sid = s["id"].as_str().unwrap();
    assert!(!ctx.emu.data_dir().join("sessions").join(sid).exists());
}

#[tokio::test]
async fn digest_algorithm_is_case_insensitive_and_bodies_may_be_chunked() {
    let ctx = Ctx::small().await;
    let d = test_data(2000, 5);
    let s = ctx.new_session("0", "c", 2000).await;
    let url = s["session_endpoints"]["upload_part"].as_str().unwrap();
    // `SHA=` and a body sent with transfer-encoding: chunked (no content-length).
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = d[..1024]
        .chunks(100)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let resp = ctx
        .req(Method::PUT, url)
        .header("digest", format!("SHA={}", base64(&sha1(&d[..1024]))))
        .header("content-range", "bytes 0-1023/2000")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    let p0 = expect_status(resp, 200).await["part"].clone();
    let p1 =
        expect_status(ctx.put_part(&s, 1024, &d[1024..], 2000).await, 200).await["part"].clone();
    expect_status(ctx.commit(&s, &[p0, p1], &d).await, 201).await;
}

#[tokio::test]
async fn sessions_work_on_the_api_base_too() {
    let ctx = Ctx::small().await;
    let resp = ctx
        .req(Method::POST, &ctx.api("/files/upload_sessions"))
        .json(&json!({"folder_id": "0", "file_name": "q", "file_size": 10}))
        .send()
        .await
        .unwrap();
    let s = expect_status(resp, 201).await;
    // Endpoints still point at the upload base.
    assert!(s["session_endpoints"]["upload_part"]
        .as_str()
        .unwrap()
        .starts_with(&ctx.emu.upload_url()));
    let sid = s["id"].as_str().unwrap();
    let st = ctx
        .get_json(&ctx.api(&format!("/files/upload_sessions/{sid}")))
        .await;
    expect_status(st, 200).await;
}

#[tokio::test]
async fn default_part_sizes_follow_box() {
    let ctx = Ctx::new(box_emulator::Config::default()).await;
    let s = ctx.new_session("0", "a", 160_000_000).await;
    assert_eq!(s["part_size"], 8_388_608);
    assert_eq!(s["total_parts"], 20);
    let s = ctx.new_session("0", "b", 1_000_000_000).await;
    assert_eq!(s["part_size"], 33_554_432);
    assert_eq!(s["total_parts"], 30);
    let s = ctx.new_session("0", "c", 20_000_000).await;
    assert_eq!(s["total_parts"], 3);
    expect_error(
        ctx.create_session("0", "d", 19_999_999).await,
        400,
        "file_size_too_small",
    )
    .await;
}

/// Box accepts an operation's path with a trailing slash as well as without.
#[tokio::test]
async fn trailing_slash_is_accepted() {
    let ctx = Ctx::small().await;
    let d = test_data(2100, 31);
    let resp = ctx
        .req(Method::POST, &ctx.upload("/files/upload_sessions/"))
        .json(&json!({"folder_id": "0", "file_name": "slash.bin", "file_size": 2100}))
        .send()
        .await
        .unwrap();
    let s = expect_status(resp, 201).await;
    let ep = &s["session_endpoints"];
    let slash = |k: &str| format!("{}/", ep[k].as_str().unwrap());
    expect_status(ctx.get_json(&slash("status")).await, 200).await;
    let mut parts = Vec::new();
    for (i, chunk) in d.chunks(1024).enumerate() {
        let first = i * 1024;
        let resp = ctx
            .req(Method::PUT, &slash("upload_part"))
            .header("digest", digest(chunk))
            .header(
                "content-range",
                content_range(first as u64, chunk.len() as u64, 2100),
            )
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        parts.push(expect_status(resp, 200).await["part"].clone());
    }
    let list = expect_status(
        ctx.get_json(&format!("{}?limit=10", slash("list_parts")))
            .await,
        200,
    )
    .await;
    assert_eq!(list["total_count"], 3);
    let resp = ctx
        .req(Method::POST, &slash("commit"))
        .header("digest", digest(&d))
        .json(&json!({ "parts": parts }))
        .send()
        .await
        .unwrap();
    let v = expect_status(resp, 201).await;
    let id = v["entries"][0]["id"].as_str().unwrap().to_string();
    // Direct uploads, reading back, and a session for a version, with the slash.
    let resp = ctx
        .req(Method::POST, &ctx.upload("/files/content/"))
        .multipart(Ctx::form(
            json!({"name": "d.txt", "parent": {"id": "0"}}),
            "d.txt",
            b"d",
        ))
        .send()
        .await
        .unwrap();
    expect_status(resp, 201).await;
    expect_status(ctx.get_json(&ctx.api(&format!("/files/{id}/"))).await, 200).await;
    expect_status(ctx.get_json(&ctx.api("/folders/0/items/")).await, 200).await;
    let resp = ctx
        .req(
            Method::POST,
            &ctx.upload(&format!("/files/{id}/upload_sessions/")),
        )
        .json(&json!({"file_size": 2100}))
        .send()
        .await
        .unwrap();
    let s2 = expect_status(resp, 201).await;
    let resp = ctx
        .req(
            Method::DELETE,
            &format!("{}/", s2["session_endpoints"]["abort"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    expect_status(resp, 204).await;
    // Only one slash: two still name nothing.
    expect_error(
        ctx.get_json(&ctx.api(&format!("/files/{id}//"))).await,
        404,
        "not_found",
    )
    .await;
}

/// Box's SDK integration tests delete a session right after committing it and expect
/// success: the abort answers 204 and the file stays.
#[tokio::test]
async fn abort_after_commit_is_204_and_keeps_the_file() {
    let ctx = Ctx::small().await;
    let d = test_data(2100, 32);
    let s = ctx.new_session("0", "kept.bin", 2100).await;
    let parts = ctx.put_all_parts(&s, &d).await;
    let v = expect_status(ctx.commit(&s, &parts, &d).await, 201).await;
    let id = v["entries"][0]["id"].as_str().unwrap().to_string();
    let abort = s["session_endpoints"]["abort"].as_str().unwrap();
    for _ in 0..2 {
        let resp = ctx.req(Method::DELETE, abort).send().await.unwrap();
        expect_status(resp, 204).await;
    }
    assert_stored(&ctx.emu, &id, &d).await;
    // Still committed: a commit or a status call finds nothing.
    expect_error(ctx.commit(&s, &parts, &d).await, 404, "not_found").await;
    expect_error(
        ctx.get_json(s["session_endpoints"]["status"].as_str().unwrap())
            .await,
        404,
        "not_found",
    )
    .await;
    let c = ctx.emu.counters();
    assert_eq!(c.sessions_aborted, 0);
    assert_eq!(c.sessions_committed, 1);
}

/// A part body sent through a channel: chunks as they are pushed, and an error to break the
/// request mid-way.
fn channel_body() -> (
    tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
    reqwest::Body,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (tx, reqwest::Body::wrap_stream(stream))
}

/// Parts are written in place into the session's data file. A part whose digest is wrong,
/// whose body breaks mid-way, or that arrives while another request for the same part is still
/// streaming into its region, leaves the bytes stored for every part right; the commit checks
/// the assembled file and moves it into the store (no data file is left behind).
#[tokio::test]
async fn parts_land_in_place_and_failed_parts_leave_no_trace() {
    let ctx = Ctx::small().await;
    let d = test_data(3000, 21);
    let total = d.len() as u64;
    let s = ctx.new_session("0", "inplace.bin", total).await;
    let sid = s["id"].as_str().unwrap().to_string();
    let url = s["session_endpoints"]["upload_part"]
        .as_str()
        .unwrap()
        .to_string();
    let put = |body: reqwest::Body, digest_of: &[u8], first: u64, len: u64| {
        ctx.req(Method::PUT, &url)
            .header("digest", digest(digest_of))
            .header("content-range", content_range(first, len, total))
            .header("content-length", len.to_string())
            .body(body)
            .send()
    };
    let p0 = expect_status(ctx.put_part(&s, 0, &d[..1024], total).await, 200).await["part"].clone();

    // A wrong digest: 412, nothing stored.
    let garbage = test_data(1024, 99);
    expect_error(
        put(garbage.clone().into(), &d[1024..2048], 1024, 1024)
            .await
            .unwrap(),
        412,
        "precondition_failed",
    )
    .await;
    // An overlap on a stored part is refused before its body is read: the part stays.
    expect_error(
        put(garbage.clone().into(), &garbage, 0, 1024)
            .await
            .unwrap(),
        416,
        "range_overlaps_existing_part",
    )
    .await;

    // A stalled upload of part 1 (its digest is its own: it would be stored if let through)
    // has half its body in the part's region when a good copy of the part arrives: the good
    // copy does not wait for it, takes the region over and is stored; the stalled one, once
    // whole, is refused and writes nothing more.
    let emu = &ctx.emu;
    let wait_received = |n: u64| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while emu.counters().file_bytes_received < n {
            assert!(
                std::time::Instant::now() < deadline,
                "the body never arrived"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    let before = ctx.emu.counters().file_bytes_received;
    let (tx, body) = channel_body();
    let stalled = tokio::spawn(put(body, &garbage, 1024, 1024));
    tx.send(Ok(bytes::Bytes::copy_from_slice(&garbage[..512])))
        .await
        .unwrap();
    wait_received(before + 512).await;
    let p1 = expect_status(
        put(d[1024..2048].to_vec().into(), &d[1024..2048], 1024, 1024)
            .await
            .unwrap(),
        200,
    )
    .await["part"]
        .clone();
    assert_eq!(p1["sha1"], sha1_hex(&d[1024..2048]));
    tx.send(Ok(bytes::Bytes::copy_from_slice(&garbage[512..])))
        .await
        .unwrap();
    drop(tx);
    let v = expect_error(
        stalled.await.unwrap().unwrap(),
        416,
        "range_overlaps_existing_part",
    )
    .await;
    assert_eq!(v["context_info"]["conflicting_part"], p1);

    // A body that breaks mid-way, after half of it (garbage) reached the part's region: no
    // part; the next upload of that part lands.
    let before = ctx.emu.counters().file_bytes_received;
    let (tx, body) = channel_body();
    let broken = tokio::spawn(put(body, &d[2048..], 2048, total - 2048));
    tx.send(Ok(bytes::Bytes::copy_from_slice(&garbage[..500])))
        .await
        .unwrap();
    wait_received(before + 500).await;
    tx.send(Err(std::io::Error::other("broken on purpose")))
        .await
        .unwrap();
    drop(tx);
    // What the client makes of the broken request does not matter; the server saw it break.
    let _ = broken.await;
    let list = body_json(
        ctx.get_json(s["session_endpoints"]["list_parts"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(list["total_count"], 2);
    let p2 =
        expect_status(ctx.put_part(&s, 2048, &d[2048..], total).await, 200).await["part"].clone();

    let session_dir = ctx.emu.data_dir().join("sessions").join(&sid);
    let data = std::fs::read(session_dir.join("data")).unwrap();
    assert_eq!(data, d, "the data file holds the parts in place");
    let v = expect_status(ctx.commit(&s, &[p0, p1, p2], &d).await, 201).await;
    let id = v["entries"][0]["id"].as_str().unwrap();
    assert_eq!(v["entries"][0]["sha1"], sha1_hex(&d));
    assert_eq!(ctx.download(id, None).await, d);
    assert!(!session_dir.join("data").exists(), "data file left behind");
    assert!(
        !session_dir.join("parts").exists(),
        "part records left behind"
    );
}
