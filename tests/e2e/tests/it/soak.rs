//! Fault soak: many uploads at once through one `Uploader`, sizes around the chunked cutoff and
//! the part size, random concurrency and random fault schedules drawn from a recorded seed.
//! Every upload either commits content identical to its source (downloaded and compared, bytes
//! and SHA-1) or fails with a typed `UploadError` and leaves no committed file with its name
//! (unless its last answer was lost after the write, when Box may have stored it: then the file
//! holds exactly its content); no upload session stays open unless the upload asked to keep it;
//! the emulator's counters prove the faults were injected. Besides part faults, 202s and rate
//! limits, the schedules draw Box's rarer answers: commits and direct uploads stored but
//! answered by a dropped connection, a 500 or a 503, requests answered 503 (with retry-after)
//! or 502, and the 409s `name_temporarily_reserved` and `operation_blocked_temporary`.
//!
//! The short form runs in `cargo test`. The long form is run by hand:
//!
//! ```sh
//! SOAK_SEED=1 SOAK_UPLOADS=200 SOAK_MAX_MIB=200 \
//!   cargo test -p box-uploads-e2e --release --test it soak -- --ignored --nocapture
//! ```
//!
//! (`SOAK_MAX_MIB` is the total of all file sizes, in MiB.)

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use box_uploads::upload::{
    RetryPolicy, Upload, UploadConfig, UploadError, UploadErrorKind, Uploader,
};
use tokio::sync::Semaphore;

struct Plan {
    seed: u64,
    uploads: usize,
    total_bytes: u64,
    /// Uploads per wave; every wave gets a new fault schedule.
    wave: usize,
    max_latency_ms: u64,
}

#[derive(Debug, Clone)]
struct Job {
    name: String,
    size: u64,
    content_seed: u64,
    /// 0: from_bytes, 1: from_path, 2: from_reader.
    source_kind: u8,
    /// Few retries: such an upload may fail (and must then leave nothing behind).
    stingy: bool,
    keep_session: bool,
}

/// An upload that failed.
struct Failure {
    job: Job,
    error: String,
    /// Its last failure may have stored the write (a lost answer): a file may exist.
    ambiguous: bool,
    session_id: Option<String>,
}

#[derive(Default)]
struct Outcome {
    committed: BTreeMap<String, (String, Job)>,
    failed: Vec<Failure>,
    kept_sessions: BTreeSet<String>,
}

#[derive(Debug, Default)]
struct Report {
    uploads: usize,
    bytes: u64,
    committed: usize,
    chunked: usize,
    failures: usize,
}

/// Sizes near the interesting boundaries: 0, 1, around the cutoff, around multiples of the part
/// size, and some arbitrary ones; their sum stays about `total`.
fn sizes(rng: &mut fastrand::Rng, count: usize, total: u64, cutoff: u64, part: u64) -> Vec<u64> {
    let mut out = Vec::with_capacity(count);
    let mut budget = total;
    for i in 0..count {
        // What is left, spread over the uploads still to size.
        let mean = (budget / (count - i) as u64).max(1);
        let size = match i % 8 {
            0 if i == 0 => 0,
            0 => 1 + rng.u64(0..part),
            1 => cutoff - 1 + rng.u64(0..3),
            2 | 3 => {
                let k = cutoff / part + 1 + rng.u64(0..(2 * mean / part).max(1));
                k * part - 1 + rng.u64(0..3)
            }
            _ => rng.u64(1..=2 * mean),
        };
        let size = size.min(budget);
        budget -= size;
        out.push(size);
    }
    out
}

