//! The parts: one ordered reader hashes the parts in order; for a new version, the plan
//! ([`super::plan`]) says which Box holds already (reused, not sent); the others upload in
//! parallel, each answer checked against what was sent; parts the session already holds (on
//! resume, or after an ambiguous failure) are looked up with list parts instead of being sent
//! again.
//!
//! What a part is sent from depends on the source: a file's part is sent from the pool buffer it
//! was hashed in while the memory cap holds such buffers (each byte read once), and otherwise by
//! reading its span again as it is sent (memory stays flat, so only the uploader's parallelism
//! bounds the parts in flight); bytes in memory are sent as slices; a reader's parts wait in
//! buffers of a fixed pool of `parts in flight + 1`, so the memory cap bounds its parts in
//! flight.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument as _;

use super::done::Tally;
use super::listing::find_part;
use super::plan::{Answer, Batching, Planned, PlannedPart, Planner};
use super::state::{layout_of, save_state, Known};
use crate::digest::Sha1Digest;
use crate::retry::{RetryPolicy, Step};
use crate::upload::calls::{CallError, PartRecord, SessionEndpoints, SessionInfo, UploadCalls};
use crate::upload::context::{Ctx, Job};
use crate::upload::error::{Chain, UploadError, UploadErrorKind};
use crate::upload::identity::SourceIdentity;
use crate::upload::layout::PartSpan;
use crate::upload::pool::BufferPool;
use crate::upload::progress::{CountedBody, Phase, ProgressEvent};
use crate::upload::reader::{read_parts, Hand};
use crate::upload::reread::{BodyFailure, Reread};
use crate::upload::source::{OpenedSource, PartReader};

