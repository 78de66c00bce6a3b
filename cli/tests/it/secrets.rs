//! The access token never leaks: a distinctive token is used for uploads that succeed, fail with
//! an API error, fail to connect, resume from a state file, and for the command line; then the
//! `Debug` and `Display` of the client, uploader, configuration, uploads, handles, errors (with
//! their sources), progress and events, everything the engine logged through `tracing` (a
//! capturing subscriber), the state file's bytes and the CLI's stdout and stderr are searched
//! for it. `box-upload put --help` offers no token argument.
//!
//! Not covered: records of the `log` crate (reqwest and hyper log through it, and no `log`
//! logger is installed here); the engine and the generated client log through `tracing` only.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use box_uploads::upload::{RetryPolicy, Upload, UploadConfig, UploadError, UploadHandle, Uploader};
use box_uploads::{Client, ClientBuilder};

use crate::common::*;

const TOKEN: &str = "tok-SECRET-7f3a9";

// ---- a tracing subscriber that writes every span and event, all levels, to a buffer ----

static LOGS: Mutex<String> = Mutex::new(String::new());

struct Capture;

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::always()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut line = format!("span {}:", span.metadata().name());
        span.record(&mut Fields(&mut line));
        push_log(line);
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut line = String::from("record:");
        values.record(&mut Fields(&mut line));
        push_log(line);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let m = event.metadata();
        let mut line = format!("{} {}:", m.level(), m.target());
        event.record(&mut Fields(&mut line));
        push_log(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn push_log(line: String) {
    let mut logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
    logs.push_str(&line);
    logs.push('\n');
}

fn install_capture() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing::subscriber::set_global_default(Capture).expect("the only subscriber");
    });
}

fn logs() -> String {
    LOGS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

// ---- collecting everything an upload shows ----

#[derive(Default)]
struct Seen(Vec<(String, String)>);

impl Seen {
    fn add(&mut self, what: impl Into<String>, text: impl Into<String>) {
        self.0.push((what.into(), text.into()));
    }

    fn debug_display<T: std::fmt::Debug + std::fmt::Display>(&mut self, what: &str, v: &T) {
        self.add(format!("{what} (Debug)"), format!("{v:?}"));
        self.add(format!("{what} (Debug, alternate)"), format!("{v:#?}"));
        self.add(format!("{what} (Display)"), v.to_string());
    }

    fn error(&mut self, what: &str, e: &UploadError) {
        self.debug_display(what, e);
        let mut source = std::error::Error::source(e);
        let mut depth = 0;
        while let Some(s) = source {
            self.add(format!("{what} source {depth} (Debug)"), format!("{s:?}"));
            self.add(format!("{what} source {depth} (Display)"), s.to_string());
            source = s.source();
            depth += 1;
        }
        if let Some(call) = e.call_error() {
            self.add(format!("{what} call error"), format!("{call:?} / {call}"));
        }
    }

    /// Joins the upload, recording the handle, its progress and all its events.
    async fn join(
        &mut self,
        what: &str,
        handle: UploadHandle,
    ) -> Result<box_uploads::models::FileFull, UploadError> {
        self.add(format!("{what} handle"), format!("{handle:?}"));
        let mut events = handle.events();
        let progress = handle.progress();
        let result = handle.join().await;
        self.add(
            format!("{what} progress"),
            format!("{:?}", *progress.borrow()),
        );
        let mut n = 0;
        while let Ok(event) = events.try_recv() {
            self.add(format!("{what} event {n}"), format!("{event:?}"));
            n += 1;
        }
        match &result {
            Ok(file) => self.add(format!("{what} file"), format!("{file:?}")),
            Err(e) => self.error(what, e),
        }
        result
    }

    fn assert_clean(&self) {
        assert!(!self.0.is_empty());
        for (what, text) in &self.0 {
            assert!(!text.contains(TOKEN), "the token appears in {what}: {text}");
        }
    }
}

async fn secret_emulator() -> Emulator {
    start(Config {
        token: TOKEN.into(),
        part_size: Some(256 * KIB),
        min_chunked_size: 1,
        ..Default::default()
    })
    .await
}

fn secret_client(api: &str, upload: &str) -> Client {
    ClientBuilder::new()
        .token(TOKEN)
        .api_url(api)
        .upload_url(upload)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .expect("client")
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        deadline: Duration::from_secs(20),
    }
}

