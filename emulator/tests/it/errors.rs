//! Box's error codes on the chunked-upload endpoints.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn create(ctx: &Ctx, body: Value) -> reqwest::Response {
    ctx.req(Method::POST, &ctx.upload("/files/upload_sessions"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn create_session_validation() {
    let ctx = Ctx::new(box_emulator::Config {
        min_chunked_size: 100,
        max_file_size: Some(10_000),
        storage_limit: Some(20_000),
        ..small_config()
    })
    .await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"file_name": "a", "file_size": 500}),
            400,
            "missing_destination",
        ),
        (
            json!({"folder_id": "abc", "file_name": "a", "file_size": 500}),
            400,
            "invalid_folder_id",
        ),
        (
            json!({"folder_id": ["0"], "file_name": "a", "file_size": 500}),
            400,
            "invalid_folder_id",
        ),
        (
            json!({"folder_id": "0", "file_size": 500}),
            400,
            "missing_file_name",
        ),
        (
            json!({"folder_id": "0", "file_name": "a"}),
            400,
            "missing_file_size",
        ),
        (
            json!({"folder_id": "0", "file_name": "a", "file_size": "500"}),
            400,
            "invalid_file_size",
        ),
        (
            json!({"folder_id": "0", "file_name": "a", "file_size": -1}),
            400,
            "invalid_file_size",
        ),
        (
            json!({"folder_id": "0", "file_name": "a", "file_size": 1.5}),
            400,
            "invalid_file_size",
        ),
        (
            json!({"folder_id": "0", "file_name": "a", "file_size": 99}),
            400,
            "file_size_too_small",
        ),
        (
            json!({"folder_id": "0", "file_name": "a/b", "file_size": 500}),
            400,
            "item_name_invalid",
        ),
        (
            json!({"folder_id": "0", "file_name": "x".repeat(256), "file_size": 500}),
            400,
            "item_name_too_long",
        ),
        (
            json!({"folder_id": "31", "file_name": "a", "file_size": 500}),
            404,
            "invalid_parameter",
        ),
        (
            json!({"folder_id": "0", "file_name": "a", "file_size": 10_001}),
            403,
            "file_size_limit_exceeded",
        ),
    ];
    for (body, status, code) in cases {
        let resp = create(&ctx, body.clone()).await;
        let got = resp.status();
        let v = body_json(resp).await;
        assert_eq!(
            (got.as_u16(), v["code"].as_str().unwrap_or("")),
            (status, code),
            "{body}: {v}"
        );
    }
    // Malformed JSON and oversized bodies.
    let resp = ctx
        .req(Method::POST, &ctx.upload("/files/upload_sessions"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "bad_request").await;
    let resp = ctx
        .req(Method::POST, &ctx.upload("/files/upload_sessions"))
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    expect_error(resp, 413, "request_entity_too_large").await;

    // Name in use, and storage.
    let f = ctx.put_file("0", "taken.txt", &test_data(9000, 1)).await;
    let v = expect_error(
        create(
            &ctx,
            json!({"folder_id": "0", "file_name": "TAKEN.txt", "file_size": 500}),
        )
        .await,
        409,
        "item_name_in_use",
    )
    .await;
    assert_eq!(v["context_info"]["conflicts"]["id"], f["id"]);
    ctx.put_file("0", "more.txt", &test_data(9000, 2)).await;
    expect_error(
        create(
            &ctx,
            json!({"folder_id": "0", "file_name": "b", "file_size": 2001}),
        )
        .await,
        403,
        "storage_limit_exceeded",
    )
    .await;
    // Version sessions: unknown file.
    let resp = ctx
        .req(Method::POST, &ctx.upload("/files/12345/upload_sessions"))
        .json(&json!({"file_size": 500}))
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
}

