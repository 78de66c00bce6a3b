//! Running the many-small-files case ([`crate::small_case`]): each client uploads the files
//! into one folder against an emulator answering 429 above the case's upload and request
//! limits. The upload limit sets the ceiling in files/s: what is measured is how close each
//! client gets to it, how many 429s it draws on the way, and whether every file arrived intact.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha1::{Digest as _, Sha1};

use crate::emulator::{self, Emulator};
use crate::measure::{self, Cmd, Method};
use crate::results::{ClientRun, SmallClient, SmallFiles};
use crate::setup::{self, Paths, PythonSdk};
use crate::small_case::{self, FILE_SIZE, MAX_429_FRACTION, REQUESTS_PER_S, UPLOADS_PER_S};

/// What the case needs from the run.
pub struct Context<'a> {
    pub paths: &'a Paths,
    pub method: Method,
    pub exe: &'a Path,
    pub emulator: &'a Path,
    pub emulator_data: &'a Path,
    /// The CLI, or why it is not measured.
    pub cli: Result<&'a Path, String>,
    /// boxsdk 10.x, or why not.
    pub boxsdk10: Result<&'a PythonSdk, String>,
    /// boxsdk 3.x, or why not.
    pub boxsdk3: Result<&'a PythonSdk, String>,
    pub files: u64,
    pub command: String,
}

/// What the library runs: `upload_tree` with the engine's limiter at the case's limits
/// (`Rate::new`, whose bursts the engine decides).
fn engine_how() -> String {
    let rate = |n| box_uploads::tree::Rate::new(n, std::time::Duration::from_secs(1));
    format!(
        "`Uploader::upload_tree(TreeUpload::new(dir, \"0\").rate_limits(..))`, the limiter at \
         {UPLOADS_PER_S} uploads/s and {REQUESTS_PER_S} requests/s (bursts of {} and {}), the \
         engine's other defaults",
        rate(UPLOADS_PER_S).burst,
        rate(REQUESTS_PER_S).burst
    )
}

/// What the CLI runs. Its bursts follow the CLI's own rule (a sixtieth of the uploads and a
/// hundredth of the requests per minute, `cli/src/put_tree.rs`): the CLI is a binary crate
/// without a library, so the rule cannot be called from here and is restated.
fn cli_how() -> String {
    let (uploads, requests) = (UPLOADS_PER_S * 60, REQUESTS_PER_S * 60);
    format!(
        "`box-upload put DIR --folder 0 --uploads-per-minute {uploads} --requests-per-minute \
         {requests}` (its bursts: {} uploads, {} requests)",
        (uploads / 60).max(1),
        (requests / 100).max(1)
    )
}

const BOXSDK10_HOW: &str = "a loop of `client.uploads.upload_file(UploadFileAttributes(name, \
                            parent), stream)`, one file at a time, the SDK's default retry \
                            strategy (429: waits `retry-after`)";
const BOXSDK3_HOW: &str = "a loop of `client.folder('0').upload(path)`, one file at a time, the \
                           SDK's default retries (429: waits `retry-after`)";