// `..Default::default()` stays: the emulator may add fault kinds.
#[allow(clippy::needless_update)]
fn fault_schedule(rng: &mut fastrand::Rng, max_latency_ms: u64) -> FaultConfig {
    FaultConfig {
        part_500_before_store: 0.02 + rng.f64() * 0.08,
        part_500_after_store: 0.02 + rng.f64() * 0.08,
        part_drop_after_store: 0.02 + rng.f64() * 0.08,
        part_reset_mid_body: 0.02 + rng.f64() * 0.06,
        commit_202: rng.u32(0..=3),
        commit_retry_after_secs: 0,
        commit_parts_mismatch_once: rng.bool(),
        rate_limit: if rng.u8(0..4) == 0 {
            None
        } else {
            Some(RateLimit {
                max_requests: rng.u32(25..80),
                window_ms: 1000,
            })
        },
        latency_ms: rng.u64(0..=max_latency_ms),
        commit_drop_after_store: rng.f64() * 0.15,
        direct_500_after_store: 0.05 + rng.f64() * 0.2,
        write_503_after_store: rng.f64() * 0.1,
        request_503: rng.f64() * 0.03,
        retry_after_503_secs: rng.u64(0..=1),
        request_502: rng.f64() * 0.03,
        name_temporarily_reserved: rng.f64() * 0.1,
        operation_blocked: rng.f64() * 0.1,
        ..Default::default()
    }
}

fn generous() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 40,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(300),
        deadline: Duration::from_secs(600),
    }
}

fn stingy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        deadline: Duration::from_secs(60),
    }
}

/// The content as a plain reader (no path, no known identity: not resumable).
fn reader_of(data: Vec<u8>) -> impl tokio::io::AsyncRead + Send + Unpin + 'static {
    std::io::Cursor::new(data)
}

async fn run_job(
    uploader: &Uploader,
    job: &Job,
    dir: &std::path::Path,
    cutoff: u64,
) -> Result<String, UploadError> {
    let data = test_data(job.size, job.content_seed);
    let mut upload = Upload::new_file("0", job.name.clone()).chunked_cutoff(cutoff);
    upload = match job.source_kind {
        0 => upload.from_bytes(data),
        1 => {
            let path = dir.join(&job.name);
            tokio::fs::write(&path, &data).await.expect("write source");
            upload.from_path(path)
        }
        _ => upload.from_reader(reader_of(data), job.size),
    };
    if job.stingy {
        upload = upload.retry_policy(stingy());
    }
    if job.keep_session {
        upload = upload.keep_session_on_failure(true);
    }
    let file = uploader.upload(upload).await?;
    assert_eq!(
        file.size,
        Some(job.size as i64),
        "{}: reported size",
        job.name
    );
    let expected = test_data(job.size, job.content_seed);
    assert_eq!(
        file.sha1.as_deref(),
        Some(sha1_hex(&expected).as_str()),
        "{}: reported SHA-1",
        job.name
    );
    Ok(file.id)
}

/// Names and ids of every file in the root folder.
async fn root_items(emu: &Emulator) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut offset = 0;
    loop {
        let url = format!(
            "{}/folders/0/items?limit=1000&offset={offset}",
            emu.api_url()
        );
        let response = http()
            .get(&url)
            .bearer_auth(emu.token())
            .send()
            .await
            .expect("folder items");
        assert_eq!(response.status().as_u16(), 200, "{url}");
        let page: serde_json::Value = response.json().await.expect("folder items json");
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        for e in &entries {
            let name = e["name"].as_str().expect("entry name").to_string();
            let id = e["id"].as_str().expect("entry id").to_string();
            assert!(
                out.insert(name.clone(), id).is_none(),
                "two files named {name}"
            );
        }
        offset += entries.len() as u64;
        let total = page["total_count"].as_u64().expect("total_count");
        if entries.is_empty() || offset >= total {
            return out;
        }
    }
}

