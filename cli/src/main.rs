//! `box-upload`: upload files to Box from the command line.
//!
//! The entry point: parse the command line (`args`), run the command on a Tokio runtime, and
//! turn its outcome into an exit code: 0 done, 1 failed (the reason on one line of stderr),
//! 130 interrupted by Ctrl-C, 2 a usage error (clap's).
//!
//! ```text
//! put FILE   client (credentials) -> put_file  -> output
//! put DIR    client (credentials) -> put_tree  -> output
//! emulator   emulator
//! ```

mod args;
mod client;
mod credentials;
mod emulator;
mod interrupt;
mod output;
mod put_file;
mod put_tree;

use std::process::ExitCode;

use clap::Parser as _;

use crate::args::{Cli, Command, PutArgs};

/// Runs the command line; the `box-upload` binary's `main`.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::message(format_args!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Put(args) => put(&args).await,
            Command::Emulator(args) => emulator::run(args).await.map(|()| ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            output::message(output::failure_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// `put`: a directory is a tree upload, anything else a single file.
async fn put(args: &PutArgs) -> anyhow::Result<ExitCode> {
    let uploader = client::uploader(args)?;
    if args.file.is_dir() {
        put_tree::run(args, &uploader).await
    } else {
        put_file::run(args, &uploader).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missing_folder_is_reported_once() {
        let emu = box_emulator::Emulator::start(box_emulator::Config::default())
            .await
            .expect("the emulator starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a.txt");
        std::fs::write(&file, b"hello").expect("write");
        let token = dir.path().join("token");
        std::fs::write(&token, emu.token()).expect("token");
        let (api, upload) = (emu.api_url(), emu.upload_url());
        let args = args::parse_put([
            file.as_os_str(),
            "--folder".as_ref(),
            "999".as_ref(),
            "--token-file".as_ref(),
            token.as_os_str(),
            "--api-url".as_ref(),
            api.as_ref(),
            "--upload-url".as_ref(),
            upload.as_ref(),
        ])
        .expect("arguments parse");
        let err = put(&args).await.expect_err("folder 999 does not exist");
        let line = output::failure_line(&err);
        assert!(
            line.starts_with("upload_file failed after 1 attempt(s): HTTP 404 not_found"),
            "{line}"
        );
        assert_eq!(line.matches("HTTP 404").count(), 1, "{line}");
        assert_eq!(line.matches("not_found").count(), 1, "{line}");
        assert_eq!(emu.counters().files_created, 0);
        emu.shutdown().await;
    }
}
