//! Disk primitives of the store: atomic JSON writes, temporary files under `tmp/`, sparse
//! session data files and positioned copies into them.

use crate::error::ApiError;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A data directory the emulator made for itself (no `data_dir` configured). It is removed
/// when the emulator stops, and once more when the last holder of the state lets go: the
/// server's connection tasks, the background SHA-512 worker or a blocking write may still run
/// for a moment after the stop, and what they write must not outlive the emulator.
#[derive(Debug)]
pub(crate) struct TempDataDir(pub PathBuf);

impl TempDataDir {
    pub(crate) fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for TempDataDir {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Maps an I/O error to a 500 that names what was being done (and logs it).
pub(crate) fn io_err(context: &str) -> impl FnOnce(std::io::Error) -> ApiError + '_ {
    move |e| ApiError::io(context, e)
}

/// Writes JSON to `path` atomically (temporary file + rename), so a crash leaves either the
/// old or the new version.
pub(crate) async fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let data = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(
        ".{file_name}.tmp-{}",
        crate::error::new_request_id()
    ));
    tokio::fs::write(&tmp, &data).await?;
    match tokio::fs::rename(&tmp, path).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            Err(e)
        }
    }
}

/// The JSON records in `dir` (files or folders), each with its path and `None` when it cannot
/// be read or parsed (the caller warns). Anything not `*.json` is a temporary left by a crash
/// and is removed.
pub(super) async fn read_records<T: serde::de::DeserializeOwned>(
    dir: &Path,
) -> std::io::Result<Vec<(PathBuf, Option<T>)>> {
    let mut out = Vec::new();
    let mut rd = tokio::fs::read_dir(dir).await?;
    while let Some(e) = rd.next_entry().await? {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            let _ = tokio::fs::remove_file(&p).await;
            continue;
        }
        let record = match tokio::fs::read(&p).await {
            Ok(data) => serde_json::from_slice(&data).ok(),
            Err(_) => None,
        };
        out.push((p, record));
    }
    Ok(out)
}

/// Received content waiting in `tmp/`, with its SHA-1 (hex) and size.
pub(crate) struct NewContent {
    pub tmp: TempPath,
    pub sha1: String,
    pub size: u64,
}

/// A file under `tmp/` that is removed when dropped unless it was kept.
pub(crate) struct TempPath {
    path: PathBuf,
    armed: bool,
}

impl TempPath {
    pub(super) fn new(path: PathBuf) -> TempPath {
        TempPath { path, armed: true }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Stops the removal on drop (the file was renamed away or will be).
    pub fn keep(mut self) -> PathBuf {
        self.armed = false;
        std::mem::take(&mut self.path)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Creates (or truncates) a session's data file and extends it, sparse, to `size` bytes.
pub(super) async fn create_data_file(path: &Path, size: u64) -> std::io::Result<()> {
    let f = tokio::fs::File::create(path).await?;
    f.set_len(size).await
}

/// Copies the first `size` bytes of `src` into `dst` at `offset` (positioned writes).
pub(crate) fn copy_at(
    src: &std::fs::File,
    dst: &std::fs::File,
    offset: u64,
    size: u64,
) -> std::io::Result<()> {
    use std::io::Read as _;
    use std::os::unix::fs::FileExt as _;
    let mut buf = vec![0u8; (1 << 20).min(size.max(1) as usize)];
    let mut src = src;
    let mut done = 0u64;
    while done < size {
        let want = buf.len().min((size - done) as usize);
        let n = src.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "part data ended early",
            ));
        }
        dst.write_all_at(&buf[..n], offset + done)?;
        done += n as u64;
    }
    Ok(())
}