fn secret_uploader(client: Client) -> Uploader {
    let mut config = UploadConfig::default();
    config.chunked_cutoff = MIB;
    config.min_chunked_size = 1;
    config.retry = quick();
    Uploader::with_config(client, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_never_appears_in_debug_display_errors_logs_or_state() {
    install_capture();
    let emu = secret_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seen = Seen::default();

    let builder = ClientBuilder::new().token(TOKEN);
    seen.add("client builder", format!("{builder:?} {builder:#?}"));
    let client = secret_client(&emu.api_url(), &emu.upload_url());
    seen.add("client", format!("{client:?} {client:#?}"));
    seen.add("client core", format!("{:?}", client.core()));
    let uploader = secret_uploader(client.clone());
    seen.add("uploader", format!("{uploader:?} {uploader:#?}"));
    seen.add("config", format!("{:?}", uploader.config()));

    // 1. Successes: direct and chunked.
    let small = test_data(10 * KIB, 1);
    let upload = Upload::new_file("0", "small.bin").from_bytes(small.clone());
    seen.add("upload", format!("{upload:?}"));
    let file = seen
        .join("direct", uploader.start_upload(upload))
        .await
        .expect("direct upload");
    assert_stored(&emu, &file.id, &small).await;
    let big = test_data(3 * MIB + 5, 2);
    let file = seen
        .join(
            "chunked",
            uploader.start_upload(Upload::new_file("0", "big.bin").from_bytes(big.clone())),
        )
        .await
        .expect("chunked upload");
    assert_stored(&emu, &file.id, &big).await;

    // 2. API failures: an unknown folder (404), a name in use (409), a new version with a stale
    //    etag (412), a session whose parts always fail (500s, retries used up).
    let e = seen
        .join(
            "unknown folder",
            uploader.start_upload(Upload::new_file("987654", "x.bin").from_bytes(small.clone())),
        )
        .await
        .expect_err("unknown folder");
    assert_eq!(e.status(), Some(404), "{e}");
    let e = seen
        .join(
            "name in use",
            uploader.start_upload(Upload::new_file("0", "small.bin").from_bytes(small.clone())),
        )
        .await
        .expect_err("name in use");
    assert_eq!(e.status(), Some(409), "{e}");
    let e = seen
        .join(
            "stale etag",
            uploader.start_upload(
                Upload::new_version(&file.id)
                    .if_match("999")
                    .from_bytes(small.clone()),
            ),
        )
        .await
        .expect_err("stale etag");
    assert!(e.is_precondition_failed(), "{e}");

    // 3. Resume with a state file: parts fail for good (the session is kept), the state file is
    //    read, then the same upload resumes and commits.
    let source = dir.path().join("resume.bin");
    let resume_data = test_data(2 * MIB + 17, 3);
    std::fs::write(&source, &resume_data).expect("write");
    let state = dir.path().join("resume.state.json");
    emu.set_faults(FaultConfig {
        part_500_before_store: 1.0,
        ..Default::default()
    });
    let e = seen
        .join(
            "failing parts",
            uploader.start_upload(
                Upload::new_file("0", "resume.bin")
                    .from_path(&source)
                    .state_file(&state),
            ),
        )
        .await
        .expect_err("parts fail");
    assert_eq!(e.status(), Some(500), "{e}");
    emu.set_faults(FaultConfig::default());
    let state_bytes = std::fs::read(&state).expect("the state file is kept");
    seen.add(
        "state file",
        String::from_utf8_lossy(&state_bytes).into_owned(),
    );
    assert!(
        !state_bytes
            .windows(TOKEN.len())
            .any(|w| w == TOKEN.as_bytes()),
        "the token is in the state file's bytes"
    );
    let file = seen
        .join(
            "resumed",
            uploader.start_upload(
                Upload::new_file("0", "resume.bin")
                    .from_path(&source)
                    .state_file(&state),
            ),
        )
        .await
        .expect("resumed upload");
    assert_stored(&emu, &file.id, &resume_data).await;

    // 4. Transport failure: nothing listens on the port.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let dead = secret_uploader(secret_client(
        &format!("http://{closed}/2.0"),
        &format!("http://{closed}/api/2.0"),
    ));
    seen.add("dead uploader", format!("{dead:?}"));
    let e = seen
        .join(
            "closed port, direct",
            dead.start_upload(Upload::new_file("0", "a.bin").from_bytes(small.clone())),
        )
        .await
        .expect_err("nothing listens");
    assert!(e.status().is_none(), "a transport error: {e:?}");
    let e = seen
        .join(
            "closed port, chunked",
            dead.start_upload(Upload::new_file("0", "b.bin").from_bytes(big.clone())),
        )
        .await
        .expect_err("nothing listens");
    assert!(e.status().is_none(), "a transport error: {e:?}");

    // 5. Logs: the capture works (the engine logged its progress), and holds no token.
    let logs = logs();
    assert!(
        logs.contains("upload progress"),
        "the engine's tracing output was captured: {logs}"
    );
    seen.add("tracing output", logs);
    seen.assert_clean();
}

