//! The resume state file: a small JSON document naming the session, its endpoints, the part
//! size, the source's identity, the parts already stored and the plan's answers (part reuse). Written atomically (temporary file,
//! fsync, rename, fsync of the directory) after every part, so a crash at any instant leaves
//! either the previous or the new state, never a torn file. It never holds the access token.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::calls::{PartRecord, PlanEntry, SessionEndpoints, Target};
use super::error::{UploadError, UploadErrorKind};
use super::identity::SourceIdentity;

/// Version of the format; a file of another version is refused with a clear error.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// The recorded state of an interrupted chunked upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UploadState {
    pub version: u32,
    pub target: Target,
    pub session_id: String,
    pub endpoints: SessionEndpoints,
    pub part_size: u64,
    pub file_size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_expires_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// The file read (absent for a reader or bytes source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceIdentity>,
    /// Parts stored and verified, by offset.
    pub parts: Vec<PartRecord>,
    /// The plan's answers for this session, by offset (hits with their `part_id`, misses
    /// without): a resumed upload asks only about parts not answered here with the same size and
    /// SHA-512.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<PlanEntry>,
    /// The whole file's hex SHA-1, recorded once every part was read, before the commit: after
    /// a crash between the commit and the removal of this file, the next run finds the
    /// committed file by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
}

fn state_error(path: &Path, detail: impl Into<String>, source: Option<io::Error>) -> UploadError {
    let err = UploadError::from(UploadErrorKind::StateFile {
        path: path.to_path_buf(),
        detail: detail.into(),
    });
    match source {
        Some(source) => err.with_source(source),
        None => err,
    }
}

/// Reads the state file; `Ok(None)` when there is none.
pub(crate) fn load(path: &Path) -> Result<Option<UploadState>, UploadError> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(state_error(path, "cannot read it", Some(e))),
    };
    let state: UploadState = serde_json::from_slice(&text).map_err(|e| {
        state_error(
            path,
            format!("not a valid upload state file ({e}); delete it to start over"),
            None,
        )
    })?;
    if state.version != FORMAT_VERSION {
        return Err(state_error(
            path,
            format!(
                "format version {} is not supported (expected {FORMAT_VERSION})",
                state.version
            ),
            None,
        ));
    }
    Ok(Some(state))
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "upload-state".into());
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

/// Writes the state file atomically.
pub(crate) fn save(path: &Path, state: &UploadState) -> Result<(), UploadError> {
    let json = serde_json::to_vec_pretty(state)
        .map_err(|e| state_error(path, format!("cannot encode the state: {e}"), None))?;
    let tmp = temp_path(path);
    let write = || -> io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&json)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        sync_parent(path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        state_error(path, "cannot write it", Some(e))
    })
}

#[cfg(unix)]
fn sync_parent(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)?.sync_all()
}

#[cfg(not(unix))]
fn sync_parent(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Removes the state file after a commit (or an abort). A missing file is fine.
pub(crate) fn remove(path: &Path) -> Result<(), UploadError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(state_error(path, "cannot remove it", Some(e))),
    }
}

/// Runs a state-file operation on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> Result<T, UploadError> + Send + 'static,
) -> Result<T, UploadError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) => Err(state_error(
            path,
            format!("state file task failed: {e}"),
            None,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> UploadState {
        UploadState {
            version: FORMAT_VERSION,
            target: Target::NewFile {
                folder_id: "0".into(),
                name: "a.bin".into(),
            },
            session_id: "S1".into(),
            endpoints: SessionEndpoints {
                upload_part: "http://127.0.0.1:1/api/2.0/files/upload_sessions/S1".into(),
                commit: "http://127.0.0.1:1/api/2.0/files/upload_sessions/S1/commit".into(),
                abort: "http://127.0.0.1:1/api/2.0/files/upload_sessions/S1".into(),
                list_parts: "http://127.0.0.1:1/api/2.0/files/upload_sessions/S1/parts".into(),
                status: "http://127.0.0.1:1/api/2.0/files/upload_sessions/S1".into(),
                plan: "http://127.0.0.1:1/api/2.0/files/upload_sessions/S1/plan".into(),
            },
            part_size: 1024,
            file_size: 4000,
            session_expires_at: None,
            source: Some(SourceIdentity {
                path: "/tmp/a.bin".into(),
                size: 4000,
                mtime_ns: Some(5),
            }),
            parts: vec![PartRecord {
                part_id: "P0".into(),
                offset: 0,
                size: 1024,
                sha1: "00".repeat(20),
            }],
            plan: vec![PlanEntry {
                offset: 1024,
                size: 1024,
                sha512: "ab".repeat(64),
                part_id: Some("P9".into()),
            }],
            sha1: None,
        }
    }

    #[test]
    fn round_trips_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        assert_eq!(load(&path).expect("missing is fine"), None);
        save(&path, &sample()).expect("saves");
        assert_eq!(load(&path).expect("loads"), Some(sample()));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(|e| e.ok())
            .collect();
        assert_eq!(names.len(), 1, "only the state file remains");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.to_lowercase().contains("token"), "{text}");
        remove(&path).expect("removes");
        remove(&path).expect("removing twice is fine");
    }

    #[test]
    fn a_state_file_from_before_part_reuse_still_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        let mut old = serde_json::to_value(sample()).expect("json");
        let fields = old.as_object_mut().expect("object");
        fields.remove("plan");
        if let Some(e) = fields.get_mut("endpoints").and_then(|e| e.as_object_mut()) {
            e.remove("plan");
        }
        std::fs::write(&path, old.to_string()).expect("write");
        let loaded = load(&path).expect("loads").expect("present");
        assert!(loaded.plan.is_empty());
        assert_eq!(loaded.endpoints.plan, "");
    }

    #[test]
    fn garbage_and_other_versions_are_refused_clearly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        std::fs::write(&path, b"{not json").expect("write");
        let err = load(&path).expect_err("garbage");
        assert!(err.to_string().contains("delete it to start over"), "{err}");
        let mut other = sample();
        other.version = 99;
        save(&path, &other).expect("saves");
        assert!(load(&path)
            .expect_err("version")
            .to_string()
            .contains("version 99"));
    }
}
