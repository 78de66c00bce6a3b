//! Running the new-version-with-one-changed-region case: a file is uploaded (not measured),
//! [`CHANGED_LEN`](crate::version_case::CHANGED_LEN) bytes in its middle are changed in place, and each client uploads the
//! changed file as a new version of it, against a fresh emulator under a shaped profile. What
//! is measured is the version upload alone: its time inside the client, and the emulator's
//! counters of it (the file bytes it read, plans, hits, reused parts), taken as the difference
//! from before to after it.

use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha1::{Digest as _, Sha1};

use super::tools::upload_one;
use crate::emulator::{self, Emulator};
use crate::files::{self, human_size, MIB};
use crate::measure::{self, Cmd, Method};
use crate::profile::Profile;
use crate::results::version_reuse::{parts_touched, BOXSDK10, BOXSDK3, ENGINE_FULL, ENGINE_REUSE};
use crate::results::{ClientRun, VersionClient, VersionReuse};
use crate::setup::{self, Paths, PythonSdk};
use crate::version_case::changed_region;

/// What the case needs from the run.
pub struct Context<'a> {
    pub paths: &'a Paths,
    pub method: Method,
    pub exe: &'a Path,
    pub emulator: &'a Path,
    pub emulator_data: &'a Path,
    /// boxsdk 10.x and its version script, or why not.
    pub boxsdk10: Result<(&'a PythonSdk, PathBuf), String>,
    /// boxsdk 3.x and its version script, or why not.
    pub boxsdk3: Result<(&'a PythonSdk, PathBuf), String>,
    pub profile: Profile,
    pub size: u64,
    pub command: String,
}

const ENGINE_REUSE_HOW: &str = "`Uploader::upload(Upload::new_version(id).from_path(path))` at \
                                `UploadConfig::default()` (part reuse on: each part's SHA-512 \
                                in the one reading pass, the plan asked in batches, only the \
                                misses sent)";
const ENGINE_FULL_HOW: &str = "the same with `.reuse_parts(false)`: every part sent, as before \
                               Box's plan (a full upload)";
const BOXSDK10_HOW: &str = "`client.chunked_uploads.upload_big_file_version(file_id, \
                            open(path, 'rb'), size)`: one part at a time, a plan request of \
                            one part before each part, only the misses sent";
const BOXSDK3_HOW: &str = "`client.file(file_id).get_chunked_uploader(path).start()` at its \
                           default 5 threads; boxsdk 3.x knows no plan and sends every part";

/// The changed copy of `original` and its SHA-1.
fn changed_copy(original: &Path, size: u64) -> Result<(PathBuf, String), String> {
    let changed = original.with_extension("changed.bin");
    std::fs::copy(original, &changed).map_err(|e| {
        format!(
            "cannot copy {} to {}: {e}",
            original.display(),
            changed.display()
        )
    })?;
    let (offset, len) = changed_region(size);
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&changed)
        .map_err(|e| format!("cannot open {}: {e}", changed.display()))?;
    let mut region = vec![0u8; len as usize];
    let io = |e: std::io::Error| format!("cannot change {}: {e}", changed.display());
    f.seek(SeekFrom::Start(offset)).map_err(io)?;
    f.read_exact(&mut region).map_err(io)?;
    // Every byte changes; the length and every other byte stay.
    region.iter_mut().for_each(|b| *b ^= 0x5A);
    f.seek(SeekFrom::Start(offset)).map_err(io)?;
    f.write_all(&region).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    let sha1 = file_sha1(&changed)?;
    Ok((changed, sha1))
}

