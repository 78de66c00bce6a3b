//! Is the upload already stored? After an answer was lost, the file the upload would have made
//! is looked up and checked against the local content; and every stored file is checked against
//! what was sent.

use super::calls::{CallError, FileFacts, Target, UploadCalls};
use super::context::{Ctx, Job};
use super::error::{Chain, UploadError};
use crate::digest::Sha1Digest;

/// Checks the file the server says it stored against what was sent.
pub(crate) fn verify_file(
    operation: &'static str,
    facts: &FileFacts,
    size: u64,
    sha1: &Sha1Digest,
) -> Result<(), UploadError> {
    if let Some(stored) = facts.size {
        if stored != size {
            return Err(UploadError::verification(
                operation,
                format!("file {} has {stored} bytes, {size} were sent", facts.id),
            ));
        }
    } else {
        tracing::warn!(file_id = %facts.id, "the server did not say the stored file's size");
    }
    match &facts.sha1 {
        Some(stored) if !sha1.matches_hex(stored) => Err(UploadError::verification(
            operation,
            format!(
                "file {} has SHA-1 {stored}, the content sent has {sha1}",
                facts.id
            ),
        )),
        Some(_) => Ok(()),
        None => {
            tracing::warn!(file_id = %facts.id, "the server did not say the stored file's SHA-1");
            Ok(())
        }
    }
}

/// The item of `conflict` (`context_info.conflicts`: one object on file uploads, an array
/// elsewhere) whose SHA-1 is `sha1`.
fn same_content<'c>(
    conflict: &'c serde_json::Value,
    sha1: &Sha1Digest,
) -> Option<&'c serde_json::Value> {
    let items = match conflict {
        serde_json::Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    items.into_iter().find(|item| {
        item.get("sha1")
            .and_then(|v| v.as_str())
            .is_some_and(|theirs| sha1.matches_hex(theirs))
    })
}

/// The file a conflict names with our SHA-1, read whole with get-file-info and checked: its
/// SHA-1 and size must be ours. When get-file-info cannot be had, the conflict itself, with our
/// size (the same content has the same size; Box's conflict does not say it).
async fn conflicting_file<A: UploadCalls>(
    ctx: &Ctx<A>,
    job: &Job,
    item: &serde_json::Value,
    size: u64,
    sha1: &Sha1Digest,
) -> Option<A::File> {
    let id = item.get("id").and_then(|v| v.as_str())?;
    let info = ctx
        .retry(&job.retry)
        .call("get_file_info", || ctx.api.file_info(id))
        .await;
    match info {
        Ok(file) => holds_content::<A>(&file, size, sha1).then_some(file),
        Err(e) => {
            tracing::debug!(error = %Chain(&e), "could not read the conflicting file");
            A::file_from_conflict(item, size)
        }
    }
}

/// Whether `file` holds `size` bytes with SHA-1 `sha1` (both must be given).
fn holds_content<A: UploadCalls>(file: &A::File, size: u64, sha1: &Sha1Digest) -> bool {
    let facts = A::file_facts(file);
    facts.size == Some(size) && facts.sha1.as_deref().is_some_and(|s| sha1.matches_hex(s))
}

/// After a failure that may have stored the upload, an `item_name_in_use` answer naming a file
/// with our SHA-1 means the earlier attempt worked.
pub(crate) async fn stored_by_earlier_attempt<A: UploadCalls>(
    ctx: &Ctx<A>,
    job: &Job,
    err: &CallError,
    size: u64,
    sha1: &Sha1Digest,
) -> Option<A::File> {
    if !err.is_code("item_name_in_use") {
        return None;
    }
    let conflict = err.conflict()?;
    let item = same_content(&conflict, sha1)?;
    conflicting_file(ctx, job, item, size, sha1).await
}