/// Aborts a spawned task when dropped.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads every part; sends those the session does not hold and the plan (for a new version
/// that may reuse parts) did not find Box holding; returns them all, and the whole file's SHA-1.
pub(super) async fn upload_all<A: UploadCalls>(
    ctx: &Ctx<A>,
    job: &Job,
    opened: OpenedSource,
    session: &SessionInfo,
    known: Known,
) -> Result<(Tally, Sha1Digest), UploadError> {
    let size = opened.size;
    let layout = layout_of(session, size)?;
    let part_size = usize::try_from(session.part_size).map_err(|_| {
        UploadError::invalid_input(format!(
            "part size {} does not fit in memory",
            session.part_size
        ))
    })?;
    let reread = opened.reread.clone();
    let in_memory = matches!(opened.reader, PartReader::Bytes { .. });
    let ceiling = ctx.config.concurrency.ceiling();
    let parts = usize::try_from(layout.total_parts().max(1)).unwrap_or(usize::MAX);
    let (concurrency, hand, buffers) = if in_memory {
        // Slices of the bytes: nothing held per part in flight, no buffer.
        (ceiling.min(parts), Hand::Bytes, 1)
    } else if reread.is_some() {
        // A file: parts go from the buffers they were hashed in while the memory cap holds
        // them (beside the reader's scratch buffer), the others are read again; parts in
        // flight are not bounded by memory.
        let fit = usize::try_from(ctx.config.memory_cap / session.part_size.max(1))
            .unwrap_or(usize::MAX)
            .saturating_sub(1)
            .min(parts);
        let hand = if fit == 0 {
            Hand::Hashes
        } else {
            Hand::BytesIfFree
        };
        (ceiling.min(parts), hand, fit.max(1))
    } else {
        let n = effective_concurrency(
            ceiling,
            ctx.config.memory_cap,
            session.part_size,
            layout.total_parts(),
        );
        (n, Hand::Bytes, n + 1)
    };
    ctx.reporter.event(ProgressEvent::SessionOpened {
        session_id: session.id.clone(),
        part_size: session.part_size,
        total_parts: layout.total_parts(),
        concurrency,
    });
    ctx.reporter.update(|p| p.phase = Phase::Uploading);

    let pool = BufferPool::new(part_size, buffers);
    // A file's reader goes through the whole file at disk speed, ahead of the uploads, so the
    // file is hashed as early as possible (a change after that is caught when a part is read
    // again); the parts it hands on in buffers are bounded by the pool. A reader's parts with
    // their bytes wait for the uploads.
    let queued = match hand {
        Hand::Hashes | Hand::BytesIfFree => parts,
        Hand::Bytes => 1,
    };
    let reuse = job.reuse_parts && !session.endpoints.plan.is_empty();
    let (tx, read) = mpsc::channel(queued);
    let identity = opened.identity.clone();
    let batching = Batching {
        bytes: super::plan::BATCH_BYTES,
        buffers: (hand == Hand::Bytes && !in_memory).then(|| pool.clone()),
    };
    let _reader = AbortOnDrop(tokio::spawn(read_parts(
        opened.reader,
        layout,
        pool,
        hand,
        reuse,
        tx,
    )));
    let planner = Planner {
        ctx: ctx.clone(),
        retry: job.retry.clone(),
        url: session.endpoints.plan.clone(),
        enabled: reuse,
        known: known.plan.clone(),
        stored: known.stored.keys().copied().collect(),
        limit: None,
    };
    let (tx, mut rx) = mpsc::channel(queued);
    let _planner = AbortOnDrop(tokio::spawn(planner.run(batching, read, tx)));
    let stored = known.stored;

    let mut inflight: JoinSet<Result<(PartSpan, PartRecord), UploadError>> = JoinSet::new();
    // The state file's answers stay recorded (and make the commit's entries carry SHA-512s).
    let mut done = Tally {
        plan: known.plan,
        ..Tally::default()
    };
    let mut whole: Option<Sha1Digest> = None;
    let mut reading = true;
    while reading || !inflight.is_empty() {
        tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => return Err(UploadError::cancelled()),
            Some(joined) = inflight.join_next(), if !inflight.is_empty() => {
                let (span, record) = joined
                    .map_err(|e| UploadError::internal("part upload task failed").with_source(e))??;
                done.sent.insert(span.offset, record);
                ctx.reporter.event(ProgressEvent::PartDone { index: span.index, offset: span.offset, size: span.len });
                save(job, session, (size, identity.as_ref()), &done).await?;
            }
            msg = rx.recv(), if reading && inflight.len() < concurrency => match msg {
                Some(Planned::Answers(answers)) => {
                    done.plan.extend(answers.into_iter().map(|a| (a.offset, a)));
                    save(job, session, (size, identity.as_ref()), &done).await?;
                }
                Some(Planned::Part(part)) => {
                    if let Some((part, content)) = arrived(ctx, &stored, reread.as_ref(), &mut done, size, part)? {
                        let span = part_span(&part.span);
                        inflight.spawn(upload_part(ctx.clone(), job.retry.clone(), session.endpoints.clone(), part, content).instrument(span));
                    }
                }
                Some(Planned::Finished { whole: digest }) => whole = Some(digest),
                Some(Planned::Failed(e)) => return Err(e),
                None => reading = false,
            },
        }
    }
    let Some(whole) = whole else {
        return Err(UploadError::internal("the reader stopped without a digest"));
    };
    // Every part of the layout, in offset order, and nothing else.
    let expected: Vec<u64> = layout.parts().map(|p| p.offset).collect();
    let have = done.offsets();
    if expected != have {
        return Err(UploadError::internal(format!(
            "{} parts expected, {} done",
            expected.len(),
            have.len()
        )));
    }
    Ok((done, whole))
}

/// Records the parts done and the plan's answers in the state file, if there is one.
async fn save(
    job: &Job,
    session: &SessionInfo,
    source: (u64, Option<&SourceIdentity>),
    done: &Tally,
) -> Result<(), UploadError> {
    match &job.state_file {
        Some(path) => save_state(path, job, source, session, done, None).await,
        None => Ok(()),
    }
}

