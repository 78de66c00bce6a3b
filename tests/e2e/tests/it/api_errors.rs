//! Every error code that spec/box-uploads.yaml documents (`x-error-codes`) and box-emulator
//! can produce, provoked through the generated client; each test asserts the HTTP status,
//! the code, the variant of the operation's generated error enum, and something from the body
//! (message, `context_info.conflicts`, `context_info.conflicting_part`, `retry-after`).
//!
//! The typed client cannot send a request without a required field or with the multipart
//! parts in the wrong order (`missing_destination`, `missing_file_size`, `missing_file_name`,
//! `metadata_after_file_contents`, a direct upload without its `file` part). Those requests go
//! out raw (reqwest) and the answer is sorted by the generated enum's `from_raw`, which is what
//! the generated method does with any non-2xx answer.
//!
//! Codes the spec documents that are NOT tested here, and why:
//!
//! | code (status) | operations | why |
//! | --- | --- | --- |
//! | `access_denied_item_locked` (403) | upload_file_version, create_upload_session_for_file | no file locks |
//! | `trashed` (404) | upload_file_version | no trash |
//! | `name_temporarily_reserved` (409) | commit_upload_session | the `name-temporarily-reserved` fault answers direct uploads and session creations (tested below on those four); a commit names no new item: its name was taken when the session was made |
//! | `upload_failed` (410) | upload_part, commit_upload_session | sessions never break beyond repair (an overlap is refused, not stored) |
//! | `not_found` (404) | create_upload_session | an unknown folder is answered `404 invalid_parameter` (Box documents both; the emulator picked that one) — `invalid_parameter` is tested |
//! | `session_expired` (410) | abort_upload_session | aborting an expired session deletes it (204) by design — tested below as a success |
//! | `range_overlaps_existing_part` with status 409 | upload_part | the emulator sends this code with 416 (as Box's Android client observes); the generated enum sorts both into the same variant — the 416 form is tested |
//! | `internal_server_error` (500) | every operation but upload_part, upload_file and upload_file_version | only part uploads (`part-500`, `part-500-after-store`) and direct uploads (`direct-500-after-store`) have 500 faults (tested below); other 500s happen only on the emulator's own disk failures |
//!
//! `unauthorized` (401), `rate_limit_exceeded` (429), `bad_gateway` (502) and `unavailable`
//! (503) are declared on every operation and are tested on all ten (502 and 503 through the
//! emulator's `502` and `503` faults). `length_required` (411) is a part sent with neither
//! `content-length` nor `transfer-encoding`, which only a raw request can send; the typed
//! client always frames its bodies. The emulator has no folder permissions: its
//! `access_denied_insufficient_permissions` (403) is the answer to an `as-user` the caller may
//! not take, and `forbidden` (403) the answer to a user other than the one who opened the
//! session; both are tested below with service authentication.

use crate::common::*;
use reqwest::Method;
use serde_json::json;

async fn setup(config: Config) -> (Emulator, Client) {
    let emu = start(config).await;
    let c = client(&emu);
    (emu, c)
}

/// Small parts, a 50,000-byte storage quota and a 100,000-byte file-size limit: 60,000 bytes
/// exceed only the quota.
fn limited() -> Config {
    Config {
        storage_limit: Some(50_000),
        max_file_size: Some(100_000),
        ..small_config()
    }
}

/// Only the 100,000-byte file-size limit. (A direct upload is checked as it streams in, so
/// with the quota too, its bytes would hit the smaller quota first.)
fn file_limited() -> Config {
    Config {
        max_file_size: Some(100_000),
        ..small_config()
    }
}

const OVER_QUOTA: u64 = 60_000;
const OVER_FILE_LIMIT: u64 = 200_000;

fn preflight(name: &str, size: Option<i64>, folder: &str) -> PreflightUploadRequest {
    PreflightUploadRequest::new(PreflightUploadBody {
        name: Some(name.into()),
        size,
        parent: Some(PreflightUploadBodyParent {
            id: Some(folder.into()),
        }),
    })
}

fn new_file(name: &str, folder: &str, content: Vec<u8>) -> UploadFileRequest {
    UploadFileRequest::new(
        UploadFileAttributes {
            name: name.into(),
            parent: UploadFileAttributesParent { id: folder.into() },
            content_created_at: None,
            content_modified_at: None,
        },
        Body::from_bytes(content),
    )
}

fn new_version(file_id: &str, name: Option<&str>, content: Vec<u8>) -> UploadFileVersionRequest {
    UploadFileVersionRequest::new(
        file_id,
        UploadFileVersionAttributes {
            name: name.map(str::to_string),
            content_modified_at: None,
        },
        Body::from_bytes(content),
    )
}

/// A part request for `bytes` at `first` of a `total`-byte file, at the session's URL.
fn part(ep: &Endpoints, bytes: &[u8], first: u64, total: u64) -> UploadPartRequest {
    UploadPartRequest::new(
        &ep.id,
        digest(bytes),
        content_range(first, bytes.len() as u64, total),
        Body::from_bytes(bytes.to_vec()),
    )
    .with_endpoint(&ep.upload_part)
}

fn names_too_long() -> String {
    "n".repeat(256)
}

/// Names Box refuses with item_name_invalid (the emulator's reading of Box's rules).
const INVALID_NAMES: &[&str] = &["", ".", "..", " lead", "trail ", "a/b", "a\\b", "tab\there"];

/// A session id that is not well formed (the emulator takes letters and digits only).
const MALFORMED_SESSION_ID: &str = "not-a-session";
/// A well-formed id of no session.
const UNKNOWN_SESSION_ID: &str = "0123456789ABCDEF0123456789ABCDEF";

// =======================================================================================
// preflight_upload

#[tokio::test]
async fn preflight_upload_bad_request_for_a_negative_size() {
    let (_emu, c) = setup(small_config()).await;
    let api = expect_api!(
        c.preflight_upload(preflight("ok.txt", Some(-1), "0")).await,
        PreflightUploadError::BadRequest,
        400,
        "bad_request"
    );
    assert!(api.message.unwrap().contains("size"));
}

#[tokio::test]
async fn preflight_upload_item_name_too_long() {
    let (_emu, c) = setup(small_config()).await;
    let api = expect_api!(
        c.preflight_upload(preflight(&names_too_long(), Some(1), "0"))
            .await,
        PreflightUploadError::ItemNameTooLong,
        400,
        "item_name_too_long"
    );
    assert!(api.message.unwrap().contains("255"));
    // 255 characters are fine.
    c.preflight_upload(preflight(&"n".repeat(255), Some(1), "0"))
        .await
        .expect("a 255-character name");
}

#[tokio::test]
async fn preflight_upload_item_name_invalid() {
    let (_emu, c) = setup(small_config()).await;
    for name in INVALID_NAMES {
        expect_api!(
            c.preflight_upload(preflight(name, Some(1), "0")).await,
            PreflightUploadError::ItemNameInvalid,
            400,
            "item_name_invalid"
        );
    }
}

#[tokio::test]
async fn preflight_upload_storage_limit_exceeded() {
    let (_emu, c) = setup(limited()).await;
    let api = expect_api!(
        c.preflight_upload(preflight("big.bin", Some(OVER_QUOTA as i64), "0"))
            .await,
        PreflightUploadError::StorageLimitExceeded,
        403,
        "storage_limit_exceeded"
    );
    assert_eq!(api.body.unwrap().status, Some(403));
}

#[tokio::test]
async fn preflight_upload_file_size_limit_exceeded() {
    let (_emu, c) = setup(file_limited()).await;
    let api = expect_api!(
        c.preflight_upload(preflight("huge.bin", Some(OVER_FILE_LIMIT as i64), "0"))
            .await,
        PreflightUploadError::FileSizeLimitExceeded,
        403,
        "file_size_limit_exceeded"
    );
    assert_eq!(
        api.message.as_deref(),
        Some("File size exceeds the folder owner's file size limit")
    );
}

#[tokio::test]
async fn preflight_upload_not_found_for_an_unknown_folder() {
    let (_emu, c) = setup(small_config()).await;
    let api = expect_api!(
        c.preflight_upload(preflight("a.txt", Some(1), "987654"))
            .await,
        PreflightUploadError::NotFound,
        404,
        "not_found"
    );
    assert!(api.message.unwrap().to_lowercase().contains("folder"));
}

/// The 409 carries the existing file as ONE object in `context_info.conflicts`, with its
/// SHA-1; names clash without regard to case.
#[tokio::test]
async fn preflight_upload_item_name_in_use_names_the_existing_file() {
    let (_emu, c) = setup(small_config()).await;
    let content = test_data(1234, 50);
    let existing = upload_file(&c, "0", "Report.PDF", &content).await;
    let api = expect_api!(
        c.preflight_upload(preflight("report.pdf", Some(10), "0"))
            .await,
        PreflightUploadError::ItemNameInUse,
        409,
        "item_name_in_use"
    );
    assert_eq!(
        api.message.as_deref(),
        Some("Item with the same name already exists")
    );
    let conflict = single_conflict(&api);
    assert_eq!(conflict.id, existing.id);
    assert_eq!(conflict.name.as_deref(), Some("Report.PDF"));
    assert_eq!(conflict.sha1.as_deref(), Some(sha1_hex(&content).as_str()));
    assert_eq!(conflict.etag, existing.etag);
    assert_eq!(conflict.file_version.unwrap().sha1, existing.sha1);
}

