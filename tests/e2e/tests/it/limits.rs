//! The user's upload limit against the emulator (`max_file_size` is the user's
//! `max_upload_size`): a file over it is refused with `TooLarge` naming both sizes before any
//! byte is sent, direct, chunked and as a new version; `GET /users/me` is asked once for all the
//! uploads of one uploader and its clones. And the generated client's cleanup operations:
//! `delete_file` (then the file is gone; a stale `if-match` is refused) and `delete_folder`
//! (refused for a folder with items unless `recursive`).

use crate::common::*;
use box_uploads::upload::{SizeLimit, Upload, UploadErrorKind};

const LIMIT: u64 = MIB;
const TOO_LARGE: u64 = 2 * MIB;

/// An emulator whose user may upload at most 1 MiB.
async fn limited() -> Emulator {
    let mut config = small_config();
    config.max_file_size = Some(LIMIT);
    start(config).await
}

fn requests(emu: &Emulator, op: &str) -> u64 {
    emu.counters().requests.get(op).copied().unwrap_or(0)
}

/// Nothing of the content went out: no upload call, no byte, no file or session.
fn assert_nothing_sent(emu: &Emulator, what: &str) {
    let c = emu.counters();
    for op in [
        "preflight",
        "upload_file",
        "upload_file_version",
        "create_upload_session",
        "create_upload_session_for_file",
        "upload_part",
    ] {
        assert_eq!(c.requests.get(op), None, "{what}: {op} called");
    }
    assert_eq!(c.file_bytes_received, 0, "{what}: no byte sent");
    assert_eq!(
        (c.files_created, c.file_versions_created, c.sessions_created),
        (0, 0, 0),
        "{what}: nothing made"
    );
}

/// The refusal: `TooLarge` over the user's limit, by the call Box would have refused, with a
/// message naming both sizes.
fn assert_too_large(err: &box_uploads::upload::UploadError, operation: &str) {
    match err.kind() {
        UploadErrorKind::TooLarge {
            operation: op,
            size,
            limit,
            ..
        } => {
            assert_eq!(*op, operation, "{err}");
            assert_eq!(*size, TOO_LARGE, "{err}");
            assert_eq!(*limit, SizeLimit::MaxUploadSize(LIMIT), "{err}");
        }
        other => panic!("expected TooLarge, got {other:?}: {err}"),
    }
    let text = err.to_string();
    for part in ["2 MiB", "2097152 bytes", "1 MiB", "1048576 bytes"] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
}

