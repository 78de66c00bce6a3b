//! Part reuse (Box's plan, since September 2026): between the ordered reader and the parts, ask
//! which parts of a new version Box already holds for the file (same offset, size and
//! SHA-512), so that only the misses are sent and the hits are committed by `part_id`.
//!
//! A batch is asked once [`BATCH_BYTES`] of parts are hashed, or when the reader ends: a file of
//! up to 256 MiB is asked about in one request, a larger one in one request per 256 MiB, so
//! that a miss early in a large file is sent while the rest is still being hashed (without
//! SHA-512 instructions, 256 MiB of parts take about half a second to hash on two cores) rather
//! than after the whole file, and requests stay few (a 10 GiB file asks 40 times; Box's SDKs
//! ask once per part). Parts that hold pool buffers (a reader's) are asked about at once when
//! every buffer is taken, since the reader can go no further until they are sent. No largest
//! batch is documented, so a batch refused with 400 or 413 is halved, and no later batch is
//! larger. A plan
//! writes nothing: an answer lost is asked again by the retry loop. Answers already in the state
//! file (same offset, size and SHA-512) are not asked again. When the plan cannot be had at all
//! (refused even for one part, or failing after its retries) the upload goes on without it:
//! every part not yet answered is sent as before.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::digest::{Sha1Digest, Sha512Digest};
use crate::retry::RetryPolicy;
use crate::upload::calls::{CallError, PlanEntry, UploadCalls};
use crate::upload::context::Ctx;
use crate::upload::error::{Chain, UploadError};
use crate::upload::layout::PartSpan;
use crate::upload::pool::BufferPool;
use crate::upload::reader::{sha1_of_kept, ReadMsg};

/// What the plan said of a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Answer {
    /// Not asked (reuse off, the plan unavailable, or the session holds the part already):
    /// the part is sent with its SHA-1 digest, as without reuse.
    Unasked,
    /// Box holds it: commit it by this `part_id`, send nothing.
    Hit(String),
    /// Box does not hold it: send it, with its SHA-512 digest.
    Miss,
}

/// What the plan stage hands the parts.
pub(super) enum Planned {
    /// A batch's answers, to record in the state file before its parts follow.
    Answers(Vec<PlanEntry>),
    /// The next part, with the plan's answer.
    Part(PlannedPart),
    /// As [`ReadMsg::Finished`].
    Finished { whole: Sha1Digest },
    /// As [`ReadMsg::Failed`].
    Failed(UploadError),
}

/// A part read, hashed and answered.
pub(super) struct PlannedPart {
    pub span: PartSpan,
    /// As [`ReadMsg::Part`]'s.
    pub data: Option<Bytes>,
    /// `None` only for a hit (never sent, committed by its `part_id`).
    pub sha1: Option<Sha1Digest>,
    pub sha512: Option<Sha512Digest>,
    pub answer: Answer,
}

impl PlannedPart {
    /// The part with its answer, and its SHA-1 unless it is a hit: one the reader left to
    /// compute (see [`ReadMsg::Part`]) is computed from the bytes it came with.
    async fn new(
        span: PartSpan,
        data: Option<Bytes>,
        sha1: Option<Sha1Digest>,
        sha512: Option<Sha512Digest>,
        answer: Answer,
    ) -> Result<Self, UploadError> {
        let sha1 = match (sha1, &answer, &data) {
            (Some(sha1), _, _) => Some(sha1),
            (None, Answer::Hit(_), _) => None,
            (None, _, Some(bytes)) => Some(sha1_of_kept(bytes).await?),
            (None, _, None) => {
                return Err(UploadError::internal(
                    "a part without its SHA-1 or its bytes",
                ))
            }
        };
        Ok(PlannedPart {
            span,
            data,
            sha1,
            sha512,
            answer,
        })
    }
}

/// The content a batch asks about, at most (see the module's documentation).
pub(super) const BATCH_BYTES: u64 = 256 << 20;

/// When a batch is asked: once it holds `bytes` of parts, when the reader ends, or (for parts
/// that hold buffers of `buffers`) when every buffer is taken.
pub(super) struct Batching {
    pub bytes: u64,
    /// The pool whose buffers the waiting parts hold, if they hold any.
    pub buffers: Option<BufferPool>,
}

impl Batching {
    /// Whether the parts waiting make a batch to ask about now.
    fn due(&self, waiting: &[Waiting], limit: Option<usize>, more_queued: bool) -> bool {
        let bytes: u64 = waiting.iter().map(|w| w.span.len).sum();
        let stuck = self
            .buffers
            .as_ref()
            .is_some_and(|pool| pool.available() == 0 && !more_queued);
        !waiting.is_empty()
            && (bytes >= self.bytes || limit.is_some_and(|l| waiting.len() >= l) || stuck)
    }
}

