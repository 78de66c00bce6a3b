//! The command line's shape: clap's definitions of `box-upload put` and `box-upload emulator`,
//! and the parsers of the values clap has none for.
//!
//! ```text
//! box-upload put FILE --folder ID [--name NAME] [--version-of FILE_ID] [--if-match ETAG]
//!                     [--concurrency N|auto] [--state PATH] [--api-url URL --upload-url URL]
//!                     [--token-file PATH | --jwt-config PATH] [--token-url URL]
//!                     [--as-user ID] [--no-preserve-dates] [--json]
//! box-upload put DIR --folder ID [--on-conflict skip|version|fail|rename] [--exclude GLOB]...
//!                    [--dry-run] [--state PATH] [--uploads-per-minute N]
//!                    [--requests-per-minute N] [--json] (and the options above)
//! box-upload emulator [--listen ADDR] [--data-dir DIR] [--token T] [--part-size BYTES]
//! ```

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use box_uploads::tree::OnConflict;
use box_uploads::upload::Concurrency;

#[derive(Debug, Parser)]
#[command(
    name = "box-upload",
    version,
    about = "Upload files to Box: parallel, verified, resumable."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Upload FILE as a new file in a folder, or as a new version of a file; or a directory
    /// tree DIR into a folder (missing folders made, files Box holds already skipped).
    Put(Box<PutArgs>),
    /// Run the embedded Box emulator, to try box-upload without a Box account.
    Emulator(EmulatorArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PutArgs {
    /// The file to upload, or a directory to upload with everything in it.
    pub(crate) file: PathBuf,
    /// Folder to put the new file in (`0` is the root folder).
    #[arg(long, value_name = "ID", required_unless_present = "version_of")]
    pub(crate) folder: Option<String>,
    /// Name in Box (default: the file's name).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Upload a new version of this file instead of a new file.
    #[arg(long, value_name = "FILE_ID", conflicts_with = "folder")]
    pub(crate) version_of: Option<String>,
    /// With --version-of: only if the file's etag is still ETAG (else HTTP 412).
    #[arg(long, value_name = "ETAG", requires = "version_of")]
    pub(crate) if_match: Option<String>,
    /// Parts uploaded at once: `auto` adapts to the network (from 4 up to 16), a number pins it
    /// (1 to 64).
    #[arg(long, value_name = "N|auto", default_value = "auto", value_parser = parse_concurrency)]
    pub(crate) concurrency: Concurrency,
    /// Resume state file: if the upload is interrupted, run the same command again to resume.
    /// For a directory, the journal of the files done.
    #[arg(long, value_name = "PATH")]
    pub(crate) state: Option<PathBuf>,
    /// Directory: what to do with a file whose name Box already holds with other content
    /// (files with the same size and SHA-1 are always skipped).
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = ConflictChoice::Version)]
    pub(crate) on_conflict: ConflictChoice,
    /// Directory: leave out files and directories matching GLOB (`*`, `**`, `?`; without a
    /// `/` it matches any name in the path). May be repeated.
    #[arg(long, value_name = "GLOB")]
    pub(crate) exclude: Vec<String>,
    /// Directory: only say what would be done; nothing is created or uploaded.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Directory: uploads started per minute at most (Box allows about 240).
    #[arg(long, value_name = "N", default_value_t = 240, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) uploads_per_minute: u32,
    /// Directory: API requests per minute at most (Box allows about 1000).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) requests_per_minute: u32,
    /// API base URL (default https://api.box.com/2.0).
    #[arg(long, value_name = "URL", requires = "upload_url")]
    pub(crate) api_url: Option<String>,
    /// Upload base URL (default https://upload.box.com/api/2.0).
    #[arg(long, value_name = "URL", requires = "api_url")]
    pub(crate) upload_url: Option<String>,
    #[command(flatten)]
    pub(crate) auth: AuthArgs,
    /// Print the committed file as JSON (for a directory: each file's outcome).
    #[arg(long)]
    pub(crate) json: bool,
    /// Files larger than this are uploaded in parts (default 50 MiB).
    #[arg(long, value_name = "BYTES")]
    pub(crate) chunked_cutoff: Option<u64>,
    /// Smallest file ever uploaded in parts (default Box's 20000000; lower it only for an
    /// emulator configured so).
    #[arg(long, value_name = "BYTES")]
    pub(crate) min_chunked_size: Option<u64>,
    /// Do not send the file's modification and creation times: Box then dates the content
    /// at the upload.
    #[arg(long)]
    pub(crate) no_preserve_dates: bool,
}

