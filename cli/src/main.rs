//! `box-upload`: upload files to Box from the command line.
//!
//! The entry point: parse the command line (`args`), set up logging (`logging`), run the
//! command on a Tokio runtime, and turn its outcome into an exit code (`exit_code`: 0 done, 1
//! files of a tree failed, 2 usage, 3 refused, 4 not found, 5 gave up, 6 conflict, 7 source
//! changed, 130 interrupted), a failure into words (`explain`).
//!
//! ```text
//! put FILE     client (credentials) -> put_file | dry_run -> output
//! put DIR      client (credentials) -> put_tree           -> output
//! emulator     emulator
//! completions  generate
//! man          generate
//! ```

mod args;
mod client;
mod credentials;
mod dry_run;
mod emulator;
mod exit_code;
mod explain;
mod generate;
mod interrupt;
mod logging;
mod output;
mod put_file;
mod put_tree;

use std::process::ExitCode;

use clap::Parser as _;

use crate::args::{Cli, Command, PutArgs};
use crate::exit_code::{Classified, Exit};
use crate::explain::{explain, Scene};
use crate::logging::Verbosity;

/// Runs the command line; the `box-upload` binary's `main`.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let hosts = match &cli.command {
        Command::Put(args) => {
            let scene = scene_of(args);
            logging::Hosts {
                api_url: scene.api_url,
                upload_url: scene.upload_url,
            }
        }
        _ => logging::Hosts::default(),
    };
    let verbosity = match logging::init(&cli.log, hosts) {
        Ok(v) => v,
        Err(e) => {
            output::message(e);
            return Exit::Usage.into();
        }
    };
    let printed = match &cli.command {
        Command::Completions { shell } => Some(generate::completions(*shell)),
        Command::Man => Some(generate::man()),
        _ => None,
    };
    if let Some(result) = printed {
        return match result {
            Ok(()) => Exit::Done.into(),
            Err(e) => {
                output::message(format_args!("cannot write to stdout: {e}"));
                Exit::Failed.into()
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::message(format_args!("cannot start the async runtime: {e}"));
            return Exit::Failed.into();
        }
    };
    match cli.command {
        Command::Put(args) => {
            let scene = scene_of(&args);
            match runtime.block_on(put(&args, &scene, verbosity)) {
                Ok(exit) => exit.into(),
                Err(e) => {
                    let x = explain(e.as_ref(), Some(&scene));
                    output::print_failure(&x, args.json, verbosity);
                    x.exit.into()
                }
            }
        }
        Command::Emulator(args) => match runtime.block_on(emulator::run(args)) {
            Ok(()) => Exit::Done.into(),
            Err(e) => {
                let x = explain(e.as_ref(), None);
                output::print_failure(&x, false, verbosity);
                x.exit.into()
            }
        },
        Command::Completions { .. } | Command::Man => Exit::Done.into(),
    }
}

/// What `put` is about, for its messages.
fn scene_of(args: &PutArgs) -> Scene {
    Scene {
        path: args.file.clone(),
        folder: args.folder.clone(),
        version_of: args.version_of.clone(),
        name: args.name.clone(),
        if_match: args.if_match.clone(),
        state: args.state.clone(),
        api_url: args
            .api_url
            .clone()
            .unwrap_or_else(|| "https://api.box.com/2.0".into()),
        upload_url: args
            .upload_url
            .clone()
            .unwrap_or_else(|| "https://upload.box.com/api/2.0".into()),
        credentials: credentials::source_label(&args.auth),
    }
}

/// `put`: a directory is a tree upload, anything else a single file (or its dry run).
async fn put(args: &PutArgs, scene: &Scene, verbosity: Verbosity) -> anyhow::Result<Exit> {
    let is_dir = check_input(args)?;
    let uploader = client::uploader(args)?;
    if is_dir {
        put_tree::run(args, &uploader, scene, verbosity).await
    } else if args.dry_run {
        dry_run::run(args, &uploader, verbosity == Verbosity::Quiet).await
    } else {
        put_file::run(args, &uploader, verbosity).await
    }
}

