//! New versions: the old version is kept, `if-match` is honoured (412 on a stale etag, nothing
//! stored), for direct and chunked uploads.

use crate::common::*;
use box_uploads::upload::Upload;

/// `GET {api}/files/{id}/versions` (the previous versions, newest first).
async fn versions(emu: &Emulator, id: &str) -> serde_json::Value {
    let url = format!("{}/files/{id}/versions", emu.api_url());
    let response = http()
        .get(&url)
        .bearer_auth(emu.token())
        .send()
        .await
        .expect("versions");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("versions json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_versions_keep_the_old_one_and_honour_if_match() {
    let emu = start(config(MIB)).await;
    let uploader = uploader(&emu, 2 * MIB);
    let v1 = test_data(1000, 1);
    let first = uploader
        .upload(Upload::new_file("0", "doc.bin").from_bytes(v1.clone()))
        .await
        .expect("v1");
    let etag1 = first.etag.clone().expect("etag");
    let v1_version = first
        .file_version
        .as_ref()
        .map(|v| v.id.clone())
        .expect("version id");

    // Direct new version with the right etag.
    let v2 = test_data(1500, 2);
    let second = uploader
        .upload(
            Upload::new_version(&first.id)
                .if_match(&etag1)
                .from_bytes(v2.clone()),
        )
        .await
        .expect("v2");
    assert_eq!(second.id, first.id);
    assert_stored(&emu, &first.id, &v2).await;
    let etag2 = second.etag.clone().expect("etag");
    assert_ne!(etag1, etag2);

    // Chunked new version (5 parts) with a rename and the right etag.
    let v3 = test_data(5 * MIB - 3, 3);
    let third = uploader
        .upload(
            Upload::new_version(&first.id)
                .if_match(&etag2)
                .rename("doc-v3.bin")
                .from_bytes(v3.clone()),
        )
        .await
        .expect("v3");
    assert_eq!(third.name.as_deref(), Some("doc-v3.bin"));
    assert_stored(&emu, &first.id, &v3).await;
    assert_eq!(emu.counters().sessions_committed, 1);

    // The old versions are kept, and the first one still has its bytes.
    let old = versions(&emu, &first.id).await;
    assert_eq!(old["total_count"], 2, "{old}");
    assert_eq!(
        emu.file_content(&first.id, Some(&v1_version))
            .await
            .expect("the first version"),
        v1
    );

    // A stale etag: 412, direct and chunked, and the content does not change.
    let before = emu.counters();
    for size in [100, 3 * MIB] {
        let err = uploader
            .upload(
                Upload::new_version(&first.id)
                    .if_match(&etag1)
                    .from_bytes(test_data(size, 9)),
            )
            .await
            .expect_err("stale etag");
        assert!(err.is_precondition_failed(), "{err}");
        assert_eq!(err.status(), Some(412));
    }
    assert_stored(&emu, &first.id, &v3).await;
    let after = emu.counters();
    assert_eq!(after.file_versions_created, before.file_versions_created);
    assert!(
        emu.open_sessions().is_empty(),
        "the failed session was aborted"
    );
}
