//! Part reuse: parts uploaded with `digest: sha-512=`, a version session's plan (hits for
//! the parts the current version holds, misses for the others), a commit naming the hits by
//! `part_id`, and what plan and commit refuse.

use crate::common::*;
use box_emulator::Operation;
use reqwest::{Method, Response};
use serde_json::{json, Value};

/// 1 KiB parts: four whole parts and a 512-byte last one.
pub(crate) const SIZE: usize = 4 * 1024 + 512;
pub(crate) const PART: usize = 1024;

fn sha512(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA512, data)
        .as_ref()
        .to_vec()
}

pub(crate) fn sha512_hex(data: &[u8]) -> String {
    hex(&sha512(data))
}

/// `sha-512=<base64>` of `data`.
fn digest512(data: &[u8]) -> String {
    format!("sha-512={}", base64(&sha512(data)))
}

/// `data` with the bytes of parts `parts` changed in place.
pub(crate) fn changed(data: &[u8], parts: &[usize]) -> Vec<u8> {
    let mut out = data.to_vec();
    for &p in parts {
        for b in &mut out[p * PART..((p + 1) * PART).min(SIZE)] {
            *b = b.wrapping_add(1);
        }
    }
    out
}

/// Uploads part `index` of `data` with the given `digest` header value.
pub(crate) async fn put_part_with(
    ctx: &Ctx,
    session: &Value,
    data: &[u8],
    index: usize,
    d: &str,
) -> Response {
    let url = session["session_endpoints"]["upload_part"]
        .as_str()
        .expect("url");
    let part = &data[index * PART..((index + 1) * PART).min(data.len())];
    ctx.req(Method::PUT, url)
        .header("digest", d)
        .header(
            "content-range",
            content_range((index * PART) as u64, part.len() as u64, data.len() as u64),
        )
        .body(part.to_vec())
        .send()
        .await
        .expect("send")
}

/// Uploads part `index` with a SHA-512 digest; returns its part object.
async fn put_part512(ctx: &Ctx, session: &Value, data: &[u8], index: usize) -> Value {
    let part = &data[index * PART..((index + 1) * PART).min(data.len())];
    let v = expect_status(
        put_part_with(ctx, session, data, index, &digest512(part)).await,
        200,
    )
    .await;
    v["part"].clone()
}

/// The plan entries of every part of `data`.
pub(crate) fn plan_entries(data: &[u8]) -> Vec<Value> {
    data.chunks(PART)
        .enumerate()
        .map(|(i, c)| json!({"offset": i * PART, "size": c.len(), "sha512": sha512_hex(c)}))
        .collect()
}

pub(crate) async fn plan(ctx: &Ctx, session: &Value, body: Value) -> Response {
    let url = session["session_endpoints"]["plan"]
        .as_str()
        .expect("plan url");
    ctx.req(Method::POST, url)
        .json(&body)
        .send()
        .await
        .expect("send")
}

pub(crate) async fn version_session(ctx: &Ctx, file_id: &str, size: usize) -> Value {
    let resp = ctx
        .req(
            Method::POST,
            &ctx.upload(&format!("/files/{file_id}/upload_sessions")),
        )
        .json(&json!({"file_size": size}))
        .send()
        .await
        .expect("send");
    expect_status(resp, 201).await
}

/// A file of `data`, uploaded in parts with SHA-512 digests (listed with them at commit).
pub(crate) async fn upload_with_sha512(ctx: &Ctx, name: &str, data: &[u8]) -> String {
    let s = ctx.new_session("0", name, data.len() as u64).await;
    let mut parts = Vec::new();
    for i in 0..data.len().div_ceil(PART) {
        parts.push(put_part512(ctx, &s, data, i).await);
    }
    let f = expect_status(ctx.commit(&s, &parts, data).await, 201).await;
    f["entries"][0]["id"].as_str().expect("id").to_string()
}

