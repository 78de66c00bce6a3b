//! Versions committed with reused parts: the commit copies the reused parts in from the
//! version before while it hashes the file, and starts the hash after the file's leading
//! reused parts, from the SHA-1 state the version before recorded there, or where the hash
//! ahead of the commit got over the parts sent and the plan's hits (a hit the client sent after
//! all is hashed again). Each version's bytes and SHA-1 are checked, for changes at the start,
//! in the middle, at the end and nowhere, at a part size that is a whole number of SHA-1
//! blocks and at one that is not.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};

/// Bytes of every test file: four whole parts and a shorter last one at either part size.
fn size(part: usize) -> usize {
    4 * part + part / 2
}

fn sha512_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA512, data).as_ref())
}

/// `data` with every byte of parts `parts` changed in place.
fn changed(data: &[u8], part: usize, parts: &[usize]) -> Vec<u8> {
    let mut out = data.to_vec();
    for &p in parts {
        let end = ((p + 1) * part).min(out.len());
        for b in &mut out[p * part..end] {
            *b ^= 0xA5;
        }
    }
    out
}

/// A version session of `file_id` for `data`, its plan for every part, the misses uploaded
/// (with `sha=`, as Box's SDKs do) and the commit list: hits by `part_id`, uploads as answered.
async fn version_with_reuse(ctx: &Ctx, file_id: &str, data: &[u8]) -> (Value, Vec<Value>, usize) {
    let s = expect_status(
        ctx.req(
            Method::POST,
            &ctx.upload(&format!("/files/{file_id}/upload_sessions")),
        )
        .json(&json!({"file_size": data.len()}))
        .send()
        .await
        .expect("send"),
        201,
    )
    .await;
    let part = s["part_size"].as_u64().expect("part_size") as usize;
    let asked: Vec<Value> = data
        .chunks(part)
        .enumerate()
        .map(|(i, c)| json!({"offset": i * part, "size": c.len(), "sha512": sha512_hex(c)}))
        .collect();
    let answer = expect_status(
        ctx.req(
            Method::POST,
            s["session_endpoints"]["plan"].as_str().expect("plan url"),
        )
        .json(&json!({"parts": asked}))
        .send()
        .await
        .expect("send"),
        200,
    )
    .await;
    let mut list: Vec<Value> = answer["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| json!({"part_id": h["part_id"], "offset": h["offset"], "size": h["size"]}))
        .collect();
    let misses = answer["misses"].as_array().expect("misses");
    for m in misses {
        let offset = m["offset"].as_u64().expect("offset") as usize;
        let chunk = &data[offset..(offset + part).min(data.len())];
        let v = expect_status(
            ctx.put_part(&s, offset as u64, chunk, data.len() as u64)
                .await,
            200,
        )
        .await;
        list.push(v["part"].clone());
    }
    list.sort_by_key(|p| p["offset"].as_u64());
    (s, list, misses.len())
}

async fn a_chain_of_versions_holds_exactly_its_bytes(part: usize) {
    let ctx = Ctx::new(config(part as u64)).await;
    let v1 = test_data(size(part) as u64, 31);
    let file_id = ctx.chunked_upload("0", "chain.bin", &v1).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut current = v1.clone();
    let mut versions = vec![v1];
    // The second part (the first is reused and leads); the fourth (the three before are
    // reused, the second of them uploaded in the version before and the third reused after
    // it); the first (no part leads); none (every part reused); the short last one; two
    // apart (reused parts between and after uploads).
    for parts in [vec![1], vec![3], vec![0], vec![], vec![4], vec![1, 3]] {
        let next = changed(&current, part, &parts);
        let (s, list, misses) = version_with_reuse(&ctx, &file_id, &next).await;
        assert_eq!(misses, parts.len(), "changed parts {parts:?}");
        // A wrong digest is refused as ever; the message gives the file's real SHA-1.
        let v = expect_error(
            ctx.commit(&s, &list, b"not the file").await,
            400,
            "digest_mismatch",
        )
        .await;
        let actual = format!("Actual: {} ", base64(&sha1(&next)));
        assert!(
            v["message"].as_str().is_some_and(|m| m.contains(&actual)),
            "changed parts {parts:?}: {v}"
        );
        let f = expect_status(ctx.commit(&s, &list, &next).await, 201).await;
        assert_eq!(
            f["entries"][0]["sha1"],
            sha1_hex(&next),
            "changed parts {parts:?}"
        );
        let down = ctx.download(&file_id, None).await;
        assert_eq!(sha1_hex(&down), sha1_hex(&next), "changed parts {parts:?}");
        assert!(
            down == next,
            "changed parts {parts:?}: the downloaded bytes differ"
        );
        assert_stored(&ctx.emu, &file_id, &next).await;
        versions.push(next.clone());
        current = next;
    }
    // The versions the parts were copied from are as they were.
    let listed = expect_status(
        ctx.get_json(&ctx.api(&format!("/files/{file_id}/versions")))
            .await,
        200,
    )
    .await;
    let older = listed["entries"].as_array().expect("entries");
    assert_eq!(older.len(), versions.len() - 1);
    for entry in older {
        let id = entry["id"].as_str().expect("version id");
        let got = ctx.download(&file_id, Some(id)).await;
        assert!(
            versions[..versions.len() - 1].contains(&got),
            "version {id} is one of the versions uploaded"
        );
        assert_eq!(entry["sha1"], sha1_hex(&got));
    }
    let c = ctx.emu.counters();
    assert_eq!(c.parts_reused, 5 * 6 - 6);
}

#[tokio::test]
async fn versions_made_of_reused_parts_hold_exactly_their_bytes() {
    // 1 KiB parts: every part ends on a SHA-1 block (64 bytes).
    a_chain_of_versions_holds_exactly_its_bytes(1024).await;
}

#[tokio::test]
async fn versions_made_of_reused_parts_hold_exactly_their_bytes_at_an_odd_part_size() {
    // 1056-byte parts (16.5 SHA-1 blocks): only every second part ends on a block, so a
    // hash resumes after an earlier leading part than the last, or from the start.
    a_chain_of_versions_holds_exactly_its_bytes(1056).await;
}

#[tokio::test]
async fn a_hit_copied_at_plan_time_and_overwritten_since_is_copied_again_at_commit() {
    let part = 1024;
    let ctx = Ctx::new(config(part as u64)).await;
    let v1 = test_data(size(part) as u64, 41);
    let file_id = ctx.chunked_upload("0", "prefilled.bin", &v1).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let v2 = changed(&v1, part, &[1]);
    // The plan copies its four hits into the session's file in the background.
    let (s, list, misses) = version_with_reuse(&ctx, &file_id, &v2).await;
    assert_eq!(misses, 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ctx.emu.counters().parts_prefilled < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the plan's copies did not end: {:?}",
            ctx.emu.counters()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // An upload of hit 2 with other bytes and a wrong digest writes over its copy, and is
    // refused: the part stays a hit, and its bytes must come from version 1 again.
    let other = vec![0xEE; part];
    let resp = ctx
        .req(
            Method::PUT,
            s["session_endpoints"]["upload_part"].as_str().expect("url"),
        )
        .header("digest", digest(&v2[2 * part..3 * part]))
        .header(
            "content-range",
            content_range(2 * part as u64, part as u64, v2.len() as u64),
        )
        .body(other)
        .send()
        .await
        .expect("send");
    expect_error(resp, 412, "precondition_failed").await;
    let f = expect_status(ctx.commit(&s, &list, &v2).await, 201).await;
    assert_eq!(f["entries"][0]["sha1"], sha1_hex(&v2));
    assert!(ctx.download(&file_id, None).await == v2);
    assert_stored(&ctx.emu, &file_id, &v2).await;
    assert_eq!(ctx.emu.counters().parts_reused, 4);
}

/// Waits until the session's hash ahead has hashed `bytes` more than `before`.
async fn wait_hashed_ahead(ctx: &Ctx, before: u64, bytes: u64) {
    ctx.emu
        .wait_for_counters(std::time::Duration::from_secs(10), |c| {
            c.bytes_hashed_ahead >= before + bytes
        })
        .await
        .expect("the hash ahead covers the file");
}

#[tokio::test]
async fn hits_before_and_after_a_sent_part_are_hashed_ahead_of_the_commit() {
    // 1 KiB parts: hits 0 and 1 are resumed over, neither read.
    hits_around_a_sent_part_are_hashed_ahead(1024, 0).await;
}

#[tokio::test]
async fn hits_before_and_after_a_sent_part_are_hashed_ahead_at_an_odd_part_size() {
    // 1056-byte parts: version 1 has no state after part 0 (16.5 SHA-1 blocks), so hit 0 is
    // read, and hit 1 resumed over.
    hits_around_a_sent_part_are_hashed_ahead(1056, 1056).await;
}

/// A version of `size(part)` bytes whose part 2 changes: hits 0 and 1 lead (resumed over from
/// version 1's states; `leading_read` bytes of them read where it has none), part 2 is hashed
/// once stored, hits 3 and 4 from version 1's content; the commit hashes nothing.
async fn hits_around_a_sent_part_are_hashed_ahead(part: usize, leading_read: u64) {
    let ctx = Ctx::new(config(part as u64)).await;
    let v1 = test_data(size(part) as u64, 43);
    let file_id = ctx.chunked_upload("0", "ahead.bin", &v1).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let before = ctx.emu.counters();
    let v2 = changed(&v1, part, &[2]);
    let (s, list, misses) = version_with_reuse(&ctx, &file_id, &v2).await;
    assert_eq!(misses, 1);
    let ahead = (size(part) - 2 * part) as u64 + leading_read;
    wait_hashed_ahead(&ctx, before.bytes_hashed_ahead, ahead).await;
    let f = expect_status(ctx.commit(&s, &list, &v2).await, 201).await;
    assert_eq!(f["entries"][0]["sha1"], sha1_hex(&v2));
    let c = ctx.emu.counters();
    assert_eq!(c.commit_bytes_hashed, before.commit_bytes_hashed, "{c:?}");
    assert_eq!(c.bytes_hashed_ahead, before.bytes_hashed_ahead + ahead);
    assert!(ctx.download(&file_id, None).await == v2);
    assert_stored(&ctx.emu, &file_id, &v2).await;
    // The states recorded after each part are the new file's: a version after it that changes
    // its last part resumes from them and stores exactly its bytes.
    let v3 = changed(&v2, part, &[4]);
    let (s, list, _) = version_with_reuse(&ctx, &file_id, &v3).await;
    let f = expect_status(ctx.commit(&s, &list, &v3).await, 201).await;
    assert_eq!(f["entries"][0]["sha1"], sha1_hex(&v3));
    assert_stored(&ctx.emu, &file_id, &v3).await;
}

#[tokio::test]
async fn a_hit_hashed_ahead_and_then_sent_with_other_bytes_is_hashed_again_at_commit() {
    let part = 1024;
    let ctx = Ctx::new(config(part as u64)).await;
    let v1 = test_data(size(part) as u64, 47);
    let file_id = ctx.chunked_upload("0", "resent.bin", &v1).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let before = ctx.emu.counters();
    let v2 = changed(&v1, part, &[1]);
    let (s, mut list, misses) = version_with_reuse(&ctx, &file_id, &v2).await;
    assert_eq!(misses, 1);
    // Hit 0 resumed over, part 1 and hits 2, 3 and 4 hashed: the whole file is covered.
    let after_1 = (size(part) - part) as u64;
    wait_hashed_ahead(&ctx, before.bytes_hashed_ahead, after_1).await;
    // The client sends hit 3 after all, with other bytes, and lists the part it sent: the
    // hash ahead read version 1's bytes there, so the commit goes on from after part 2.
    let v3 = changed(&v2, part, &[3]);
    let chunk = &v3[3 * part..4 * part];
    let sent = expect_status(
        ctx.put_part(&s, 3 * part as u64, chunk, v3.len() as u64)
            .await,
        200,
    )
    .await;
    list[3] = sent["part"].clone();
    // Version 2's digest is not this file's.
    expect_error(ctx.commit(&s, &list, &v2).await, 400, "digest_mismatch").await;
    let c = ctx.emu.counters();
    let from_3 = (size(part) - 3 * part) as u64;
    assert_eq!(c.commit_bytes_hashed, before.commit_bytes_hashed + from_3);
    let f = expect_status(ctx.commit(&s, &list, &v3).await, 201).await;
    assert_eq!(f["entries"][0]["sha1"], sha1_hex(&v3));
    assert!(ctx.download(&file_id, None).await == v3);
    assert_stored(&ctx.emu, &file_id, &v3).await;
}
