//! The measured child processes the bench starts from its own binary: `upload-one` (this
//! project's engine as a library), `upload-tree` (a directory with
//! [`Uploader::upload_tree`](box_uploads::upload::Uploader::upload_tree)) and `hash-floor` (two
//! SHA-1 passes over a file). Each prints one JSON line on stdout; the parent measures the
//! process's CPU time and peak RSS.

use std::io::Read as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use box_uploads::tree::{Rate, RateLimits, TreeUpload};
use box_uploads::upload::{AnyTarget, Phase, ProgressEvent, Upload, UploadConfig, Uploader};
use box_uploads::{Client, ClientBuilder};
use serde_json::json;
use sha1::{Digest as _, Sha1};

/// `upload-one --api URL --upload URL --token T --file PATH (--name NAME | --file-id ID
/// [--reuse-parts on|off]) [--concurrency N] [--memory-cap BYTES] [--ca-cert PEM] [--http 1.1|2]`:
/// one upload with [`Uploader`] (a new file in folder `0`, or a new version of file `ID`), with
/// the engine's defaults except for the options given (`--ca-cert`: an extra CA to trust,
/// HTTPS; `--http 2`: HTTP/2 where the server offers it, as `ClientBuilder::http2` chooses).
pub fn upload_one(args: &[String]) -> Result<(), String> {
    let opts = Opts::parse(args)?;
    let api = opts.required("--api")?;
    let upload_url = opts.required("--upload")?;
    let token = opts.required("--token")?;
    let file = PathBuf::from(opts.required("--file")?);
    let upload_of = |file: &PathBuf| -> Result<Upload<AnyTarget>, String> {
        match (opts.get("--file-id"), opts.get("--reuse-parts")) {
            (Some(id), reuse) => {
                let version = Upload::new_version(id).from_path(file);
                Ok(match reuse {
                    None => version,
                    Some("on") => version.reuse_parts(true),
                    Some("off") => version.reuse_parts(false),
                    Some(other) => return Err(format!("bad --reuse-parts {other} (on, off)")),
                }
                .into())
            }
            (None, Some(_)) => Err("--reuse-parts needs --file-id".into()),
            (None, None) => Ok(Upload::new_file("0", opts.required("--name")?)
                .from_path(file)
                .into()),
        }
    };
    let upload = upload_of(&file)?;
    let mut config = UploadConfig::default();
    if let Some(n) = opts.get("--concurrency") {
        config.concurrency = n.parse().map_err(|_| format!("bad --concurrency {n}"))?;
    }
    if let Some(n) = opts.get("--memory-cap") {
        config.memory_cap = n.parse().map_err(|_| format!("bad --memory-cap {n}"))?;
    }

    let ca_cert = opts.get("--ca-cert").map(PathBuf::from);
    let http2 = match opts.get("--http") {
        None | Some("1.1") => false,
        Some("2") => true,
        Some(other) => return Err(format!("bad --http {other} (1.1, 2)")),
    };
    let runtime = runtime()?;
    let out = runtime.block_on(async move {
        let client = client(&token, &api, &upload_url, ca_cert, http2)?;
        let uploader = Uploader::with_config(client, config);
        let start = Instant::now();
        let handle = uploader.start_upload(upload);
        let mut events = handle.events();
        let progress = handle.progress();
        // When the commit starts: the rest of the upload time is the server assembling the file.
        let mut phases = handle.progress();
        let committing = tokio::spawn(async move {
            while phases.changed().await.is_ok() {
                if phases.borrow().phase == Phase::Committing {
                    return Some(start.elapsed());
                }
            }
            None
        });
        // When the first part was settled as reused: the plan's answer (a version with reuse).
        let mut settled = handle.events();
        let first_reused = tokio::spawn(async move {
            loop {
                match settled.recv().await {
                    Ok(ProgressEvent::PartReused { .. }) => return Some(start.elapsed()),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        let session = tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(ProgressEvent::SessionOpened {
                        part_size,
                        total_parts,
                        concurrency,
                        ..
                    }) => return Some((part_size, total_parts, concurrency)),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        let stored = handle
            .join()
            .await
            .map_err(|e| format!("upload failed: {e}"))?;
        let elapsed = start.elapsed();
        let upload_s = elapsed.as_secs_f64();
        let retries = progress.borrow().retries;
        session.abort();
        committing.abort();
        first_reused.abort();
        let first_reused_s = first_reused.await.ok().flatten().map(|at| at.as_secs_f64());
        let session = session.await.ok().flatten();
        let commit_s = committing
            .await
            .ok()
            .flatten()
            .map(|at| elapsed.saturating_sub(at).as_secs_f64());
        Ok::<_, String>(json!({
            "upload_s": upload_s,
            "file_id": stored.id,
            "sha1": stored.sha1,
            "size": stored.size,
            "part_size": session.map(|s| s.0),
            "total_parts": session.map(|s| s.1),
            // The most parts really in flight (the session's figure is the ceiling).
            "concurrency": Some(uploader.parallelism().peak_in_flight as u64)
                .filter(|&n| n > 0)
                .or(session.map(|s| s.2 as u64)),
            "retries": retries,
            "bytes_sent": progress.borrow().bytes_sent,
            "bytes_reused": progress.borrow().bytes_reused,
            "commit_s": commit_s,
            "first_reused_s": first_reused_s,
        }))
    })?;
    let mut out = out;
    out["self_max_rss_kib"] = json!(vm_hwm_kib());
    println!("{out}");
    Ok(())
}

/// `upload-tree --api URL --upload URL --token T --dir DIR --folder ID --uploads-per-s N
/// --requests-per-s N`: every file of `DIR` into folder `ID` with `Uploader::upload_tree`, its
/// client-side limiter set to N uploads and N requests a second (bursts of one), the other
/// settings the engine's defaults.
pub fn upload_tree(args: &[String]) -> Result<(), String> {
    let opts = Opts::parse(args)?;
    let api = opts.required("--api")?;
    let upload = opts.required("--upload")?;
    let token = opts.required("--token")?;
    let dir = PathBuf::from(opts.required("--dir")?);
    let folder = opts.required("--folder")?;
    let per_s = |key: &str| -> Result<u32, String> {
        let v = opts.required(key)?;
        v.parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("bad {key} {v}"))
    };
    let limits = RateLimits {
        requests: Rate::new(per_s("--requests-per-s")?, Duration::from_secs(1)),
        uploads: Rate::new(per_s("--uploads-per-s")?, Duration::from_secs(1)),
    };
    let runtime = runtime()?;
    let out = runtime.block_on(async move {
        let client = client(&token, &api, &upload, None, false)?;
        let uploader = Uploader::new(client);
        let start = Instant::now();
        let report = uploader
            .upload_tree(TreeUpload::new(&dir, folder).rate_limits(limits))
            .await
            .map_err(|e| format!("tree upload failed: {e}"))?;
        let upload_s = start.elapsed().as_secs_f64();
        let errors: Vec<String> = report
            .failures()
            .take(5)
            .map(|f| format!("{}: {:?}", f.path, f.outcome))
            .collect();
        Ok::<_, String>(json!({
            "upload_s": upload_s,
            "uploaded": report.uploaded(),
            "skipped": report.skipped(),
            "failed": report.failed(),
            "throttled": report.throttled,
            "errors": errors,
        }))
    })?;
    let mut out = out;
    out["self_max_rss_kib"] = json!(vm_hwm_kib());
    println!("{out}");
    Ok(())
}

/// `hash-floor --file PATH --part-size BYTES`: the least work of a chunked upload: read the
/// file once, in order, and hash every byte twice with the `sha1` crate the engine uses
/// (whole-file SHA-1 and part SHA-1, which cannot be derived from each other).
pub fn hash_floor(args: &[String]) -> Result<(), String> {
    let opts = Opts::parse(args)?;
    let path = PathBuf::from(opts.required("--file")?);
    let part_size: usize = opts
        .required("--part-size")?
        .parse()
        .map_err(|_| "bad --part-size".to_string())?;
    let start = Instant::now();
    let mut file =
        std::fs::File::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    // A chunked upload that reads each byte once holds a whole part in memory (its SHA-1 goes
    // in a header before its body): so does the floor, in memory of the kind the engine uses
    // (a mapping advised for huge pages; see the engine's `part_memory`). Like the engine it
    // fills the part 1 MiB at a time and hashes each piece while it is still in the cache.
    let mut buf = part_buffer(part_size)?;
    let mut whole = Sha1::new();
    let mut part = Sha1::new();
    let mut in_part = 0usize;
    let mut parts = Vec::new();
    let mut total = 0u64;
    loop {
        let want = PIECE.min(part_size - in_part);
        let n = file
            .read(&mut buf[in_part..in_part + want])
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        let piece = &buf[in_part..in_part + n];
        for block in piece.chunks(64 * 1024) {
            whole.update(block);
            part.update(block);
        }
        in_part += n;
        total += n as u64;
        if in_part == part_size {
            parts.push(part.finalize_reset());
            in_part = 0;
        }
    }
    if in_part > 0 {
        parts.push(part.finalize_reset());
    }
    let sha1 = hex(&whole.finalize());
    let secs = start.elapsed().as_secs_f64();
    let out = json!({
        "secs": secs,
        "bytes": total,
        "sha1": sha1,
        "parts": parts.len(),
        "self_max_rss_kib": vm_hwm_kib(),
    });
    println!("{out}");
    Ok(())
}

/// The floor's read size: the engine's (1 MiB pieces into a part's buffer).
const PIECE: usize = 1024 * 1024;

/// A zeroed part buffer, mapped and advised for transparent huge pages as the engine's are.
fn part_buffer(len: usize) -> Result<memmap2::MmapMut, String> {
    let map = memmap2::MmapMut::map_anon(len.max(1)).map_err(|e| format!("part buffer: {e}"))?;
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    Ok(map)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// This process's peak resident set (VmHWM), in KiB, from /proc/self/status.
fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `--key value` pairs.
struct Opts(Vec<(String, String)>);

impl Opts {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut pairs = Vec::new();
        let mut iter = args.iter();
        while let Some(key) = iter.next() {
            if !key.starts_with("--") {
                return Err(format!("unexpected argument {key}"));
            }
            let value = iter.next().ok_or_else(|| format!("{key} needs a value"))?;
            pairs.push((key.clone(), value.clone()));
        }
        Ok(Opts(pairs))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, key: &str) -> Result<String, String> {
        self.get(key)
            .map(str::to_string)
            .ok_or_else(|| format!("{key} is required"))
    }
}

/// What a user would write: `#[tokio::main]`, a multi-threaded runtime of one worker per core.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))
}

/// A client of the emulator at `api` and `upload` with the bench's token, trusting `ca_cert`
/// too when given.
fn client(
    token: &str,
    api: &str,
    upload: &str,
    ca_cert: Option<PathBuf>,
    http2: bool,
) -> Result<Client, String> {
    let builder = ClientBuilder::new()
        .token(token)
        .api_url(api)
        .upload_url(upload)
        .http2(http2);
    match ca_cert {
        Some(path) => builder.ca_cert_file(path),
        None => builder,
    }
    .build()
    .map_err(|e| format!("cannot build the client: {e}"))
}
