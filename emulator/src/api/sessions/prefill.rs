//! A plan's hits copied into the session's data file as soon as the plan is answered, while
//! the client uploads the misses, so the commit that reuses them finds their bytes in place
//! and copies nothing (see [`super::assemble`]). Nothing of this shows in the API: it only
//! moves the copy from the commit to the time the client spends uploading.
//!
//! The copy writes like any upload, as the owner of the part's region (see
//! [`crate::state::Region`]): it takes only a region nobody owns, of a part neither stored nor
//! reserved, and writes in pieces under the region's lock, so an upload of that part (a hit
//! may be uploaded anyway) or a commit that takes the region over waits at most for one piece
//! and fences the rest. Once a part is copied whole it marks the region filled from the
//! version; whoever takes the region next clears the mark, so a commit trusts the bytes only
//! if nobody took the region since.

use super::region::{filled_from, RegionOwner};
use crate::state::{lock, Session, Shared};
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;
use std::sync::Arc;

/// Bytes copied under the region's lock at a time: what a take-over may wait for.
const PIECE: u64 = 4 << 20;

/// A hit to copy: the session's part index, and the part's place in the file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hit {
    pub index: u64,
    pub offset: u64,
    pub size: u64,
}

/// Copies `hits`, parts of version `version_id`, into `session`'s data file on a blocking
/// thread, in the background.
pub(crate) fn start(st: Arc<Shared>, session: Arc<Session>, version_id: String, hits: Vec<Hit>) {
    if hits.is_empty() {
        return;
    }
    let blob = st.blob_path(&version_id);
    tokio::task::spawn_blocking(move || {
        let mut done = 0u64;
        for hit in hits {
            match copy_hit(&session, &blob, &version_id, hit) {
                Ok(true) => done += 1,
                Ok(false) => {}
                Err(e) => {
                    // Nothing lost: the commit copies what is not in place.
                    tracing::debug!("copying hit {} of session {}: {e}", hit.index, session.id);
                    break;
                }
            }
        }
        st.counters().parts_prefilled += done;
    });
}

/// Copies one hit if its region is free; true if the region holds it whole now.
fn copy_hit(session: &Session, blob: &Path, version_id: &str, hit: Hit) -> std::io::Result<bool> {
    let owner = {
        let mut inner = lock(&session.inner);
        if !inner.is_open() || inner.committing || inner.part_at(hit.index).is_some() {
            return Ok(false);
        }
        let region = inner.regions.entry(hit.index).or_default().clone();
        if filled_from(&region).as_deref() == Some(version_id) {
            return Ok(false);
        }
        match RegionOwner::try_take(&region) {
            Some(owner) => owner,
            None => return Ok(false),
        }
    };
    let mut src = std::fs::File::open(blob)?;
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .open(session.data_path())?;
    let mut at = hit.offset;
    let end = hit.offset + hit.size;
    while at < end {
        let len = PIECE.min(end - at);
        let wrote = owner.write_with(|| {
            src.seek(SeekFrom::Start(at))?;
            dst.seek(SeekFrom::Start(at))?;
            let n = std::io::copy(&mut (&mut src).take(len), &mut dst)?;
            if n != len {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the version's content ended early",
                ));
            }
            Ok(())
        })?;
        if !wrote {
            return Ok(false);
        }
        at += len;
    }
    Ok(owner.mark_filled(version_id))
}
