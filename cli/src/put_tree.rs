//! `put DIR`: the contents of a directory into a folder (as rclone copies a directory), or with
//! `--as-folder` into a folder named after the directory inside it (made, or the one already
//! there, as `box folders:upload` does): missing folders made, files Box holds already skipped,
//! conflicts settled as `--on-conflict` says, at a pace Box's rate limits allow. A dry run
//! reads Box and writes nothing (the engine's plan).

use std::time::Duration;

use box_uploads::models::{CreateFolderBody, CreateFolderBodyParent, ItemType};
use box_uploads::operations::{CreateFolderRequest, ListFolderItemsRequest};
use box_uploads::tree::{Rate, RateLimits, TreeUpload};
use box_uploads::upload::Uploader;
use box_uploads::OperationError;

use crate::args::PutArgs;
use crate::exit_code::{CallFailed, Classified, Exit};
use crate::explain::Scene;
use crate::interrupt::{until_ctrl_c, Ended};
use crate::logging::Verbosity;
use crate::output;

/// Box's rate limits per user: about 1000 API requests and 240 uploads a minute.
const REQUESTS_PER_MINUTE: u32 = 1000;
const UPLOADS_PER_MINUTE: u32 = 240;

/// Uploads the tree `args.file` into folder `--folder` and prints the report; exits 1 when any
/// file failed.
pub(crate) async fn run(
    args: &PutArgs,
    uploader: &Uploader,
    scene: &Scene,
    verbosity: Verbosity,
) -> anyhow::Result<Exit> {
    let folder = folder_of(args)?;
    let (root, into) = if args.as_folder {
        let name = folder_name(args)?;
        match named_folder(uploader, folder, &name, args.dry_run).await? {
            Some(id) => (
                id.clone(),
                format!("folder {name} ({id}) in folder {folder}"),
            ),
            None => {
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "dry_run": true, "action": "create_folder", "name": name,
                            "parent_id": folder,
                        })
                    );
                } else if verbosity > Verbosity::Quiet {
                    println!(
                        "dry run: would create folder {name} in folder {folder} and upload the \
                         contents of {} into it; nothing was written",
                        args.file.display()
                    );
                }
                return Ok(Exit::Done);
            }
        }
    } else {
        (folder.to_string(), format!("folder {folder}"))
    };
    let handle = uploader.start_tree(tree(args, root)?);
    let bar = output::tree_bar(&handle, verbosity > Verbosity::Quiet);
    let aborter = handle.aborter();
    let report = match until_ctrl_c(Box::pin(handle.join()), bar).await {
        Ended::Finished(result) => result.map_err(anyhow::Error::new)?,
        Ended::Interrupted(_) => {
            aborter.abort();
            output::message(match &args.state {
                Some(state) => format!(
                    "interrupted; run the same command again to finish (journal {})",
                    state.display()
                ),
                None => "interrupted; run the same command again to finish (files already in Box are skipped)".to_string(),
            });
            return Ok(Exit::Interrupted);
        }
    };
    output::print_tree_report(
        &report,
        args.json,
        args.dry_run,
        verbosity == Verbosity::Quiet,
        scene,
        &into,
    )?;
    Ok(if report.is_success() {
        Exit::Done
    } else {
        Exit::Failed
    })
}

/// `--folder`, which a directory needs.
fn folder_of(args: &PutArgs) -> anyhow::Result<&str> {
    args.folder.as_deref().ok_or_else(|| {
        Classified::new(
            Exit::Usage,
            format!("{} is a directory: pass --folder ID", args.file.display()),
        )
        .into()
    })
}

/// The name of the folder `--as-folder` uploads into: the directory's own name.
fn folder_name(args: &PutArgs) -> anyhow::Result<String> {
    let path = std::fs::canonicalize(&args.file).unwrap_or_else(|_| args.file.clone());
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            Classified::new(
                Exit::Usage,
                format!("{} has no name to give a Box folder", args.file.display()),
            )
            .hint("leave out --as-folder, or give a named directory")
            .into()
        })
}

