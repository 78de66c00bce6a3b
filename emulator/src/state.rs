//! The emulator's state: files, versions, sessions and parts, kept in memory and persisted
//! under the data directory.
//!
//! Layout of the data directory (every file name is a server-generated id, never a client
//! supplied name):
//!
//! ```text
//! state.json                     id counters
//! files/<file_id>.json           a file and all its versions (FileRecord)
//! folders/<folder_id>.json       a folder made by `POST /2.0/folders` (FolderRecord)
//! blobs/<version_id>             content of one file version
//! sessions/<session_id>/session.json    SessionMeta
//! sessions/<session_id>/data             the file being assembled: `file_size` bytes (sparse),
//!                                        each part written at its offset
//! sessions/<session_id>/parts/<index>.json  PartRecord (written after the part's bytes)
//! tmp/                           bodies being received; emptied at start-up
//! ```
//!
//! JSON files are written to a temporary name and renamed into place, so a crash leaves
//! either the old or the new version. A part counts only once its record is on disk; the bytes
//! of a region with no record mean nothing (a later upload of that part overwrites them), so a
//! part whose body broke mid-way leaves no trace. The commit hashes `data` and links it into
//! `blobs/` instead of copying it. Sessions of the older layout (one `parts/<index>.bin` per
//! part) are moved into `data` when loaded.

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

/// A folder. The root (`"0"`, "All Files") and the folders of [`Config::folders`] are made
/// at start-up and not persisted; folders made by `POST /2.0/folders` are saved under
/// `folders/`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct FolderRecord {
    pub id: String,
    pub name: String,
    /// `None` for the root only.
    pub parent_id: Option<String>,
    /// `etag` and `sequence_id` are its decimal form (nothing changes a folder yet: 0).
    pub etag: u64,
    /// `None` for the root, as Box answers for "All Files".
    pub created_at: Option<DateTime<Utc>>,
    pub modified_at: Option<DateTime<Utc>>,
    /// Made from [`Config::folders`] or `Emulator::add_folder`: not persisted, and not an
    /// item of the root (it holds no name there and is not listed). These stand for folders
    /// the caller reaches by id, as before folders could be made; their `parent` reads as
    /// the root.
    #[serde(skip)]
    pub configured: bool,
}

impl FolderRecord {
    /// Folder--Mini: `type`, `id`, `sequence_id`, `etag`, `name` (the root's `sequence_id`
    /// and `etag` are null, as Box's).
    pub fn mini_json(&self) -> Value {
        if self.id == "0" {
            json!({"type": "folder", "id": "0", "sequence_id": null, "etag": null, "name": self.name})
        } else {
            json!({"type": "folder", "id": self.id, "sequence_id": self.etag.to_string(),
                   "etag": self.etag.to_string(), "name": self.name})
        }
    }
}

/// Every folder, and the folder names by parent.
pub(crate) struct Folders {
    pub by_id: BTreeMap<String, FolderRecord>,
    /// (parent id, lower-cased name) -> folder id.
    pub names: HashMap<(String, String), String>,
}

impl Folders {
    fn insert(&mut self, f: FolderRecord) {
        if let (Some(p), false) = (&f.parent_id, f.configured) {
            self.names
                .entry((p.clone(), util::name_key(&f.name)))
                .or_insert_with(|| f.id.clone());
        }
        self.by_id.insert(f.id.clone(), f);
    }

    pub fn find_by_name(&self, parent_id: &str, name: &str) -> Option<&FolderRecord> {
        self.names
            .get(&(parent_id.to_string(), util::name_key(name)))
            .and_then(|id| self.by_id.get(id))
    }

    /// The folder and its ancestors, root first (empty if there is no such folder).
    pub fn chain(&self, id: &str) -> Vec<&FolderRecord> {
        let mut out = Vec::new();
        let mut cur = self.by_id.get(id);
        while let Some(f) = cur {
            out.push(f);
            if out.len() > self.by_id.len() {
                break; // a cycle in hand-edited data
            }
            cur = f.parent_id.as_ref().and_then(|p| self.by_id.get(p));
        }
        out.reverse();
        out
    }

