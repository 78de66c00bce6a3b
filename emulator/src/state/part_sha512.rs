//! Each kept version part's SHA-512 (what a plan matches parts by), computed once and off the
//! plan's path. A part sent with `sha-512=` has it already, and a reused part keeps the one its
//! version had; a part sent with `sha=` alone is hashed from the version's content:
//!
//! * in the background, as soon as the version is stored: the commit queues it
//!   ([`Shared::hash_part_sha512s`]) and one worker hashes its parts in offset order, one part at
//!   a time on a blocking thread (one worker for every version, so the background takes at most
//!   one core from the clients beside the emulator);
//! * or by a plan that asks about a part the worker has not reached
//!   ([`Shared::part_sha512s`]): the plan hashes it itself, as the worker goes on with others.
//!
//! A SHA-512 is kept on the version's part record (saved), so it is computed once. Which parts
//! are being hashed is decided under the catalog lock, where a part's SHA-512 is recorded too,
//! so a part is always either recorded, being hashed (a plan waits for it) or free to claim:
//! nothing is hashed twice. The queue and the parts being hashed are in memory only: after a
//! restart, a plan hashes what it asks about.

use super::records::PartRecord;
use super::{lock, Catalog, Shared};
use crate::util;
use std::collections::{HashMap, VecDeque};
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::watch;

/// A part's SHA-512 being computed: `None` until it is done, then its hex (or `None` inside:
/// the version's content could not be read).
type Pending = watch::Receiver<Option<Option<String>>>;

/// The parts being hashed and the versions waiting for the background worker.
#[derive(Default)]
pub(crate) struct PartSha512s {
    /// By (version id, offset).
    in_flight: Mutex<HashMap<(String, u64), Pending>>,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    /// (file id, version id), oldest first.
    versions: VecDeque<(String, String)>,
    /// Whether the worker runs (it stops when the queue is empty).
    running: bool,
}

/// A part claimed for hashing: where it is, and where its SHA-512 goes.
struct Claim {
    offset: u64,
    size: u64,
    part_id: String,
    tx: watch::Sender<Option<Option<String>>>,
}

/// What a plan found for one part it asked about.
enum Slot {
    Ready(String),
    Pending(Pending),
}

/// The SHA-512s of the parts a plan asked about, as found under the catalog lock: see
/// [`Sha512Lookup::resolve`].
pub(crate) struct Sha512Lookup {
    file_id: String,
    version_id: String,
    slots: Vec<Option<Slot>>,
    claims: Vec<Claim>,
}

/// Who hashed a part, for the counters.
#[derive(Clone, Copy)]
enum By {
    Worker,
    Plan,
}

impl Shared {
    /// Queues version `version_id` (file `file_id`'s current version, just committed with
    /// `parts`) for the background worker, if a part lacks its SHA-512.
    pub fn hash_part_sha512s(
        self: &Arc<Self>,
        file_id: &str,
        version_id: &str,
        parts: &[PartRecord],
    ) {
        if parts.iter().all(|p| p.sha512.is_some()) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut q = lock(&self.part_sha512s.queue);
        q.versions
            .push_back((file_id.to_string(), version_id.to_string()));
        if !q.running {
            q.running = true;
            rt.spawn(worker(self.clone()));
        }
    }

    /// The SHA-512s of `candidates` (parts of version `version_id`, file `file_id`'s current
    /// one, read under `_catalog`, which the caller holds): those recorded, and for the others
    /// the hashing in progress, or a claim to hash them (see [`Sha512Lookup::resolve`]).
    pub fn part_sha512s(
        &self,
        _catalog: &Catalog,
        file_id: &str,
        version_id: &str,
        candidates: &[Option<PartRecord>],
    ) -> Sha512Lookup {
        let mut claims = Vec::new();
        let slots = candidates
            .iter()
            .map(|c| {
                let p = c.as_ref()?;
                Some(match &p.sha512 {
                    Some(h) => Slot::Ready(h.clone()),
                    None => match self.claim(version_id, p) {
                        Ok(claim) => {
                            let rx = claim.tx.subscribe();
                            claims.push(claim);
                            Slot::Pending(rx)
                        }
                        Err(rx) => Slot::Pending(rx),
                    },
                })
            })
            .collect();
        Sha512Lookup {
            file_id: file_id.to_string(),
            version_id: version_id.to_string(),
            slots,
            claims,
        }
    }

    /// Claims part `p` of version `version_id` for hashing, or the hashing in progress. Called
    /// under the catalog lock, with `p` as recorded there (no SHA-512).
    fn claim(&self, version_id: &str, p: &PartRecord) -> Result<Claim, Pending> {
        let mut in_flight = lock(&self.part_sha512s.in_flight);
        let key = (version_id.to_string(), p.offset);
        if let Some(rx) = in_flight.get(&key) {
            // A hasher that ended without an answer (its task was dropped) leaves the part free.
            if rx.borrow().is_some() || rx.has_changed().is_ok() {
                return Err(rx.clone());
            }
        }
        let (tx, rx) = watch::channel(None);
        in_flight.insert(key, rx);
        Ok(Claim {
            offset: p.offset,
            size: p.size,
            part_id: p.part_id.clone(),
            tx,
        })
    }

