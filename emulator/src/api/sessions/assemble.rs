//! A commit's assembly of the new file in the session's data file, and its whole-file SHA-1
//! (which the commit checks against the client's `digest`).
//!
//! The uploaded parts are in place already, and so are the reused parts a plan's copy put
//! there (see [`super::prefill`]); the other reused parts' bytes are copied in from the
//! current version's content (`std::io::copy` between files: `copy_file_range`, no copy
//! through user space, a reflink where the file system shares blocks) while the file is
//! hashed, on two blocking threads. The hash reads the data file in offset order, so it
//! hashes the bytes stored, and at a reused part waits until that part is copied (the copy
//! does those parts first). It does not start at the file's start: the session hashed its
//! leading parts as they were stored or a plan answered them as hits ([`super::hash_ahead`]),
//! and the hash goes on from there, as far as a hit the commit does not reuse; or, when that
//! is further, from after the file's leading reused parts, whose bytes are the current
//! version's, so the SHA-1 state the current version recorded after them is this file's too.
//! It records the state after every part, for the next version.

use super::hash_ahead;
use super::region::RegionOwner;
use super::reuse::Reuse;
use crate::error::ApiError;
use crate::state::{io_err, ResumableSha1, Session, SessionMeta, Sha1State};
use std::collections::{HashMap, HashSet};
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};

/// Bytes read at a time while hashing.
const READ_BLOCK: usize = 1 << 20;

/// The assembled file: its SHA-1, its size, the SHA-1 state after each part (by part
/// index; `None` where the bytes before it are not a whole number of SHA-1 blocks), and the
/// bytes the commit hashed itself (those not covered by a state resumed from).
pub(crate) struct Assembled {
    pub sha1: [u8; 20],
    pub size: u64,
    pub states: Vec<Option<String>>,
    pub hashed: u64,
}

/// A reused part to copy: its index, where its bytes are, and its region's owner.
struct CopyJob {
    index: u64,
    src: PathBuf,
    offset: u64,
    size: u64,
    owner: RegionOwner,
}

/// Copies the parts of `reused` that `to_copy` names (by index, with their regions' owners;
/// the others are in place already) into the session's data file and hashes the file (see
/// the module's comment). `blob(version_id)` is a version's content.
pub(crate) async fn assemble(
    session: &Arc<Session>,
    meta: &SessionMeta,
    reused: &[Reuse],
    to_copy: Vec<(u64, RegionOwner)>,
    blob: impl Fn(&str) -> PathBuf,
) -> Result<Assembled, ApiError> {
    let join_err =
        |e: tokio::task::JoinError| ApiError::internal(format!("Internal Server Error ({e})"));
    let part_size = meta.part_size.max(1);
    let (hasher, states) = {
        let (session, reused) = (session.clone(), reused.to_vec());
        let parts = usize::try_from(meta.total_parts).unwrap_or(0);
        // Waits for the hash ahead's current piece (blocking).
        tokio::task::spawn_blocking(move || start_point(&session, &reused, parts))
            .await
            .map_err(join_err)?
    };
    // The first part the hash reads (it may start inside it).
    let first = hasher.len() / part_size;
    let mut owners: HashMap<u64, RegionOwner> = to_copy.into_iter().collect();
    let mut jobs: Vec<CopyJob> = reused
        .iter()
        .filter_map(|r| {
            Some(CopyJob {
                index: r.index,
                src: blob(&r.version_id),
                offset: r.part.offset,
                size: r.part.size,
                owner: owners.remove(&r.index)?,
            })
        })
        .collect();
    // The parts the hash waits for first, in its order; then those it skips.
    jobs.sort_by_key(|j| (j.index < first, j.index));
    let awaited: HashSet<u64> = jobs
        .iter()
        .map(|j| j.index)
        .filter(|i| *i >= first)
        .collect();
    let (copied_tx, copied_rx) = mpsc::channel();
    let data = session.data_path();
    let copy = (!jobs.is_empty()).then(|| {
        let data = data.clone();
        tokio::task::spawn_blocking(move || copy_parts(&data, jobs, &copied_tx))
    });
    let plan = HashPlan {
        part_size,
        file_size: meta.file_size,
        awaited,
    };
    let hash =
        tokio::task::spawn_blocking(move || hash_parts(&data, plan, hasher, &copied_rx, states));
    if let Some(copy) = copy {
        copy.await
            .map_err(join_err)?
            .map_err(io_err("copying reused parts"))?;
    }
    hash.await
        .map_err(join_err)?
        .map_err(io_err("reading the assembled file"))
}