/// After an answer was lost (a timeout, a reset, a 5xx that may have come after the write was
/// stored): the file the upload would have made, if it holds our content. Box's guide says a
/// 5xx write may still have been persisted
/// (<https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/>). A
/// lookup that fails (after the upload's retries) counts as "not found": the caller goes on as it
/// would have.
///
/// A new file is looked for at the target's name with Box's preflight check, a new version with
/// get-file-info: the version is ours when the file's SHA-1 and size are those of our content,
/// its name is the one the upload gives it, and its etag is no longer the `if_match` the upload
/// was sent with (a write changes it). Without `if_match`, a file that already held this content
/// cannot be told from one our write gave it: it counts as stored (sending it again would only
/// add a copy of the same version).
pub(crate) async fn find_stored<A: UploadCalls>(
    ctx: &Ctx<A>,
    job: &Job,
    size: u64,
    sha1: &Sha1Digest,
) -> Option<A::File> {
    if let Target::NewVersion { file_id, name } = &job.target {
        return version_stored(ctx, job, file_id, name.as_deref(), size, sha1).await;
    }
    let found = ctx
        .retry(&job.retry)
        .call("preflight_upload", || {
            ctx.api.existing_item(&job.target, size)
        })
        .await;
    let conflict = match found {
        Ok(Some(item)) => item,
        Ok(None) => return None,
        Err(e) => {
            tracing::debug!(error = %Chain(&e), "could not look for the stored file");
            return None;
        }
    };
    let found = conflicting_file(ctx, job, same_content(&conflict, sha1)?, size, sha1).await;
    if found.is_some() {
        tracing::info!("the upload whose answer was lost is stored (same name and SHA-1)");
    }
    found
}

/// Whether the new version of `file_id` whose answer was lost is stored (see [`find_stored`]).
async fn version_stored<A: UploadCalls>(
    ctx: &Ctx<A>,
    job: &Job,
    file_id: &str,
    name: Option<&str>,
    size: u64,
    sha1: &Sha1Digest,
) -> Option<A::File> {
    let file = read_file(ctx, job, file_id).await?;
    let facts = A::file_facts(&file);
    let unchanged = job.if_match.is_some() && facts.etag == job.if_match;
    let other_name = name.is_some_and(|n| facts.name.as_deref().is_some_and(|m| m != n));
    if unchanged || other_name || !holds_content::<A>(&file, size, sha1) {
        return None;
    }
    tracing::info!(
        file_id,
        "the version whose answer was lost is stored (same SHA-1 and size)"
    );
    Some(file)
}

/// For a new version all of whose parts Box held already, after a commit answered 202: the file,
/// if it already holds our content (SHA-1 and size) under the name the upload gives it. Box's
/// 10.18 SDKs read such a 202 as "the file did not change" (no version is made); the caller then
/// takes the file as it is. A lookup that fails counts as "not so" (the 202 is waited out).
pub(crate) async fn unchanged<A: UploadCalls>(
    ctx: &Ctx<A>,
    job: &Job,
    size: u64,
    sha1: &Sha1Digest,
) -> Option<A::File> {
    let Target::NewVersion { file_id, name } = &job.target else {
        return None;
    };
    let file = read_file(ctx, job, file_id).await?;
    let facts = A::file_facts(&file);
    let other_name = name
        .as_deref()
        .is_some_and(|n| facts.name.as_deref() != Some(n));
    (!other_name && holds_content::<A>(&file, size, sha1)).then_some(file)
}

/// The file's info as it is now, or `None` (logged) when it cannot be read: both checks take
/// a failed lookup as "not so".
async fn read_file<A: UploadCalls>(ctx: &Ctx<A>, job: &Job, file_id: &str) -> Option<A::File> {
    let info = ctx
        .retry(&job.retry)
        .call("get_file_info", || ctx.api.file_info(file_id))
        .await;
    match info {
        Ok(file) => Some(file),
        Err(e) => {
            tracing::debug!(error = %Chain(&e), "could not read the file");
            None
        }
    }
}
