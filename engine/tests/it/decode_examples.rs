//! Real payloads (Box's reference examples and error bodies seen in the wild, in
//! `tests/examples/`) decode into the generated types, and error answers land in the right
//! variant of the per-operation error enums.

use box_uploads::errors::{CommitUploadSessionError, UploadFileError, UploadPartError};
use box_uploads::models::{
    ConflictErrorContextInfoConflicts, FileBaseType, Files, UploadSession, UploadSessionType,
    UploadedPart,
};
use box_uploads::runtime::support::RawResponse;
use box_uploads::OperationError as _;

fn example(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn raw(status: u16, name: &str, retry_after: Option<&str>) -> RawResponse {
    RawResponse {
        status,
        request_id: Some("header-request-id".into()),
        retry_after: retry_after.map(str::to_owned),
        date: None,
        body: example(name).into(),
    }
}

#[test]
fn upload_session_examples_decode() {
    for name in [
        "create_upload_session_201.json",
        "get_upload_session_200.json",
        "create_upload_session_for_file_201.json",
    ] {
        let session: UploadSession =
            serde_json::from_slice(&example(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            session.id.as_deref(),
            Some("F971964745A5CD0C001BBE4E58196BFD"),
            "{name}"
        );
        assert_eq!(
            session.r#type,
            Some(UploadSessionType::UploadSession),
            "{name}"
        );
        assert_eq!(session.part_size, Some(1024), "{name}");
        let expires = session.session_expires_at.expect("typed date-time");
        assert_eq!(expires.to_rfc3339(), "2012-12-12T10:53:43-08:00", "{name}");
        if name != "get_upload_session_200.json" {
            let endpoints = session.session_endpoints.expect("endpoints");
            assert!(endpoints
                .upload_part
                .expect("upload_part")
                .ends_with("/F971964745A5CD0C001BBE4E58196BFD"));
        }
    }
}

#[test]
fn uploaded_part_example_decodes_with_its_wrapper() {
    let part: UploadedPart =
        serde_json::from_slice(&example("upload_part_200.json")).expect("decodes");
    let part = part.part.expect("wrapped part");
    assert_eq!(part.part_id.as_deref(), Some("6F2D3486"));
    assert_eq!(part.offset, Some(16_777_216));
    assert_eq!(part.size, Some(3_222_784));
    assert_eq!(
        part.sha1.as_deref(),
        Some("134b65991ed521fcfe4724b7d814ab8ded5185dc")
    );
}

#[test]
fn upload_file_example_decodes_as_file_full() {
    let files: Files = serde_json::from_slice(&example("upload_file_201.json")).expect("decodes");
    assert_eq!(files.total_count, Some(1));
    let entries = files.entries.as_ref().expect("entries");
    let file = &entries[0];
    assert_eq!(file.id, "12345");
    assert_eq!(file.r#type, FileBaseType::File);
    // Box documents SHA-1s as hex without fixing the case; this example uses upper case.
    assert_eq!(
        file.sha1.as_deref().map(str::to_ascii_lowercase).as_deref(),
        Some("85136c79cbf9fe36bb9d05d0639c70c265c18d37")
    );
    assert!(file.size.is_some());
    assert!(file.content_created_at.is_some());
    // Encoding and decoding again gives the same value.
    let again: Files =
        serde_json::from_str(&serde_json::to_string(&files).expect("encodes")).expect("decodes");
    assert_eq!(again, files);
}

#[test]
fn conflict_with_one_object_is_item_name_in_use() {
    let err = UploadFileError::from_raw(raw(409, "conflict_409_object.json", None));
    assert_eq!(err.status(), 409);
    assert_eq!(err.code(), Some("item_name_in_use"));
    assert_eq!(
        err.request_id(),
        Some("abc123"),
        "the body's request id wins over the header's"
    );
    let UploadFileError::ItemNameInUse(api) = &err else {
        panic!("wrong variant: {err:?}")
    };
    let conflicts = api
        .body
        .as_ref()
        .and_then(|b| b.context_info.as_ref())
        .and_then(|c| c.conflicts.as_ref());
    match conflicts {
        Some(ConflictErrorContextInfoConflicts::FileConflict(file)) => {
            assert_eq!(
                file.sha1.as_deref(),
                Some("134b65991ed521fcfe4724b7d814ab8ded5185dc")
            );
        }
        other => panic!("expected one conflict object, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        "upload_file: HTTP 409 item_name_in_use: Item with the same name already exists (request id abc123)"
    );
}

#[test]
fn conflict_with_an_array_also_decodes() {
    let err = UploadFileError::from_raw(raw(409, "conflict_409_array.json", None));
    let UploadFileError::ItemNameInUse(api) = &err else {
        panic!("wrong variant: {err:?}")
    };
    let conflicts = api
        .body
        .as_ref()
        .and_then(|b| b.context_info.as_ref())
        .and_then(|c| c.conflicts.as_ref());
    match conflicts {
        Some(ConflictErrorContextInfoConflicts::FileConflictList(list)) => {
            assert_eq!(list[0].id, "12345")
        }
        other => panic!("expected a conflict array, got {other:?}"),
    }
}

#[test]
fn an_unknown_code_is_kept_in_the_status_variant() {
    let err = UploadFileError::from_raw(raw(400, "unknown_code_400.json", None));
    assert!(matches!(err, UploadFileError::BadRequest(_)), "{err:?}");
    assert_eq!(err.code(), Some("some_future_code"));
    assert_eq!(err.message(), Some("A code this client has never heard of"));
    assert!(err.raw_body().contains("context_info"));
}

#[test]
fn an_undocumented_status_falls_back_to_other_with_everything_kept() {
    let err = UploadFileError::from_raw(RawResponse {
        status: 418,
        request_id: Some("rid-418".into()),
        retry_after: None,
        date: None,
        body: bytes_of("<html>teapot</html>"),
    });
    let UploadFileError::Other(api) = &err else {
        panic!("wrong variant: {err:?}")
    };
    assert_eq!(api.status, 418);
    assert_eq!(api.code, None);
    assert_eq!(api.request_id.as_deref(), Some("rid-418"));
    assert_eq!(api.raw, "<html>teapot</html>");
}

fn bytes_of(text: &str) -> box_uploads::runtime::Bytes {
    box_uploads::runtime::Bytes::copy_from_slice(text.as_bytes())
}

#[test]
fn rate_limit_is_retryable_with_its_retry_after() {
    let err = CommitUploadSessionError::from_raw(raw(429, "rate_limited_429.json", Some("7")));
    assert!(
        matches!(err, CommitUploadSessionError::RateLimitExceeded(_)),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some("7"));
    let wrapped: box_uploads::Error<CommitUploadSessionError> = box_uploads::Error::Api(err);
    assert_eq!(
        wrapped.retry_after(),
        Some(std::time::Duration::from_secs(7))
    );
    assert!(wrapped.is_retryable());
}

#[test]
fn digest_mismatch_on_commit_has_its_own_variant() {
    let err = CommitUploadSessionError::from_raw(raw(400, "digest_mismatch_400.json", None));
    assert!(
        matches!(err, CommitUploadSessionError::DigestMismatch(_)),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[test]
fn range_overlap_is_one_variant_at_409_and_416() {
    let body = r#"{"type":"error","status":416,"code":"range_overlaps_existing_part","context_info":{"conflicting_part":{"part_id":"AB","offset":0,"size":8,"sha1":"00"}}}"#;
    for status in [409, 416] {
        let err = UploadPartError::from_raw(RawResponse {
            status,
            request_id: None,
            retry_after: None,
            date: None,
            body: bytes_of(body),
        });
        let UploadPartError::RangeOverlapsExistingPart(api) = &err else {
            panic!("{status}: {err:?}")
        };
        let part = api
            .body
            .as_ref()
            .and_then(|b| b.context_info.as_ref())
            .and_then(|c| c.conflicting_part.as_ref());
        assert_eq!(part.and_then(|p| p.part_id.as_deref()), Some("AB"));
    }
}