fn file_sha1(path: &Path) -> Result<String, String> {
    let mut f =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; 8 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A counter's growth from `before` to `after` (`pointer`: a JSON pointer into the counters).
fn grew(before: &serde_json::Value, after: &serde_json::Value, pointer: &str) -> Option<u64> {
    let at = |v: &serde_json::Value| v.pointer(pointer).and_then(|n| n.as_u64());
    Some(at(after)?.saturating_sub(at(before).unwrap_or(0)))
}

/// The emulator's counters once it holds the SHA-512 of every part of the current version
/// (`parts` of them): it computes them in the background after the commit, as Box holds them
/// for the parts it stores, so that no client's plan waits for the first upload's aftermath.
fn stored_part_hashes_ready(emu: &Emulator, parts: u64) -> Result<serde_json::Value, String> {
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let counters = emu.counters()?;
        let ready = counters["part_sha512s_hashed_ahead"].as_u64().unwrap_or(0);
        if ready >= parts {
            return Ok(counters);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the emulator computed {ready} of the {parts} stored parts' SHA-512s in 60 s"
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Runs every client once, each against a fresh emulator under the profile.
pub fn run(ctx: &Context) -> Result<VersionReuse, String> {
    let started = Instant::now();
    let load_start = setup::load_average();
    let date = setup::machine(ctx.paths).date;
    let (offset, len) = changed_region(ctx.size);
    let part_size = crate::defaults::emulator_part_size(ctx.size, None);
    eprintln!(
        "== new version with one changed region: {} file, {} changed at {offset}, {} parts of {}, --net {}",
        human_size(ctx.size),
        human_size(len),
        parts_touched(offset, len, part_size),
        human_size(part_size),
        ctx.profile.net_spec()
    );
    let original = files::ensure(&ctx.paths.work.join("files"), ctx.size)?;
    let (changed, changed_sha1) = changed_copy(&original, ctx.size)?;
    let scratch = ctx.paths.work.join("scratch");
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let net = vec!["--net".to_string(), ctx.profile.net_spec()];
    let log = ctx.paths.work.join("emulator.log");

    let engine_cmd = |emu: &Emulator, file: &Path| upload_one(ctx.exe, emu, file);
    let run_one = |key: &str,
                   label: &str,
                   how: &str,
                   version: Option<String>,
                   command: &dyn Fn(&Emulator, &str) -> Cmd|
     -> VersionClient {
        let mut c = VersionClient {
            run: ClientRun::new(key, label, how, version),
            ..VersionClient::default()
        };
        eprintln!("  {label}...");
        if let Err(e) = (|| -> Result<(), String> {
            let emu =
                Emulator::start_with(ctx.emulator, ctx.emulator_data, None, None, &net, &log)?;
            // The current version: a chunked upload by the engine, not measured.
            let seed = measure::run(
                ctx.method,
                &engine_cmd(&emu, &original)
                    .arg("--name")
                    .arg("version-reuse.bin"),
                &scratch,
            )?;
            let file_id = seed
                .json()
                .and_then(|j| j["file_id"].as_str().map(str::to_string))
                .filter(|_| seed.success)
                .ok_or_else(|| format!("the first upload failed: {}", last_lines(&seed.stderr)))?;
            let parts = seed
                .json()
                .and_then(|j| j["total_parts"].as_u64())
                .unwrap_or(0);
            let before = stored_part_hashes_ready(&emu, parts)?;
            c.load_avg_1m = Some(setup::load_average_1m()).filter(|l| l.is_finite());
            let m = measure::run(ctx.method, &command(&emu, &file_id), &scratch);
            let after = emu.counters();
            let stored = emu.file(&file_id);
            emu.stop();
            let m = m?;
            let (after, (sha1, size)) = (after?, stored?);
            c.run.process_wall_s = Some(m.wall_s);
            c.cpu_s = Some(m.user_s + m.sys_s);
            c.max_rss_mib = Some(m.max_rss_kib as f64 / 1024.0);
            if !m.success {
                return Err(format!("the client failed: {}", last_lines(&m.stderr)));
            }
            let json = m.json().unwrap_or(serde_json::Value::Null);
            c.run.upload_s = json["upload_s"].as_f64().or(Some(m.wall_s));
            c.first_reused_s = json["first_reused_s"].as_f64();
            c.commit_s = json["commit_s"].as_f64();
            c.bytes_sent = grew(&before, &after, "/file_bytes_received");
            c.part_requests = grew(&before, &after, "/requests/upload_part");
            c.plan_requests = grew(&before, &after, "/plan_requests");
            c.plan_hits = grew(&before, &after, "/plan_hits");
            c.plan_misses = grew(&before, &after, "/plan_misses");
            c.parts_reused = grew(&before, &after, "/parts_reused");
            c.part_bytes_reused = grew(&before, &after, "/part_bytes_reused");
            c.intact = sha1.eq_ignore_ascii_case(&changed_sha1) && size == ctx.size;
            if !c.intact {
                return Err(format!(
                    "the file holds SHA-1 {sha1} ({size} bytes) afterwards, the changed file's is {changed_sha1}"
                ));
            }
            Ok(())
        })() {
            c.run.error = Some(e);
        }
        c.run.ok = c.run.error.is_none();
        eprintln!(
            "    {}",
            match (&c.run.error, c.run.upload_s) {
                (None, Some(s)) => format!(
                    "{s:.2} s, {} MiB sent, {} plan requests, {} parts reused",
                    c.bytes_sent.unwrap_or(0) / MIB,
                    c.plan_requests.unwrap_or(0),
                    c.parts_reused.unwrap_or(0)
                ),
                (e, _) => format!("FAILED: {}", e.as_deref().unwrap_or("?")),
            }
        );
        c
    };

    // The engine's new version of `id` from the changed file, with part reuse `on` or `off`.
    let engine_version = |emu: &Emulator, id: &str, reuse: &str| {
        engine_cmd(emu, &changed)
            .arg("--file-id")
            .arg(id)
            .arg("--reuse-parts")
            .arg(reuse)
    };
    let mut clients = vec![
        run_one(
            ENGINE_REUSE,
            "box-uploads (library), reuse on (default)",
            ENGINE_REUSE_HOW,
            None,
            &|emu, id| engine_version(emu, id, "on"),
        ),
        run_one(
            ENGINE_FULL,
            "box-uploads (library), reuse off",
            ENGINE_FULL_HOW,
            None,
            &|emu, id| engine_version(emu, id, "off"),
        ),
    ];
    // A Python SDK's version script, `python SCRIPT BASE [UPLOAD_URL] TOKEN FILE FILE_ID`
    // (boxsdk 10 takes the emulator's upload URL, boxsdk 3 does not), or why it was not run.
    let run_script = |key: &str,
                      label: &str,
                      how: &str,
                      sdk: &Result<(&PythonSdk, PathBuf), String>,
                      with_upload_url: bool|
     -> VersionClient {
        match sdk {
            Ok((py, script)) => run_one(key, label, how, Some(py.version.clone()), &|emu, id| {
                let cmd = Cmd::new(&py.python).arg(script).arg(&emu.base);
                let cmd = if with_upload_url {
                    cmd.arg(emu.sdk_upload_url())
                } else {
                    cmd
                };
                cmd.arg(emulator::TOKEN).arg(&changed).arg(id)
            }),
            Err(why) => VersionClient::not_measured(key, label, how, why.clone()),
        }
    };
    clients.push(run_script(
        BOXSDK10,
        "boxsdk 10 (Python) upload_big_file_version",
        BOXSDK10_HOW,
        &ctx.boxsdk10,
        true,
    ));
    clients.push(run_script(
        BOXSDK3,
        "boxsdk 3 (Python) chunked uploader of a version",
        BOXSDK3_HOW,
        &ctx.boxsdk3,
        false,
    ));
    let _ = std::fs::remove_file(&changed);

    Ok(VersionReuse {
        command: ctx.command.clone(),
        date,
        profile: ctx.profile.name.into(),
        net: ctx.profile.net_spec(),
        rtt_ms: ctx.profile.rtt_ms,
        conn_mib_s: ctx.profile.conn_mib_s as f64,
        link_mib_s: ctx.profile.link_mib_s as f64,
        size: ctx.size,
        changed_offset: offset,
        changed_len: len,
        part_size,
        changed_parts: parts_touched(offset, len, part_size),
        emulator_data_dir: ctx.emulator_data.display().to_string(),
        load_average_at_start: load_start,
        load_average_at_end: setup::load_average(),
        duration_s: started.elapsed().as_secs_f64(),
        clients,
    })
}

/// The last lines of a client's stderr, on one line.
fn last_lines(stderr: &str) -> String {
    let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version_case::CHANGED_LEN;

    #[test]
    fn the_region_is_centred_and_straddles_the_middle_part_boundary() {
        let gib = 1 << 30;
        let (offset, len) = changed_region(gib);
        assert_eq!(len, CHANGED_LEN);
        assert_eq!(offset + len / 2, gib / 2);
        assert_eq!(parts_touched(offset, len, 32 * MIB), 2);
        assert_eq!(changed_region(MIB), (0, MIB));
    }

    #[test]
    fn counters_grow_from_before_to_after() {
        let before = serde_json::json!({"plan_requests": 2, "requests": {"upload_part": 32}});
        let after = serde_json::json!({"plan_requests": 5, "requests": {"upload_part": 34}});
        assert_eq!(grew(&before, &after, "/plan_requests"), Some(3));
        assert_eq!(grew(&before, &after, "/requests/upload_part"), Some(2));
        assert_eq!(grew(&before, &after, "/parts_reused"), None);
    }
}
