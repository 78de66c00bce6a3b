//! A new file's conflict policy ([`Upload::on_conflict`](super::Upload::on_conflict)): before a
//! byte is sent, the name is looked up and the pure decision the trees use too
//! (`crate::conflict::decide`) says what to do, so a single file and a file of a tree are settled
//! alike. Identical content (size and SHA-1) is skipped whatever the policy; the outcome says
//! what was done ([`UploadOutcome`]).
//!
//! Why a lookup before sending, and with Box's preflight check: a direct upload's `409
//! item_name_in_use` comes only after its whole body was sent, so deciding on the 409 would send
//! every byte of an unchanged file again. The preflight (`OPTIONS /files/content`) answers the
//! same 409 with the item holding the name (id, SHA-1, etag) and costs one small request, where
//! listing the folder would cost a page per thousand items. A rename probes `name (1).ext`,
//! `name (2).ext`... the same way up to the first free name, which gives `decide` the renamed
//! copies to look through. Every lookup goes through the upload's retry loop.
//!
//! A name taken between the lookup and the upload still answers 409: the upload then fails with
//! [`UploadErrorKind::Conflict`](super::UploadErrorKind::Conflict), as without a policy.

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::calls::{Target, UploadCalls};
use super::context::Ctx;
use super::error::{ExistingItem, UploadError, UploadErrorKind};
use super::source::Peek;
use crate::conflict::OnConflict;
use crate::conflict::{copy_name, decide, must_hash, Copy, Decision, Existing, Local};
use crate::digest::Sha1Digest;
use crate::retry::RetryPolicy;

/// Renamed copies looked up at most by a rename (`name (1).ext` to `name (100).ext`).
const MAX_COPIES: u64 = 100;

/// What an upload did, as [`Uploader::upload_with_outcome`](super::Uploader::upload_with_outcome)
/// tells it. Without a conflict policy (or a name Box does not hold) it is
/// [`Uploaded`](UploadOutcome::Uploaded).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadOutcome {
    /// The content was sent: a new file, or the new version asked with
    /// [`Upload::new_version`](super::Upload::new_version).
    Uploaded,
    /// The name was held by a file with other content: sent as a new version of it
    /// ([`OnConflict::Version`]).
    Versioned,
    /// The name was held: sent as a new file under `name` ([`OnConflict::Rename`]).
    Renamed {
        /// The name it got (`name (n).ext`).
        name: String,
    },
    /// Nothing sent: the file holding the name has the same size and SHA-1 (any policy). The
    /// upload returns that file.
    SkippedIdentical,
    /// Nothing sent: the renamed copy `name` (an earlier [`OnConflict::Rename`]) has the same
    /// content. The upload returns that copy.
    SkippedRenamedCopy {
        /// The copy's name.
        name: String,
    },
    /// Nothing sent: the file holding the name was left as it is ([`OnConflict::Skip`]). The
    /// upload returns that file.
    Skipped,
}

impl UploadOutcome {
    /// Whether content was sent (a new file, version or renamed copy was made).
    pub fn sent(&self) -> bool {
        matches!(
            self,
            UploadOutcome::Uploaded | UploadOutcome::Versioned | UploadOutcome::Renamed { .. }
        )
    }
}

/// A committed or existing file and what the upload did to get it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Uploaded<F> {
    /// The file committed, or the one Box already held (a skip).
    pub file: F,
    /// What was done.
    pub outcome: UploadOutcome,
}

/// Where a running upload leaves its outcome for the caller that asked for it.
pub(crate) type OutcomeSlot = Arc<OnceLock<UploadOutcome>>;

/// What an upload started with
/// [`Uploader::start_upload_with_outcome`](super::Uploader::start_upload_with_outcome) did, once
/// its handle's `join` returned the file.
#[derive(Debug, Clone)]
pub struct OutcomeReceiver(pub(crate) OutcomeSlot);

impl OutcomeReceiver {
    /// The outcome, once the upload decided it (always, once it succeeded).
    pub fn get(&self) -> Option<UploadOutcome> {
        self.0.get().cloned()
    }
}

/// What the policy leaves the upload to do.
pub(crate) enum Resolved<F> {
    /// Upload to `target` (with `if_match`, for a version).
    Send {
        target: Target,
        if_match: Option<String>,
        outcome: UploadOutcome,
    },
    /// Nothing to send: Box holds `file`.
    Done { file: F, outcome: UploadOutcome },
}

/// The source of a [`UploadErrorKind::Conflict`] refused by [`OnConflict::Fail`]: names the
/// policies that would have gone ahead.
#[derive(Debug)]
struct FailPolicy {
    is_file: bool,
}

impl fmt::Display for FailPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_file {
            f.write_str(
                "the conflict policy is OnConflict::Fail; OnConflict::Version (a new version of \
                 it), Rename (a new file under a free name) or Skip would go ahead",
            )
        } else {
            f.write_str("the name is not a file's; OnConflict::Rename would go ahead")
        }
    }
}

