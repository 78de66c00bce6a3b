//! The whole file's SHA-1 hashed ahead of the commit, as the parts arrive: whenever the part
//! at the hashed prefix's end is in place (parts arrive out of order and in parallel), a
//! background task, one per session on a blocking thread, reads it and advances
//! [`Session::hash`] over it, noting the file's SHA-1 state after it (when that ends on a
//! SHA-1 block). The commit resumes from there ([`take_over`], see [`super::assemble`]), so it
//! hashes only the parts not yet covered, typically those that arrived last; every byte is
//! hashed once either way.
//!
//! A part is in place when it is stored (read from the session's data file), or when a plan
//! answered it as a hit (read from the version's content, which the commit that reuses it
//! copies or a plan's copy put in the file: the same bytes). A hit that leads the file, behind
//! nothing but hits of the same version, is not even read: the version recorded its SHA-1 state
//! after the part, which is this file's too (the same bytes before it), and the hash resumes
//! from it.
//!
//! A stored part's bytes never change while the session is open (an upload of a stored part
//! is refused before its body is read, a reused part is never at a stored part's place, a
//! writer fenced out of a region writes nothing more; see [`crate::state::Region`]). A hit is
//! only a hit if the commit reuses it: the client may upload the part instead. So the hash notes
//! each hit it covers, and a commit trusts the hash only up to the first of them that it does
//! not reuse from that version, going on from the last state recorded before it. The task
//! stops, between pieces of [`PIECE`] bytes, as soon as the session is committing, aborted,
//! committed or expired; it never holds the session lock during I/O, and part uploads never
//! wait for [`Session::hash`].

use crate::state::{
    lock, HashAhead, HashedHit, PlanHit, ResumableSha1, Session, SessionInner, Sha1State, Shared,
};
use chrono::Utc;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

/// Bytes read and hashed at a time: what a commit that takes the hash over may wait for.
const PIECE: u64 = 1 << 20;

