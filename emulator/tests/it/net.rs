//! Network shaping (`--net`, `PUT /_emulator/net`, `Emulator::set_net`): the whole server on
//! Tokio's paused clock, so every duration below is virtual time, and the control endpoint.
//!
//! With the clock paused the runtime jumps to the next timer whenever every task waits; the
//! shaper's waits are then the next timers, so a transfer's virtual time is what the shaping
//! makes it (loopback I/O is ready at once and file I/O holds the clock while it runs).

use crate::common::*;
use box_emulator::{Config, NetConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::time::Instant;

const MIB: u64 = 1 << 20;

async fn net_json(ctx: &Ctx, method: Method, body: Option<Value>) -> (StatusCode, Value) {
    let mut rb = ctx
        .http
        .request(method, format!("{}/_emulator/net", ctx.emu.base_url()));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.expect("send");
    let status = resp.status();
    (status, body_json(resp).await)
}

/// Time of one download of file `id`, checked against `data`.
async fn timed_download(ctx: &Ctx, id: &str, data: &[u8]) -> Duration {
    let t0 = Instant::now();
    let got = ctx.download(id, None).await;
    let t = t0.elapsed();
    assert!(got == data, "downloaded content differs");
    t
}

/// Response bodies through the whole server, on the paused clock: S bytes under conn=C take
/// at least S/C (and not much more); `PUT /_emulator/net` changes it for the next request;
/// the round trip and the server time add up.
#[tokio::test(start_paused = true)]
async fn download_takes_size_over_conn_rate() {
    let ctx = Ctx::new(config(MIB)).await;
    let data = test_data(2 * MIB, 3);
    // Stored with shaping off.
    let f = ctx.put_file("0", "shaped.bin", &data).await;
    let id = f["id"].as_str().unwrap();

    ctx.emu.set_net(NetConfig {
        conn_bytes_per_sec: Some(MIB),
        ..Default::default()
    });
    // 2 MiB at 1 MiB/s.
    let t = timed_download(&ctx, id, &data).await;
    assert!(t >= Duration::from_secs(2), "{t:?}");
    assert!(t < Duration::from_millis(2300), "{t:?}");

    // Eight times the rate: an eighth of the time.
    let (st, v) = net_json(
        &ctx,
        Method::PUT,
        Some(json!({"conn_bytes_per_sec": 8 * MIB})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let t = timed_download(&ctx, id, &data).await;
    assert!(t >= Duration::from_millis(250), "{t:?}");
    assert!(t < Duration::from_millis(500), "{t:?}");

    // A link of 1 MiB/s, shared by two downloads at once: 4 MiB take 4 s although each
    // connection alone may go at 8 MiB/s.
    ctx.emu.set_net(NetConfig {
        conn_bytes_per_sec: Some(8 * MIB),
        link_bytes_per_sec: Some(MIB),
        ..Default::default()
    });
    let t0 = Instant::now();
    tokio::join!(
        timed_download(&ctx, id, &data),
        timed_download(&ctx, id, &data)
    );
    let t = t0.elapsed();
    assert!(t >= Duration::from_secs(4), "{t:?}");
    assert!(t < Duration::from_millis(4500), "{t:?}");

    // Unlimited bandwidth, a round trip of 40 ms: one round trip per request.
    ctx.emu.set_net(NetConfig {
        rtt_ms: Some(40),
        server_ms: Some(100),
        ..Default::default()
    });
    let t = timed_download(&ctx, id, &data).await;
    assert!(t >= Duration::from_millis(40), "{t:?}");
    assert!(t < Duration::from_millis(100), "{t:?}");
}

/// Request bodies through the whole server. A part upload keeps a blocking writer thread
/// busy while its body arrives, and Tokio does not move a paused clock on its own while a
/// blocking task runs, so this test moves it by hand, 1 ms at a time: the virtual time it
/// measures can only be too long (while the writer runs in real time), never too short.
async fn driven_part(ctx: &Ctx, session: &Value, offset: u64, part: &[u8], total: u64) -> Duration {
    let t0 = Instant::now();
    let req = ctx.put_part(session, offset, part, total);
    tokio::pin!(req);
    let resp = loop {
        tokio::select! {
            biased;
            r = &mut req => break r,
            _ = tokio::task::yield_now() => {}
        }
        std::thread::sleep(Duration::from_micros(100));
        tokio::time::advance(Duration::from_millis(1)).await;
    };
    let t = t0.elapsed();
    expect_status(resp, 200).await;
    t
}

/// A part of S bytes under conn=C takes at least S/C; with 8C it is much faster; with rtt and
/// server time at least their sum.
#[tokio::test(start_paused = true)]
async fn part_upload_takes_size_over_conn_rate() {
    let ctx = Ctx::new(Config {
        net: NetConfig {
            conn_bytes_per_sec: Some(MIB),
            ..Default::default()
        },
        ..config(MIB)
    })
    .await;
    let total = 3 * MIB;
    let data = test_data(total, 4);
    let s = ctx.new_session("0", "parts.bin", total).await;
    let part = |i: u64| &data[(i * MIB) as usize..((i + 1) * MIB) as usize];

    let slow = driven_part(&ctx, &s, 0, part(0), total).await;
    assert!(slow >= Duration::from_secs(1), "{slow:?}");

    ctx.emu.set_net(NetConfig {
        conn_bytes_per_sec: Some(8 * MIB),
        ..Default::default()
    });
    let fast = driven_part(&ctx, &s, MIB, part(1), total).await;
    assert!(fast >= Duration::from_millis(125), "{fast:?}");
    assert!(fast < slow, "{fast:?} vs {slow:?}");

    ctx.emu.set_net(NetConfig {
        rtt_ms: Some(40),
        server_ms: Some(100),
        ..Default::default()
    });
    let t = driven_part(&ctx, &s, 2 * MIB, part(2), total).await;
    assert!(t >= Duration::from_millis(140), "{t:?}");

    // The parts arrived whole: the commit (unshaped) stores the file.
    ctx.emu.set_net(NetConfig::default());
    let parts: Value = ctx
        .req(
            Method::GET,
            s["session_endpoints"]["list_parts"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let parts = parts["entries"].as_array().unwrap().clone();
    expect_status(ctx.commit(&s, &parts, &data).await, 201).await;
}

/// `GET`/`PUT /_emulator/net` round trip, refusals, and the library methods.
#[tokio::test]
async fn net_control_endpoint() {
    let ctx = Ctx::small().await;
    let unlimited = json!({"rtt_ms": null, "conn_bytes_per_sec": null,
                           "link_bytes_per_sec": null, "server_ms": null});
    let (st, v) = net_json(&ctx, Method::GET, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v, unlimited);
    assert!(ctx.emu.net().is_off());

    let set = json!({"rtt_ms": 40, "conn_bytes_per_sec": 12_582_912,
                     "link_bytes_per_sec": 125_829_120, "server_ms": 5});
    let (st, v) = net_json(&ctx, Method::PUT, Some(set.clone())).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v, set);
    assert_eq!(net_json(&ctx, Method::GET, None).await.1, set);
    assert_eq!(
        ctx.emu.net(),
        NetConfig::from_spec("rtt=40ms,conn=12MiB/s,link=120MiB/s,server=5ms").unwrap()
    );

    // Absent fields are unlimited: a PUT replaces everything.
    let (_, v) = net_json(&ctx, Method::PUT, Some(json!({"rtt_ms": 10}))).await;
    assert_eq!(v["rtt_ms"], 10);
    assert_eq!(v["conn_bytes_per_sec"], Value::Null);

    for bad in [
        json!({"conn_bytes_per_sec": 0}),
        json!({"link_bytes_per_sec": -1}),
        json!({"rtt_ms": 3_600_001}),
        json!({"jitter_ms": 5}),
        json!([1]),
    ] {
        let (st, v) = net_json(&ctx, Method::PUT, Some(bad.clone())).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    // Refusals change nothing.
    assert_eq!(ctx.emu.net().rtt_ms, Some(10));

    ctx.emu.set_net(NetConfig::default());
    assert_eq!(net_json(&ctx, Method::GET, None).await.1, unlimited);

    // An invalid starting config is refused.
    let err = box_emulator::Emulator::start(Config {
        net: NetConfig {
            link_bytes_per_sec: Some(0),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    assert!(err.is_err());
}

/// The binary's `--net` flag sets what `GET /_emulator/net` shows.
#[tokio::test]
async fn binary_net_flag() {
    let bin = Process::spawn("t", &["--net", "rtt=40ms,conn=12MiB/s,link=100MB/s"]);
    let v: Value = http()
        .get(format!("{}/_emulator/net", bin.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v,
        json!({"rtt_ms": 40, "conn_bytes_per_sec": 12 * MIB,
               "link_bytes_per_sec": 100_000_000, "server_ms": null})
    );
}
