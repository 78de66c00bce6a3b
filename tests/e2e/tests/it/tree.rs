//! Folder tree uploads (`box_uploads::tree`) against the emulator: a tree of 1,000+ files
//! arrives whole, a second run sends no byte, a changed file makes one new version, scaled-down
//! rate limits are kept, a killed run finishes when run again without duplicates, a rename run
//! again makes no second copy, a journal kept in the tree is never uploaded, and an unreadable
//! folder or file fails alone.

use crate::common::*;
use box_uploads::tree::{
    FileOutcome, OnConflict, Rate, RateLimits, SkipReason, TreeFileError, TreeReport, TreeUpload,
};
use std::path::Path;
use std::time::Duration;

/// Chunked above this size (the emulator's parts are 64 KiB).
const CUTOFF: u64 = 200 * KIB;

/// Writes `files` small files (0 to 2 KiB) spread over nested folders, plus `big` files above
/// [`CUTOFF`], and one empty folder. Returns the number of files.
fn write_tree(dir: &Path, files: usize, big: usize, seed: u64) -> usize {
    for i in 0..files {
        let sub = match i % 4 {
            0 => String::new(),
            1 => format!("d{}", i % 10),
            2 => format!("d{}/e{}", i % 10, i % 3),
            _ => format!("d{}/e{}/f{}", i % 10, i % 3, i % 2),
        };
        let folder = dir.join(&sub);
        std::fs::create_dir_all(&folder).expect("mkdir");
        let len = ((i as u64).wrapping_mul(2_654_435_761) ^ seed) % (2 * KIB + 1);
        let len = if i % 97 == 0 { 0 } else { len };
        std::fs::write(
            folder.join(format!("file-{i:04}.txt")),
            test_data(len, seed + i as u64),
        )
        .expect("write");
    }
    for b in 0..big {
        let len = CUTOFF + 1 + (b as u64) * 150 * KIB;
        let folder = dir.join("big");
        std::fs::create_dir_all(&folder).expect("mkdir");
        std::fs::write(
            folder.join(format!("big-{b}.bin")),
            test_data(len, seed + 9000 + b as u64),
        )
        .expect("write");
    }
    std::fs::create_dir_all(dir.join("empty/inner")).expect("mkdir");
    files + big
}

fn tree_uploader(emu: &Emulator) -> Uploader {
    let mut config = UploadConfig::default();
    config.chunked_cutoff = CUTOFF;
    config.min_chunked_size = 1;
    config.concurrency = 16.into();
    config.retry = fast_retries();
    config.commit_deadline = Duration::from_secs(60);
    Uploader::with_config(client(emu), config)
}

/// Limits far above what a test reaches: only the emulator's faults limit these runs.
fn no_limits() -> RateLimits {
    RateLimits {
        requests: Rate::new(100_000, Duration::from_secs(1)).with_burst(1000),
        uploads: Rate::new(100_000, Duration::from_secs(1)).with_burst(1000),
    }
}

