//! The whole-file SHA-1 hashed ahead of the commit as parts arrive: parts uploaded out of
//! order and in parallel commit with the right digest and are refused with a wrong one as
//! ever, the commit hashes only what the background did not, every byte is hashed once, and a
//! restarted emulator (whose hash ahead starts over) still commits exactly the file.

use crate::common::*;
use serde_json::Value;
use std::time::Duration;

/// Uploads the parts of `data` with index in `indexes`, all at once (each its own request);
/// returns the part objects.
async fn put_parts_at_once(ctx: &Ctx, s: &Value, data: &[u8], indexes: &[usize]) -> Vec<Value> {
    let part = s["part_size"].as_u64().expect("part_size") as usize;
    let sends = indexes.iter().map(|&i| {
        let chunk = &data[i * part..((i + 1) * part).min(data.len())];
        async move {
            let v = expect_status(
                ctx.put_part(s, (i * part) as u64, chunk, data.len() as u64)
                    .await,
                200,
            )
            .await;
            v["part"].clone()
        }
    });
    futures_util::future::join_all(sends).await
}

/// The part indexes of a file of `n` parts in a scrambled order (last first, then the rest
/// from both ends in turn).
fn scrambled(n: usize) -> Vec<usize> {
    let mut order = vec![n - 1];
    let (mut lo, mut hi) = (0, n - 1);
    while lo < hi {
        if hi - 1 > lo {
            order.push(hi - 1);
        }
        order.push(lo);
        lo += 1;
        hi -= 1;
    }
    order.retain(|i| *i < n);
    order.sort_by_key(|i| (i % 3, std::cmp::Reverse(*i)));
    order
}

/// Waits until the background has hashed `bytes` bytes in all.
async fn wait_hashed_ahead(ctx: &Ctx, bytes: u64) -> box_emulator::Counters {
    ctx.emu
        .wait_for_counters(Duration::from_secs(10), |c| c.bytes_hashed_ahead >= bytes)
        .await
        .unwrap_or_else(|c| panic!("the hash ahead did not reach {bytes} bytes: {c:?}"))
}

/// A wrong digest is refused as ever (the message gives the file's real SHA-1), then the
/// right one commits exactly `data`; returns the file id.
async fn commit_wrong_then_right(ctx: &Ctx, s: &Value, parts: &[Value], data: &[u8]) -> String {
    expect_wrong_digest_refused(ctx, s, parts, data).await;
    let f = expect_status(ctx.commit(s, parts, data).await, 201).await;
    let file = &f["entries"][0];
    assert_eq!(file["sha1"], sha1_hex(data));
    assert_eq!(file["size"], data.len() as u64);
    let id = file["id"].as_str().expect("id").to_string();
    let down = ctx.download(&id, None).await;
    assert_eq!(sha1_hex(&down), sha1_hex(data));
    assert!(down == data, "the downloaded bytes differ");
    assert_stored(&ctx.emu, &id, data).await;
    id
}

async fn parts_out_of_order_commit_exactly_the_file(part: usize) {
    let ctx = Ctx::new(config(part as u64)).await;
    let n = 23;
    let data = test_data((n * part - part / 3) as u64, 51);
    let s = ctx
        .new_session("0", "scrambled.bin", data.len() as u64)
        .await;
    let order = scrambled(n);
    assert_eq!(order.len(), n);
    // In three waves, each all at once: the hash ahead waits for the gaps to fill.
    let mut parts = Vec::new();
    for wave in order.chunks(8) {
        parts.extend(put_parts_at_once(&ctx, &s, &data, wave).await);
    }
    parts.sort_by_key(|p| p["offset"].as_u64());
    // Every byte is hashed once, ahead of the commit, which then hashes nothing itself.
    let c = wait_hashed_ahead(&ctx, data.len() as u64).await;
    assert_eq!(c.bytes_hashed_ahead, data.len() as u64);
    commit_wrong_then_right(&ctx, &s, &parts, &data).await;
    let c = ctx.emu.counters();
    assert_eq!(c.commit_bytes_hashed, 0, "{c:?}");
    assert_eq!(c.bytes_hashed_ahead, data.len() as u64);
}

