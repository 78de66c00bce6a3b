//! Part reuse against the fake: the plan asked in as few requests as the server takes (halved
//! on a refusal), only the misses sent (with their SHA-512), every part committed (hits by id),
//! a resumed upload not asking again, a lost answer asked again, an unchanged version ending in
//! the current file, and parts a resumed session holds checked against the local data (their
//! SHA-1s, which reuse computes only for parts sent or checked).

use super::*;

const PART: usize = 1024;

/// A file `F9` of ten 1 KiB parts, and its new content with parts 3 and 7 changed.
fn version_fake() -> (Fake, Vec<u8>, Vec<u8>) {
    let fake = Fake::new(PART as u64);
    let old = data(10 * PART);
    let mut new = old.clone();
    for part in [3, 7] {
        new[part * PART + 5] ^= 0xff;
    }
    fake.with(|s| {
        s.files
            .insert("F9".into(), ("v.bin".into(), Bytes::from(old.clone())))
    });
    (fake, old, new)
}

fn ids(fake: &Fake) -> Vec<String> {
    fake.with(|s| {
        s.counters
            .last_commit
            .iter()
            .map(|p| p.part_id.clone())
            .collect()
    })
}

#[tokio::test]
async fn a_new_version_sends_only_the_changed_parts_in_one_plan_and_commits_the_rest_by_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    for source in ["bytes", "path", "reader"] {
        let (fake, _, new) = version_fake();
        let path = dir.path().join("new.bin");
        std::fs::write(&path, &new).expect("write");
        let upload = Upload::new_version("F9");
        let upload = match source {
            "bytes" => upload.from_bytes(new.clone()),
            "path" => upload.from_path(&path),
            _ => upload.from_reader(std::io::Cursor::new(new.clone()), new.len() as u64),
        };
        let handle = engine(&fake).start(upload);
        let mut events = handle.events();
        let progress = handle.progress();
        let file = handle.join().await.expect("uploads");
        assert_eq!(fake.file("F9").as_deref(), Some(&new[..]), "{source}");
        assert_eq!(file.sha1, Sha1Digest::of(&new).hex());

        let (batches, puts, sha512_puts) = fake.with(|s| {
            (
                s.counters.plan_batches.clone(),
                s.counters.part_puts,
                s.counters.sha512_puts,
            )
        });
        assert_eq!(
            batches.iter().sum::<usize>(),
            10,
            "{source}: each part asked once"
        );
        if source == "reader" {
            // A reader's parts are asked about while its 4 buffers hold them.
            assert!(batches.iter().all(|n| *n <= 4), "{source}: {batches:?}");
        } else {
            assert_eq!(batches, [10], "{source}: one plan for the whole file");
        }
        assert_eq!(
            (puts, sha512_puts),
            (2, 2),
            "{source}: only the misses, by SHA-512"
        );

        let commit = fake.with(|s| s.counters.last_commit.clone());
        let expected: Vec<String> = (0..10)
            .map(|i| match i {
                3 | 7 => format!("P{i}"),
                _ => format!("H{}", i * PART),
            })
            .collect();
        assert_eq!(ids(&fake), expected, "{source}");
        assert!(commit.iter().all(|p| p.sha512.is_some()), "{source}");

        let p = progress.borrow().clone();
        assert_eq!(p.bytes_reused, 8 * PART as u64, "{source}");
        assert_eq!(
            p.bytes_sent,
            2 * PART as u64,
            "{source}: reused bytes are not sent"
        );
        assert_eq!(
            (p.bytes_done, p.parts_done),
            (new.len() as u64, 10),
            "{source}"
        );
        let mut reused = 0;
        while let Ok(event) = events.try_recv() {
            if matches!(event, ProgressEvent::PartReused { .. }) {
                reused += 1;
            }
        }
        assert_eq!(reused, 8, "{source}");
    }
}

#[tokio::test]
async fn a_refused_batch_is_halved_and_no_later_batch_is_larger() {
    let (fake, _, new) = version_fake();
    fake.with(|s| s.faults.plan_max_parts = Some(3));
    engine(&fake)
        .start(Upload::new_version("F9").from_bytes(new.clone()))
        .join()
        .await
        .expect("uploads");
    assert_eq!(fake.file("F9").as_deref(), Some(&new[..]));
    let (batches, calls, puts) = fake.with(|s| {
        (
            s.counters.plan_batches.clone(),
            s.counters.plan_calls,
            s.counters.part_puts,
        )
    });
    // 10 refused, 5 refused, then batches of 3.
    assert_eq!(batches, [3, 3, 3, 1]);
    assert_eq!(calls, 6);
    assert_eq!(puts, 2);
}

