//! Raw HTTP/1.1 over a tokio `TcpStream`, for the hostile-input tests: a test can send what no
//! client library would (a body that stops half-way, a length that lies, a body that never
//! ends, garbage). Also a walk of a directory, to find what a request left on disk.

use box_emulator::testing::assert_error_body;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// How long a test waits for any one answer: hostile input must be answered promptly.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// One HTTP response as read off the socket.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts Box's error body (`ClientError`) with this status and code; returns it.
    pub fn box_error(&self, status: u16, code: &str) -> Value {
        let body = String::from_utf8_lossy(&self.body);
        assert_eq!(self.status, status, "unexpected status, body {body}");
        let v = self.json();
        assert_error_body(&v, status, code, self.header("box-request-id"));
        v
    }
}

/// Reads one response (status line, headers, a body by content-length or chunked, or up to
/// the end of the stream).
pub async fn read_reply<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Reply> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(p) = memchr::memmem::find(&buf, b"\r\n\r\n") {
            break p;
        }
        if buf.len() > 256 * 1024 {
            return Err(std::io::Error::other("response head too large"));
        }
        let n = r.read(&mut tmp).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "connection closed before a response ({} bytes read)",
                    buf.len()
                ),
            ));
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut rest = buf[head_end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if status == 204 || status == 304 {
        Vec::new()
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while rest.len() < len {
            let n = r.read(&mut tmp).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "body cut short",
                ));
            }
            rest.extend_from_slice(&tmp[..n]);
        }
        rest.truncate(len);
        rest
    } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut out = Vec::new();
        loop {
            let line_end = loop {
                if let Some(p) = memchr::memmem::find(&rest, b"\r\n") {
                    break p;
                }
                let n = r.read(&mut tmp).await?;
                if n == 0 {
                    return Err(std::io::Error::other("chunked body cut short"));
                }
                rest.extend_from_slice(&tmp[..n]);
            };
            let size_text = String::from_utf8_lossy(&rest[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            rest.drain(..line_end + 2);
            while rest.len() < size + 2 {
                let n = r.read(&mut tmp).await?;
                if n == 0 {
                    return Err(std::io::Error::other("chunked body cut short"));
                }
                rest.extend_from_slice(&tmp[..n]);
            }
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[..size]);
            rest.drain(..size + 2);
        }
        out
    } else {
        r.read_to_end(&mut rest).await?;
        rest
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Builds a request head. `token` adds `authorization: Bearer TOKEN`.
pub fn head(method: &str, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> String {
    let mut h = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n");
    if let Some(t) = token {
        h.push_str(&format!("authorization: Bearer {t}\r\n"));
    }
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h
}

/// Sends `head` and `body` on a fresh connection and reads the answer.
pub async fn exchange(addr: SocketAddr, head: &str, body: &[u8]) -> std::io::Result<Reply> {
    tokio::time::timeout(ANSWER_WITHIN, async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(head.as_bytes()).await?;
        // The server may answer (and close) before the whole body is sent.
        let _ = s.write_all(body).await;
        read_reply(&mut s).await
    })
    .await
    .map_err(|_| std::io::Error::other("no answer in time"))?
}

/// Sends `head` and `body` with a content-length and reads the answer; panics on I/O errors.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let len = body.len().to_string();
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    all.push(("content-length", &len));
    exchange(addr, &head(method, path, token, &all), body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// `GET path` of a file's content (`/2.0/files/{id}/content...`): the API answers `302` with
/// a download URL on the same host, which is fetched (without the token, with `headers`, as a
/// client following the redirect would). Any other answer is returned as it is.
pub async fn download(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let r = request(addr, "GET", path, token, headers, b"").await;
    if r.status != 302 {
        return r;
    }
    let location = r.header("location").expect("a 302 has a location");
    let after_host = location
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
        .expect("an absolute location");
    request(addr, "GET", &after_host, None, headers, b"").await
}

/// Creates an upload session for a new file in the root folder; returns its upload-part path.
pub async fn create_session(addr: SocketAddr, token: &str, name: &str, size: u64) -> String {
    let body = serde_json::json!({"folder_id": "0", "file_name": name, "file_size": size});
    let r = request(
        addr,
        "POST",
        "/api/2.0/files/upload_sessions",
        Some(token),
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    format!(
        "/api/2.0/files/upload_sessions/{}",
        r.json()["id"].as_str().expect("session id")
    )
}

/// A connection whose request body keeps coming (chunked transfer encoding, `block` again and
/// again, up to `limit` bytes, or forever) while the answer is read.
pub async fn endless(
    addr: SocketAddr,
    head: &str,
    prefix: Vec<u8>,
    block: Vec<u8>,
    limit: Option<u64>,
) -> std::io::Result<Reply> {
    let s = TcpStream::connect(addr).await?;
    let (mut rd, mut wr) = s.into_split();
    wr.write_all(head.as_bytes()).await?;
    let writer: JoinHandle<()> = tokio::spawn(async move {
        let chunk = |d: &[u8]| {
            let mut c = format!("{:x}\r\n", d.len()).into_bytes();
            c.extend_from_slice(d);
            c.extend_from_slice(b"\r\n");
            c
        };
        if !prefix.is_empty() && wr.write_all(&chunk(&prefix)).await.is_err() {
            return;
        }
        let framed = chunk(&block);
        let mut sent = 0u64;
        while limit.is_none_or(|l| sent < l) {
            if wr.write_all(&framed).await.is_err() {
                return;
            }
            sent += block.len() as u64;
        }
        let _ = wr.write_all(b"0\r\n\r\n").await;
    });
    let r = tokio::time::timeout(Duration::from_secs(60), read_reply(&mut rd))
        .await
        .map_err(|_| std::io::Error::other("no answer in time"));
    writer.abort();
    r?
}

/// A multipart/form-data body: `attributes` (as given) then `file`.
pub fn multipart(boundary: &str, attributes: &str, filename: &str, data: &[u8]) -> Vec<u8> {
    let mut b = format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"attributes\"\r\n\r\n{attributes}\r\n\
         --{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         content-type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    b.extend_from_slice(data);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    b
}

/// Every file and directory under `dir` (symlinks are listed, not followed).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            out.push(p.clone());
            if is_dir {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Waits until `dir` is empty (temporary files of a dropped request are removed as its
/// handler unwinds); returns what is left after `within`.
pub async fn wait_empty(dir: &Path, within: Duration) -> Vec<PathBuf> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = walk(dir);
        if left.is_empty() || tokio::time::Instant::now() > deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
