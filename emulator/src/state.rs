//! The emulator's state: files, versions, sessions and parts, kept in memory and persisted
//! under the data directory.
//!
//! Layout of the data directory (every file name is a server-generated id, never a client
//! supplied name):
//!
//! ```text
//! state.json                     id counters
//! files/<file_id>.json           a file and all its versions (FileRecord)
//! blobs/<version_id>             content of one file version
//! sessions/<session_id>/session.json    SessionMeta
//! sessions/<session_id>/parts/<index>.bin   part data
//! sessions/<session_id>/parts/<index>.json  PartRecord (written after the .bin)
//! tmp/                           bodies being received; emptied at start-up
//! ```
//!
//! JSON files are written to a temporary name and renamed into place, so a crash leaves
//! either the old or the new version.

use crate::auth::{AuthState, JwtKey};
use crate::config::{Config, FaultConfig};
use crate::counters::Counters;
use crate::error::ApiError;
use crate::util;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// First id handed out for files and versions (Box ids are decimal strings).
const FIRST_ID: u64 = 1_000_001;
/// Hard cap on the number of parts of one session when the part size is configured.
pub(crate) const HARD_MAX_PARTS: u64 = 100_000;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct VersionRecord {
    pub id: String,
    pub sha1: String,
    pub size: u64,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct FileRecord {
    pub id: String,
    pub folder_id: String,
    pub name: String,
    /// Bumped on every change; `etag` and `sequence_id` are its decimal form.
    pub etag: u64,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub content_created_at: DateTime<Utc>,
    pub content_modified_at: DateTime<Utc>,
    /// Oldest first; the last one is the current version.
    pub versions: Vec<VersionRecord>,
}

impl FileRecord {
    pub fn current(&self) -> Option<&VersionRecord> {
        self.versions.last()
    }
    pub fn etag_str(&self) -> String {
        self.etag.to_string()
    }
    pub fn size(&self) -> u64 {
        self.current().map(|v| v.size).unwrap_or(0)
    }
    /// File--Mini, the shape of `context_info.conflicts`.
    pub fn mini_json(&self) -> Value {
        let (vid, sha1) = self
            .current()
            .map(|v| (v.id.clone(), v.sha1.clone()))
            .unwrap_or_default();
        json!({
            "type": "file",
            "id": self.id,
            "file_version": {"type": "file_version", "id": vid, "sha1": sha1},
            "sequence_id": self.etag_str(),
            "etag": self.etag_str(),
            "sha1": sha1,
            "name": self.name,
        })
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct IdState {
    next_id: u64,
    next_session_seq: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum SessionTarget {
    NewFile {
        folder_id: String,
        name: String,
    },
    NewVersion {
        file_id: String,
        name: Option<String>,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct CommittedInfo {
    pub file_id: String,
    pub version_id: String,
    pub sha1: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SessionMeta {
    pub id: String,
    pub seq: u64,
    pub target: SessionTarget,
    pub file_size: u64,
    pub part_size: u64,
    pub total_parts: u64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub committed: Option<CommittedInfo>,
    /// The user who created the session; only that user may use it. Sessions saved before
    /// users existed belong to the service account.
    #[serde(default = "service_account_id")]
    pub owner: String,
}

fn service_account_id() -> String {
    crate::config::SERVICE_ACCOUNT_ID.to_string()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartRecord {
    pub part_id: String,
    pub offset: u64,
    pub size: u64,
    pub sha1: String,
}

impl PartRecord {
    pub fn json(&self) -> Value {
        json!({"part_id": self.part_id, "offset": self.offset, "size": self.size, "sha1": self.sha1})
    }
}

pub(crate) struct SessionInner {
    pub meta: SessionMeta,
    /// Stored parts by index (offset / part_size).
    pub parts: BTreeMap<u64, PartRecord>,
    /// Parts being moved into place right now (index -> record).
    pub reserved: HashMap<u64, PartRecord>,
    /// Upload attempts per part index (for reproducible fault decisions).
    pub attempts: HashMap<u64, u32>,
    pub commit_attempts: u32,
    pub mismatch_fired: bool,
    pub committing: bool,
    /// Aborted (or otherwise removed).
    pub gone: bool,
}

pub(crate) struct Session {
    pub id: String,
    pub dir: PathBuf,
    pub inner: Mutex<SessionInner>,
}

impl Session {
    pub fn parts_dir(&self) -> PathBuf {
        self.dir.join("parts")
    }
    pub fn part_data_path(&self, index: u64) -> PathBuf {
        self.parts_dir().join(format!("{index}.bin"))
    }
    pub fn part_meta_path(&self, index: u64) -> PathBuf {
        self.parts_dir().join(format!("{index}.json"))
    }
}

/// Files and their name index. Guarded by one async mutex; disk writes of file metadata
/// happen while it is held, so the catalog on disk and in memory agree.
pub(crate) struct Catalog {
    pub files: HashMap<String, FileRecord>,
    /// (folder id, lower-cased name) -> file id.
    pub names: HashMap<(String, String), String>,
    pub used_bytes: u64,
    ids: IdState,
}

impl Catalog {
    pub fn find_by_name(&self, folder_id: &str, name: &str) -> Option<&FileRecord> {
        self.names
            .get(&(folder_id.to_string(), util::name_key(name)))
            .and_then(|id| self.files.get(id))
    }

    fn index(&mut self, f: &FileRecord) {
        self.names
            .insert((f.folder_id.clone(), util::name_key(&f.name)), f.id.clone());
    }
}

/// Fixed-window rate limiter state.
pub(crate) struct RateWindow {
    pub start: tokio::time::Instant,
    pub count: u64,
}

/// Everything the handlers share.
pub(crate) struct Shared {
    pub config: Config,
    pub data_dir: PathBuf,
    pub base_url: String,
    pub folders: RwLock<BTreeMap<String, String>>,
    pub catalog: tokio::sync::Mutex<Catalog>,
    pub sessions: RwLock<HashMap<String, Arc<Session>>>,
    pub counters: Mutex<Counters>,
    pub faults: RwLock<FaultConfig>,
    pub rate: Mutex<RateWindow>,
    pub upload_tokens: Mutex<VecDeque<String>>,
    /// Issued access and refresh tokens, used JWT ids.
    pub auth: Mutex<AuthState>,
    /// The JWT grant's key, when configured (set by `Emulator::start`, like `base_url`).
    pub jwt_key: Option<JwtKey>,
    /// API requests still to let through before `expire-tokens` fires.
    pub expire_countdown: Mutex<Option<u64>>,
    tmp_seq: AtomicU64,
    /// How many times each request-level fault was drawn ([`crate::api::RequestFault`]).
    pub fault_draws: [AtomicU64; crate::api::REQUEST_FAULT_KINDS],
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

pub(crate) fn io_err(context: &str) -> impl FnOnce(std::io::Error) -> ApiError + '_ {
    move |e| ApiError::io(context, e)
}

/// Writes JSON to `path` atomically (temporary file + rename).
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

impl Shared {
    /// Opens (or creates) the data directory and loads what it holds.
    pub(crate) async fn open(config: Config, data_dir: PathBuf) -> std::io::Result<Shared> {
        for sub in ["files", "blobs", "sessions", "tmp"] {
            tokio::fs::create_dir_all(data_dir.join(sub)).await?;
        }
        // Leftovers of requests interrupted by a crash or shutdown.
        let mut rd = tokio::fs::read_dir(data_dir.join("tmp")).await?;
        while let Some(e) = rd.next_entry().await? {
            let _ = tokio::fs::remove_file(e.path()).await;
        }

        let mut ids: IdState = match tokio::fs::read(data_dir.join("state.json")).await {
            Ok(data) => serde_json::from_slice(&data).unwrap_or_default(),
            Err(_) => IdState::default(),
        };
        ids.next_id = ids.next_id.max(FIRST_ID);

        // Files.
        let mut files = HashMap::new();
        let mut rd = tokio::fs::read_dir(data_dir.join("files")).await?;
        while let Some(e) = rd.next_entry().await? {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                let _ = tokio::fs::remove_file(&p).await; // stale temporary
                continue;
            }
            let Ok(data) = tokio::fs::read(&p).await else {
                continue;
            };
            match serde_json::from_slice::<FileRecord>(&data) {
                Ok(f) if util::is_numeric_id(&f.id) && !f.versions.is_empty() => {
                    for v in &f.versions {
                        if let Ok(n) = v.id.parse::<u64>() {
                            ids.next_id = ids.next_id.max(n + 1);
                        }
                    }
                    if let Ok(n) = f.id.parse::<u64>() {
                        ids.next_id = ids.next_id.max(n + 1);
                    }
                    files.insert(f.id.clone(), f);
                }
                _ => tracing::warn!("ignoring unreadable file record {}", p.display()),
            }
        }
        let mut catalog = Catalog {
            files: HashMap::new(),
            names: HashMap::new(),
            used_bytes: 0,
            ids,
        };
        for (_, f) in files {
            catalog.used_bytes += f.versions.iter().map(|v| v.size).sum::<u64>();
            catalog.index(&f);
            catalog.files.insert(f.id.clone(), f);
        }

        // Sessions.
        let mut sessions = HashMap::new();
        let mut rd = tokio::fs::read_dir(data_dir.join("sessions")).await?;
        while let Some(e) = rd.next_entry().await? {
            let dir = e.path();
            match load_session(&dir).await {
                Some(s) => {
                    {
                        let inner = lock(&s.inner);
                        catalog.ids.next_session_seq =
                            catalog.ids.next_session_seq.max(inner.meta.seq + 1);
                    }
                    sessions.insert(s.id.clone(), Arc::new(s));
                }
                None => {
                    tracing::warn!("removing unreadable session {}", dir.display());
                    let _ = tokio::fs::remove_dir_all(&dir).await;
                }
            }
        }

        let mut folders = BTreeMap::new();
        folders.insert("0".to_string(), "All Files".to_string());
        for f in &config.folders {
            folders.insert(f.clone(), format!("Folder {f}"));
        }
        let faults = config.faults.clone();
        Ok(Shared {
            auth: Mutex::new(AuthState::new(&config)),
            jwt_key: None,
            expire_countdown: Mutex::new(None),
            config,
            data_dir,
            base_url: String::new(),
            folders: RwLock::new(folders),
            catalog: tokio::sync::Mutex::new(catalog),
            sessions: RwLock::new(sessions),
            counters: Mutex::new(Counters::default()),
            faults: RwLock::new(faults),
            rate: Mutex::new(RateWindow {
                start: tokio::time::Instant::now(),
                count: 0,
            }),
            upload_tokens: Mutex::new(VecDeque::new()),
            tmp_seq: AtomicU64::new(0),
            fault_draws: Default::default(),
        })
    }

    pub fn upload_base(&self) -> String {
        format!("{}/api/2.0", self.base_url)
    }

    pub fn faults(&self) -> FaultConfig {
        self.faults
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn counters(&self) -> MutexGuard<'_, Counters> {
        lock(&self.counters)
    }

    pub fn folder_name(&self, id: &str) -> Option<String> {
        self.folders
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    pub fn folder_json(&self, id: &str) -> Value {
        let name = self
            .folder_name(id)
            .unwrap_or_else(|| format!("Folder {id}"));
        if id == "0" {
            json!({"type": "folder", "id": "0", "sequence_id": null, "etag": null, "name": name})
        } else {
            json!({"type": "folder", "id": id, "sequence_id": "0", "etag": "0", "name": name})
        }
    }

    /// A fresh temporary path under `tmp/`.
    pub fn temp_path(&self) -> TempPath {
        let n = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        TempPath {
            path: self
                .data_dir
                .join("tmp")
                .join(format!("{n}-{}", crate::error::new_request_id())),
            armed: true,
        }
    }

    pub fn blob_path(&self, version_id: &str) -> PathBuf {
        self.data_dir.join("blobs").join(version_id)
    }

    fn file_meta_path(&self, file_id: &str) -> PathBuf {
        self.data_dir.join("files").join(format!("{file_id}.json"))
    }

    async fn save_ids(&self, catalog: &Catalog) -> Result<(), ApiError> {
        write_json_atomic(&self.data_dir.join("state.json"), &catalog.ids)
            .await
            .map_err(io_err("saving id counters"))
    }

    /// Allocates a new file or version id.
    pub async fn alloc_id(&self, catalog: &mut Catalog) -> Result<String, ApiError> {
        let id = catalog.ids.next_id;
        catalog.ids.next_id += 1;
        self.save_ids(catalog).await?;
        Ok(id.to_string())
    }

    pub async fn save_file(&self, f: &FileRecord) -> Result<(), ApiError> {
        write_json_atomic(&self.file_meta_path(&f.id), f)
            .await
            .map_err(io_err("saving file metadata"))
    }

    /// Stores a new file in the catalog.
    pub async fn create_file(
        &self,
        catalog: &mut Catalog,
        folder_id: &str,
        name: &str,
        content: NewContent,
        content_created_at: Option<DateTime<Utc>>,
        content_modified_at: Option<DateTime<Utc>>,
    ) -> Result<FileRecord, ApiError> {
        let now = Utc::now();
        let file_id = self.alloc_id(catalog).await?;
        let version_id = self.alloc_id(catalog).await?;
        let blob = self.blob_path(&version_id);
        let NewContent { tmp, sha1, size } = content;
        tokio::fs::rename(tmp.path(), &blob)
            .await
            .map_err(io_err("storing file content"))?;
        tmp.keep();
        let f = FileRecord {
            id: file_id,
            folder_id: folder_id.to_string(),
            name: name.to_string(),
            etag: 0,
            created_at: now,
            modified_at: now,
            content_created_at: content_created_at.unwrap_or(now),
            content_modified_at: content_modified_at.unwrap_or(now),
            versions: vec![VersionRecord {
                id: version_id,
                sha1,
                size,
                name: name.to_string(),
                created_at: now,
            }],
        };
        if let Err(e) = self.save_file(&f).await {
            let _ = tokio::fs::remove_file(&blob).await;
            return Err(e);
        }
        catalog.used_bytes += size;
        catalog.index(&f);
        catalog.files.insert(f.id.clone(), f.clone());
        let mut c = self.counters();
        c.files_created += 1;
        Ok(f)
    }

    /// Adds a version to an existing file, optionally renaming it.
    pub async fn add_version(
        &self,
        catalog: &mut Catalog,
        file_id: &str,
        new_name: Option<&str>,
        content: NewContent,
        content_modified_at: Option<DateTime<Utc>>,
    ) -> Result<FileRecord, ApiError> {
        let now = Utc::now();
        let Some(mut f) = catalog.files.get(file_id).cloned() else {
            return Err(ApiError::not_found("Could not find the specified resource"));
        };
        let version_id = self.alloc_id(catalog).await?;
        let blob = self.blob_path(&version_id);
        let NewContent { tmp, sha1, size } = content;
        tokio::fs::rename(tmp.path(), &blob)
            .await
            .map_err(io_err("storing file content"))?;
        tmp.keep();
        let old_key = (f.folder_id.clone(), util::name_key(&f.name));
        if let Some(n) = new_name {
            f.name = n.to_string();
        }
        f.etag += 1;
        f.modified_at = now;
        f.content_modified_at = content_modified_at.unwrap_or(now);
        f.versions.push(VersionRecord {
            id: version_id,
            sha1,
            size,
            name: f.name.clone(),
            created_at: now,
        });
        if let Err(e) = self.save_file(&f).await {
            let _ = tokio::fs::remove_file(&blob).await;
            return Err(e);
        }
        catalog.names.remove(&old_key);
        catalog.used_bytes += size;
        catalog.index(&f);
        catalog.files.insert(f.id.clone(), f.clone());
        let mut c = self.counters();
        c.file_versions_created += 1;
        Ok(f)
    }

    /// 409 item_name_in_use if `name` is taken in `folder_id` by a file other than `except`.
    pub fn check_name_free(
        catalog: &Catalog,
        folder_id: &str,
        name: &str,
        except: Option<&str>,
    ) -> Result<(), ApiError> {
        if let Some(existing) = catalog.find_by_name(folder_id, name) {
            if Some(existing.id.as_str()) != except {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "item_name_in_use",
                    "Item with the same name already exists",
                )
                .with_context(json!({"conflicts": existing.mini_json()})));
            }
        }
        Ok(())
    }

    /// 403 if `size` is over the per-file limit or does not fit the storage limit.
    pub fn check_size_limits(&self, catalog: &Catalog, size: u64) -> Result<(), ApiError> {
        if let Some(max) = self.config.max_file_size {
            if size > max {
                return Err(file_size_limit_error());
            }
        }
        if let Some(limit) = self.config.storage_limit {
            if catalog.used_bytes.saturating_add(size) > limit {
                return Err(storage_limit_error());
            }
        }
        Ok(())
    }

    /// Creates an upload session and persists it.
    pub async fn create_session(
        &self,
        catalog: &mut Catalog,
        target: SessionTarget,
        file_size: u64,
        owner: &str,
    ) -> Result<Arc<Session>, ApiError> {
        let part_size = self.config.part_size_for(file_size);
        let total_parts = file_size.div_ceil(part_size);
        if total_parts > HARD_MAX_PARTS {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "file_size_limit_exceeded",
                format!(
                    "File size exceeds the folder owner's file size limit (the file would need \
                     {total_parts} parts of {part_size} bytes; at most {HARD_MAX_PARTS} are allowed)"
                ),
            ));
        }
        let seq = catalog.ids.next_session_seq;
        catalog.ids.next_session_seq += 1;
        self.save_ids(catalog).await?;
        let id = format!(
            "{:016X}{:016X}",
            util::mix(&[self.config.seed, seq, 0x5E55]),
            seq
        );
        let now = Utc::now();
        // Clamped to 100 years so the expiry time stays representable.
        let lifetime = chrono::Duration::from_std(self.config.session_lifetime)
            .unwrap_or(chrono::Duration::days(36_500))
            .min(chrono::Duration::days(36_500));
        let meta = SessionMeta {
            id: id.clone(),
            seq,
            target,
            file_size,
            part_size,
            total_parts,
            created_at: now,
            expires_at: now.checked_add_signed(lifetime).unwrap_or(now),
            committed: None,
            owner: owner.to_string(),
        };
        let dir = self.data_dir.join("sessions").join(&id);
        tokio::fs::create_dir_all(dir.join("parts"))
            .await
            .map_err(io_err("creating session directory"))?;
        write_json_atomic(&dir.join("session.json"), &meta)
            .await
            .map_err(io_err("saving session"))?;
        let session = Arc::new(Session {
            id: id.clone(),
            dir,
            inner: Mutex::new(SessionInner {
                meta,
                parts: BTreeMap::new(),
                reserved: HashMap::new(),
                attempts: HashMap::new(),
                commit_attempts: 0,
                mismatch_fired: false,
                committing: false,
                gone: false,
            }),
        });
        self.sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, session.clone());
        self.counters().sessions_created += 1;
        Ok(session)
    }

    /// Looks a session up: 400 invalid_upload_session_id if malformed, 404 if unknown.
    pub fn session(&self, id: &str) -> Result<Arc<Session>, ApiError> {
        if !util::is_safe_id(id) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_upload_session_id",
                "The upload session ID is invalid",
            ));
        }
        self.sessions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(session_not_found)
    }

    pub fn remove_session(&self, id: &str) {
        self.sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// Part id: a bijective scramble of the part index, so ids are unique within a session.
    pub fn part_id(&self, seq: u64, index: u64) -> String {
        let key = util::mix(&[self.config.seed, seq, 0x9A27]) as u32;
        format!("{:08X}", (index as u32).wrapping_mul(0x9E37_79B1) ^ key)
    }

    /// UploadSession JSON.
    pub fn session_json(&self, meta: &SessionMeta, processed: u64) -> Value {
        let base = format!("{}/files/upload_sessions/{}", self.upload_base(), meta.id);
        json!({
            "type": "upload_session",
            "id": meta.id,
            "session_expires_at": util::rfc3339(meta.expires_at),
            "part_size": meta.part_size,
            "total_parts": meta.total_parts,
            "num_parts_processed": processed,
            "session_endpoints": {
                "upload_part": base,
                "commit": format!("{base}/commit"),
                "abort": base,
                "list_parts": format!("{base}/parts"),
                "status": base,
                "log_event": format!("{base}/log"),
            }
        })
    }

    /// Standard File JSON (the fields of File--Full that make sense here), or when
    /// `fields` is given, the File--Mini fields plus the requested ones.
    pub fn file_json(&self, f: &FileRecord, fields: Option<&[String]>) -> Value {
        let cur = f.current();
        let (vid, sha1) = cur
            .map(|v| (v.id.clone(), v.sha1.clone()))
            .unwrap_or_default();
        let parent = self.folder_json(&f.folder_id);
        let mut path = vec![self.folder_json("0")];
        if f.folder_id != "0" {
            path.push(parent.clone());
        }
        let user = json!({"type": "user", "id": "1", "name": "Emulator User", "login": "emulator@example.com"});
        let extension = match f.name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => ext.to_string(),
            _ => String::new(),
        };
        let full = json!({
            "type": "file",
            "id": f.id,
            "etag": f.etag_str(),
            "sequence_id": f.etag_str(),
            "name": f.name,
            "sha1": sha1,
            "file_version": {"type": "file_version", "id": vid, "sha1": sha1},
            "description": "",
            "size": f.size(),
            "path_collection": {"total_count": path.len(), "entries": path},
            "created_at": util::rfc3339(f.created_at),
            "modified_at": util::rfc3339(f.modified_at),
            "trashed_at": null,
            "purged_at": null,
            "content_created_at": util::rfc3339(f.content_created_at),
            "content_modified_at": util::rfc3339(f.content_modified_at),
            "created_by": user,
            "modified_by": user,
            "owned_by": user,
            "shared_link": null,
            "parent": parent,
            "item_status": "active",
            "version_number": f.versions.len().to_string(),
            "comment_count": 0,
            "extension": extension,
            "is_package": false,
            "tags": [],
        });
        match fields {
            None => full,
            Some(fields) => {
                let mut out = serde_json::Map::new();
                let Value::Object(full) = full else {
                    return Value::Null;
                };
                let base: HashSet<&str> = [
                    "type",
                    "id",
                    "etag",
                    "sequence_id",
                    "name",
                    "sha1",
                    "file_version",
                ]
                .into_iter()
                .collect();
                for (k, v) in full {
                    if base.contains(k.as_str()) || fields.iter().any(|f| f == &k) {
                        out.insert(k, v);
                    }
                }
                Value::Object(out)
            }
        }
    }

    pub fn files_json(&self, f: &FileRecord, fields: Option<&[String]>) -> Value {
        json!({"total_count": 1, "entries": [self.file_json(f, fields)]})
    }
}

