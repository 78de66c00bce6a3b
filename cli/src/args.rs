//! The command line's shape: clap's definitions of `box-upload put`, `emulator`, `completions`
//! and `man`, the global `-q`/`-v`/`--log-level`, and the parsers of the values clap has none
//! for (parts at once, sizes with units). Help, completions and the man page all come from
//! these definitions.
//!
//! ```text
//! box-upload [-q|-v|-vv] [--log-level LEVEL] put FILE --folder ID [--name NAME]
//!            [--version-of FILE_ID] [--if-match ETAG] [-j N|auto] [--state PATH] [-n] [--json]
//!            [--api-url URL --upload-url URL] [--ca-cert FILE]
//!            [--token-file PATH | --jwt-config PATH] ...
//!            [--on-conflict WHAT] [--no-reuse] ...
//! box-upload put DIR --folder ID [--as-folder] [--on-conflict WHAT] [--exclude GLOB]... [-n] ...
//! box-upload emulator [--listen ADDR] [--data-dir DIR] [--token T] [--part-size SIZE]
//! box-upload completions SHELL | box-upload man
//! ```

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use box_uploads::tree::OnConflict;
use box_uploads::upload::{Concurrency, RetryPolicy, DEFAULT_CHUNKED_CUTOFF};

/// What `--help` says after the options: exit codes and environment variables.
const AFTER_HELP: &str = "\
Exit codes:
  0    done (a dry run: the plan was made, whatever it says)
  1    some files of a directory failed (the others are uploaded), or another failure
  2    usage: an unknown option, or one that does not apply to the input
  3    authentication or permission refused (HTTP 401/403, bad or missing credentials)
  4    not found: the local path, the Box folder or the Box file
  5    gave up on transient failures (network, HTTP 5xx, 429) after the retries
  6    conflict: the name is held with other content and --on-conflict fail (or a
       folder holds it), or --if-match is stale (412)
  7    the source changed during the upload (or since the interrupted one)
  8    too large: the file is over the Box user's upload limit (refused before
       sending), or over the account's storage
  130  interrupted (Ctrl-C)

