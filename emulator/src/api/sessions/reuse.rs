//! Parts a commit takes from the file's current version instead of uploading them again
//! (the hits of a plan, named in the commit's list by their `part_id`): held in the session
//! while the commit runs, so no upload can write their regions, and copied from the
//! version's content into the session's data file (see [`super::assemble`]).

use super::region::{filled_from, RegionOwner};
use crate::state::{lock, PartRecord, Session, SessionInner};

/// A part of the file's current version that a commit names: where it goes in the session.
#[derive(Clone, Debug)]
pub(crate) struct Reuse {
    /// The session's part index (offset / part size).
    pub index: u64,
    /// The part as the version recorded it (its `part_id` stays).
    pub part: PartRecord,
    /// The version whose content holds its bytes.
    pub version_id: String,
}

/// The reused parts' places in a session while a commit runs: each reserved (an upload of
/// that part answers `416 range_overlaps_existing_part`, naming the reused part) and its
/// region taken over (a writer already streaming into it is fenced out). The reservations
/// are given up on drop; the regions when their owners, handed to the copy
/// ([`ReuseHold::take_copies`]), are dropped.
pub(crate) struct ReuseHold<'a> {
    session: &'a Session,
    indexes: Vec<u64>,
    owners: Vec<(u64, RegionOwner)>,
}

impl<'a> ReuseHold<'a> {
    /// Holds the places of `reused`; `inner` is `session`'s, locked by the caller, and no
    /// part is stored or reserved at any of them (the parts list check saw to that).
    pub fn take(session: &'a Session, inner: &mut SessionInner, reused: &[Reuse]) -> ReuseHold<'a> {
        let mut owners = Vec::with_capacity(reused.len());
        for r in reused {
            inner.reserved.insert(r.index, r.part.clone());
            let region = inner.regions.entry(r.index).or_default();
            // A plan's copy of the part, whole and untouched since (taking the region over
            // clears the mark, so it is read first).
            let in_place = filled_from(region).as_deref() == Some(r.version_id.as_str());
            let owner = RegionOwner::take_over(region);
            if !in_place {
                owners.push((r.index, owner));
            }
        }
        ReuseHold {
            session,
            indexes: reused.iter().map(|r| r.index).collect(),
            owners,
        }
    }

    /// The regions (by part index) of the reused parts still to copy (those a plan's copy
    /// did not put in place, see [`super::prefill`]), for the copy that writes them: a copy
    /// still running when the commit ends holds them until it stops, and an upload of such
    /// a part after the commit ended fences it out.
    pub fn take_copies(&mut self) -> Vec<(u64, RegionOwner)> {
        std::mem::take(&mut self.owners)
    }
}

impl Drop for ReuseHold<'_> {
    fn drop(&mut self) {
        let mut inner = lock(&self.session.inner);
        for i in &self.indexes {
            inner.reserved.remove(i);
        }
    }
}
