//! Upload sessions: the live session (its parts, reservations and region owners) and the
//! store's session operations (create, look up, remove).

use super::disk::{create_data_file, io_err, write_json_atomic};
use super::records::{PartRecord, SessionMeta, SessionTarget};
use super::{lock, Catalog, ResumableSha1, Shared};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::util;
use axum::http::StatusCode;
use chrono::Utc;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Hard cap on the number of parts of one session when the part size is configured.
pub(crate) const HARD_MAX_PARTS: u64 = 100_000;

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
    /// A background task is hashing the file's leading parts (see [`Session::hash`]).
    pub hashing: bool,
    /// The parts the plans answered as hits, by index (a later plan's answer replaces an
    /// earlier one's): what the hash ahead may read from the version's content.
    pub hits: HashMap<u64, PlanHit>,
}

impl SessionInner {
    pub(super) fn new(meta: SessionMeta) -> SessionInner {
        SessionInner {
            meta,
            parts: BTreeMap::new(),
            reserved: HashMap::new(),
            regions: HashMap::new(),
            attempts: HashMap::new(),
            commit_attempts: 0,
            mismatch_fired: false,
            committing: false,
            gone: false,
            hashing: false,
            hits: HashMap::new(),
        }
    }

    /// Neither aborted nor committed (expired sessions are open).
    pub fn is_open(&self) -> bool {
        !self.gone && self.meta.committed.is_none()
    }

    /// 404 if the session was aborted or committed, 410 session_expired if it expired.
    pub fn check_live(&self) -> Result<(), ApiError> {
        if !self.is_open() {
            return Err(ApiError::session_not_found());
        }
        if Utc::now() >= self.meta.expires_at {
            return Err(ApiError::new(
                StatusCode::GONE,
                "session_expired",
                "The upload session has expired",
            ));
        }
        Ok(())
    }

    /// The part stored or being stored at `index`.
    pub fn part_at(&self, index: u64) -> Option<&PartRecord> {
        self.parts.get(&index).or(self.reserved.get(&index))
    }
}

/// The owner of one part's region of a session's data file: the one request allowed to write
/// there. A request streams a part straight into its region only if nobody owns it; a request
/// that reserved the part (its body arrived whole and checked, in a temporary file) takes the
/// region over, fencing out a writer that stalled. Every write is made under `owner`, after
/// checking it still owns the region, so a fenced-out writer can never write again, even from
/// a blocking thread that outlives its request.
#[derive(Default)]
pub(crate) struct Region {
    pub owner: Mutex<RegionState>,
}

/// Who owns a [`Region`], and what a plan's copy left in it.
#[derive(Default)]
pub(crate) struct RegionState {
    /// The owner's token; `None` while nobody owns the region.
    pub token: Option<u64>,
    /// The version whose bytes of this part a plan's copy wrote whole into the region, if
    /// nobody took the region since (anyone who takes it clears this).
    pub filled_from: Option<String>,
}

/// A part the latest plan answered as a hit: the version whose part it is, and that version's
/// whole-file SHA-1 state after it (its record's `sha1_state`).
#[derive(Clone, Debug)]
pub(crate) struct PlanHit {
    pub version_id: String,
    pub sha1_state: Option<String>,
}

/// The whole file's SHA-1 hashed ahead of the commit (see `api::sessions::hash_ahead`).
#[derive(Clone)]
pub(crate) struct HashAhead {
    pub hasher: ResumableSha1,
    /// The parts covered as a plan's hits (read from their version's content, not from the
    /// session's file), by index. A commit trusts the hash over such a part only if it reuses
    /// the part from that version.
    pub hits: BTreeMap<u64, HashedHit>,
    /// The version whose hits make up everything covered so far, if any: the next hit of that
    /// version can be resumed over from its recorded state.
    pub leading: Option<String>,
}

/// A hit the hash ahead covered: the version it was read from, and the file's SHA-1 state
/// after it (when covered whole, at a SHA-1 block).
#[derive(Clone, Debug)]
pub(crate) struct HashedHit {
    pub version_id: String,
    pub state: Option<String>,
}

impl HashAhead {
    fn new() -> HashAhead {
        HashAhead {
            hasher: ResumableSha1::new(),
            hits: BTreeMap::new(),
            leading: None,
        }
    }
}

pub(crate) struct Session {
    pub id: String,
    pub dir: PathBuf,
    pub inner: Mutex<SessionInner>,
    /// The whole file's SHA-1 over its leading parts (parts 0, 1, ... with no gap, each stored
    /// or a plan's hit), as far as the background hash got: it advances
    /// as parts arrive, and a commit resumes from it (see `api::sessions::hash_ahead`). Held
    /// by whoever advances or reads it, never together with `inner` during I/O. In memory
    /// only: a restarted emulator starts over.
    pub hash: Mutex<HashAhead>,
}

impl Session {
    pub(super) fn new(dir: PathBuf, meta: SessionMeta) -> Session {
        Session {
            id: meta.id.clone(),
            dir,
            inner: Mutex::new(SessionInner::new(meta)),
            hash: Mutex::new(HashAhead::new()),
        }
    }
    pub fn parts_dir(&self) -> PathBuf {
        self.dir.join("parts")
    }
    /// The file being assembled: every part is written here at its offset.
    pub fn data_path(&self) -> PathBuf {
        self.dir.join("data")
    }
    pub fn meta_path(&self) -> PathBuf {
        self.dir.join("session.json")
    }
    pub fn part_meta_path(&self, index: u64) -> PathBuf {
        self.parts_dir().join(format!("{index}.json"))
    }
}

impl Shared {
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
        let session = Session::new(self.data_dir.join("sessions").join(&id), meta.clone());
        tokio::fs::create_dir_all(session.parts_dir())
            .await
            .map_err(io_err("creating session directory"))?;
        create_data_file(&session.data_path(), file_size)
            .await
            .map_err(io_err("creating session data file"))?;
        write_json_atomic(&session.meta_path(), &meta)
            .await
            .map_err(io_err("saving session"))?;
        let session = Arc::new(session);
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
            .ok_or_else(ApiError::session_not_found)
    }

    /// A session that `caller` may use: looked up as [`Shared::session`] does, then
    /// `403 forbidden` if another user created it. Box: "Only the user who initiated the upload
    /// session may upload to it" (common errors, `forbidden`, which has no documented message).
    /// Box documents this for part uploads; the emulator applies it to every operation on the
    /// session (status, parts, list, commit, abort, log), the stricter reading. It is checked
    /// before whether the session is still open, so another user learns nothing of its state.
    pub fn owned_session(&self, id: &str, caller: &Caller) -> Result<Arc<Session>, ApiError> {
        let session = self.session(id)?;
        if lock(&session.inner).meta.owner != caller.user {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Only the user who created the upload session may use it",
            ));
        }
        Ok(session)
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
}
