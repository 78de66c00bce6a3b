//! `put FILE`: one file, as a new file in a folder or as a new version of a file, in parts when
//! it is large; resumable when a state file is given. Retries show as they happen. A name Box
//! holds already is settled by `--on-conflict` (the library's policy, as for a directory): the
//! same content is skipped, nothing sent.

use box_uploads::upload::{Upload, UploadOutcome, Uploader};

use crate::args::PutArgs;
use crate::exit_code::{Classified, Exit};
use crate::interrupt::{until_ctrl_c, Ended};
use crate::logging::Verbosity;
use crate::output;

/// Uploads `args.file` and prints the committed file.
pub(crate) async fn run(
    args: &PutArgs,
    uploader: &Uploader,
    verbosity: Verbosity,
) -> anyhow::Result<Exit> {
    let (handle, outcome) = uploader.start_upload_with_outcome(upload(args)?);
    let bar = output::upload_bar(&handle, verbosity > Verbosity::Quiet);
    output::follow_retries(&handle, bar.clone());
    let aborter = handle.aborter();
    let progress = handle.progress();
    let file = match until_ctrl_c(Box::pin(handle.join()), bar).await {
        Ended::Finished(result) => result.map_err(anyhow::Error::new)?,
        Ended::Interrupted(join) => {
            match &args.state {
                // Dropping the upload keeps its session (a state file is set): resumable.
                Some(state) => output::message(format_args!(
                    "interrupted; run the same command again to resume (state file {})",
                    state.display()
                )),
                None => {
                    aborter.abort();
                    let _ = join.await;
                    output::message(
                        "interrupted; the upload session was discarded, nothing was committed",
                    );
                }
            }
            return Ok(Exit::Interrupted);
        }
    };
    let outcome = outcome.get().unwrap_or(UploadOutcome::Uploaded);
    // A new version says what it reused (Box's plan) and what it sent.
    let version = args.version_of.is_some() || matches!(outcome, UploadOutcome::Versioned);
    let transfer = version.then(|| output::VersionTransfer::of(&progress.borrow()));
    output::print_put(
        &file,
        &outcome,
        transfer,
        args.json,
        verbosity == Verbosity::Quiet,
    )?;
    Ok(Exit::Done)
}

/// The name the file gets in Box: `--name`, else the local file's name.
pub(crate) fn box_name(args: &PutArgs) -> anyhow::Result<String> {
    let local = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty());
    match args.name.clone().or(local) {
        Some(name) => Ok(name),
        None => Err(Classified::new(
            Exit::Usage,
            format!(
                "cannot tell a name from {}; pass --name",
                args.file.display()
            ),
        )
        .into()),
    }
}

/// The upload the options describe: where the file goes, under which name, and how.
fn upload(args: &PutArgs) -> anyhow::Result<Upload> {
    let mut upload: Upload = match (&args.version_of, &args.folder) {
        (Some(file_id), _) => {
            let mut u = Upload::new_version(file_id.clone());
            if let Some(name) = &args.name {
                u = u.rename(name.clone());
            }
            if let Some(etag) = &args.if_match {
                u = u.if_match(etag.clone());
            }
            u.into()
        }
        (None, Some(folder)) => Upload::new_file(folder.clone(), box_name(args)?)
            .on_conflict(args.on_conflict())
            .into(),
        (None, None) => {
            return Err(
                Classified::new(Exit::Usage, "pass --folder ID or --version-of FILE_ID").into(),
            )
        }
    };
    upload = upload
        .from_path(&args.file)
        .preserve_dates(!args.no_preserve_dates);
    if let Some(state) = &args.state {
        upload = upload.state_file(state.clone());
    }
    Ok(upload)
}
