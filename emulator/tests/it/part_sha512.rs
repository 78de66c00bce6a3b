//! The SHA-512s of a version's parts (what a plan matches by): computed in the background as
//! soon as the commit stores the version, for the parts sent without one; kept on the part
//! records; a plan finds them ready, or waits for or computes only what it still needs, and
//! nothing is computed twice.

use crate::common::*;
use crate::plan::{
    changed, plan, plan_entries, put_part_with, sha512_hex, upload_with_sha512, version_session,
    PART, SIZE,
};
use serde_json::{json, Value};
use std::time::Duration;

/// The parts file `file_id`'s current version keeps, as saved in its record.
fn saved_parts(ctx: &Ctx, file_id: &str) -> Vec<Value> {
    let path = ctx
        .emu
        .data_dir()
        .join("files")
        .join(format!("{file_id}.json"));
    let v: Value =
        serde_json::from_slice(&std::fs::read(path).expect("file record")).expect("JSON");
    let versions = v["versions"].as_array().expect("versions");
    versions.last().expect("a version")["parts"]
        .as_array()
        .expect("parts")
        .clone()
}

#[tokio::test]
async fn a_version_s_part_sha512s_are_computed_in_the_background_and_kept() {
    let ctx = Ctx::small().await;
    let v1 = test_data(SIZE as u64, 13);
    // Every part sent with `sha=` alone, as Box's SDKs send them.
    let file_id = ctx.chunked_upload("0", "kept512.bin", &v1).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    // None of the five had a SHA-512: the background computes each, once.
    let c = ctx
        .emu
        .wait_for_counters(Duration::from_secs(10), |c| {
            c.part_sha512s_hashed_ahead >= 5
        })
        .await
        .expect("the background hashes the version's parts");
    assert_eq!(c.part_sha512s_hashed_ahead, 5, "{c:?}");
    // Kept on the version's part records (saved).
    let parts = saved_parts(&ctx, &file_id);
    assert_eq!(parts.len(), 5);
    for (i, p) in parts.iter().enumerate() {
        let want = sha512_hex(&v1[i * PART..((i + 1) * PART).min(SIZE)]);
        assert_eq!(p["sha512"].as_str(), Some(want.as_str()), "part {i}");
    }
    // A plan finds them ready: it waits for nothing and hashes nothing.
    let vs = version_session(&ctx, &file_id, SIZE).await;
    let answer = expect_status(
        plan(&ctx, &vs, json!({"parts": plan_entries(&v1)})).await,
        200,
    )
    .await;
    assert_eq!(answer["hits"].as_array().map(Vec::len), Some(5));
    assert_eq!(answer["misses"], json!([]));
    let c = ctx.emu.counters();
    assert_eq!(c.plan_sha512s_ready, 5, "{c:?}");
    assert_eq!(c.plan_sha512s_awaited, 0, "{c:?}");
    assert_eq!(c.plan_sha512s_hashed, 0, "{c:?}");
    assert_eq!(c.plan_sha512_wait_us, 0, "{c:?}");
    assert_eq!(c.part_sha512s_hashed_ahead, 5, "{c:?}");
}