/// Where the hash starts, whichever is further: where the hash ahead got, as far as the commit
/// can trust it (see [`hash_ahead::take_over`]), or after the file's leading reused parts (see
/// [`resume_point`]); and the states after the parts before it (by part index, `parts` long).
fn start_point(
    session: &Session,
    reused: &[Reuse],
    parts: usize,
) -> (ResumableSha1, Vec<Option<String>>) {
    let mut states = vec![None; parts];
    let reused_from: HashMap<u64, &str> = reused
        .iter()
        .map(|r| (r.index, r.version_id.as_str()))
        .collect();
    let ahead = hash_ahead::take_over(session, &reused_from, &mut states);
    let (resume, first) = resume_point(reused);
    match resume.map(ResumableSha1::resume) {
        Some(leading) if leading.len() > ahead.len() => {
            // The leading reused parts' states are this file's (the same bytes before each).
            let mut states = vec![None; parts];
            for r in reused.iter().take_while(|r| r.index < first) {
                if let Some(s) = states.get_mut(r.index as usize) {
                    s.clone_from(&r.part.sha1_state);
                }
            }
            (leading, states)
        }
        _ => (ahead, states),
    }
}

/// Where the hash starts: the SHA-1 state after the last of the reused parts at the file's
/// start (indexes 0, 1, ...) that recorded one, and the index of the first part after it
/// (`None` and 0: from the start). `reused` is in offset order.
fn resume_point(reused: &[Reuse]) -> (Option<Sha1State>, u64) {
    reused
        .iter()
        .enumerate()
        .take_while(|(i, r)| r.index == *i as u64)
        .filter_map(|(_, r)| {
            let state = r.part.sha1_state.as_deref()?;
            Sha1State::from_hex(state, r.part.offset.checked_add(r.part.size)?)
                .map(|s| (Some(s), r.index + 1))
        })
        .last()
        .unwrap_or((None, 0))
}

/// Copies each job's bytes into the data file at its offset, in order, under its region's
/// owner (skipping a part whose region was taken over: the commit that held it has ended),
/// and reports each part copied on `copied`.
fn copy_parts(data: &Path, jobs: Vec<CopyJob>, copied: &mpsc::Sender<u64>) -> std::io::Result<()> {
    let mut dst = std::fs::OpenOptions::new().write(true).open(data)?;
    for job in jobs {
        let mut src = std::fs::File::open(&job.src)?;
        let copy = || -> std::io::Result<()> {
            src.seek(SeekFrom::Start(job.offset))?;
            dst.seek(SeekFrom::Start(job.offset))?;
            let n = std::io::copy(&mut (&mut src).take(job.size), &mut dst)?;
            if n != job.size {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the version's content ended early",
                ));
            }
            Ok(())
        };
        if !job.owner.write_with(copy)? {
            return Ok(());
        }
        // The hash may have stopped (a short file): nobody to tell.
        let _ = copied.send(job.index);
    }
    Ok(())
}

/// What the hash reads: the session's shape, and the reused parts it must wait for.
struct HashPlan {
    part_size: u64,
    file_size: u64,
    awaited: HashSet<u64>,
}

