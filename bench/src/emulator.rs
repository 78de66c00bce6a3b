//! The `box-emulator` binary as a child process: started on 127.0.0.1:0 with a fresh data
//! directory, read back through its counters, stopped and its data deleted.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const TOKEN: &str = "bench-token";

pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    addr: String,
    data_dir: PathBuf,
}

impl Emulator {
    /// Starts the emulator with `data_dir` (emptied first), if given a fixed part size, and
    /// extra arguments (`--fault rate-limit=80/1s`, `--net ...`).
    pub fn start_with(
        binary: &Path,
        data_dir: &Path,
        part_size: Option<u64>,
        extra: &[String],
        log: &Path,
    ) -> Result<Emulator, String> {
        if data_dir.exists() {
            std::fs::remove_dir_all(data_dir)
                .map_err(|e| format!("cannot empty {}: {e}", data_dir.display()))?;
        }
        std::fs::create_dir_all(data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let mut command = Command::new(binary);
        command
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--token")
            .arg(TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        if let Some(p) = part_size {
            command.arg("--part-size").arg(p.to_string());
        }
        command.args(extra);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout from the emulator")?;
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let read = reader.read_line(&mut line);
        let base = match (read, line.trim().strip_prefix("listening on ")) {
            (Ok(n), Some(url)) if n > 0 => url.to_string(),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "box-emulator did not say where it listens (got {line:?}); see {}",
                    log.display()
                ));
            }
        };
        // Keep draining stdout so the emulator never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        let addr = base
            .strip_prefix("http://")
            .unwrap_or(&base)
            .trim_end_matches('/')
            .to_string();
        Ok(Emulator {
            child,
            base,
            addr,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// API base as this project's client takes it (`…/2.0`).
    pub fn api_url(&self) -> String {
        format!("{}/2.0", self.base)
    }

    /// Upload base as this project's client takes it (`…/api/2.0`).
    pub fn upload_url(&self) -> String {
        format!("{}/api/2.0", self.base)
    }

    /// Box's generated SDKs take the bases without the `/2.0` suffix.
    pub fn sdk_upload_url(&self) -> String {
        format!("{}/api", self.base)
    }

    /// `GET /_emulator/counters`.
    pub fn counters(&self) -> Result<serde_json::Value, String> {
        let body = http_get(&self.addr, "/_emulator/counters", None)?;
        serde_json::from_str(&body).map_err(|e| format!("bad counters JSON: {e}: {body}"))
    }

    /// Every file of folder `0` as (name, sha1, size), all pages of `GET
    /// /2.0/folders/0/items?fields=sha1,size` (1000 a page).
    pub fn root_files(&self) -> Result<Vec<(String, String, u64)>, String> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        loop {
            let path = format!("/2.0/folders/0/items?fields=sha1,size&limit=1000&offset={offset}");
            let body = http_get(&self.addr, &path, Some(TOKEN))?;
            let page: serde_json::Value =
                serde_json::from_str(&body).map_err(|e| format!("bad listing JSON: {e}"))?;
            let entries = page["entries"].as_array().cloned().unwrap_or_default();
            for e in &entries {
                if e["type"] == "file" {
                    out.push((
                        e["name"].as_str().unwrap_or_default().to_string(),
                        e["sha1"].as_str().unwrap_or_default().to_string(),
                        e["size"].as_u64().unwrap_or(0),
                    ));
                }
            }
            offset += entries.len() as u64;
            let total = page["total_count"].as_u64().unwrap_or(0);
            if entries.is_empty() || offset >= total {
                return Ok(out);
            }
        }
    }

    /// A file's current (sha1, size): `GET /2.0/files/{id}?fields=sha1,size`.
    pub fn file(&self, id: &str) -> Result<(String, u64), String> {
        let body = http_get(
            &self.addr,
            &format!("/2.0/files/{id}?fields=sha1,size"),
            Some(TOKEN),
        )?;
        let file: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("bad file JSON: {e}"))?;
        Ok((
            file["sha1"].as_str().unwrap_or_default().to_string(),
            file["size"].as_u64().unwrap_or(0),
        ))
    }

    /// CPU seconds (user + system) the emulator has used so far, from /proc/PID/stat.
    pub fn cpu_s(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / clock_ticks() as f64)
    }

    /// Stops the emulator and deletes its data.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain HTTP/1.1 GET on loopback (the bench itself needs no HTTP client).
fn http_get(addr: &str, path: &str, token: Option<&str>) -> Result<String, String> {
    let mut stream =
        TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/json\r\n{auth}\r\n"
    )
    .map_err(|e| format!("cannot send to {addr}: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("cannot read from {addr}: {e}"))?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("bad HTTP answer from {addr}{path}"))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(format!(
            "GET {path}: {}",
            head.lines().next().unwrap_or_default()
        ));
    }
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if !chunked {
        return Ok(body.to_string());
    }
    // De-chunk.
    let mut out = String::new();
    let mut rest = body;
    while let Some((size_line, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_line:?}"))?;
        if size == 0 {
            break;
        }
        let chunk = after.get(..size).ok_or("truncated chunk")?;
        out.push_str(chunk);
        rest = after.get(size..).unwrap_or("").trim_start_matches("\r\n");
    }
    Ok(out)
}

/// Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`, 100 on Linux in practice).
pub fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100)
    })
}
