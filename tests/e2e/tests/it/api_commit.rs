//! `commit_upload_session` through the generated client against box-emulator: 201 with the
//! file, 202 + `retry-after` (the emulator's commit-202 fault), a repeated commit, commit
//! attributes, the transient parts_mismatch right after the last part, and if-match.

use crate::common::*;
use box_uploads::runtime::chrono::DateTime;

/// `GET {api}/files/{id}` as JSON.
async fn get_file_json(emu: &Emulator, file_id: &str) -> serde_json::Value {
    let resp = http()
        .get(format!("{}/files/{file_id}", emu.api_url()))
        .bearer_auth(emu.token())
        .send()
        .await
        .expect("get file");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("file json")
}

/// A commit assembles the parts into a file with the whole-file SHA-1; the session is closed
/// afterwards and its parts are deleted.
#[tokio::test]
async fn commit_builds_the_file_from_the_parts() {
    let emu = start(Config {
        folders: vec!["42".into()],
        ..small_config()
    })
    .await;
    let c = client(&emu);
    let content = test_data(3 * 64 * KIB + 10, 30);
    let s = create_session(&c, "42", "assembled.bin", content.len() as u64).await;
    let ep = Endpoints::of(&s);
    let parts = put_all_parts(&c, &ep, &content).await;
    let f = commit(&c, &ep, &sha1(&content), parts).await;
    assert_eq!(f.name.as_deref(), Some("assembled.bin"));
    assert_eq!(f.size, Some(content.len() as i64));
    assert_eq!(f.sha1.as_deref(), Some(sha1_hex(&content).as_str()));
    assert_eq!(f.parent.as_ref().map(|p| p.id.as_str()), Some("42"));
    assert_eq!(f.version_number.as_deref(), Some("1"));
    assert_stored(&emu, &f.id, &content).await;
    assert_eq!(get_file_json(&emu, &f.id).await["sha1"], sha1_hex(&content));

    assert!(emu.open_sessions().is_empty());
    let parts_dir = emu.data_dir().join("sessions").join(&ep.id).join("parts");
    assert!(!parts_dir.exists(), "parts left on disk");
    expect_api!(
        c.get_upload_session(GetUploadSessionRequest::new(&ep.id).with_endpoint(&ep.status))
            .await,
        GetUploadSessionError::NotFound,
        404,
        "not_found"
    );
    let counters = emu.counters();
    assert_eq!(counters.sessions_committed, 1);
    assert_eq!(counters.committed_bytes, content.len() as u64);
    assert_eq!(counters.files_created, 1);
}

/// With the commit-202 fault the commit answers 202 `Pending` with the `retry-after` string
/// as sent (no body), and the same commit succeeds once the emulator is done "processing".
#[tokio::test]
async fn commit_answers_202_with_retry_after_then_201() {
    let emu = start(small_config()).await;
    emu.set_faults(FaultConfig {
        commit_202: 2,
        commit_retry_after_secs: 3,
        ..Default::default()
    });
    let c = client(&emu);
    let content = test_data(2 * 64 * KIB, 31);
    let s = create_session(&c, "0", "pending.bin", content.len() as u64).await;
    let ep = Endpoints::of(&s);
    let parts = put_all_parts(&c, &ep, &content).await;
    let whole = sha1(&content);

    for _ in 0..2 {
        let r = c
            .commit_upload_session(commit_request(&ep, &whole, parts.clone()))
            .await
            .expect("commit");
        assert_eq!(
            r,
            CommitUploadSessionResponse::Pending {
                retry_after: Some("3".into())
            }
        );
        // Meanwhile the session reports every part processed, and nothing is created.
        let st = c
            .get_upload_session(GetUploadSessionRequest::new(&ep.id).with_endpoint(&ep.status))
            .await
            .expect("status");
        assert_eq!(st.num_parts_processed, st.total_parts);
        assert_eq!(emu.counters().files_created, 0);
    }
    let f = commit(&c, &ep, &whole, parts).await;
    assert_stored(&emu, &f.id, &content).await;
    let counters = emu.counters();
    assert_eq!(counters.injected.commit_202, 2);
    assert_eq!(counters.responses_for(202), 2);
    assert_eq!(counters.requests_for(Operation::CommitUploadSession), 3);
}

/// A commit repeated after success (as after a lost answer) is not replayed: the session is
/// done, so the emulator answers 404 (Box's answer is undocumented; the stricter one), and the
/// client must find its file by name and SHA-1 instead. Still exactly one file.
#[tokio::test]
async fn a_repeated_commit_is_404_not_a_second_file() {
    let emu = start(small_config()).await;
    let c = client(&emu);
    let content = test_data(64 * KIB + 3, 32);
    let s = create_session(&c, "0", "twice.bin", content.len() as u64).await;
    let ep = Endpoints::of(&s);
    let parts = put_all_parts(&c, &ep, &content).await;
    let whole = sha1(&content);
    let first = commit(&c, &ep, &whole, parts.clone()).await;
    let err = c
        .commit_upload_session(commit_request(&ep, &whole, parts))
        .await
        .expect_err("a committed session does not commit again");
    match err {
        Error::Api(api) => {
            assert_eq!(api.status(), 404, "{api}");
            assert_eq!(api.code(), Some("not_found"), "{api}");
        }
        other => panic!("expected Box's 404, got {other:?}"),
    }
    assert_stored(&emu, &first.id, &content).await;
    let counters = emu.counters();
    assert_eq!(counters.files_created, 1);
    assert_eq!(counters.sessions_committed, 1);
}

