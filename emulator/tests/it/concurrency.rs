//! Concurrent part uploads and sessions.

use crate::common::*;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_parts_and_sessions() {
    let ctx = Arc::new(Ctx::small().await);
    let mut sessions = Vec::new();
    for n in 0..4u64 {
        let ctx = ctx.clone();
        sessions.push(tokio::spawn(async move {
            let d = test_data(16 * 1024 + 100 * n, n);
            let s = ctx
                .new_session("0", &format!("file-{n}"), d.len() as u64)
                .await;
            let d = Arc::new(d);
            let s = Arc::new(s);
            let mut tasks = Vec::new();
            for (i, _) in d.chunks(1024).enumerate() {
                let (ctx, d, s) = (ctx.clone(), d.clone(), s.clone());
                tasks.push(tokio::spawn(async move {
                    let chunk = &d[i * 1024..((i + 1) * 1024).min(d.len())];
                    let v = expect_status(
                        ctx.put_part(&s, (i * 1024) as u64, chunk, d.len() as u64)
                            .await,
                        200,
                    )
                    .await;
                    v["part"].clone()
                }));
            }
            let mut parts = Vec::new();
            for t in tasks {
                parts.push(t.await.unwrap());
            }
            let v = expect_status(ctx.commit(&s, &parts, &d).await, 201).await;
            let id = v["entries"][0]["id"].as_str().unwrap().to_string();
            assert_eq!(ctx.download(&id, None).await, *d);
        }));
    }
    for s in sessions {
        s.await.unwrap();
    }
    let c = ctx.emu.counters();
    assert_eq!(c.sessions_committed, 4);
    // 16 KiB is 16 parts; 16 KiB + 100..300 bytes is 17.
    assert_eq!(c.parts_stored, 16 + 3 * 17);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uploads_of_one_range_store_it_once() {
    let ctx = Arc::new(Ctx::small().await);
    let d = Arc::new(test_data(2048, 7));
    let s = Arc::new(ctx.new_session("0", "race", 2048).await);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (ctx, d, s) = (ctx.clone(), d.clone(), s.clone());
        tasks.push(tokio::spawn(async move {
            ctx.put_part(&s, 0, &d[..1024], 2048)
                .await
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 416).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(ctx.emu.counters().parts_stored, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_commits_make_one_file() {
    let ctx = Arc::new(Ctx::small().await);
    let d = Arc::new(test_data(3000, 8));
    let s = Arc::new(ctx.new_session("0", "rc", 3000).await);
    let parts = Arc::new(ctx.put_all_parts(&s, &d).await);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (ctx, d, s, parts) = (ctx.clone(), d.clone(), s.clone(), parts.clone());
        tasks.push(tokio::spawn(async move {
            let resp = ctx.commit(&s, &parts, &d).await;
            let status = resp.status().as_u16();
            let v: serde_json::Value = resp.json().await.unwrap_or_default();
            (status, v["entries"][0]["id"].as_str().map(str::to_string))
        }));
    }
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for t in tasks {
        let (status, id) = t.await.unwrap();
        // 202 while another commit assembles the file; 404 once it has committed the session
        // (a committed session is gone: no replayed 201).
        assert!(matches!(status, 201 | 202 | 404), "{status}");
        if status == 201 {
            created += 1;
        }
        if let Some(id) = id {
            ids.insert(id);
        }
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    assert_eq!(ctx.emu.counters().files_created, 1);
}