#[tokio::test]
async fn a_lost_plan_answer_is_asked_again() {
    let (fake, _, new) = version_fake();
    fake.with(|s| s.faults.plan_lost = 1);
    let handle = engine(&fake).start(Upload::new_version("F9").from_bytes(new.clone()));
    let progress = handle.progress();
    handle.join().await.expect("uploads");
    assert_eq!(fake.file("F9").as_deref(), Some(&new[..]));
    assert_eq!(fake.with(|s| s.counters.plan_batches.clone()), [10, 10]);
    assert_eq!(fake.with(|s| s.counters.part_puts), 2);
    assert!(progress.borrow().retries >= 1);
}

#[tokio::test]
async fn without_the_plan_every_part_is_sent_as_before() {
    // Turned off.
    let (fake, _, new) = version_fake();
    engine(&fake)
        .start(
            Upload::new_version("F9")
                .reuse_parts(false)
                .from_bytes(new.clone()),
        )
        .join()
        .await
        .expect("uploads");
    assert_eq!(fake.file("F9").as_deref(), Some(&new[..]));
    let commit = fake.with(|s| s.counters.last_commit.clone());
    assert_eq!(
        fake.with(|s| (
            s.counters.plan_calls,
            s.counters.part_puts,
            s.counters.sha512_puts
        )),
        (0, 10, 0)
    );
    assert!(commit
        .iter()
        .all(|p| p.sha512.is_none() && p.sha1.is_some()));

    // Refused by the server even for one part: the upload goes on without it.
    let (fake, _, new) = version_fake();
    fake.with(|s| s.faults.plan_refused = true);
    engine(&fake)
        .start(Upload::new_version("F9").from_bytes(new.clone()))
        .join()
        .await
        .expect("uploads");
    assert_eq!(fake.file("F9").as_deref(), Some(&new[..]));
    let (calls, puts, sha512_puts) = fake.with(|s| {
        (
            s.counters.plan_calls,
            s.counters.part_puts,
            s.counters.sha512_puts,
        )
    });
    assert_eq!(
        (calls, puts, sha512_puts),
        (5, 10, 0),
        "10, 5, 3, 2, 1 refused"
    );
    let commit = fake.with(|s| s.counters.last_commit.clone());
    assert!(commit.iter().all(|p| p.sha512.is_none()));

    // A new file has nothing to reuse: no plan.
    let fake = Fake::new(PART as u64);
    engine(&fake)
        .start(Upload::new_file("0", "n").from_bytes(new.clone()))
        .join()
        .await
        .expect("uploads");
    assert_eq!(
        fake.with(|s| (s.counters.plan_calls, s.counters.part_puts)),
        (0, 10)
    );
}

#[tokio::test]
async fn a_resumed_upload_does_not_ask_again_what_its_state_file_knows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("new.bin");
    let state = dir.path().join("state.json");
    let (fake, _, new) = version_fake();
    std::fs::write(&path, &new).expect("write");
    let upload = || {
        Upload::new_version("F9")
            .from_path(&path)
            .state_file(&state)
    };
    // The first run plans, sends the misses, then stops at the commit.
    fake.with(|s| s.faults.commit_412 = true);
    engine(&fake)
        .start(upload())
        .join()
        .await
        .expect_err("the commit is refused");
    let recorded = super::super::resume::load(&state)
        .expect("loads")
        .expect("kept for resume");
    assert_eq!(recorded.plan.len(), 10, "every answer recorded");
    assert_eq!(
        recorded.plan.iter().filter(|a| a.part_id.is_some()).count(),
        8
    );
    let before = fake.with(|s| (s.counters.plan_calls, s.counters.part_puts));
    assert_eq!(before, (1, 2));

    fake.with(|s| s.faults.commit_412 = false);
    let handle = engine(&fake).start(upload());
    let progress = handle.progress();
    handle.join().await.expect("resumes");
    assert_eq!(fake.file("F9").as_deref(), Some(&new[..]));
    assert_eq!(
        fake.with(|s| (s.counters.plan_calls, s.counters.part_puts)),
        before,
        "no plan and no part sent again"
    );
    assert_eq!(ids(&fake)[0], "H0", "the recorded hits are committed by id");
    let commit = fake.with(|s| s.counters.last_commit.clone());
    assert!(commit.iter().all(|p| p.sha512.is_some()));
    assert_eq!(progress.borrow().bytes_reused, 8 * PART as u64);
    assert!(!state.exists());
}

