//! HTTPS: the emulator serving TLS with a throwaway CA, HTTP/2 and HTTP/1.1 as ALPN settles
//! them, counters per HTTP version and connection, refused handshakes, shaping per TCP
//! connection (HTTP/2 streams share one), a connection-dropping
//! fault over HTTP/2, and the binary's `--tls-cert`/`--tls-key`.

use crate::common::*;
use box_emulator::{Config, Emulator, FaultConfig, TestCertificates};
use reqwest::{Method, Version};
use std::io::BufRead as _;
use std::process::{Command, Stdio};

fn tls_config() -> Config {
    Config {
        tls: Some(TestCertificates::shared().server.clone()),
        ..small_config()
    }
}

/// A client that trusts only the test CA; `http1` keeps ALPN to `http/1.1`.
fn https(http1: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&TestCertificates::shared().ca_pem).expect("CA");
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca);
    if http1 {
        b = b.http1_only();
    }
    b.build().expect("client")
}

async fn me(http: &reqwest::Client, emu: &Emulator) -> reqwest::Response {
    http.request(Method::GET, format!("{}/users/me", emu.api_url()))
        .bearer_auth(emu.token())
        .send()
        .await
        .expect("send")
}

#[tokio::test]
async fn serves_http2_and_http1_by_alpn_and_counts_both() {
    let emu = start(tls_config()).await;
    assert!(emu.base_url().starts_with("https://127.0.0.1:"));
    assert!(emu.upload_url().starts_with("https://"));

    // ALPN offers h2 first: a client that speaks it gets HTTP/2; three requests, one after
    // another, share one connection.
    let h2 = https(false);
    for _ in 0..3 {
        let resp = me(&h2, &emu).await;
        assert_eq!(resp.version(), Version::HTTP_2);
        assert_eq!(resp.status(), 200);
    }
    let c = emu.counters();
    assert_eq!((c.http2_requests, c.http1_requests), (3, 0));
    assert_eq!(c.connections_opened, 1);
    assert_eq!(c.requests_total, 3);

    // A client that offers only http/1.1 gets it.
    let h1 = https(true);
    for _ in 0..2 {
        let resp = me(&h1, &emu).await;
        assert_eq!(resp.version(), Version::HTTP_11);
        assert_eq!(resp.status(), 200);
    }
    let c = emu.counters();
    assert_eq!((c.http2_requests, c.http1_requests), (3, 2));
    assert_eq!(c.connections_opened, 2);
    assert_eq!(c.tls_handshakes_failed, 0);
    assert_eq!(c.requests_total, c.http1_requests + c.http2_requests);

    // Twenty requests at once over an HTTP/2 connection already open: still one connection.
    let before = emu.counters().connections_opened;
    let all = futures_util::future::join_all((0..20).map(|_| me(&h2, &emu))).await;
    assert!(all.iter().all(|r| r.version() == Version::HTTP_2));
    assert_eq!(emu.counters().connections_opened, before);
    assert_eq!(emu.counters().http2_requests, 23);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_chunked_upload_over_http2_stores_the_bytes() {
    let emu = start(tls_config()).await;
    let ctx = Ctx {
        emu,
        http: https(false),
    };
    let data = test_data(5 * 1024 + 17, 3);
    let file = ctx.chunked_upload("0", "tls.bin", &data).await;
    let id = file["id"].as_str().expect("id");
    assert_eq!(file["sha1"], sha1_hex(&data));
    assert_stored(&ctx.emu, id, &data).await;
    assert_eq!(ctx.download(id, None).await, data);
    let c = ctx.emu.counters();
    assert_eq!(c.parts_stored, 6);
    assert_eq!(c.http1_requests, 0);
    assert_eq!(c.connections_opened, 1);
}

#[tokio::test]
async fn untrusted_and_plain_clients_are_refused_at_the_handshake() {
    let emu = start(tls_config()).await;
    // The built-in roots do not know the test CA.
    let untrusted = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let err = untrusted
        .get(format!("{}/users/me", emu.api_url()))
        .send()
        .await
        .expect_err("certificate not trusted");
    assert!(err.is_connect(), "{err:?}");
    // Plain HTTP to the HTTPS port.
    let plain = http()
        .get(format!("http://{}/2.0/users/me", emu.local_addr()))
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true));
    let c = emu
        .wait_for_counters(std::time::Duration::from_secs(5), |c| {
            c.tls_handshakes_failed == 2
        })
        .await
        .expect("two refused handshakes");
    assert_eq!(c.connections_opened, 2);
    assert_eq!(c.requests_total, 0);
}