Environment:
  BOX_TOKEN                     a fixed access token (or --token-file PATH)
  BOX_CLIENT_ID, BOX_CLIENT_SECRET
                                client credentials of a server app, with one of:
  BOX_ENTERPRISE_ID             act as the app's service account
  BOX_USER_ID                   act as this user
  BOX_JWT_CONFIG                path of a JWT app config JSON (or --jwt-config PATH)
  BOX_API_URL, BOX_UPLOAD_URL   base URLs, as --api-url and --upload-url (an emulator's)
  BOX_TOKEN_URL                 token endpoint, as --token-url
  BOX_CA_CERT                   PEM file of an extra CA to trust, as --ca-cert
  RUST_LOG                      log filter (tracing's syntax), unless --log-level is given

Options win over the environment. Secrets are never options: `ps` would show them.";

#[derive(Debug, Parser)]
#[command(
    name = "box-upload",
    version,
    about = "Upload files to Box: parallel, verified, resumable.",
    after_help = AFTER_HELP
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// How much is said on stderr.
#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    /// Say nothing but errors: no progress bar, no summary (`--json` output still prints).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Say more: `-v` each retry with its reason and wait, `-vv` every request and event.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Log level (error, warn, info, debug, trace), or a full filter such as
    /// `box_uploads=debug`; wins over -q, -v and RUST_LOG.
    #[arg(long, value_name = "LEVEL", global = true)]
    pub(crate) log_level: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Upload FILE as a new file in a folder, or as a new version of a file; or the contents
    /// of a directory DIR into a folder (missing folders made, files Box holds already
    /// skipped; --as-folder puts them in a folder named after DIR).
    #[command(after_help = AFTER_HELP)]
    Put(Box<PutArgs>),
    /// Run the embedded Box emulator, to try box-upload without a Box account.
    Emulator(EmulatorArgs),
    /// Print a shell completion script: `box-upload completions bash > /etc/bash_completion.d/box-upload`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `box-upload man > box-upload.1`.
    Man,
}

#[derive(Debug, Args)]
pub(crate) struct PutArgs {
    /// The file to upload, or a directory whose contents (not the directory itself) go into
    /// --folder, as rclone copies; --as-folder puts them in a folder named after it.
    pub(crate) file: PathBuf,
    /// Folder to put the new file in: its id, the number at the end of its web address
    /// (`0` is the root folder).
    #[arg(long, value_name = "ID", required_unless_present = "version_of")]
    pub(crate) folder: Option<String>,
    /// File: its name in Box (default: the local file's name).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// File: upload a new version of this Box file instead of a new file.
    #[arg(long, value_name = "FILE_ID", conflicts_with = "folder")]
    pub(crate) version_of: Option<String>,
    /// File: with --version-of, only if the file's etag is still ETAG (else exit 6).
    #[arg(long, value_name = "ETAG", requires = "version_of")]
    pub(crate) if_match: Option<String>,
    #[arg(short = 'j', long, value_name = "N|auto", default_value = "auto",
          value_parser = parse_concurrency, help = concurrency_help())]
    pub(crate) concurrency: Concurrency,
    /// Attempts after the first at each request that fails for a transient reason (network,
    /// HTTP 5xx, 429) before giving up with exit 5.
    #[arg(long, value_name = "N", default_value_t = RetryPolicy::default().max_attempts - 1)]
    pub(crate) retries: u32,
    /// Resume state file: if the upload is interrupted, run the same command again to resume.
    /// For a directory, the journal of the files done.
    #[arg(long, value_name = "PATH")]
    pub(crate) state: Option<PathBuf>,
    /// What to do when Box already holds the name with other content, for a file as for each
    /// file of a directory: a new version of it, skip it, fail (exit 6; for a directory that
    /// file fails), or rename (`name (1).ext`; run again, no other copy). The same size and
    /// SHA-1 is always skipped, nothing sent [default: version].
    #[arg(long, value_enum, value_name = "WHAT", conflicts_with = "version_of")]
    pub(crate) on_conflict: Option<ConflictChoice>,
    /// A new version (--version-of, or --on-conflict version) sends every part again instead
    /// of asking Box which parts it holds already (part reuse, for large files).
    #[arg(long)]
    pub(crate) no_reuse: bool,
    /// Directory: upload it as a folder named after it inside --folder (made, or the one
    /// already there), as `box folders:upload` does, instead of its contents into --folder.
    #[arg(long)]
    pub(crate) as_folder: bool,
    /// Directory: leave out files and directories matching GLOB (`*`, `**`, `?`; without a
    /// `/` it matches any name in the path). May be repeated.
    #[arg(long, value_name = "GLOB")]
    pub(crate) exclude: Vec<String>,
    /// Only say what would be done: Box is read (the folder, the names in it), nothing is
    /// created, uploaded or written.
    #[arg(short = 'n', long)]
    pub(crate) dry_run: bool,
    /// Directory: uploads started per minute at most (Box allows about 240) [default: 240].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) uploads_per_minute: Option<u32>,
    /// Directory: API requests per minute at most (Box allows about 1000) [default: 1000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) requests_per_minute: Option<u32>,
    /// API base URL [default: https://api.box.com/2.0].
    #[arg(long, value_name = "URL", env = "BOX_API_URL", requires = "upload_url")]
    pub(crate) api_url: Option<String>,
    /// Upload base URL [default: https://upload.box.com/api/2.0].
    #[arg(long, value_name = "URL", env = "BOX_UPLOAD_URL", requires = "api_url")]
    pub(crate) upload_url: Option<String>,
    /// Also trust the certificate authorities in this PEM file, besides the built-in roots
    /// (an emulator, a proxy or a server with a private CA), for the API, the uploads and
    /// the token endpoint.
    #[arg(long, value_name = "FILE", env = "BOX_CA_CERT")]
    pub(crate) ca_cert: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) auth: AuthArgs,
    /// Print the result as JSON on stdout: the committed file (for a directory, each file's
    /// outcome; for a dry run, the plan; for a failure, {"error": {...}}).
    #[arg(long)]
    pub(crate) json: bool,
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help = cutoff_help())]
    pub(crate) chunked_cutoff: Option<u64>,
    /// Smallest file ever uploaded in parts (default Box's 20000000 bytes; lower it only for
    /// an emulator configured so). Units as --chunked-cutoff.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) min_chunked_size: Option<u64>,
    /// Do not send the file's modification and creation times: Box then dates the content
    /// at the upload.
    #[arg(long)]
    pub(crate) no_preserve_dates: bool,
}

impl PutArgs {
    /// The conflict policy: `--on-conflict`, else the one default of files and trees.
    pub(crate) fn on_conflict(&self) -> OnConflict {
        self.on_conflict
            .map_or_else(OnConflict::default, Into::into)
    }

    /// The options given that concern a directory only, as they are spelled.
    pub(crate) fn directory_options(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if self.as_folder {
            given.push("--as-folder");
        }
        if !self.exclude.is_empty() {
            given.push("--exclude");
        }
        if self.uploads_per_minute.is_some() {
            given.push("--uploads-per-minute");
        }
        if self.requests_per_minute.is_some() {
            given.push("--requests-per-minute");
        }
        given
    }

