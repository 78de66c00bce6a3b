//! Helpers shared by the integration tests: a reqwest client wired to an in-process
//! emulator, and small builders for Box requests.

#![allow(dead_code)]

use base64::Engine as _;
use box_emulator::{Config, Emulator};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use sha1::{Digest as _, Sha1};

pub struct Ctx {
    pub emu: Emulator,
    pub http: reqwest::Client,
}

/// Deterministic test data.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
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

pub fn sha1_raw(d: &[u8]) -> [u8; 20] {
    Sha1::digest(d).into()
}

pub fn sha1_hex(d: &[u8]) -> String {
    sha1_raw(d).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha1_b64(d: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha1_raw(d))
}

pub fn digest(d: &[u8]) -> String {
    format!("sha={}", sha1_b64(d))
}

pub async fn body_json(resp: Response) -> Value {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"))
}

/// Asserts a Box error body with this status and code, and returns it.
pub async fn expect_error(resp: Response, status: u16, code: &str) -> Value {
    let got = resp.status();
    let header_id = resp
        .headers()
        .get("box-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let v = body_json(resp).await;
    assert_eq!(got.as_u16(), status, "unexpected status, body {v}");
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["status"], status, "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert!(v["message"].is_string(), "{v}");
    assert!(v.get("context_info").is_some(), "{v}");
    assert_eq!(
        v["help_url"],
        "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/"
    );
    let rid = v["request_id"].as_str().expect("request_id");
    assert!(!rid.is_empty());
    assert_eq!(
        header_id.as_deref(),
        Some(rid),
        "request id header and body differ"
    );
    v
}

pub async fn expect_status(resp: Response, status: u16) -> Value {
    let got = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(got.as_u16(), status, "body: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

/// Config with 1 KiB parts and no chunked minimum, for fast tests.
pub fn small_config() -> Config {
    Config {
        part_size: Some(1024),
        min_chunked_size: 1,
        ..Default::default()
    }
}

impl Ctx {
    pub async fn new(config: Config) -> Ctx {
        let emu = Emulator::start(config).await.expect("emulator starts");
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        Ctx { emu, http }
    }

    pub async fn small() -> Ctx {
        Ctx::new(small_config()).await
    }

    pub fn req(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.http.request(method, url).bearer_auth(self.emu.token())
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.emu.api_url())
    }

    pub fn upload(&self, path: &str) -> String {
        format!("{}{path}", self.emu.upload_url())
    }

    pub fn form(attributes: Value, name: &str, data: &[u8]) -> reqwest::multipart::Form {
        reqwest::multipart::Form::new()
            .text("attributes", attributes.to_string())
            .part(
                "file",
                reqwest::multipart::Part::bytes(data.to_vec()).file_name(name.to_string()),
            )
    }

    pub async fn direct_upload(&self, folder: &str, name: &str, data: &[u8]) -> Response {
        self.req(Method::POST, &self.upload("/files/content"))
            .multipart(Self::form(
                json!({"name": name, "parent": {"id": folder}}),
                name,
                data,
            ))
            .send()
            .await
            .expect("send")
    }

    /// Direct upload that must succeed; returns the File entry.
    pub async fn put_file(&self, folder: &str, name: &str, data: &[u8]) -> Value {
        let v = expect_status(self.direct_upload(folder, name, data).await, 201).await;
        assert_eq!(v["total_count"], 1);
        v["entries"][0].clone()
    }

    pub async fn upload_version(
        &self,
        file_id: &str,
        attributes: Value,
        data: &[u8],
        if_match: Option<&str>,
    ) -> Response {
        let mut rb = self
            .req(
                Method::POST,
                &self.upload(&format!("/files/{file_id}/content")),
            )
            .multipart(Self::form(attributes, "v", data));
        if let Some(m) = if_match {
            rb = rb.header("if-match", m);
        }
        rb.send().await.expect("send")
    }

    pub async fn create_session(&self, folder: &str, name: &str, size: u64) -> Response {
        self.req(Method::POST, &self.upload("/files/upload_sessions"))
            .json(&json!({"folder_id": folder, "file_name": name, "file_size": size}))
            .send()
            .await
            .expect("send")
    }

    pub async fn new_session(&self, folder: &str, name: &str, size: u64) -> Value {
        expect_status(self.create_session(folder, name, size).await, 201).await
    }

    pub async fn put_part(
        &self,
        session: &Value,
        offset: u64,
        part: &[u8],
        total: u64,
    ) -> Response {
        let url = session["session_endpoints"]["upload_part"]
            .as_str()
            .expect("url");
        self.req(Method::PUT, url)
            .header("digest", digest(part))
            .header(
                "content-range",
                format!(
                    "bytes {}-{}/{}",
                    offset,
                    offset + part.len() as u64 - 1,
                    total
                ),
            )
            .header("content-type", "application/octet-stream")
            .body(part.to_vec())
            .send()
            .await
            .expect("send")
    }

    /// Uploads every part of `data` in order; returns the part objects.
    pub async fn put_all_parts(&self, session: &Value, data: &[u8]) -> Vec<Value> {
        let part_size = session["part_size"].as_u64().expect("part_size") as usize;
        let mut parts = Vec::new();
        for (i, chunk) in data.chunks(part_size).enumerate() {
            let offset = (i * part_size) as u64;
            let v = expect_status(
                self.put_part(session, offset, chunk, data.len() as u64)
                    .await,
                200,
            )
            .await;
            parts.push(v["part"].clone());
        }
        parts
    }

    pub async fn commit(&self, session: &Value, parts: &[Value], whole: &[u8]) -> Response {
        self.commit_with(session, json!({"parts": parts}), &digest(whole), &[])
            .await
    }

    pub async fn commit_with(
        &self,
        session: &Value,
        body: Value,
        digest: &str,
        headers: &[(&str, &str)],
    ) -> Response {
        let url = session["session_endpoints"]["commit"]
            .as_str()
            .expect("url");
        let mut rb = self
            .req(Method::POST, url)
            .header("digest", digest)
            .json(&body);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        rb.send().await.expect("send")
    }

    /// A whole chunked upload that must succeed; returns the File entry.
    pub async fn chunked_upload(&self, folder: &str, name: &str, data: &[u8]) -> Value {
        let s = self.new_session(folder, name, data.len() as u64).await;
        let parts = self.put_all_parts(&s, data).await;
        let v = expect_status(self.commit(&s, &parts, data).await, 201).await;
        v["entries"][0].clone()
    }

    pub async fn download(&self, file_id: &str, version: Option<&str>) -> Vec<u8> {
        let mut url = self.api(&format!("/files/{file_id}/content"));
        if let Some(v) = version {
            url.push_str(&format!("?version={v}"));
        }
        let resp = self.req(Method::GET, &url).send().await.expect("send");
        assert_eq!(resp.status(), StatusCode::OK);
        resp.bytes().await.expect("bytes").to_vec()
    }

    pub async fn get_json(&self, url: &str) -> Response {
        self.req(Method::GET, url).send().await.expect("send")
    }
}
