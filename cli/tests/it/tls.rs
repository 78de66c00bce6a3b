//! `--ca-cert` and `BOX_CA_CERT`: `box-upload put` against the emulator served over HTTPS with
//! a throwaway CA uploads when told to trust that CA, by option or variable; without it the
//! handshake fails (exit 5, naming the host); a file that is not PEM certificates is a usage
//! error (exit 2) naming the file. The token endpoint of client credentials goes through the
//! same client, so the same CA.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::*;
use box_emulator::TestCertificates;

/// The emulator over HTTPS with the shared test certificates.
async fn start_https() -> Emulator {
    let emu = start(Config {
        tls: Some(TestCertificates::shared().server.clone()),
        ..config(MIB)
    })
    .await;
    assert!(emu.api_url().starts_with("https://127.0.0.1:"));
    emu
}

/// `box-upload put FILE --folder 0 --json --retries 0` against `emu`, the token in `BOX_TOKEN`.
fn put_https(emu: &Emulator, file: &Path) -> Command {
    let mut cmd = box_upload();
    cmd.arg("put")
        .arg(file)
        .args(["--folder", "0", "--json", "--retries", "0"])
        .args([
            "--api-url",
            &emu.api_url(),
            "--upload-url",
            &emu.upload_url(),
        ])
        .env("BOX_TOKEN", emu.token());
    cmd
}

/// Asserts a successful run whose committed file holds `data`.
async fn assert_uploaded(emu: &Emulator, out: &Output, data: &[u8], what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        json["sha1"].as_str(),
        Some(sha1_hex(data).as_str()),
        "{what}"
    );
    let id = json["id"].as_str().expect("id");
    let stored = emu.file_content(id, None).await.expect("stored");
    assert_eq!(sha1_hex(&stored), sha1_hex(data), "{what}: stored SHA-1");
    assert_stored(emu, id, data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ca_given_by_option_or_variable_is_trusted() {
    let emu = start_https().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &TestCertificates::shared().ca_pem).expect("ca");

    let by_option = dir.path().join("by-option.bin");
    let data = test_data(3 * MIB + 7, 41);
    std::fs::write(&by_option, &data).expect("write");
    let mut cmd = put_https(&emu, &by_option);
    cmd.arg("--ca-cert").arg(&ca);
    assert_uploaded(&emu, &run(cmd).await, &data, "--ca-cert").await;

    let by_variable = dir.path().join("by-variable.bin");
    let data = test_data(5000, 42);
    std::fs::write(&by_variable, &data).expect("write");
    let mut cmd = put_https(&emu, &by_variable);
    cmd.env("BOX_CA_CERT", &ca);
    assert_uploaded(&emu, &run(cmd).await, &data, "BOX_CA_CERT").await;

    // The option wins over the variable: a variable naming no file is not read.
    let both = dir.path().join("both.bin");
    let data = test_data(100, 43);
    std::fs::write(&both, &data).expect("write");
    let mut cmd = put_https(&emu, &both);
    cmd.arg("--ca-cert")
        .arg(&ca)
        .env("BOX_CA_CERT", dir.path().join("missing.pem"));
    assert_uploaded(&emu, &run(cmd).await, &data, "option over variable").await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_ca_the_handshake_fails_naming_the_host() {
    let emu = start_https().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.txt");
    std::fs::write(&file, b"hello").expect("write");

    let out = run(put_https(&emu, &file)).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("127.0.0.1"), "the host: {stderr}");
    assert!(stderr.contains("--ca-cert"), "what to do: {stderr}");
    assert_eq!(emu.counters().sessions_committed, 0);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_file_that_is_not_a_certificate_is_a_usage_error_naming_it() {
    let emu = start_https().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.txt");
    std::fs::write(&file, b"hello").expect("write");

    let garbage = dir.path().join("garbage-ca.pem");
    std::fs::write(&garbage, b"this is not a certificate\n").expect("write");
    let missing = dir.path().join("missing-ca.pem");
    for (ca, by_variable) in [(&garbage, false), (&garbage, true), (&missing, false)] {
        let mut cmd = put_https(&emu, &file);
        if by_variable {
            cmd.env("BOX_CA_CERT", ca);
        } else {
            cmd.arg("--ca-cert").arg(ca);
        }
        let out = run(cmd).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", ca.display());
        let name = ca.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(stderr.contains(name), "names {name}: {stderr}");
    }
    assert_eq!(emu.counters().requests_total, 0);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoint_is_reached_through_the_same_ca() {
    let emu = start(Config {
        tls: Some(TestCertificates::shared().server.clone()),
        ..auth_config(MIB)
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &TestCertificates::shared().ca_pem).expect("ca");
    let file = dir.path().join("ccg.bin");
    let data = test_data(2000, 44);
    std::fs::write(&file, &data).expect("write");
    // Client credentials instead of a fixed token; the token URL follows --api-url (HTTPS).
    let client_credentials = |cmd: &mut Command| {
        cmd.env_remove("BOX_TOKEN")
            .env("BOX_CLIENT_ID", CLIENT_ID)
            .env("BOX_CLIENT_SECRET", CLIENT_SECRET)
            .env("BOX_ENTERPRISE_ID", ENTERPRISE_ID);
    };

    let mut cmd = put_https(&emu, &file);
    client_credentials(&mut cmd);
    cmd.env("BOX_CA_CERT", &ca);
    assert_uploaded(&emu, &run(cmd).await, &data, "client credentials").await;
    let c = emu.counters();
    assert_eq!(c.auth.tokens_issued.client_credentials, 1, "{:?}", c.auth);

    // Without the CA, the token is the first request refused by the handshake.
    let mut cmd = put_https(&emu, &file);
    client_credentials(&mut cmd);
    let out = run(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("access token"), "{stderr}");
    assert!(stderr.contains("--ca-cert"), "what to do: {stderr}");
    assert_eq!(emu.counters().auth.tokens_issued.total(), 1);
    emu.shutdown().await;
}