#[tokio::test]
async fn a_file_over_the_users_limit_is_refused_before_a_byte_is_sent() {
    let emu = limited().await;
    let content = test_data(TOO_LARGE, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("backup.tar");
    std::fs::write(&path, &content).expect("write");

    // Direct: the cutoff is above the file.
    let direct = uploader(&emu, 4 * MIB);
    let err = direct
        .upload(Upload::new_file("0", "backup.tar").from_path(&path))
        .await
        .expect_err("too large, direct");
    assert_too_large(&err, "upload_file");
    assert_nothing_sent(&emu, "direct");
    assert_eq!(requests(&emu, "get_current_user"), 1);

    // Chunked: the cutoff is below the file (and below the limit).
    emu.reset_counters();
    let chunked = uploader(&emu, 256 * KIB);
    let err = chunked
        .upload(Upload::new_file("0", "backup.tar").from_bytes(content.clone()))
        .await
        .expect_err("too large, chunked");
    assert_too_large(&err, "create_upload_session");
    assert_nothing_sent(&emu, "chunked");
    assert_eq!(requests(&emu, "get_current_user"), 1);

    // A file under the limit goes, and a new version of it over the limit does not.
    let small = chunked
        .upload(Upload::new_file("0", "small.bin").from_bytes(test_data(100 * KIB, 2)))
        .await
        .expect("under the limit");
    emu.reset_counters();
    let err = chunked
        .upload(Upload::new_version(&small.id).from_bytes(content.clone()))
        .await
        .expect_err("too large, version");
    assert_too_large(&err, "create_upload_session_for_file");
    assert_nothing_sent(&emu, "version");
    assert_eq!(
        requests(&emu, "get_current_user"),
        0,
        "the limit was read once for this uploader"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn the_user_is_asked_once_for_every_upload_of_an_uploader_and_its_clones() {
    let emu = limited().await;
    let up = uploader(&emu, 256 * KIB);
    let clone = up.clone();
    // Started together: the first ones wait for the one answer.
    let handles: Vec<_> = (0..6u64)
        .map(|i| {
            let size = if i % 2 == 0 { 10 * KIB } else { 600 * KIB };
            let who = if i < 3 { &up } else { &clone };
            who.start_upload(
                Upload::new_file("0", format!("file-{i}.bin")).from_bytes(test_data(size, i)),
            )
        })
        .collect();
    for h in handles {
        h.join().await.expect("under the limit");
    }
    up.upload(Upload::new_file("0", "late.bin").from_bytes(test_data(KIB, 9)))
        .await
        .expect("under the limit");
    let c = emu.counters();
    assert_eq!(c.files_created, 7);
    assert_eq!(requests(&emu, "get_current_user"), 1);

    // Another uploader asks for itself.
    uploader(&emu, 256 * KIB)
        .upload(Upload::new_file("0", "other.bin").from_bytes(test_data(KIB, 10)))
        .await
        .expect("under the limit");
    assert_eq!(requests(&emu, "get_current_user"), 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_generated_client_reads_the_users_limits() {
    let emu = limited().await;
    let c = client(&emu);
    let user = c
        .get_current_user(GetCurrentUserRequest::new())
        .await
        .expect("users/me");
    assert!(user.id.as_deref().is_some_and(|id| !id.is_empty()));
    assert!(user.login.is_some() && user.name.is_some());
    assert_eq!(user.max_upload_size, Some(LIMIT as i64));
    assert_eq!(user.space_amount, Some(999_999_999_999_999));
    assert_eq!(user.space_used, Some(0));

    upload_file(&c, "0", "a.bin", &test_data(10 * KIB, 1)).await;
    let only = c
        .get_current_user(GetCurrentUserRequest::new().with_fields(vec!["space_used".into()]))
        .await
        .expect("users/me with fields");
    assert_eq!(only.space_used, Some(10 * KIB as i64));
    assert_eq!(only.max_upload_size, None, "not asked for");
    emu.shutdown().await;
}

#[tokio::test]
async fn delete_file_removes_it_and_a_stale_etag_is_refused() {
    let emu = start(small_config()).await;
    let c = client(&emu);
    let file = upload_file(&c, "0", "gone.txt", b"bye").await;

    expect_api!(
        c.delete_file(DeleteFileRequest::new(&file.id).with_if_match("not-the-etag"))
            .await,
        DeleteFileError::PreconditionFailed,
        412,
        "precondition_failed"
    );
    c.get_file_info(GetFileInfoRequest::new(&file.id))
        .await
        .expect("still there");

    c.delete_file(DeleteFileRequest::new(&file.id))
        .await
        .expect("deleted");
    match c.get_file_info(GetFileInfoRequest::new(&file.id)).await {
        Err(Error::Api(GetFileInfoError::NotFound(api) | GetFileInfoError::Trashed(api))) => {
            assert_eq!(api.status, 404)
        }
        other => panic!("expected 404, got {other:?}"),
    }
    expect_api!(
        c.delete_file(DeleteFileRequest::new(&file.id)).await,
        DeleteFileError::NotFound,
        404,
        "not_found"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn delete_folder_needs_recursive_for_a_folder_with_items() {
    let emu = start(small_config()).await;
    let c = client(&emu);
    let folder = c
        .create_folder(CreateFolderRequest::new(CreateFolderBody {
            name: "scratch".into(),
            parent: CreateFolderBodyParent { id: "0".into() },
        }))
        .await
        .expect("create folder");
    upload_file(&c, &folder.id, "inside.txt", b"x").await;

    expect_api!(
        c.delete_folder(DeleteFolderRequest::new(&folder.id)).await,
        DeleteFolderError::FolderNotEmpty,
        400,
        "folder_not_empty"
    );
    c.delete_folder(DeleteFolderRequest::new(&folder.id).with_recursive(true))
        .await
        .expect("deleted with its items");
    match c
        .list_folder_items(ListFolderItemsRequest::new(&folder.id))
        .await
    {
        Err(Error::Api(e)) => assert_eq!(OperationError::status(&e), 404),
        other => panic!("expected 404, got {other:?}"),
    }
    assert_eq!(emu.counters().folders_trashed, 1);
    emu.shutdown().await;
}