#[tokio::test]
async fn parts_uploaded_out_of_order_and_at_once_commit_exactly_the_file() {
    // 1 KiB parts: each ends on a SHA-1 block.
    parts_out_of_order_commit_exactly_the_file(1024).await;
}

#[tokio::test]
async fn parts_uploaded_out_of_order_commit_exactly_the_file_at_an_odd_part_size() {
    // 1000-byte parts: most end inside a SHA-1 block.
    parts_out_of_order_commit_exactly_the_file(1000).await;
}

#[tokio::test]
async fn the_commit_hashes_only_what_was_not_hashed_ahead() {
    let part = 1024;
    let ctx = Ctx::new(config(part as u64)).await;
    let data = test_data(10 * part as u64, 52);
    let s = ctx.new_session("0", "gap.bin", data.len() as u64).await;
    // Parts 0-3 and 5-9: the hash ahead stops at the gap.
    let mut parts = put_parts_at_once(&ctx, &s, &data, &[0, 1, 2, 3]).await;
    parts.extend(put_parts_at_once(&ctx, &s, &data, &[9, 8, 7, 6, 5]).await);
    wait_hashed_ahead(&ctx, 4 * part as u64).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(ctx.emu.counters().bytes_hashed_ahead, 4 * part as u64);
    // A commit before part 4 arrived is refused and changes nothing.
    parts.sort_by_key(|p| p["offset"].as_u64());
    expect_error(ctx.commit(&s, &parts, &data).await, 400, "parts_mismatch").await;
    // An upload over a stored (and hashed) part is refused before its body is read.
    let other = vec![0x5A; part];
    expect_error(
        ctx.put_part(&s, 2 * part as u64, &other, data.len() as u64)
            .await,
        416,
        "range_overlaps_existing_part",
    )
    .await;
    parts.extend(put_parts_at_once(&ctx, &s, &data, &[4]).await);
    parts.sort_by_key(|p| p["offset"].as_u64());
    wait_hashed_ahead(&ctx, data.len() as u64).await;
    commit_wrong_then_right(&ctx, &s, &parts, &data).await;
    let c = ctx.emu.counters();
    assert_eq!(c.commit_bytes_hashed, 0, "{c:?}");
    assert_eq!(c.bytes_hashed_ahead, data.len() as u64);
}

#[tokio::test]
async fn an_aborted_or_expired_session_with_a_gap_hashes_nothing() {
    let part = 1024;
    let ctx = Ctx::new(config(part as u64)).await;
    let data = test_data(6 * part as u64, 53);
    for expire in [false, true] {
        ctx.emu.reset_counters();
        let s = ctx.new_session("0", "stopped.bin", data.len() as u64).await;
        let sid = s["id"].as_str().expect("id");
        put_parts_at_once(&ctx, &s, &data, &[1, 2, 3, 4, 5]).await;
        if expire {
            assert!(ctx.emu.expire_session(sid));
        } else {
            expect_status(
                ctx.req(
                    reqwest::Method::DELETE,
                    &ctx.upload(&format!("/files/upload_sessions/{sid}")),
                )
                .send()
                .await
                .expect("send"),
                204,
            )
            .await;
        }
        // Part 0 can no longer arrive, so nothing is ever hashed.
        let _ = ctx.put_part(&s, 0, &data[..part], data.len() as u64).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            ctx.emu.counters().bytes_hashed_ahead,
            0,
            "expired: {expire}"
        );
    }
}

/// Session `s` as a restarted emulator answers it (its endpoints name the new port).
async fn reopened(ctx: &Ctx, s: &Value) -> Value {
    let sid = s["id"].as_str().expect("id");
    expect_status(
        ctx.get_json(&ctx.upload(&format!("/files/upload_sessions/{sid}")))
            .await,
        200,
    )
    .await
}