/// The plan stage of one upload.
pub(super) struct Planner<A> {
    pub ctx: Ctx<A>,
    pub retry: RetryPolicy,
    pub url: String,
    /// Off: every part goes on [`Answer::Unasked`].
    pub enabled: bool,
    /// Answers the state file recorded for this session, by offset.
    pub known: BTreeMap<u64, PlanEntry>,
    /// Parts the session holds already (on resume): not asked about.
    pub stored: BTreeSet<u64>,
    /// The largest batch to ask about; `None` until Box refused one.
    pub limit: Option<usize>,
}

/// A part waiting for its answer.
struct Waiting {
    span: PartSpan,
    data: Option<Bytes>,
    sha1: Option<Sha1Digest>,
    sha512: Sha512Digest,
}

impl<A: UploadCalls> Planner<A> {
    /// Takes the reader's parts from `rx`, answers them, and hands them on to `tx` (each part
    /// once, answers before their parts).
    pub(super) async fn run(
        mut self,
        batching: Batching,
        mut rx: mpsc::Receiver<ReadMsg>,
        tx: mpsc::Sender<Planned>,
    ) {
        let mut waiting: Vec<Waiting> = Vec::new();
        loop {
            if batching.due(&waiting, self.limit, !rx.is_empty()) {
                if !self.flush(&mut waiting, &tx).await {
                    return;
                }
                continue;
            }
            let next = rx.recv().await;
            let msg = match next {
                Some(ReadMsg::Part {
                    span,
                    data,
                    sha1,
                    sha512,
                }) => {
                    // In order: the reader hashes the next parts meanwhile.
                    let sha512 = match sha512 {
                        Some(later) => match later.get().await {
                            Ok(digest) => Some(digest),
                            Err(e) => {
                                let _ = tx.send(Planned::Failed(e)).await;
                                return;
                            }
                        },
                        None => None,
                    };
                    match (self.answer_now(&span, sha512.as_ref()), sha512) {
                        (None, Some(sha512)) => {
                            waiting.push(Waiting {
                                span,
                                data,
                                sha1,
                                sha512,
                            });
                            continue;
                        }
                        (answer, sha512) => {
                            let answer = answer.unwrap_or(Answer::Unasked);
                            match PlannedPart::new(span, data, sha1, sha512, answer).await {
                                Ok(part) => Planned::Part(part),
                                Err(e) => Planned::Failed(e),
                            }
                        }
                    }
                }
                Some(ReadMsg::Finished { whole }) => {
                    if !self.flush(&mut waiting, &tx).await {
                        return;
                    }
                    Planned::Finished { whole }
                }
                Some(ReadMsg::Failed(e)) => Planned::Failed(e),
                None => return,
            };
            let last = !matches!(msg, Planned::Part(_));
            if tx.send(msg).await.is_err() || last {
                return;
            }
        }
    }

    /// The answer a part has without asking: none to ask for (reuse off, stored already), or
    /// the state file's; `None`: ask.
    fn answer_now(&self, span: &PartSpan, sha512: Option<&Sha512Digest>) -> Option<Answer> {
        let Some(sha512) = sha512.filter(|_| self.enabled) else {
            return Some(Answer::Unasked);
        };
        if self.stored.contains(&span.offset) {
            return Some(Answer::Unasked);
        }
        let known = self.known.get(&span.offset)?;
        (known.size == span.len && known.sha512 == sha512.hex()).then(|| answer_of(known))
    }

    /// Asks about every waiting part and hands them on; `false` when the parts are gone (the
    /// upload stopped).
    async fn flush(&mut self, waiting: &mut Vec<Waiting>, tx: &mpsc::Sender<Planned>) -> bool {
        while !waiting.is_empty() {
            let n = self.limit.unwrap_or(usize::MAX).min(waiting.len()).max(1);
            let batch: Vec<PlanEntry> = waiting[..n]
                .iter()
                .map(|w| PlanEntry {
                    offset: w.span.offset,
                    size: w.span.len,
                    sha512: w.sha512.hex(),
                    part_id: None,
                })
                .collect();
            let answers = if self.enabled {
                match self.ask(batch.clone()).await {
                    Ok(found) => Some(found),
                    Err(e) if refused(&e) && n > 1 => {
                        self.limit = Some(n.div_ceil(2));
                        tracing::debug!(parts = n, "plan batch refused; halving it");
                        continue;
                    }
                    Err(e) => {
                        if e.is_cancelled() {
                            let _ = tx.send(Planned::Failed(e)).await;
                            return false;
                        }
                        tracing::warn!(error = %Chain(&e), "no plan: every part is sent");
                        self.enabled = false;
                        None
                    }
                }
            } else {
                None
            };
            let answers = answers.map(|found| matched(&batch, found));
            if let Some(answers) = &answers {
                if tx.send(Planned::Answers(answers.clone())).await.is_err() {
                    return false;
                }
            }
            // The SHA-1s of the parts to send are computed at once, on both cores.
            let parts = waiting.drain(..n).enumerate().map(|(i, w)| {
                let answer = answers
                    .as_ref()
                    .map_or(Answer::Unasked, |a| answer_of(&a[i]));
                PlannedPart::new(w.span, w.data, w.sha1, Some(w.sha512), answer)
            });
            for part in futures_util::future::join_all(parts).await {
                let (part, last) = match part {
                    Ok(part) => (Planned::Part(part), false),
                    Err(e) => (Planned::Failed(e), true),
                };
                if tx.send(part).await.is_err() || last {
                    return false;
                }
            }
        }
        true
    }