/// Takes in a part from the plan stage: one the session holds already (checked against the
/// local data) or Box holds for the file (a hit) is done; any other is returned, to be sent.
fn arrived<A: UploadCalls>(
    ctx: &Ctx<A>,
    stored: &BTreeMap<u64, PartRecord>,
    reread: Option<&Reread>,
    done: &mut Tally,
    total: u64,
    part: PlannedPart,
) -> Result<Option<(Part, PartContent)>, UploadError> {
    let PlannedPart {
        span,
        data,
        sha1,
        sha512,
        answer,
    } = part;
    if let Some(h) = sha512 {
        done.sha512.insert(span.offset, h);
    }
    // Every part but a hit has its SHA-1 (see `PlannedPart`).
    let sha1 = || sha1.ok_or_else(|| UploadError::internal("a part to send without its SHA-1"));
    if let Some(record) = stored.get(&span.offset) {
        let sha1 = sha1()?;
        if !matches(record, &span, &sha1) {
            return Err(UploadErrorKind::SourceChanged {
                detail: format!(
                    "since the interrupted upload: the stored part at offset {} has SHA-1 {}, the local data has {sha1}; delete the state file to start over",
                    span.offset, record.sha1
                ),
            }
            .into());
        }
        done.sent.insert(span.offset, record.clone());
        ctx.reporter.add_sent(span.len);
        ctx.reporter.event(ProgressEvent::PartAlreadyStored {
            index: span.index,
            offset: span.offset,
            size: span.len,
        });
        return Ok(None);
    }
    let digest = match (answer, sha512) {
        (Answer::Hit(part_id), _) => {
            done.reused.insert(span.offset, (span.len, part_id));
            ctx.reporter.event(ProgressEvent::PartReused {
                index: span.index,
                offset: span.offset,
                size: span.len,
            });
            return Ok(None);
        }
        // A miss is sent with the SHA-512 the plan matched it by.
        (Answer::Miss, Some(h)) => h.header(),
        _ => sha1()?.header(),
    };
    let sha1 = sha1()?;
    let content = match (data, reread) {
        (Some(bytes), _) => PartContent::Bytes(bytes),
        (None, Some(file)) => PartContent::File(file.clone()),
        (None, None) => {
            return Err(UploadError::internal(
                "a part without bytes from a source that cannot be read again",
            ))
        }
    };
    let part = Part {
        span,
        total,
        sha1,
        digest,
    };
    Ok(Some((part, content)))
}

/// One part to send: where it goes, its SHA-1 (checked against the answer) and the `digest`
/// header it is sent with (its SHA-1, or the SHA-512 a plan matched it by).
struct Part {
    span: PartSpan,
    total: u64,
    sha1: Sha1Digest,
    digest: String,
}

/// What a part is sent from.
#[derive(Clone)]
enum PartContent {
    /// Bytes in memory (a pool buffer or a slice of the source's bytes).
    Bytes(Bytes),
    /// The file, read again for each attempt.
    File(Reread),
}

/// For a reader: the parts in flight at once, the configured ceiling lowered so that the pool's
/// `concurrency + 1` buffers fit the memory cap, never above the number of parts, never 0.
fn effective_concurrency(
    ctx_concurrency: usize,
    memory_cap: u64,
    part_size: u64,
    total_parts: u64,
) -> usize {
    let fit = (memory_cap / part_size.max(1)).saturating_sub(1).max(1);
    let fit = usize::try_from(fit).unwrap_or(usize::MAX);
    let parts = usize::try_from(total_parts.max(1)).unwrap_or(usize::MAX);
    ctx_concurrency.max(1).min(fit).min(parts)
}

/// The span of one part's send (its retries and lookups included), a child of the upload's
/// span: created on the upload's task, before the part's own task is spawned.
fn part_span(span: &PartSpan) -> tracing::Span {
    tracing::info_span!(
        "part",
        index = span.index,
        offset = span.offset,
        size = span.len
    )
}