async fn soak(plan: Plan) -> Report {
    let mut rng = fastrand::Rng::with_seed(plan.seed);
    let part = [256 * KIB, 512 * KIB, MIB][rng.usize(0..3)];
    let cutoff = part * rng.u64(1..3) + rng.u64(0..part);
    let concurrency = rng.usize(1..=8);
    println!(
        "soak: seed {} part {part} cutoff {cutoff} concurrency {concurrency}",
        plan.seed
    );
    let emu = start(Config {
        part_size: Some(part),
        min_chunked_size: cutoff,
        seed: plan.seed,
        ..Default::default()
    })
    .await;
    let mut config = UploadConfig::default();
    config.concurrency = concurrency.into();
    config.chunked_cutoff = cutoff;
    config.min_chunked_size = cutoff;
    config.retry = generous();
    config.commit_deadline = Duration::from_secs(300);
    let uploader = Uploader::with_config(client(&emu), config);
    let dir = tempfile::tempdir().expect("tempdir");

    let sizes = sizes(&mut rng, plan.uploads, plan.total_bytes, cutoff, part);
    let jobs: Vec<Job> = sizes
        .iter()
        .enumerate()
        .map(|(index, &size)| {
            let stingy = rng.u8(0..5) == 0;
            Job {
                name: format!("soak-{index:04}-{size}.bin"),
                size,
                content_seed: plan.seed.wrapping_mul(1_000_003).wrapping_add(index as u64),
                source_kind: rng.u8(0..3),
                stingy,
                keep_session: stingy && rng.bool(),
            }
        })
        .collect();

    let started = Instant::now();
    let mut outcome = Outcome::default();
    let mut injected = box_emulator::InjectedCounters::default();
    for wave in jobs.chunks(plan.wave.max(1)) {
        let faults = fault_schedule(&mut rng, plan.max_latency_ms);
        let parallel = rng.usize(1..=12);
        emu.set_faults(faults.clone());
        let gate = Arc::new(Semaphore::new(parallel));
        let mut tasks = Vec::new();
        for job in wave {
            let (job, uploader, gate) = (job.clone(), uploader.clone(), gate.clone());
            let dir = dir.path().to_path_buf();
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.expect("semaphore");
                let result = run_job(&uploader, &job, &dir, cutoff).await;
                (job, result)
            }));
        }
        for task in tasks {
            let (job, result) = task.await.expect("upload task");
            match result {
                Ok(id) => {
                    outcome.committed.insert(id, (job.name.clone(), job));
                }
                Err(e) => {
                    // A typed error that says what went wrong; never an internal error or a
                    // cancellation nobody asked for.
                    assert!(
                        matches!(
                            e.kind(),
                            UploadErrorKind::Api { .. }
                                | UploadErrorKind::GaveUp { .. }
                                | UploadErrorKind::Verification { .. }
                                | UploadErrorKind::CommitTimeout { .. }
                        ),
                        "{}: unexpected kind of failure: {e:?}",
                        job.name
                    );
                    assert!(
                        job.stingy,
                        "{} failed with generous retries under {faults:?}: {e}",
                        job.name
                    );
                    let session_id = e.session_id().map(str::to_string);
                    if job.keep_session {
                        if let Some(id) = &session_id {
                            outcome.kept_sessions.insert(id.clone());
                        }
                    }
                    let ambiguous = e.call_error().is_some_and(|c| c.may_have_taken_effect());
                    outcome.failed.push(Failure {
                        job,
                        error: e.to_string(),
                        ambiguous,
                        session_id,
                    });
                }
            }
        }
        // Counters of this wave (reset so a rate limit of the verification below is not
        // counted, and so the figures are per wave then summed).
        let i = emu.counters().injected;
        injected.part_500_before_store += i.part_500_before_store;
        injected.part_500_after_store += i.part_500_after_store;
        injected.part_drop_after_store += i.part_drop_after_store;
        injected.part_reset_mid_body += i.part_reset_mid_body;
        injected.commit_202 += i.commit_202;
        injected.commit_parts_mismatch += i.commit_parts_mismatch;
        injected.rate_limited += i.rate_limited;
        injected.delayed_requests += i.delayed_requests;
        injected.commit_drop_after_store += i.commit_drop_after_store;
        injected.direct_500_after_store += i.direct_500_after_store;
        injected.write_503_after_store += i.write_503_after_store;
        injected.request_503 += i.request_503;
        injected.request_502 += i.request_502;
        injected.name_temporarily_reserved += i.name_temporarily_reserved;
        injected.operation_blocked += i.operation_blocked;
        emu.set_faults(FaultConfig::default());
        emu.reset_counters();
    }
    let elapsed = started.elapsed();
    let items = root_items(&emu).await;

    // A kept session whose commit went through although its answer was lost is not open.
    let mut expected_open = outcome.kept_sessions.clone();
    for f in &outcome.failed {
        if f.ambiguous && items.contains_key(&f.job.name) {
            if let Some(id) = &f.session_id {
                expected_open.remove(id);
            }
        }
    }
    // Aborts of failed uploads run before their error is returned; give stragglers (a guard's
    // abort spawned on drop) a moment, then check that only the kept sessions remain.
    let mut open: BTreeSet<String> = emu.open_sessions().into_iter().collect();
    for _ in 0..50 {
        if open == expected_open {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        open = emu.open_sessions().into_iter().collect();
    }
    assert_eq!(
        open, expected_open,
        "open sessions are exactly those kept on failure"
    );

    // Content: every committed file is its source; every failed upload left no file, unless
    // its answer was lost after the write, when the file is its source.
    let mut lost = 0;
    for (id, (name, job)) in &outcome.committed {
        assert_eq!(items.get(name), Some(id), "{name} is in the folder");
        let stored = emu.file_content(id, None).await.expect("committed file");
        let expected = test_data(job.size, job.content_seed);
        if stored.len() != expected.len()
            || sha1_hex(&stored) != sha1_hex(&expected)
            || stored != expected
        {
            lost += 1;
            eprintln!("{name} (file {id}): stored content differs from the source");
        }
    }
    let mut stored_unanswered = 0;
    for Failure {
        job,
        error,
        ambiguous,
        ..
    } in &outcome.failed
    {
        let Some(id) = items.get(&job.name).filter(|_| *ambiguous) else {
            assert!(
                !items.contains_key(&job.name),
                "{} failed ({error}) but a file with its name was committed",
                job.name
            );
            continue;
        };
        stored_unanswered += 1;
        let stored = emu.file_content(id, None).await.expect("stored file");
        if stored != test_data(job.size, job.content_seed) {
            lost += 1;
            eprintln!(
                "{} (file {id}, stored without an answer): content differs from the source",
                job.name
            );
        }
    }
    assert_eq!(
        items.len(),
        outcome.committed.len() + stored_unanswered,
        "no file besides the committed ones"
    );
    assert_eq!(lost, 0, "data lost");

    let report = Report {
        uploads: jobs.len(),
        bytes: jobs.iter().map(|j| j.size).sum(),
        committed: outcome.committed.len(),
        chunked: jobs.iter().filter(|j| j.size > cutoff).count(),
        failures: outcome.failed.len(),
    };
    println!(
        "soak seed {}: uploads {}, bytes {} ({:.1} MiB, {} chunked), committed {}, \
         failures {} (typed, nothing committed, {} sessions kept on request), \
         faults injected: part-500 {}, part-500-after-store {}, part-drop-after-store {}, \
         part-reset {}, commit-202 {}, commit-parts-mismatch {}, rate-limited {}, \
         delayed requests {}, commit-drop-after-store {}, direct-500-after-store {}, \
         503-after-store {}, 503 {}, 502 {}, name-temporarily-reserved {}, \
         operation-blocked {}; stored without an answer and failed {stored_unanswered}; \
         data lost: {lost}; {:.1} s",
        plan.seed,
        report.uploads,
        report.bytes,
        report.bytes as f64 / MIB as f64,
        report.chunked,
        report.committed,
        report.failures,
        outcome.kept_sessions.len(),
        injected.part_500_before_store,
        injected.part_500_after_store,
        injected.part_drop_after_store,
        injected.part_reset_mid_body,
        injected.commit_202,
        injected.commit_parts_mismatch,
        injected.rate_limited,
        injected.delayed_requests,
        injected.commit_drop_after_store,
        injected.direct_500_after_store,
        injected.write_503_after_store,
        injected.request_503,
        injected.request_502,
        injected.name_temporarily_reserved,
        injected.operation_blocked,
        elapsed.as_secs_f64(),
    );
    for Failure { job, error, .. } in &outcome.failed {
        println!(
            "  failed as expected: {} ({} bytes): {error}",
            job.name, job.size
        );
    }
    // The faults really happened.
    // Which part meets which fault depends on the order parts arrive in, so a short run may
    // miss one kind by chance (each is proven on its own in engine_faults.rs); it must still
    // have injected part faults, and a long run every kind.
    let part_faults = injected.part_500_before_store
        + injected.part_500_after_store
        + injected.part_drop_after_store
        + injected.part_reset_mid_body;
    assert!(part_faults > 0, "{injected:?}");
    if plan.uploads >= 100 {
        assert!(injected.part_500_before_store > 0, "{injected:?}");
        assert!(injected.part_500_after_store > 0, "{injected:?}");
        assert!(injected.part_drop_after_store > 0, "{injected:?}");
        assert!(injected.part_reset_mid_body > 0, "{injected:?}");
    }
    assert!(injected.commit_202 > 0, "{injected:?}");
    assert!(injected.commit_parts_mismatch > 0, "{injected:?}");
    assert!(injected.delayed_requests > 0, "{injected:?}");
    // Box's rarer answers: lost answers after a write, 5xx before one, and the "later" 409s.
    let lost_answers = injected.commit_drop_after_store
        + injected.direct_500_after_store
        + injected.write_503_after_store;
    assert!(lost_answers > 0, "{injected:?}");
    assert!(
        injected.request_503 + injected.request_502 > 0,
        "{injected:?}"
    );
    assert!(
        injected.name_temporarily_reserved + injected.operation_blocked > 0,
        "{injected:?}"
    );
    if plan.uploads >= 100 {
        assert!(injected.commit_drop_after_store > 0, "{injected:?}");
        assert!(injected.direct_500_after_store > 0, "{injected:?}");
        assert!(injected.write_503_after_store > 0, "{injected:?}");
        assert!(injected.request_503 > 0, "{injected:?}");
        assert!(injected.request_502 > 0, "{injected:?}");
        assert!(injected.name_temporarily_reserved > 0, "{injected:?}");
        assert!(injected.operation_blocked > 0, "{injected:?}");
    }
    assert!(report.committed > 0 && report.chunked > 0);
    emu.shutdown().await;
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_soak_nothing_is_lost() {
    let report = soak(Plan {
        seed: 20_261_121,
        uploads: 32,
        total_bytes: 40 * MIB,
        wave: 8,
        max_latency_ms: 5,
    })
    .await;
    assert_eq!(report.uploads, 32);
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}")),
        Err(_) => default,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
#[ignore = "long soak, run by hand: SOAK_SEED, SOAK_UPLOADS, SOAK_MAX_MIB"]
async fn long_soak_nothing_is_lost() {
    let seed = env_u64("SOAK_SEED", 1);
    let uploads = env_u64("SOAK_UPLOADS", 200) as usize;
    let max_mib = env_u64("SOAK_MAX_MIB", 200);
    println!("SOAK_SEED={seed} SOAK_UPLOADS={uploads} SOAK_MAX_MIB={max_mib}");
    soak(Plan {
        seed,
        uploads,
        total_bytes: max_mib * MIB,
        wave: 20,
        max_latency_ms: 20,
    })
    .await;
}