// =======================================================================================
// upload_file

#[tokio::test]
async fn upload_file_bad_request_without_a_file_part() {
    let (emu, _c) = setup(small_config()).await;
    let attrs = json!({"name": "a.txt", "parent": {"id": "0"}}).to_string();
    let raw = raw_multipart(
        &emu,
        &format!("{}/files/content", emu.upload_url()),
        &[("attributes", attrs.into_bytes())],
    )
    .await;
    let api = expect_raw!(raw, UploadFileError::BadRequest, 400, "bad_request");
    assert!(api.message.unwrap().contains("'file'"));
    assert_eq!(emu.counters().files_created, 0);
}

#[tokio::test]
async fn upload_file_item_name_too_long() {
    let (emu, c) = setup(small_config()).await;
    expect_api!(
        c.upload_file(new_file(&names_too_long(), "0", b"x".to_vec()))
            .await,
        UploadFileError::ItemNameTooLong,
        400,
        "item_name_too_long"
    );
    assert_eq!(emu.counters().files_created, 0);
}

#[tokio::test]
async fn upload_file_item_name_invalid() {
    let (emu, c) = setup(small_config()).await;
    for name in INVALID_NAMES {
        let api = expect_api!(
            c.upload_file(new_file(name, "0", b"x".to_vec())).await,
            UploadFileError::ItemNameInvalid,
            400,
            "item_name_invalid"
        );
        assert!(api.message.unwrap().starts_with("Item name invalid"));
    }
    assert_eq!(emu.counters().files_created, 0);
}

/// The client always sends `attributes` first; sent after the file, Box refuses it.
#[tokio::test]
async fn upload_file_metadata_after_file_contents() {
    let (emu, _c) = setup(small_config()).await;
    let attrs = json!({"name": "late.txt", "parent": {"id": "0"}}).to_string();
    let raw = raw_multipart(
        &emu,
        &format!("{}/files/content", emu.upload_url()),
        &[
            ("file", b"content".to_vec()),
            ("attributes", attrs.into_bytes()),
        ],
    )
    .await;
    let api = expect_raw!(
        raw,
        UploadFileError::MetadataAfterFileContents,
        400,
        "metadata_after_file_contents"
    );
    assert!(api.message.unwrap().contains("before the file"));
    assert_eq!(emu.counters().files_created, 0);
}

/// `content-md5` (the hex SHA-1) that does not match the content, or is not a SHA-1 at all.
#[tokio::test]
async fn upload_file_bad_digest() {
    let (emu, c) = setup(small_config()).await;
    let content = test_data(5000, 51);
    for sent in [sha1_hex(b"something else"), "not-a-sha1".to_string()] {
        let api = expect_api!(
            c.upload_file(new_file("digest.bin", "0", content.clone()).with_content_md5(sent))
                .await,
            UploadFileError::BadDigest,
            400,
            "bad_digest"
        );
        assert_eq!(
            api.message.as_deref(),
            Some("The specified content-md5 did not match what we received")
        );
    }
    assert_eq!(emu.counters().files_created, 0);
}

#[tokio::test]
async fn upload_file_storage_limit_exceeded() {
    let (emu, c) = setup(limited()).await;
    let api = expect_api!(
        c.upload_file(new_file("quota.bin", "0", test_data(OVER_QUOTA, 52)))
            .await,
        UploadFileError::StorageLimitExceeded,
        403,
        "storage_limit_exceeded"
    );
    assert!(api.message.unwrap().contains("storage"));
    assert_eq!(emu.counters().files_created, 0);
}

#[tokio::test]
async fn upload_file_file_size_limit_exceeded() {
    let (emu, c) = setup(file_limited()).await;
    expect_api!(
        c.upload_file(new_file("huge.bin", "0", test_data(OVER_FILE_LIMIT, 53)))
            .await,
        UploadFileError::FileSizeLimitExceeded,
        403,
        "file_size_limit_exceeded"
    );
    assert_eq!(emu.counters().files_created, 0);
}

#[tokio::test]
async fn upload_file_not_found_for_an_unknown_folder() {
    let (emu, c) = setup(small_config()).await;
    let api = expect_api!(
        c.upload_file(new_file("a.txt", "31337", b"x".to_vec()))
            .await,
        UploadFileError::NotFound,
        404,
        "not_found"
    );
    assert!(api.message.unwrap().to_lowercase().contains("folder"));
    assert_eq!(emu.counters().files_created, 0);
}