/// Commit `attributes` rename the file and set its timestamps.
#[tokio::test]
async fn commit_attributes_name_and_timestamps() {
    let emu = start(small_config()).await;
    let c = client(&emu);
    let content = test_data(1000, 33);
    let s = create_session(&c, "0", "draft.bin", content.len() as u64).await;
    let ep = Endpoints::of(&s);
    let parts = put_all_parts(&c, &ep, &content).await;
    let created = DateTime::parse_from_rfc3339("2011-11-11T11:11:11-05:00").unwrap();
    let modified = DateTime::parse_from_rfc3339("2012-12-12T10:53:43-08:00").unwrap();
    let mut req = commit_request(&ep, &sha1(&content), parts);
    req.body.attributes = Some(CommitUploadSessionBodyAttributes {
        name: Some("final.bin".into()),
        parent: None,
        content_created_at: Some(created),
        content_modified_at: Some(modified),
    });
    let f = match c.commit_upload_session(req).await.expect("commit") {
        CommitUploadSessionResponse::Committed(files) => only_entry(files),
        other => panic!("{other:?}"),
    };
    assert_eq!(f.name.as_deref(), Some("final.bin"));
    assert_eq!(f.content_created_at, Some(created));
    assert_eq!(f.content_modified_at, Some(modified));
    assert_stored(&emu, &f.id, &content).await;
}

/// The emulator's commit-parts-mismatch-once fault: the first commit after the last part is
/// answered `400 parts_mismatch`, as Box sometimes does right after the last part; the same
/// commit then succeeds.
#[tokio::test]
async fn transient_parts_mismatch_then_commit() {
    let emu = start(small_config()).await;
    emu.set_faults(FaultConfig {
        commit_parts_mismatch_once: true,
        ..Default::default()
    });
    let c = client(&emu);
    let content = test_data(2 * 64 * KIB + 1, 34);
    let s = create_session(&c, "0", "flaky.bin", content.len() as u64).await;
    let ep = Endpoints::of(&s);
    let parts = put_all_parts(&c, &ep, &content).await;
    let whole = sha1(&content);
    expect_api!(
        c.commit_upload_session(commit_request(&ep, &whole, parts.clone()))
            .await,
        CommitUploadSessionError::PartsMismatch,
        400,
        "parts_mismatch"
    );
    let f = commit(&c, &ep, &whole, parts).await;
    assert_stored(&emu, &f.id, &content).await;
    assert_eq!(emu.counters().injected.commit_parts_mismatch, 1);
}

/// A version session commits with the file's current etag in `if-match`, and with an
/// `if-none-match` that differs from it.
#[tokio::test]
async fn commit_of_a_version_with_if_match() {
    let emu = start(small_config()).await;
    let c = client(&emu);
    let f1 = upload_file(&c, "0", "etag.bin", b"one").await;
    let etag = f1.etag.clone().unwrap();
    let content = test_data(70_000, 35);
    let s = c
        .create_upload_session_for_file(new_version_session(&f1.id, content.len() as i64, None))
        .await
        .expect("session for file");
    let ep = Endpoints::of(&s);
    let parts = put_all_parts(&c, &ep, &content).await;
    let req = commit_request(&ep, &sha1(&content), parts)
        .with_if_match(&etag)
        .with_if_none_match("not-the-etag");
    let f2 = match c.commit_upload_session(req).await.expect("commit") {
        CommitUploadSessionResponse::Committed(files) => only_entry(files),
        other => panic!("{other:?}"),
    };
    assert_eq!(f2.id, f1.id);
    assert_ne!(f2.etag, f1.etag);
    assert_stored(&emu, &f1.id, &content).await;
}

/// spec/box-uploads.yaml documents `attributes.parent` on commit ("The folder to put the
/// file in", as in upload_file). The emulator does not read it: the file is created in the
/// session's folder whatever the commit says.
#[tokio::test]
async fn commit_attributes_parent_moves_the_file() {
    let emu = start(Config {
        folders: vec!["123".into()],
        ..small_config()
    })
    .await;
    let c = client(&emu);
    let content = test_data(1000, 36);
    let s = create_session(&c, "0", "moved.bin", content.len() as u64).await;
    let ep = Endpoints::of(&s);
    let parts = put_all_parts(&c, &ep, &content).await;
    let mut req = commit_request(&ep, &sha1(&content), parts);
    req.body.attributes = Some(CommitUploadSessionBodyAttributes {
        parent: Some(CommitUploadSessionBodyAttributesParent { id: "123".into() }),
        ..Default::default()
    });
    let f = match c.commit_upload_session(req).await.expect("commit") {
        CommitUploadSessionResponse::Committed(files) => only_entry(files),
        other => panic!("{other:?}"),
    };
    assert_eq!(f.parent.as_ref().map(|p| p.id.as_str()), Some("123"));
}
