//! `put FILE --dry-run`: what a real run would do with one file, found with read-only calls
//! (the file's info for a new version; for a new file, the library's plan of the conflict
//! policy: Box's preflight check, the renamed copies a rename would look through, the file it
//! would skip or version) and the local file's size and SHA-1. Nothing is written, in Box or on
//! disk. (A directory's dry run is the engine's: see `put_tree`.)

use std::path::Path;

use anyhow::Context as _;

use box_uploads::models::FileFull;
use box_uploads::operations::GetFileInfoRequest;
use box_uploads::upload::{Upload, UploadErrorKind, UploadOutcome, Uploader};
use box_uploads::Client;

use crate::args::PutArgs;
use crate::exit_code::{CallFailed, Classified, Exit};
use crate::put_file::box_name;

/// What a real run would do.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    /// A new file in the folder (`renamed`: under a free name, as `--on-conflict rename` does).
    Upload {
        folder_id: String,
        name: String,
        renamed: bool,
    },
    /// Nothing sent: `why`, and the file Box holds.
    Skip { file_id: String, why: String },
    /// A new version of the file; `same_content` when it holds these bytes already.
    Version {
        file_id: String,
        name: Option<String>,
        same_content: bool,
    },
    /// The run would stop with exit 6: the name is taken, or the etag is stale.
    Conflict {
        reason: String,
        existing_id: Option<String>,
        same_content: bool,
    },
}

/// The plan of a single-file run.
struct Plan {
    action: Action,
    size: u64,
    sha1: String,
    chunked: bool,
}

/// Resolves and prints what `put FILE` would do; exits 0 once the plan is made.
pub(crate) async fn run(args: &PutArgs, uploader: &Uploader, quiet: bool) -> anyhow::Result<Exit> {
    let path = args.file.clone();
    let (size, sha1) = tokio::task::spawn_blocking(move || hash(&path))
        .await
        .context("the hashing task failed")??;
    let client = uploader.client();
    let action = match (&args.version_of, &args.folder) {
        (Some(file_id), _) => {
            version(client, file_id, args.if_match.as_deref(), size, &sha1).await?
        }
        (None, Some(folder)) => new_file(uploader, args, folder, &box_name(args)?).await?,
        (None, None) => {
            return Err(
                Classified::new(Exit::Usage, "pass --folder ID or --version-of FILE_ID").into(),
            )
        }
    };
    let config = uploader.config();
    let plan = Plan {
        action,
        size,
        sha1,
        chunked: size > config.chunked_cutoff && size >= config.min_chunked_size,
    };
    if args.json {
        println!("{}", plan_json(&plan));
    } else if !quiet {
        println!("{}", plan_line(&plan, &args.file));
    }
    Ok(Exit::Done)
}

/// The size and hex SHA-1 of the file at `path`.
fn hash(path: &Path) -> anyhow::Result<(u64, String)> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (size, sha1) = box_uploads::upload::Sha1Digest::of_reader(file)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok((size, sha1.hex()))
}

/// The file's facts that decide the plan.
const FIELDS: [&str; 4] = ["name", "size", "sha1", "etag"];

async fn file_info(client: &Client, file_id: &str) -> anyhow::Result<FileFull> {
    let request = GetFileInfoRequest::new(file_id)
        .with_fields(FIELDS.iter().map(|f| f.to_string()).collect());
    client
        .get_file_info(request)
        .await
        .map_err(|e| CallFailed::new("get_file_info", &e).into())
}

fn holds(file: &FileFull, size: u64, sha1: &str) -> bool {
    file.size == i64::try_from(size).ok()
        && file
            .sha1
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(sha1))
}

/// A new version of `file_id`: refused if `if_match` is stale, as the real run's 412 would be.
async fn version(
    client: &Client,
    file_id: &str,
    if_match: Option<&str>,
    size: u64,
    sha1: &str,
) -> anyhow::Result<Action> {
    let file = file_info(client, file_id).await?;
    let same_content = holds(&file, size, sha1);
    if let Some(expected) = if_match {
        if file.etag.as_deref() != Some(expected) {
            return Ok(Action::Conflict {
                reason: format!(
                    "file {file_id} has etag {}, not {expected} (a real run gets HTTP 412)",
                    file.etag.as_deref().unwrap_or("?")
                ),
                existing_id: Some(file_id.to_string()),
                same_content,
            });
        }
    }
    Ok(Action::Version {
        file_id: file_id.to_string(),
        name: file.name,
        same_content,
    })
}