/// Uploading the same content again under the same name (any case): the 409's
/// `conflicts.sha1` equals the upload's own SHA-1, which is how a client knows the file is
/// already there.
#[tokio::test]
async fn upload_file_item_name_in_use_with_the_conflict_object() {
    let (emu, c) = setup(small_config()).await;
    let content = test_data(4321, 54);
    let existing = upload_file(&c, "0", "Photo.png", &content).await;
    let api = expect_api!(
        c.upload_file(new_file("PHOTO.PNG", "0", content.clone()))
            .await,
        UploadFileError::ItemNameInUse,
        409,
        "item_name_in_use"
    );
    let conflict = single_conflict(&api);
    assert_eq!(conflict.id, existing.id);
    assert_eq!(conflict.r#type, FileBaseType::File);
    assert_eq!(conflict.sha1.as_deref(), Some(sha1_hex(&content).as_str()));
    // The raw body really has an object there (not an array).
    let v: serde_json::Value = serde_json::from_str(&api.raw).unwrap();
    assert!(v["context_info"]["conflicts"].is_object(), "{v}");
    assert_eq!(emu.counters().files_created, 1);
}

#[tokio::test]
async fn upload_file_request_entity_too_large() {
    let (emu, c) = setup(Config {
        max_direct_upload_size: Some(10_000),
        ..small_config()
    })
    .await;
    let api = expect_api!(
        c.upload_file(new_file("direct.bin", "0", test_data(20_000, 55)))
            .await,
        UploadFileError::RequestEntityTooLarge,
        413,
        "request_entity_too_large"
    );
    assert!(api.message.unwrap().contains("chunked"));
    assert_eq!(emu.counters().files_created, 0);
}

// =======================================================================================
// upload_file_version

#[tokio::test]
async fn upload_file_version_bad_request_without_a_file_part() {
    let (emu, c) = setup(small_config()).await;
    let f = upload_file(&c, "0", "v.txt", b"v1").await;
    let raw = raw_multipart(
        &emu,
        &format!("{}/files/{}/content", emu.upload_url(), f.id),
        &[("attributes", b"{}".to_vec())],
    )
    .await;
    expect_raw!(raw, UploadFileVersionError::BadRequest, 400, "bad_request");
    assert_eq!(emu.counters().file_versions_created, 0);
}

#[tokio::test]
async fn upload_file_version_item_name_too_long() {
    let (_emu, c) = setup(small_config()).await;
    let f = upload_file(&c, "0", "v.txt", b"v1").await;
    expect_api!(
        c.upload_file_version(new_version(&f.id, Some(&names_too_long()), b"v2".to_vec()))
            .await,
        UploadFileVersionError::ItemNameTooLong,
        400,
        "item_name_too_long"
    );
}

#[tokio::test]
async fn upload_file_version_item_name_invalid() {
    let (emu, c) = setup(small_config()).await;
    let f = upload_file(&c, "0", "v.txt", b"v1").await;
    for name in INVALID_NAMES {
        expect_api!(
            c.upload_file_version(new_version(&f.id, Some(name), b"v2".to_vec()))
                .await,
            UploadFileVersionError::ItemNameInvalid,
            400,
            "item_name_invalid"
        );
    }
    assert_stored(&emu, &f.id, b"v1").await;
}

#[tokio::test]
async fn upload_file_version_metadata_after_file_contents() {
    let (emu, c) = setup(small_config()).await;
    let f = upload_file(&c, "0", "v.txt", b"v1").await;
    let raw = raw_multipart(
        &emu,
        &format!("{}/files/{}/content", emu.upload_url(), f.id),
        &[("file", b"v2".to_vec()), ("attributes", b"{}".to_vec())],
    )
    .await;
    expect_raw!(
        raw,
        UploadFileVersionError::MetadataAfterFileContents,
        400,
        "metadata_after_file_contents"
    );
    assert_stored(&emu, &f.id, b"v1").await;
}

#[tokio::test]
async fn upload_file_version_bad_digest() {
    let (emu, c) = setup(small_config()).await;
    let f = upload_file(&c, "0", "v.txt", b"v1").await;
    expect_api!(
        c.upload_file_version(
            new_version(&f.id, None, b"v2".to_vec()).with_content_md5(sha1_hex(b"v3"))
        )
        .await,
        UploadFileVersionError::BadDigest,
        400,
        "bad_digest"
    );
    assert_stored(&emu, &f.id, b"v1").await;
}

#[tokio::test]
async fn upload_file_version_storage_limit_exceeded() {
    let (_emu, c) = setup(limited()).await;
    let f = upload_file(&c, "0", "v.txt", &test_data(1000, 56)).await;
    expect_api!(
        c.upload_file_version(new_version(&f.id, None, test_data(OVER_QUOTA, 57)))
            .await,
        UploadFileVersionError::StorageLimitExceeded,
        403,
        "storage_limit_exceeded"
    );
}

#[tokio::test]
async fn upload_file_version_file_size_limit_exceeded() {
    let (_emu, c) = setup(file_limited()).await;
    let f = upload_file(&c, "0", "v.txt", &test_data(1000, 58)).await;
    expect_api!(
        c.upload_file_version(new_version(&f.id, None, test_data(OVER_FILE_LIMIT, 59)))
            .await,
        UploadFileVersionError::FileSizeLimitExceeded,
        403,
        "file_size_limit_exceeded"
    );
}

#[tokio::test]
async fn upload_file_version_not_found_for_an_unknown_file() {
    let (_emu, c) = setup(small_config()).await;
    let api = expect_api!(
        c.upload_file_version(new_version("424242", None, b"x".to_vec()))
            .await,
        UploadFileVersionError::NotFound,
        404,
        "not_found"
    );
    assert!(api.message.is_some());
}

/// Renaming a file to the name of another file of the folder.
#[tokio::test]
async fn upload_file_version_item_name_in_use() {
    let (_emu, c) = setup(small_config()).await;
    let other = upload_file(&c, "0", "Other.txt", b"other").await;
    let f = upload_file(&c, "0", "mine.txt", b"mine").await;
    let api = expect_api!(
        c.upload_file_version(new_version(&f.id, Some("other.TXT"), b"v2".to_vec()))
            .await,
        UploadFileVersionError::ItemNameInUse,
        409,
        "item_name_in_use"
    );
    let conflict = single_conflict(&api);
    assert_eq!(conflict.id, other.id);
    assert_eq!(conflict.sha1.as_deref(), Some(sha1_hex(b"other").as_str()));
    // Keeping its own name (in another case) is no clash.
    c.upload_file_version(new_version(&f.id, Some("MINE.txt"), b"v2".to_vec()))
        .await
        .expect("rename to itself");
}

/// `if-match` with an etag the file no longer has: 412, and the file is unchanged.
#[tokio::test]
async fn upload_file_version_precondition_failed() {
    let (emu, c) = setup(small_config()).await;
    let f = upload_file(&c, "0", "v.txt", b"v1").await;
    let stale = f.etag.clone().unwrap();
    c.upload_file_version(new_version(&f.id, None, b"v2".to_vec()).with_if_match(&stale))
        .await
        .expect("first version with the current etag");
    let api = expect_api!(
        c.upload_file_version(new_version(&f.id, None, b"v3".to_vec()).with_if_match(&stale))
            .await,
        UploadFileVersionError::PreconditionFailed,
        412,
        "precondition_failed"
    );
    assert!(api.message.unwrap().contains("modified"));
    assert_stored(&emu, &f.id, b"v2").await;
    // if-match on a file that does not exist is 412 too (not 404).
    expect_api!(
        c.upload_file_version(new_version("999999", None, b"x".to_vec()).with_if_match("1"))
            .await,
        UploadFileVersionError::PreconditionFailed,
        412,
        "precondition_failed"
    );
}

#[tokio::test]
async fn upload_file_version_request_entity_too_large() {
    let (_emu, c) = setup(Config {
        max_direct_upload_size: Some(10_000),
        ..small_config()
    })
    .await;
    let f = upload_file(&c, "0", "v.txt", b"v1").await;
    expect_api!(
        c.upload_file_version(new_version(&f.id, None, test_data(20_000, 60)))
            .await,
        UploadFileVersionError::RequestEntityTooLarge,
        413,
        "request_entity_too_large"
    );
}

// =======================================================================================
// create_upload_session

#[tokio::test]
async fn create_upload_session_missing_destination() {
    let (emu, _c) = setup(small_config()).await;
    let raw = raw_json(
        &emu,
        Method::POST,
        &format!("{}/files/upload_sessions", emu.upload_url()),
        json!({"file_size": 1000, "file_name": "a.bin"}),
    )
    .await;
    let api = expect_raw!(
        raw,
        CreateUploadSessionError::MissingDestination,
        400,
        "missing_destination"
    );
    assert!(api.message.unwrap().contains("folder_id"));
}

#[tokio::test]
async fn create_upload_session_invalid_folder_id() {
    let (_emu, c) = setup(small_config()).await;
    expect_api!(
        c.create_upload_session(new_file_session("not-a-folder", "a.bin", 1000))
            .await,
        CreateUploadSessionError::InvalidFolderId,
        400,
        "invalid_folder_id"
    );
}

#[tokio::test]
async fn create_upload_session_item_name_invalid() {
    let (emu, c) = setup(small_config()).await;
    for name in INVALID_NAMES {
        expect_api!(
            c.create_upload_session(new_file_session("0", name, 1000))
                .await,
            CreateUploadSessionError::ItemNameInvalid,
            400,
            "item_name_invalid"
        );
    }
    assert_eq!(emu.counters().sessions_created, 0);
}

#[tokio::test]
async fn create_upload_session_missing_file_size() {
    let (emu, _c) = setup(small_config()).await;
    let raw = raw_json(
        &emu,
        Method::POST,
        &format!("{}/files/upload_sessions", emu.upload_url()),
        json!({"folder_id": "0", "file_name": "a.bin"}),
    )
    .await;
    expect_raw!(
        raw,
        CreateUploadSessionError::MissingFileSize,
        400,
        "missing_file_size"
    );
}

#[tokio::test]
async fn create_upload_session_invalid_file_size() {
    let (_emu, c) = setup(small_config()).await;
    expect_api!(
        c.create_upload_session(new_file_session("0", "a.bin", -5))
            .await,
        CreateUploadSessionError::InvalidFileSize,
        400,
        "invalid_file_size"
    );
}

/// Box's default chunked minimum (20,000,000 bytes): one byte less is refused.
#[tokio::test]
async fn create_upload_session_file_size_too_small() {
    let (_emu, c) = setup(Config::default()).await;
    let api = expect_api!(
        c.create_upload_session(new_file_session("0", "small.bin", 19_999_999))
            .await,
        CreateUploadSessionError::FileSizeTooSmall,
        400,
        "file_size_too_small"
    );
    assert!(api.message.unwrap().contains("20000000"));
    create_session(&c, "0", "small.bin", 20_000_000).await;
}

#[tokio::test]
async fn create_upload_session_missing_file_name() {
    let (emu, _c) = setup(small_config()).await;
    let raw = raw_json(
        &emu,
        Method::POST,
        &format!("{}/files/upload_sessions", emu.upload_url()),
        json!({"folder_id": "0", "file_size": 1000}),
    )
    .await;
    expect_raw!(
        raw,
        CreateUploadSessionError::MissingFileName,
        400,
        "missing_file_name"
    );
}

#[tokio::test]
async fn create_upload_session_storage_limit_exceeded() {
    let (_emu, c) = setup(limited()).await;
    expect_api!(
        c.create_upload_session(new_file_session("0", "q.bin", OVER_QUOTA as i64))
            .await,
        CreateUploadSessionError::StorageLimitExceeded,
        403,
        "storage_limit_exceeded"
    );
}

#[tokio::test]
async fn create_upload_session_file_size_limit_exceeded() {
    let (_emu, c) = setup(file_limited()).await;
    expect_api!(
        c.create_upload_session(new_file_session("0", "h.bin", OVER_FILE_LIMIT as i64))
            .await,
        CreateUploadSessionError::FileSizeLimitExceeded,
        403,
        "file_size_limit_exceeded"
    );
}

#[tokio::test]
async fn create_upload_session_invalid_parameter_for_an_unknown_folder() {
    let (_emu, c) = setup(small_config()).await;
    let api = expect_api!(
        c.create_upload_session(new_file_session("55555", "a.bin", 1000))
            .await,
        CreateUploadSessionError::InvalidParameter,
        404,
        "invalid_parameter"
    );
    assert!(api.message.unwrap().contains("folder_id"));
}

#[tokio::test]
async fn create_upload_session_item_name_in_use() {
    let (_emu, c) = setup(small_config()).await;
    let existing = upload_file(&c, "0", "Taken.bin", b"taken").await;
    let api = expect_api!(
        c.create_upload_session(new_file_session("0", "taken.BIN", 1000))
            .await,
        CreateUploadSessionError::ItemNameInUse,
        409,
        "item_name_in_use"
    );
    let conflict = single_conflict(&api);
    assert_eq!(conflict.id, existing.id);
    assert_eq!(conflict.sha1.as_deref(), Some(sha1_hex(b"taken").as_str()));
}

// =======================================================================================
// create_upload_session_for_file

#[tokio::test]
async fn create_upload_session_for_file_item_name_invalid() {
    let (_emu, c) = setup(small_config()).await;
    let f = upload_file(&c, "0", "f.bin", b"1").await;
    for name in INVALID_NAMES {
        expect_api!(
            c.create_upload_session_for_file(new_version_session(&f.id, 1000, Some(name)))
                .await,
            CreateUploadSessionForFileError::ItemNameInvalid,
            400,
            "item_name_invalid"
        );
    }
}

#[tokio::test]
async fn create_upload_session_for_file_missing_file_size() {
    let (emu, c) = setup(small_config()).await;
    let f = upload_file(&c, "0", "f.bin", b"1").await;
    let raw = raw_json(
        &emu,
        Method::POST,
        &format!("{}/files/{}/upload_sessions", emu.upload_url(), f.id),
        json!({"file_name": "g.bin"}),
    )
    .await;
    expect_raw!(
        raw,
        CreateUploadSessionForFileError::MissingFileSize,
        400,
        "missing_file_size"
    );
}

#[tokio::test]
async fn create_upload_session_for_file_invalid_file_size() {
    let (_emu, c) = setup(small_config()).await;
    let f = upload_file(&c, "0", "f.bin", b"1").await;
    expect_api!(
        c.create_upload_session_for_file(new_version_session(&f.id, -1, None))
            .await,
        CreateUploadSessionForFileError::InvalidFileSize,
        400,
        "invalid_file_size"
    );
}

#[tokio::test]
async fn create_upload_session_for_file_file_size_too_small() {
    let (_emu, c) = setup(Config::default()).await;
    let f = upload_file(&c, "0", "f.bin", b"1").await;
    expect_api!(
        c.create_upload_session_for_file(new_version_session(&f.id, 1000, None))
            .await,
        CreateUploadSessionForFileError::FileSizeTooSmall,
        400,
        "file_size_too_small"
    );
}

#[tokio::test]
async fn create_upload_session_for_file_storage_limit_exceeded() {
    let (_emu, c) = setup(limited()).await;
    let f = upload_file(&c, "0", "f.bin", &test_data(1000, 61)).await;
    expect_api!(
        c.create_upload_session_for_file(new_version_session(&f.id, OVER_QUOTA as i64, None))
            .await,
        CreateUploadSessionForFileError::StorageLimitExceeded,
        403,
        "storage_limit_exceeded"
    );
}

#[tokio::test]
async fn create_upload_session_for_file_file_size_limit_exceeded() {
    let (_emu, c) = setup(file_limited()).await;
    let f = upload_file(&c, "0", "f.bin", &test_data(1000, 62)).await;
    expect_api!(
        c.create_upload_session_for_file(new_version_session(&f.id, OVER_FILE_LIMIT as i64, None))
            .await,
        CreateUploadSessionForFileError::FileSizeLimitExceeded,
        403,
        "file_size_limit_exceeded"
    );
}

#[tokio::test]
async fn create_upload_session_for_file_not_found() {
    let (_emu, c) = setup(small_config()).await;
    expect_api!(
        c.create_upload_session_for_file(new_version_session("777777", 1000, None))
            .await,
        CreateUploadSessionForFileError::NotFound,
        404,
        "not_found"
    );
}

#[tokio::test]
async fn create_upload_session_for_file_item_name_in_use() {
    let (_emu, c) = setup(small_config()).await;
    let other = upload_file(&c, "0", "Other.bin", b"o").await;
    let f = upload_file(&c, "0", "f.bin", b"1").await;
    let api = expect_api!(
        c.create_upload_session_for_file(new_version_session(&f.id, 1000, Some("OTHER.bin")))
            .await,
        CreateUploadSessionForFileError::ItemNameInUse,
        409,
        "item_name_in_use"
    );
    assert_eq!(single_conflict(&api).id, other.id);
}

// =======================================================================================
// get_upload_session

#[tokio::test]
async fn get_upload_session_invalid_upload_session_id() {
    let (_emu, c) = setup(small_config()).await;
    let api = expect_api!(
        c.get_upload_session(GetUploadSessionRequest::new(MALFORMED_SESSION_ID))
            .await,
        GetUploadSessionError::InvalidUploadSessionId,
        400,
        "invalid_upload_session_id"
    );
    assert!(api.message.unwrap().contains("session ID"));
}

#[tokio::test]
async fn get_upload_session_not_found() {
    let (_emu, c) = setup(small_config()).await;
    expect_api!(
        c.get_upload_session(GetUploadSessionRequest::new(UNKNOWN_SESSION_ID))
            .await,
        GetUploadSessionError::NotFound,
        404,
        "not_found"
    );
}

#[tokio::test]
async fn get_upload_session_session_expired() {
    let (emu, c) = setup(small_config()).await;
    let ep = Endpoints::of(&create_session(&c, "0", "old.bin", 1000).await);
    assert!(emu.expire_session(&ep.id));
    let api = expect_api!(
        c.get_upload_session(GetUploadSessionRequest::new(&ep.id).with_endpoint(&ep.status))
            .await,
        GetUploadSessionError::SessionExpired,
        410,
        "session_expired"
    );
    assert!(api.message.unwrap().contains("expired"));
}

// =======================================================================================
// upload_part

#[tokio::test]
async fn upload_part_invalid_upload_session_id() {
    let (_emu, c) = setup(small_config()).await;
    expect_api!(
        c.upload_part(UploadPartRequest::new(
            MALFORMED_SESSION_ID,
            digest(b"x"),
            "bytes 0-0/1",
            Body::from_bytes(b"x".to_vec()),
        ))
        .await,
        UploadPartError::InvalidUploadSessionId,
        400,
        "invalid_upload_session_id"
    );
}

/// A body whose length is not the range's: declared up front (content-length), or found out
/// at the end of a chunked body. Nothing is stored either way.
#[tokio::test]
async fn upload_part_request_size_mismatch() {
    let (emu, c) = setup(small_config()).await;
    let content = test_data(2 * 64 * KIB, 63);
    let total = content.len() as u64;
    let ep = Endpoints::of(&create_session(&c, "0", "size.bin", total).await);
    let first_part = &content[..64 * KIB as usize];

    // content-length 1000 for a 65536-byte range.
    let api = expect_api!(
        c.upload_part(
            UploadPartRequest::new(
                &ep.id,
                digest(first_part),
                content_range(0, 64 * KIB, total),
                Body::from_bytes(first_part[..1000].to_vec()),
            )
            .with_endpoint(&ep.upload_part),
        )
        .await,
        UploadPartError::RequestSizeMismatch,
        400,
        "request_size_mismatch"
    );
    assert!(api.message.unwrap().contains("content-length"));

    // A chunked body 1 byte short.
    let short = bytes::Bytes::copy_from_slice(&first_part[..first_part.len() - 1]);
    let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(short)]);
    let api = expect_api!(
        c.upload_part(
            UploadPartRequest::new(
                &ep.id,
                digest(first_part),
                content_range(0, 64 * KIB, total),
                Body::from_stream(stream, None),
            )
            .with_endpoint(&ep.upload_part),
        )
        .await,
        UploadPartError::RequestSizeMismatch,
        400,
        "request_size_mismatch"
    );
    assert!(api.message.unwrap().contains("65535 bytes"));
    assert_eq!(emu.counters().parts_stored, 0);
    // The range is still free.
    put_part(&c, &ep, &content, 0).await;
}