impl std::error::Error for FailPolicy {}

/// Looks up what Box holds under `name` in `folder_id` and lets `policy` decide, before any byte
/// of `source` is sent.
pub(crate) async fn resolve<A: UploadCalls>(
    ctx: &Ctx<A>,
    retry: &RetryPolicy,
    folder_id: &str,
    name: &str,
    source: Peek,
    policy: OnConflict,
) -> Result<Resolved<A::File>, UploadError> {
    let size = declared_size(&source).await?;
    // Known before the lookup, so that its failure (a size over the user's limit) is named
    // with the size.
    ctx.reporter.update(|p| p.total_bytes = size);
    let target = |name: &str| Target::NewFile {
        folder_id: folder_id.to_string(),
        name: name.to_string(),
    };
    let send_as_is = Resolved::Send {
        target: target(name),
        if_match: None,
        outcome: UploadOutcome::Uploaded,
    };
    let Some(holder) = lookup(ctx, retry, &target(name), size).await? else {
        return Ok(send_as_is);
    };
    let existing = existing_of(&holder);
    // Hashed only when Box holds a file of that name (its answer has no size to tell them
    // apart) or a rename may find an identical copy; a reader cannot be read twice and is never
    // found identical.
    let sha1 = if policy == OnConflict::Rename || must_hash(size, Some(&existing), &[], policy) {
        hash(source).await?
    } else {
        None
    };
    let local = Local { size, sha1 };
    let first = decide(name, &local, Some(&existing), &[], policy, |n| {
        n.eq_ignore_ascii_case(name)
    });
    let (decision, copies) = match first {
        Decision::Rename { .. } => {
            let copies = probe_copies(ctx, retry, folder_id, name, size).await?;
            let listed: Vec<Copy<'_>> = copies
                .iter()
                .map(|(n, item)| Copy {
                    name: n,
                    existing: existing_of(item),
                })
                .collect();
            let decision = decide(name, &local, Some(&existing), &listed, policy, |n| {
                n.eq_ignore_ascii_case(name)
                    || copies.iter().any(|(c, _)| n.eq_ignore_ascii_case(c))
            });
            drop(listed);
            (decision, copies)
        }
        other => (other, Vec::new()),
    };
    let id = |item: &serde_json::Value| item.get("id").and_then(|v| v.as_str()).map(str::to_string);
    let file_of = |item: &serde_json::Value| {
        let id = id(item);
        async move {
            let id =
                id.ok_or_else(|| UploadError::internal("Box named a conflict without an id"))?;
            ctx.retry(retry)
                .call("get_file_info", || ctx.api.file_info(&id))
                .await
        }
    };
    match decision {
        Decision::Upload => Ok(send_as_is),
        Decision::SkipIdentical => Ok(Resolved::Done {
            file: file_of(&holder).await?,
            outcome: UploadOutcome::SkippedIdentical,
        }),
        Decision::SkipRenamedCopy { name: copy } => {
            let item = copies
                .iter()
                .find(|(n, _)| *n == copy)
                .map(|(_, item)| item)
                .ok_or_else(|| UploadError::internal("the renamed copy was not looked up"))?;
            Ok(Resolved::Done {
                file: file_of(item).await?,
                outcome: UploadOutcome::SkippedRenamedCopy { name: copy },
            })
        }
        Decision::Skip if existing.is_file => Ok(Resolved::Done {
            file: file_of(&holder).await?,
            outcome: UploadOutcome::Skipped,
        }),
        Decision::NewVersion => Ok(Resolved::Send {
            target: Target::NewVersion {
                file_id: id(&holder)
                    .ok_or_else(|| UploadError::internal("Box named a conflict without an id"))?,
                name: None,
            },
            // Only over the file as it was looked up: a change since answers 412.
            if_match: holder
                .get("etag")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            outcome: UploadOutcome::Versioned,
        }),
        Decision::Rename { name: new_name } => Ok(Resolved::Send {
            target: target(&new_name),
            if_match: None,
            outcome: UploadOutcome::Renamed { name: new_name },
        }),
        // Fail, or Skip of a name that is not a file's (there is no file to return).
        Decision::Fail | Decision::Skip => Err(refused(&holder, name, existing.is_file)),
    }
}

/// The item holding `target`'s name, if any (Box's preflight check, retried).
async fn lookup<A: UploadCalls>(
    ctx: &Ctx<A>,
    retry: &RetryPolicy,
    target: &Target,
    size: u64,
) -> Result<Option<serde_json::Value>, UploadError> {
    let found = ctx
        .retry(retry)
        .call("preflight_upload", || ctx.api.existing_item(target, size))
        .await?;
    // `conflicts` is one object on file uploads; take the first item of a list.
    Ok(found.map(|c| match c {
        serde_json::Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    }))
}