    /// The ids of the folder and every folder below it.
    pub fn subtree(&self, id: &str) -> HashSet<String> {
        let mut out = HashSet::new();
        out.insert(id.to_string());
        let mut grew = true;
        while grew {
            grew = false;
            for f in self.by_id.values() {
                if let (Some(p), false) = (&f.parent_id, f.configured) {
                    if out.contains(p) && !out.contains(&f.id) {
                        out.insert(f.id.clone());
                        grew = true;
                    }
                }
            }
        }
        out
    }
}

/// A folder entry or a file entry of a listing.
pub(crate) enum Item {
    Folder(FolderRecord),
    File(FileRecord),
}

impl Item {
    /// Listing order: folders before files, then by name (case-insensitively), then id.
    pub fn sort_key(&self) -> (u8, String, u64) {
        match self {
            Item::Folder(f) => (0, util::name_key(&f.name), f.id.parse().unwrap_or(0)),
            Item::File(f) => (1, util::name_key(&f.name), f.id.parse().unwrap_or(0)),
        }
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
    /// Who may write each part's region of `data` (see [`Region`]).
    pub regions: HashMap<u64, Arc<Region>>,
    /// Upload attempts per part index (for reproducible fault decisions).
    pub attempts: HashMap<u64, u32>,
    pub commit_attempts: u32,
    pub mismatch_fired: bool,
    pub committing: bool,
    /// Aborted (or otherwise removed).
    pub gone: bool,
}

/// The owner of one part's region of a session's data file: the one request allowed to write
/// there. A request streams a part straight into its region only if nobody owns it; a request
/// that reserved the part (its body arrived whole and checked, in a temporary file) takes the
/// region over, fencing out a writer that stalled. Every write is made under `owner`, after
/// checking it still owns the region, so a fenced-out writer can never write again, even from
/// a blocking thread that outlives its request.
#[derive(Default)]
pub(crate) struct Region {
    pub owner: Mutex<Option<u64>>,
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
    /// The file being assembled: every part is written here at its offset.
    pub fn data_path(&self) -> PathBuf {
        self.dir.join("data")
    }
    /// Part data of the older layout (one file a part), moved into `data` when loaded.
    fn legacy_part_data_path(&self, index: u64) -> PathBuf {
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
    pub folders: RwLock<Folders>,
    pub catalog: tokio::sync::Mutex<Catalog>,
    pub sessions: RwLock<HashMap<String, Arc<Session>>>,
    pub counters: Mutex<Counters>,
    pub faults: RwLock<FaultConfig>,
    pub rate: Mutex<RateWindow>,
    /// The window of `rate_limit_uploads` (direct uploads and session creations).
    pub upload_rate: Mutex<RateWindow>,
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
        for sub in ["files", "folders", "blobs", "sessions", "tmp"] {
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
        for (p, record) in read_records::<FileRecord>(&data_dir.join("files")).await? {
            match record {
                Some(f) if util::is_numeric_id(&f.id) && !f.versions.is_empty() => {
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

        // Folders: the root, the saved ones, then the configured ones.
        let mut folders = Folders {
            by_id: BTreeMap::new(),
            names: HashMap::new(),
        };
        folders.insert(FolderRecord {
            id: "0".to_string(),
            name: "All Files".to_string(),
            parent_id: None,
            etag: 0,
            created_at: None,
            modified_at: None,
            configured: true,
        });
        for (p, record) in read_records::<FolderRecord>(&data_dir.join("folders")).await? {
            match record {
                Some(f)
                    if util::is_numeric_id(&f.id)
                        && f.id != "0"
                        && f.parent_id.as_deref().is_some_and(util::is_numeric_id) =>
                {
                    if let Ok(n) = f.id.parse::<u64>() {
                        catalog.ids.next_id = catalog.ids.next_id.max(n + 1);
                    }
                    folders.insert(f);
                }
                _ => tracing::warn!("ignoring unreadable folder record {}", p.display()),
            }
        }
        let started = Utc::now();
        for f in &config.folders {
            if !folders.by_id.contains_key(f) {
                folders.insert(FolderRecord {
                    id: f.clone(),
                    name: format!("Folder {f}"),
                    parent_id: Some("0".to_string()),
                    etag: 0,
                    created_at: Some(started),
                    modified_at: Some(started),
                    configured: true,
                });
            }
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
            upload_rate: Mutex::new(RateWindow {
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

    pub fn folders(&self) -> std::sync::RwLockReadGuard<'_, Folders> {
        self.folders.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn folder_name(&self, id: &str) -> Option<String> {
        self.folders().by_id.get(id).map(|f| f.name.clone())
    }

    pub fn folder(&self, id: &str) -> Option<FolderRecord> {
        self.folders().by_id.get(id).cloned()
    }

    /// Folder--Mini of folder `id` (a placeholder if it does not exist).
    pub fn folder_json(&self, id: &str) -> Value {
        match self.folders().by_id.get(id) {
            Some(f) => f.mini_json(),
            None => json!({"type": "folder", "id": id, "sequence_id": "0", "etag": "0",
                           "name": format!("Folder {id}")}),
        }
    }

    /// `path_collection` of an item in folder `parent_id`: the folder and its ancestors,
    /// root first, as Folder--Mini.
    pub fn path_collection(&self, parent_id: &str) -> Value {
        let folders = self.folders();
        let entries: Vec<Value> = folders
            .chain(parent_id)
            .into_iter()
            .map(FolderRecord::mini_json)
            .collect();
        json!({"total_count": entries.len(), "entries": entries})
    }

    /// What holds `name` in folder `folder_id` (case-insensitively): a file (other than
    /// `except`) or a folder.
    pub fn name_holder(
        &self,
        catalog: &Catalog,
        folder_id: &str,
        name: &str,
        except: Option<&str>,
    ) -> Option<Value> {
        if let Some(existing) = catalog.find_by_name(folder_id, name) {
            if Some(existing.id.as_str()) != except {
                return Some(existing.mini_json());
            }
        }
        self.folders()
            .find_by_name(folder_id, name)
            .map(FolderRecord::mini_json)
    }

    /// The items of folder `id` in listing order (folders first, then by name).
    pub fn folder_items(&self, catalog: &Catalog, id: &str) -> Vec<Item> {
        let mut items: Vec<Item> = self
            .folders()
            .by_id
            .values()
            .filter(|f| !f.configured && f.parent_id.as_deref() == Some(id))
            .cloned()
            .map(Item::Folder)
            .collect();
        items.extend(
            catalog
                .files
                .values()
                .filter(|f| f.folder_id == id)
                .cloned()
                .map(Item::File),
        );
        items.sort_by_cached_key(Item::sort_key);
        items
    }

    /// Total size of the current versions of the files in folder `id` and below.
    pub fn folder_size(&self, catalog: &Catalog, id: &str) -> u64 {
        let ids = self.folders().subtree(id);
        catalog
            .files
            .values()
            .filter(|f| ids.contains(&f.folder_id))
            .map(FileRecord::size)
            .sum()
    }

    /// Makes a folder named `name` in `parent_id` and persists it. The caller holds the
    /// catalog (which serializes every change of names) and has checked the name's syntax.
    pub async fn create_folder(
        &self,
        catalog: &mut Catalog,
        parent_id: &str,
        name: &str,
    ) -> Result<FolderRecord, ApiError> {
        if self.folder_name(parent_id).is_none() {
            return Err(ApiError::not_found("Could not find the specified resource"));
        }
        if let Some(holder) = self.name_holder(catalog, parent_id, name, None) {
            // Box's create-folder conflict lists the item in an array (ConflictError), where
            // its file uploads give one object.
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "item_name_in_use",
                "Item with the same name already exists",
            )
            .with_context(json!({"conflicts": [holder]})));
        }
        let id = loop {
            let id = self.alloc_id(catalog).await?;
            if !self.folders().by_id.contains_key(&id) {
                break id;
            }
        };
        let now = Utc::now();
        let f = FolderRecord {
            id: id.clone(),
            name: name.to_string(),
            parent_id: Some(parent_id.to_string()),
            etag: 0,
            created_at: Some(now),
            modified_at: Some(now),
            configured: false,
        };
        write_json_atomic(
            &self.data_dir.join("folders").join(format!("{id}.json")),
            &f,
        )
        .await
        .map_err(io_err("saving folder"))?;
        self.folders
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(f.clone());
        self.counters().folders_created += 1;
        Ok(f)
    }

    /// Adds a folder that is not persisted (configuration, `Emulator::add_folder`) under the
    /// root, named `Folder <id>`, if there is none with that id.
    pub fn add_configured_folder(&self, id: &str) {
        let mut folders = self.folders.write().unwrap_or_else(|e| e.into_inner());
        if !folders.by_id.contains_key(id) {
            let now = Utc::now();
            folders.insert(FolderRecord {
                id: id.to_string(),
                name: format!("Folder {id}"),
                parent_id: Some("0".to_string()),
                etag: 0,
                created_at: Some(now),
                modified_at: Some(now),
                configured: true,
            });
        }
    }

    /// Standard Folder JSON (with the first 100 items as `item_collection`), or with `fields`
    /// Folder--Mini plus the requested fields.
    pub fn folder_full_json(
        &self,
        catalog: &Catalog,
        f: &FolderRecord,
        fields: Option<&[String]>,
    ) -> Value {
        let user = json!({"type": "user", "id": "1", "name": "Emulator User", "login": "emulator@example.com"});
        let (parent, path) = match &f.parent_id {
            Some(p) => (self.folder_json(p), self.path_collection(p)),
            None => (Value::Null, json!({"total_count": 0, "entries": []})),
        };
        let items = self.folder_items(catalog, &f.id);
        let total = items.len();
        let entries: Vec<Value> = items
            .iter()
            .take(100)
            .map(|i| self.item_json(i, None))
            .collect();
        let time = |t: Option<DateTime<Utc>>| t.map(util::rfc3339);
        let full = json!({
            "type": "folder",
            "id": f.id,
            "sequence_id": f.mini_json()["sequence_id"],
            "etag": f.mini_json()["etag"],
            "name": f.name,
            "created_at": time(f.created_at),
            "modified_at": time(f.modified_at),
            "description": "",
            "size": self.folder_size(catalog, &f.id),
            "path_collection": path,
            "created_by": user,
            "modified_by": user,
            "trashed_at": null,
            "purged_at": null,
            "content_created_at": time(f.created_at),
            "content_modified_at": time(f.modified_at),
            "owned_by": user,
            "shared_link": null,
            "folder_upload_email": null,
            "parent": parent,
            "item_status": "active",
            "item_collection": {
                "total_count": total,
                "entries": entries,
                "offset": 0,
                "limit": 100,
                "order": [{"by": "type", "direction": "ASC"}, {"by": "name", "direction": "ASC"}],
            },
        });
        select_fields(full, fields, &["type", "id", "sequence_id", "etag", "name"])
    }

    /// A listing entry: Folder--Mini or File--Mini, plus the requested `fields`.
    pub fn item_json(&self, item: &Item, fields: Option<&[String]>) -> Value {
        match (item, fields) {
            (Item::File(f), None) => f.mini_json(),
            (Item::File(f), Some(_)) => self.file_json(f, fields),
            (Item::Folder(f), None) => f.mini_json(),
            (Item::Folder(f), Some(fields)) => {
                let time = |t: Option<DateTime<Utc>>| t.map(util::rfc3339);
                // Only what a listing can afford per entry; `size` sums the folder's files.
                let mut v = f.mini_json();
                let extra = [
                    ("created_at", json!(time(f.created_at))),
                    ("modified_at", json!(time(f.modified_at))),
                    ("content_created_at", json!(time(f.created_at))),
                    ("content_modified_at", json!(time(f.modified_at))),
                    ("item_status", json!("active")),
                    ("description", json!("")),
                    ("trashed_at", Value::Null),
                    ("purged_at", Value::Null),
                    ("shared_link", Value::Null),
                    (
                        "parent",
                        f.parent_id
                            .as_deref()
                            .map(|p| self.folder_json(p))
                            .unwrap_or(Value::Null),
                    ),
                ];
                for (k, val) in extra {
                    if fields.iter().any(|x| x == k) {
                        v[k] = val;
                    }
                }
                if fields.iter().any(|x| x == "path_collection") {
                    v["path_collection"] = match &f.parent_id {
                        Some(p) => self.path_collection(p),
                        None => json!({"total_count": 0, "entries": []}),
                    };
                }
                v
            }
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

    /// 409 item_name_in_use if `name` is taken in `folder_id` by a file other than `except`
    /// or by a folder (names are unique per folder across files and folders,
    /// case-insensitively). `context_info.conflicts` is the item, one object, as Box's file
    /// uploads answer.
    pub fn check_name_free(
        &self,
        catalog: &Catalog,
        folder_id: &str,
        name: &str,
        except: Option<&str>,
    ) -> Result<(), ApiError> {
        if let Some(holder) = self.name_holder(catalog, folder_id, name, except) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "item_name_in_use",
                "Item with the same name already exists",
            )
            .with_context(json!({ "conflicts": holder })));
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
        create_data_file(&dir.join("data"), file_size)
            .await
            .map_err(io_err("creating session data file"))?;
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
                regions: HashMap::new(),
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
        let path = self.path_collection(&f.folder_id);
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
            "path_collection": path,
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
        select_fields(
            full,
            fields,
            &[
                "type",
                "id",
                "etag",
                "sequence_id",
                "name",
                "sha1",
                "file_version",
            ],
        )
    }

    pub fn files_json(&self, f: &FileRecord, fields: Option<&[String]>) -> Value {
        json!({"total_count": 1, "entries": [self.file_json(f, fields)]})
    }
}

/// With `fields`, the `base` (mini) fields of `full` plus the requested ones, in `full`'s
/// order; without, `full`.
fn select_fields(full: Value, fields: Option<&[String]>, base: &[&str]) -> Value {
    let (Some(fields), Value::Object(full)) = (fields, &full) else {
        return full;
    };
    let out: serde_json::Map<String, Value> = full
        .iter()
        .filter(|(k, _)| base.contains(&k.as_str()) || fields.iter().any(|f| f == *k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(out)
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

/// The JSON records in `dir` (files or folders), each with its path and `None` when it cannot
/// be read or parsed (the caller warns). Anything not `*.json` is a temporary left by a crash
/// and is removed.
async fn read_records<T: serde::de::DeserializeOwned>(
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
            regions: HashMap::new(),
            attempts: HashMap::new(),
            commit_attempts: 0,
            mismatch_fired: false,
            committing: false,
            gone: false,
        }),
    };
    let parts_dir = session.parts_dir();
    if meta.committed.is_some() {
        // The content went to blobs/; what is left is a crash between the two steps.
        let _ = tokio::fs::remove_file(session.data_path()).await;
        let _ = tokio::fs::remove_dir_all(&parts_dir).await;
        return Some(session);
    }
    let _ = tokio::fs::create_dir_all(&parts_dir).await;
    let mut parts = BTreeMap::new();
    let mut legacy_data = HashSet::new();
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
                legacy_data.insert(i);
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
    // The data file must be there and whole; a session of the older layout has none yet.
    let data_path = session.data_path();
    let data_ok = tokio::fs::metadata(&data_path)
        .await
        .map(|m| m.is_file() && m.len() == meta.file_size)
        .unwrap_or(false);
    if !data_ok {
        let _ = tokio::fs::remove_file(&data_path).await;
        create_data_file(&data_path, meta.file_size).await.ok()?;
    }
    // A part counts only if its record is sound and its bytes are in `data` (or, for the
    // older layout, in a part file of the right length, moved into `data` now).
    let mut valid = BTreeMap::new();
    for (i, rec) in parts {
        let sound = rec.offset == i.saturating_mul(meta.part_size)
            && rec.offset < meta.file_size
            && rec.size == meta.part_size.min(meta.file_size - rec.offset);
        let legacy = session.legacy_part_data_path(i);
        let in_place = if !sound {
            false
        } else if legacy_data.contains(&i) {
            migrate_legacy_part(&legacy, &data_path, rec.offset, rec.size)
                .await
                .is_ok()
        } else {
            data_ok
        };
        if in_place {
            valid.insert(i, rec);
        } else {
            let _ = tokio::fs::remove_file(session.part_meta_path(i)).await;
        }
    }
    for i in legacy_data {
        let _ = tokio::fs::remove_file(session.legacy_part_data_path(i)).await;
    }
    lock(&session.inner).parts = valid;
    Some(session)
}

/// Creates (or truncates) a session's data file and extends it, sparse, to `size` bytes.
async fn create_data_file(path: &Path, size: u64) -> std::io::Result<()> {
    let f = tokio::fs::File::create(path).await?;
    f.set_len(size).await
}

/// Copies a part file of the older layout into the data file at `offset`, if it holds
/// exactly `size` bytes.
async fn migrate_legacy_part(
    part: &Path,
    data: &Path,
    offset: u64,
    size: u64,
) -> std::io::Result<()> {
    let part = part.to_path_buf();
    let data = data.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let src = std::fs::File::open(&part)?;
        if src.metadata()?.len() != size {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "part file of the wrong length",
            ));
        }
        let dst = std::fs::OpenOptions::new().write(true).open(&data)?;
        copy_at(&src, &dst, offset, size)
    })
    .await
    .map_err(std::io::Error::other)?
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