#[tokio::test]
async fn upload_part_not_found() {
    let (_emu, c) = setup(small_config()).await;
    expect_api!(
        c.upload_part(UploadPartRequest::new(
            UNKNOWN_SESSION_ID,
            digest(b"x"),
            "bytes 0-0/1",
            Body::from_bytes(b"x".to_vec()),
        ))
        .await,
        UploadPartError::NotFound,
        404,
        "not_found"
    );
}

#[tokio::test]
async fn upload_part_session_expired() {
    let (emu, c) = setup(small_config()).await;
    let content = test_data(1000, 64);
    let ep = Endpoints::of(&create_session(&c, "0", "late.bin", 1000).await);
    assert!(emu.expire_session(&ep.id));
    expect_api!(
        c.upload_part(part(&ep, &content, 0, 1000)).await,
        UploadPartError::SessionExpired,
        410,
        "session_expired"
    );
    assert_eq!(emu.counters().parts_stored, 0);
}

/// Parts are immutable: sending a stored range again (even the same bytes) is refused with
/// 416 `range_overlaps_existing_part`, and `context_info.conflicting_part` is the stored part.
#[tokio::test]
async fn upload_part_range_overlaps_existing_part() {
    let (emu, c) = setup(small_config()).await;
    let content = test_data(2 * 64 * KIB, 65);
    let total = content.len() as u64;
    let ep = Endpoints::of(&create_session(&c, "0", "overlap.bin", total).await);
    let stored = put_part(&c, &ep, &content, 1).await;

    let second = &content[64 * KIB as usize..];
    let other = test_data(second.len() as u64, 66);
    for body in [second.to_vec(), other] {
        let api = expect_api!(
            c.upload_part(part(&ep, &body, 64 * KIB, total)).await,
            UploadPartError::RangeOverlapsExistingPart,
            416,
            "range_overlaps_existing_part"
        );
        assert_eq!(conflicting_part(&api), stored);
    }
    assert_eq!(emu.counters().parts_stored, 1);
    let listed = c
        .list_upload_parts(ListUploadPartsRequest::new(&ep.id).with_endpoint(&ep.list_parts))
        .await
        .unwrap();
    assert_eq!(listed.entries, Some(vec![stored]));
}