    /// One plan request, through the retry loop (it writes nothing: a lost answer is asked
    /// again), cut short by a cancel.
    async fn ask(&self, batch: Vec<PlanEntry>) -> Result<Vec<PlanEntry>, UploadError> {
        let (ctx, url, batch) = (&self.ctx, &self.url, &batch);
        ctx.retry(&self.retry)
            .call("plan_upload_parts", move || {
                ctx.api.plan(url, batch.clone())
            })
            .await
    }
}

/// A refusal that a smaller batch may avoid: 400 or 413 (Box documents no largest batch).
fn refused(e: &UploadError) -> bool {
    e.call_error()
        .is_some_and(|c: &CallError| matches!(c.status(), Some(400) | Some(413)))
}

fn answer_of(entry: &PlanEntry) -> Answer {
    match &entry.part_id {
        Some(id) => Answer::Hit(id.clone()),
        None => Answer::Miss,
    }
}

/// The answer for each part of `asked`, in its order: a hit only when Box's entry has the same
/// offset, size and SHA-512 as asked and a non-empty `part_id`; anything else (a miss, or a part
/// the answer left out or got wrong) is a miss, and is sent.
pub(super) fn matched(asked: &[PlanEntry], found: Vec<PlanEntry>) -> Vec<PlanEntry> {
    let hits: BTreeMap<u64, PlanEntry> = found
        .into_iter()
        .filter(|e| e.part_id.as_deref().is_some_and(|id| !id.is_empty()))
        .map(|e| (e.offset, e))
        .collect();
    asked
        .iter()
        .map(|a| {
            let hit = hits
                .get(&a.offset)
                .filter(|h| h.size == a.size && h.sha512.eq_ignore_ascii_case(&a.sha512));
            PlanEntry {
                part_id: hit.and_then(|h| h.part_id.clone()),
                ..a.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt as _;

    fn entry(offset: u64, sha: &str, id: Option<&str>) -> PlanEntry {
        PlanEntry {
            offset,
            size: 10,
            sha512: sha.repeat(64),
            part_id: id.map(str::to_owned),
        }
    }

    fn waiting(parts: u64, len: u64) -> Vec<Waiting> {
        (0..parts)
            .map(|index| Waiting {
                span: PartSpan {
                    index,
                    offset: index * len,
                    len,
                },
                data: None,
                sha1: Some(Sha1Digest([0; 20])),
                sha512: Sha512Digest([0; 64]),
            })
            .collect()
    }

    #[test]
    fn a_batch_is_due_at_its_bytes_its_refusal_limit_or_when_the_buffers_run_out() {
        const MIB: u64 = 1 << 20;
        let file = Batching {
            bytes: BATCH_BYTES,
            buffers: None,
        };
        assert!(!file.due(&[], None, false), "nothing to ask about");
        assert!(!file.due(&waiting(7, 32 * MIB), None, false), "224 MiB");
        assert!(file.due(&waiting(8, 32 * MIB), None, false), "256 MiB");
        assert!(!file.due(&waiting(31, 8 * MIB), None, false), "248 MiB");
        assert!(
            file.due(&waiting(3, MIB), Some(3), false),
            "Box took no more"
        );
        assert!(!file.due(&waiting(2, MIB), Some(3), false));

        let pool = BufferPool::new(16, 2);
        let reader = Batching {
            bytes: BATCH_BYTES,
            buffers: Some(pool.clone()),
        };
        assert!(!reader.due(&waiting(1, 16), None, false), "buffers free");
        let held: Vec<_> = futures_util::future::join_all([pool.acquire(), pool.acquire()])
            .now_or_never()
            .expect("two free buffers");
        assert!(
            reader.due(&waiting(2, 16), None, false),
            "the reader is stuck"
        );
        assert!(
            !reader.due(&waiting(2, 16), None, true),
            "parts already read come first"
        );
        drop(held);
    }

    #[test]
    fn only_exact_hits_count_and_every_part_asked_is_answered_in_order() {
        let asked = [
            entry(0, "aa", None),
            entry(10, "bb", None),
            entry(20, "cc", None),
            entry(30, "dd", None),
        ];
        let found = vec![
            entry(20, "cc", Some("P2")),
            entry(0, "aa", Some("P0")),
            entry(10, "ee", Some("P1")), // another content: not ours
            entry(30, "dd", Some("")),   // no id to commit it by
        ];
        let got = matched(&asked, found);
        let ids: Vec<_> = got.iter().map(|e| e.part_id.as_deref()).collect();
        assert_eq!(ids, [Some("P0"), None, Some("P2"), None]);
        assert_eq!(got[1].sha512, "bb".repeat(64), "what was asked is recorded");
    }
}