/// Hashes the data file from where `hasher` is (the file's start, after its leading reused
/// parts, or wherever the hash ahead got, which may be inside a part) to its end, in order,
/// waiting at each awaited part until it is reported on `copied`; fills in `states` after
/// each part hashed. The size is what the file holds (the caller checks it).
fn hash_parts(
    data: &Path,
    plan: HashPlan,
    mut hasher: ResumableSha1,
    copied: &mpsc::Receiver<u64>,
    mut states: Vec<Option<String>>,
) -> std::io::Result<Assembled> {
    let mut f = std::fs::File::open(data)?;
    let start = hasher.len();
    f.seek(SeekFrom::Start(start))?;
    let mut buf = vec![0u8; READ_BLOCK];
    let mut done: HashSet<u64> = HashSet::new();
    let mut index = start / plan.part_size;
    let mut at_end = false;
    while !at_end && index.saturating_mul(plan.part_size) < plan.file_size {
        if plan.awaited.contains(&index) {
            while !done.contains(&index) {
                let i = copied.recv().map_err(|_| {
                    std::io::Error::other("a reused part was not copied into the file")
                })?;
                done.insert(i);
            }
        }
        let end = (index + 1)
            .saturating_mul(plan.part_size)
            .min(plan.file_size);
        at_end = hash_to(&mut f, &mut hasher, end, &mut buf)?;
        if let Some(s) = states.get_mut(index as usize) {
            *s = hasher.state().map(Sha1State::to_hex);
        }
        index += 1;
    }
    // Whatever the file holds beyond its parts (nothing, unless it grew) counts too.
    if !at_end {
        hash_to(&mut f, &mut hasher, u64::MAX, &mut buf)?;
    }
    Ok(Assembled {
        size: hasher.len(),
        hashed: hasher.len() - start,
        sha1: hasher.finish(),
        states,
    })
}

/// Hashes from the file's position until `hasher` covers `end` bytes or the file ends;
/// true if it ended.
fn hash_to(
    f: &mut std::fs::File,
    hasher: &mut ResumableSha1,
    end: u64,
    buf: &mut [u8],
) -> std::io::Result<bool> {
    while hasher.len() < end {
        let want = usize::try_from(end - hasher.len()).map_or(buf.len(), |l| l.min(buf.len()));
        let n = f.read(&mut buf[..want])?;
        if n == 0 {
            return Ok(true);
        }
        hasher.update(&buf[..n]);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::PartRecord;

    fn reuse(index: u64, state: Option<&str>) -> Reuse {
        Reuse {
            index,
            part: PartRecord {
                part_id: format!("P{index}"),
                offset: index * 1024,
                size: 1024,
                sha1: "0".repeat(40),
                sha512: None,
                sha1_state: state.map(str::to_string),
            },
            version_id: "1".to_string(),
        }
    }

    const S: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn the_hash_resumes_after_the_last_leading_reused_part_with_a_state() {
        let at = |reused: &[Reuse]| {
            let (state, first) = resume_point(reused);
            (state.map(|s| ResumableSha1::resume(s).len()), first)
        };
        assert_eq!(at(&[]), (None, 0));
        // Not at the start: from the start.
        assert_eq!(at(&[reuse(1, Some(S)), reuse(2, Some(S))]), (None, 0));
        assert_eq!(at(&[reuse(0, Some(S))]), (Some(1024), 1));
        assert_eq!(
            at(&[reuse(0, Some(S)), reuse(1, Some(S)), reuse(3, Some(S))]),
            (Some(2048), 2)
        );
        // A part without a state: the last one before it that has one.
        assert_eq!(
            at(&[reuse(0, Some(S)), reuse(1, None), reuse(2, Some("bad"))]),
            (Some(1024), 1)
        );
        assert_eq!(at(&[reuse(0, None), reuse(1, Some(S))]), (Some(2048), 2));
        assert_eq!(at(&[reuse(0, None)]), (None, 0));
    }
}
