//! `box-upload`: upload files to Box from the command line.
//!
//! ```text
//! box-upload put FILE --folder ID [--name NAME] [--version-of FILE_ID] [--if-match ETAG]
//!                     [--concurrency N] [--state PATH] [--api-url URL --upload-url URL]
//!                     [--token-file PATH] [--json]
//! box-upload emulator [--listen ADDR] [--data-dir DIR] [--token T] [--part-size BYTES]
//! ```
//!
//! The token comes from the environment variable `BOX_TOKEN` or from `--token-file`; it is
//! never a command-line argument (other users of the machine could read it in `ps`).

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};

use box_uploads::upload::{Upload, UploadConfig, UploadError, UploadHandle, Uploader};
use box_uploads::ClientBuilder;

/// Exit code of an upload interrupted by Ctrl-C (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, Parser)]
#[command(
    name = "box-upload",
    version,
    about = "Upload files to Box: parallel, verified, resumable."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Upload FILE as a new file in a folder, or as a new version of a file.
    Put(PutArgs),
    /// Run the embedded Box emulator, to try box-upload without a Box account.
    Emulator(EmulatorArgs),
}

#[derive(Debug, Args)]
struct PutArgs {
    /// The file to upload.
    file: PathBuf,
    /// Folder to put the new file in (`0` is the root folder).
    #[arg(long, value_name = "ID", required_unless_present = "version_of")]
    folder: Option<String>,
    /// Name in Box (default: the file's name).
    #[arg(long)]
    name: Option<String>,
    /// Upload a new version of this file instead of a new file.
    #[arg(long, value_name = "FILE_ID", conflicts_with = "folder")]
    version_of: Option<String>,
    /// With --version-of: only if the file's etag is still ETAG (else HTTP 412).
    #[arg(long, value_name = "ETAG", requires = "version_of")]
    if_match: Option<String>,
    /// Parts uploaded at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// Resume state file: if the upload is interrupted, run the same command again to resume.
    #[arg(long, value_name = "PATH")]
    state: Option<PathBuf>,
    /// API base URL (default https://api.box.com/2.0).
    #[arg(long, value_name = "URL", requires = "upload_url")]
    api_url: Option<String>,
    /// Upload base URL (default https://upload.box.com/api/2.0).
    #[arg(long, value_name = "URL", requires = "api_url")]
    upload_url: Option<String>,
    /// Read the access token from this file instead of the BOX_TOKEN variable.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// Print the committed file as JSON.
    #[arg(long)]
    json: bool,
    /// Files larger than this are uploaded in parts (default 50 MiB).
    #[arg(long, value_name = "BYTES")]
    chunked_cutoff: Option<u64>,
    /// Smallest file ever uploaded in parts (default Box's 20000000; lower it only for an
    /// emulator configured so).
    #[arg(long, value_name = "BYTES")]
    min_chunked_size: Option<u64>,
}

#[derive(Debug, Args)]
struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Where files and sessions are kept (default: a temporary directory, removed on exit).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The token the emulator accepts.
    #[arg(long, value_name = "T", default_value = "test-token")]
    token: String,
    /// Part size of every upload session, in bytes (default as Box: 8 MiB, more for big files).
    #[arg(long, value_name = "BYTES")]
    part_size: Option<u64>,
}