pub(crate) fn session_not_found() -> ApiError {
    ApiError::not_found("The upload session was not found")
}

pub(crate) fn file_size_limit_error() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "file_size_limit_exceeded",
        "File size exceeds the folder owner's file size limit",
    )
}

pub(crate) fn storage_limit_error() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "storage_limit_exceeded",
        "Account storage limit reached",
    )
}

async fn load_session(dir: &Path) -> Option<Session> {
    let name = dir.file_name()?.to_str()?.to_string();
    if !util::is_safe_id(&name) {
        return None;
    }
    let data = tokio::fs::read(dir.join("session.json")).await.ok()?;
    let meta: SessionMeta = serde_json::from_slice(&data).ok()?;
    if meta.id != name || meta.part_size == 0 {
        return None;
    }
    let session = Session {
        id: name,
        dir: dir.to_path_buf(),
        inner: Mutex::new(SessionInner {
            meta: meta.clone(),
            parts: BTreeMap::new(),
            reserved: HashMap::new(),
            attempts: HashMap::new(),
            commit_attempts: 0,
            mismatch_fired: false,
            committing: false,
            gone: false,
        }),
    };
    let parts_dir = session.parts_dir();
    let _ = tokio::fs::create_dir_all(&parts_dir).await;
    let mut parts = BTreeMap::new();
    let mut data_files = HashSet::new();
    let mut rd = tokio::fs::read_dir(&parts_dir).await.ok()?;
    let mut entries = Vec::new();
    while let Ok(Some(e)) = rd.next_entry().await {
        entries.push(e.path());
    }
    for p in &entries {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let ext = p.extension().and_then(|s| s.to_str()).unwrap_or("");
        match (stem.parse::<u64>(), ext) {
            (Ok(i), "bin") => {
                data_files.insert(i);
            }
            (Ok(i), "json") => {
                let rec = tokio::fs::read(p)
                    .await
                    .ok()
                    .and_then(|d| serde_json::from_slice::<PartRecord>(&d).ok());
                if let Some(rec) = rec {
                    parts.insert(i, rec);
                }
            }
            _ => {
                let _ = tokio::fs::remove_file(p).await;
            }
        }
    }
    // A part counts only if both its data and its metadata made it to disk, and agree.
    let mut valid = BTreeMap::new();
    for (i, rec) in parts {
        let data_len = tokio::fs::metadata(session.part_data_path(i))
            .await
            .map(|m| m.len())
            .ok();
        if data_files.contains(&i)
            && data_len == Some(rec.size)
            && rec.offset == i.saturating_mul(meta.part_size)
        {
            valid.insert(i, rec);
        } else {
            let _ = tokio::fs::remove_file(session.part_meta_path(i)).await;
            let _ = tokio::fs::remove_file(session.part_data_path(i)).await;
        }
    }
    for i in data_files {
        if !valid.contains_key(&i) {
            let _ = tokio::fs::remove_file(session.part_data_path(i)).await;
        }
    }
    lock(&session.inner).parts = valid;
    Some(session)
}
