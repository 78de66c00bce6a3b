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

async fn folder_items(ctx: &Ctx, folder: &str) -> Value {
    body_json(
        ctx.get_json(&ctx.api(&format!("/folders/{folder}/items")))
            .await,
    )
    .await
}

#[tokio::test]
async fn commit_drop_after_store_commits_and_gives_no_answer() {
    let ctx = Ctx::new(faulty(FaultConfig {
        commit_drop_after_store: 1.0,
        ..Default::default()
    }))
    .await;
    let d = test_data(2500, 11);
    let s = ctx.new_session("0", "dropped.bin", 2500).await;
    let parts = ctx.put_all_parts(&s, &d).await;
    let url = s["session_endpoints"]["commit"].as_str().unwrap();
    let sent = ctx
        .req(Method::POST, url)
        .header("digest", digest(&d))
        .json(&json!({ "parts": parts }))
        .send()
        .await;
    assert!(sent.is_err(), "the connection is dropped: {sent:?}");
    // The commit was applied: the file is there with the content, the session is gone.
    let items = folder_items(&ctx, "0").await;
    assert_eq!(items["total_count"], 1, "{items}");
    let id = items["entries"][0]["id"].as_str().unwrap().to_string();
    assert_stored(&ctx.emu, &id, &d).await;
    let c = ctx.emu.counters();
    assert_eq!(c.injected.commit_drop_after_store, 1);
    assert_eq!(c.sessions_committed, 1);
    assert_eq!(c.files_created, 1);
    assert!(ctx.emu.open_sessions().is_empty());
    // The retried commit finds the session gone: the client must look for the file.
    expect_error(ctx.commit(&s, &parts, &d).await, 404, "not_found").await;
    assert_eq!(ctx.emu.counters().sessions_committed, 1);
}

#[tokio::test]
async fn direct_500_after_store_keeps_the_file() {
    let ctx = Ctx::new(faulty(FaultConfig {
        direct_500_after_store: 1.0,
        ..Default::default()
    }))
    .await;
    let d = test_data(3000, 12);
    expect_error(
        ctx.direct_upload("0", "five-hundred.bin", &d).await,
        500,
        "internal_server_error",
    )
    .await;
    let items = folder_items(&ctx, "0").await;
    assert_eq!(items["total_count"], 1, "{items}");
    let id = items["entries"][0]["id"].as_str().unwrap().to_string();
    assert_stored(&ctx.emu, &id, &d).await;
    // The client's retry learns the file is there, with its own sha1.
    ctx.emu.set_faults(FaultConfig::default());
    let v = expect_error(
        ctx.direct_upload("0", "five-hundred.bin", &d).await,
        409,
        "item_name_in_use",
    )
    .await;
    assert_eq!(v["context_info"]["conflicts"]["sha1"], sha1_hex(&d));

    // A new version too.
    ctx.emu.set_faults(FaultConfig {
        direct_500_after_store: 1.0,
        ..Default::default()
    });
    let d2 = test_data(1000, 13);
    expect_error(
        ctx.upload_version(&id, json!({}), &d2, None).await,
        500,
        "internal_server_error",
    )
    .await;
    assert_stored(&ctx.emu, &id, &d2).await;
    let c = ctx.emu.counters();
    assert_eq!(c.injected.direct_500_after_store, 2);
    assert_eq!(c.files_created, 1);
    assert_eq!(c.file_versions_created, 1);
}