    /// The options given that concern a single file only, as they are spelled.
    pub(crate) fn file_options(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if self.name.is_some() {
            given.push("--name");
        }
        if self.version_of.is_some() {
            given.push("--version-of");
        }
        if self.if_match.is_some() {
            given.push("--if-match");
        }
        given
    }
}

/// `--concurrency`'s help, from the engine's own defaults.
fn concurrency_help() -> String {
    format!(
        "Parts uploaded at once: `auto` adapts to the network (starts at {}, up to {}), a \
         number pins it (1 to 64)",
        Concurrency::ADAPTIVE_START,
        Concurrency::DEFAULT_MAX
    )
}

/// `--chunked-cutoff`'s help, with the engine's default.
fn cutoff_help() -> String {
    format!(
        "Files larger than this are uploaded in parts [default: {}]. Sizes take a unit: \
         10MiB, 512KiB (binary) or 100MB (decimal)",
        size_words(DEFAULT_CHUNKED_CUTOFF)
    )
}

/// `50MiB` for a whole number of MiB, else the bytes.
fn size_words(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    if bytes % MIB == 0 {
        format!("{}MiB", bytes / MIB)
    } else {
        bytes.to_string()
    }
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
    #[arg(long, value_name = "URL", env = "BOX_TOKEN_URL")]
    pub(crate) token_url: Option<String>,
    /// Act as this user (sends `as-user`; the credentials must be allowed to).
    #[arg(long, value_name = "ID")]
    pub(crate) as_user: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// Address to listen on [default: 127.0.0.1 on a free port].
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<std::net::SocketAddr>,
    /// Where files and sessions are kept (default: a temporary directory, removed on exit).
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// The token the emulator accepts.
    #[arg(long, value_name = "T", default_value = "test-token")]
    pub(crate) token: String,
    /// Part size of every upload session (default as Box: 8MiB, more for big files).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
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

/// A byte count with an optional unit: `4096`, `512KiB`, `10MiB` (binary), `100MB` (decimal).
/// Read by the emulator's `units::parse_size`, the one reading of sizes the emulator and the
/// benchmarks share, so `--chunked-cutoff 10MiB` means here what `--max-file-size 10MiB` means
/// there; a bare `10M` is refused rather than guessed.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    box_emulator::units::parse_size(s)
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
        _ => unreachable!("the words follow `put`"),
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
        if std::env::var_os("BOX_UPLOAD_URL").is_none() {
            assert!(parse_put(["f.bin", "--folder", "0", "--api-url", "http://x"]).is_err());
        }
    }

    #[test]
    fn concurrency_is_auto_or_a_number_up_to_64() {
        assert!(parse_concurrency("auto").is_ok());
        assert_eq!(parse_concurrency("64").map(|c| c.ceiling()), Ok(64));
        let err = parse_concurrency("65").expect_err("65 is too many");
        assert!(err.contains("more than 64"), "{err}");
        let j = parse_put(["f", "--folder", "0", "-j", "3"]).expect("-j");
        assert_eq!(j.concurrency.ceiling(), 3);
    }

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_size("100MB"), Ok(100_000_000));
        assert!(parse_size("10M").expect_err("no B").contains("with its B"));
        assert!(parse_size("lots").is_err());
        let args = parse_put(["f", "--folder", "0", "--chunked-cutoff", "10MiB"]).expect("parses");
        assert_eq!(args.chunked_cutoff, Some(10 << 20));
    }

    #[test]
    fn help_tells_the_engine_defaults_exit_codes_and_variables() {
        let mut cmd = Cli::command();
        let put = cmd.find_subcommand_mut("put").expect("put");
        let help = put.render_long_help().to_string();
        assert!(help.contains("starts at 8, up to 32"), "{help}");
        for needle in [
            "BOX_API_URL",
            "BOX_UPLOAD_URL",
            "BOX_TOKEN_URL",
            "BOX_CA_CERT",
            "--ca-cert",
            "BOX_TOKEN ",
            "BOX_CLIENT_ID",
            "BOX_CLIENT_SECRET",
            "BOX_ENTERPRISE_ID",
            "BOX_USER_ID",
            "BOX_JWT_CONFIG",
            "RUST_LOG",
            "130",
            "[default: 50MiB]",
        ] {
            assert!(help.contains(needle), "{needle} missing from put --help");
        }
        let verbose = parse_put(["f", "--folder", "0", "-n"]).expect("-n");
        assert!(verbose.dry_run);
    }
}
