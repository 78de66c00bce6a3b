//! `put DIR`: a directory tree into a folder: missing folders made, files Box holds already
//! skipped, conflicts settled as `--on-conflict` says, at a pace Box's rate limits allow.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;

use box_uploads::tree::{Rate, RateLimits, TreeUpload};
use box_uploads::upload::Uploader;

use crate::args::PutArgs;
use crate::interrupt::{until_ctrl_c, Ended, EXIT_INTERRUPTED};
use crate::output;

/// Uploads the tree `args.file` into folder `--folder` and prints the report; fails (exit 1)
/// when any file failed.
pub(crate) async fn run(args: &PutArgs, uploader: &Uploader) -> anyhow::Result<ExitCode> {
    let handle = uploader.start_tree(tree(args)?);
    let bar = output::tree_bar(&handle);
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
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
    };
    output::print_tree_report(&report, args.json, args.dry_run)?;
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The tree upload the options describe; refuses the options that take a single file.
fn tree(args: &PutArgs) -> anyhow::Result<TreeUpload> {
    let Some(folder) = &args.folder else {
        bail!("{} is a directory: pass --folder ID", args.file.display());
    };
    if args.version_of.is_some() || args.name.is_some() {
        bail!("--version-of and --name take a file, not a directory");
    }
    let mut tree = TreeUpload::new(&args.file, folder.clone())
        .on_conflict(args.on_conflict.into())
        .dry_run(args.dry_run)
        .rate_limits(rate_limits(
            args.requests_per_minute,
            args.uploads_per_minute,
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
