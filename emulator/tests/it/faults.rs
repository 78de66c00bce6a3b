//! Fault injection, counters, and their HTTP endpoints.

use crate::common::*;
use box_emulator::{Config, FaultConfig, RateLimit};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn faulty(f: FaultConfig) -> Config {
    Config {
        faults: f,
        ..small_config()
    }
}

async fn list_parts(ctx: &Ctx, s: &Value) -> Value {
    body_json(
        ctx.get_json(s["session_endpoints"]["list_parts"].as_str().unwrap())
            .await,
    )
    .await
}

#[tokio::test]
async fn part_500_before_store_stores_nothing() {
    let ctx = Ctx::new(faulty(FaultConfig {
        part_500_before_store: 1.0,
        ..Default::default()
    }))
    .await;
    let d = test_data(2048, 1);
    let s = ctx.new_session("0", "f", 2048).await;
    expect_error(
        ctx.put_part(&s, 0, &d[..1024], 2048).await,
        500,
        "internal_server_error",
    )
    .await;
    assert_eq!(list_parts(&ctx, &s).await["total_count"], 0);
    // Turn it off: the retry succeeds.
    ctx.emu.set_faults(FaultConfig::default());
    expect_status(ctx.put_part(&s, 0, &d[..1024], 2048).await, 200).await;
    let c = ctx.emu.counters();
    assert_eq!(c.injected.part_500_before_store, 1);
    assert_eq!(c.parts_stored, 1);
    assert_eq!(c.errors_for("internal_server_error"), 1);
}

#[tokio::test]
async fn part_500_after_store_keeps_the_part() {
    let ctx = Ctx::new(faulty(FaultConfig {
        part_500_after_store: 1.0,
        ..Default::default()
    }))
    .await;
    let d = test_data(2048, 2);
    let s = ctx.new_session("0", "f", 2048).await;
    expect_error(
        ctx.put_part(&s, 0, &d[..1024], 2048).await,
        500,
        "internal_server_error",
    )
    .await;
    let list = list_parts(&ctx, &s).await;
    assert_eq!(list["total_count"], 1);
    // The client's retry learns the part is there, with the same sha1.
    let v = expect_error(
        ctx.put_part(&s, 0, &d[..1024], 2048).await,
        416,
        "range_overlaps_existing_part",
    )
    .await;
    assert_eq!(
        v["context_info"]["conflicting_part"]["sha1"],
        sha1_hex(&d[..1024])
    );
    assert_eq!(ctx.emu.counters().injected.part_500_after_store, 1);
}

#[tokio::test]
async fn dropped_and_reset_connections() {
    let ctx = Ctx::new(faulty(FaultConfig {
        part_drop_after_store: 1.0,
        ..Default::default()
    }))
    .await;
    let d = test_data(4096, 3);
    let s = ctx.new_session("0", "f", 4096).await;
    let url = s["session_endpoints"]["upload_part"].as_str().unwrap();
    let put = |i: usize| {
        ctx.req(Method::PUT, url)
            .header("digest", digest(&d[i * 1024..(i + 1) * 1024]))
            .header(
                "content-range",
                format!("bytes {}-{}/4096", i * 1024, i * 1024 + 1023),
            )
            .body(d[i * 1024..(i + 1) * 1024].to_vec())
            .send()
    };
    assert!(put(0).await.is_err(), "connection dropped after storing");
    assert_eq!(list_parts(&ctx, &s).await["total_count"], 1);

    ctx.emu.set_faults(FaultConfig {
        part_reset_mid_body: 1.0,
        ..Default::default()
    });
    assert!(put(1).await.is_err(), "connection reset mid-body");
    assert_eq!(list_parts(&ctx, &s).await["total_count"], 1);
    let c = ctx.emu.counters();
    assert_eq!(c.injected.part_drop_after_store, 1);
    assert_eq!(c.injected.part_reset_mid_body, 1);
    assert_eq!(c.parts_stored, 1);
    // The server is fine afterwards.
    ctx.emu.set_faults(FaultConfig::default());
    expect_status(put(1).await.unwrap(), 200).await;
}

#[tokio::test]
async fn commit_202_then_success() {
    let ctx = Ctx::new(faulty(FaultConfig {
        commit_202: 2,
        commit_retry_after_secs: 0,
        ..Default::default()
    }))
    .await;
    let d = test_data(2000, 4);
    let s = ctx.new_session("0", "f", 2000).await;
    let parts = ctx.put_all_parts(&s, &d).await;
    for _ in 0..2 {
        let resp = ctx.commit(&s, &parts, &d).await;
        assert_eq!(resp.status(), 202);
        assert_eq!(resp.headers()["retry-after"], "0");
    }
    expect_status(ctx.commit(&s, &parts, &d).await, 201).await;
    assert_eq!(ctx.emu.counters().injected.commit_202, 2);
}