/// A `content-range` that does not fit the session (bad syntax, misaligned start, wrong size,
/// wrong total) is 416; the spec names no code for it, so it lands in the status variant.
#[tokio::test]
async fn upload_part_range_not_satisfiable() {
    let (emu, c) = setup(small_config()).await;
    let content = test_data(2 * 64 * KIB, 67);
    let total = content.len() as u64;
    let ep = Endpoints::of(&create_session(&c, "0", "range.bin", total).await);
    let bytes = &content[..1000];
    for range in [
        "bytes=0-999".to_string(),                     // syntax
        content_range(1, 1000, total),                 // not a multiple of the part size
        content_range(0, 1000, total),                 // not a whole part
        content_range(0, 64 * KIB, total + 1),         // not the session's file size
        format!("bytes 0-{}/{total}", 128 * KIB + 10), // past the end
    ] {
        let api = expect_api!(
            c.upload_part(
                UploadPartRequest::new(
                    &ep.id,
                    digest(bytes),
                    range.clone(),
                    Body::from_bytes(bytes.to_vec()),
                )
                .with_endpoint(&ep.upload_part),
            )
            .await,
            UploadPartError::RangeNotSatisfiable,
            416,
            "range_not_satisfiable"
        );
        assert!(api.body.unwrap().context_info.is_none(), "{range}");
    }
    assert_eq!(emu.counters().parts_stored, 0);
}

/// A `digest` that is not the SHA-1 of the bytes received: 412 (Box documents 412 for PUT
/// without a code; the emulator sends precondition_failed), and the part is not stored.
#[tokio::test]
async fn upload_part_precondition_failed_for_a_wrong_digest() {
    let (emu, c) = setup(small_config()).await;
    let content = test_data(1000, 68);
    let ep = Endpoints::of(&create_session(&c, "0", "digest.bin", 1000).await);
    let api = expect_api!(
        c.upload_part(
            UploadPartRequest::new(
                &ep.id,
                digest(b"other bytes"),
                content_range(0, 1000, 1000),
                Body::from_bytes(content.clone()),
            )
            .with_endpoint(&ep.upload_part),
        )
        .await,
        UploadPartError::PreconditionFailed,
        412,
        "precondition_failed"
    );
    let message = api.message.unwrap();
    assert!(message.contains(&base64(&sha1(&content))), "{message}");
    assert_eq!(emu.counters().parts_stored, 0);
    put_part(&c, &ep, &content, 0).await;
}

/// A `digest` header that is not `sha=<base64 of 20 bytes>`.
#[tokio::test]
async fn upload_part_bad_request_for_a_malformed_digest() {
    let (_emu, c) = setup(small_config()).await;
    let content = test_data(1000, 69);
    let ep = Endpoints::of(&create_session(&c, "0", "d.bin", 1000).await);
    for bad in ["md5=abc", "sha=not base64!", "sha=AAAA"] {
        expect_api!(
            c.upload_part(
                UploadPartRequest::new(
                    &ep.id,
                    bad,
                    content_range(0, 1000, 1000),
                    Body::from_bytes(content.clone()),
                )
                .with_endpoint(&ep.upload_part),
            )
            .await,
            UploadPartError::BadRequest,
            400,
            "bad_request"
        );
    }
}

/// The part-500 faults: a 500 before storing (the retry stores the part), and a 500 after
/// storing (the retry gets 416 whose conflicting_part has the same offset and SHA-1, so the
/// client knows the part is in).
#[tokio::test]
async fn upload_part_internal_server_error() {
    let (emu, c) = setup(small_config()).await;
    let content = test_data(2 * 64 * KIB, 70);
    let total = content.len() as u64;
    let ep = Endpoints::of(&create_session(&c, "0", "five-hundred.bin", total).await);
    let first = &content[..64 * KIB as usize];
    let second = &content[64 * KIB as usize..];

    emu.set_faults(FaultConfig {
        part_500_before_store: 1.0,
        ..Default::default()
    });
    let api = expect_api!(
        c.upload_part(part(&ep, first, 0, total)).await,
        UploadPartError::InternalServerError,
        500,
        "internal_server_error"
    );
    assert_eq!(api.status, 500);
    assert_eq!(emu.counters().parts_stored, 0);
    assert_eq!(emu.counters().injected.part_500_before_store, 1);

    emu.set_faults(FaultConfig {
        part_500_after_store: 1.0,
        ..Default::default()
    });
    let err = c.upload_part(part(&ep, second, 64 * KIB, total)).await;
    match &err {
        Err(Error::Api(e)) => assert!(e.is_retryable()),
        other => panic!("{other:?}"),
    }
    expect_api!(
        err,
        UploadPartError::InternalServerError,
        500,
        "internal_server_error"
    );
    assert_eq!(emu.counters().parts_stored, 1);

    emu.set_faults(FaultConfig::default());
    put_part(&c, &ep, &content, 0).await;
    let api = expect_api!(
        c.upload_part(part(&ep, second, 64 * KIB, total)).await,
        UploadPartError::RangeOverlapsExistingPart,
        416,
        "range_overlaps_existing_part"
    );
    let stored = conflicting_part(&api);
    assert_eq!(stored.offset, Some(64 * KIB as i64));
    assert_eq!(stored.sha1.as_deref(), Some(sha1_hex(second).as_str()));
    let mut parts = c
        .list_upload_parts(ListUploadPartsRequest::new(&ep.id).with_endpoint(&ep.list_parts))
        .await
        .unwrap()
        .entries
        .unwrap();
    parts.sort_by_key(|p| p.offset);
    let f = commit(&c, &ep, &sha1(&content), parts).await;
    assert_stored(&emu, &f.id, &content).await;
}

// =======================================================================================
// abort_upload_session

#[tokio::test]
async fn abort_upload_session_invalid_upload_session_id() {
    let (_emu, c) = setup(small_config()).await;
    expect_api!(
        c.abort_upload_session(AbortUploadSessionRequest::new(MALFORMED_SESSION_ID))
            .await,
        AbortUploadSessionError::InvalidUploadSessionId,
        400,
        "invalid_upload_session_id"
    );
}

#[tokio::test]
async fn abort_upload_session_not_found() {
    let (_emu, c) = setup(small_config()).await;
    let ep = Endpoints::of(&create_session(&c, "0", "a.bin", 1000).await);
    c.abort_upload_session(AbortUploadSessionRequest::new(&ep.id).with_endpoint(&ep.abort))
        .await
        .expect("first abort");
    expect_api!(
        c.abort_upload_session(AbortUploadSessionRequest::new(&ep.id).with_endpoint(&ep.abort))
            .await,
        AbortUploadSessionError::NotFound,
        404,
        "not_found"
    );
    expect_api!(
        c.abort_upload_session(AbortUploadSessionRequest::new(UNKNOWN_SESSION_ID))
            .await,
        AbortUploadSessionError::NotFound,
        404,
        "not_found"
    );
}

/// Not an error: the emulator lets an expired session be aborted (the spec's 410 for abort is
/// one of the codes it does not produce).
#[tokio::test]
async fn abort_upload_session_of_an_expired_session_succeeds() {
    let (emu, c) = setup(small_config()).await;
    let ep = Endpoints::of(&create_session(&c, "0", "a.bin", 1000).await);
    assert!(emu.expire_session(&ep.id));
    c.abort_upload_session(AbortUploadSessionRequest::new(&ep.id).with_endpoint(&ep.abort))
        .await
        .expect("abort of an expired session");
    assert!(emu.open_sessions().is_empty());
}

// =======================================================================================
// list_upload_parts

#[tokio::test]
async fn list_upload_parts_invalid_upload_session_id() {
    let (_emu, c) = setup(small_config()).await;
    expect_api!(
        c.list_upload_parts(ListUploadPartsRequest::new(MALFORMED_SESSION_ID))
            .await,
        ListUploadPartsError::InvalidUploadSessionId,
        400,
        "invalid_upload_session_id"
    );
}

/// Box refuses an offset above 10000.
#[tokio::test]
async fn list_upload_parts_bad_request_for_an_offset_above_10000() {
    let (_emu, c) = setup(small_config()).await;
    let ep = Endpoints::of(&create_session(&c, "0", "a.bin", 1000).await);
    let api = expect_api!(
        c.list_upload_parts(
            ListUploadPartsRequest::new(&ep.id)
                .with_endpoint(&ep.list_parts)
                .with_offset(10_001),
        )
        .await,
        ListUploadPartsError::BadRequest,
        400,
        "bad_request"
    );
    assert!(api.message.unwrap().contains("10000"));
    c.list_upload_parts(
        ListUploadPartsRequest::new(&ep.id)
            .with_endpoint(&ep.list_parts)
            .with_offset(10_000),
    )
    .await
    .expect("offset 10000 is allowed");
}

#[tokio::test]
async fn list_upload_parts_not_found() {
    let (_emu, c) = setup(small_config()).await;
    expect_api!(
        c.list_upload_parts(ListUploadPartsRequest::new(UNKNOWN_SESSION_ID))
            .await,
        ListUploadPartsError::NotFound,
        404,
        "not_found"
    );
}

#[tokio::test]
async fn list_upload_parts_session_expired() {
    let (emu, c) = setup(small_config()).await;
    let ep = Endpoints::of(&create_session(&c, "0", "a.bin", 1000).await);
    assert!(emu.expire_session(&ep.id));
    expect_api!(
        c.list_upload_parts(ListUploadPartsRequest::new(&ep.id).with_endpoint(&ep.list_parts))
            .await,
        ListUploadPartsError::SessionExpired,
        410,
        "session_expired"
    );
}

// =======================================================================================
// commit_upload_session