#[tokio::test]
async fn a_plan_right_after_the_commit_hashes_nothing_twice() {
    // 32 parts of 256 KiB, planned (last part first) as soon as the commit answers, while the
    // background works through them from the first: whoever gets to a part first hashes it.
    let part = 256 * 1024;
    let parts = 32;
    let ctx = Ctx::new(config(part as u64)).await;
    let v1 = test_data((parts * part) as u64, 17);
    let file_id = ctx.chunked_upload("0", "race.bin", &v1).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let vs = version_session(&ctx, &file_id, v1.len()).await;
    let asked: Vec<Value> = v1
        .chunks(part)
        .enumerate()
        .rev()
        .map(|(i, c)| json!({"offset": i * part, "size": c.len(), "sha512": sha512_hex(c)}))
        .collect();
    let answer = expect_status(plan(&ctx, &vs, json!({"parts": asked})).await, 200).await;
    assert_eq!(answer["hits"].as_array().map(Vec::len), Some(parts));
    assert_eq!(answer["misses"], json!([]));
    let c = ctx.emu.counters();
    assert_eq!(
        c.plan_sha512s_ready + c.plan_sha512s_awaited + c.plan_sha512s_hashed,
        parts as u64,
        "{c:?}"
    );
    // Once every part is kept, each was hashed by one side, once.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !saved_parts(&ctx, &file_id)
        .iter()
        .all(|p| p["sha512"].is_string())
    {
        assert!(std::time::Instant::now() < deadline, "parts not all kept");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let again = expect_status(plan(&ctx, &vs, json!({"parts": asked})).await, 200).await;
    assert_eq!(again["hits"], answer["hits"]);
    let c2 = ctx.emu.counters();
    assert_eq!(c2.plan_sha512s_ready, c.plan_sha512s_ready + parts as u64);
    assert_eq!(
        c2.part_sha512s_hashed_ahead + c2.plan_sha512s_hashed,
        parts as u64,
        "{c2:?}"
    );
}

#[tokio::test]
async fn parts_whose_sha512_the_commit_knows_are_not_hashed_again() {
    let ctx = Ctx::small().await;
    let v1 = test_data(SIZE as u64, 19);
    // Sent with `sha-512=`: nothing to compute.
    let file_id = upload_with_sha512(&ctx, "known.bin", &v1).await;
    assert_eq!(ctx.emu.counters().part_sha512s_hashed_ahead, 0);
    // A version that reuses four parts (they keep their SHA-512s) and sends the changed one
    // with `sha=` alone: only that one is computed.
    let v2 = changed(&v1, &[2]);
    let vs = version_session(&ctx, &file_id, SIZE).await;
    let answer = expect_status(
        plan(&ctx, &vs, json!({"parts": plan_entries(&v2)})).await,
        200,
    )
    .await;
    assert_eq!(answer["misses"], json!([plan_entries(&v2)[2]]));
    let c = ctx.emu.counters();
    assert_eq!((c.plan_sha512s_ready, c.plan_sha512s_hashed), (5, 0));
    let chunk = &v2[2 * PART..3 * PART];
    let sent = expect_status(put_part_with(&ctx, &vs, &v2, 2, &digest(chunk)).await, 200).await
        ["part"]
        .clone();
    assert!(sent.get("sha512").is_none(), "{sent}");
    let mut list: Vec<Value> = answer["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| {
            json!({"part_id": h["part_id"], "offset": h["offset"], "size": h["size"],
                        "sha512": h["sha512"]})
        })
        .collect();
    list.push(sent);
    list.sort_by_key(|p| p["offset"].as_u64());
    // The hits with sha512, the part sent without: refused, as ever.
    let v = expect_error(ctx.commit(&vs, &list, &v2).await, 400, "bad_request").await;
    assert!(
        v["message"].as_str().unwrap_or("").contains("sha512"),
        "{v}"
    );
    for p in &mut list {
        p.as_object_mut().map(|o| o.remove("sha512"));
    }
    expect_status(ctx.commit(&vs, &list, &v2).await, 201).await;
    assert_stored(&ctx.emu, &file_id, &v2).await;
    let c = ctx
        .emu
        .wait_for_counters(Duration::from_secs(10), |c| {
            c.part_sha512s_hashed_ahead >= 1
        })
        .await
        .expect("the part sent without a SHA-512 is hashed");
    assert_eq!(c.part_sha512s_hashed_ahead, 1, "{c:?}");
    // The next version's plan: hits and misses exact, every SHA-512 ready.
    let v3 = changed(&v2, &[4]);
    let vs = version_session(&ctx, &file_id, SIZE).await;
    let answer = expect_status(
        plan(&ctx, &vs, json!({"parts": plan_entries(&v3)})).await,
        200,
    )
    .await;
    let offsets = |key: &str| -> Vec<u64> {
        answer[key]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|p| p["offset"].as_u64())
            .collect()
    };
    assert_eq!(offsets("hits"), [0, 1024, 2048, 3072]);
    assert_eq!(offsets("misses"), [4096]);
    let c = ctx.emu.counters();
    assert_eq!((c.plan_sha512s_ready, c.plan_sha512s_hashed), (10, 0));
    assert_eq!(c.part_sha512s_hashed_ahead, 1, "{c:?}");
}
