//! `put FILE`: one file, as a new file in a folder or as a new version of a file, in parts when
//! it is large; resumable when a state file is given.

use std::process::ExitCode;

use anyhow::bail;

use box_uploads::upload::{Upload, Uploader};

use crate::args::PutArgs;
use crate::interrupt::{until_ctrl_c, Ended, EXIT_INTERRUPTED};
use crate::output;

/// Uploads `args.file` and prints the committed file.
pub(crate) async fn run(args: &PutArgs, uploader: &Uploader) -> anyhow::Result<ExitCode> {
    let handle = uploader.start_upload(upload(args)?);
    let bar = output::upload_bar(&handle);
    let aborter = handle.aborter();
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
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
    };
    output::print_file(&file, args.json)?;
    Ok(ExitCode::SUCCESS)
}

/// The upload the options describe: where the file goes, under which name, and how.
fn upload(args: &PutArgs) -> anyhow::Result<Upload> {
    let default_name = || {
        args.file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
    };
    let mut upload = match (&args.version_of, &args.folder) {
        (Some(file_id), _) => {
            let mut u = Upload::new_version(file_id.clone());
            if let Some(name) = &args.name {
                u = u.rename(name.clone());
            }
            if let Some(etag) = &args.if_match {
                u = u.if_match(etag.clone());
            }
            u
        }
        (None, Some(folder)) => {
            let Some(name) = args.name.clone().or_else(default_name) else {
                bail!(
                    "cannot tell a name from {}; pass --name",
                    args.file.display()
                );
            };
            Upload::new_file(folder.clone(), name)
        }
        (None, None) => bail!("pass --folder ID or --version-of FILE_ID"),
    };
    upload = upload
        .from_path(&args.file)
        .preserve_dates(!args.no_preserve_dates);
    if let Some(state) = &args.state {
        upload = upload.state_file(state.clone());
    }
    Ok(upload)
}