#[tokio::test]
async fn a_restarted_emulator_commits_exactly_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let part = 1024;
    let config = box_emulator::Config {
        data_dir: Some(dir.path().to_path_buf()),
        ..config(part as u64)
    };
    let data = test_data(12 * part as u64 + 100, 54);
    // Before the restart: parts 0-6 and 9-12, all hashed ahead up to the gap.
    let (s, mut parts) = {
        let ctx = Ctx::new(config.clone()).await;
        let s = ctx
            .new_session("0", "restarted.bin", data.len() as u64)
            .await;
        let mut parts = put_parts_at_once(&ctx, &s, &data, &[6, 5, 4, 3, 2, 1, 0]).await;
        parts.extend(put_parts_at_once(&ctx, &s, &data, &[12, 11, 10, 9]).await);
        wait_hashed_ahead(&ctx, 7 * part as u64).await;
        ctx.emu.shutdown().await;
        (s, parts)
    };
    // After it: the hash ahead starts over from the file's start once a part arrives.
    let ctx = Ctx::new(config).await;
    let s = reopened(&ctx, &s).await;
    parts.extend(put_parts_at_once(&ctx, &s, &data, &[8, 7]).await);
    parts.sort_by_key(|p| p["offset"].as_u64());
    let c = wait_hashed_ahead(&ctx, data.len() as u64).await;
    assert_eq!(c.bytes_hashed_ahead, data.len() as u64);
    commit_wrong_then_right(&ctx, &s, &parts, &data).await;
    assert_eq!(ctx.emu.counters().commit_bytes_hashed, 0);
    ctx.emu.shutdown().await;
}

#[tokio::test]
async fn a_restarted_emulator_with_every_part_stored_commits_exactly_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let part = 1000;
    let config = box_emulator::Config {
        data_dir: Some(dir.path().to_path_buf()),
        ..config(part as u64)
    };
    let data = test_data(9 * part as u64 + 10, 55);
    let (s, mut parts) = {
        let ctx = Ctx::new(config.clone()).await;
        let s = ctx
            .new_session("0", "all-there.bin", data.len() as u64)
            .await;
        let order: Vec<usize> = (0..10).rev().collect();
        let parts = put_parts_at_once(&ctx, &s, &data, &order).await;
        wait_hashed_ahead(&ctx, data.len() as u64).await;
        ctx.emu.shutdown().await;
        (s, parts)
    };
    // No part arrives after the restart: the first commit hashes the whole file itself;
    // the hash ahead, set going when that commit failed, and the second commit share the
    // second pass, each byte once.
    let ctx = Ctx::new(config).await;
    let s = reopened(&ctx, &s).await;
    parts.sort_by_key(|p| p["offset"].as_u64());
    commit_wrong_then_right(&ctx, &s, &parts, &data).await;
    let c = ctx.emu.counters();
    assert_eq!(
        c.commit_bytes_hashed + c.bytes_hashed_ahead,
        2 * data.len() as u64,
        "{c:?}"
    );
    ctx.emu.shutdown().await;
}

#[tokio::test]
async fn a_commit_right_after_the_last_part_takes_the_hash_over_where_it_is() {
    // Parts large enough that the commit usually finds the hash ahead inside a part.
    let part = 2 << 20;
    let ctx = Ctx::new(config(part as u64)).await;
    let data = test_data(8 * part as u64 + 4321, 56);
    let s = ctx.new_session("0", "at-once.bin", data.len() as u64).await;
    let order: Vec<usize> = (0..9).rev().collect();
    let mut parts = put_parts_at_once(&ctx, &s, &data, &order).await;
    parts.sort_by_key(|p| p["offset"].as_u64());
    let f = expect_status(ctx.commit(&s, &parts, &data).await, 201).await;
    assert_eq!(f["entries"][0]["sha1"], sha1_hex(&data));
    let id = f["entries"][0]["id"].as_str().expect("id");
    assert_stored(&ctx.emu, id, &data).await;
    // Wherever the commit took over, each byte was hashed once, by one side or the other.
    let c = ctx.emu.counters();
    assert_eq!(
        c.bytes_hashed_ahead + c.commit_bytes_hashed,
        data.len() as u64,
        "{c:?}"
    );
}