/// Asks the plan for every part of `data`; uploads the misses with SHA-512 digests; returns
/// the commit list (hits by reference, uploads as answered; `sha512` in every entry), the
/// plan's answer.
async fn plan_and_upload(ctx: &Ctx, s: &Value, data: &[u8]) -> (Vec<Value>, Value) {
    let answer = expect_status(
        plan(ctx, s, json!({"parts": plan_entries(data)})).await,
        200,
    )
    .await;
    let mut list = Vec::new();
    for h in answer["hits"].as_array().expect("hits") {
        list.push(
            json!({"part_id": h["part_id"], "offset": h["offset"], "size": h["size"],
                         "sha512": h["sha512"]}),
        );
    }
    for m in answer["misses"].as_array().expect("misses") {
        let index = m["offset"].as_u64().expect("offset") as usize / PART;
        list.push(put_part512(ctx, s, data, index).await);
    }
    list.sort_by_key(|p| p["offset"].as_u64());
    (list, answer)
}

#[tokio::test]
async fn a_version_uploads_only_the_parts_that_changed() {
    let ctx = Ctx::small().await;
    let v1 = test_data(SIZE as u64, 7);
    // Parts uploaded with sha-512 carry it back, and keep it in the parts list.
    let s = ctx.new_session("0", "movie.mov", SIZE as u64).await;
    let p0 = put_part512(&ctx, &s, &v1, 0).await;
    assert_eq!(p0["sha512"], sha512_hex(&v1[..PART]));
    assert_eq!(p0["sha1"], sha1_hex(&v1[..PART]));
    let mut parts = vec![p0];
    for i in 1..5 {
        parts.push(put_part512(&ctx, &s, &v1, i).await);
    }
    let listed = expect_status(
        ctx.get_json(s["session_endpoints"]["list_parts"].as_str().expect("url"))
            .await,
        200,
    )
    .await;
    assert_eq!(listed["entries"][4]["sha512"], sha512_hex(&v1[4 * PART..]));
    let f = expect_status(ctx.commit(&s, &parts, &v1).await, 201).await;
    let file_id = f["entries"][0]["id"].as_str().expect("id").to_string();

    // A version session advertises plan, on create and on get.
    let v2 = changed(&v1, &[1, 3]);
    let vs = version_session(&ctx, &file_id, SIZE).await;
    let sid = vs["id"].as_str().expect("id");
    let plan_url = vs["session_endpoints"]["plan"].as_str().expect("plan");
    assert_eq!(
        plan_url,
        ctx.upload(&format!("/files/upload_sessions/{sid}/plan"))
    );
    let got = expect_status(
        ctx.get_json(vs["session_endpoints"]["status"].as_str().expect("url"))
            .await,
        200,
    )
    .await;
    assert_eq!(got["session_endpoints"]["plan"], plan_url);

    // The plan: unchanged parts are hits with the part ids of version 1, changed ones misses.
    let answer = expect_status(
        plan(&ctx, &vs, json!({"parts": plan_entries(&v2)})).await,
        200,
    )
    .await;
    assert_eq!(answer["upload_session_id"], sid);
    let asked = plan_entries(&v2);
    let hits: Vec<Value> = [0usize, 2, 4]
        .iter()
        .map(|&i| {
            let mut e = asked[i].clone();
            e["part_id"] = parts[i]["part_id"].clone();
            e
        })
        .collect();
    assert_eq!(answer["hits"], json!(hits));
    assert_eq!(answer["misses"], json!([asked[1], asked[3]]));
    assert_eq!(
        answer.as_object().map(|o| o.len()),
        Some(3),
        "upload_session_id, hits and misses only: {answer}"
    );

    // Only the misses are uploaded; the commit names the hits by part id.
    let before = ctx.emu.counters();
    let mut list = Vec::new();
    for i in 0..5 {
        if i == 1 || i == 3 {
            list.push(put_part512(&ctx, &vs, &v2, i).await);
        } else {
            list.push(json!({"part_id": parts[i]["part_id"], "offset": i * PART,
                             "size": asked[i]["size"], "sha512": asked[i]["sha512"]}));
        }
    }
    let f = expect_status(ctx.commit(&vs, &list, &v2).await, 201).await;
    assert_eq!(f["entries"][0]["id"], file_id.as_str());
    assert_eq!(f["entries"][0]["sha1"], sha1_hex(&v2));
    let down = ctx.download(&file_id, None).await;
    assert_eq!(sha1_hex(&down), sha1_hex(&v2));
    assert!(down == v2, "downloaded bytes are version 2");
    assert_stored(&ctx.emu, &file_id, &v2).await;

    let c = ctx.emu.counters();
    assert_eq!(c.requests_for(Operation::PlanUploadSession), 1);
    assert_eq!((c.plan_requests, c.plan_hits, c.plan_misses), (1, 3, 2));
    assert_eq!(c.parts_stored - before.parts_stored, 2);
    assert_eq!(
        c.part_bytes_stored - before.part_bytes_stored,
        2 * PART as u64
    );
    assert_eq!(c.parts_reused, 3);
    assert_eq!(c.part_bytes_reused, (2 * PART + 512) as u64);
    assert_eq!(c.file_versions_created, 1);

    // Version 2 keeps every part it was made of, reused ones included: the same content
    // again is all hits.
    let vs3 = version_session(&ctx, &file_id, SIZE).await;
    let (list, answer) = plan_and_upload(&ctx, &vs3, &v2).await;
    assert_eq!(answer["misses"], json!([]));
    assert_eq!(answer["hits"].as_array().map(Vec::len), Some(5));
    assert_eq!(answer["hits"][0]["part_id"], parts[0]["part_id"]);
    assert_eq!(answer["hits"][1]["part_id"], list[1]["part_id"]);
    expect_status(ctx.commit(&vs3, &list, &v2).await, 201).await;
    assert_stored(&ctx.emu, &file_id, &v2).await;

    // The counters as GET /_emulator/counters shows them.
    let json = expect_status(
        ctx.http
            .get(format!("{}/_emulator/counters", ctx.emu.base_url()))
            .send()
            .await
            .expect("send"),
        200,
    )
    .await;
    assert_eq!(json["plan_requests"], 2);
    assert_eq!(json["plan_hits"], 8);
    assert_eq!(json["plan_misses"], 2);
    assert_eq!(json["parts_reused"], 8);
    assert_eq!(json["requests"]["plan_upload_session"], 2);
}