/// A whole-file digest that is not the SHA-1 of the parts: Box's observed message names both
/// digests; the session stays open and commits with the right digest.
#[tokio::test]
async fn commit_upload_session_digest_mismatch() {
    let (emu, c) = setup(small_config()).await;
    let content = test_data(64 * KIB + 5, 71);
    let ep = Endpoints::of(&create_session(&c, "0", "dm.bin", content.len() as u64).await);
    let parts = put_all_parts(&c, &ep, &content).await;
    let wrong = sha1(b"not the file");
    let api = expect_api!(
        c.commit_upload_session(commit_request(&ep, &wrong, parts.clone()))
            .await,
        CommitUploadSessionError::DigestMismatch,
        400,
        "digest_mismatch"
    );
    assert_eq!(
        api.message.as_deref(),
        Some(
            format!(
                "File digest was incorrect. Actual: {} Expected: {}",
                base64(&sha1(&content)),
                base64(&wrong)
            )
            .as_str()
        )
    );
    assert_eq!(emu.counters().files_created, 0);
    let f = commit(&c, &ep, &sha1(&content), parts).await;
    assert_stored(&emu, &f.id, &content).await;
}

/// The parts list must name exactly the parts received, in offset order, with their
/// offsets, sizes and SHA-1s, and every part must have arrived.
#[tokio::test]
async fn commit_upload_session_parts_mismatch() {
    let (emu, c) = setup(small_config()).await;
    let content = test_data(3 * 64 * KIB, 72);
    let whole = sha1(&content);
    let ep = Endpoints::of(&create_session(&c, "0", "pm.bin", content.len() as u64).await);
    let p0 = put_part(&c, &ep, &content, 0).await;

    let mismatch =
        |parts: Vec<UploadPart>| c.commit_upload_session(commit_request(&ep, &whole, parts));
    let api = expect_api!(
        mismatch(vec![p0.clone()]).await,
        CommitUploadSessionError::PartsMismatch,
        400,
        "parts_mismatch"
    );
    assert!(api.message.unwrap().contains("Only 1 of 3"));

    let p1 = put_part(&c, &ep, &content, 1).await;
    let p2 = put_part(&c, &ep, &content, 2).await;
    let mut wrong_sha = p1.clone();
    wrong_sha.sha1 = Some(sha1_hex(b"x"));
    let mut unknown = p1.clone();
    unknown.part_id = Some("FFFFFFFF".into());
    for (parts, says) in [
        (vec![p0.clone(), p2.clone()], "names 2 parts but 3"),
        (vec![p0.clone(), p2.clone(), p1.clone()], "order of offset"),
        (vec![p0.clone(), wrong_sha, p2.clone()], "sha1"),
        (vec![p0.clone(), unknown, p2.clone()], "was not uploaded"),
        (
            vec![p0.clone(), p1.clone(), p1.clone(), p2.clone()],
            "twice",
        ),
    ] {
        let api = expect_api!(
            mismatch(parts).await,
            CommitUploadSessionError::PartsMismatch,
            400,
            "parts_mismatch"
        );
        let message = api.message.unwrap();
        assert!(message.contains(says), "{message:?} should say {says:?}");
    }
    assert_eq!(emu.counters().files_created, 0);
    commit(&c, &ep, &whole, vec![p0, p1, p2]).await;
}

#[tokio::test]
async fn commit_upload_session_invalid_upload_session_id() {
    let (_emu, c) = setup(small_config()).await;
    expect_api!(
        c.commit_upload_session(CommitUploadSessionRequest::new(
            MALFORMED_SESSION_ID,
            digest(b""),
            CommitUploadSessionBody {
                parts: vec![],
                attributes: None
            },
        ))
        .await,
        CommitUploadSessionError::InvalidUploadSessionId,
        400,
        "invalid_upload_session_id"
    );
}

#[tokio::test]
async fn commit_upload_session_not_found() {
    let (_emu, c) = setup(small_config()).await;
    expect_api!(
        c.commit_upload_session(CommitUploadSessionRequest::new(
            UNKNOWN_SESSION_ID,
            digest(b""),
            CommitUploadSessionBody {
                parts: vec![],
                attributes: None
            },
        ))
        .await,
        CommitUploadSessionError::NotFound,
        404,
        "not_found"
    );
}

