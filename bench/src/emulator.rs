//! The `box-emulator` binary as a child process: started on 127.0.0.1:0 with a fresh data
//! directory (over HTTPS with a run's certificates), read back through its counters, stopped
//! and its data deleted.

use std::cell::Cell;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::setup::Trust;

pub const TOKEN: &str = "bench-token";

pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`
    pub base: String,
    data_dir: PathBuf,
    /// The bench's own requests (counters, listings): HTTP/1.1, a connection each.
    control: Control,
}

/// What the emulator's counters say of the clients' connections: the bench's own requests
/// taken out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    /// TCP connections opened.
    pub connections: u64,
    /// Requests over HTTP/1.x and over HTTP/2.
    pub http1: u64,
    pub http2: u64,
}

impl Emulator {
    /// Starts the emulator with `data_dir` (emptied first), if given a fixed part size, over
    /// HTTPS with `tls`, and extra arguments (`--fault rate-limit=80/1s`, `--net ...`).
    pub fn start_with(
        binary: &Path,
        data_dir: &Path,
        part_size: Option<u64>,
        tls: Option<&Trust>,
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
        if let Some(t) = tls {
            command.args(t.emulator_args());
        }
        command.args(extra);
        let control = Control::new(tls)?;
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
        let base = base.trim_end_matches('/').to_string();
        Ok(Emulator {
            child,
            base,
            data_dir: data_dir.to_path_buf(),
            control,
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
        let body = self.get("/_emulator/counters", None)?;
        serde_json::from_str(&body).map_err(|e| format!("bad counters JSON: {e}: {body}"))
    }

    /// The clients' connections and requests per HTTP version in `counters` (a snapshot
    /// [`counters`](Self::counters) read): the bench's own requests until then, each on a
    /// connection of its own over HTTP/1.1, are not the clients'.
    pub fn traffic(&self, counters: &serde_json::Value) -> Option<Traffic> {
        let own = self.control.sent.get();
        let at = |key: &str| counters[key].as_u64();
        Some(Traffic {
            connections: at("connections_opened")?.saturating_sub(own),
            http1: at("http1_requests")?.saturating_sub(own),
            http2: at("http2_requests")?,
        })
    }

    /// Every file of folder `0` as (name, sha1, size), all pages of `GET
    /// /2.0/folders/0/items?fields=sha1,size` (1000 a page).
    pub fn root_files(&self) -> Result<Vec<(String, String, u64)>, String> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        loop {
            let path = format!("/2.0/folders/0/items?fields=sha1,size&limit=1000&offset={offset}");
            let body = self.get(&path, Some(TOKEN))?;
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
        let body = self.get(&format!("/2.0/files/{id}?fields=sha1,size"), Some(TOKEN))?;
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

impl Emulator {
    /// A GET of the bench's own, `path` on the emulator's base.
    fn get(&self, path: &str, token: Option<&str>) -> Result<String, String> {
        self.control.get(&format!("{}{path}", self.base), token)
    }
}

/// The bench's HTTP client of the emulator: HTTP/1.1 only and no connection kept, so that
/// its share of the counters is known (one connection and one HTTP/1.1 request per GET);
/// over HTTPS it trusts the run's CA.
struct Control {
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    /// GETs sent so far.
    sent: Cell<u64>,
}

impl Control {
    fn new(tls: Option<&Trust>) -> Result<Control, String> {
        let mut builder = reqwest::Client::builder()
            .http1_only()
            .pool_max_idle_per_host(0)
            .no_proxy()
            .timeout(Duration::from_secs(30));
        if let Some(t) = tls {
            let pem =
                std::fs::read(&t.ca).map_err(|e| format!("cannot read {}: {e}", t.ca.display()))?;
            let ca = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| format!("bad CA {}: {e}", t.ca.display()))?;
            builder = builder.add_root_certificate(ca);
        }
        Ok(Control {
            client: builder
                .build()
                .map_err(|e| format!("cannot build an HTTP client: {e}"))?,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a runtime: {e}"))?,
            sent: Cell::new(0),
        })
    }

    fn get(&self, url: &str, token: Option<&str>) -> Result<String, String> {
        let mut request = self.client.get(url).header("accept", "application/json");
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        self.sent.set(self.sent.get() + 1);
        self.runtime.block_on(async {
            let response = request
                .send()
                .await
                .map_err(|e| format!("GET {url}: {e}"))?;
            let status = response.status();
            let body = response
                .text()
                .await
                .map_err(|e| format!("GET {url}: {e}"))?;
            if !status.is_success() {
                return Err(format!("GET {url}: {status}"));
            }
            Ok(body)
        })
    }
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