#[tokio::test]
async fn parts_uploaded_with_sha1_alone_are_hashed_when_a_plan_asks() {
    // Box's SDKs upload parts with `sha=` and expect the same content, as a new version, to
    // be all hits.
    let ctx = Ctx::small().await;
    let v1 = test_data(SIZE as u64, 8);
    let file_id = ctx.chunked_upload("0", "a.bin", &v1).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let vs = version_session(&ctx, &file_id, SIZE).await;
    let v2 = changed(&v1, &[4]);
    let (list, answer) = plan_and_upload(&ctx, &vs, &v2).await;
    assert_eq!(answer["hits"].as_array().map(Vec::len), Some(4));
    assert_eq!(answer["misses"], json!([plan_entries(&v2)[4]]));
    // Without sha512 in any entry (the reused parts have none recorded).
    let list: Vec<Value> = list
        .into_iter()
        .map(|mut p| {
            p.as_object_mut().map(|o| o.remove("sha512"));
            p
        })
        .collect();
    expect_status(ctx.commit(&vs, &list, &v2).await, 201).await;
    assert_stored(&ctx.emu, &file_id, &v2).await;

    // A version stored by a direct upload has no parts: every part misses.
    expect_status(
        ctx.upload_version(&file_id, json!({}), &v1, None).await,
        200,
    )
    .await;
    let vs = version_session(&ctx, &file_id, SIZE).await;
    let answer = expect_status(
        plan(&ctx, &vs, json!({"parts": plan_entries(&v1)})).await,
        200,
    )
    .await;
    assert_eq!(answer["hits"], json!([]));
    assert_eq!(answer["misses"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn a_commit_mixing_entries_with_and_without_sha512_is_refused() {
    let ctx = Ctx::small().await;
    let v1 = test_data(SIZE as u64, 9);
    let file_id = upload_with_sha512(&ctx, "b.bin", &v1).await;
    let v2 = changed(&v1, &[0]);
    let vs = version_session(&ctx, &file_id, SIZE).await;
    let (list, _) = plan_and_upload(&ctx, &vs, &v2).await;
    // The hits without sha512, the upload with it.
    let mixed: Vec<Value> = list
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut p = p.clone();
            if i > 0 {
                p.as_object_mut().map(|o| o.remove("sha512"));
            }
            p
        })
        .collect();
    let v = expect_error(ctx.commit(&vs, &mixed, &v2).await, 400, "bad_request").await;
    assert!(
        v["message"].as_str().unwrap_or("").contains("sha512"),
        "{v}"
    );
    // A reused part listed at another offset, or unknown, is a parts mismatch.
    let mut moved = list.clone();
    moved[1]["offset"] = json!(3 * PART);
    expect_error(ctx.commit(&vs, &moved, &v2).await, 400, "parts_mismatch").await;
    let mut unknown = list.clone();
    unknown[2]["part_id"] = json!("00000000");
    expect_error(ctx.commit(&vs, &unknown, &v2).await, 400, "parts_mismatch").await;
    // A list without a reused part is incomplete.
    let short: Vec<Value> = list[..4].to_vec();
    expect_error(ctx.commit(&vs, &short, &v2).await, 400, "parts_mismatch").await;
    // A hit uploaded anyway: the list must name the upload, not the version's part.
    let uploaded = put_part512(&ctx, &vs, &v2, 1).await;
    let v = expect_error(ctx.commit(&vs, &list, &v2).await, 400, "parts_mismatch").await;
    assert!(
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("uploaded part"),
        "{v}"
    );
    let mut list = list;
    list[1] = uploaded;
    // The session is still usable: the consistent list commits.
    expect_status(ctx.commit(&vs, &list, &v2).await, 201).await;
    assert_stored(&ctx.emu, &file_id, &v2).await;
}

#[tokio::test]
async fn plan_refuses_what_it_cannot_answer() {
    let ctx = Ctx::small().await;
    let v1 = test_data(SIZE as u64, 10);
    let file_id = upload_with_sha512(&ctx, "c.bin", &v1).await;
    let vs = version_session(&ctx, &file_id, SIZE).await;
    let one = plan_entries(&v1)[0].clone();

    // More parts than one plan answers: 413, to be split.
    let many = vec![one.clone(); 1001];
    expect_error(
        plan(&ctx, &vs, json!({"parts": many})).await,
        413,
        "request_entity_too_large",
    )
    .await;
    let most = vec![one.clone(); 1000];
    let answer = expect_status(plan(&ctx, &vs, json!({"parts": most})).await, 200).await;
    assert_eq!(answer["hits"].as_array().map(Vec::len), Some(1000));

    // Malformed or misfit parts: 400.
    let sha = one["sha512"].clone();
    for bad in [
        json!({"parts": []}),
        json!({}),
        json!({"parts": [{"offset": 0, "size": PART}]}),
        json!({"parts": [{"offset": 0, "size": PART, "sha512": "xyz"}]}),
        json!({"parts": [{"offset": 0, "size": PART,
                          "sha512": sha.as_str().unwrap_or("").to_uppercase()}]}),
        json!({"parts": [{"offset": 100, "size": PART, "sha512": sha}]}),
        json!({"parts": [{"offset": PART, "size": 100, "sha512": sha}]}),
        json!({"parts": [{"offset": 4 * PART, "size": PART, "sha512": sha}]}),
        json!({"parts": [{"offset": SIZE, "size": 1, "sha512": sha}]}),
    ] {
        let v = expect_error(plan(&ctx, &vs, bad.clone()).await, 400, "bad_request").await;
        assert!(v["message"].is_string(), "{bad}: {v}");
    }

    // A new file's session has nothing to reuse: plan is refused there.
    let s = ctx.new_session("0", "new.bin", SIZE as u64).await;
    assert!(s["session_endpoints"]["plan"].is_string());
    expect_error(
        plan(&ctx, &s, json!({"parts": [one.clone()]})).await,
        400,
        "bad_request",
    )
    .await;

    // Someone else's, an aborted or an unknown session.
    let url = vs["session_endpoints"]["plan"].as_str().expect("url");
    let resp = ctx
        .http
        .post(url)
        .json(&json!({"parts": [one.clone()]}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 401);
    expect_status(
        ctx.req(
            Method::DELETE,
            vs["session_endpoints"]["abort"].as_str().expect("url"),
        )
        .send()
        .await
        .expect("send"),
        204,
    )
    .await;
    expect_error(
        plan(&ctx, &vs, json!({"parts": [one]})).await,
        404,
        "not_found",
    )
    .await;

    let c = ctx.emu.counters();
    assert_eq!((c.plan_requests, c.plan_hits, c.plan_misses), (1, 1000, 0));
}

#[tokio::test]
async fn a_part_is_checked_against_its_sha512_digest() {
    let ctx = Ctx::small().await;
    let data = test_data(SIZE as u64, 11);
    let s = ctx.new_session("0", "d.bin", SIZE as u64).await;
    let part = &data[..PART];
    // A wrong SHA-512 (alone, or beside a right SHA-1): 412, nothing stored.
    let wrong = digest512(&data[PART..2 * PART]);
    expect_error(
        put_part_with(&ctx, &s, &data, 0, &wrong).await,
        412,
        "precondition_failed",
    )
    .await;
    let both_wrong = format!("{}, {wrong}", digest(part));
    expect_error(
        put_part_with(&ctx, &s, &data, 0, &both_wrong).await,
        412,
        "precondition_failed",
    )
    .await;
    // Not the base64 of 64 bytes, or no digest Box knows: 400.
    for d in [
        "sha-512=AAAA".to_string(),
        "md5=AAAA".to_string(),
        format!("sha-512={}", base64(&[1u8; 20])),
    ] {
        expect_error(
            put_part_with(&ctx, &s, &data, 0, &d).await,
            400,
            "bad_request",
        )
        .await;
    }
    // Both right: stored with both.
    let both = format!("{},{}", digest(part), digest512(part));
    let v = expect_status(put_part_with(&ctx, &s, &data, 0, &both).await, 200).await;
    assert_eq!(v["part"]["sha512"], sha512_hex(part));
    // A part sent with sha= alone has no sha512.
    let v = expect_status(
        ctx.put_part(&s, PART as u64, &data[PART..2 * PART], SIZE as u64)
            .await,
        200,
    )
    .await;
    assert!(v["part"].get("sha512").is_none(), "{v}");
    assert_eq!(ctx.emu.counters().parts_stored, 2);
}

#[tokio::test]
async fn a_restarted_emulator_still_knows_the_parts_of_each_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = box_emulator::Config {
        data_dir: Some(dir.path().to_path_buf()),
        ..small_config()
    };
    let v1 = test_data(SIZE as u64, 12);
    let file_id = {
        let ctx = Ctx::new(config.clone()).await;
        let id = upload_with_sha512(&ctx, "kept.bin", &v1).await;
        ctx.emu.shutdown().await;
        id
    };
    let ctx = Ctx::new(config).await;
    let v2 = changed(&v1, &[2]);
    let vs = version_session(&ctx, &file_id, SIZE).await;
    let (list, answer) = plan_and_upload(&ctx, &vs, &v2).await;
    assert_eq!(answer["hits"].as_array().map(Vec::len), Some(4));
    assert_eq!(answer["misses"].as_array().map(Vec::len), Some(1));
    expect_status(ctx.commit(&vs, &list, &v2).await, 201).await;
    assert_stored(&ctx.emu, &file_id, &v2).await;
    ctx.emu.shutdown().await;
}
