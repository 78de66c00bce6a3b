//! `box-upload`: upload files to Box from the command line.
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
//!
//! Credentials come from the environment or from files, never from command-line arguments
//! (other users of the machine could read those in `ps`). Exactly one kind:
//!
//! - a fixed access token: `BOX_TOKEN`, or `--token-file PATH`;
//! - client credentials (a server app): `BOX_CLIENT_ID`, `BOX_CLIENT_SECRET` and
//!   `BOX_ENTERPRISE_ID` (the service account) or `BOX_USER_ID` (a user);
//! - JWT (a server app with a key pair): Box's app config JSON, `--jwt-config PATH` or
//!   `BOX_JWT_CONFIG=PATH`.
//!
//! Client credentials and JWT tokens are renewed as they expire, during the upload too.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};

use box_uploads::auth::{JwtConfig, Secret, Subject};
use box_uploads::tree::{
    FileOutcome, FileReport, OnConflict, Rate, RateLimits, TreeHandle, TreeReport, TreeUpload,
};
use box_uploads::upload::{Concurrency, Upload, UploadConfig, UploadHandle, Uploader};
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
    /// Upload FILE as a new file in a folder, or as a new version of a file; or a directory
    /// tree DIR into a folder (missing folders made, files Box holds already skipped).
    Put(Box<PutArgs>),
    /// Run the embedded Box emulator, to try box-upload without a Box account.
    Emulator(EmulatorArgs),
}

#[derive(Debug, Args)]
struct PutArgs {
    /// The file to upload, or a directory to upload with everything in it.
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
    /// Parts uploaded at once: `auto` adapts to the network (from 4 up to 16), a number pins it
    /// (1 to 64).
    #[arg(long, value_name = "N|auto", default_value = "auto", value_parser = parse_concurrency)]
    concurrency: Concurrency,
    /// Resume state file: if the upload is interrupted, run the same command again to resume.
    /// For a directory, the journal of the files done.
    #[arg(long, value_name = "PATH")]
    state: Option<PathBuf>,
    /// Directory: what to do with a file whose name Box already holds with other content
    /// (files with the same size and SHA-1 are always skipped).
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = ConflictChoice::Version)]
    on_conflict: ConflictChoice,
    /// Directory: leave out files and directories matching GLOB (`*`, `**`, `?`; without a
    /// `/` it matches any name in the path). May be repeated.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Directory: only say what would be done; nothing is created or uploaded.
    #[arg(long)]
    dry_run: bool,
    /// Directory: uploads started per minute at most (Box allows about 240).
    #[arg(long, value_name = "N", default_value_t = 240, value_parser = clap::value_parser!(u32).range(1..))]
    uploads_per_minute: u32,
    /// Directory: API requests per minute at most (Box allows about 1000).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    requests_per_minute: u32,
    /// API base URL (default https://api.box.com/2.0).
    #[arg(long, value_name = "URL", requires = "upload_url")]
    api_url: Option<String>,
    /// Upload base URL (default https://upload.box.com/api/2.0).
    #[arg(long, value_name = "URL", requires = "api_url")]
    upload_url: Option<String>,
    #[command(flatten)]
    auth: AuthArgs,
    /// Print the committed file as JSON (for a directory: each file's outcome).
    #[arg(long)]
    json: bool,
    /// Files larger than this are uploaded in parts (default 50 MiB).
    #[arg(long, value_name = "BYTES")]
    chunked_cutoff: Option<u64>,
    /// Smallest file ever uploaded in parts (default Box's 20000000; lower it only for an
    /// emulator configured so).
    #[arg(long, value_name = "BYTES")]
    min_chunked_size: Option<u64>,
    /// Do not send the file's modification and creation times: Box then dates the content
    /// at the upload.
    #[arg(long)]
    no_preserve_dates: bool,
}

