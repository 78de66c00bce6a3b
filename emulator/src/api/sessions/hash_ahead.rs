//! The whole file's SHA-1 hashed ahead of the commit, as the parts arrive: whenever the part
//! at the hashed prefix's end is stored (parts arrive out of order and in parallel), a
//! background task, one per session on a blocking thread, reads it from the session's data
//! file and advances [`Session::hash`] over it, noting on the part the file's SHA-1 state
//! after it (its `sha1_state`, when that ends on a SHA-1 block). The commit resumes from
//! there (see [`super::assemble`]), so it hashes only the parts not yet covered, typically
//! the last one or two; every byte is hashed once either way.
//!
//! Only stored parts are hashed, and a stored part's bytes never change while the session is
//! open (an upload of a stored part is refused before its body is read, a reused part is never
//! at a stored part's place, a writer fenced out of a region writes nothing more; see
//! [`crate::state::Region`]), so the prefix hashed stays the file's. The task stops, between
//! pieces of [`PIECE`] bytes, as soon as the session is committing, aborted, committed or
//! expired; it never holds the session lock during I/O, and part uploads never wait for
//! [`Session::hash`].

use crate::state::{lock, ResumableSha1, Session, SessionInner, Sha1State, Shared};
use chrono::Utc;
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

/// Bytes read and hashed at a time: what a commit that takes the hash over may wait for.
const PIECE: u64 = 1 << 20;

/// Starts the session's background hash unless one is at work (or the session cannot be
/// hashed now). Called once a part is stored, and when a commit ends without committing.
pub(crate) fn kick(st: &Arc<Shared>, session: &Arc<Session>) {
    {
        let mut inner = lock(&session.inner);
        if inner.hashing || !may_hash(&inner) {
            return;
        }
        inner.hashing = true;
    }
    let (st, session) = (st.clone(), session.clone());
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        lock(&session.inner).hashing = false;
        return;
    };
    rt.spawn_blocking(move || {
        let mut hasher = lock(&session.hash);
        if let Err(e) = advance(&st, &session, &mut hasher) {
            // Nothing lost: the commit hashes what is not covered.
            tracing::debug!("hashing session {} ahead: {e}", session.id);
            lock(&session.inner).hashing = false;
        }
    });
}

/// Whether the background hash may go on: the session is open, not expired, and no commit is
/// reading its file.
fn may_hash(inner: &SessionInner) -> bool {
    inner.is_open() && !inner.committing && Utc::now() < inner.meta.expires_at
}

/// The end of the part the hash at `pos` goes on with, if it is stored and the hash may go
/// on; else the task stops, saying so in the same critical section (so a part stored just
/// after is seen by the task or kicks a new one).
fn next_part(session: &Session, pos: u64) -> Option<u64> {
    let mut inner = lock(&session.inner);
    let index = pos / inner.meta.part_size.max(1);
    let end = inner
        .parts
        .get(&index)
        .map(|p| p.offset + p.size)
        .filter(|end| pos < *end && may_hash(&inner));
    if end.is_none() {
        inner.hashing = false;
    }
    end
}

/// Advances `hasher` over the stored parts from where it is, in pieces, recording the state
/// after each part, until the next part is not stored or the hash must stop.
fn advance(st: &Shared, session: &Session, hasher: &mut ResumableSha1) -> std::io::Result<()> {
    let file = std::fs::File::open(session.data_path())?;
    let mut buf = vec![0u8; PIECE as usize];
    while let Some(end) = next_part(session, hasher.len()) {
        let start = hasher.len();
        while hasher.len() < end {
            let want = (end - hasher.len()).min(PIECE) as usize;
            let n = file.read_at(&mut buf[..want], hasher.len())?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the session's data file ended early",
                ));
            }
            hasher.update(&buf[..n]);
            if hasher.len() < end {
                let mut inner = lock(&session.inner);
                if !may_hash(&inner) {
                    inner.hashing = false;
                    drop(inner);
                    st.counters().bytes_hashed_ahead += hasher.len() - start;
                    return Ok(());
                }
            }
        }
        st.counters().bytes_hashed_ahead += end - start;
        let state = hasher.state().map(Sha1State::to_hex);
        let mut inner = lock(&session.inner);
        let index = (end - 1) / inner.meta.part_size.max(1);
        if let Some(p) = inner.parts.get_mut(&index) {
            p.sha1_state = state;
        }
    }
    Ok(())
}

/// The background hash, for a commit to go on from (the session is committing, so the task
/// stops at its next piece and this waits at most for that): a copy of the hasher, and the
/// states it recorded after the parts it covers, set in `states` (by part index).
pub(crate) fn take_over(session: &Session, states: &mut [Option<String>]) -> ResumableSha1 {
    let hasher = lock(&session.hash).clone();
    let inner = lock(&session.inner);
    let covered = hasher.len() / inner.meta.part_size.max(1);
    for (i, p) in inner.parts.range(..covered) {
        if let Some(s) = states.get_mut(*i as usize) {
            s.clone_from(&p.sha1_state);
        }
    }
    hasher
}