#[tokio::test]
async fn request_503_and_502_do_nothing() {
    let ctx = Ctx::new(faulty(FaultConfig {
        request_503: 1.0,
        retry_after_503_secs: 7,
        ..Default::default()
    }))
    .await;
    let resp = ctx.direct_upload("0", "a.txt", b"abc").await;
    assert_eq!(resp.headers()["retry-after"], "7");
    let v = expect_error(resp, 503, "unavailable").await;
    assert_eq!(v["status"], 503);
    let resp = ctx.create_session("0", "big", 5000).await;
    assert_eq!(resp.headers()["retry-after"], "7");
    expect_error(resp, 503, "unavailable").await;
    expect_error(ctx.get_json(&ctx.api("/files/1")).await, 503, "unavailable").await;
    // Unauthenticated requests still get their 401; the controls are not affected.
    let resp = ctx
        .http
        .get(ctx.api("/files/1"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);

    ctx.emu.set_faults(FaultConfig {
        request_502: 1.0,
        ..Default::default()
    });
    expect_error(
        ctx.direct_upload("0", "a.txt", b"abc").await,
        502,
        "bad_gateway",
    )
    .await;
    expect_error(ctx.get_json(&ctx.api("/files/1")).await, 502, "bad_gateway").await;

    let c = ctx.emu.counters();
    assert_eq!(c.injected.request_503, 3);
    assert_eq!(c.injected.request_502, 2);
    assert_eq!(c.errors_for("unavailable"), 3);
    assert_eq!(c.errors_for("bad_gateway"), 2);
    assert_eq!(c.files_created, 0);
    assert_eq!(c.sessions_created, 0);
    ctx.emu.set_faults(FaultConfig::default());
    ctx.put_file("0", "a.txt", b"abc").await;
}

#[tokio::test]
async fn write_503_after_store_keeps_the_write() {
    let ctx = Ctx::new(faulty(FaultConfig {
        write_503_after_store: 1.0,
        retry_after_503_secs: 2,
        ..Default::default()
    }))
    .await;
    let resp = ctx.direct_upload("0", "a.txt", b"abc").await;
    assert_eq!(resp.headers()["retry-after"], "2");
    expect_error(resp, 503, "unavailable").await;
    let d = test_data(2100, 14);
    let s = ctx.new_session("0", "b.bin", 2100).await;
    let parts = ctx.put_all_parts(&s, &d).await;
    expect_error(ctx.commit(&s, &parts, &d).await, 503, "unavailable").await;
    let items = folder_items(&ctx, "0").await;
    assert_eq!(items["total_count"], 2, "{items}");
    let c = ctx.emu.counters();
    assert_eq!(c.injected.write_503_after_store, 2);
    assert_eq!(c.files_created, 2);
    assert_eq!(c.sessions_committed, 1);
}

#[tokio::test]
async fn name_temporarily_reserved_and_operation_blocked() {
    let ctx = Ctx::new(faulty(FaultConfig {
        name_temporarily_reserved: 1.0,
        ..Default::default()
    }))
    .await;
    for resp in [
        ctx.direct_upload("0", "a.txt", b"abc").await,
        ctx.create_session("0", "big", 5000).await,
    ] {
        let v = expect_error(resp, 409, "name_temporarily_reserved").await;
        assert_eq!(v["status"], 409);
    }
    // Box's 409s for the same name are not drawn for a commit.
    ctx.emu.set_faults(FaultConfig::default());
    let f = ctx.put_file("0", "a.txt", b"abc").await;
    let d = test_data(2100, 15);
    let s = ctx.new_session("0", "b.bin", 2100).await;
    let parts = ctx.put_all_parts(&s, &d).await;
    ctx.emu.set_faults(FaultConfig {
        name_temporarily_reserved: 1.0,
        ..Default::default()
    });
    expect_error(
        ctx.upload_version(f["id"].as_str().unwrap(), json!({}), b"v2", None)
            .await,
        409,
        "name_temporarily_reserved",
    )
    .await;

    ctx.emu.set_faults(FaultConfig {
        operation_blocked: 1.0,
        ..Default::default()
    });
    for resp in [
        ctx.direct_upload("0", "c.txt", b"abc").await,
        ctx.create_session("0", "big", 5000).await,
        ctx.commit(&s, &parts, &d).await,
    ] {
        expect_error(resp, 409, "operation_blocked_temporary").await;
    }
    let c = ctx.emu.counters();
    assert_eq!(c.injected.name_temporarily_reserved, 3);
    assert_eq!(c.injected.operation_blocked, 3);
    assert_eq!(c.files_created, 1);
    assert_eq!(c.sessions_committed, 0);
    // Retried once the fault is gone, the commit goes through.
    ctx.emu.set_faults(FaultConfig::default());
    expect_status(ctx.commit(&s, &parts, &d).await, 201).await;
}

#[tokio::test]
async fn new_faults_over_http_and_reproducible() {
    let ctx = Ctx::small().await;
    let base = ctx.emu.base_url();
    let resp = ctx
        .http
        .put(format!("{base}/_emulator/faults"))
        .json(&json!({
            "commit_drop_after_store": 0.1,
            "direct_500_after_store": 0.2,
            "request_503": 0.5,
            "write_503_after_store": 0.3,
            "retry_after_503_secs": 4,
            "request_502": 0.05,
            "name_temporarily_reserved": 0.6,
            "operation_blocked": 0.7,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let f = ctx.emu.faults();
    assert_eq!(f.commit_drop_after_store, 0.1);
    assert_eq!(f.direct_500_after_store, 0.2);
    assert_eq!(f.request_503, 0.5);
    assert_eq!(f.write_503_after_store, 0.3);
    assert_eq!(f.retry_after_503_secs, 4);
    assert_eq!(f.request_502, 0.05);
    assert_eq!(f.name_temporarily_reserved, 0.6);
    assert_eq!(f.operation_blocked, 0.7);
    for bad in ["request_503", "operation_blocked"] {
        let resp = ctx
            .http
            .put(format!("{base}/_emulator/faults"))
            .json(&json!({ bad: 1.5 }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
    }

    // The same seed and requests meet the same 503s.
    async fn statuses(seed: u64) -> Vec<u16> {
        let ctx = Ctx::new(Config {
            seed,
            faults: FaultConfig {
                request_503: 0.5,
                ..Default::default()
            },
            ..small_config()
        })
        .await;
        let mut out = Vec::new();
        for _ in 0..32 {
            out.push(ctx.get_json(&ctx.api("/files/1")).await.status().as_u16());
        }
        out
    }
    let a = statuses(7).await;
    assert_eq!(a, statuses(7).await);
    assert!(a.contains(&503) && a.contains(&404), "{a:?}");
    assert_ne!(a, statuses(8).await);
}

/// The upload limit counts direct uploads (new files and versions) and session creations,
/// apart from the request limit; both answer Box's 429 with `retry-after`.
#[tokio::test]
async fn upload_rate_limit_is_counted_apart_from_requests() {
    let ctx = Ctx::new(faulty(FaultConfig {
        rate_limit_uploads: Some(RateLimit {
            max_requests: 3,
            window_ms: 60_000,
        }),
        ..Default::default()
    }))
    .await;
    // Listings, reads and folder creations do not count as uploads.
    for i in 0..5 {
        expect_status(ctx.get_json(&ctx.api("/folders/0/items")).await, 200).await;
        let r = ctx
            .req(Method::POST, &ctx.api("/folders"))
            .json(&json!({"name": format!("d{i}"), "parent": {"id": "0"}}))
            .send()
            .await
            .unwrap();
        expect_status(r, 201).await;
    }
    let f = ctx.put_file("0", "a", b"1").await;
    expect_status(
        ctx.upload_version(f["id"].as_str().unwrap(), json!({}), b"2", None)
            .await,
        200,
    )
    .await;
    let s = ctx.new_session("0", "big", 2048).await;
    // Parts and commits of a session already made do not count.
    let d = test_data(2048, 3);
    let parts = ctx.put_all_parts(&s, &d).await;
    expect_status(ctx.commit(&s, &parts, &d).await, 201).await;
    // The fourth upload of the window is refused, whatever its kind, before its body is used.
    let resp = ctx.direct_upload("0", "b", b"3").await;
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
    expect_error(
        ctx.create_session("0", "c", 2048).await,
        429,
        "rate_limit_exceeded",
    )
    .await;
    expect_error(
        ctx.upload_version(f["id"].as_str().unwrap(), json!({}), b"4", None)
            .await,
        429,
        "rate_limit_exceeded",
    )
    .await;
    // Other requests still go through.
    expect_status(ctx.get_json(&ctx.api("/folders/0/items")).await, 200).await;
    let c = ctx.emu.counters();
    assert_eq!(c.injected.rate_limited_uploads, 3);
    assert_eq!(c.injected.rate_limited_requests, 0);
    assert_eq!(c.injected.rate_limited, 3);
    assert_eq!(c.errors_for("rate_limit_exceeded"), 3);
    assert_eq!(c.files_created, 2);
    assert_eq!(c.file_versions_created, 1);
    assert_eq!(c.file_bytes_received, 2 + 2048);

    // Both limits at once (Box's 1000 requests and 240 uploads a minute, scaled down): each
    // counts its own 429s.
    ctx.emu.reset_counters();
    ctx.emu.set_faults(FaultConfig {
        rate_limit: Some(RateLimit {
            max_requests: 4,
            window_ms: 60_000,
        }),
        rate_limit_uploads: Some(RateLimit {
            max_requests: 1,
            window_ms: 60_000,
        }),
        ..Default::default()
    });
    // New settings start both windows afresh.
    ctx.put_file("0", "e", b"5").await;
    expect_error(
        ctx.direct_upload("0", "f", b"6").await,
        429,
        "rate_limit_exceeded",
    )
    .await;
    for _ in 0..2 {
        expect_status(ctx.get_json(&ctx.api("/folders/0/items")).await, 200).await;
    }
    expect_error(
        ctx.get_json(&ctx.api("/folders/0/items")).await,
        429,
        "rate_limit_exceeded",
    )
    .await;
    let c = ctx.emu.counters();
    assert_eq!(c.injected.rate_limited_uploads, 1);
    assert_eq!(c.injected.rate_limited_requests, 1);
    assert_eq!(c.injected.rate_limited, 2);
}

/// A short upload window opens again: the 429's `retry-after` is honest.
#[tokio::test]
async fn upload_rate_limit_window_reopens() {
    let ctx = Ctx::new(faulty(
        FaultConfig::from_specs(["rate-limit-uploads=2/300ms"]).unwrap(),
    ))
    .await;
    ctx.put_file("0", "a", b"1").await;
    ctx.new_session("0", "b", 100).await;
    let resp = ctx.direct_upload("0", "c", b"3").await;
    assert_eq!(resp.headers()["retry-after"], "1");
    expect_error(resp, 429, "rate_limit_exceeded").await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    ctx.put_file("0", "c", b"3").await;
    assert_eq!(ctx.emu.counters().injected.rate_limited_uploads, 1);
}

/// `rate_limit_uploads` over HTTP (`PUT /_emulator/faults`) and as a `--fault` of the binary.
#[tokio::test]
async fn upload_rate_limit_over_http_and_flag() {
    let p = Process::spawn("tok", &["--fault", "rate-limit-uploads=1/1m"]);
    let http = http();
    let faults: Value = http
        .get(format!("{}/_emulator/faults", p.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        faults["rate_limit_uploads"],
        json!({"max_requests": 1, "window_ms": 60000})
    );
    p.create_session("0", "a", 30_000_000).await;
    let resp = http
        .post(format!("{}/api/2.0/files/upload_sessions", p.base))
        .bearer_auth("tok")
        .json(&json!({"folder_id": "0", "file_name": "b", "file_size": 30_000_000}))
        .send()
        .await
        .unwrap();
    expect_error(resp, 429, "rate_limit_exceeded").await;
    let c = p.counters().await;
    assert_eq!(c["injected"]["rate_limited_uploads"], 1);
    assert_eq!(c["injected"]["rate_limited_requests"], 0);

    // Replaced at run time: no upload limit, a request limit instead.
    let resp = http
        .put(format!("{}/_emulator/faults", p.base))
        .json(&json!({"rate_limit": {"max_requests": 1, "window_ms": 60000}}))
        .send()
        .await
        .unwrap();
    let v = expect_status(resp, 200).await;
    assert!(v.get("rate_limit_uploads").is_none(), "{v}");
    let resp = http
        .put(format!("{}/_emulator/faults", p.base))
        .json(&json!({"rate_limit_uploads": {"max_requests": 5, "window_ms": 1000}}))
        .send()
        .await
        .unwrap();
    let v = expect_status(resp, 200).await;
    assert_eq!(v["rate_limit_uploads"]["max_requests"], 5);
}