/// The renamed copies Box holds of `name`, lowest number first, up to the first free number.
async fn probe_copies<A: UploadCalls>(
    ctx: &Ctx<A>,
    retry: &RetryPolicy,
    folder_id: &str,
    name: &str,
    size: u64,
) -> Result<Vec<(String, serde_json::Value)>, UploadError> {
    let mut copies = Vec::new();
    for n in 1..=MAX_COPIES {
        let candidate = copy_name(name, n);
        let target = Target::NewFile {
            folder_id: folder_id.to_string(),
            name: candidate.clone(),
        };
        match lookup(ctx, retry, &target, size).await? {
            Some(item) => copies.push((candidate, item)),
            None => break,
        }
    }
    Ok(copies)
}

/// What the decision needs of a conflict item: Box's conflict names the type, id and SHA-1
/// but not the size.
fn existing_of(item: &serde_json::Value) -> Existing<'_> {
    Existing {
        is_file: item
            .get("type")
            .and_then(|v| v.as_str())
            .is_none_or(|t| t == "file"),
        size: item.get("size").and_then(|v| v.as_i64()),
        sha1: item.get("sha1").and_then(|v| v.as_str()),
    }
}

/// The conflict [`OnConflict::Fail`] (or a skip over a folder) ends the upload with.
fn refused(holder: &serde_json::Value, name: &str, is_file: bool) -> UploadError {
    let existing = ExistingItem::from_conflicts(holder)
        .unwrap_or_else(|| ExistingItem::new("", name, if is_file { "file" } else { "folder" }));
    UploadError::from(UploadErrorKind::Conflict {
        operation: "preflight_upload",
        attempts: 1,
        existing: Box::new(existing),
    })
    .with_source(FailPolicy { is_file })
}

/// The size the source will have: a file's as it is now, bytes', a reader's as declared.
async fn declared_size(source: &Peek) -> Result<u64, UploadError> {
    match source {
        Peek::Bytes(b) => Ok(b.len() as u64),
        Peek::Reader { size } => Ok(*size),
        Peek::Path(path) => tokio::fs::metadata(path)
            .await
            .map(|m| m.len())
            .map_err(|e| UploadError::source_io(format!("reading {}", path.display()), e)),
    }
}

/// The source's SHA-1, for bytes and a file (a reader cannot be read twice: `None`).
async fn hash(source: Peek) -> Result<Option<Sha1Digest>, UploadError> {
    match source {
        Peek::Bytes(b) => Ok(Some(Sha1Digest::of(&b))),
        Peek::Reader { .. } => Ok(None),
        Peek::Path(path) => {
            let context = format!("reading {}", path.display());
            tokio::task::spawn_blocking(move || {
                Sha1Digest::of_reader(std::fs::File::open(&path)?).map(|(_, sha1)| sha1)
            })
            .await
            .map_err(|e| UploadError::internal(e.to_string()))?
            .map(Some)
            .map_err(|e| UploadError::source_io(context, e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_item_is_read_as_the_decision_needs_it() {
        let file = serde_json::json!({"type": "file", "id": "5", "name": "a.txt", "sha1": "ab"});
        assert_eq!(
            existing_of(&file),
            Existing {
                is_file: true,
                size: None,
                sha1: Some("ab"),
            }
        );
        let untyped = serde_json::json!({"id": "5", "size": 3});
        assert!(
            existing_of(&untyped).is_file,
            "a file upload's conflict is a file"
        );
        assert_eq!(existing_of(&untyped).size, Some(3));
        let folder = serde_json::json!({"type": "folder", "id": "6"});
        assert!(!existing_of(&folder).is_file);
    }

    #[test]
    fn fail_names_the_file_and_the_policies_that_go_ahead() {
        let item = serde_json::json!({"type": "file", "id": "5", "name": "a.txt"});
        let err = refused(&item, "a.txt", true);
        let existing = err.conflict().expect("a conflict");
        assert_eq!(
            (existing.id.as_str(), existing.name.as_str()),
            ("5", "a.txt")
        );
        assert_eq!(err.operation(), Some("preflight_upload"));
        let why = std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default();
        assert!(why.contains("OnConflict::Version"), "{why}");
        assert!(why.contains("Rename") && why.contains("Skip"), "{why}");
        let folder = serde_json::json!({"type": "folder", "id": "6", "name": "a.txt"});
        let err = refused(&folder, "a.txt", false);
        assert_eq!(err.conflict().map(|e| e.kind.as_str()), Some("folder"));
    }

    #[test]
    fn only_a_sent_outcome_says_content_was_sent() {
        assert!(UploadOutcome::Uploaded.sent());
        assert!(UploadOutcome::Versioned.sent());
        assert!(UploadOutcome::Renamed {
            name: "a (1).txt".into()
        }
        .sent());
        assert!(!UploadOutcome::SkippedIdentical.sent());
        assert!(!UploadOutcome::SkippedRenamedCopy {
            name: "a (1).txt".into()
        }
        .sent());
        assert!(!UploadOutcome::Skipped.sent());
    }
}
