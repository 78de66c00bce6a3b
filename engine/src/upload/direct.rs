//! Single-request uploads (below the chunked cutoff): the content is read once into one buffer of
//! exactly the declared size, hashed, and sent with its SHA-1 in `content-md5`, so the server
//! refuses corrupted bytes. Retried on 429, 5xx and transport failures; after a failure that may
//! have stored the file, an `item_name_in_use` answer naming a file with our SHA-1 is success.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::api::{Target, UploadApi};
use super::digest::Sha1Digest;
use super::engine::{stored_by_earlier_attempt, verify_file, Ctx, Job};
use super::error::UploadError;
use super::progress::{CountedBody, Phase, ProgressEvent};
use super::retry::Retrier;
use super::source::OpenedSource;

pub(crate) async fn run<A: UploadApi>(
    ctx: &Ctx<A>,
    job: &Job,
    opened: OpenedSource,
) -> Result<A::File, UploadError> {
    let size = opened.size;
    let len = usize::try_from(size).map_err(|_| {
        UploadError::InvalidInput(format!(
            "{size} bytes do not fit in memory for a direct upload"
        ))
    })?;
    let mut reader = opened.reader;
    let (buf, read) = reader.fill(vec![0u8; len], len).await;
    let got = read.map_err(|e| UploadError::source_io("reading the content", e))?;
    if got < len {
        return Err(UploadError::SourceTooShort {
            declared: size,
            got: got as u64,
            session_id: None,
        });
    }
    match reader.has_more().await {
        Ok(false) => {}
        Ok(true) => {
            return Err(UploadError::SourceTooLong {
                declared: size,
                session_id: None,
            })
        }
        Err(e) => return Err(UploadError::source_io(format!("after byte {size}"), e)),
    }
    let (bytes, sha1) = tokio::task::spawn_blocking(move || {
        let sha1 = Sha1Digest::of(&buf);
        (Bytes::from(buf), sha1)
    })
    .await
    .map_err(|e| UploadError::Internal {
        detail: format!("hashing task failed: {e}"),
        session_id: None,
    })?;

    ctx.reporter.event(ProgressEvent::DirectStarted { size });
    ctx.reporter.update(|p| {
        p.phase = Phase::Uploading;
        p.total_parts = 1;
    });

    let operation = match job.target {
        Target::NewFile { .. } => "upload_file",
        Target::NewVersion { .. } => "upload_file_version",
    };
    let mut retrier = Retrier::new(&job.retry);
    let mut maybe_stored = false;
    loop {
        if ctx.is_cancelled() {
            return Err(UploadError::Cancelled { session_id: None });
        }
        let attempt = retrier.attempt();
        let counted = Arc::new(AtomicU64::new(0));
        let body = CountedBody::new(bytes.clone(), Some(ctx.reporter.clone()), counted.clone());
        let timeout = ctx.transfer_timeout(size);
        let result = {
            let _permit = ctx.permits.acquire().await;
            let call = ctx
                .api
                .upload_direct(&job.target, body, sha1, job.if_match.clone());
            tokio::select! {
                r = tokio::time::timeout(timeout, call) => r.unwrap_or_else(|_| Err(super::api::CallError::timeout(timeout))),
                _ = ctx.cancelled() => return Err(UploadError::Cancelled { session_id: None }),
            }
        };
        let err = match result {
            Ok(file) => {
                verify_file(operation, &A::file_facts(&file), size, &sha1)?;
                finish(ctx, &A::file_facts(&file).id, size);
                return Ok(file);
            }
            Err(err) => err,
        };
        ctx.reporter.take_back_sent(counted.load(Ordering::Relaxed));
        if maybe_stored {
            if let Some(file) = stored_by_earlier_attempt::<A>(&err, &sha1) {
                tracing::info!(
                    "an earlier attempt stored the file (name in use with the same SHA-1)"
                );
                let id = A::file_facts(&file).id;
                finish(ctx, &id, size);
                return Ok(file);
            }
        }
        match retrier.next_wait(&err) {
            Ok(wait) => {
                maybe_stored |= err.may_have_taken_effect();
                ctx.reporter.event(ProgressEvent::Retry {
                    operation,
                    attempt,
                    reason: err.reason(),
                    wait,
                });
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = ctx.cancelled() => return Err(UploadError::Cancelled { session_id: None }),
                }
            }
            Err(_) => {
                return Err(UploadError::Api {
                    operation,
                    attempts: attempt,
                    session_id: None,
                    source: err,
                })
            }
        }
    }
}

fn finish<A>(ctx: &Ctx<A>, file_id: &str, size: u64) {
    ctx.reporter.event(ProgressEvent::PartDone {
        index: 0,
        offset: 0,
        size,
    });
    ctx.reporter.event(ProgressEvent::Committed {
        file_id: file_id.to_string(),
    });
}
