//! Writing a part into its region of the session's data file: who owns the region
//! ([`RegionOwner`], see [`Region`]), the blocking writer that streams a part into it
//! ([`RegionWriter`]), and the reservation that holds a part's place until its record is
//! saved ([`Reservation`]).

use crate::error::ApiError;
use crate::state::{io_err, lock, PartRecord, Region, RegionState, Session};
use axum::http::StatusCode;
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// `416 range_overlaps_existing_part`: the part is already stored (or being stored); parts
/// are immutable.
pub(crate) fn overlap_error(existing: &PartRecord) -> ApiError {
    ApiError::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_overlaps_existing_part",
        "Part range overlaps with a previously uploaded part",
    )
    .with_context(json!({"conflicting_part": existing.json()}))
}

/// The answer to a part whose region was taken over by a good copy of the same part, reserved
/// or stored meanwhile.
pub(crate) fn taken_over(session: &Session, index: u64) -> ApiError {
    match lock(&session.inner).part_at(index) {
        Some(existing) => overlap_error(existing),
        None => {
            ApiError::internal("Internal Server Error (another upload of this part took its place)")
        }
    }
}

/// A part's place in its session while its record is saved: removed if the request ends
/// before the part is recorded.
pub(crate) struct Reservation<'a> {
    session: &'a Session,
    index: u64,
    armed: bool,
}

impl<'a> Reservation<'a> {
    /// Reserves `rec` at `index`: `404` if the session closed meanwhile, `416` if another
    /// upload of the part got there first.
    pub fn take(
        session: &'a Session,
        index: u64,
        rec: &PartRecord,
    ) -> Result<Reservation<'a>, ApiError> {
        let mut inner = lock(&session.inner);
        if !inner.is_open() {
            return Err(ApiError::session_not_found());
        }
        if let Some(existing) = inner.part_at(index) {
            return Err(overlap_error(existing));
        }
        inner.reserved.insert(index, rec.clone());
        Ok(Reservation {
            session,
            index,
            armed: true,
        })
    }

    /// Turns the reservation into a stored part (`404` if the session was aborted meanwhile).
    pub fn store(mut self, rec: PartRecord) -> Result<(), ApiError> {
        let mut inner = lock(&self.session.inner);
        inner.reserved.remove(&self.index);
        self.armed = false;
        if inner.gone {
            return Err(ApiError::session_not_found());
        }
        inner.parts.insert(self.index, rec);
        Ok(())
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.armed {
            lock(&self.session.inner).reserved.remove(&self.index);
        }
    }
}

/// Ownership of a part's region (see [`Region`]), given up when dropped.
pub(crate) struct RegionOwner {
    region: Arc<Region>,
    token: u64,
}

static REGION_TOKENS: AtomicU64 = AtomicU64::new(1);

impl RegionOwner {
    /// The region, if nobody owns it. Called under the session lock.
    pub fn try_take(region: &Arc<Region>) -> Option<RegionOwner> {
        let mut state = lock(&region.owner);
        if state.token.is_some() {
            return None;
        }
        let token = REGION_TOKENS.fetch_add(1, Ordering::Relaxed);
        *state = RegionState {
            token: Some(token),
            filled_from: None,
        };
        Some(RegionOwner {
            region: region.clone(),
            token,
        })
    }

    /// The region, whoever owned it: only for a part that holds its reservation. A write of
    /// the former owner in progress ends first (writes are made under the same lock).
    pub fn take_over(region: &Arc<Region>) -> RegionOwner {
        let token = REGION_TOKENS.fetch_add(1, Ordering::Relaxed);
        *lock(&region.owner) = RegionState {
            token: Some(token),
            filled_from: None,
        };
        RegionOwner {
            region: region.clone(),
            token,
        }
    }

    /// Writes `data` at `at` if the region is still this owner's; false if it was taken over.
    fn write_at(&self, file: &std::fs::File, data: &[u8], at: u64) -> std::io::Result<bool> {
        use std::os::unix::fs::FileExt as _;
        self.write_with(|| file.write_all_at(data, at))
    }

    /// Runs `write` (a write into the region) if the region is still this owner's, under
    /// the region's lock, so a take-over waits for it and fences every later one; false if
    /// the region was taken over.
    pub fn write_with(&self, write: impl FnOnce() -> std::io::Result<()>) -> std::io::Result<bool> {
        let state = lock(&self.region.owner);
        if state.token != Some(self.token) {
            return Ok(false);
        }
        write()?;
        Ok(true)
    }

    /// Notes that the region holds version `version_id`'s bytes of its part, written whole
    /// by this owner; false (nothing noted) if the region was taken over.
    pub fn mark_filled(&self, version_id: &str) -> bool {
        let mut state = lock(&self.region.owner);
        if state.token != Some(self.token) {
            return false;
        }
        state.filled_from = Some(version_id.to_string());
        true
    }
}

/// The version whose bytes of its part a plan's copy left whole in `region`, if nobody took
/// the region since.
pub(crate) fn filled_from(region: &Region) -> Option<String> {
    lock(&region.owner).filled_from.clone()
}

impl Drop for RegionOwner {
    fn drop(&mut self) {
        let mut state = lock(&self.region.owner);
        if state.token == Some(self.token) {
            state.token = None;
        }
    }
}

/// How a [`RegionWriter`] ended.
type WriterEnd = (std::io::Result<()>, Option<RegionOwner>);

/// Writes a part's chunks into its region of the data file with positioned writes, on a
/// blocking thread fed by a small channel (so hashing and writing overlap). The thread owns
/// the region: if the request is dropped mid-body, the region is given up only after the last
/// write queued has landed. If the region is taken over, the thread stops writing and hands
/// back no owner.
pub(crate) struct RegionWriter {
    tx: tokio::sync::mpsc::Sender<bytes::Bytes>,
    task: tokio::task::JoinHandle<WriterEnd>,
}

impl RegionWriter {
    pub fn start(path: PathBuf, offset: u64, owner: RegionOwner) -> RegionWriter {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
        let task = tokio::task::spawn_blocking(move || {
            let f = match std::fs::OpenOptions::new().write(true).open(&path) {
                Ok(f) => f,
                Err(e) => return (Err(e), Some(owner)),
            };
            let mut at = offset;
            while let Some(chunk) = rx.blocking_recv() {
                match owner.write_at(&f, &chunk, at) {
                    Ok(true) => at += chunk.len() as u64,
                    Ok(false) => return (Ok(()), None),
                    Err(e) => return (Err(e), Some(owner)),
                }
            }
            (Ok(()), Some(owner))
        });
        RegionWriter { tx, task }
    }

    /// Queues a chunk. If the writer stopped early (an I/O error, or the region was taken
    /// over), the chunk is dropped and [`RegionWriter::finish`] tells why.
    pub async fn send(&mut self, chunk: bytes::Bytes) {
        let _ = self.tx.send(chunk).await;
    }

    /// Waits for every queued write; hands the region back, or `None` if it was taken over.
    pub async fn finish(self) -> Result<Option<RegionOwner>, ApiError> {
        let RegionWriter { tx, task } = self;
        drop(tx);
        let (r, owner) = task
            .await
            .map_err(|e| ApiError::internal(format!("Internal Server Error ({e})")))?;
        r.map_err(io_err("writing part data"))?;
        Ok(owner)
    }
}