/// The test directory: `files` files of [`FILE_SIZE`] pseudo-random bytes, generated once; and
/// the SHA-1 of each, by name.
fn ensure_files(paths: &Paths, files: u64) -> Result<(PathBuf, BTreeMap<String, String>), String> {
    let dir = paths
        .work
        .join("files")
        .join(format!("small-{files}x{}KiB", FILE_SIZE >> 10));
    let marker = dir.with_extension("done");
    let fine = std::fs::read_to_string(&marker)
        .map(|s| s.trim() == files.to_string())
        .unwrap_or(false);
    if !fine {
        eprintln!(
            "  generating {} ({files} files of {} KiB)",
            dir.display(),
            FILE_SIZE >> 10
        );
        let _ = std::fs::remove_file(&marker);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| format!("cannot empty {}: {e}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut block = vec![0u8; FILE_SIZE as usize];
        for i in 0..files {
            for word in block.chunks_exact_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                word.copy_from_slice(&state.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
            }
            let path = dir.join(file_name(i));
            let mut f = std::fs::File::create(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            f.write_all(&block)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        std::fs::write(&marker, files.to_string())
            .map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    }
    let mut sha1 = BTreeMap::new();
    for i in 0..files {
        let name = file_name(i);
        let bytes = std::fs::read(dir.join(&name))
            .map_err(|e| format!("cannot read {}/{name}: {e}", dir.display()))?;
        let digest: String = Sha1::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        sha1.insert(name, digest);
    }
    Ok((dir, sha1))
}

fn file_name(i: u64) -> String {
    format!("small-{i:05}.bin")
}

/// Runs every client once, each against a fresh emulator with the same limits.
pub fn run(ctx: &Context) -> Result<SmallFiles, String> {
    let started = Instant::now();
    let load_start = setup::load_average();
    let date = crate::setup::machine(ctx.paths).date;
    eprintln!(
        "== many small files: {} x {} KiB, rate-limit-uploads={}, rate-limit={}",
        ctx.files,
        FILE_SIZE >> 10,
        small_case::upload_limit(),
        small_case::request_limit()
    );
    let (dir, expected) = ensure_files(ctx.paths, ctx.files)?;
    let scratch = ctx.paths.work.join("scratch");
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let boxsdk10_script = ctx.paths.work.join("boxsdk_small_files.py");
    std::fs::write(&boxsdk10_script, include_str!("../boxsdk_small_files.py"))
        .map_err(|e| format!("cannot write {}: {e}", boxsdk10_script.display()))?;

    let mut clients = Vec::new();
    let engine_label = "box-uploads (library) upload_tree";
    let cli_label = "box-upload CLI put DIR";
    let boxsdk10_label = "boxsdk 10 (Python) upload_file loop";
    let boxsdk3_label = "boxsdk 3 (Python) folder.upload loop";

    let emu_args: Vec<String> = vec![
        "--fault".into(),
        format!("rate-limit-uploads={}", small_case::upload_limit()),
        "--fault".into(),
        format!("rate-limit={}", small_case::request_limit()),
    ];
    let run_one = |key: &str,
                   label: &str,
                   how: &str,
                   version: Option<String>,
                   command: &dyn Fn(&Emulator) -> Cmd|
     -> SmallClient {
        let mut c = SmallClient {
            run: ClientRun::new(key, label, how, version),
            ..SmallClient::default()
        };
        eprintln!("  {label}...");
        let emu = match Emulator::start_with(
            ctx.emulator,
            ctx.emulator_data,
            None,
            None,
            &emu_args,
            &ctx.paths.work.join("emulator.log"),
        ) {
            Ok(e) => e,
            Err(e) => {
                c.run.error = Some(e);
                return c;
            }
        };
        c.load_avg_1m = Some(setup::load_average_1m()).filter(|l| l.is_finite());
        let m = measure::run(ctx.method, &command(&emu), &scratch);
        // Counters first: the listing below adds requests of its own.
        let counters = emu.counters();
        let listing = emu.root_files();
        emu.stop();
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                c.run.error = Some(e);
                return c;
            }
        };
        c.run.process_wall_s = Some(m.wall_s);
        c.cpu_s = Some(m.user_s + m.sys_s);
        c.max_rss_mib = Some(m.max_rss_kib as f64 / 1024.0);
        let json = m.json().unwrap_or(serde_json::Value::Null);
        c.run.upload_s = if key == "cli" {
            Some(m.wall_s)
        } else {
            json["upload_s"].as_f64().or(Some(m.wall_s))
        };
        c.client_uploaded = json["uploaded"].as_u64();
        c.client_throttled = json["throttled"].as_u64();
        let mut problems = Vec::new();
        if !m.success {
            let tail: Vec<&str> = m.stderr.lines().rev().take(6).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            problems.push(format!("the client failed: {}", tail.join(" | ")));
        }
        if let Some(errors) = json["errors"].as_array() {
            if let Some(first) = errors.first().and_then(|e| e.as_str()) {
                problems.push(format!(
                    "{} files failed, first: {first}",
                    json["failed"].as_u64().unwrap_or(errors.len() as u64)
                ));
            }
        }
        match counters {
            Ok(counters) => {
                c.requests = counters["requests"]
                    .as_object()
                    .map(|o| o.values().filter_map(|v| v.as_u64()).sum());
                c.rate_limited_uploads = counters["injected"]["rate_limited_uploads"].as_u64();
                c.rate_limited_requests = counters["injected"]["rate_limited_requests"].as_u64();
            }
            Err(e) => problems.push(format!("no counters: {e}")),
        }
        match listing {
            Ok(files) => {
                c.files_arrived = Some(files.len() as u64);
                let intact = files
                    .iter()
                    .filter(|(name, sha1, size)| {
                        *size == FILE_SIZE
                            && expected
                                .get(name)
                                .is_some_and(|want| want.eq_ignore_ascii_case(sha1))
                    })
                    .count() as u64;
                c.files_intact = Some(intact);
                if let Some(s) = c.run.upload_s.filter(|s| *s > 0.0) {
                    let fps = intact as f64 / s;
                    c.files_per_s = Some(fps);
                    c.ratio_to_ceiling = Some(fps / f64::from(UPLOADS_PER_S));
                }
                if intact != ctx.files || files.len() as u64 != ctx.files {
                    problems.push(format!(
                        "{} files in the folder, {intact} of them intact, expected {}",
                        files.len(),
                        ctx.files
                    ));
                }
            }
            Err(e) => problems.push(format!("cannot list the folder: {e}")),
        }
        c.run.ok = problems.is_empty();
        if !problems.is_empty() {
            c.run.error = Some(problems.join("; "));
        }
        eprintln!(
            "    {}",
            match (c.files_per_s, c.fraction_429()) {
                (Some(f), Some(p)) => format!(
                    "{f:.2} files/s ({:.0}% of the ceiling), {} 429s of {} requests ({:.2}%), \
                     {}/{} intact{}",
                    100.0 * f / f64::from(UPLOADS_PER_S),
                    c.rate_limited().unwrap_or(0),
                    c.requests.unwrap_or(0),
                    100.0 * p,
                    c.files_intact.unwrap_or(0),
                    ctx.files,
                    c.run
                        .error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
                _ => format!("FAILED: {}", c.run.error.as_deref().unwrap_or("?")),
            }
        );
        c
    };

    let api = |emu: &Emulator| emu.api_url();
    clients.push(run_one(
        "engine",
        engine_label,
        &engine_how(),
        None,
        &|emu: &Emulator| {
            Cmd::new(ctx.exe)
                .arg("upload-tree")
                .arg("--api")
                .arg(api(emu))
                .arg("--upload")
                .arg(emu.upload_url())
                .arg("--token")
                .arg(emulator::TOKEN)
                .arg("--dir")
                .arg(&dir)
                .arg("--folder")
                .arg("0")
                .arg("--uploads-per-s")
                .arg(UPLOADS_PER_S.to_string())
                .arg("--requests-per-s")
                .arg(REQUESTS_PER_S.to_string())
        },
    ));
    match &ctx.cli {
        Ok(cli) => clients.push(run_one(
            "cli",
            cli_label,
            &cli_how(),
            None,
            &|emu: &Emulator| {
                Cmd::new(*cli)
                    .arg("put")
                    .arg(&dir)
                    .arg("--folder")
                    .arg("0")
                    .arg("--uploads-per-minute")
                    .arg((UPLOADS_PER_S * 60).to_string())
                    .arg("--requests-per-minute")
                    .arg((REQUESTS_PER_S * 60).to_string())
                    .arg("--api-url")
                    .arg(emu.api_url())
                    .arg("--upload-url")
                    .arg(emu.upload_url())
                    .arg("--json")
                    .env("BOX_TOKEN", emulator::TOKEN)
            },
        )),
        Err(reason) => clients.push(SmallClient::not_measured(
            "cli",
            cli_label,
            &cli_how(),
            reason.clone(),
        )),
    }
    match &ctx.boxsdk10 {
        Ok(py) => clients.push(run_one(
            "boxsdk10",
            boxsdk10_label,
            BOXSDK10_HOW,
            Some(py.version.clone()),
            &|emu: &Emulator| {
                Cmd::new(&py.python)
                    .arg(&boxsdk10_script)
                    .arg(&emu.base)
                    .arg(emu.sdk_upload_url())
                    .arg(emulator::TOKEN)
                    .arg(&dir)
                    .arg("0")
            },
        )),
        Err(reason) => clients.push(SmallClient::not_measured(
            "boxsdk10",
            boxsdk10_label,
            BOXSDK10_HOW,
            reason.clone(),
        )),
    }
    match &ctx.boxsdk3 {
        Ok(py) => clients.push(run_one(
            "boxsdk3",
            boxsdk3_label,
            BOXSDK3_HOW,
            Some(py.version.clone()),
            &|emu: &Emulator| {
                Cmd::new(&py.python)
                    .arg(&py.script)
                    .arg(&emu.base)
                    .arg(emulator::TOKEN)
                    .arg(&dir)
                    .arg("0")
            },
        )),
        Err(reason) => clients.push(SmallClient::not_measured(
            "boxsdk3",
            boxsdk3_label,
            BOXSDK3_HOW,
            reason.clone(),
        )),
    }

    Ok(SmallFiles {
        command: ctx.command.clone(),
        date,
        files: ctx.files,
        file_size: FILE_SIZE,
        upload_limit: small_case::upload_limit(),
        request_limit: small_case::request_limit(),
        ceiling_files_per_s: f64::from(UPLOADS_PER_S),
        max_429_fraction: MAX_429_FRACTION,
        emulator_data_dir: ctx.emulator_data.display().to_string(),
        load_average_at_start: load_start,
        load_average_at_end: setup::load_average(),
        duration_s: started.elapsed().as_secs_f64(),
        clients,
    })
}
