//! The engine over HTTPS: a `ClientBuilder` that trusts a throwaway CA uploads a small and a
//! chunked file to an emulator serving TLS, the bytes and SHA-1 arrive intact; a client that
//! does not trust the CA fails with a typed transport error. The chunked upload's connection
//! and HTTP-version counters are printed; the HTTP version is asserted on its own: HTTP/1.1 by
//! default (each part in flight on a connection of its own), HTTP/2 with
//! `ClientBuilder::http2(true)`.

use crate::common::*;
use box_emulator::TestCertificates;
use box_uploads::upload::{CallErrorKind, Upload, UploadErrorKind};

const PART: u64 = 256 * KIB;

fn tls_config() -> Config {
    Config {
        tls: Some(TestCertificates::shared().server.clone()),
        ..config(PART)
    }
}

/// The README's `ClientBuilder` lines plus the test CA, read from a file as a user would.
fn trusting_client(emu: &Emulator, ca_file: &std::path::Path) -> Client {
    ClientBuilder::new()
        .token(emu.token())
        .api_url(emu.api_url())
        .upload_url(emu.upload_url())
        .ca_cert_file(ca_file)
        .build()
        .expect("build client")
}

fn tls_uploader(client: Client) -> Uploader {
    tls_uploader_with(client, UploadConfig::default())
}

fn tls_uploader_with(client: Client, mut config: UploadConfig) -> Uploader {
    config.chunked_cutoff = 2 * PART;
    config.min_chunked_size = 1;
    config.retry = fast_retries();
    Uploader::with_config(client, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_uploads_over_https_with_a_trusted_ca() {
    let emu = start(tls_config()).await;
    assert!(emu.upload_url().starts_with("https://"));
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &TestCertificates::shared().ca_pem).expect("write CA");
    let uploader = tls_uploader(trusting_client(&emu, &ca_file));

    let small = test_data(1000, 1);
    let file = uploader
        .upload(Upload::new_file("0", "small.bin").from_bytes(small.clone()))
        .await
        .expect("small upload");
    assert_eq!(file.sha1.as_deref(), Some(sha1_hex(&small).as_str()));
    assert_stored(&emu, &file.id, &small).await;
    assert_eq!(emu.counters().direct_uploads, 1);

    // A chunked upload with the engine's default parallelism, counted on its own: on the
    // connection the small upload left open, then with a fresh client (no connection yet).
    let warm = chunked_upload(&emu, &uploader, dir.path(), 2).await;
    let cold = chunked_upload(
        &emu,
        &tls_uploader(trusting_client(&emu, &ca_file)),
        dir.path(),
        3,
    )
    .await;
    // The same over plain HTTP/1.1, for comparison.
    let plain = start(config(PART)).await;
    let plain_counters = chunked_upload(&plain, &tls_uploader(client(&plain)), dir.path(), 4).await;
    for (what, c) in [
        ("HTTPS, warm client", &warm),
        ("HTTPS, fresh client", &cold),
        ("plain HTTP, fresh client", &plain_counters),
    ] {
        // Observed, not asserted (see the emulator README's HTTPS section).
        eprintln!(
            "chunked upload over {what}, {} parts: connections opened {}, HTTP/2 requests {}, \
             HTTP/1.1 requests {}, requests {} {:?}, parts in flight at most {}",
            c.parts_stored,
            c.connections_opened,
            c.http2_requests,
            c.http1_requests,
            c.requests_total,
            c.requests,
            c.part_uploads_max_in_flight
        );
    }
}

/// Uploads a 17-part file from a path with `uploader`, checks what was stored, and returns
/// the counters of that upload alone.
async fn chunked_upload(
    emu: &Emulator,
    uploader: &Uploader,
    dir: &std::path::Path,
    seed: u64,
) -> box_emulator::Counters {
    emu.reset_counters();
    let size = 16 * PART + 5;
    let data = test_data(size, seed);
    let name = format!("big-{seed}.bin");
    let path = dir.join(&name);
    std::fs::write(&path, &data).expect("write source");
    let file = uploader
        .upload(Upload::new_file("0", &name).from_path(&path))
        .await
        .expect("chunked upload");
    assert_eq!(file.size, Some(size as i64));
    assert_eq!(file.sha1.as_deref(), Some(sha1_hex(&data).as_str()));
    assert_stored(emu, &file.id, &data).await;
    let c = emu.counters();
    assert_eq!(c.sessions_committed, 1);
    assert_eq!(c.parts_stored, 17);
    assert_eq!(c.requests_total, c.http1_requests + c.http2_requests);
    assert_eq!(c.tls_handshakes_failed, 0);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_in_flight_get_connections_of_their_own_unless_http2_is_chosen() {
    // A round trip long enough that the 4 parts in flight overlap.
    let mut config = tls_config();
    config.net.rtt_ms = Some(20);
    let emu = start(config).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &TestCertificates::shared().ca_pem).expect("write CA");
    let four = || {
        let mut config = UploadConfig::default();
        config.concurrency = 4.into();
        config
    };

    let default = tls_uploader_with(trusting_client(&emu, &ca_file), four());
    let c = chunked_upload(&emu, &default, dir.path(), 5).await;
    assert_eq!(c.http2_requests, 0, "HTTP/1.1 by default: {c:?}");
    assert!(c.part_uploads_max_in_flight > 1, "{c:?}");
    assert!(
        c.connections_opened >= c.part_uploads_max_in_flight,
        "each part in flight has a connection of its own: {c:?}"
    );

    let http2 = ClientBuilder::new()
        .token(emu.token())
        .api_url(emu.api_url())
        .upload_url(emu.upload_url())
        .ca_cert_file(&ca_file)
        .http2(true)
        .build()
        .expect("build client");
    let c = chunked_upload(&emu, &tls_uploader_with(http2, four()), dir.path(), 6).await;
    assert_eq!(c.http1_requests, 0, "HTTP/2 as chosen: {c:?}");
    assert!(c.http2_requests >= 17, "{c:?}");
    assert!(c.connections_opened < c.part_uploads_max_in_flight, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_ca_is_a_typed_transport_error() {
    let emu = start(tls_config()).await;
    // Only the built-in roots: the emulator's certificate is not trusted.
    let client = ClientBuilder::new()
        .token(emu.token())
        .api_url(emu.api_url())
        .upload_url(emu.upload_url())
        .build()
        .expect("build client");
    let mut config = UploadConfig::default();
    config.retry = RetryPolicy {
        max_attempts: 2,
        ..fast_retries()
    };
    let err = Uploader::with_config(client, config)
        .upload(Upload::new_file("0", "untrusted.bin").from_bytes(test_data(100, 3)))
        .await
        .expect_err("the certificate is not trusted");
    let kind = err.call_error().map(|c| c.kind());
    assert!(
        matches!(kind, Some(CallErrorKind::Connect)),
        "{err} ({:?}, {kind:?})",
        err.kind()
    );
    assert!(
        matches!(
            err.kind(),
            UploadErrorKind::GaveUp { .. } | UploadErrorKind::Api { .. }
        ),
        "{:?}",
        err.kind()
    );
    let c = emu.counters();
    assert_eq!(c.requests_total, 0);
    assert!(c.tls_handshakes_failed >= 1, "{c:?}");
    assert_eq!(c.files_created, 0);
}
