//! Helpers shared by the engine and CLI tests: an emulator with small parts, clients for it,
//! deterministic content, and reading back what the emulator stored.
#![allow(dead_code)]

use std::time::Duration;

use box_emulator::{Config, Emulator};
use box_uploads::upload::{RetryPolicy, UploadConfig, Uploader};
use box_uploads::{Client, ClientBuilder};
use sha1::{Digest, Sha1};

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * 1024;

/// An emulator whose sessions use `part_size` parts and accept chunked uploads of any size.
pub async fn emulator(part_size: u64) -> Emulator {
    emulator_with(Config {
        part_size: Some(part_size),
        min_chunked_size: 1,
        ..Default::default()
    })
    .await
}

pub async fn emulator_with(config: Config) -> Emulator {
    match Emulator::start(config).await {
        Ok(emu) => emu,
        Err(e) => panic!("emulator did not start: {e}"),
    }
}

pub fn client(emu: &Emulator) -> Client {
    ClientBuilder::new()
        .token(emu.token())
        .api_url(emu.api_url())
        .upload_url(emu.upload_url())
        .build()
        .expect("client builds")
}

/// Retries quick enough for tests (the emulator's retry-after still applies).
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 12,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(200),
        deadline: Duration::from_secs(120),
    }
}

/// An uploader that chunks files above `cutoff` bytes, with fast retries.
pub fn uploader(emu: &Emulator, cutoff: u64) -> Uploader {
    let mut config = UploadConfig::default();
    config.chunked_cutoff = cutoff;
    config.min_chunked_size = 1;
    config.retry = fast_retries();
    config.commit_deadline = Duration::from_secs(120);
    Uploader::with_config(client(emu), config)
}

/// Deterministic, non-repeating-looking content.
pub fn content(len: u64, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn sha1_hex(data: &[u8]) -> String {
    Sha1::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The current content of file `id`, read back with `GET {api}/files/{id}/content`.
pub async fn download(emu: &Emulator, id: &str) -> Vec<u8> {
    download_url(emu, &format!("{}/files/{id}/content", emu.api_url())).await
}

/// An older version's content.
pub async fn download_version(emu: &Emulator, id: &str, version: &str) -> Vec<u8> {
    download_url(
        emu,
        &format!("{}/files/{id}/content?version={version}", emu.api_url()),
    )
    .await
}

async fn download_url(emu: &Emulator, url: &str) -> Vec<u8> {
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(emu.token())
        .send()
        .await
        .expect("download");
    assert_eq!(response.status().as_u16(), 200, "download {url}");
    response.bytes().await.expect("download body").to_vec()
}

/// `GET {api}/files/{id}/versions` (the previous versions, newest first).
pub async fn versions(emu: &Emulator, id: &str) -> serde_json::Value {
    let url = format!("{}/files/{id}/versions", emu.api_url());
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(emu.token())
        .send()
        .await
        .expect("versions");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("versions json")
}

/// Asserts that file `id` holds exactly `expected`, comparing bytes and SHA-1.
pub async fn assert_stored(emu: &Emulator, id: &str, expected: &[u8]) {
    let stored = download(emu, id).await;
    assert_eq!(stored.len(), expected.len(), "stored size of file {id}");
    assert_eq!(
        sha1_hex(&stored),
        sha1_hex(expected),
        "stored SHA-1 of file {id}"
    );
    assert!(stored == expected, "stored bytes of file {id}");
}