/// `--on-conflict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ConflictChoice {
    Skip,
    Version,
    Fail,
    Rename,
}

impl From<ConflictChoice> for OnConflict {
    fn from(c: ConflictChoice) -> Self {
        match c {
            ConflictChoice::Skip => OnConflict::Skip,
            ConflictChoice::Version => OnConflict::Version,
            ConflictChoice::Fail => OnConflict::Fail,
            ConflictChoice::Rename => OnConflict::Rename,
        }
    }
}

/// Credential options. Secrets themselves are never arguments: only paths to files.
#[derive(Debug, Args)]
pub(crate) struct AuthArgs {
    /// Read a fixed access token from this file (instead of the BOX_TOKEN variable).
    #[arg(long, value_name = "PATH", conflicts_with = "jwt_config")]
    pub(crate) token_file: Option<PathBuf>,
    /// Box's JWT app config JSON (instead of the BOX_JWT_CONFIG variable): tokens are made
    /// from its key and renewed as they expire.
    #[arg(long, value_name = "PATH")]
    pub(crate) jwt_config: Option<PathBuf>,
    /// Token endpoint of client credentials and JWT (default https://api.box.com/oauth2/token,
    /// or /oauth2/token on the --api-url host).
    #[arg(long, value_name = "URL")]
    pub(crate) token_url: Option<String>,
    /// Act as this user (sends `as-user`; the credentials must be allowed to).
    #[arg(long, value_name = "ID")]
    pub(crate) as_user: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) listen: std::net::SocketAddr,
    /// Where files and sessions are kept (default: a temporary directory, removed on exit).
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// The token the emulator accepts.
    #[arg(long, value_name = "T", default_value = "test-token")]
    pub(crate) token: String,
    /// Part size of every upload session, in bytes (default as Box: 8 MiB, more for big files).
    #[arg(long, value_name = "BYTES")]
    pub(crate) part_size: Option<u64>,
}

/// `auto` or a number of parts from 1 to 64.
fn parse_concurrency(s: &str) -> Result<Concurrency, String> {
    let c: Concurrency = s.parse().map_err(|e| format!("{e}"))?;
    if c.ceiling() > 64 {
        return Err(format!("{s} parts at once is more than 64"));
    }
    Ok(c)
}

/// `box-upload put WORDS...` parsed, for the tests of every module.
#[cfg(test)]
pub(crate) fn parse_put<I>(words: I) -> Result<PutArgs, clap::Error>
where
    I: IntoIterator,
    I::Item: Into<std::ffi::OsString> + Clone,
{
    let argv = ["box-upload".into(), "put".into()]
        .into_iter()
        .chain(words.into_iter().map(Into::into));
    match Cli::try_parse_from(argv)?.command {
        Command::Put(put) => Ok(*put),
        Command::Emulator(_) => unreachable!("the words follow `put`"),
    }
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
        assert!(parse_put(["f.bin"]).is_err());
        assert!(parse_put(["f.bin", "--folder", "0"]).is_ok());
        assert!(parse_put(["f.bin", "--version-of", "12"]).is_ok());
        assert!(parse_put(["f.bin", "--folder", "0", "--token", "x"]).is_err());
        assert!(parse_put(["f.bin", "--folder", "0", "--api-url", "http://x"]).is_err());
    }

    #[test]
    fn concurrency_is_auto_or_a_number_up_to_64() {
        assert!(parse_concurrency("auto").is_ok());
        assert_eq!(parse_concurrency("64").map(|c| c.ceiling()), Ok(64));
        let err = parse_concurrency("65").expect_err("65 is too many");
        assert!(err.contains("more than 64"), "{err}");
    }
}
