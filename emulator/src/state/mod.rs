//! The emulator's state: files, versions, folders, sessions and parts, kept in memory and
//! persisted under the data directory, plus the runtime state the handlers share (counters,
//! faults, tokens).
//!
//! Layout of the data directory (every file name is a server-generated id, never a client
//! supplied name):
//!
//! ```text
//! state.json                     id counters (IdState)
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
//! `blobs/` instead of copying it; a version keeps the parts it was made of, each with the
//! file's SHA-1 state after it, so a later version's commit can reuse both.
//!
//! Modules: [`records`] (the data types), [`catalog`] (files and folders in memory),
//! [`store`] (file and folder operations), [`session`] (upload sessions), [`disk`] (atomic
//! writes, temporary files), [`sha1_resume`] (a SHA-1 that can be saved and resumed), [`part_sha512`] (version parts'
//! SHA-512s, computed once, in the background), [`load`] (opening the directory), [`json`] (Box's JSON of each
//! record), [`faults`] (injected faults and rate limits), [`tokens`] (the tokens known),
//! [`trash`] (trashing, purging and restoring), [`downloads`] (download URLs).

mod catalog;
mod disk;
mod downloads;
mod faults;
mod json;
mod load;
mod part_sha512;
mod records;
mod session;
mod sha1_resume;
mod store;
mod tokens;
mod trash;

pub(crate) use catalog::{Catalog, Item};
pub(crate) use disk::{copy_at, io_err, write_json_atomic, NewContent, TempDataDir, TempPath};
pub(crate) use faults::{part_fault, PartFault, RequestFault};
pub(crate) use records::{
    CommittedInfo, FileRecord, FolderRecord, PartRecord, SessionMeta, SessionTarget, VersionRecord,
};
pub(crate) use session::{
    HashAhead, HashedHit, PlanHit, Region, RegionState, Session, SessionInner,
};
pub(crate) use sha1_resume::{ResumableSha1, Sha1State};
pub(crate) use tokens::TokenOwner;

use crate::auth::{AuthState, JwtKey};
use crate::config::Config;
use crate::counters::Counters;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// Locks a mutex, taking the data of one poisoned by a panicking holder (every critical
/// section leaves its data consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Everything the handlers share.
pub(crate) struct Shared {
    pub config: Config,
    pub data_dir: PathBuf,
    /// `data_dir` when the emulator made it for itself: removed with the last reference to
    /// this state (set by `Emulator::start`, like `base_url`).
    pub temp_dir: Option<TempDataDir>,
    /// `http://HOST:PORT` (set by `Emulator::start` once the listener is bound).
    pub base_url: String,
    pub folders: RwLock<catalog::Folders>,
    pub catalog: tokio::sync::Mutex<Catalog>,
    pub sessions: RwLock<HashMap<String, Arc<Session>>>,
    pub counters: Mutex<Counters>,
    faults: faults::FaultState,
    upload_tokens: Mutex<VecDeque<String>>,
    /// Issued access and refresh tokens, used JWT ids.
    pub auth: Mutex<AuthState>,
    /// The JWT grant's key, when configured (set by `Emulator::start`, like `base_url`).
    pub jwt_key: Option<JwtKey>,
    /// The download URLs in force.
    downloads: downloads::Downloads,
    /// Version parts' SHA-512s being computed, and versions queued for it.
    part_sha512s: part_sha512::PartSha512s,
    tmp_seq: AtomicU64,
}

impl Shared {
    /// The upload base, `http://HOST:PORT/api/2.0`.
    pub fn upload_base(&self) -> String {
        format!("{}/api/2.0", self.base_url)
    }

    pub fn counters(&self) -> MutexGuard<'_, Counters> {
        lock(&self.counters)
    }
}