/// `--on-conflict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ConflictChoice {
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
struct AuthArgs {
    /// Read a fixed access token from this file (instead of the BOX_TOKEN variable).
    #[arg(long, value_name = "PATH", conflicts_with = "jwt_config")]
    token_file: Option<PathBuf>,
    /// Box's JWT app config JSON (instead of the BOX_JWT_CONFIG variable): tokens are made
    /// from its key and renewed as they expire.
    #[arg(long, value_name = "PATH")]
    jwt_config: Option<PathBuf>,
    /// Token endpoint of client credentials and JWT (default https://api.box.com/oauth2/token,
    /// or /oauth2/token on the --api-url host).
    #[arg(long, value_name = "URL")]
    token_url: Option<String>,
    /// Act as this user (sends `as-user`; the credentials must be allowed to).
    #[arg(long, value_name = "ID")]
    as_user: Option<String>,
}

/// The environment variables read for credentials.
const ENV_TOKEN: &str = "BOX_TOKEN";
const ENV_CLIENT_ID: &str = "BOX_CLIENT_ID";
const ENV_CLIENT_SECRET: &str = "BOX_CLIENT_SECRET";
const ENV_ENTERPRISE_ID: &str = "BOX_ENTERPRISE_ID";
const ENV_USER_ID: &str = "BOX_USER_ID";
const ENV_JWT_CONFIG: &str = "BOX_JWT_CONFIG";

/// The credentials chosen from the environment and the options. No `Debug`: it holds secrets.
enum CredentialChoice {
    Token {
        token: Secret,
    },
    ClientCredentials {
        client_id: String,
        client_secret: Secret,
        subject: Subject,
    },
    Jwt {
        config: PathBuf,
    },
}

/// The kinds of credentials the command line takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Token,
    ClientCredentials,
    Jwt,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Token => "a fixed token",
            Kind::ClientCredentials => "client credentials",
            Kind::Jwt => "JWT",
        }
    }
}

