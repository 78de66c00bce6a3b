//! Opening the data directory: what a restarted emulator finds there (files, folders, open
//! sessions and their parts), checked, with the leftovers of a crash cleared away.

use super::catalog::{Catalog, Folders};
use super::disk::{create_data_file, read_records};
use super::faults::FaultState;
use super::records::{FileRecord, FolderRecord, IdState, PartRecord, SessionMeta, FIRST_ID};
use super::session::Session;
use super::{lock, Shared};
use crate::auth::AuthState;
use crate::config::Config;
use crate::counters::Counters;
use crate::util;
use chrono::Utc;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

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
        let mut catalog = Catalog::new(ids);
        load_files(&data_dir, &mut catalog).await?;
        let sessions = load_sessions(&data_dir, &mut catalog).await?;
        let folders = load_folders(&data_dir, &config, &mut catalog).await?;
        Ok(Shared {
            auth: Mutex::new(AuthState::new(&config)),
            jwt_key: None,
            faults: FaultState::new(config.faults.clone()),
            config,
            data_dir,
            temp_dir: None,
            base_url: String::new(),
            folders: RwLock::new(folders),
            catalog: tokio::sync::Mutex::new(catalog),
            sessions: RwLock::new(sessions),
            counters: Mutex::new(Counters::default()),
            upload_tokens: Mutex::new(VecDeque::new()),
            downloads: Default::default(),
            part_sha512s: Default::default(),
            tmp_seq: AtomicU64::new(0),
        })
    }
}

/// Every id a record holds moves the next id past it.
fn note_id(catalog: &mut Catalog, id: &str) {
    if let Ok(n) = id.parse::<u64>() {
        catalog.ids.next_id = catalog.ids.next_id.max(n + 1);
    }
}

async fn load_files(data_dir: &Path, catalog: &mut Catalog) -> std::io::Result<()> {
    for (p, record) in read_records::<FileRecord>(&data_dir.join("files")).await? {
        match record {
            Some(f) if util::is_numeric_id(&f.id) && !f.versions.is_empty() => {
                for v in &f.versions {
                    note_id(catalog, &v.id);
                }
                note_id(catalog, &f.id);
                let bytes = f.versions.iter().map(|v| v.size).sum::<u64>();
                catalog.insert(f, bytes);
            }
            _ => tracing::warn!("ignoring unreadable file record {}", p.display()),
        }
    }
    Ok(())
}

/// The root, the saved folders, then the configured ones.
async fn load_folders(
    data_dir: &Path,
    config: &Config,
    catalog: &mut Catalog,
) -> std::io::Result<Folders> {
    let mut folders = Folders::new();
    for (p, record) in read_records::<FolderRecord>(&data_dir.join("folders")).await? {
        match record {
            Some(f)
                if util::is_numeric_id(&f.id)
                    && f.id != "0"
                    && f.parent_id.as_deref().is_some_and(util::is_numeric_id) =>
            {
                note_id(catalog, &f.id);
                folders.insert(f);
            }
            _ => tracing::warn!("ignoring unreadable folder record {}", p.display()),
        }
    }
    let started = Utc::now();
    for f in &config.folders {
        if !folders.by_id.contains_key(f) {
            folders.insert(FolderRecord::configured(f, started));
        }
    }
    Ok(folders)
}

async fn load_sessions(
    data_dir: &Path,
    catalog: &mut Catalog,
) -> std::io::Result<HashMap<String, Arc<Session>>> {
    let mut sessions = HashMap::new();
    let mut rd = tokio::fs::read_dir(data_dir.join("sessions")).await?;
    while let Some(e) = rd.next_entry().await? {
        let dir = e.path();
        match load_session(&dir).await {
            Some(s) => {
                let seq = lock(&s.inner).meta.seq;
                catalog.ids.next_session_seq = catalog.ids.next_session_seq.max(seq + 1);
                sessions.insert(s.id.clone(), Arc::new(s));
            }
            None => {
                tracing::warn!("removing unreadable session {}", dir.display());
                let _ = tokio::fs::remove_dir_all(&dir).await;
            }
        }
    }
    Ok(sessions)
}

/// One session directory. A part counts only if its record is sound and the data file its
/// bytes were written into is whole; anything else in `parts/` is a leftover and goes.
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
    let session = Session::new(dir.to_path_buf(), meta.clone());
    let parts_dir = session.parts_dir();
    if meta.committed.is_some() {
        // The content went to blobs/; what is left is a crash between the two steps.
        let _ = tokio::fs::remove_file(session.data_path()).await;
        let _ = tokio::fs::remove_dir_all(&parts_dir).await;
        return Some(session);
    }
    let _ = tokio::fs::create_dir_all(&parts_dir).await;
    let mut parts = BTreeMap::new();
    let mut rd = tokio::fs::read_dir(&parts_dir).await.ok()?;
    let mut entries = Vec::new();
    while let Ok(Some(e)) = rd.next_entry().await {
        entries.push(e.path());
    }
    for p in entries {
        let index = p
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<u64>().ok());
        match (index, p.extension().and_then(|s| s.to_str())) {
            (Some(i), Some("json")) => {
                // An unreadable record stays: a new upload of the part overwrites it.
                let record = tokio::fs::read(&p)
                    .await
                    .ok()
                    .and_then(|d| serde_json::from_slice::<PartRecord>(&d).ok());
                if let Some(mut r) = record {
                    // A session's hash ahead is in memory only: it starts over, and sets
                    // the states again as it goes.
                    r.sha1_state = None;
                    parts.insert(i, r);
                }
            }
            _ => {
                let _ = tokio::fs::remove_file(&p).await;
            }
        }
    }
    // The data file must be there and whole, or no part's bytes can be trusted.
    let data_path = session.data_path();
    let data_ok = tokio::fs::metadata(&data_path)
        .await
        .map(|m| m.is_file() && m.len() == meta.file_size)
        .unwrap_or(false);
    if !data_ok {
        let _ = tokio::fs::remove_file(&data_path).await;
        create_data_file(&data_path, meta.file_size).await.ok()?;
    }
    let mut valid = BTreeMap::new();
    for (i, rec) in parts {
        let sound = rec.offset == i.saturating_mul(meta.part_size)
            && rec.offset < meta.file_size
            && rec.size == meta.part_size.min(meta.file_size - rec.offset);
        if sound && data_ok {
            valid.insert(i, rec);
        } else {
            let _ = tokio::fs::remove_file(session.part_meta_path(i)).await;
        }
    }
    lock(&session.inner).parts = valid;
    Some(session)
}