/// Uploads one part, retrying; after an ambiguous failure, looks the part up before resending.
async fn upload_part<A: UploadCalls>(
    ctx: Ctx<A>,
    retry: RetryPolicy,
    endpoints: SessionEndpoints,
    part: Part,
    content: PartContent,
) -> Result<(PartSpan, PartRecord), UploadError> {
    let Part {
        span,
        total,
        sha1,
        digest,
    } = part;
    let range = span.content_range(total);
    let (ctx, endpoints, content, range, digest) = (&ctx, &endpoints, &content, &range, &digest);
    let calls = ctx.retry(&retry);
    let lookup = move |offset| find_part(calls, &ctx.api, &endpoints.list_parts, offset);
    calls
        .run("upload_part", move |attempt| async move {
            if attempt.right_after_ambiguous_failure() {
                // The last attempt may have stored the part: look before sending it again (a
                // second copy would be refused as an overlap anyway, but this saves the bytes).
                match lookup(span.offset).await {
                    Ok(Some(found)) if matches(&found, &span, &sha1) => {
                        tracing::debug!(
                            offset = span.offset,
                            "part found stored after an ambiguous failure"
                        );
                        ctx.reporter.add_sent(span.len);
                        return Step::Done((span, found));
                    }
                    Ok(Some(found)) => return Step::Stop(different_part(&found, &span, &sha1)),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::debug!(error = %Chain(&e), "list parts failed; sending the part again")
                    }
                }
            }
            let counted = Arc::new(AtomicU64::new(0));
            let reporter = Some(ctx.reporter.clone());
            let failure = BodyFailure::default();
            let body = match content {
                PartContent::Bytes(data) => CountedBody::new(data.clone(), reporter, counted.clone()),
                PartContent::File(file) => CountedBody::from_stream(
                    file.stream(span.offset, span.len, failure.clone()),
                    span.len,
                    reporter,
                    counted.clone(),
                ),
            };
            let call = ctx.api.upload_part(&endpoints.upload_part, body, range.clone(), digest.clone());
            let result = ctx.send_content(span.len, call).await;
            if let Some(err) = failure.take() {
                // The file could not be read again as it was hashed: no retry can help.
                ctx.reporter.take_back_sent(counted.load(Ordering::Relaxed));
                return Step::Stop(err);
            }
            let err = match result {
                Ok(record) if matches(&record, &span, &sha1) => return Step::Done((span, record)),
                Ok(record) => {
                    return Step::Stop(UploadError::verification(
                        "upload_part",
                        format!(
                            "sent offset {} size {} SHA-1 {sha1}, the server stored offset {} size {} SHA-1 {}",
                            span.offset, span.len, record.offset, record.size, record.sha1
                        ),
                    ))
                }
                Err(err) => err,
            };
            ctx.reporter.take_back_sent(counted.load(Ordering::Relaxed));
            if let PartContent::File(file) = content {
                if refuses_digest(&err) {
                    // Either the file changed since it was hashed, or the bytes were damaged
                    // on the way: hashing the span again tells which.
                    if let Err(changed) = file.confirm(span.offset, span.len, sha1).await {
                        return Step::Stop(changed);
                    }
                }
            }
            if err.is_code("range_overlaps_existing_part") || err.status() == Some(409) {
                // A part is already stored over this range: ours (an earlier attempt or a
                // hedge) if offset, size and SHA-1 match.
                let named = err
                    .conflict()
                    .and_then(|v| serde_json::from_value::<PartRecord>(v).ok());
                let found = match named {
                    Some(part) if part.offset == span.offset => Some(part),
                    _ => match lookup(span.offset).await {
                        Ok(found) => found,
                        Err(e) => return Step::Stop(e),
                    },
                };
                return match found {
                    Some(part) if matches(&part, &span, &sha1) => {
                        ctx.reporter.add_sent(span.len);
                        Step::Done((span, part))
                    }
                    Some(part) => Step::Stop(different_part(&part, &span, &sha1)),
                    None => Step::Stop(UploadError::api("upload_part", attempt.number, err)),
                };
            }
            Step::Failed(err)
        })
        .await
}

/// A part refused because its bytes do not have the SHA-1 of its `digest` header. Box documents
/// no status for it; the emulator answers 412, and Box's codes for it name the digest.
fn refuses_digest(err: &CallError) -> bool {
    err.status() == Some(412)
        || err
            .api_error()
            .and_then(|e| e.code())
            .is_some_and(|c| c.contains("digest"))
}

/// Pairs up local data and a stored part: same offset, size and SHA-1.
fn matches(record: &PartRecord, span: &PartSpan, sha1: &Sha1Digest) -> bool {
    record.offset == span.offset && record.size == span.len && sha1.matches_hex(&record.sha1)
}

fn different_part(found: &PartRecord, span: &PartSpan, sha1: &Sha1Digest) -> UploadError {
    UploadError::verification(
        "upload_part",
        format!(
            "the session already holds a different part at offset {} (size {}, SHA-1 {}); ours has size {} and SHA-1 {sha1}",
            found.offset, found.size, found.sha1, span.len
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_cap_lowers_concurrency_but_never_below_one() {
        const MIB: u64 = 1 << 20;
        assert_eq!(effective_concurrency(4, 256 * MIB, 8 * MIB, 100), 4);
        assert_eq!(effective_concurrency(4, 256 * MIB, 64 * MIB, 100), 3);
        assert_eq!(effective_concurrency(4, 100 * MIB, 64 * MIB, 100), 1);
        assert_eq!(
            effective_concurrency(8, 256 * MIB, 8 * MIB, 2),
            2,
            "no more workers than parts"
        );
        assert_eq!(effective_concurrency(0, 256 * MIB, 8 * MIB, 5), 1);
    }
}