#[tokio::test]
async fn commit_parts_mismatch_once_after_last_part() {
    let ctx = Ctx::new(faulty(FaultConfig {
        commit_parts_mismatch_once: true,
        ..Default::default()
    }))
    .await;
    let d = test_data(2000, 5);
    let s = ctx.new_session("0", "f", 2000).await;
    let parts = ctx.put_all_parts(&s, &d).await;
    expect_error(ctx.commit(&s, &parts, &d).await, 400, "parts_mismatch").await;
    expect_status(ctx.commit(&s, &parts, &d).await, 201).await;
    assert_eq!(ctx.emu.counters().injected.commit_parts_mismatch, 1);
}

#[tokio::test]
async fn rate_limit_and_latency() {
    let ctx = Ctx::new(faulty(FaultConfig {
        rate_limit: Some(RateLimit {
            max_requests: 3,
            window_ms: 60_000,
        }),
        ..Default::default()
    }))
    .await;
    for _ in 0..3 {
        expect_error(ctx.get_json(&ctx.api("/files/1")).await, 404, "not_found").await;
    }
    let resp = ctx.get_json(&ctx.api("/files/1")).await;
    let ra: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&ra), "{ra}");
    let v = expect_error(resp, 429, "rate_limit_exceeded").await;
    assert_eq!(
        v["message"],
        "Request rate limit exceeded, please try again later"
    );
    assert_eq!(ctx.emu.counters().injected.rate_limited, 1);

    ctx.emu.set_faults(FaultConfig {
        latency_ms: 150,
        ..Default::default()
    });
    let t = Instant::now();
    expect_error(ctx.get_json(&ctx.api("/files/1")).await, 404, "not_found").await;
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!(ctx.emu.counters().injected.delayed_requests, 1);
}

/// Which parts (index, attempt) fail with a 50% fault, uploading the same way.
async fn failures_with_seed(seed: u64) -> Vec<(usize, u32)> {
    let ctx = Ctx::new(Config {
        seed,
        faults: FaultConfig {
            part_500_before_store: 0.5,
            ..Default::default()
        },
        ..small_config()
    })
    .await;
    let d = test_data(16 * 1024, 6);
    let s = ctx.new_session("0", "f", d.len() as u64).await;
    let mut failed = Vec::new();
    for i in 0..16 {
        for attempt in 1..=20u32 {
            let chunk = &d[i * 1024..(i + 1) * 1024];
            let resp = ctx
                .put_part(&s, (i * 1024) as u64, chunk, d.len() as u64)
                .await;
            if resp.status() == 200 {
                break;
            }
            assert_eq!(resp.status(), 500);
            failed.push((i, attempt));
        }
    }
    failed
}

#[tokio::test]
async fn faults_are_reproducible_from_the_seed() {
    let a = failures_with_seed(42).await;
    let b = failures_with_seed(42).await;
    let c = failures_with_seed(43).await;
    assert_eq!(a, b);
    assert!(!a.is_empty());
    assert_ne!(a, c);
}

#[tokio::test]
async fn counters_and_faults_over_http() {
    let ctx = Ctx::small().await;
    ctx.put_file("0", "a", b"abc").await;
    let base = ctx.emu.base_url();
    // No auth needed.
    let c: Value = ctx
        .http
        .get(format!("{base}/_emulator/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c["files_created"], 1);
    assert_eq!(c["requests"]["upload_file"], 1);
    assert_eq!(c["responses"]["201"], 1);
    assert_eq!(c["injected"]["commit_202"], 0);

    let resp = ctx
        .http
        .put(format!("{base}/_emulator/faults"))
        .json(&json!({"commit_202": 1, "part_500_before_store": 0.25}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(ctx.emu.faults().commit_202, 1);
    assert_eq!(ctx.emu.faults().part_500_before_store, 0.25);
    let resp = ctx
        .http
        .put(format!("{base}/_emulator/faults"))
        .json(&json!({"part_500_before_store": 2.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = ctx
        .http
        .put(format!("{base}/_emulator/faults"))
        .json(&json!({"no_such_fault": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let f: Value = ctx
        .http
        .get(format!("{base}/_emulator/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(f["commit_202"], 1);

    let resp = ctx
        .http
        .post(format!("{base}/_emulator/counters/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(ctx.emu.counters().files_created, 0);
}