fn local_dirs(dir: &Path) -> std::collections::BTreeSet<String> {
    fn go(dir: &Path, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let e = e.expect("entry");
            if e.file_type().expect("type").is_dir() {
                let name = e.file_name().to_string_lossy().into_owned();
                let rel = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                out.insert(rel.clone());
                go(&e.path(), &rel, out);
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    go(dir, "", &mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_of_a_thousand_files_arrives_whole_then_reruns_send_nothing_and_one_change_one_version(
) {
    let emu = start(small_config()).await;
    let local = tempfile::tempdir().expect("tempdir");
    let n = write_tree(local.path(), 1040, 3, 1);
    let uploader = tree_uploader(&emu);
    let tree = || TreeUpload::new(local.path(), "0").rate_limits(no_limits());

    let first = uploader.upload_tree(tree()).await.expect("first run");
    assert_eq!(
        first.failed(),
        0,
        "{:?}",
        first.failures().collect::<Vec<_>>()
    );
    assert_eq!(first.uploaded(), n);
    assert_tree_matches(&emu, "0", local.path()).await;
    assert_eq!(
        emu.tree_folders("0").expect("root"),
        local_dirs(local.path())
    );
    let c = emu.counters();
    assert_eq!(c.files_created, n as u64);
    assert_eq!(c.sessions_committed, 3, "the three big files went chunked");
    // Each folder made once, however many files waited for it.
    assert_eq!(c.folders_created, local_dirs(local.path()).len() as u64);
    assert_eq!(first.folders_created, c.folders_created);
    eprintln!(
        "tree: {n} files, {} bytes, {} folders, {} requests",
        first.bytes_sent(),
        c.folders_created,
        c.requests_total
    );

    emu.reset_counters();
    let second = uploader.upload_tree(tree()).await.expect("second run");
    let c = emu.counters();
    assert_eq!(second.skipped(), n);
    assert!(second.files.iter().all(|f| matches!(
        f.outcome,
        FileOutcome::Skipped {
            reason: SkipReason::SameContent,
            ..
        }
    )));
    assert_eq!(c.file_bytes_received, 0, "a second run sends no file byte");
    assert_eq!(
        c.files_created + c.file_versions_created + c.folders_created,
        0
    );
    eprintln!("tree: second run sent {} file bytes", c.file_bytes_received);

    std::fs::write(local.path().join("file-0000.txt"), b"changed content").expect("write");
    emu.reset_counters();
    let third = uploader
        .upload_tree(tree().on_conflict(OnConflict::Version))
        .await
        .expect("third run");
    let c = emu.counters();
    assert_eq!(third.versioned(), 1);
    assert_eq!(third.skipped(), n - 1);
    assert_eq!(c.file_versions_created, 1);
    assert_eq!(c.files_created, 0);
    assert_eq!(c.file_bytes_received, b"changed content".len() as u64);
    assert_tree_matches(&emu, "0", local.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_under_scaled_down_rate_limits_completes_with_few_429s() {
    let emu = start(small_config()).await;
    emu.set_faults(FaultConfig {
        rate_limit: Some(RateLimit {
            max_requests: 80,
            window_ms: 1000,
        }),
        rate_limit_uploads: Some(RateLimit {
            max_requests: 20,
            window_ms: 1000,
        }),
        ..Default::default()
    });
    let local = tempfile::tempdir().expect("tempdir");
    let n = write_tree(local.path(), 130, 1, 2);
    // The client's limits match the server's, with bursts small enough that a burst plus one
    // window's worth stays under them.
    let limits = RateLimits {
        requests: Rate::new(70, Duration::from_secs(1)).with_burst(5),
        uploads: Rate::new(18, Duration::from_secs(1)).with_burst(1),
    };
    let report = tree_uploader(&emu)
        .upload_tree(TreeUpload::new(local.path(), "0").rate_limits(limits))
        .await
        .expect("run");
    assert_eq!(
        report.failed(),
        0,
        "{:?}",
        report.failures().collect::<Vec<_>>()
    );
    assert_eq!(report.uploaded(), n);
    assert_tree_matches(&emu, "0", local.path()).await;
    let c = emu.counters();
    let ratio = c.injected.rate_limited as f64 / c.requests_total as f64;
    eprintln!(
        "tree under limits: {n} files, {} requests, {} answered 429 ({:.2}%)",
        c.requests_total,
        c.injected.rate_limited,
        ratio * 100.0
    );
    assert!(ratio < 0.02, "429s were {:.2}% of requests", ratio * 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_tree_run_completes_when_run_again_without_duplicates() {
    let emu = start(small_config()).await;
    emu.set_faults(FaultConfig {
        latency_ms: 3,
        ..Default::default()
    });
    let local = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let journal = state.path().join("tree.journal");
    let n = write_tree(local.path(), 400, 2, 3);
    let uploader = tree_uploader(&emu);
    let tree = || {
        TreeUpload::new(local.path(), "0")
            .rate_limits(no_limits())
            .journal(&journal)
    };

    let handle = uploader.start_tree(tree());
    let mut progress = handle.progress();
    while progress.borrow().files_done < 100 {
        progress.changed().await.expect("the run goes on");
    }
    // Paused: the journal is kept for the next run.
    assert!(matches!(handle.pause().await, Ok(None)));
    assert!(journal.exists(), "a pause keeps the journal");
    let done_before = emu.counters().files_created;
    assert!(done_before < n as u64, "killed before the end");

    let report = uploader.upload_tree(tree()).await.expect("second run");
    assert_eq!(
        report.failed(),
        0,
        "{:?}",
        report.failures().collect::<Vec<_>>()
    );
    let journaled = report
        .files
        .iter()
        .filter(|f| {
            matches!(
                f.outcome,
                FileOutcome::Skipped {
                    reason: SkipReason::Journal,
                    ..
                }
            )
        })
        .count();
    assert!(journaled >= 100, "{journaled} files skipped by the journal");
    assert_tree_matches(&emu, "0", local.path()).await;
    assert_eq!(
        emu.tree_folders("0").expect("root"),
        local_dirs(local.path())
    );
    // Each path stored once: no duplicate file, no renamed copy, no second folder.
    let c = emu.counters();
    assert_eq!(c.files_created, n as u64);
    assert_eq!(c.file_versions_created, 0);
    assert_eq!(c.folders_created, local_dirs(local.path()).len() as u64);
    eprintln!(
        "killed run: {done_before} files stored before the kill, {journaled} skipped by the journal"
    );

    // A third run touches nothing: every file is in the journal, nothing is listed.
    emu.reset_counters();
    let third = uploader.upload_tree(tree()).await.expect("third run");
    assert_eq!(third.skipped(), n);
    assert_eq!(emu.counters().requests_total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_file_is_skipped_failed_or_renamed_as_asked_and_dry_run_touches_nothing() {
    let emu = start(small_config()).await;
    let local = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(local.path().join("docs")).expect("mkdir");
    std::fs::write(local.path().join("docs/a.txt"), b"first").expect("write");
    std::fs::write(local.path().join("docs/b.txt"), b"same").expect("write");
    let uploader = tree_uploader(&emu);
    let tree = |on: OnConflict| {
        TreeUpload::new(local.path(), "0")
            .on_conflict(on)
            .rate_limits(no_limits())
    };
    uploader
        .upload_tree(tree(OnConflict::Version))
        .await
        .expect("first run");
    std::fs::write(local.path().join("docs/a.txt"), b"second").expect("write");
    std::fs::write(local.path().join("docs/new.txt"), b"new").expect("write");

    emu.reset_counters();
    let dry = uploader
        .upload_tree(tree(OnConflict::Rename).dry_run(true))
        .await
        .expect("dry run");
    let actions: Vec<String> = dry
        .files
        .iter()
        .map(|f| format!("{} {:?}", f.path, f.outcome))
        .collect();
    assert!(
        actions[0].starts_with("docs/a.txt Planned { action: Rename"),
        "{actions:?}"
    );
    assert!(actions[1].starts_with("docs/b.txt Skipped"), "{actions:?}");
    assert!(
        actions[2].starts_with("docs/new.txt Planned { action: Upload"),
        "{actions:?}"
    );
    let c = emu.counters();
    assert_eq!(
        c.files_created + c.folders_created + c.file_bytes_received,
        0
    );

    let skip = uploader
        .upload_tree(tree(OnConflict::Skip).exclude("new.txt"))
        .await
        .expect("skip run");
    assert!(matches!(
        skip.files[0].outcome,
        FileOutcome::Skipped {
            reason: SkipReason::Exists,
            ..
        }
    ));
    let fail = uploader
        .upload_tree(tree(OnConflict::Fail).exclude("new.txt"))
        .await
        .expect("fail run");
    assert_eq!(fail.failed(), 1);
    assert_eq!(fail.skipped(), 1, "the unchanged file is no conflict");
    let renamed = uploader
        .upload_tree(tree(OnConflict::Rename))
        .await
        .expect("rename run");
    assert!(
        matches!(&renamed.files[0].outcome, FileOutcome::Renamed { name, .. } if name == "a (1).txt"),
        "{:?}",
        renamed.files[0]
    );
    let stored = emu.tree("0").await.expect("root");
    assert_eq!(
        stored.keys().collect::<Vec<_>>(),
        ["docs/a (1).txt", "docs/a.txt", "docs/b.txt", "docs/new.txt"]
    );
    assert_eq!(stored["docs/a (1).txt"].1, sha1_hex(b"second"));
    assert_eq!(stored["docs/a.txt"].1, sha1_hex(b"first"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_with_a_client_limit_above_the_servers_backs_off_and_completes() {
    let emu = start(small_config()).await;
    emu.set_faults(FaultConfig {
        rate_limit_uploads: Some(RateLimit {
            max_requests: 20,
            window_ms: 1000,
        }),
        ..Default::default()
    });
    let local = tempfile::tempdir().expect("tempdir");
    let n = write_tree(local.path(), 80, 0, 4);
    // Three times what the server allows: the 429s must slow the whole run down.
    let limits = RateLimits {
        requests: Rate::new(1000, Duration::from_secs(1)).with_burst(10),
        uploads: Rate::new(60, Duration::from_secs(1)).with_burst(10),
    };
    let report = tree_uploader(&emu)
        .upload_tree(TreeUpload::new(local.path(), "0").rate_limits(limits))
        .await
        .expect("run");
    assert_eq!(
        report.failed(),
        0,
        "{:?}",
        report.failures().collect::<Vec<_>>()
    );
    assert_eq!(report.uploaded(), n);
    assert_tree_matches(&emu, "0", local.path()).await;
    let c = emu.counters();
    assert!(report.throttled > 0 && c.injected.rate_limited_uploads > 0);
    eprintln!(
        "tree over the limit: {n} files, {} requests, {} answered 429, {} seen by the run",
        c.requests_total, c.injected.rate_limited_uploads, report.throttled
    );
}

/// The file paths Box holds under folder `folder_id` (all levels).
async fn stored_paths(emu: &Emulator, folder_id: &str) -> Vec<String> {
    emu.tree(folder_id)
        .await
        .expect("folder")
        .into_keys()
        .collect()
}

/// What became of the file at `path` in `report`.
fn outcome<'a>(report: &'a TreeReport, path: &str) -> &'a FileOutcome {
    match report.files.iter().find(|f| f.path == path) {
        Some(f) => &f.outcome,
        None => panic!("{path} is not in the report: {report:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_run_again_leaves_one_copy_and_a_refused_conflict_names_the_existing_file() {
    let emu = start(small_config()).await;
    let local = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(local.path().join("docs")).expect("mkdir");
    let a = local.path().join("docs/a.txt");
    std::fs::write(&a, b"first").expect("write");
    let uploader = tree_uploader(&emu);
    let tree = |on: OnConflict| {
        TreeUpload::new(local.path(), "0")
            .on_conflict(on)
            .rate_limits(no_limits())
    };
    let first = uploader
        .upload_tree(tree(OnConflict::Version))
        .await
        .expect("first run");
    let FileOutcome::Uploaded { file_id: a_id } = outcome(&first, "docs/a.txt") else {
        panic!("{first:?}");
    };
    std::fs::write(&a, b"second").expect("write");

    // Refused: the error names the file Box holds and what would go ahead.
    let fail = uploader
        .upload_tree(tree(OnConflict::Fail))
        .await
        .expect("fail run");
    assert_eq!(fail.failed(), 1);
    let FileOutcome::Failed(e) = outcome(&fail, "docs/a.txt") else {
        panic!("{fail:?}");
    };
    assert_eq!(e.conflict(), Some((a_id.as_str(), "a.txt")));
    assert!(matches!(e, TreeFileError::Conflict { existing_id, .. } if existing_id == a_id));
    let text = e.to_string();
    for said in [
        a_id.as_str(),
        "\"a.txt\"",
        "OnConflict::Version",
        "OnConflict::Rename",
    ] {
        assert!(text.contains(said), "{said} not in {text:?}");
    }

    // Renamed once; run again, the copy is found and nothing is sent.
    let renamed = uploader
        .upload_tree(tree(OnConflict::Rename))
        .await
        .expect("rename run");
    let FileOutcome::Renamed {
        file_id: copy_id,
        name,
    } = outcome(&renamed, "docs/a.txt")
    else {
        panic!("{renamed:?}");
    };
    assert_eq!(name, "a (1).txt");
    emu.reset_counters();
    let again = uploader
        .upload_tree(tree(OnConflict::Rename))
        .await
        .expect("rename run again");
    assert!(
        matches!(
            outcome(&again, "docs/a.txt"),
            FileOutcome::Skipped { reason: SkipReason::RenamedCopy, file_id: Some(id) } if id == copy_id
        ),
        "{again:?}"
    );
    let c = emu.counters();
    assert_eq!(c.files_created + c.file_bytes_received, 0);
    assert_eq!(
        stored_paths(&emu, "0").await,
        ["docs/a (1).txt", "docs/a.txt"],
        "exactly one renamed copy"
    );

    // Other content: a second copy, once however often it runs; the first content again
    // matches the first copy.
    std::fs::write(&a, b"third").expect("write");
    for _ in 0..2 {
        uploader
            .upload_tree(tree(OnConflict::Rename))
            .await
            .expect("rename run");
    }
    std::fs::write(&a, b"second").expect("write");
    let back = uploader
        .upload_tree(tree(OnConflict::Rename))
        .await
        .expect("rename run");
    assert!(
        matches!(
            outcome(&back, "docs/a.txt"),
            FileOutcome::Skipped { reason: SkipReason::RenamedCopy, file_id: Some(id) } if id == copy_id
        ),
        "{back:?}"
    );
    let stored = emu.tree("0").await.expect("root");
    assert_eq!(
        stored.keys().collect::<Vec<_>>(),
        ["docs/a (1).txt", "docs/a (2).txt", "docs/a.txt"]
    );
    assert_eq!(stored["docs/a (1).txt"].1, sha1_hex(b"second"));
    assert_eq!(stored["docs/a (2).txt"].1, sha1_hex(b"third"));
    assert_eq!(stored["docs/a.txt"].1, sha1_hex(b"first"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_kept_in_the_tree_is_never_uploaded() {
    let emu = start(small_config()).await;
    let local = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(local.path().join("b")).expect("mkdir");
    std::fs::create_dir_all(local.path().join("state")).expect("mkdir");
    std::fs::write(local.path().join("a.txt"), b"a").expect("write");
    std::fs::write(local.path().join("b/c.txt"), b"c").expect("write");
    // A file beside it named after it (a temporary file) is the journal's too.
    std::fs::write(local.path().join("state/tree.journal.tmp"), b"tmp").expect("write");
    // Named the long way round: the walk compares canonical paths.
    let journal = local.path().join("b/../state/tree.journal");
    let uploader = tree_uploader(&emu);
    let tree = |on: OnConflict| {
        TreeUpload::new(local.path(), "0")
            .on_conflict(on)
            .rate_limits(no_limits())
            .journal(&journal)
    };
    for (run, on) in [
        (1, OnConflict::Version),
        (2, OnConflict::Version),
        (3, OnConflict::Rename),
    ] {
        let report = uploader.upload_tree(tree(on)).await.expect("run");
        assert_eq!(report.failed(), 0, "run {run}: {report:?}");
        assert!(
            std::fs::metadata(local.path().join("state/tree.journal")).is_ok_and(|m| m.len() > 0),
            "run {run}: the journal is written in the tree"
        );
        for own in ["state/tree.journal", "state/tree.journal.tmp"] {
            // Not there yet when the first run walked the tree.
            if run == 1 && own == "state/tree.journal" {
                continue;
            }
            assert!(
                matches!(
                    outcome(&report, own),
                    FileOutcome::Skipped {
                        reason: SkipReason::JournalFile,
                        file_id: None
                    }
                ),
                "run {run}: {report:?}"
            );
        }
        assert_eq!(
            stored_paths(&emu, "0").await,
            ["a.txt", "b/c.txt"],
            "run {run}: only the tree's own files"
        );
    }
}

/// Makes `levels` nested folders of 200-character names under `root/deep`, each with a file
/// beside it named as the folder plus `.txt`: the lowest paths are over `PATH_MAX`, which no
/// one can read (root included), files and folders alike. Made by a shell, whose `cd` goes one
/// folder at a time.
#[cfg(unix)]
fn too_deep(root: &Path, levels: u32) {
    let script = format!(
        "mkdir deep && cd deep && n=$(printf '%0200d' 0) && \
         for i in $(seq 1 {levels}); do echo $i > \"$n$i.txt\" && mkdir \"$n$i\" && \
         cd -P \"$n$i\" || exit 1; done"
    );
    let status = std::process::Command::new("sh")
        .args(["-c", &script])
        .current_dir(root)
        .status()
        .expect("sh");
    assert!(status.success(), "{script}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_folder_or_file_fails_alone_and_the_others_are_uploaded() {
    use std::os::unix::fs::PermissionsExt as _;
    let emu = start(small_config()).await;
    let local = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(local.path().join("ok")).expect("mkdir");
    std::fs::create_dir_all(local.path().join("locked")).expect("mkdir");
    std::fs::write(local.path().join("a.txt"), b"a").expect("write");
    std::fs::write(local.path().join("ok/b.txt"), b"b").expect("write");
    std::fs::write(local.path().join("ok/secret.txt"), b"s").expect("write");
    std::fs::write(local.path().join("locked/l.txt"), b"l").expect("write");
    // Fails for everyone: a path over PATH_MAX.
    too_deep(local.path(), 24);
    // Fail unless the tests run as root (as in CI), which reads them anyway.
    let mode = |rel: &str, mode: u32| {
        std::fs::set_permissions(
            local.path().join(rel),
            std::fs::Permissions::from_mode(mode),
        )
        .expect("chmod");
    };
    mode("locked", 0o000);
    mode("ok/secret.txt", 0o000);
    let denied = std::fs::read_dir(local.path().join("locked")).is_err();
    if !denied {
        eprintln!(
            "running as root: chmod 000 does not deny reads, so only the path too long is \
             checked as unreadable (locked/, ok/secret.txt upload)"
        );
    }
    let report = tree_uploader(&emu)
        .upload_tree(TreeUpload::new(local.path(), "0").rate_limits(no_limits()))
        .await;
    mode("locked", 0o755);
    mode("ok/secret.txt", 0o644);
    let report = report.expect("the run goes on");

    let failed: Vec<(&str, &Path)> = report
        .failures()
        .map(|f| match &f.outcome {
            FileOutcome::Failed(e) => {
                let path = e.unreadable_path().unwrap_or_else(|| panic!("{f:?}"));
                assert!(path.ends_with(&f.path), "{f:?}");
                assert!(e.to_string().contains(&path.display().to_string()), "{e}");
                (f.path.as_str(), path)
            }
            _ => unreachable!(),
        })
        .collect();
    // Deep down, one folder fails (nothing under it is seen) and a file or two beside it.
    let deep: Vec<&str> = failed
        .iter()
        .map(|(rel, _)| *rel)
        .filter(|rel| rel.starts_with("deep/"))
        .collect();
    let deep_files = deep.iter().filter(|rel| rel.ends_with(".txt")).count();
    assert_eq!(deep.len() - deep_files, 1, "{failed:?}");
    assert!((1..=2).contains(&deep_files), "{failed:?}");
    let stored = stored_paths(&emu, "0").await;
    // The files above them are uploaded.
    let (deep_stored, stored): (Vec<String>, Vec<String>) =
        stored.into_iter().partition(|p| p.starts_with("deep/"));
    assert!(
        deep_stored.len() >= 15,
        "{} deep files stored",
        deep_stored.len()
    );
    assert!(deep_stored.iter().all(|p| !deep.contains(&p.as_str())));
    if denied {
        let others: Vec<&str> = failed
            .iter()
            .map(|(rel, _)| *rel)
            .filter(|rel| !rel.starts_with("deep/"))
            .collect();
        assert_eq!(others, ["locked", "ok/secret.txt"]);
        assert_eq!(stored, ["a.txt", "ok/b.txt"]);
        assert!(!emu.tree_folders("0").expect("root").contains("locked"));
    } else {
        assert_eq!(failed.len(), deep.len(), "{failed:?}");
        assert_eq!(
            stored,
            ["a.txt", "locked/l.txt", "ok/b.txt", "ok/secret.txt"]
        );
    }
    assert_eq!(report.uploaded(), stored.len() + deep_stored.len());
}
