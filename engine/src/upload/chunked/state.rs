//! A session as the chunked upload's steps share it: its layout ([`layout_of`]), what opening
//! found of it ([`Known`]), and its record in the state file ([`save_state`]), which both
//! opening and the parts write. A module of its own so that opening and the parts need not
//! import each other.

use std::collections::BTreeMap;
use std::path::Path;

use super::done::Tally;
use crate::digest::Sha1Digest;
use crate::upload::calls::{PartRecord, PlanEntry, SessionInfo};
use crate::upload::context::Job;
use crate::upload::error::UploadError;
use crate::upload::identity::SourceIdentity;
use crate::upload::layout::PartLayout;
use crate::upload::resume::{self, UploadState};

/// What opening found of the session: the parts it holds, and the plan's answers the state
/// file recorded for it.
pub(super) struct Known {
    pub stored: BTreeMap<u64, PartRecord>,
    pub plan: BTreeMap<u64, PlanEntry>,
}

/// The session's layout of `size` bytes.
pub(super) fn layout_of(session: &SessionInfo, size: u64) -> Result<PartLayout, UploadError> {
    PartLayout::new(size, session.part_size).ok_or_else(|| {
        UploadError::verification("create_upload_session", "the session's part size is 0")
            .with_session(&session.id)
    })
}

/// Records the session, the parts stored so far and the plan's answers in the state file.
pub(super) async fn save_state(
    path: &Path,
    job: &Job,
    source: (u64, Option<&SourceIdentity>),
    session: &SessionInfo,
    done: &Tally,
    sha1: Option<&Sha1Digest>,
) -> Result<(), UploadError> {
    let state = UploadState {
        version: resume::FORMAT_VERSION,
        target: job.target.clone(),
        session_id: session.id.clone(),
        endpoints: session.endpoints.clone(),
        part_size: session.part_size,
        file_size: source.0,
        session_expires_at: session.expires_at,
        source: source.1.cloned(),
        parts: done.sent.values().cloned().collect(),
        plan: done.plan.values().cloned().collect(),
        sha1: sha1.map(Sha1Digest::hex),
    };
    let p2 = path.to_path_buf();
    resume::blocking(path, move || resume::save(&p2, &state)).await
}