/// The Box folder `name` in folder `parent`: made, or the one there already (a 409 names it).
/// A dry run only looks (the parent's listing): `None` when it would be made.
async fn named_folder(
    uploader: &Uploader,
    parent: &str,
    name: &str,
    dry_run: bool,
) -> anyhow::Result<Option<String>> {
    let client = uploader.client();
    if dry_run {
        return find_folder(uploader, parent, name).await;
    }
    let body = CreateFolderBody {
        name: name.to_string(),
        parent: CreateFolderBodyParent {
            id: parent.to_string(),
        },
    };
    let request = CreateFolderRequest::new(body).with_fields(vec!["id".into()]);
    let err = match client.create_folder(request).await {
        Ok(folder) => return Ok(Some(folder.id)),
        Err(e) => e,
    };
    let failed = CallFailed::new("create_folder", &err);
    if failed.facts.code.as_deref() != Some("item_name_in_use") {
        return Err(failed.into());
    }
    let holder = match &err {
        box_uploads::runtime::Error::Api(api) => first_conflict(api.raw_body()),
        _ => None,
    };
    match holder {
        Some((kind, id)) if kind == "folder" => Ok(Some(id)),
        Some((kind, id)) => Err(Classified::new(
            Exit::Conflict,
            format!("folder {parent} already holds {name} as a {kind} ({kind} {id}), not a folder"),
        )
        .hint("leave out --as-folder, or rename or move that item in Box")
        .into()),
        None => Err(failed.into()),
    }
}

/// The `(type, id)` of the first item of a 409's `context_info.conflicts`.
fn first_conflict(body: &str) -> Option<(String, String)> {
    let body: serde_json::Value = serde_json::from_str(body).ok()?;
    let conflicts = body.get("context_info")?.get("conflicts")?;
    let item = match conflicts {
        serde_json::Value::Array(items) => items.first()?,
        other => other,
    };
    let text = |k: &str| item.get(k).and_then(|v| v.as_str()).map(str::to_string);
    Some((text("type").unwrap_or_else(|| "folder".into()), text("id")?))
}

/// The folder named `name` (Box compares names without case) in `parent`, from its listing.
async fn find_folder(
    uploader: &Uploader,
    parent: &str,
    name: &str,
) -> anyhow::Result<Option<String>> {
    let client = uploader.client();
    let mut marker: Option<String> = None;
    loop {
        let mut request = ListFolderItemsRequest::new(parent)
            .with_fields(vec!["type".into(), "id".into(), "name".into()])
            .with_usemarker(true)
            .with_limit(1000);
        if let Some(m) = marker.take() {
            request = request.with_marker(m);
        }
        let page = client
            .list_folder_items(request)
            .await
            .map_err(|e| CallFailed::new("list_folder_items", &e))?;
        let found = page.entries.unwrap_or_default().into_iter().find(|item| {
            item.r#type == ItemType::Folder
                && item
                    .name
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase() == name.to_lowercase())
        });
        if let Some(folder) = found {
            return Ok(Some(folder.id));
        }
        match page.next_marker.filter(|m| !m.is_empty()) {
            Some(next) => marker = Some(next),
            None => return Ok(None),
        }
    }
}

/// The tree upload the options describe, into Box folder `root`; the options that take a
/// single file are refused before (see `main`).
fn tree(args: &PutArgs, root: String) -> anyhow::Result<TreeUpload> {
    let mut tree = TreeUpload::new(&args.file, root)
        .on_conflict(args.on_conflict())
        .dry_run(args.dry_run)
        .rate_limits(rate_limits(
            args.requests_per_minute.unwrap_or(REQUESTS_PER_MINUTE),
            args.uploads_per_minute.unwrap_or(UPLOADS_PER_MINUTE),
        ));
    for glob in &args.exclude {
        tree = tree.exclude(glob.clone());
    }
    if let Some(state) = &args.state {
        tree = tree.journal(state.clone());
    }
    Ok(tree)
}

/// Per-minute limits, with bursts of a hundredth of the requests and a sixtieth of the uploads
/// (at least one).
fn rate_limits(requests_per_minute: u32, uploads_per_minute: u32) -> RateLimits {
    let minute = Duration::from_secs(60);
    RateLimits {
        requests: Rate::new(requests_per_minute, minute)
            .with_burst((requests_per_minute / 100).max(1)),
        uploads: Rate::new(uploads_per_minute, minute).with_burst((uploads_per_minute / 60).max(1)),
    }
}