#[tokio::test]
async fn part_header_and_range_rules() {
    let ctx = Ctx::small().await;
    let total = 2500u64;
    let d = test_data(total, 3);
    let s = ctx.new_session("0", "p", total).await;
    let url = s["session_endpoints"]["upload_part"]
        .as_str()
        .unwrap()
        .to_string();
    let put = |range: Option<String>, dig: Option<String>, body: Vec<u8>| {
        let mut rb = ctx.req(Method::PUT, &url).body(body);
        if let Some(r) = range {
            rb = rb.header("content-range", r);
        }
        if let Some(g) = dig {
            rb = rb.header("digest", g);
        }
        rb.send()
    };
    let p0 = d[..1024].to_vec();
    let dg = Some(digest(&p0));
    let r = |s: &str| Some(s.to_string());
    expect_error(
        put(r("bytes 0-1023/2500"), None, p0.clone()).await.unwrap(),
        400,
        "bad_request",
    )
    .await;
    expect_error(
        put(None, dg.clone(), p0.clone()).await.unwrap(),
        400,
        "bad_request",
    )
    .await;
    expect_error(
        put(r("bytes 0-1023/2500"), r("md5=abc"), p0.clone())
            .await
            .unwrap(),
        400,
        "bad_request",
    )
    .await;
    expect_error(
        put(r("bytes 0-1023/2500"), r("sha=notbase64!"), p0.clone())
            .await
            .unwrap(),
        400,
        "bad_request",
    )
    .await;
    for bad in [
        "0-1023/2500",
        "bytes 0-1023",
        "bytes 0-1023/*",
        "bytes 1023-0/2500",
        "bytes 0-1023/2501",
        "bytes 1-1024/2500",
        "bytes 0-1022/2500",
        "bytes 0-2499/2500",
        "bytes 2048-2498/2500",
        "bytes 0-99999999999999999999999/2500",
        "bytes 0-1023/99999999999999999999999",
        "bytes 0-18446744073709551615/18446744073709551616",
    ] {
        let resp = put(r(bad), dg.clone(), p0.clone()).await.unwrap();
        expect_error(resp, 416, "range_not_satisfiable").await;
    }
    // Body shorter or longer than the range.
    expect_error(
        put(r("bytes 0-1023/2500"), dg.clone(), p0[..1000].to_vec())
            .await
            .unwrap(),
        400,
        "request_size_mismatch",
    )
    .await;
    let mut long = p0.clone();
    long.extend_from_slice(b"extra");
    expect_error(
        put(r("bytes 0-1023/2500"), dg.clone(), long).await.unwrap(),
        400,
        "request_size_mismatch",
    )
    .await;
    // A longer chunked body is cut off; the answer still reaches the client (lingering close).
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(p0.clone()), Ok(vec![1u8; 100])];
    let resp = ctx
        .req(Method::PUT, &url)
        .header("content-range", "bytes 0-1023/2500")
        .header("digest", digest(&p0))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("the answer to an overlong chunked part");
    expect_error(resp, 400, "request_size_mismatch").await;
    // Wrong digest: 412, nothing stored.
    let resp = put(r("bytes 0-1023/2500"), Some(digest(b"other")), p0.clone())
        .await
        .unwrap();
    expect_error(resp, 412, "precondition_failed").await;
    let list = body_json(
        ctx.get_json(s["session_endpoints"]["list_parts"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(list["total_count"], 0);
    // The last part may be short.
    expect_status(ctx.put_part(&s, 2048, &d[2048..], total).await, 200).await;
    assert_eq!(ctx.emu.counters().parts_stored, 1);
}

#[tokio::test]
async fn parts_are_immutable() {
    let ctx = Ctx::small().await;
    let d = test_data(2048, 4);
    let s = ctx.new_session("0", "imm", 2048).await;
    let first =
        expect_status(ctx.put_part(&s, 0, &d[..1024], 2048).await, 200).await["part"].clone();
    let other = test_data(1024, 99);
    for body in [&d[..1024], &other[..]] {
        let v = expect_error(
            ctx.put_part(&s, 0, body, 2048).await,
            416,
            "range_overlaps_existing_part",
        )
        .await;
        assert_eq!(v["context_info"]["conflicting_part"], first);
    }
    let list = body_json(
        ctx.get_json(s["session_endpoints"]["list_parts"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(list["entries"], json!([first]));
    let stored = std::fs::read(
        ctx.emu
            .data_dir()
            .join("sessions")
            .join(s["id"].as_str().unwrap())
            .join("data"),
    )
    .unwrap();
    assert_eq!(&stored[..1024], &d[..1024]);
}

#[tokio::test]
async fn unknown_malformed_and_expired_sessions() {
    let ctx = Ctx::small().await;
    let base = ctx.upload("/files/upload_sessions");
    expect_error(
        ctx.get_json(&format!("{base}/ABCDEF0123")).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        ctx.get_json(&format!("{base}/bad%2Did!")).await,
        400,
        "invalid_upload_session_id",
    )
    .await;
    expect_error(
        ctx.get_json(&format!("{base}/{}", "A".repeat(65))).await,
        400,
        "invalid_upload_session_id",
    )
    .await;

    let d = test_data(2048, 5);
    let s = ctx.new_session("0", "exp", 2048).await;
    let p0 = expect_status(ctx.put_part(&s, 0, &d[..1024], 2048).await, 200).await["part"].clone();
    assert!(ctx.emu.expire_session(s["id"].as_str().unwrap()));
    let ep = &s["session_endpoints"];
    expect_error(
        ctx.get_json(ep["status"].as_str().unwrap()).await,
        410,
        "session_expired",
    )
    .await;
    expect_error(
        ctx.get_json(ep["list_parts"].as_str().unwrap()).await,
        410,
        "session_expired",
    )
    .await;
    expect_error(
        ctx.put_part(&s, 1024, &d[1024..], 2048).await,
        410,
        "session_expired",
    )
    .await;
    expect_error(ctx.commit(&s, &[p0], &d).await, 410, "session_expired").await;

    // A lifetime from the config.
    let ctx = Ctx::new(box_emulator::Config {
        session_lifetime: std::time::Duration::from_secs(1),
        ..small_config()
    })
    .await;
    let s = ctx.new_session("0", "exp", 10).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    expect_error(
        ctx.get_json(s["session_endpoints"]["status"].as_str().unwrap())
            .await,
        410,
        "session_expired",
    )
    .await;
}

#[tokio::test]
async fn list_parts_paging_limits() {
    let ctx = Ctx::small().await;
    let s = ctx.new_session("0", "l", 5000).await;
    let lp = s["session_endpoints"]["list_parts"].as_str().unwrap();
    expect_error(
        ctx.get_json(&format!("{lp}?offset=10001")).await,
        400,
        "bad_request",
    )
    .await;
    expect_error(
        ctx.get_json(&format!("{lp}?limit=abc")).await,
        400,
        "bad_request",
    )
    .await;
    let v = body_json(ctx.get_json(&format!("{lp}?offset=10000&limit=5000")).await).await;
    assert_eq!(v["limit"], 1000);
    assert_eq!(v["entries"], json!([]));
}

#[tokio::test]
async fn commit_checks_parts_and_digest() {
    let ctx = Ctx::small().await;
    let d = test_data(3000, 6);
    let s = ctx.new_session("0", "c.bin", 3000).await;
    let mut parts = Vec::new();
    for i in 0..2 {
        let chunk = &d[i * 1024..(i + 1) * 1024];
        parts.push(
            expect_status(ctx.put_part(&s, (i * 1024) as u64, chunk, 3000).await, 200).await
                ["part"]
                .clone(),
        );
    }
    // Not all parts uploaded yet.
    expect_error(ctx.commit(&s, &parts, &d).await, 400, "parts_mismatch").await;
    parts.push(
        expect_status(ctx.put_part(&s, 2048, &d[2048..], 3000).await, 200).await["part"].clone(),
    );

    let mut missing = parts.clone();
    missing.remove(1);
    expect_error(ctx.commit(&s, &missing, &d).await, 400, "parts_mismatch").await;
    let mut unknown = parts.clone();
    unknown[1]["part_id"] = json!("FFFFFFFF");
    expect_error(ctx.commit(&s, &unknown, &d).await, 400, "parts_mismatch").await;
    let mut wrong_sha = parts.clone();
    wrong_sha[0]["sha1"] = json!(sha1_hex(b"x"));
    expect_error(ctx.commit(&s, &wrong_sha, &d).await, 400, "parts_mismatch").await;
    let mut dup = parts.clone();
    dup.push(parts[0].clone());
    expect_error(ctx.commit(&s, &dup, &d).await, 400, "parts_mismatch").await;
    let unsorted = vec![parts[1].clone(), parts[0].clone(), parts[2].clone()];
    expect_error(ctx.commit(&s, &unsorted, &d).await, 400, "parts_mismatch").await;
    expect_error(
        ctx.commit_with(&s, json!({"parts": parts}), "", &[]).await,
        400,
        "bad_request",
    )
    .await;
    expect_error(
        ctx.commit_with(&s, json!({}), &digest(&d), &[]).await,
        400,
        "bad_request",
    )
    .await;

    expect_wrong_digest_refused(&ctx, &s, &parts, &d).await;
    // Somebody else took the name meanwhile.
    ctx.put_file("0", "C.BIN", b"x").await;
    expect_error(ctx.commit(&s, &parts, &d).await, 409, "item_name_in_use").await;
    // A rename in the commit attributes gets past it.
    let resp = ctx
        .commit_with(
            &s,
            json!({"parts": parts, "attributes": {"name": "c2.bin"}}),
            &digest(&d),
            &[],
        )
        .await;
    let v = expect_status(resp, 201).await;
    assert_eq!(v["entries"][0]["name"], "c2.bin");
    // New-file commit with if-match: no file to match.
    let s2 = ctx.new_session("0", "d.bin", 10).await;
    let p = ctx.put_all_parts(&s2, &d[..10]).await;
    let resp = ctx
        .commit_with(
            &s2,
            json!({"parts": p}),
            &digest(&d[..10]),
            &[("if-match", "0")],
        )
        .await;
    expect_error(resp, 412, "precondition_failed").await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_box_errors() {
    let ctx = Ctx::small().await;
    expect_error(
        ctx.get_json(&ctx.api("/nothing/here")).await,
        404,
        "not_found",
    )
    .await;
    let resp = ctx
        .req(Method::PATCH, &ctx.upload("/files/upload_sessions"))
        .send()
        .await
        .unwrap();
    expect_error(resp, 405, "method_not_allowed").await;
    expect_error(
        ctx.get_json(&ctx.api("/files/notanumber")).await,
        404,
        "not_found",
    )
    .await;
    expect_error(ctx.get_json(&ctx.api("/files/123")).await, 404, "not_found").await;
}

#[tokio::test]
async fn hostile_inputs_get_box_errors_and_the_server_keeps_working() {
    let ctx = Ctx::small().await;
    let up = ctx.upload("/files/content");
    let send_raw = |ct: &'static str, body: Vec<u8>| {
        ctx.req(Method::POST, &up)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    // No boundary, a boundary that never appears, truncated parts, huge part headers.
    expect_error(
        send_raw("multipart/form-data", b"x".to_vec())
            .await
            .unwrap(),
        400,
        "bad_request",
    )
    .await;
    expect_error(
        send_raw("application/json", b"{}".to_vec()).await.unwrap(),
        400,
        "bad_request",
    )
    .await;
    expect_error(
        send_raw("multipart/form-data; boundary=zz", vec![b'a'; 200_000])
            .await
            .unwrap(),
        400,
        "bad_request",
    )
    .await;
    expect_error(
        send_raw(
            "multipart/form-data; boundary=zz",
            b"--zz\r\ncontent-disposition: form-data; name=\"attributes\"\r\n\r\n{\"na".to_vec(),
        )
        .await
        .unwrap(),
        400,
        "bad_request",
    )
    .await;
    let mut big_headers = b"--zz\r\nx-junk: ".to_vec();
    big_headers.extend(vec![b'a'; 100_000]);
    expect_error(
        send_raw("multipart/form-data; boundary=zz", big_headers)
            .await
            .unwrap(),
        400,
        "bad_request",
    )
    .await;
    // Attributes that are not JSON, too deep, or the wrong shape.
    for attrs in [
        "not json".to_string(),
        "[1,2]".to_string(),
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
        r#"{"name": 5, "parent": {"id": "0"}}"#.to_string(),
        r#"{"name": "a", "parent": "0"}"#.to_string(),
        r#"{"name": "a", "parent": {"id": "0"}, "content_created_at": "yesterday"}"#.to_string(),
    ] {
        let form = reqwest::multipart::Form::new()
            .text("attributes", attrs.clone())
            .part("file", reqwest::multipart::Part::bytes(b"abc".to_vec()));
        let resp = ctx
            .req(Method::POST, &up)
            .multipart(form)
            .send()
            .await
            .unwrap();
        expect_error(resp, 400, "bad_request").await;
    }
    // Deeply nested JSON to a JSON endpoint.
    let resp = ctx
        .req(Method::POST, &ctx.upload("/files/upload_sessions"))
        .body(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)))
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "bad_request").await;
    // A file that would need too many parts of the configured size is refused.
    let resp = ctx.create_session("0", "huge", i64::MAX as u64).await;
    expect_error(resp, 403, "file_size_limit_exceeded").await;
    let resp = ctx
        .req(Method::POST, &ctx.upload("/files/upload_sessions"))
        .json(&json!({"folder_id": "0", "file_name": "x", "file_size": 1e30}))
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "invalid_file_size").await;
    // Still healthy.
    ctx.put_file("0", "after.txt", b"ok").await;
}

/// Box's common errors: `411 length_required` "content-length header was required, but not
/// provided.": a part with neither `content-length` nor `transfer-encoding` is refused and
/// nothing is stored. A chunked part is accepted (Box's own Node SDK sends parts chunked).
#[tokio::test]
async fn part_without_content_length_is_411() {
    let ctx = Ctx::small().await;
    let d = test_data(3072, 21);
    let s = ctx.new_session("0", "len", 3072).await;
    let url = s["session_endpoints"]["upload_part"].as_str().unwrap();
    let path = url.strip_prefix(&ctx.emu.base_url()).unwrap().to_string();
    let addr = ctx.emu.local_addr();
    let token = ctx.emu.token().to_string();
    let dg = digest(&d[..1024]);
    let range = ("content-range", "bytes 0-1023/3072");
    // No framing at all: the body (sent anyway) is not the request's.
    for body in [&b""[..], &d[..1024]] {
        let r = crate::raw::exchange(
            addr,
            &crate::raw::head(
                "PUT",
                &path,
                Some(&token),
                &[("digest", dg.as_str()), range],
            ),
            body,
        )
        .await
        .expect("an answer");
        let v = r.box_error(411, "length_required");
        assert_eq!(
            v["message"],
            "content-length header was required, but not provided."
        );
    }
    assert_eq!(ctx.emu.counters().parts_stored, 0);
    assert_eq!(ctx.emu.counters().errors_for("length_required"), 2);
    // Chunked: accepted, as Box accepts it.
    let mut body = format!("{:x}\r\n", 1024).into_bytes();
    body.extend_from_slice(&d[..1024]);
    body.extend_from_slice(b"\r\n0\r\n\r\n");
    let r = crate::raw::exchange(
        addr,
        &crate::raw::head(
            "PUT",
            &path,
            Some(&token),
            &[
                ("digest", dg.as_str()),
                range,
                ("transfer-encoding", "chunked"),
            ],
        ),
        &body,
    )
    .await
    .expect("an answer");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // With a content-length.
    expect_status(ctx.put_part(&s, 1024, &d[1024..2048], 3072).await, 200).await;
    assert_eq!(ctx.emu.counters().parts_stored, 2);
}

/// Box deletes an upload session when it commits it: a second commit (with the same digest,
/// as after a lost answer, or another) finds no session, like every other call on it.
#[tokio::test]
async fn repeated_commit_is_404_not_a_replayed_201() {
    let ctx = Ctx::small().await;
    let d = test_data(2100, 22);
    let s = ctx.new_session("0", "twice.bin", 2100).await;
    let parts = ctx.put_all_parts(&s, &d).await;
    let v = expect_status(ctx.commit(&s, &parts, &d).await, 201).await;
    let id = v["entries"][0]["id"].as_str().unwrap().to_string();
    expect_error(ctx.commit(&s, &parts, &d).await, 404, "not_found").await;
    expect_error(
        ctx.commit_with(&s, json!({"parts": parts}), &digest(b"other"), &[])
            .await,
        404,
        "not_found",
    )
    .await;
    // Even without a digest header: the session is looked up first.
    let resp = ctx
        .req(
            Method::POST,
            s["session_endpoints"]["commit"].as_str().unwrap(),
        )
        .json(&json!({"parts": parts}))
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
    // A session for a new version too.
    let d2 = test_data(2100, 23);
    let resp = ctx
        .req(
            Method::POST,
            &ctx.upload(&format!("/files/{id}/upload_sessions")),
        )
        .json(&json!({"file_size": 2100}))
        .send()
        .await
        .unwrap();
    let s2 = expect_status(resp, 201).await;
    let parts2 = ctx.put_all_parts(&s2, &d2).await;
    expect_status(ctx.commit(&s2, &parts2, &d2).await, 201).await;
    expect_error(ctx.commit(&s2, &parts2, &d2).await, 404, "not_found").await;
    let c = ctx.emu.counters();
    assert_eq!(c.sessions_committed, 2);
    assert_eq!(c.file_versions_created, 1);
    assert_eq!(c.files_created, 1);
}
