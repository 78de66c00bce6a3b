//! `put DIR`: a directory tree into a folder: missing folders made, files Box holds already
//! skipped, conflicts settled as `--on-conflict` says, at a pace Box's rate limits allow. A
//! dry run reads Box and writes nothing (the engine's plan).

use std::time::Duration;

use box_uploads::tree::{OnConflict, Rate, RateLimits, TreeUpload};
use box_uploads::upload::Uploader;

use crate::args::PutArgs;
use crate::exit_code::{Classified, Exit};
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
    let handle = uploader.start_tree(tree(args)?);
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
    )?;
    Ok(if report.is_success() {
        Exit::Done
    } else {
        Exit::Failed
    })
}

/// The tree upload the options describe; the options that take a single file are refused
/// before (see `main`).
fn tree(args: &PutArgs) -> anyhow::Result<TreeUpload> {
    let Some(folder) = &args.folder else {
        return Err(Classified::new(
            Exit::Usage,
            format!("{} is a directory: pass --folder ID", args.file.display()),
        )
        .into());
    };
    let on_conflict = args.on_conflict.map_or(OnConflict::Version, Into::into);
    let mut tree = TreeUpload::new(&args.file, folder.clone())
        .on_conflict(on_conflict)
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