/// Runs the command line; the `box-upload` binary's `main`.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("box-upload: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Put(args) => put(args).await,
            Command::Emulator(args) => emulator(args).await.map(|()| ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("box-upload: {}", one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn read_token(token_file: Option<&Path>) -> anyhow::Result<String> {
    let token = match token_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?,
        None => match std::env::var("BOX_TOKEN") {
            Ok(t) => t,
            Err(_) => bail!("no access token: set BOX_TOKEN or pass --token-file PATH"),
        },
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        bail!("the access token is empty");
    }
    Ok(token)
}

async fn put(args: PutArgs) -> anyhow::Result<ExitCode> {
    let token = read_token(args.token_file.as_deref())?;
    let mut builder = ClientBuilder::new().token(token);
    if let (Some(api), Some(upload)) = (&args.api_url, &args.upload_url) {
        builder = builder.api_url(api.clone()).upload_url(upload.clone());
    }
    let client = builder.build().context("cannot build the HTTP client")?;

    let mut config = UploadConfig::default();
    config.concurrency = usize::from(args.concurrency);
    if let Some(cutoff) = args.chunked_cutoff {
        config.chunked_cutoff = cutoff;
    }
    if let Some(min) = args.min_chunked_size {
        config.min_chunked_size = min;
    }
    let uploader = Uploader::with_config(client, config);

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
    upload = upload.from_path(&args.file);
    if let Some(state) = &args.state {
        upload = upload.state_file(state.clone());
    }

    let handle = uploader.start_upload(upload);
    let bar = progress_bar(&handle);
    let aborter = handle.aborter();
    let join = handle.join();
    tokio::pin!(join);
    let result = tokio::select! {
        r = &mut join => r,
        _ = tokio::signal::ctrl_c() => {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            match &args.state {
                // Dropping the upload keeps its session (a state file is set): resumable.
                Some(state) => {
                    eprintln!(
                        "box-upload: interrupted; run the same command again to resume (state file {})",
                        state.display()
                    );
                }
                None => {
                    aborter.abort();
                    let _ = join.await;
                    eprintln!("box-upload: interrupted; the upload session was discarded, nothing was committed");
                }
            }
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let file = result.map_err(|e: UploadError| anyhow::anyhow!(e))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&file).context("cannot encode the file as JSON")?
        );
    } else {
        println!(
            "uploaded {} as file {} ({} bytes, sha1 {})",
            file.name.as_deref().unwrap_or("?"),
            file.id,
            file.size.map_or_else(|| "?".to_string(), |s| s.to_string()),
            file.sha1.as_deref().unwrap_or("?"),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A byte progress bar on stderr, only when stderr is a terminal.
fn progress_bar(handle: &UploadHandle) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40.cyan/blue} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
    ) {
        bar.set_style(style);
    }
    let mut rx = handle.progress();
    let shown = bar.clone();
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let p = rx.borrow_and_update().clone();
            shown.set_length(p.total_bytes);
            shown.set_position(p.bytes_sent.min(p.total_bytes));
            let mut msg = format!("{}/{} parts", p.parts_done, p.total_parts);
            if p.retries > 0 {
                msg.push_str(&format!(", {} retries", p.retries));
            }
            if p.commit_waits > 0 {
                msg.push_str(&format!(", commit pending x{}", p.commit_waits));
            }
            shown.set_message(msg);
        }
    });
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

async fn emulator(args: EmulatorArgs) -> anyhow::Result<()> {
    let config = box_emulator::Config {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
        token: args.token.clone(),
        part_size: args.part_size,
        ..Default::default()
    };
    let emu = box_emulator::Emulator::start(config)
        .await
        .context("cannot start the emulator")?;
    println!("box emulator listening on {}", emu.base_url());
    println!("  API:     {}", emu.api_url());
    println!("  uploads: {}", emu.upload_url());
    println!("  token:   {}", emu.token());
    match &args.data_dir {
        Some(dir) => println!("  data:    {}", dir.display()),
        None => println!("  data:    a temporary directory, removed on exit"),
    }
    println!();
    println!("Upload a file to it from another terminal:");
    println!(
        "  BOX_TOKEN={} box-upload put FILE --folder 0 --api-url {} --upload-url {}",
        emu.token(),
        emu.api_url(),
        emu.upload_url()
    );
    println!();
    println!("Ctrl-C stops it.");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    emu.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn put_needs_a_folder_or_a_file_id_and_takes_no_token_argument() {
        assert!(Cli::try_parse_from(["box-upload", "put", "f.bin"]).is_err());
        assert!(Cli::try_parse_from(["box-upload", "put", "f.bin", "--folder", "0"]).is_ok());
        assert!(Cli::try_parse_from(["box-upload", "put", "f.bin", "--version-of", "12"]).is_ok());
        assert!(Cli::try_parse_from([
            "box-upload",
            "put",
            "f.bin",
            "--folder",
            "0",
            "--token",
            "x"
        ])
        .is_err());
        assert!(Cli::try_parse_from([
            "box-upload",
            "put",
            "f.bin",
            "--folder",
            "0",
            "--api-url",
            "http://x"
        ])
        .is_err());
    }

    #[test]
    fn failure_reasons_are_one_line() {
        assert_eq!(one_line("a\n  b\tc"), "a b c");
    }
}