/// A fault that drops the connection drops the TCP connection: over HTTP/2 the part upload
/// fails with a transport error, the part is stored, and the next request opens a new
/// connection.
#[tokio::test]
async fn a_dropped_connection_fault_works_over_http2() {
    let emu = start(tls_config()).await;
    let ctx = Ctx {
        emu,
        http: https(false),
    };
    let data = test_data(2048, 5);
    let s = ctx.new_session("0", "drop.bin", 2048).await;
    ctx.emu.set_faults(FaultConfig {
        part_drop_after_store: 1.0,
        ..Default::default()
    });
    let url = s["session_endpoints"]["upload_part"].as_str().expect("url");
    let err = ctx
        .req(Method::PUT, url)
        .header("digest", digest(&data[..1024]))
        .header("content-range", content_range(0, 1024, 2048))
        .body(data[..1024].to_vec())
        .send()
        .await
        .expect_err("the connection is dropped");
    assert!(!err.is_status(), "{err:?}");
    let c = ctx.emu.counters();
    assert_eq!(c.injected.part_drop_after_store, 1);
    assert_eq!(c.parts_stored, 1);
    ctx.emu.set_faults(FaultConfig::default());
    let resp = ctx.put_part(&s, 1024, &data[1024..], 2048).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), Version::HTTP_2);
    assert_eq!(ctx.emu.counters().connections_opened, 2);
}

/// `--tls-cert` and `--tls-key`: the first line names an `https://` URL that serves.
#[tokio::test]
async fn the_binary_serves_https() {
    let certs = TestCertificates::shared();
    let dir = tempfile::tempdir().expect("temporary directory");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &certs.server.cert_chain_pem).expect("cert");
    std::fs::write(&key, &certs.server.key_pem).expect("key");
    let mut child = Command::new(env!("CARGO_BIN_EXE_box-emulator"))
        .args(["--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn box-emulator");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let base = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let result = async move {
        assert!(base.starts_with("https://127.0.0.1:"), "{base}");
        let resp = https(false)
            .get(format!("{base}/2.0/users/me"))
            .bearer_auth("test-token")
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), Version::HTTP_2);
        let c: serde_json::Value = https(false)
            .get(format!("{base}/_emulator/counters"))
            .send()
            .await
            .expect("counters")
            .json()
            .await
            .expect("JSON");
        assert_eq!(c["http2_requests"], 2);
        assert_eq!(c["connections_opened"], 2);
    };
    let outcome = tokio::spawn(result).await;
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }

    // A certificate file that is not one: the binary says so and exits.
    let out = Command::new(env!("CARGO_BIN_EXE_box-emulator"))
        .args(["--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&key)
        .arg("--tls-key")
        .arg(&key)
        .output()
        .expect("run box-emulator");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CERTIFICATE"), "{stderr}");
}

/// `--net` shapes per TCP connection: two parts sent at once over one HTTP/2 connection share
/// its `conn` rate (64 KiB at 64 KiB/s take about a second), where over HTTP/1.1 each has a
/// connection and a rate of its own.
#[tokio::test]
async fn shaping_is_per_connection_and_http2_streams_share_it() {
    use box_emulator::NetConfig;
    async fn two_parts_at_once(http1: bool) -> (std::time::Duration, u64) {
        let emu = start(Config {
            part_size: Some(32 * 1024),
            ..tls_config()
        })
        .await;
        let ctx = Ctx {
            emu,
            http: https(http1),
        };
        let data = test_data(64 * 1024, 7);
        let s = ctx.new_session("0", "shaped.bin", 64 * 1024).await;
        ctx.emu.set_net(NetConfig {
            conn_bytes_per_sec: Some(64 * 1024),
            ..Default::default()
        });
        let before = ctx.emu.counters().connections_opened;
        let started = std::time::Instant::now();
        let (a, b) = tokio::join!(
            ctx.put_part(&s, 0, &data[..32 * 1024], 64 * 1024),
            ctx.put_part(&s, 32 * 1024, &data[32 * 1024..], 64 * 1024)
        );
        let took = started.elapsed();
        assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
        (took, ctx.emu.counters().connections_opened - before)
    }
    let (h2_took, h2_new) = two_parts_at_once(false).await;
    assert_eq!(h2_new, 0, "both parts on the session's HTTP/2 connection");
    assert!(
        h2_took >= std::time::Duration::from_millis(900),
        "{h2_took:?}"
    );
    let (h1_took, h1_new) = two_parts_at_once(true).await;
    assert_eq!(
        h1_new, 1,
        "the second part opens a second HTTP/1.1 connection"
    );
    assert!(h1_took < h2_took, "{h1_took:?} vs {h2_took:?}");
}
