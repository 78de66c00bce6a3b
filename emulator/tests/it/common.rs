//! Helpers shared by the integration tests: a reqwest client wired to an in-process
//! emulator, small builders for Box requests, and the `box-emulator` binary run as a child
//! process. Test data, digests and Box's error-body checks come from `box_emulator::testing`.

pub use box_emulator::testing::*;
use box_emulator::{Config, Emulator};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};

pub struct Ctx {
    pub emu: Emulator,
    pub http: reqwest::Client,
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
    assert_error_body(&v, status, code, header_id.as_deref());
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

/// Commits `parts` of session `s` with a digest that is not the file's: refused with 400
/// `digest_mismatch`, whose message gives the real SHA-1 (`data`'s) beside the one sent.
pub async fn expect_wrong_digest_refused(ctx: &Ctx, s: &Value, parts: &[Value], data: &[u8]) {
    let v = expect_error(
        ctx.commit(s, parts, b"not the file").await,
        400,
        "digest_mismatch",
    )
    .await;
    assert_eq!(
        v["message"],
        format!(
            "File digest was incorrect. Actual: {} Expected: {}",
            base64(&sha1(data)),
            base64(&sha1(b"not the file"))
        )
    );
}

/// Config with 1 KiB parts and no chunked minimum, for fast tests.
pub fn small_config() -> Config {
    config(1024)
}

/// A reqwest client that never goes through a proxy.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

impl Ctx {
    pub async fn new(config: Config) -> Ctx {
        Ctx {
            emu: start(config).await,
            http: http(),
        }
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
                content_range(offset, part.len() as u64, total),
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

/// The `box-emulator` binary, run as a child process with a temporary data directory and
/// killed on drop.
pub struct Process {
    pub child: Child,
    /// `http://127.0.0.1:PORT`, from the binary's first line.
    pub base: String,
    token: String,
    _dir: tempfile::TempDir,
}

impl Process {
    /// Starts the binary on a free port with `--token token` and the `extra` flags, and waits
    /// for its first line (`listening on http://127.0.0.1:PORT`).
    pub fn spawn(token: &str, extra: &[&str]) -> Process {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut child = Command::new(env!("CARGO_BIN_EXE_box-emulator"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--token", token])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn box-emulator");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("first line");
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while stdout.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        let base = line
            .trim_end()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        Process {
            child,
            base,
            token: token.to_string(),
            _dir: dir,
        }
    }

    /// The address the binary listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.base
            .trim_start_matches("http://")
            .parse()
            .expect("address")
    }

    /// Creates an upload session for a new file; returns the session.
    pub async fn create_session(&self, folder: &str, name: &str, size: u64) -> Value {
        let resp = http()
            .post(format!("{}/api/2.0/files/upload_sessions", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"folder_id": folder, "file_name": name, "file_size": size}))
            .send()
            .await
            .expect("create session");
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json().await.expect("session JSON")
    }

    /// `GET /_emulator/counters` (no authentication), as JSON.
    pub async fn counters(&self) -> Value {
        let resp = http()
            .get(format!("{}/_emulator/counters", self.base))
            .send()
            .await
            .expect("counters");
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.expect("counters JSON")
    }

    /// The peak resident memory of the process so far (VmHWM in /proc/PID/status), in KiB;
    /// `None` where /proc does not tell.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
