//! Single-request uploads (below the chunked cutoff): the content is read once into one buffer of
//! exactly the declared size, hashed, and sent with its SHA-1 in `content-md5`, so the server
//! refuses corrupted bytes. Retried on 429, 5xx and transport failures; after a failure that may
//! have stored the file, an `item_name_in_use` answer naming a file with our SHA-1 is success,
//! and so is a `412` to a new version whose file now holds our content (our own lost write
//! changed its etag).
//! A 401 (an expired token) is sent again once from the same bytes when the credentials can
//! renew: the HTTP core renewed the token but could not replay the streamed body.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::calls::{Target, UploadCalls};
use super::context::{Ctx, Job};
use super::error::{UploadError, UploadErrorKind};
use super::progress::{CountedBody, Phase, ProgressEvent};
use super::source::OpenedSource;
use super::stored::{find_stored, stored_by_earlier_attempt, verify_file};
use crate::digest::Sha1Digest;
use crate::retry::Step;

pub(crate) async fn run<A: UploadCalls>(
    ctx: &Ctx<A>,
    job: &Job,
    opened: OpenedSource,
) -> Result<A::File, UploadError> {
    let size = opened.size;
    let len = usize::try_from(size).map_err(|_| {
        UploadError::invalid_input(format!(
            "{size} bytes do not fit in memory for a direct upload"
        ))
    })?;
    let mut reader = opened.reader;
    let (buf, read) = reader.fill(vec![0u8; len], len).await;
    let got = read.map_err(|e| UploadError::source_io("reading the content", e))?;
    if got < len {
        return Err(UploadErrorKind::SourceTooShort {
            declared: size,
            got: got as u64,
        }
        .into());
    }
    match reader.has_more().await {
        Ok(false) => {}
        Ok(true) => return Err(UploadErrorKind::SourceTooLong { declared: size }.into()),
        Err(e) => return Err(UploadError::source_io(format!("after byte {size}"), e)),
    }
    let (bytes, sha1) = tokio::task::spawn_blocking(move || {
        let sha1 = Sha1Digest::of(&buf);
        (Bytes::from(buf), sha1)
    })
    .await
    .map_err(|e| UploadError::internal("hashing task failed").with_source(e))?;

    ctx.reporter.event(ProgressEvent::DirectStarted { size });
    ctx.reporter.update(|p| {
        p.phase = Phase::Uploading;
        p.total_parts = 1;
    });

    let operation = match job.target {
        Target::NewFile { .. } => "upload_file",
        Target::NewVersion { .. } => "upload_file_version",
    };
    let result = ctx
        .retry(&job.retry)
        .run(operation, |attempt| {
            let bytes = bytes.clone();
            async move {
                // The last answer was lost: the upload may be stored; look before sending again.
                if attempt.right_after_ambiguous_failure() {
                    if let Some(file) = find_stored(ctx, job, size, &sha1).await {
                        return Step::Done(file);
                    }
                }
                let counted = Arc::new(AtomicU64::new(0));
                let body = CountedBody::new(bytes, Some(ctx.reporter.clone()), counted.clone());
                let call =
                    ctx.api
                        .upload_direct(&job.target, body, sha1, job.if_match.clone(), job.dates);
                let result = ctx.send_content(size, call).await;
                let err = match result {
                    Ok(file) => {
                        return match verify_file(operation, &A::file_facts(&file), size, &sha1) {
                            Ok(()) => Step::Done(file),
                            Err(e) => Step::Stop(e),
                        }
                    }
                    Err(err) => err,
                };
                ctx.reporter.take_back_sent(counted.load(Ordering::Relaxed));
                if attempt.after_ambiguous_failure() {
                    if let Some(file) = stored_by_earlier_attempt(ctx, job, &err, size, &sha1).await
                    {
                        tracing::info!(
                            "an earlier attempt stored the file (name in use with the same SHA-1)"
                        );
                        return Step::Done(file);
                    }
                }
                if err.status() == Some(412) && attempt.after_ambiguous_failure() {
                    // Maybe our own lost write changed the etag: then the file holds our
                    // content now. Box: a new version whose write went through is a success,
                    // not "someone else changed it".
                    if let Some(file) = find_stored(ctx, job, size, &sha1).await {
                        tracing::info!(
                            "412 after a lost answer: the earlier attempt stored the version"
                        );
                        return Step::Done(file);
                    }
                }
                Step::Failed(err)
            }
        })
        .await;
    let file = match result {
        Ok(file) => file,
        // Giving up after a failure that may have stored the file: one last look.
        Err(e) if e.call_error().is_some_and(|c| c.may_have_taken_effect()) => {
            match find_stored(ctx, job, size, &sha1).await {
                Some(file) => file,
                None => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    ctx.reporter.event(ProgressEvent::PartDone {
        index: 0,
        offset: 0,
        size,
    });
    ctx.reporter.event(ProgressEvent::Committed {
        file_id: A::file_facts(&file).id,
    });
    Ok(file)
}