    /// The next part of version `version_id` the worker should hash, claimed, if the version is
    /// still file `file_id`'s current one.
    fn claim_next(&self, catalog: &Catalog, file_id: &str, version_id: &str) -> Option<Claim> {
        let v = catalog
            .files
            .get(file_id)?
            .current()
            .filter(|v| v.id == version_id)?;
        v.parts
            .iter()
            .filter(|p| p.sha512.is_none())
            .find_map(|p| self.claim(version_id, p).ok())
    }
}

impl Sha512Lookup {
    /// Each part's SHA-512 (`None`: not a candidate, or its content unreadable): hashes the
    /// parts claimed (in a task of their own, so a plan that goes away leaves no claim
    /// behind) and waits for those being hashed.
    pub async fn resolve(self, st: &Arc<Shared>) -> Vec<Option<String>> {
        let Sha512Lookup {
            file_id,
            version_id,
            slots,
            claims,
        } = self;
        let ready = slots
            .iter()
            .filter(|s| match s {
                Some(Slot::Ready(_)) => true,
                Some(Slot::Pending(rx)) => rx.borrow().is_some(),
                None => false,
            })
            .count() as u64;
        let candidates = slots.iter().flatten().count() as u64;
        let hashed = claims.len() as u64;
        {
            let mut c = st.counters();
            c.plan_sha512s_ready += ready;
            c.plan_sha512s_hashed += hashed;
            c.plan_sha512s_awaited += candidates - ready - hashed;
        }
        if candidates == ready {
            return slots
                .into_iter()
                .map(|s| match s? {
                    Slot::Ready(h) => Some(h),
                    Slot::Pending(rx) => rx.borrow().clone().flatten(),
                })
                .collect();
        }
        let started = Instant::now();
        if !claims.is_empty() {
            tokio::spawn(hash_claims(
                st.clone(),
                file_id,
                version_id,
                claims,
                By::Plan,
            ));
        }
        let mut out = Vec::with_capacity(slots.len());
        for s in slots {
            out.push(match s {
                None => None,
                Some(Slot::Ready(h)) => Some(h),
                Some(Slot::Pending(mut rx)) => match rx.wait_for(Option::is_some).await {
                    Ok(v) => v.clone().flatten(),
                    Err(_) => None,
                },
            });
        }
        st.counters().plan_sha512_wait_us += started.elapsed().as_micros() as u64;
        out
    }
}

/// The background worker: hashes the queued versions' parts, one at a time, until the queue
/// is empty.
async fn worker(st: Arc<Shared>) {
    loop {
        let next = {
            let mut q = lock(&st.part_sha512s.queue);
            match q.versions.front() {
                Some(v) => v.clone(),
                None => {
                    q.running = false;
                    return;
                }
            }
        };
        let (file_id, version_id) = next;
        let claim = {
            let catalog = st.catalog.lock().await;
            st.claim_next(&catalog, &file_id, &version_id)
        };
        match claim {
            Some(c) => hash_claims(st.clone(), file_id, version_id, vec![c], By::Worker).await,
            None => {
                lock(&st.part_sha512s.queue).versions.pop_front();
            }
        }
    }
}

/// Hashes the parts claimed, in turn, each on a blocking thread; then, under the catalog lock,
/// keeps each SHA-512 on its part record, hands it to whoever waits for it and gives up the
/// claim.
async fn hash_claims(
    st: Arc<Shared>,
    file_id: String,
    version_id: String,
    claims: Vec<Claim>,
    by: By,
) {
    let blob = st.blob_path(&version_id);
    for claim in claims {
        let (path, offset, size) = (blob.clone(), claim.offset, claim.size);
        let hex = match tokio::task::spawn_blocking(move || sha512_of_region(&path, offset, size))
            .await
        {
            Ok(Ok(d)) => Some(util::hex(&d)),
            Ok(Err(e)) => {
                // A purged version, say: nothing to reuse.
                tracing::warn!("hashing part {offset} of version {version_id}: {e}");
                None
            }
            Err(_) => None,
        };
        // Kept, counted, then handed on, all under the catalog lock: whoever sees the count
        // or the answer finds the record saved.
        let mut catalog = st.catalog.lock().await;
        if let Some(h) = &hex {
            let done = [(offset, claim.part_id.clone(), h.clone())];
            if let Err(e) = st
                .record_part_sha512s(&mut catalog, &file_id, &version_id, &done)
                .await
            {
                // Nothing lost: a later plan hashes the part again.
                tracing::warn!(
                    "keeping part SHA-512s of version {version_id}: {}",
                    e.message
                );
            }
            match by {
                By::Worker => st.counters().part_sha512s_hashed_ahead += 1,
                By::Plan => {}
            }
        }
        claim.tx.send_replace(Some(hex));
        lock(&st.part_sha512s.in_flight).remove(&(version_id.clone(), offset));
    }
}

/// The SHA-512 of `size` bytes of file `path` from `offset` (blocking).
pub(crate) fn sha512_of_region(path: &Path, offset: u64, size: u64) -> std::io::Result<[u8; 64]> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA512);
    let mut buf = vec![0u8; (1 << 20).min(size.max(1) as usize)];
    let mut left = size;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = f.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the version's content ended early",
            ));
        }
        ctx.update(&buf[..n]);
        left -= n as u64;
    }
    <[u8; 64]>::try_from(ctx.finish().as_ref())
        .map_err(|_| std::io::Error::other("SHA-512 is not 64 bytes"))
}