#[tokio::test]
async fn an_unchanged_version_ends_in_the_current_file_not_in_a_commit_timeout() {
    let (fake, old, _) = version_fake();
    // Box's 10.18 SDKs: a commit of nothing but reused parts answers 202 and makes no version.
    fake.with(|s| s.faults.unchanged_202 = true);
    let file = engine(&fake)
        .start(
            Upload::new_version("F9")
                .from_bytes(old.clone())
                .commit_deadline(Duration::from_secs(5)),
        )
        .join()
        .await
        .expect("unchanged is done");
    assert_eq!((file.id.as_str(), file.size), ("F9", old.len() as u64));
    assert_eq!(file.sha1, Sha1Digest::of(&old).hex());
    assert_eq!(
        fake.with(|s| (
            s.counters.versions,
            s.counters.part_puts,
            s.counters.commits
        )),
        (0, 0, 1),
        "no version made, nothing sent, one commit"
    );

    // Box's reference: the same 202 is "not ready yet"; here the file does not hold the
    // content yet, so the 202 is waited out and the next commit makes the version.
    let (fake, old, new) = version_fake();
    fake.with(|s| s.faults.commit_202 = 2);
    let file = engine(&fake)
        .start(Upload::new_version("F9").from_bytes(new.clone()))
        .join()
        .await
        .expect("uploads");
    assert_eq!(file.sha1, Sha1Digest::of(&new).hex());
    assert_ne!(old, new);
    assert_eq!(
        fake.with(|s| (s.counters.versions, s.counters.commits)),
        (1, 3)
    );
}

/// A state file for a new version of `F9` from `path`, whose session holds `stored` (offset and
/// bytes of each part), as an interrupted upload leaves it.
async fn interrupted(
    fake: &Fake,
    path: &std::path::Path,
    state: &std::path::Path,
    stored: &[(u64, &[u8])],
) {
    let target = Target::NewVersion {
        file_id: "F9".into(),
        name: None,
    };
    let size = 10 * PART as u64;
    let session = fake.create_session(&target, size).await.expect("session");
    for (offset, bytes) in stored {
        let body = CountedBody::new(Bytes::copy_from_slice(bytes), None, Arc::default());
        let range = format!("bytes {offset}-{}/{size}", offset + bytes.len() as u64 - 1);
        fake.upload_part(
            &session.endpoints.upload_part,
            body,
            range,
            Sha1Digest::of(bytes).header(),
        )
        .await
        .expect("part");
    }
    let meta = std::fs::metadata(path).expect("meta");
    let st = super::super::resume::UploadState {
        version: super::super::resume::FORMAT_VERSION,
        target,
        session_id: session.id.clone(),
        endpoints: session.endpoints.clone(),
        part_size: PART as u64,
        file_size: size,
        session_expires_at: None,
        source: Some(super::super::identity::SourceIdentity::from_metadata(
            path, &meta,
        )),
        parts: vec![],
        plan: vec![],
        sha1: None,
    };
    super::super::resume::save(state, &st).expect("state");
}

#[tokio::test]
async fn parts_the_session_holds_are_checked_against_the_local_data_and_not_asked_about() {
    // With reuse on, a part's own SHA-1 is computed only when needed: a stored part needs it.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("new.bin");
    let state = dir.path().join("state.json");
    let (fake, _, new) = version_fake();
    std::fs::write(&path, &new).expect("write");
    let stored: Vec<(u64, &[u8])> = (0..3)
        .map(|i| ((i * PART) as u64, &new[i * PART..(i + 1) * PART]))
        .collect();
    interrupted(&fake, &path, &state, &stored).await;
    let puts = fake.with(|s| s.counters.part_puts);
    engine(&fake)
        .start(
            Upload::new_version("F9")
                .from_path(&path)
                .state_file(&state),
        )
        .join()
        .await
        .expect("resumes");
    assert_eq!(fake.file("F9").as_deref(), Some(&new[..]));
    let (batches, sent) =
        fake.with(|s| (s.counters.plan_batches.clone(), s.counters.part_puts - puts));
    assert_eq!(
        batches.iter().sum::<usize>(),
        7,
        "the stored parts are not asked about"
    );
    assert_eq!(sent, 2, "only the misses");
    let commit = ids(&fake);
    assert_eq!(commit[3], "P3");
    assert_eq!(commit[9], format!("H{}", 9 * PART));
}

#[tokio::test]
async fn a_stored_part_unlike_the_local_data_stops_a_resumed_new_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    for source in ["path", "bytes"] {
        let path = dir.path().join("new.bin");
        let state = dir.path().join("state.json");
        let (fake, old, new) = version_fake();
        std::fs::write(&path, &new).expect("write");
        let other = vec![0x5au8; PART];
        interrupted(
            &fake,
            &path,
            &state,
            &[(0, &new[..PART]), (PART as u64, &other)],
        )
        .await;
        let upload = Upload::new_version("F9").state_file(&state);
        let upload = match source {
            "path" => upload.from_path(&path),
            _ => upload.from_bytes(new.clone()),
        };
        let err = engine(&fake)
            .start(upload)
            .join()
            .await
            .expect_err("refused");
        assert!(
            matches!(err.kind(), UploadErrorKind::SourceChanged { .. }),
            "{source}: {err}"
        );
        assert!(
            err.to_string().contains(&format!("offset {PART}")),
            "{source}: {err}"
        );
        assert_eq!(
            fake.file("F9").as_deref(),
            Some(&old[..]),
            "{source}: not committed"
        );
    }
}