/// The name was taken by another upload while the session was open: 409 with the file that
/// took it; the session stays open and commits under another name.
#[tokio::test]
async fn commit_upload_session_item_name_in_use() {
    let (emu, c) = setup(small_config()).await;
    let content = test_data(3000, 73);
    let ep = Endpoints::of(&create_session(&c, "0", "race.bin", 3000).await);
    let parts = put_all_parts(&c, &ep, &content).await;
    let winner = upload_file(&c, "0", "RACE.bin", b"first").await;
    let api = expect_api!(
        c.commit_upload_session(commit_request(&ep, &sha1(&content), parts.clone()))
            .await,
        CommitUploadSessionError::ItemNameInUse,
        409,
        "item_name_in_use"
    );
    let conflict = single_conflict(&api);
    assert_eq!(conflict.id, winner.id);
    assert_eq!(conflict.sha1.as_deref(), Some(sha1_hex(b"first").as_str()));

    let mut req = commit_request(&ep, &sha1(&content), parts);
    req.body.attributes = Some(CommitUploadSessionBodyAttributes {
        name: Some("race (2).bin".into()),
        ..Default::default()
    });
    match c.commit_upload_session(req).await.expect("commit") {
        CommitUploadSessionResponse::Committed(files) => {
            let f = only_entry(files);
            assert_eq!(f.name.as_deref(), Some("race (2).bin"));
            assert_stored(&emu, &f.id, &content).await;
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn commit_upload_session_session_expired() {
    let (emu, c) = setup(small_config()).await;
    let content = test_data(2000, 74);
    let ep = Endpoints::of(&create_session(&c, "0", "exp.bin", 2000).await);
    let parts = put_all_parts(&c, &ep, &content).await;
    assert!(emu.expire_session(&ep.id));
    expect_api!(
        c.commit_upload_session(commit_request(&ep, &sha1(&content), parts))
            .await,
        CommitUploadSessionError::SessionExpired,
        410,
        "session_expired"
    );
    assert_eq!(emu.counters().files_created, 0);
}

/// if-match on a new file (nothing to match), a stale if-match on a version, and an
/// if-none-match equal to the current etag all fail with 412; nothing is written.
#[tokio::test]
async fn commit_upload_session_precondition_failed() {
    let (emu, c) = setup(small_config()).await;
    let content = test_data(2000, 75);
    let whole = sha1(&content);

    let ep = Endpoints::of(&create_session(&c, "0", "new.bin", 2000).await);
    let parts = put_all_parts(&c, &ep, &content).await;
    expect_api!(
        c.commit_upload_session(commit_request(&ep, &whole, parts).with_if_match("1"))
            .await,
        CommitUploadSessionError::PreconditionFailed,
        412,
        "precondition_failed"
    );

    let f = upload_file(&c, "0", "versioned.bin", b"v1").await;
    let stale = f.etag.clone().unwrap();
    let ep = Endpoints::of(
        &c.create_upload_session_for_file(new_version_session(&f.id, 2000, None))
            .await
            .unwrap(),
    );
    let parts = put_all_parts(&c, &ep, &content).await;
    let current = only_entry(
        c.upload_file_version(new_version(&f.id, None, b"v2".to_vec()))
            .await
            .unwrap(),
    )
    .etag
    .unwrap();
    expect_api!(
        c.commit_upload_session(commit_request(&ep, &whole, parts.clone()).with_if_match(&stale))
            .await,
        CommitUploadSessionError::PreconditionFailed,
        412,
        "precondition_failed"
    );
    let api = expect_api!(
        c.commit_upload_session(
            commit_request(&ep, &whole, parts.clone()).with_if_none_match(&current)
        )
        .await,
        CommitUploadSessionError::PreconditionFailed,
        412,
        "precondition_failed"
    );
    assert!(api.message.unwrap().contains("if-none-match"));
    assert_stored(&emu, &f.id, b"v2").await;
    // With the current etag it goes through.
    commit(&c, &ep, &whole, parts).await;
    assert_stored(&emu, &f.id, &content).await;
}

// =======================================================================================
// Every operation: 401 unauthorized and 429 rate_limit_exceeded

/// Calls all ten operations and expects `$enum::$variant` with `$status`/`$code` from each;
/// `$check` runs on every ApiError.
macro_rules! all_ten {
    ($c:expr, $ep:expr, $file_id:expr, $variant:ident, $status:expr, $code:expr, $check:expr) => {{
        let c: &Client = $c;
        let ep: &Endpoints = $ep;
        let file_id: &str = $file_id;
        let check = $check;
        let whole = sha1(b"x");
        check(&expect_api!(
            c.preflight_upload(preflight("p.txt", Some(1), "0")).await,
            PreflightUploadError::$variant,
            $status,
            $code
        ));
        check(&expect_api!(
            c.upload_file(new_file("u.txt", "0", b"x".to_vec())).await,
            UploadFileError::$variant,
            $status,
            $code
        ));
        check(&expect_api!(
            c.upload_file_version(new_version(file_id, None, b"x".to_vec()))
                .await,
            UploadFileVersionError::$variant,
            $status,
            $code
        ));
        check(&expect_api!(
            c.create_upload_session(new_file_session("0", "s.bin", 1000))
                .await,
            CreateUploadSessionError::$variant,
            $status,
            $code
        ));
        check(&expect_api!(
            c.create_upload_session_for_file(new_version_session(file_id, 1000, None))
                .await,
            CreateUploadSessionForFileError::$variant,
            $status,
            $code
        ));
        check(&expect_api!(
            c.get_upload_session(GetUploadSessionRequest::new(&ep.id).with_endpoint(&ep.status))
                .await,
            GetUploadSessionError::$variant,
            $status,
            $code
        ));
        check(&expect_api!(
            c.upload_part(part(ep, b"x", 0, 1)).await,
            UploadPartError::$variant,
            $status,
            $code
        ));
        check(&expect_api!(
            c.list_upload_parts(ListUploadPartsRequest::new(&ep.id).with_endpoint(&ep.list_parts))
                .await,
            ListUploadPartsError::$variant,
            $status,
            $code
        ));
        check(&expect_api!(
            c.commit_upload_session(commit_request(ep, &whole, vec![]))
                .await,
            CommitUploadSessionError::$variant,
            $status,
            $code
        ));
        check(&expect_api!(
            c.abort_upload_session(AbortUploadSessionRequest::new(&ep.id).with_endpoint(&ep.abort))
                .await,
            AbortUploadSessionError::$variant,
            $status,
            $code
        ));
    }};
}

/// A wrong token, and no token at all, are refused with 401 by every operation; nothing
/// changes.
#[tokio::test]
async fn every_operation_answers_401_unauthorized() {
    let (emu, c) = setup(small_config()).await;
    let f = upload_file(&c, "0", "f.txt", b"f").await;
    let ep = Endpoints::of(&create_session(&c, "0", "s1.bin", 1).await);
    let before = emu.counters();

    let wrong = client_with_token(&emu, "wrong-token");
    all_ten!(
        &wrong,
        &ep,
        &f.id,
        Unauthorized,
        401,
        "unauthorized",
        |api: &ApiError<_>| {
            assert_eq!(api.message.as_deref(), Some("Unauthorized"));
        }
    );
    let anonymous = ClientBuilder::new()
        .api_url(emu.api_url())
        .upload_url(emu.upload_url())
        .build()
        .unwrap();
    all_ten!(
        &anonymous,
        &ep,
        &f.id,
        Unauthorized,
        401,
        "unauthorized",
        |_: &ApiError<_>| {}
    );

    let after = emu.counters();
    assert_eq!(after.responses_for(401), 20);
    assert_eq!(after.errors_for("unauthorized"), 20);
    assert_eq!(after.files_created, before.files_created);
    assert_eq!(after.sessions_created, before.sessions_created);
    assert_eq!(after.parts_stored, 0);
    assert_eq!(emu.open_sessions(), vec![ep.id.clone()]);
}

/// Above the rate limit every operation answers 429 `rate_limit_exceeded` with a
/// `retry-after` in seconds (delta-seconds, at most the window), and the error says it is
/// retryable.
#[tokio::test]
async fn every_operation_answers_429_rate_limit_exceeded_with_retry_after() {
    let (emu, c) = setup(small_config()).await;
    let f = upload_file(&c, "0", "f.txt", b"f").await;
    let ep = Endpoints::of(&create_session(&c, "0", "s1.bin", 1).await);
    emu.set_faults(FaultConfig {
        rate_limit: Some(RateLimit {
            max_requests: 1,
            window_ms: 120_000,
        }),
        ..Default::default()
    });
    // The window's one allowed request.
    c.get_upload_session(GetUploadSessionRequest::new(&ep.id).with_endpoint(&ep.status))
        .await
        .expect("first request of the window");

    all_ten!(
        &c,
        &ep,
        &f.id,
        RateLimitExceeded,
        429,
        "rate_limit_exceeded",
        |api: &ApiError<_>| {
            let secs: u64 = api
                .retry_after
                .as_deref()
                .expect("retry-after")
                .parse()
                .expect("retry-after in seconds");
            assert!((1..=120).contains(&secs), "{secs}");
            assert_eq!(
                api.message.as_deref(),
                Some("Request rate limit exceeded, please try again later")
            );
        }
    );
    let e = c
        .preflight_upload(preflight("p.txt", None, "0"))
        .await
        .unwrap_err();
    match e {
        Error::Api(e) => {
            assert!(e.is_retryable());
            assert!(e.retry_after().is_some());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(emu.counters().injected.rate_limited, 11);

    emu.set_faults(FaultConfig::default());
    c.get_upload_session(GetUploadSessionRequest::new(&ep.id).with_endpoint(&ep.status))
        .await
        .expect("no limit any more");
}

/// With the `502` fault every operation answers 502 `bad_gateway` before doing anything; the
/// generated enums sort it into their 502 variant, and the error says it is retryable.
#[tokio::test]
async fn every_operation_answers_502_bad_gateway() {
    let (emu, c) = setup(small_config()).await;
    let f = upload_file(&c, "0", "f.txt", b"f").await;
    let ep = Endpoints::of(&create_session(&c, "0", "s1.bin", 1).await);
    let before = emu.counters();
    emu.set_faults(FaultConfig {
        request_502: 1.0,
        ..Default::default()
    });
    all_ten!(
        &c,
        &ep,
        &f.id,
        BadGateway,
        502,
        "bad_gateway",
        |api: &ApiError<_>| {
            assert_eq!(api.message.as_deref(), Some("Bad Gateway"));
        }
    );
    let e = c
        .preflight_upload(preflight("p.txt", None, "0"))
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    let after = emu.counters();
    assert_eq!(after.injected.request_502, 11);
    assert_eq!(after.responses_for(502), 11);
    assert_eq!(after.files_created, before.files_created);
    assert_eq!(after.sessions_created, before.sessions_created);
    assert_eq!(emu.open_sessions(), vec![ep.id.clone()]);
}

/// With the `503` fault every operation answers 503 `unavailable` with the configured
/// `retry-after` before doing anything; the generated enums sort it into their `Unavailable`
/// variant.
#[tokio::test]
async fn every_operation_answers_503_unavailable_with_retry_after() {
    let (emu, c) = setup(small_config()).await;
    let f = upload_file(&c, "0", "f.txt", b"f").await;
    let ep = Endpoints::of(&create_session(&c, "0", "s1.bin", 1).await);
    let before = emu.counters();
    emu.set_faults(FaultConfig {
        request_503: 1.0,
        retry_after_503_secs: 2,
        ..Default::default()
    });
    all_ten!(
        &c,
        &ep,
        &f.id,
        Unavailable,
        503,
        "unavailable",
        |api: &ApiError<_>| {
            assert_eq!(api.message.as_deref(), Some("Unavailable"));
            assert_eq!(api.retry_after.as_deref(), Some("2"));
            assert_eq!(
                api.retry_after_duration(),
                Some(std::time::Duration::from_secs(2))
            );
        }
    );
    let e = c
        .preflight_upload(preflight("p.txt", None, "0"))
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    let after = emu.counters();
    assert_eq!(after.injected.request_503, 11);
    assert_eq!(after.responses_for(503), 11);
    assert_eq!(after.files_created, before.files_created);
    assert_eq!(after.sessions_created, before.sessions_created);
    assert_eq!(emu.open_sessions(), vec![ep.id.clone()]);
}

/// With the `direct-500-after-store` fault a direct upload, of a new file or of a version, is
/// stored and then answered 500 `internal_server_error` (retryable): the write happened.
#[tokio::test]
async fn direct_uploads_answer_500_internal_server_error_after_storing() {
    let (emu, c) = setup(small_config()).await;
    let f = upload_file(&c, "0", "f.txt", b"f").await;
    let before = emu.counters();
    emu.set_faults(FaultConfig {
        direct_500_after_store: 1.0,
        ..Default::default()
    });
    let err = c.upload_file(new_file("u.txt", "0", b"x".to_vec())).await;
    assert!(matches!(&err, Err(e) if e.is_retryable()), "{err:?}");
    expect_api!(
        err,
        UploadFileError::InternalServerError,
        500,
        "internal_server_error"
    );
    expect_api!(
        c.upload_file_version(new_version(&f.id, None, b"v2".to_vec()))
            .await,
        UploadFileVersionError::InternalServerError,
        500,
        "internal_server_error"
    );
    let after = emu.counters();
    assert_eq!(after.injected.direct_500_after_store, 2);
    assert_eq!(after.files_created, before.files_created + 1);
    assert_eq!(
        after.file_versions_created,
        before.file_versions_created + 1
    );
    assert_eq!(emu.file_content(&f.id, None).await.unwrap(), b"v2");
}

// =======================================================================================
// Injected 409 name_temporarily_reserved, and 411 length_required

/// With the `name-temporarily-reserved` fault the four operations that make a file or a
/// version (direct uploads and session creations) answer 409 `name_temporarily_reserved`;
/// nothing is made, and once the fault is gone the same requests succeed.
#[tokio::test]
async fn uploads_and_session_creations_answer_409_name_temporarily_reserved() {
    let (emu, c) = setup(small_config()).await;
    let f = upload_file(&c, "0", "f.txt", b"f").await;
    let before = emu.counters();
    emu.set_faults(FaultConfig {
        name_temporarily_reserved: 1.0,
        ..Default::default()
    });
    let check = |api: &ApiError<ConflictError>| {
        assert!(
            api.message
                .as_deref()
                .is_some_and(|m| m.starts_with("The item name is reserved")),
            "{:?}",
            api.message
        );
    };
    check(&expect_api!(
        c.upload_file(new_file("u.txt", "0", b"x".to_vec())).await,
        UploadFileError::NameTemporarilyReserved,
        409,
        "name_temporarily_reserved"
    ));
    check(&expect_api!(
        c.upload_file_version(new_version(&f.id, None, b"x".to_vec()))
            .await,
        UploadFileVersionError::NameTemporarilyReserved,
        409,
        "name_temporarily_reserved"
    ));
    check(&expect_api!(
        c.create_upload_session(new_file_session("0", "s.bin", 1000))
            .await,
        CreateUploadSessionError::NameTemporarilyReserved,
        409,
        "name_temporarily_reserved"
    ));
    check(&expect_api!(
        c.create_upload_session_for_file(new_version_session(&f.id, 1000, None))
            .await,
        CreateUploadSessionForFileError::NameTemporarilyReserved,
        409,
        "name_temporarily_reserved"
    ));
    let after = emu.counters();
    assert_eq!(after.injected.name_temporarily_reserved, 4);
    assert_eq!(after.errors_for("name_temporarily_reserved"), 4);
    assert_eq!(after.files_created, before.files_created);
    assert_eq!(after.file_versions_created, before.file_versions_created);
    assert_eq!(after.sessions_created, before.sessions_created);

    emu.set_faults(FaultConfig::default());
    c.upload_file(new_file("u.txt", "0", b"x".to_vec()))
        .await
        .expect("no fault any more");
}

/// One part request sent over a bare TCP connection exactly as given (`head` ends with the
/// blank line), read until the server closes it, and returned as the raw answer the generated
/// enums sort. For what no HTTP client sends: a body with no framing at all.
async fn raw_http(emu: &Emulator, head: &str) -> RawResponse {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let exchange = async {
        let mut tcp = tokio::net::TcpStream::connect(emu.local_addr()).await?;
        tcp.write_all(head.as_bytes()).await?;
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), exchange)
        .await
        .expect("an answer within 10 s")
        .expect("raw exchange");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = answer[split + 4..].to_vec();
    if let Some(len) = header("content-length").and_then(|l| l.parse::<usize>().ok()) {
        body.truncate(len);
    }
    RawResponse {
        status,
        request_id: header("box-request-id"),
        retry_after: header("retry-after"),
        date: header("date"),
        body: bytes::Bytes::from(body),
    }
}

/// A part with neither `content-length` nor `transfer-encoding` (to HTTP/1.1, no body) is
/// refused 411 `length_required` and nothing is stored; the same part with a length is
/// accepted.
#[tokio::test]
async fn upload_part_length_required() {
    let (emu, c) = setup(small_config()).await;
    let content = test_data(1024, 77);
    let ep = Endpoints::of(&create_session(&c, "0", "unframed.bin", 1024).await);
    let path = ep
        .upload_part
        .strip_prefix(&emu.base_url())
        .expect("the session's URL is the emulator's");
    let head = format!(
        "PUT {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\ndigest: {}\r\n\
         content-range: {}\r\nconnection: close\r\n\r\n",
        emu.local_addr(),
        emu.token(),
        digest(&content),
        content_range(0, 1024, 1024),
    );
    let raw = raw_http(&emu, &head).await;
    let api = expect_raw!(raw, UploadPartError::LengthRequired, 411, "length_required");
    assert_eq!(
        api.message.as_deref(),
        Some("content-length header was required, but not provided.")
    );
    assert_eq!(emu.counters().parts_stored, 0);
    assert_eq!(emu.counters().errors_for("length_required"), 1);

    c.upload_part(part(&ep, &content, 0, 1024))
        .await
        .expect("the framed part");
    assert_eq!(emu.counters().parts_stored, 1);
}

// =======================================================================================
// 403s of service authentication: as-user, and another user's session

const APP_ID: &str = "errors-client-id";
const APP_SECRET: &str = "errors-client-secret";
const APP_USER: &str = "555";

/// An emulator whose app may have tokens for the enterprise and for user [`APP_USER`].
fn app_config() -> Config {
    Config {
        client_id: Some(APP_ID.into()),
        client_secret: Some(APP_SECRET.into()),
        users: vec![APP_USER.into()],
        ..small_config()
    }
}

/// A client with client-credentials tokens for `subject`.
fn app_client(emu: &Emulator, subject: box_uploads::auth::Subject) -> Client {
    ClientBuilder::new()
        .api_url(emu.api_url())
        .upload_url(emu.upload_url())
        .client_credentials(APP_ID, APP_SECRET, subject)
        .build()
        .expect("client")
}

/// `as-user` naming a user the service account may not act as is refused 403
/// `access_denied_insufficient_permissions` by the four operations that declare it; nothing is
/// made.
#[tokio::test]
async fn as_an_unknown_user_access_denied_insufficient_permissions() {
    let (emu, c) = setup(app_config()).await;
    let f = upload_file(&c, "0", "f.txt", b"f").await;
    let before = emu.counters();
    let stranger = ClientBuilder::new()
        .token(emu.token())
        .api_url(emu.api_url())
        .upload_url(emu.upload_url())
        .as_user("999")
        .build()
        .expect("client");
    let check = |api: &ApiError<ClientError>| {
        assert_eq!(
            api.message.as_deref(),
            Some("Access denied - insufficient permission")
        );
    };
    check(&expect_api!(
        stranger
            .preflight_upload(preflight("p.txt", Some(1), "0"))
            .await,
        PreflightUploadError::AccessDeniedInsufficientPermissions,
        403,
        "access_denied_insufficient_permissions"
    ));
    check(&expect_api!(
        stranger
            .upload_file(new_file("u.txt", "0", b"x".to_vec()))
            .await,
        UploadFileError::AccessDeniedInsufficientPermissions,
        403,
        "access_denied_insufficient_permissions"
    ));
    check(&expect_api!(
        stranger
            .upload_file_version(new_version(&f.id, None, b"x".to_vec()))
            .await,
        UploadFileVersionError::AccessDeniedInsufficientPermissions,
        403,
        "access_denied_insufficient_permissions"
    ));
    check(&expect_api!(
        stranger
            .create_upload_session_for_file(new_version_session(&f.id, 1000, None))
            .await,
        CreateUploadSessionForFileError::AccessDeniedInsufficientPermissions,
        403,
        "access_denied_insufficient_permissions"
    ));
    let after = emu.counters();
    assert_eq!(
        after.errors_for("access_denied_insufficient_permissions"),
        4
    );
    assert_eq!(after.files_created, before.files_created);
    assert_eq!(after.file_versions_created, before.file_versions_created);
    assert_eq!(after.sessions_created, before.sessions_created);
}

/// A part sent by a user other than the one who opened the session is refused 403
/// `forbidden`; the session's owner then sends it.
#[tokio::test]
async fn upload_part_forbidden_to_another_user() {
    use box_uploads::auth::Subject;
    let (emu, _c) = setup(app_config()).await;
    let service = app_client(&emu, Subject::enterprise(Config::default().enterprise_id));
    let user = app_client(&emu, Subject::user(APP_USER));
    let content = test_data(1024, 78);
    let ep = Endpoints::of(&create_session(&user, "0", "users.bin", 1024).await);
    expect_api!(
        service.upload_part(part(&ep, &content, 0, 1024)).await,
        UploadPartError::Forbidden,
        403,
        "forbidden"
    );
    assert_eq!(emu.counters().parts_stored, 0);
    assert_eq!(emu.counters().errors_for("forbidden"), 1);
    user.upload_part(part(&ep, &content, 0, 1024))
        .await
        .expect("the owner's part");
    assert_eq!(emu.counters().parts_stored, 1);
}

// =======================================================================================
// The other shape of `conflicts` (the generated model; no emulator involved)

/// Box sends `conflicts` as one object on file uploads (tested above against the emulator)
/// and as an array elsewhere; the generated ConflictError decodes both.
#[test]
fn conflicts_as_an_array_also_decode() {
    let body = json!({
        "type": "error", "status": 409, "code": "item_name_in_use",
        "message": "Item with the same name already exists",
        "context_info": {"conflicts": [
            {"type": "file", "id": "1", "sha1": "aa", "name": "a"},
            {"type": "file", "id": "2", "sha1": "bb", "name": "b"}
        ]},
        "request_id": "r1"
    });
    let raw = RawResponse {
        status: 409,
        request_id: Some("r1".into()),
        retry_after: None,
        date: None,
        body: bytes::Bytes::from(body.to_string()),
    };
    match UploadFileError::from_raw(raw) {
        UploadFileError::ItemNameInUse(api) => {
            let ctx = api.body.unwrap().context_info.unwrap();
            match ctx.conflicts.unwrap() {
                ConflictErrorContextInfoConflicts::FileConflictList(list) => {
                    let ids: Vec<_> = list.iter().map(|f| f.id.as_str()).collect();
                    assert_eq!(ids, ["1", "2"]);
                }
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
}