fn cli(args: &[&str], envs: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = box_upload();
    cmd.args(args)
        .env("RUST_LOG", "trace")
        .env("RUST_BACKTRACE", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run box-upload");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn put_args<'a>(file: &'a Path, api: &'a str, upload: &'a str, folder: &'a str) -> Vec<String> {
    let mut v: Vec<String> = vec!["put".into(), file.display().to_string()];
    v.extend(
        [
            "--folder",
            folder,
            "--api-url",
            api,
            "--upload-url",
            upload,
            "--chunked-cutoff",
            "1048576",
            "--min-chunked-size",
            "1",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_never_prints_the_token_and_takes_none_as_an_argument() {
    let emu = secret_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cli.bin");
    std::fs::write(&file, test_data(2 * MIB + 3, 9)).expect("write");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("write token");
    let (api, upload) = (emu.api_url(), emu.upload_url());

    let mut runs: Vec<(String, Vec<String>, bool, bool)> = Vec::new();
    // (what, args, token in env, expected success)
    let mut ok = put_args(&file, &api, &upload, "0");
    ok.push("--json".into());
    runs.push(("success".into(), ok, true, true));
    let mut unknown = put_args(&file, &api, &upload, "987654");
    unknown.extend(["--name".into(), "other.bin".into()]);
    runs.push(("API failure (404)".into(), unknown, true, false));
    // The name in use with other content, and `--on-conflict fail`.
    let other_dir = dir.path().join("other");
    std::fs::create_dir_all(&other_dir).expect("mkdir");
    let other = other_dir.join("cli.bin");
    std::fs::write(&other, test_data(2 * MIB + 3, 10)).expect("write");
    let mut in_use = put_args(&other, &api, &upload, "0");
    in_use.extend(["--on-conflict".into(), "fail".into()]);
    runs.push((
        "conflict (name in use, --on-conflict fail)".into(),
        in_use,
        true,
        false,
    ));
    // (A CLI run against a closed port retries for about a minute with the default policy;
    // the library test above covers transport failures.)
    let mut with_file = put_args(&file, &api, &upload, "0");
    with_file.extend([
        "--name".into(),
        "via-token-file.bin".into(),
        "--token-file".into(),
        token_file.display().to_string(),
    ]);
    runs.push(("token file".into(), with_file, false, true));

    let mut seen = Seen::default();
    for (what, args, with_env, expect_ok) in runs {
        let envs: &[(&str, &str)] = if with_env {
            &[("BOX_TOKEN", TOKEN)]
        } else {
            &[]
        };
        let out = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli(&args, envs)
        })
        .await
        .expect("join");
        let (success, stdout, stderr) = out;
        assert_eq!(
            success, expect_ok,
            "{what}: stdout {stdout} stderr {stderr}"
        );
        seen.add(format!("{what}: stdout"), stdout);
        seen.add(format!("{what}: stderr"), stderr);
    }
    assert_eq!(emu.counters().files_created, 2, "the two successful runs");
    seen.assert_clean();

    // No token argument: `put --help` offers only the token file, and `--token` is refused.
    let (success, help, _) = cli(&["put", "--help"], &[]);
    assert!(success, "{help}");
    assert!(help.contains("--token-file"), "{help}");
    for word in help.split(|c: char| c.is_whitespace() || c == ',' || c == '=') {
        if word.starts_with("--token") {
            // `--token-url` names the token endpoint, not a token.
            assert!(
                word == "--token-file" || word == "--token-url",
                "a token argument in put --help: {word} in {help}"
            );
        }
        assert!(
            !word.eq_ignore_ascii_case("-t"),
            "a short token flag? {help}"
        );
    }
    let (success, _, stderr) = cli(&["put", "x.bin", "--folder", "0", "--token", TOKEN], &[]);
    assert!(!success, "--token is not an argument");
    assert!(stderr.contains("--token"), "{stderr}");
}
