//! Upload sessions through the generated client against box-emulator:
//! `create_upload_session`, `create_upload_session_for_file`, `get_upload_session` and
//! `abort_upload_session`, at the absolute `session_endpoints` URLs and at built URLs.

use crate::common::*;
use box_uploads::runtime::chrono::{Duration, Utc};

/// With Box's defaults (20 MB chunked minimum, server-chosen part size) a session has Box's
/// shape: 8 MiB parts, ceil(size / part) parts, nothing processed, a 7-day expiry and
/// absolute endpoint URLs back to the emulator's upload host. Large files get 32 MiB parts.
#[tokio::test]
async fn create_upload_session_has_box_shape() {
    let emu = start(Config::default()).await;
    let c = client(&emu);
    let size = 25 * MIB + 1;
    let s = create_session(&c, "0", "Project.mov", size).await;
    assert_eq!(s.r#type, Some(UploadSessionType::UploadSession));
    assert_eq!(s.part_size, Some(8 * MIB as i64));
    assert_eq!(s.total_parts, Some(4));
    assert_eq!(s.num_parts_processed, Some(0));
    let expires = s.session_expires_at.expect("session_expires_at");
    let lifetime = expires.with_timezone(&Utc) - Utc::now();
    assert!(
        lifetime > Duration::days(7) - Duration::minutes(5) && lifetime <= Duration::days(7),
        "{lifetime}"
    );
    let id = s.id.clone().unwrap();
    let e = s.session_endpoints.clone().unwrap();
    let base = format!("{}/files/upload_sessions/{id}", emu.upload_url());
    assert_eq!(e.upload_part.as_deref(), Some(base.as_str()));
    assert_eq!(e.status.as_deref(), Some(base.as_str()));
    assert_eq!(e.abort.as_deref(), Some(base.as_str()));
    assert_eq!(e.commit, Some(format!("{base}/commit")));
    assert_eq!(e.list_parts, Some(format!("{base}/parts")));
    assert_eq!(e.log_event, Some(format!("{base}/log")));
    assert_eq!(emu.open_sessions(), vec![id]);

    let big = create_session(&c, "0", "big.mov", 600 * MIB).await;
    assert_eq!(big.part_size, Some(32 * MIB as i64));
    assert_eq!(big.total_parts, Some(19));
    assert_eq!(emu.counters().sessions_created, 2);
}

/// `num_parts_processed` follows the parts received; the status endpoint and the URL built
/// from the upload base give the same session.
#[tokio::test]
async fn get_upload_session_reports_progress() {
    let emu = start(small_config()).await;
    let c = client(&emu);
    let content = test_data(3 * 64 * KIB, 7);
    let s = create_session(&c, "0", "progress.bin", content.len() as u64).await;
    let ep = Endpoints::of(&s);
    assert_eq!(ep.total_parts, 3);

    let status = |endpoint: Option<String>| {
        let mut req = GetUploadSessionRequest::new(&ep.id);
        if let Some(e) = endpoint {
            req = req.with_endpoint(e);
        }
        c.get_upload_session(req)
    };
    let got = status(Some(ep.status.clone())).await.expect("status");
    assert_eq!(got.num_parts_processed, Some(0));
    put_part(&c, &ep, &content, 2).await;
    put_part(&c, &ep, &content, 0).await;
    let by_endpoint = status(Some(ep.status.clone())).await.expect("status");
    let by_built_url = status(None).await.expect("status at the built URL");
    assert_eq!(by_endpoint.num_parts_processed, Some(2));
    assert_eq!(by_endpoint.total_parts, Some(3));
    assert_eq!(by_endpoint, by_built_url);
    assert_eq!(by_endpoint.id, s.id);
    assert_eq!(by_endpoint.session_endpoints, s.session_endpoints);
    assert_eq!(emu.counters().requests_for(Operation::GetUploadSession), 3);
}

/// Abort answers 204 and throws the session away: its parts are gone and every later use of
/// the session is 404.
#[tokio::test]
async fn abort_upload_session_discards_the_session() {
    let emu = start(small_config()).await;
    let c = client(&emu);
    let content = test_data(2 * 64 * KIB, 8);
    let s = create_session(&c, "0", "aborted.bin", content.len() as u64).await;
    let ep = Endpoints::of(&s);
    let part = put_part(&c, &ep, &content, 0).await;
    let session_dir = emu.data_dir().join("sessions").join(&ep.id);
    assert!(session_dir.exists(), "{}", session_dir.display());

    c.abort_upload_session(AbortUploadSessionRequest::new(&ep.id).with_endpoint(&ep.abort))
        .await
        .expect("abort");
    assert!(emu.open_sessions().is_empty());
    assert!(!session_dir.exists(), "parts left on disk");
    assert_eq!(emu.counters().sessions_aborted, 1);

    expect_api!(
        c.get_upload_session(GetUploadSessionRequest::new(&ep.id).with_endpoint(&ep.status))
            .await,
        GetUploadSessionError::NotFound,
        404,
        "not_found"
    );
    expect_api!(
        c.list_upload_parts(ListUploadPartsRequest::new(&ep.id).with_endpoint(&ep.list_parts))
            .await,
        ListUploadPartsError::NotFound,
        404,
        "not_found"
    );
    expect_api!(
        c.commit_upload_session(commit_request(&ep, &sha1(&content), vec![part]))
            .await,
        CommitUploadSessionError::NotFound,
        404,
        "not_found"
    );
    // Nothing was created.
    assert_eq!(emu.counters().files_created, 0);
}

/// A session for an existing file commits a new version of that file (same id, renamed when
/// `file_name` is given); the old version stays readable.
#[tokio::test]
async fn create_upload_session_for_file_commits_a_new_version() {
    let emu = start(small_config()).await;
    let c = client(&emu);
    let v1 = test_data(1000, 9);
    let f1 = upload_file(&c, "0", "movie.mov", &v1).await;
    let v1_id = f1.file_version.clone().unwrap().id;

    let v2 = test_data(4 * 64 * KIB + 99, 10);
    let s = c
        .create_upload_session_for_file(new_version_session(
            &f1.id,
            v2.len() as i64,
            Some("movie-final.mov"),
        ))
        .await
        .expect("create_upload_session_for_file");
    let ep = Endpoints::of(&s);
    assert_eq!(ep.total_parts, 5);
    let parts = put_all_parts(&c, &ep, &v2).await;
    let f2 = commit(&c, &ep, &sha1(&v2), parts).await;
    assert_eq!(f2.id, f1.id);
    assert_eq!(f2.name.as_deref(), Some("movie-final.mov"));
    assert_eq!(f2.version_number.as_deref(), Some("2"));
    assert_eq!(f2.sha1.as_deref(), Some(sha1_hex(&v2).as_str()));
    assert_eq!(f2.size, Some(v2.len() as i64));

    assert_stored(&emu, &f1.id, &v2).await;
    assert_eq!(
        emu.file_content(&f1.id, Some(&v1_id))
            .await
            .expect("stored version"),
        v1
    );
    let counters = emu.counters();
    assert_eq!(
        counters.requests_for(Operation::CreateUploadSessionForFile),
        1
    );
    assert_eq!(counters.file_versions_created, 1);
    assert_eq!(counters.files_created, 1);

    // Without a file_name the name is kept.
    let v3 = test_data(100, 11);
    let s = c
        .create_upload_session_for_file(new_version_session(&f1.id, v3.len() as i64, None))
        .await
        .expect("create_upload_session_for_file");
    let ep = Endpoints::of(&s);
    let parts = put_all_parts(&c, &ep, &v3).await;
    let f3 = commit(&c, &ep, &sha1(&v3), parts).await;
    assert_eq!(f3.name.as_deref(), Some("movie-final.mov"));
    assert_eq!(f3.version_number.as_deref(), Some("3"));
}