/// The input exists, and every option given applies to it (a file or a directory): an option
/// that would be ignored is a usage error. Whether the input is a directory.
fn check_input(args: &PutArgs) -> anyhow::Result<bool> {
    let path = &args.file;
    let meta = std::fs::metadata(path).map_err(|e| {
        let exit = if e.kind() == std::io::ErrorKind::NotFound {
            Exit::NotFound
        } else {
            Exit::Failed
        };
        Classified::new(exit, format!("cannot read {}: {e}", path.display()))
    })?;
    let (wrong, kind, right) = if meta.is_dir() {
        (args.file_options(), "a directory", "a single file")
    } else {
        (args.directory_options(), "a file", "a directory")
    };
    if let Some(first) = wrong.first() {
        let names = wrong.join(", ");
        return Err(Classified::new(
            Exit::Usage,
            format!(
                "{names} {} to {right}, and {} is {kind}",
                if wrong.len() == 1 { "applies" } else { "apply" },
                path.display()
            ),
        )
        .hint(format!("leave out {first} and the like, or give {right}"))
        .into());
    }
    Ok(meta.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_option_for_the_other_kind_of_input_is_a_usage_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a.txt");
        std::fs::write(&file, b"hello").expect("write");
        let d = dir.path().as_os_str();
        let f = file.as_os_str();
        for (words, needle) in [
            (
                vec![
                    f,
                    "--folder".as_ref(),
                    "0".as_ref(),
                    "--exclude".as_ref(),
                    "*.tmp".as_ref(),
                ],
                "--exclude applies to a directory",
            ),
            (
                vec![f, "--folder".as_ref(), "0".as_ref(), "--as-folder".as_ref()],
                "--as-folder applies to a directory",
            ),
            (
                vec![
                    f,
                    "--folder".as_ref(),
                    "0".as_ref(),
                    "--uploads-per-minute".as_ref(),
                    "5".as_ref(),
                ],
                "--uploads-per-minute",
            ),
            (
                vec![
                    d,
                    "--folder".as_ref(),
                    "0".as_ref(),
                    "--name".as_ref(),
                    "x".as_ref(),
                ],
                "--name applies to a single file",
            ),
        ] {
            let args = args::parse_put(words).expect("arguments parse");
            let err = check_input(&args).expect_err("refused");
            let x = explain(err.as_ref(), None);
            assert_eq!(x.exit, Exit::Usage, "{x:?}");
            assert!(x.message.contains(needle), "{needle} not in {x:?}");
        }
        let missing = args::parse_put([
            dir.path().join("nope").as_os_str(),
            "--folder".as_ref(),
            "0".as_ref(),
        ])
        .expect("parses");
        let err = check_input(&missing).expect_err("missing");
        assert_eq!(explain(err.as_ref(), None).exit, Exit::NotFound);
    }

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
        let scene = scene_of(&args);
        let err = put(&args, &scene, Verbosity::Normal)
            .await
            .expect_err("folder 999 does not exist");
        let x = explain(err.as_ref(), Some(&scene));
        let line = x.line();
        assert!(
            line.starts_with(
                "Box has no folder 999 that this account can see (HTTP 404 not_found)"
            ),
            "{line}"
        );
        assert!(!line.contains("upload_file"), "no operation names: {line}");
        assert_eq!(line.matches("HTTP 404").count(), 1, "{line}");
        assert_eq!(line.matches("not_found").count(), 1, "{line}");
        assert!(line.contains("0 is the root folder"), "{line}");
        assert_eq!(x.exit, Exit::NotFound);
        // The first call is the name's lookup of the conflict policy (`--on-conflict`).
        assert!(
            x.details().contains("operation preflight_upload"),
            "{}",
            x.details()
        );
        assert_eq!(emu.counters().files_created, 0);
        emu.shutdown().await;
    }
}