/// A new file in `folder_id`: the library's plan of the conflict policy (`--on-conflict`), with
/// read-only calls.
async fn new_file(
    uploader: &Uploader,
    args: &PutArgs,
    folder_id: &str,
    name: &str,
) -> anyhow::Result<Action> {
    let upload = Upload::new_file(folder_id, name)
        .on_conflict(args.on_conflict())
        .from_path(&args.file);
    let planned = match uploader.plan_upload(upload).await {
        Ok(planned) => planned,
        Err(e) => {
            return match e.kind() {
                UploadErrorKind::Conflict { existing, .. } => Ok(Action::Conflict {
                    reason: format!(
                        "folder {folder_id} already holds {:?} ({} {}) with other content \
                         (--on-conflict fail)",
                        existing.name, existing.kind, existing.id
                    ),
                    existing_id: Some(existing.id.clone()),
                    same_content: false,
                }),
                _ => Err(e.into()),
            }
        }
    };
    let file = planned.file;
    let id = || file.as_ref().map(|f| f.id.clone()).unwrap_or_default();
    Ok(match planned.outcome {
        UploadOutcome::Renamed { name } => Action::Upload {
            folder_id: folder_id.to_string(),
            name,
            renamed: true,
        },
        UploadOutcome::Versioned => Action::Version {
            file_id: id(),
            name: file.as_ref().and_then(|f| f.name.clone()),
            same_content: false,
        },
        UploadOutcome::SkippedIdentical => Action::Skip {
            file_id: id(),
            why: format!("folder {folder_id} holds {name} with the same content"),
        },
        UploadOutcome::SkippedRenamedCopy { name: copy } => Action::Skip {
            file_id: id(),
            why: format!("its renamed copy {copy} holds the same content"),
        },
        UploadOutcome::Skipped => Action::Skip {
            file_id: id(),
            why: format!("folder {folder_id} holds {name} with other content (--on-conflict skip)"),
        },
        _ => Action::Upload {
            folder_id: folder_id.to_string(),
            name: name.to_string(),
            renamed: false,
        },
    })
}

/// The plan as one line.
fn plan_line(plan: &Plan, path: &Path) -> String {
    let how = if plan.chunked {
        "in parts"
    } else {
        "in one request"
    };
    let what = format!(
        "{} ({} bytes, sha1 {})",
        path.display(),
        plan.size,
        plan.sha1
    );
    match &plan.action {
        Action::Upload {
            folder_id,
            name,
            renamed,
        } => format!(
            "dry run: would upload {what} as {name} in folder {folder_id}{}, {how}; nothing was written",
            if *renamed { " (the name is held: renamed)" } else { "" }
        ),
        Action::Skip { file_id, why } => format!(
            "dry run: would skip {what}: {why} (file {file_id}); nothing would be sent"
        ),
        Action::Version {
            file_id,
            name,
            same_content,
        } => format!(
            "dry run: would upload {what} as a new version of file {file_id}{}{}, {how}; nothing was written",
            name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default(),
            if *same_content { ", which holds this content already" } else { "" }
        ),
        Action::Conflict {
            reason,
            existing_id,
            same_content,
        } => format!(
            "dry run: would stop (exit 6) on {what}: {reason}{}{}; nothing was written",
            existing_id.as_deref().map(|id| format!(", file {id}")).unwrap_or_default(),
            if *same_content { " with this content" } else { " with other content" }
        ),
    }
}

/// The plan as JSON.
fn plan_json(plan: &Plan) -> serde_json::Value {
    let mut v = match &plan.action {
        Action::Upload {
            folder_id,
            name,
            renamed,
        } => serde_json::json!({
            "action": if *renamed { "rename" } else { "upload" }, "folder_id": folder_id,
            "name": name,
        }),
        Action::Skip { file_id, why } => serde_json::json!({
            "action": "skip", "file_id": file_id, "reason": why,
        }),
        Action::Version {
            file_id,
            name,
            same_content,
        } => serde_json::json!({
            "action": "version", "file_id": file_id, "name": name, "same_content": same_content,
        }),
        Action::Conflict {
            reason,
            existing_id,
            same_content,
        } => serde_json::json!({
            "action": "conflict", "reason": reason, "existing_id": existing_id,
            "same_content": same_content, "exit_code": Exit::Conflict.code(),
        }),
    };
    v["dry_run"] = true.into();
    v["size"] = plan.size.into();
    v["sha1"] = plan.sha1.clone().into();
    v["chunked"] = plan.chunked.into();
    v
}