/// Picks the one kind of credentials given. `env` reads a variable (empty counts as unset).
fn choose_credentials(
    auth: &AuthArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<CredentialChoice> {
    let var = |name: &str| {
        env(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    // Which kinds were given, and by what (names only, never values).
    let mut given: Vec<(Kind, String)> = Vec::new();
    if let Some(path) = &auth.token_file {
        given.push((Kind::Token, format!("--token-file {}", path.display())));
    } else if var(ENV_TOKEN).is_some() {
        given.push((Kind::Token, ENV_TOKEN.to_string()));
    }
    let ccg_vars: Vec<&str> = [ENV_CLIENT_ID, ENV_CLIENT_SECRET]
        .into_iter()
        .filter(|name| var(name).is_some())
        .collect();
    if !ccg_vars.is_empty() {
        given.push((Kind::ClientCredentials, ccg_vars.join(" and ")));
    }
    if let Some(path) = &auth.jwt_config {
        given.push((Kind::Jwt, format!("--jwt-config {}", path.display())));
    } else if var(ENV_JWT_CONFIG).is_some() {
        given.push((Kind::Jwt, ENV_JWT_CONFIG.to_string()));
    }
    let kind = match given.as_slice() {
        [] => bail!(
            "no credentials: set {ENV_TOKEN} (or pass --token-file PATH) for a fixed token; \
             {ENV_CLIENT_ID}, {ENV_CLIENT_SECRET} and {ENV_ENTERPRISE_ID} or {ENV_USER_ID} for \
             client credentials; or {ENV_JWT_CONFIG} (or --jwt-config PATH) for JWT"
        ),
        [(kind, _)] => *kind,
        several => {
            let listed: Vec<String> = several
                .iter()
                .map(|(kind, by)| format!("{} ({by})", kind.name()))
                .collect();
            bail!(
                "conflicting credentials: {}; give only one kind",
                listed.join(", ")
            )
        }
    };
    match kind {
        Kind::Token => {
            let token = match &auth.token_file {
                Some(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the token file {}", path.display()))?,
                None => var(ENV_TOKEN).unwrap_or_default(),
            };
            let token = token.trim();
            if token.is_empty() {
                bail!("the access token is empty");
            }
            Ok(CredentialChoice::Token {
                token: Secret::new(token),
            })
        }
        Kind::ClientCredentials => {
            let (Some(client_id), Some(client_secret)) =
                (var(ENV_CLIENT_ID), var(ENV_CLIENT_SECRET))
            else {
                let missing = if var(ENV_CLIENT_ID).is_none() {
                    ENV_CLIENT_ID
                } else {
                    ENV_CLIENT_SECRET
                };
                bail!(
                    "client credentials need {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}: {missing} is not set"
                );
            };
            let subject = match (var(ENV_ENTERPRISE_ID), var(ENV_USER_ID)) {
                (Some(enterprise), None) => Subject::enterprise(enterprise),
                (None, Some(user)) => Subject::user(user),
                (Some(_), Some(_)) => bail!(
                    "client credentials act for one subject: set {ENV_ENTERPRISE_ID} (the \
                     service account) or {ENV_USER_ID} (a user), not both"
                ),
                (None, None) => bail!(
                    "client credentials need a subject: set {ENV_ENTERPRISE_ID} (the service \
                     account) or {ENV_USER_ID} (a user)"
                ),
            };
            Ok(CredentialChoice::ClientCredentials {
                client_id,
                client_secret: Secret::new(client_secret),
                subject,
            })
        }
        Kind::Jwt => {
            let config = match &auth.jwt_config {
                Some(path) => path.clone(),
                None => PathBuf::from(var(ENV_JWT_CONFIG).unwrap_or_default()),
            };
            Ok(CredentialChoice::Jwt { config })
        }
    }
}

/// Sets the chosen credentials, the token URL and the user to act as on `builder`.
fn with_credentials(
    mut builder: ClientBuilder,
    auth: &AuthArgs,
    choice: CredentialChoice,
) -> anyhow::Result<ClientBuilder> {
    if auth.token_url.is_some() && matches!(choice, CredentialChoice::Token { .. }) {
        bail!("--token-url is for client credentials or JWT, not a fixed token");
    }
    builder = match choice {
        CredentialChoice::Token { token } => builder.token(token.expose()),
        CredentialChoice::ClientCredentials {
            client_id,
            client_secret,
            subject,
        } => builder.client_credentials(client_id, client_secret.expose(), subject),
        CredentialChoice::Jwt { config } => {
            let config = JwtConfig::from_file(&config)
                .with_context(|| format!("cannot use the JWT app config {}", config.display()))?;
            builder.jwt(config)
        }
    };
    if let Some(url) = &auth.token_url {
        builder = builder.token_url(url.clone());
    }
    if let Some(user) = &auth.as_user {
        builder = builder.as_user(user.clone());
    }
    Ok(builder)
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
            Command::Put(args) => put(*args).await,
            Command::Emulator(args) => emulator(args).await.map(|()| ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("box-upload: {}", failure_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The failure and its causes, outermost first, on one line. Every error of the engine and the
/// runtime says only its own sentence and leaves its cause to `source()`, so each is printed once.
fn failure_line(e: &anyhow::Error) -> String {
    let chain: Vec<String> = e
        .chain()
        .map(|cause| one_line(&cause.to_string()))
        .collect();
    chain.join(": ")
}

/// `auto` or a number of parts from 1 to 64.
fn parse_concurrency(s: &str) -> Result<Concurrency, String> {
    let c: Concurrency = s.parse().map_err(|e| format!("{e}"))?;
    if c.ceiling() > 64 {
        return Err(format!("{s} parts at once is more than 64"));
    }
    Ok(c)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn put(args: PutArgs) -> anyhow::Result<ExitCode> {
    let choice = choose_credentials(&args.auth, &|name| std::env::var(name).ok())?;
    let mut builder = with_credentials(ClientBuilder::new(), &args.auth, choice)?;
    if let (Some(api), Some(upload)) = (&args.api_url, &args.upload_url) {
        builder = builder.api_url(api.clone()).upload_url(upload.clone());
    }
    let client = builder.build().context("cannot build the client")?;

    let mut config = UploadConfig::default();
    config.concurrency = args.concurrency;
    if let Some(cutoff) = args.chunked_cutoff {
        config.chunked_cutoff = cutoff;
    }
    if let Some(min) = args.min_chunked_size {
        config.min_chunked_size = min;
    }
    let uploader = Uploader::with_config(client, config);

    if args.file.is_dir() {
        return put_tree(&args, &uploader).await;
    }

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
    let file = result.map_err(anyhow::Error::new)?;
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

/// An empty bar over bytes with a message slot, on stderr, or `None` when stderr is not a
/// terminal (a log or a pipe gets no bar).
fn byte_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40.cyan/blue} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

/// A byte progress bar on stderr, only when stderr is a terminal.
fn progress_bar(handle: &UploadHandle) -> Option<indicatif::ProgressBar> {
    let bar = byte_bar()?;
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

/// `put DIR`: the whole tree into folder `--folder`.
async fn put_tree(args: &PutArgs, uploader: &Uploader) -> anyhow::Result<ExitCode> {
    let Some(folder) = &args.folder else {
        bail!("{} is a directory: pass --folder ID", args.file.display());
    };
    if args.version_of.is_some() || args.name.is_some() {
        bail!("--version-of and --name take a file, not a directory");
    }
    let minute = Duration::from_secs(60);
    let limits = RateLimits {
        requests: Rate::new(args.requests_per_minute, minute)
            .with_burst((args.requests_per_minute / 100).max(1)),
        uploads: Rate::new(args.uploads_per_minute, minute)
            .with_burst((args.uploads_per_minute / 60).max(1)),
    };
    let mut tree = TreeUpload::new(&args.file, folder.clone())
        .on_conflict(args.on_conflict.into())
        .dry_run(args.dry_run)
        .rate_limits(limits);
    for glob in &args.exclude {
        tree = tree.exclude(glob.clone());
    }
    if let Some(state) = &args.state {
        tree = tree.journal(state.clone());
    }
    let handle = uploader.start_tree(tree);
    let bar = tree_progress_bar(&handle);
    let aborter = handle.aborter();
    let join = handle.join();
    tokio::pin!(join);
    let result = tokio::select! {
        r = &mut join => r,
        _ = tokio::signal::ctrl_c() => {
            aborter.abort();
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            match &args.state {
                Some(state) => eprintln!(
                    "box-upload: interrupted; run the same command again to finish (journal {})",
                    state.display()
                ),
                None => eprintln!(
                    "box-upload: interrupted; run the same command again to finish (files already in Box are skipped)"
                ),
            }
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = result.map_err(anyhow::Error::new)?;
    if args.json {
        let files: Vec<serde_json::Value> = report.files.iter().map(file_json).collect();
        let doc = serde_json::json!({
            "files": files,
            "uploaded": report.uploaded(),
            "versioned": report.versioned(),
            "skipped": report.skipped(),
            "failed": report.failed(),
            "bytes_sent": report.bytes_sent(),
            "folders_created": report.folders_created,
            "throttled": report.throttled,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).context("cannot encode the report as JSON")?
        );
    }
    for f in report.failures() {
        if let FileOutcome::Failed(e) = &f.outcome {
            eprintln!("box-upload: {}: {}", f.path, error_chain(e));
        }
    }
    if !args.json {
        println!("{}", tree_summary(&report, args.dry_run));
    }
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn tree_summary(report: &TreeReport, dry_run: bool) -> String {
    if dry_run {
        let mut planned = std::collections::BTreeMap::<String, usize>::new();
        for f in &report.files {
            let key = match &f.outcome {
                FileOutcome::Planned { action } => format!("{action:?}").to_lowercase(),
                FileOutcome::Skipped { .. } => "skip".to_string(),
                _ => "other".to_string(),
            };
            *planned.entry(key).or_default() += 1;
        }
        let parts: Vec<String> = planned.iter().map(|(k, v)| format!("{k} {v}")).collect();
        return format!(
            "dry run, {} files: {}",
            report.files.len(),
            parts.join(", ")
        );
    }
    format!(
        "{} files: {} uploaded, {} new versions, {} skipped, {} failed; {} bytes sent, {} folders created{}",
        report.files.len(),
        report.uploaded(),
        report.versioned(),
        report.skipped(),
        report.failed(),
        report.bytes_sent(),
        report.folders_created,
        if report.throttled > 0 {
            format!(", slowed down by {} rate-limit answers", report.throttled)
        } else {
            String::new()
        }
    )
}

fn file_json(f: &FileReport) -> serde_json::Value {
    use serde_json::json;
    let mut v = match &f.outcome {
        FileOutcome::Uploaded { file_id } => json!({"result": "uploaded", "file_id": file_id}),
        FileOutcome::Versioned { file_id } => json!({"result": "versioned", "file_id": file_id}),
        FileOutcome::Renamed { file_id, name } => {
            json!({"result": "renamed", "file_id": file_id, "name": name})
        }
        FileOutcome::Skipped { reason, file_id } => json!({
            "result": "skipped",
            "reason": format!("{reason:?}").to_lowercase(),
            "file_id": file_id,
        }),
        FileOutcome::Planned { action } => {
            json!({"result": "planned", "action": format!("{action:?}").to_lowercase()})
        }
        FileOutcome::Failed(e) => json!({"result": "failed", "error": error_chain(e)}),
        other => json!({"result": format!("{other:?}")}),
    };
    v["path"] = json!(f.path);
    v["size"] = json!(f.size);
    v
}

/// An error and its causes, outermost first, on one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![one_line(&e.to_string())];
    let mut cause = e.source();
    while let Some(c) = cause {
        parts.push(one_line(&c.to_string()));
        cause = c.source();
    }
    parts.join(": ")
}

/// Bytes and files of a tree upload on stderr, only when stderr is a terminal.
fn tree_progress_bar(handle: &TreeHandle) -> Option<indicatif::ProgressBar> {
    let bar = byte_bar()?;
    let mut rx = handle.progress();
    let shown = bar.clone();
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let p = rx.borrow_and_update().clone();
            shown.set_length(p.bytes_total);
            shown.set_position(p.bytes_done.min(p.bytes_total));
            let mut msg = format!("{}/{} files", p.files_done, p.files_total);
            if p.files_failed > 0 {
                msg.push_str(&format!(", {} failed", p.files_failed));
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

    fn auth(args: &[&str]) -> AuthArgs {
        let mut argv = vec!["box-upload", "put", "f.bin", "--folder", "0"];
        argv.extend_from_slice(args);
        let Command::Put(put) = Cli::try_parse_from(argv).expect("parses").command else {
            panic!("a put command")
        };
        put.auth
    }

    fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    /// The error of `choose_credentials`, checked to hold none of the values given.
    fn refusal(args: &[&str], vars: &[(&str, &str)]) -> String {
        let Err(err) = choose_credentials(&auth(args), &env_of(vars)) else {
            panic!(
                "{args:?} {:?} should be refused",
                vars.iter().map(|v| v.0).collect::<Vec<_>>()
            )
        };
        let text = failure_line(&err);
        for (_, value) in vars {
            assert!(!text.contains(value), "{value} in {text}");
        }
        text
    }

    #[test]
    fn no_credentials_is_an_error_that_lists_the_ways_to_give_them() {
        let text = refusal(&[], &[("BOX_TOKEN", "  ")]);
        for name in [
            "BOX_TOKEN",
            "--token-file",
            "BOX_CLIENT_ID",
            "BOX_CLIENT_SECRET",
            "BOX_ENTERPRISE_ID",
            "BOX_USER_ID",
            "BOX_JWT_CONFIG",
            "--jwt-config",
        ] {
            assert!(text.contains(name), "{name} missing from {text}");
        }
    }

    #[test]
    fn two_kinds_of_credentials_conflict() {
        let text = refusal(
            &[],
            &[
                ("BOX_TOKEN", "tok-VALUE"),
                ("BOX_CLIENT_ID", "id-VALUE"),
                ("BOX_CLIENT_SECRET", "secret-VALUE"),
                ("BOX_ENTERPRISE_ID", "ent-VALUE"),
            ],
        );
        assert!(text.starts_with("conflicting credentials"), "{text}");
        assert!(
            text.contains("BOX_TOKEN") && text.contains("BOX_CLIENT_SECRET"),
            "{text}"
        );
        let text = refusal(&["--jwt-config", "app.json"], &[("BOX_TOKEN", "tok-VALUE")]);
        assert!(text.contains("JWT (--jwt-config app.json)"), "{text}");
        assert!(
            Cli::try_parse_from([
                "box-upload",
                "put",
                "f",
                "--folder",
                "0",
                "--token-file",
                "t",
                "--jwt-config",
                "j"
            ])
            .is_err(),
            "--token-file and --jwt-config exclude each other"
        );
    }

    #[test]
    fn client_credentials_need_id_secret_and_one_subject() {
        let text = refusal(&[], &[("BOX_CLIENT_ID", "id-VALUE"), ("BOX_USER_ID", "7")]);
        assert!(text.contains("BOX_CLIENT_SECRET is not set"), "{text}");
        let text = refusal(
            &[],
            &[
                ("BOX_CLIENT_ID", "id-VALUE"),
                ("BOX_CLIENT_SECRET", "secret-VALUE"),
            ],
        );
        assert!(text.contains("need a subject"), "{text}");
        let text = refusal(
            &[],
            &[
                ("BOX_CLIENT_ID", "id-VALUE"),
                ("BOX_CLIENT_SECRET", "secret-VALUE"),
                ("BOX_ENTERPRISE_ID", "ent-VALUE"),
                ("BOX_USER_ID", "user-VALUE"),
            ],
        );
        assert!(text.contains("not both"), "{text}");

        for (var, expected) in [
            ("BOX_ENTERPRISE_ID", Subject::enterprise("42")),
            ("BOX_USER_ID", Subject::user("42")),
        ] {
            let vars = [
                ("BOX_CLIENT_ID", "cid"),
                ("BOX_CLIENT_SECRET", "csecret"),
                (var, " 42 "),
            ];
            let chosen = choose_credentials(&auth(&[]), &env_of(&vars)).expect("chosen");
            match chosen {
                CredentialChoice::ClientCredentials {
                    client_id,
                    client_secret,
                    subject,
                } => {
                    assert_eq!(client_id, "cid");
                    assert_eq!(client_secret.expose(), "csecret");
                    assert_eq!(subject, expected);
                }
                _ => panic!("client credentials expected"),
            }
        }
    }

    #[test]
    fn a_token_file_or_a_jwt_option_wins_over_its_own_variable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").expect("write");
        let path = file.to_str().expect("utf-8");
        match choose_credentials(
            &auth(&["--token-file", path]),
            &env_of(&[("BOX_TOKEN", "from-env")]),
        )
        .expect("chosen")
        {
            CredentialChoice::Token { token } => assert_eq!(token.expose(), "from-file"),
            _ => panic!("a token expected"),
        }
        match choose_credentials(
            &auth(&["--jwt-config", "flag.json"]),
            &env_of(&[("BOX_JWT_CONFIG", "env.json")]),
        )
        .expect("chosen")
        {
            CredentialChoice::Jwt { config } => assert_eq!(config, PathBuf::from("flag.json")),
            _ => panic!("JWT expected"),
        }
    }

    #[test]
    fn a_token_url_needs_renewable_credentials_and_a_bad_jwt_config_says_which_file() {
        let args = auth(&["--token-url", "http://127.0.0.1:1/oauth2/token"]);
        let choice = CredentialChoice::Token {
            token: Secret::new("t"),
        };
        let err = with_credentials(ClientBuilder::new(), &args, choice).expect_err("refused");
        assert!(err.to_string().contains("--token-url"), "{err}");

        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("app.json");
        std::fs::write(&config, "{\"boxAppSettings\": 1}").expect("write");
        let choice = CredentialChoice::Jwt {
            config: config.clone(),
        };
        let err =
            with_credentials(ClientBuilder::new(), &auth(&[]), choice).expect_err("bad config");
        let text = failure_line(&err);
        assert!(text.contains("app.json"), "{text}");
    }

    #[test]
    fn failure_reasons_are_one_line() {
        assert_eq!(one_line("a\n  b\tc"), "a b c");
        let e = anyhow::anyhow!("inner\ncause").context("outer");
        assert_eq!(failure_line(&e), "outer: inner cause");
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
        let cli = Cli::try_parse_from([
            "box-upload".as_ref(),
            "put".as_ref(),
            file.as_os_str(),
            "--folder".as_ref(),
            "999".as_ref(),
            "--token-file".as_ref(),
            token.as_os_str(),
            "--api-url".as_ref(),
            api.as_ref(),
            "--upload-url".as_ref(),
            upload.as_ref(),
        ] as [&std::ffi::OsStr; 11])
        .expect("arguments parse");
        let Command::Put(args) = cli.command else {
            panic!("a put command")
        };
        let err = put(*args).await.expect_err("folder 999 does not exist");
        let line = failure_line(&err);
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
