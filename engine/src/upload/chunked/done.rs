//! What the parts step hands the commit: every part of the layout, each sent (or found stored
//! in the session) or reused (a plan's hit), the plan's answers to record, and the commit's parts
//! list made of them.

use std::collections::BTreeMap;

use crate::digest::Sha512Digest;
use crate::upload::calls::{CommitPart, PartRecord, PlanEntry};

/// The parts done so far, by offset.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Parts the session holds: sent by this run, or stored by an earlier one.
    pub sent: BTreeMap<u64, PartRecord>,
    /// Parts Box holds for the file (the plan's hits): `(size, part_id)`.
    pub reused: BTreeMap<u64, (u64, String)>,
    /// Each part's SHA-512, when parts may be reused.
    pub sha512: BTreeMap<u64, Sha512Digest>,
    /// The plan's answers, recorded in the state file.
    pub plan: BTreeMap<u64, PlanEntry>,
}

impl Tally {
    /// Every part done, in offset order.
    pub(super) fn offsets(&self) -> Vec<u64> {
        let mut all: Vec<u64> = self
            .sent
            .keys()
            .chain(self.reused.keys())
            .copied()
            .collect();
        all.sort_unstable();
        all
    }

    /// Every part was reused: the new version's content is the file's already.
    pub(super) fn all_reused(&self) -> bool {
        self.sent.is_empty() && !self.reused.is_empty()
    }

    /// The commit's parts list, in offset order: parts sent with their SHA-1, reused parts by
    /// `part_id` alone. Once the plan was asked, every entry carries its SHA-512 (Box takes it
    /// on every entry or on none); without the plan, none does, as before reuse.
    pub(super) fn commit_parts(&self) -> Vec<CommitPart> {
        let count = self.sent.len() + self.reused.len();
        let with_sha512 = !self.plan.is_empty() && self.sha512.len() == count;
        let sha512 = |offset: &u64| {
            with_sha512
                .then(|| self.sha512.get(offset).map(Sha512Digest::hex))
                .flatten()
        };
        let sent = self.sent.iter().map(|(offset, p)| CommitPart {
            part_id: p.part_id.clone(),
            offset: p.offset,
            size: p.size,
            sha1: Some(p.sha1.clone()),
            sha512: sha512(offset),
        });
        let reused = self.reused.iter().map(|(offset, (size, id))| CommitPart {
            part_id: id.clone(),
            offset: *offset,
            size: *size,
            sha1: None,
            sha512: sha512(offset),
        });
        let mut parts: Vec<CommitPart> = sent.chain(reused).collect();
        parts.sort_by_key(|p| p.offset);
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_lists_sent_parts_by_sha1_and_reused_parts_by_id_with_sha512_on_all() {
        let mut t = Tally::default();
        let record = |offset: u64| PartRecord {
            part_id: format!("S{offset}"),
            offset,
            size: 10,
            sha1: "11".repeat(20),
        };
        t.sent.insert(10, record(10));
        t.reused.insert(0, (10, "R0".into()));
        t.reused.insert(20, (5, "R20".into()));
        for offset in [0, 10, 20] {
            t.sha512.insert(offset, Sha512Digest([offset as u8; 64]));
        }
        // Before any plan answer: no SHA-512 anywhere.
        assert!(t.commit_parts().iter().all(|p| p.sha512.is_none()));
        t.plan.insert(
            0,
            PlanEntry {
                offset: 0,
                size: 10,
                sha512: "00".repeat(64),
                part_id: Some("R0".into()),
            },
        );
        let parts = t.commit_parts();
        let ids: Vec<_> = parts.iter().map(|p| p.part_id.as_str()).collect();
        assert_eq!(ids, ["R0", "S10", "R20"]);
        assert_eq!(parts[0].sha1, None, "a reused part has no SHA-1 entry");
        assert_eq!(parts[1].sha1.as_deref(), Some(&*"11".repeat(20)));
        assert_eq!(parts[2].size, 5);
        assert!(parts.iter().all(|p| p.sha512.is_some()), "on every entry");
        assert_eq!(t.offsets(), [0, 10, 20]);
        assert!(!t.all_reused());
        t.sent.clear();
        assert!(t.all_reused());
    }
}