/// Starts the session's background hash unless one is at work (or the session cannot be
/// hashed now). Called once a part is stored or a plan answered, and when a commit ends
/// without committing.
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
        let mut ahead = lock(&session.hash);
        if let Err(e) = advance(&st, &session, &mut ahead) {
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

/// The part the hash goes on with.
struct Next {
    index: u64,
    /// Where the part begins and ends.
    begin: u64,
    end: u64,
    /// A plan's hit, or `None`: a stored part.
    hit: Option<PlanHit>,
}

/// The part the hash at `pos` goes on with, if it is in place (a stored part before a hit) and
/// the hash may go on; else the task stops, saying so in the same critical section (so a part
/// stored or a plan answered just after is seen by the task or kicks a new one).
fn next_part(session: &Session, pos: u64) -> Option<Next> {
    let mut inner = lock(&session.inner);
    let part_size = inner.meta.part_size.max(1);
    let index = pos / part_size;
    let begin = index.saturating_mul(part_size);
    let end = begin.saturating_add(part_size).min(inner.meta.file_size);
    let next = if !may_hash(&inner) || pos >= end {
        None
    } else if inner.parts.contains_key(&index) {
        Some(Next {
            index,
            begin,
            end,
            hit: None,
        })
    } else {
        inner.hits.get(&index).map(|h| Next {
            index,
            begin,
            end,
            hit: Some(h.clone()),
        })
    };
    if next.is_none() {
        inner.hashing = false;
    }
    next
}

/// Advances the hash over the parts in place from where it is, in pieces, recording the state
/// after each part, until the next part is not in place or the hash must stop.
fn advance(st: &Shared, session: &Session, ahead: &mut HashAhead) -> std::io::Result<()> {
    let data = File::open(session.data_path())?;
    // The content of the version last read from.
    let mut blob: Option<(String, File)> = None;
    let mut buf = vec![0u8; PIECE as usize];
    while let Some(next) = next_part(session, ahead.hasher.len()) {
        let start = ahead.hasher.len();
        let half_from = ahead.hits.get(&next.index).map(|h| h.version_id.as_str());
        let Some(hit) = next.hit else {
            if half_from.is_some() {
                // Half hashed as a hit, stored since: the commit will not trust this part.
                stop(session);
                return Ok(());
            }
            if !hash_to(st, session, &data, &mut ahead.hasher, next.end, &mut buf)? {
                return Ok(());
            }
            ahead.leading = None;
            let state = ahead.hasher.state().map(Sha1State::to_hex);
            if let Some(p) = lock(&session.inner).parts.get_mut(&next.index) {
                p.sha1_state = state;
            }
            continue;
        };
        if half_from.is_some_and(|v| v != hit.version_id) {
            // Half hashed from another version: the commit will not trust this part.
            stop(session);
            return Ok(());
        }
        let leads = start == 0 || ahead.leading.as_deref() == Some(hit.version_id.as_str());
        ahead.hits.insert(
            next.index,
            HashedHit {
                version_id: hit.version_id.clone(),
                state: None,
            },
        );
        let resumed = hit
            .sha1_state
            .as_deref()
            .and_then(|h| Sha1State::from_hex(h, next.end))
            .filter(|_| leads && start == next.begin);
        if let Some(state) = resumed {
            // The version's bytes up to here: its state is the file's.
            ahead.hasher = ResumableSha1::resume(state);
        } else {
            let file = match blob.take() {
                Some((v, f)) if v == hit.version_id => f,
                _ => File::open(st.blob_path(&hit.version_id))?,
            };
            let went_on = hash_to(st, session, &file, &mut ahead.hasher, next.end, &mut buf)?;
            blob = Some((hit.version_id.clone(), file));
            if !went_on {
                return Ok(());
            }
        }
        ahead.leading = leads.then_some(hit.version_id);
        let state = ahead.hasher.state().map(Sha1State::to_hex);
        if let Some(h) = ahead.hits.get_mut(&next.index) {
            h.state = state;
        }
    }
    Ok(())
}

/// Marks the task stopped.
fn stop(session: &Session) {
    lock(&session.inner).hashing = false;
}

/// Hashes `file` (the session's data file, or a version's content: the same offsets) from
/// where `hasher` is to `end`, in pieces; false if the hash had to stop first (the task is
/// then marked stopped).
fn hash_to(
    st: &Shared,
    session: &Session,
    file: &File,
    hasher: &mut ResumableSha1,
    end: u64,
    buf: &mut [u8],
) -> std::io::Result<bool> {
    let start = hasher.len();
    while hasher.len() < end {
        let want = (end - hasher.len()).min(PIECE) as usize;
        let n = file.read_at(&mut buf[..want], hasher.len())?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file ended early",
            ));
        }
        hasher.update(&buf[..n]);
        if hasher.len() < end {
            let mut inner = lock(&session.inner);
            if !may_hash(&inner) {
                inner.hashing = false;
                drop(inner);
                st.counters().bytes_hashed_ahead += hasher.len() - start;
                return Ok(false);
            }
        }
    }
    st.counters().bytes_hashed_ahead += end - start;
    Ok(true)
}

/// The background hash, for a commit to go on from (the session is committing, so the task
/// stops at its next piece and this waits at most for that), as far as the commit can trust
/// it: up to the first hit covered that the commit does not reuse from the same version
/// (`reused_from`: the version of each part reused, by index), where it goes on from the last
/// state recorded before (or from the start). The states recorded after the parts trusted are
/// set in `states` (by part index).
pub(crate) fn take_over(
    session: &Session,
    reused_from: &HashMap<u64, &str>,
    states: &mut [Option<String>],
) -> ResumableSha1 {
    let ahead = lock(&session.hash).clone();
    let inner = lock(&session.inner);
    let part_size = inner.meta.part_size.max(1);
    let len = ahead.hasher.len();
    let mut last_good = ResumableSha1::new();
    let mut index = 0u64;
    while index.saturating_mul(part_size) < len {
        let state = match ahead.hits.get(&index) {
            Some(h) if reused_from.get(&index) == Some(&h.version_id.as_str()) => h.state.clone(),
            Some(_) => return last_good,
            None => match inner.parts.get(&index) {
                Some(p) => p.sha1_state.clone(),
                None => return last_good,
            },
        };
        let end = (index + 1)
            .saturating_mul(part_size)
            .min(inner.meta.file_size);
        if end <= len {
            if let Some(s) = states.get_mut(index as usize) {
                s.clone_from(&state);
            }
            if let Some(s) = state.as_deref().and_then(|h| Sha1State::from_hex(h, end)) {
                last_good = ResumableSha1::resume(s);
            }
        }
        index += 1;
    }
    ahead.hasher
}
